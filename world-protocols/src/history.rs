//! Earlier chat ([`ALPN_HISTORY`](crate::alpn::ALPN_HISTORY)): what a newcomer to a space
//! is told was said there before it came, by a peer that was there.
//!
//! The asking peer opens a stream and sends one [`HistoryRequest`]: a version byte
//! ([`HISTORY_VERSION`]), then in postcard the world and the space. The other peer answers
//! on the same stream with one [`HistoryAnswer`] (the same version byte, then postcard) and
//! closes it. Each [`HistoryLine`] is the chat exactly as its author signed it for that
//! room, with the author's own signed presence for their name, so the asker checks every
//! line itself ([`HistoryLine::check`]): an answerer can leave lines out, but cannot make
//! one up or change what someone said.

use serde::{Deserialize, Serialize};

use crate::identity::PeerId;
use crate::limits::SPACE_NAME_MAX;
use crate::message::{Body, Context, DecodeError, SignedEnvelope};
use crate::text::{ChatText, DisplayName, SpaceName};
use crate::world::WorldId;

/// The first byte of a history request and of its answer.
pub const HISTORY_VERSION: u8 = 0;

/// Most lines a peer keeps of its room's chat, and sends a newcomer.
pub const HISTORY_LINES_MAX: usize = 50;

/// Largest signed envelope in a line (a chat of [`CHAT_MAX`](crate::limits::CHAT_MAX)
/// bytes, or a presence, with its signature and header fit easily).
pub const HISTORY_ENVELOPE_MAX: usize = 2048;

/// Largest history request, in bytes: a version byte, the world and a space name.
pub const HISTORY_REQUEST_MAX: usize = 1 + 32 + 1 + SPACE_NAME_MAX;

/// Largest history answer, in bytes.
pub const HISTORY_ANSWER_MAX: usize = 1 + 2 + HISTORY_LINES_MAX * (2 * (HISTORY_ENVELOPE_MAX + 2) + 1);

/// "Tell me what was said in this space."
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryRequest {
    /// The world.
    pub world: WorldId,
    /// The space.
    pub space: SpaceName,
}

/// One line said in a room, as its author signed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryLine {
    /// The chat's [`SignedEnvelope`] bytes, signed for the room.
    pub chat: Vec<u8>,
    /// The author's latest presence (hello or presence) the answerer heard, signed for
    /// the world: where the line's name comes from.
    pub presence: Option<Vec<u8>>,
}

/// The answer: lines oldest first, at most [`HISTORY_LINES_MAX`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryAnswer {
    /// The lines.
    pub lines: Vec<HistoryLine>,
}

/// A line that was checked: who said what, and when they say they did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EarlierChat {
    /// The author.
    pub author: PeerId,
    /// The author's sequence number on the line (with the author, it names the line).
    pub seq: u64,
    /// When the author signed it, Unix milliseconds by their clock.
    pub said_ms: u64,
    /// Their name, from their signed presence, if it came and checked out.
    pub name: Option<DisplayName>,
    /// What they said.
    pub text: ChatText,
}

/// Why bytes are not a history request or answer, or a line does not check out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HistoryError {
    /// Longer than allowed.
    #[error("{len} bytes, over the limit of {max}")]
    TooLarge {
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// Another version, or none.
    #[error("unsupported history version")]
    Version,
    /// Not what it should be.
    #[error("malformed: {0}")]
    Malformed(String),
    /// A line's envelope is not a chat signed by its author for this room.
    #[error("a line is not a chat its author signed for this room")]
    NotSigned,
}

impl HistoryRequest {
    /// The request's bytes.
    pub fn encode(&self) -> Vec<u8> {
        postcard::to_extend(self, vec![HISTORY_VERSION]).unwrap_or_default()
    }

    /// Reads a request from exactly `bytes`.
    pub fn decode(bytes: &[u8]) -> Result<Self, HistoryError> {
        decode_versioned(bytes, HISTORY_REQUEST_MAX)
    }
}

impl HistoryAnswer {
    /// The answer's bytes.
    pub fn encode(&self) -> Vec<u8> {
        postcard::to_extend(self, vec![HISTORY_VERSION]).unwrap_or_default()
    }

    /// Reads an answer from exactly `bytes`: at most [`HISTORY_LINES_MAX`] lines, each
    /// envelope at most [`HISTORY_ENVELOPE_MAX`] bytes. The lines are not checked yet.
    pub fn decode(bytes: &[u8]) -> Result<Self, HistoryError> {
        let answer: Self = decode_versioned(bytes, HISTORY_ANSWER_MAX)?;
        if answer.lines.len() > HISTORY_LINES_MAX {
            return Err(HistoryError::Malformed(format!(
                "{} lines, over the limit of {HISTORY_LINES_MAX}",
                answer.lines.len()
            )));
        }
        let too_long = |bytes: &Vec<u8>| bytes.len() > HISTORY_ENVELOPE_MAX;
        if answer
            .lines
            .iter()
            .any(|line| too_long(&line.chat) || line.presence.as_ref().is_some_and(too_long))
        {
            return Err(HistoryError::Malformed("an envelope is too long".into()));
        }
        Ok(answer)
    }
}

impl HistoryLine {
    /// Checks the line for the room of `space` in `world`: the chat must be signed by its
    /// author for that room. A presence that is not the same author's, signed for the
    /// world, is left out (the line stays, without a name).
    pub fn check(&self, world: WorldId, space: &SpaceName) -> Result<EarlierChat, HistoryError> {
        let envelope = SignedEnvelope::decode(&self.chat)
            .map_err(|error: DecodeError| HistoryError::Malformed(error.to_string()))?;
        let author = envelope.author();
        let (seq, said_ms) = (envelope.seq(), envelope.timestamp_ms());
        let Ok(Body::Chat(chat)) = envelope.into_verified_body(&Context::room(world, space.clone())) else {
            return Err(HistoryError::NotSigned);
        };
        let name = self
            .presence
            .as_deref()
            .and_then(|bytes| SignedEnvelope::decode(bytes).ok())
            .filter(|presence| presence.author() == author)
            .and_then(
                |presence| match presence.into_verified_body(&Context::world(world)) {
                    Ok(Body::Hello(presence) | Body::Presence(presence)) => Some(presence.name),
                    _ => None,
                },
            );
        Ok(EarlierChat {
            author,
            seq,
            said_ms,
            name,
            text: chat.text,
        })
    }
}

/// Reads a version byte and exactly one postcard value from `bytes`.
fn decode_versioned<T: serde::de::DeserializeOwned>(bytes: &[u8], max: usize) -> Result<T, HistoryError> {
    if bytes.len() > max {
        return Err(HistoryError::TooLarge {
            len: bytes.len(),
            max,
        });
    }
    let Some((&HISTORY_VERSION, rest)) = bytes.split_first() else {
        return Err(HistoryError::Version);
    };
    let (value, trailing) =
        postcard::take_from_bytes::<T>(rest).map_err(|error| HistoryError::Malformed(error.to_string()))?;
    if !trailing.is_empty() {
        return Err(HistoryError::Malformed(format!(
            "{} bytes after the end",
            trailing.len()
        )));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::Keypair;
    use crate::message::{AvatarShape, Chat, Presence, Rgb};

    fn said(keypair: &Keypair, world: WorldId, space: &str, text: &str) -> Vec<u8> {
        let context = Context::room(world, SpaceName::new(space).unwrap());
        let body = Body::Chat(Chat {
            text: ChatText::new(text).unwrap(),
        });
        SignedEnvelope::sign(keypair, &context, 7, 1_000, body).encode()
    }

    fn presence(keypair: &Keypair, world: WorldId, name: &str) -> Vec<u8> {
        let body = Body::Presence(Presence {
            name: DisplayName::new(name).unwrap(),
            color: Rgb { r: 1, g: 2, b: 3 },
            shape: AvatarShape::Sphere,
            space: SpaceName::new("lobby").unwrap(),
        });
        SignedEnvelope::sign(keypair, &Context::world(world), 3, 1_000, body).encode()
    }

    #[test]
    fn a_line_checks_out_only_for_its_room_and_names_only_its_author() {
        let ana = Keypair::generate().unwrap();
        let bo = Keypair::generate().unwrap();
        let world = WorldId([4; 32]);
        let lobby = SpaceName::new("lobby").unwrap();
        let line = HistoryLine {
            chat: said(&ana, world, "lobby", "hello"),
            presence: Some(presence(&ana, world, "Ana")),
        };
        let checked = line.check(world, &lobby).unwrap();
        assert_eq!(checked.author, ana.peer_id());
        assert_eq!((checked.seq, checked.said_ms), (7, 1_000));
        assert_eq!(checked.text.as_str(), "hello");
        assert_eq!(checked.name.unwrap().as_str(), "Ana");

        // Said in the market: not a line of the lobby.
        let elsewhere = HistoryLine {
            chat: said(&ana, world, "market", "hello"),
            presence: None,
        };
        assert_eq!(elsewhere.check(world, &lobby), Err(HistoryError::NotSigned));
        // Another world.
        assert_eq!(line.check(WorldId([5; 32]), &lobby), Err(HistoryError::NotSigned));
        // Someone else's presence names nobody.
        let borrowed = HistoryLine {
            chat: line.chat.clone(),
            presence: Some(presence(&bo, world, "Not Ana")),
        };
        assert_eq!(borrowed.check(world, &lobby).unwrap().name, None);
        // A changed word breaks the signature.
        let mut changed = line.chat.clone();
        let at = changed.windows(5).position(|w| w == b"hello").unwrap();
        changed[at] = b'j';
        let forged = HistoryLine {
            chat: changed,
            presence: None,
        };
        assert_eq!(forged.check(world, &lobby), Err(HistoryError::NotSigned));
    }

    #[test]
    fn requests_and_answers_round_trip_and_oversized_ones_are_refused() {
        let request = HistoryRequest {
            world: WorldId([1; 32]),
            space: SpaceName::new("x".repeat(SPACE_NAME_MAX)).unwrap(),
        };
        let bytes = request.encode();
        assert!(bytes.len() <= HISTORY_REQUEST_MAX);
        assert_eq!(HistoryRequest::decode(&bytes).unwrap(), request);
        assert_eq!(HistoryRequest::decode(&bytes[1..]), Err(HistoryError::Version));

        let full_line = HistoryLine {
            chat: vec![9; HISTORY_ENVELOPE_MAX],
            presence: Some(vec![8; HISTORY_ENVELOPE_MAX]),
        };
        let full = HistoryAnswer {
            lines: vec![full_line.clone(); HISTORY_LINES_MAX],
        };
        let bytes = full.encode();
        assert!(bytes.len() <= HISTORY_ANSWER_MAX, "{} bytes", bytes.len());
        assert_eq!(HistoryAnswer::decode(&bytes).unwrap(), full);

        let too_many = HistoryAnswer {
            lines: vec![
                HistoryLine {
                    chat: vec![1],
                    presence: None
                };
                HISTORY_LINES_MAX + 1
            ],
        };
        assert!(matches!(
            HistoryAnswer::decode(&too_many.encode()),
            Err(HistoryError::Malformed(_))
        ));
        let too_long = HistoryAnswer {
            lines: vec![HistoryLine {
                chat: vec![1; HISTORY_ENVELOPE_MAX + 1],
                presence: None,
            }],
        };
        assert!(matches!(
            HistoryAnswer::decode(&too_long.encode()),
            Err(HistoryError::Malformed(_))
        ));
        let mut trailing = HistoryAnswer::default().encode();
        trailing.push(0);
        assert!(matches!(
            HistoryAnswer::decode(&trailing),
            Err(HistoryError::Malformed(_))
        ));
    }
}
