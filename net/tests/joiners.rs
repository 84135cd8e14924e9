//! Peers that all joined by ticket know only the host's address from it; they must still
//! reach each other directly for poses and private messages (no relay, no manual
//! addresses).

mod common;

use std::time::{Duration, Instant};

use common::*;
use sanctuary_net::{JoinTarget, WorldEvent, WorldHandle, WorldId, WorldTicket};
use sanctuary_protocols::{ChatText, PeerId, PoseSample};

fn got_pose_from(handle: &mut WorldHandle, from: PeerId) -> bool {
    let mut got = false;
    while let Ok(event) = handle.events().try_recv() {
        got |= matches!(event, WorldEvent::Pose { peer, .. } if peer == from);
    }
    got
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn joiners_reach_each_other_through_the_hosts_ticket_only() {
    init_tracing();
    let config = fast(Duration::from_secs(30));
    let nodes = [node(21).await, node(22).await, node(23).await, node(24).await];
    let host = nodes[0]
        .join_world_with(
            JoinTarget::host(WorldId::random().unwrap()),
            presence("Host", "lobby"),
            config.clone(),
        )
        .await
        .unwrap();
    // Only the ticket's text: each joiner is told the host's address and nothing else.
    let ticket: WorldTicket = host.ticket().to_string().parse().unwrap();
    let join = |i: usize, name: &'static str| {
        let (node, ticket, config) = (nodes[i].clone(), ticket.clone(), config.clone());
        async move {
            node.join_world_with(&ticket, presence(name, "lobby"), config)
                .await
                .unwrap()
        }
    };
    let mut b = join(1, "Bo").await;
    let c = join(2, "Cy").await;
    wait_roster(&[&host, &b, &c], 2).await;
    wait_room(&[&host, &b, &c]).await;
    // A late joiner: gossip's membership walk does not tell it (or them) the earlier
    // joiners' addresses.
    let mut d = join(3, "Di").await;
    wait_roster(&[&host, &b, &c, &d], 3).await;
    wait_room(&[&host, &b, &c, &d]).await;

    // The last joiner's poses reach an earlier joiner, and the other way round.
    let (idb, idd) = (nodes[1].peer_id(), nodes[3].peer_id());
    let sample = PoseSample {
        position: [2.0, 0.0, 1.0],
        ..PoseSample::default()
    };
    let deadline = Instant::now() + DEADLINE;
    let (mut b_got_d, mut d_got_b) = (false, false);
    while !(b_got_d && d_got_b) {
        assert!(
            Instant::now() < deadline,
            "timed out waiting for joiners' poses: Bo got Di's: {b_got_d}, Di got Bo's: {d_got_b}"
        );
        b.send_pose(sample).unwrap();
        d.send_pose(sample).unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
        b_got_d |= got_pose_from(&mut b, idd);
        d_got_b |= got_pose_from(&mut d, idb);
    }

    // A private message from the last joiner reaches an earlier one.
    let text = ChatText::new("psst, Bo").unwrap();
    d.send_direct(idb, text.clone()).await.unwrap();
    let event = wait_event(&mut b, "direct message", |e| {
        matches!(e, WorldEvent::Direct { .. })
    })
    .await;
    assert_eq!(event, WorldEvent::Direct { peer: idd, text });

    for node in &nodes {
        node.shutdown().await;
    }
}
