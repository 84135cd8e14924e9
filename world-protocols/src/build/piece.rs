//! One piece of a structure: its kind, where it stands, how it is turned, its size, colour
//! and (for a sign) its text, all in whole numbers so that every peer checks the same
//! bounds and hashes the same bytes.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::identity::PeerId;
use crate::limits::{PIECE_SIZE_MAX_CM, SIGN_TEXT_MAX};
use crate::message::Rgb;
use crate::text::{ChatText, TextError};

/// How many steps make a full turn: a piece turns about the vertical axis in steps of
/// 15 degrees.
pub const YAW_STEPS: u8 = 24;

/// What a piece is. The variant order is part of the wire format: add new kinds at the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum PieceKind {
    /// A solid box.
    Block,
    /// A thin, wide box to stand on.
    Slab,
    /// A thin, tall box.
    Wall,
    /// A flight of steps rising along the piece's depth.
    Stairs,
    /// A slope rising along the piece's depth.
    Ramp,
    /// A glowing block that lights what is around it.
    Light,
    /// A board with a line of text on it.
    Sign,
}

impl PieceKind {
    /// Every kind, in palette order.
    pub const ALL: [PieceKind; 7] = [
        PieceKind::Block,
        PieceKind::Slab,
        PieceKind::Wall,
        PieceKind::Stairs,
        PieceKind::Ramp,
        PieceKind::Light,
        PieceKind::Sign,
    ];

    /// The name shown in the palette.
    pub fn label(self) -> &'static str {
        match self {
            PieceKind::Block => "Block",
            PieceKind::Slab => "Slab",
            PieceKind::Wall => "Wall",
            PieceKind::Stairs => "Stairs",
            PieceKind::Ramp => "Ramp",
            PieceKind::Light => "Light",
            PieceKind::Sign => "Sign",
        }
    }

    /// The size a new piece of this kind starts at, in centimetres (width, height, depth).
    pub fn default_size(self) -> [u16; 3] {
        match self {
            PieceKind::Block | PieceKind::Light => [100, 100, 100],
            PieceKind::Slab => [200, 20, 200],
            PieceKind::Wall => [200, 250, 20],
            PieceKind::Stairs | PieceKind::Ramp => [100, 100, 200],
            PieceKind::Sign => [120, 60, 10],
        }
    }
}

/// The text on a sign: one line of at most [`SIGN_TEXT_MAX`] bytes, under the same rules as
/// chat text (normalised, nothing invisible, no control characters).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SignText(String);

impl SignText {
    /// Checks `text` and wraps it.
    pub fn new(text: impl Into<String>) -> Result<Self, TextError> {
        let text = text.into();
        if text.len() > SIGN_TEXT_MAX {
            return Err(TextError::TooLong {
                len: text.len(),
                max: SIGN_TEXT_MAX,
            });
        }
        Ok(Self(String::from(ChatText::new(text)?)))
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for SignText {
    type Error = TextError;
    fn try_from(text: String) -> Result<Self, TextError> {
        Self::new(text)
    }
}

impl From<SignText> for String {
    fn from(text: SignText) -> String {
        text.0
    }
}

impl fmt::Display for SignText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One piece as it stands in the world.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Piece {
    /// What it is.
    pub kind: PieceKind,
    /// The centre of its bounding box, in millimetres from the space's origin (`y` up).
    pub position: [i32; 3],
    /// How far it is turned about the vertical axis, in steps of a [`YAW_STEPS`]th of a turn.
    pub yaw: u8,
    /// Width, height and depth in centimetres, each 1 to [`PIECE_SIZE_MAX_CM`].
    pub size: [u16; 3],
    /// Its colour.
    pub color: Rgb,
    /// The text written on it; only a [`PieceKind::Sign`] has one.
    pub text: Option<SignText>,
}

/// Why a piece is not well formed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PieceError {
    /// The yaw is a whole turn or more.
    #[error("yaw {0} is not under {YAW_STEPS} steps")]
    Yaw(u8),
    /// A side is zero or larger than the largest piece.
    #[error("size {0:?} cm is not within 1..={PIECE_SIZE_MAX_CM} on every side")]
    Size([u16; 3]),
    /// Text on something that is not a sign.
    #[error("only a sign carries text")]
    TextOnNonSign,
}

impl Piece {
    /// A piece of `kind` at `position` (millimetres), unturned, at the kind's default size.
    pub fn new(kind: PieceKind, position: [i32; 3], color: Rgb) -> Self {
        Self {
            kind,
            position,
            yaw: 0,
            size: kind.default_size(),
            color,
            text: None,
        }
    }

    /// Checks what a receiver can check about the piece alone.
    pub fn check(&self) -> Result<(), PieceError> {
        if self.yaw >= YAW_STEPS {
            return Err(PieceError::Yaw(self.yaw));
        }
        if self
            .size
            .iter()
            .any(|&side| side == 0 || side > PIECE_SIZE_MAX_CM)
        {
            return Err(PieceError::Size(self.size));
        }
        if self.text.is_some() && self.kind != PieceKind::Sign {
            return Err(PieceError::TextOnNonSign);
        }
        Ok(())
    }

    /// The turn about the vertical axis, in radians.
    pub fn yaw_radians(&self) -> f32 {
        f32::from(self.yaw) * std::f32::consts::TAU / f32::from(YAW_STEPS)
    }

    /// The half extents of the box that holds the turned piece, in millimetres, worked out
    /// in whole numbers so that every peer gets the same answer.
    pub fn half_extents_mm(&self) -> [i64; 3] {
        let [w, h, d] = self.size.map(|side| u64::from(side) * 10);
        let (cos, sin) = yaw_table(self.yaw);
        // Round up, so a turned piece never pokes out of a box it was checked against.
        let x = (cos * w + sin * d).div_ceil(2 * TABLE_ONE);
        let z = (sin * w + cos * d).div_ceil(2 * TABLE_ONE);
        [x, h.div_ceil(2), z].map(|half| half as i64)
    }
}

/// Fixed-point one of [`yaw_table`].
const TABLE_ONE: u64 = 10_000;

/// `|cos|` and `|sin|` of `yaw` steps, times [`TABLE_ONE`], rounded up.
fn yaw_table(yaw: u8) -> (u64, u64) {
    // cos of 0, 15, 30, ... 90 degrees, rounded up to four decimals.
    const COS: [u64; 7] = [10_000, 9_660, 8_661, 7_072, 5_000, 2_589, 0];
    let step = usize::from(yaw % 12);
    let (cos, sin) = if step <= 6 {
        (COS[step], COS[6 - step])
    } else {
        (COS[12 - step], COS[step - 6])
    };
    (cos, sin)
}

/// A piece's lasting name: who made it and their own number for it. Two people never
/// pick the same id, so no coordination is needed to make one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PieceId {
    /// The person who placed it first.
    pub creator: PeerId,
    /// The creator's number for it.
    pub number: u64,
}

impl fmt::Display for PieceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let creator = self.creator.to_string();
        write!(f, "{}-{}", &creator[..8], self.number)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GREY: Rgb = Rgb {
        r: 128,
        g: 128,
        b: 128,
    };

    #[test]
    fn pieces_are_checked_on_their_own() {
        let block = Piece::new(PieceKind::Block, [0, 500, 0], GREY);
        assert_eq!(block.check(), Ok(()));
        assert_eq!(
            Piece {
                yaw: 24,
                ..block.clone()
            }
            .check(),
            Err(PieceError::Yaw(24))
        );
        assert!(matches!(
            Piece {
                size: [0, 1, 1],
                ..block.clone()
            }
            .check(),
            Err(PieceError::Size(_))
        ));
        assert!(matches!(
            Piece {
                size: [1, PIECE_SIZE_MAX_CM + 1, 1],
                ..block.clone()
            }
            .check(),
            Err(PieceError::Size(_))
        ));
        let text = Some(SignText::new("Welcome").unwrap());
        assert_eq!(
            Piece {
                text: text.clone(),
                ..block.clone()
            }
            .check(),
            Err(PieceError::TextOnNonSign)
        );
        let sign = Piece {
            text,
            ..Piece::new(PieceKind::Sign, [0, 0, 0], GREY)
        };
        assert_eq!(sign.check(), Ok(()));
    }

    #[test]
    fn sign_text_follows_the_chat_rules_and_its_own_length() {
        assert!(SignText::new("Café open").is_ok());
        assert!(SignText::new("x".repeat(SIGN_TEXT_MAX + 1)).is_err());
        assert!(SignText::new("two\nlines").is_err());
        assert!(SignText::new("").is_err());
    }

    #[test]
    fn a_turned_piece_is_held_by_a_wider_box() {
        let wall = Piece::new(PieceKind::Wall, [0, 0, 0], GREY);
        assert_eq!(wall.half_extents_mm(), [1000, 1250, 100]);
        let quarter = Piece {
            yaw: 6,
            ..wall.clone()
        };
        assert_eq!(quarter.half_extents_mm(), [100, 1250, 1000]);
        let eighth = Piece {
            yaw: 3,
            ..wall.clone()
        };
        let [x, _, z] = eighth.half_extents_mm();
        // (2000 + 200) / 2 * cos 45° ≈ 778.
        assert!((778..=780).contains(&x) && x == z, "{x} {z}");
        for yaw in 0..YAW_STEPS {
            let [x, _, z] = Piece { yaw, ..wall.clone() }.half_extents_mm();
            let exact = |a: f32, b: f32| (a.abs() * 1000.0 + b.abs() * 100.0).ceil() as i64;
            let angle = f32::from(yaw) * std::f32::consts::TAU / 24.0;
            assert!(x >= exact(angle.cos(), angle.sin()) - 1, "yaw {yaw}: {x}");
            assert!(z >= exact(angle.sin(), angle.cos()) - 1, "yaw {yaw}: {z}");
            assert!(x <= exact(angle.cos(), angle.sin()) + 2, "yaw {yaw}: {x}");
        }
    }
}
