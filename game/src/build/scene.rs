//! The pieces of the current space in the Bevy world: one entity per piece for drawing,
//! sharing one mesh per kind and one material per colour (so Bevy batches them), and one
//! compound collider per [`CHUNK_M`] cube of space, rebuilt when a piece in it changes.
//! Signs carry their text painted on both faces (see [`super::sign`]).

use std::collections::{HashMap, HashSet};

use bevy::asset::RenderAssetUsages;
use bevy::ecs::system::SystemParam;
use bevy::mesh::{Indices, PrimitiveTopology};
use bevy::prelude::*;
use bevy_rapier3d::prelude::Collider;
use sanctuary_protocols::build::{Piece, PieceId, PieceKind};
use sanctuary_protocols::message::Rgb;

use super::sign::{ink_for, sign_image};
use crate::spaces::SpaceEntity;

/// Side of the cubes of space whose pieces share one collider, metres.
pub const CHUNK_M: f32 = 16.0;

/// Most lights given a real point light; the rest only glow.
const POINT_LIGHTS_MAX: usize = 16;

/// Marks the entity that draws one piece.
#[derive(Component, Debug, Clone, Copy, PartialEq, Eq)]
pub struct BuiltPiece(pub PieceId);

/// Marks a face of a sign that shows its text.
#[derive(Component, Debug, Clone, Copy)]
pub struct SignFace;

/// Marks the entity that holds one chunk's collider.
#[derive(Component, Debug, Clone, Copy)]
pub struct PieceChunk(pub IVec3);

/// The pieces standing in the current space, as drawn.
#[derive(Resource, Debug, Default)]
pub struct BuiltScene {
    /// The space they belong to.
    pub space: Option<String>,
    pieces: HashMap<PieceId, (Entity, Piece)>,
    chunks: HashMap<IVec3, (Option<Entity>, HashSet<PieceId>)>,
    dirty: HashSet<IVec3>,
    lights: usize,
}

impl BuiltScene {
    /// How a piece stands now, if it does.
    pub fn piece(&self, id: &PieceId) -> Option<&Piece> {
        self.pieces.get(id).map(|(_, piece)| piece)
    }

    /// How many pieces stand.
    pub fn len(&self) -> usize {
        self.pieces.len()
    }

    /// Whether none does.
    pub fn is_empty(&self) -> bool {
        self.pieces.is_empty()
    }

    /// Every piece standing.
    pub fn pieces(&self) -> impl Iterator<Item = (&PieceId, &Piece)> {
        self.pieces.iter().map(|(id, (_, piece))| (id, piece))
    }

    /// The piece whose box holds `point` (metres, within a centimetre), if any: what a ray
    /// that hit a chunk's collider at `point` hit.
    pub fn piece_at(&self, point: Vec3) -> Option<PieceId> {
        let chunk = chunk_of(point);
        let mut best: Option<(PieceId, f32)> = None;
        for dz in -1..=1 {
            for dy in -1..=1 {
                for dx in -1..=1 {
                    let Some((_, ids)) = self.chunks.get(&(chunk + IVec3::new(dx, dy, dz))) else {
                        continue;
                    };
                    for id in ids {
                        let Some((_, piece)) = self.pieces.get(id) else {
                            continue;
                        };
                        let outside = distance_outside(piece, point);
                        if outside < 0.01 && best.is_none_or(|(_, d)| outside < d) {
                            best = Some((*id, outside));
                        }
                    }
                }
            }
        }
        best.map(|(id, _)| id)
    }

    /// Remembers `piece` as standing, without an entity: for tests of what reads the scene.
    #[cfg(test)]
    pub(crate) fn remember(&mut self, id: PieceId, piece: Piece) {
        let chunk = chunk_of(placement(&piece).0);
        self.chunks.entry(chunk).or_default().1.insert(id);
        self.pieces.insert(id, (Entity::PLACEHOLDER, piece));
    }

    /// Forgets everything (the entities go with the space).
    fn clear(&mut self, space: Option<String>) {
        *self = Self {
            space,
            ..Self::default()
        };
    }
}

/// How far `point` is outside the piece's box, in metres (0 inside).
fn distance_outside(piece: &Piece, point: Vec3) -> f32 {
    let (translation, rotation, size) = placement(piece);
    let local = rotation.inverse() * (point - translation);
    let outside = (local.abs() - size / 2.0).max(Vec3::ZERO);
    outside.length()
}

/// Where a piece stands: centre, turn and size, in metres.
pub fn placement(piece: &Piece) -> (Vec3, Quat, Vec3) {
    let [x, y, z] = piece.position.map(|mm| mm as f32 / 1000.0);
    let size = Vec3::from_array(piece.size.map(|cm| f32::from(cm) / 100.0));
    (
        Vec3::new(x, y, z),
        Quat::from_rotation_y(piece.yaw_radians()),
        size,
    )
}

/// The chunk a point lies in.
pub fn chunk_of(point: Vec3) -> IVec3 {
    (point / CHUNK_M).floor().as_ivec3()
}

/// Shared meshes (one per kind, unit size) and materials (one per colour and glow).
#[derive(Resource, Default)]
pub struct PieceLooks {
    meshes: HashMap<PieceKind, Handle<Mesh>>,
    materials: HashMap<(Rgb, bool), Handle<StandardMaterial>>,
    /// A unit square facing +z, for the faces of signs.
    face: Option<Handle<Mesh>>,
}

impl PieceLooks {
    /// The mesh and material of `piece`, made the first time they are needed.
    pub fn of(
        &mut self,
        piece: &Piece,
        meshes: &mut Assets<Mesh>,
        materials: &mut Assets<StandardMaterial>,
    ) -> (Handle<Mesh>, Handle<StandardMaterial>) {
        let mesh = self
            .meshes
            .entry(piece.kind)
            .or_insert_with(|| meshes.add(unit_mesh(piece.kind)))
            .clone();
        let glow = piece.kind == PieceKind::Light;
        let material = self
            .materials
            .entry((piece.color, glow))
            .or_insert_with(|| materials.add(material(piece.color, glow)))
            .clone();
        (mesh, material)
    }
}

/// The colour as Bevy's, from its sRGB bytes.
pub fn color_of(color: Rgb) -> Color {
    Color::srgb_u8(color.r, color.g, color.b)
}

fn material(color: Rgb, glow: bool) -> StandardMaterial {
    let base = color_of(color);
    StandardMaterial {
        base_color: base,
        emissive: if glow {
            base.to_linear() * 4.0
        } else {
            LinearRgba::BLACK
        },
        perceptual_roughness: 0.8,
        ..default()
    }
}

/// A kind's mesh at unit size (1 m each way, centred); pieces scale it to their size.
pub fn unit_mesh(kind: PieceKind) -> Mesh {
    match kind {
        PieceKind::Stairs => stairs_mesh(),
        PieceKind::Ramp => wedge_mesh(),
        _ => Cuboid::new(1.0, 1.0, 1.0).mesh().build(),
    }
}

/// Four steps rising towards -z (away from a person facing the piece's front).
fn stairs_mesh() -> Mesh {
    const STEPS: usize = 4;
    let mut mesh: Option<Mesh> = None;
    for step in 0..STEPS {
        let height = (step + 1) as f32 / STEPS as f32;
        let depth = 1.0 / STEPS as f32;
        let z = 0.5 - depth * (step as f32 + 0.5);
        let part = Cuboid::new(1.0, height, depth)
            .mesh()
            .build()
            .translated_by(Vec3::new(0.0, height / 2.0 - 0.5, z));
        mesh = Some(match mesh {
            None => part,
            Some(mut whole) => {
                let _ = whole.merge(&part);
                whole
            }
        });
    }
    mesh.unwrap_or_else(|| Cuboid::new(1.0, 1.0, 1.0).mesh().build())
}

/// The wedge corners: a slope rising towards -z.
fn wedge_corners() -> [Vec3; 6] {
    [
        Vec3::new(-0.5, -0.5, 0.5),
        Vec3::new(0.5, -0.5, 0.5),
        Vec3::new(-0.5, -0.5, -0.5),
        Vec3::new(0.5, -0.5, -0.5),
        Vec3::new(-0.5, 0.5, -0.5),
        Vec3::new(0.5, 0.5, -0.5),
    ]
}

fn wedge_mesh() -> Mesh {
    let c = wedge_corners();
    // Each face with its own corners, so each has a flat normal.
    let faces: [&[usize]; 5] = [
        &[0, 2, 3, 1], // bottom
        &[2, 4, 5, 3], // back
        &[0, 1, 5, 4], // slope
        &[0, 4, 2],    // left
        &[1, 3, 5],    // right
    ];
    let mut positions = Vec::new();
    let mut normals = Vec::new();
    let mut indices = Vec::new();
    for face in faces {
        let base = positions.len() as u32;
        let normal = (c[face[1]] - c[face[0]])
            .cross(c[face[2]] - c[face[0]])
            .normalize_or_zero();
        // Outward: away from the wedge's middle.
        let middle = Vec3::new(0.0, -1.0 / 6.0, -1.0 / 6.0);
        let flip = normal.dot(c[face[0]] - middle) < 0.0;
        for &corner in face {
            positions.push(c[corner].to_array());
            normals.push((if flip { -normal } else { normal }).to_array());
        }
        for i in 1..face.len() as u32 - 1 {
            if flip {
                indices.extend([base, base + i + 1, base + i]);
            } else {
                indices.extend([base, base + i, base + i + 1]);
            }
        }
    }
    let uvs = vec![[0.0, 0.0]; positions.len()];
    Mesh::new(PrimitiveTopology::TriangleList, RenderAssetUsages::default())
        .with_inserted_attribute(Mesh::ATTRIBUTE_POSITION, positions)
        .with_inserted_attribute(Mesh::ATTRIBUTE_NORMAL, normals)
        .with_inserted_attribute(Mesh::ATTRIBUTE_UV_0, uvs)
        .with_inserted_indices(Indices::U32(indices))
}

/// A piece's collider in its chunk: a box, or a slope for stairs and ramps (walked up, not
/// climbed).
fn piece_collider(piece: &Piece) -> (Vec3, Quat, Collider) {
    let (translation, rotation, size) = placement(piece);
    let collider = match piece.kind {
        PieceKind::Stairs | PieceKind::Ramp => {
            let points: Vec<Vec3> = wedge_corners().iter().map(|corner| *corner * size).collect();
            Collider::convex_hull(&points)
                .unwrap_or_else(|| Collider::cuboid(size.x / 2.0, size.y / 2.0, size.z / 2.0))
        }
        _ => Collider::cuboid(size.x / 2.0, size.y / 2.0, size.z / 2.0),
    };
    (translation, rotation, collider)
}

/// The asset stores pieces are drawn with, present only when the app renders.
#[derive(SystemParam)]
pub struct Stores<'w> {
    meshes: Option<ResMut<'w, Assets<Mesh>>>,
    materials: Option<ResMut<'w, Assets<StandardMaterial>>>,
    images: Option<ResMut<'w, Assets<Image>>>,
}

impl Stores<'_> {
    fn all(
        &mut self,
    ) -> Option<(
        &mut Assets<Mesh>,
        &mut Assets<StandardMaterial>,
        &mut Assets<Image>,
    )> {
        match (&mut self.meshes, &mut self.materials, &mut self.images) {
            (Some(meshes), Some(materials), Some(images)) => Some((meshes, materials, images)),
            _ => None,
        }
    }
}

/// How far a sign's text stands off its board, metres: enough not to flicker into it.
const SIGN_FACE_OFFSET_M: f32 = 0.002;

/// Paints `text` on both faces of the sign `entity` (scaled to `size`): one texture, one
/// material (each sign's own, freed with it), two squares on the shared mesh.
fn paint_sign(
    entity: &mut EntityCommands,
    looks: &mut PieceLooks,
    (meshes, materials, images): (
        &mut Assets<Mesh>,
        &mut Assets<StandardMaterial>,
        &mut Assets<Image>,
    ),
    piece: &Piece,
    size: Vec3,
) {
    let Some(text) = piece.text.as_ref() else {
        return;
    };
    let board = [piece.color.r, piece.color.g, piece.color.b];
    let image = images.add(sign_image(text.as_str(), size.x, size.y, ink_for(board)));
    let material = materials.add(StandardMaterial {
        base_color_texture: Some(image),
        alpha_mode: AlphaMode::Blend,
        perceptual_roughness: 0.8,
        ..default()
    });
    let face = looks
        .face
        .get_or_insert_with(|| meshes.add(Rectangle::new(1.0, 1.0)))
        .clone();
    // In the board's own (unit, scaled) space: its faces are at z = ±0.5.
    let off = 0.5 + SIGN_FACE_OFFSET_M / size.z.max(0.001);
    for (z, turn) in [(off, 0.0), (-off, std::f32::consts::PI)] {
        entity.with_child((
            SignFace,
            Mesh3d(face.clone()),
            MeshMaterial3d(material.clone()),
            Transform::from_xyz(0.0, 0.0, z).with_rotation(Quat::from_rotation_y(turn)),
        ));
    }
}

/// Shows `piece` as `id` (spawning, moving or restyling its entity), or takes it away.
pub fn show(
    commands: &mut Commands,
    scene: &mut BuiltScene,
    looks: &mut PieceLooks,
    stores: &mut Stores,
    id: PieceId,
    piece: Option<Piece>,
) {
    // Shown again as it stands (a grant that touched its builder, an edit already seen):
    // nothing to respawn, repaint or rebuild.
    if scene.pieces.get(&id).map(|(_, old)| old) == piece.as_ref() {
        return;
    }
    if let Some((entity, old)) = scene.pieces.remove(&id) {
        commands.entity(entity).try_despawn();
        forget_in_chunk(scene, &old, &id);
        if old.kind == PieceKind::Light {
            scene.lights = scene.lights.saturating_sub(1);
        }
    }
    let Some(piece) = piece else {
        return;
    };
    let (translation, rotation, size) = placement(&piece);
    let mut entity = commands.spawn((
        SpaceEntity,
        BuiltPiece(id),
        Name::new(format!("{} {id}", piece.kind.label())),
        Transform::from_translation(translation)
            .with_rotation(rotation)
            .with_scale(size),
        Visibility::default(),
    ));
    if let Some((meshes, materials, images)) = stores.all() {
        let (mesh, material) = looks.of(&piece, meshes, materials);
        entity.insert((Mesh3d(mesh), MeshMaterial3d(material)));
        if piece.kind == PieceKind::Sign {
            paint_sign(&mut entity, looks, (meshes, materials, images), &piece, size);
        }
    }
    if piece.kind == PieceKind::Light && scene.lights < POINT_LIGHTS_MAX {
        scene.lights += 1;
        entity.with_child((
            PointLight {
                color: color_of(piece.color),
                intensity: 60_000.0,
                range: 8.0,
                shadow_maps_enabled: false,
                ..default()
            },
            // Undo the piece's scale so the light's range is in metres.
            Transform::from_scale(size.recip()),
        ));
    }
    let chunk = chunk_of(translation);
    scene.chunks.entry(chunk).or_default().1.insert(id);
    scene.dirty.insert(chunk);
    scene.pieces.insert(id, (entity.id(), piece));
}

fn forget_in_chunk(scene: &mut BuiltScene, piece: &Piece, id: &PieceId) {
    let chunk = chunk_of(placement(piece).0);
    if let Some((_, ids)) = scene.chunks.get_mut(&chunk) {
        ids.remove(id);
        scene.dirty.insert(chunk);
    }
}

/// Takes every piece away and starts over for `space`.
pub fn reset(commands: &mut Commands, scene: &mut BuiltScene, space: Option<String>) {
    for (entity, _) in scene.pieces.values() {
        commands.entity(*entity).try_despawn();
    }
    for (entity, _) in scene.chunks.values() {
        if let Some(entity) = entity {
            commands.entity(*entity).try_despawn();
        }
    }
    scene.clear(space);
}

/// Rebuilds the colliders of the chunks whose pieces changed this frame.
pub fn rebuild_chunk_colliders(mut commands: Commands, mut scene: ResMut<BuiltScene>) {
    if scene.dirty.is_empty() {
        return;
    }
    let started = std::time::Instant::now();
    let dirty: Vec<IVec3> = scene.dirty.drain().collect();
    let count = dirty.len();
    for chunk in dirty {
        let Some((entity, ids)) = scene.chunks.get(&chunk) else {
            continue;
        };
        let shapes: Vec<(Vec3, Quat, Collider)> = ids
            .iter()
            .filter_map(|id| scene.pieces.get(id))
            .map(|(_, piece)| piece_collider(piece))
            .collect();
        let entity = *entity;
        if shapes.is_empty() {
            if let Some(entity) = entity {
                commands.entity(entity).try_despawn();
            }
            scene.chunks.remove(&chunk);
            continue;
        }
        let collider = Collider::compound(shapes);
        let entity = match entity {
            Some(entity) => {
                commands.entity(entity).insert(collider);
                entity
            }
            None => commands
                .spawn((
                    SpaceEntity,
                    PieceChunk(chunk),
                    Name::new(format!("built chunk {chunk}")),
                    Transform::default(),
                    collider,
                ))
                .id(),
        };
        if let Some(slot) = scene.chunks.get_mut(&chunk) {
            slot.0 = Some(entity);
        }
    }
    debug!("{count} chunk colliders rebuilt in {:?}", started.elapsed());
}

#[cfg(test)]
mod tests {
    use super::*;
    use sanctuary_protocols::identity::PeerId;

    fn id(number: u64) -> PieceId {
        PieceId {
            creator: PeerId::from_bytes([1; 32]),
            number,
        }
    }

    #[test]
    fn a_point_on_a_piece_finds_it_and_a_point_beside_it_does_not() {
        let mut scene = BuiltScene::default();
        let wall = Piece {
            yaw: 6,
            ..Piece::new(PieceKind::Wall, [15_900, 1250, 0], Rgb { r: 1, g: 1, b: 1 })
        };
        let (translation, _, _) = placement(&wall);
        scene.pieces.insert(id(1), (Entity::PLACEHOLDER, wall));
        scene
            .chunks
            .entry(chunk_of(translation))
            .or_default()
            .1
            .insert(id(1));
        // Turned a quarter, the 2 m wall runs along z and is 0.2 m thick along x.
        assert_eq!(scene.piece_at(Vec3::new(15.9, 1.0, 0.9)), Some(id(1)));
        assert_eq!(
            scene.piece_at(Vec3::new(16.0, 2.5, -1.0)),
            Some(id(1)),
            "on its face, across a chunk edge"
        );
        assert_eq!(scene.piece_at(Vec3::new(16.5, 1.0, 0.0)), None);
    }

    #[test]
    fn a_sign_shows_its_text_painted_on_both_faces_and_a_block_shows_none() {
        use bevy::ecs::system::RunSystemOnce;
        use sanctuary_protocols::build::SignText;

        let mut app = App::new();
        app.init_resource::<Assets<Mesh>>()
            .init_resource::<Assets<StandardMaterial>>()
            .init_resource::<Assets<Image>>()
            .init_resource::<BuiltScene>()
            .init_resource::<PieceLooks>();
        let light = Rgb {
            r: 240,
            g: 240,
            b: 230,
        };
        let sign = Piece {
            text: Some(SignText::new("Open late").unwrap()),
            ..Piece::new(PieceKind::Sign, [0, 1000, 0], light)
        };
        let block = Piece::new(PieceKind::Block, [3000, 500, 0], light);
        app.world_mut()
            .run_system_once(
                move |mut commands: Commands,
                      mut scene: ResMut<BuiltScene>,
                      mut looks: ResMut<PieceLooks>,
                      mut stores: Stores| {
                    for (number, piece) in [(1, &sign), (2, &block)] {
                        show(
                            &mut commands,
                            &mut scene,
                            &mut looks,
                            &mut stores,
                            id(number),
                            Some(piece.clone()),
                        );
                    }
                },
            )
            .expect("the system runs");
        let world = app.world_mut();
        let sign_entity = world
            .query::<(Entity, &BuiltPiece)>()
            .iter(world)
            .find(|(_, built)| built.0 == id(1))
            .map(|(entity, _)| entity)
            .expect("the sign");
        let faces: Vec<(Entity, Handle<StandardMaterial>)> = world
            .query_filtered::<(&ChildOf, &MeshMaterial3d<StandardMaterial>), With<SignFace>>()
            .iter(world)
            .map(|(parent, material)| (parent.parent(), material.0.clone()))
            .collect();
        assert_eq!(faces.len(), 2, "front and back, and none on the block");
        assert!(faces.iter().all(|(parent, _)| *parent == sign_entity));
        let texture = world
            .resource::<Assets<StandardMaterial>>()
            .get(&faces[0].1)
            .and_then(|m| m.base_color_texture.clone());
        let image = world
            .resource::<Assets<Image>>()
            .get(&texture.expect("a texture"))
            .expect("the painted image");
        let data = image.data.as_ref().expect("pixels");
        let inked = data.chunks_exact(4).filter(|pixel| pixel[3] > 128).count();
        assert!(inked > 1000, "the text is painted ({inked} pixels)");
        assert_eq!(&data[..3], &[20, 16, 12], "dark ink on a light board");
    }

    #[test]
    fn the_wedge_is_closed_and_faces_outwards() {
        let mesh = wedge_mesh();
        let Some(Indices::U32(indices)) = mesh.indices() else {
            panic!("indexed");
        };
        assert_eq!(indices.len(), 3 * (2 + 2 + 2 + 1 + 1));
    }
}
