//! Building between real clients on loopback: what one builds stands in the other's
//! world (with a collider to walk on), undo and redo travel too, three people building at
//! once draw the same scene, edits outside the rules are refused with a message, and a
//! host that starts again finds what it built.

mod common;

use bevy::ecs::system::RunSystemOnce;
use bevy::prelude::*;
use bevy_rapier3d::prelude::{QueryFilter, ReadRapierContext};
use common::{folder, host_and_guest, networked_client, run_until};
use sanctuary::build::{BuildAction, BuildLink, BuildStatus, BuiltPiece, BuiltScene};
use sanctuary::net_bridge::NetMode;
use sanctuary_protocols::build::{Piece, PieceKind};
use sanctuary_protocols::message::Rgb;

const BRICK: Rgb = Rgb { r: 176, g: 92, b: 58 };

/// A block in the lobby's garden, 3 m north of the fountain.
fn garden_block(x_mm: i32) -> Piece {
    Piece::new(PieceKind::Block, [x_mm, 500, -7000], BRICK)
}

fn standing(app: &App) -> usize {
    app.world().resource::<BuiltScene>().len()
}

fn drawn(app: &mut App) -> usize {
    let world = app.world_mut();
    world.query::<&BuiltPiece>().iter(world).count()
}

/// Where a ray straight down from `from` first hits something solid.
fn ground_below(app: &mut App, from: Vec3) -> Option<f32> {
    app.world_mut()
        .run_system_once(move |rapier: ReadRapierContext| {
            let context = rapier.single().ok()?;
            context
                .cast_ray(from, Vec3::NEG_Y, 20.0, true, QueryFilter::only_fixed())
                .map(|(_, distance)| from.y - distance)
        })
        .ok()
        .flatten()
}

/// What building last said to the person.
fn said(app: &App) -> String {
    app.world()
        .resource::<BuildStatus>()
        .message
        .clone()
        .unwrap_or_default()
}

fn act(app: &mut App, action: BuildAction) {
    app.world_mut().write_message(action);
}

#[test]
fn what_one_builds_stands_in_the_others_world_and_undo_travels_too() {
    let (mut host, mut guest) = host_and_guest("lobby", &folder("build-host"), &folder("build-guest"));
    run_until(&mut [&mut host, &mut guest], "building to be ready", |apps| {
        apps.iter()
            .all(|app| app.world().resource::<BuildLink>().0.is_some())
    });

    // The host stacks two blocks; the guest sees both, and can stand on them.
    act(&mut host, BuildAction::Place(vec![garden_block(2000)]));
    host.update();
    let on_top = Piece {
        position: [2000, 1500, -7000],
        ..garden_block(2000)
    };
    act(&mut host, BuildAction::Place(vec![on_top]));
    host.update();
    assert_eq!(standing(&host), 2, "shown at once where it was made");
    run_until(
        &mut [&mut host, &mut guest],
        "the guest to see two pieces",
        |apps| standing(apps[1]) == 2,
    );
    guest.update();
    assert_eq!(drawn(&mut guest), 2);
    let top = ground_below(&mut guest, Vec3::new(2.0, 6.0, -7.0)).expect("something to stand on");
    assert!(
        (top - 2.0).abs() < 0.02,
        "the stack's top is 2 m up, the ray says {top}"
    );

    // Undo takes the top block away on both sides; redo puts it back.
    act(&mut host, BuildAction::Undo);
    run_until(
        &mut [&mut host, &mut guest],
        "the undo to reach the guest",
        |apps| standing(apps[0]) == 1 && standing(apps[1]) == 1,
    );
    let top = ground_below(&mut guest, Vec3::new(2.0, 6.0, -7.0)).expect("the lower block");
    assert!((top - 1.0).abs() < 0.02, "{top}");
    act(&mut host, BuildAction::Redo);
    run_until(
        &mut [&mut host, &mut guest],
        "the redo to reach the guest",
        |apps| standing(apps[0]) == 2 && standing(apps[1]) == 2,
    );

    // The guest builds too, and may not remove the host's pieces in an open zone.
    act(&mut guest, BuildAction::Place(vec![garden_block(-3000)]));
    run_until(
        &mut [&mut host, &mut guest],
        "the guest's block at the host",
        |apps| standing(apps[0]) == 3,
    );
    let hosts: Vec<_> = {
        let scene = guest.world().resource::<BuiltScene>();
        let me = guest.world().resource::<BuildLink>().0.as_ref().unwrap().me();
        scene
            .pieces()
            .filter(|(id, _)| id.creator != me)
            .map(|(id, _)| *id)
            .collect()
    };
    act(&mut guest, BuildAction::Remove(hosts));
    guest.update();
    let message = said(&guest);
    assert!(message.contains("without owning"), "{message}");
    assert_eq!(standing(&guest), 3);
}

/// The pieces as the app draws them: each piece's entity, where it stands, how it is
/// turned and how large it is (millimetres and thousandths), and the chunks given
/// colliders, in order.
fn drawn_scene(app: &mut App) -> (Vec<(String, [i64; 3], i64, [i64; 3])>, Vec<IVec3>) {
    use sanctuary::build::scene::PieceChunk;
    let world = app.world_mut();
    let round = |v: Vec3| (v * 1000.0).round().as_i64vec3().to_array();
    let mut pieces: Vec<_> = world
        .query::<(&BuiltPiece, &Transform)>()
        .iter(world)
        .map(|(built, at)| {
            let (_, yaw, _) = at.rotation.to_euler(EulerRot::YXZ);
            (
                built.0.to_string(),
                round(at.translation),
                (yaw * 1000.0).round() as i64,
                round(at.scale),
            )
        })
        .collect();
    pieces.sort();
    let mut chunks: Vec<IVec3> = world
        .query::<&PieceChunk>()
        .iter(world)
        .map(|chunk| chunk.0)
        .collect();
    chunks.sort_by_key(|chunk| chunk.to_array());
    (pieces, chunks)
}

#[test]
fn three_people_build_at_once_and_see_the_same_scene() {
    use common::invite_ticket;
    let (mut host, mut first) =
        host_and_guest("lobby", &folder("build-three-host"), &folder("build-three-a"));
    let ticket = invite_ticket(&host).parse().expect("a ticket");
    let mut second = networked_client("lobby", &folder("build-three-b"), NetMode::Join(ticket));
    run_until(
        &mut [&mut host, &mut first, &mut second],
        "building to be ready on all three",
        |apps| {
            apps.iter()
                .all(|app| app.world().resource::<BuildLink>().0.is_some())
        },
    );

    // In the same frames, before any of it travels: each places a row of pieces of its own
    // kind across the garden, turned and sized differently.
    let row = |kind: PieceKind, z_mm: i32, yaw: u8| -> Vec<Piece> {
        (0..4)
            .map(|i| Piece {
                yaw,
                ..Piece::new(kind, [-6000 + i * 3000, 500, z_mm], BRICK)
            })
            .collect()
    };
    act(&mut host, BuildAction::Place(row(PieceKind::Block, -5000, 0)));
    act(&mut first, BuildAction::Place(row(PieceKind::Stairs, -7500, 6)));
    act(&mut second, BuildAction::Place(row(PieceKind::Ramp, -10000, 12)));
    for app in [&mut host, &mut first, &mut second] {
        app.update();
    }
    // And at once each changes its mind about one: the host takes its first away, the
    // first raises its last, the second undoes its whole row and redoes it.
    let own = |app: &App| -> Vec<(sanctuary_protocols::build::PieceId, Piece)> {
        let me = app.world().resource::<BuildLink>().0.as_ref().unwrap().me();
        let mut own: Vec<_> = app
            .world()
            .resource::<BuiltScene>()
            .pieces()
            .filter(|(id, _)| id.creator == me)
            .map(|(id, piece)| (*id, piece.clone()))
            .collect();
        own.sort_by_key(|(id, _)| *id);
        own
    };
    let host_first = own(&host)[0].0;
    act(&mut host, BuildAction::Remove(vec![host_first]));
    let (raised_id, mut raised) = own(&first)[3].clone();
    raised.position[1] += 1000;
    act(&mut first, BuildAction::Change(vec![(raised_id, raised)]));
    act(&mut second, BuildAction::Undo);
    second.update();
    act(&mut second, BuildAction::Redo);

    run_until(
        &mut [&mut host, &mut first, &mut second],
        "the three to show the same eleven pieces",
        |apps| apps.iter().all(|app| standing(app) == 11),
    );
    for app in [&mut host, &mut first, &mut second] {
        app.update();
    }
    let scenes = [
        drawn_scene(&mut host),
        drawn_scene(&mut first),
        drawn_scene(&mut second),
    ];
    assert_eq!(scenes[0].0.len(), 11, "{:?}", scenes[0].0);
    assert!(!scenes[0].1.is_empty(), "chunks with colliders");
    assert_eq!(scenes[0], scenes[1], "the host and the first guest draw the same");
    assert_eq!(scenes[1], scenes[2], "the two guests draw the same");
    let raised_at = scenes[0]
        .0
        .iter()
        .find(|(id, ..)| *id == raised_id.to_string())
        .map(|(_, at, ..)| at[1]);
    assert_eq!(raised_at, Some(1500), "the change stands, not the first placing");
    let hashes: Vec<_> = [&host, &first, &second]
        .iter()
        .map(|app| {
            let link = app.world().resource::<BuildLink>().0.clone().unwrap();
            let space = sanctuary_protocols::text::SpaceName::new("lobby").unwrap();
            link.state(&space).map(|state| state.hash)
        })
        .collect();
    assert!(hashes[0].is_some() && hashes.iter().all(|hash| *hash == hashes[0]));
}

#[test]
fn outside_the_zones_nothing_is_built_and_the_person_is_told_why() {
    let dir = folder("build-refused");
    let mut host = networked_client("lobby", &dir, NetMode::Host);
    run_until(&mut [&mut host], "building to be ready", |apps| {
        apps[0].world().resource::<BuildLink>().0.is_some()
    });
    // By the spawn point, south of the garden.
    act(
        &mut host,
        BuildAction::Place(vec![Piece::new(PieceKind::Block, [0, 500, 9000], BRICK)]),
    );
    host.update();
    let message = said(&host);
    assert!(message.contains("outside every building zone"), "{message}");
    // Too large for the garden (largest 6 m).
    let huge = Piece {
        size: [700, 100, 100],
        ..garden_block(0)
    };
    act(&mut host, BuildAction::Place(vec![huge.clone()]));
    host.update();
    let message = said(&host);
    assert!(message.contains("larger than zone"), "{message}");
    assert_eq!(standing(&host), 0);

    // Build mode's ghost asks the same checks: red, with the reason, where these would go.
    let link = host.world().resource::<BuildLink>().clone();
    let here = host.world().resource::<sanctuary::spaces::CurrentSpace>().clone();
    let refusal = |piece: &Piece| sanctuary::build::mode::refusal(&link, Some(&here), piece);
    assert_eq!(refusal(&garden_block(0)), None);
    let by_the_spawn = Piece::new(PieceKind::Block, [0, 500, 9000], BRICK);
    assert_eq!(
        refusal(&by_the_spawn).as_deref(),
        Some("Outside the building zones.")
    );
    let too_big = refusal(&huge).unwrap_or_default();
    assert!(too_big.contains("larger than zone"), "{too_big}");
}

#[test]
fn a_host_that_starts_again_hosts_the_same_world_with_what_was_built() {
    let dir = folder("build-restart");
    let world = {
        let mut host = networked_client("lobby", &dir, NetMode::Host);
        run_until(&mut [&mut host], "building to be ready", |apps| {
            apps[0].world().resource::<BuildLink>().0.is_some()
        });
        act(
            &mut host,
            BuildAction::Place(vec![garden_block(0), garden_block(1500)]),
        );
        host.update();
        assert_eq!(standing(&host), 2);
        host.world().resource::<sanctuary::net_bridge::NetStatus>().world
    };
    let mut again = networked_client("lobby", &dir, NetMode::Host);
    run_until(&mut [&mut again], "the pieces to be back", |apps| {
        standing(apps[0]) == 2
    });
    assert_eq!(
        again.world().resource::<sanctuary::net_bridge::NetStatus>().world,
        world
    );
}

/// Pixels of the magenta a wall of [`SIGNAL`] shows as in the lobby's light (about
/// (115, 0, 115); nothing else in the lobby has that colour).
fn signal_pixels(path: &std::path::Path) -> usize {
    common::read_screenshot(path)
        .pixels
        .iter()
        .filter(|p| p[0] > 90 && p[2] > 90 && p[1] < 30 && p[0].abs_diff(p[2]) < 30)
        .count()
}

/// A colour nothing in the lobby has.
const SIGNAL: Rgb = Rgb { r: 255, g: 0, b: 255 };

#[test]
fn a_structure_another_peer_built_shows_in_a_real_window() {
    use std::time::Duration;

    let display = common::VirtualDisplay::start();
    let root = folder("build-window");
    let shot = root.join("built.png");
    let (mut viewer, ticket) = common::windowed_host(&display, &root.join("viewer"), 90, &shot, &[]);
    // A headless peer joins and builds a magenta wall in the garden, facing the viewer.
    let mut builder = networked_client(
        "lobby",
        &root.join("builder"),
        NetMode::Join(ticket.parse().expect("a ticket")),
    );
    run_until(&mut [&mut builder], "the builder to be ready", |apps| {
        apps[0].world().resource::<BuildLink>().0.is_some()
    });
    let wall = |x: i32| Piece {
        size: [300, 400, 30],
        color: SIGNAL,
        ..Piece::new(PieceKind::Wall, [x, 2000, -8000], SIGNAL)
    };
    // And a green sign in front of them, its text painted in dark ink.
    let sign = Piece {
        size: [240, 100, 5],
        text: Some(sanctuary_protocols::build::SignText::new("HELLO").unwrap()),
        ..Piece::new(PieceKind::Sign, [0, 1300, -6500], BOARD)
    };
    act(
        &mut builder,
        BuildAction::Place(vec![wall(-1500), wall(1500), sign]),
    );
    builder.update();
    assert_eq!(standing(&builder), 3);
    let (status, stderr) = common::wait_for_window(&mut viewer, Duration::from_secs(400), || {
        builder.update();
    });
    assert!(status.success(), "{stderr}");
    let magenta = signal_pixels(&shot);
    assert!(
        magenta > 3_000,
        "the wall shows ({magenta} magenta pixels in {}); the client said: {stderr}",
        shot.display()
    );
    // The sign's text is painted on its board: dark letters inside the green.
    let (board, ink) = board_and_ink_pixels(&shot);
    assert!(board > 1_000, "the sign's board shows ({board} green pixels)");
    assert!(
        ink * 20 > board,
        "its text shows on it ({ink} dark pixels on a board of {board})"
    );
}

/// The green of the sign's board in [`a_structure_another_peer_built_shows_in_a_real_window`].
const BOARD: Rgb = Rgb { r: 40, g: 200, b: 60 };

/// The board's pixels (green, as [`BOARD`] shows in the lobby's light), and the dark ink
/// pixels within the box they cover.
fn board_and_ink_pixels(path: &std::path::Path) -> (usize, usize) {
    let shot = common::read_screenshot(path);
    let width = shot.width as usize;
    let green = |p: &[u8; 3]| p[1] > 80 && p[1].saturating_sub(p[0]) > 50 && p[1].saturating_sub(p[2]) > 50;
    let (mut min, mut max) = ((usize::MAX, usize::MAX), (0, 0));
    let mut board = 0;
    for (index, pixel) in shot.pixels.iter().enumerate() {
        if green(pixel) {
            let (x, y) = (index % width, index / width);
            min = (min.0.min(x), min.1.min(y));
            max = (max.0.max(x), max.1.max(y));
            board += 1;
        }
    }
    if board == 0 {
        return (0, 0);
    }
    let ink = (min.1..=max.1)
        .flat_map(|y| (min.0..=max.0).map(move |x| (x, y)))
        .filter(|(x, y)| {
            let p = shot.pixels[y * width + x];
            p[0].max(p[1]).max(p[2]) < 70
        })
        .count();
    (board, ink)
}

/// The shipped spaces, with a stage in the lobby's garden that only `owner` (and those it
/// lets) may build on.
fn catalog_with_stage(owner: sanctuary_protocols::identity::PeerId) -> sanctuary::spaces::SpaceCatalog {
    use sanctuary_protocols::build::{Builders, KeyText, Limits, Zone, ZoneName};
    let mut spaces = common::catalog().spaces().to_vec();
    let lobby = spaces
        .iter_mut()
        .find(|space| space.name == "lobby")
        .expect("a lobby");
    let rules = lobby.build.get_or_insert_with(Default::default);
    rules.zones[0].max[0] = 0.0;
    rules.zones.push(Zone {
        name: ZoneName::new("stage").unwrap(),
        min: [0.5, 0.0, -11.5],
        max: [11.0, 11.5, -3.5],
        builders: Builders::Invited,
        owners: vec![KeyText(owner)],
        invited: vec![],
        limits: Limits::default(),
    });
    sanctuary::spaces::SpaceCatalog::from_spaces(spaces).expect("the spaces fit together")
}

#[test]
fn the_owner_lets_a_guest_build_from_the_people_panel_and_stops_them_again() {
    use common::{PanelView, networked_client_with};
    use sanctuary::people::{InviteTicket, PeoplePanelPlugin, Roster};
    use sanctuary_plugin_api::WorldView;

    let (host_dir, guest_dir) = (folder("build-grant-host"), folder("build-grant-guest"));
    let owner = sanctuary::identity::load_or_create(&host_dir)
        .expect("an identity")
        .keypair
        .peer_id();
    let catalog = catalog_with_stage(owner);
    let with_stage = |app: &mut App| {
        app.insert_resource(catalog.clone());
        app.add_plugins(PeoplePanelPlugin);
    };
    let mut host = networked_client_with("lobby", &host_dir, NetMode::Host, with_stage);
    run_until(&mut [&mut host], "the host's ticket", |apps| {
        apps[0].world().resource::<InviteTicket>().0.is_some()
    });
    let ticket = common::invite_ticket(&host).parse().expect("a ticket");
    let mut guest = networked_client_with("lobby", &guest_dir, NetMode::Join(ticket), with_stage);
    run_until(
        &mut [&mut host, &mut guest],
        "both online with building",
        |apps| {
            apps.iter().all(|app| {
                !app.world().resource::<WorldView>().people.is_empty()
                    && app.world().resource::<BuildLink>().0.is_some()
            })
        },
    );
    let on_stage = Piece::new(PieceKind::Block, [5000, 500, -7000], BRICK);

    // Not invited: refused.
    act(&mut guest, BuildAction::Place(vec![on_stage.clone()]));
    guest.update();
    let message = said(&guest);
    assert!(message.contains("may not build"), "{message}");

    // The owner lets them from the People panel; the grant reaches the guest.
    let guest_id = guest.world().resource::<WorldView>().me.expect("online");
    let guest_name = host.world().resource::<Roster>().name_of(&guest_id);
    let people = PanelView::client("people");
    people.click(&mut host, &guest_name, "Let build in stage");
    host.update();
    assert!(people.shows(&mut host, "Stop building in stage"));
    run_until(
        &mut [&mut host, &mut guest],
        "the grant to reach the guest",
        |apps| {
            let link = apps[1].world().resource::<BuildLink>().0.clone().unwrap();
            link.may_build(
                &sanctuary_protocols::text::SpaceName::new("lobby").unwrap(),
                &sanctuary_protocols::build::ZoneName::new("stage").unwrap(),
                &guest_id,
            )
        },
    );
    act(&mut guest, BuildAction::Place(vec![on_stage]));
    run_until(
        &mut [&mut host, &mut guest],
        "the guest's piece on the stage at the host",
        |apps| standing(apps[0]) == 1 && standing(apps[1]) == 1,
    );

    // Stopped again: what they built there comes down on both sides.
    people.click(&mut host, &guest_name, "Stop building in stage");
    run_until(
        &mut [&mut host, &mut guest],
        "the guest's piece to come down",
        |apps| standing(apps[0]) == 0 && standing(apps[1]) == 0,
    );
}
