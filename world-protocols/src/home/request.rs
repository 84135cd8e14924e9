//! Requests to a home node and its responses, with the views they carry.
//!
//! Each is a version byte ([`HOME_VERSION`]) and postcard. A node reads at most
//! [`request_max`] bytes for the caller's [`Role`] (a stranger cannot make it read
//! megabytes), and a caller reads at most [`RESPONSE_MAX`].

use serde::{Deserialize, Serialize};

use super::address::HomeAddress;
use super::item::{Audience, ItemId, SignedItem};
use crate::blob::BlobHash;
use crate::identity::PeerId;

/// The first byte of every request and response.
pub const HOME_VERSION: u8 = 0;
/// Largest request from anyone but the owner's devices: a friend's item with its
/// signature, a friend request.
pub const REQUEST_MAX: usize = 16 * 1024;
/// Largest request from the owner's devices and apps: a post with its pictures, a file,
/// an import.
pub const OWNER_REQUEST_MAX: usize = 64 * 1024 * 1024;
/// Largest response a caller reads: a wall page, a file, an export.
pub const RESPONSE_MAX: usize = 64 * 1024 * 1024;
/// Largest file one request adds (a picture on a post, a file in the person's files).
pub const UPLOAD_MAX: usize = 16 * 1024 * 1024;
/// Longest name, bio, device name or payment address, in bytes.
pub const NAME_MAX: usize = 64;
/// Longest bio, in bytes.
pub const BIO_MAX: usize = 1000;

/// The most bytes a node reads of one request from a caller in `role`.
pub fn request_max(role: Role) -> usize {
    match role {
        Role::Owner | Role::App => OWNER_REQUEST_MAX,
        Role::Friend | Role::Stranger => REQUEST_MAX,
    }
}

/// Who the caller is to the node, from the key that opened the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Role {
    /// One of the owner's paired devices (not revoked).
    Owner,
    /// A friend's node.
    Friend,
    /// An app with a grant that has not ended.
    App,
    /// Anyone else.
    Stranger,
}

/// Which of the person's data an app may touch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Scope {
    /// The wall: the person's posts and their friends'.
    Wall,
    /// Contacts: friends and requests.
    Contacts,
    /// Files.
    Files,
    /// The inbox.
    Inbox,
}

/// How an app may touch a [`Scope`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Access {
    /// See it.
    Read,
    /// Add to it (post, add a file), not change or remove what is there.
    Append,
    /// Add, change and remove (implies append).
    Write,
}

impl Access {
    /// Whether holding `self` allows `wanted`.
    pub fn allows(self, wanted: Access) -> bool {
        self == wanted || (self == Access::Write && wanted == Access::Append)
    }
}

/// What a person let an app do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    /// The app's key.
    pub app: PeerId,
    /// The app's name, as the person knows it.
    pub name: String,
    /// What it may touch, and how.
    pub allowed: Vec<(Scope, Access)>,
    /// Until when, in Unix milliseconds.
    pub until_ms: u64,
}

impl Grant {
    /// Whether the grant allows `access` to `scope` at `now_ms`.
    pub fn allows(&self, scope: Scope, access: Access, now_ms: u64) -> bool {
        now_ms < self.until_ms && self.allowed.iter().any(|&(s, a)| s == scope && a.allows(access))
    }
}

/// A person's profile.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profile {
    /// Their name.
    pub name: String,
    /// A few words about them.
    pub bio: String,
    /// Their picture, a file on their node.
    pub picture: Option<BlobHash>,
    /// Where to pay them (a wallet address), if they publish one.
    pub pay_address: Option<String>,
}

/// A file sent with a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Upload {
    /// Its name.
    pub name: String,
    /// Its bytes, at most [`UPLOAD_MAX`].
    pub bytes: Vec<u8>,
}

/// One request to a home node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Request {
    /// Who are you, and who am I to you? (anyone)
    Hello,
    /// Pair this device with the node, with the code the node shows. (anyone)
    Pair {
        /// The code.
        code: String,
        /// What the person calls this device.
        device_name: String,
    },
    /// A node asks this one's person for friendship. (anyone: the caller is the node)
    FriendRequest {
        /// The asking person's name.
        name: String,
        /// How to reach the asking node.
        address: HomeAddress,
    },
    /// A node whose person this one asked says yes. (a node this one asked)
    FriendAccepted {
        /// The person's name.
        name: String,
        /// How to reach their node.
        address: HomeAddress,
    },
    /// An item for this node: a friend's post, or a comment or like on one of this
    /// person's posts, or a comment or like a friend's node passes on for its own post.
    /// (friends)
    Deliver(SignedItem),
    /// The calling node's person ends the friendship. (friends)
    Unfriend,
    /// The person's profile. (owner; apps with contacts read)
    GetProfile,
    /// Changes the person's profile. (owner)
    SetProfile(Profile),
    /// Posts on the person's wall. (owner; apps with wall append)
    Post {
        /// Its text.
        text: String,
        /// Who it is for.
        audience: Audience,
        /// Its pictures.
        pictures: Vec<Upload>,
    },
    /// Comments on a post, the person's or a friend's. (owner; apps with wall append)
    Comment {
        /// The post.
        post: ItemId,
        /// What it says.
        text: String,
    },
    /// Likes a post. (owner; apps with wall append)
    Like {
        /// The post.
        post: ItemId,
    },
    /// Takes back one of the person's items, here and at every friend's node. (owner;
    /// apps with wall write)
    Delete {
        /// The item.
        item: ItemId,
    },
    /// The newest posts of the person and their friends. (owner; apps with wall read)
    Wall {
        /// At most this many.
        limit: u32,
    },
    /// Friends and requests. (owner; apps with contacts read)
    Friends,
    /// Asks the person at `address` for friendship. (owner)
    AddFriend {
        /// Their node.
        address: HomeAddress,
    },
    /// Accepts a friend request. (owner)
    AcceptFriend {
        /// The asking node.
        node: PeerId,
    },
    /// Ends a friendship or turns a request down. (owner)
    RemoveFriend {
        /// The friend's node.
        node: PeerId,
    },
    /// Puts a friend in a group (a post can be for one group). (owner)
    SetGroup {
        /// The friend's node.
        node: PeerId,
        /// The group, or none.
        group: Option<String>,
    },
    /// The newest inbox entries. (owner; apps with inbox read)
    Inbox {
        /// At most this many.
        limit: u32,
    },
    /// The person's files. (owner; apps with files read)
    Files,
    /// Adds a file. (owner; apps with files append)
    AddFile(Upload),
    /// A file's bytes. (owner; apps with files read)
    ReadFile {
        /// The file.
        hash: BlobHash,
    },
    /// The paired devices. (owner)
    Devices,
    /// Unpairs a device: it is refused from then on. (owner)
    RevokeDevice {
        /// The device's key.
        device: PeerId,
    },
    /// A new pairing code, for another device. (owner)
    NewPairingCode,
    /// The grants given to apps. (owner)
    Grants,
    /// Lets an app in, or changes what it may do. (owner)
    Grant(Grant),
    /// Ends an app's grant: it is refused from then on. (owner)
    Revoke {
        /// The app's key.
        app: PeerId,
    },
    /// What apps asked for, newest first. (owner)
    AccessLog {
        /// At most this many.
        limit: u32,
    },
    /// Counts of what the node holds and refused. (owner)
    Status,
    /// Everything the node holds but file bytes, as JSON. (owner)
    Export,
    /// Takes in what an export holds (JSON; files come with [`Request::AddFile`]). (owner)
    Import {
        /// The export's JSON.
        json: String,
    },
    /// Deletes everything for good: asks friends' nodes to delete this person's items,
    /// then removes the data and files from this node. (owner; names the node to confirm)
    DeleteEverything {
        /// This node's key, to confirm.
        node: PeerId,
    },
    /// A change with the number its device picked for it ([`Request::once`]): a node that
    /// made this caller's change with that number already answers as it did then instead
    /// of making it again, so a device that lost an answer may send the change again.
    /// (as the change itself)
    Once {
        /// The device's number for the change, never used twice by it.
        change: u64,
        /// When the person made the change (Unix milliseconds): a post written while the
        /// node was away is dated then, not when it reached the node.
        written_ms: u64,
        /// The change, encoded ([`Request::encode`]): bytes, so that requests never nest.
        request: Vec<u8>,
    },
}

/// What a [`Request::Once`] says of its change besides the change itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChangeMark {
    /// The device's number for it.
    pub change: u64,
    /// When the person made it (Unix milliseconds).
    pub written_ms: u64,
}

impl ChangeMark {
    /// The mark of a change made at `written_ms`, with a random number (64 random bits:
    /// no two of a device's changes share one, whatever its clock does).
    pub fn random(written_ms: u64) -> Result<Self, getrandom::Error> {
        let mut bytes = [0u8; 8];
        getrandom::fill(&mut bytes)?;
        Ok(Self {
            change: u64::from_le_bytes(bytes),
            written_ms,
        })
    }
}

/// Why a node refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Refusal {
    /// The caller may not ask this (not the owner, not a friend, not granted).
    NotAllowed,
    /// The pairing code is wrong or has expired.
    BadCode,
    /// The request does not decode, or breaks a rule.
    Malformed,
    /// Over a size limit.
    TooLarge,
    /// Over a count or rate limit.
    TooMany,
    /// An item not signed by its author, or not by the node that sent it.
    Forged,
    /// No such thing here.
    NotFound,
    /// The node could not do it (its disk, its store).
    Failed,
}

/// A post on the wall, with what was said about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WallPost {
    /// The post.
    pub post: SignedItem,
    /// Its comments, oldest first.
    pub comments: Vec<SignedItem>,
    /// Who liked it.
    pub likes: Vec<PeerId>,
    /// For each picture, whether this node holds its bytes yet.
    pub pictures_held: Vec<bool>,
}

/// Where a friendship stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum FriendState {
    /// Friends.
    Friends,
    /// This person asked; the other has not answered.
    Asked,
    /// The other person asked; this one has not answered.
    AskedUs,
}

/// A friend or a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FriendView {
    /// Their node's key.
    pub node: PeerId,
    /// Their name, as they gave it.
    pub name: String,
    /// How to reach their node.
    pub address: HomeAddress,
    /// Where it stands.
    pub state: FriendState,
    /// Their group, if any.
    pub group: Option<String>,
    /// Items waiting to reach their node.
    pub waiting: u32,
}

/// One inbox entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InboxEntry {
    /// When, in Unix milliseconds.
    pub at_ms: u64,
    /// Whose doing, if someone's.
    pub from: Option<PeerId>,
    /// What happened, in words.
    pub text: String,
}

/// A file the node holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileView {
    /// Its hash.
    pub hash: BlobHash,
    /// Its name.
    pub name: String,
    /// Its size in bytes.
    pub size: u64,
    /// Whether all of it is here.
    pub complete: bool,
}

/// A paired device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceView {
    /// Its key.
    pub device: PeerId,
    /// Its name.
    pub name: String,
    /// When it was paired, in Unix milliseconds.
    pub paired_ms: u64,
    /// When it was revoked, if it was.
    pub revoked_ms: Option<u64>,
}

/// One app request, allowed or not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessEntry {
    /// When, in Unix milliseconds.
    pub at_ms: u64,
    /// The app's key.
    pub app: PeerId,
    /// What it asked, in words.
    pub what: String,
    /// Whether it was let.
    pub allowed: bool,
}

/// What a node holds and what it refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeStatus {
    /// The node's key.
    pub node: PeerId,
    /// The person's posts, comments and likes.
    pub own_items: u64,
    /// Friends' items held.
    pub friends_items: u64,
    /// Friends (not requests).
    pub friends: u32,
    /// Items waiting to reach friends' nodes.
    pub outbox: u64,
    /// Requests refused since the node started, by why.
    pub refused: Vec<(Refusal, u64)>,
}

/// One response from a home node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Response {
    /// Done.
    Done,
    /// The node and who the caller is to it.
    Hello {
        /// The node's key.
        node: PeerId,
        /// Its person's name.
        name: String,
        /// The caller's role.
        you: Role,
    },
    /// The device is paired.
    Paired {
        /// The node's key.
        node: PeerId,
        /// Its person's name.
        name: String,
    },
    /// A profile.
    Profile(Profile),
    /// The item made.
    Posted(ItemId),
    /// Wall posts, newest first.
    Wall(Vec<WallPost>),
    /// Friends and requests.
    Friends(Vec<FriendView>),
    /// Inbox entries, newest first.
    Inbox(Vec<InboxEntry>),
    /// Files.
    Files(Vec<FileView>),
    /// A file added.
    FileAdded(FileView),
    /// A file's bytes.
    File(Vec<u8>),
    /// Devices.
    Devices(Vec<DeviceView>),
    /// A pairing code and when it stops working.
    PairingCode {
        /// The code.
        code: String,
        /// Its end, in Unix milliseconds.
        until_ms: u64,
    },
    /// Grants.
    Grants(Vec<Grant>),
    /// App requests, newest first.
    AccessLog(Vec<AccessEntry>),
    /// The node's counts.
    Status(NodeStatus),
    /// An export.
    Export(String),
    /// Refused.
    Refused {
        /// Why, as a kind.
        reason: Refusal,
        /// Why, in words.
        detail: String,
    },
}

/// Why bytes are not a request or response.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HomeDecodeError {
    /// Longer than allowed.
    #[error("{len} bytes, over the limit of {max}")]
    TooLarge {
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// Another version, or none.
    #[error("unsupported home protocol version")]
    Version,
    /// Not what it should be.
    #[error("malformed")]
    Malformed,
}

fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    // Serializing plain data into a Vec cannot fail.
    postcard::to_extend(value, vec![HOME_VERSION]).unwrap_or_default()
}

fn decode<T: for<'de> Deserialize<'de>>(bytes: &[u8], max: usize) -> Result<T, HomeDecodeError> {
    if bytes.len() > max {
        return Err(HomeDecodeError::TooLarge {
            len: bytes.len(),
            max,
        });
    }
    let Some((&HOME_VERSION, rest)) = bytes.split_first() else {
        return Err(HomeDecodeError::Version);
    };
    match postcard::take_from_bytes::<T>(rest) {
        Ok((value, [])) => Ok(value),
        _ => Err(HomeDecodeError::Malformed),
    }
}

impl Request {
    /// The request's bytes.
    pub fn encode(&self) -> Vec<u8> {
        encode(self)
    }

    /// Whether the request changes the person's data (their profile, wall, friends or
    /// files), as opposed to reading it or managing the node: what a device may make while
    /// its node is away, and send [`Request::once`].
    pub fn changes_data(&self) -> bool {
        matches!(
            self,
            Self::SetProfile(_)
                | Self::Post { .. }
                | Self::Comment { .. }
                | Self::Like { .. }
                | Self::Delete { .. }
                | Self::AddFriend { .. }
                | Self::AcceptFriend { .. }
                | Self::RemoveFriend { .. }
                | Self::SetGroup { .. }
                | Self::AddFile(_)
        )
    }

    /// `change` sent with its mark: the device's number for it and when it was made (see
    /// [`Request::Once`]).
    pub fn once(mark: ChangeMark, change: &Request) -> Self {
        Self::Once {
            change: mark.change,
            written_ms: mark.written_ms,
            request: change.encode(),
        }
    }

    /// The mark and the change a [`Request::Once`] carries (a change of at most `max`
    /// bytes, which is not itself sent once); any other request comes back as it is,
    /// with no mark.
    pub fn open_once(self, max: usize) -> Result<(Option<ChangeMark>, Request), HomeDecodeError> {
        let Self::Once {
            change,
            written_ms,
            request,
        } = self
        else {
            return Ok((None, self));
        };
        match Self::decode(&request, max)? {
            inner if inner.changes_data() => Ok((Some(ChangeMark { change, written_ms }), inner)),
            _ => Err(HomeDecodeError::Malformed),
        }
    }

    /// Reads a request of at most `max` bytes from exactly `bytes`.
    pub fn decode(bytes: &[u8], max: usize) -> Result<Self, HomeDecodeError> {
        decode(bytes, max)
    }
}

impl Response {
    /// The response's bytes.
    pub fn encode(&self) -> Vec<u8> {
        encode(self)
    }

    /// Reads a response from exactly `bytes`.
    pub fn decode(bytes: &[u8]) -> Result<Self, HomeDecodeError> {
        decode(bytes, RESPONSE_MAX)
    }

    /// A refusal with its reason in words.
    pub fn refused(reason: Refusal, detail: impl Into<String>) -> Self {
        Self::Refused {
            reason,
            detail: detail.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_round_trip_and_bad_bytes_are_refused() {
        let request = Request::Wall { limit: 20 };
        let bytes = request.encode();
        assert_eq!(Request::decode(&bytes, REQUEST_MAX), Ok(request));
        assert_eq!(Request::decode(&[], REQUEST_MAX), Err(HomeDecodeError::Version));
        assert_eq!(
            Request::decode(&[9, 0], REQUEST_MAX),
            Err(HomeDecodeError::Version)
        );
        let mut trailing = bytes.clone();
        trailing.push(0);
        assert_eq!(
            Request::decode(&trailing, REQUEST_MAX),
            Err(HomeDecodeError::Malformed)
        );
        let big = Request::AddFile(Upload {
            name: "a".into(),
            bytes: vec![0; REQUEST_MAX],
        })
        .encode();
        assert!(matches!(
            Request::decode(&big, REQUEST_MAX),
            Err(HomeDecodeError::TooLarge { .. })
        ));
        assert!(Request::decode(&big, OWNER_REQUEST_MAX).is_ok());
    }

    #[test]
    fn a_change_sent_once_opens_to_its_number_and_change_and_nothing_else_is_sent_once() {
        let post = Request::Post {
            text: "hello".into(),
            audience: Audience::Friends,
            pictures: Vec::new(),
        };
        let mark = |change| ChangeMark {
            change,
            written_ms: 1_700_000_000_000,
        };
        let once = Request::once(mark(7), &post);
        let bytes = once.encode();
        let read = Request::decode(&bytes, REQUEST_MAX).unwrap();
        assert_eq!(read.open_once(REQUEST_MAX), Ok((Some(mark(7)), post.clone())));
        assert_eq!(post.clone().open_once(REQUEST_MAX), Ok((None, post.clone())));
        // Only changes are sent once, and never inside each other.
        let read_once = Request::once(mark(8), &Request::Wall { limit: 5 });
        assert_eq!(read_once.open_once(REQUEST_MAX), Err(HomeDecodeError::Malformed));
        let nested = Request::once(mark(9), &once);
        assert_eq!(nested.open_once(REQUEST_MAX), Err(HomeDecodeError::Malformed));
        let garbage = Request::Once {
            change: 1,
            written_ms: 0,
            request: vec![HOME_VERSION, 250, 3],
        };
        assert_eq!(garbage.open_once(REQUEST_MAX), Err(HomeDecodeError::Malformed));
        // The change inside counts against the same limit.
        let big = Request::once(
            mark(2),
            &Request::AddFile(Upload {
                name: "a".into(),
                bytes: vec![0; REQUEST_MAX],
            }),
        );
        assert!(matches!(
            big.open_once(REQUEST_MAX),
            Err(HomeDecodeError::TooLarge { .. })
        ));
    }

    #[test]
    fn write_access_implies_append_but_not_read_and_grants_end() {
        let grant = Grant {
            app: crate::identity::Keypair::from_bytes(&[4; 32]).peer_id(),
            name: "now playing".into(),
            allowed: vec![(Scope::Wall, Access::Write)],
            until_ms: 1_000,
        };
        assert!(grant.allows(Scope::Wall, Access::Append, 999));
        assert!(!grant.allows(Scope::Wall, Access::Read, 999));
        assert!(!grant.allows(Scope::Files, Access::Append, 999));
        assert!(!grant.allows(Scope::Wall, Access::Append, 1_000));
    }
}
