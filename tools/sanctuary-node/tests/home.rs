//! The personal server as real processes on loopback: `sanctuary-node serve` nodes, and
//! devices and an app talking to them with `sanctuary-node home` and `now-playing`.
//! Pairing, a friendship between two nodes, a post with a picture reaching the friend's
//! wall and a comment coming back, grants and revocations, export and import, and a node
//! killed mid-write; a world the node keeps open.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

fn node_tool() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_sanctuary-node"));
    command
        .env("RUST_LOG", "error")
        .env("RUST_BACKTRACE", "0")
        .env("RUST_LIB_BACKTRACE", "0");
    command
}

fn folder(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sanctuary-home-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A running `serve`, its printed lines arriving on a channel; killed when dropped.
struct Served {
    child: Child,
    lines: mpsc::Receiver<String>,
    address: String,
    node: String,
    code: String,
}

impl Served {
    fn start(dir: &Path, name: &str, bind: &str) -> Self {
        Self::start_with(dir, name, bind, &[])
    }

    /// Like [`Served::start`], with more options for `serve`.
    fn start_with(dir: &Path, name: &str, bind: &str, more: &[&str]) -> Self {
        let mut child = node_tool()
            .args(["serve", "--data-dir"])
            .arg(dir)
            .args(["--bind", bind, "--name", name])
            .args(more)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (send, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if send.send(line).is_err() {
                    break;
                }
            }
        });
        let mut served = Self {
            child,
            lines,
            address: String::new(),
            node: String::new(),
            code: String::new(),
        };
        served.address = served.wait_for("home: ").trim_start_matches("home: ").to_owned();
        served.node = served.wait_for("node: ").trim_start_matches("node: ").to_owned();
        let code = served.wait_for("pair: ");
        served.code = code.split(' ').nth(1).unwrap().to_owned();
        served
    }

    /// The next line starting with `prefix` (others are skipped).
    fn wait_for(&self, prefix: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(60);
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(line) if line.starts_with(prefix) => return line,
                Ok(_) => {}
                Err(_) => break,
            }
        }
        panic!("the node printed no {prefix:?} line");
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `home ARGS` as the device whose folder is `device`.
fn home(device: &Path, args: &[&str]) -> Output {
    node_tool()
        .args(["home", "--data-dir"])
        .arg(device)
        .args(["--bind", "127.0.0.1:0"])
        .args(args)
        .output()
        .unwrap()
}

/// `home ARGS`, which must succeed; its stdout.
fn home_ok(device: &Path, args: &[&str]) -> String {
    let out = home(device, args);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "home {args:?} failed: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// `home ARGS`, which must fail; its stderr.
fn home_refused(device: &Path, args: &[&str]) -> String {
    let out = home(device, args);
    assert!(
        !out.status.success(),
        "home {args:?} was let through: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Pairs the device in `device` with `node`, checking that both show the same check.
fn pair(device: &Path, node: &Served) {
    let out = home_ok(
        device,
        &[
            "--node",
            &node.address,
            "pair",
            &node.code,
            "--device-name",
            "laptop",
        ],
    );
    assert!(out.contains(&format!("paired with {}", node.node)), "{out}");
    let check = out.lines().find_map(|l| l.strip_prefix("check: ")).unwrap();
    let check = check.split(' ').next().unwrap();
    let paired = node.wait_for("paired: ");
    assert!(
        paired.ends_with(&format!("check {check}")),
        "{paired} against {check}"
    );
}

/// Polls `home ARGS` until its stdout satisfies `done` (at most 60 s).
fn home_until(device: &Path, args: &[&str], done: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let out = home_ok(device, args);
        if done(&out) {
            return out;
        }
        assert!(
            Instant::now() < deadline,
            "home {args:?} never showed what was awaited: {out}"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

fn picture_bytes() -> Vec<u8> {
    (0..300_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8)
        .collect()
}

#[test]
fn friends_nodes_carry_a_post_with_its_picture_and_a_comment_back() {
    let root = folder("friends");
    let ada = Served::start(&root.join("ada-node"), "Ada", "127.0.0.1:0");
    let bob = Served::start(&root.join("bob-node"), "Bob", "127.0.0.1:0");
    let (ada_laptop, bob_phone) = (root.join("ada-laptop"), root.join("bob-phone"));
    pair(&ada_laptop, &ada);
    pair(&bob_phone, &bob);

    // Ada asks, Bob's node hears it, Bob accepts.
    home_ok(&ada_laptop, &["friend", "add", &bob.address]);
    assert!(bob.wait_for("friend-request: ").contains(&ada.node));
    let requests = home_ok(&bob_phone, &["friend", "list"]);
    assert!(
        requests.contains(&format!("{} \"Ada\" asks-you", ada.node)),
        "{requests}"
    );
    home_ok(&bob_phone, &["friend", "accept", &ada.node]);
    let friends = home_ok(&ada_laptop, &["friend", "list"]);
    assert!(
        friends.contains(&format!("{} \"Bob\" friends", bob.node)),
        "{friends}"
    );

    // A post with a picture reaches Bob's node, picture and all.
    let picture = root.join("sunset.png");
    std::fs::write(&picture, picture_bytes()).unwrap();
    let posted = home_ok(
        &ada_laptop,
        &[
            "post",
            "Sunset from the roof",
            "--picture",
            picture.to_str().unwrap(),
        ],
    );
    let post = posted.trim().strip_prefix("posted: ").unwrap().to_owned();
    assert!(post.starts_with(&ada.node));
    let wall = home_until(&bob_phone, &["wall"], |wall| {
        wall.contains("Sunset from the roof") && wall.contains(" held")
    });
    assert!(wall.contains(&format!("post: {post} ")), "{wall}");
    let hash = wall
        .lines()
        .find_map(|line| line.trim().strip_prefix("picture: "))
        .and_then(|rest| rest.split(' ').next())
        .unwrap()
        .to_owned();
    let copy = root.join("copy.png");
    home_ok(&bob_phone, &["get-file", &hash, "--out", copy.to_str().unwrap()]);
    assert_eq!(std::fs::read(&copy).unwrap(), picture_bytes());

    // Bob's comment goes back to Ada's node and shows on her wall and in her inbox.
    home_ok(&bob_phone, &["comment", &post, "Lovely colours"]);
    home_ok(&bob_phone, &["like", &post]);
    let wall = home_until(&ada_laptop, &["wall"], |wall| {
        wall.contains("Lovely colours") && wall.contains("likes: 1")
    });
    assert!(
        wall.contains(&format!("by {}: Lovely colours", bob.node)),
        "{wall}"
    );
    let inbox = home_ok(&ada_laptop, &["inbox"]);
    assert!(
        inbox.contains("Bob commented on your post: Lovely colours"),
        "{inbox}"
    );
    assert!(inbox.contains("Bob accepted your friend request"), "{inbox}");

    // Ada takes the post back: it leaves Bob's wall too.
    home_ok(&ada_laptop, &["delete", &post]);
    home_until(&bob_phone, &["wall"], |wall| !wall.contains("Sunset"));
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn a_revoked_app_and_a_revoked_device_are_refused() {
    let root = folder("grants");
    let node = Served::start(&root.join("node"), "Ada", "127.0.0.1:0");
    let laptop = root.join("laptop");

    // A wrong code pairs nothing.
    let refused = home_refused(&laptop, &["--node", &node.address, "pair", "000-000-000"]);
    assert!(refused.contains("BadCode"), "{refused}");
    pair(&laptop, &node);

    // The app's key, granted wall append only.
    let app_dir = root.join("now-playing");
    let app = || {
        let mut command = node_tool();
        command
            .args(["now-playing", "--app-dir"])
            .arg(&app_dir)
            .args(["--node", &node.address]);
        command
    };
    let key = String::from_utf8(app().arg("--key").output().unwrap().stdout).unwrap();
    let key = key.trim().strip_prefix("app: ").unwrap().to_owned();
    let before = app().arg("Blue in Green").output().unwrap();
    assert!(!before.status.success(), "an app with no grant posted");
    home_ok(
        &laptop,
        &["grant", &key, "--name", "Now playing", "--allow", "wall:append"],
    );
    let posted = app().arg("So What").output().unwrap();
    assert!(
        posted.status.success(),
        "{}",
        String::from_utf8_lossy(&posted.stderr)
    );
    let wall = home_ok(&laptop, &["wall"]);
    assert!(wall.contains("now playing: So What"), "{wall}");
    // It may not read the wall: it was not granted that.
    let read = app().arg("--read-wall").output().unwrap();
    assert!(!read.status.success());
    assert!(String::from_utf8_lossy(&read.stderr).contains("NotAllowed"));
    let log = home_ok(&laptop, &["access-log"]);
    assert!(
        log.contains(&format!("{key} Post (Wall Append) allowed")),
        "{log}"
    );
    assert!(log.contains(&format!("{key} Wall (Wall Read) refused")), "{log}");
    home_ok(&laptop, &["revoke", &key]);
    let after = app().arg("Freddie Freeloader").output().unwrap();
    assert!(!after.status.success(), "a revoked app posted");
    assert!(!home_ok(&laptop, &["wall"]).contains("Freddie"));

    // A second device paired with a code from the first, then revoked.
    let code = home_ok(&laptop, &["pair-code"]);
    let code = code.trim().strip_prefix("pair: ").unwrap().to_owned();
    let phone = root.join("phone");
    let paired = home_ok(
        &phone,
        &["--node", &node.address, "pair", &code, "--device-name", "phone"],
    );
    assert!(paired.contains("paired with"));
    home_ok(&phone, &["wall"]);
    let phone_key = home_ok(&laptop, &["devices"])
        .lines()
        .find(|line| line.contains("\"phone\"") && !line.contains("(this device)"))
        .and_then(|line| line.split(' ').nth(1))
        .unwrap()
        .to_owned();
    home_ok(&laptop, &["revoke-device", &phone_key]);
    let refused = home_refused(&phone, &["wall"]);
    assert!(refused.contains("NotAllowed"), "{refused}");
    let status = home_ok(&laptop, &["status"]);
    assert!(status.contains("refused: NotAllowed"), "{status}");
    let _ = std::fs::remove_dir_all(&root);
}

/// The export's JSON without the node it came from, its files in hash order.
fn comparable(archive: &Path) -> serde_json::Value {
    let bytes = std::fs::read(archive).unwrap();
    // home.json is the first entry: a 512-byte header, then the JSON.
    let size = usize::from_str_radix(std::str::from_utf8(&bytes[124..135]).unwrap(), 8).unwrap();
    let mut json: serde_json::Value = serde_json::from_slice(&bytes[512..512 + size]).unwrap();
    json.as_object_mut().unwrap().remove("node");
    json["files"]
        .as_array_mut()
        .unwrap()
        .sort_by_key(|file| file["hash"].to_string());
    json
}

#[test]
fn an_export_imported_into_a_new_node_holds_the_same_data() {
    let root = folder("export");
    let old = Served::start(&root.join("old-node"), "Ada", "127.0.0.1:0");
    let laptop = root.join("laptop");
    pair(&laptop, &old);
    home_ok(&laptop, &["profile", "--bio", "Builds towers.\nPlays chess."]);
    let picture = root.join("tower.png");
    std::fs::write(&picture, picture_bytes()).unwrap();
    home_ok(
        &laptop,
        &["post", "First tower", "--picture", picture.to_str().unwrap()],
    );
    home_ok(&laptop, &["post", "Second tower"]);
    let notes = root.join("notes.txt");
    std::fs::write(&notes, "plans").unwrap();
    home_ok(&laptop, &["add-file", notes.to_str().unwrap()]);
    let exported = root.join("ada.tar");
    let out = home_ok(&laptop, &["export", exported.to_str().unwrap()]);
    assert!(out.contains("exported: 2 items"), "{out}");

    let new = Served::start(&root.join("new-node"), "Someone", "127.0.0.1:0");
    let new_laptop = root.join("new-laptop");
    pair(&new_laptop, &new);
    home_ok(&new_laptop, &["import", exported.to_str().unwrap()]);
    let again = root.join("again.tar");
    home_ok(&new_laptop, &["export", again.to_str().unwrap()]);
    let (before, after) = (comparable(&exported), comparable(&again));
    assert_eq!(before["items"].as_array().unwrap().len(), 2);
    assert_eq!(before["files"].as_array().unwrap().len(), 2);
    assert_eq!(before["profile"], after["profile"]);
    assert_eq!(before, after);

    // A damaged archive is refused with a reason, and changes nothing.
    let mut damaged = std::fs::read(&exported).unwrap();
    damaged[3] ^= 0x20;
    let bad = root.join("damaged.tar");
    std::fs::write(&bad, &damaged).unwrap();
    let refused = home_refused(&new_laptop, &["import", bad.to_str().unwrap()]);
    assert!(refused.contains("is not an export"), "{refused}");
    let _ = std::fs::remove_dir_all(&root);
}

/// A free UDP port on loopback.
fn free_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn a_node_killed_mid_write_keeps_every_acknowledged_post() {
    let root = folder("kill");
    let bind = format!("127.0.0.1:{}", free_port());
    let node = Served::start(&root.join("node"), "Ada", &bind);
    let laptop = root.join("laptop");
    pair(&laptop, &node);

    // Post from a thread until the node is killed; keep what it acknowledged.
    let writer = {
        let laptop = laptop.clone();
        std::thread::spawn(move || {
            let mut acknowledged = Vec::new();
            for n in 0..200 {
                let out = home(&laptop, &["post", &format!("entry {n}")]);
                if !out.status.success() {
                    break;
                }
                acknowledged.push(format!("entry {n}"));
            }
            acknowledged
        })
    };
    std::thread::sleep(Duration::from_secs(8));
    let mut node = node;
    // SIGKILL: no chance to flush anything.
    node.child.kill().unwrap();
    node.child.wait().unwrap();
    let acknowledged = writer.join().unwrap();
    assert!(
        acknowledged.len() >= 3,
        "too few posts before the kill: {}",
        acknowledged.len()
    );

    let _restarted = Served::start(&root.join("node"), "Ada", &bind);
    let wall = home_ok(&laptop, &["wall", "--limit", "500"]);
    for entry in &acknowledged {
        assert!(
            wall.contains(&format!(": {entry}\n")),
            "{entry} was acknowledged and lost"
        );
    }
    let _ = std::fs::remove_dir_all(&root);
}

fn assets() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../assets")
        .display()
        .to_string()
}

/// Runs `sanctuary-node ARGS` to the end and returns what it printed.
fn run_tool(args: &[&str]) -> String {
    let output = node_tool().args(args).output().unwrap();
    assert!(
        output.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// The hash in a `build-hash: lobby <hash> <shown> <records>…` line, if it shows pieces.
fn lobby_hash(line: &str) -> Option<(String, u64)> {
    let mut words = line.strip_prefix("build-hash: lobby ")?.split_whitespace();
    let hash = words.next()?.to_owned();
    let shown: u64 = words.next()?.parse().ok()?;
    Some((hash, shown))
}

/// What a watcher that joins for a few seconds sees of the lobby: the hashes it held, and
/// the earlier chat it was told.
fn watch_lobby(ticket: &str) -> (Vec<(String, u64)>, Vec<serde_json::Value>) {
    let assets = assets();
    let out = run_tool(&[
        "watch",
        "--join",
        ticket,
        "--json",
        "--space",
        "lobby",
        "--hash-every",
        "1",
        "--seconds",
        "12",
        "--bind",
        "127.0.0.1:0",
        "--assets",
        &assets,
    ]);
    let hashes = out.lines().filter_map(lobby_hash).collect();
    let earlier = out
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|event| event["event"] == "earlier-chat")
        .collect();
    (hashes, earlier)
}

#[test]
fn a_world_kept_by_the_node_holds_what_was_built_and_said_after_everyone_left() {
    let dir = folder("world");
    let assets = assets();
    let served = Served::start_with(&dir, "Ana", "127.0.0.1:0", &["--host-world", "--assets", &assets]);
    let ticket = served
        .wait_for("world: ")
        .trim_start_matches("world: ")
        .to_owned();
    let world = |ticket: &str| ticket.parse::<sanctuary_protocols::WorldTicket>().unwrap().world;

    // A bot builds in the lobby for two seconds, says something (its first line comes
    // within eight seconds), and goes.
    let bot = run_tool(&[
        "bots",
        "--join",
        &ticket,
        "--count",
        "1",
        "--space",
        "lobby",
        "--build",
        "--build-seconds",
        "2",
        "--seconds",
        "10",
        "--bind",
        "127.0.0.1:0",
        "--assets",
        &assets,
    ]);
    let (built, shown) = bot
        .lines()
        .filter(|line| line.ends_with(" bot-0"))
        .find_map(lobby_hash)
        .unwrap_or_else(|| panic!("the bot said what it holds: {bot}"));
    assert!(shown > 0, "the bot built nothing: {bot}");

    // Someone who comes later gets the lobby as the bot left it, and what it said, from
    // the node alone.
    let (held, earlier) = watch_lobby(&ticket);
    assert!(
        held.iter().any(|(hash, _)| *hash == built),
        "the watcher never held the bot's document {built}: {held:?}"
    );
    assert!(
        earlier
            .iter()
            .any(|line| line["name"] == "bot-0" && line["space"] == "lobby"),
        "no earlier chat of the bot's: {earlier:?}"
    );

    // The node starts again: the same world, and what was built and said is still there.
    drop(served);
    let again = Served::start_with(&dir, "Ana", "127.0.0.1:0", &["--host-world", "--assets", &assets]);
    let ticket_again = again.wait_for("world: ").trim_start_matches("world: ").to_owned();
    assert_eq!(world(&ticket_again), world(&ticket));
    assert_eq!(
        std::fs::read_to_string(dir.join("world/ticket")).unwrap().trim(),
        ticket_again
    );
    let (held, earlier) = watch_lobby(&ticket_again);
    assert!(
        held.iter().any(|(hash, _)| *hash == built),
        "after a restart the watcher never held {built}: {held:?}"
    );
    assert!(
        earlier
            .iter()
            .any(|line| line["name"] == "bot-0" && line["space"] == "lobby"),
        "after a restart, no earlier chat of the bot's: {earlier:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
