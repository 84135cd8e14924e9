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
