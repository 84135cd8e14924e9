//! The world's events queue as the actor sees it: it never waits on the application.
//!
//! Events go into a bounded channel. When it is full, reliable events (presence, chat,
//! direct, leave) wait in a bounded backlog, and pose events are coalesced per peer (newest
//! wins); what does not fit is counted as dropped.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::Ordering;

use sanctuary_protocols::PeerId;
use tokio::sync::mpsc;

use super::{WorldEvent, WorldShared};

/// Most reliable events waiting for room in a full events queue.
const BACKLOG_MAX: usize = 4096;

pub(crate) struct EventQueue {
    tx: mpsc::Sender<WorldEvent>,
    backlog: VecDeque<WorldEvent>,
    pending_poses: HashMap<PeerId, WorldEvent>,
}

impl EventQueue {
    pub fn new(tx: mpsc::Sender<WorldEvent>) -> Self {
        Self {
            tx,
            backlog: VecDeque::new(),
            pending_poses: HashMap::new(),
        }
    }

    /// A sender to reserve room with, for the actor's select loop.
    pub fn sender(&self) -> mpsc::Sender<WorldEvent> {
        self.tx.clone()
    }

    /// Whether events are waiting for room.
    pub fn waiting(&self) -> bool {
        !self.backlog.is_empty() || !self.pending_poses.is_empty()
    }

    /// The next waiting event, backlog first.
    pub fn next_waiting(&mut self) -> Option<WorldEvent> {
        if let Some(event) = self.backlog.pop_front() {
            return Some(event);
        }
        let peer = self.pending_poses.keys().next().copied()?;
        self.pending_poses.remove(&peer)
    }

    /// The application is gone: forget what waits.
    pub fn clear(&mut self) {
        self.backlog.clear();
        self.pending_poses.clear();
    }

    /// A peer left: its waiting pose goes.
    pub fn forget(&mut self, peer: &PeerId) {
        self.pending_poses.remove(peer);
    }

    /// Best effort, for reports of refusals: dropped when the queue is full.
    pub fn try_emit(&self, event: WorldEvent) {
        let _ = self.tx.try_send(event);
    }

    /// For events where only the newest matter (voice): sent now if there is room, else
    /// dropped and counted.
    pub fn emit_lossy(&self, event: WorldEvent, shared: &WorldShared) {
        if let Err(mpsc::error::TrySendError::Full(_)) = self.tx.try_send(event) {
            shared.dropped_events.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub fn emit(&mut self, event: WorldEvent, shared: &WorldShared) {
        if let WorldEvent::Pose { peer, .. } = &event {
            let peer = *peer;
            if !self.waiting() {
                match self.tx.try_send(event) {
                    Ok(()) | Err(mpsc::error::TrySendError::Closed(_)) => return,
                    Err(mpsc::error::TrySendError::Full(event)) => {
                        self.pending_poses.insert(peer, event);
                        return;
                    }
                }
            }
            if self.pending_poses.insert(peer, event).is_some()
                && let Ok(mut gate) = shared.gate.lock()
            {
                gate.note_coalesced_pose();
            }
            return;
        }
        if self.backlog.is_empty() {
            match self.tx.try_send(event) {
                Ok(()) | Err(mpsc::error::TrySendError::Closed(_)) => return,
                Err(mpsc::error::TrySendError::Full(event)) => {
                    self.backlog.push_back(event);
                    return;
                }
            }
        }
        if self.backlog.len() < BACKLOG_MAX {
            self.backlog.push_back(event);
        } else {
            shared.dropped_events.fetch_add(1, Ordering::Relaxed);
            tracing::warn!("events queue and backlog full: dropped an event");
        }
    }
}
