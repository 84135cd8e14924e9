//! Blobs: the person's content-addressed files, reached through the storage app's store.
//!
//! An app granted [`Permission::Blobs`] sends [`BlobRequest`]s with [`Blobs::request`];
//! the host carries them out on the store (off the frame loop) and answers with
//! [`BlobReply`]s that only the asking app reads. Every app granted blobs also sees the
//! [`BlobLibrary`]: what the store holds, the quota, and what was served to whom.

use std::marker::PhantomData;
use std::path::PathBuf;
use std::sync::Arc;

use bevy::ecs::system::SystemParam;
use bevy::prelude::*;
use sanctuary_protocols::{BlobHash, PeerId};

use crate::grants::{CapabilityError, Grants};
use crate::mailbox::Mailbox;
use crate::manifest::Permission;
use crate::setup::SanctuaryApp;

/// Requests waiting for the host, at most, for all apps together.
pub const BLOB_REQUESTS_MAX: usize = 64;
/// Replies waiting for one app, at most; older ones are dropped first.
pub const BLOB_REPLIES_MAX: usize = 256;
/// Largest blob [`BlobRequest::Read`] hands to an app in memory.
pub const BLOB_READ_MAX: u64 = 32 << 20;

/// Something an app asks of the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlobRequest {
    /// Add the file at this path.
    AddFile(PathBuf),
    /// Fetch the blob a BlobTicket names from the holder it names.
    FetchTicket(String),
    /// Fetch a blob from people in the world, asked in order.
    FetchFrom {
        /// The blob.
        hash: BlobHash,
        /// A name for it in the list.
        name: String,
        /// Who may hold it.
        holders: Vec<PeerId>,
        /// Keep it (a person's own fetch) or let it make room when storage is full (a
        /// cached picture).
        pin: bool,
    },
    /// Make a ticket for a blob held here (it is served from now on).
    Share(BlobHash),
    /// Make a ticket for a blob held here that only this peer may fetch with (goods for
    /// their buyer), whether or not the blob is served to everyone.
    ShareWith(BlobHash, PeerId),
    /// Keep a blob or let it go when room is needed.
    SetPinned(BlobHash, bool),
    /// Serve a blob to whoever asks, or stop.
    SetServing(BlobHash, bool),
    /// Forget a blob.
    Delete(BlobHash),
    /// Hand over a complete blob's bytes (at most [`BLOB_READ_MAX`]).
    Read(BlobHash),
}

/// The host's answer to one app.
#[derive(Debug, Clone, PartialEq)]
pub enum BlobReply {
    /// A file was added.
    Added(BlobInfo),
    /// A ticket for a shared blob.
    Ticket {
        /// The blob.
        hash: BlobHash,
        /// The BlobTicket text.
        ticket: String,
    },
    /// A fetch finished (its progress shows in [`BlobLibrary::fetching`] meanwhile).
    Fetched(BlobInfo),
    /// A blob's bytes, after [`BlobRequest::Read`].
    Bytes {
        /// The blob.
        hash: BlobHash,
        /// Its bytes.
        bytes: Arc<[u8]>,
    },
    /// A request failed; `error` is one line for the person.
    Failed {
        /// The blob it concerned, when known.
        hash: Option<BlobHash>,
        /// What went wrong.
        error: String,
    },
}

/// One blob as apps see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobInfo {
    /// Its hash.
    pub hash: BlobHash,
    /// Its name.
    pub name: String,
    /// Its size in bytes (0 while unknown).
    pub size: u64,
    /// All bytes here.
    pub complete: bool,
    /// Kept when room is needed.
    pub pinned: bool,
    /// Served to whoever asks.
    pub serving: bool,
    /// Where it came from, in words.
    pub origin: String,
    /// Bytes of it served to others since start.
    pub served: u64,
}

/// A fetch under way.
#[derive(Debug, Clone, PartialEq)]
pub struct FetchStatus {
    /// The blob.
    pub hash: BlobHash,
    /// Its name.
    pub name: String,
    /// Bytes here so far.
    pub done: u64,
    /// Its size (0 until the holder said).
    pub total: u64,
    /// Speed over this fetch so far.
    pub bytes_per_second: f64,
}

/// What the store holds, refreshed by the host after every change.
#[derive(Resource, Debug, Clone, Default)]
pub struct BlobLibrary {
    /// Whether the store opened; if not, why.
    pub problem: Option<String>,
    /// Whether fetching and sharing work now (the client is online).
    pub online: bool,
    /// Every blob, newest first.
    pub blobs: Vec<BlobInfo>,
    /// Bytes used.
    pub used: u64,
    /// The quota in bytes.
    pub quota: u64,
    /// Bytes served per peer since start, largest first.
    pub served_to: Vec<(PeerId, u64)>,
    /// Fetches under way (including ones resumed after a restart).
    pub fetching: Vec<FetchStatus>,
}

impl BlobLibrary {
    /// The blob with this hash, if held.
    pub fn get(&self, hash: BlobHash) -> Option<&BlobInfo> {
        self.blobs.iter().find(|blob| blob.hash == hash)
    }
}

/// Blob requests on their way to the host and replies on their way back.
pub type BlobMail = Mailbox<BlobRequest, BlobReply>;

impl BlobMail {
    /// Hands `reply` to app `app`.
    pub fn reply(&mut self, app: &str, reply: BlobReply) {
        self.reply_within(app, reply, BLOB_REPLIES_MAX);
    }
}

/// App `A`'s door to the person's files. Needs [`Permission::Blobs`].
#[derive(SystemParam)]
pub struct Blobs<'w, A: SanctuaryApp> {
    mail: ResMut<'w, BlobMail>,
    library: Res<'w, BlobLibrary>,
    grants: Res<'w, Grants>,
    app: PhantomData<A>,
}

impl<A: SanctuaryApp> Blobs<'_, A> {
    /// Asks the store for something; the answer comes later from [`replies`](Self::replies).
    pub fn request(&mut self, request: BlobRequest) -> Result<(), CapabilityError> {
        let name = A::MANIFEST.name;
        self.mail
            .ask_granted(name, &Permission::Blobs, &self.grants, request, BLOB_REQUESTS_MAX)
    }

    /// Takes the answers that arrived since the last call, oldest first. Nothing arrives
    /// while the permission is not granted.
    pub fn replies(&mut self) -> Vec<BlobReply> {
        let name = A::MANIFEST.name;
        self.mail
            .take_granted_replies(name, &Permission::Blobs, &self.grants)
    }

    /// What the store holds, if the person lets this app see it.
    pub fn library(&self) -> Result<&BlobLibrary, CapabilityError> {
        self.grants.check(A::MANIFEST.name, &Permission::Blobs)?;
        Ok(&self.library)
    }

    /// Whether the person lets this app use their files.
    pub fn allowed(&self) -> bool {
        self.grants.is_granted(A::MANIFEST.name, &Permission::Blobs)
    }
}
