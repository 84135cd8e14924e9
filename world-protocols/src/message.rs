//! Signed messages: what peers say to a room over gossip, or to each other directly.
//!
//! Every message is a [`Body`] inside a [`SignedEnvelope`] that names its author, a
//! sequence number and a timestamp. The author's signature covers those, the body, and the
//! [`Context`] the message was said in: the world and the [`Channel`] (the world-wide topic,
//! one space's room, or one recipient). A receiver [`decode`](SignedEnvelope::decode)s the
//! bytes, then [`verify`](SignedEnvelope::verify)s the signature against the context it
//! received the message in, and only then can it read the body. A message therefore cannot
//! be moved: a private message republished on a room, a chat replayed into another space or
//! another world, all fail the signature check.
//!
//! # Wire format (version 2)
//!
//! One version byte ([`WIRE_VERSION`]), then the envelope in [postcard]: author (32
//! bytes), `seq` and `timestamp_ms` (varints), the body (a varint variant index, then its
//! fields in order) and the signature (64 bytes). Strings are a varint length and UTF-8.
//! The context is not on the wire: both sides know it. `Body` variants keep their index
//! forever: add new ones at the end only, and change an existing one only together with a
//! new [`WIRE_VERSION`] and new ALPN versions.
//!
//! The signature is made over [`SIGNING_DOMAIN`], the world id (32 bytes), the channel (a
//! tag byte: 0 world, 1 room followed by the space name's length byte and bytes, 2 direct
//! followed by the recipient's 32 bytes), the author, `seq` and `timestamp_ms` (8 bytes
//! little-endian each) and the postcard body.
//!
//! Version 0 signed only author, seq, timestamp and body; version 1 added the context and
//! the timestamp window below; version 2 added the rules digest to
//! [`Body::BuildState`]. Each refuses the others (different version byte and ALPNs; 0 and
//! 1 also a different domain).
//!
//! # Sequence numbers and timestamps
//!
//! Receivers accept each `(author, seq)` once ([`ReplayGuard`](crate::ReplayGuard)), and
//! gossip drops identical payloads, so every message needs a new `seq`. Senders start from
//! the current Unix time in milliseconds (or a stored counter) and count up by one per
//! message, so that a restarted client is not taken for a replay of its earlier self.
//!
//! Receivers also refuse a message whose signed timestamp is more than
//! [`TIMESTAMP_SKEW_MAX_MS`] away from their own
//! clock ([`SignedEnvelope::check_fresh`]), so a message recorded now cannot be replayed
//! later, after its author's replay window was forgotten.

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use crate::app::AppMessage;
use crate::build::{BuildState, RecordBatch};
use crate::identity::{Keypair, PeerId, Signature, VerifyError};
use crate::limits::{ADDRS_MAX, MESSAGE_MAX, TIMESTAMP_SKEW_MAX_MS};
use crate::pose::Pose;
use crate::text::{ChatText, DisplayName, SpaceName};
use crate::world::WorldId;

/// First byte of every encoded envelope. Bumped when the encoding changes.
pub const WIRE_VERSION: u8 = 2;

/// Signatures are made over this prefix and then the context and the envelope's fields,
/// so a signature made for anything else (another protocol, another version) never
/// verifies here.
pub const SIGNING_DOMAIN: &[u8] = b"sanctuary/envelope/1\0";

/// Where a message is said. Part of what its signature covers, never sent.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Channel {
    /// The world-wide topic: presence, addresses, goodbyes.
    World,
    /// The room of one space: chat and far-away poses.
    Room(SpaceName),
    /// A direct connection to one recipient: private messages.
    Direct(PeerId),
}

/// The world and channel a message is said in: what a signature binds it to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Context {
    /// The world.
    pub world: WorldId,
    /// The channel within it.
    pub channel: Channel,
}

impl Context {
    /// The world-wide topic of `world`.
    pub fn world(world: WorldId) -> Self {
        Self {
            world,
            channel: Channel::World,
        }
    }

    /// The room of `space` in `world`.
    pub fn room(world: WorldId, space: SpaceName) -> Self {
        Self {
            world,
            channel: Channel::Room(space),
        }
    }

    /// A private message to `recipient` in `world`.
    pub fn direct(world: WorldId, recipient: PeerId) -> Self {
        Self {
            world,
            channel: Channel::Direct(recipient),
        }
    }

    fn write_to(&self, bytes: &mut Vec<u8>) {
        bytes.extend_from_slice(self.world.as_bytes());
        match &self.channel {
            Channel::World => bytes.push(0),
            Channel::Room(space) => {
                bytes.push(1);
                // Space names are at most 32 bytes, so the length fits in one byte.
                bytes.push(space.as_str().len() as u8);
                bytes.extend_from_slice(space.as_str().as_bytes());
            }
            Channel::Direct(recipient) => {
                bytes.push(2);
                bytes.extend_from_slice(recipient.as_bytes());
            }
        }
    }
}

/// A signed timestamp too far from the receiver's clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "message timestamp {timestamp_ms} is {skew_ms} ms away from now, over the limit of {TIMESTAMP_SKEW_MAX_MS} ms"
)]
pub struct Stale {
    /// The message's timestamp, Unix milliseconds.
    pub timestamp_ms: u64,
    /// How far it is from the receiver's clock, in milliseconds.
    pub skew_ms: u64,
}

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
    /// A message from one app to its copies on the other peers of the world, on the world
    /// topic. Added in version 1 without a new version: peers from before it refuse it.
    App(AppMessage),
    /// Building edits in the space's room: records of pieces and grants, each signed by
    /// its own author (who need not be the sender: a peer may pass on what it holds).
    /// Added in version 1 without a new version: peers from before it refuse it.
    Build(RecordBatch),
    /// What the sender holds of the space's building document, now and then, so that a
    /// peer holding something else asks it for a sync.
    BuildState(BuildState),
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
    /// Signs `body` as `keypair`'s owner, for `context`.
    ///
    /// `seq` must be new for every message from this author (see the module docs);
    /// `timestamp_ms` is the sender's clock in Unix milliseconds: receivers refuse a
    /// message whose timestamp is far from their own clock.
    pub fn sign(keypair: &Keypair, context: &Context, seq: u64, timestamp_ms: u64, body: Body) -> Self {
        let author = keypair.peer_id();
        let signature = keypair.sign(&signed_bytes(context, &author, seq, timestamp_ms, &body));
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

    /// Checks the signature against the author and `context` (where the message was
    /// received), and gives the body if it matches.
    pub fn verify(&self, context: &Context) -> Result<&Body, VerifyError> {
        let message = signed_bytes(context, &self.author, self.seq, self.timestamp_ms, &self.body);
        self.author.verify(&message, &self.signature)?;
        Ok(&self.body)
    }

    /// Like [`verify`](Self::verify), but gives the body by value.
    pub fn into_verified_body(self, context: &Context) -> Result<Body, VerifyError> {
        self.verify(context)?;
        Ok(self.body)
    }

    /// Checks that the timestamp is within
    /// [`TIMESTAMP_SKEW_MAX_MS`] of `now_unix_ms`
    /// (the receiver's clock). Only meaningful after [`verify`](Self::verify): before it,
    /// the timestamp is whatever the sender wrote.
    pub fn check_fresh(&self, now_unix_ms: u64) -> Result<(), Stale> {
        let skew_ms = self.timestamp_ms.abs_diff(now_unix_ms);
        if skew_ms > TIMESTAMP_SKEW_MAX_MS {
            return Err(Stale {
                timestamp_ms: self.timestamp_ms,
                skew_ms,
            });
        }
        Ok(())
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

/// The bytes a signature covers: domain prefix, context, author, seq, timestamp, encoded
/// body.
fn signed_bytes(context: &Context, author: &PeerId, seq: u64, timestamp_ms: u64, body: &Body) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(SIGNING_DOMAIN.len() + 32 + 34 + 48 + 64);
    bytes.extend_from_slice(SIGNING_DOMAIN);
    context.write_to(&mut bytes);
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

    fn lobby() -> Context {
        Context::room(WorldId([9; 32]), SpaceName::new("lobby").unwrap())
    }

    fn sign(seq: u64, timestamp_ms: u64, body: Body) -> SignedEnvelope {
        SignedEnvelope::sign(&alice(), &lobby(), seq, timestamp_ms, body)
    }

    #[test]
    fn sign_encode_decode_verify() {
        let envelope = sign(7, 1_700_000_000_000, Body::Hello(presence()));
        let decoded = SignedEnvelope::decode(&envelope.encode()).unwrap();
        assert_eq!(decoded, envelope);
        assert_eq!(decoded.author(), alice().peer_id());
        assert_eq!((decoded.seq(), decoded.timestamp_ms()), (7, 1_700_000_000_000));
        assert_eq!(decoded.verify(&lobby()), Ok(&Body::Hello(presence())));
        assert_eq!(decoded.into_verified_body(&lobby()), Ok(Body::Hello(presence())));
    }

    #[test]
    fn encoded_sizes() {
        // A pose body is a variant index and the fixed pose bytes.
        let pose = Body::Pose(PoseSample::default().quantize());
        assert_eq!(postcard::to_allocvec(&pose).unwrap().len(), 1 + POSE_LEN);
        assert_eq!(postcard::to_allocvec(&pose).unwrap().len(), 37);

        // version 1 + author 32 + seq 1 + timestamp 6 + body + signature 64.
        let now = 1_800_000_000_000;
        let signed_pose = sign(1, now, pose);
        assert_eq!(signed_pose.encode().len(), 1 + 32 + 1 + 6 + 37 + 64);
        assert_eq!(signed_pose.encode().len(), 141);

        // A chat body is a variant index, a length byte and the text.
        let hello = sign(1, now, chat("hello"));
        assert_eq!(hello.encode().len(), 1 + 32 + 1 + 6 + (1 + 1 + 5) + 64);
        assert_eq!(hello.encode().len(), 111);
    }

    #[test]
    fn the_largest_possible_envelope_fits_the_limit() {
        let longest = "x".repeat(crate::limits::CHAT_MAX);
        let envelope = sign(u64::MAX, u64::MAX, chat(&longest));
        let bytes = envelope.encode();
        assert!(bytes.len() <= MESSAGE_MAX, "{}", bytes.len());
        assert_eq!(SignedEnvelope::decode(&bytes), Ok(envelope));
    }

    #[test]
    fn signature_covers_every_field() {
        let original = sign(1, 2, chat("hi"));
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
        assert!(original.verify(&lobby()).is_ok());
        for envelope in changed {
            assert_eq!(
                envelope.verify(&lobby()),
                Err(VerifyError::BadSignature),
                "{envelope:?}"
            );
        }
    }

    #[test]
    fn a_signature_for_other_bytes_does_not_verify() {
        // Same key, but signed without the domain prefix and context.
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
        assert_eq!(envelope.verify(&lobby()), Err(VerifyError::BadSignature));
    }

    #[test]
    fn a_signature_binds_world_and_channel() {
        let world = WorldId([9; 32]);
        let bob = Keypair::from_bytes(&[2; 32]).peer_id();
        let dm = SignedEnvelope::sign(&alice(), &Context::direct(world, bob), 1, 2, chat("psst"));
        assert!(dm.verify(&Context::direct(world, bob)).is_ok());
        let elsewhere = [
            // Republished by its recipient on a room, or on the world topic.
            lobby(),
            Context::world(world),
            // Forwarded to somebody else.
            Context::direct(world, alice().peer_id()),
            // Replayed into another world.
            Context::direct(WorldId([8; 32]), bob),
        ];
        for context in &elsewhere {
            assert_eq!(dm.verify(context), Err(VerifyError::BadSignature), "{context:?}");
        }
        let said = sign(1, 2, chat("hi all"));
        let market = Context::room(world, SpaceName::new("market").unwrap());
        let other_world = Context::room(WorldId([8; 32]), SpaceName::new("lobby").unwrap());
        assert_eq!(said.verify(&market), Err(VerifyError::BadSignature));
        assert_eq!(said.verify(&other_world), Err(VerifyError::BadSignature));
        // Room names are length-prefixed, so "lobby" + tag bytes cannot pose as another.
        let lob = Context::room(world, SpaceName::new("lob").unwrap());
        assert_eq!(said.verify(&lob), Err(VerifyError::BadSignature));
    }

    #[test]
    fn timestamps_far_from_now_are_stale() {
        let now = 1_800_000_000_000;
        let skew = TIMESTAMP_SKEW_MAX_MS;
        assert!(sign(1, now, Body::Leave).check_fresh(now).is_ok());
        assert!(sign(1, now - skew, Body::Leave).check_fresh(now).is_ok());
        assert!(sign(1, now + skew, Body::Leave).check_fresh(now).is_ok());
        let hour_ago = sign(1, now - 3_600_000, Body::Leave);
        assert_eq!(
            hour_ago.check_fresh(now),
            Err(Stale {
                timestamp_ms: now - 3_600_000,
                skew_ms: 3_600_000
            })
        );
        assert!(sign(1, now + skew + 1, Body::Leave).check_fresh(now).is_err());
        assert!(sign(1, 0, Body::Leave).check_fresh(now).is_err());
    }

    #[test]
    fn decode_refuses_bad_framing() {
        let bytes = sign(1, 2, Body::Leave).encode();
        assert_eq!(SignedEnvelope::decode(&[]), Err(DecodeError::Empty));

        let mut other_version = bytes.clone();
        other_version[0] = 0;
        assert_eq!(
            SignedEnvelope::decode(&other_version),
            Err(DecodeError::UnsupportedVersion(0))
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
        let envelope = sign(1, 2, body.clone());
        assert_eq!(
            SignedEnvelope::decode(&envelope.encode())
                .unwrap()
                .verify(&lobby()),
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
        let bytes = sign(1, 2, Body::Leave).encode();
        assert_eq!(bytes[33], 1);
        let mut padded = bytes[..33].to_vec();
        padded.extend_from_slice(&[0x81, 0x00]);
        padded.extend_from_slice(&bytes[34..]);
        assert_eq!(SignedEnvelope::decode(&padded), Err(DecodeError::NonCanonical));
    }
}
