//! Other people, fed as the network bridge feeds them: avatars appear in the space
//! their owner is in, follow their poses smoothly, and fade when they leave.

mod common;

use bevy::prelude::*;
use sanctuary::people::{PeerUpdate, RemoteAvatar, Roster};
use sanctuary_protocols::identity::{Keypair, PeerId};
use sanctuary_protocols::message::AvatarShape;
use sanctuary_protocols::pose::PoseSample;

fn world_in(space: &str) -> App {
    let mut app = common::world_in(space);
    app.update();
    app
}

fn someone() -> PeerId {
    Keypair::from_bytes(&[7; 32]).peer_id()
}

fn present(app: &mut App, peer: PeerId, space: &str) {
    app.world_mut().write_message(PeerUpdate::Present {
        peer,
        name: "Ada".into(),
        color: [200, 80, 40],
        shape: AvatarShape::Cube,
        space: space.into(),
    });
}

fn pose(app: &mut App, peer: PeerId, seq: u32, x: f32) {
    app.world_mut().write_message(PeerUpdate::Pose {
        peer,
        seq,
        sample: PoseSample {
            position: [x, 0.0, 5.0],
            ..PoseSample::default()
        },
    });
}

fn avatar(app: &mut App) -> Option<Vec3> {
    let world = app.world_mut();
    world
        .query_filtered::<&Transform, With<RemoteAvatar>>()
        .iter(world)
        .next()
        .map(|transform| transform.translation)
}

#[test]
fn an_avatar_appears_follows_its_poses_and_fades_on_leave() {
    let mut app = world_in("lobby");
    let ada = someone();
    present(&mut app, ada, "lobby");
    app.update();
    assert_eq!(app.world().resource::<Roster>().count_in("lobby"), 1);
    assert!(
        avatar(&mut app).is_none(),
        "no avatar before the first pose says where"
    );
    // Thirty poses a second, walking along +x at 3 m/s.
    for seq in 0..60 {
        pose(&mut app, ada, seq, seq as f32 * 0.1);
        app.update();
        app.update();
    }
    let seen = avatar(&mut app).expect("the avatar appeared");
    assert!(
        seen.x > 3.0 && seen.x < 5.9,
        "shown a little behind the newest pose (5.9): {seen}"
    );
    let mut last = seen.x;
    for _ in 0..30 {
        app.update();
        let x = avatar(&mut app).expect("still there").x;
        assert!(x >= last - 1e-4 && x - last < 0.2, "smooth: {last} -> {x}");
        last = x;
    }
    assert!((last - 5.9).abs() < 0.05, "settles on the newest pose: {last}");

    app.world_mut().write_message(PeerUpdate::Left {
        peer: ada,
        timed_out: false,
    });
    app.update();
    assert_eq!(
        app.world().resource::<Roster>().count_in("lobby"),
        0,
        "gone from the roster at once"
    );
    assert!(
        avatar(&mut app).is_some(),
        "the avatar fades rather than vanishing"
    );
    for _ in 0..90 {
        app.update();
    }
    assert!(avatar(&mut app).is_none(), "and is gone after the fade");
}

#[test]
fn people_in_another_space_have_no_avatar_here() {
    let mut app = world_in("lobby");
    let ada = someone();
    present(&mut app, ada, "market");
    for seq in 0..10 {
        pose(&mut app, ada, seq, 1.0);
        app.update();
    }
    assert!(avatar(&mut app).is_none());
    assert_eq!(
        app.world().resource::<Roster>().people.len(),
        1,
        "still listed in the world"
    );
    // Walking into this space brings the avatar.
    present(&mut app, ada, "lobby");
    pose(&mut app, ada, 11, 1.0);
    app.update();
    app.update();
    assert!(avatar(&mut app).is_some());
}
