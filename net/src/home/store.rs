//! The home node's database (redb, one file): profile, devices, friends, grants, items,
//! the items waiting to reach friends' nodes, the inbox and the access log. Every write is
//! one transaction, committed to disk before the node answers, so an answered request
//! survives the node being killed.

use std::path::Path;

use redb::{Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition};
use sanctuary_protocols::PeerId;
use sanctuary_protocols::home::{
    AccessEntry, DeviceView, FriendView, Grant, InboxEntry, ItemBody, ItemId, Profile, SignedItem,
};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::HomeError;

const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
const DEVICES: TableDefinition<&[u8], &[u8]> = TableDefinition::new("devices");
const FRIENDS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("friends");
const GRANTS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("grants");
/// Posts, by item id.
const POSTS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("posts");
/// Comments and likes, by their post's id then their own.
const REPLIES: TableDefinition<&[u8], &[u8]> = TableDefinition::new("replies");
/// Items waiting to reach a friend's node, by the friend then the item.
const OUTBOX: TableDefinition<&[u8], &[u8]> = TableDefinition::new("outbox");
/// Items taken back (by id, with nothing): one that arrives after its deletion (a
/// delivery sent again, a comment passed on late) is not kept again. At most [`GONE_MAX`].
const GONE: TableDefinition<&[u8], ()> = TableDefinition::new("gone");
/// The answers to the changes each device or app sent with a number of its own
/// (`Request::Once`), by the caller: the newest [`MADE_PER_CALLER`] of each.
const MADE: TableDefinition<&[u8], &[u8]> = TableDefinition::new("made");
const INBOX: TableDefinition<u64, &[u8]> = TableDefinition::new("inbox");
const LOG: TableDefinition<u64, &[u8]> = TableDefinition::new("log");

/// Most inbox entries kept (the oldest go).
pub const INBOX_MAX: u64 = 1000;
/// Most access-log entries kept (the oldest go).
pub const LOG_MAX: u64 = 1000;
/// Most deletions remembered; past it, deletions still delete but are not remembered.
pub const GONE_MAX: u64 = 100_000;
/// Most deletions remembered of one author's items, so that one friend cannot use up
/// [`GONE_MAX`] for everyone.
pub const GONE_PER_AUTHOR_MAX: usize = 10_000;
/// Most answers to numbered changes remembered for one caller (a device keeps at most a
/// few hundred changes waiting).
pub const MADE_PER_CALLER: usize = 512;

/// The key of an item: its author's 32 bytes, then its number, big-endian (so one author's
/// items sort by number).
pub(crate) fn item_key(id: ItemId) -> [u8; 40] {
    let mut key = [0; 40];
    key[..32].copy_from_slice(id.author.as_bytes());
    key[32..].copy_from_slice(&id.seq.to_be_bytes());
    key
}

fn pair_key(first: &[u8], second: &[u8]) -> Vec<u8> {
    [first, second].concat()
}

fn db<E: std::fmt::Display>(err: E) -> HomeError {
    HomeError::Database(err.to_string())
}

fn to_bytes<T: Serialize>(value: &T) -> Result<Vec<u8>, HomeError> {
    postcard::to_allocvec(value).map_err(db)
}

fn from_bytes<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, HomeError> {
    postcard::from_bytes(bytes).map_err(db)
}

/// A numbered change this node made, as [`MADE`] keeps it.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Made {
    change: u64,
    /// The hash of the change's bytes: a number sent again with another change is not
    /// taken for the first.
    request_hash: [u8; 32],
    response: Vec<u8>,
}

/// The database.
#[derive(Debug)]
pub(crate) struct HomeStore {
    db: Database,
}

impl HomeStore {
    /// Opens (or creates) the database at `path`, with every table in it.
    pub fn open(path: &Path) -> Result<Self, HomeError> {
        let store = Self {
            db: Database::create(path).map_err(db)?,
        };
        store.write(|tx| {
            tx.open_table(META).map_err(db)?;
            for table in [DEVICES, FRIENDS, GRANTS, POSTS, REPLIES, OUTBOX, MADE] {
                tx.open_table(table).map_err(db)?;
            }
            tx.open_table(GONE).map_err(db)?;
            tx.open_table(INBOX).map_err(db)?;
            tx.open_table(LOG).map_err(db)?;
            Ok(())
        })?;
        Ok(store)
    }

    fn write<T>(
        &self,
        f: impl FnOnce(&redb::WriteTransaction) -> Result<T, HomeError>,
    ) -> Result<T, HomeError> {
        let tx = self.db.begin_write().map_err(db)?;
        let value = f(&tx)?;
        tx.commit().map_err(db)?;
        Ok(value)
    }

    fn read_table<T: DeserializeOwned>(
        &self,
        table: TableDefinition<&[u8], &[u8]>,
    ) -> Result<Vec<T>, HomeError> {
        let tx = self.db.begin_read().map_err(db)?;
        let table = tx.open_table(table).map_err(db)?;
        let mut out = Vec::new();
        for entry in table.iter().map_err(db)? {
            let (_, value) = entry.map_err(db)?;
            out.push(from_bytes(value.value())?);
        }
        Ok(out)
    }

    fn get<T: DeserializeOwned>(
        &self,
        table: TableDefinition<&[u8], &[u8]>,
        key: &[u8],
    ) -> Result<Option<T>, HomeError> {
        let tx = self.db.begin_read().map_err(db)?;
        let table = tx.open_table(table).map_err(db)?;
        let value = table.get(key).map_err(db)?;
        value.map(|value| from_bytes(value.value())).transpose()
    }

    fn put<T: Serialize>(
        &self,
        table: TableDefinition<&[u8], &[u8]>,
        key: &[u8],
        value: &T,
    ) -> Result<(), HomeError> {
        let bytes = to_bytes(value)?;
        self.write(|tx| {
            tx.open_table(table)
                .map_err(db)?
                .insert(key, bytes.as_slice())
                .map_err(db)?;
            Ok(())
        })
    }

    fn remove(&self, table: TableDefinition<&[u8], &[u8]>, key: &[u8]) -> Result<bool, HomeError> {
        self.write(|tx| {
            Ok(tx
                .open_table(table)
                .map_err(db)?
                .remove(key)
                .map_err(db)?
                .is_some())
        })
    }

    /// The person's profile (empty until set).
    pub fn profile(&self) -> Result<Profile, HomeError> {
        let tx = self.db.begin_read().map_err(db)?;
        let table = tx.open_table(META).map_err(db)?;
        let value = table.get("profile").map_err(db)?;
        Ok(value
            .map(|v| from_bytes(v.value()))
            .transpose()?
            .unwrap_or_default())
    }

    /// Replaces the profile.
    pub fn set_profile(&self, profile: &Profile) -> Result<(), HomeError> {
        let bytes = to_bytes(profile)?;
        self.write(|tx| {
            tx.open_table(META)
                .map_err(db)?
                .insert("profile", bytes.as_slice())
                .map_err(db)?;
            Ok(())
        })
    }

    /// The number of the next item: above every number used before, and at least
    /// `now_ms`. Kept on disk before it is handed out.
    pub fn next_seq(&self, now_ms: u64) -> Result<u64, HomeError> {
        self.write(|tx| {
            let mut meta = tx.open_table(META).map_err(db)?;
            let last = match meta.get("seq").map_err(db)? {
                Some(value) => from_bytes::<u64>(value.value())?,
                None => 0,
            };
            let next = now_ms.max(last + 1);
            meta.insert("seq", to_bytes(&next)?.as_slice()).map_err(db)?;
            Ok(next)
        })
    }

    /// The paired devices, revoked ones included.
    pub fn devices(&self) -> Result<Vec<DeviceView>, HomeError> {
        self.read_table(DEVICES)
    }

    /// One device.
    pub fn device(&self, device: PeerId) -> Result<Option<DeviceView>, HomeError> {
        self.get(DEVICES, device.as_bytes())
    }

    /// Adds or changes a device.
    pub fn put_device(&self, device: &DeviceView) -> Result<(), HomeError> {
        self.put(DEVICES, device.device.as_bytes(), device)
    }

    /// Friends and requests.
    pub fn friends(&self) -> Result<Vec<FriendView>, HomeError> {
        self.read_table(FRIENDS)
    }

    /// One friend or request.
    pub fn friend(&self, node: PeerId) -> Result<Option<FriendView>, HomeError> {
        self.get(FRIENDS, node.as_bytes())
    }

    /// Adds or changes a friend or request.
    pub fn put_friend(&self, friend: &FriendView) -> Result<(), HomeError> {
        self.put(FRIENDS, friend.node.as_bytes(), friend)
    }

    /// Forgets a friend or request, and what was waiting to reach them.
    pub fn remove_friend(&self, node: PeerId) -> Result<bool, HomeError> {
        self.write(|tx| {
            let removed = tx
                .open_table(FRIENDS)
                .map_err(db)?
                .remove(node.as_bytes().as_slice())
                .map_err(db)?
                .is_some();
            let mut outbox = tx.open_table(OUTBOX).map_err(db)?;
            outbox
                .retain(|key, _| !key.starts_with(node.as_bytes()))
                .map_err(db)?;
            Ok(removed)
        })
    }

    /// The grants given to apps.
    pub fn grants(&self) -> Result<Vec<Grant>, HomeError> {
        self.read_table(GRANTS)
    }

    /// One app's grant.
    pub fn grant(&self, app: PeerId) -> Result<Option<Grant>, HomeError> {
        self.get(GRANTS, app.as_bytes())
    }

    /// Gives or changes a grant.
    pub fn put_grant(&self, grant: &Grant) -> Result<(), HomeError> {
        self.put(GRANTS, grant.app.as_bytes(), grant)
    }

    /// Ends a grant.
    pub fn remove_grant(&self, app: PeerId) -> Result<bool, HomeError> {
        self.remove(GRANTS, app.as_bytes())
    }

    /// Keeps an item (a post, or a comment or like under its post) and queues it for each
    /// of `to`, in one transaction. A deletion removes its item (a post with its replies)
    /// instead of being kept. Returns whether anything changed here.
    pub fn put_item(&self, item: &SignedItem, to: &[PeerId]) -> Result<bool, HomeError> {
        let bytes = to_bytes(item)?;
        let key = item_key(item.id());
        self.write(|tx| {
            let gone_already = match &item.item.body {
                ItemBody::Delete { .. } => false,
                _ => tx
                    .open_table(GONE)
                    .map_err(db)?
                    .get(key.as_slice())
                    .map_err(db)?
                    .is_some(),
            };
            if gone_already {
                return Ok(false);
            }
            let changed = match &item.item.body {
                ItemBody::Post { .. } => tx
                    .open_table(POSTS)
                    .map_err(db)?
                    .insert(key.as_slice(), bytes.as_slice())
                    .map_err(db)?
                    .is_none(),
                ItemBody::Comment { post, .. } | ItemBody::Like { post } => {
                    let reply = pair_key(&item_key(*post), &key);
                    tx.open_table(REPLIES)
                        .map_err(db)?
                        .insert(reply.as_slice(), bytes.as_slice())
                        .map_err(db)?
                        .is_none()
                }
                ItemBody::Delete { item: gone } => {
                    let gone = item_key(*gone);
                    let mut remembered = tx.open_table(GONE).map_err(db)?;
                    let author = &gone[..32];
                    let of_author = remembered
                        .range(author..)
                        .map_err(db)?
                        .take(GONE_PER_AUTHOR_MAX)
                        .take_while(|entry| {
                            entry
                                .as_ref()
                                .is_ok_and(|(key, _)| key.value().starts_with(author))
                        })
                        .count();
                    if of_author < GONE_PER_AUTHOR_MAX && remembered.len().map_err(db)? < GONE_MAX {
                        remembered.insert(gone.as_slice(), ()).map_err(db)?;
                    }
                    drop(remembered);
                    let post = tx
                        .open_table(POSTS)
                        .map_err(db)?
                        .remove(gone.as_slice())
                        .map_err(db)?
                        .is_some();
                    let mut replies = tx.open_table(REPLIES).map_err(db)?;
                    let before = replies.len().map_err(db)?;
                    replies
                        .retain(|reply, _| !(reply.starts_with(&gone) || reply.ends_with(&gone)))
                        .map_err(db)?;
                    post || replies.len().map_err(db)? != before
                }
            };
            let mut outbox = tx.open_table(OUTBOX).map_err(db)?;
            for friend in to {
                outbox
                    .insert(pair_key(friend.as_bytes(), &key).as_slice(), bytes.as_slice())
                    .map_err(db)?;
            }
            Ok(changed)
        })
    }

    /// A post.
    pub fn post(&self, id: ItemId) -> Result<Option<SignedItem>, HomeError> {
        self.get(POSTS, &item_key(id))
    }

    /// Every post, in no order.
    pub fn posts(&self) -> Result<Vec<SignedItem>, HomeError> {
        self.read_table(POSTS)
    }

    /// Every comment and like, grouped by post.
    pub fn replies(&self) -> Result<Vec<SignedItem>, HomeError> {
        self.read_table(REPLIES)
    }

    /// The comments and likes under one post, in key order.
    pub fn replies_to(&self, post: ItemId) -> Result<Vec<SignedItem>, HomeError> {
        let prefix = item_key(post);
        let tx = self.db.begin_read().map_err(db)?;
        let table = tx.open_table(REPLIES).map_err(db)?;
        let mut out = Vec::new();
        for entry in table.range(prefix.as_slice()..).map_err(db)? {
            let (key, value) = entry.map_err(db)?;
            if !key.value().starts_with(&prefix) {
                break;
            }
            out.push(from_bytes(value.value())?);
        }
        Ok(out)
    }

    /// Up to `limit` items waiting to reach `node`, in key order.
    pub fn outbox_for(&self, node: PeerId, limit: usize) -> Result<Vec<SignedItem>, HomeError> {
        let tx = self.db.begin_read().map_err(db)?;
        let table = tx.open_table(OUTBOX).map_err(db)?;
        let mut out = Vec::new();
        for entry in table.range(node.as_bytes().as_slice()..).map_err(db)? {
            let (key, value) = entry.map_err(db)?;
            if !key.value().starts_with(node.as_bytes()) || out.len() >= limit {
                break;
            }
            out.push(from_bytes(value.value())?);
        }
        Ok(out)
    }

    /// Whether an item is held here (a post, or a comment or like under its post), or
    /// was taken back.
    pub fn holds(&self, item: &SignedItem) -> Result<bool, HomeError> {
        let key = item_key(item.id());
        if !matches!(item.item.body, ItemBody::Delete { .. }) {
            let tx = self.db.begin_read().map_err(db)?;
            let gone = tx.open_table(GONE).map_err(db)?;
            if gone.get(key.as_slice()).map_err(db)?.is_some() {
                return Ok(true);
            }
        }
        let found = match &item.item.body {
            ItemBody::Post { .. } => self.get::<SignedItem>(POSTS, &key)?,
            ItemBody::Comment { post, .. } | ItemBody::Like { post } => {
                self.get::<SignedItem>(REPLIES, &pair_key(&item_key(*post), &key))?
            }
            ItemBody::Delete { .. } => None,
        };
        Ok(found.is_some())
    }

    /// How many items wait for each friend.
    pub fn waiting(&self, node: PeerId) -> Result<u32, HomeError> {
        let tx = self.db.begin_read().map_err(db)?;
        let table = tx.open_table(OUTBOX).map_err(db)?;
        let mut count = 0;
        for entry in table.range(node.as_bytes().as_slice()..).map_err(db)? {
            let (key, _) = entry.map_err(db)?;
            if !key.value().starts_with(node.as_bytes()) {
                break;
            }
            count += 1;
        }
        Ok(count)
    }

    /// Items waiting in all.
    pub fn outbox_len(&self) -> Result<u64, HomeError> {
        let tx = self.db.begin_read().map_err(db)?;
        tx.open_table(OUTBOX).map_err(db)?.len().map_err(db)
    }

    /// `item` reached `node` (or never will).
    pub fn delivered(&self, node: PeerId, item: ItemId) -> Result<(), HomeError> {
        self.remove(OUTBOX, &pair_key(node.as_bytes(), &item_key(item)))
            .map(|_| ())
    }

    fn push_bounded<T: Serialize>(
        &self,
        table: TableDefinition<u64, &[u8]>,
        max: u64,
        value: &T,
    ) -> Result<(), HomeError> {
        let bytes = to_bytes(value)?;
        self.write(|tx| {
            let mut table = tx.open_table(table).map_err(db)?;
            let next = table.last().map_err(db)?.map_or(0, |(key, _)| key.value() + 1);
            table.insert(next, bytes.as_slice()).map_err(db)?;
            while table.len().map_err(db)? > max {
                table.pop_first().map_err(db)?;
            }
            Ok(())
        })
    }

    fn newest<T: DeserializeOwned>(
        &self,
        table: TableDefinition<u64, &[u8]>,
        limit: usize,
    ) -> Result<Vec<T>, HomeError> {
        let tx = self.db.begin_read().map_err(db)?;
        let table = tx.open_table(table).map_err(db)?;
        let mut out = Vec::new();
        for entry in table.iter().map_err(db)?.rev().take(limit) {
            let (_, value) = entry.map_err(db)?;
            out.push(from_bytes(value.value())?);
        }
        Ok(out)
    }

    /// Adds an inbox entry, dropping the oldest past [`INBOX_MAX`].
    pub fn tell(&self, entry: &InboxEntry) -> Result<(), HomeError> {
        self.push_bounded(INBOX, INBOX_MAX, entry)
    }

    /// The newest inbox entries.
    pub fn inbox(&self, limit: usize) -> Result<Vec<InboxEntry>, HomeError> {
        self.newest(INBOX, limit)
    }

    /// Adds an access-log entry, dropping the oldest past [`LOG_MAX`].
    pub fn log(&self, entry: &AccessEntry) -> Result<(), HomeError> {
        self.push_bounded(LOG, LOG_MAX, entry)
    }

    /// The newest access-log entries.
    pub fn access_log(&self, limit: usize) -> Result<Vec<AccessEntry>, HomeError> {
        self.newest(LOG, limit)
    }

    /// What this node made of `caller`'s change numbered `change`, if it made one: the
    /// hash of that change's bytes and the answer it gave (encoded).
    pub fn made(&self, caller: PeerId, change: u64) -> Result<Option<([u8; 32], Vec<u8>)>, HomeError> {
        let made: Vec<Made> = self.get(MADE, caller.as_bytes())?.unwrap_or_default();
        Ok(made
            .into_iter()
            .find(|made| made.change == change)
            .map(|made| (made.request_hash, made.response)))
    }

    /// Remembers `response`, the answer to `caller`'s change numbered `change` whose bytes
    /// hash to `request_hash` (the oldest answers of the caller past [`MADE_PER_CALLER`]
    /// are forgotten).
    pub fn remember_made(
        &self,
        caller: PeerId,
        change: u64,
        request_hash: [u8; 32],
        response: &[u8],
    ) -> Result<(), HomeError> {
        self.write(|tx| {
            let mut table = tx.open_table(MADE).map_err(db)?;
            let mut made: Vec<Made> = match table.get(caller.as_bytes().as_slice()).map_err(db)? {
                Some(value) => from_bytes(value.value())?,
                None => Vec::new(),
            };
            made.retain(|made| made.change != change);
            made.push(Made {
                change,
                request_hash,
                response: response.to_vec(),
            });
            let over = made.len().saturating_sub(MADE_PER_CALLER);
            made.drain(..over);
            table
                .insert(caller.as_bytes().as_slice(), to_bytes(&made)?.as_slice())
                .map_err(db)?;
            Ok(())
        })
    }

    /// Forgets the answers to `caller`'s numbered changes (a device or app let go).
    pub fn forget_made(&self, caller: PeerId) -> Result<(), HomeError> {
        self.remove(MADE, caller.as_bytes()).map(|_| ())
    }

    /// Empties every table.
    pub fn wipe(&self) -> Result<(), HomeError> {
        self.write(|tx| {
            // Item numbers are never used twice, even after a wipe.
            tx.open_table(META)
                .map_err(db)?
                .retain(|key, _| key == "seq")
                .map_err(db)?;
            for table in [DEVICES, FRIENDS, GRANTS, POSTS, REPLIES, OUTBOX, MADE] {
                tx.open_table(table)
                    .map_err(db)?
                    .retain(|_, _| false)
                    .map_err(db)?;
            }
            tx.open_table(INBOX)
                .map_err(db)?
                .retain(|_, _| false)
                .map_err(db)?;
            tx.open_table(LOG).map_err(db)?.retain(|_, _| false).map_err(db)?;
            tx.open_table(GONE)
                .map_err(db)?
                .retain(|_, _| false)
                .map_err(db)?;
            Ok(())
        })
    }
}
