//! How an avatar looks: a rounded body, a head with a visor, and hands while they are
//! tracked, in the avatar's colour.

use bevy::prelude::*;
use sanctuary_protocols::message::AvatarShape;

/// Meshes shared by every avatar, made once when the app renders.
#[derive(Resource, Debug, Clone)]
pub struct AvatarMeshes {
    body: Handle<Mesh>,
    cube: Handle<Mesh>,
    ball: Handle<Mesh>,
    cone: Handle<Mesh>,
    head: Handle<Mesh>,
    visor: Handle<Mesh>,
    hand: Handle<Mesh>,
    visor_material: Handle<StandardMaterial>,
}

/// Makes [`AvatarMeshes`] when there are mesh stores (a window); headless apps skip it.
pub fn make_avatar_meshes(
    mut commands: Commands,
    meshes: Option<ResMut<Assets<Mesh>>>,
    materials: Option<ResMut<Assets<StandardMaterial>>>,
) {
    let (Some(mut meshes), Some(mut materials)) = (meshes, materials) else {
        return;
    };
    commands.insert_resource(AvatarMeshes {
        body: meshes.add(Capsule3d::new(0.3, 0.7)),
        cube: meshes.add(Cuboid::new(0.7, 1.1, 0.5)),
        ball: meshes.add(Sphere::new(0.5).mesh().uv(24, 16)),
        cone: meshes.add(Cone::new(0.45, 1.2)),
        head: meshes.add(Sphere::new(0.22).mesh().uv(24, 16)),
        visor: meshes.add(Cuboid::new(0.3, 0.09, 0.08)),
        hand: meshes.add(Cuboid::new(0.08, 0.05, 0.14)),
        visor_material: materials.add(StandardMaterial {
            base_color: Color::srgb(0.05, 0.06, 0.08),
            emissive: LinearRgba::rgb(0.6, 0.9, 1.2),
            ..default()
        }),
    });
}

/// Marks an avatar's head, which turns as the person's head does.
#[derive(Component, Debug, Default, Clone, Copy)]
pub struct AvatarHead;

/// Marks an avatar's hand (`true` for the right), shown while the person's hand is tracked.
#[derive(Component, Debug, Default, Clone, Copy)]
pub struct AvatarHand(pub bool);

/// Adds the visible parts of an avatar as children of `entity`, whose origin is the
/// middle of the body. Does nothing without [`AvatarMeshes`] (headless).
pub fn dress_avatar(
    commands: &mut Commands,
    entity: Entity,
    color: Color,
    shape: AvatarShape,
    meshes: Option<&AvatarMeshes>,
    materials: Option<&mut Assets<StandardMaterial>>,
) {
    let (Some(meshes), Some(materials)) = (meshes, materials) else {
        return;
    };
    let skin = materials.add(StandardMaterial {
        base_color: color,
        emissive: color.to_linear() * 0.15,
        perceptual_roughness: 0.6,
        ..default()
    });
    commands.entity(entity).with_children(|parent| {
        let body = match shape {
            AvatarShape::Capsule => meshes.body.clone(),
            AvatarShape::Cube => meshes.cube.clone(),
            AvatarShape::Sphere => meshes.ball.clone(),
            AvatarShape::Cone => meshes.cone.clone(),
        };
        parent.spawn((Mesh3d(body), MeshMaterial3d(skin.clone()), Transform::default()));
        parent
            .spawn((
                AvatarHead,
                Mesh3d(meshes.head.clone()),
                MeshMaterial3d(skin.clone()),
                Transform::from_xyz(0.0, 0.78, 0.0),
            ))
            .with_child((
                Mesh3d(meshes.visor.clone()),
                MeshMaterial3d(meshes.visor_material.clone()),
                Transform::from_xyz(0.0, 0.02, -0.18),
            ));
        for right in [false, true] {
            parent.spawn((
                AvatarHand(right),
                Mesh3d(meshes.hand.clone()),
                MeshMaterial3d(skin.clone()),
                Transform::default(),
                Visibility::Hidden,
            ));
        }
    });
}
