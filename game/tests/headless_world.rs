//! The world simulation with no window: a body that walks, falls, jumps, flies, stops at
//! walls and travels through portals, driven by injected keyboard input and a fixed
//! 60 Hz clock.

mod common;

use bevy::input::ButtonState;
use bevy::input::keyboard::{Key, KeyboardInput, NativeKey};
use bevy::prelude::*;
use common::{catalog, world_in};
use sanctuary::avatar::controller::{CENTER_ABOVE_FEET, WALK_SPEED};
use sanctuary::avatar::{Motion, Player};
use sanctuary::spaces::{CurrentSpace, Travel, TravelRequest};

fn run(app: &mut App, frames: u32) {
    for _ in 0..frames {
        app.update();
    }
}

/// Sends a key press or release the way a window does.
fn key(app: &mut App, code: KeyCode, state: ButtonState) {
    app.world_mut().write_message(KeyboardInput {
        key_code: code,
        logical_key: Key::Unidentified(NativeKey::Unidentified),
        state,
        text: None,
        repeat: false,
        window: Entity::PLACEHOLDER,
    });
}

fn press(app: &mut App, code: KeyCode) {
    key(app, code, ButtonState::Pressed);
}

fn release(app: &mut App, code: KeyCode) {
    key(app, code, ButtonState::Released);
}

fn hold(app: &mut App, code: KeyCode, frames: u32) {
    press(app, code);
    run(app, frames);
    release(app, code);
}

fn tap(app: &mut App, key: KeyCode) {
    hold(app, key, 1);
    run(app, 1);
}

fn body(app: &mut App) -> (Vec3, Motion) {
    let world = app.world_mut();
    let (transform, motion) = world
        .query_filtered::<(&Transform, &Motion), With<Player>>()
        .single(world)
        .expect("one player");
    (transform.translation, motion.clone())
}

fn put_body(app: &mut App, center: Vec3, yaw: f32) {
    let world = app.world_mut();
    let (mut transform, mut motion) = world
        .query_filtered::<(&mut Transform, &mut Motion), With<Player>>()
        .single_mut(world)
        .expect("one player");
    transform.translation = center;
    motion.yaw = yaw;
    motion.vertical_speed = 0.0;
}

fn current_space(app: &App) -> String {
    app.world().resource::<CurrentSpace>().name.clone()
}

/// Runs frames until `done` holds, up to `limit`; returns the frames it took.
fn run_until(app: &mut App, limit: u32, done: impl Fn(&mut App) -> bool) -> Option<u32> {
    (1..=limit).find(|_| {
        app.update();
        done(app)
    })
}

#[test]
fn gravity_lands_the_body_on_the_floor() {
    let mut app = world_in("lobby");
    run(&mut app, 5);
    put_body(&mut app, Vec3::new(0.0, 8.0, 20.0), 0.0);
    run(&mut app, 120);
    let (position, motion) = body(&mut app);
    assert!(motion.grounded, "standing after two seconds: {motion:?}");
    assert!(
        (position.y - CENTER_ABOVE_FEET).abs() < 0.1,
        "the capsule rests on the floor (top at y = 0), its centre at {}",
        position.y
    );
}

#[test]
fn holding_w_walks_forward_at_walking_speed() {
    let mut app = world_in("lobby");
    run(&mut app, 60);
    let (start, _) = body(&mut app);
    hold(&mut app, KeyCode::KeyW, 60);
    let (end, motion) = body(&mut app);
    let moved = end - start;
    // Facing yaw 0 is facing -z.
    assert!(
        moved.z < -0.8 * WALK_SPEED && moved.z > -1.1 * WALK_SPEED,
        "moved {moved}"
    );
    assert!(moved.x.abs() < 0.05, "moved {moved}");
    assert!(motion.grounded);
}

#[test]
fn shift_runs_faster_than_walking() {
    let mut app = world_in("lobby");
    run(&mut app, 60);
    let (start, _) = body(&mut app);
    press(&mut app, KeyCode::ShiftLeft);
    hold(&mut app, KeyCode::KeyW, 30);
    let (end, _) = body(&mut app);
    // Walking would cover WALK_SPEED / 2 in half a second.
    assert!(
        (start.z - end.z) > 0.9 * WALK_SPEED,
        "ran {} m in half a second",
        start.z - end.z
    );
}

#[test]
fn walls_stop_the_body() {
    let mut app = world_in("lobby");
    run(&mut app, 5);
    // Between the south wall (inner face at z = 30) and a bench, facing the wall (+z).
    put_body(
        &mut app,
        Vec3::new(20.0, CENTER_ABOVE_FEET + 0.05, 25.0),
        std::f32::consts::PI,
    );
    run(&mut app, 30);
    hold(&mut app, KeyCode::KeyW, 180);
    let (position, _) = body(&mut app);
    assert!(
        position.z < 30.0,
        "stopped at the wall, not through it: {position}"
    );
    assert!(position.z > 28.5, "walked up to the wall: {position}");
}

#[test]
fn space_jumps_and_lands_again() {
    let mut app = world_in("lobby");
    run(&mut app, 60);
    let (ground, _) = body(&mut app);
    hold(&mut app, KeyCode::Space, 1);
    let peak = (0..30)
        .map(|_| {
            app.update();
            body(&mut app).0.y
        })
        .fold(f32::MIN, f32::max);
    assert!(peak > ground.y + 0.5, "rose from {} to {peak}", ground.y);
    run(&mut app, 90);
    let (landed, motion) = body(&mut app);
    assert!(
        motion.grounded && (landed.y - ground.y).abs() < 0.1,
        "landed at {}",
        landed.y
    );
}

#[test]
fn f_toggles_flying_and_space_rises() {
    let mut app = world_in("lobby");
    run(&mut app, 60);
    tap(&mut app, KeyCode::KeyF);
    assert!(body(&mut app).1.flying);
    let (start, _) = body(&mut app);
    hold(&mut app, KeyCode::Space, 60);
    let (high, _) = body(&mut app);
    assert!(high.y - start.y > 8.0, "rose from {} to {}", start.y, high.y);
    // Hovering: no gravity while flying.
    run(&mut app, 60);
    assert!((body(&mut app).0.y - high.y).abs() < 0.05);
    tap(&mut app, KeyCode::KeyF);
    assert!(!body(&mut app).1.flying);
    run(&mut app, 180);
    assert!(body(&mut app).1.grounded, "fell back down once flying stopped");
}

#[test]
fn falling_out_of_the_world_returns_to_the_spawn_point() {
    let mut app = world_in("market");
    run(&mut app, 5);
    put_body(&mut app, Vec3::new(200.0, -100.0, 200.0), 0.0);
    run(&mut app, 2);
    let (position, _) = body(&mut app);
    let spawn = catalog()
        .get("market")
        .and_then(|s| s.spawn_point(None).cloned())
        .expect("spawn");
    let feet = Vec3::from_array(spawn.position);
    assert!(
        position.distance(feet + Vec3::Y * CENTER_ABOVE_FEET) < 0.5,
        "back at {position}"
    );
}

#[test]
fn walking_into_a_portal_switches_the_space_and_back() {
    let mut app = world_in("lobby");
    run(&mut app, 30);
    // Just in front of the market portal (north wall), facing it.
    put_body(&mut app, Vec3::new(0.0, CENTER_ABOVE_FEET + 0.05, -23.0), 0.0);
    press(&mut app, KeyCode::KeyW);
    let took = run_until(&mut app, 300, |app| current_space(app) == "market");
    release(&mut app, KeyCode::KeyW);
    assert!(took.is_some(), "reached the market within five seconds");
    let catalog = catalog();
    let market = catalog.get("market").expect("market");
    let arrival = Vec3::from_array(market.spawn_point(Some("from_lobby")).expect("arrival").position);
    let (position, _) = body(&mut app);
    assert!(
        Vec2::new(position.x - arrival.x, position.z - arrival.z).length() < 0.5,
        "stands at the market's arrival point, at {position}"
    );
    run(&mut app, 60);
    assert_eq!(
        *app.world().resource::<Travel>(),
        Travel::Idle,
        "the fade has finished"
    );

    // The market's portal back to the lobby is behind the arrival point.
    let back = market.portals.iter().find(|p| p.to == "lobby").expect("way back");
    put_body(
        &mut app,
        Vec3::new(back.position[0], CENTER_ABOVE_FEET + 0.05, back.position[2] - 2.5),
        std::f32::consts::PI,
    );
    press(&mut app, KeyCode::KeyW);
    let took = run_until(&mut app, 300, |app| current_space(app) == "lobby");
    assert!(took.is_some(), "back in the lobby");
}

#[test]
fn every_space_can_be_entered_and_stood_in() {
    for space in catalog().spaces() {
        let mut app = world_in(&space.name);
        run(&mut app, 90);
        assert_eq!(current_space(&app), space.name);
        let (position, motion) = body(&mut app);
        assert!(
            motion.grounded,
            "{}: standing at the spawn point, at {position}",
            space.name
        );
        let spawn = Vec3::from_array(space.spawn_points[0].position);
        assert!(
            (position.y - CENTER_ABOVE_FEET - spawn.y).abs() < 0.2,
            "{}: feet on the floor at the spawn point, centre at {position}",
            space.name
        );
    }
}

#[test]
fn a_travel_request_takes_the_body_to_that_space() {
    let mut app = world_in("lobby");
    run(&mut app, 10);
    app.world_mut().write_message(TravelRequest {
        to: "lecture-hall".into(),
        arrive_at: None,
    });
    let took = run_until(&mut app, 120, |app| current_space(app) == "lecture-hall");
    assert!(
        took.is_some_and(|frames| frames > 10),
        "after a short fade: {took:?}"
    );
    let entities_with_names = app.world_mut().query::<&Name>().iter(app.world()).count();
    assert!(entities_with_names > 10, "the lecture hall was built");
}

#[test]
fn the_lobby_has_drifting_avatars_that_move() {
    use sanctuary::avatar::floating::FloatingAvatar;
    let mut app = world_in("lobby");
    run(&mut app, 2);
    let positions = |app: &mut App| {
        let world = app.world_mut();
        world
            .query_filtered::<&Transform, With<FloatingAvatar>>()
            .iter(world)
            .map(|t| t.translation)
            .collect::<Vec<_>>()
    };
    let before = positions(&mut app);
    assert!(before.len() >= 20, "{} drifters", before.len());
    assert!(before.iter().any(|p| p.y > 60.0), "some drift high up the atrium");
    run(&mut app, 120);
    let after = positions(&mut app);
    assert!(before.iter().zip(&after).all(|(a, b)| a.distance(*b) > 0.1));
}
