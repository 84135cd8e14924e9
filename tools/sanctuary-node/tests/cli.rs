//! The command line's answers to bad input. Also makes `cargo test` build the
//! `sanctuary-node` binary, which the client's real-process tests run.

use std::process::Command;

fn node_tool() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sanctuary-node"))
}

#[test]
fn a_wrong_ticket_is_a_clear_error() {
    for subcommand in ["watch", "bots"] {
        let output = node_tool()
            .args([subcommand, "--seconds", "1", "--join", "sanctuary1notaticket"])
            .output()
            .expect("runs");
        assert!(!output.status.success(), "{subcommand} refused it");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("not a Sanctuary ticket"),
            "{subcommand}: {stderr}"
        );
    }
}

#[test]
fn an_unknown_subcommand_is_refused_and_help_lists_the_real_ones() {
    let output = node_tool().arg("fly").output().expect("runs");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("unrecognized subcommand 'fly'"), "{stderr}");
    let help = node_tool().arg("--help").output().expect("runs");
    assert!(help.status.success());
    let stdout = String::from_utf8_lossy(&help.stdout);
    for known in ["bots", "watch", "latency"] {
        assert!(stdout.contains(known), "{stdout}");
    }
}
