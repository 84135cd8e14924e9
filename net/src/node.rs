//! A [`Node`]: one iroh endpoint with a router serving gossip, direct messages and pose
//! datagrams, owned by one person's [`Keypair`].
//!
//! The node accepts connections for [`ALPN_ROOM`] (iroh-gossip), [`ALPN_DM`] and
//! [`ALPN_POSE`]. The direct-message and pose handlers only read bytes and hand them, with
//! the connection's authenticated remote id, to the world the node is in (see
//! [`crate::world`]), which checks them. Outgoing direct and pose connections are kept in a
//! small pool ([`Dialer`]) so that each peer is dialed once per protocol.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use iroh::address_lookup::memory::MemoryLookup;
use iroh::endpoint::{Connection, presets};
use iroh::protocol::{AcceptError, ProtocolHandler, Router};
use iroh::{Endpoint, EndpointAddr, EndpointId, RelayMode, RelayUrl, SecretKey};
use iroh_gossip::Gossip;
use sanctuary_protocols::alpn::{ALPN_DM, ALPN_POSE, ALPN_ROOM};
use sanctuary_protocols::limits::MESSAGE_MAX;
use sanctuary_protocols::{Body, Keypair, PeerId, SignedEnvelope};
use tokio::sync::mpsc;

use crate::error::NetError;
use crate::world::{self, Inbound, JoinTarget, WorldConfig, WorldHandle};
use crate::{RejectReason, WorldTicket};

/// Which relay server, if any, the node uses to reach peers it cannot reach directly.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum RelayChoice {
    /// No relay: direct addresses only (LAN, loopback, or addresses from tickets).
    #[default]
    Disabled,
    /// A self-hosted `iroh-relay`, by URL (e.g. `https://relay.example.org`).
    Url(String),
}

/// How to start a [`Node`].
#[derive(Debug)]
pub struct NodeConfig {
    /// The person's key: it is also the node's iroh endpoint id.
    pub keypair: Keypair,
    /// Which relay to use.
    pub relay: RelayChoice,
    /// Find and announce peers on the local network (mDNS). Needs the `local-discovery`
    /// feature; [`Node::spawn`] fails with [`NetError::LocalDiscoveryUnavailable`] without it.
    pub local_discovery: bool,
    /// Bind the UDP socket to this address (e.g. `127.0.0.1:0` for loopback only). `None`
    /// binds all interfaces on a random port.
    pub bind_addr: Option<SocketAddr>,
}

impl NodeConfig {
    /// A node that only talks on loopback: no relay, no local-network lookup, bound to
    /// `127.0.0.1` on a random port. What tests use.
    pub fn loopback(keypair: Keypair) -> Self {
        Self {
            keypair,
            relay: RelayChoice::Disabled,
            local_discovery: false,
            bind_addr: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
        }
    }
}

/// Shared between the node, its protocol handlers and the world it is in.
#[derive(Debug)]
pub(crate) struct NodeShared {
    /// Where the handlers send what they receive: the world the node is in, if any.
    pub inbound: Mutex<Option<mpsc::Sender<Inbound>>>,
    /// Numbers incoming pose connections, so each has its own sequence window.
    pub next_connection: AtomicU64,
}

impl NodeShared {
    fn inbound(&self) -> Option<mpsc::Sender<Inbound>> {
        self.inbound.lock().ok().and_then(|slot| slot.clone())
    }
}

/// One person's network presence: an iroh endpoint and its protocol handlers.
///
/// Cheap to clone. Needs a multi-threaded tokio runtime (or a current-thread one that is
/// driven while the node is used).
#[derive(Debug, Clone)]
pub struct Node {
    pub(crate) keypair: Arc<Keypair>,
    pub(crate) endpoint: Endpoint,
    pub(crate) router: Router,
    pub(crate) gossip: Gossip,
    pub(crate) lookup: MemoryLookup,
    pub(crate) shared: Arc<NodeShared>,
    pub(crate) dialer: Dialer,
    pub(crate) signer: Arc<Signer>,
}

impl Node {
    /// Binds the endpoint and starts serving gossip, direct messages and poses.
    pub async fn spawn(config: NodeConfig) -> Result<Self, NetError> {
        let secret = SecretKey::from_bytes(&config.keypair.to_bytes());
        let lookup = MemoryLookup::new();
        let mut builder = Endpoint::builder(presets::Minimal)
            .secret_key(secret)
            .alpns(vec![ALPN_ROOM.to_vec(), ALPN_DM.to_vec(), ALPN_POSE.to_vec()])
            .address_lookup(lookup.clone());
        builder = match &config.relay {
            RelayChoice::Disabled => builder.relay_mode(RelayMode::Disabled),
            RelayChoice::Url(url) => {
                let url: RelayUrl = url.parse().map_err(|_| NetError::InvalidRelayUrl(url.clone()))?;
                builder.relay_mode(RelayMode::custom([url]))
            }
        };
        if config.local_discovery {
            builder = add_local_discovery(builder)?;
        }
        if let Some(addr) = config.bind_addr {
            builder = builder
                .clear_ip_transports()
                .bind_addr(addr)
                .map_err(|err| NetError::Bind(err.to_string()))?;
        }
        let endpoint = builder
            .bind()
            .await
            .map_err(|err| NetError::Bind(err.to_string()))?;
        let gossip = Gossip::builder()
            .alpn(ALPN_ROOM)
            // Room messages are at most MESSAGE_MAX; leave room for gossip's own framing so
            // that oversized messages reach our size check and are counted.
            .max_message_size(MESSAGE_MAX + 4096)
            .spawn(endpoint.clone());
        let shared = Arc::new(NodeShared {
            inbound: Mutex::new(None),
            next_connection: AtomicU64::new(1),
        });
        let router = Router::builder(endpoint.clone())
            .accept(ALPN_ROOM, gossip.clone())
            .accept(ALPN_DM, DmHandler(shared.clone()))
            .accept(ALPN_POSE, PoseHandler(shared.clone()))
            .spawn();
        let node = Self {
            keypair: Arc::new(config.keypair),
            dialer: Dialer::new(endpoint.clone()),
            endpoint,
            router,
            gossip,
            lookup,
            shared,
            signer: Arc::new(Signer::new()),
        };
        node.wait_for_direct_addrs(Duration::from_secs(3)).await;
        Ok(node)
    }

    /// This node's (and its owner's) id.
    pub fn peer_id(&self) -> PeerId {
        self.keypair.peer_id()
    }

    /// How to dial this node: its id, direct addresses (including loopback ones when bound
    /// there) and relay, if any.
    pub fn addr(&self) -> EndpointAddr {
        self.endpoint.addr()
    }

    /// A ticket for `world` with this node as the bootstrap peer. Print it with
    /// `to_string()` and hand it to whoever should join.
    pub fn ticket(&self, world: crate::WorldId) -> WorldTicket {
        WorldTicket::new(world, self.addr())
    }

    /// Tells the node how to reach `addr.id`, e.g. a peer from a ticket or typed in by hand.
    pub fn add_peer_addr(&self, addr: EndpointAddr) {
        self.lookup.add_endpoint_info(addr);
    }

    /// Joins a world with the default [`WorldConfig`]. See [`Node::join_world_with`].
    pub async fn join_world(
        &self,
        target: impl Into<JoinTarget>,
        presence: sanctuary_protocols::Presence,
    ) -> Result<WorldHandle, NetError> {
        self.join_world_with(target, presence, WorldConfig::default())
            .await
    }

    /// Joins a world: subscribes to its world-wide topic and to the room of
    /// `presence.space`, says hello, and returns the handle to act in it. To host a new
    /// world, pass `JoinTarget::host(WorldId::random()?)` and share [`WorldHandle::ticket`].
    ///
    /// A node is in at most one world at a time; leave it before joining another.
    pub async fn join_world_with(
        &self,
        target: impl Into<JoinTarget>,
        presence: sanctuary_protocols::Presence,
        config: WorldConfig,
    ) -> Result<WorldHandle, NetError> {
        world::join(self.clone(), target.into(), presence, config).await
    }

    /// Closes every connection and stops the endpoint. Leave the world first
    /// ([`WorldHandle::leave`]) to tell others at once; otherwise they notice on timeout.
    pub async fn shutdown(&self) {
        if let Ok(mut slot) = self.shared.inbound.lock() {
            *slot = None;
        }
        self.dialer.close_all();
        if let Err(err) = self.router.shutdown().await {
            tracing::debug!(%err, "router shutdown");
        }
        self.endpoint.close().await;
    }

    pub(crate) fn sign(&self, body: Body) -> SignedEnvelope {
        let (seq, now) = self.signer.next();
        SignedEnvelope::sign(&self.keypair, seq, now, body)
    }

    async fn wait_for_direct_addrs(&self, limit: Duration) {
        let start = Instant::now();
        while self.endpoint.addr().ip_addrs().next().is_none() && start.elapsed() < limit {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

#[cfg(feature = "local-discovery")]
fn add_local_discovery(builder: iroh::endpoint::Builder) -> Result<iroh::endpoint::Builder, NetError> {
    Ok(builder.address_lookup(iroh_mdns_address_lookup::MdnsAddressLookup::builder()))
}

#[cfg(not(feature = "local-discovery"))]
fn add_local_discovery(_builder: iroh::endpoint::Builder) -> Result<iroh::endpoint::Builder, NetError> {
    Err(NetError::LocalDiscoveryUnavailable)
}

/// Hands out sequence numbers: one counter per node, started at the current Unix time in
/// milliseconds so that a restarted node is not taken for a replay of its earlier self.
#[derive(Debug)]
pub(crate) struct Signer {
    seq: AtomicU64,
}

impl Signer {
    fn new() -> Self {
        Self {
            seq: AtomicU64::new(unix_ms()),
        }
    }

    /// The next sequence number and the current Unix time in milliseconds.
    fn next(&self) -> (u64, u64) {
        (self.seq.fetch_add(1, Ordering::Relaxed), unix_ms())
    }
}

pub(crate) fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

pub(crate) fn endpoint_id(peer: PeerId) -> Result<EndpointId, NetError> {
    EndpointId::from_bytes(peer.as_bytes()).map_err(|_| NetError::InvalidPeer(peer))
}

pub(crate) fn peer_id(id: EndpointId) -> PeerId {
    PeerId::from_bytes(*id.as_bytes())
}

/// Accepts direct-message connections: each uni or bi stream carries one signed envelope.
#[derive(Debug, Clone)]
struct DmHandler(Arc<NodeShared>);

/// How long a direct-message stream may take to arrive in full.
const DM_READ_TIMEOUT: Duration = Duration::from_secs(10);

impl ProtocolHandler for DmHandler {
    async fn accept(&self, connection: Connection) -> Result<(), AcceptError> {
        let from = peer_id(connection.remote_id());
        loop {
            let stream = tokio::select! {
                uni = connection.accept_uni() => uni.map(|recv| (recv, None)),
                bi = connection.accept_bi() => bi.map(|(send, recv)| (recv, Some(send))),
            };
            let Ok((mut recv, send)) = stream else {
                return Ok(());
            };
            let inbound = match tokio::time::timeout(DM_READ_TIMEOUT, recv.read_to_end(MESSAGE_MAX)).await {
                Ok(Ok(bytes)) => Inbound::Direct { from, bytes },
                Ok(Err(iroh::endpoint::ReadToEndError::TooLong)) => Inbound::Refused {
                    from,
                    reason: RejectReason::Oversized,
                },
                Ok(Err(_)) | Err(_) => Inbound::Refused {
                    from,
                    reason: RejectReason::Malformed,
                },
            };
            if let Some(mut send) = send {
                let _ = send.finish();
            }
            let Some(tx) = self.0.inbound() else {
                continue;
            };
            // Direct messages are not dropped silently: wait a little for room, then count.
            if tokio::time::timeout(Duration::from_secs(1), tx.send(inbound))
                .await
                .is_err()
            {
                tracing::warn!(%from, "dropped a direct message: world queue full");
            }
        }
    }
}

/// Accepts pose connections and reads their datagrams.
#[derive(Debug, Clone)]
struct PoseHandler(Arc<NodeShared>);

impl ProtocolHandler for PoseHandler {
    async fn accept(&self, connection: Connection) -> Result<(), AcceptError> {
        let from = peer_id(connection.remote_id());
        let id = self.0.next_connection.fetch_add(1, Ordering::Relaxed);
        while let Ok(bytes) = connection.read_datagram().await {
            let Some(tx) = self.0.inbound() else {
                continue;
            };
            // Poses are lossy by design: a full queue drops this one.
            let _ = tx.try_send(Inbound::Pose {
                from,
                connection: id,
                bytes: bytes.to_vec(),
            });
        }
        Ok(())
    }
}

/// An outgoing connection and the pose sequence counter that goes with it.
#[derive(Debug, Clone)]
pub(crate) struct Outgoing {
    pub connection: Connection,
    pub pose_seq: Arc<AtomicU32>,
}

#[derive(Debug)]
enum Slot {
    Connecting,
    Ready(Outgoing),
    Failed(Instant),
}

/// How long to wait before dialing a peer again after a failed attempt.
const REDIAL_AFTER: Duration = Duration::from_secs(2);

/// Pool of outgoing connections, one per (peer, protocol).
#[derive(Debug, Clone)]
pub(crate) struct Dialer {
    endpoint: Endpoint,
    slots: Arc<Mutex<HashMap<(PeerId, &'static [u8]), Slot>>>,
}

impl Dialer {
    fn new(endpoint: Endpoint) -> Self {
        Self {
            endpoint,
            slots: Arc::default(),
        }
    }

    /// The open connection to `peer` for `alpn` if there is one; otherwise starts dialing
    /// in the background (unless a dial is under way or failed recently) and returns `None`.
    pub fn ready(&self, peer: PeerId, alpn: &'static [u8]) -> Option<Outgoing> {
        let Ok(mut slots) = self.slots.lock() else {
            return None;
        };
        match slots.get(&(peer, alpn)) {
            Some(Slot::Ready(out)) if out.connection.close_reason().is_none() => return Some(out.clone()),
            Some(Slot::Connecting) => return None,
            Some(Slot::Failed(at)) if at.elapsed() < REDIAL_AFTER => return None,
            _ => {}
        }
        slots.insert((peer, alpn), Slot::Connecting);
        drop(slots);
        let this = self.clone();
        tokio::spawn(async move {
            let _ = this.dial(peer, alpn).await;
        });
        None
    }

    /// The connection to `peer` for `alpn`, dialing it now if needed.
    pub async fn get(&self, peer: PeerId, alpn: &'static [u8]) -> Result<Outgoing, NetError> {
        if let Ok(slots) = self.slots.lock()
            && let Some(Slot::Ready(out)) = slots.get(&(peer, alpn))
            && out.connection.close_reason().is_none()
        {
            return Ok(out.clone());
        }
        self.dial(peer, alpn).await
    }

    async fn dial(&self, peer: PeerId, alpn: &'static [u8]) -> Result<Outgoing, NetError> {
        let id = endpoint_id(peer)?;
        let result = tokio::time::timeout(Duration::from_secs(10), self.endpoint.connect(id, alpn)).await;
        let slot = match &result {
            Ok(Ok(connection)) => Slot::Ready(Outgoing {
                connection: connection.clone(),
                pose_seq: Arc::new(AtomicU32::new(0)),
            }),
            _ => Slot::Failed(Instant::now()),
        };
        let out = match &slot {
            Slot::Ready(out) => Some(out.clone()),
            _ => None,
        };
        if let Ok(mut slots) = self.slots.lock() {
            slots.insert((peer, alpn), slot);
        }
        match (out, result) {
            (Some(out), _) => Ok(out),
            (None, Ok(Err(err))) => Err(NetError::Connect(peer, err.to_string())),
            (None, _) => Err(NetError::Connect(peer, "timed out".into())),
        }
    }

    /// Forgets (and closes) the connections to `peer`.
    pub fn forget(&self, peer: PeerId) {
        if let Ok(mut slots) = self.slots.lock() {
            slots.retain(|(p, _), slot| {
                if *p == peer
                    && let Slot::Ready(out) = slot
                {
                    out.connection.close(0u32.into(), b"bye");
                }
                *p != peer
            });
        }
    }

    fn close_all(&self) {
        if let Ok(mut slots) = self.slots.lock() {
            for slot in slots.values() {
                if let Slot::Ready(out) = slot {
                    out.connection.close(0u32.into(), b"bye");
                }
            }
            slots.clear();
        }
    }
}

impl Node {
    /// Makes `tx` the destination of incoming direct messages and poses, unless the node is
    /// already in a world.
    pub(crate) fn claim_inbound(&self, tx: mpsc::Sender<Inbound>) -> Result<(), NetError> {
        let mut slot = self.shared.inbound.lock().map_err(|_| NetError::WorldClosed)?;
        if slot.as_ref().is_some_and(|current| !current.is_closed()) {
            return Err(NetError::AlreadyInWorld);
        }
        *slot = Some(tx);
        Ok(())
    }

    /// Forgets the world's inbound queue (the world has ended).
    pub(crate) fn clear_inbound(&self) {
        if let Ok(mut slot) = self.shared.inbound.lock() {
            *slot = None;
        }
    }

    /// Sends raw bytes as one stream on a fresh connection for `alpn`: for tests of hostile
    /// input. Returns once the peer has read them (or refused them).
    #[cfg(feature = "test-utils")]
    pub async fn send_raw_stream(
        &self,
        peer: PeerId,
        alpn: &'static [u8],
        bytes: &[u8],
    ) -> Result<(), NetError> {
        crate::world::send_stream(self, peer, alpn, bytes).await
    }

    /// Sends raw bytes as one datagram on the pose connection to `peer`: for tests of
    /// hostile input.
    #[cfg(feature = "test-utils")]
    pub async fn send_raw_datagram(&self, peer: PeerId, bytes: &[u8]) -> Result<(), NetError> {
        crate::world::send_datagram(self, peer, bytes).await
    }
}
