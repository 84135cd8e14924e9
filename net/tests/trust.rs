//! Trust in a room with a hostile peer in it: blame only what a peer provably did,
//! signatures bound to where they were said, a crowd of fake identities that costs its
//! maker, and a network loop that never stalls.

mod common;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use common::*;
use sanctuary_net::session::{self, ChatTo, Connect, SessionCommand, SessionConfig, SessionEvent};
use sanctuary_net::{
    JoinTarget, Node, NodeConfig, RawTopic, RejectReason, WorldConfig, WorldEvent, WorldHandle, WorldId,
};
use sanctuary_protocols::{Body, Chat, ChatText, Context, Keypair, PeerId, PoseSample, SignedEnvelope};

fn chat(s: &str) -> Body {
    Body::Chat(Chat {
        text: ChatText::new(s).unwrap(),
    })
}

fn text(s: &str) -> ChatText {
    ChatText::new(s).unwrap()
}

async fn narrow_node(seed: u8) -> Node {
    let mut config = NodeConfig::loopback(keypair(seed));
    config.gossip_neighbours = Some(3);
    Node::spawn(config).await.expect("node spawns")
}

/// Sends a pose every 20 ms, walking along x, until dropped.
async fn walk(handle: &WorldHandle) {
    let mut x = 0.0f32;
    loop {
        x += 0.02;
        let sample = PoseSample {
            position: [x, 0.0, 1.0],
            ..PoseSample::default()
        };
        if handle.send_pose(sample).is_err() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// When each pose from `from` arrived at `handle` during `period`.
async fn pose_arrivals(handle: &mut WorldHandle, from: PeerId, period: Duration) -> Vec<Instant> {
    let mut arrivals = Vec::new();
    let deadline = Instant::now() + period;
    while Instant::now() < deadline {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, handle.events().recv()).await {
            Ok(Some(WorldEvent::Pose { peer, .. })) if peer == from => arrivals.push(Instant::now()),
            Ok(Some(_)) => {}
            _ => break,
        }
    }
    arrivals
}

/// The longest wait between two arrivals.
fn longest_gap(arrivals: &[Instant]) -> Duration {
    arrivals
        .windows(2)
        .map(|pair| pair[1] - pair[0])
        .max()
        .unwrap_or_default()
}

/// Counts chat lines and poses per author while draining `handle` for `period`.
async fn tally(
    handle: &mut WorldHandle,
    period: Duration,
) -> (HashMap<PeerId, usize>, HashMap<PeerId, usize>) {
    let (mut chats, mut poses) = (HashMap::new(), HashMap::new());
    for event in drain_for(handle, period).await {
        match event {
            WorldEvent::Chat { peer, .. } => *chats.entry(peer).or_default() += 1,
            WorldEvent::Pose { peer, .. } => *poses.entry(peer).or_default() += 1,
            _ => {}
        }
    }
    (chats, poses)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hostile_relay_cannot_silence_honest_peers() {
    init_tracing();
    // Five peers with at most three gossip neighbours each, joined in a line with the
    // hostile one in the middle: not a full mesh, so honest messages must be relayed.
    let config = fast(Duration::from_secs(60));
    let seeds = [1u8, 2, 66, 4, 5];
    let mut nodes = Vec::new();
    for seed in seeds {
        nodes.push(narrow_node(seed).await);
    }
    let world = WorldId::random().unwrap();
    let names = ["Ada", "Bo", "Mal", "Cy", "Di"];
    let mut handles: Vec<WorldHandle> = Vec::new();
    for (i, node) in nodes.iter().enumerate() {
        let target = match i {
            0 => JoinTarget::host(world),
            _ => JoinTarget {
                world,
                bootstrap: vec![nodes[i - 1].addr()],
            },
        };
        handles.push(
            node.join_world_with(target, presence(names[i], "lobby"), config.clone())
                .await
                .unwrap(),
        );
    }
    wait_roster(&handles.iter().collect::<Vec<_>>(), 4).await;
    wait_room(&handles.iter().collect::<Vec<_>>()).await;
    let ids: Vec<PeerId> = nodes.iter().map(Node::peer_id).collect();
    let (ida, idm, idd) = (ids[0], ids[2], ids[4]);
    let honest = [0usize, 1, 3, 4];

    // The attacker injects, at a high rate, forgeries naming A and replays naming D.
    let mut handles = handles.into_iter();
    let (a, mut b, m, mut c, d) = (
        handles.next().unwrap(),
        handles.next().unwrap(),
        handles.next().unwrap(),
        handles.next().unwrap(),
        handles.next().unwrap(),
    );
    let injector = tokio::spawn(async move {
        let room = Context::room(world, space("lobby"));
        let evil = keypair(99);
        let dee = keypair(5);
        let start = unix_ms();
        for i in 0..900u64 {
            let bytes = match i % 3 {
                // Signed by someone else, claiming to be A.
                0 => {
                    let mut forged =
                        SignedEnvelope::sign(&evil, &room, start + i, start, chat("I am Ada")).encode();
                    forged[1..33].copy_from_slice(ida.as_bytes());
                    forged
                }
                // D's own words, replayed: an old sequence number.
                1 => SignedEnvelope::sign(&dee, &room, i, start, chat("D said this long ago")).encode(),
                // D's own words, an hour old.
                _ => SignedEnvelope::sign(&dee, &room, start + 10_000 + i, start - 3_600_000, chat("old"))
                    .encode(),
            };
            if m.broadcast_raw(RawTopic::Room, bytes).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(3)).await;
        }
        m
    });

    // Meanwhile the honest peers talk and walk.
    let talker = |handle: WorldHandle, line: &'static str| {
        tokio::spawn(async move {
            let walking = walk(&handle);
            let talking = async {
                for _ in 0..20 {
                    handle.send_chat(text(line)).await.unwrap();
                    tokio::time::sleep(Duration::from_millis(150)).await;
                }
            };
            tokio::select! {
                _ = walking => {}
                _ = talking => {}
            }
            handle
        })
    };
    let a_task = talker(a, "from Ada");
    let d_task = talker(d, "from Di");
    let ((b_chats, b_poses), (c_chats, c_poses)) = tokio::join!(
        tally(&mut b, Duration::from_secs(3)),
        tally(&mut c, Duration::from_secs(3))
    );
    let a = a_task.await.unwrap();
    let d = d_task.await.unwrap();
    let m = injector.await.unwrap();

    for (who, chats, poses) in [("B", &b_chats, &b_poses), ("C", &c_chats, &c_poses)] {
        assert!(
            chats.get(&ida).copied().unwrap_or(0) > 0,
            "{who} heard A's chat: {chats:?}"
        );
        assert!(
            chats.get(&idd).copied().unwrap_or(0) > 0,
            "{who} heard D's chat: {chats:?}"
        );
        assert!(
            poses.get(&ida).copied().unwrap_or(0) > 0,
            "{who} saw A move: {poses:?}"
        );
        assert!(
            poses.get(&idd).copied().unwrap_or(0) > 0,
            "{who} saw D move: {poses:?}"
        );
    }
    let all = [&a, &b, &m, &c, &d];
    let mut attacker_muted = 0;
    for i in honest {
        let counters = all[i].counters();
        for j in honest {
            assert!(
                !counters.is_muted(&ids[j]),
                "peer {i} muted honest peer {j}: {counters:?}"
            );
            assert_eq!(
                counters.peer(&ids[j]).rejected,
                0,
                "peer {i} blamed honest peer {j}: {counters:?}"
            );
        }
        attacker_muted += usize::from(counters.is_muted(&idm));
    }
    let refused: u64 = honest
        .iter()
        .map(|&i| {
            let counters = all[i].counters();
            counters.rejected(RejectReason::BadSignature)
                + counters.rejected(RejectReason::Replay)
                + counters.rejected(RejectReason::Stale)
        })
        .sum();
    assert!(refused > 0, "the injected messages were refused");
    assert!(attacker_muted > 0, "the attacker's gossip neighbours muted it");
    for node in &nodes {
        node.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn messages_cannot_be_moved_to_another_channel_world_or_time() {
    init_tracing();
    let config = fast(Duration::from_secs(30));
    let (nodes, [a, b, mut c]) = three_in_lobby(config.clone()).await;
    let (ida, idb) = (nodes[0].peer_id(), nodes[1].peer_id());
    let world = a.world();
    let ada = keypair(1);
    let now = unix_ms();
    let seq = now + 1_000;
    let lobby = Context::room(world, space("lobby"));
    let moved = [
        // A private message to B, republished by B on the room.
        SignedEnvelope::sign(
            &ada,
            &Context::direct(world, idb),
            seq,
            now,
            chat("psst, only for Bo"),
        ),
        // Said in the market, replayed into the lobby.
        SignedEnvelope::sign(
            &ada,
            &Context::room(world, space("market")),
            seq + 1,
            now,
            chat("market talk"),
        ),
        // Said in another world.
        SignedEnvelope::sign(
            &ada,
            &Context::room(WorldId([7; 32]), space("lobby")),
            seq + 2,
            now,
            chat("elsewhere"),
        ),
    ];
    for envelope in &moved {
        b.broadcast_raw(RawTopic::Room, envelope.encode()).await.unwrap();
    }
    // An hour old, in the right place.
    let old = SignedEnvelope::sign(&ada, &lobby, seq + 3, now - 3_600_000, chat("an hour ago"));
    b.broadcast_raw(RawTopic::Room, old.encode()).await.unwrap();
    // And a good one after them, to know they have all been through.
    a.send_chat(text("the real thing")).await.unwrap();
    let mut heard = Vec::new();
    wait_event(&mut c, "the real chat", |e| {
        if let WorldEvent::Chat { text, .. } = e {
            heard.push(text.as_str().to_owned());
        }
        matches!(e, WorldEvent::Chat { text, .. } if text.as_str() == "the real thing")
    })
    .await;
    wait_until("C to refuse all four", || {
        let counters = c.counters();
        counters.rejected(RejectReason::BadSignature) >= 3 && counters.rejected(RejectReason::Stale) >= 1
    })
    .await;
    assert_eq!(heard, ["the real thing"], "nothing moved was shown");
    let counters = c.counters();
    assert!(!counters.is_muted(&ida));
    assert_eq!(
        counters.peer(&ida).rejected,
        0,
        "the author is not blamed for a replay"
    );
    for node in &nodes {
        node.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_crowd_of_fake_identities_costs_its_maker() {
    init_tracing();
    const CAPACITY: usize = 40;
    const IDENTITIES: usize = 2000;
    let config = WorldConfig {
        roster_capacity: CAPACITY,
        ..fast(Duration::from_secs(60))
    };
    let (nodes, [a, mut b, c]) = three_in_lobby(config.clone()).await;
    let m_node = node(66).await;
    let m = m_node
        .join_world_with(&a.ticket(), presence("Mal", "lobby"), config.clone())
        .await
        .unwrap();
    wait_roster(&[&a, &b, &c, &m], 3).await;
    let ida = nodes[0].peer_id();
    let sent_before: Vec<u64> = [&a, &b, &c].iter().map(|h| h.messages_sent()).collect();

    // One process announces 2,000 identities, as fast as it can.
    let world = Context::world(a.world());
    let now = unix_ms();
    for i in 0..IDENTITIES {
        let mut secret = [0u8; 32];
        secret[..8].copy_from_slice(&(i as u64 + 1000).to_le_bytes());
        let fake = Keypair::from_bytes(&secret);
        let hello = Body::Hello(presence(&format!("fake{i}"), "lobby"));
        let bytes = SignedEnvelope::sign(&fake, &world, now, now, hello).encode();
        m.broadcast_raw(RawTopic::World, bytes).await.unwrap();
    }

    // Honest chat and poses still flow.
    let walking = walk(&a);
    let talking = async {
        a.send_chat(text("still here")).await.unwrap();
        wait_event(&mut b, "honest chat", |e| {
            matches!(e, WorldEvent::Chat { peer, text, .. } if *peer == ida && text.as_str() == "still here")
        })
        .await;
        wait_event(
            &mut b,
            "honest pose",
            |e| matches!(e, WorldEvent::Pose { peer, .. } if *peer == ida),
        )
        .await;
    };
    tokio::select! {
        _ = walking => unreachable!("walks until stopped"),
        _ = talking => {}
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    for (i, handle) in [&a, &b, &c].iter().enumerate() {
        let roster = handle.peers();
        assert!(roster.len() <= CAPACITY, "peer {i} keeps {} people", roster.len());
        for id in nodes.iter().map(Node::peer_id).chain([m_node.peer_id()]) {
            assert!(
                id == nodes[i].peer_id() || roster.iter().any(|e| e.peer == id),
                "peer {i} still lists everyone who was there first"
            );
        }
        assert!(
            handle.refused_full() > 0,
            "peer {i} refused the crowd past the cap"
        );
        assert!(handle.tracked_peers() <= sanctuary_net::gate::MAX_TRACKED_PEERS);
        // Answering hellos costs a few messages per accepted join, not one per identity.
        let sent = handle.messages_sent() - sent_before[i];
        assert!(sent < 2 * CAPACITY as u64 + 20, "peer {i} sent {sent} messages");
    }
    for node in nodes.iter().chain([&m_node]) {
        node.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn poses_keep_flowing_after_a_reconnect() {
    init_tracing();
    let (nodes, [a, mut b, _c]) = three_in_lobby(fast(Duration::from_secs(30))).await;
    let (ida, idb) = (nodes[0].peer_id(), nodes[1].peer_id());
    let walking = walk(&a);
    let watching = async {
        let mut last_seq = 0;
        let mut last_x = 0.0;
        for _ in 0..10 {
            if let WorldEvent::Pose { seq, pose, .. } = wait_event(
                &mut b,
                "a pose",
                |e| matches!(e, WorldEvent::Pose { peer, .. } if *peer == ida),
            )
            .await
            {
                (last_seq, last_x) = (seq, pose.position[0]);
            }
        }
        // The connection drops mid-walk; the next one starts its datagram count again.
        a.drop_connections_to(idb);
        let dropped = Instant::now();
        loop {
            let event = wait_event(
                &mut b,
                "a pose after the reconnect",
                |e| matches!(e, WorldEvent::Pose { peer, .. } if *peer == ida),
            )
            .await;
            let WorldEvent::Pose { seq, pose, .. } = event else {
                unreachable!()
            };
            assert!(seq > last_seq, "pose numbers keep counting up");
            last_seq = seq;
            if pose.position[0] > last_x + 0.1 {
                break;
            }
        }
        assert!(
            dropped.elapsed() < Duration::from_secs(1),
            "moving again after {:?}",
            dropped.elapsed()
        );
    };
    tokio::select! {
        _ = walking => unreachable!("walks until stopped"),
        _ = watching => {}
    }
    for node in &nodes {
        node.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_private_message_to_a_vanished_peer_does_not_stall_poses() {
    init_tracing();
    let config = fast(Duration::from_secs(60));
    let host_node = node(1).await;
    let mut host = host_node
        .join_world_with(
            JoinTarget::host(WorldId::random().unwrap()),
            presence("Ada", "lobby"),
            config.clone(),
        )
        .await
        .unwrap();
    let ticket = host.ticket();
    let gone_node = node(9).await;
    let gone = gone_node
        .join_world_with(&ticket, presence("Gone", "lobby"), config.clone())
        .await
        .unwrap();
    let idgone = gone_node.peer_id();
    // The walker is a whole session, as the game runs it.
    let mut session = session::start(SessionConfig {
        keypair: keypair(2),
        presence: presence("Bo", "lobby"),
        connect: Connect::Join(ticket),
        relay: None,
        local_discovery: false,
        bind_addr: Some("127.0.0.1:0".parse().unwrap()),
        world: config,
        storage: None,
    })
    .unwrap();
    let idb = keypair(2).peer_id();
    wait_until("everyone to see everyone", || {
        host.peers().len() == 2 && gone.peers().len() == 2
    })
    .await;
    // The third peer vanishes without a goodbye; Bo still lists it.
    drop(gone);
    gone_node.shutdown().await;

    let events = tokio::task::spawn_blocking(move || {
        let mut x = 0.0f32;
        let mut sent_direct = false;
        let started = Instant::now();
        let mut failed = None;
        while started.elapsed() < Duration::from_secs(4) {
            x += 0.05;
            session.pose.send_replace(Some(PoseSample {
                position: [x, 0.0, 0.0],
                ..PoseSample::default()
            }));
            if !sent_direct && started.elapsed() > Duration::from_millis(300) {
                session
                    .commands
                    .try_send(SessionCommand::Chat(
                        ChatTo::Direct(idgone),
                        text("are you there?"),
                    ))
                    .unwrap();
                sent_direct = true;
            }
            while let Ok(event) = session.events.try_recv() {
                if let SessionEvent::DirectFailed { peer, .. } = event {
                    failed = Some(peer);
                }
            }
            std::thread::sleep(Duration::from_millis(16));
        }
        session.commands.try_send(SessionCommand::Leave).ok();
        failed
    });
    // While the message waits on a peer that will never answer, Bo's poses keep coming.
    let arrivals = pose_arrivals(&mut host, idb, Duration::from_millis(3500)).await;
    assert!(arrivals.len() > 30, "only {} poses arrived", arrivals.len());
    let longest_gap = longest_gap(&arrivals);
    // Waiting on the message inline would stall them for the dial timeout (10 s); poses
    // come every 33 ms, and a loaded machine may delay a few.
    assert!(
        longest_gap < Duration::from_secs(2),
        "poses stalled for {longest_gap:?}"
    );
    let _ = events.await.unwrap();
    host_node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_newcomer_past_the_cap_is_told_the_world_is_full() {
    init_tracing();
    let config = WorldConfig {
        roster_capacity: 2,
        ..fast(Duration::from_secs(30))
    };
    let (nodes, [a, b, c]) = three_in_lobby(config.clone()).await;
    let late_node = node(4).await;
    let mut late = late_node
        .join_world_with(&a.ticket(), presence("Late", "lobby"), config.clone())
        .await
        .unwrap();
    let event = wait_event(&mut late, "the world is full", |e| {
        matches!(e, WorldEvent::Full { .. })
    })
    .await;
    assert_eq!(event, WorldEvent::Full { capacity: 3 });
    tokio::time::sleep(Duration::from_millis(500)).await;
    for handle in [&a, &b, &c] {
        assert_eq!(handle.peers().len(), 2, "the first three keep each other");
        assert!(
            handle
                .peers()
                .iter()
                .all(|entry| entry.peer != late_node.peer_id())
        );
    }
    for node in nodes.iter().chain([&late_node]) {
        node.shutdown().await;
    }
}

#[test]
fn a_neighbour_that_stops_reading_does_not_stall_the_world_loop() {
    init_tracing();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap();
    let config = fast(Duration::from_secs(60));
    let (nodes, [mut a, b, _c]) = runtime.block_on(three_in_lobby(config.clone()));
    let ticket = a.ticket();
    // The slow peer lives on a runtime of its own, on a thread we can stop.
    let (joined_tx, joined_rx) = std::sync::mpsc::channel();
    let (freeze_tx, freeze_rx) = tokio::sync::oneshot::channel::<()>();
    let (thaw_tx, thaw_rx) = std::sync::mpsc::channel::<()>();
    let slow = std::thread::spawn(move || {
        let own = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        own.block_on(async move {
            let node = node(30).await;
            let world = node
                .join_world_with(&ticket, presence("Slow", "lobby"), config.clone())
                .await
                .unwrap();
            joined_tx.send(node.peer_id()).unwrap();
            freeze_rx.await.ok();
            // Stop reading anything: the whole runtime stands still until thawed.
            thaw_rx.recv().ok();
            drop(world);
        });
    });
    let idslow = joined_rx.recv().unwrap();
    let idb = nodes[1].peer_id();
    runtime.block_on(async {
        wait_until("A to list the slow peer", || {
            a.peers().iter().any(|e| e.peer == idslow)
        })
        .await;
        wait_until("the slow peer to be A's gossip neighbour", || {
            a.neighbors().world >= 3
        })
        .await;
    });
    // Freeze it, as a neighbour that stops reading would.
    freeze_tx.send(()).unwrap();
    let frozen = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(8));
        thaw_tx.send(()).ok();
    });
    let (gaps, longest, stalls) = runtime.block_on(async {
        let walker = tokio::spawn(async move {
            walk(&b).await;
        });
        // Fill the frozen peer's windows and A's gossip queue towards it.
        for _ in 0..150 {
            let _ = a.broadcast_raw(RawTopic::World, vec![7; 16 * 1024]).await;
        }
        // A's loop still turns: B's poses keep arriving.
        let arrivals = pose_arrivals(&mut a, idb, Duration::from_secs(3)).await;
        walker.abort();
        let gaps = arrivals.len().saturating_sub(1);
        (gaps, longest_gap(&arrivals), a.gossip_stalls())
    });
    assert!(
        stalls > 0,
        "gossip stalled behind the frozen neighbour (the case under test)"
    );
    assert!(gaps > 20, "only {} poses arrived", gaps + 1);
    // Unbounded, the loop would wait for as long as the neighbour stays frozen (8 s).
    assert!(
        longest < Duration::from_secs(2),
        "A's loop stalled for {longest:?}"
    );
    frozen.join().unwrap();
    slow.join().unwrap();
    runtime.block_on(async {
        for node in &nodes {
            node.shutdown().await;
        }
    });
}
