//! Signed messages: what peers say to a room over gossip, or to each other directly.
//!
//! Every message is a [`Body`] inside a [`SignedEnvelope`] that names its author, a
//! sequence number and a timestamp, all covered by the author's signature. A receiver
//! [`decode`](SignedEnvelope::decode)s the bytes, then [`verify`](SignedEnvelope::verify)s
//! the signature, and only then can it read the body.
//!
//! # Wire format
//!
//! One version byte ([`WIRE_VERSION`]), then the envelope in [postcard]: author (32
//! bytes), `seq` and `timestamp_ms` (varints), the body (a varint variant index, then its
//! fields in order) and the signature (64 bytes). Strings are a varint length and UTF-8.
//! `Body` variants keep their index forever: add new ones at the end only, and change an
//! existing one only together with a new [`WIRE_VERSION`] and new ALPN versions.
//!
//! # Sequence numbers
//!
//! Receivers accept each `(author, seq)` once ([`ReplayGuard`](crate::ReplayGuard)), and
//! gossip drops identical payloads, so every message needs a new `seq`. Senders start from
//! the current Unix time in milliseconds (or a stored counter) and count up by one per
//! message, so that a restarted client is not taken for a replay of its earlier self.

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use crate::identity::{Keypair, PeerId, Signature, VerifyError};
use crate::limits::{ADDRS_MAX, MESSAGE_MAX};
use crate::pose::Pose;
use crate::text::{ChatText, DisplayName, SpaceName};

/// First byte of every encoded envelope. Bumped when the encoding changes.
pub const WIRE_VERSION: u8 = 0;

/// Signatures are made over this prefix and then the envelope's fields, so a signature
/// made for anything else (another protocol, another version) never verifies here.
const SIGNING_DOMAIN: &[u8] = b"sanctuary/envelope/0\0";

/// The shape of a person's avatar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum AvatarShape {
    /// A rounded pill, the default.
    Capsule,
    /// A box.
    Cube,
    /// A ball.
    Sphere,
    /// A cone, point up.
    Cone,
}

/// A colour as red, green and blue bytes (sRGB).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Rgb {
    /// Red.
    pub r: u8,
    /// Green.
    pub g: u8,
    /// Blue.
    pub b: u8,
}

/// Who someone is and where they are: shown on their avatar.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Presence {
    /// The name shown above the avatar.
    pub name: DisplayName,
    /// The avatar's colour.
    pub color: Rgb,
    /// The avatar's shape.
    pub shape: AvatarShape,
    /// The space the person is in now.
    pub space: SpaceName,
}

/// A chat message.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Chat {
    /// What was said.
    pub text: ChatText,
}

/// What a message says. The variant order is part of the wire format.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Body {
    /// "I just joined": announces the sender, and asks everyone present to answer with
    /// their own [`Body::Presence`].
    Hello(Presence),
    /// "I am here": sent in answer to a hello, when something in it changes, and now and
    /// then so that late joiners learn about the sender.
    Presence(Presence),
    /// "I am leaving": the sender's avatar can be removed now rather than on a timeout.
    Leave,
    /// A chat message, to a room or as a direct message.
    Chat(Chat),
    /// A pose for peers too far away to get [`PoseDatagram`](crate::PoseDatagram)s, about
    /// once a second.
    Pose(Pose),
    /// "You can dial me here": the sender's direct socket addresses, so that peers who
    /// joined through someone else can reach it for poses and direct messages. Sent with
    /// every hello and heartbeat. The signature only says the author claims them; the
    /// connection's own handshake still checks who answers.
    Addrs(DirectAddrs),
}

/// A peer's direct socket addresses, at most [`ADDRS_MAX`] of them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "Vec<SocketAddr>", into = "Vec<SocketAddr>")]
pub struct DirectAddrs(Vec<SocketAddr>);

impl DirectAddrs {
    /// The first [`ADDRS_MAX`] of `addrs`, without repeats.
    pub fn new(addrs: impl IntoIterator<Item = SocketAddr>) -> Self {
        let mut list = Vec::new();
        for addr in addrs {
            if list.len() == ADDRS_MAX {
                break;
            }
            if !list.contains(&addr) {
                list.push(addr);
            }
        }
        Self(list)
    }

    /// The addresses.
    pub fn as_slice(&self) -> &[SocketAddr] {
        &self.0
    }
}

/// More than [`ADDRS_MAX`] addresses in a [`DirectAddrs`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{0} addresses, over the limit of {ADDRS_MAX}")]
pub struct TooManyAddrs(pub usize);

impl TryFrom<Vec<SocketAddr>> for DirectAddrs {
    type Error = TooManyAddrs;

    fn try_from(addrs: Vec<SocketAddr>) -> Result<Self, TooManyAddrs> {
        if addrs.len() > ADDRS_MAX {
            return Err(TooManyAddrs(addrs.len()));
        }
        Ok(Self(addrs))
    }
}

impl From<DirectAddrs> for Vec<SocketAddr> {
    fn from(addrs: DirectAddrs) -> Self {
        addrs.0
    }
}

/// A [`Body`] with its author, sequence number, timestamp and the author's signature.
///
/// Made by [`SignedEnvelope::sign`] or [`SignedEnvelope::decode`]. The body can only be
/// read through [`SignedEnvelope::verify`], so nothing unverified reaches the world.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SignedEnvelope {
    author: PeerId,
    seq: u64,
    timestamp_ms: u64,
    body: Body,
    signature: Signature,
}

impl SignedEnvelope {
    /// Signs `body` as `keypair`'s owner.
    ///
    /// `seq` must be new for every message from this author (see the module docs);
    /// `timestamp_ms` is the sender's clock in Unix milliseconds, for display and for
    /// dropping stale messages, not for security.
    pub fn sign(keypair: &Keypair, seq: u64, timestamp_ms: u64, body: Body) -> Self {
        let author = keypair.peer_id();
        let signature = keypair.sign(&signed_bytes(&author, seq, timestamp_ms, &body));
        Self {
            author,
            seq,
            timestamp_ms,
            body,
            signature,
        }
    }

    /// Who claims to have written this. Only true once [`verify`](Self::verify) says so.
    pub fn author(&self) -> PeerId {
        self.author
    }

    /// The author's sequence number for this message.
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// The author's clock when it was sent, in Unix milliseconds.
    pub fn timestamp_ms(&self) -> u64 {
        self.timestamp_ms
    }

    /// The author's signature.
    pub fn signature(&self) -> &Signature {
        &self.signature
    }

    /// Checks the signature against the author, and gives the body if it matches.
    pub fn verify(&self) -> Result<&Body, VerifyError> {
        let message = signed_bytes(&self.author, self.seq, self.timestamp_ms, &self.body);
        self.author.verify(&message, &self.signature)?;
        Ok(&self.body)
    }

    /// Like [`verify`](Self::verify), but gives the body by value.
    pub fn into_verified_body(self) -> Result<Body, VerifyError> {
        self.verify()?;
        Ok(self.body)
    }

    /// The bytes to send. Always at most [`MESSAGE_MAX`] bytes, since every field has a
    /// size limit.
    pub fn encode(&self) -> Vec<u8> {
        // Writing into a `Vec` can only fail for a type whose `Serialize` fails, and none
        // of ours do. An empty result would be refused by every receiver anyway.
        postcard::to_extend(self, vec![WIRE_VERSION]).unwrap_or_default()
    }

    /// Reads an envelope from received bytes, checking sizes, text rules and that the
    /// bytes are exactly what [`encode`](Self::encode) would write. Does not check the
    /// signature: call [`verify`](Self::verify) next.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        if bytes.len() > MESSAGE_MAX {
            return Err(DecodeError::TooLarge {
                len: bytes.len(),
                max: MESSAGE_MAX,
            });
        }
        let (&version, rest) = bytes.split_first().ok_or(DecodeError::Empty)?;
        if version != WIRE_VERSION {
            return Err(DecodeError::UnsupportedVersion(version));
        }
        let (envelope, trailing) = postcard::take_from_bytes::<Self>(rest)?;
        if !trailing.is_empty() {
            return Err(DecodeError::TrailingBytes(trailing.len()));
        }
        // Postcard also accepts numbers written with needless extra bytes. Refusing those
        // keeps one encoding per message, so a copy cannot be disguised as a new payload.
        if envelope.encode() != bytes {
            return Err(DecodeError::NonCanonical);
        }
        Ok(envelope)
    }
}

/// The bytes a signature covers: domain prefix, author, seq, timestamp, encoded body.
fn signed_bytes(author: &PeerId, seq: u64, timestamp_ms: u64, body: &Body) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(SIGNING_DOMAIN.len() + 48 + 64);
    bytes.extend_from_slice(SIGNING_DOMAIN);
    bytes.extend_from_slice(author.as_bytes());
    bytes.extend_from_slice(&seq.to_le_bytes());
    bytes.extend_from_slice(&timestamp_ms.to_le_bytes());
    // As in `encode`: cannot fail, and a failure would only make the signature not match.
    postcard::to_extend(body, bytes).unwrap_or_default()
}

/// Why received bytes are not a [`SignedEnvelope`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// More than [`MESSAGE_MAX`] bytes; refused before decoding.
    #[error("message of {len} bytes is over the limit of {max}")]
    TooLarge {
        /// Length of the input in bytes.
        len: usize,
        /// The limit in bytes.
        max: usize,
    },
    /// No bytes at all.
    #[error("empty message")]
    Empty,
    /// The first byte is not [`WIRE_VERSION`].
    #[error("unsupported wire version {0}")]
    UnsupportedVersion(u8),
    /// The bytes do not decode: cut short, an unknown variant, invalid UTF-8, or text that
    /// breaks a rule of [`text`](crate::text).
    #[error("malformed message: {0}")]
    Malformed(#[from] postcard::Error),
    /// Bytes were left over after the envelope.
    #[error("{0} bytes after the end of the message")]
    TrailingBytes(usize),
    /// The envelope decodes, but is not written the way [`SignedEnvelope::encode`] writes it.
    #[error("message is not in canonical form")]
    NonCanonical,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pose::{POSE_LEN, PoseSample};

    fn presence() -> Presence {
        Presence {
            name: DisplayName::new("Ada").unwrap(),
            color: Rgb { r: 200, g: 40, b: 90 },
            shape: AvatarShape::Sphere,
            space: SpaceName::new("lobby").unwrap(),
        }
    }

    fn chat(text: &str) -> Body {
        Body::Chat(Chat {
            text: ChatText::new(text).unwrap(),
        })
    }

    fn alice() -> Keypair {
        Keypair::from_bytes(&[1; 32])
    }

    #[test]
    fn sign_encode_decode_verify() {
        let envelope = SignedEnvelope::sign(&alice(), 7, 1_700_000_000_000, Body::Hello(presence()));
        let decoded = SignedEnvelope::decode(&envelope.encode()).unwrap();
        assert_eq!(decoded, envelope);
        assert_eq!(decoded.author(), alice().peer_id());
        assert_eq!((decoded.seq(), decoded.timestamp_ms()), (7, 1_700_000_000_000));
        assert_eq!(decoded.verify(), Ok(&Body::Hello(presence())));
        assert_eq!(decoded.into_verified_body(), Ok(Body::Hello(presence())));
    }

    #[test]
    fn encoded_sizes() {
        // A pose body is a variant index and the fixed pose bytes.
        let pose = Body::Pose(PoseSample::default().quantize());
        assert_eq!(postcard::to_allocvec(&pose).unwrap().len(), 1 + POSE_LEN);
        assert_eq!(postcard::to_allocvec(&pose).unwrap().len(), 37);

        // version 1 + author 32 + seq 1 + timestamp 6 + body + signature 64.
        let now = 1_800_000_000_000;
        let signed_pose = SignedEnvelope::sign(&alice(), 1, now, pose);
        assert_eq!(signed_pose.encode().len(), 1 + 32 + 1 + 6 + 37 + 64);
        assert_eq!(signed_pose.encode().len(), 141);

        // A chat body is a variant index, a length byte and the text.
        let hello = SignedEnvelope::sign(&alice(), 1, now, chat("hello"));
        assert_eq!(hello.encode().len(), 1 + 32 + 1 + 6 + (1 + 1 + 5) + 64);
        assert_eq!(hello.encode().len(), 111);
    }

    #[test]
    fn the_largest_possible_envelope_fits_the_limit() {
        let longest = "x".repeat(crate::limits::CHAT_MAX);
        let envelope = SignedEnvelope::sign(&alice(), u64::MAX, u64::MAX, chat(&longest));
        let bytes = envelope.encode();
        assert!(bytes.len() <= MESSAGE_MAX, "{}", bytes.len());
        assert_eq!(SignedEnvelope::decode(&bytes), Ok(envelope));
    }

    #[test]
    fn signature_covers_every_field() {
        let original = SignedEnvelope::sign(&alice(), 1, 2, chat("hi"));
        let changed = [
            SignedEnvelope {
                author: Keypair::from_bytes(&[2; 32]).peer_id(),
                ..original.clone()
            },
            SignedEnvelope {
                seq: 2,
                ..original.clone()
            },
            SignedEnvelope {
                timestamp_ms: 3,
                ..original.clone()
            },
            SignedEnvelope {
                body: chat("ho"),
                ..original.clone()
            },
            SignedEnvelope {
                body: Body::Leave,
                ..original.clone()
            },
        ];
        assert!(original.verify().is_ok());
        for envelope in changed {
            assert_eq!(envelope.verify(), Err(VerifyError::BadSignature), "{envelope:?}");
        }
    }

    #[test]
    fn a_signature_for_other_bytes_does_not_verify() {
        // Same key, but signed without the domain prefix.
        let body = chat("hi");
        let mut undomained = alice().peer_id().as_bytes().to_vec();
        undomained.extend_from_slice(&1u64.to_le_bytes());
        undomained.extend_from_slice(&2u64.to_le_bytes());
        undomained.extend(postcard::to_allocvec(&body).unwrap());
        let envelope = SignedEnvelope {
            author: alice().peer_id(),
            seq: 1,
            timestamp_ms: 2,
            body,
            signature: alice().sign(&undomained),
        };
        assert_eq!(envelope.verify(), Err(VerifyError::BadSignature));
    }

    #[test]
    fn decode_refuses_bad_framing() {
        let bytes = SignedEnvelope::sign(&alice(), 1, 2, Body::Leave).encode();
        assert_eq!(SignedEnvelope::decode(&[]), Err(DecodeError::Empty));

        let mut other_version = bytes.clone();
        other_version[0] = 1;
        assert_eq!(
            SignedEnvelope::decode(&other_version),
            Err(DecodeError::UnsupportedVersion(1))
        );

        let mut trailing = bytes.clone();
        trailing.push(0);
        assert_eq!(
            SignedEnvelope::decode(&trailing),
            Err(DecodeError::TrailingBytes(1))
        );

        assert!(matches!(
            SignedEnvelope::decode(&bytes[..bytes.len() - 1]),
            Err(DecodeError::Malformed(_))
        ));

        let too_large = vec![WIRE_VERSION; MESSAGE_MAX + 1];
        assert_eq!(
            SignedEnvelope::decode(&too_large),
            Err(DecodeError::TooLarge {
                len: MESSAGE_MAX + 1,
                max: MESSAGE_MAX
            })
        );
    }

    #[test]
    fn direct_addrs_round_trip_and_are_bounded() {
        let addrs: Vec<SocketAddr> = (0..20)
            .map(|port| SocketAddr::from(([127, 0, 0, 1], port)))
            .collect();
        let body = Body::Addrs(DirectAddrs::new(
            addrs.iter().copied().chain(addrs.iter().copied()),
        ));
        let Body::Addrs(kept) = &body else { unreachable!() };
        assert_eq!(kept.as_slice(), &addrs[..ADDRS_MAX]);
        let envelope = SignedEnvelope::sign(&alice(), 1, 2, body.clone());
        assert_eq!(
            SignedEnvelope::decode(&envelope.encode()).unwrap().verify(),
            Ok(&body)
        );
        // One address too many is refused by the decoder.
        let mut too_many = postcard::to_allocvec(&kept).unwrap();
        too_many[0] += 1;
        too_many.extend(postcard::to_allocvec(&addrs[0]).unwrap());
        assert!(postcard::from_bytes::<DirectAddrs>(&too_many).is_err());
        too_many.truncate(too_many.len() - postcard::to_allocvec(&addrs[0]).unwrap().len());
        too_many[0] -= 1;
        assert_eq!(postcard::from_bytes::<DirectAddrs>(&too_many).as_ref(), Ok(kept));
    }

    #[test]
    fn decode_refuses_a_padded_varint() {
        // seq = 1 is the single byte 0x01 after the version and author; 0x81 0x00 also
        // means 1 to postcard, and would be a second encoding of the same message.
        let bytes = SignedEnvelope::sign(&alice(), 1, 2, Body::Leave).encode();
        assert_eq!(bytes[33], 1);
        let mut padded = bytes[..33].to_vec();
        padded.extend_from_slice(&[0x81, 0x00]);
        padded.extend_from_slice(&bytes[34..]);
        assert_eq!(SignedEnvelope::decode(&padded), Err(DecodeError::NonCanonical));
    }
}
