//! The body in a headset without a headset: the rig and the sticks' movement driven in
//! the headless world by setting what the headset and controllers would report.

mod common;

use bevy::prelude::*;
use bevy_mod_xr::session::XrTrackingRoot;
use bevy_mod_xr::spaces::XrSpaceLocationFlags;
use sanctuary::avatar::{Motion, Player, TrackedBody};
use sanctuary::xr::XrBodyPlugin;
use sanctuary::xr::actions::{Hand, HandAim, HandGrip, XrControls};
use sanctuary::xr::locomotion::{SNAP_TURN, StickState};
use sanctuary::xr::rig::{XrHead, XrRig};

/// The lobby with the body plugin, a headset 1.6 m up in the middle of the room, and a
/// tracking root, settled on the floor.
fn lobby_in_a_headset() -> App {
    lobby_in_a_headset_with(|_| {})
}

/// [`lobby_in_a_headset`], with `extra` added before it starts.
fn lobby_in_a_headset_with(extra: impl FnOnce(&mut App)) -> App {
    let mut app = common::world_in_with("lobby", |app| {
        app.add_plugins(XrBodyPlugin {
            settings_dir: common::scratch_data_dir(),
        });
        extra(app);
    });
    app.world_mut().spawn((XrTrackingRoot, Transform::default()));
    app.world_mut()
        .spawn((XrHead, Transform::from_xyz(0.0, 1.6, 0.0)));
    for _ in 0..60 {
        app.update();
    }
    app
}

fn body(app: &mut App) -> (Vec3, f32) {
    let world = app.world_mut();
    let (transform, motion) = world
        .query_filtered::<(&Transform, &Motion), With<Player>>()
        .single(world)
        .expect("the body");
    (transform.translation, motion.yaw)
}

/// How far a heading turned from `from` to `to`, the short way round (radians, left positive).
fn turned_from(from: f32, to: f32) -> f32 {
    use std::f32::consts::{PI, TAU};
    (to - from + PI).rem_euclid(TAU) - PI
}

/// Where the headset is in the world: the tracking root applied to its place in the room.
fn head_in_world(app: &mut App) -> Vec3 {
    let world = app.world_mut();
    let root = *world
        .query_filtered::<&Transform, With<XrTrackingRoot>>()
        .single(world)
        .expect("the root");
    let head = *world
        .query_filtered::<&Transform, With<XrHead>>()
        .single(world)
        .expect("the head");
    root.transform_point(head.translation)
}

fn set_head(app: &mut App, head: Transform) {
    let world = app.world_mut();
    *world
        .query_filtered::<&mut Transform, With<XrHead>>()
        .single_mut(world)
        .expect("the head") = head;
}

#[test]
fn stepping_in_the_room_moves_the_body_and_the_head_stays_on_it() {
    let mut app = lobby_in_a_headset();
    let (start, yaw) = body(&mut app);
    let head = head_in_world(&mut app);
    assert!(
        (head.x - start.x).abs() < 1e-3 && (head.z - start.z).abs() < 1e-3,
        "head {head} over body {start}"
    );
    // The person steps 40 cm to the right of where the space faces them, over 20 frames.
    for frame in 1..=20 {
        set_head(&mut app, Transform::from_xyz(0.02 * frame as f32, 1.6, 0.0));
        app.update();
    }
    app.update();
    let (moved, _) = body(&mut app);
    let right = Quat::from_rotation_y(yaw) * Vec3::X;
    assert!(
        ((moved - start).dot(right) - 0.4).abs() < 0.02,
        "moved {}",
        moved - start
    );
    let head = head_in_world(&mut app);
    assert!(
        (head.x - moved.x).abs() < 1e-3 && (head.z - moved.z).abs() < 1e-3,
        "the head stays on the body"
    );
}

#[test]
fn a_snap_turn_turns_about_the_head_once_per_push_and_the_hands_are_told() {
    let mut app = lobby_in_a_headset();
    app.world_mut().spawn((
        HandGrip(Hand::Right),
        Transform::from_xyz(0.3, 1.4, -0.35),
        XrSpaceLocationFlags {
            position_tracked: true,
            rotation_tracked: true,
        },
    ));
    let (_, yaw) = body(&mut app);
    let head = head_in_world(&mut app);
    let rig = *app.world().resource::<XrRig>();
    app.world_mut().resource_mut::<XrControls>().turn.x = 1.0;
    for _ in 0..5 {
        app.update();
    }
    let (_, turned) = body(&mut app);
    assert!(
        (turned_from(yaw, turned) + SNAP_TURN).abs() < 1e-4,
        "one snap while the stick stays pushed"
    );
    assert!((turned_from(rig.yaw, app.world().resource::<XrRig>().yaw) + SNAP_TURN).abs() < 1e-4);
    assert!(
        head_in_world(&mut app).distance(head) < 0.02,
        "turned about the head"
    );
    app.world_mut().resource_mut::<XrControls>().turn.x = 0.0;
    app.update();
    app.world_mut().resource_mut::<XrControls>().turn.x = -1.0;
    app.update();
    app.update();
    let (_, back) = body(&mut app);
    assert!(
        turned_from(yaw, back).abs() < 1e-4,
        "a push the other way turns back"
    );
    // Others are told where the hand is, from the head, in the body's frame.
    let tracked = *app.world().resource::<TrackedBody>();
    let (offset, _) = tracked.hands[1].expect("the right hand is tracked");
    assert!(offset.distance(Vec3::new(0.3, -0.2, -0.35)) < 1e-3, "{offset}");
    assert!(tracked.hands[0].is_none());
    assert!((tracked.head.0.y - 1.6).abs() < 1e-3);
}

#[test]
fn the_teleport_arc_lands_on_the_floor_and_letting_go_moves_the_body_there() {
    let mut app = lobby_in_a_headset();
    let (start, yaw) = body(&mut app);
    let ahead = Quat::from_rotation_y(yaw) * Vec3::NEG_Z;
    // The right hand at the chest, pointing ahead and a little down.
    let hand = start + Vec3::Y * 0.5 + ahead * 0.3;
    app.world_mut().spawn((
        HandAim(Hand::Right),
        Transform::from_translation(hand).looking_to(ahead - Vec3::Y * 0.3, Vec3::Y),
    ));
    app.update();
    app.world_mut().resource_mut::<XrControls>().turn.y = 1.0;
    app.update();
    app.update();
    let spot = app
        .world()
        .resource::<StickState>()
        .aiming
        .expect("the arc is out")
        .expect("it lands on the floor");
    assert!(spot.y.abs() < 0.05, "on the lobby floor: {spot}");
    let distance = (spot - start).dot(ahead);
    assert!(distance > 2.0, "ahead of the body: {distance}");
    let (still, _) = body(&mut app);
    assert!(still.distance(start) < 0.05, "nothing moves while aiming");
    app.world_mut().resource_mut::<XrControls>().turn.y = 0.0;
    for _ in 0..3 {
        app.update();
    }
    let (there, _) = body(&mut app);
    assert!(
        Vec2::new(there.x - spot.x, there.z - spot.z).length() < 0.1,
        "teleported to {spot}: {there}"
    );
}

#[test]
fn smooth_turning_turns_while_held_and_the_vignette_narrows_the_view_while_moving() {
    use sanctuary::xr::locomotion::{SMOOTH_TURN_SPEED, Vignette, show_vignette};
    use sanctuary::xr::{TurnStyle, XrSettings};
    let mut app = lobby_in_a_headset();
    app.add_systems(Update, show_vignette);
    let ring = app.world_mut().spawn((Vignette, Visibility::Hidden)).id();
    app.world_mut().resource_mut::<XrSettings>().turn = TurnStyle::Smooth;
    let (_, yaw) = body(&mut app);
    app.world_mut().resource_mut::<XrControls>().turn.x = 1.0;
    for _ in 0..60 {
        app.update();
    }
    let (_, turned) = body(&mut app);
    let expected = SMOOTH_TURN_SPEED * 59.0 * common::FRAME.as_secs_f32();
    assert!(
        (turned_from(turned, yaw) - expected).abs() < 0.05,
        "turned {} of {expected}",
        turned_from(turned, yaw)
    );
    assert_eq!(
        app.world().get::<Visibility>(ring),
        Some(&Visibility::Inherited),
        "narrowed while turning"
    );
    app.world_mut().resource_mut::<XrControls>().turn.x = 0.0;
    app.update();
    assert_eq!(
        app.world().get::<Visibility>(ring),
        Some(&Visibility::Hidden),
        "open again at rest"
    );
    app.world_mut().resource_mut::<XrControls>().walk = Vec2::Y;
    app.update();
    assert_eq!(
        app.world().get::<Visibility>(ring),
        Some(&Visibility::Inherited),
        "narrowed while walking"
    );
    app.world_mut().resource_mut::<XrSettings>().vignette = false;
    app.update();
    assert_eq!(
        app.world().get::<Visibility>(ring),
        Some(&Visibility::Hidden),
        "never when turned off"
    );
}

#[test]
fn the_right_hand_aims_build_mode_and_the_grips_are_passed_on() {
    use sanctuary::build::BuildingHand;
    let mut app = lobby_in_a_headset();
    let pointing = Transform::from_xyz(0.3, 1.4, -0.35).looking_to(Vec3::new(0.0, -1.0, -1.0), Vec3::Y);
    app.world_mut().spawn((HandAim(Hand::Right), pointing));
    app.world_mut()
        .spawn((HandAim(Hand::Left), Transform::from_xyz(-0.3, 1.4, -0.35)));
    app.world_mut().resource_mut::<XrControls>().squeezed = [false, true];
    app.update();
    app.update();
    let hand = app.world().resource::<BuildingHand>().clone();
    assert_eq!(hand.grips, [false, true]);
    let (origin, direction) = hand.aim.expect("the right hand aims");
    assert!(origin.distance(pointing.translation) < 1e-4, "{origin}");
    assert!(
        direction.distance(Vec3::new(0.0, -1.0, -1.0).normalize()) < 1e-4,
        "{direction}"
    );
    app.world_mut().resource_mut::<XrControls>().squeezed = [true, false];
    app.update();
    assert_eq!(app.world().resource::<BuildingHand>().grips, [true, false]);
}

#[test]
fn the_wrist_menu_turns_building_on_picks_the_piece_and_keeps_the_comfort_settings() {
    use sanctuary::app::DataDir;
    use sanctuary::build::BuildMode;
    use sanctuary::panels::PanelAppExt;
    use sanctuary::xr::wrist::{WristMenu, menu_spec, menu_ui};
    use sanctuary::xr::{TurnStyle, XrSettings};
    use sanctuary_protocols::build::PieceKind;
    let mut app = lobby_in_a_headset_with(|app| {
        app.init_resource::<WristMenu>()
            .init_resource::<BuildMode>()
            .add_panel(menu_spec(), menu_ui);
    });
    let menu = common::PanelView::client("menu");
    menu.click_text(
        &mut app,
        "Build: the right grip grabs or places, the left removes",
    );
    assert!(app.world().resource::<BuildMode>().active);
    menu.click_text(&mut app, "Slab");
    assert_eq!(app.world().resource::<BuildMode>().kind, PieceKind::Slab);

    let defaults = *app.world().resource::<XrSettings>();
    menu.click_text(&mut app, "Smooth");
    menu.click_text(&mut app, "Narrow the view while moving");
    // Sitting down, the person says so: they are lifted to a standing avatar's eyes.
    set_head(&mut app, Transform::from_xyz(0.0, 1.1, 0.0));
    menu.click_text(&mut app, "Seated");
    let settings = *app.world().resource::<XrSettings>();
    assert_eq!(settings.turn, TurnStyle::Smooth);
    assert_eq!(settings.vignette, !defaults.vignette);
    assert!(settings.seated);
    assert!(
        (settings.lift - sanctuary::xr::rig::calibrated_lift(1.1)).abs() < 1e-4 && settings.lift > 0.3,
        "lift {}",
        settings.lift
    );
    assert_eq!(app.world().resource::<XrRig>().lift, settings.lift);
    // Leaning back in the chair, they set their height again.
    set_head(&mut app, Transform::from_xyz(0.0, 1.3, 0.0));
    menu.click_text(&mut app, "Set my height");
    let settings = *app.world().resource::<XrSettings>();
    assert!((settings.lift - sanctuary::xr::rig::calibrated_lift(1.3)).abs() < 1e-4);
    assert_eq!(app.world().resource::<XrRig>().lift, settings.lift);
    // The settings outlive the session.
    let data = app.world().resource::<DataDir>().0.clone();
    assert_eq!(XrSettings::load(&data), settings);
}
