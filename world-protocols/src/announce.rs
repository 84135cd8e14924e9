//! Worlds announced on the local network, so that people nearby can join without a ticket.
//!
//! A host that shares its world on the local network publishes a [`WorldAnnouncement`]
//! next to its addresses (by mDNS, see `sanctuary_net::nearby`): the world and the host's
//! display name. Who hosts and where it listens come with the record the announcement
//! rides on; the host's key is then proven by the connection itself.
//!
//! It prints as one line, [`ANNOUNCEMENT_PREFIX`], the world id as 64 lowercase hex
//! digits, `:` and the name, at most [`ANNOUNCEMENT_MAX_LEN`] bytes. Anyone on a local
//! network can announce anything, so [`str::parse`] takes only text in exactly that form,
//! with a name that [`DisplayName::new`] accepts as it is, and refuses everything else
//! with a [`ParseAnnouncementError`].

use std::fmt;
use std::str::FromStr;

use crate::limits::NAME_MAX;
use crate::text::{DisplayName, TextError};
use crate::world::WorldId;

/// Text every announcement starts with; the digit before the colon is the format version.
pub const ANNOUNCEMENT_PREFIX: &str = "sanctuary-world1:";

/// Longest announcement text, in bytes: the prefix, 64 hex digits, a colon and the
/// longest name. Longer text is refused before anything else is looked at.
pub const ANNOUNCEMENT_MAX_LEN: usize = ANNOUNCEMENT_PREFIX.len() + 64 + 1 + NAME_MAX;

/// A world hosted on the local network, as its host announces it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorldAnnouncement {
    /// The world.
    pub world: WorldId,
    /// The host's display name, to tell worlds apart.
    pub host_name: DisplayName,
}

impl fmt::Display for WorldAnnouncement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(ANNOUNCEMENT_PREFIX)?;
        for byte in self.world.as_bytes() {
            write!(f, "{byte:02x}")?;
        }
        write!(f, ":{}", self.host_name.as_str())
    }
}

/// Why text is not a [`WorldAnnouncement`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseAnnouncementError {
    /// Longer than [`ANNOUNCEMENT_MAX_LEN`].
    #[error("announcement of {0} bytes is too long")]
    TooLong(usize),
    /// Does not start with [`ANNOUNCEMENT_PREFIX`].
    #[error("not a Sanctuary world announcement")]
    WrongPrefix,
    /// The world id is not 64 lowercase hex digits followed by a colon.
    #[error("the world id is not 64 lowercase hex digits")]
    BadWorld,
    /// The name is not a valid display name as it stands.
    #[error("the host's name is not valid: {0}")]
    BadName(#[from] TextError),
}

impl FromStr for WorldAnnouncement {
    type Err = ParseAnnouncementError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text.len() > ANNOUNCEMENT_MAX_LEN {
            return Err(ParseAnnouncementError::TooLong(text.len()));
        }
        let rest = text
            .strip_prefix(ANNOUNCEMENT_PREFIX)
            .ok_or(ParseAnnouncementError::WrongPrefix)?;
        let (hex, name) = rest
            .split_once(':')
            .filter(|(hex, _)| hex.len() == 64)
            .ok_or(ParseAnnouncementError::BadWorld)?;
        let mut world = [0u8; 32];
        for (byte, pair) in world.iter_mut().zip(hex.as_bytes().chunks_exact(2)) {
            *byte = (lower_hex(pair[0])? << 4) | lower_hex(pair[1])?;
        }
        Ok(Self {
            world: WorldId(world),
            host_name: DisplayName::new(name)?,
        })
    }
}

fn lower_hex(digit: u8) -> Result<u8, ParseAnnouncementError> {
    match digit {
        b'0'..=b'9' => Ok(digit - b'0'),
        b'a'..=b'f' => Ok(digit - b'a' + 10),
        _ => Err(ParseAnnouncementError::BadWorld),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn announcement(name: &str) -> WorldAnnouncement {
        WorldAnnouncement {
            world: WorldId([0xa5; 32]),
            host_name: DisplayName::new(name).unwrap(),
        }
    }

    #[test]
    fn round_trips_through_text_within_the_limit() {
        let longest = announcement(&"名".repeat(NAME_MAX / 3));
        for sample in [announcement("Ada"), announcement("a: b"), longest] {
            let text = sample.to_string();
            assert!(text.starts_with(ANNOUNCEMENT_PREFIX), "{text}");
            assert!(text.len() <= ANNOUNCEMENT_MAX_LEN, "{} bytes", text.len());
            assert_eq!(text.parse(), Ok(sample));
        }
        let text = announcement("Ada").to_string();
        assert_eq!(text, format!("{ANNOUNCEMENT_PREFIX}{}:Ada", "a5".repeat(32)));
    }

    #[test]
    fn refuses_anything_not_exactly_right() {
        let good = announcement("Ada").to_string();
        let world = "a5".repeat(32);
        let refused = [
            (String::new(), ParseAnnouncementError::WrongPrefix),
            (good.to_uppercase(), ParseAnnouncementError::WrongPrefix),
            (
                format!("sanctuary-world2:{world}:Ada"),
                ParseAnnouncementError::WrongPrefix,
            ),
            (format!(" {good}"), ParseAnnouncementError::WrongPrefix),
            (
                format!("{ANNOUNCEMENT_PREFIX}{}:Ada", "A5".repeat(32)),
                ParseAnnouncementError::BadWorld,
            ),
            (
                format!("{ANNOUNCEMENT_PREFIX}{}:Ada", &world[1..]),
                ParseAnnouncementError::BadWorld,
            ),
            (
                format!("{ANNOUNCEMENT_PREFIX}{world}a:Ada"),
                ParseAnnouncementError::BadWorld,
            ),
            (
                format!("{ANNOUNCEMENT_PREFIX}{world}"),
                ParseAnnouncementError::BadWorld,
            ),
            (
                format!("{ANNOUNCEMENT_PREFIX}{}é:Ada", &world[2..]),
                ParseAnnouncementError::BadWorld,
            ),
            (
                format!("{ANNOUNCEMENT_PREFIX}{world}:"),
                ParseAnnouncementError::BadName(TextError::Empty),
            ),
            (
                format!("{good} "),
                ParseAnnouncementError::BadName(TextError::Spacing),
            ),
            (
                format!("{ANNOUNCEMENT_PREFIX}{world}:A\u{202e}da"),
                ParseAnnouncementError::BadName(TextError::NotAllowed('\u{202e}')),
            ),
            (
                format!("{ANNOUNCEMENT_PREFIX}{world}:{}", "x".repeat(NAME_MAX + 1)),
                ParseAnnouncementError::TooLong(ANNOUNCEMENT_MAX_LEN + 1),
            ),
        ];
        for (text, error) in refused {
            assert_eq!(text.parse::<WorldAnnouncement>(), Err(error), "{text:?}");
        }
    }
}
