//! Three nodes on loopback in one world: presence, chat by space, private messages, poses,
//! leaving and timing out.

mod common;

use std::time::Duration;

use common::*;
use sanctuary_net::{LeaveReason, WorldEvent};
use sanctuary_protocols::{ChatText, PoseSample};

fn text(s: &str) -> ChatText {
    ChatText::new(s).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn presence_and_chat_by_space() {
    init_tracing();
    let (nodes, [mut a, mut b, mut c]) = three_in_lobby(fast(Duration::from_secs(30))).await;
    let [ida, idb, idc] = [nodes[0].peer_id(), nodes[1].peer_id(), nodes[2].peer_id()];

    // Everyone sees everyone, with names and spaces.
    for (handle, others) in [(&a, [idb, idc]), (&b, [ida, idc]), (&c, [ida, idb])] {
        let peers = handle.peers();
        for id in others {
            let entry = peers.iter().find(|e| e.peer == id).expect("peer in roster");
            assert_eq!(entry.presence.space.as_str(), "lobby");
        }
    }
    assert_eq!(
        b.peers()
            .iter()
            .find(|e| e.peer == ida)
            .unwrap()
            .presence
            .name
            .as_str(),
        "Ada"
    );

    // Chat in the lobby reaches both others.
    a.send_chat(text("hello lobby")).await.unwrap();
    for handle in [&mut b, &mut c] {
        let event = wait_event(handle, "lobby chat", |e| matches!(e, WorldEvent::Chat { .. })).await;
        let WorldEvent::Chat { peer, space, text } = event else {
            unreachable!()
        };
        assert_eq!(
            (peer, space.as_str(), text.as_str()),
            (ida, "lobby", "hello lobby")
        );
    }

    // C moves to the market; the others see it in the world-wide presence.
    c.enter_space(space("market")).await.unwrap();
    for handle in [&mut a, &mut b] {
        wait_event(handle, "C's move", |e| {
            matches!(e, WorldEvent::PresenceChanged { peer, presence } if *peer == idc && presence.space.as_str() == "market")
        })
        .await;
    }
    wait_until("A's room to keep B", || a.neighbors().room > 0).await;
    wait_until("B's room to keep A", || b.neighbors().room > 0).await;

    a.send_chat(text("lobby only")).await.unwrap();
    wait_event(
        &mut b,
        "lobby-only chat",
        |e| matches!(e, WorldEvent::Chat { text, .. } if text.as_str() == "lobby only"),
    )
    .await;
    let seen_by_c = drain_for(&mut c, Duration::from_millis(700)).await;
    assert!(
        !seen_by_c.iter().any(|e| matches!(e, WorldEvent::Chat { .. })),
        "C is in the market and must not see lobby chat: {seen_by_c:?}"
    );

    // Chat in the market reaches no one in the lobby.
    c.send_chat(text("anyone here?")).await.unwrap();
    let seen_by_a = drain_for(&mut a, Duration::from_millis(500)).await;
    assert!(
        !seen_by_a.iter().any(|e| matches!(e, WorldEvent::Chat { .. })),
        "{seen_by_a:?}"
    );

    for node in &nodes {
        node.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn private_message_reaches_only_its_addressee() {
    init_tracing();
    let (nodes, [a, mut b, mut c]) = three_in_lobby(fast(Duration::from_secs(30))).await;
    a.send_direct(nodes[1].peer_id(), text("psst, Bo")).await.unwrap();
    let event = wait_event(&mut b, "direct message", |e| {
        matches!(e, WorldEvent::Direct { .. })
    })
    .await;
    assert_eq!(
        event,
        WorldEvent::Direct {
            peer: nodes[0].peer_id(),
            text: text("psst, Bo")
        }
    );
    let seen_by_c = drain_for(&mut c, Duration::from_millis(500)).await;
    assert!(
        !seen_by_c.iter().any(|e| matches!(e, WorldEvent::Direct { .. })),
        "{seen_by_c:?}"
    );
    for node in &nodes {
        node.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn poses_arrive_within_quantization_error() {
    init_tracing();
    let (nodes, [a, mut b, mut c]) = three_in_lobby(fast(Duration::from_secs(30))).await;
    let ida = nodes[0].peer_id();
    let sample = PoseSample {
        position: [1.25, 0.5, -3.75],
        yaw: 1.0,
        flying: true,
        ..PoseSample::default()
    };
    // Send poses at 50 Hz from a task until both have one.
    let sender = tokio::spawn(async move {
        loop {
            if a.send_pose(sample).is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
    for handle in [&mut b, &mut c] {
        let event = wait_event(
            handle,
            "a pose",
            |e| matches!(e, WorldEvent::Pose { peer, .. } if *peer == ida),
        )
        .await;
        let WorldEvent::Pose { pose, .. } = event else {
            unreachable!()
        };
        for axis in 0..3 {
            assert!(
                (pose.position[axis] - sample.position[axis]).abs() <= 0.0006,
                "{pose:?}"
            );
        }
        assert!((pose.yaw - sample.yaw).abs() < 0.001, "{pose:?}");
        assert!(pose.flying);
    }
    // Sequence numbers count up.
    let mut seqs = Vec::new();
    while seqs.len() < 3 {
        if let WorldEvent::Pose { seq, .. } =
            wait_event(&mut b, "more poses", |e| matches!(e, WorldEvent::Pose { .. })).await
        {
            seqs.push(seq);
        }
    }
    assert!(seqs.windows(2).all(|w| w[1] > w[0]), "{seqs:?}");
    assert!(b.counters().accepted > 0);
    sender.abort();
    for node in &nodes {
        node.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn leave_is_seen_at_once() {
    init_tracing();
    // A 30 s timeout: only the goodbye can explain seeing C leave within the deadline.
    let (nodes, [mut a, mut b, c]) = three_in_lobby(fast(Duration::from_secs(30))).await;
    let idc = nodes[2].peer_id();
    let started = std::time::Instant::now();
    c.leave().await.unwrap();
    for handle in [&mut a, &mut b] {
        let event = wait_event(handle, "C's leave", |e| matches!(e, WorldEvent::Left { .. })).await;
        assert_eq!(
            event,
            WorldEvent::Left {
                peer: idc,
                reason: LeaveReason::Leave
            }
        );
        assert!(handle.peers().iter().all(|e| e.peer != idc));
    }
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    for node in &nodes {
        node.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn silent_peer_times_out() {
    init_tracing();
    let (nodes, [mut a, mut b, c]) = three_in_lobby(fast(Duration::from_millis(1500))).await;
    let idc = nodes[2].peer_id();
    // No goodbye: C's world task stops and its node goes away.
    drop(c);
    nodes[2].shutdown().await;
    for handle in [&mut a, &mut b] {
        let event = wait_event(handle, "C's timeout", |e| matches!(e, WorldEvent::Left { .. })).await;
        assert_eq!(
            event,
            WorldEvent::Left {
                peer: idc,
                reason: LeaveReason::TimedOut
            }
        );
    }
    // The two who stay keep each other (their heartbeats keep them alive).
    let seen = drain_for(&mut a, Duration::from_secs(2)).await;
    assert!(
        !seen.iter().any(|e| matches!(e, WorldEvent::Left { .. })),
        "{seen:?}"
    );
    assert_eq!(a.peers().len(), 1);
    nodes[0].shutdown().await;
    nodes[1].shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_profile_change_reaches_the_others_at_once() {
    init_tracing();
    let (_nodes, [a, mut b, _c]) = three_in_lobby(fast(Duration::from_secs(30))).await;
    a.update_profile(
        sanctuary_protocols::DisplayName::new("Ada Lovelace").unwrap(),
        sanctuary_protocols::Rgb { r: 9, g: 8, b: 7 },
        sanctuary_protocols::AvatarShape::Cone,
    )
    .await
    .unwrap();
    let event = wait_event(&mut b, "A's new profile", |e| {
        matches!(e, WorldEvent::PresenceChanged { presence, .. } if presence.name.as_str() == "Ada Lovelace")
    })
    .await;
    let WorldEvent::PresenceChanged { presence, .. } = event else {
        unreachable!()
    };
    assert_eq!(presence.shape, sanctuary_protocols::AvatarShape::Cone);
    assert_eq!(presence.space.as_str(), "lobby", "still where they were");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_observer_is_not_listed_but_hears_the_room() {
    init_tracing();
    let config = fast(Duration::from_secs(30));
    let (nodes, [a, b, _c]) = three_in_lobby(config.clone()).await;
    let ida = nodes[0].peer_id();
    let watcher_node = node(40).await;
    let observer = sanctuary_net::WorldConfig {
        observer: true,
        ..config
    };
    let mut watcher = watcher_node
        .join_world_with(&a.ticket(), presence("watcher", "lobby"), observer)
        .await
        .unwrap();
    wait_roster(&[&watcher], 3).await;
    // It hears chat and the poses everyone sends on the room topic.
    let walker = tokio::spawn(async move {
        for i in 0..200 {
            let sample = PoseSample {
                position: [i as f32 * 0.01, 0.0, 0.0],
                ..PoseSample::default()
            };
            if a.send_pose(sample).is_err() {
                break;
            }
            if i % 25 == 0 {
                a.send_chat(text("anyone watching?")).await.ok();
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        a
    });
    wait_event(
        &mut watcher,
        "chat",
        |e| matches!(e, WorldEvent::Chat { peer, .. } if *peer == ida),
    )
    .await;
    wait_event(
        &mut watcher,
        "a pose",
        |e| matches!(e, WorldEvent::Pose { peer, .. } if *peer == ida),
    )
    .await;
    let a = walker.await.unwrap();
    // Nobody lists it, though it has been there for several heartbeats.
    for handle in [&a, &b] {
        assert!(
            handle
                .peers()
                .iter()
                .all(|entry| entry.peer != watcher_node.peer_id()),
            "the observer is not listed"
        );
    }
    for node in nodes.iter().chain([&watcher_node]) {
        node.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn app_messages_reach_every_space_of_the_world_with_their_author() {
    use sanctuary_protocols::{AppMessage, AppName, AppPayload};
    init_tracing();
    let (nodes, [a, mut b, mut c]) = three_in_lobby(fast(Duration::from_secs(30))).await;
    c.enter_space(space("market")).await.unwrap();
    let message = AppMessage {
        app: AppName::new("chess").unwrap(),
        payload: AppPayload::new(vec![1, 2, 3]).unwrap(),
    };
    a.send_app(message.clone()).await.unwrap();
    for (handle, who) in [(&mut b, "b in the lobby"), (&mut c, "c in the market")] {
        let event = wait_event(handle, who, |e| matches!(e, WorldEvent::App { .. })).await;
        assert_eq!(
            event,
            WorldEvent::App {
                peer: nodes[0].peer_id(),
                message: message.clone(),
                direct: false,
            }
        );
    }

    // One app message to c alone: c hears it as direct, b never does.
    let private = AppMessage {
        app: AppName::new("chess").unwrap(),
        payload: AppPayload::new(b"for c".to_vec()).unwrap(),
    };
    a.direct_sender()
        .send_app(nodes[2].peer_id(), private.clone())
        .await
        .unwrap();
    let event = wait_event(&mut c, "c's private app message", |e| {
        matches!(e, WorldEvent::App { direct: true, .. })
    })
    .await;
    assert_eq!(
        event,
        WorldEvent::App {
            peer: nodes[0].peer_id(),
            message: private,
            direct: true,
        }
    );
    a.send_app(message.clone()).await.unwrap();
    let next = wait_event(&mut b, "b's next app message", |e| {
        matches!(e, WorldEvent::App { .. })
    })
    .await;
    assert!(
        matches!(next, WorldEvent::App { direct: false, .. }),
        "b hears the next world message, not c's private one: {next:?}"
    );
    for node in &nodes {
        node.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_newcomer_is_told_what_was_said_in_its_space_before_it_came() {
    init_tracing();
    let (nodes, [mut a, mut b, c]) = three_in_lobby(fast(Duration::from_secs(30))).await;
    let [ida, idb] = [nodes[0].peer_id(), nodes[1].peer_id()];
    c.enter_space(space("market")).await.unwrap();
    c.send_chat(text("said in the market")).await.unwrap();
    b.send_chat(text("one")).await.unwrap();
    wait_event(
        &mut a,
        "Bo's first line",
        |e| matches!(e, WorldEvent::Chat { text, .. } if text.as_str() == "one"),
    )
    .await;
    b.send_chat(text("two")).await.unwrap();
    wait_event(
        &mut a,
        "Bo's second line",
        |e| matches!(e, WorldEvent::Chat { text, .. } if text.as_str() == "two"),
    )
    .await;
    a.send_chat(text("three")).await.unwrap();
    wait_event(
        &mut b,
        "Ada's line",
        |e| matches!(e, WorldEvent::Chat { text, .. } if text.as_str() == "three"),
    )
    .await;
    // Bo goes; only Ada is left in the lobby to tell what was said.
    b.leave().await.unwrap();
    nodes[1].shutdown().await;

    let late = node(4).await;
    let mut d = late
        .join_world_with(
            &a.ticket(),
            presence("Dee", "lobby"),
            fast(Duration::from_secs(30)),
        )
        .await
        .unwrap();
    let mut told = Vec::new();
    while told.len() < 3 {
        let event = wait_event(&mut d, "earlier chat", |e| {
            matches!(e, WorldEvent::EarlierChat { .. })
        })
        .await;
        let WorldEvent::EarlierChat {
            peer,
            name,
            space,
            text,
            said_ms,
        } = event
        else {
            unreachable!()
        };
        assert_eq!(space.as_str(), "lobby");
        assert!(said_ms > 0 && said_ms <= unix_ms());
        told.push((
            peer,
            name.map(|name| name.as_str().to_owned()),
            text.as_str().to_owned(),
        ));
    }
    assert_eq!(
        told,
        [
            (idb, Some("Bo".to_owned()), "one".to_owned()),
            (idb, Some("Bo".to_owned()), "two".to_owned()),
            (ida, Some("Ada".to_owned()), "three".to_owned()),
        ]
    );
    // Nothing twice, nothing from the market.
    let more = drain_for(&mut d, Duration::from_millis(800)).await;
    assert!(
        !more
            .iter()
            .any(|e| matches!(e, WorldEvent::EarlierChat { .. } | WorldEvent::Chat { .. })),
        "{more:?}"
    );
    for node in [&nodes[0], &nodes[2], &late] {
        node.shutdown().await;
    }
}
