//! A [`Node`]: one iroh endpoint with a router serving gossip, direct messages and pose
//! datagrams, owned by one person's [`Keypair`].
//!
//! The node accepts connections for [`ALPN_ROOM`] (iroh-gossip), [`ALPN_DM`],
//! [`ALPN_POSE`] and [`ALPN_VOICE`]. The direct-message, pose and voice handlers only read bytes and hand them, with
//! the connection's authenticated remote id, to the world the node is in (see
//! [`crate::world`]), which checks them. Outgoing direct and pose connections are kept in a
//! small pool (the dialer) so that each peer is dialed once per protocol.
//!
//! # Transport limits
//!
//! The QUIC limits are set here on purpose, next to the protocol limits they serve
//! ([`sanctuary_protocols::limits`]): at most [`MAX_CONNECTIONS_PER_PEER`] incoming direct or
//! pose connections per remote and [`MAX_CONNECTIONS`] in all, [`MAX_STREAMS`] concurrent
//! streams of each kind per connection, [`STREAM_WINDOW`] bytes of unread data per stream
//! and [`CONNECTION_WINDOW`] per connection (a peer holding half-sent streams costs at most
//! that), and [`DATAGRAM_BUFFER`] bytes of unread datagrams.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use iroh::address_lookup::memory::MemoryLookup;
use iroh::endpoint::{Connection, QuicTransportConfig, VarInt, presets};
use iroh::protocol::{AcceptError, ProtocolHandler, Router};
use iroh::{Endpoint, EndpointAddr, EndpointId, RelayMode, RelayUrl, SecretKey};
use iroh_gossip::Gossip;
use sanctuary_protocols::alpn::{
    ALPN_BUILD, ALPN_DM, ALPN_HISTORY, ALPN_HOME, ALPN_POSE, ALPN_ROOM, ALPN_VOICE,
};
use sanctuary_protocols::limits::MESSAGE_MAX;
use sanctuary_protocols::{Body, Context, Keypair, PeerId, SignedEnvelope, WorldId, WorldTicket};
use tokio::sync::mpsc;

use crate::RejectReason;
use crate::build::sync::{SyncHandler, SyncSlot};
use crate::dialer::Dialer;
use crate::error::NetError;
use crate::home::Home;
use crate::inbound::Inbound;
use crate::nearby::LocalDiscovery;
use crate::storage::Storage;
use crate::world::history::{ChatHistory, HistoryHandler};

/// How long starting a node waits for its relay before going on without it.
const RELAY_WAIT: Duration = Duration::from_secs(10);

/// Most incoming direct-message, pose or voice connections kept open from one remote peer:
/// one of each.
pub const MAX_CONNECTIONS_PER_PEER: usize = 3;
/// Most incoming direct-message, pose and voice connections kept open in all.
pub const MAX_CONNECTIONS: usize = 1024;
/// Most concurrent streams of each kind (uni, bi) a remote may open on one connection.
pub const MAX_STREAMS: u32 = 16;
/// Most unread bytes on one stream: four of the largest messages.
pub const STREAM_WINDOW: u32 = 4 * MESSAGE_MAX as u32;
/// Most unread bytes on one connection, all streams together.
pub const CONNECTION_WINDOW: u32 = 4 * STREAM_WINDOW;
/// Most bytes of unread datagrams buffered per connection.
pub const DATAGRAM_BUFFER: usize = 64 * 1024;

fn transport_config() -> QuicTransportConfig {
    QuicTransportConfig::builder()
        .max_concurrent_bidi_streams(VarInt::from_u32(MAX_STREAMS))
        .max_concurrent_uni_streams(VarInt::from_u32(MAX_STREAMS))
        .stream_receive_window(VarInt::from_u32(STREAM_WINDOW))
        .receive_window(VarInt::from_u32(CONNECTION_WINDOW))
        .datagram_receive_buffer_size(Some(DATAGRAM_BUFFER))
        .build()
}

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
    /// Publish this node's addresses on the local network and look up others there by
    /// mDNS, which also lists the worlds announced nearby ([`crate::nearby`]). Needs the
    /// `local-discovery` feature; [`Node::spawn`] fails with
    /// [`NetError::LocalDiscoveryUnavailable`] without it.
    pub local_discovery: bool,
    /// Bind the UDP socket to this address (e.g. `127.0.0.1:0` for loopback only). `None`
    /// binds all interfaces on a random port.
    pub bind_addr: Option<SocketAddr>,
    /// Most direct gossip neighbours per topic; `None` keeps gossip's default (5). Tests
    /// set 2 to make rooms where messages must be relayed.
    pub gossip_neighbours: Option<usize>,
    /// The person's blob store: served on the iroh-blobs ALPN (the blobs they chose to
    /// serve) and fetched into through this node while it runs.
    pub storage: Option<Storage>,
    /// The person's home (the personal server): answered on the home ALPN. Its key must
    /// be this node's key.
    pub home: Option<Home>,
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
            gossip_neighbours: None,
            storage: None,
            home: None,
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
    /// Open incoming direct and pose connections per remote peer.
    pub open: Mutex<HashMap<PeerId, usize>>,
    /// The building documents of the world the node is in, for the sync handler.
    pub build: Arc<SyncSlot>,
    /// The chat kept of the room the node is in, for the history handler.
    pub history: Arc<ChatHistory>,
}

impl NodeShared {
    fn inbound(&self) -> Option<mpsc::Sender<Inbound>> {
        self.inbound.lock().ok().and_then(|slot| slot.clone())
    }

    /// Counts an incoming connection from `peer`, or refuses it past the caps.
    fn admit(self: &Arc<Self>, peer: PeerId) -> Option<OpenConnection> {
        let mut open = self.open.lock().ok()?;
        let total: usize = open.values().sum();
        let mine = open.entry(peer).or_default();
        if *mine >= MAX_CONNECTIONS_PER_PEER || total >= MAX_CONNECTIONS {
            tracing::warn!(%peer, "refused an incoming connection: over the connection limits");
            return None;
        }
        *mine += 1;
        Some(OpenConnection {
            shared: self.clone(),
            peer,
        })
    }
}

/// One admitted incoming connection; dropping it gives its place back.
struct OpenConnection {
    shared: Arc<NodeShared>,
    peer: PeerId,
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        if let Ok(mut open) = self.shared.open.lock()
            && let Some(count) = open.get_mut(&self.peer)
        {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.remove(&self.peer);
            }
        }
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
    /// The local-network lookup, with [`NodeConfig::local_discovery`].
    pub(crate) local: Option<LocalDiscovery>,
    /// The person's blob store, with [`NodeConfig::storage`].
    pub(crate) storage: Option<Storage>,
    /// The person's home, with [`NodeConfig::home`].
    pub(crate) home: Option<Home>,
}

impl Node {
    /// Binds the endpoint and starts serving gossip, direct messages and poses.
    pub async fn spawn(config: NodeConfig) -> Result<Self, NetError> {
        Self::spawn_adjusted(config, |builder| builder).await
    }

    /// Like [`spawn`](Self::spawn), with the endpoint's builder adjusted last by `adjust`:
    /// tests use it to trust a test relay's certificate or to block direct paths.
    #[cfg(feature = "test-utils")]
    pub async fn spawn_with(
        config: NodeConfig,
        adjust: impl FnOnce(iroh::endpoint::Builder) -> iroh::endpoint::Builder,
    ) -> Result<Self, NetError> {
        Self::spawn_adjusted(config, adjust).await
    }

    async fn spawn_adjusted(
        config: NodeConfig,
        adjust: impl FnOnce(iroh::endpoint::Builder) -> iroh::endpoint::Builder,
    ) -> Result<Self, NetError> {
        let secret = SecretKey::from_bytes(&config.keypair.to_bytes());
        let public = secret.public();
        let lookup = MemoryLookup::new();
        let mut alpns = vec![
            ALPN_ROOM.to_vec(),
            ALPN_DM.to_vec(),
            ALPN_POSE.to_vec(),
            ALPN_VOICE.to_vec(),
            ALPN_BUILD.to_vec(),
            ALPN_HISTORY.to_vec(),
        ];
        if config.storage.is_some() {
            alpns.push(iroh_blobs::ALPN.to_vec());
        }
        if config.home.is_some() {
            alpns.push(ALPN_HOME.to_vec());
        }
        let mut builder = Endpoint::builder(presets::Minimal)
            .secret_key(secret)
            .alpns(alpns)
            .transport_config(transport_config())
            .address_lookup(lookup.clone());
        builder = match &config.relay {
            RelayChoice::Disabled => builder.relay_mode(RelayMode::Disabled),
            RelayChoice::Url(url) => {
                let url: RelayUrl = url.parse().map_err(|_| NetError::InvalidRelayUrl(url.clone()))?;
                builder.relay_mode(RelayMode::custom([url]))
            }
        };
        let local = match config.local_discovery {
            true => Some(LocalDiscovery::start(public).await?),
            false => None,
        };
        if let Some(local) = &local {
            builder = local.add_to(builder);
        }
        if let Some(addr) = config.bind_addr {
            builder = builder
                .clear_ip_transports()
                .bind_addr(addr)
                .map_err(|err| NetError::Bind(err.to_string()))?;
        }
        let endpoint = adjust(builder)
            .bind()
            .await
            .map_err(|err| NetError::Bind(err.to_string()))?;
        let mut membership = iroh_gossip::proto::HyparviewConfig::default();
        if let Some(neighbours) = config.gossip_neighbours {
            membership.active_view_capacity = neighbours.max(1);
        }
        let gossip = Gossip::builder()
            .membership_config(membership)
            .alpn(ALPN_ROOM)
            // Room messages are at most MESSAGE_MAX; leave room for gossip's own framing so
            // that oversized messages reach our size check and are counted.
            .max_message_size(MESSAGE_MAX + 4096)
            .spawn(endpoint.clone());
        let shared = Arc::new(NodeShared {
            inbound: Mutex::new(None),
            next_connection: AtomicU64::new(1),
            open: Mutex::new(HashMap::new()),
            build: Arc::new(SyncSlot::default()),
            history: Arc::new(ChatHistory::default()),
        });
        let mut router = Router::builder(endpoint.clone())
            .accept(ALPN_ROOM, gossip.clone())
            .accept(ALPN_DM, DmHandler(shared.clone()))
            .accept(ALPN_POSE, DatagramHandler(shared.clone(), DatagramKind::Pose))
            .accept(ALPN_VOICE, DatagramHandler(shared.clone(), DatagramKind::Voice))
            .accept(ALPN_BUILD, SyncHandler::new(shared.build.clone()))
            .accept(ALPN_HISTORY, HistoryHandler::new(shared.history.clone()));
        if let Some(storage) = &config.storage {
            router = router.accept(iroh_blobs::ALPN, storage.protocol());
            storage.attach(Some(endpoint.clone()));
        }
        if let Some(home) = &config.home {
            router = router.accept(
                ALPN_HOME,
                HomeHandler {
                    home: home.clone(),
                    shared: shared.clone(),
                },
            );
        }
        let router = router.spawn();
        let node = Self {
            keypair: Arc::new(config.keypair),
            dialer: Dialer::new(endpoint.clone()),
            endpoint,
            router,
            gossip,
            lookup,
            shared,
            signer: Arc::new(Signer::new()),
            local,
            storage: config.storage,
            home: config.home,
        };
        if let Some(home) = &node.home {
            home.attach(Some(node.endpoint.clone()));
        }
        node.wait_for_direct_addrs(Duration::from_secs(3)).await;
        if matches!(config.relay, RelayChoice::Url(_)) {
            // Wait until the relay knows us, so that tickets made from now on carry it.
            if tokio::time::timeout(RELAY_WAIT, node.endpoint.online())
                .await
                .is_err()
            {
                tracing::warn!("the relay did not answer within {RELAY_WAIT:?}; going on without it for now");
            }
        }
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
    pub fn ticket(&self, world: WorldId) -> WorldTicket {
        crate::ticket::ticket_for(world, &self.addr())
    }

    /// Tells the node how to reach `addr.id`, e.g. a peer from a ticket or typed in by hand.
    pub fn add_peer_addr(&self, addr: EndpointAddr) {
        self.lookup.add_endpoint_info(addr);
    }

    /// Closes every connection and stops the endpoint. Leave the world first
    /// ([`WorldHandle::leave`]) to tell others at once; otherwise they notice on timeout.
    pub async fn shutdown(&self) {
        if let Ok(mut slot) = self.shared.inbound.lock() {
            *slot = None;
        }
        self.dialer.close_all();
        if let Some(storage) = &self.storage {
            storage.attach(None);
        }
        if let Some(home) = &self.home {
            home.attach(None);
        }
        if let Err(err) = self.router.shutdown().await {
            tracing::debug!(%err, "router shutdown");
        }
        self.endpoint.close().await;
    }

    pub(crate) fn sign(&self, context: &Context, body: Body) -> SignedEnvelope {
        let (seq, now) = self.signer.next();
        SignedEnvelope::sign(&self.keypair, context, seq, now, body)
    }

    async fn wait_for_direct_addrs(&self, limit: Duration) {
        let start = Instant::now();
        while self.endpoint.addr().ip_addrs().next().is_none() && start.elapsed() < limit {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
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
        let Some(_open) = self.0.admit(from) else {
            connection.close(1u32.into(), b"too many connections");
            return Ok(());
        };
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

/// Accepts home connections (the personal server), within the per-peer connection limits.
#[derive(Debug, Clone)]
struct HomeHandler {
    home: Home,
    shared: Arc<NodeShared>,
}

impl ProtocolHandler for HomeHandler {
    async fn accept(&self, connection: Connection) -> Result<(), AcceptError> {
        let from = peer_id(connection.remote_id());
        let Some(_open) = self.shared.admit(from) else {
            connection.close(1u32.into(), b"too many connections");
            return Ok(());
        };
        self.home.serve_connection(connection).await;
        Ok(())
    }
}

/// What a datagram connection carries.
#[derive(Debug, Clone, Copy)]
enum DatagramKind {
    Pose,
    Voice,
}

/// Accepts pose or voice connections and reads their datagrams. Both are lossy by
/// design: a full queue drops the datagram (a newer pose replaces it; the jitter buffer
/// conceals a lost voice frame).
#[derive(Debug, Clone)]
struct DatagramHandler(Arc<NodeShared>, DatagramKind);

impl ProtocolHandler for DatagramHandler {
    async fn accept(&self, connection: Connection) -> Result<(), AcceptError> {
        let from = peer_id(connection.remote_id());
        let Some(_open) = self.0.admit(from) else {
            connection.close(1u32.into(), b"too many connections");
            return Ok(());
        };
        let id = self.0.next_connection.fetch_add(1, Ordering::Relaxed);
        while let Ok(bytes) = connection.read_datagram().await {
            let Some(tx) = self.0.inbound() else {
                continue;
            };
            let bytes = bytes.to_vec();
            let _ = tx.try_send(match self.1 {
                DatagramKind::Pose => Inbound::Pose {
                    from,
                    connection: id,
                    bytes,
                },
                DatagramKind::Voice => Inbound::Voice { from, bytes },
            });
        }
        Ok(())
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
        send_stream(self, peer, alpn, bytes).await
    }

    /// Sends raw bytes as one datagram on the pose connection to `peer`: for tests of
    /// hostile input.
    #[cfg(feature = "test-utils")]
    pub async fn send_raw_datagram(&self, peer: PeerId, bytes: &[u8]) -> Result<(), NetError> {
        send_datagram(self, peer, bytes).await
    }

    /// Sends raw bytes as one datagram on the voice connection to `peer`: for tests of
    /// hostile input.
    #[cfg(feature = "test-utils")]
    pub async fn send_raw_voice(&self, peer: PeerId, bytes: &[u8]) -> Result<(), NetError> {
        let out = self.dialer.get(peer, ALPN_VOICE).await?;
        out.connection
            .send_datagram(bytes::Bytes::copy_from_slice(bytes))
            .map_err(|err| NetError::Send(peer, err.to_string()))
    }
}

/// How long sending one stream may take, once connected.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// Sends `bytes` as one stream to `peer` on a connection for `alpn`, and waits until the
/// peer has read it.
pub(crate) async fn send_stream(
    node: &Node,
    peer: PeerId,
    alpn: &'static [u8],
    bytes: &[u8],
) -> Result<(), NetError> {
    let send_err = |err: String| NetError::Send(peer, err);
    let out = node.dialer.get(peer, alpn).await?;
    let attempt = async {
        let mut stream = out
            .connection
            .open_uni()
            .await
            .map_err(|e| send_err(e.to_string()))?;
        stream
            .write_all(bytes)
            .await
            .map_err(|e| send_err(e.to_string()))?;
        stream.finish().map_err(|e| send_err(e.to_string()))?;
        stream.stopped().await.map_err(|e| send_err(e.to_string()))?;
        Ok(())
    };
    let result = tokio::time::timeout(SEND_TIMEOUT, attempt)
        .await
        .map_err(|_| send_err("timed out".into()))?;
    if result.is_err() {
        node.dialer.forget(peer);
    }
    result
}

/// Sends one datagram to `peer` on the pose connection, dialing it if needed.
#[cfg(feature = "test-utils")]
pub(crate) async fn send_datagram(node: &Node, peer: PeerId, bytes: &[u8]) -> Result<(), NetError> {
    let out = node.dialer.get(peer, ALPN_POSE).await?;
    out.connection
        .send_datagram(bytes::Bytes::copy_from_slice(bytes))
        .map_err(|e| NetError::Send(peer, e.to_string()))
}
