//! Voice between peers on loopback: who hears whom, private calls, and hostile packets.

mod common;

use std::time::Duration;

use common::{fast, init_tracing, node, three_in_lobby, wait_event, wait_until};
use sanctuary_net::{RejectReason, VoiceTo, WorldEvent, WorldHandle};
use sanctuary_protocols::{FrameDuration, PeerId, PoseSample, ReceptionReport, VoicePacket};

fn packet(seq: u32, call: bool) -> VoicePacket {
    VoicePacket {
        seq,
        frame: FrameDuration::Ms20,
        end: false,
        call,
        opus: vec![0xf8, 0xff, 0xfe, seq as u8],
    }
}

fn at(x: f32) -> PoseSample {
    PoseSample {
        position: [x, 0.0, 0.0],
        ..PoseSample::default()
    }
}

/// Sends poses from every handle until `speaker`'s earshot is exactly `expected`.
async fn stand(handles: &[(&WorldHandle, f32)], speaker: &WorldHandle, expected: &[PeerId]) {
    let sender = speaker.voice_sender();
    wait_until("the earshot list", || {
        for (handle, x) in handles {
            handle.send_pose(at(*x)).unwrap();
        }
        sender.earshot() == expected
    })
    .await;
}

async fn voices(handle: &mut WorldHandle, period: Duration) -> Vec<(PeerId, VoicePacket)> {
    common::drain_for(handle, period)
        .await
        .into_iter()
        .filter_map(|event| match event {
            WorldEvent::Voice { peer, packet } => Some((peer, packet)),
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn voice_reaches_the_peers_in_earshot_and_a_call_reaches_one_peer_anywhere() {
    init_tracing();
    let (nodes, [mut a, mut b, mut c]) = three_in_lobby(fast(Duration::from_secs(30))).await;
    let (ida, idb, idc) = (nodes[0].peer_id(), nodes[1].peer_id(), nodes[2].peer_id());
    // B stands 5 m from A; C 100 m away, out of earshot.
    stand(&[(&a, 0.0), (&b, 5.0), (&c, 100.0)], &a, &[idb]).await;
    let sender = a.voice_sender();
    // The first packets may go while the voice connection is still being dialed.
    for seq in 0..50 {
        sender.send(&packet(seq, false), VoiceTo::Earshot);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let heard = voices(&mut b, Duration::from_millis(300)).await;
    assert!(heard.len() > 20, "B heard {} packets", heard.len());
    assert!(heard.iter().all(|(peer, packet)| *peer == ida && !packet.call));
    assert_eq!(heard.last().unwrap().1, packet(49, false));
    // B answers with a reception report, which reaches A (once B's own voice connection
    // to A is up: the first report may go while it is dialed).
    let report = ReceptionReport {
        seq: 49,
        call: false,
        loss_percent: 12,
    };
    let reporter = b.voice_sender();
    wait_until("B's voice connection to A", || reporter.report(ida, &report)).await;
    wait_event(&mut a, "B's reception report", |event| {
        matches!(event, WorldEvent::VoiceReport { peer, report: got } if *peer == idb && *got == report)
    })
    .await;
    assert!(
        voices(&mut c, Duration::from_millis(200)).await.is_empty(),
        "C is too far"
    );

    // A private call to C: C hears it from 100 m, B (next to A) does not.
    for seq in 0..50 {
        sender.send(&packet(seq, true), VoiceTo::Peer(idc));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let heard = voices(&mut c, Duration::from_millis(300)).await;
    assert!(heard.len() > 20 && heard.iter().all(|(peer, packet)| *peer == ida && packet.call));
    assert!(
        voices(&mut b, Duration::from_millis(200)).await.is_empty(),
        "B is not in the call"
    );

    // Someone not in the world is nobody to call.
    let stranger = node(40).await.peer_id();
    assert_eq!(sender.send(&packet(0, true), VoiceTo::Peer(stranger)), 0);
    assert!(!sender.report(stranger, &report));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_flooding_and_stranger_voice_is_refused_and_others_still_heard() {
    init_tracing();
    let (nodes, [a, mut b, c]) = three_in_lobby(fast(Duration::from_secs(30))).await;
    let (idb, idc) = (nodes[1].peer_id(), nodes[2].peer_id());
    // A is 1 m from C, B 2 m: nearest first.
    stand(&[(&a, 1.0), (&b, 0.0), (&c, 2.0)], &c, &[nodes[0].peer_id(), idb]).await;

    // A sends garbage, an oversized packet, then a flood far over the voice rate.
    nodes[0].send_raw_voice(idb, &[9, 9, 9]).await.unwrap();
    wait_until("a malformed voice packet", || {
        b.counters().rejected(RejectReason::Malformed) >= 1
    })
    .await;
    let flood = packet(0, false).encode();
    for _ in 0..400 {
        let _ = nodes[0].send_raw_voice(idb, &flood).await;
    }
    wait_until("the flood rate-limited", || {
        b.counters().rejected(RejectReason::RateLimited) >= 1
    })
    .await;

    // A stranger's voice is refused.
    let stranger = node(41).await;
    stranger.add_peer_addr(nodes[1].addr());
    let before = b.counters().rejected(RejectReason::Stranger);
    stranger
        .send_raw_voice(idb, &packet(0, false).encode())
        .await
        .unwrap();
    wait_until("a stranger refused", || {
        b.counters().rejected(RejectReason::Stranger) > before
    })
    .await;

    // C, who behaved, is still heard.
    let sender = c.voice_sender();
    let speaking = tokio::spawn(async move {
        for seq in 0..100 {
            sender.send(&packet(1000 + seq, false), VoiceTo::Earshot);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
    wait_event(
        &mut b,
        "C's voice",
        |event| matches!(event, WorldEvent::Voice { peer, packet } if *peer == idc && packet.seq >= 1000),
    )
    .await;
    speaking.abort();
}
