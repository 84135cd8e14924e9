//! Pairing devices and making friends: the requests between a person, their node and
//! other people's nodes.

use super::*;

impl Home {
    pub(super) fn pair(&self, caller: PeerId, code: &str, device_name: String) -> Result<Response, Refused> {
        check_name(&device_name)?;
        {
            let mut slot = self
                .inner
                .pairing
                .lock()
                .map_err(|_| Refused(Refusal::Failed, "poisoned".into()))?;
            let Some(current) = slot.as_mut().filter(|current| Instant::now() < current.until) else {
                *slot = None;
                return refuse(
                    Refusal::BadCode,
                    "no pairing code is open; show a new one on the node",
                );
            };
            if current.code != code.trim() {
                current.tries += 1;
                if current.tries >= PAIRING_TRIES_MAX {
                    *slot = None;
                }
                return refuse(Refusal::BadCode, "wrong pairing code");
            }
            // One pairing per code.
            *slot = None;
        }
        let device = DeviceView {
            device: caller,
            name: device_name.clone(),
            paired_ms: unix_ms(),
            revoked_ms: None,
        };
        self.inner.store.put_device(&device)?;
        self.emit(HomeEvent::Paired {
            device: caller,
            name: device_name,
            check: pairing_check(self.id(), caller),
        });
        Ok(Response::Paired {
            node: self.id(),
            name: self.inner.store.profile()?.name,
        })
    }

    pub(super) fn friend_request(
        &self,
        caller: PeerId,
        name: String,
        address: HomeAddress,
    ) -> Result<Response, Refused> {
        check_name(&name)?;
        if address.node != caller || !address.is_valid() {
            return refuse(Refusal::Forged, "the address is not the calling node's");
        }
        let store = &self.inner.store;
        match store.friend(caller)? {
            Some(mut friend) if friend.state == FriendState::Friends => {
                // Friends already (their node may have lost track): say so, so they mend it.
                friend.address = address;
                store.put_friend(&friend)?;
            }
            Some(mut friend) if friend.state == FriendState::Asked => {
                // Both asked: that is a yes on both sides.
                friend.state = FriendState::Friends;
                friend.name = name.clone();
                friend.address = address;
                store.put_friend(&friend)?;
                self.tell(Some(caller), format!("{name} and you are friends"));
                self.emit(HomeEvent::Friends { node: caller, name });
            }
            Some(_) => {}
            None => {
                let waiting = store
                    .friends()?
                    .iter()
                    .filter(|f| f.state == FriendState::AskedUs)
                    .count();
                if waiting >= PENDING_REQUESTS_MAX {
                    return refuse(Refusal::TooMany, "too many friend requests are waiting");
                }
                store.put_friend(&FriendView {
                    node: caller,
                    name: name.clone(),
                    address,
                    state: FriendState::AskedUs,
                    group: None,
                    waiting: 0,
                })?;
                self.tell(Some(caller), format!("{name} asks to be your friend"));
                self.emit(HomeEvent::FriendRequest { node: caller, name });
            }
        }
        // The answer says whether the asker is now a friend here.
        let friends = store
            .friend(caller)?
            .is_some_and(|f| f.state == FriendState::Friends);
        Ok(match friends {
            true => Response::Hello {
                node: self.id(),
                name: store.profile()?.name,
                you: Role::Friend,
            },
            false => Response::Done,
        })
    }

    pub(super) async fn add_friend(&self, address: HomeAddress) -> Result<Response, Refused> {
        let store = &self.inner.store;
        if !address.is_valid() || address.node == self.id() {
            return refuse(Refusal::Malformed, "not another node's address");
        }
        let before = store.friend(address.node)?;
        if before.as_ref().is_some_and(|f| f.state == FriendState::Friends) {
            return Ok(Response::Done);
        }
        let name = store.profile()?.name;
        let mine = self
            .address()
            .ok_or_else(|| Refused(Refusal::Failed, "offline".into()))?;
        let them = self.ask_node(&address, &Request::Hello).await?;
        let their_name = match them {
            Response::Hello { name, .. } if check_name(&name).is_ok() => name,
            _ => String::new(),
        };
        let answer = self
            .ask_node(&address, &Request::FriendRequest { name, address: mine })
            .await?;
        // Their node says when we are friends there now (they asked us too, or we were
        // friends all along); and a request of theirs that came meanwhile makes ours a yes.
        let asked_us = store
            .friend(address.node)?
            .is_some_and(|f| f.state == FriendState::AskedUs);
        let state = match answer {
            Response::Hello {
                you: Role::Friend, ..
            } => FriendState::Friends,
            _ if asked_us => FriendState::Friends,
            _ => FriendState::Asked,
        };
        store.put_friend(&FriendView {
            node: address.node,
            name: their_name.clone(),
            address: address.clone(),
            state,
            group: None,
            waiting: 0,
        })?;
        if state == FriendState::Friends {
            self.emit(HomeEvent::Friends {
                node: address.node,
                name: their_name,
            });
        }
        Ok(Response::Done)
    }

    /// Asks another node, as this node; a refusal or no answer is the caller's refusal.
    pub(super) async fn ask_node(
        &self,
        address: &HomeAddress,
        request: &Request,
    ) -> Result<Response, Refused> {
        let endpoint = self
            .endpoint()
            .ok_or_else(|| Refused(Refusal::Failed, "offline".into()))?;
        let connection = HomeConnection::connect(&endpoint, address).await?;
        let answer = connection.ask(request).await;
        connection.close();
        match answer? {
            Response::Refused { reason, detail } => {
                refuse(Refusal::Failed, format!("their node said {reason:?}: {detail}"))
            }
            response => Ok(response),
        }
    }
}
