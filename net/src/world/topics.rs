//! The gossip topics of a world, and the readers that move what they deliver to the
//! world's actor.
//!
//! A reader never waits: each delivered message first passes the gossip budgets (per
//! delivering neighbour and per topic, [`Gate::admit_gossip`](crate::gate)), then goes into
//! the actor's queue if there is room, and is dropped and counted if not. A flood is
//! therefore dropped where it enters, and the subscription is drained as fast as gossip
//! fills it, so it does not lag and lose honest messages behind the flood.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Instant;

use iroh_gossip::TopicId;
use iroh_gossip::api::{Event as GossipEvent, GossipSender, JoinOptions};
use n0_future::StreamExt;
use sanctuary_protocols::{PeerId, SpaceName, WorldId};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::WorldShared;
use crate::error::NetError;
use crate::gate::TopicBudget;
use crate::inbound::{Inbound, TopicKind};
use crate::node::{Node, endpoint_id, peer_id};

/// Subscription capacity for gossip topics: how many events may wait for the reader before
/// gossip drops the subscription (which the actor then renews).
const TOPIC_CAPACITY: usize = 4096;

/// The world-wide topic of `world`: presence of everyone in it.
pub fn world_topic(world: &WorldId) -> TopicId {
    let mut hasher = blake3::Hasher::new_derive_key("sanctuary/world/0");
    hasher.update(world.as_bytes());
    TopicId::from_bytes(*hasher.finalize().as_bytes())
}

/// The room topic of `space` in `world`: chat and far-away poses of that space.
pub fn room_topic(world: &WorldId, space: &SpaceName) -> TopicId {
    let mut hasher = blake3::Hasher::new_derive_key("sanctuary/room/0");
    hasher.update(world.as_bytes());
    hasher.update(&(space.as_str().len() as u64).to_le_bytes());
    hasher.update(space.as_str().as_bytes());
    TopicId::from_bytes(*hasher.finalize().as_bytes())
}

/// One subscription: the sender half, and the reader task feeding the actor.
pub(crate) struct Topic {
    pub sender: GossipSender,
    pub generation: u64,
    pub neighbors: HashSet<PeerId>,
    reader: JoinHandle<()>,
}

impl Drop for Topic {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

/// Subscribes to `topic`, bootstrapping from `bootstrap`, and starts its reader.
pub(crate) async fn subscribe(
    node: &Node,
    topic: TopicId,
    bootstrap: &[PeerId],
    kind: TopicKind,
    generation: u64,
    inbound: &mpsc::Sender<Inbound>,
    shared: &Arc<WorldShared>,
) -> Result<Topic, NetError> {
    let ids = bootstrap.iter().filter_map(|peer| endpoint_id(*peer).ok());
    let mut options = JoinOptions::with_bootstrap(ids);
    options.subscription_capacity = TOPIC_CAPACITY;
    let subscription = node
        .gossip
        .subscribe_with_opts(topic, options)
        .await
        .map_err(|err| NetError::Gossip(err.to_string()))?;
    let (sender, mut receiver) = subscription.split();
    let inbound = inbound.clone();
    let shared = shared.clone();
    let budget = match kind {
        TopicKind::World => TopicBudget::World,
        TopicKind::Room => TopicBudget::Room,
    };
    let started = Instant::now();
    let reader = tokio::spawn(async move {
        while let Some(Ok(event)) = receiver.next().await {
            let now_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
            if let GossipEvent::Received(message) = &event {
                let neighbour = peer_id(message.delivered_from);
                let admitted = shared
                    .gate
                    .lock()
                    .is_ok_and(|mut gate| gate.admit_gossip(neighbour, budget, now_ms));
                if !admitted {
                    continue;
                }
            }
            let item = Inbound::Gossip {
                kind,
                generation,
                event,
            };
            match inbound.try_send(item) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(item)) => {
                    if let Inbound::Gossip {
                        event: GossipEvent::Received(_),
                        ..
                    } = item
                    {
                        if let Ok(mut gate) = shared.gate.lock() {
                            gate.reject_overflow(now_ms);
                        }
                    } else if inbound.send(item).await.is_err() {
                        // Neighbour changes are few and matter: wait for room.
                        return;
                    }
                }
                Err(mpsc::error::TrySendError::Closed(_)) => return,
            }
        }
        let _ = inbound.send(Inbound::TopicClosed { kind, generation }).await;
    });
    Ok(Topic {
        sender,
        generation,
        neighbors: HashSet::new(),
        reader,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_differ_per_world_and_space() {
        let w1 = WorldId([1; 32]);
        let w2 = WorldId([2; 32]);
        let lobby = SpaceName::new("lobby").unwrap();
        let market = SpaceName::new("market").unwrap();
        let all = [
            world_topic(&w1),
            world_topic(&w2),
            room_topic(&w1, &lobby),
            room_topic(&w1, &market),
            room_topic(&w2, &lobby),
        ];
        for (i, a) in all.iter().enumerate() {
            for b in &all[i + 1..] {
                assert_ne!(a, b);
            }
        }
        assert_eq!(room_topic(&w1, &lobby), room_topic(&w1, &lobby));
    }
}
