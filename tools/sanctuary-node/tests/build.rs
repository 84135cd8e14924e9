//! Building between real processes on loopback: building bots in two processes and a
//! watcher converge on the same document (checked from outside: the bots' last
//! `build-hash` lines, `build-doc` on their data folders and the watcher's `build-hash`
//! agree); a bot killed with SIGKILL in a burst of edits loses none it reported, and goes
//! on with them when restarted; bad input is a one-line error.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

fn folder(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sanctuary-build-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn node_tool() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_sanctuary-node"));
    command.env("RUST_LOG", "error").env("RUST_BACKTRACE", "0");
    command
}

/// Every peer listens on loopback only.
const LOOPBACK: [&str; 2] = ["--bind", "127.0.0.1:0"];

/// A process whose stdout lines arrive on a channel, killed when dropped.
struct Running {
    name: &'static str,
    child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Running {
    fn start(name: &'static str, command: &mut Command) -> Self {
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Self {
            name,
            stdin: child.stdin.take(),
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Reads lines until `found` says what it was waiting for.
    fn wait_for<T>(&mut self, within: Duration, mut found: impl FnMut(&str) -> Option<T>) -> T {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = self.lines.recv_timeout(left).unwrap_or_else(|_| {
                panic!(
                    "{} did not print what was awaited within {within:?}; its last lines: {:?}",
                    self.name,
                    &self.seen[self.seen.len().saturating_sub(20)..]
                )
            });
            self.seen.push(line.clone());
            if let Some(value) = found(&line) {
                return value;
            }
        }
    }

    /// Reads every line until the process ends (within `within`), and how it ended.
    fn finish(&mut self, within: Duration) -> ExitStatus {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => self.seen.push(line),
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    panic!("{} did not end within {within:?}", self.name)
                }
            }
        }
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "{} did not exit", self.name);
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Takes in the lines printed so far.
    fn drain(&mut self) {
        while let Ok(line) = self.lines.try_recv() {
            self.seen.push(line);
        }
    }

    fn say(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin is open");
        writeln!(stdin, "{line}").unwrap();
        stdin.flush().unwrap();
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What a bot says it holds as it stops, or the watcher when asked: hash, pieces shown,
/// records.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Held {
    hash: String,
    shown: usize,
    records: usize,
}

/// A `build-hash: lobby <hash> <shown> <records>[ bot-<n>]` line.
fn held(line: &str) -> Option<Held> {
    let mut words = line.strip_prefix("build-hash: lobby ")?.split_whitespace();
    let hash = words.next()?.to_owned();
    assert_eq!(hash.len(), 64, "{line}");
    Some(Held {
        hash,
        shown: words.next()?.parse().ok()?,
        records: words.next()?.parse().ok()?,
    })
}

/// The pieces standing after the `built:`, `moved:` and `removed:` lines of `lines`, in
/// order, by bot: each id and where it stands.
fn standing(lines: &[String]) -> BTreeMap<u32, BTreeMap<String, String>> {
    let mut bots: BTreeMap<u32, BTreeMap<String, String>> = BTreeMap::new();
    for line in lines {
        assert!(
            !line.starts_with("refused:"),
            "a bot built against the rules: {line}"
        );
        let words: Vec<&str> = line.split_whitespace().collect();
        let [what, bot, id, position] = words[..] else {
            continue;
        };
        let Ok(bot) = bot.parse() else { continue };
        let pieces = bots.entry(bot).or_default();
        match what {
            "built:" | "moved:" => {
                pieces.insert(id.to_owned(), position.to_owned());
            }
            "removed:" => {
                pieces.remove(id);
            }
            _ => {}
        }
    }
    bots
}

/// What `build-doc --pieces` says of a data folder: each folder's document, and its
/// pieces (id and where it stands).
struct Documents {
    held: BTreeMap<String, Held>,
    worlds: BTreeSet<String>,
    pieces: BTreeMap<String, BTreeMap<String, String>>,
}

fn build_doc(data: &Path) -> Documents {
    let output = node_tool()
        .arg("build-doc")
        .arg("--data-dir")
        .arg(data)
        .arg("--pieces")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "build-doc failed: {}{stdout}",
        String::from_utf8_lossy(&output.stderr)
    );
    let mut documents = Documents {
        held: BTreeMap::new(),
        worlds: BTreeSet::new(),
        pieces: BTreeMap::new(),
    };
    for line in stdout.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words[..] {
            ["build-doc:", folder, world, "lobby", hash, shown, records] => {
                documents.worlds.insert(world.to_owned());
                documents.held.insert(
                    folder.to_owned(),
                    Held {
                        hash: hash.to_owned(),
                        shown: shown.parse().unwrap(),
                        records: records.parse().unwrap(),
                    },
                );
            }
            ["piece:", folder, _world, "lobby", id, position, _kind] => {
                documents
                    .pieces
                    .entry(folder.to_owned())
                    .or_default()
                    .insert(id.to_owned(), position.to_owned());
            }
            _ => panic!("build-doc printed {line:?}"),
        }
    }
    documents
}

/// Every piece a bot reported is in its own folder's document, where it said.
fn assert_kept(bots: &BTreeMap<u32, BTreeMap<String, String>>, documents: &Documents) {
    for (bot, pieces) in bots {
        let folder = format!("bot-{bot}");
        let kept = documents
            .pieces
            .get(&folder)
            .unwrap_or_else(|| panic!("no document in {folder}"));
        for (id, position) in pieces {
            assert_eq!(
                kept.get(id),
                Some(position),
                "bot {bot} reported piece {id} at {position}; its folder holds {:?}",
                kept.get(id)
            );
        }
    }
}

fn ticket(line: &str) -> Option<String> {
    line.strip_prefix("ticket: ").map(str::to_owned)
}

#[test]
fn bots_in_two_processes_and_a_watcher_converge_on_one_document() {
    let (a_dir, b_dir) = (folder("converge-a"), folder("converge-b"));
    // A hosts; both build for a few seconds, then wander on while the documents settle.
    let mut a = Running::start(
        "bots A",
        node_tool()
            .args(["bots", "--host", "--build", "--count", "2"])
            .args(["--seconds", "24", "--build-seconds", "8"])
            .args(LOOPBACK)
            .arg("--data-dir")
            .arg(&a_dir),
    );
    let ticket = a.wait_for(Duration::from_secs(30), ticket);
    let mut watcher = Running::start(
        "watch",
        node_tool()
            .args(["watch", "--json", "--space", "lobby", "--seconds", "90"])
            .args(["--hash-every", "2"])
            .args(LOOPBACK)
            .args(["--join", &ticket]),
    );
    let mut b = Running::start(
        "bots B",
        node_tool()
            .args(["bots", "--build", "--count", "2"])
            .args(["--seconds", "22", "--build-seconds", "6"])
            .args(LOOPBACK)
            .arg("--data-dir")
            .arg(&b_dir)
            .args(["--join", &ticket]),
    );
    // The watcher hears the building as it happens.
    watcher.wait_for(Duration::from_secs(30), |line| {
        (line.starts_with("build: lobby ") && line.ends_with(" pieces changed")).then_some(())
    });
    assert!(a.finish(Duration::from_secs(60)).success(), "bots A failed");
    assert!(b.finish(Duration::from_secs(60)).success(), "bots B failed");

    // What every bot reported, and what each said it held as it stopped.
    let mut all_lines = a.seen.clone();
    let mut pieces = BTreeMap::new();
    for (process, bots) in [(&a, standing(&a.seen)), (&b, standing(&b.seen))] {
        assert_eq!(bots.len(), 2, "{}: both bots built", process.name);
        for (bot, built) in bots {
            assert!(!built.is_empty(), "{} bot {bot} built nothing", process.name);
            pieces.extend(built);
        }
    }
    all_lines.extend(b.seen.iter().cloned());
    let last: Vec<Held> = all_lines
        .iter()
        .filter(|line| line.starts_with("build-hash:") && line.contains(" bot-"))
        .filter_map(|line| held(line))
        .collect();
    assert_eq!(last.len(), 4, "each bot says what it holds as it stops");
    let first = last[0].clone();
    assert!(
        last.iter().all(|held| *held == first),
        "the bots differ: {last:?}"
    );
    assert_eq!(first.shown, pieces.len(), "every piece reported is shown");

    // Their data folders hold the same, with every piece where it was said to be.
    for dir in [&a_dir, &b_dir] {
        let documents = build_doc(dir);
        assert_eq!(documents.worlds.len(), 1, "one world");
        assert_eq!(documents.held.len(), 2, "one document per bot");
        for (folder, held) in &documents.held {
            assert_eq!(*held, first, "{}/{folder}", dir.display());
        }
        for kept in documents.pieces.values() {
            assert_eq!(*kept, pieces);
        }
    }

    // And so does the watcher, asked now that the bots are gone.
    watcher.drain();
    let seen = watcher.seen.len();
    watcher.say("hash");
    let watched = watcher.wait_for(Duration::from_secs(10), held);
    assert_eq!(
        watched,
        first,
        "the watcher's last lines: {:?}",
        &watcher.seen[seen..]
    );
    for dir in [a_dir, b_dir] {
        std::fs::remove_dir_all(dir).unwrap();
    }
}

#[test]
fn a_bot_killed_in_a_burst_of_edits_loses_none_it_reported_and_goes_on_after_a_restart() {
    let data = folder("kill");
    let bots = |seconds: &str| {
        let mut command = node_tool();
        command
            .args(["bots", "--host", "--build", "--count", "2", "--build-rate", "50"])
            .args(["--seconds", seconds])
            .args(LOOPBACK)
            .arg("--data-dir")
            .arg(&data);
        command
    };
    let mut burst = Running::start("bots", &mut bots("120"));
    let mut built = 0;
    burst.wait_for(Duration::from_secs(60), |line| {
        built += usize::from(line.starts_with("built: "));
        (built >= 40).then_some(())
    });
    // SIGKILL, in the middle of the burst: no goodbye, no flush, nothing.
    burst.child.kill().unwrap();
    let status = burst.finish(Duration::from_secs(20));
    assert!(!status.success());
    let first_run = standing(&burst.seen);
    let reported: usize = first_run.values().map(BTreeMap::len).sum();
    assert!(reported >= 40, "{reported} pieces reported");

    let documents = build_doc(&data);
    assert_eq!(documents.worlds.len(), 1);
    assert_kept(&first_run, &documents);

    // Restarted on the same folder: the same world, the same bots, the old pieces still
    // there, and new ones on top.
    let mut again = Running::start("bots again", &mut bots("3"));
    assert!(again.finish(Duration::from_secs(60)).success());
    let both_runs: Vec<String> = burst.seen.iter().chain(&again.seen).cloned().collect();
    let now = standing(&both_runs);
    let second_run = standing(&again.seen);
    assert!(
        second_run.values().map(BTreeMap::len).sum::<usize>() > 0,
        "the restarted bots built: {:?}",
        again.seen
    );
    let creators = |bots: &BTreeMap<u32, BTreeMap<String, String>>| -> BTreeSet<String> {
        bots.values()
            .flat_map(|pieces| pieces.keys())
            .map(|id| id.split(':').next().unwrap().to_owned())
            .collect()
    };
    assert_eq!(creators(&second_run), creators(&first_run), "the same bots");
    let documents = build_doc(&data);
    assert_eq!(documents.worlds.len(), 1, "the same world");
    assert_kept(&now, &documents);
    let touched_again: BTreeSet<&str> = again
        .seen
        .iter()
        .filter_map(|line| line.split_whitespace().nth(2))
        .collect();
    let mut old_still_there = 0;
    for (bot, pieces) in &first_run {
        let kept = &documents.pieces[&format!("bot-{bot}")];
        for (id, position) in pieces {
            if !touched_again.contains(id.as_str()) {
                assert_eq!(
                    kept.get(id),
                    Some(position),
                    "bot {bot}'s piece {id} of the first run"
                );
                old_still_there += 1;
            }
        }
    }
    assert!(
        old_still_there > 0,
        "the restarted bots moved or removed every old piece"
    );
    std::fs::remove_dir_all(data).unwrap();
}

/// Runs the tool and expects it to fail with one line on stderr that contains `says`.
fn refused(args: &[&str], says: &str) {
    let output: Output = node_tool().args(args).output().unwrap();
    assert!(!output.status.success(), "{args:?} was accepted");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "{args:?}: {stderr}");
    assert!(stderr.contains(says), "{args:?}: {stderr}");
}

#[test]
fn bad_input_is_a_one_line_error() {
    let empty = folder("bad-input");
    let empty_text = empty.to_str().unwrap();
    let host = ["bots", "--host", "--seconds", "1", "--bind", "127.0.0.1:0"];
    refused(
        &[&host[..], &["--build", "--build-rate", "0"]].concat(),
        "--build-rate",
    );
    refused(
        &[&host[..], &["--build", "--build-rate", "-3"]].concat(),
        "--build-rate",
    );
    refused(
        &[&host[..], &["--build", "--assets", "/nonexistent/assets"]].concat(),
        "no assets folder",
    );
    refused(
        &[&host[..], &["--build", "--space", "market"]].concat(),
        "nobody may build",
    );
    refused(
        &[
            "watch",
            "--seconds",
            "1",
            "--assets",
            "/nonexistent/assets",
            "--lan",
        ],
        "no assets folder",
    );
    refused(
        &[
            "build-doc",
            "--data-dir",
            empty_text,
            "--assets",
            "/nonexistent/assets",
        ],
        "no assets folder",
    );
    refused(&["build-doc", "--data-dir", empty_text], "no building documents");
    std::fs::remove_dir_all(empty).unwrap();
}
