//! The home node's side: who the caller is, what it may ask, and what each request does.
//! The requests' work is split by subject: [`people`] (pairing, friends), [`items`]
//! (posts, comments, likes, the wall), [`data`] (export, import, deleting everything) and
//! [`delivery`] (the outbox).

mod data;
mod delivery;
mod items;
mod people;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use iroh::Endpoint;
use iroh::endpoint::{Connection, ReadToEndError};
use sanctuary_protocols::home::request::{BIO_MAX, NAME_MAX, UPLOAD_MAX};
use sanctuary_protocols::home::{
    Access, AccessEntry, Audience, ChangeMark, DeviceView, FileView, FriendState, FriendView, Grant,
    HomeAddress, InboxEntry, Item, ItemBody, ItemError, ItemId, NodeStatus, PICTURES_MAX, Picture, Profile,
    Refusal, Request, Response, Role, Scope, SignedItem, Upload, WallPost, request_max,
};
use sanctuary_protocols::{BlobHash, Keypair, PeerId, RateLimiter};
use serde::{Deserialize, Serialize};
use tokio::sync::{Notify, Semaphore, broadcast};

use super::HomeError;
use super::client::{HomeConnection, endpoint_addr, home_address};
use super::store::HomeStore;
use crate::node::{peer_id, unix_ms};
use crate::storage::{FetchRequest, Storage};

/// How long a pairing code works.
pub const PAIRING_CODE_LIFETIME: Duration = Duration::from_secs(10 * 60);
/// Wrong tries after which a pairing code stops working.
const PAIRING_TRIES_MAX: u32 = 5;
/// Most friend requests waiting for the person's answer; more are refused.
pub const PENDING_REQUESTS_MAX: usize = 100;
/// How long a request may take to arrive in full.
const READ_TIMEOUT: Duration = Duration::from_secs(60);
/// Most outbox items sent to one friend's node per delivery round.
const DELIVERY_BATCH: usize = 2000;
/// Most friends' nodes delivered to at once.
const DELIVERY_PARALLEL: usize = 32;
/// How often the outbox is looked at when nothing wakes it.
const DELIVERY_TICK: Duration = Duration::from_secs(1);
/// The first wait before a node that did not answer is tried again; it doubles up to
/// [`RETRY_MAX`].
const RETRY_FIRST: Duration = Duration::from_secs(2);
const RETRY_MAX: Duration = Duration::from_secs(300);
/// Most posts, inbox entries or log entries in one answer.
const PAGE_MAX: u32 = 500;
/// Requests a second from callers who are not the owner's devices, all of them together.
const OTHERS_RATE: u32 = 200;
/// Requests a second from one stranger or one app (who also share [`OTHERS_RATE`]).
const CALLER_RATE: u32 = 20;
/// Requests a second from one friend's node, which has its own budget, outside the one
/// strangers and apps share: they cannot spend what friends need.
const FRIEND_RATE: u32 = 500;
/// Most callers whose rate is kept; past it, those with a full budget (quiet lately) are
/// forgotten first.
const CALLERS_MAX: usize = 1024;
/// How far back a change made while the node was away may be dated; one made earlier is
/// dated when it arrives.
const WRITTEN_PAST_MAX: u64 = 30 * 24 * 3600 * 1000;
/// Longest payment address in a profile.
const PAY_ADDRESS_MAX: usize = 128;

/// Something that happened on the node, for its log (`sanctuary-node serve` prints them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HomeEvent {
    /// A device was paired.
    Paired {
        /// Its key.
        device: PeerId,
        /// Its name.
        name: String,
        /// The check the device shows too ([`pairing_check`]).
        check: String,
    },
    /// Someone asked for friendship.
    FriendRequest {
        /// Their node.
        node: PeerId,
        /// Their name.
        name: String,
    },
    /// A friendship began.
    Friends {
        /// Their node.
        node: PeerId,
        /// Their name.
        name: String,
    },
    /// An item arrived from a friend's node.
    Received {
        /// The item.
        item: ItemId,
        /// The node it came from.
        from: PeerId,
    },
    /// An item reached a friend's node.
    Delivered {
        /// The item.
        item: ItemId,
        /// The node.
        to: PeerId,
    },
    /// A request was refused.
    Refused {
        /// Who asked.
        from: PeerId,
        /// Why.
        reason: Refusal,
        /// Why, in words.
        detail: String,
    },
}

impl fmt::Display for HomeEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Paired { device, name, check } => write!(f, "paired: {device} {name:?} check {check}"),
            Self::FriendRequest { node, name } => write!(f, "friend-request: {node} {name:?}"),
            Self::Friends { node, name } => write!(f, "friends: {node} {name:?}"),
            Self::Received { item, from } => write!(f, "received: {item} from {from}"),
            Self::Delivered { item, to } => write!(f, "delivered: {item} to {to}"),
            Self::Refused { from, reason, detail } => write!(f, "refused: {reason:?} from {from}: {detail}"),
        }
    }
}

/// Everything a node holds but file bytes, as an export writes it (JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HomeExport {
    /// The node it came from.
    pub node: PeerId,
    /// The profile.
    pub profile: Profile,
    /// Friends and requests.
    pub friends: Vec<FriendView>,
    /// Grants to apps.
    pub grants: Vec<Grant>,
    /// Posts, comments and likes, the person's and their friends'.
    pub items: Vec<SignedItem>,
    /// The inbox, newest first.
    pub inbox: Vec<InboxEntry>,
    /// The files (their bytes travel beside the JSON).
    pub files: Vec<FileView>,
}

/// A check both sides of a pairing show, so the person can see that the device paired
/// with their node and not another: six digits from both keys.
pub fn pairing_check(node: PeerId, device: PeerId) -> String {
    let hash = blake3::hash(&[node.as_bytes().as_slice(), device.as_bytes()].concat());
    let number =
        u32::from_le_bytes([hash.as_bytes()[0], hash.as_bytes()[1], hash.as_bytes()[2], 0]) % 1_000_000;
    format!("{:03}-{:03}", number / 1000, number % 1000)
}

/// The current pairing code.
#[derive(Debug)]
struct PairingCode {
    code: String,
    until: Instant,
    tries: u32,
}

/// A numbered change being made: while it lives, the same caller's change with the same
/// number is not made again (it was sent again before the first answer came).
struct Making<'a> {
    set: &'a Mutex<HashSet<(PeerId, u64)>>,
    key: (PeerId, u64),
}

impl<'a> Making<'a> {
    /// Marks `caller`'s change `change` as being made; `None` if it is already.
    fn start(set: &'a Mutex<HashSet<(PeerId, u64)>>, caller: PeerId, change: u64) -> Option<Self> {
        let key = (caller, change);
        set.lock().ok()?.insert(key).then_some(Self { set, key })
    }
}

impl Drop for Making<'_> {
    fn drop(&mut self) {
        if let Ok(mut set) = self.set.lock() {
            set.remove(&self.key);
        }
    }
}

/// A refusal on its way out of a request's handling.
struct Refused(Refusal, String);

impl From<HomeError> for Refused {
    fn from(err: HomeError) -> Self {
        Self(Refusal::Failed, err.to_string())
    }
}

impl From<ItemError> for Refused {
    fn from(err: ItemError) -> Self {
        match err {
            ItemError::Forged => Self(Refusal::Forged, err.to_string()),
            ItemError::TooLong { .. } | ItemError::TooManyPictures(_) => {
                Self(Refusal::TooLarge, err.to_string())
            }
            _ => Self(Refusal::Malformed, err.to_string()),
        }
    }
}

fn refuse<T>(reason: Refusal, detail: impl Into<String>) -> Result<T, Refused> {
    Err(Refused(reason, detail.into()))
}

/// What a request needs of its caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Need {
    Anyone,
    Friend,
    Data(Scope, Access),
    Owner,
}

fn need(request: &Request) -> Need {
    use Request::*;
    match request {
        Hello | Pair { .. } | FriendRequest { .. } | FriendAccepted { .. } => Need::Anyone,
        Deliver(_) | Unfriend => Need::Friend,
        GetProfile | Friends => Need::Data(Scope::Contacts, Access::Read),
        Post { .. } | Comment { .. } | Like { .. } => Need::Data(Scope::Wall, Access::Append),
        Delete { .. } => Need::Data(Scope::Wall, Access::Write),
        Wall { .. } => Need::Data(Scope::Wall, Access::Read),
        Inbox { .. } => Need::Data(Scope::Inbox, Access::Read),
        Files | ReadFile { .. } => Need::Data(Scope::Files, Access::Read),
        AddFile(_) => Need::Data(Scope::Files, Access::Append),
        SetProfile(_)
        | AddFriend { .. }
        | AcceptFriend { .. }
        | RemoveFriend { .. }
        | SetGroup { .. }
        | Devices
        | RevokeDevice { .. }
        | NewPairingCode
        | Grants
        | Grant(_)
        | Revoke { .. }
        | AccessLog { .. }
        | Status
        | Export
        | Import { .. }
        | DeleteEverything { .. } => Need::Owner,
        // Opened before it is handled ([`Home::answer`]); never handled as it is.
        Once { .. } => Need::Owner,
    }
}

/// A request's name, for the access log (never its contents, which may be megabytes).
fn request_name(request: &Request) -> &'static str {
    use Request::*;
    match request {
        Hello => "Hello",
        Pair { .. } => "Pair",
        FriendRequest { .. } => "FriendRequest",
        FriendAccepted { .. } => "FriendAccepted",
        Deliver(_) => "Deliver",
        Unfriend => "Unfriend",
        GetProfile => "GetProfile",
        SetProfile(_) => "SetProfile",
        Post { .. } => "Post",
        Comment { .. } => "Comment",
        Like { .. } => "Like",
        Delete { .. } => "Delete",
        Wall { .. } => "Wall",
        Friends => "Friends",
        AddFriend { .. } => "AddFriend",
        AcceptFriend { .. } => "AcceptFriend",
        RemoveFriend { .. } => "RemoveFriend",
        SetGroup { .. } => "SetGroup",
        Inbox { .. } => "Inbox",
        Files => "Files",
        AddFile(_) => "AddFile",
        ReadFile { .. } => "ReadFile",
        Devices => "Devices",
        RevokeDevice { .. } => "RevokeDevice",
        NewPairingCode => "NewPairingCode",
        Grants => "Grants",
        Grant(_) => "Grant",
        Revoke { .. } => "Revoke",
        AccessLog { .. } => "AccessLog",
        Status => "Status",
        Export => "Export",
        Import { .. } => "Import",
        DeleteEverything { .. } => "DeleteEverything",
        Once { .. } => "Once",
    }
}

/// A request in a few words, for the access log.
fn describe(request: &Request) -> String {
    let name = request_name(request);
    match need(request) {
        Need::Data(scope, access) => format!("{name} ({scope:?} {access:?})"),
        _ => name.to_owned(),
    }
}

/// A person's home node. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Home {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    keypair: Keypair,
    store: HomeStore,
    storage: Storage,
    endpoint: Mutex<Option<Endpoint>>,
    pairing: Mutex<Option<PairingCode>>,
    refused: Mutex<BTreeMap<Refusal, u64>>,
    others: Mutex<RateLimiter>,
    /// Each friend's, stranger's and app's own budget, with its size (at most
    /// [`CALLERS_MAX`]).
    callers: Mutex<HashMap<PeerId, (RateLimiter, u32)>>,
    retry: Mutex<HashMap<PeerId, (Instant, Duration)>>,
    /// Numbered changes being made now, by caller and number (see [`Making`]).
    making: Mutex<HashSet<(PeerId, u64)>>,
    /// Counts attachments, so that only the newest delivery loop runs.
    generation: AtomicU64,
    events: broadcast::Sender<HomeEvent>,
    wake: Notify,
}

impl Home {
    /// Opens (or creates) the home kept in `dir` (its database, `home.redb`), for the
    /// person whose home key is `keypair` (the node's key), with their files in `storage`.
    pub fn open(dir: &Path, keypair: Keypair, storage: Storage) -> Result<Self, HomeError> {
        std::fs::create_dir_all(dir).map_err(|err| HomeError::Io(format!("{}: {err}", dir.display())))?;
        let store = HomeStore::open(&dir.join("home.redb"))?;
        let (events, _) = broadcast::channel(1024);
        Ok(Self {
            inner: Arc::new(Inner {
                keypair,
                store,
                storage,
                endpoint: Mutex::new(None),
                pairing: Mutex::new(None),
                refused: Mutex::new(BTreeMap::new()),
                others: Mutex::new(RateLimiter::new(OTHERS_RATE, OTHERS_RATE)),
                callers: Mutex::new(HashMap::new()),
                retry: Mutex::new(HashMap::new()),
                making: Mutex::new(HashSet::new()),
                generation: AtomicU64::new(0),
                events,
                wake: Notify::new(),
            }),
        })
    }

    /// The node's key: the person's home identity.
    pub fn id(&self) -> PeerId {
        self.inner.keypair.peer_id()
    }

    /// The person's files.
    pub fn storage(&self) -> &Storage {
        &self.inner.storage
    }

    /// What happens on the node from now on.
    pub fn events(&self) -> broadcast::Receiver<HomeEvent> {
        self.inner.events.subscribe()
    }

    /// How to reach this node, while it is attached to a running node.
    pub fn address(&self) -> Option<HomeAddress> {
        self.endpoint().map(|endpoint| home_address(&endpoint.addr()))
    }

    /// A new pairing code (the one before stops working), valid for
    /// [`PAIRING_CODE_LIFETIME`] and one pairing, with its end in Unix milliseconds.
    pub fn pairing_code(&self) -> Result<(String, u64), HomeError> {
        let mut bytes = [0u8; 8];
        getrandom::fill(&mut bytes).map_err(|err| HomeError::Io(format!("no random numbers: {err}")))?;
        let number = u64::from_le_bytes(bytes) % 1_000_000_000;
        let code = format!(
            "{:03}-{:03}-{:03}",
            number / 1_000_000,
            number / 1000 % 1000,
            number % 1000
        );
        let until_ms = unix_ms() + PAIRING_CODE_LIFETIME.as_millis() as u64;
        if let Ok(mut slot) = self.inner.pairing.lock() {
            *slot = Some(PairingCode {
                code: code.clone(),
                until: Instant::now() + PAIRING_CODE_LIFETIME,
                tries: 0,
            });
        }
        Ok((code, until_ms))
    }

    /// The person's profile as the node keeps it.
    pub fn profile(&self) -> Result<sanctuary_protocols::home::Profile, HomeError> {
        self.inner.store.profile()
    }

    /// Sets the person's name, if they have none yet (a new node).
    pub fn set_name_if_unset(&self, name: &str) -> Result<(), HomeError> {
        let mut profile = self.inner.store.profile()?;
        if profile.name.is_empty() {
            sanctuary_protocols::home::check_text(name, NAME_MAX, false)
                .map_err(|err| HomeError::Io(format!("the name: {err}")))?;
            profile.name = name.to_owned();
            self.inner.store.set_profile(&profile)?;
        }
        Ok(())
    }

    fn endpoint(&self) -> Option<Endpoint> {
        self.inner.endpoint.lock().ok().and_then(|slot| slot.clone())
    }

    /// Serves through `endpoint` from now on (delivering the outbox), or stops with `None`.
    pub(crate) fn attach(&self, endpoint: Option<Endpoint>) {
        let start = endpoint.is_some();
        if let Ok(mut slot) = self.inner.endpoint.lock() {
            *slot = endpoint;
        }
        let generation = self.inner.generation.fetch_add(1, Ordering::Relaxed) + 1;
        self.inner.wake.notify_one();
        if start {
            tokio::spawn(delivery::deliver_loop(Arc::downgrade(&self.inner), generation));
        }
    }

    fn emit(&self, event: HomeEvent) {
        let _ = self.inner.events.send(event);
    }

    /// Answers the requests of one connection, one stream at a time.
    pub(crate) async fn serve_connection(&self, connection: Connection) {
        let caller = peer_id(connection.remote_id());
        while let Ok((mut send, mut recv)) = connection.accept_bi().await {
            let role = self.role(caller).unwrap_or(Role::Stranger);
            let max = self.request_max(caller, role);
            let response = match tokio::time::timeout(READ_TIMEOUT, recv.read_to_end(max)).await {
                Ok(Ok(bytes)) => match Request::decode(&bytes, max) {
                    Ok(request) => self.answer(caller, role, request, max).await,
                    Err(err) => self.refused(caller, Refused(Refusal::Malformed, err.to_string())),
                },
                Ok(Err(ReadToEndError::TooLong)) => self.refused(
                    caller,
                    Refused(Refusal::TooLarge, format!("a request over {max} bytes")),
                ),
                Ok(Err(_)) | Err(_) => {
                    self.refused(
                        caller,
                        Refused(Refusal::Malformed, "the request did not arrive whole".into()),
                    );
                    continue;
                }
            };
            if send.write_all(&response.encode()).await.is_ok() {
                let _ = send.finish();
            }
        }
    }

    fn refused(&self, caller: PeerId, Refused(reason, detail): Refused) -> Response {
        if let Ok(mut counts) = self.inner.refused.lock() {
            *counts.entry(reason).or_default() += 1;
        }
        tracing::debug!(%caller, ?reason, %detail, "refused a home request");
        self.emit(HomeEvent::Refused {
            from: caller,
            reason,
            detail: detail.clone(),
        });
        Response::refused(reason, detail)
    }

    /// The most bytes read of one request from `caller`: an app gets the owner's limit only
    /// when its grant lets it add files or posts (which carry pictures).
    fn request_max(&self, caller: PeerId, role: Role) -> usize {
        if role != Role::App {
            return request_max(role);
        }
        let now = unix_ms();
        let adds = self
            .inner
            .store
            .grant(caller)
            .ok()
            .flatten()
            .is_some_and(|grant| {
                grant.allows(Scope::Files, Access::Append, now)
                    || grant.allows(Scope::Wall, Access::Append, now)
            });
        match adds {
            true => request_max(Role::App),
            false => request_max(Role::Stranger),
        }
    }

    /// Who `caller` is to this node now.
    fn role(&self, caller: PeerId) -> Result<Role, HomeError> {
        let store = &self.inner.store;
        if store
            .device(caller)?
            .is_some_and(|device| device.revoked_ms.is_none())
        {
            return Ok(Role::Owner);
        }
        if store
            .friend(caller)?
            .is_some_and(|friend| friend.state == FriendState::Friends)
        {
            return Ok(Role::Friend);
        }
        if store
            .grant(caller)?
            .is_some_and(|grant| unix_ms() < grant.until_ms)
        {
            return Ok(Role::App);
        }
        Ok(Role::Stranger)
    }

    /// Whether `caller` (not the owner) may make one more request now, by its own budget
    /// of `rate` a second.
    fn caller_within_rate(&self, caller: PeerId, rate: u32) -> bool {
        let now = unix_ms();
        let Ok(mut callers) = self.inner.callers.lock() else {
            return false;
        };
        if callers.len() >= CALLERS_MAX && !callers.contains_key(&caller) {
            callers.retain(|_, (limiter, burst)| limiter.available(now) < u64::from(*burst));
            if callers.len() >= CALLERS_MAX {
                return false;
            }
        }
        let budget = callers
            .entry(caller)
            .or_insert_with(|| (RateLimiter::new(rate, rate), rate));
        if budget.1 != rate {
            // A stranger who became a friend, or the other way round.
            *budget = (RateLimiter::new(rate, rate), rate);
        }
        budget.0.try_acquire(now)
    }

    /// Answers one request from `caller`, whose role is `role`: a change sent with a
    /// number ([`Request::Once`]) that this node made already is answered as it was then,
    /// and one still being made is answered "busy" rather than made a second time.
    async fn answer(&self, caller: PeerId, role: Role, request: Request, max: usize) -> Response {
        let (mark, request) = match request.open_once(max) {
            Ok(opened) => opened,
            Err(err) => {
                let detail = format!("a change sent once: {err}");
                return self.refused(caller, Refused(Refusal::Malformed, detail));
            }
        };
        let Some(ChangeMark { change, written_ms }) = mark else {
            return self.handle(caller, role, request, None).await;
        };
        if !matches!(role, Role::Owner | Role::App) {
            // Nobody else may change the person's data: refused as usual, nothing kept.
            return self.handle(caller, role, request, None).await;
        }
        let request_hash = *blake3::hash(&request.encode()).as_bytes();
        match self.inner.store.made(caller, change) {
            Ok(Some((hash, bytes))) if hash == request_hash => {
                if let Ok(response) = Response::decode(&bytes) {
                    return response;
                }
            }
            Ok(Some(_)) => {
                let detail = format!("change number {change} was used for another change");
                return self.refused(caller, Refused(Refusal::Malformed, detail));
            }
            Ok(None) => {}
            Err(err) => return self.refused(caller, err.into()),
        }
        let Some(_making) = Making::start(&self.inner.making, caller, change) else {
            let detail = "this change is being made; ask again soon";
            return self.refused(caller, Refused(Refusal::TooMany, detail.into()));
        };
        // Only the person's own devices date what they made; an app's changes are dated
        // when they arrive.
        let written_ms = (role == Role::Owner).then_some(written_ms);
        let response = self.handle(caller, role, request, written_ms).await;
        // A refusal that may pass later (busy, a failure, a clock ahead, a grant given
        // since) is not an answer to keep: the change is tried again when sent again.
        let lasting = !matches!(
            response,
            Response::Refused {
                reason: Refusal::TooMany | Refusal::Failed | Refusal::NotAllowed,
                ..
            }
        );
        if lasting
            && let Err(err) = self
                .inner
                .store
                .remember_made(caller, change, request_hash, &response.encode())
        {
            tracing::warn!(%caller, "a change's answer could not be remembered: {err}");
        }
        response
    }

    /// Answers one request from `caller`, whose role is `role`; a change the person made
    /// earlier says when (`written_ms`).
    async fn handle(
        &self,
        caller: PeerId,
        role: Role,
        request: Request,
        written_ms: Option<u64>,
    ) -> Response {
        let within_rate = match role {
            Role::Owner => true,
            Role::Friend => self.caller_within_rate(caller, FRIEND_RATE),
            Role::App | Role::Stranger => {
                self.caller_within_rate(caller, CALLER_RATE)
                    && self
                        .inner
                        .others
                        .lock()
                        .is_ok_and(|mut limiter| limiter.try_acquire(unix_ms()))
            }
        };
        if !within_rate {
            return self.refused(
                caller,
                Refused(Refusal::TooMany, "too many requests; try again soon".into()),
            );
        }
        let need = need(&request);
        let allowed = match (need, role) {
            (Need::Anyone, _) => true,
            (Need::Friend, Role::Friend) => true,
            (Need::Data(..) | Need::Owner, Role::Owner) => true,
            (Need::Data(scope, access), Role::App) => self
                .inner
                .store
                .grant(caller)
                .ok()
                .flatten()
                .is_some_and(|grant| grant.allows(scope, access, unix_ms())),
            _ => false,
        };
        if role == Role::App || (!allowed && self.inner.store.grant(caller).ok().flatten().is_some()) {
            let entry = AccessEntry {
                at_ms: unix_ms(),
                app: caller,
                what: describe(&request),
                allowed,
            };
            if let Err(err) = self.inner.store.log(&entry) {
                tracing::warn!(%err, "could not write the access log");
            }
        }
        if !allowed {
            let detail = match need {
                Need::Data(scope, access) => format!("{role:?} may not {access:?} {scope:?}"),
                _ => format!("{role:?} may not ask {}", describe(&request)),
            };
            return self.refused(caller, Refused(Refusal::NotAllowed, detail));
        }
        match self.act(caller, role, request, written_ms).await {
            Ok(response) => response,
            Err(refusal) => self.refused(caller, refusal),
        }
    }

    async fn act(
        &self,
        caller: PeerId,
        role: Role,
        request: Request,
        written_ms: Option<u64>,
    ) -> Result<Response, Refused> {
        let store = &self.inner.store;
        let me = self.id();
        Ok(match request {
            Request::Hello => Response::Hello {
                node: me,
                name: store.profile()?.name,
                you: role,
            },
            Request::Pair { code, device_name } => self.pair(caller, &code, device_name)?,
            Request::FriendRequest { name, address } => self.friend_request(caller, name, address)?,
            Request::FriendAccepted { name, address } => {
                check_name(&name)?;
                if address.node != caller || !address.is_valid() {
                    return refuse(Refusal::Forged, "the address is not the calling node's");
                }
                let Some(mut friend) = store.friend(caller)?.filter(|f| f.state == FriendState::Asked) else {
                    return refuse(Refusal::NotAllowed, "nobody here asked you");
                };
                friend.state = FriendState::Friends;
                friend.name = name.clone();
                friend.address = address;
                store.put_friend(&friend)?;
                self.tell(Some(caller), format!("{name} accepted your friend request"));
                self.emit(HomeEvent::Friends { node: caller, name });
                Response::Done
            }
            Request::Deliver(item) => self.take_delivery(caller, item)?,
            Request::Unfriend => {
                if let Some(friend) = store.friend(caller)? {
                    store.remove_friend(caller)?;
                    self.tell(Some(caller), format!("{} ended your friendship", friend.name));
                }
                Response::Done
            }
            Request::GetProfile => Response::Profile(store.profile()?),
            Request::SetProfile(profile) => {
                check_name(&profile.name)?;
                check_text(&profile.bio, BIO_MAX, true)?;
                if let Some(address) = &profile.pay_address {
                    check_text(address, PAY_ADDRESS_MAX, false)?;
                }
                store.set_profile(&profile)?;
                Response::Done
            }
            Request::Post {
                text,
                audience,
                pictures,
            } => self.post(text, audience, pictures, written_ms).await?,
            Request::Comment { post, text } => {
                self.reply(post, ItemBody::Comment { post, text }, written_ms)?
            }
            Request::Like { post } => self.reply(post, ItemBody::Like { post }, written_ms)?,
            Request::Delete { item } => {
                if item.author != me {
                    return refuse(Refusal::NotAllowed, "only the person's own items can be deleted");
                }
                let to = self.friends_for(&Audience::Friends)?;
                let signed = self.sign(ItemBody::Delete { item }, None)?;
                store.put_item(&signed, &to)?;
                self.inner.wake.notify_one();
                Response::Posted(signed.id())
            }
            Request::Wall { limit } => Response::Wall(self.wall(limit.min(PAGE_MAX) as usize)?),
            Request::Friends => {
                let mut friends = store.friends()?;
                for friend in &mut friends {
                    friend.waiting = store.waiting(friend.node)?;
                }
                Response::Friends(friends)
            }
            Request::AddFriend { address } => self.add_friend(address).await?,
            Request::AcceptFriend { node } => {
                let Some(mut friend) = store.friend(node)?.filter(|f| f.state == FriendState::AskedUs) else {
                    return refuse(Refusal::NotFound, "no friend request from that node");
                };
                let name = store.profile()?.name;
                let address = self
                    .address()
                    .ok_or_else(|| Refused(Refusal::Failed, "offline".into()))?;
                self.ask_node(&friend.address, &Request::FriendAccepted { name, address })
                    .await?;
                friend.state = FriendState::Friends;
                store.put_friend(&friend)?;
                self.emit(HomeEvent::Friends {
                    node,
                    name: friend.name,
                });
                Response::Done
            }
            Request::RemoveFriend { node } => {
                let Some(friend) = store.friend(node)? else {
                    return refuse(Refusal::NotFound, "no such friend or request");
                };
                store.remove_friend(node)?;
                if friend.state == FriendState::Friends
                    && let Some(endpoint) = self.endpoint()
                {
                    // Telling them is a courtesy: their node stops taking our items anyway.
                    tokio::spawn(async move {
                        if let Ok(connection) = HomeConnection::connect(&endpoint, &friend.address).await {
                            let _ = connection.ask(&Request::Unfriend).await;
                            connection.close();
                        }
                    });
                }
                Response::Done
            }
            Request::SetGroup { node, group } => {
                if let Some(group) = &group {
                    check_name(group)?;
                }
                let Some(mut friend) = store.friend(node)? else {
                    return refuse(Refusal::NotFound, "no such friend");
                };
                friend.group = group;
                store.put_friend(&friend)?;
                Response::Done
            }
            Request::Inbox { limit } => Response::Inbox(store.inbox(limit.min(PAGE_MAX) as usize)?),
            Request::Files => Response::Files(self.files()),
            Request::AddFile(upload) => Response::FileAdded(self.add_file(upload).await?),
            Request::ReadFile { hash } => {
                let bytes = self
                    .inner
                    .storage
                    .read(hash, UPLOAD_MAX as u64 * 4)
                    .await
                    .map_err(|err| Refused(Refusal::NotFound, err.to_string()))?;
                Response::File(bytes.to_vec())
            }
            Request::Devices => Response::Devices(store.devices()?),
            Request::RevokeDevice { device } => {
                let Some(mut entry) = store.device(device)? else {
                    return refuse(Refusal::NotFound, "no such device");
                };
                entry.revoked_ms.get_or_insert(unix_ms());
                store.put_device(&entry)?;
                store.forget_made(device)?;
                Response::Done
            }
            Request::NewPairingCode => {
                let (code, until_ms) = self.pairing_code()?;
                Response::PairingCode { code, until_ms }
            }
            Request::Grants => Response::Grants(store.grants()?),
            Request::Grant(grant) => {
                check_name(&grant.name)?;
                if grant.allowed.is_empty() || grant.allowed.len() > 16 {
                    return refuse(Refusal::Malformed, "a grant allows one to sixteen things");
                }
                if grant.app == me || store.device(grant.app)?.is_some() {
                    return refuse(Refusal::Malformed, "that key is this node or one of its devices");
                }
                store.put_grant(&grant)?;
                Response::Done
            }
            Request::Revoke { app } => match store.remove_grant(app)? {
                true => {
                    store.forget_made(app)?;
                    Response::Done
                }
                false => return refuse(Refusal::NotFound, "no grant for that app"),
            },
            Request::AccessLog { limit } => {
                Response::AccessLog(store.access_log(limit.min(PAGE_MAX) as usize)?)
            }
            Request::Status => Response::Status(self.status()?),
            Request::Export => {
                let export = self.export()?;
                Response::Export(
                    serde_json::to_string_pretty(&export)
                        .map_err(|err| Refused(Refusal::Failed, err.to_string()))?,
                )
            }
            Request::Import { json } => {
                let export: HomeExport = serde_json::from_str(&json)
                    .map_err(|err| Refused(Refusal::Malformed, err.to_string()))?;
                self.import(export)?;
                Response::Done
            }
            Request::DeleteEverything { node } => {
                if node != me {
                    return refuse(Refusal::Malformed, "name this node's key to confirm");
                }
                self.delete_everything().await?;
                Response::Done
            }
            Request::Once { .. } => return refuse(Refusal::Malformed, "a change sent once inside another"),
        })
    }

    fn tell(&self, from: Option<PeerId>, text: String) {
        let entry = InboxEntry {
            at_ms: unix_ms(),
            from,
            text,
        };
        if let Err(err) = self.inner.store.tell(&entry) {
            tracing::warn!(%err, "could not write to the inbox");
        }
    }
}

fn check_name(name: &str) -> Result<(), Refused> {
    check_text(name, NAME_MAX, false)
}

fn check_text(text: &str, max: usize, lines: bool) -> Result<(), Refused> {
    Ok(sanctuary_protocols::home::check_text(text, max, lines)?)
}
