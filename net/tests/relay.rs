//! Two peers that cannot reach each other directly meet through a real relay server
//! (iroh-relay's, started here on loopback): the ticket carries the relay, and presence,
//! chat and private messages go through it.

mod common;

use common::*;
use iroh::tls::CaTlsConfig;
use sanctuary_net::{JoinTarget, Node, NodeConfig, RelayChoice, WorldEvent};
use sanctuary_protocols::{ChatText, WorldId};

/// A node that uses `relay` and has no direct (IP) paths at all.
async fn relay_only(seed: u8, relay: &str) -> Node {
    let config = NodeConfig {
        keypair: keypair(seed),
        relay: RelayChoice::Url(relay.to_owned()),
        local_discovery: false,
        bind_addr: None,
        gossip_neighbours: None,
        storage: None,
        home: None,
    };
    Node::spawn_with(config, |builder| {
        builder
            // The test relay's certificate is self-signed.
            .ca_tls_config(CaTlsConfig::insecure_skip_verify())
            .clear_ip_transports()
    })
    .await
    .expect("the node starts")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn peers_without_direct_paths_meet_through_the_relay() {
    init_tracing();
    let (_map, relay_url, _server) = iroh::test_utils::run_relay_server().await.expect("relay runs");
    let relay = relay_url.to_string();

    let host = relay_only(1, &relay).await;
    let mut a = host
        .join_world(
            JoinTarget::host(WorldId::random().unwrap()),
            presence("Ada", "lobby"),
        )
        .await
        .unwrap();
    let ticket = a.ticket();
    assert_eq!(
        ticket.relay.as_deref().map(|url| url.trim_end_matches('/')),
        Some(relay.trim_end_matches('/')),
        "the ticket carries the relay"
    );
    assert!(
        ticket.addrs.is_empty(),
        "no direct address to try: {:?}",
        ticket.addrs
    );

    let guest = relay_only(2, &relay).await;
    let mut b = guest.join_world(&ticket, presence("Bo", "lobby")).await.unwrap();
    wait_event(
        &mut a,
        "the guest's presence",
        |event| matches!(event, WorldEvent::Joined { peer, .. } if *peer == guest.peer_id()),
    )
    .await;
    wait_room(&[&a, &b]).await;

    a.send_chat(ChatText::new("through the relay").unwrap())
        .await
        .unwrap();
    let chat = wait_event(&mut b, "chat", |event| matches!(event, WorldEvent::Chat { .. })).await;
    assert!(
        matches!(chat, WorldEvent::Chat { peer, text, .. } if peer == host.peer_id() && text.as_str() == "through the relay")
    );

    b.send_direct(host.peer_id(), ChatText::new("psst").unwrap())
        .await
        .expect("a private message goes through the relay too");
    wait_event(
        &mut a,
        "the private message",
        |event| matches!(event, WorldEvent::Direct { peer, .. } if *peer == guest.peer_id()),
    )
    .await;
    host.shutdown().await;
    guest.shutdown().await;
}
