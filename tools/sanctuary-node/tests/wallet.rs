//! `sanctuary-node wallet` as a person or a script would run it: a new wallet with test
//! funds on the local chain, a transfer with its plan and history, a restore from the
//! printed words, and refusals (wrong passphrase, no confirmation) that send nothing.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const PASSPHRASE: &str = "a good passphrase";
const RECIPIENT: &str = "0x4242424242424242424242424242424242424242";

fn folder(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sanctuary-wallet-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs `sanctuary-node wallet ARGS --data-dir DATA`, with the passphrase in the environment.
fn wallet(data: &Path, passphrase: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sanctuary-node"))
        .arg("wallet")
        .args(args)
        .arg("--data-dir")
        .arg(data)
        .env("SANCTUARY_WALLET_PASSPHRASE", passphrase)
        .env("RUST_LOG", "error")
        .env("RUST_BACKTRACE", "0")
        .env("RUST_LIB_BACKTRACE", "0")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn stdout(output: &Output) -> String {
    assert!(
        output.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone()).unwrap()
}

/// The value of the first line starting with `key: `.
fn field(text: &str, key: &str) -> String {
    text.lines()
        .find_map(|line| line.strip_prefix(&format!("{key}: ")))
        .unwrap_or_else(|| panic!("no {key} in:\n{text}"))
        .to_string()
}

fn balance(data: &Path) -> String {
    field(&stdout(&wallet(data, PASSPHRASE, &["balance"])), "balance")
}

#[test]
fn a_new_wallet_pays_on_the_local_chain_and_restores_from_its_words() {
    let data = folder("main");
    let created = stdout(&wallet(&data, PASSPHRASE, &["new"]));
    let address = field(&created, "address");
    let words = field(&created, "words");
    assert_eq!(words.split(' ').count(), 12);
    assert_eq!(
        field(&stdout(&wallet(&data, "", &["address"])), "address"),
        address,
        "no passphrase to read it"
    );
    assert_eq!(balance(&data), "100 ETH", "test funds on the local chain");

    let sent = stdout(&wallet(
        &data,
        PASSPHRASE,
        &["send", RECIPIENT, "2.5", "--yes", "--memo", "rent"],
    ));
    let plan = field(&sent, "plan");
    assert!(
        plan.contains("2.5 ETH") && plan.contains(RECIPIENT) && plan.contains("not real money"),
        "{plan}"
    );
    let hash = field(&sent, "sent");
    assert!(field(&sent, "status").starts_with("confirmed in block"), "{sent}");

    // The chain remembers between runs: the balance went down by the amount and a fee.
    let after = balance(&data);
    let left: f64 = after.trim_end_matches(" ETH").parse().unwrap();
    assert!(left < 97.5 && left > 97.49, "{after}");
    let history = stdout(&wallet(&data, PASSPHRASE, &["history"]));
    assert!(
        history.contains(&hash) && history.contains("2.5 ETH") && history.contains("(rent)"),
        "{history}"
    );

    // Refusals send nothing.
    let wrong = wallet(&data, "not the passphrase", &["send", RECIPIENT, "1", "--yes"]);
    assert!(!wrong.status.success());
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("wrong passphrase"));
    let unconfirmed = wallet(&data, PASSPHRASE, &["send", RECIPIENT, "1"]);
    assert!(String::from_utf8_lossy(&unconfirmed.stderr).contains("--yes"));
    let too_much = wallet(&data, PASSPHRASE, &["send", RECIPIENT, "1000", "--yes"]);
    assert!(String::from_utf8_lossy(&too_much.stderr).contains("not enough funds"));
    let nonsense = wallet(&data, PASSPHRASE, &["send", "bob", "1", "--yes"]);
    assert!(String::from_utf8_lossy(&nonsense.stderr).contains("not an address"));
    assert_eq!(balance(&data), after);
    assert_eq!(
        stdout(&wallet(&data, PASSPHRASE, &["history"])).lines().count(),
        1
    );

    // A second `new` never replaces the wallet.
    let again = wallet(&data, PASSPHRASE, &["new"]);
    assert!(String::from_utf8_lossy(&again.stderr).contains("never replaced"));

    // The words restore the same address elsewhere, read from standard input.
    let elsewhere = folder("restored");
    let mut restore = Command::new(env!("CARGO_BIN_EXE_sanctuary-node"))
        .args(["wallet", "new", "--restore", "--data-dir"])
        .arg(&elsewhere)
        .env("SANCTUARY_WALLET_PASSPHRASE", "another passphrase")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    writeln!(restore.stdin.take().unwrap(), "{words}").unwrap();
    let restored = stdout(&restore.wait_with_output().unwrap());
    assert_eq!(field(&restored, "restored"), address);
    std::fs::remove_dir_all(&data).unwrap();
    std::fs::remove_dir_all(&elsewhere).unwrap();
}
