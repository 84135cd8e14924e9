//! The storage app between clients on loopback: a file added on one client is hung on the
//! easel in the Lobby and the other client shows the same picture, fetched by hash from
//! the one who hung it; hangings that are not pictures, and bad tickets, are refused.

use bevy::ecs::system::RunSystemOnce;
use bevy::prelude::*;
use sanctuary::app::{LaunchPlan, headless_app};
use sanctuary::net_bridge::NetMode;
use sanctuary::people::InviteTicket;
use sanctuary::spaces::SpaceCatalog;
use sanctuary::spaces::catalog::default_assets_folder;
use sanctuary_plugin_api::{AppMessages, BlobLibrary, BlobRequest, Grants, PeerId, SanctuaryApp, WorldView};
use sanctuary_storage::wire::StorageMessage;
use sanctuary_storage::{Easel, StorageAction, StorageApp, StoragePanel};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::{folder, host_and_guest, networked_client, run_until};

fn allow_storage(dir: &Path) {
    let mut grants = Grants::load(dir);
    for permission in StorageApp::MANIFEST.permissions {
        grants.grant(StorageApp::MANIFEST.name, permission);
    }
    grants.save().unwrap();
}

fn client(dir: &Path, mode: NetMode) -> App {
    client_in("lobby", dir, mode)
}

fn client_in(space: &str, dir: &Path, mode: NetMode) -> App {
    networked_client(space, dir, mode)
}

fn library(app: &App) -> &BlobLibrary {
    app.world().resource::<BlobLibrary>()
}

fn easel(app: &App) -> &Easel {
    app.world().resource::<Easel>()
}

fn me(app: &App) -> PeerId {
    app.world().resource::<WorldView>().me.unwrap()
}

fn act(app: &mut App, action: StorageAction) {
    app.world_mut().write_message(action);
}

/// A PNG of `width` x `height` RGB pixels coloured by `colour(x, y)`, written by hand
/// (stored deflate blocks).
fn png(width: u32, height: u32, colour: impl Fn(u32, u32) -> [u8; 3]) -> Vec<u8> {
    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = 0xFFFF_FFFFu32;
        for &byte in bytes {
            crc ^= u32::from(byte);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }
    fn chunk(out: &mut Vec<u8>, kind: &[u8], data: &[u8]) {
        out.extend((data.len() as u32).to_be_bytes());
        let mut body = kind.to_vec();
        body.extend(data);
        out.extend(&body);
        out.extend(crc32(&body).to_be_bytes());
    }
    let mut raw = Vec::new();
    for y in 0..height {
        raw.push(0);
        for x in 0..width {
            raw.extend(colour(x, y));
        }
    }
    let mut zlib = vec![0x78, 0x01];
    let blocks: Vec<&[u8]> = raw.chunks(65_535).collect();
    for (i, block) in blocks.iter().enumerate() {
        zlib.push(u8::from(i + 1 == blocks.len()));
        let len = block.len() as u16;
        zlib.extend(len.to_le_bytes());
        zlib.extend((!len).to_le_bytes());
        zlib.extend(*block);
    }
    let (mut a, mut b) = (1u32, 0u32);
    for &byte in &raw {
        a = (a + u32::from(byte)) % 65_521;
        b = (b + a) % 65_521;
    }
    zlib.extend(((b << 16) | a).to_be_bytes());
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut header = Vec::new();
    header.extend(width.to_be_bytes());
    header.extend(height.to_be_bytes());
    header.extend([8, 2, 0, 0, 0]);
    chunk(&mut out, b"IHDR", &header);
    chunk(&mut out, b"IDAT", &zlib);
    chunk(&mut out, b"IEND", &[]);
    out
}

#[test]
fn a_picture_hung_on_the_easel_is_seen_by_another_peer_fetched_by_hash() {
    let (host_dir, guest_dir) = (folder("host"), folder("guest"));
    allow_storage(&host_dir);
    allow_storage(&guest_dir);
    let (mut host, mut guest) = host_and_guest("lobby", &host_dir, &guest_dir);
    run_until(&mut [&mut host, &mut guest], "storage online on both", |apps| {
        apps.iter().all(|app| library(app).online)
    });

    // The host adds a picture from a file and hangs it.
    let picture = host_dir.join("sunset.png");
    std::fs::write(&picture, png(64, 48, |x, y| [(x * 4) as u8, (y * 5) as u8, 160])).unwrap();
    act(&mut host, StorageAction::Request(BlobRequest::AddFile(picture)));
    run_until(
        &mut [&mut host, &mut guest],
        "the picture in the host's storage",
        |apps| {
            library(apps[0])
                .blobs
                .iter()
                .any(|blob| blob.name == "sunset.png" && blob.complete)
        },
    );
    let hash = library(&host).blobs[0].hash;
    act(&mut host, StorageAction::Hang(hash));

    // The guest shows the same picture, having fetched it from the host by its hash.
    run_until(
        &mut [&mut host, &mut guest],
        "the picture on the guest's easel",
        |apps| {
            easel(apps[1])
                .shown
                .as_ref()
                .is_some_and(|shown| shown.hanging.hash == hash)
                && easel(apps[0]).shown.is_some()
        },
    );
    let shown = easel(&guest).shown.clone().unwrap();
    assert_eq!(shown.pixels, UVec2::new(64, 48));
    assert_eq!(shown.hanging.by, me(&host));
    let copy = library(&guest).get(hash).cloned().unwrap();
    assert!(
        copy.complete && !copy.pinned,
        "a picture seen is cached, not pinned: {copy:?}"
    );
    assert!(copy.origin.starts_with("fetched from"), "{}", copy.origin);
    let guest_id = me(&guest);
    run_until(
        &mut [&mut host, &mut guest],
        "the host to count what it served",
        |apps| {
            library(apps[0])
                .served_to
                .iter()
                .any(|(peer, bytes)| *peer == guest_id && *bytes > 0)
        },
    );

    // Hangings that are not pictures are refused by every copy; the easel keeps its picture.
    let refused = easel(&host).refused;
    guest
        .world_mut()
        .run_system_once(move |mut messages: AppMessages<StorageApp>| {
            let text = StorageMessage::Hang {
                hash: sanctuary_plugin_api::BlobHash::from_bytes([9; 32]),
                name: "notes.txt".into(),
                size: 10,
                hung_ms: u64::MAX / 2,
            };
            messages.send(text.encode())
        })
        .unwrap()
        .unwrap();
    run_until(
        &mut [&mut host, &mut guest],
        "the host to refuse a hanging that is not a picture",
        |apps| easel(apps[0]).refused > refused,
    );
    assert_eq!(easel(&host).wanted().unwrap().hash, hash);

    // A ticket that is not a ticket: one line in the panel, nothing changes.
    let held = library(&guest).blobs.len();
    act(
        &mut guest,
        StorageAction::Request(BlobRequest::FetchTicket("not a ticket".into())),
    );
    run_until(&mut [&mut host, &mut guest], "the bad ticket's message", |apps| {
        apps[1]
            .world()
            .resource::<StoragePanel>()
            .message
            .as_ref()
            .is_some_and(|(text, problem)| {
                *problem && text.starts_with("that is not a blob ticket") && !text.contains('\n')
            })
    });
    assert_eq!(library(&guest).blobs.len(), held);
}

/// How many pixels of a PNG screenshot are strongly magenta, the easel test's picture's
/// colour, which nothing in the Lobby has.
fn magenta_pixels(path: &Path) -> usize {
    common::read_screenshot(path)
        .pixels
        .iter()
        .filter(|p| p[0] > 150 && p[2] > 150 && p[1] < 110)
        .count()
}

#[test]
fn a_picture_hung_by_another_peer_shows_on_the_easel_in_a_real_window() {
    let display = common::VirtualDisplay::start();
    let (host_dir, viewer_dir) = (folder("easel-host"), folder("easel-viewer"));
    allow_storage(&host_dir);
    allow_storage(&viewer_dir);
    // The host stands in the Market, so that its avatar is not in front of the viewer's
    // camera where both would arrive in the Lobby.
    let mut host = client_in("market", &host_dir, NetMode::Host);
    run_until(&mut [&mut host], "the host's ticket", |apps| {
        apps[0].world().resource::<InviteTicket>().0.is_some() && library(apps[0]).online
    });
    let ticket = host.world().resource::<InviteTicket>().0.clone().unwrap();
    let picture = host_dir.join("magenta.png");
    std::fs::write(&picture, png(96, 64, |x, y| [255, ((x + y) % 32) as u8, 255])).unwrap();
    act(&mut host, StorageAction::Request(BlobRequest::AddFile(picture)));
    run_until(&mut [&mut host], "the picture in storage", |apps| {
        !library(apps[0]).blobs.is_empty()
    });
    let hash = library(&host).blobs[0].hash;
    act(&mut host, StorageAction::Hang(hash));
    run_until(&mut [&mut host], "the host's easel", |apps| {
        easel(apps[0]).shown.is_some()
    });

    // Another person's client, in a real window, joins and looks at the easel.
    let shot = viewer_dir.join("easel.png");
    let mut viewer = Command::new(env!("CARGO_BIN_EXE_sanctuary"))
        .env_remove("WAYLAND_DISPLAY")
        .env("RUST_LOG", "warn,sanctuary_storage=info")
        .env("DISPLAY", &display.display)
        .args([
            "--space",
            "lobby",
            "--frames",
            "90",
            "--bind",
            "127.0.0.1:0",
            "--join",
            &ticket,
            "--screenshot",
        ])
        .arg(&shot)
        .arg("--data-dir")
        .arg(&viewer_dir)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the client runs");
    let (status, stderr) = common::wait_for_window(&mut viewer, Duration::from_secs(300), || {
        host.update();
    });
    assert!(status.success(), "{stderr}");
    let magenta = magenta_pixels(&shot);
    assert!(
        magenta > 2_000,
        "the picture shows on the easel ({magenta} magenta pixels in {}); the client said: {stderr}",
        shot.display()
    );
}

#[test]
fn a_file_dropped_on_the_window_is_added_to_storage_even_offline() {
    let dir = folder("drop");
    allow_storage(&dir);
    let plan = LaunchPlan {
        catalog: SpaceCatalog::load(&default_assets_folder().join("spaces")).unwrap(),
        start_space: "lobby".into(),
        assets: default_assets_folder(),
        data_dir: dir.clone(),
        frames: None,
        screenshot: None,
        launched: Instant::now(),
    };
    let mut app = headless_app(&plan);
    app.add_message::<bevy::window::FileDragAndDrop>();
    app.finish();
    app.cleanup();
    app.update();
    let file = dir.join("notes.txt");
    std::fs::write(&file, b"shopping: bread, figs").unwrap();
    app.world_mut()
        .write_message(bevy::window::FileDragAndDrop::DroppedFile {
            window: Entity::PLACEHOLDER,
            path_buf: file,
        });
    run_until(
        &mut [&mut app],
        "the dropped file in storage, and the panel's word",
        |apps| {
            library(apps[0])
                .blobs
                .iter()
                .any(|blob| blob.name == "notes.txt" && blob.size == 21)
                && apps[0].world().resource::<StoragePanel>().message.is_some()
        },
    );
    assert!(!library(&app).online, "no network was started");
    let message = app.world().resource::<StoragePanel>().message.clone();
    assert_eq!(message, Some(("added notes.txt (21 B)".into(), false)));
}

#[test]
fn a_fetch_cut_off_by_closing_the_client_goes_on_by_itself_after_a_restart() {
    let (host_dir, guest_dir) = (folder("resume-host"), folder("resume-guest"));
    allow_storage(&host_dir);
    allow_storage(&guest_dir);
    let mut host = client(&host_dir, NetMode::Host);
    run_until(&mut [&mut host], "the host online", |apps| {
        apps[0].world().resource::<InviteTicket>().0.is_some() && library(apps[0]).online
    });
    let world_ticket = host.world().resource::<InviteTicket>().0.clone().unwrap();
    let file = host_dir.join("film.bin");
    let bytes: Vec<u8> = (0..(96u32 << 20))
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8)
        .collect();
    std::fs::write(&file, &bytes).unwrap();
    drop(bytes);
    act(&mut host, StorageAction::Request(BlobRequest::AddFile(file)));
    run_until(&mut [&mut host], "the film in the host's storage", |apps| {
        !library(apps[0]).blobs.is_empty()
    });
    let hash = library(&host).blobs[0].hash;
    act(&mut host, StorageAction::Request(BlobRequest::Share(hash)));
    run_until(&mut [&mut host], "the film's ticket", |apps| {
        apps[0].world().resource::<StoragePanel>().shared.is_some()
    });
    let blob_ticket = host.world().resource::<StoragePanel>().shared.clone().unwrap().1;

    // The guest starts fetching, and closes as soon as the first bytes are in.
    let mut guest = client(&guest_dir, NetMode::Join(world_ticket.parse().unwrap()));
    run_until(&mut [&mut host, &mut guest], "the guest online", |apps| {
        library(apps[1]).online
    });
    act(
        &mut guest,
        StorageAction::Request(BlobRequest::FetchTicket(blob_ticket)),
    );
    run_until(&mut [&mut host, &mut guest], "the first bytes", |apps| {
        library(apps[1]).fetching.iter().any(|fetch| fetch.done > 0)
    });
    drop(guest);

    // Restarted, it lists the film as partial, and finishes it without being asked again.
    let mut guest = client(&guest_dir, NetMode::Join(world_ticket.parse().unwrap()));
    run_until(&mut [&mut host, &mut guest], "the guest's storage", |apps| {
        library(apps[1]).get(hash).is_some()
    });
    assert!(
        !library(&guest).get(hash).unwrap().complete,
        "the first run was cut off part way"
    );
    run_until(&mut [&mut host, &mut guest], "the film complete", |apps| {
        library(apps[1]).get(hash).is_some_and(|blob| blob.complete)
    });
}

#[test]
fn a_file_shared_with_one_person_reaches_them_though_it_is_not_served_to_all() {
    let (host_dir, guest_dir) = (folder("share-with-host"), folder("share-with-guest"));
    allow_storage(&host_dir);
    allow_storage(&guest_dir);
    let (mut host, mut guest) = host_and_guest("lobby", &host_dir, &guest_dir);
    run_until(&mut [&mut host, &mut guest], "storage online on both", |apps| {
        apps.iter().all(|app| library(app).online)
    });

    let file = host_dir.join("song.ogg");
    let bytes: Vec<u8> = (0..200_000u32).map(|n| (n % 253) as u8).collect();
    std::fs::write(&file, &bytes).unwrap();
    act(&mut host, StorageAction::Request(BlobRequest::AddFile(file)));
    run_until(&mut [&mut host, &mut guest], "the song in storage", |apps| {
        !library(apps[0]).blobs.is_empty()
    });
    let hash = library(&host).blobs[0].hash;
    let buyer = me(&guest);
    act(
        &mut host,
        StorageAction::Request(BlobRequest::ShareWith(hash, buyer)),
    );
    run_until(&mut [&mut host, &mut guest], "the song's ticket", |apps| {
        apps[0].world().resource::<StoragePanel>().shared.is_some()
    });
    assert!(
        !library(&host).get(hash).unwrap().serving,
        "not served to everyone"
    );
    let blob_ticket = host.world().resource::<StoragePanel>().shared.clone().unwrap().1;
    act(
        &mut guest,
        StorageAction::Request(BlobRequest::FetchTicket(blob_ticket)),
    );
    run_until(&mut [&mut host, &mut guest], "the song fetched", |apps| {
        library(apps[1]).get(hash).is_some_and(|blob| blob.complete)
    });
    assert_eq!(library(&guest).get(hash).unwrap().size, bytes.len() as u64);
}
