//! The pictures of the listings on the stalls: fetched from their sellers (who serve them
//! to everyone), checked against their hash by the store, decoded, and kept while their
//! listings stand on a stall.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bevy::prelude::*;
use sanctuary_plugin_api::prelude::*;
use sanctuary_plugin_api::{BLOB_READ_MAX, PeerId, decode_picture};

use crate::MarketApp;
use crate::stalls::{GOODS_PER_STALL, STALLS, stalls};
use crate::trade::MarketState;

/// Pictures kept at most: one for each place on the stalls.
pub const PICTURES_MAX: usize = STALLS.len() * GOODS_PER_STALL;
/// How long a picture that could not be fetched or shown waits before it is tried again.
const RETRY_AFTER: Duration = Duration::from_secs(30);

/// Where one picture stands.
#[derive(Debug, Clone)]
enum Picture {
    /// Asked of the store.
    Asked,
    /// Decoded; the image where the client renders.
    Shown(Option<Handle<Image>>),
    /// It could not be fetched or is not a picture.
    Failed(Instant),
}

/// The pictures of the listings on the stalls.
#[derive(Resource, Debug, Default)]
pub struct StallPictures {
    pictures: HashMap<BlobHash, Picture>,
}

impl StallPictures {
    /// Whether the picture `hash` is decoded and ready to show.
    pub fn is_shown(&self, hash: BlobHash) -> bool {
        matches!(self.pictures.get(&hash), Some(Picture::Shown(_)))
    }

    /// The image of picture `hash`, where the client renders.
    pub(crate) fn image(&self, hash: BlobHash) -> Option<Handle<Image>> {
        match self.pictures.get(&hash) {
            Some(Picture::Shown(image)) => image.clone(),
            _ => None,
        }
    }

    fn asked(&self, hash: BlobHash) -> bool {
        matches!(self.pictures.get(&hash), Some(Picture::Asked))
    }

    /// Takes the store's answer if it is about a picture asked for.
    pub(crate) fn take_reply(
        &mut self,
        reply: &BlobReply,
        blobs: &mut Blobs<MarketApp>,
        images: Option<&mut Assets<Image>>,
    ) {
        match reply {
            BlobReply::Fetched(info)
                if self.asked(info.hash) && blobs.request(BlobRequest::Read(info.hash)).is_err() =>
            {
                self.pictures.insert(info.hash, Picture::Failed(Instant::now()));
            }
            BlobReply::Bytes { hash, bytes } if self.asked(*hash) => {
                let picture = match decode_picture(bytes) {
                    Ok(image) => Picture::Shown(images.map(|images| images.add(image))),
                    Err(_) => Picture::Failed(Instant::now()),
                };
                self.pictures.insert(*hash, picture);
            }
            BlobReply::Failed { hash: Some(hash), .. } if self.asked(*hash) => {
                self.pictures.insert(*hash, Picture::Failed(Instant::now()));
            }
            _ => {}
        }
    }
}

/// Asks for the pictures of the listings on the stalls, and forgets the others.
pub fn fetch(
    state: Res<MarketState>,
    view: Res<WorldView>,
    mut pictures: ResMut<StallPictures>,
    mut blobs: Blobs<MarketApp>,
) {
    // Only when the stalls may have changed (the market's state changes at least once a
    // second, which also brings retries round).
    if !state.is_changed() && !view.is_changed() {
        return;
    }
    if !blobs.allowed() || view.space.as_deref() != Some("market") {
        return;
    }
    let wanted: HashMap<BlobHash, (PeerId, String)> = stalls(&state, view.me)
        .into_iter()
        .flat_map(|(seller, listings)| {
            listings
                .into_iter()
                .take(GOODS_PER_STALL)
                .filter_map(move |listing| Some((listing.picture?, (seller, listing.title))))
        })
        .take(PICTURES_MAX)
        .collect();
    pictures.pictures.retain(|hash, _| wanted.contains_key(hash));
    let Ok(library) = blobs.library() else {
        return;
    };
    let mut requests = Vec::new();
    for (hash, (seller, title)) in wanted {
        let due = match pictures.pictures.get(&hash) {
            None => true,
            Some(Picture::Failed(at)) => at.elapsed() >= RETRY_AFTER,
            Some(_) => false,
        };
        if !due {
            continue;
        }
        let held = library.get(hash);
        let request = match held {
            Some(blob) if blob.size > BLOB_READ_MAX => {
                pictures.pictures.insert(hash, Picture::Failed(Instant::now()));
                continue;
            }
            Some(blob) if blob.complete => BlobRequest::Read(hash),
            _ => BlobRequest::FetchFrom {
                hash,
                name: format!("picture of {title}"),
                holders: vec![seller],
                pin: false,
            },
        };
        requests.push((hash, request));
    }
    for (hash, request) in requests {
        let picture = match blobs.request(request) {
            Ok(()) => Picture::Asked,
            Err(_) => Picture::Failed(Instant::now()),
        };
        pictures.pictures.insert(hash, picture);
    }
}
