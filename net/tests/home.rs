//! Home nodes in one process on loopback: what a hostile caller can try (a stranger
//! delivering, a friend forging another's item or breaking a signature, an oversized
//! request, a flood of friend requests, a forged address) is refused, counted, and stores
//! nothing; and a post written while a friend's node is off reaches it once it is back.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use sanctuary_net::home::PENDING_REQUESTS_MAX;
use sanctuary_net::{Home, HomeConnection, Node, NodeConfig, Storage};
use sanctuary_protocols::Keypair;
use sanctuary_protocols::home::{
    Audience, ChangeMark, FriendState, HomeAddress, ItemBody, ItemId, Refusal, Request, Response, SignedItem,
};

fn folder(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sanctuary-home-net-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A home node with its key, database and files in `dir`, bound to `bind`.
async fn home_node(dir: &Path, keypair: Keypair, bind: &str) -> (Node, Home) {
    let (storage, _) = Storage::open(&dir.join("storage"), 1 << 30).await.unwrap();
    let home = Home::open(&dir.join("home"), keypair.clone(), storage.clone()).unwrap();
    let mut config = NodeConfig::loopback(keypair);
    config.bind_addr = Some(bind.parse().unwrap());
    config.storage = Some(storage);
    config.home = Some(home.clone());
    (Node::spawn(config).await.unwrap(), home)
}

/// A plain node (a device, an app, a stranger) with `keypair`.
async fn caller(keypair: Keypair) -> Node {
    Node::spawn(NodeConfig::loopback(keypair)).await.unwrap()
}

/// A device paired with `home`, connected to it.
async fn paired(home: &Home) -> (Node, HomeConnection) {
    let device = caller(Keypair::generate().unwrap()).await;
    let connection = device.connect_home(&home.address().unwrap()).await.unwrap();
    let (code, _) = home.pairing_code().unwrap();
    connection
        .ask_ok(&Request::Pair {
            code,
            device_name: "test".into(),
        })
        .await
        .unwrap();
    (device, connection)
}

/// Makes the people of two homes friends, through their devices.
async fn befriend(a: &HomeConnection, b: &HomeConnection, a_home: &Home, b_home: &Home) {
    a.ask_ok(&Request::AddFriend {
        address: b_home.address().unwrap(),
    })
    .await
    .unwrap();
    b.ask_ok(&Request::AcceptFriend { node: a_home.id() })
        .await
        .unwrap();
}

fn refusal(response: Response) -> Refusal {
    match response {
        Response::Refused { reason, .. } => reason,
        other => panic!("let through: {other:?}"),
    }
}

fn post(keypair: &Keypair, seq: u64, text: &str) -> SignedItem {
    let body = ItemBody::Post {
        text: text.into(),
        pictures: Vec::new(),
        audience: Audience::Friends,
    };
    SignedItem::sign(keypair, seq, 1_700_000_000_000 + seq, body).unwrap()
}

async fn wall(device: &HomeConnection) -> Vec<SignedItem> {
    match device.ask_ok(&Request::Wall { limit: 100 }).await.unwrap() {
        Response::Wall(posts) => posts.into_iter().map(|p| p.post).collect(),
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_callers_are_refused_counted_and_store_nothing() {
    let root = folder("hostile");
    let (ada_key, bob_key, carol_key) = (
        Keypair::generate().unwrap(),
        Keypair::generate().unwrap(),
        Keypair::generate().unwrap(),
    );
    let (_ada_node, ada) = home_node(&root.join("ada"), ada_key.clone(), "127.0.0.1:0").await;
    let (_bob_node, bob) = home_node(&root.join("bob"), bob_key.clone(), "127.0.0.1:0").await;
    let (_ada_device, ada_device) = paired(&ada).await;
    let (_bob_device, bob_device) = paired(&bob).await;
    befriend(&ada_device, &bob_device, &ada, &bob).await;
    let address = ada.address().unwrap();

    // A stranger may not deliver, even its own signed post.
    let mallory_key = Keypair::generate().unwrap();
    let mallory_node = caller(mallory_key.clone()).await;
    let mallory = mallory_node.connect_home(&address).await.unwrap();
    let own = post(&mallory_key, 1, "buy my stuff");
    assert_eq!(
        refusal(mallory.ask(&Request::Deliver(own)).await.unwrap()),
        Refusal::NotAllowed
    );
    // Nor read the wall, nor pair without the code.
    assert_eq!(
        refusal(mallory.ask(&Request::Wall { limit: 10 }).await.unwrap()),
        Refusal::NotAllowed
    );
    let guess = Request::Pair {
        code: "123-456-789".into(),
        device_name: "x".into(),
    };
    assert_eq!(refusal(mallory.ask(&guess).await.unwrap()), Refusal::BadCode);
    // An oversized request from a stranger is cut off before it is read.
    let big = Request::FriendRequest {
        name: "x".repeat(20_000),
        address: HomeAddress::new(mallory_key.peer_id(), None, []),
    };
    assert_eq!(refusal(mallory.ask(&big).await.unwrap()), Refusal::TooLarge);
    // A friend request naming another node's address.
    let lying = Request::FriendRequest {
        name: "Bob".into(),
        address: bob.address().unwrap(),
    };
    assert_eq!(refusal(mallory.ask(&lying).await.unwrap()), Refusal::Forged);

    // Bob's key (a friend) delivering Carol's post, or his own with its text changed.
    let as_bob_node = caller(bob_key.clone()).await;
    let as_bob = as_bob_node.connect_home(&address).await.unwrap();
    let carols = post(&carol_key, 1, "hello from Carol");
    assert_eq!(
        refusal(as_bob.ask(&Request::Deliver(carols)).await.unwrap()),
        Refusal::Forged
    );
    let mut tampered = post(&bob_key, 5, "I owe Ada 5");
    if let ItemBody::Post { text, .. } = &mut tampered.item.body {
        *text = "Ada owes me 500".into();
    }
    assert_eq!(
        refusal(as_bob.ask(&Request::Deliver(tampered)).await.unwrap()),
        Refusal::Forged
    );
    // A comment on a post Ada's node does not hold.
    let nowhere = ItemId {
        author: ada.id(),
        seq: 42,
    };
    let comment = SignedItem::sign(
        &bob_key,
        6,
        1,
        ItemBody::Comment {
            post: nowhere,
            text: "?".into(),
        },
    )
    .unwrap();
    assert_eq!(
        refusal(as_bob.ask(&Request::Deliver(comment)).await.unwrap()),
        Refusal::NotFound
    );
    // A post dated an hour ahead, which would stay on top of every wall.
    let hour_ahead = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
        + 3_600_000;
    let ahead = SignedItem::sign(
        &bob_key,
        7,
        hour_ahead,
        ItemBody::Post {
            text: "first forever".into(),
            pictures: Vec::new(),
            audience: Audience::Friends,
        },
    )
    .unwrap();
    assert_eq!(
        refusal(as_bob.ask(&Request::Deliver(ahead)).await.unwrap()),
        Refusal::Failed
    );
    assert!(wall(&ada_device).await.is_empty(), "a refused item was stored");

    // A post taken back does not come back when it is delivered again.
    let taken_back = post(&bob_key, 8, "never mind");
    let deletion = SignedItem::sign(
        &bob_key,
        9,
        1_700_000_000_100,
        ItemBody::Delete {
            item: taken_back.id(),
        },
    )
    .unwrap();
    for item in [taken_back.clone(), deletion, taken_back] {
        assert_eq!(as_bob.ask(&Request::Deliver(item)).await.unwrap(), Response::Done);
    }
    assert!(wall(&ada_device).await.is_empty(), "a deleted post came back");

    // A flood of friend requests: the first ones wait for Ada, the rest are refused.
    let mut callers = Vec::new();
    for _ in 0..PENDING_REQUESTS_MAX + 3 {
        let key = Keypair::generate().unwrap();
        let node = caller(key.clone()).await;
        let request = Request::FriendRequest {
            name: "spam".into(),
            address: HomeAddress::new(key.peer_id(), None, []),
        };
        let answer = node
            .connect_home(&address)
            .await
            .unwrap()
            .ask(&request)
            .await
            .unwrap();
        callers.push((node, answer));
    }
    let refused = callers
        .iter()
        .filter(|(_, answer)| {
            matches!(
                answer,
                Response::Refused {
                    reason: Refusal::TooMany,
                    ..
                }
            )
        })
        .count();
    assert_eq!(refused, 3);
    let Response::Friends(friends) = ada_device.ask_ok(&Request::Friends).await.unwrap() else {
        panic!()
    };
    let waiting = friends.iter().filter(|f| f.state == FriendState::AskedUs).count();
    assert_eq!(waiting, PENDING_REQUESTS_MAX);

    let Response::Status(status) = ada_device.ask_ok(&Request::Status).await.unwrap() else {
        panic!()
    };
    let count = |reason: Refusal| {
        status
            .refused
            .iter()
            .find(|(r, _)| *r == reason)
            .map_or(0, |(_, n)| *n)
    };
    assert_eq!(count(Refusal::Forged), 3);
    assert_eq!(count(Refusal::TooMany), 3);
    assert_eq!(count(Refusal::TooLarge), 1);
    assert_eq!(count(Refusal::BadCode), 1);
    assert_eq!(count(Refusal::NotAllowed), 2);
    assert_eq!(count(Refusal::Failed), 1);
    assert_eq!(status.friends_items, 0);

    // One stranger asking as fast as it can gets its own share, not the node's: it is
    // refused after a burst, while a friend's node still gets through.
    let mut answered = 0;
    for _ in 0..60 {
        if matches!(
            mallory.ask(&Request::Hello).await.unwrap(),
            Response::Hello { .. }
        ) {
            answered += 1;
        }
    }
    assert!((20..60).contains(&answered), "{answered} of 60 answered");
    assert!(matches!(
        as_bob.ask(&Request::Hello).await.unwrap(),
        Response::Hello { .. }
    ));
    for (node, _) in callers {
        node.shutdown().await;
    }
    let _ = std::fs::remove_dir_all(&root);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_post_waits_for_a_friends_node_that_is_off_and_reaches_it_when_it_is_back() {
    let root = folder("offline");
    let (ada_key, bob_key) = (Keypair::generate().unwrap(), Keypair::generate().unwrap());
    let port = std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let bob_bind = format!("127.0.0.1:{port}");
    let (_ada_node, ada) = home_node(&root.join("ada"), ada_key, "127.0.0.1:0").await;
    let (bob_node, bob) = home_node(&root.join("bob"), bob_key.clone(), &bob_bind).await;
    let (_ada_device, ada_device) = paired(&ada).await;
    let (_bob_device, bob_device) = paired(&bob).await;
    befriend(&ada_device, &bob_device, &ada, &bob).await;

    bob_node.shutdown().await;
    bob.storage().shutdown().await;
    drop((bob, bob_node, _bob_device, bob_device));
    // The database closes once the node's last task lets go of it.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let request = Request::Post {
        text: "while you were out".into(),
        audience: Audience::Friends,
        pictures: Vec::new(),
    };
    ada_device.ask_ok(&request).await.unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let Response::Friends(friends) = ada_device.ask_ok(&Request::Friends).await.unwrap() else {
        panic!()
    };
    assert_eq!(friends[0].waiting, 1, "the post should wait for Bob's node");

    // Bob's node comes back on the same address, with the same database.
    let (_bob_node, bob) = home_node(&root.join("bob"), bob_key, &bob_bind).await;
    assert!(bob.export().unwrap().items.is_empty());
    let deadline = Instant::now() + Duration::from_secs(60);
    while bob.export().unwrap().items.is_empty() {
        assert!(Instant::now() < deadline, "the post never reached Bob's node");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(bob.export().unwrap().items[0].item.id.author, ada.id());
    assert!(bob.export().unwrap().friends.iter().any(|f| f.node == ada.id()));
    let _ = std::fs::remove_dir_all(&root);
}

/// The posts a home holds, by text.
fn texts(home: &Home) -> Vec<String> {
    home.export()
        .unwrap()
        .items
        .iter()
        .filter_map(|item| match &item.item.body {
            ItemBody::Post { text, .. } | ItemBody::Comment { text, .. } => Some(text.clone()),
            _ => None,
        })
        .collect()
}

/// Waits until `done` holds for `home` (at most 30 s).
async fn until(home: &Home, what: &str, done: impl Fn(&[String]) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done(&texts(home)) {
        assert!(Instant::now() < deadline, "{what}: {:?}", texts(home));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_group_post_reaches_only_the_group_and_comments_are_passed_on_to_who_has_the_post() {
    let root = folder("three");
    let mut homes = Vec::new();
    for name in ["ada", "bob", "carol"] {
        let (node, home) = home_node(&root.join(name), Keypair::generate().unwrap(), "127.0.0.1:0").await;
        let (device_node, device) = paired(&home).await;
        homes.push((node, home, device_node, device));
    }
    let [
        (_, ada, _, ada_device),
        (_, bob, _, bob_device),
        (_, carol, _, carol_device),
    ] = &homes[..]
    else {
        unreachable!()
    };
    befriend(ada_device, bob_device, ada, bob).await;
    // Carol asks Ada too, and Ada asking back is her yes.
    carol_device
        .ask_ok(&Request::AddFriend {
            address: ada.address().unwrap(),
        })
        .await
        .unwrap();
    ada_device
        .ask_ok(&Request::AddFriend {
            address: carol.address().unwrap(),
        })
        .await
        .unwrap();
    let Response::Friends(friends) = carol_device.ask_ok(&Request::Friends).await.unwrap() else {
        panic!()
    };
    assert_eq!(
        friends[0].state,
        FriendState::Friends,
        "asking back did not accept"
    );

    // Bob is family; a post for the family reaches him and not Carol.
    ada_device
        .ask_ok(&Request::SetGroup {
            node: bob.id(),
            group: Some("family".into()),
        })
        .await
        .unwrap();
    let family = Request::Post {
        text: "Dinner at eight".into(),
        audience: Audience::Group("family".into()),
        pictures: Vec::new(),
    };
    ada_device.ask_ok(&family).await.unwrap();
    let everyone = Request::Post {
        text: "New tower finished".into(),
        audience: Audience::Friends,
        pictures: Vec::new(),
    };
    let Response::Posted(tower) = ada_device.ask_ok(&everyone).await.unwrap() else {
        panic!()
    };
    until(bob, "both posts at Bob's", |t| t.len() == 2).await;
    until(carol, "the tower at Carol's", |t| {
        t.contains(&"New tower finished".to_owned())
    })
    .await;
    assert!(
        !texts(carol).contains(&"Dinner at eight".to_owned()),
        "a family post reached Carol"
    );

    // Bob's comment goes to Ada's node, which passes it on to Carol, who has the post.
    let comment = Request::Comment {
        post: tower,
        text: "Looks great".into(),
    };
    let Response::Posted(said) = bob_device.ask_ok(&comment).await.unwrap() else {
        panic!()
    };
    until(carol, "Bob's comment at Carol's", |t| {
        t.contains(&"Looks great".to_owned())
    })
    .await;
    // And taking it back takes it from both.
    bob_device.ask_ok(&Request::Delete { item: said }).await.unwrap();
    until(ada, "the comment gone at Ada's", |t| {
        !t.contains(&"Looks great".to_owned())
    })
    .await;
    until(carol, "the comment gone at Carol's", |t| {
        !t.contains(&"Looks great".to_owned())
    })
    .await;

    // Deleting everything empties Ada's node and asks her friends' nodes to forget her.
    ada_device
        .ask_ok(&Request::DeleteEverything { node: ada.id() })
        .await
        .unwrap();
    assert!(ada.export().unwrap().items.is_empty());
    assert!(ada.export().unwrap().files.is_empty());
    until(bob, "Ada's posts gone at Bob's", |t| t.is_empty()).await;
    until(carol, "Ada's posts gone at Carol's", |t| t.is_empty()).await;
    let _ = std::fs::remove_dir_all(&root);
}

#[tokio::test(flavor = "multi_thread")]
async fn five_wrong_pairing_codes_end_the_code() {
    let root = folder("codes");
    let (_node, home) = home_node(&root.join("node"), Keypair::generate().unwrap(), "127.0.0.1:0").await;
    let (code, _) = home.pairing_code().unwrap();
    let guesser_node = caller(Keypair::generate().unwrap()).await;
    let guesser = guesser_node.connect_home(&home.address().unwrap()).await.unwrap();
    let pair = |code: &str| Request::Pair {
        code: code.into(),
        device_name: "guess".into(),
    };
    for _ in 0..5 {
        assert_eq!(
            refusal(guesser.ask(&pair("000-000-000")).await.unwrap()),
            Refusal::BadCode
        );
    }
    assert_eq!(
        refusal(guesser.ask(&pair(&code)).await.unwrap()),
        Refusal::BadCode,
        "the code outlived its tries"
    );
    // A new code works, once.
    let (code, _) = home.pairing_code().unwrap();
    assert!(matches!(
        guesser.ask(&pair(&code)).await.unwrap(),
        Response::Paired { .. }
    ));
    let other_node = caller(Keypair::generate().unwrap()).await;
    let other = other_node.connect_home(&home.address().unwrap()).await.unwrap();
    assert_eq!(
        refusal(other.ask(&pair(&code)).await.unwrap()),
        Refusal::BadCode,
        "a code paired twice"
    );
    let _ = std::fs::remove_dir_all(&root);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_change_sent_again_with_its_number_is_made_once_and_answered_as_before() {
    let root = folder("once");
    let dir = root.join("node");
    let keypair = Keypair::generate().unwrap();
    let (node, home) = home_node(&dir, keypair.clone(), "127.0.0.1:0").await;
    let (device_node, device) = paired(&home).await;
    let post = Request::Post {
        text: "said once".into(),
        audience: Audience::Friends,
        pictures: Vec::new(),
    };
    // Written an hour ago, while the node was away: dated then.
    let now_ms = || {
        let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
        since.unwrap().as_millis() as u64
    };
    let written_ms = now_ms() - 3_600_000;
    let mark = |change| ChangeMark { change, written_ms };
    let first = device.ask_ok(&Request::once(mark(41), &post)).await.unwrap();
    assert!(matches!(first, Response::Posted(_)), "{first:?}");
    assert_eq!(wall(&device).await[0].item.created_ms, written_ms);
    // The device lost the answer and sends the change again: the same answer, no second post.
    let again = device.ask_ok(&Request::once(mark(41), &post)).await.unwrap();
    assert_eq!(again, first);
    assert_eq!(wall(&device).await.len(), 1);
    // Another number is another change; one dated before any node could have been away
    // is dated when it arrives.
    let long_ago = ChangeMark {
        change: 42,
        written_ms: 1_000,
    };
    let other = device.ask_ok(&Request::once(long_ago, &post)).await.unwrap();
    assert_ne!(other, first);
    let posts = wall(&device).await;
    assert_eq!(posts.len(), 2);
    assert!(posts.iter().any(|post| post.item.created_ms >= now_ms() - 60_000));
    // A number is the caller's own: another device's 41 is another change; and a number
    // sent again with another change is refused, not taken for the first.
    let (_tablet_node, tablet) = paired(&home).await;
    let tablets = tablet.ask_ok(&Request::once(mark(41), &post)).await.unwrap();
    assert_ne!(tablets, first);
    assert_eq!(wall(&device).await.len(), 3);
    let reused = Request::Post {
        text: "something else".into(),
        audience: Audience::Friends,
        pictures: Vec::new(),
    };
    assert_eq!(
        refusal(device.ask(&Request::once(mark(41), &reused)).await.unwrap()),
        Refusal::Malformed
    );
    // Only changes are sent once, and a node's memory of them outlives a restart.
    assert_eq!(
        refusal(
            device
                .ask(&Request::once(mark(43), &Request::Wall { limit: 5 }))
                .await
                .unwrap()
        ),
        Refusal::Malformed
    );
    node.shutdown().await;
    home.storage().shutdown().await;
    drop((node, home));
    let (_node, home) = home_node(&dir, keypair, "127.0.0.1:0").await;
    let device = device_node.connect_home(&home.address().unwrap()).await.unwrap();
    assert_eq!(
        device.ask_ok(&Request::once(mark(41), &post)).await.unwrap(),
        first
    );
    assert_eq!(wall(&device).await.len(), 3);
    let _ = std::fs::remove_dir_all(&root);
}
