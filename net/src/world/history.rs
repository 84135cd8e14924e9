//! Earlier chat ([`ALPN_HISTORY`]): each peer keeps the last
//! [`HISTORY_LINES_MAX`] lines said in the room it is in, exactly as their authors signed
//! them, and tells a newcomer to that room what they were. A newcomer asks one room
//! neighbour at a time, checks every line itself, and shows what checks out as said
//! before it came.
//!
//! Answers are bounded like building syncs: at most [`ANSWERS_AT_ONCE`] at a time, each
//! within [`HISTORY_TIMEOUT`].

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use iroh::endpoint::Connection;
use iroh::protocol::{AcceptError, ProtocolHandler};
use sanctuary_protocols::alpn::ALPN_HISTORY;
use sanctuary_protocols::history::{
    HISTORY_ANSWER_MAX, HISTORY_ENVELOPE_MAX, HISTORY_LINES_MAX, HISTORY_REQUEST_MAX, HistoryAnswer,
    HistoryLine, HistoryRequest,
};
use sanctuary_protocols::{PeerId, SpaceName, WorldId};
use tokio::sync::Semaphore;

use crate::error::NetError;
use crate::node::{Node, peer_id};

/// Longest asking for, or answering with, earlier chat may take.
pub const HISTORY_TIMEOUT: Duration = Duration::from_secs(10);

/// Most answers being sent at once.
pub const ANSWERS_AT_ONCE: usize = 4;

/// How many room neighbours a newcomer asks, one after another, before it gives up.
pub(crate) const HISTORY_ASKS_MAX: usize = 3;

/// The lines kept of one room.
#[derive(Debug)]
struct RoomLines {
    world: WorldId,
    space: SpaceName,
    /// Oldest first: (author, their sequence number, the line).
    lines: VecDeque<(PeerId, u64, HistoryLine)>,
}

/// What the node keeps of the chat in the room it is in, shared between the world's task
/// (which writes) and the [`HistoryHandler`] (which reads).
#[derive(Debug, Default)]
pub(crate) struct ChatHistory {
    room: Mutex<Option<RoomLines>>,
    /// Lines were kept since the last [`ChatHistory::take_changed`].
    changed: AtomicBool,
}

impl ChatHistory {
    /// Starts keeping the room of `space` in `world`, forgetting any other.
    pub fn enter(&self, world: WorldId, space: SpaceName) {
        if let Ok(mut room) = self.room.lock() {
            *room = Some(RoomLines {
                world,
                space,
                lines: VecDeque::new(),
            });
        }
    }

    /// Stops keeping anything.
    pub fn clear(&self) {
        if let Ok(mut room) = self.room.lock() {
            *room = None;
        }
    }

    /// Whether the line `seq` of `author` is kept.
    pub fn holds(&self, author: PeerId, seq: u64) -> bool {
        self.room.lock().is_ok_and(|room| {
            room.as_ref()
                .is_some_and(|room| room.lines.iter().any(|(a, s, _)| *a == author && *s == seq))
        })
    }

    /// Keeps a line just said (the newest), dropping the oldest past the limit. Lines
    /// with envelopes too long to pass on are not kept.
    pub fn said(&self, author: PeerId, seq: u64, line: HistoryLine) {
        if !fits(&line) {
            return;
        }
        if let Ok(mut room) = self.room.lock()
            && let Some(room) = room.as_mut()
        {
            room.lines.push_back((author, seq, line));
            while room.lines.len() > HISTORY_LINES_MAX {
                room.lines.pop_front();
            }
            self.changed.store(true, Ordering::Relaxed);
        }
    }

    /// Keeps lines said before we came (oldest first), before everything heard since, as
    /// far as there is room.
    pub fn said_before(&self, space: &SpaceName, earlier: Vec<(PeerId, u64, HistoryLine)>) {
        if let Ok(mut room) = self.room.lock()
            && let Some(room) = room.as_mut()
            && room.space == *space
        {
            for line in earlier.into_iter().rev() {
                if room.lines.len() >= HISTORY_LINES_MAX {
                    break;
                }
                if fits(&line.2) {
                    room.lines.push_front(line);
                    self.changed.store(true, Ordering::Relaxed);
                }
            }
        }
    }

    /// Whether lines were kept since the last call.
    pub fn take_changed(&self) -> bool {
        self.changed.swap(false, Ordering::Relaxed)
    }

    /// The lines kept of the room of `space` in `world`, oldest first, as an answer would
    /// carry them (`None` if that room is not the one kept).
    pub fn kept(&self, world: WorldId, space: &SpaceName) -> Option<HistoryAnswer> {
        self.answer(&HistoryRequest {
            world,
            space: space.clone(),
        })
    }

    /// The answer to `request`: the kept lines, if it asks about the room we keep.
    fn answer(&self, request: &HistoryRequest) -> Option<HistoryAnswer> {
        let room = self.room.lock().ok()?;
        let room = room.as_ref()?;
        (room.world == request.world && room.space == request.space).then(|| HistoryAnswer {
            lines: room.lines.iter().map(|(_, _, line)| line.clone()).collect(),
        })
    }
}

fn fits(line: &HistoryLine) -> bool {
    line.chat.len() <= HISTORY_ENVELOPE_MAX
        && line
            .presence
            .as_ref()
            .is_none_or(|presence| presence.len() <= HISTORY_ENVELOPE_MAX)
}

/// Answers history requests with what the node keeps.
#[derive(Debug, Clone)]
pub(crate) struct HistoryHandler {
    history: Arc<ChatHistory>,
    answering: Arc<Semaphore>,
}

impl HistoryHandler {
    pub fn new(history: Arc<ChatHistory>) -> Self {
        Self {
            history,
            answering: Arc::new(Semaphore::new(ANSWERS_AT_ONCE)),
        }
    }
}

impl ProtocolHandler for HistoryHandler {
    async fn accept(&self, connection: Connection) -> Result<(), AcceptError> {
        let from = peer_id(connection.remote_id());
        while let Ok((mut send, mut recv)) = connection.accept_bi().await {
            let Ok(_permit) = self.answering.clone().try_acquire_owned() else {
                tracing::debug!(%from, "history refused: answering enough already");
                let _ = send.finish();
                continue;
            };
            let answer = async {
                let bytes = recv.read_to_end(HISTORY_REQUEST_MAX).await.ok()?;
                let request = HistoryRequest::decode(&bytes).ok()?;
                let answer = self.history.answer(&request).unwrap_or_default();
                send.write_all(&answer.encode()).await.ok()?;
                tracing::debug!(%from, space = %request.space, lines = answer.lines.len(), "told earlier chat");
                Some(())
            };
            let _ = tokio::time::timeout(HISTORY_TIMEOUT, answer).await;
            let _ = send.finish();
        }
        Ok(())
    }
}

/// Asks `peer` what was said in the room `request` names. The lines are not checked yet.
pub(crate) async fn fetch(
    node: &Node,
    peer: PeerId,
    request: HistoryRequest,
) -> Result<HistoryAnswer, NetError> {
    let err = |what: String| NetError::Send(peer, what);
    let attempt = async {
        let out = node.dialer.get(peer, ALPN_HISTORY).await?;
        let (mut send, mut recv) = out.connection.open_bi().await.map_err(|e| err(e.to_string()))?;
        send.write_all(&request.encode())
            .await
            .map_err(|e| err(e.to_string()))?;
        send.finish().map_err(|e| err(e.to_string()))?;
        let bytes = recv
            .read_to_end(HISTORY_ANSWER_MAX)
            .await
            .map_err(|e| err(e.to_string()))?;
        HistoryAnswer::decode(&bytes).map_err(|e| err(e.to_string()))
    };
    tokio::time::timeout(HISTORY_TIMEOUT, attempt)
        .await
        .map_err(|_| err("asking for earlier chat timed out".into()))?
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(n: u64) -> (PeerId, u64, HistoryLine) {
        let line = HistoryLine {
            chat: n.to_le_bytes().to_vec(),
            presence: None,
        };
        (PeerId::from_bytes([1; 32]), n, line)
    }

    fn told(history: &ChatHistory, world: WorldId, space: &str) -> Vec<u64> {
        let request = HistoryRequest {
            world,
            space: SpaceName::new(space).unwrap(),
        };
        history
            .answer(&request)
            .map(|answer| {
                answer
                    .lines
                    .iter()
                    .map(|line| u64::from_le_bytes(line.chat[..8].try_into().unwrap()))
                    .collect()
            })
            .unwrap_or_default()
    }

    #[test]
    fn a_room_keeps_its_last_fifty_lines_and_tells_only_about_itself() {
        let world = WorldId([2; 32]);
        let history = ChatHistory::default();
        history.enter(world, SpaceName::new("lobby").unwrap());
        for n in 0..60 {
            let (author, seq, said) = line(n);
            history.said(author, seq, said);
        }
        assert_eq!(told(&history, world, "lobby"), (10..60).collect::<Vec<_>>());
        assert!(history.holds(PeerId::from_bytes([1; 32]), 59));
        assert!(!history.holds(PeerId::from_bytes([1; 32]), 9));
        // Another space, another world: nothing.
        assert!(told(&history, world, "market").is_empty());
        assert!(told(&history, WorldId([3; 32]), "lobby").is_empty());

        // Lines told by someone else go before what was heard since, as far as there is room.
        history.enter(world, SpaceName::new("market").unwrap());
        for n in 100..148 {
            let (author, seq, said) = line(n);
            history.said(author, seq, said);
        }
        history.said_before(&SpaceName::new("market").unwrap(), (0..5).map(line).collect());
        let market = told(&history, world, "market");
        assert_eq!(market.len(), HISTORY_LINES_MAX);
        assert_eq!(market[..2], [3, 4]);
        assert_eq!(market[2], 100);
        // A line too long to pass on is not kept.
        let (author, _, mut long) = line(7);
        long.chat = vec![0; HISTORY_ENVELOPE_MAX + 1];
        history.said(author, 999, long);
        assert!(!history.holds(author, 999));
        history.clear();
        assert!(told(&history, world, "market").is_empty());
    }
}
