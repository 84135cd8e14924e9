//! The Home app in a headless client against a real home node on loopback: pairing from
//! the panel (both sides show the same check, the pairing is remembered), a post made with
//! the panel's Post button reaching the node, the wall and friends shown from the node's
//! answers, and a device the node revoked told so in the panel.

use bevy::prelude::*;
use sanctuary::net_bridge::NetMode;
use sanctuary_net::home::pairing_check;
use sanctuary_net::{Home, Node, NodeConfig, Storage};
use sanctuary_plugin_api::{Grants, HomeLink, SanctuaryApp};
use sanctuary_pod::{HomeAction, HomeApp, HomePanel};
use sanctuary_protocols::Keypair;
use sanctuary_protocols::home::{ItemBody, Request};
use std::path::Path;

mod common;
use common::{PanelView, folder, networked_client, run_until};

fn allow_home(dir: &Path) {
    let mut grants = Grants::load(dir);
    for permission in HomeApp::MANIFEST.permissions {
        grants.grant(HomeApp::MANIFEST.name, permission);
    }
    grants.save().unwrap();
}

/// A home node in this process, with its runtime.
fn home_node(dir: &Path) -> (tokio::runtime::Runtime, Node, Home) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let (node, home) = runtime.block_on(async {
        let keypair = Keypair::generate().unwrap();
        let (storage, _) = Storage::open(&dir.join("storage"), 1 << 30).await.unwrap();
        let home = Home::open(&dir.join("home"), keypair.clone(), storage.clone()).unwrap();
        let mut config = NodeConfig::loopback(keypair);
        config.storage = Some(storage);
        config.home = Some(home.clone());
        (Node::spawn(config).await.unwrap(), home)
    });
    (runtime, node, home)
}

fn panel(app: &App) -> &HomePanel {
    app.world().resource::<HomePanel>()
}

#[test]
fn the_home_panel_pairs_posts_and_shows_the_wall() {
    let root = folder("home-panel");
    let (runtime, node, home) = home_node(&root.join("node"));
    let dir = root.join("client");
    std::fs::create_dir_all(&dir).unwrap();
    allow_home(&dir);
    let mut app = networked_client("lobby", &dir, NetMode::Host);
    let me = app.world().resource::<sanctuary::identity::Identity>().peer_id();

    // Not paired: the panel asks for the node's address and code.
    let view = PanelView::app(&app, "home");
    assert!(view.shows(&mut app, "Pair"));
    let (code, _) = home.pairing_code().unwrap();
    app.world_mut().write_message(HomeAction::Pair {
        address: home.address().unwrap().to_string(),
        code,
    });
    run_until(&mut [&mut app], "paired", |apps| panel(apps[0]).check.is_some());
    assert_eq!(
        panel(&app).check.as_deref(),
        Some(pairing_check(home.id(), me).as_str())
    );
    let remembered = sanctuary_net::data_dir::paired_home(&dir).unwrap().unwrap();
    assert_eq!(remembered.node, home.id());
    assert_eq!(
        app.world().resource::<HomeLink>().node.as_ref().map(|n| n.node),
        Some(home.id())
    );

    // A post written in the panel and sent with its Post button reaches the node, and the
    // wall the node sends back shows it.
    app.world_mut().resource_mut::<HomePanel>().draft = "Hello from the lobby".into();
    let view = PanelView::app(&app, "home");
    view.click_text(&mut app, "Post");
    run_until(&mut [&mut app], "the post on the wall", |apps| {
        panel(apps[0]).wall.iter().any(|entry| {
            matches!(&entry.post.item.body, ItemBody::Post { text, .. } if text == "Hello from the lobby")
        })
    });
    let held = home.export().unwrap().items;
    assert_eq!(held.len(), 1);
    assert_eq!(held[0].item.id.author, home.id());
    assert!(view.shows(&mut app, "Hello from the lobby"));

    // The node revokes this device (from another paired device): the panel says so.
    let other = runtime.block_on(async {
        let device = Node::spawn(NodeConfig::loopback(Keypair::generate().unwrap()))
            .await
            .unwrap();
        let connection = device.connect_home(&home.address().unwrap()).await.unwrap();
        let (code, _) = home.pairing_code().unwrap();
        connection
            .ask_ok(&Request::Pair {
                code,
                device_name: "phone".into(),
            })
            .await
            .unwrap();
        connection
            .ask_ok(&Request::RevokeDevice { device: me })
            .await
            .unwrap();
        device
    });
    app.world_mut()
        .write_message(HomeAction::Ask(Request::Wall { limit: 10 }));
    run_until(&mut [&mut app], "the refusal shown", |apps| {
        panel(apps[0])
            .message
            .as_ref()
            .is_some_and(|(text, problem)| *problem && text.contains("refused"))
    });
    runtime.block_on(async {
        other.shutdown().await;
        node.shutdown().await;
    });
    let _ = std::fs::remove_dir_all(&root);
}
