//! The wallet app in a headless client against a real local chain: make a wallet, type
//! back its words, receive test funds, pay someone here by name after confirming exactly
//! what is signed, and refuse a wrong passphrase without sending anything.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bevy::prelude::*;
use sanctuary_plugin_api::host::AppsHostPlugin;
use sanctuary_plugin_api::{Grants, PeerId, Person, SanctuaryApp, SanctuaryAppExt, WorldView};
use sanctuary_wallet::wire::WalletMessage;
use sanctuary_wallet::{Directory, WalletAction, WalletApp, WalletState};
use sanctuary_wallet_core::{Address, Chain, LocalChain, Secret, TransferStatus, U256, parse_amount};

const PASSPHRASE: &str = "a good passphrase";
const PATIENCE: Duration = Duration::from_secs(30);

fn folder(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sanctuary-wallet-app-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A headless client with only the wallet app, allowed what it asks for, on the chain at `rpc`.
fn client(data: &Path, rpc: &str) -> App {
    let wallet_dir = data.join("apps/wallet");
    std::fs::create_dir_all(&wallet_dir).unwrap();
    let network =
        format!(r#"[{{"name": "test chain", "chain_id": 31337, "rpc_url": "{rpc}", "test": true}}]"#);
    std::fs::write(wallet_dir.join("networks.json"), network).unwrap();
    let mut grants = Grants::load(data);
    for permission in WalletApp::MANIFEST.permissions {
        grants.grant(WalletApp::MANIFEST.name, permission);
    }
    grants.save().unwrap();
    let mut app = App::new();
    app.add_plugins(MinimalPlugins)
        .add_plugins(AppsHostPlugin {
            data_dir: Some(data.to_path_buf()),
        })
        .add_sanctuary_app(WalletApp);
    app
}

fn state(app: &App) -> &WalletState {
    app.world().resource::<WalletState>()
}

fn run_until(app: &mut App, what: &str, done: impl Fn(&WalletState) -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !done(state(app)) {
        assert!(
            Instant::now() < deadline,
            "gave up waiting for {what}; last message: {:?}",
            state(app).message
        );
        app.update();
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn act(app: &mut App, action: WalletAction) {
    app.world_mut().write_message(action);
}

fn secret(text: &str) -> Secret {
    Secret::new(text)
}

fn problem(state: &WalletState) -> Option<&str> {
    state
        .message
        .as_ref()
        .filter(|(_, problem)| *problem)
        .map(|(text, _)| text.as_str())
}

#[test]
fn a_person_makes_a_wallet_and_pays_someone_here_by_name_after_confirming() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let local = runtime.block_on(LocalChain::start(None)).unwrap();
    let chain = runtime.block_on(Chain::probe(local.rpc_url())).unwrap();
    let data = folder("flow");
    let mut app = client(&data, local.rpc_url());
    app.update();
    assert!(!state(&app).snapshot.exists);
    assert!(
        state(&app).snapshot.network.is_none(),
        "no chain before there is a wallet"
    );

    act(
        &mut app,
        WalletAction::Create {
            passphrase: secret(PASSPHRASE),
        },
    );
    run_until(&mut app, "the new wallet's words", |state| {
        state.words.is_some() && state.snapshot.exists && state.snapshot.network.is_some()
    });
    let words = state(&app).words.clone().unwrap();
    assert_eq!(words.split(' ').count(), 12);
    for file in ["keystore.json", "wallet.json"] {
        let text = std::fs::read_to_string(data.join("apps/wallet").join(file)).unwrap();
        assert!(!text.contains(words.expose()), "the words are in {file}");
    }
    act(&mut app, WalletAction::ConfirmBackup);
    run_until(&mut app, "the backup noted", |state| {
        state.snapshot.backed_up && state.words.is_none()
    });

    let me = state(&app).snapshot.accounts[0].address;
    let ten = parse_amount("10", 18).unwrap();
    let _: serde_json::Value = runtime
        .block_on(chain.raw("anvil_setBalance", (me, ten)))
        .unwrap();
    run_until(&mut app, "the balance", |state| {
        state.snapshot.accounts[0].balance == Some(ten)
    });

    // Ada is here and her wallet published her address (signed, like every app message).
    let ada = PeerId::from_bytes([0xad; 32]);
    let ada_address = Address::repeat_byte(0xad);
    app.world_mut().resource_mut::<WorldView>().people = vec![Person {
        id: ada,
        name: "Ada".into(),
        space: "market".into(),
    }];
    app.world_mut().resource_mut::<Directory>().learn(
        ada,
        WalletMessage::Address {
            address: ada_address.into_array(),
            chain_id: 31337,
        },
    );

    act(
        &mut app,
        WalletAction::Review {
            account: 0,
            to: "Linus".into(),
            amount: "1".into(),
            memo: None,
        },
    );
    run_until(&mut app, "a refusal", |state| {
        problem(state).is_some_and(|text| text.contains("nobody"))
    });

    act(&mut app, WalletAction::Lock);
    act(
        &mut app,
        WalletAction::Review {
            account: 0,
            to: "ada".into(),
            amount: "1.25".into(),
            memo: Some("tea".into()),
        },
    );
    run_until(&mut app, "the plan", |state| state.plan.is_some());
    let pending = state(&app).plan.clone().unwrap();
    assert_eq!(
        (pending.plan.to, pending.plan.value),
        (ada_address, parse_amount("1.25", 18).unwrap())
    );
    assert_eq!((pending.plan.chain_id, pending.plan.from), (31337, me));
    assert!(pending.recipient.contains("Ada"), "{}", pending.recipient);
    assert!(!state(&app).snapshot.unlocked);

    act(
        &mut app,
        WalletAction::Confirm {
            passphrase: Some(secret("not the passphrase")),
        },
    );
    run_until(&mut app, "the wrong passphrase refused", |state| {
        problem(state).is_some_and(|text| text.contains("wrong passphrase"))
    });
    assert!(state(&app).snapshot.history.is_empty(), "nothing signed");
    assert!(
        state(&app).plan.is_some(),
        "the plan waits for the right passphrase"
    );

    act(
        &mut app,
        WalletAction::Confirm {
            passphrase: Some(secret(PASSPHRASE)),
        },
    );
    run_until(&mut app, "the confirmed transfer", |state| {
        state
            .snapshot
            .history
            .iter()
            .any(|transfer| matches!(transfer.status, TransferStatus::Confirmed { .. }))
    });
    assert!(state(&app).plan.is_none());
    assert_eq!(
        runtime.block_on(chain.balance(ada_address)).unwrap(),
        parse_amount("1.25", 18).unwrap()
    );
    let history = &state(&app).snapshot.history;
    assert_eq!((history.len(), history[0].memo.as_deref()), (1, Some("tea")));
    run_until(&mut app, "the lower balance", |state| {
        state.snapshot.accounts[0]
            .balance
            .is_some_and(|balance| balance < ten - parse_amount("1.25", 18).unwrap())
    });

    // A restarted client finds the same wallet, locked, with its history.
    drop(app);
    let mut again = client(&data, local.rpc_url());
    run_until(&mut again, "the reopened wallet", |state| {
        state.snapshot.exists && !state.snapshot.history.is_empty()
    });
    assert!(!state(&again).snapshot.unlocked);
    assert_eq!(state(&again).snapshot.accounts[0].address, me);
    assert!(
        state(&again).snapshot.accounts[0]
            .balance
            .is_some_and(|balance| balance > U256::ZERO)
    );
    runtime.block_on(local.stop());
}
