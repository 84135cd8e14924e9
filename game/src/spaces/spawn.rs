//! Builds a space's entities from its description: solid blocks with colliders,
//! portal frames, lights, and (when a renderer is present) their meshes and materials.

use super::description::{Block, ColorData, LightData, Portal, Shape, SpaceDescription};
use super::plugin::SpaceEntity;
use bevy::prelude::*;
use bevy_rapier3d::prelude::Collider;
use std::collections::HashMap;

/// Thickness of a portal's frame posts and lintel, in metres.
const FRAME: f32 = 0.3;

/// Mesh and material stores, present only when the app renders.
pub struct Visuals<'a> {
    /// Where meshes go.
    pub meshes: &'a mut Assets<Mesh>,
    /// Where materials go.
    pub materials: &'a mut Assets<StandardMaterial>,
    /// Materials already made for this space, by colour and glow.
    cache: HashMap<[u32; 6], Handle<StandardMaterial>>,
}

impl<'a> Visuals<'a> {
    /// Wraps the asset stores for one space's worth of spawning.
    pub fn new(meshes: &'a mut Assets<Mesh>, materials: &'a mut Assets<StandardMaterial>) -> Self {
        Self {
            meshes,
            materials,
            cache: HashMap::new(),
        }
    }

    fn material(&mut self, color: ColorData, emissive: Option<ColorData>) -> Handle<StandardMaterial> {
        let glow = emissive.unwrap_or([0.0; 3]);
        let key = [color[0], color[1], color[2], glow[0], glow[1], glow[2]].map(f32::to_bits);
        self.cache
            .entry(key)
            .or_insert_with(|| {
                self.materials.add(StandardMaterial {
                    base_color: Color::linear_rgb(color[0], color[1], color[2]),
                    emissive: LinearRgba::rgb(glow[0], glow[1], glow[2]),
                    perceptual_roughness: 0.85,
                    ..default()
                })
            })
            .clone()
    }
}

/// Spawns every entity of `space`, each marked [`SpaceEntity`] so that leaving
/// despawns them all.
pub fn spawn_space(commands: &mut Commands, space: &SpaceDescription, mut visuals: Option<Visuals>) {
    for block in &space.blocks {
        spawn_block(commands, block, visuals.as_mut());
    }
    for portal in &space.portals {
        spawn_portal(commands, portal, visuals.as_mut());
    }
    for light in &space.lights {
        spawn_light(commands, light);
    }
}

fn spawn_block(commands: &mut Commands, block: &Block, visuals: Option<&mut Visuals>) {
    let (mesh, material) = match visuals {
        Some(visuals) => {
            let mesh = match block.shape {
                Shape::Box(size) => visuals.meshes.add(Cuboid::new(size[0], size[1], size[2])),
                Shape::Cylinder { radius, height } => visuals.meshes.add(Cylinder::new(radius, height)),
                Shape::Sphere { radius } => visuals.meshes.add(Sphere::new(radius).mesh().uv(32, 18)),
            };
            (Some(mesh), Some(visuals.material(block.color, block.emissive)))
        }
        None => (None, None),
    };
    let collider = block.solid.then(|| match block.shape {
        Shape::Box(size) => Collider::cuboid(size[0] / 2.0, size[1] / 2.0, size[2] / 2.0),
        Shape::Cylinder { radius, height } => Collider::cylinder(height / 2.0, radius),
        Shape::Sphere { radius } => Collider::ball(radius),
    });
    let rotation = Quat::from_rotation_y(block.yaw_degrees.to_radians());
    let name = Name::new(block.name.clone().unwrap_or_else(|| "block".into()));
    for position in block.positions() {
        let mut entity = commands.spawn((
            SpaceEntity,
            name.clone(),
            Transform::from_translation(Vec3::from_array(position)).with_rotation(rotation),
        ));
        if let Some(collider) = &collider {
            entity.insert(collider.clone());
        }
        if let (Some(mesh), Some(material)) = (&mesh, &material) {
            entity.insert((Mesh3d(mesh.clone()), MeshMaterial3d(material.clone())));
        }
    }
}

/// Marks the glowing surface of a portal.
#[derive(Component, Debug, Clone)]
pub struct PortalSurface {
    /// The space it leads to.
    pub to: String,
}

fn spawn_portal(commands: &mut Commands, portal: &Portal, visuals: Option<&mut Visuals>) {
    let [width, height, depth] = portal.size;
    let center = Vec3::from_array(portal.position);
    let rotation = Quat::from_rotation_y(portal.yaw_degrees.to_radians());
    // Two posts and a lintel around the doorway, solid so the opening is the only way in.
    let half = width / 2.0 + FRAME / 2.0;
    let parts = [
        (
            Vec3::new(-half, 0.0, 0.0),
            Vec3::new(FRAME, height, depth.max(FRAME)),
        ),
        (
            Vec3::new(half, 0.0, 0.0),
            Vec3::new(FRAME, height, depth.max(FRAME)),
        ),
        (
            Vec3::new(0.0, height / 2.0 + FRAME / 2.0, 0.0),
            Vec3::new(width + 2.0 * FRAME, FRAME, depth.max(FRAME)),
        ),
    ];
    let frame_color = [0.85, 0.82, 0.75];
    let glow = portal.color;
    let (frame_material, surface_material, meshes) = match visuals {
        Some(visuals) => {
            let frame = visuals.material(frame_color, Some(glow.map(|c| c * 0.4)));
            let surface = visuals.materials.add(StandardMaterial {
                base_color: Color::linear_rgba(glow[0], glow[1], glow[2], 0.55),
                emissive: LinearRgba::rgb(glow[0] * 2.0, glow[1] * 2.0, glow[2] * 2.0),
                alpha_mode: AlphaMode::Blend,
                unlit: true,
                double_sided: true,
                cull_mode: None,
                ..default()
            });
            let surface_mesh = visuals.meshes.add(Cuboid::new(width, height, 0.05));
            let part_meshes: Vec<_> = parts
                .iter()
                .map(|(_, size)| visuals.meshes.add(Cuboid::new(size.x, size.y, size.z)))
                .collect();
            (Some(frame), Some(surface), Some((surface_mesh, part_meshes)))
        }
        None => (None, None, None),
    };
    for (index, (offset, size)) in parts.iter().enumerate() {
        let mut entity = commands.spawn((
            SpaceEntity,
            Name::new(format!("portal frame to {}", portal.to)),
            Transform::from_translation(center + rotation * *offset).with_rotation(rotation),
            Collider::cuboid(size.x / 2.0, size.y / 2.0, size.z / 2.0),
        ));
        if let (Some(material), Some((_, part_meshes))) = (&frame_material, &meshes) {
            entity.insert((
                Mesh3d(part_meshes[index].clone()),
                MeshMaterial3d(material.clone()),
            ));
        }
    }
    let mut surface = commands.spawn((
        SpaceEntity,
        Name::new(format!("portal to {}", portal.to)),
        PortalSurface {
            to: portal.to.clone(),
        },
        Transform::from_translation(center).with_rotation(rotation),
    ));
    if let (Some(material), Some((mesh, _))) = (surface_material, meshes) {
        surface.insert((Mesh3d(mesh), MeshMaterial3d(material)));
    }
}

fn spawn_light(commands: &mut Commands, light: &LightData) {
    match *light {
        LightData::Directional {
            color,
            illuminance,
            direction,
        } => {
            let direction = Vec3::from_array(direction).normalize_or(Vec3::NEG_Y);
            commands.spawn((
                SpaceEntity,
                DirectionalLight {
                    color: Color::linear_rgb(color[0], color[1], color[2]),
                    illuminance,
                    shadow_maps_enabled: false,
                    ..default()
                },
                Transform::default().looking_to(direction, Vec3::Y),
            ));
        }
        LightData::Point {
            position,
            color,
            intensity,
            range,
        } => {
            commands.spawn((
                SpaceEntity,
                PointLight {
                    color: Color::linear_rgb(color[0], color[1], color[2]),
                    intensity,
                    range,
                    shadow_maps_enabled: false,
                    ..default()
                },
                Transform::from_translation(Vec3::from_array(position)),
            ));
        }
    }
}
