//! Serving blobs to peers: only the ones the person chose to serve, counted per blob and
//! per peer.
//!
//! iroh-blobs' provider asks us about every connection and request (its event
//! interception); we answer from the catalogue's serving flags, so unchecking a blob stops
//! the next request for it at once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use iroh_blobs::provider::events::{
    AbortReason, ConnectMode, EventMask, EventSender, ObserveMode, ProviderMessage, RequestMode,
    RequestUpdate, ThrottleMode,
};
use sanctuary_protocols::{BlobHash, PeerId};

use super::catalogue::Catalogue;
use crate::node::peer_id;

/// Most blob connections open at once from one peer.
pub const MAX_BLOB_CONNECTIONS_PER_PEER: usize = 4;
/// Most blob connections open at once in all.
pub const MAX_BLOB_CONNECTIONS: usize = 256;
/// Most peers counted in [`ServedReport::per_peer`]; past it the smallest count is
/// folded into [`ServedReport::others`].
pub const MAX_SERVED_PEERS: usize = 256;

/// Most (blob, peer) pairs served privately at once ([`Gatekeeper::serve_to`]); past it the
/// oldest pair is forgotten.
pub const MAX_PRIVATE_SERVES: usize = 4096;

/// Bytes served since the client started.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServedReport {
    /// Payload bytes sent, per blob.
    pub per_blob: HashMap<BlobHash, u64>,
    /// Payload bytes sent, per peer.
    pub per_peer: HashMap<PeerId, u64>,
    /// Bytes sent to peers no longer listed one by one.
    pub others: u64,
    /// Requests refused because the blob is not served.
    pub refused: u64,
}

impl ServedReport {
    fn add(&mut self, hash: BlobHash, peer: Option<PeerId>, bytes: u64) {
        if bytes == 0 {
            return;
        }
        *self.per_blob.entry(hash).or_default() += bytes;
        let Some(peer) = peer else {
            self.others += bytes;
            return;
        };
        if !self.per_peer.contains_key(&peer)
            && self.per_peer.len() >= MAX_SERVED_PEERS
            && let Some((&smallest, &count)) = self.per_peer.iter().min_by_key(|(_, count)| **count)
        {
            self.per_peer.remove(&smallest);
            self.others += count;
        }
        *self.per_peer.entry(peer).or_default() += bytes;
    }
}

/// Decides which requests are answered and counts what was sent.
#[derive(Debug)]
pub(crate) struct Gatekeeper {
    /// The storage's catalogue: a blob is served while its entry is complete and marked
    /// for serving.
    pub catalogue: Arc<Mutex<Catalogue>>,
    pub served: Mutex<ServedReport>,
    /// Open connections: connection id to peer.
    connections: Mutex<HashMap<u64, PeerId>>,
    /// Blobs served to one peer each, whatever their serving flag, oldest first.
    private: Mutex<std::collections::VecDeque<(BlobHash, PeerId)>>,
}

impl Gatekeeper {
    pub fn new(catalogue: Arc<Mutex<Catalogue>>) -> Self {
        Self {
            catalogue,
            served: Mutex::default(),
            connections: Mutex::default(),
            private: Mutex::default(),
        }
    }

    /// Serves `hash` to `peer` from now on, whether or not it is served to everyone.
    pub fn serve_to(&self, hash: BlobHash, peer: PeerId) {
        let Ok(mut private) = self.private.lock() else {
            return;
        };
        if private.contains(&(hash, peer)) {
            return;
        }
        if private.len() >= MAX_PRIVATE_SERVES {
            private.pop_front();
        }
        private.push_back((hash, peer));
    }

    /// Whether `peer` may have `hash`: it is complete, and served to everyone or to them.
    fn is_served(&self, hash: BlobHash, peer: Option<PeerId>) -> bool {
        let (complete, public) = self
            .catalogue
            .lock()
            .ok()
            .and_then(|catalogue| {
                catalogue
                    .entries
                    .get(&hash)
                    .map(|entry| (entry.complete, entry.serving))
            })
            .unwrap_or((false, false));
        let private = || {
            peer.is_some_and(|peer| {
                self.private
                    .lock()
                    .is_ok_and(|private| private.contains(&(hash, peer)))
            })
        };
        complete && (public || private())
    }

    fn connected(&self, connection_id: u64, peer: Option<PeerId>) -> bool {
        let Some(peer) = peer else {
            return false;
        };
        let Ok(mut connections) = self.connections.lock() else {
            return false;
        };
        let mine = connections.values().filter(|open| **open == peer).count();
        if mine >= MAX_BLOB_CONNECTIONS_PER_PEER || connections.len() >= MAX_BLOB_CONNECTIONS {
            tracing::warn!(%peer, "refused a blob connection: over the connection limits");
            return false;
        }
        connections.insert(connection_id, peer);
        true
    }

    fn closed(&self, connection_id: u64) {
        if let Ok(mut connections) = self.connections.lock() {
            connections.remove(&connection_id);
        }
    }

    fn peer(&self, connection_id: u64) -> Option<PeerId> {
        self.connections.lock().ok()?.get(&connection_id).copied()
    }

    fn refused(&self) {
        if let Ok(mut served) = self.served.lock() {
            served.refused += 1;
        }
    }

    fn count(&self, hash: BlobHash, peer: Option<PeerId>, bytes: u64) {
        if let Ok(mut served) = self.served.lock() {
            served.add(hash, peer, bytes);
        }
    }
}

/// iroh-blobs' handler for the node's router, without its habit of shutting the store
/// down with the router: the store outlives any one node (a client that leaves a world
/// keeps its files).
#[derive(Debug, Clone)]
pub(crate) struct ServeBlobs(pub iroh_blobs::BlobsProtocol);

impl iroh::protocol::ProtocolHandler for ServeBlobs {
    async fn accept(
        &self,
        connection: iroh::endpoint::Connection,
    ) -> Result<(), iroh::protocol::AcceptError> {
        iroh::protocol::ProtocolHandler::accept(&self.0, connection).await
    }
}

/// The provider's event sender, and the task that answers it from `gate`. Must be called
/// inside a tokio runtime.
pub(crate) fn spawn_gate(gate: Arc<Gatekeeper>) -> EventSender {
    let mask = EventMask {
        connected: ConnectMode::Intercept,
        get: RequestMode::InterceptLog,
        get_many: RequestMode::Disabled,
        push: RequestMode::Disabled,
        observe: ObserveMode::Intercept,
        throttle: ThrottleMode::None,
    };
    let (sender, mut events) = EventSender::channel(64, mask);
    tokio::spawn(async move {
        while let Some(event) = events.recv().await {
            match event {
                ProviderMessage::ClientConnected(msg) => {
                    let peer = msg.inner.endpoint_id.map(peer_id);
                    let answer = match gate.connected(msg.inner.connection_id, peer) {
                        true => Ok(()),
                        false => Err(AbortReason::RateLimited),
                    };
                    msg.tx.send(answer).await.ok();
                }
                ProviderMessage::ConnectionClosed(msg) => gate.closed(msg.inner.connection_id),
                ProviderMessage::GetRequestReceived(msg) => {
                    let hash = BlobHash::from_bytes(*msg.inner.request.hash.as_bytes());
                    let peer = gate.peer(msg.inner.connection_id);
                    // Only whole-blob requests: a request for "children" would read a
                    // served blob as a list of other hashes and send those.
                    if !msg.inner.request.ranges.is_blob() || !gate.is_served(hash, peer) {
                        gate.refused();
                        msg.tx.send(Err(AbortReason::Permission)).await.ok();
                        continue;
                    }
                    msg.tx.send(Ok(())).await.ok();
                    let gate = gate.clone();
                    let mut updates = msg.rx;
                    tokio::spawn(async move {
                        while let Ok(Some(update)) = updates.recv().await {
                            match update {
                                RequestUpdate::Completed(done) => {
                                    gate.count(hash, peer, done.stats.payload_bytes_sent)
                                }
                                RequestUpdate::Aborted(aborted) => {
                                    gate.count(hash, peer, aborted.stats.payload_bytes_sent)
                                }
                                RequestUpdate::Started(_) | RequestUpdate::Progress(_) => {}
                            }
                        }
                    });
                }
                ProviderMessage::ObserveRequestReceived(msg) => {
                    let hash = BlobHash::from_bytes(*msg.inner.request.hash.as_bytes());
                    let answer = match gate.is_served(hash, gate.peer(msg.inner.connection_id)) {
                        true => Ok(()),
                        false => Err(AbortReason::Permission),
                    };
                    msg.tx.send(answer).await.ok();
                }
                ProviderMessage::GetManyRequestReceived(msg) => {
                    msg.tx.send(Err(AbortReason::Permission)).await.ok();
                }
                ProviderMessage::PushRequestReceived(msg) => {
                    msg.tx.send(Err(AbortReason::Permission)).await.ok();
                }
                ProviderMessage::Throttle(msg) => {
                    msg.tx.send(Ok(())).await.ok();
                }
                // Notifications we did not ask for.
                _ => {}
            }
        }
    });
    sender
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn served_bytes_are_counted_per_blob_and_peer_within_a_bound() {
        let mut report = ServedReport::default();
        let hash = BlobHash::from_bytes([1; 32]);
        for n in 0..(MAX_SERVED_PEERS + 10) {
            let mut bytes = [0u8; 32];
            bytes[..8].copy_from_slice(&(n as u64).to_le_bytes());
            report.add(hash, Some(PeerId::from_bytes(bytes)), 10 + n as u64);
        }
        assert!(report.per_peer.len() <= MAX_SERVED_PEERS);
        let listed: u64 = report.per_peer.values().sum();
        assert_eq!(listed + report.others, report.per_blob[&hash]);
        assert!(report.others > 0);
    }
}
