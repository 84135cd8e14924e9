//! Posts, comments and likes: signing the person's, taking friends' deliveries, and the
//! wall they make.

use super::*;

impl Home {
    /// Signs the person's item, dated `written_ms` (when they made it, if that was in
    /// the last [`WRITTEN_PAST_MAX`]) or now.
    pub(super) fn sign(&self, body: ItemBody, written_ms: Option<u64>) -> Result<SignedItem, Refused> {
        let now = unix_ms();
        let seq = self.inner.store.next_seq(now)?;
        let created = written_ms
            .filter(|written| *written <= now && now - written <= WRITTEN_PAST_MAX)
            .unwrap_or(now);
        Ok(SignedItem::sign(&self.inner.keypair, seq, created, body)?)
    }

    /// The friends (not requests) a post for `audience` goes to.
    pub(super) fn friends_for(&self, audience: &Audience) -> Result<Vec<PeerId>, Refused> {
        Ok(self
            .inner
            .store
            .friends()?
            .into_iter()
            .filter(|f| f.state == FriendState::Friends)
            .filter(|f| match audience {
                Audience::Friends => true,
                Audience::Group(group) => f.group.as_ref() == Some(group),
            })
            .map(|f| f.node)
            .collect())
    }

    pub(super) async fn post(
        &self,
        text: String,
        audience: Audience,
        uploads: Vec<Upload>,
        written_ms: Option<u64>,
    ) -> Result<Response, Refused> {
        if uploads.len() > PICTURES_MAX {
            return Err(ItemError::TooManyPictures(uploads.len()).into());
        }
        // Check the post before its pictures take any room.
        let placeholder = |upload: &Upload| Picture {
            hash: BlobHash::from_bytes([0; 32]),
            name: upload.name.clone(),
            size: upload.bytes.len() as u64,
        };
        let draft = Item {
            id: ItemId {
                author: self.id(),
                seq: 0,
            },
            created_ms: 0,
            body: ItemBody::Post {
                text: text.clone(),
                pictures: uploads.iter().map(placeholder).collect(),
                audience: audience.clone(),
            },
        };
        draft.validate()?;
        let mut pictures = Vec::new();
        for upload in uploads {
            let file = self.add_file(upload).await?;
            // Readers' nodes fetch it from here by its hash, which only the post names.
            self.inner
                .storage
                .set_serving(file.hash, true)
                .map_err(HomeError::from)?;
            pictures.push(Picture {
                hash: file.hash,
                name: file.name,
                size: file.size,
            });
        }
        let to = self.friends_for(&audience)?;
        let item = self.sign(
            ItemBody::Post {
                text,
                pictures,
                audience,
            },
            written_ms,
        )?;
        self.inner.store.put_item(&item, &to)?;
        self.inner.wake.notify_one();
        Ok(Response::Posted(item.id()))
    }

    /// A comment or like by the person on `post`: kept here and sent to the post's node,
    /// or, on their own post, to the friends who have it.
    pub(super) fn reply(
        &self,
        post: ItemId,
        body: ItemBody,
        written_ms: Option<u64>,
    ) -> Result<Response, Refused> {
        let store = &self.inner.store;
        let Some(original) = store.post(post)? else {
            return refuse(Refusal::NotFound, "no such post here");
        };
        let to = if post.author == self.id() {
            let ItemBody::Post { audience, .. } = &original.item.body else {
                return refuse(Refusal::NotFound, "not a post");
            };
            self.friends_for(audience)?
        } else if store
            .friend(post.author)?
            .is_some_and(|f| f.state == FriendState::Friends)
        {
            vec![post.author]
        } else {
            return refuse(Refusal::NotAllowed, "that post's author is not a friend any more");
        };
        let item = self.sign(body, written_ms)?;
        store.put_item(&item, &to)?;
        self.inner.wake.notify_one();
        Ok(Response::Posted(item.id()))
    }

    /// An item a friend's node delivers.
    pub(super) fn take_delivery(&self, from: PeerId, item: SignedItem) -> Result<Response, Refused> {
        item.verify()?;
        if !matches!(item.item.body, ItemBody::Delete { .. })
            && item.item.created_ms
                > unix_ms().saturating_add(sanctuary_protocols::limits::TIMESTAMP_SKEW_MAX_MS)
        {
            // It would stay on top of every wall. The sender's clock runs ahead: it tries
            // again later, when ours has caught up.
            return refuse(
                Refusal::Failed,
                "dated ahead of this node's clock; send it again later",
            );
        }
        let store = &self.inner.store;
        let me = self.id();
        let author = item.item.id.author;
        // What is held already (a delivery whose answer was lost, sent again) is taken
        // again quietly: no second inbox line, no second forwarding.
        let new = !store.holds(&item)?;
        let mut forward = Vec::new();
        let mut told = None;
        match &item.item.body {
            ItemBody::Post { pictures, .. } => {
                if author != from {
                    return refuse(Refusal::Forged, "a node delivers only its own person's posts");
                }
                if new {
                    self.fetch_pictures(from, pictures.clone());
                }
            }
            ItemBody::Comment { post, .. } | ItemBody::Like { post } => {
                let Some(original) = store.post(*post)? else {
                    return refuse(Refusal::NotFound, "no such post here");
                };
                if post.author == me {
                    if author != from {
                        return refuse(
                            Refusal::Forged,
                            "a node delivers only its own person's comments on our posts",
                        );
                    }
                    // Only those the post was for may answer it.
                    let ItemBody::Post { audience, .. } = &original.item.body else {
                        return refuse(Refusal::NotFound, "not a post");
                    };
                    if !self.friends_for(audience)?.contains(&from) {
                        return refuse(Refusal::NotFound, "no such post here");
                    }
                    if new {
                        forward = self.forward_to(*post, from)?;
                        let name = store.friend(from)?.map(|f| f.name).unwrap_or_default();
                        told = Some(match &item.item.body {
                            ItemBody::Comment { text, .. } => {
                                format!("{name} commented on your post: {text}")
                            }
                            _ => format!("{name} liked your post"),
                        });
                    }
                } else if post.author != from {
                    return refuse(
                        Refusal::NotAllowed,
                        "only the post's node passes on what others said",
                    );
                }
            }
            ItemBody::Delete { item: gone } => {
                let under = self.reply_parent(*gone)?;
                if author == from {
                    if let Some(post) = under
                        && post.author == me
                    {
                        forward = self.forward_to(post, from)?;
                    }
                } else if under.is_none_or(|post| post.author != from) {
                    return refuse(
                        Refusal::NotAllowed,
                        "only the post's node passes on others' deletions",
                    );
                }
            }
        }
        if let Some(text) = told {
            self.tell(Some(from), text);
        }
        if store.put_item(&item, &forward)? {
            self.emit(HomeEvent::Received {
                item: item.id(),
                from,
            });
        }
        if !forward.is_empty() {
            self.inner.wake.notify_one();
        }
        Ok(Response::Done)
    }

    /// The friends who have the person's `post`, but `except`.
    pub(super) fn forward_to(&self, post: ItemId, except: PeerId) -> Result<Vec<PeerId>, Refused> {
        let audience = match self.inner.store.post(post)?.map(|p| p.item.body) {
            Some(ItemBody::Post { audience, .. }) => audience,
            _ => return Ok(Vec::new()),
        };
        Ok(self
            .friends_for(&audience)?
            .into_iter()
            .filter(|f| *f != except)
            .collect())
    }

    /// The post a comment or like is under, if it is held here.
    pub(super) fn reply_parent(&self, reply: ItemId) -> Result<Option<ItemId>, Refused> {
        Ok(self
            .inner
            .store
            .replies()?
            .into_iter()
            .find(|r| r.id() == reply)
            .map(|r| r.item.post()))
    }

    pub(super) fn fetch_pictures(&self, from: PeerId, pictures: Vec<Picture>) {
        if pictures.is_empty() {
            return;
        }
        let Some(address) = self.inner.store.friend(from).ok().flatten().map(|f| f.address) else {
            return;
        };
        let Some(holder) = endpoint_addr(&address) else {
            return;
        };
        let storage = self.inner.storage.clone();
        tokio::spawn(async move {
            for picture in pictures {
                let request = FetchRequest {
                    hash: picture.hash,
                    name: picture.name,
                    holders: vec![holder.clone()],
                    // A friend's picture makes room for the person's own files when
                    // storage is full.
                    pin: false,
                };
                if let Err(err) = storage.fetch(request, |_| {}).await {
                    tracing::warn!(%err, "could not fetch a friend's picture");
                }
            }
        });
    }

    pub(super) fn wall(&self, limit: usize) -> Result<Vec<WallPost>, Refused> {
        let store = &self.inner.store;
        let me = self.id();
        let friends: Vec<PeerId> = self.friends_for(&Audience::Friends)?;
        let mut posts: Vec<SignedItem> = store
            .posts()?
            .into_iter()
            .filter(|p| p.item.id.author == me || friends.contains(&p.item.id.author))
            .collect();
        posts.sort_by_key(|p| std::cmp::Reverse((p.item.created_ms, p.item.id)));
        posts.truncate(limit);
        let mut wall = Vec::new();
        for post in posts {
            let mut comments = Vec::new();
            let mut likes = Vec::new();
            for reply in store.replies_to(post.id())? {
                match reply.item.body {
                    ItemBody::Like { .. } if !likes.contains(&reply.item.id.author) => {
                        likes.push(reply.item.id.author)
                    }
                    ItemBody::Comment { .. } => comments.push(reply),
                    _ => {}
                }
            }
            comments.sort_by_key(|c| (c.item.created_ms, c.item.id));
            let pictures_held = match &post.item.body {
                ItemBody::Post { pictures, .. } => pictures
                    .iter()
                    .map(|p| self.inner.storage.entry(p.hash).is_some_and(|e| e.complete))
                    .collect(),
                _ => Vec::new(),
            };
            wall.push(WallPost {
                post,
                comments,
                likes,
                pictures_held,
            });
        }
        Ok(wall)
    }

    pub(super) fn files(&self) -> Vec<FileView> {
        self.inner
            .storage
            .entries()
            .into_iter()
            .map(|entry| FileView {
                hash: entry.hash,
                name: entry.name,
                size: entry.size,
                complete: entry.complete,
            })
            .collect()
    }

    pub(super) async fn add_file(&self, upload: Upload) -> Result<FileView, Refused> {
        check_text(&upload.name, sanctuary_protocols::home::PICTURE_NAME_MAX, false)?;
        if upload.bytes.len() > UPLOAD_MAX {
            return refuse(Refusal::TooLarge, format!("a file over {UPLOAD_MAX} bytes"));
        }
        let entry = self
            .inner
            .storage
            .add_bytes(&upload.name, upload.bytes)
            .await
            .map_err(HomeError::from)?;
        Ok(FileView {
            hash: entry.hash,
            name: entry.name,
            size: entry.size,
            complete: entry.complete,
        })
    }
}
