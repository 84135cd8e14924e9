//! Limits every receiver enforces, in one place so sender and receiver agree.
//!
//! Inputs over these limits are rejected before any other work is done on them.

/// Largest encoded [`SignedEnvelope`](crate::SignedEnvelope) in bytes. Checked before decoding.
pub const MESSAGE_MAX: usize = 16 * 1024;

/// Longest chat message text in bytes of UTF-8.
pub const CHAT_MAX: usize = 1000;

/// Longest display name in bytes of UTF-8.
pub const NAME_MAX: usize = 32;

/// Longest space name in bytes (`a`-`z`, `0`-`9` and `-` only).
pub const SPACE_NAME_MAX: usize = 32;

/// Most direct socket addresses in one [`DirectAddrs`](crate::message::DirectAddrs).
pub const ADDRS_MAX: usize = 8;

/// Gossip messages (presence, chat, far-away poses) accepted from one peer per second.
pub const MESSAGE_RATE_PER_PEER: u32 = 30;

/// Pose datagrams accepted from one peer per second.
pub const POSE_RATE_PER_PEER: u32 = 60;

/// Largest pose datagram in bytes. The [`PoseDatagram`](crate::PoseDatagram) encoding
/// is a fixed [`POSE_DATAGRAM_LEN`](crate::pose::POSE_DATAGRAM_LEN) bytes, at most this.
pub const POSE_DATAGRAM_MAX: usize = 40;

/// Furthest a signed message's timestamp may be from the receiver's clock, either way, in
/// milliseconds: five minutes. Older messages are refused, so a message cannot be replayed
/// once its author's replay window has been forgotten; the margin allows for clocks of
/// machines that are not synchronised to the second.
pub const TIMESTAMP_SKEW_MAX_MS: u64 = 5 * 60 * 1000;

/// Most people one peer keeps in a world's roster. Presence from anyone past this is
/// ignored, and a newcomer who finds the roster full is told the world is full. Every peer
/// applies the same number, so a crowd of fake identities fills its own roster, not the
/// memory of the peers already there.
pub const ROSTER_MAX: usize = 500;

/// How many peers answer a newcomer's hello with their own presence at once. The rest are
/// learned from the next heartbeat, so a join costs the room a few broadcasts instead of one
/// from everyone.
pub const HELLO_RESPONDERS: usize = 3;

/// Most peers whose signed address announcement may name the same socket address. Past
/// this, further claims to it are ignored, so many identities cannot aim everyone's dials
/// at one socket of their choosing.
pub const ADDR_CLAIMS_MAX: usize = 2;

/// Longest app name in bytes (`a`-`z`, `0`-`9` and `-` only).
pub const APP_NAME_MAX: usize = 32;

/// Largest payload of one app message in bytes. Apps that need more (pictures, files)
/// share them as blobs and send the hash.
pub const APP_PAYLOAD_MAX: usize = 4096;

/// Largest Opus frame in one voice packet, in bytes. A 20 ms frame at the highest voice
/// bitrate Sanctuary sends (32 kbit/s) is about 80 bytes; this leaves room for FEC and
/// for other encoders' choices without letting a packet grow past one datagram.
pub const VOICE_PAYLOAD_MAX: usize = 400;

/// Distance in metres within which people hear each other: voice is sent only to peers
/// this close, and mixed silent at this distance.
pub const EARSHOT_M: f32 = 30.0;

/// Most listeners one speaker sends voice to at once, nearest first.
pub const VOICE_LISTENERS_MAX: usize = 24;

/// Voice packets accepted from one peer per second: 100 frames of 10 ms, with room for a
/// burst after a stall. Past this a speaker's packets are dropped and counted.
pub const VOICE_RATE_PER_PEER: u32 = 120;

/// Longest side of any building piece, in centimetres (50 m). Zones may allow less.
pub const PIECE_SIZE_MAX_CM: u16 = 5000;

/// Longest text on a sign, in bytes of UTF-8.
pub const SIGN_TEXT_MAX: usize = 80;

/// Most building zones in one space.
pub const ZONES_MAX: usize = 64;

/// Most building records in one [`RecordBatch`](crate::build::RecordBatch): the largest
/// batch of the largest records still fits one message.
pub const BUILD_BATCH_MAX: usize = 40;

/// Most records one space's building document keeps. Past this, new pieces are refused.
pub const DOCUMENT_RECORDS_MAX: usize = 1_000_000;
