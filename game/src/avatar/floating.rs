//! Idle avatars that drift through a space on slow orbits, bobbing as they go.

use super::body::{AvatarMeshes, dress_avatar};
use crate::spaces::{SpaceCatalog, SpaceEntered, SpaceEntity};
use bevy::prelude::*;
use sanctuary_protocols::message::AvatarShape;
use std::f32::consts::TAU;

/// One drifting avatar's orbit. Its place is a pure function of time, so every client
/// that shares a space sees the same drift.
#[derive(Component, Debug, Clone, PartialEq)]
pub struct FloatingAvatar {
    /// Centre of the orbit.
    pub center: Vec3,
    /// Distance from the centre line.
    pub radius: f32,
    /// Angle at time zero, radians.
    pub phase: f32,
    /// Radians per second around the orbit (negative goes the other way).
    pub angular_speed: f32,
    /// Height of the orbit.
    pub height: f32,
    /// How far it bobs up and down, metres.
    pub bob: f32,
}

impl FloatingAvatar {
    /// Where it is and which way it faces at `seconds`.
    pub fn pose_at(&self, seconds: f32) -> Transform {
        let angle = self.phase + self.angular_speed * seconds;
        let position = self.center
            + Vec3::new(
                angle.cos() * self.radius,
                self.height + (seconds * 0.7 + self.phase * 3.0).sin() * self.bob,
                angle.sin() * self.radius,
            );
        // Face along the orbit.
        let heading = Vec3::new(-angle.sin(), 0.0, angle.cos()) * self.angular_speed.signum();
        Transform::from_translation(position).looking_to(heading, Vec3::Y)
    }
}

/// A small deterministic generator, so a space's drifters are the same on every run.
struct Dice(u64);

impl Dice {
    fn next(&mut self) -> f32 {
        // splitmix64
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 40) as f32 / (1u64 << 24) as f32
    }

    fn between(&mut self, low: f32, high: f32) -> f32 {
        low + (high - low) * self.next()
    }
}

/// Spawns the drifting avatars of a space when it is entered.
pub fn spawn_floating_avatars(
    mut commands: Commands,
    mut entered: MessageReader<SpaceEntered>,
    catalog: Res<SpaceCatalog>,
    meshes: Option<Res<AvatarMeshes>>,
    mut materials: Option<ResMut<Assets<StandardMaterial>>>,
) {
    let Some(arrival) = entered.read().last() else {
        return;
    };
    let Some(floating) = catalog
        .get(&arrival.name)
        .and_then(|space| space.floating_avatars.clone())
    else {
        return;
    };
    let mut dice = Dice(
        arrival
            .name
            .bytes()
            .fold(7, |hash, byte| hash * 31 + u64::from(byte)),
    );
    for index in 0..floating.count {
        let avatar = FloatingAvatar {
            center: Vec3::from_array(floating.center),
            radius: dice.between(floating.radius * 0.25, floating.radius),
            phase: dice.between(0.0, TAU),
            angular_speed: dice.between(0.03, 0.12) * if dice.next() < 0.5 { -1.0 } else { 1.0 },
            height: dice.between(floating.min_height, floating.max_height),
            bob: dice.between(0.2, 0.8),
        };
        let color = Color::hsl(dice.between(0.0, 360.0), 0.65, 0.6);
        let pose = avatar.pose_at(0.0);
        let entity = commands
            .spawn((
                SpaceEntity,
                Name::new(format!("drifter {index}")),
                avatar,
                pose,
                Visibility::default(),
            ))
            .id();
        dress_avatar(
            &mut commands,
            entity,
            color,
            AvatarShape::Capsule,
            meshes.as_deref(),
            materials.as_deref_mut(),
        );
    }
}

/// Moves drifting avatars along their orbits.
pub fn drift(time: Res<Time>, mut avatars: Query<(&FloatingAvatar, &mut Transform)>) {
    let seconds = time.elapsed_secs();
    for (avatar, mut transform) in &mut avatars {
        *transform = avatar.pose_at(seconds);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drifters_stay_on_their_orbit_and_move() {
        let avatar = FloatingAvatar {
            center: Vec3::new(0.0, 10.0, 0.0),
            radius: 20.0,
            phase: 1.0,
            angular_speed: 0.1,
            height: 50.0,
            bob: 0.5,
        };
        let early = avatar.pose_at(0.0).translation;
        let later = avatar.pose_at(10.0).translation;
        assert!(early.distance(later) > 5.0, "moved from {early} to {later}");
        for pose in [early, later] {
            let flat = Vec2::new(pose.x, pose.z).length();
            assert!((flat - 20.0).abs() < 1e-3);
            assert!((pose.y - 60.0).abs() <= 0.5 + 1e-3);
        }
    }

    #[test]
    fn dice_are_deterministic_and_in_range() {
        let rolls = |seed| {
            let mut dice = Dice(seed);
            (0..100).map(|_| dice.next()).collect::<Vec<_>>()
        };
        assert_eq!(rolls(3), rolls(3));
        assert_ne!(rolls(3), rolls(4));
        assert!(rolls(5).iter().all(|roll| (0.0..1.0).contains(roll)));
    }
}
