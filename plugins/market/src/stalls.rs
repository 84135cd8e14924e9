//! Each seller's goods on a stall in the Market: sellers in id order take the stalls
//! in plain view from the entrance first, so that everyone sees the same seller at the same stall.

use bevy::prelude::*;
use sanctuary_market_core::{Listing, ListingRef};
use sanctuary_plugin_api::PeerId;
use sanctuary_plugin_api::prelude::*;

use crate::MarketApp;
use crate::pictures::StallPictures;
use crate::trade::MarketState;

/// The space the stalls stand in.
const SPACE: &str = "market";
/// The Market's stalls (its anchors), those in plain view from the entrance first (the
/// two nearest it stand at the edges of the view).
pub(crate) const STALLS: [&str; 12] = [
    "stall_05", "stall_11", "stall_04", "stall_10", "stall_06", "stall_12", "stall_03", "stall_09",
    "stall_02", "stall_08", "stall_01", "stall_07",
];
/// Goods shown on one stall at most.
pub(crate) const GOODS_PER_STALL: usize = 5;
/// Length of a counter, metres (along the anchor's x axis).
const COUNTER: f32 = 4.0;
/// Size of one box of goods, metres.
const BOX: f32 = 0.5;
/// Width of a picture above its goods, metres.
const PICTURE_WIDTH: f32 = 0.7;

/// One listing shown on a stall.
#[derive(Component, Debug, Clone, PartialEq, Eq)]
pub struct StallGoods {
    /// The listing.
    pub listing: ListingRef,
    /// Its title.
    pub title: String,
    /// The stall's anchor.
    pub stall: String,
    /// The listing's picture, when it is shown above the goods.
    pub picture: Option<BlobHash>,
}

/// What the stalls show: the sellers and listings, and the pictures ready.
type Shown = (Vec<(PeerId, Vec<Listing>)>, Vec<BlobHash>);

/// Marks everything of the stalls, to rebuild them when the listings change.
#[derive(Component)]
pub(crate) struct StallPart;

/// The sellers and their listings in stall order: this peer's own first among equals,
/// by id like everyone else's.
pub(crate) fn stalls(state: &MarketState, me: Option<PeerId>) -> Vec<(PeerId, Vec<Listing>)> {
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_millis() as u64);
    let mut sellers: Vec<(PeerId, Vec<Listing>)> = state
        .book
        .seller_ids()
        .into_iter()
        .filter(|seller| Some(*seller) != me)
        .map(|seller| (seller, state.book.of(seller).to_vec()))
        .collect();
    if let Some(me) = me {
        let mine: Vec<Listing> = state.records.shop.live(now_ms).cloned().collect();
        if !mine.is_empty() {
            sellers.push((me, mine));
        }
    }
    sellers.sort_by_key(|(seller, _)| *seller);
    sellers.truncate(STALLS.len());
    sellers
}

/// Puts every seller's goods on their stall when the person is in the Market and the app
/// may place objects there.
pub fn show(
    mut spawner: AppSpawner<MarketApp>,
    view: Res<WorldView>,
    state: Res<MarketState>,
    pictures: Res<StallPictures>,
    parts: Query<Entity, With<StallPart>>,
    mut shown: Local<Option<Shown>>,
    mut meshes: Option<ResMut<Assets<Mesh>>>,
    mut materials: Option<ResMut<Assets<StandardMaterial>>>,
    images: Option<Res<Assets<Image>>>,
) {
    if spawner.check(SPACE).is_err() {
        *shown = None;
        return;
    }
    // Worked out again only when something it shows may have changed (the market's state
    // changes at least once a second), or its parts vanished (the person travelled, a grant
    // was taken back).
    let vanished = shown
        .as_ref()
        .is_none_or(|shown| parts.is_empty() && !shown.0.is_empty());
    if !vanished && !state.is_changed() && !view.is_changed() && !pictures.is_changed() {
        return;
    }
    let sellers = stalls(&state, view.me);
    let with_pictures = sellers
        .iter()
        .flat_map(|(_, listings)| listings.iter().filter_map(|listing| listing.picture))
        .filter(|picture| pictures.is_shown(*picture))
        .collect();
    let now = (sellers, with_pictures);
    if !vanished && shown.as_ref() == Some(&now) {
        return;
    }
    for entity in &parts {
        spawner.commands().entity(entity).despawn();
    }
    for ((seller, listings), stall) in now.0.iter().zip(STALLS) {
        let Some(anchor) = view.anchor(stall) else {
            continue;
        };
        let place =
            Transform::from_translation(anchor.position).with_rotation(Quat::from_rotation_y(anchor.yaw));
        let count = listings.len().min(GOODS_PER_STALL);
        for (slot, listing) in listings.iter().take(GOODS_PER_STALL).enumerate() {
            let along = (slot as f32 + 0.5) / count as f32 * COUNTER - COUNTER / 2.0;
            let at = place * Transform::from_xyz(along, BOX / 2.0, 0.0);
            let picture = listing.picture.filter(|picture| now.1.contains(picture));
            let goods = StallGoods {
                listing: ListingRef {
                    seller: *seller,
                    id: listing.id,
                },
                title: listing.title.clone(),
                stall: stall.to_owned(),
                picture,
            };
            let boxed = visual(
                &mut meshes,
                &mut materials,
                Cuboid::new(BOX, BOX, BOX).into(),
                colour(listing),
            );
            if let Ok(mut entity) = spawner.spawn(SPACE, (StallPart, goods, at))
                && let Some(boxed) = boxed
            {
                entity.insert(boxed);
            }
            // The picture stands above its goods, facing the lane.
            let Some(image) = picture.and_then(|picture| pictures.image(picture)) else {
                continue;
            };
            let height = images
                .as_ref()
                .and_then(|images| images.get(&image))
                .map_or(0.75, |image| image.height() as f32 / image.width().max(1) as f32)
                .clamp(0.25, 2.0)
                * PICTURE_WIDTH;
            let above = place * Transform::from_xyz(along, BOX + 0.1 + height / 2.0, 0.0);
            let surface = StandardMaterial {
                base_color_texture: Some(image),
                unlit: true,
                ..default()
            };
            let framed = visual(
                &mut meshes,
                &mut materials,
                Rectangle::new(PICTURE_WIDTH, height).into(),
                surface,
            );
            if let Ok(mut entity) = spawner.spawn(SPACE, (StallPart, above))
                && let Some(framed) = framed
            {
                entity.insert(framed);
            }
        }
    }
    *shown = Some(now);
}

/// A colour of the listing's own, the same on every peer.
fn colour(listing: &Listing) -> StandardMaterial {
    let hue = (listing.id.0 % 360) as f32;
    StandardMaterial {
        base_color: Color::hsl(hue, 0.65, 0.55),
        perceptual_roughness: 0.5,
        ..default()
    }
}

/// A mesh and material, where the client renders (not when headless).
fn visual(
    meshes: &mut Option<ResMut<Assets<Mesh>>>,
    materials: &mut Option<ResMut<Assets<StandardMaterial>>>,
    mesh: Mesh,
    material: StandardMaterial,
) -> Option<(Mesh3d, MeshMaterial3d<StandardMaterial>)> {
    let (meshes, materials) = (meshes.as_mut()?, materials.as_mut()?);
    Some((Mesh3d(meshes.add(mesh)), MeshMaterial3d(materials.add(material))))
}
