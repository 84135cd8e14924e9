//! The client in a headset. Monado, the open-source OpenXR runtime, serves a headset and
//! two controllers with no display of its own (its null compositor); the test moves them
//! through Monado's remote driver (TCP 127.0.0.1:4242), and the real client runs in them
//! inside the runtime's chroot (scripts/xr-run.sh), with Mesa's software Vulkan.
//!
//! Where the chroot could not be made (not root, no mirror), the tests that need Monado
//! say why and return; the fallback without a runtime runs everywhere.

mod common;

use bevy::math::{Quat, Vec3};
use bevy::transform::components::Transform;
use common::VirtualDisplay;
use std::io::{BufRead, Read, Write};
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const CLIENT: &str = env!("CARGO_BIN_EXE_sanctuary");

/// The chroot holding Monado and a lock on it (one Monado at a time: its remote driver
/// listens on a fixed port), or why there is none (printed, and the test returns).
fn monado() -> Option<(PathBuf, std::fs::File)> {
    match std::env::var_os("SANCTUARY_XR_ROOT") {
        Some(root) => {
            let lock = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(std::env::temp_dir().join("sanctuary-monado.lock"))
                .expect("the Monado lock file");
            lock.lock().expect("the Monado lock");
            Some((PathBuf::from(root), lock))
        }
        None => {
            let why = std::env::var("SANCTUARY_XR_UNAVAILABLE").unwrap_or_else(|_| {
                "SANCTUARY_XR_ROOT is not set: ./test.sh makes Monado's chroot (scripts/xr-runtime.sh) and sets it".into()
            });
            eprintln!("skipped, no OpenXR runtime: {why}");
            None
        }
    }
}

/// The client, Monado and the script that started them; stopped when dropped.
struct InHeadset(Child);

impl Drop for InHeadset {
    fn drop(&mut self) {
        stop(&mut self.0);
    }
}

/// The real client in Monado's headset, on `display`, with `args`; its output lines
/// (stdout and stderr) arrive on the receiver.
fn client_in_headset(display: &VirtualDisplay, root: &Path, args: &[&str]) -> (InHeadset, Receiver<String>) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/xr-run.sh");
    let target = Path::new(CLIENT)
        .parent()
        .and_then(Path::parent)
        .expect("the build folder");
    let mut child = Command::new(script)
        // A group of its own, so that stopping it stops Monado and the client too.
        .process_group(0)
        .arg(CLIENT)
        .args(["--xr", "--require-xr", "--quality", "low", "--no-voice"])
        .args(args)
        .env("SANCTUARY_XR_ROOT", root)
        .env("CARGO_TARGET_DIR", target)
        .env("DISPLAY", &display.display)
        .env_remove("WAYLAND_DISPLAY")
        .env(
            "RUST_LOG",
            "warn,sanctuary::spaces=info,sanctuary::panels::laser=debug",
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("scripts/xr-run.sh runs");
    let (lines, received) = channel();
    let out = child.stdout.take().expect("piped");
    let err = child.stderr.take().expect("piped");
    for stream in [Box::new(out) as Box<dyn Read + Send>, Box::new(err)] {
        let lines = lines.clone();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stream).lines().map_while(Result::ok) {
                lines.send(line).ok();
            }
        });
    }
    (InHeadset(child), received)
}

/// Stops the client, Monado and the script that started them (their process group).
fn stop(client: &mut Child) {
    Command::new("kill")
        .args(["-s", "TERM", "--", &format!("-{}", client.id())])
        .status()
        .ok();
    client.wait().ok();
}

/// Waits for a line containing `what`, keeping every line read in `seen`.
fn wait_for_line(lines: &Receiver<String>, seen: &mut Vec<String>, what: &str, patience: Duration) -> String {
    let deadline = Instant::now() + patience;
    if let Some(line) = seen.iter().find(|line| line.contains(what)) {
        return line.clone();
    }
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match lines.recv_timeout(left) {
            Ok(line) => {
                seen.push(line.clone());
                if line.contains(what) {
                    return line;
                }
            }
            Err(_) => panic!(
                "no line with {what:?} in time; the client said:\n{}",
                seen.join("\n")
            ),
        }
    }
}

/// A pose as Monado's remote driver takes it.
#[derive(Debug, Clone, Copy)]
struct Pose {
    rotation: Quat,
    position: Vec3,
}

/// What the test makes the headset and controllers do.
#[derive(Debug, Clone, Copy)]
struct Puppet {
    head: Pose,
    hands: [Pose; 2],
    trigger: [bool; 2],
    buttons_b: [bool; 2],
}

impl Puppet {
    fn standing() -> Self {
        let at = |position| Pose {
            rotation: Quat::IDENTITY,
            position,
        };
        Self {
            head: at(Vec3::new(0.0, 1.6, 0.0)),
            hands: [at(Vec3::new(-0.25, 1.0, -0.1)), at(Vec3::new(0.3, 1.4, -0.35))],
            trigger: [false; 2],
            buttons_b: [false; 2],
        }
    }

    /// `struct r_remote_data` of Monado 25's remote driver ("mndrmt3"): 376 bytes,
    /// little endian: the header, two views the driver may use instead of its own
    /// (ours are not: their flag is left zero), the head, then each controller.
    fn packet(&self) -> [u8; 376] {
        let mut bytes = [0u8; 376];
        bytes[..8].copy_from_slice(b"mndrmt3\0");
        let mut put_pose = |at: usize, pose: &Pose| {
            let values = pose
                .rotation
                .to_array()
                .into_iter()
                .chain(pose.position.to_array());
            for (i, value) in values.enumerate() {
                bytes[at + 4 * i..at + 4 * i + 4].copy_from_slice(&value.to_le_bytes());
            }
        };
        put_pose(104, &self.head);
        for (hand, at) in [(0, 136), (1, 256)] {
            put_pose(at, &self.hands[hand]);
        }
        for (hand, at) in [(0usize, 136usize), (1, 256)] {
            let trigger: f32 = if self.trigger[hand] { 1.0 } else { 0.0 };
            bytes[at + 72..at + 76].copy_from_slice(&trigger.to_le_bytes());
            bytes[at + 105] = 1; // active
            bytes[at + 112] = u8::from(self.trigger[hand]); // trigger click
            bytes[at + 113] = u8::from(self.trigger[hand]); // trigger touch
            bytes[at + 110] = u8::from(self.buttons_b[hand]); // b click
        }
        bytes
    }
}

/// Keeps sending the puppet's pose to Monado's remote driver, twenty times a second.
fn drive(puppet: Arc<Mutex<Puppet>>) {
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut stream = loop {
        match TcpStream::connect("127.0.0.1:4242") {
            Ok(stream) => break stream,
            Err(error) => {
                assert!(
                    Instant::now() < deadline,
                    "Monado's remote driver never listened: {error}"
                );
                std::thread::sleep(Duration::from_millis(200));
            }
        }
    };
    // The driver first tells its reset state and its latest state.
    let mut greeting = [0u8; 2 * 376];
    stream.set_read_timeout(Some(Duration::from_secs(10))).ok();
    stream.read_exact(&mut greeting).expect("the driver's greeting");
    std::thread::spawn(move || {
        loop {
            let packet = puppet.lock().expect("the puppet").packet();
            if stream.write_all(&packet).is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    });
}

#[test]
fn in_monado_the_client_runs_focused_and_renders_frames_in_the_headset() {
    let Some((root, _one_at_a_time)) = monado() else {
        return;
    };
    let display = VirtualDisplay::start();
    let data = common::folder("xr-frames");
    let (mut client, lines) = client_in_headset(
        &display,
        &root,
        &["--frames", "150", "--data-dir", data.to_str().expect("a path")],
    );
    drive(Arc::new(Mutex::new(Puppet::standing())));
    let status = client.0.wait().expect("the client ends");
    // Every line, to the last: the readers stop when the pipes close.
    let mut said = Vec::new();
    while let Ok(line) = lines.recv_timeout(Duration::from_secs(10)) {
        said.push(line);
    }
    let text = said.join("\n");
    assert!(status.success(), "the client failed:\n{text}");
    assert!(text.contains("xr: Monado"), "the runtime is named:\n{text}");
    assert!(
        text.contains("xr: the session is focused"),
        "never focused:\n{text}"
    );
    let shown: u32 = said
        .iter()
        .find_map(|line| {
            line.strip_prefix("xr: ")?
                .split(" frames shown in the headset")
                .next()?
                .parse()
                .ok()
        })
        .unwrap_or_else(|| panic!("no frame count:\n{text}"));
    assert!(shown >= 120, "only {shown} frames reached the headset:\n{text}");
}

#[test]
fn without_a_runtime_xr_says_why_and_starts_on_the_desktop_or_stops_when_required() {
    let display = VirtualDisplay::start();
    let data = common::folder("xr-fallback");
    let run = |extra: &[&str]| {
        Command::new(CLIENT)
            .args(["--xr", "--no-voice", "--frames", "3", "--data-dir"])
            .arg(&data)
            .args(extra)
            .env("DISPLAY", &display.display)
            .env_remove("WAYLAND_DISPLAY")
            .env("RUST_LOG", "error")
            // No runtime: a manifest that does not exist (and on most machines no loader).
            .env("XR_RUNTIME_JSON", data.join("no-runtime.json"))
            .output()
            .expect("the client runs")
    };
    let desktop = run(&[]);
    let stdout = String::from_utf8_lossy(&desktop.stdout);
    assert!(
        desktop.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&desktop.stderr)
    );
    let said: Vec<&str> = stdout.lines().filter(|line| line.starts_with("xr:")).collect();
    assert_eq!(said.len(), 1, "one line says why: {said:?}");
    assert!(
        said[0].starts_with("xr: no OpenXR") && said[0].ends_with("; starting on the desktop"),
        "{said:?}"
    );
    assert!(stdout.contains("stats: frames=3"), "the desktop ran:\n{stdout}");

    let required = run(&["--require-xr"]);
    let stderr = String::from_utf8_lossy(&required.stderr);
    assert_eq!(required.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("error: no headset: no OpenXR"), "{stderr}");
}

/// The newest pose a desktop peer has from the one other person in its world.
fn pose_from_the_headset(peer: &bevy::app::App) -> Option<sanctuary::people::Snapshot> {
    let roster = peer.world().resource::<sanctuary::people::Roster>();
    let headset = roster.people.keys().next()?;
    peer.world()
        .resource::<sanctuary::people::PoseBuffers>()
        .newest(headset)
        .copied()
}

/// Keeps the desktop peer running for `time`.
fn keep_running(peer: &mut bevy::app::App, time: Duration) {
    let until = Instant::now() + time;
    while Instant::now() < until {
        peer.update();
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn close(a: Vec3, b: Vec3, within: f32) -> bool {
    a.distance(b) < within
}

/// The turn from `a` to `b` about up, folded into -π..π.
fn turned(a: f32, b: f32) -> f32 {
    let d = (b - a).rem_euclid(std::f32::consts::TAU);
    if d > std::f32::consts::PI {
        d - std::f32::consts::TAU
    } else {
        d
    }
}

#[test]
fn in_monado_head_and_hands_reach_a_desktop_peer_and_the_laser_clicks_go_there_and_the_wrist_menu() {
    use sanctuary::net_bridge::NetMode;
    let Some((root, _one_at_a_time)) = monado() else {
        return;
    };
    let display = VirtualDisplay::start();
    let data = common::folder("xr-host");
    let (client, lines) = client_in_headset(
        &display,
        &root,
        &[
            "--host",
            "--bind",
            "127.0.0.1:0",
            "--frames",
            "100000",
            "--data-dir",
            data.to_str().expect("a path"),
        ],
    );
    let puppet = Arc::new(Mutex::new(Puppet::standing()));
    drive(puppet.clone());
    let mut seen = Vec::new();
    let patience = Duration::from_secs(240);
    let ticket = wait_for_line(&lines, &mut seen, "ticket: ", patience);
    let ticket = ticket
        .split("ticket: ")
        .nth(1)
        .expect("a ticket")
        .trim()
        .to_owned();
    wait_for_line(&lines, &mut seen, "xr: the session is focused", patience);

    // A desktop peer joins the headset's world on loopback.
    let guest = common::folder("xr-desktop-peer");
    let mut peer = common::networked_client(
        "lobby",
        &guest,
        NetMode::Join(ticket.parse().expect("the ticket")),
    );
    let wait_for_pose =
        |peer: &mut bevy::app::App, what: &str, test: &dyn Fn(&sanctuary::people::Snapshot) -> bool| {
            let deadline = Instant::now() + Duration::from_secs(90);
            loop {
                if let Some(pose) = pose_from_the_headset(peer).filter(|pose| test(pose)) {
                    return pose;
                }
                assert!(
                    Instant::now() < deadline,
                    "the desktop peer never saw {what}; last pose {:?}",
                    pose_from_the_headset(peer)
                );
                keep_running(peer, Duration::from_millis(50));
            }
        };
    let hand = |pose: &sanctuary::people::Snapshot, i: usize| Vec3::from_array(pose.limbs.hands[i].offset);
    // Each hand where the controllers are, measured from the head.
    eprintln!("xr test: the desktop peer joined; waiting for the hands");
    let standing = wait_for_pose(&mut peer, "the hands where the controllers are", &|pose| {
        close(hand(pose, 1), Vec3::new(0.3, -0.2, -0.35), 0.08)
            && close(hand(pose, 0), Vec3::new(-0.25, -0.6, -0.1), 0.08)
    });

    eprintln!("xr test: the hands are where the controllers are");
    // The head turns a quarter left: the avatar turns with it.
    puppet.lock().unwrap().head.rotation = Quat::from_rotation_y(std::f32::consts::FRAC_PI_2);
    wait_for_pose(&mut peer, "the avatar turn with the head", &|pose| {
        (turned(standing.yaw, pose.yaw) - std::f32::consts::FRAC_PI_2).abs() < 0.1
    });
    // The head nods down: the avatar's head tilts, and its body faces ahead again.
    puppet.lock().unwrap().head.rotation = Quat::from_rotation_x(-0.4);
    let nodding = wait_for_pose(&mut peer, "the head nod", &|pose| {
        let forward = Quat::from_array(pose.limbs.head.rotation) * Vec3::NEG_Z;
        (forward.y - (-0.4f32).sin()).abs() < 0.05 && turned(standing.yaw, pose.yaw).abs() < 0.1
    });

    eprintln!("xr test: the head turned and nodded");
    // The right controller's laser sweeps down the Directory's "Go there" buttons,
    // clicking at each step, until the client travels.
    puppet.lock().unwrap().head.rotation = Quat::IDENTITY;
    let catalog = common::catalog();
    let anchor = catalog
        .get("lobby")
        .and_then(|lobby| lobby.anchor("directory"))
        .expect("the Directory's anchor")
        .clone();
    let panel_turn = Quat::from_rotation_y(anchor.yaw_degrees.to_radians());
    let panel_centre = Vec3::from_array(anchor.position);
    let head_in_room = puppet.lock().unwrap().head.position;
    let body_turn = Quat::from_rotation_y(nodding.yaw);
    let head_in_world = Vec3::from_array(nodding.position) + Vec3::Y * nodding.limbs.head.offset[1];
    let hand_in_room = Vec3::new(0.25, 1.3, -0.3);
    let hand_in_world = head_in_world + body_turn * (hand_in_room - head_in_room);
    let mut travelled = None;
    'sweep: for step in 0..36 {
        let (u, v) = (0.86, 0.12 + 0.024 * step as f32);
        let point = panel_centre + panel_turn * Vec3::new((u - 0.5) * 3.0, (0.5 - v) * 2.5, 0.0);
        let along = body_turn.inverse() * (point - hand_in_world);
        eprintln!("xr test: the laser aims at {u:.2}, {v:.2} of the Directory");
        {
            let mut puppet = puppet.lock().unwrap();
            puppet.hands[1] = Pose {
                rotation: Quat::from_rotation_arc(Vec3::NEG_Z, along.normalize()),
                position: hand_in_room,
            };
            puppet.trigger[1] = false;
        }
        for trigger in [false, true, false] {
            puppet.lock().unwrap().trigger[1] = trigger;
            keep_running(&mut peer, Duration::from_millis(700));
            seen.extend(lines.try_iter());
            if let Some(line) = seen.iter().find(|line| line.contains("travelling to ")) {
                travelled = line.split("travelling to ").nth(1).map(str::to_owned);
                break 'sweep;
            }
        }
    }
    let to = travelled.unwrap_or_else(|| {
        panic!(
            "the laser never clicked \"Go there\"; the client said:\n{}",
            seen.join("\n")
        )
    });
    assert!(
        catalog.get(to.trim()).is_some() && to.trim() != "lobby",
        "travelled to {to:?}"
    );

    // B shows the wrist menu on the left wrist; the right laser, swept down its list,
    // brings a panel in front of the eyes.
    for pressed in [true, false] {
        puppet.lock().unwrap().buttons_b[1] = pressed;
        keep_running(&mut peer, Duration::from_millis(700));
    }
    wait_for_line(
        &lines,
        &mut seen,
        "xr: the wrist menu is out",
        Duration::from_secs(30),
    );
    let (left, right) = {
        let puppet = puppet.lock().unwrap();
        (puppet.hands[0], puppet.hands[1].position)
    };
    // The menu's quad sits on the left grip (see xr::wrist::toggle_menu).
    let menu = Transform::from_translation(left.position).with_rotation(left.rotation)
        * Transform::from_xyz(0.0, 0.06, 0.12).with_rotation(Quat::from_rotation_x(-1.1));
    let spec = sanctuary::xr::wrist::menu_spec();
    let (width, height) = (
        spec.width,
        spec.width * spec.pixels.y as f32 / spec.pixels.x as f32,
    );
    let mut summoned = None;
    'menu: for step in 0..20 {
        let (u, v) = (0.2, 0.1 + 0.03 * step as f32);
        let point = menu.transform_point(Vec3::new((u - 0.5) * width, (0.5 - v) * height, 0.0));
        eprintln!("xr test: the laser aims at {u:.2}, {v:.2} of the wrist menu");
        puppet.lock().unwrap().hands[1].rotation =
            Quat::from_rotation_arc(Vec3::NEG_Z, (point - right).normalize());
        for trigger in [false, true, false] {
            puppet.lock().unwrap().trigger[1] = trigger;
            keep_running(&mut peer, Duration::from_millis(700));
            seen.extend(lines.try_iter());
            if let Some(line) = seen.iter().find(|line| line.contains("panel is in front of you")) {
                summoned = Some(line.clone());
                break 'menu;
            }
        }
    }
    drop(client);
    let summoned = summoned.unwrap_or_else(|| {
        panic!(
            "the wrist menu never brought a panel; the client said:\n{}",
            seen.join("\n")
        )
    });
    assert!(summoned.contains("xr: the "), "{summoned}");
}
