//! A space's building rules ("protocols"), written in its space file: the zones where
//! building is allowed, who may build in each, and the limits there.
//!
//! ```ron
//! build: (
//!     zones: [
//!         (
//!             name: "plaza",
//!             min: (-20.0, 0.0, 10.0), max: (20.0, 12.0, 40.0),
//!             builders: Anyone,
//!             limits: (pieces_per_person: 300, largest_m: 6.0),
//!         ),
//!         (
//!             name: "ada-house",
//!             min: (30.0, 0.0, 30.0), max: (50.0, 20.0, 50.0),
//!             builders: Invited,
//!             owners: ["<64 hex digits of Ada's key>"],
//!             limits: (kinds: Some([Block, Wall, Slab, Light])),
//!         ),
//!     ],
//! )
//! ```
//!
//! Every peer reads the same rules and checks every edit against them (see
//! [`Document`](super::Document)); the numbers are turned into whole millimetres once, so
//! that every peer's check gives the same answer.

use std::collections::HashSet;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::piece::{Piece, PieceKind};
use crate::identity::PeerId;
use crate::limits::{PIECE_SIZE_MAX_CM, ZONES_MAX};
use crate::text::{SpaceName, TextError};

/// The name of a zone within its space, under the same rules as a [`SpaceName`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ZoneName(String);

impl ZoneName {
    /// Checks `name` and wraps it.
    pub fn new(name: impl Into<String>) -> Result<Self, TextError> {
        Ok(Self(String::from(SpaceName::new(name)?)))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ZoneName {
    type Error = TextError;
    fn try_from(name: String) -> Result<Self, TextError> {
        Self::new(name)
    }
}

impl From<ZoneName> for String {
    fn from(name: ZoneName) -> String {
        name.0
    }
}

impl fmt::Display for ZoneName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A person's key as written in a space file: 64 hex digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct KeyText(pub PeerId);

impl TryFrom<String> for KeyText {
    type Error = crate::identity::ParsePeerIdError;
    fn try_from(text: String) -> Result<Self, Self::Error> {
        text.parse().map(Self)
    }
}

impl From<KeyText> for String {
    fn from(key: KeyText) -> String {
        key.0.to_string()
    }
}

/// A space's building rules: where building is allowed and by whom. A space without
/// zones allows no building at all.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BuildRules {
    /// The zones, at most [`ZONES_MAX`]. Where two overlap, a piece belongs to the zone its
    /// edit names.
    #[serde(default)]
    pub zones: Vec<Zone>,
}

/// Who may build in a zone.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Builders {
    /// Everybody in the world.
    #[default]
    Anyone,
    /// The owners, the people on the zone's invited list, and those an owner granted
    /// build rights to in the world.
    Invited,
}

/// One box of a space where building is allowed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Zone {
    /// Its name, unique in the space.
    pub name: ZoneName,
    /// The lowest corner of the box every piece must fit in, in metres.
    pub min: [f32; 3],
    /// The highest corner (so `max[1]` is the height limit).
    pub max: [f32; 3],
    /// Who may build.
    #[serde(default)]
    pub builders: Builders,
    /// People who may build here, change or remove anyone's pieces, and grant or revoke
    /// build rights.
    #[serde(default)]
    pub owners: Vec<KeyText>,
    /// People who may build here when [`Builders::Invited`].
    #[serde(default)]
    pub invited: Vec<KeyText>,
    /// Limits on each builder.
    #[serde(default)]
    pub limits: Limits,
}

/// What each builder may do in a zone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Most pieces one person may have standing in the zone.
    pub pieces_per_person: u32,
    /// Longest side of any one piece, in metres.
    pub largest_m: f32,
    /// The kinds allowed; all of them when `None`.
    pub kinds: Option<Vec<PieceKind>>,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            pieces_per_person: 1000,
            largest_m: 10.0,
            kinds: None,
        }
    }
}

/// Why a space's building rules cannot be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RulesError {
    /// More zones than [`ZONES_MAX`].
    #[error("{0} zones, over the limit of {ZONES_MAX}")]
    TooManyZones(usize),
    /// Two zones share a name.
    #[error("two zones are called {0:?}")]
    DuplicateZone(String),
    /// A zone's box is empty, inside out or not finite.
    #[error("zone {0:?}: min must be below max on every axis, in finite metres")]
    BadBox(String),
    /// A zone's largest piece is not a positive size.
    #[error("zone {0:?}: largest_m must be above 0")]
    BadLargest(String),
    /// A zone only its owners may build in has no owner to grant rights.
    #[error("zone {0:?}: builders: Invited needs at least one owner")]
    NoOwner(String),
}

/// A zone with its bounds in whole millimetres, as the checks use it.
#[derive(Debug, Clone)]
pub(crate) struct CheckedZone {
    pub name: ZoneName,
    pub min_mm: [i64; 3],
    pub max_mm: [i64; 3],
    pub builders: Builders,
    pub owners: HashSet<PeerId>,
    pub invited: HashSet<PeerId>,
    pub pieces_per_person: u32,
    pub largest_cm: u16,
    pub kinds: Option<Vec<PieceKind>>,
}

/// A BLAKE3 hash of what checked rules mean (bounds in millimetres, keys and kinds in
/// order), so peers whose space files say the same thing, however written, hold the same
/// digest, and peers that disagree on the rules can tell.
pub(crate) fn digest(zones: &[CheckedZone]) -> [u8; 32] {
    let mut hasher = blake3::Hasher::new();
    hasher.update(b"sanctuary/build-rules/1\0");
    let sorted = |keys: &HashSet<PeerId>| {
        let mut keys: Vec<PeerId> = keys.iter().copied().collect();
        keys.sort_unstable();
        keys
    };
    for zone in zones {
        let mut kinds = zone.kinds.clone();
        if let Some(kinds) = &mut kinds {
            kinds.sort_unstable();
            kinds.dedup();
        }
        let canonical = (
            zone.name.as_str(),
            zone.min_mm,
            zone.max_mm,
            zone.builders,
            sorted(&zone.owners),
            sorted(&zone.invited),
            zone.pieces_per_person,
            zone.largest_cm,
            kinds,
        );
        hasher.update(&postcard::to_allocvec(&canonical).unwrap_or_default());
    }
    *hasher.finalize().as_bytes()
}

fn to_mm(metres: f32) -> i64 {
    (f64::from(metres) * 1000.0).round() as i64
}

impl BuildRules {
    /// Checks that the rules can be used: zone names unique, boxes not empty, limits
    /// positive, an owner wherever building is by invitation.
    pub fn validate(&self) -> Result<(), RulesError> {
        self.checked().map(|_| ())
    }

    /// Checks the rules and turns them into the form every check uses.
    pub(crate) fn checked(&self) -> Result<Vec<CheckedZone>, RulesError> {
        if self.zones.len() > ZONES_MAX {
            return Err(RulesError::TooManyZones(self.zones.len()));
        }
        let mut zones: Vec<CheckedZone> = Vec::with_capacity(self.zones.len());
        for zone in &self.zones {
            let name = zone.name.as_str().to_owned();
            if zones.iter().any(|other| other.name == zone.name) {
                return Err(RulesError::DuplicateZone(name));
            }
            let finite = zone.min.iter().chain(&zone.max).all(|v| v.is_finite());
            if !finite || (0..3).any(|axis| zone.min[axis] >= zone.max[axis]) {
                return Err(RulesError::BadBox(name));
            }
            if !(zone.limits.largest_m.is_finite() && zone.limits.largest_m > 0.0) {
                return Err(RulesError::BadLargest(name));
            }
            if zone.builders == Builders::Invited && zone.owners.is_empty() {
                return Err(RulesError::NoOwner(name));
            }
            let largest_cm = (f64::from(zone.limits.largest_m) * 100.0)
                .round()
                .clamp(1.0, f64::from(PIECE_SIZE_MAX_CM)) as u16;
            zones.push(CheckedZone {
                name: zone.name.clone(),
                min_mm: zone.min.map(to_mm),
                max_mm: zone.max.map(to_mm),
                builders: zone.builders,
                owners: zone.owners.iter().map(|key| key.0).collect(),
                invited: zone.invited.iter().map(|key| key.0).collect(),
                pieces_per_person: zone.limits.pieces_per_person,
                largest_cm,
                kinds: zone.limits.kinds.clone(),
            });
        }
        Ok(zones)
    }

    /// The first zone whose box holds `point` (metres), if any: where a new piece there
    /// would belong.
    pub fn zone_at(&self, point: [f32; 3]) -> Option<&Zone> {
        self.zones
            .iter()
            .find(|zone| (0..3).all(|axis| zone.min[axis] <= point[axis] && point[axis] <= zone.max[axis]))
    }
}

/// Why a piece does not fit a zone's limits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LimitError {
    /// Part of the piece is outside the zone's box.
    #[error("the piece reaches outside zone {0:?}")]
    OutsideZone(String),
    /// A side is longer than the zone allows.
    #[error("the piece is larger than zone {zone:?} allows ({largest_cm} cm)")]
    TooLarge {
        /// The zone.
        zone: String,
        /// Its longest side allowed, in centimetres.
        largest_cm: u16,
    },
    /// The zone does not allow this kind.
    #[error("zone {zone:?} does not allow {kind:?}")]
    KindNotAllowed {
        /// The zone.
        zone: String,
        /// The kind.
        kind: PieceKind,
    },
}

impl CheckedZone {
    /// Whether `piece` fits this zone's box and limits.
    pub fn fits(&self, piece: &Piece) -> Result<(), LimitError> {
        let zone = || self.name.as_str().to_owned();
        if piece.size.iter().any(|&side| side > self.largest_cm) {
            return Err(LimitError::TooLarge {
                zone: zone(),
                largest_cm: self.largest_cm,
            });
        }
        if let Some(kinds) = &self.kinds
            && !kinds.contains(&piece.kind)
        {
            return Err(LimitError::KindNotAllowed {
                zone: zone(),
                kind: piece.kind,
            });
        }
        let half = piece.half_extents_mm();
        let inside = (0..3).all(|axis| {
            let centre = i64::from(piece.position[axis]);
            self.min_mm[axis] <= centre - half[axis] && centre + half[axis] <= self.max_mm[axis]
        });
        if !inside {
            return Err(LimitError::OutsideZone(zone()));
        }
        Ok(())
    }

    /// Whether `person` may build here without a grant.
    pub fn builds_without_grant(&self, person: &PeerId) -> bool {
        self.builders == Builders::Anyone || self.owners.contains(person) || self.invited.contains(person)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::Rgb;

    fn plaza() -> Zone {
        ron::from_str(
            r#"(name: "plaza", min: (-10.0, 0.0, -10.0), max: (10.0, 5.0, 10.0),
                limits: (largest_m: 4.0, kinds: Some([Block, Wall])))"#,
        )
        .unwrap()
    }

    #[test]
    fn zones_read_from_ron_and_check_pieces_in_whole_millimetres() {
        let rules = BuildRules { zones: vec![plaza()] };
        let zones = rules.checked().unwrap();
        let zone = &zones[0];
        let grey = Rgb { r: 9, g: 9, b: 9 };
        let block = Piece::new(PieceKind::Block, [0, 500, 0], grey);
        assert_eq!(zone.fits(&block), Ok(()));
        // The top of a 1 m block centred at 4.5 m touches the 5 m limit: still inside.
        assert_eq!(
            zone.fits(&Piece {
                position: [0, 4500, 0],
                ..block.clone()
            }),
            Ok(())
        );
        assert!(matches!(
            zone.fits(&Piece {
                position: [0, 4501, 0],
                ..block.clone()
            }),
            Err(LimitError::OutsideZone(_))
        ));
        assert!(matches!(
            zone.fits(&Piece {
                size: [401, 100, 100],
                ..block.clone()
            }),
            Err(LimitError::TooLarge { largest_cm: 400, .. })
        ));
        assert!(matches!(
            zone.fits(&Piece::new(PieceKind::Ramp, [0, 500, 0], grey)),
            Err(LimitError::KindNotAllowed {
                kind: PieceKind::Ramp,
                ..
            })
        ));
        assert!(zone.builds_without_grant(&PeerId::from_bytes([3; 32])));
        assert_eq!(
            rules.zone_at([0.0, 1.0, 0.0]).map(|z| z.name.as_str()),
            Some("plaza")
        );
        assert!(rules.zone_at([0.0, 6.0, 0.0]).is_none());
    }

    #[test]
    fn broken_rules_say_what_is_wrong() {
        let twice = BuildRules {
            zones: vec![plaza(), plaza()],
        };
        assert_eq!(
            twice.checked().unwrap_err(),
            RulesError::DuplicateZone("plaza".into())
        );
        let flat = BuildRules {
            zones: vec![Zone {
                max: [10.0, 0.0, 10.0],
                ..plaza()
            }],
        };
        assert_eq!(flat.checked().unwrap_err(), RulesError::BadBox("plaza".into()));
        let ownerless = BuildRules {
            zones: vec![Zone {
                builders: Builders::Invited,
                ..plaza()
            }],
        };
        assert_eq!(
            ownerless.checked().unwrap_err(),
            RulesError::NoOwner("plaza".into())
        );
        let bad_key = ron::from_str::<Zone>(r#"(name: "a", min: (0,0,0), max: (1,1,1), owners: ["abc"])"#);
        assert!(bad_key.is_err());
    }
}
