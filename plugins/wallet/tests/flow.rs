//! The wallet app in a headless client against a real local chain: make a wallet, type
//! back its words, receive test funds, pay someone here by name after confirming exactly
//! what is signed, and refuse a wrong passphrase without sending anything; and another
//! app's payment request, declined, then confirmed, then checked from the payee's side.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bevy::prelude::*;
use sanctuary_plugin_api::host::AppsHostPlugin;
use sanctuary_plugin_api::{
    AppSetup, CapabilityError, Grants, Manifest, PaymentTerms, PaymentVerdict, PeerId, Permission, Person,
    SanctuaryApp, SanctuaryAppExt, WalletReply, WalletRequest, WalletRequests, WorldView,
};
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

/// Another app that asks the wallet for payments and checks: what it asks and what it hears.
struct Asker;

#[derive(Resource, Default)]
struct Asks(Vec<WalletRequest>);

#[derive(Resource, Default)]
struct Answers(Vec<WalletReply>, Vec<Result<(), CapabilityError>>);

impl SanctuaryApp for Asker {
    const MANIFEST: Manifest = Manifest {
        name: "asker",
        title: "Asker",
        version: "1",
        author: "tests",
        description: "Asks to be paid.",
        permissions: &[Permission::Wallet],
    };

    fn build(&self, setup: &mut AppSetup) {
        setup
            .init_resource::<Asks>()
            .init_resource::<Answers>()
            .add_system(
                |mut wallet: WalletRequests<Asker>, mut asks: ResMut<Asks>, mut answers: ResMut<Answers>| {
                    for ask in asks.0.drain(..) {
                        let result = wallet.request(ask);
                        answers.1.push(result);
                    }
                    answers.0.extend(wallet.replies());
                },
            );
    }
}

/// The same app, installed under another name and never allowed anything.
struct Stranger;

impl SanctuaryApp for Stranger {
    const MANIFEST: Manifest = Manifest {
        name: "stranger",
        ..Asker::MANIFEST
    };

    fn build(&self, setup: &mut AppSetup) {
        setup.add_system(
            |mut wallet: WalletRequests<Stranger>, mut answers: ResMut<Answers>| {
                if answers.1.is_empty() {
                    let ask = WalletRequest::Check {
                        id: 0,
                        transaction: [0; 32],
                        terms: terms(b"x"),
                        confirmations: 1,
                    };
                    answers.1.push(wallet.request(ask));
                }
            },
        );
    }
}

fn terms(reference: &[u8]) -> PaymentTerms {
    PaymentTerms {
        to: [0x51; 20],
        chain_id: 31337,
        token: None,
        amount: parse_amount("0.5", 18).unwrap().to_be_bytes(),
        reference: reference.to_vec(),
    }
}

fn answers(app: &App) -> &Answers {
    app.world().resource::<Answers>()
}

fn wait_answer(app: &mut App, what: &str, found: impl Fn(&WalletReply) -> bool) -> WalletReply {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(reply) = answers(app).0.iter().find(|reply| found(reply)) {
            return reply.clone();
        }
        assert!(
            Instant::now() < deadline,
            "gave up waiting for {what}: {:?}",
            answers(app).0
        );
        app.update();
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn ask(app: &mut App, request: WalletRequest) {
    app.world_mut().resource_mut::<Asks>().0.push(request);
}

#[test]
fn another_app_is_paid_only_what_the_person_confirms_and_can_check_a_payment() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let local = runtime.block_on(LocalChain::start(None)).unwrap();
    let chain = runtime.block_on(Chain::probe(local.rpc_url())).unwrap();
    let data = folder("asked");
    let mut app = client(&data, local.rpc_url());
    let mut grants = Grants::load(&data);
    grants.grant(Asker::MANIFEST.name, &Permission::Wallet);
    grants.save().unwrap();
    app.world_mut().insert_resource(grants);
    app.add_sanctuary_app(Asker).add_sanctuary_app(Stranger);

    act(
        &mut app,
        WalletAction::Create {
            passphrase: secret(PASSPHRASE),
        },
    );
    run_until(&mut app, "the new wallet", |state| {
        state.words.is_some() && state.snapshot.network.is_some()
    });
    act(&mut app, WalletAction::ConfirmBackup);
    let me = state(&app).snapshot.accounts[0].address;
    let ten = parse_amount("10", 18).unwrap();
    let _: serde_json::Value = runtime
        .block_on(chain.raw("anvil_setBalance", (me, ten)))
        .unwrap();
    run_until(&mut app, "the balance", |state| {
        state.snapshot.accounts[0].balance == Some(ten)
    });
    // An app the person did not allow is refused, and the client goes on.
    assert!(
        matches!(
            answers(&app).1.first(),
            Some(Err(CapabilityError::NotGranted { .. }))
        ),
        "{:?}",
        answers(&app).1
    );

    // Asked and declined: nothing is paid.
    let order = b"order 0001";
    ask(
        &mut app,
        WalletRequest::Pay {
            id: 1,
            terms: terms(order),
            memo: "Lobby soundtrack".into(),
        },
    );
    run_until(&mut app, "the request shown", |state| state.requests.len() == 1);
    assert_eq!(state(&app).requests[0].memo, "Lobby soundtrack");
    act(&mut app, WalletAction::DeclineRequest);
    let declined = wait_answer(&mut app, "the refusal", |reply| {
        matches!(reply, WalletReply::Declined { id: 1, .. })
    });
    assert!(matches!(declined, WalletReply::Declined { reason, .. } if reason.contains("declined")));

    // Asked, reviewed (exactly what will be signed, reference included) and confirmed.
    ask(
        &mut app,
        WalletRequest::Pay {
            id: 2,
            terms: terms(order),
            memo: "Lobby soundtrack".into(),
        },
    );
    run_until(&mut app, "the request shown", |state| state.requests.len() == 1);
    act(&mut app, WalletAction::ReviewRequest { account: 0 });
    run_until(&mut app, "the plan", |state| state.plan.is_some());
    let pending = state(&app).plan.clone().unwrap();
    assert_eq!(
        (
            pending.plan.to,
            pending.plan.value,
            pending.plan.reference.as_slice()
        ),
        (
            Address::repeat_byte(0x51),
            parse_amount("0.5", 18).unwrap(),
            &order[..]
        )
    );
    assert!(pending.recipient.contains("asker"), "{}", pending.recipient);
    act(
        &mut app,
        WalletAction::Confirm {
            passphrase: Some(secret(PASSPHRASE)),
        },
    );
    let paid = wait_answer(&mut app, "the payment", |reply| {
        matches!(reply, WalletReply::Paid { id: 2, .. })
    });
    let WalletReply::Paid { transaction, .. } = paid else {
        unreachable!()
    };
    let status = runtime
        .block_on(chain.wait(transaction.into(), PATIENCE))
        .unwrap();
    assert!(matches!(status, TransferStatus::Confirmed { .. }), "{status:?}");
    assert_eq!(
        runtime
            .block_on(chain.balance(Address::repeat_byte(0x51)))
            .unwrap(),
        parse_amount("0.5", 18).unwrap(),
        "paid once, the confirmed amount"
    );

    // Asked again for the same payment (the app did not hear, or restarted): answered with
    // the first transaction, nothing shown to the person, nothing paid twice.
    ask(
        &mut app,
        WalletRequest::Pay {
            id: 6,
            terms: terms(order),
            memo: "Lobby soundtrack".into(),
        },
    );
    let again = wait_answer(&mut app, "the repeated payment", |reply| {
        matches!(reply, WalletReply::Paid { id: 6, .. })
    });
    assert_eq!(again, WalletReply::Paid { id: 6, transaction });
    assert!(state(&app).requests.is_empty());

    // The payee's side: the chain confirms it pays this order, and not another.
    for (id, reference) in [(3, &order[..]), (4, &b"order 0002"[..])] {
        ask(
            &mut app,
            WalletRequest::Check {
                id,
                transaction,
                terms: terms(reference),
                confirmations: 1,
            },
        );
    }
    let right = wait_answer(&mut app, "the check", |reply| {
        matches!(reply, WalletReply::Checked { id: 3, .. })
    });
    assert!(
        matches!(right, WalletReply::Checked { id: 3, verdict: PaymentVerdict::Paid { from, .. } } if from == me.into_array()),
        "{right:?}"
    );
    let wrong = wait_answer(&mut app, "the other check", |reply| {
        matches!(reply, WalletReply::Checked { id: 4, .. })
    });
    assert!(
        matches!(&wrong, WalletReply::Checked { verdict: PaymentVerdict::Wrong(why), .. } if why.contains("reference")),
        "{wrong:?}"
    );

    // Where the person is paid: their first account, on the wallet's network.
    ask(&mut app, WalletRequest::Account { id: 5 });
    let account = wait_answer(&mut app, "the account", |reply| {
        matches!(reply, WalletReply::Account { id: 5, .. })
    });
    let WalletReply::Account { account, .. } = account else {
        unreachable!()
    };
    assert_eq!(
        (account.address, account.chain_id, account.test),
        (me.into_array(), 31337, true)
    );
    drop(app);
    runtime.block_on(local.stop());
}
