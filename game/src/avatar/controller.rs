//! The person's body: a kinematic capsule moved by intents, with gravity, jumping,
//! flying and running, that stands on floors and stops at walls.
//!
//! Devices (keyboard here, VR controllers and bots later) only fill in a [`MoveIntent`];
//! [`move_bodies`] turns intents into movement the same way for all of them.

use crate::spaces::{CurrentSpace, PortalUser, SpaceCatalog, SpaceEntered};
use bevy::prelude::*;
use bevy_rapier3d::prelude::*;

/// Half the length of the capsule's straight middle, in metres.
pub const HALF_HEIGHT: f32 = 0.5;
/// Radius of the capsule, in metres.
pub const RADIUS: f32 = 0.35;
/// From the capsule's centre down to the feet.
pub const CENTER_ABOVE_FEET: f32 = HALF_HEIGHT + RADIUS;
/// Height of the eyes above the capsule's centre.
pub const EYES_ABOVE_CENTER: f32 = 0.75;
/// Walking speed, metres per second.
pub const WALK_SPEED: f32 = 4.0;
/// Running speed (Shift), metres per second.
pub const RUN_SPEED: f32 = 9.0;
/// Flying speed, metres per second; Shift makes it four times faster to cross tall spaces.
pub const FLY_SPEED: f32 = 10.0;
/// Upward speed at the start of a jump, metres per second.
pub const JUMP_SPEED: f32 = 5.5;
/// Downward acceleration, metres per second squared.
pub const GRAVITY: f32 = 18.0;
/// Fastest fall, metres per second.
pub const TERMINAL_SPEED: f32 = 55.0;

/// The person this client is driven by.
#[derive(Component, Debug, Default)]
pub struct Player;

/// What the body's driver wants this frame.
#[derive(Component, Debug, Default, Clone, PartialEq)]
pub struct MoveIntent {
    /// Sideways (+x right) and forward (+y) wish, each from -1 to 1.
    pub walk: Vec2,
    /// Up (+1) or down (-1) while flying.
    pub rise: f32,
    /// Jump this frame (only when standing on something).
    pub jump: bool,
    /// Move at the faster speed.
    pub run: bool,
    /// Switch flying on or off this frame.
    pub toggle_flying: bool,
    /// A displacement to make this frame besides walking, in world metres: a person
    /// stepping around their room in a headset. Walls stop it as they stop walking.
    pub step: Vec3,
}

/// Where a tracked head and hands are, relative to the body: filled in by a headset,
/// absent on the desktop. Offsets and rotations are in the body's frame (its facing
/// turned away); the head is measured from the feet, each hand from the head.
#[derive(Resource, Debug, Default, Clone, Copy, PartialEq)]
pub struct TrackedBody {
    /// The head's offset from the feet, and its rotation.
    pub head: (Vec3, Quat),
    /// Each hand's offset from the head and rotation, left then right; `None` while the
    /// hand is not tracked.
    pub hands: [Option<(Vec3, Quat)>; 2],
}

/// How a body is moving: what persists between frames.
#[derive(Component, Debug, Default, Clone)]
pub struct Motion {
    /// Facing, in radians about the up axis (0 faces -z).
    pub yaw: f32,
    /// Head tilt, in radians (positive looks up).
    pub pitch: f32,
    /// Vertical speed, metres per second.
    pub vertical_speed: f32,
    /// Flying ignores gravity.
    pub flying: bool,
    /// Standing on something after the last physics step.
    pub grounded: bool,
}

/// Set while something else (a text field, an overlay) has the keyboard.
#[derive(Resource, Debug, Default)]
pub struct ControlsBlocked(pub bool);

/// Marks bodies whose intent comes from this machine's keyboard.
#[derive(Component, Debug, Default)]
pub struct KeyboardControlled;

/// Everything a walking body needs.
pub fn body_bundle() -> impl Bundle {
    (
        Transform::from_xyz(0.0, CENTER_ABOVE_FEET, 0.0),
        Visibility::default(),
        RigidBody::KinematicPositionBased,
        Collider::capsule_y(HALF_HEIGHT, RADIUS),
        KinematicCharacterController {
            offset: CharacterLength::Absolute(0.02),
            up: Vec3::Y,
            max_slope_climb_angle: 50f32.to_radians(),
            min_slope_slide_angle: 40f32.to_radians(),
            snap_to_ground: Some(CharacterLength::Absolute(0.3)),
            autostep: Some(CharacterAutostep {
                max_height: CharacterLength::Absolute(0.45),
                min_width: CharacterLength::Absolute(0.2),
                include_dynamic_bodies: false,
            }),
            ..default()
        },
        MoveIntent::default(),
        Motion::default(),
        PortalUser,
    )
}

/// Fills the intent of keyboard-controlled bodies from the keyboard.
pub fn read_keyboard(
    keys: Res<ButtonInput<KeyCode>>,
    blocked: Res<ControlsBlocked>,
    mut bodies: Query<&mut MoveIntent, With<KeyboardControlled>>,
) {
    let axis = |plus: &[KeyCode], minus: &[KeyCode]| {
        let pressed = |codes: &[KeyCode]| codes.iter().any(|code| keys.pressed(*code));
        f32::from(u8::from(pressed(plus))) - f32::from(u8::from(pressed(minus)))
    };
    for mut intent in &mut bodies {
        if blocked.0 {
            *intent = MoveIntent::default();
            continue;
        }
        *intent = MoveIntent {
            walk: Vec2::new(
                axis(
                    &[KeyCode::KeyD, KeyCode::ArrowRight],
                    &[KeyCode::KeyA, KeyCode::ArrowLeft],
                ),
                axis(
                    &[KeyCode::KeyW, KeyCode::ArrowUp],
                    &[KeyCode::KeyS, KeyCode::ArrowDown],
                ),
            ),
            rise: axis(&[KeyCode::Space], &[KeyCode::ControlLeft, KeyCode::KeyC]),
            jump: keys.just_pressed(KeyCode::Space),
            run: keys.any_pressed([KeyCode::ShiftLeft, KeyCode::ShiftRight]),
            toggle_flying: keys.just_pressed(KeyCode::KeyF),
            step: Vec3::ZERO,
        };
    }
}

/// Turns intents into the translation the character controller applies this frame.
pub fn move_bodies(
    time: Res<Time>,
    travel: Res<crate::spaces::Travel>,
    mut bodies: Query<(
        &MoveIntent,
        &mut Motion,
        &mut Transform,
        &mut KinematicCharacterController,
    )>,
) {
    let dt = time.delta_secs();
    for (intent, mut motion, mut transform, mut controller) in &mut bodies {
        if intent.toggle_flying {
            motion.flying = !motion.flying;
            motion.vertical_speed = 0.0;
        }
        transform.rotation = Quat::from_rotation_y(motion.yaw);
        if travel.holds_still() {
            controller.translation = None;
            continue;
        }
        let speed = match (motion.flying, intent.run) {
            (false, false) => WALK_SPEED,
            (false, true) => RUN_SPEED,
            (true, false) => FLY_SPEED,
            (true, true) => FLY_SPEED * 4.0,
        };
        let forward = transform.rotation * Vec3::NEG_Z;
        let right = transform.rotation * Vec3::X;
        let wish = (right * intent.walk.x + forward * intent.walk.y).clamp_length_max(1.0);
        let mut velocity = wish * speed;
        if motion.flying {
            motion.vertical_speed = intent.rise.clamp(-1.0, 1.0) * speed;
            controller.snap_to_ground = None;
        } else {
            controller.snap_to_ground = Some(CharacterLength::Absolute(0.3));
            if motion.grounded && intent.jump {
                motion.vertical_speed = JUMP_SPEED;
                controller.snap_to_ground = None;
            } else if motion.grounded && motion.vertical_speed < 0.0 {
                // Keep a little downward push so slopes and steps stay grounded.
                motion.vertical_speed = -1.0;
            }
            motion.vertical_speed = (motion.vertical_speed - GRAVITY * dt).max(-TERMINAL_SPEED);
        }
        velocity.y = motion.vertical_speed;
        controller.translation = Some(velocity * dt + intent.step);
    }
}

/// Reads back what the physics step did: standing on ground, bumping a ceiling.
pub fn read_controller_output(mut bodies: Query<(&mut Motion, &KinematicCharacterControllerOutput)>) {
    for (mut motion, output) in &mut bodies {
        motion.grounded = output.grounded && !motion.flying;
        let blocked_up = output.desired_translation.y > 0.0
            && output.effective_translation.y < output.desired_translation.y * 0.5;
        if (motion.grounded && motion.vertical_speed < 0.0) || blocked_up {
            motion.vertical_speed = 0.0;
        }
    }
}

/// Puts bodies at the arrival point of a space they enter.
pub fn place_on_arrival(
    mut entered: MessageReader<SpaceEntered>,
    mut bodies: Query<(&mut Transform, &mut Motion), With<Player>>,
) {
    let Some(arrival) = entered.read().last() else {
        return;
    };
    for (mut transform, mut motion) in &mut bodies {
        stand_at(&mut transform, &mut motion, arrival.position, arrival.yaw);
        motion.pitch = arrival.pitch;
    }
}

/// Sends a body that fell out of the world back to the space's first spawn point.
pub fn catch_falls(
    catalog: Res<SpaceCatalog>,
    current: Option<Res<CurrentSpace>>,
    mut bodies: Query<(&mut Transform, &mut Motion), With<PortalUser>>,
) {
    let Some(space) = current.and_then(|current| catalog.get(&current.name)) else {
        return;
    };
    let Some(spawn) = space.spawn_point(None) else {
        return;
    };
    for (mut transform, mut motion) in &mut bodies {
        if transform.translation.y < space.fall_limit {
            info!("fell out of {}; back to the spawn point", space.name);
            stand_at(
                &mut transform,
                &mut motion,
                Vec3::from_array(spawn.position),
                spawn.yaw_degrees.to_radians(),
            );
        }
    }
}

fn stand_at(transform: &mut Transform, motion: &mut Motion, feet: Vec3, yaw: f32) {
    transform.translation = feet + Vec3::Y * (CENTER_ABOVE_FEET + 0.05);
    transform.rotation = Quat::from_rotation_y(yaw);
    motion.yaw = yaw;
    motion.pitch = 0.0;
    motion.vertical_speed = 0.0;
    motion.grounded = false;
}
