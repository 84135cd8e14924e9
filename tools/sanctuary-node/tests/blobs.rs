//! `sanctuary-node blobs` as separate processes: a file added and served by one is
//! fetched by ticket by another, byte for byte; a fetch stopped part way (Ctrl-C)
//! resumes from where it was; bad tickets, unreadable files and a full disk are one-line
//! errors.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

fn node_tool() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_sanctuary-node"));
    // No backtraces: an error is the one line a person would see.
    command
        .env("RUST_LOG", "error")
        .env("RUST_BACKTRACE", "0")
        .env("RUST_LIB_BACKTRACE", "0");
    command
}

fn folder(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sanctuary-blobs-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn blobs(data: &Path) -> Command {
    let mut command = node_tool();
    command
        .args(["blobs", "--data-dir"])
        .arg(data)
        .args(["--bind", "127.0.0.1:0"]);
    command
}

/// Kills the child when dropped.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Progress reports (`done of total`) from a `get`'s stderr, as they come.
fn progress_of(child: &mut Child) -> mpsc::Receiver<(u64, u64)> {
    let mut stderr = child.stderr.take().unwrap();
    let (send, receive) = mpsc::channel();
    std::thread::spawn(move || {
        let mut text = String::new();
        let mut buffer = [0u8; 4096];
        while let Ok(n) = stderr.read(&mut buffer) {
            if n == 0 {
                break;
            }
            text.push_str(&String::from_utf8_lossy(&buffer[..n]));
            while let Some(end) = text[1..].find(['\r', '\n']).map(|i| i + 1) {
                let report: String = text.drain(..end).collect();
                let words: Vec<&str> = report.trim().split(' ').collect();
                if let [done, "of", total, ..] = words[..]
                    && let (Ok(done), Ok(total)) = (done.parse(), total.parse())
                {
                    let _ = send.send((done, total));
                }
            }
        }
    });
    receive
}

#[test]
fn a_file_served_by_one_process_is_fetched_by_another_and_a_stopped_fetch_resumes() {
    let (seeder, fetcher) = (folder("seeder"), folder("fetcher"));
    let file = seeder.join("film.bin");
    let bytes: Vec<u8> = (0..(160u32 << 20))
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(&file, &bytes).unwrap();
    let added = blobs(&seeder)
        .arg("add")
        .arg(&file)
        .arg("--serve")
        .output()
        .unwrap();
    assert!(
        added.status.success(),
        "{}",
        String::from_utf8_lossy(&added.stderr)
    );
    let hash = String::from_utf8_lossy(&added.stdout)
        .split(' ')
        .next()
        .unwrap()
        .to_owned();

    let mut serve = blobs(&seeder)
        .arg("serve")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    let mut stdout = std::io::BufReader::new(serve.stdout.take().unwrap());
    std::io::BufRead::read_line(&mut stdout, &mut line).unwrap();
    let _serve = Killed(serve);
    let ticket = line.split(' ').next().unwrap().trim().to_owned();
    assert!(ticket.starts_with("blob"), "{line}");

    // The first fetch is stopped part way, as Ctrl-C would.
    let mut get = blobs(&fetcher)
        .args(["get", &ticket])
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let reports = progress_of(&mut get);
    let deadline = Instant::now() + Duration::from_secs(60);
    let total = bytes.len() as u64;
    loop {
        let (done, _) = reports
            .recv_timeout(deadline - Instant::now())
            .expect("progress before the deadline");
        if done > total / 10 {
            break;
        }
    }
    let interrupted = Command::new("kill")
        .args(["-INT", &get.id().to_string()])
        .status()
        .unwrap();
    assert!(interrupted.success());
    let stopped = get.wait().unwrap();
    assert!(!stopped.success(), "a stopped fetch is not a finished one");
    let listed = blobs(&fetcher).arg("list").output().unwrap();
    let listed = String::from_utf8_lossy(&listed.stdout);
    assert!(listed.contains(&format!("{hash} {total} partial")), "{listed}");

    // The second goes on from where the first stopped and writes the whole file.
    let out = fetcher.join("film-copy.bin");
    let mut again = blobs(&fetcher)
        .args(["get", &ticket, "--out"])
        .arg(&out)
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let reports = progress_of(&mut again);
    let status = again.wait().unwrap();
    assert!(status.success());
    let first = reports.iter().next().expect("a progress report");
    assert!(
        first.0 > 0 && first.0 < total,
        "the resumed fetch started at {} of {total}",
        first.0
    );
    assert!(
        std::fs::read(&out).unwrap() == bytes,
        "the copy differs from the original"
    );
    let listed = blobs(&fetcher).arg("list").output().unwrap();
    assert!(String::from_utf8_lossy(&listed.stdout).contains(&format!("{hash} {total} complete pinned")));
}

#[test]
fn bad_tickets_and_unreadable_files_are_one_line_errors() {
    let data = folder("bad");
    for (args, expected) in [
        (vec!["get", "sanctuary1notablob"], "that is not a blob ticket"),
        (vec!["add", "/no/such/file.png"], "cannot read /no/such/file.png"),
    ] {
        let output = blobs(&data).args(&args).output().unwrap();
        assert!(!output.status.success(), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{args:?}: {stderr}");
    }
    let listed = blobs(&data).arg("list").output().unwrap();
    assert!(listed.status.success());
    assert!(String::from_utf8_lossy(&listed.stdout).is_empty());
}

/// A small filesystem of its own, unmounted when dropped.
struct SmallDisk(PathBuf);

impl SmallDisk {
    /// Mounts a tmpfs of `size` (such as "4m") at a fresh folder, or says why it cannot.
    fn mount(size: &str) -> Result<Self, String> {
        let dir = folder("small-disk");
        let output = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&dir)
            .output()
            .map_err(|error| error.to_string())?;
        if !output.status.success() {
            return Err(String::from_utf8_lossy(&output.stderr).trim().to_owned());
        }
        Ok(Self(dir))
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).output();
    }
}

#[test]
fn a_full_disk_is_a_one_line_error_and_the_store_keeps_what_it_had() {
    // A real full disk needs a filesystem of its own: a tmpfs, which only root may mount.
    let disk = match SmallDisk::mount("4m") {
        Ok(disk) => disk,
        Err(why) => {
            eprintln!("skipped: cannot mount a small filesystem here ({why})");
            return;
        }
    };
    let data = disk.0.join("data");
    let outside = folder("full-disk-files");
    let small = outside.join("note.txt");
    std::fs::write(&small, b"kept through a full disk").unwrap();
    let large = outside.join("film.bin");
    std::fs::write(&large, vec![7u8; 8 << 20]).unwrap();

    let added = blobs(&data).arg("add").arg(&small).output().unwrap();
    assert!(
        added.status.success(),
        "{}",
        String::from_utf8_lossy(&added.stderr)
    );

    let refused = blobs(&data).arg("add").arg(&large).output().unwrap();
    assert!(!refused.status.success());
    let error = String::from_utf8_lossy(&refused.stderr);
    assert!(
        error.contains("the disk is full") && error.contains("film.bin"),
        "{error}"
    );
    assert_eq!(error.trim().lines().count(), 1, "one line: {error}");

    // Nothing was lost, and the room left still takes a file that fits.
    let list = blobs(&data).arg("list").output().unwrap();
    let listed = String::from_utf8_lossy(&list.stdout);
    assert!(
        listed.contains("note.txt") && listed.contains("complete"),
        "{listed}"
    );
    assert!(!listed.contains("film.bin"), "{listed}");
    let fits = outside.join("photo.bin");
    std::fs::write(&fits, vec![9u8; 512 << 10]).unwrap();
    let added = blobs(&data).arg("add").arg(&fits).output().unwrap();
    assert!(
        added.status.success(),
        "{}",
        String::from_utf8_lossy(&added.stderr)
    );
}
