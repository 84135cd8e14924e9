//! The pool of outgoing connections: each peer is dialed once per protocol, failed dials
//! wait before the next try, and new dials are rate limited, so announcements from many
//! identities cannot turn this node into a dialing machine.

use std::collections::HashMap;
use std::sync::atomic::AtomicU32;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use iroh::Endpoint;
use iroh::endpoint::Connection;
use sanctuary_protocols::{PeerId, RateLimiter};

use crate::error::NetError;
use crate::node::endpoint_id;

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

/// How far a peer's connection for one protocol has got, best first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Reach {
    /// An open connection.
    Ready,
    /// Never dialed, or being dialed now.
    Untried,
    /// The last dial failed.
    Failed,
}

/// How long to wait before dialing a peer again after a failed attempt.
const REDIAL_AFTER: Duration = Duration::from_secs(2);

/// How long one dial may take.
const DIAL_TIMEOUT: Duration = Duration::from_secs(10);

/// New dials per second, all peers together, and the burst allowed.
const DIALS_PER_SECOND: u32 = 20;
const DIAL_BURST: u32 = 40;

/// Most connection slots kept; the roster cap keeps honest use far below this.
const MAX_SLOTS: usize = 2048;

/// Pool of outgoing connections, one per (peer, protocol).
#[derive(Debug, Clone)]
pub(crate) struct Dialer {
    endpoint: Endpoint,
    slots: Arc<Mutex<HashMap<(PeerId, &'static [u8]), Slot>>>,
    budget: Arc<Mutex<RateLimiter>>,
    started: Instant,
}

impl Dialer {
    pub fn new(endpoint: Endpoint) -> Self {
        Self {
            endpoint,
            slots: Arc::default(),
            budget: Arc::new(Mutex::new(RateLimiter::new(DIALS_PER_SECOND, DIAL_BURST))),
            started: Instant::now(),
        }
    }

    fn may_dial(&self) -> bool {
        let now_ms = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.budget
            .lock()
            .is_ok_and(|mut budget| budget.try_acquire(now_ms))
    }

    /// How far the connection to each of `peers` for `alpn` has got, in order (one lock
    /// for them all: this runs with every pose).
    pub fn reach(&self, peers: &[PeerId], alpn: &'static [u8]) -> Vec<Reach> {
        let Ok(slots) = self.slots.lock() else {
            return vec![Reach::Untried; peers.len()];
        };
        peers
            .iter()
            .map(|peer| match slots.get(&(*peer, alpn)) {
                Some(Slot::Ready(out)) if out.connection.close_reason().is_none() => Reach::Ready,
                Some(Slot::Failed(_)) => Reach::Failed,
                _ => Reach::Untried,
            })
            .collect()
    }

    /// The open connection to `peer` for `alpn` if there is one; otherwise starts dialing
    /// in the background (unless a dial is under way, failed recently, or the dial budget
    /// is spent) and returns `None`.
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
        if slots.len() >= MAX_SLOTS && !slots.contains_key(&(peer, alpn)) {
            slots.retain(
                |_, slot| matches!(slot, Slot::Ready(out) if out.connection.close_reason().is_none()),
            );
            if slots.len() >= MAX_SLOTS {
                return None;
            }
        }
        if !self.may_dial() {
            return None;
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
        if !self.may_dial() {
            return Err(NetError::Connect(
                peer,
                "too many new connections; try again".into(),
            ));
        }
        self.dial(peer, alpn).await
    }

    async fn dial(&self, peer: PeerId, alpn: &'static [u8]) -> Result<Outgoing, NetError> {
        let id = endpoint_id(peer)?;
        let result = tokio::time::timeout(DIAL_TIMEOUT, self.endpoint.connect(id, alpn)).await;
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

    pub fn close_all(&self) {
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
