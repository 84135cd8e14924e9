//! Moving comfortably in a headset: walking on the left stick (optionally with a
//! vignette that narrows the view while moving), snap or smooth turning on the right
//! stick, teleporting along an arc (right stick forward, then let go), and flying as on
//! the desktop (rising and sinking on the right stick).

use super::actions::{Hand, HandAim, XrControls};
use super::rig::{XrHead, XrRig};
use super::{TurnStyle, XrSettings};
use crate::avatar::controller::CENTER_ABOVE_FEET;
use crate::avatar::{Motion, MoveIntent, Player};
use bevy::prelude::*;
use bevy_rapier3d::prelude::{QueryFilter, ReadRapierContext};

/// One snap turn, radians.
pub const SNAP_TURN: f32 = std::f32::consts::PI / 6.0;
/// Smooth turning speed, radians per second.
pub const SMOOTH_TURN_SPEED: f32 = 2.0;
/// How far a stick must be pushed to count, and let back to count again.
const PUSHED: f32 = 0.7;
const RELEASED: f32 = 0.3;
/// The teleport arc: launch speed (metres per second), gravity, and its longest time.
const ARC_SPEED: f32 = 9.0;
const ARC_GRAVITY: f32 = 9.8;
const ARC_SECONDS: f32 = 2.0;
const ARC_STEP: f32 = 0.05;

/// What the right stick is doing between frames.
#[derive(Resource, Debug, Default, Clone, PartialEq)]
pub struct StickState {
    /// A snap turn happened and the stick has not come back yet.
    turned: bool,
    /// The teleport arc is out, and where it lands if it lands on a floor.
    pub aiming: Option<Option<Vec3>>,
    /// The arc's points while it is out.
    pub arc: Vec<Vec3>,
}

/// Adds what the sticks and buttons ask to the body's intent, turns the play area, and
/// teleports.
pub fn move_with_sticks(
    time: Res<Time>,
    controls: Res<XrControls>,
    settings: Res<XrSettings>,
    blocked: Res<crate::avatar::ControlsBlocked>,
    mut rig: ResMut<XrRig>,
    mut stick: ResMut<StickState>,
    mut body: Single<(&mut MoveIntent, &Motion), With<Player>>,
) {
    if blocked.0 {
        return;
    }
    let (intent, motion) = &mut *body;
    intent.walk = (intent.walk + controls.walk).clamp_length_max(1.0);
    intent.run |= controls.run;
    intent.jump |= controls.jump_pressed;
    intent.toggle_flying |= controls.fly_pressed;
    if motion.flying && controls.turn.y.abs() > RELEASED {
        intent.rise = controls.turn.y.clamp(-1.0, 1.0);
    }
    let turn = controls.turn.x;
    match settings.turn {
        TurnStyle::Snap => {
            if !stick.turned && turn.abs() > PUSHED {
                rig.yaw -= turn.signum() * SNAP_TURN;
                stick.turned = true;
            } else if turn.abs() < RELEASED {
                stick.turned = false;
            }
        }
        TurnStyle::Smooth => {
            if turn.abs() > 0.15 {
                rig.yaw -= turn * SMOOTH_TURN_SPEED * time.delta_secs();
            }
        }
    }
}

/// Throws the teleport arc while the right stick is pushed forward (walking, not flying)
/// and moves the body where it lands when the stick is let go.
pub fn teleport(
    controls: Res<XrControls>,
    blocked: Res<crate::avatar::ControlsBlocked>,
    rapier: ReadRapierContext,
    aims: Query<(&GlobalTransform, &HandAim)>,
    mut stick: ResMut<StickState>,
    mut body: Single<(Entity, &mut Transform, &mut Motion), With<Player>>,
) {
    let (player, transform, motion) = &mut *body;
    let pushed = controls.turn.y > PUSHED && !motion.flying && !blocked.0;
    let Some(aim) = aims
        .iter()
        .find(|(_, aim)| aim.0 == Hand::Right)
        .map(|(aim, _)| *aim)
    else {
        return;
    };
    if pushed || (stick.aiming.is_some() && controls.turn.y > RELEASED) {
        let Ok(context) = rapier.single() else {
            return;
        };
        let filter = QueryFilter::default().exclude_collider(*player);
        let (points, landing) = arc(aim.translation(), aim.forward().as_vec3(), |from, to| {
            let along = to - from;
            context
                .cast_ray_and_get_normal(from, along.normalize_or_zero(), along.length(), true, filter)
                .map(|(_, hit)| (hit.point, hit.normal))
        });
        stick.arc = points;
        stick.aiming = Some(landing);
    } else if let Some(aimed) = stick.aiming.take() {
        stick.arc.clear();
        if let Some(spot) = aimed {
            transform.translation = spot + Vec3::Y * (CENTER_ABOVE_FEET + 0.05);
            motion.vertical_speed = 0.0;
        }
    }
}

/// Draws the teleport arc while it is out: blue where it lands on a floor, red where it
/// cannot.
pub fn draw_arc(stick: Res<StickState>, mut gizmos: Gizmos) {
    let Some(landing) = stick.aiming else {
        return;
    };
    let color = if landing.is_some() {
        Color::srgb(0.3, 0.9, 1.0)
    } else {
        Color::srgb(1.0, 0.35, 0.3)
    };
    gizmos.linestrip(stick.arc.iter().copied(), color);
    if let Some(spot) = landing {
        let flat = Quat::from_rotation_x(-std::f32::consts::FRAC_PI_2);
        gizmos.circle(Isometry3d::new(spot, flat), 0.35, color);
    }
}

/// The points of a thrown arc from `origin` along `direction`, and where it lands on a
/// floor (a surface facing up), asking `hit(from, to)` for each segment.
pub fn arc(
    origin: Vec3,
    direction: Vec3,
    mut hit: impl FnMut(Vec3, Vec3) -> Option<(Vec3, Vec3)>,
) -> (Vec<Vec3>, Option<Vec3>) {
    let velocity = direction.normalize_or(Vec3::NEG_Z) * ARC_SPEED;
    let mut points = vec![origin];
    let mut t = 0.0;
    while t < ARC_SECONDS {
        t += ARC_STEP;
        let next = origin + velocity * t + Vec3::NEG_Y * (0.5 * ARC_GRAVITY * t * t);
        let from = *points.last().expect("starts with the origin");
        if let Some((point, normal)) = hit(from, next) {
            points.push(point);
            return (points, (normal.y > 0.7).then_some(point));
        }
        points.push(next);
    }
    (points, None)
}

/// Marks the dark ring that narrows the view while moving.
#[derive(Component, Debug, Default, Clone, Copy)]
pub struct Vignette;

/// Puts a vignette ring in front of the headset's eyes, hidden until moving.
pub fn add_vignette(
    head: On<Add, XrHead>,
    mut commands: Commands,
    mut meshes: ResMut<Assets<Mesh>>,
    mut materials: ResMut<Assets<StandardMaterial>>,
) {
    let ring = commands
        .spawn((
            Name::new("comfort vignette"),
            Vignette,
            Mesh3d(meshes.add(Annulus::new(0.07, 0.6))),
            MeshMaterial3d(materials.add(StandardMaterial {
                base_color: Color::BLACK,
                unlit: true,
                ..default()
            })),
            Transform::from_xyz(0.0, 0.0, -0.12),
            Visibility::Hidden,
            bevy::light::NotShadowCaster,
        ))
        .id();
    commands.entity(head.entity).add_child(ring);
}

/// Shows the vignette while the sticks move or turn the person smoothly.
pub fn show_vignette(
    controls: Res<XrControls>,
    settings: Res<XrSettings>,
    mut vignettes: Query<&mut Visibility, With<Vignette>>,
) {
    let moving =
        controls.walk.length() > 0.1 || (settings.turn == TurnStyle::Smooth && controls.turn.x.abs() > 0.15);
    let wanted = if settings.vignette && moving {
        Visibility::Inherited
    } else {
        Visibility::Hidden
    };
    for mut visibility in &mut vignettes {
        visibility.set_if_neq(wanted);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_arc_lands_on_a_floor_and_not_on_a_wall() {
        // A floor at y = 0, thrown from 1.5 m up and ahead.
        let floor = |from: Vec3, to: Vec3| {
            (to.y <= 0.0 && from.y > 0.0).then(|| {
                let along = (from.y) / (from.y - to.y);
                (from.lerp(to, along), Vec3::Y)
            })
        };
        let (points, landing) = arc(Vec3::Y * 1.5, Vec3::new(0.0, 0.3, -1.0), floor);
        let spot = landing.expect("lands");
        assert!(spot.y.abs() < 1e-4 && spot.z < -3.0, "{spot}");
        assert!(points.len() > 3 && points.windows(2).all(|pair| pair[1].z <= pair[0].z));
        // A wall two metres ahead: it stops the arc but is no place to stand.
        let wall = |from: Vec3, to: Vec3| (to.z <= -2.0 && from.z > -2.0).then_some((to, Vec3::Z));
        assert_eq!(arc(Vec3::Y * 1.5, Vec3::NEG_Z, wall).1, None);
        // Thrown into the sky over nothing: no landing, and the arc ends.
        let (points, landing) = arc(Vec3::ZERO, Vec3::Y, |_, _| None);
        assert!(landing.is_none());
        assert!(points.len() <= (ARC_SECONDS / ARC_STEP) as usize + 2);
    }
}
