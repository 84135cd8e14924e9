//! Helpers shared by the headless App tests.
#![allow(dead_code, reason = "each test binary uses a different subset")]

use bevy::prelude::*;
use bevy::time::TimeUpdateStrategy;
use sanctuary::app::{LaunchPlan, headless_app};
use sanctuary::spaces::SpaceCatalog;
use sanctuary::spaces::catalog::default_assets_folder;
use std::time::{Duration, Instant};

/// One frame of the fixed test clock: 60 Hz.
pub const FRAME: Duration = Duration::from_nanos(16_666_667);

/// The shipped spaces.
pub fn catalog() -> SpaceCatalog {
    SpaceCatalog::load(&default_assets_folder().join("spaces")).expect("the shipped spaces load")
}

/// A fresh data folder of this test process's own, so that tests running at once never
/// share keys or a store.
pub fn scratch_data_dir() -> std::path::PathBuf {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("sanctuary-world-{}-{n}", std::process::id()));
    std::fs::remove_dir_all(&dir).ok();
    std::fs::create_dir_all(&dir).expect("a scratch data folder");
    dir
}

/// The headless world started in `space`, on a fixed 60 Hz clock, not yet updated.
pub fn world_in(space: &str) -> App {
    world_in_with(space, |_| {})
}

/// [`world_in`] with more plugins added by `extra` before the app is finished.
pub fn world_in_with(space: &str, extra: impl FnOnce(&mut App)) -> App {
    let plan = LaunchPlan {
        catalog: catalog(),
        start_space: space.to_owned(),
        assets: default_assets_folder(),
        data_dir: scratch_data_dir(),
        frames: None,
        screenshot: None,
        launched: Instant::now(),
    };
    let mut app = headless_app(&plan);
    app.insert_resource(TimeUpdateStrategy::ManualDuration(FRAME));
    extra(&mut app);
    app.finish();
    app.cleanup();
    app
}

/// Waits up to `limit` for a windowed client to finish its `--frames`, calling `meanwhile`
/// between looks (to keep in-process peers going); kills it and panics past the limit.
/// Returns how it ended and what it wrote to stderr (which must be piped).
pub fn wait_for_window(
    client: &mut std::process::Child,
    limit: Duration,
    mut meanwhile: impl FnMut(),
) -> (std::process::ExitStatus, String) {
    let deadline = Instant::now() + limit;
    let status = loop {
        meanwhile();
        if let Some(status) = client.try_wait().expect("the client's status") {
            break status;
        }
        if Instant::now() > deadline {
            client.kill().ok();
            panic!("the windowed client did not finish its frames");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let mut stderr = String::new();
    if let Some(mut pipe) = client.stderr.take() {
        std::io::Read::read_to_string(&mut pipe, &mut stderr).ok();
    }
    (status, stderr)
}

/// A PNG screenshot's size and RGB pixels, row by row.
pub struct Screenshot {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// The pixels.
    pub pixels: Vec<[u8; 3]>,
}

/// Reads a PNG screenshot.
pub fn read_screenshot(path: &std::path::Path) -> Screenshot {
    let decoder = png::Decoder::new(std::io::BufReader::new(
        std::fs::File::open(path).unwrap_or_else(|_| panic!("the screenshot {}", path.display())),
    ));
    let mut reader = decoder.read_info().expect("a PNG");
    let mut buffer = vec![0; reader.output_buffer_size().expect("fits in memory")];
    let info = reader.next_frame(&mut buffer).expect("a PNG frame");
    let channels = info.color_type.samples();
    assert!(channels >= 3, "a colour picture");
    Screenshot {
        width: info.width,
        height: info.height,
        pixels: buffer[..info.buffer_size()]
            .chunks(channels)
            .map(|p| [p[0], p[1], p[2]])
            .collect(),
    }
}

/// Starts the real client in a window on `display`, hosting a world in the Lobby for
/// `frames` frames and saving the last one to `shot`, with its data in `data` and `extra`
/// arguments; returns it (stderr piped, for [`wait_for_window`]) and its world's ticket.
pub fn windowed_host(
    display: &VirtualDisplay,
    data: &std::path::Path,
    frames: u32,
    shot: &std::path::Path,
    extra: &[std::ffi::OsString],
) -> (std::process::Child, String) {
    use std::io::BufRead;
    use std::process::{Command, Stdio};
    let mut client = Command::new(env!("CARGO_BIN_EXE_sanctuary"))
        .env_remove("WAYLAND_DISPLAY")
        .env("DISPLAY", &display.display)
        .env("RUST_LOG", "warn")
        .args(["--space", "lobby", "--host", "--bind", "127.0.0.1:0", "--frames"])
        .arg(frames.to_string())
        .arg("--screenshot")
        .arg(shot)
        .arg("--data-dir")
        .arg(data)
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the client runs");
    let stdout = client.stdout.take().expect("piped");
    let (tickets, ticket) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(found) = line.strip_prefix("ticket: ") {
                tickets.send(found.to_owned()).ok();
            }
        }
    });
    let ticket = ticket
        .recv_timeout(Duration::from_secs(240))
        .expect("the windowed client hosts a world");
    (client, ticket)
}

/// An Xvfb server on a display number it picks itself, stopped when dropped.
pub struct VirtualDisplay {
    server: std::process::Child,
    /// The display, as `:N`.
    pub display: String,
}

impl VirtualDisplay {
    /// Starts Xvfb at 1280x720.
    pub fn start() -> Self {
        let mut server = std::process::Command::new("Xvfb")
            .args([
                "-displayfd",
                "1",
                "-screen",
                "0",
                "1280x720x24",
                "-nolisten",
                "tcp",
            ])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("Xvfb runs (./test.sh installs the xvfb package)");
        let mut line = String::new();
        let mut stdout = std::io::BufReader::new(server.stdout.take().expect("Xvfb's stdout"));
        std::io::BufRead::read_line(&mut stdout, &mut line).expect("Xvfb reports its display number");
        let number = line.trim();
        assert!(!number.is_empty(), "Xvfb did not start");
        Self {
            server,
            display: format!(":{number}"),
        }
    }
}

impl Drop for VirtualDisplay {
    fn drop(&mut self) {
        self.server.kill().ok();
        self.server.wait().ok();
    }
}

/// How long a networked test waits for something before it fails.
pub const PATIENCE: Duration = Duration::from_secs(30);

/// A fresh folder for one test, named after it and this process.
pub fn folder(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("sanctuary-test-{name}-{}", std::process::id()));
    std::fs::remove_dir_all(&dir).ok();
    std::fs::create_dir_all(&dir).expect("a test folder");
    dir
}

/// A headless client with its data in `dir`, starting in `space`, online as `mode` on
/// loopback (the network thread is real), set up but not yet updated.
pub fn networked_client(space: &str, dir: &std::path::Path, mode: sanctuary::net_bridge::NetMode) -> App {
    networked_client_with(space, dir, mode, |_| {})
}

/// [`networked_client`] with more plugins added by `extra` before the app is finished.
pub fn networked_client_with(
    space: &str,
    dir: &std::path::Path,
    mode: sanctuary::net_bridge::NetMode,
    extra: impl FnOnce(&mut App),
) -> App {
    let plan = LaunchPlan {
        catalog: catalog(),
        start_space: space.into(),
        assets: default_assets_folder(),
        data_dir: dir.to_path_buf(),
        frames: None,
        screenshot: None,
        launched: Instant::now(),
    };
    let mut app = headless_app(&plan);
    app.insert_resource(sanctuary::identity::load_or_create(dir).expect("an identity"));
    app.add_plugins(sanctuary::net_bridge::NetBridgePlugin {
        options: sanctuary::net_bridge::NetOptions {
            mode,
            relay: None,
            lan: false,
            bind: Some("127.0.0.1:0".parse().expect("an address")),
        },
    });
    extra(&mut app);
    app.finish();
    app.cleanup();
    app
}

/// The ticket a client's world invites others with, once it has one.
pub fn invite_ticket(app: &App) -> String {
    app.world()
        .resource::<sanctuary::people::InviteTicket>()
        .0
        .clone()
        .expect("the world's ticket")
}

/// A headless client hosting a world in `space` with its data in `host_dir`, and one
/// joining it with its data in `guest_dir`; returned as `(host, guest)` once each is
/// online and sees the other.
pub fn host_and_guest(space: &str, host_dir: &std::path::Path, guest_dir: &std::path::Path) -> (App, App) {
    host_and_guest_with(space, host_dir, guest_dir, |_| {})
}

/// [`host_and_guest`] with more plugins added to both by `extra`.
pub fn host_and_guest_with(
    space: &str,
    host_dir: &std::path::Path,
    guest_dir: &std::path::Path,
    extra: impl Fn(&mut App),
) -> (App, App) {
    use sanctuary::net_bridge::NetMode;
    use sanctuary::people::InviteTicket;
    use sanctuary_plugin_api::WorldView;
    let mut host = networked_client_with(space, host_dir, NetMode::Host, &extra);
    run_until(&mut [&mut host], "the host's ticket", |apps| {
        apps[0].world().resource::<InviteTicket>().0.is_some()
    });
    let ticket = invite_ticket(&host).parse().expect("the host's ticket parses");
    let mut guest = networked_client_with(space, guest_dir, NetMode::Join(ticket), &extra);
    run_until(&mut [&mut host, &mut guest], "both to see each other", |apps| {
        apps.iter().all(|app| {
            let view = app.world().resource::<WorldView>();
            view.online && !view.people.is_empty()
        })
    });
    (host, guest)
}

/// Updates every app until `done` says so, or fails after [`PATIENCE`].
pub fn run_until(apps: &mut [&mut App], what: &str, mut done: impl FnMut(&mut [&mut App]) -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !done(apps) {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        for app in apps.iter_mut() {
            app.update();
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Which panel a [`PanelView`] draws.
enum PanelSource {
    /// One of the client's own panels, by id.
    Client(&'static str),
    /// An app's panel, by the app's name.
    App(String, sanctuary_plugin_api::host::PanelDraw),
}

/// A panel drawn headless with egui as the client draws it, read through the texts it
/// draws and clicked where they stand, as a person would.
pub struct PanelView {
    ctx: bevy_egui::egui::Context,
    source: PanelSource,
}

/// A piece of text a panel shows, and where.
pub type Shown = Vec<(String, bevy_egui::egui::Rect)>;

impl PanelView {
    /// The client's panel `id`.
    pub fn client(id: &'static str) -> Self {
        Self {
            ctx: bevy_egui::egui::Context::default(),
            source: PanelSource::Client(id),
        }
    }

    /// The panel of the app called `name`.
    pub fn app(app: &App, name: &str) -> Self {
        let panel = app
            .world()
            .resource::<sanctuary_plugin_api::host::AppPanels>()
            .panels
            .iter()
            .find(|panel| panel.app == name)
            .unwrap_or_else(|| panic!("no panel of the app {name}"))
            .clone();
        Self {
            ctx: bevy_egui::egui::Context::default(),
            source: PanelSource::App(name.to_owned(), panel.draw),
        }
    }

    /// Draws one frame with `events`; returns every text drawn.
    pub fn frame(&self, app: &mut App, events: Vec<bevy_egui::egui::Event>) -> Shown {
        use bevy_egui::egui;
        let input = egui::RawInput {
            screen_rect: Some(egui::Rect::from_min_size(
                egui::Pos2::ZERO,
                egui::vec2(720.0, 600.0),
            )),
            events,
            ..Default::default()
        };
        let mut output = self.ctx.run_ui(input, |ui| match &self.source {
            PanelSource::Client(id) => {
                assert!(
                    sanctuary::panels::draw_panel_contents(app.world_mut(), id, ui),
                    "no panel {id}"
                );
            }
            PanelSource::App(name, draw) => {
                sanctuary_plugin_api::host::draw_panel(app.world_mut(), name, *draw, ui);
            }
        });
        output.textures_delta.clear();
        fn texts(shape: &egui::Shape, out: &mut Shown) {
            match shape {
                egui::Shape::Text(text) => out.push((
                    text.galley.text().to_owned(),
                    text.galley.rect.translate(text.pos.to_vec2()),
                )),
                egui::Shape::Vec(shapes) => shapes.iter().for_each(|shape| texts(shape, out)),
                _ => {}
            }
        }
        let mut shown = Vec::new();
        for clipped in &output.shapes {
            texts(&clipped.shape, &mut shown);
        }
        shown
    }

    /// The texts shown now.
    pub fn shown(&self, app: &mut App) -> Shown {
        self.frame(app, Vec::new())
    }

    /// Whether some text drawn now contains `what`.
    pub fn shows(&self, app: &mut App, what: &str) -> bool {
        self.shown(app).iter().any(|(text, _)| text.contains(what))
    }

    /// Where the text `label` nearest the row of the text `row` is (of all the rows
    /// showing `row`, the one with `label` closest: a name can show in more than one list).
    pub fn find(&self, app: &mut App, row: &str, label: &str) -> bevy_egui::egui::Rect {
        let shown = self.shown(app);
        Self::rect_of(&shown, row);
        let rows: Vec<f32> = shown
            .iter()
            .filter(|(text, _)| text == row)
            .map(|(_, rect)| rect.center().y)
            .collect();
        let distance = |rect: &bevy_egui::egui::Rect| {
            rows.iter()
                .map(|y| (rect.center().y - y).abs())
                .fold(f32::INFINITY, f32::min)
        };
        shown
            .iter()
            .filter(|(text, _)| text == label)
            .min_by(|a, b| distance(&a.1).total_cmp(&distance(&b.1)))
            .unwrap_or_else(|| panic!("no {label:?} in the panel: {shown:?}"))
            .1
    }

    fn rect_of(shown: &Shown, text: &str) -> bevy_egui::egui::Rect {
        shown
            .iter()
            .find(|(shown, _)| shown == text)
            .unwrap_or_else(|| panic!("no {text:?} in the panel: {shown:?}"))
            .1
    }

    /// Clicks the text `label` nearest the row of the text `row`.
    pub fn click(&self, app: &mut App, row: &str, label: &str) {
        let at = self.find(app, row, label).center();
        self.click_at(app, at);
    }

    /// Clicks the text `label` itself.
    pub fn click_text(&self, app: &mut App, label: &str) {
        self.click(app, label, label);
    }

    /// Clicks on the row of the text `row` at `x` (a field in a form's second column).
    pub fn click_row_at(&self, app: &mut App, row: &str, x: f32) {
        let y = Self::rect_of(&self.shown(app), row).center().y;
        self.click_at(app, bevy_egui::egui::pos2(x + 8.0, y));
    }

    /// Where the text `label` starts, left to right.
    pub fn left_of(&self, app: &mut App, label: &str) -> f32 {
        Self::rect_of(&self.shown(app), label).min.x
    }

    /// Clicks a little right of the text `label` (in the field it names).
    pub fn click_right_of(&self, app: &mut App, label: &str) {
        let rect = Self::rect_of(&self.shown(app), label);
        self.click_at(app, rect.right_center() + bevy_egui::egui::vec2(40.0, 0.0));
    }

    /// Presses and releases the primary button at `at`.
    pub fn click_at(&self, app: &mut App, at: bevy_egui::egui::Pos2) {
        use bevy_egui::egui;
        let button = |pressed| egui::Event::PointerButton {
            pos: at,
            button: egui::PointerButton::Primary,
            pressed,
            modifiers: egui::Modifiers::default(),
        };
        self.frame(app, vec![egui::Event::PointerMoved(at)]);
        self.frame(app, vec![button(true)]);
        self.frame(app, vec![button(false)]);
    }

    /// Types `text` where the keyboard is.
    pub fn type_text(&self, app: &mut App, text: &str) {
        self.frame(app, vec![bevy_egui::egui::Event::Text(text.into())]);
    }
}
