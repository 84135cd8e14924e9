//! The bridge with `--lan` and no ticket, driven through the session's channels as the
//! network thread drives them: worlds hosted nearby fill the list the Directory shows, and
//! Join asks the session to enter one with the ticket its host would have printed.

mod common;

use bevy::prelude::*;
use bevy::time::TimeUpdateStrategy;
use sanctuary::app::{LaunchPlan, headless_app};
use sanctuary::chat::{ChatLog, ChatTarget, OutgoingChat};
use sanctuary::net_bridge::{Bridge, JoinNearby, Nearby, NetBridgePlugin, NetMode, NetOptions, NetStatus};
use sanctuary::spaces::catalog::default_assets_folder;
use sanctuary_net::session::{SessionCommand, SessionEvent, SessionHandle};
use sanctuary_net::{NearbyWorld, WorldTicket};
use sanctuary_protocols::{DisplayName, Keypair, WorldId};
use std::time::Instant;
use tokio::sync::{mpsc, watch};

fn world(seed: u8, name: &str) -> NearbyWorld {
    NearbyWorld {
        world: WorldId([seed; 32]),
        host: Keypair::from_bytes(&[seed; 32]).peer_id(),
        host_name: DisplayName::new(name).unwrap(),
        addrs: vec![([10, 0, 0, seed], 4433).into(), ([10, 0, 1, seed], 4433).into()],
        relay: None,
    }
}

/// A headless client started with `--lan` and no ticket, bridged to channels the test
/// holds in place of the network thread.
fn browsing_client() -> (App, mpsc::Sender<SessionEvent>, mpsc::Receiver<SessionCommand>) {
    let data_dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("nearby-bridge");
    let plan = LaunchPlan {
        catalog: common::catalog(),
        start_space: "lobby".into(),
        assets: default_assets_folder(),
        data_dir: data_dir.clone(),
        frames: None,
        screenshot: None,
        launched: Instant::now(),
    };
    let (commands, commands_rx) = mpsc::channel(64);
    let (events_tx, events) = mpsc::channel(64);
    let (pose, _) = watch::channel(None);
    let (_finished, finished) = std::sync::mpsc::channel();
    let mut app = headless_app(&plan);
    app.insert_resource(sanctuary::identity::load_or_create(&data_dir).unwrap())
        .insert_resource(Bridge::new(SessionHandle {
            commands,
            pose,
            events,
            finished,
            voice: None,
        }))
        .add_plugins(NetBridgePlugin {
            options: NetOptions {
                mode: NetMode::Browse,
                relay: None,
                lan: true,
                bind: None,
            },
        })
        .insert_resource(TimeUpdateStrategy::ManualDuration(common::FRAME));
    app.finish();
    app.cleanup();
    app.update();
    (app, events_tx, commands_rx)
}

/// The tickets of the joins the bridge asked for (other commands are skipped).
fn joins(commands: &mut mpsc::Receiver<SessionCommand>) -> Vec<WorldTicket> {
    std::iter::from_fn(|| commands.try_recv().ok())
        .filter_map(|command| match command {
            SessionCommand::Join(ticket) => Some(ticket),
            _ => None,
        })
        .collect()
}

#[test]
fn nearby_worlds_are_listed_and_join_enters_one_by_its_ticket() {
    let (mut app, events, mut commands) = browsing_client();
    let (ada, bo) = (world(1, "Ada"), world(2, "Bo"));
    let me = Keypair::from_bytes(&[9; 32]).peer_id();
    events.try_send(SessionEvent::Browsing { me }).unwrap();
    events
        .try_send(SessionEvent::Nearby(vec![ada.clone(), bo.clone()]))
        .unwrap();
    app.update();
    assert_eq!(
        app.world().resource::<Nearby>().worlds,
        vec![ada.clone(), bo.clone()]
    );
    assert_eq!(app.world().resource::<NetStatus>().me, Some(me));

    // In no world yet, chat has nowhere to go and is not logged as said.
    app.world_mut().write_message(OutgoingChat {
        to: ChatTarget::Room,
        text: "hello?".into(),
    });
    app.update();
    assert!(app.world().resource::<ChatLog>().lines.is_empty());

    app.world_mut().write_message(JoinNearby(bo.clone()));
    app.update();
    let asked = joins(&mut commands);
    assert_eq!(asked, vec![bo.ticket()], "one join, with Bo's world's ticket");
    let printed: WorldTicket = asked[0].to_string().parse().unwrap();
    assert_eq!(printed, asked[0], "the same ticket a host prints");
    assert_eq!((printed.world, printed.host), (bo.world, bo.host));
    assert_eq!(printed.addrs, bo.addrs);
    assert_eq!(app.world().resource::<NetStatus>().joining, Some(bo.world));

    // A second click while joining asks for nothing.
    app.world_mut().write_message(JoinNearby(ada.clone()));
    app.update();
    assert!(joins(&mut commands).is_empty());

    events
        .try_send(SessionEvent::Ready {
            ticket: bo.ticket().to_string(),
            me,
            world: bo.world,
        })
        .unwrap();
    events.try_send(SessionEvent::Nearby(vec![bo.clone()])).unwrap();
    app.update();
    let status = app.world().resource::<NetStatus>();
    assert_eq!(
        (status.world, status.joining, status.online),
        (Some(bo.world), None, true)
    );
    assert_eq!(app.world().resource::<Nearby>().worlds, vec![bo]);
}
