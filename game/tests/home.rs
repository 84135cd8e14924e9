//! The Home app in a headless client against a real home node on loopback: pairing from
//! the panel (both sides show the same check, the pairing is remembered), a post made with
//! the panel's Post button reaching the node, the wall and friends shown from the node's
//! answers, and a device the node revoked told so in the panel. While the node is away,
//! the panel shows what it said last and changes wait on the device until it is back.
//! Two people in one world befriend each other from their Home panels.

use bevy::prelude::*;
use sanctuary::net_bridge::NetMode;
use sanctuary_net::home::pairing_check;
use sanctuary_net::{Home, Node, NodeConfig, Storage};
use sanctuary_plugin_api::{Grants, HomeLink, SanctuaryApp};
use sanctuary_pod::{HomeAction, HomeApp, HomePanel, HomeTab};
use sanctuary_protocols::Keypair;
use sanctuary_protocols::home::{Audience, FriendState, ItemBody, Request};
use std::path::Path;

mod common;
use common::{PanelView, folder, host_and_guest_with, networked_client, run_until};

fn allow_home(dir: &Path) {
    let mut grants = Grants::load(dir);
    for permission in HomeApp::MANIFEST.permissions {
        grants.grant(HomeApp::MANIFEST.name, permission);
    }
    grants.save().unwrap();
}

/// A home node in this process, with its runtime.
fn home_node(dir: &Path) -> (tokio::runtime::Runtime, Node, Home) {
    let (runtime, node, home, _) = home_node_parts(dir);
    (runtime, node, home)
}

/// [`home_node`], with its key and files, to start it again.
fn home_node_parts(dir: &Path) -> (tokio::runtime::Runtime, Node, Home, (Keypair, Storage)) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let (node, home, parts) = runtime.block_on(async {
        let keypair = Keypair::generate().unwrap();
        let (storage, _) = Storage::open(&dir.join("storage"), 1 << 30).await.unwrap();
        let home = Home::open(&dir.join("home"), keypair.clone(), storage.clone()).unwrap();
        let node = serve_home(&keypair, &storage, &home, None).await;
        (node, home, (keypair, storage))
    });
    (runtime, node, home, parts)
}

/// Serves `home` on loopback (at `at`, or any port). The port of a node just shut down
/// may take a moment to be free again.
async fn serve_home(
    keypair: &Keypair,
    storage: &Storage,
    home: &Home,
    at: Option<std::net::SocketAddr>,
) -> Node {
    let mut tries = 0;
    loop {
        let mut config = NodeConfig::loopback(keypair.clone());
        if at.is_some() {
            config.bind_addr = at;
        }
        config.storage = Some(storage.clone());
        config.home = Some(home.clone());
        match Node::spawn(config).await {
            Ok(node) => return node,
            Err(error) if tries < 40 => {
                tries += 1;
                eprintln!("not yet: {error}");
                tokio::time::sleep(std::time::Duration::from_millis(250)).await;
            }
            Err(error) => panic!("{error}"),
        }
    }
}

/// Pairs the client `app` with `home` through the panel.
fn pair_from_the_panel(app: &mut App, home: &Home) {
    let (code, _) = home.pairing_code().unwrap();
    app.world_mut().write_message(HomeAction::Pair {
        address: home.address().unwrap().to_string(),
        code,
    });
    run_until(&mut [app], "paired", |apps| panel(apps[0]).check.is_some());
}

fn on_the_wall(app: &App, said: &str) -> bool {
    panel(app)
        .wall
        .iter()
        .any(|entry| matches!(&entry.post.item.body, ItemBody::Post { text, .. } if text == said))
}

fn post(text: &str) -> HomeAction {
    HomeAction::Ask(Request::Post {
        text: text.into(),
        audience: Audience::Friends,
        pictures: Vec::new(),
    })
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
    pair_from_the_panel(&mut app, &home);
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

#[test]
fn while_the_node_is_away_the_panel_shows_what_it_said_and_changes_wait_for_it() {
    let root = folder("home-offline");
    let (runtime, node, home, (keypair, storage)) = home_node_parts(&root.join("node"));
    let dir = root.join("client");
    std::fs::create_dir_all(&dir).unwrap();
    allow_home(&dir);
    let mut app = networked_client("lobby", &dir, NetMode::Host);
    pair_from_the_panel(&mut app, &home);
    app.world_mut().write_message(post("while it answers"));
    run_until(&mut [&mut app], "the first post on the wall", |apps| {
        on_the_wall(apps[0], "while it answers")
    });

    // The node goes away: the wall comes from what the device kept.
    let at = home.address().unwrap().addrs[0];
    runtime.block_on(node.shutdown());
    drop(node);
    app.world_mut().resource_mut::<HomePanel>().wall.clear();
    app.world_mut().write_message(HomeAction::Refresh);
    run_until(&mut [&mut app], "the kept wall", |apps| {
        on_the_wall(apps[0], "while it answers")
    });
    assert!(!app.world().resource::<HomeLink>().online);
    let (said, problem) = panel(&app).message.clone().unwrap();
    assert!(
        problem && said.contains("does not answer") && said.contains("what it said"),
        "{said}"
    );

    // A post written now waits on the device, in its data folder.
    app.world_mut().write_message(post("written while it was away"));
    run_until(&mut [&mut app], "the post kept", |apps| {
        apps[0].world().resource::<HomeLink>().waiting == 1
    });
    assert!(dir.join("home-changes").exists());
    assert_eq!(home.export().unwrap().items.len(), 1);

    // The node is back at its address: the post goes there by itself, and the panel says so.
    let node = runtime.block_on(serve_home(&keypair, &storage, &home, Some(at)));
    run_until(&mut [&mut app], "the kept post delivered", |apps| {
        apps[0].world().resource::<HomeLink>().waiting == 0
            && panel(apps[0])
                .message
                .as_ref()
                .is_some_and(|(said, _)| said == "posted")
    });
    let texts: Vec<String> = home
        .export()
        .unwrap()
        .items
        .iter()
        .filter_map(|item| match &item.item.body {
            ItemBody::Post { text, .. } => Some(text.clone()),
            _ => None,
        })
        .collect();
    assert!(
        texts.contains(&"written while it was away".to_owned()),
        "{texts:?}"
    );
    assert!(app.world().resource::<HomeLink>().online);
    runtime.block_on(node.shutdown());
    let _ = std::fs::remove_dir_all(&root);
}

/// How `home` counts the person whose node is `other`.
fn friendship(home: &Home, other: sanctuary_protocols::PeerId) -> Option<FriendState> {
    let friends = home.export().unwrap().friends;
    friends
        .iter()
        .find(|friend| friend.node == other)
        .map(|friend| friend.state)
}

#[test]
fn two_people_in_the_world_become_friends_from_the_people_panel() {
    let root = folder("home-befriend");
    let (runtime_a, node_a, home_a) = home_node(&root.join("node-ana"));
    let (runtime_b, node_b, home_b) = home_node(&root.join("node-bo"));
    let (dir_a, dir_b) = (root.join("ana"), root.join("bo"));
    for dir in [&dir_a, &dir_b] {
        std::fs::create_dir_all(dir).unwrap();
        allow_home(dir);
    }
    let (mut ana, mut bo) = host_and_guest_with("lobby", &dir_a, &dir_b, |app| {
        app.add_plugins(sanctuary::people::PeoplePanelPlugin);
    });
    let ana_people = PanelView::client("people");
    let bo_people = PanelView::client("people");
    // Before pairing, the Home app has nothing to offer people.
    let bo_name = ana.world().resource::<sanctuary_plugin_api::WorldView>().people[0]
        .name
        .clone();
    run_until(&mut [&mut ana, &mut bo], "Bo in Ana's People panel", |apps| {
        ana_people.shows(apps[0], &bo_name)
    });
    assert!(!ana_people.shows(&mut ana, "Be friends"));
    pair_from_the_panel(&mut ana, &home_a);
    pair_from_the_panel(&mut bo, &home_b);
    let ana_id = ana.world().resource::<sanctuary::identity::Identity>().peer_id();

    // Ana offers friendship with the button beside Bo in the People panel.
    run_until(&mut [&mut ana, &mut bo], "Be friends beside Bo", |apps| {
        ana_people.shows(apps[0], "Be friends")
    });
    ana_people.click_text(&mut ana, "Be friends");
    run_until(&mut [&mut ana, &mut bo], "the offer in Bo's panels", |apps| {
        panel(apps[1]).offers.iter().any(|(from, _)| *from == ana_id)
    });
    run_until(&mut [&mut ana, &mut bo], "Ana's button greyed", |apps| {
        ana_people.shows(apps[0], "Asked to be friends")
    });
    // Nothing is asked of either node until Bo says yes.
    assert_eq!(friendship(&home_a, home_b.id()), None);
    assert_eq!(friendship(&home_b, home_a.id()), None);
    // Bo's Home panel shows the offer too, with Accept and No. He says no first: Ana is
    // told, and her button comes back; but Bo is not asked again this session.
    bo.world_mut().resource_mut::<HomePanel>().tab = HomeTab::Friends;
    let bo_home = PanelView::app(&bo, "home");
    assert!(bo_home.shows(&mut bo, "would like to be friends"));
    bo_home.click_text(&mut bo, "No");
    run_until(&mut [&mut ana, &mut bo], "Ana told of the no", |apps| {
        panel(apps[0]).offered.is_empty() && ana_people.shows(apps[0], "Be friends")
    });
    assert!(
        panel(&ana)
            .message
            .as_ref()
            .is_some_and(|(text, _)| text.contains("said no")),
        "{:?}",
        panel(&ana).message
    );
    ana_people.click_text(&mut ana, "Be friends");
    let asked_again = std::time::Instant::now();
    run_until(&mut [&mut ana, &mut bo], "two seconds", |_| {
        asked_again.elapsed() > std::time::Duration::from_secs(2)
    });
    assert!(panel(&bo).offers.is_empty(), "asked again after a no");
    assert_eq!(friendship(&home_a, home_b.id()), None);

    // Bo changes his mind and asks Ana himself, from his People panel; she accepts beside
    // him in hers: both nodes ask each other, and each takes the other as a friend.
    bo_people.click_text(&mut bo, "Be friends");
    run_until(&mut [&mut ana, &mut bo], "Accept friendship beside Bo", |apps| {
        ana_people.shows(apps[0], "Accept friendship")
    });
    assert_eq!(friendship(&home_a, home_b.id()), None);
    ana_people.click_text(&mut ana, "Accept friendship");
    run_until(&mut [&mut ana, &mut bo], "friends on both nodes", |_| {
        friendship(&home_a, home_b.id()) == Some(FriendState::Friends)
            && friendship(&home_b, home_a.id()) == Some(FriendState::Friends)
    });
    assert!(panel(&ana).offers.is_empty());
    runtime_a.block_on(node_a.shutdown());
    runtime_b.block_on(node_b.shutdown());
    let _ = std::fs::remove_dir_all(&root);
}
