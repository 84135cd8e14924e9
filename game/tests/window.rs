//! The real client in a real window: each space rendered under Xvfb with Mesa's software
//! Vulkan through the real command line, and checked by pixel statistics; plus the
//! command line's answers to bad input.

mod common;

use common::VirtualDisplay;
use sanctuary_plugin_api::SanctuaryApp;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

const CLIENT: &str = env!("CARGO_BIN_EXE_sanctuary");

fn client() -> Command {
    let mut command = Command::new(CLIENT);
    command.env_remove("WAYLAND_DISPLAY").env("RUST_LOG", "warn");
    command
}

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    std::fs::create_dir_all(&dir).expect("scratch folder");
    dir
}

/// Mean brightness, its spread, and how many distinct colours (coarsely binned) a picture has.
struct PixelStats {
    width: u32,
    height: u32,
    mean: f64,
    spread: f64,
    colours: usize,
    pixels: Vec<[u8; 3]>,
}

fn pixel_stats(path: &Path) -> PixelStats {
    let common::Screenshot {
        width,
        height,
        pixels,
    } = common::read_screenshot(path);
    let luma: Vec<f64> = pixels
        .iter()
        .map(|p| 0.299 * f64::from(p[0]) + 0.587 * f64::from(p[1]) + 0.114 * f64::from(p[2]))
        .collect();
    let mean = luma.iter().sum::<f64>() / luma.len() as f64;
    let spread = (luma.iter().map(|l| (l - mean).powi(2)).sum::<f64>() / luma.len() as f64).sqrt();
    let colours = pixels
        .iter()
        .map(|p| (p[0] / 16, p[1] / 16, p[2] / 16))
        .collect::<std::collections::HashSet<_>>()
        .len();
    PixelStats {
        width,
        height,
        mean,
        spread,
        colours,
        pixels,
    }
}

/// Mean absolute difference per channel between two same-sized pictures.
fn difference(a: &PixelStats, b: &PixelStats) -> f64 {
    let total: u64 = a
        .pixels
        .iter()
        .zip(&b.pixels)
        .map(|(p, q)| (0..3).map(|i| u64::from(p[i].abs_diff(q[i]))).sum::<u64>())
        .sum();
    total as f64 / (a.pixels.len() * 3) as f64
}

/// The frame count on the client's `stats:` line (0 if there is none).
fn reported_frames(stdout: &str) -> u32 {
    stdout
        .lines()
        .find_map(|line| line.strip_prefix("stats: frames="))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|count| count.parse().ok())
        .unwrap_or(0)
}

fn screenshot(display: &VirtualDisplay, space: &str, file: &Path) -> Output {
    client()
        .env("DISPLAY", &display.display)
        .args(["--space", space, "--frames", "40", "--screenshot"])
        .arg(file)
        .arg("--data-dir")
        .arg(scratch("data"))
        .output()
        .expect("the client runs")
}

#[test]
fn every_space_renders_in_a_real_window_and_they_differ() {
    let display = VirtualDisplay::start();
    let folder = scratch("screenshots");
    let mut shots = Vec::new();
    for space in ["lobby", "market", "cinema", "lecture-hall"] {
        let file = folder.join(format!("{space}.png"));
        std::fs::remove_file(&file).ok();
        let output = screenshot(&display, space, &file);
        assert!(
            output.status.success(),
            "{space}: the client failed: {}\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            reported_frames(&stdout) >= 40,
            "{space}: reports its frames: {stdout}"
        );
        let stats = pixel_stats(&file);
        assert_eq!((stats.width, stats.height), (1280, 720), "{space}: window size");
        assert!(
            stats.mean > 12.0 && stats.mean < 243.0,
            "{space}: not blank (mean {:.1})",
            stats.mean
        );
        assert!(
            stats.spread > 8.0,
            "{space}: not one flat colour (spread {:.1})",
            stats.spread
        );
        assert!(
            stats.colours > 40,
            "{space}: a real scene has many colours ({})",
            stats.colours
        );
        shots.push((space, stats));
    }
    for (i, (a, first)) in shots.iter().enumerate() {
        for (b, second) in &shots[i + 1..] {
            let diff = difference(first, second);
            assert!(diff > 8.0, "{a} and {b} look alike (mean difference {diff:.1})");
        }
    }
}

#[test]
fn an_unknown_space_lists_the_spaces_and_exits_with_2() {
    let output = client()
        .args(["--space", "attic", "--headless", "--frames", "1"])
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
    for name in ["attic", "lobby", "market", "cinema", "lecture-hall"] {
        assert!(stderr.contains(name), "{name} in: {stderr}");
    }
}

#[test]
fn a_malformed_space_file_is_named_without_a_panic() {
    let assets = scratch("broken-assets");
    let spaces = assets.join("spaces");
    std::fs::create_dir_all(&spaces).expect("folder");
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("../assets/spaces/lobby.ron");
    std::fs::copy(shipped, spaces.join("lobby.ron")).expect("copy the lobby");
    std::fs::write(
        spaces.join("market.ron"),
        "(name: \"market\", title: \"Market\", sky: (0, 0,\n",
    )
    .expect("write");
    let output = client()
        .args(["--headless", "--frames", "1", "--assets"])
        .arg(&assets)
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("market.ron"), "names the file: {stderr}");
    assert!(!stderr.contains("panicked"), "no panic: {stderr}");
}

#[test]
fn without_a_display_the_client_suggests_headless() {
    let output = client()
        .env_remove("DISPLAY")
        .args(["--frames", "1"])
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("--headless"), "{stderr}");
}

#[test]
fn headless_runs_the_requested_frames_and_exits_cleanly() {
    let mut child = client()
        .args(["--headless", "--space", "cinema", "--frames", "30", "--data-dir"])
        .arg(scratch("headless-data"))
        .stdout(Stdio::piped())
        .spawn()
        .expect("runs");
    let mut stdout = String::new();
    child
        .stdout
        .take()
        .expect("stdout")
        .read_to_string(&mut stdout)
        .expect("read");
    assert!(child.wait().expect("exits").success());
    assert_eq!(reported_frames(&stdout), 30, "{stdout}");
}

/// Runs a tool from the `xdotool`/`xclip` packages on `display` and gives its output.
fn x_tool(display: &VirtualDisplay, tool: &str, args: &[&str]) -> String {
    let output = Command::new(tool)
        .env("DISPLAY", &display.display)
        .args(args)
        .stderr(Stdio::null())
        .output()
        .unwrap_or_else(|error| panic!("{tool} runs (./test.sh installs it): {error}"));
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// Waits up to `limit` for `read` to give something, polling every half second.
fn poll(limit: std::time::Duration, mut read: impl FnMut() -> Option<String>) -> Option<String> {
    let deadline = std::time::Instant::now() + limit;
    while std::time::Instant::now() < deadline {
        if let Some(found) = read() {
            return Some(found);
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    None
}

/// Starts the client in a window on `display` with `args` and the data folder `data`,
/// and waits for its window: the running client and the window's id.
fn open_client(display: &VirtualDisplay, args: &[&str], data: &Path) -> (Running, String) {
    open_client_logging(display, args, data, None)
}

/// As [`open_client`], and with `log`, writes what the client prints and logs at
/// `log_filter` into that file.
fn open_client_logging(
    display: &VirtualDisplay,
    args: &[&str],
    data: &Path,
    log: Option<(&Path, &str)>,
) -> (Running, String) {
    let mut command = client();
    command
        .env("DISPLAY", &display.display)
        .args(args)
        .arg("--data-dir")
        .arg(data);
    match log {
        Some((file, filter)) => {
            let output = std::fs::File::create(file).expect("a log file");
            command
                .env("RUST_LOG", filter)
                .stdout(output.try_clone().expect("the log"))
                .stderr(output);
        }
        None => {
            command.stdout(Stdio::null()).stderr(Stdio::null());
        }
    }
    let client = Running(command.spawn().expect("the client runs"));
    let window = poll(std::time::Duration::from_secs(60), || {
        let found = x_tool(display, "xdotool", &["search", "--name", "^Sanctuary$"]);
        found.lines().next().map(str::to_owned)
    })
    .expect("the client opens its window");
    (client, window)
}

/// Allows app `A` everything it asks for in the data folder `data`, as the Apps panel would.
fn allow_all<A: SanctuaryApp>(data: &Path) {
    let mut grants = sanctuary_plugin_api::Grants::load(data);
    for permission in A::MANIFEST.permissions {
        grants.grant(A::MANIFEST.name, permission);
    }
    grants.save().expect("grants saved");
}

/// Screenshots the Market from where the person arrives, after 60 frames, with the data
/// folder `data` and the `extra` arguments, and reads its pixels.
fn market_screenshot(display: &VirtualDisplay, data: &Path, file: &Path, extra: &[&str]) -> PixelStats {
    space_screenshot(display, "market", 60, data, file, extra)
}

/// Screenshots `space` from where the person arrives, after `frames` frames, with the
/// data folder `data` and the `extra` arguments, and reads its pixels.
fn space_screenshot(
    display: &VirtualDisplay,
    space: &str,
    frames: u32,
    data: &Path,
    file: &Path,
    extra: &[&str],
) -> PixelStats {
    std::fs::remove_file(file).ok();
    let output = client()
        .env("DISPLAY", &display.display)
        .args(["--space", space, "--frames", &frames.to_string(), "--screenshot"])
        .arg(file)
        .arg("--data-dir")
        .arg(data)
        .args(extra)
        .output()
        .expect("the client runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    pixel_stats(file)
}

/// How many pixels differ clearly between two screenshots of the same size.
fn pixels_changed(a: &PixelStats, b: &PixelStats) -> usize {
    a.pixels
        .iter()
        .zip(&b.pixels)
        .filter(|(p, q)| (0..3).any(|i| p[i].abs_diff(q[i]) > 30))
        .count()
}

/// The client, killed when dropped.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        self.0.kill().ok();
        self.0.wait().ok();
    }
}

#[test]
fn the_copy_button_puts_your_id_on_the_clipboard() {
    use std::os::unix::fs::PermissionsExt;
    let display = VirtualDisplay::start();
    let data = scratch("clipboard");
    // A known key, so that the test knows the id the button should copy.
    let key = [7u8; 32];
    let key_file = data.join("identity.key");
    std::fs::write(&key_file, key).expect("writes the key");
    std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o600)).expect("owner only");
    let expected = sanctuary_protocols::identity::Keypair::from_bytes(&key)
        .peer_id()
        .to_string();
    let (_client, window) = open_client(&display, &["--space", "market"], &data);
    let settle = || std::thread::sleep(std::time::Duration::from_secs(5));
    settle();
    // Tab opens the panels as an overlay, centred in the 1280x720 window and as wide as
    // its row of tabs (ten since Home joined: every x here moved 28 px left); "Your
    // profile" is the fourth tab, and its Copy button stands after the id. The software renderer
    // draws a few frames a second, so each step waits for some.
    x_tool(&display, "xdotool", &["windowfocus", &window]);
    x_tool(&display, "xdotool", &["key", "Tab"]);
    settle();
    x_tool(&display, "xdotool", &["mousemove", "565", "255", "click", "1"]);
    settle();
    let copied = poll(std::time::Duration::from_secs(30), || {
        x_tool(&display, "xdotool", &["mousemove", "581", "343", "click", "1"]);
        std::thread::sleep(std::time::Duration::from_secs(2));
        let text = x_tool(&display, "xclip", &["-o", "-selection", "clipboard"]);
        (!text.is_empty()).then_some(text)
    });
    assert_eq!(
        copied.as_deref(),
        Some(expected.as_str()),
        "the id is on the clipboard"
    );
}

#[test]
fn the_chess_board_stands_in_the_market_once_the_person_allows_it() {
    let display = VirtualDisplay::start();
    let folder = scratch("chess");
    let shoot = |allowed: bool| {
        let data = folder.join(if allowed { "allowed" } else { "not-allowed" });
        std::fs::remove_dir_all(&data).ok();
        std::fs::create_dir_all(&data).expect("data folder");
        if allowed {
            allow_all::<sanctuary_chess::ChessApp>(&data);
        }
        let file = folder.join(format!("market-chess-{allowed}.png"));
        market_screenshot(&display, &data, &file, &[])
    };
    let without = shoot(false);
    let with = shoot(true);
    // The board's squares on the table (about 150 by 12 pixels from where the person
    // arrives) and the panel's text are all that may differ.
    let changed = pixels_changed(&without, &with);
    assert!(
        (400..40_000).contains(&changed),
        "the board appears on the table, and nothing else changes much ({changed} pixels differ)"
    );
}

#[test]
fn the_apps_panel_grants_and_takes_back_permissions() {
    let display = VirtualDisplay::start();
    let data = scratch("apps-panel");
    std::fs::remove_file(data.join("grants.ron")).ok();
    let (_client, window) = open_client(&display, &["--space", "market"], &data);
    let settle = || std::thread::sleep(std::time::Duration::from_secs(5));
    let chess_grants = || {
        let grants = sanctuary_plugin_api::Grants::load(&data);
        sanctuary_chess::ChessApp::MANIFEST
            .permissions
            .iter()
            .filter(|permission| grants.is_granted("chess", permission))
            .map(|permission| permission.key())
            .collect::<Vec<_>>()
    };
    settle();
    // Tab opens the overlay; "Apps" is the fifth tab (its window, taller with ten apps,
    // stands higher than the Directory's). In it, the chess app's "Allow all"
    // button, then its second permission's checkbox (messages).
    x_tool(&display, "xdotool", &["windowfocus", &window]);
    x_tool(&display, "xdotool", &["key", "Tab"]);
    settle();
    x_tool(&display, "xdotool", &["mousemove", "630", "255", "click", "1"]);
    settle();
    let all = poll(std::time::Duration::from_secs(30), || {
        x_tool(&display, "xdotool", &["mousemove", "440", "274", "click", "1"]);
        std::thread::sleep(std::time::Duration::from_secs(2));
        let granted = chess_grants();
        (granted.len() == 3).then(|| granted.join(" "))
    });
    assert_eq!(all.as_deref(), Some("panels messages spawn:market"));
    let fewer = poll(std::time::Duration::from_secs(30), || {
        x_tool(&display, "xdotool", &["mousemove", "366", "316", "click", "1"]);
        std::thread::sleep(std::time::Duration::from_secs(2));
        let granted = chess_grants();
        (granted.len() == 2).then(|| granted.join(" "))
    });
    assert_eq!(
        fewer.as_deref(),
        Some("panels spawn:market"),
        "messages taken back"
    );
}

#[test]
fn the_storage_panel_shares_a_file_and_its_ticket_fetches_it_from_the_client() {
    let display = VirtualDisplay::start();
    let folder = scratch("storage-share");
    let data = folder.join("client");
    std::fs::remove_dir_all(&folder).ok();
    std::fs::create_dir_all(&data).expect("data folder");
    allow_all::<sanctuary_storage::StorageApp>(&data);
    // A file in the client's store, added with the headless tool on the same store format.
    let node_tool = Path::new(CLIENT).with_file_name("sanctuary-node");
    let file = folder.join("photo.bin");
    let bytes: Vec<u8> = (0..5000u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(&file, &bytes).expect("writes the file");
    let added = Command::new(&node_tool)
        .args(["blobs", "--data-dir"])
        .arg(&data)
        .arg("add")
        .arg(&file)
        .output()
        .expect("sanctuary-node runs");
    assert!(
        added.status.success(),
        "{}",
        String::from_utf8_lossy(&added.stderr)
    );
    let hash = String::from_utf8_lossy(&added.stdout)
        .split(' ')
        .next()
        .unwrap_or_default()
        .to_owned();
    let (_client, window) = open_client(
        &display,
        &["--space", "lobby", "--host", "--bind", "127.0.0.1:0"],
        &data,
    );
    let settle = || std::thread::sleep(std::time::Duration::from_secs(5));
    settle();
    // Tab, then the Storage tab (the last); Share on the file's row, then Copy beside the
    // ticket that appears above the list.
    x_tool(&display, "xdotool", &["windowfocus", &window]);
    x_tool(&display, "xdotool", &["key", "Tab"]);
    settle();
    x_tool(&display, "xdotool", &["mousemove", "733", "255", "click", "1"]);
    settle();
    x_tool(&display, "xdotool", &["mousemove", "746", "440", "click", "1"]);
    settle();
    let copied = poll(std::time::Duration::from_secs(40), || {
        x_tool(&display, "xdotool", &["mousemove", "857", "408", "click", "1"]);
        std::thread::sleep(std::time::Duration::from_secs(2));
        let text = x_tool(&display, "xclip", &["-o", "-selection", "clipboard"]);
        text.starts_with("blob").then_some(text)
    })
    .expect("a ticket on the clipboard");
    let (ticket_hash, _) = sanctuary_net::storage::parse_ticket(&copied).expect("a BlobTicket");
    assert_eq!(ticket_hash.to_string(), hash);
    // Anyone with the ticket fetches the file from the running client.
    let out = folder.join("fetched.bin");
    let fetched = Command::new(&node_tool)
        .args(["blobs", "--data-dir"])
        .arg(folder.join("fetcher"))
        .args(["--bind", "127.0.0.1:0", "get", &copied, "--out"])
        .arg(&out)
        .output()
        .expect("sanctuary-node runs");
    assert!(
        fetched.status.success(),
        "{}",
        String::from_utf8_lossy(&fetched.stderr)
    );
    assert_eq!(std::fs::read(&out).expect("the fetched file"), bytes);
}

#[test]
fn the_wallet_panel_shows_the_local_chain_wallet_and_copies_its_address() {
    let display = VirtualDisplay::start();
    let data = scratch("wallet");
    std::fs::remove_dir_all(&data).ok();
    std::fs::create_dir_all(&data).expect("data folder");
    allow_all::<sanctuary_wallet::WalletApp>(&data);
    // A wallet made with the headless tool, on the same keystore the panel opens.
    let node_tool = Path::new(CLIENT).with_file_name("sanctuary-node");
    let made = Command::new(&node_tool)
        .args(["wallet", "new", "--data-dir"])
        .arg(&data)
        .env("SANCTUARY_WALLET_PASSPHRASE", "a good passphrase")
        .stdin(Stdio::null())
        .output()
        .expect("sanctuary-node runs");
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let address = String::from_utf8_lossy(&made.stdout)
        .lines()
        .find_map(|line| line.strip_prefix("address: ").map(str::to_owned))
        .expect("the new wallet's address");
    let (_client, window) = open_client(&display, &["--space", "market"], &data);
    let settle = || std::thread::sleep(std::time::Duration::from_secs(5));
    settle();
    // Tab, then the Wallet tab (the last); the overlay then grows to the panel and its
    // Copy button stands after the address, beside the QR code.
    x_tool(&display, "xdotool", &["windowfocus", &window]);
    x_tool(&display, "xdotool", &["key", "Tab"]);
    settle();
    x_tool(&display, "xdotool", &["mousemove", "790", "255", "click", "1"]);
    settle();
    let copied = poll(std::time::Duration::from_secs(40), || {
        x_tool(&display, "xdotool", &["mousemove", "850", "314", "click", "1"]);
        std::thread::sleep(std::time::Duration::from_secs(2));
        let text = x_tool(&display, "xclip", &["-o", "-selection", "clipboard"]);
        text.starts_with("0x").then_some(text)
    })
    .expect("an address on the clipboard");
    assert_eq!(copied, address);
    // With no network configured the client started the local test chain and gave the
    // wallet its test funds; the chain's state was saved in the wallet's folder.
    drop(_client);
    let state = data.join("apps/wallet/chain-state.json");
    let saved = poll(std::time::Duration::from_secs(20), || {
        std::fs::read_to_string(&state)
            .ok()
            .filter(|text| text.contains(&address[2..].to_lowercase()))
    });
    assert!(
        saved.is_some(),
        "the local chain saved the funded account in {}",
        state.display()
    );
}

#[test]
fn a_sellers_goods_and_their_picture_stand_on_their_stall_in_the_market() {
    use sanctuary_market_core::{Listing, ListingId, MarketRecords, Price, market_dir};
    use sanctuary_wallet_core::{Address, Asset, parse_amount};

    let display = VirtualDisplay::start();
    let folder = scratch("market-stall");
    let shoot = |selling: bool| {
        let data = folder.join(if selling { "selling" } else { "not-selling" });
        std::fs::remove_dir_all(&data).ok();
        std::fs::create_dir_all(&data).expect("data folder");
        allow_all::<sanctuary_market::MarketApp>(&data);
        if selling {
            let mut records = MarketRecords::default();
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .expect("a clock")
                .as_millis() as u64;
            // A picture of the first, in the seller's store (added with the headless tool).
            let picture_file = folder.join("lanterns.png");
            let mut picture = Vec::new();
            let mut encoder = png::Encoder::new(&mut picture, 32, 24);
            encoder.set_color(png::ColorType::Rgb);
            encoder.set_depth(png::BitDepth::Eight);
            let checker: Vec<u8> = (0..32 * 24)
                .flat_map(|i| {
                    if (i % 32 / 4 + i / 32 / 4) % 2 == 0 {
                        [250, 210, 40]
                    } else {
                        [30, 60, 200]
                    }
                })
                .collect();
            let mut writer = encoder.write_header().expect("a png");
            writer.write_image_data(&checker).expect("pixels");
            writer.finish().expect("a png");
            std::fs::write(&picture_file, &picture).expect("writes the picture");
            let added = Command::new(Path::new(CLIENT).with_file_name("sanctuary-node"))
                .args(["blobs", "--data-dir"])
                .arg(&data)
                .arg("add")
                .arg(&picture_file)
                .output()
                .expect("sanctuary-node runs");
            assert!(
                added.status.success(),
                "{}",
                String::from_utf8_lossy(&added.stderr)
            );
            let hash: sanctuary_plugin_api::BlobHash = String::from_utf8_lossy(&added.stdout)
                .split_whitespace()
                .next()
                .expect("the hash")
                .parse()
                .expect("a hash");
            let coin = Asset::Native { symbol: "ETH".into() };
            for (id, title) in [
                (7, "Lantern photos"),
                (200, "Market theme, extended"),
                (330, "A map"),
            ] {
                let listing = Listing {
                    id: ListingId(id),
                    title: title.into(),
                    description: String::new(),
                    picture: (id == 7).then_some(hash),
                    goods: Some(sanctuary_plugin_api::BlobHash::from_bytes([id as u8; 32])),
                    price: Price::new(
                        31337,
                        &coin,
                        parse_amount("0.1", 18).expect("an amount"),
                        Address::repeat_byte(0x51),
                    ),
                    quantity: 3,
                    expires_ms: now + 3_600_000,
                };
                records.shop.list(listing, now).expect("a good listing");
            }
            records.save(&market_dir(&data)).expect("records saved");
        }
        let file = folder.join(format!("market-stall-{selling}.png"));
        // Hosting a world gives the person an id, which their stall is kept for.
        market_screenshot(&display, &data, &file, &["--host", "--bind", "127.0.0.1:0"])
    };
    let without = shoot(false);
    let with = shoot(true);
    // Three boxes on a stall's counter some metres away, and a picture above one, are all
    // that differ.
    let changed = pixels_changed(&without, &with);
    assert!(
        (150..40_000).contains(&changed),
        "the goods appear on the stall, and nothing else changes much ({changed} pixels differ)"
    );
}

/// What `sanctuary-node build-doc --pieces` finds in `data` under the spaces of `assets`:
/// all it said, and the `piece:` lines' kinds.
fn built_kinds(data: &Path, assets: &Path) -> (String, Vec<String>) {
    let tool = Path::new(env!("CARGO_BIN_EXE_sanctuary")).with_file_name("sanctuary-node");
    let output = Command::new(tool)
        .args(["build-doc", "--pieces", "--data-dir"])
        .arg(data)
        .arg("--assets")
        .arg(assets)
        .output()
        .expect("sanctuary-node runs (cargo nextest run --workspace builds it)");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let kinds = stdout
        .lines()
        .filter(|line| line.starts_with("piece:"))
        .filter_map(|line| line.split_whitespace().last().map(str::to_owned))
        .collect();
    (stdout, kinds)
}

#[test]
fn build_mode_places_turns_and_undoes_with_the_keyboard_and_mouse() {
    let display = VirtualDisplay::start();
    let data = scratch("build-mode");
    // A fresh data folder: hosting reopens the world kept in it, with what was built.
    std::fs::remove_dir_all(&data).ok();
    let data = scratch("build-mode");
    // The shipped spaces, with building allowed all over the Lobby, so that wherever the
    // crosshair lands on the ground is in a zone.
    let assets = data.join("assets");
    let spaces = assets.join("spaces");
    std::fs::create_dir_all(&spaces).expect("an assets folder");
    let shipped = sanctuary::spaces::catalog::default_assets_folder().join("spaces");
    for entry in std::fs::read_dir(&shipped).expect("the shipped spaces") {
        let path = entry.expect("a space file").path();
        let mut text = std::fs::read_to_string(&path).expect("a space file");
        if path.file_name().is_some_and(|name| name == "lobby.ron") {
            let at = text
                .find("    build: Some((")
                .expect("the lobby's building rules");
            text.truncate(at);
            text.push_str(
                "    build: Some((zones: [(name: \"everywhere\", min: (-30, 0, -30), max: (30, 400, 30))])),\n)\n",
            );
        }
        std::fs::write(spaces.join(path.file_name().expect("a name")), text).expect("a copy");
    }
    let assets_arg = assets.display().to_string();
    let (client, window) = open_client(
        &display,
        &[
            "--space",
            "lobby",
            "--host",
            "--bind",
            "127.0.0.1:0",
            "--assets",
            &assets_arg,
        ],
        &data,
    );
    let settle = || std::thread::sleep(std::time::Duration::from_secs(4));
    let x = |args: &[&str]| {
        x_tool(&display, "xdotool", args);
        settle();
    };
    settle();
    x(&["windowfocus", &window]);
    // A click grabs the mouse; then look down from the spawn point's upward gaze, so that
    // the crosshair lands on the ground a few metres ahead.
    x(&["mousemove", "640", "360", "click", "1"]);
    x(&["mousemove_relative", "--", "20", "120"]);
    // B: build mode. 3: a wall, turned once with R, placed with a click; Ctrl+Z takes it
    // back; 1: a block, placed.
    x(&["key", "b"]);
    x(&["key", "3"]);
    x(&["key", "r"]);
    x(&["click", "1"]);
    x(&["key", "ctrl+z"]);
    x(&["key", "1"]);
    x(&["click", "1"]);
    // Every edit is on disk before it is shown: the client can go at once.
    drop(client);
    let (stdout, kinds) = built_kinds(&data, &assets);
    assert_eq!(kinds, vec!["Block".to_owned()], "one block stands: {stdout}");
    let doc = stdout
        .lines()
        .find(|line| line.starts_with("build-doc:"))
        .unwrap_or_default();
    // The wall's removal is a record too.
    assert!(doc.ends_with(" 1 2"), "one shown, two records: {doc}");
}

/// Opens the Lobby at `quality` and clicks the Directory's "Go there" for the Cinema
/// with the mouse until the client travels (or a minute passes): whether it travelled,
/// and what the client printed and logged.
fn click_go_there(display: &VirtualDisplay, quality: &str) -> (bool, String) {
    let folder = scratch(&format!("go-there-{quality}"));
    let log = folder.join("client.log");
    let data = folder.join("data");
    std::fs::remove_dir_all(&data).ok();
    let (client, window) = open_client_logging(
        display,
        &["--space", "lobby", "--no-voice", "--quality", quality],
        &data,
        Some((&log, "warn,sanctuary::spaces=info")),
    );
    let read_log = || std::fs::read_to_string(&log).unwrap_or_default();
    // The Cinema's button on the Directory, left of the fountain where the person
    // arrives. The software renderer draws a few frames a second: each try lets the
    // mouse go (Esc, should a click have missed and grabbed it), hovers the button for
    // some frames and clicks.
    let travelled = poll(std::time::Duration::from_secs(60), || {
        x_tool(display, "xdotool", &["windowfocus", &window]);
        x_tool(display, "xdotool", &["key", "Escape"]);
        x_tool(display, "xdotool", &["mousemove", "449", "495"]);
        std::thread::sleep(std::time::Duration::from_secs(2));
        x_tool(display, "xdotool", &["click", "1"]);
        std::thread::sleep(std::time::Duration::from_secs(2));
        read_log()
            .contains("travelling to cinema")
            .then_some(String::new())
    })
    .is_some();
    drop(client);
    (travelled, read_log())
}

#[test]
fn the_mouse_clicks_a_panel_in_the_world_and_low_quality_draws_a_quarter_of_the_pixels() {
    let display = VirtualDisplay::start();
    let folder = scratch("quality");
    let mut shots = Vec::new();
    for quality in ["high", "low"] {
        let (travelled, log) = click_go_there(&display, quality);
        assert!(
            travelled,
            "{quality}: the click went to the Directory's button:\n{log}"
        );
        let drawn_smaller = log.contains("the world is drawn at 640x360 and stretched over the window");
        assert_eq!(drawn_smaller, quality == "low", "{quality}:\n{log}");
        let shot = folder.join(format!("lobby-{quality}.png"));
        shots.push(space_screenshot(
            &display,
            "lobby",
            30,
            &scratch("data"),
            &shot,
            &["--quality", quality],
        ));
    }
    let (high, low) = (&shots[0], &shots[1]);
    assert_eq!((low.width, low.height), (high.width, high.height));
    // The smaller picture fills the whole window: each quarter of the window looks as it
    // does at high quality (the point lights off darken it a little).
    let quarter = |stats: &PixelStats, qx: u32, qy: u32| -> f64 {
        let (w, h) = (stats.width / 2, stats.height / 2);
        let mut sum = 0.0;
        for y in qy * h..(qy + 1) * h {
            for x in qx * w..(qx + 1) * w {
                let p = stats.pixels[(y * stats.width + x) as usize];
                sum += 0.299 * f64::from(p[0]) + 0.587 * f64::from(p[1]) + 0.114 * f64::from(p[2]);
            }
        }
        sum / f64::from(w * h)
    };
    for (qx, qy) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
        let (a, b) = (quarter(high, qx, qy), quarter(low, qx, qy));
        assert!(
            (a - b).abs() < 25.0 && b > 20.0,
            "quarter {qx},{qy}: high {a:.1}, low {b:.1}"
        );
    }
    let diff = difference(high, low);
    assert!(
        diff < 20.0,
        "the same view at both qualities (mean difference {diff:.1})"
    );
}
