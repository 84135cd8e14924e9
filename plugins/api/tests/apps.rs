//! Apps as the client runs them: each permission refused until granted, revocation
//! taking effect at once, and a failing app stopped without taking the client down.

use bevy::ecs::system::RunSystemOnce;
use bevy::prelude::*;
use sanctuary_plugin_api::host::{
    AppMail, AppPanels, AppsHostPlugin, BlobMail, Delivery, WalletMail, draw_panel,
};
use sanctuary_plugin_api::prelude::*;
use sanctuary_plugin_api::{AppName, AppStatus, Grants, InstalledApps, PeerId, SanctuaryAppExt};
use sanctuary_protocols::{AppMessage, AppPayload};

/// Sends one message a frame and keeps what each send returned.
struct Talker;

#[derive(Resource, Default)]
struct Sent(Vec<Result<(), CapabilityError>>);

#[derive(Resource, Default)]
struct Heard(Vec<Vec<u8>>);

#[derive(Resource, Default)]
struct PanelDrawn(u32);

impl SanctuaryApp for Talker {
    const MANIFEST: Manifest = Manifest {
        name: "talker",
        title: "Talker",
        version: "1",
        author: "tests",
        description: "Talks.",
        permissions: &[
            Permission::Messages,
            Permission::Spawn { spaces: &["market"] },
            Permission::Panels,
        ],
    };

    fn build(&self, setup: &mut AppSetup) {
        setup
            .init_resource::<Sent>()
            .init_resource::<Heard>()
            .add_system(
                |mut messages: AppMessages<Talker>, mut sent: ResMut<Sent>, mut heard: ResMut<Heard>| {
                    let result = messages.send(b"hello".to_vec());
                    sent.0.push(result);
                    heard
                        .0
                        .extend(messages.read().into_iter().map(|message| message.bytes));
                },
            )
            .init_resource::<PanelDrawn>()
            .add_panel(
                PanelSpec::standard("talker", "Talker"),
                |InMut(ui): InMut<egui::Ui>, mut drawn: ResMut<PanelDrawn>| {
                    ui.label("talker's own panel");
                    drawn.0 += 1;
                },
            );
    }
}

/// Counts frames and panics on the third.
struct Crasher;

#[derive(Resource, Default)]
struct Frames(u32);

impl SanctuaryApp for Crasher {
    const MANIFEST: Manifest = Manifest {
        name: "crasher",
        title: "Crasher",
        version: "1",
        author: "tests",
        description: "Fails.",
        permissions: &[Permission::Panels],
    };

    fn build(&self, setup: &mut AppSetup) {
        setup
            .init_resource::<Frames>()
            .add_system(|mut frames: ResMut<Frames>| {
                frames.0 += 1;
                assert!(frames.0 < 3, "crasher fails on purpose");
            });
    }
}

fn folder(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("sanctuary-api-{name}-{}", std::process::id()));
    std::fs::remove_dir_all(&dir).ok();
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn client(name: &str) -> App {
    let mut app = App::new();
    app.add_plugins(MinimalPlugins)
        .add_plugins(AppsHostPlugin {
            data_dir: Some(folder(name)),
        })
        .add_sanctuary_app(Talker)
        .add_sanctuary_app(Crasher);
    app.update();
    app
}

fn sent(app: &App) -> Vec<Result<(), CapabilityError>> {
    app.world().resource::<Sent>().0.clone()
}

fn grant(app: &mut App, permission: Permission) {
    app.world_mut()
        .resource_mut::<Grants>()
        .grant("talker", &permission);
}

#[test]
fn messages_need_a_grant_and_stop_when_it_is_revoked() {
    let mut app = client("messages");
    let refused = CapabilityError::NotGranted {
        app: "talker".into(),
        permission: Permission::Messages.to_string(),
    };
    assert_eq!(sent(&app), vec![Err(refused.clone())]);
    assert!(
        app.world_mut()
            .resource_mut::<AppMail>()
            .take_outgoing()
            .is_empty()
    );

    grant(&mut app, Permission::Messages);
    app.update();
    assert_eq!(sent(&app).last(), Some(&Ok(())));
    let out = app.world_mut().resource_mut::<AppMail>().take_outgoing();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].app.as_str(), "talker");
    assert_eq!(out[0].payload.as_bytes(), b"hello");

    // What another copy sent arrives, and nothing for an app not installed here.
    let from = PeerId::from_bytes([9; 32]);
    let message = |app: &str| AppMessage {
        app: AppName::new(app).unwrap(),
        payload: AppPayload::new(b"hi".to_vec()).unwrap(),
    };
    let deliver = |app: &mut App, name: &str| {
        let world = app.world_mut();
        let installed = world.resource::<InstalledApps>().clone();
        let grants = std::mem::take(&mut *world.resource_mut::<Grants>());
        let result = world
            .resource_mut::<AppMail>()
            .deliver(from, message(name), &installed, &grants);
        *world.resource_mut::<Grants>() = grants;
        result
    };
    assert_eq!(deliver(&mut app, "talker"), Delivery::Queued);
    assert_eq!(deliver(&mut app, "unknown"), Delivery::NotInstalled);
    app.update();
    assert_eq!(app.world().resource::<Heard>().0, vec![b"hi".to_vec()]);

    app.world_mut()
        .resource_mut::<Grants>()
        .revoke("talker", &Permission::Messages);
    app.update();
    assert_eq!(sent(&app).last(), Some(&Err(refused)));
    assert_eq!(deliver(&mut app, "talker"), Delivery::NotAllowed);
}

#[test]
fn sending_faster_than_the_budget_is_refused() {
    let mut app = client("budget");
    grant(&mut app, Permission::Messages);
    for _ in 0..30 {
        app.update();
    }
    let results = sent(&app);
    assert!(results.iter().filter(|result| result.is_ok()).count() >= 10);
    assert!(
        results.contains(&Err(CapabilityError::TooFast { app: "talker".into() })),
        "{results:?}"
    );
}

#[test]
fn a_panicking_app_is_stopped_and_the_client_goes_on() {
    let mut app = client("panic");
    grant(&mut app, Permission::Messages);
    for _ in 0..5 {
        app.update();
    }
    let installed = app.world().resource::<InstalledApps>();
    assert!(matches!(
        &installed.get("crasher").unwrap().status,
        AppStatus::Stopped { reason } if reason.contains("crasher fails on purpose")
    ));
    assert!(installed.is_running("talker"));
    assert_eq!(
        app.world().resource::<Frames>().0,
        3,
        "not run again after failing"
    );
    assert_eq!(sent(&app).len(), 6, "the other app ran every frame");
}

#[test]
fn objects_need_a_grant_for_the_space_and_leave_with_the_person() {
    #[derive(Resource, Default)]
    struct Tries(Vec<Result<(), CapabilityError>>);

    let mut app = client("spawn");
    app.init_resource::<Tries>();
    let place = app.register_system(
        |mut spawner: AppSpawner<Talker>, view: Res<WorldView>, mut tries: ResMut<Tries>| {
            let space = view.space.clone().unwrap_or_default();
            tries.0.push(spawner.spawn(&space, Name::new("lamp")).map(|_| ()));
        },
    );
    let objects = |app: &mut App| app.world_mut().query::<&AppEntity>().iter(app.world()).count();
    let go = |app: &mut App, space: &str| {
        app.world_mut().resource_mut::<WorldView>().space = Some(space.into());
        app.update();
        app.world_mut().run_system(place).unwrap();
        app.update();
    };
    go(&mut app, "market");
    go(&mut app, "lobby");
    let market = Permission::Spawn { spaces: &["market"] };
    grant(&mut app, market);
    go(&mut app, "lobby");
    go(&mut app, "market");
    let tries = app.world().resource::<Tries>().0.clone();
    assert!(
        matches!(tries[0], Err(CapabilityError::NotGranted { .. })),
        "{tries:?}"
    );
    assert!(
        matches!(tries[1], Err(CapabilityError::SpaceNotAllowed { .. })),
        "{tries:?}"
    );
    assert!(
        matches!(tries[2], Err(CapabilityError::SpaceNotAllowed { .. })),
        "{tries:?}"
    );
    assert_eq!(tries[3], Ok(()));
    assert_eq!(objects(&mut app), 1);

    app.world_mut().resource_mut::<WorldView>().space = Some("lobby".into());
    app.update();
    assert_eq!(objects(&mut app), 0, "gone when the person leaves the space");

    go(&mut app, "market");
    assert_eq!(objects(&mut app), 1);
    app.world_mut().resource_mut::<Grants>().revoke("talker", &market);
    app.update();
    assert_eq!(objects(&mut app), 0, "gone when the grant is taken back");
}

#[test]
fn panels_draw_only_when_allowed_and_a_panicking_panel_stops_its_app() {
    let mut app = client("panels");
    let panels = std::mem::take(&mut app.world_mut().resource_mut::<AppPanels>().panels);
    assert_eq!(panels.len(), 1);
    assert_eq!(panels[0].app, "talker");
    let draw = |app: &mut App, name: &str, system| {
        let ctx = egui::Context::default();
        let mut output = ctx.run_ui(egui::RawInput::default(), |ui| {
            draw_panel(app.world_mut(), name, system, ui)
        });
        output.textures_delta.clear();
    };
    draw(&mut app, "talker", panels[0].draw);
    assert_eq!(app.world().resource::<PanelDrawn>().0, 0, "not allowed yet");
    grant(&mut app, Permission::Panels);
    draw(&mut app, "talker", panels[0].draw);
    assert_eq!(app.world().resource::<PanelDrawn>().0, 1);

    let crashing = app.register_system(|InMut(_ui): InMut<egui::Ui>| panic!("panel fails on purpose"));
    app.world_mut()
        .resource_mut::<Grants>()
        .grant("crasher", &Permission::Panels);
    draw(&mut app, "crasher", crashing);
    let installed = app.world().resource::<InstalledApps>();
    assert!(matches!(
        &installed.get("crasher").unwrap().status,
        AppStatus::Stopped { reason } if reason.contains("panel fails on purpose")
    ));
    assert!(installed.is_running("talker"));
}

/// Asks for one blob each frame and keeps what each request returned and what came back.
struct Filer;

#[derive(Resource, Default)]
struct Asked(Vec<Result<(), CapabilityError>>, Vec<BlobReply>, Vec<bool>);

impl SanctuaryApp for Filer {
    const MANIFEST: Manifest = Manifest {
        name: "filer",
        title: "Filer",
        version: "1",
        author: "tests",
        description: "Reads files.",
        permissions: &[Permission::Blobs],
    };

    fn build(&self, setup: &mut AppSetup) {
        setup
            .init_resource::<Asked>()
            .add_system(|mut blobs: Blobs<Filer>, mut asked: ResMut<Asked>| {
                let result = blobs.request(BlobRequest::Read(BlobHash::from_bytes([1; 32])));
                asked.0.push(result);
                let replies = blobs.replies();
                asked.1.extend(replies);
                let sees_library = blobs.library().is_ok();
                asked.2.push(sees_library);
            });
    }
}

#[test]
fn blobs_need_a_grant_and_answers_stop_when_it_is_revoked() {
    let mut app = App::new();
    app.add_plugins(MinimalPlugins)
        .add_plugins(AppsHostPlugin {
            data_dir: Some(folder("blobs")),
        })
        .add_sanctuary_app(Filer);
    app.update();
    let asked = |app: &App| {
        let asked = app.world().resource::<Asked>();
        (asked.0.last().cloned(), asked.1.len(), asked.2.last().copied())
    };
    let refused = CapabilityError::NotGranted {
        app: "filer".into(),
        permission: Permission::Blobs.to_string(),
    };
    assert_eq!(asked(&app), (Some(Err(refused.clone())), 0, Some(false)));
    assert!(
        app.world_mut()
            .resource_mut::<BlobMail>()
            .take_requests()
            .is_empty()
    );

    app.world_mut()
        .resource_mut::<Grants>()
        .grant("filer", &Permission::Blobs);
    app.update();
    assert_eq!(asked(&app), (Some(Ok(())), 0, Some(true)));
    let requests = app.world_mut().resource_mut::<BlobMail>().take_requests();
    assert_eq!(
        requests,
        vec![(
            "filer".to_owned(),
            BlobRequest::Read(BlobHash::from_bytes([1; 32]))
        )]
    );
    let answer = BlobReply::Failed {
        hash: None,
        error: "no blob".into(),
    };
    app.world_mut()
        .resource_mut::<BlobMail>()
        .reply("filer", answer.clone());
    app.update();
    assert_eq!(app.world().resource::<Asked>().1, vec![answer.clone()]);

    // Taken back: refused again, and answers that arrive are not handed over.
    app.world_mut()
        .resource_mut::<Grants>()
        .revoke("filer", &Permission::Blobs);
    app.world_mut().resource_mut::<BlobMail>().reply("filer", answer);
    app.update();
    assert_eq!(asked(&app), (Some(Err(refused)), 1, Some(false)));
}

/// Asks to be paid once a frame, with a reference `len` bytes long, and keeps what each
/// request returned and what came back.
struct Payee;

#[derive(Resource, Default)]
struct Billed(Vec<Result<(), CapabilityError>>, Vec<WalletReply>, usize);

impl SanctuaryApp for Payee {
    const MANIFEST: Manifest = Manifest {
        name: "payee",
        title: "Payee",
        version: "1",
        author: "tests",
        description: "Asks to be paid.",
        permissions: &[Permission::Wallet],
    };

    fn build(&self, setup: &mut AppSetup) {
        setup.init_resource::<Billed>().add_system(
            |mut wallet: WalletRequests<Payee>, mut billed: ResMut<Billed>| {
                let request = WalletRequest::Pay {
                    id: 7,
                    terms: sanctuary_plugin_api::PaymentTerms {
                        to: [5; 20],
                        chain_id: 31337,
                        token: None,
                        amount: [0; 32],
                        reference: vec![1; billed.2],
                    },
                    memo: "rent".into(),
                };
                let result = wallet.request(request);
                billed.0.push(result);
                let replies = wallet.replies();
                billed.1.extend(replies);
            },
        );
    }
}

#[test]
fn payment_requests_need_a_grant_a_short_reference_and_stop_when_revoked() {
    let mut app = App::new();
    app.add_plugins(MinimalPlugins)
        .add_plugins(AppsHostPlugin {
            data_dir: Some(folder("wallet")),
        })
        .add_sanctuary_app(Payee);
    app.update();
    let refused = CapabilityError::NotGranted {
        app: "payee".into(),
        permission: Permission::Wallet.to_string(),
    };
    assert_eq!(
        app.world().resource::<Billed>().0.last(),
        Some(&Err(refused.clone()))
    );
    assert!(
        app.world_mut()
            .resource_mut::<WalletMail>()
            .take_requests()
            .is_empty()
    );

    app.world_mut()
        .resource_mut::<Grants>()
        .grant("payee", &Permission::Wallet);
    app.update();
    assert_eq!(app.world().resource::<Billed>().0.last(), Some(&Ok(())));
    let requests = app.world_mut().resource_mut::<WalletMail>().take_requests();
    assert!(
        matches!(&requests[..], [(app, WalletRequest::Pay { id: 7, memo, .. })] if app == "payee" && memo == "rent"),
        "{requests:?}"
    );
    let answer = WalletReply::Declined {
        id: 7,
        reason: "you declined".into(),
    };
    app.world_mut()
        .resource_mut::<WalletMail>()
        .reply("payee", answer.clone());
    app.update();
    assert_eq!(app.world().resource::<Billed>().1, vec![answer.clone()]);

    // A reference longer than a payment can carry is refused before it reaches the wallet.
    app.world_mut().resource_mut::<Billed>().2 = sanctuary_plugin_api::PAYMENT_REFERENCE_MAX + 1;
    app.world_mut().resource_mut::<WalletMail>().take_requests();
    app.update();
    assert!(matches!(
        app.world().resource::<Billed>().0.last(),
        Some(Err(CapabilityError::TooLarge { .. }))
    ));
    assert!(
        app.world_mut()
            .resource_mut::<WalletMail>()
            .take_requests()
            .is_empty()
    );

    // Taken back: refused again, and answers that arrive are not handed over.
    app.world_mut()
        .resource_mut::<Grants>()
        .revoke("payee", &Permission::Wallet);
    app.world_mut()
        .resource_mut::<WalletMail>()
        .reply("payee", answer);
    app.update();
    assert_eq!(app.world().resource::<Billed>().0.last(), Some(&Err(refused)));
    assert_eq!(app.world().resource::<Billed>().1.len(), 1);
}

/// Sends one message to one peer alone each frame, and keeps what arrives.
struct Whisperer;

#[derive(Resource, Default)]
struct Whispers(Vec<Result<(), CapabilityError>>, Vec<(Vec<u8>, bool)>);

impl SanctuaryApp for Whisperer {
    const MANIFEST: Manifest = Manifest {
        name: "whisperer",
        title: "Whisperer",
        version: "1",
        author: "tests",
        description: "Whispers.",
        permissions: &[Permission::Messages],
    };

    fn build(&self, setup: &mut AppSetup) {
        setup.init_resource::<Whispers>().add_system(
            |mut messages: AppMessages<Whisperer>, mut whispers: ResMut<Whispers>| {
                let result = messages.send_to(PeerId::from_bytes([4; 32]), b"psst".to_vec());
                whispers.0.push(result);
                let heard = messages
                    .read()
                    .into_iter()
                    .map(|message| (message.bytes, message.direct));
                whispers.1.extend(heard);
            },
        );
    }
}

#[test]
fn a_message_to_one_peer_goes_out_addressed_and_arrives_marked_direct() {
    let mut app = App::new();
    app.add_plugins(MinimalPlugins)
        .add_plugins(AppsHostPlugin {
            data_dir: Some(folder("whisper")),
        })
        .add_sanctuary_app(Whisperer);
    app.update();
    assert!(matches!(
        app.world().resource::<Whispers>().0.last(),
        Some(Err(CapabilityError::NotGranted { .. }))
    ));
    app.world_mut()
        .resource_mut::<Grants>()
        .grant("whisperer", &Permission::Messages);
    app.update();
    let mut mail = app.world_mut().resource_mut::<AppMail>();
    assert!(mail.take_outgoing().is_empty(), "nothing to everyone");
    let direct = mail.take_outgoing_direct();
    assert_eq!(direct.len(), 1);
    assert_eq!(direct[0].0, PeerId::from_bytes([4; 32]));
    assert_eq!(direct[0].1.payload.as_bytes(), b"psst");

    let world = app.world_mut();
    let installed = world.resource::<InstalledApps>().clone();
    let grants = std::mem::take(&mut *world.resource_mut::<Grants>());
    let message = |text: &[u8]| AppMessage {
        app: AppName::new("whisperer").unwrap(),
        payload: AppPayload::new(text.to_vec()).unwrap(),
    };
    let from = PeerId::from_bytes([5; 32]);
    let mut mail = world.resource_mut::<AppMail>();
    mail.deliver_direct(from, message(b"to you"), &installed, &grants);
    mail.deliver(from, message(b"to all"), &installed, &grants);
    *world.resource_mut::<Grants>() = grants;
    app.update();
    assert_eq!(
        app.world().resource::<Whispers>().1,
        vec![(b"to you".to_vec(), true), (b"to all".to_vec(), false)]
    );
}

#[test]
fn buttons_beside_people_need_the_panels_grant_are_bounded_and_report_their_clicks() {
    use sanctuary_plugin_api::PERSON_BUTTONS_MAX;
    use sanctuary_plugin_api::host::PeopleButtons;
    let mut app = client("person-buttons");
    let person = |n: u8| PeerId::from_bytes([n; 32]);
    let show = |app: &mut App, peer: PeerId, label: &'static str, enabled: bool| {
        app.world_mut()
            .run_system_once(move |mut buttons: PersonButtons<Talker>| buttons.show(peer, label, enabled))
            .unwrap()
    };
    let clicked = |app: &mut App| {
        app.world_mut()
            .run_system_once(|mut buttons: PersonButtons<Talker>| buttons.clicked())
            .unwrap()
    };
    let labels = |app: &App, peer: PeerId| -> Vec<(String, bool)> {
        app.world()
            .resource::<PeopleButtons>()
            .beside(peer)
            .map(|button| (button.label.clone(), button.enabled))
            .collect()
    };
    assert!(matches!(
        show(&mut app, person(1), "Wave", true),
        Err(CapabilityError::NotGranted { .. })
    ));
    assert!(labels(&app, person(1)).is_empty());

    grant(&mut app, Permission::Panels);
    show(&mut app, person(1), "Wave", true).unwrap();
    show(&mut app, person(2), "Waved", false).unwrap();
    assert_eq!(labels(&app, person(1)), vec![("Wave".to_owned(), true)]);
    assert_eq!(labels(&app, person(2)), vec![("Waved".to_owned(), false)]);
    assert!(labels(&app, person(3)).is_empty());
    // A label is one line of plain text.
    show(&mut app, person(3), "Wave\n\u{202E}back", true).unwrap();
    assert_eq!(labels(&app, person(3)), vec![("Waveback".to_owned(), true)]);

    // Clicks come back to the app once; a greyed button or no button takes none.
    let mut buttons = app.world_mut().resource_mut::<PeopleButtons>();
    buttons.click("talker", person(1));
    buttons.click("talker", person(2));
    buttons.click("talker", person(4));
    assert_eq!(clicked(&mut app), vec![person(1)]);
    assert!(clicked(&mut app).is_empty());

    // One app shows at most so many, and a button taken away is gone.
    for n in 0..PERSON_BUTTONS_MAX {
        let mut key = [9; 32];
        key[..8].copy_from_slice(&(n as u64).to_le_bytes());
        let shown = show(&mut app, PeerId::from_bytes(key), "Wave", true);
        // Three are shown already: the room runs out three early.
        assert_eq!(shown.is_ok(), n < PERSON_BUTTONS_MAX - 3, "button {n}: {shown:?}");
    }
    assert!(matches!(
        show(&mut app, person(4), "Wave", true),
        Err(CapabilityError::TooMany { .. })
    ));
    app.world_mut()
        .run_system_once(move |mut buttons: PersonButtons<Talker>| buttons.retain(|peer| peer == person(2)))
        .unwrap();
    assert!(labels(&app, person(1)).is_empty());
    assert_eq!(labels(&app, person(2)).len(), 1);
}
