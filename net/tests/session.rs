//! A session as the game runs it, started outside any world (`--lan` with no ticket) and
//! told later which world to join.

mod common;

use std::time::{Duration, Instant};

use common::*;
use sanctuary_net::session::{
    self, ChatTo, Connect, SessionCommand, SessionConfig, SessionEvent, SessionHandle,
};
use sanctuary_net::{JoinTarget, WorldEvent, WorldId};
use sanctuary_protocols::ChatText;

/// The next session event `pick` accepts, within [`DEADLINE`], read off the async runtime.
async fn wait_session<T: Send + 'static>(
    session: SessionHandle,
    mut pick: impl FnMut(&SessionEvent) -> Option<T> + Send + 'static,
) -> (SessionHandle, T) {
    tokio::task::spawn_blocking(move || {
        let mut session = session;
        let deadline = Instant::now() + DEADLINE;
        loop {
            assert!(Instant::now() < deadline, "timed out waiting for a session event");
            match session.events.try_recv() {
                Ok(event) => {
                    if let Some(found) = pick(&event) {
                        return (session, found);
                    }
                }
                Err(_) => std::thread::sleep(Duration::from_millis(10)),
            }
        }
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_outside_any_world_joins_later_where_and_as_who_it_is_then() {
    init_tracing();
    let config = fast(Duration::from_secs(30));
    let host_node = node(1).await;
    let mut host = host_node
        .join_world_with(
            JoinTarget::host(WorldId::random().unwrap()),
            presence("Ada", "lobby"),
            config.clone(),
        )
        .await
        .unwrap();
    let session = session::start(SessionConfig {
        keypair: keypair(2),
        presence: presence("Bo", "lobby"),
        connect: Connect::Browse,
        relay: None,
        local_discovery: false,
        bind_addr: Some("127.0.0.1:0".parse().unwrap()),
        world: config,
        storage: None,
    })
    .unwrap();
    let (session, me) = wait_session(session, |event| match event {
        SessionEvent::Browsing { me } => Some(*me),
        _ => None,
    })
    .await;
    assert_eq!(me, keypair(2).peer_id());

    // Outside any world: chat goes nowhere, but where we walk and who we are is kept.
    let send = |command| session.commands.try_send(command).unwrap();
    send(SessionCommand::Chat(
        ChatTo::Room,
        ChatText::new("anyone?").unwrap(),
    ));
    send(SessionCommand::EnterSpace(space("market")));
    send(SessionCommand::Profile(presence("Bo Renamed", "market")));
    send(SessionCommand::Join(host.ticket()));
    let (session, world) = wait_session(session, |event| match event {
        SessionEvent::Ready { world, .. } => Some(*world),
        SessionEvent::Failed(error) => panic!("join failed: {error}"),
        _ => None,
    })
    .await;
    assert_eq!(world, host.world());
    let joined = wait_event(
        &mut host,
        "Bo to join",
        |event| matches!(event, WorldEvent::Joined { peer, .. } if *peer == me),
    )
    .await;
    let WorldEvent::Joined { presence, .. } = joined else {
        unreachable!()
    };
    assert_eq!(presence.name.as_str(), "Bo Renamed");
    assert_eq!(presence.space.as_str(), "market");

    // In a world, a second join is ignored: no second Ready, and Bo stays.
    session
        .commands
        .try_send(SessionCommand::Join(host.ticket()))
        .unwrap();
    let extra = drain_for(&mut host, Duration::from_millis(800)).await;
    assert!(
        !extra
            .iter()
            .any(|event| matches!(event, WorldEvent::Left { peer, .. } if *peer == me)),
        "{extra:?}"
    );
    assert_eq!(host.peers().len(), 1);
    let session = tokio::task::spawn_blocking(move || {
        std::thread::sleep(Duration::from_millis(200));
        let mut session = session;
        while let Ok(event) = session.events.try_recv() {
            assert!(!matches!(event, SessionEvent::Ready { .. }), "joined twice");
        }
        session
    })
    .await
    .unwrap();
    session.commands.try_send(SessionCommand::Leave).ok();
    host_node.shutdown().await;
}
