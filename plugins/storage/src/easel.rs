//! The easel in the Lobby: a picture (PNG or JPEG) from someone's storage, seen by
//! everyone in the room.
//!
//! Hanging sends a [`StorageMessage::Hang`] naming the picture by hash and serves its
//! bytes; every copy shows the latest hanging (by time, then by author, so all agree),
//! fetching the bytes from whoever hung it (or anyone else in the world who serves it),
//! verified against the hash by the store. Whoever hung a picture repeats the message now
//! and then for people who arrive later.

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bevy::prelude::*;
use sanctuary_plugin_api::prelude::*;
use sanctuary_plugin_api::{PeerId, decode_picture, is_picture};

use crate::StorageApp;
use crate::wire::StorageMessage;

/// Largest picture hung, in bytes; bigger hangings are refused by every copy.
pub const PICTURE_MAX: u64 = 16 << 20;
/// The space the easel stands in, and its anchor.
const SPACE: &str = "lobby";
const ANCHOR: &str = "easel";
/// Width of the picture in the world, metres.
const WIDTH: f32 = 2.4;
/// How often the person's own hanging is repeated for late arrivals.
const ANNOUNCE_EVERY: Duration = Duration::from_secs(15);
/// How long a picture that could not be fetched or shown waits before it is asked again.
const RETRY_AFTER: Duration = Duration::from_secs(10);
/// People asked for a picture, at most (whoever hung it first).
const HOLDERS_ASKED: usize = 8;
/// People whose hangings are remembered, at most.
const HANGINGS_MAX: usize = 64;

/// A picture someone hung.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hanging {
    /// Who hung it (their signature was checked by the world).
    pub by: PeerId,
    /// The picture's hash.
    pub hash: BlobHash,
    /// Its name.
    pub name: String,
    /// Its size in bytes.
    pub size: u64,
    /// When it was hung, Unix milliseconds.
    pub hung_ms: u64,
}

/// The picture on the easel now, decoded.
#[derive(Debug, Clone)]
pub struct Picture {
    /// Which hanging it shows.
    pub hanging: Hanging,
    /// Its size in pixels.
    pub pixels: UVec2,
    /// The texture, where the client renders.
    pub image: Option<Handle<Image>>,
}

/// What the easel knows.
#[derive(Resource, Debug, Default)]
pub struct Easel {
    /// Each person's latest hanging.
    pub hangings: HashMap<PeerId, Hanging>,
    /// The picture shown now.
    pub shown: Option<Picture>,
    /// Why the wanted picture is not shown, if something went wrong.
    pub problem: Option<String>,
    /// Messages from others refused (unreadable, or a picture over [`PICTURE_MAX`]).
    pub refused: u64,
    /// The person's own hanging, repeated for late arrivals.
    pub(crate) mine: Option<Hanging>,
    /// The picture being fetched or read now.
    pub(crate) requested: Option<BlobHash>,
    /// A picture that could not be fetched or shown, and when: asked again after
    /// [`RETRY_AFTER`].
    gave_up: Option<(BlobHash, Instant)>,
    taken_down: HashMap<PeerId, u64>,
    announced: Option<(Instant, usize)>,
}

impl Easel {
    /// The hanging every copy agrees to show: the latest.
    pub fn wanted(&self) -> Option<&Hanging> {
        self.hangings.values().max_by_key(|h| (h.hung_ms, h.by))
    }

    pub(crate) fn hang(&mut self, hanging: Hanging) {
        if self
            .taken_down
            .get(&hanging.by)
            .is_some_and(|at| *at >= hanging.hung_ms)
        {
            return;
        }
        if !self.hangings.contains_key(&hanging.by)
            && self.hangings.len() >= HANGINGS_MAX
            && let Some(oldest) = self
                .hangings
                .values()
                .min_by_key(|h| (h.hung_ms, h.by))
                .map(|h| h.by)
        {
            self.hangings.remove(&oldest);
        }
        match self.hangings.get(&hanging.by) {
            Some(known) if known.hung_ms >= hanging.hung_ms => {}
            _ => {
                self.hangings.insert(hanging.by, hanging);
            }
        }
    }

    pub(crate) fn take_down(&mut self, by: PeerId, at_ms: u64) {
        if self.hangings.get(&by).is_some_and(|h| h.hung_ms <= at_ms) {
            self.hangings.remove(&by);
        }
        if self.taken_down.len() < HANGINGS_MAX || self.taken_down.contains_key(&by) {
            let at = self.taken_down.entry(by).or_default();
            *at = (*at).max(at_ms);
        }
    }

    /// Takes in a picture's bytes: decodes them and, if the hash is still wanted, shows it.
    pub(crate) fn accept_bytes(&mut self, hash: BlobHash, bytes: &[u8], images: Option<&mut Assets<Image>>) {
        if self.requested == Some(hash) {
            self.requested = None;
        }
        let Some(hanging) = self.wanted().filter(|h| h.hash == hash).cloned() else {
            return;
        };
        match decode_picture(bytes) {
            Ok(image) => {
                let pixels = image.size();
                self.problem = None;
                self.shown = Some(Picture {
                    hanging,
                    pixels,
                    image: images.map(|images| images.add(image)),
                });
            }
            Err(error) => {
                self.gave_up = Some((hash, Instant::now()));
                self.problem = Some(format!("{} cannot be shown: {error}", hanging.name));
            }
        }
    }

    pub(crate) fn failed(&mut self, hash: BlobHash, error: &str) {
        if self.requested == Some(hash) {
            self.requested = None;
            self.gave_up = Some((hash, Instant::now()));
            if let Some(hanging) = self.wanted().filter(|h| h.hash == hash) {
                self.problem = Some(format!("{}: {error}", hanging.name));
            }
        }
    }
}

pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Takes in what the other copies said.
pub fn receive(mut messages: AppMessages<StorageApp>, mut easel: ResMut<Easel>) {
    for message in messages.read() {
        match StorageMessage::decode(&message.bytes) {
            Ok(StorageMessage::Hang {
                hash,
                name,
                size,
                hung_ms,
            }) => {
                if size > PICTURE_MAX || !is_picture(&name) {
                    easel.refused += 1;
                    continue;
                }
                easel.hang(Hanging {
                    by: message.from,
                    hash,
                    name,
                    size,
                    hung_ms,
                });
            }
            Ok(StorageMessage::TakeDown { at_ms }) => easel.take_down(message.from, at_ms),
            Err(_) => easel.refused += 1,
        }
    }
}

/// Asks the store for the wanted picture: fetched from its holders if it is not here,
/// then read.
pub fn follow(mut easel: ResMut<Easel>, mut blobs: Blobs<StorageApp>, view: Res<WorldView>) {
    let Some(wanted) = easel.wanted().cloned() else {
        easel.shown = None;
        easel.requested = None;
        return;
    };
    if easel.shown.as_ref().is_some_and(|shown| shown.hanging == wanted) || easel.requested.is_some() {
        return;
    }
    if easel
        .gave_up
        .is_some_and(|(hash, at)| hash == wanted.hash && at.elapsed() < RETRY_AFTER)
    {
        return;
    }
    let held = blobs
        .library()
        .ok()
        .and_then(|library| library.get(wanted.hash))
        .is_some_and(|blob| blob.complete);
    let request = if held {
        BlobRequest::Read(wanted.hash)
    } else {
        // Whoever hung it first, then everyone else who may have fetched it.
        let mut holders = vec![wanted.by];
        holders.extend(
            view.people
                .iter()
                .map(|p| p.id)
                .filter(|id| *id != wanted.by)
                .take(HOLDERS_ASKED - 1),
        );
        BlobRequest::FetchFrom {
            hash: wanted.hash,
            name: wanted.name.clone(),
            holders,
            pin: false,
        }
    };
    match blobs.request(request) {
        Ok(()) => easel.requested = Some(wanted.hash),
        Err(error) => easel.problem = Some(error.to_string()),
    }
}

/// Repeats the person's own hanging for those who arrived since.
pub fn announce(mut messages: AppMessages<StorageApp>, mut easel: ResMut<Easel>, view: Res<WorldView>) {
    let Some(mine) = easel.mine.clone() else {
        return;
    };
    let people = view.people.len();
    let due = match easel.announced {
        None => true,
        Some((at, seen)) => at.elapsed() >= ANNOUNCE_EVERY || people > seen,
    };
    if !due || !view.online {
        return;
    }
    let message = StorageMessage::Hang {
        hash: mine.hash,
        name: mine.name,
        size: mine.size,
        hung_ms: mine.hung_ms,
    };
    if messages.send(message.encode()).is_ok() {
        easel.announced = Some((Instant::now(), people));
    }
}

/// Marks the easel's parts in the world.
#[derive(Component)]
pub(crate) struct EaselPart;

/// Stands the picture on the easel when the person is in the Lobby.
pub fn show(
    mut spawner: AppSpawner<StorageApp>,
    view: Res<WorldView>,
    easel: Res<Easel>,
    parts: Query<Entity, With<EaselPart>>,
    mut shown: Local<Option<BlobHash>>,
    mut meshes: Option<ResMut<Assets<Mesh>>>,
    mut materials: Option<ResMut<Assets<StandardMaterial>>>,
) {
    let (Some(anchor), Ok(())) = (view.anchor(ANCHOR).cloned(), spawner.check(SPACE)) else {
        *shown = None;
        return;
    };
    let now = easel.shown.as_ref().map(|picture| picture.hanging.hash);
    if *shown == now && (now.is_none() || !parts.is_empty()) {
        return;
    }
    *shown = now;
    for entity in &parts {
        spawner.commands().entity(entity).despawn();
    }
    let (Some(picture), Some(meshes), Some(materials)) = (&easel.shown, meshes.as_mut(), materials.as_mut())
    else {
        return;
    };
    let Some(image) = picture.image.clone() else {
        return;
    };
    let aspect = picture.pixels.y.max(1) as f32 / picture.pixels.x.max(1) as f32;
    info!(hash = %picture.hanging.hash, pixels = ?picture.pixels, at = ?anchor.position, "hanging the picture on the easel");
    let height = (WIDTH * aspect).min(WIDTH * 1.5);
    let place = Transform::from_translation(anchor.position).with_rotation(Quat::from_rotation_y(anchor.yaw));
    let frame = materials.add(StandardMaterial {
        base_color: Color::srgb(0.3, 0.2, 0.12),
        ..default()
    });
    let canvas = materials.add(StandardMaterial {
        base_color_texture: Some(image),
        unlit: true,
        ..default()
    });
    let frame_mesh = meshes.add(Cuboid::new(WIDTH + 0.16, height + 0.16, 0.06));
    let canvas_mesh = meshes.add(Rectangle::new(WIDTH, height));
    let parts = [
        (frame_mesh, frame, place * Transform::from_xyz(0.0, 0.0, -0.04)),
        (canvas_mesh, canvas, place),
    ];
    for (mesh, material, transform) in parts {
        if let Ok(mut entity) = spawner.spawn(SPACE, (Mesh3d(mesh), MeshMaterial3d(material), transform)) {
            entity.insert(EaselPart);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hanging(by: u8, hung_ms: u64) -> Hanging {
        Hanging {
            by: PeerId::from_bytes([by; 32]),
            hash: BlobHash::from_bytes([by; 32]),
            name: format!("{by}.png"),
            size: 10,
            hung_ms,
        }
    }

    #[test]
    fn every_copy_shows_the_latest_hanging_whatever_the_order() {
        let orders = [[1u8, 2, 3], [3, 2, 1], [2, 3, 1]];
        let shown: Vec<_> = orders
            .iter()
            .map(|order| {
                let mut easel = Easel::default();
                for by in order {
                    easel.hang(hanging(*by, 100 + u64::from(*by % 3)));
                }
                easel.wanted().cloned()
            })
            .collect();
        assert!(shown.windows(2).all(|pair| pair[0] == pair[1]));
        assert_eq!(shown[0].as_ref().unwrap().by, PeerId::from_bytes([2; 32]));
    }

    #[test]
    fn a_repeated_old_hanging_does_not_undo_a_take_down() {
        let mut easel = Easel::default();
        easel.hang(hanging(1, 100));
        easel.take_down(PeerId::from_bytes([1; 32]), 150);
        easel.hang(hanging(1, 100));
        assert!(easel.wanted().is_none());
        easel.hang(hanging(1, 200));
        assert_eq!(easel.wanted().unwrap().hung_ms, 200);
    }

    #[test]
    fn jpeg_pictures_decode_at_their_size() {
        let picture =
            image::RgbImage::from_fn(40, 30, |x, y| image::Rgb([(x * 6) as u8, (y * 8) as u8, 200]));
        let mut jpeg = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 90)
            .encode_image(&picture)
            .unwrap();
        assert_eq!(&jpeg[..3], &[0xFF, 0xD8, 0xFF]);
        assert_eq!(decode_picture(&jpeg).unwrap().size(), UVec2::new(40, 30));
    }

    #[test]
    fn only_pictures_decode() {
        assert!(decode_picture(b"GIF89a....").is_err());
        assert!(is_picture("Sunset.JPG") && !is_picture("notes.txt"));
    }
}
