//! A trade between two real processes on loopback, paid on a real local chain (anvil,
//! started by the test): a seller lists a file and keeps a stall open, a buyer finds the
//! listing, orders, pays and receives the very bytes; a second buyer of the last unit is
//! refused before paying anything.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use sanctuary_wallet_core::{Address, Chain, LocalChain, parse_amount};

const PASSPHRASE: &str = "a good passphrase";

fn folder(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sanctuary-market-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn node(data: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_sanctuary-node"));
    command
        .args(args)
        .arg("--data-dir")
        .arg(data)
        .env("SANCTUARY_WALLET_PASSPHRASE", PASSPHRASE)
        .env("RUST_LOG", "error")
        .env("RUST_BACKTRACE", "0")
        .stdin(Stdio::null());
    command
}

fn run(data: &Path, args: &[&str]) -> Output {
    node(data, args).output().unwrap()
}

fn stdout(output: &Output) -> String {
    assert!(
        output.status.success(),
        "failed: {}\n{}",
        String::from_utf8_lossy(&output.stderr),
        String::from_utf8_lossy(&output.stdout)
    );
    String::from_utf8(output.stdout.clone()).unwrap()
}

/// A new wallet in `data`; its first address.
fn new_wallet(data: &Path) -> Address {
    let created = stdout(&run(data, &["wallet", "new"]));
    let line = created
        .lines()
        .find_map(|line| line.strip_prefix("address: "))
        .unwrap();
    line.parse().unwrap()
}

/// The arguments that put a command in the world of `ticket`, on loopback, paying on
/// `rpc`.
fn in_world<'a>(ticket: &'a str, rpc: &'a str) -> [&'a str; 6] {
    ["--join", ticket, "--bind", "127.0.0.1:0", "--rpc", rpc]
}

/// The line `buyer` lists for the listing titled `title`, found by `search`. It listens
/// for 12 seconds, longer than a seller takes to publish its listings again (10 s), so a
/// join slowed by a busy machine still hears them.
fn find_listing(buyer: &Path, world: [&str; 6], search: &str, title: &str) -> String {
    let mut args = vec!["market", "list", "--search", search, "--seconds", "12"];
    args.extend(world);
    let listing = stdout(&run(buyer, &args));
    listing
        .lines()
        .find(|line| line.contains(title))
        .unwrap_or_else(|| panic!("{title} not listed: {listing}"))
        .to_owned()
}

/// `buyer` buys the listing of `line` (as `find_listing` gave it), saving the goods to `out`;
/// what it printed.
fn buy(buyer: &Path, world: [&str; 6], line: &str, out: &Path) -> String {
    let reference = line.split_whitespace().next().unwrap();
    let mut args = vec![
        "market",
        "buy",
        reference,
        "--yes",
        "--out",
        out.to_str().unwrap(),
        "--seconds",
        "90",
    ];
    args.extend(world);
    stdout(&run(buyer, &args))
}

/// The seller's stall as a child process, with its output lines arriving on a channel.
struct Stall {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Stall {
    fn wait_for(&mut self, prefix: &str) -> String {
        loop {
            let line = self
                .lines
                .recv_timeout(Duration::from_secs(60))
                .unwrap_or_else(|_| panic!("the stall never printed {prefix:?}; it printed {:?}", self.seen));
            self.seen.push(line.clone());
            if line.starts_with(prefix) {
                return line;
            }
        }
    }
}

impl Stall {
    /// Starts `command`, its output lines arriving on a channel.
    fn spawn(mut command: Command) -> Self {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let (sender, lines) = mpsc::channel();
        let out = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        Self {
            child,
            lines,
            seen: Vec::new(),
        }
    }
}

impl Drop for Stall {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn a_listed_file_is_ordered_paid_on_chain_and_delivered_to_the_buyer() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let local = runtime.block_on(LocalChain::start(None)).unwrap();
    let chain = runtime.block_on(Chain::connect(local.network())).unwrap();
    let rpc = local.network().rpc_url.clone();

    let (seller, buyer, late) = (folder("seller"), folder("buyer"), folder("late"));
    let paid_to = new_wallet(&seller);
    for data in [&buyer, &late] {
        let address = new_wallet(data);
        assert!(
            runtime
                .block_on(LocalChain::fund_if_empty(&chain, address))
                .unwrap()
        );
    }

    let goods: Vec<u8> = (0..300_000u32).map(|n| (n * 7 % 251) as u8).collect();
    let file = seller.join("soundtrack.ogg");
    std::fs::write(&file, &goods).unwrap();
    let cover = seller.join("cover.png");
    std::fs::write(&cover, b"\x89PNG\r\n\x1a\n a cover, as far as this test cares").unwrap();
    let listed = stdout(&run(
        &seller,
        &[
            "market",
            "sell",
            file.to_str().unwrap(),
            "--title",
            "Lobby soundtrack",
            "--description",
            "Twelve songs for a tall room",
            "--picture",
            cover.to_str().unwrap(),
            "--price",
            "0.25",
            "--quantity",
            "1",
            "--rpc",
            &rpc,
        ],
    ));
    assert!(listed.contains("Lobby soundtrack for 0.25 ETH"), "{listed}");
    let picture = listed
        .lines()
        .find_map(|line| line.strip_prefix("picture "))
        .and_then(|rest| rest.split(',').next())
        .unwrap_or_else(|| panic!("no picture: {listed}"))
        .to_owned();

    let mut stall = Stall::spawn(node(
        &seller,
        &[
            "market",
            "serve",
            "--host",
            "--bind",
            "127.0.0.1:0",
            "--seconds",
            "120",
            "--rpc",
            &rpc,
        ],
    ));
    let ticket = stall
        .wait_for("ticket: ")
        .trim_start_matches("ticket: ")
        .to_owned();
    stall.wait_for("stall open");

    // The buyer finds it by a word of its description.
    let world = in_world(&ticket, &rpc);
    let line = find_listing(&buyer, world, "tall", "Lobby soundtrack");
    assert!(line.contains("0.25 ETH") && line.contains("1 left"), "{line}");
    assert!(line.contains(&format!("(picture {picture})")), "{line}");
    let reference = line.split_whitespace().next().unwrap().to_owned();

    let before = runtime.block_on(chain.balance(paid_to)).unwrap();
    let received = buyer.join("bought.ogg");
    let bought = buy(&buyer, world, &line, &received);
    let plan = bought
        .lines()
        .find_map(|line| line.strip_prefix("to sign: "))
        .unwrap();
    assert!(
        plan.contains("0.25 ETH") && plan.contains(&paid_to.to_string()) && plan.contains("reference 0x"),
        "{plan}"
    );
    assert!(bought.contains("received "), "{bought}");
    assert_eq!(std::fs::read(&received).unwrap(), goods, "the very bytes listed");
    assert_eq!(
        runtime.block_on(chain.balance(paid_to)).unwrap() - before,
        parse_amount("0.25", 18).unwrap(),
        "the seller was paid the price, once"
    );
    stall.wait_for("delivered order");

    // Both sides see the trade complete.
    let history = stdout(&run(&buyer, &["market", "history"]));
    assert!(
        history.contains("bought Lobby soundtrack") && history.contains("complete"),
        "{history}"
    );
    let wallet_history = stdout(&run(&buyer, &["wallet", "history", "--rpc", &rpc]));
    assert!(
        wallet_history.contains("market: Lobby soundtrack"),
        "{wallet_history}"
    );

    // The last unit is gone: a second buyer is refused before paying anything.
    let late_address = stdout(&run(&late, &["wallet", "address"]));
    let late_address: Address = late_address
        .trim()
        .trim_start_matches("address: ")
        .parse()
        .unwrap();
    let funds = runtime.block_on(chain.balance(late_address)).unwrap();
    let mut args = vec!["market", "buy", reference.as_str(), "--yes", "--seconds", "30"];
    args.extend(world);
    let refused = run(&late, &args);
    assert!(!refused.status.success());
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(
        said.contains("not bought") && (said.contains("sold out") || said.contains("not offered")),
        "{said}"
    );
    assert_eq!(
        runtime.block_on(chain.balance(late_address)).unwrap(),
        funds,
        "nothing was paid"
    );

    let sold = stdout(&run(&seller, &["market", "history"]));
    assert!(
        sold.contains("sold Lobby soundtrack") && sold.contains("complete"),
        "{sold}"
    );
    drop(stall);
    runtime.block_on(local.stop());
}

#[test]
fn a_home_node_keeps_its_persons_stall_open_in_their_world_and_sells_from_it() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let local = runtime.block_on(LocalChain::start(None)).unwrap();
    let chain = runtime.block_on(Chain::connect(local.network())).unwrap();
    let rpc = local.network().rpc_url.clone();
    let (home, stall_dir, buyer) = (folder("home-node"), folder("home-stall"), folder("home-buyer"));
    let paid_to = new_wallet(&stall_dir);
    let buyer_address = new_wallet(&buyer);
    assert!(
        runtime
            .block_on(LocalChain::fund_if_empty(&chain, buyer_address))
            .unwrap()
    );
    let file = stall_dir.join("map.txt");
    std::fs::write(&file, b"the way to the top of the lobby").unwrap();
    stdout(&run(
        &stall_dir,
        &[
            "market",
            "sell",
            file.to_str().unwrap(),
            "--title",
            "Lobby map",
            "--price",
            "0.1",
            "--rpc",
            &rpc,
        ],
    ));

    // The node keeps the world, and the stall in its market; the person's client is off.
    let assets = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../assets");
    let mut served = Stall::spawn(node(
        &home,
        &[
            "serve",
            "--name",
            "Ana",
            "--bind",
            "127.0.0.1:0",
            "--host-world",
            "--assets",
            assets.to_str().unwrap(),
            "--stall",
            stall_dir.to_str().unwrap(),
            "--rpc",
            &rpc,
            "--seconds",
            "120",
        ],
    ));
    let ticket = served
        .wait_for("world: ")
        .trim_start_matches("world: ")
        .to_owned();
    served.wait_for("stall open: 1 listings");

    // Someone in the world finds the listing and buys it from the node.
    let world = in_world(&ticket, &rpc);
    let line = find_listing(&buyer, world, "map", "Lobby map");
    let received = buyer.join("map.txt");
    let bought = buy(&buyer, world, &line, &received);
    assert!(
        bought.contains(&paid_to.to_string()),
        "paid to the stall's wallet: {bought}"
    );
    assert_eq!(
        std::fs::read(&received).unwrap(),
        b"the way to the top of the lobby",
        "the very bytes listed"
    );
    served.wait_for("delivered order");
    drop(served);
    runtime.block_on(local.stop());
    for dir in [home, stall_dir, buyer] {
        let _ = std::fs::remove_dir_all(dir);
    }
}
