//! A hostile peer in the world: forged signatures, replays, oversized messages, random bytes
//! on every protocol and as datagrams, and a flood. Each is refused and counted, and the
//! honest peers' chat and poses still arrive.

mod common;

use std::time::Duration;

use common::*;
use sanctuary_net::{JoinTarget, RawTopic, RejectReason, WorldEvent, WorldId};
use sanctuary_protocols::alpn::{ALPN_DM, ALPN_POSE, ALPN_ROOM};
use sanctuary_protocols::limits::MESSAGE_MAX;
use sanctuary_protocols::{Body, Chat, ChatText, Context, PoseSample, SignedEnvelope};

fn chat(s: &str) -> Body {
    Body::Chat(Chat {
        text: ChatText::new(s).unwrap(),
    })
}

/// Pseudo-random bytes, reproducible.
fn junk(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

async fn wait_count(b: &sanctuary_net::WorldHandle, reason: RejectReason) {
    wait_until(&format!("B to count {reason:?}"), || {
        b.counters().rejected(reason) > 0
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hostile_input_is_refused_and_counted() {
    init_tracing();
    let config = fast(Duration::from_secs(30));
    let (a_node, b_node, m_node) = (node(1).await, node(2).await, node(66).await);
    let world = WorldId::random().unwrap();
    let a = a_node
        .join_world_with(JoinTarget::host(world), presence("Ada", "lobby"), config.clone())
        .await
        .unwrap();
    let ticket = a.ticket();
    let mut b = b_node
        .join_world_with(&ticket, presence("Bo", "lobby"), config.clone())
        .await
        .unwrap();
    let m = m_node
        .join_world_with(&ticket, presence("Mal", "lobby"), config.clone())
        .await
        .unwrap();
    wait_roster(&[&a, &b, &m], 2).await;
    wait_room(&[&a, &b, &m]).await;
    let (ida, idb, idm) = (a_node.peer_id(), b_node.peer_id(), m_node.peer_id());
    // A second identity the hostile node signs gossip with (it needs no endpoint).
    let evil = keypair(99);
    let mal = keypair(66);
    let room = Context::room(world, space("lobby"));
    let now = unix_ms();

    // Forged signature: a message signed by `evil` that claims A wrote it.
    let mut forged = SignedEnvelope::sign(&evil, &room, u64::MAX / 2, now, chat("I am Ada")).encode();
    forged[1..33].copy_from_slice(ida.as_bytes());
    m.broadcast_raw(RawTopic::Room, forged).await.unwrap();
    wait_count(&b, RejectReason::BadSignature).await;
    assert_eq!(
        b.counters().peer(&ida).rejected,
        0,
        "the forged-for author is not blamed"
    );

    // Replay: M's own sequence number twice (different text, so gossip does not dedupe).
    let seq = now + 1_000_000;
    let first = SignedEnvelope::sign(&mal, &room, seq, now, chat("one")).encode();
    let again = SignedEnvelope::sign(&mal, &room, seq, now, chat("two")).encode();
    m.broadcast_raw(RawTopic::Room, first).await.unwrap();
    wait_event(
        &mut b,
        "the first of the pair",
        |e| matches!(e, WorldEvent::Chat { text, .. } if text.as_str() == "one"),
    )
    .await;
    m.broadcast_raw(RawTopic::Room, again).await.unwrap();
    wait_count(&b, RejectReason::Replay).await;
    // An old sequence number by direct message is a replay too.
    let to_b = Context::direct(world, idb);
    let old = SignedEnvelope::sign(&mal, &to_b, 5, now, chat("old news")).encode();
    let _ = m_node.send_raw_stream(idb, ALPN_DM, &old).await;

    // Oversized, on gossip and by direct message.
    m.broadcast_raw(RawTopic::Room, vec![0; MESSAGE_MAX + 100])
        .await
        .unwrap();
    let _ = m_node
        .send_raw_stream(idb, ALPN_DM, &vec![0; MESSAGE_MAX + 100])
        .await;
    wait_until("oversized", || {
        b.counters().rejected(RejectReason::Oversized) >= 1
    })
    .await;

    // Random bytes: as a gossip message, on every ALPN, and as pose datagrams.
    m.broadcast_raw(RawTopic::World, junk(300, 1)).await.unwrap();
    let _ = m_node.send_raw_stream(idb, ALPN_DM, &junk(200, 2)).await;
    let _ = m_node.send_raw_stream(idb, ALPN_ROOM, &junk(200, 3)).await;
    let _ = m_node.send_raw_stream(idb, ALPN_POSE, &junk(200, 4)).await;
    m_node.send_raw_datagram(idb, &junk(17, 5)).await.unwrap();
    m_node.send_raw_datagram(idb, &[]).await.unwrap();
    wait_until("three malformed", || {
        b.counters().rejected(RejectReason::Malformed) >= 3
    })
    .await;

    // A direct message from M signed by someone else.
    let wrong = SignedEnvelope::sign(&evil, &to_b, 1 << 41, now, chat("from evil")).encode();
    let _ = m_node.send_raw_stream(idb, ALPN_DM, &wrong).await;
    wait_count(&b, RejectReason::WrongSender).await;

    // A stranger, in no roster, cannot send private messages or poses.
    let stranger = node(77).await;
    stranger.add_peer_addr(b_node.addr());
    let hello = SignedEnvelope::sign(&keypair(77), &to_b, now, now, chat("hi, who am I?")).encode();
    let _ = stranger.send_raw_stream(idb, ALPN_DM, &hello).await;
    let pose = sanctuary_protocols::PoseDatagram {
        seq: 1,
        pose: PoseSample::default().quantize(),
    };
    stranger.send_raw_datagram(idb, &pose.encode()).await.unwrap();
    wait_until("two strangers refused", || {
        b.counters().rejected(RejectReason::Stranger) >= 2
    })
    .await;
    stranger.shutdown().await;

    // A flood: far more chat signed by M than the rate allows, until M is muted.
    for i in 0..300u64 {
        let bytes = SignedEnvelope::sign(&mal, &room, seq + 1 + i, now, chat("spam")).encode();
        m.broadcast_raw(RawTopic::Room, bytes).await.unwrap();
    }
    wait_count(&b, RejectReason::RateLimited).await;
    wait_count(&b, RejectReason::Muted).await;
    wait_until("M to be muted", || b.counters().is_muted(&idm)).await;

    // Through all this, honest chat and poses still arrive.
    a.send_chat(ChatText::new("still here").unwrap()).await.unwrap();
    wait_event(
        &mut b,
        "honest chat",
        |e| matches!(e, WorldEvent::Chat { peer, text, .. } if *peer == ida && text.as_str() == "still here"),
    )
    .await;
    let sample = PoseSample {
        position: [3.0, 0.0, 4.0],
        ..PoseSample::default()
    };
    let poser = tokio::spawn({
        async move {
            loop {
                if a.send_pose(sample).is_err() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    });
    let event = wait_event(
        &mut b,
        "honest pose",
        |e| matches!(e, WorldEvent::Pose { peer, .. } if *peer == ida),
    )
    .await;
    let WorldEvent::Pose { pose, .. } = event else {
        unreachable!()
    };
    assert!((pose.position[2] - 4.0).abs() < 0.001);
    poser.abort();

    let counters = b.counters();
    for reason in [
        RejectReason::BadSignature,
        RejectReason::Replay,
        RejectReason::Oversized,
        RejectReason::Malformed,
        RejectReason::RateLimited,
        RejectReason::Muted,
        RejectReason::WrongSender,
        RejectReason::Stranger,
    ] {
        assert!(counters.rejected(reason) > 0, "{reason:?}: {counters:?}");
    }
    assert!(
        !counters.is_muted(&ida),
        "an honest peer is not muted: {counters:?}"
    );
    assert!(counters.peer(&idm).rejected > 0, "{counters:?}");
    assert!(counters.accepted > 0);
    drop(m);
    for node in [a_node, b_node, m_node] {
        node.shutdown().await;
    }
}

/// Opens a raw connection to `target` on `alpn` from `attacker`'s endpoint.
async fn raw_connect(
    attacker: &iroh::Endpoint,
    target: &sanctuary_net::Node,
    alpn: &[u8],
) -> iroh::endpoint::Connection {
    attacker.connect(target.addr(), alpn).await.expect("connects")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_peer_gets_a_few_connections_and_a_few_streams_each() {
    use sanctuary_net::node::{MAX_CONNECTIONS_PER_PEER, MAX_STREAMS};
    init_tracing();
    let target = node(1).await;
    let attacker = iroh::Endpoint::builder(iroh::endpoint::presets::Minimal)
        .secret_key(iroh::SecretKey::from_bytes(&[66; 32]))
        .relay_mode(iroh::RelayMode::Disabled)
        .clear_ip_transports()
        .bind_addr("127.0.0.1:0")
        .unwrap()
        .bind()
        .await
        .unwrap();

    // A connection past the per-peer cap is closed by the node at once (whichever the
    // node happened to accept last: they arrive together).
    let mut connections = Vec::new();
    for _ in 0..MAX_CONNECTIONS_PER_PEER + 1 {
        connections.push(raw_connect(&attacker, &target, ALPN_DM).await);
    }
    wait_until("one connection to be closed", || {
        connections
            .iter()
            .any(|connection| connection.close_reason().is_some())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    connections.retain(|connection| connection.close_reason().is_none());
    assert_eq!(
        connections.len(),
        MAX_CONNECTIONS_PER_PEER,
        "only the one past the cap was closed"
    );

    // Streams left open (never finished) are capped per connection: the next one waits.
    let first = &connections[0];
    let mut streams = Vec::new();
    for _ in 0..MAX_STREAMS {
        let mut stream = first.open_uni().await.expect("a stream within the cap");
        stream.write_all(b"never finished").await.unwrap();
        streams.push(stream);
    }
    let past_cap = tokio::time::timeout(Duration::from_millis(500), first.open_uni()).await;
    assert!(
        past_cap.is_err(),
        "a stream past the cap waits for another to end"
    );
    attacker.close().await;
    target.shutdown().await;
}
