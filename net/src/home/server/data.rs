//! The person's data as a whole: counts, export, import and deleting everything.

use super::*;

impl Home {
    pub(super) fn status(&self) -> Result<NodeStatus, Refused> {
        let store = &self.inner.store;
        let me = self.id();
        let items = store.posts()?.into_iter().chain(store.replies()?);
        let (mut own_items, mut friends_items) = (0, 0);
        for item in items {
            match item.item.id.author == me {
                true => own_items += 1,
                false => friends_items += 1,
            }
        }
        let refused = self
            .inner
            .refused
            .lock()
            .map(|counts| counts.iter().map(|(k, v)| (*k, *v)).collect())
            .unwrap_or_default();
        Ok(NodeStatus {
            node: me,
            own_items,
            friends_items,
            friends: self.friends_for(&Audience::Friends)?.len() as u32,
            outbox: store.outbox_len()?,
            refused,
        })
    }

    /// Everything this node holds but file bytes.
    pub fn export(&self) -> Result<HomeExport, HomeError> {
        let store = &self.inner.store;
        let mut items = store.posts()?;
        items.extend(store.replies()?);
        items.sort_by_key(|item| (item.item.created_ms, item.id()));
        Ok(HomeExport {
            node: self.id(),
            profile: store.profile()?,
            friends: store.friends()?,
            grants: store.grants()?,
            items,
            inbox: store.inbox(usize::MAX)?,
            files: self.files(),
        })
    }

    /// Takes in an export: the profile, friends, grants, the inbox
    /// and every item whose signature checks. Files come separately.
    pub(super) fn import(&self, export: HomeExport) -> Result<(), Refused> {
        let store = &self.inner.store;
        for item in &export.items {
            item.verify()?;
        }
        for friend in &export.friends {
            if !friend.address.is_valid() || friend.node != friend.address.node {
                return refuse(Refusal::Malformed, "a friend's address is not theirs");
            }
        }
        store.set_profile(&export.profile)?;
        for friend in &export.friends {
            if friend.node != self.id() {
                store.put_friend(&FriendView {
                    waiting: 0,
                    ..friend.clone()
                })?;
            }
        }
        for grant in &export.grants {
            store.put_grant(grant)?;
        }
        for item in &export.items {
            store.put_item(item, &[])?;
        }
        for entry in export.inbox.iter().rev() {
            store.tell(entry)?;
        }
        Ok(())
    }

    /// Asks every friend's node to delete the person's items, then removes everything.
    pub(super) async fn delete_everything(&self) -> Result<(), Refused> {
        let store = &self.inner.store;
        let me = self.id();
        let mut own: Vec<ItemId> = store
            .posts()?
            .iter()
            .chain(&store.replies()?)
            .map(|i| i.id())
            .filter(|id| id.author == me)
            .collect();
        own.sort();
        let friends: Vec<FriendView> = store
            .friends()?
            .into_iter()
            .filter(|f| f.state == FriendState::Friends)
            .collect();
        let deletions: Vec<SignedItem> = own
            .into_iter()
            .map(|item| self.sign(ItemBody::Delete { item }, None))
            .collect::<Result<_, _>>()?;
        if let Some(endpoint) = self.endpoint() {
            let tasks = friends.into_iter().map(|friend| {
                let endpoint = endpoint.clone();
                let deletions = deletions.clone();
                async move {
                    let Ok(connection) = HomeConnection::connect(&endpoint, &friend.address).await else {
                        tracing::warn!(node = %friend.node, "a friend's node was not reached to delete our items");
                        return;
                    };
                    for item in deletions {
                        if connection.ask(&Request::Deliver(item)).await.is_err() {
                            break;
                        }
                    }
                    connection.close();
                }
            });
            n0_future::join_all(tasks).await;
        }
        store.wipe()?;
        for file in self.inner.storage.entries() {
            self.inner
                .storage
                .delete(file.hash)
                .await
                .map_err(HomeError::from)?;
        }
        Ok(())
    }
}
