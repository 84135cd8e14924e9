//! The rig: the tracked play area placed in the world so that the headset stands on the
//! person's body. The body (the same capsule the keyboard walks) stays under the head;
//! stepping around the room moves it, turning turns the play area about the head, and
//! what the headset and controllers do becomes the pose others see.

use super::actions::{Hand, HandGrip};
use crate::avatar::controller::{CENTER_ABOVE_FEET, EYES_ABOVE_CENTER};
use crate::avatar::{Motion, Player, TrackedBody};
use crate::spaces::SpaceEntered;
use bevy::prelude::*;
use bevy_mod_openxr::session::OxrSession;
use bevy_mod_xr::session::{XrTracker, XrTrackingRoot};
use bevy_mod_xr::spaces::XrSpaceLocationFlags;

/// How far the eyes are above the feet on an avatar standing up straight.
pub const STANDING_EYE_HEIGHT: f32 = CENTER_ABOVE_FEET + EYES_ABOVE_CENTER;

/// Marks the entity that follows the headset (OpenXR's view space).
#[derive(Component, Debug, Default, Clone, Copy)]
pub struct XrHead;

/// Where the play area stands: turned by `yaw` about the head, and lifted so that the
/// head is at the avatar's eyes when the person is seated or shorter than it.
#[derive(Resource, Debug, Default, Clone, Copy, PartialEq)]
pub struct XrRig {
    /// The play area's turn in the world, radians about +y.
    pub yaw: f32,
    /// Metres the play area is lifted (see [`calibrated_lift`]).
    pub lift: f32,
    /// Where the head was in the play area last frame, to turn steps into movement.
    last_head: Option<Vec3>,
    /// The play area has been turned to face the body's way once.
    placed: bool,
}

/// The lift that puts a head `head_height` metres above the play area's floor at the
/// avatar's standing eye height: seated people and children see as a standing avatar.
pub fn calibrated_lift(head_height: f32) -> f32 {
    if head_height.is_finite() {
        (STANDING_EYE_HEIGHT - head_height).clamp(-0.5, 1.5)
    } else {
        0.0
    }
}

impl XrRig {
    /// Forgets where the head was, so the rig is placed again when a headset next shows up.
    pub fn forget_head(&mut self) {
        self.last_head = None;
        self.placed = false;
    }
}

/// A rotation's turn about +y (its heading), radians.
pub fn heading(rotation: Quat) -> f32 {
    let forward = rotation * Vec3::NEG_Z;
    if forward.x.abs() + forward.z.abs() < 1e-4 {
        // Looking straight up, the heading is where the top of the head points; straight
        // down, where the back of the head points.
        let up = rotation * Vec3::Y * forward.y.signum();
        return f32::atan2(up.x, up.z);
    }
    f32::atan2(-forward.x, -forward.z)
}

/// Starts following the headset once the session exists.
pub fn follow_head(session: Res<OxrSession>, mut commands: Commands) {
    match session.create_reference_space(openxr::ReferenceSpaceType::VIEW, Isometry3d::IDENTITY) {
        Ok(view) => {
            commands.spawn((
                Name::new("headset"),
                XrHead,
                view.0,
                XrTracker,
                Transform::default(),
                Visibility::default(),
            ));
        }
        Err(error) => error!("xr: cannot follow the headset: {error}"),
    }
}

/// The head and hands in the play area this frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tracked {
    /// The head's place and rotation in the play area.
    pub head: Transform,
    /// Each hand's grip, when tracked: left, right.
    pub hands: [Option<Transform>; 2],
}

/// Turns the headset's movement into the body's: its facing follows the head, and
/// steps taken in the room move it. Runs after the keyboard, adding to its intent.
pub fn step_with_head(
    head: Query<&Transform, With<XrHead>>,
    mut rig: ResMut<XrRig>,
    mut arrivals: MessageReader<SpaceEntered>,
    mut body: Single<(&mut Motion, &mut crate::avatar::MoveIntent), With<Player>>,
) {
    let arrival = arrivals.read().last().map(|arrival| arrival.yaw);
    let Ok(head) = head.single() else {
        return;
    };
    let (motion, intent) = &mut *body;
    let head_heading = heading(head.rotation);
    // On arriving, and when the headset first shows up: face the way the space (or the
    // body) faces, wherever the person faces in their room.
    if let Some(facing) = arrival.or((!rig.placed).then_some(motion.yaw)) {
        rig.yaw = facing - head_heading;
        rig.last_head = None;
        rig.placed = true;
    }
    let turn = Quat::from_rotation_y(rig.yaw);
    if let Some(last) = rig.last_head {
        let moved = head.translation - last;
        let step = turn * Vec3::new(moved.x, 0.0, moved.z);
        // A jump of a metre or more in one frame is tracking being lost and found.
        if step.length() < 1.0 {
            intent.step += step;
        }
    }
    rig.last_head = Some(head.translation);
    rig.yaw = rig.yaw.rem_euclid(std::f32::consts::TAU);
    motion.yaw = rig.yaw + head_heading;
    let facing = Quat::from_rotation_y(head_heading);
    let looking = facing.inverse() * head.rotation;
    let forward = looking * Vec3::NEG_Z;
    motion.pitch = forward.y.clamp(-1.0, 1.0).asin();
}

/// Places the play area so that the head is above the body, after the body moved.
pub fn place_rig(
    rig: Res<XrRig>,
    head: Query<&Transform, (With<XrHead>, Without<XrTrackingRoot>)>,
    body: Single<&Transform, (With<Player>, Without<XrTrackingRoot>)>,
    mut root: Single<&mut Transform, With<XrTrackingRoot>>,
) {
    let head = head.single().map(|head| head.translation).unwrap_or(Vec3::ZERO);
    let feet = body.translation - Vec3::Y * CENTER_ABOVE_FEET;
    let turn = Quat::from_rotation_y(rig.yaw);
    root.translation = feet + Vec3::Y * rig.lift - turn * Vec3::new(head.x, 0.0, head.z);
    root.rotation = turn;
}

/// Writes where the head and hands are, relative to the body, for others to see; while
/// no headset is followed there is no [`TrackedBody`], and the desktop's pose is sent.
pub fn track_body(
    rig: Res<XrRig>,
    head: Query<&Transform, With<XrHead>>,
    grips: Query<(&Transform, &HandGrip, &XrSpaceLocationFlags)>,
    mut commands: Commands,
) {
    let Ok(head) = head.single() else {
        commands.remove_resource::<TrackedBody>();
        return;
    };
    let mut hands = [None, None];
    for (transform, grip, flags) in &grips {
        if flags.position_tracked {
            hands[usize::from(grip.0 == Hand::Right)] = Some(*transform);
        }
    }
    commands.insert_resource(body_pose(&Tracked { head: *head, hands }, rig.lift));
}

/// The pose of a body under a tracked head: everything turned into the body's frame
/// (which faces where the head faces), the head measured from the feet and each hand
/// from the head.
pub fn body_pose(tracked: &Tracked, lift: f32) -> TrackedBody {
    let unturn = Quat::from_rotation_y(heading(tracked.head.rotation)).inverse();
    let head = tracked.head.translation;
    TrackedBody {
        head: (
            Vec3::Y * (head.y + lift),
            (unturn * tracked.head.rotation).normalize(),
        ),
        hands: tracked.hands.map(|hand| {
            hand.map(|hand| {
                (
                    unturn * (hand.translation - head),
                    (unturn * hand.rotation).normalize(),
                )
            })
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heading_is_the_turn_about_up_whatever_the_tilt() {
        let turned = Quat::from_rotation_y(0.7);
        assert!((heading(turned) - 0.7).abs() < 1e-5);
        let nodding = turned * Quat::from_rotation_x(-0.5);
        assert!((heading(nodding) - 0.7).abs() < 1e-5);
        assert!(heading(Quat::IDENTITY).abs() < 1e-6);
        let straight_down = turned * Quat::from_rotation_x(-std::f32::consts::FRAC_PI_2);
        assert!(
            (heading(straight_down) - 0.7).abs() < 1e-3,
            "{}",
            heading(straight_down)
        );
        let straight_up = turned * Quat::from_rotation_x(std::f32::consts::FRAC_PI_2);
        assert!(
            (heading(straight_up) - 0.7).abs() < 1e-3,
            "{}",
            heading(straight_up)
        );
    }

    #[test]
    fn a_body_pose_faces_where_the_head_faces_and_measures_hands_from_it() {
        let head = Transform::from_xyz(0.5, 1.2, -0.3).with_rotation(Quat::from_rotation_y(1.0));
        // The right hand half a metre in front of the face, as seen in the room.
        let ahead = Quat::from_rotation_y(1.0) * Vec3::new(0.0, -0.2, -0.5);
        let hand = Transform::from_translation(head.translation + ahead);
        let pose = body_pose(
            &Tracked {
                head,
                hands: [None, Some(hand)],
            },
            calibrated_lift(1.2),
        );
        assert!(
            (pose.head.0 - Vec3::Y * STANDING_EYE_HEIGHT).length() < 1e-5,
            "seated head lifted"
        );
        assert!(
            pose.head.1.angle_between(Quat::IDENTITY) < 1e-4,
            "the body turned with the head"
        );
        let (offset, _) = pose.hands[1].expect("right hand");
        assert!((offset - Vec3::new(0.0, -0.2, -0.5)).length() < 1e-4, "{offset}");
        assert!(pose.hands[0].is_none());
    }

    #[test]
    fn the_lift_puts_any_head_at_standing_eye_height_within_reason() {
        assert!((calibrated_lift(1.0) + 1.0 - STANDING_EYE_HEIGHT).abs() < 1e-6);
        assert_eq!(calibrated_lift(STANDING_EYE_HEIGHT), 0.0);
        assert_eq!(calibrated_lift(0.0), 1.5, "lying on the floor is capped");
        assert_eq!(calibrated_lift(f32::NAN), 0.0);
    }
}
