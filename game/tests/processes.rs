//! Real processes talking over loopback: a host, a joiner, a bot process and a watcher,
//! each started from the test and ended by it (or by their own `--frames`/`--seconds`).

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const CLIENT: &str = env!("CARGO_BIN_EXE_sanctuary");

fn node_tool() -> PathBuf {
    let tool = Path::new(CLIENT).with_file_name("sanctuary-node");
    assert!(
        tool.exists(),
        "build sanctuary-node first (cargo nextest run --workspace does)"
    );
    tool
}

/// A child process killed when dropped, with its stdout lines arriving on a channel.
struct Running {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Running {
    fn start(command: &mut Command) -> Self {
        let mut child = command
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("the process starts");
        let stdout = child.stdout.take().expect("stdout");
        let (send, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if send.send(line).is_err() {
                    break;
                }
            }
        });
        Self { child, lines }
    }

    /// The next line for which `pick` returns something, within `limit`.
    fn wait_for<T>(&self, limit: Duration, mut pick: impl FnMut(&str) -> Option<T>) -> Option<T> {
        let deadline = Instant::now() + limit;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    if let Some(found) = pick(&line) {
                        return Some(found);
                    }
                }
                Err(_) => return None,
            }
        }
        None
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("processes-{name}"));
    std::fs::remove_dir_all(&dir).ok();
    dir
}

fn client(data: &str, frames: u32) -> Command {
    let mut command = Command::new(CLIENT);
    command
        .args([
            "--headless",
            "--bind",
            "127.0.0.1:0",
            "--frames",
            &frames.to_string(),
            "--data-dir",
        ])
        .arg(scratch(data));
    command
}

/// A field of a watcher's JSON line, crudely but without a JSON parser.
fn field<'a>(line: &'a str, name: &str) -> Option<&'a str> {
    let start = line.find(&format!("\"{name}\":\""))? + name.len() + 4;
    let end = start + line[start..].find('"')?;
    Some(&line[start..end])
}

#[test]
fn host_joiner_bots_and_watcher_meet_over_loopback() {
    let host = Running::start(client("host", 60 * 80).arg("--host"));
    let ticket = host
        .wait_for(Duration::from_secs(40), |line| {
            line.strip_prefix("ticket: ").map(str::to_owned)
        })
        .expect("the host prints its ticket");
    assert!(ticket.starts_with("sanctuary1"), "{ticket}");

    let watcher = Running::start(
        Command::new(node_tool())
            .args([
                "watch",
                "--json",
                "--space",
                "lobby",
                "--bind",
                "127.0.0.1:0",
                "--seconds",
                "60",
                "--join",
            ])
            .arg(&ticket),
    );
    let joiner = Running::start(client("joiner", 60 * 15).args(["--join", &ticket]));
    let joiner_ticket = joiner
        .wait_for(Duration::from_secs(40), |line| {
            line.strip_prefix("ticket: ").map(str::to_owned)
        })
        .expect("the joiner is in the world");
    assert!(joiner_ticket.starts_with("sanctuary1"));
    let _bots = Running::start(
        Command::new(node_tool())
            .args([
                "bots",
                "--count",
                "2",
                "--bind",
                "127.0.0.1:0",
                "--seconds",
                "50",
                "--join",
            ])
            .arg(&ticket),
    );

    // Who the watcher sees: names by peer, chat, poses, and goodbyes.
    let mut names: HashMap<String, String> = HashMap::new();
    let mut chatted = false;
    let mut posed: Vec<String> = Vec::new();
    let mut left: Vec<(String, String)> = Vec::new();
    let done = watcher.wait_for(Duration::from_secs(55), |line| {
        let peer = field(line, "peer").unwrap_or_default().to_owned();
        match field(line, "event") {
            Some("joined") => {
                names.insert(peer, field(line, "name").unwrap_or_default().to_owned());
            }
            Some("chat") => chatted = true,
            Some("pose") => posed.push(peer),
            Some("left") => left.push((peer, field(line, "reason").unwrap_or_default().to_owned())),
            _ => {}
        }
        let everyone = names.len() >= 4;
        let joiner_left = left
            .iter()
            .any(|(peer, _)| names.get(peer).is_some_and(|n| n.starts_with("guest")));
        (everyone && chatted && !posed.is_empty() && joiner_left).then_some(())
    });
    assert!(
        done.is_some(),
        "watcher saw names {names:?}, chat {chatted}, poses from {posed:?}, left {left:?}"
    );
    let bots = names.values().filter(|name| name.starts_with("bot-")).count();
    assert_eq!(bots, 2, "both bots joined: {names:?}");
    let (_, reason) = left
        .iter()
        .find(|(peer, _)| names.get(peer).is_some_and(|n| n.starts_with("guest")))
        .expect("someone left");
    assert_eq!(reason, "leave", "the joiner quit cleanly and said goodbye");
    assert!(
        posed.iter().all(|peer| names.contains_key(peer)),
        "poses only from people present"
    );
}

#[test]
fn a_wrong_ticket_is_a_clear_error() {
    let output = client("wrong", 1)
        .args(["--join", "sanctuary1notaticket"])
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("not a Sanctuary ticket"), "{stderr}");
}

#[test]
fn a_new_world_replaces_the_hosted_one() {
    let data = scratch("new-world");
    std::fs::create_dir_all(&data).expect("a data folder");
    let before = "ab".repeat(32);
    std::fs::write(data.join("hosted-world"), format!("{before}\n")).expect("written");
    let output = Command::new(CLIENT)
        .args([
            "--headless",
            "--bind",
            "127.0.0.1:0",
            "--frames",
            "1",
            "--host",
            "--new-world",
            "--data-dir",
        ])
        .arg(&data)
        .output()
        .expect("runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let new = stdout
        .lines()
        .find_map(|line| line.strip_prefix("world: a new world "))
        .unwrap_or_else(|| panic!("the new world is named: {stdout}"));
    assert_ne!(new, before);
    assert!(
        stdout.contains(&format!("the world hosted before ({before}) is no longer hosted")),
        "{stdout}"
    );
    let kept = std::fs::read_to_string(data.join("hosted-world")).expect("the hosted world");
    assert_eq!(kept.trim(), new, "hosting goes on with the new world");
}
