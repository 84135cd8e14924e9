//! Sanctuary's wire protocol: the types peers exchange, how they are encoded, who signed
//! them, and the limits a receiver enforces.
//!
//! Everything another crate sends or receives goes through here, so this crate has no
//! engine, no transport and no I/O: only plain data, codecs and pure checks.
//!
//! - [`alpn`]: the versioned protocol names a QUIC connection is opened with.
//! - [`announce`]: [`WorldAnnouncement`], a world hosted on the local network.
//! - [`identity`]: [`PeerId`] (an ed25519 public key, the same bytes as an iroh endpoint
//!   id), [`Keypair`] and [`Signature`].
//! - [`message`]: the gossip and direct messages ([`Body`]) inside a [`SignedEnvelope`].
//! - [`pose`]: avatar poses quantized to [`pose::POSE_LEN`] bytes, and the [`PoseDatagram`].
//! - [`build`]: pieces, zones and the signed records of a space's building [`Document`](build::Document).
//! - [`history`]: earlier chat of a room, as its authors signed it, for newcomers.
//! - [`home`]: the personal server's requests and responses, and the signed items
//!   (posts, comments, likes) that travel between friends' nodes.
//! - [`app`]: the messages apps and mods send to their own copies on other peers.
//! - [`voice`]: [`VoicePacket`], one Opus frame of one speaker in a datagram, and the
//!   [`ReceptionReport`] a listener sends back.
//! - [`text`]: validated strings (display names, chat text, space names).
//! - [`world`]: [`WorldId`] and the printable [`WorldTicket`].
//! - [`limits`]: sizes and rates every receiver enforces.
//! - [`replay`] and [`rate`]: per-peer replay and rate checks, as pure data structures.
//! - [`fuzzing`]: decoder entry points shared by the fuzz targets and the property tests.
//!
//! A receiver handles a message in this order: [`SignedEnvelope::decode`] (size and
//! shape), [`SignedEnvelope::verify`] (signature, against the [`Context`] it arrived in),
//! [`SignedEnvelope::check_fresh`] (timestamp), [`RateLimiter::try_acquire`] (per author),
//! then [`ReplayGuard::accept`] (each sequence number once), and only then lets the body
//! touch the world. Cheap budgets that need no signature (per delivering neighbour, per
//! room) come before the signature check.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod alpn;
pub mod announce;
pub mod app;
mod bits;
pub mod blob;
pub mod build;
mod fixed_bytes;
pub mod fuzzing;
pub mod history;
pub mod home;
pub mod identity;
pub mod limits;
pub mod message;
pub mod pose;
pub mod rate;
pub mod replay;
pub mod text;
pub mod voice;
pub mod world;

pub use announce::{ParseAnnouncementError, WorldAnnouncement};
pub use app::{AppMessage, AppName, AppPayload, PayloadTooLarge};
pub use blob::{BlobHash, ParseBlobHashError};
pub use identity::{Keypair, ParsePeerIdError, PeerId, RandomnessError, Signature, VerifyError};
pub use message::{
    AvatarShape, Body, Channel, Chat, Context, DecodeError, DirectAddrs, Presence, Rgb, SignedEnvelope,
    Stale, TooManyAddrs,
};
pub use pose::{Pose, PoseDatagram, PoseError, PoseSample, TrackedPoint};
pub use rate::RateLimiter;
pub use replay::{ReplayError, ReplayGuard};
pub use text::{ChatText, DisplayName, SpaceName, TextError};
pub use voice::{FrameDuration, ReceptionReport, VoiceDatagram, VoicePacket, VoicePacketError};
pub use world::{ParseTicketError, WorldId, WorldTicket};
