//! The outbox: items waiting to reach friends' nodes, delivered a round at a time and
//! retried with a growing wait for nodes that did not answer.

use super::*;

impl Home {
    /// One delivery round: every friend with items waiting, at most
    /// [`DELIVERY_PARALLEL`] at once, skipping nodes that are waiting to be tried again.
    pub(super) async fn deliver_round(&self) -> Result<(), HomeError> {
        let Some(endpoint) = self.endpoint() else {
            return Ok(());
        };
        // Each friend's own items, so that one friend's long queue never holds up the
        // others; friends waiting to be tried again are left out before anything is read.
        let now = Instant::now();
        let waiting: Vec<PeerId> = match self.inner.retry.lock() {
            Ok(retry) => retry
                .iter()
                .filter(|(_, (at, _))| *at > now)
                .map(|(friend, _)| *friend)
                .collect(),
            Err(_) => Vec::new(),
        };
        let mut by_friend: BTreeMap<PeerId, Vec<SignedItem>> = BTreeMap::new();
        for friend in self.friends_for(&Audience::Friends).unwrap_or_default() {
            if waiting.contains(&friend) {
                continue;
            }
            let items = self.inner.store.outbox_for(friend, DELIVERY_BATCH)?;
            if !items.is_empty() {
                by_friend.insert(friend, items);
            }
        }
        let gate = Arc::new(Semaphore::new(DELIVERY_PARALLEL));
        let tasks = by_friend.into_iter().map(|(friend, mut items)| {
            let endpoint = endpoint.clone();
            let gate = gate.clone();
            // Posts first, so that what is said under a post never arrives before it.
            items.sort_by_key(|item| !matches!(item.item.body, ItemBody::Post { .. }));
            async move {
                let _permit = gate.acquire().await;
                let reached = self.deliver_to(&endpoint, friend, items).await;
                if let Ok(mut retry) = self.inner.retry.lock() {
                    match reached {
                        true => {
                            retry.remove(&friend);
                        }
                        false => {
                            let wait = retry
                                .get(&friend)
                                .map_or(RETRY_FIRST, |(_, wait)| (*wait * 2).min(RETRY_MAX));
                            retry.insert(friend, (Instant::now() + wait, wait));
                        }
                    }
                }
            }
        });
        n0_future::join_all(tasks).await;
        Ok(())
    }

    /// Delivers `items` to `friend`'s node; false if the node could not be reached.
    pub(super) async fn deliver_to(
        &self,
        endpoint: &Endpoint,
        friend: PeerId,
        items: Vec<SignedItem>,
    ) -> bool {
        let store = &self.inner.store;
        let address = match store.friend(friend) {
            Ok(Some(entry)) if entry.state == FriendState::Friends => entry.address,
            // Not (or not yet, or no longer) a friend: keep waiting.
            _ => return true,
        };
        let Ok(connection) = HomeConnection::connect(endpoint, &address).await else {
            return false;
        };
        let mut reached = true;
        for item in items {
            match connection.ask(&Request::Deliver(item.clone())).await {
                Ok(Response::Done) => {
                    self.emit(HomeEvent::Delivered {
                        item: item.id(),
                        to: friend,
                    });
                }
                Ok(Response::Refused { reason, detail }) => {
                    tracing::warn!(%friend, item = %item.id(), ?reason, %detail, "a friend's node refused an item");
                    // Busy, failing, or not (yet, or any more) counting us as a friend:
                    // try again later rather than lose the item.
                    if matches!(reason, Refusal::TooMany | Refusal::Failed | Refusal::NotAllowed) {
                        reached = false;
                        break;
                    }
                }
                Ok(_) => {}
                Err(_) => {
                    reached = false;
                    break;
                }
            }
            if let Err(err) = store.delivered(friend, item.id()) {
                tracing::warn!(%err, "could not update the outbox");
            }
        }
        connection.close();
        reached
    }
}

/// Delivers the outbox now and then, and whenever something is added, while the home
/// is attached to a node.
pub(super) async fn deliver_loop(inner: Weak<Inner>, generation: u64) {
    loop {
        let Some(strong) = inner.upgrade() else {
            return;
        };
        let home = Home { inner: strong };
        // Detached, or attached again (a newer loop delivers now).
        if home.endpoint().is_none() || home.inner.generation.load(Ordering::Relaxed) != generation {
            return;
        }
        let woken = home.inner.wake.notified();
        if let Err(err) = home.deliver_round().await {
            tracing::warn!(%err, "delivering the outbox");
        }
        let wake = async {
            woken.await;
        };
        tokio::select! {
            () = wake => {}
            () = tokio::time::sleep(DELIVERY_TICK) => {}
        }
    }
}
