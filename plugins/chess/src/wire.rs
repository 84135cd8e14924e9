//! What the chess app's copies say to each other, as app messages.

use sanctuary_plugin_api::PeerId;
use serde::{Deserialize, Serialize};

use crate::game::{GameKey, PackedMove, Side};

/// One chess message. Its author is the person whose signature the world checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChessMessage {
    /// "Play me": the author takes white and invites `black`.
    Challenge {
        /// When, in Unix milliseconds; with the author it names the game.
        started_ms: u64,
        /// Who is invited.
        black: PeerId,
    },
    /// The invited player accepts.
    Accept {
        /// The game.
        game: GameKey,
    },
    /// A move: the `ply`th of the game, counted from 0.
    Move {
        /// The game.
        game: GameKey,
        /// Which half-move this is.
        ply: u16,
        /// The move.
        mv: PackedMove,
    },
    /// The author gives up.
    Resign {
        /// The game.
        game: GameKey,
    },
    /// A player's copy of a whole game, for peers who missed some of it (they joined
    /// late, restarted, or a message was lost).
    State {
        /// The game.
        game: GameKey,
        /// Black.
        black: PeerId,
        /// Every move so far.
        moves: Vec<PackedMove>,
        /// Who resigned, if someone did.
        resigned: Option<Side>,
    },
}

/// Bytes that are not a chess message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a chess message: {0}")]
pub struct DecodeError(String);

impl ChessMessage {
    /// The message's bytes.
    pub fn encode(&self) -> Vec<u8> {
        postcard::to_allocvec(self).unwrap_or_default()
    }

    /// Reads a message from bytes sent by anyone; never panics. Trailing bytes are refused.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        match postcard::take_from_bytes::<Self>(bytes) {
            Ok((message, [])) => Ok(message),
            Ok((_, rest)) => Err(DecodeError(format!("{} bytes left over", rest.len()))),
            Err(error) => Err(DecodeError(error.to_string())),
        }
    }
}

/// The fuzz target's entry point (`plugins/chess/fuzz`): decodes, and checks that what
/// decodes encodes back to the same bytes. Returns `false` when that promise is broken.
pub fn fuzz_decode(bytes: &[u8]) -> bool {
    match ChessMessage::decode(bytes) {
        Ok(message) => message.encode() == bytes,
        Err(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::game::MAX_PLIES;
    use proptest::prelude::*;
    use sanctuary_plugin_api::APP_PAYLOAD_MAX;

    #[test]
    fn the_longest_game_fits_in_one_app_message() {
        let state = ChessMessage::State {
            game: GameKey {
                started_ms: u64::MAX,
                white: PeerId::from_bytes([1; 32]),
            },
            black: PeerId::from_bytes([2; 32]),
            moves: vec![PackedMove(u16::MAX); MAX_PLIES],
            resigned: Some(Side::Black),
        };
        let bytes = state.encode();
        assert!(bytes.len() <= APP_PAYLOAD_MAX, "{} bytes", bytes.len());
        assert_eq!(ChessMessage::decode(&bytes), Ok(state));
    }

    #[test]
    fn junk_and_trailing_bytes_are_refused() {
        assert!(ChessMessage::decode(&[]).is_err());
        assert!(ChessMessage::decode(&[9, 9, 9]).is_err());
        let mut bytes = ChessMessage::Resign {
            game: GameKey {
                started_ms: 5,
                white: PeerId::from_bytes([1; 32]),
            },
        }
        .encode();
        bytes.push(0);
        assert!(ChessMessage::decode(&bytes).is_err());
    }

    proptest! {
        #[test]
        fn any_bytes_decode_without_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            prop_assert!(fuzz_decode(&bytes));
        }
    }
}
