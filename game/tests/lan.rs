//! `--lan` on a real local network: two machines made of two network namespaces joined by
//! a veth pair, a host with `--lan --host` on one, and on the other, with no ticket, a
//! watcher and a bot that join the first world announced nearby, a client that lists it,
//! and a client whose ticket names only the host's key (no addresses), which mDNS finds.
//!
//! Making namespaces needs root (and `ip`, from iproute2); without them the test says
//! `skipped: ...` and passes. The namespaces are deleted when the test ends.

use sanctuary_protocols::WorldTicket;
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

/// Runs `ip` with `args`; its error output on failure.
fn ip(args: &[&str]) -> Result<(), String> {
    let output = Command::new("ip")
        .args(args)
        .output()
        .map_err(|error| format!("cannot run `ip` (install iproute2): {error}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "`ip {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

/// Two machines on one local network: namespaces `a` and `b`, a veth pair between them
/// (10.77.0.1 and 10.77.0.2), both namespaces deleted on drop.
struct Lan {
    a: String,
    b: String,
}

impl Lan {
    fn create() -> Result<Self, String> {
        let id = std::process::id();
        let lan = Lan {
            a: format!("sanctuary-lan-{id}-a"),
            b: format!("sanctuary-lan-{id}-b"),
        };
        ip(&["netns", "add", &lan.a])?;
        // From here on, dropping `lan` deletes whatever was made.
        ip(&["netns", "add", &lan.b])?;
        let (veth_a, veth_b) = (format!("sl{id}a"), format!("sl{id}b"));
        ip(&[
            "link", "add", &veth_a, "netns", &lan.a, "type", "veth", "peer", "name", &veth_b, "netns", &lan.b,
        ])?;
        for (ns, veth, addr) in [
            (&lan.a, &veth_a, "10.77.0.1/24"),
            (&lan.b, &veth_b, "10.77.0.2/24"),
        ] {
            ip(&["-n", ns, "addr", "add", addr, "dev", veth])?;
            ip(&["-n", ns, "link", "set", "lo", "up"])?;
            ip(&["-n", ns, "link", "set", veth, "up"])?;
            // Machines on a LAN have a default route (their router); mDNS needs one to
            // choose the interface its multicast goes out on.
            ip(&["-n", ns, "route", "add", "default", "dev", veth])?;
        }
        Ok(lan)
    }

    /// `program` run inside namespace `ns`.
    fn command(ns: &str, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut command = Command::new("ip");
        command.args(["netns", "exec", ns]).arg(program);
        command
    }
}

impl Drop for Lan {
    fn drop(&mut self) {
        // Deleting a namespace deletes the veth end inside it, and so the pair.
        for ns in [&self.a, &self.b] {
            ip(&["netns", "delete", ns]).ok();
        }
    }
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
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("lan-{name}"));
    std::fs::remove_dir_all(&dir).ok();
    dir
}

/// The headless client in namespace `ns` with `--lan`, for about `seconds`.
fn client(ns: &str, data: &str, seconds: u32) -> Command {
    let mut command = Lan::command(ns, CLIENT);
    command
        .args([
            "--headless",
            "--lan",
            "--frames",
            &(seconds * 60).to_string(),
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

fn ticket_line(line: &str) -> Option<WorldTicket> {
    line.strip_prefix("ticket: ")?.parse().ok()
}

#[test]
fn a_world_hosted_with_lan_is_found_and_joined_from_another_machine_without_a_ticket() {
    // Namespaces first, so that they are deleted after every process in them has ended.
    let lan = match Lan::create() {
        Ok(lan) => lan,
        Err(reason) => {
            println!("skipped: cannot make a LAN of network namespaces (needs root and iproute2): {reason}");
            return;
        }
    };
    let (a, b) = (lan.a.as_str(), lan.b.as_str());
    let host = Running::start(client(a, "host", 100).arg("--host"));
    let ticket = host
        .wait_for(Duration::from_secs(40), ticket_line)
        .expect("the host prints its ticket");
    let host_id = ticket.host.to_string();

    // On the other machine, with no ticket: the watcher and a bot join the first world
    // announced nearby.
    let watcher = Running::start(Lan::command(b, node_tool()).args([
        "watch",
        "--lan",
        "--json",
        "--space",
        "lobby",
        "--seconds",
        "90",
    ]));
    let announced = watcher
        .wait_for(Duration::from_secs(30), |line| {
            (field(line, "event") == Some("nearby")).then(|| line.to_owned())
        })
        .expect("the watcher finds the host's world on the local network");
    assert_eq!(field(&announced, "peer"), Some(host_id.as_str()), "{announced}");
    assert_eq!(
        field(&announced, "world"),
        Some(ticket.world.to_string().as_str())
    );
    let _bot = Running::start(Lan::command(b, node_tool()).args([
        "bots",
        "--lan",
        "--count",
        "1",
        "--seconds",
        "80",
    ]));

    // A client with `--lan` and no ticket lists the world (the Directory's Nearby list;
    // headless, it prints it).
    let browser = Running::start(&mut client(b, "browser", 60));
    let listed = browser
        .wait_for(Duration::from_secs(30), |line| {
            line.strip_prefix("nearby: ").map(str::to_owned)
        })
        .expect("the browsing client lists the host's world");
    assert!(
        listed.starts_with(&format!("world {} hosted by ", ticket.world)) && listed.contains(&host_id),
        "{listed}"
    );

    // A ticket naming only the host's key: mDNS finds where it listens.
    let mut key_only = ticket.clone();
    key_only.addrs.clear();
    let joiner = Running::start(client(b, "joiner", 60).args(["--join", &key_only.to_string()]));
    let joiner_id = joiner
        .wait_for(Duration::from_secs(40), ticket_line)
        .expect("the joiner is in the world")
        .host
        .to_string();

    // The watcher, in the world, hears the host, the bot and the joiner.
    let mut names: HashMap<String, String> = HashMap::new();
    let everyone = watcher.wait_for(Duration::from_secs(50), |line| {
        if field(line, "event") == Some("joined") {
            let peer = field(line, "peer").unwrap_or_default();
            names.insert(
                peer.to_owned(),
                field(line, "name").unwrap_or_default().to_owned(),
            );
        }
        let bot = names.values().any(|name| name.starts_with("bot-"));
        (names.contains_key(&host_id) && names.contains_key(&joiner_id) && bot).then_some(())
    });
    assert!(
        everyone.is_some(),
        "the watcher heard {names:?}; host {host_id}, joiner {joiner_id}"
    );
    assert_eq!(
        field(&announced, "name"),
        names.get(&host_id).map(String::as_str),
        "the world is announced under its host's name"
    );
}
