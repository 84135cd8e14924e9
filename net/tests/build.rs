//! Building between real endpoints on loopback: concurrent edits converge, a peer that was
//! cut off converges when it returns, a late joiner gets the structures from a peer that
//! is not the host after the host left, and bad records are refused by every receiver.

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use common::*;
use sanctuary_net::{BuildHandle, BuildSetup, JoinTarget, Node, RawTopic, WorldConfig, WorldHandle, WorldId};
use sanctuary_protocols::build::{
    BuildRules, Builders, KeyText, Limits, Piece, PieceId, PieceKind, Record, RecordBatch, SignedRecord,
    Zone, ZoneName,
};
use sanctuary_protocols::{Body, Context, Rgb, SignedEnvelope};

const GREY: Rgb = Rgb { r: 90, g: 90, b: 90 };

fn zone(name: &str) -> ZoneName {
    ZoneName::new(name).unwrap()
}

/// The lobby: an open plaza, and a house that only node 1's person owns.
fn rules() -> BTreeMap<sanctuary_protocols::SpaceName, BuildRules> {
    let lobby = BuildRules {
        zones: vec![
            Zone {
                name: zone("plaza"),
                min: [-50.0, 0.0, -50.0],
                max: [50.0, 20.0, 50.0],
                builders: Builders::Anyone,
                owners: vec![],
                invited: vec![],
                limits: Limits {
                    pieces_per_person: 200,
                    largest_m: 4.0,
                    kinds: None,
                },
            },
            Zone {
                name: zone("house"),
                min: [100.0, 0.0, 100.0],
                max: [120.0, 20.0, 120.0],
                builders: Builders::Invited,
                owners: vec![KeyText(keypair(1).peer_id())],
                invited: vec![],
                limits: Limits::default(),
            },
        ],
    };
    BTreeMap::from([(space("lobby"), lobby)])
}

fn config(folder: Option<PathBuf>) -> WorldConfig {
    WorldConfig {
        build: Some(BuildSetup {
            rules: rules(),
            folder,
            state_every: Some(Duration::from_millis(300)),
        }),
        ..fast(Duration::from_secs(60))
    }
}

fn folder(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sanctuary-net-build-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn place(build: &BuildHandle, x: i32, z: i32) -> PieceId {
    let id = build.new_piece_id();
    let record = Record::Piece {
        id,
        zone: zone("plaza"),
        piece: Some(Piece::new(PieceKind::Block, [x, 500, z], GREY)),
    };
    let edited = build
        .edit(&space("lobby"), vec![record])
        .expect("the edit is allowed");
    assert!(edited.refused.is_none());
    id
}

fn hash(build: &BuildHandle) -> [u8; 32] {
    build.state(&space("lobby")).unwrap().hash
}

async fn converged(builds: &[&BuildHandle], pieces: usize) {
    wait_until(&format!("every peer to show the same {pieces} pieces"), || {
        let first = hash(builds[0]);
        builds
            .iter()
            .all(|build| hash(build) == first && build.pieces(&space("lobby")).len() == pieces)
    })
    .await;
}

async fn host(node: &Node, config: WorldConfig) -> WorldHandle {
    node.join_world_with(
        JoinTarget::host(WorldId::random().unwrap()),
        presence("Host", "lobby"),
        config,
    )
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_peers_build_at_once_and_converge() {
    init_tracing();
    let (_nodes, [mut a, b, c]) = three_in_lobby(config(None)).await;
    let builds = [a.build().unwrap(), b.build().unwrap(), c.build().unwrap()];
    // Each builds ten pieces while the others do, and each moves one of its own.
    for step in 0..10 {
        for (i, build) in builds.iter().enumerate() {
            let id = place(build, step * 1500, i as i32 * 1500);
            if step == 9 {
                let moved = Record::Piece {
                    id,
                    zone: zone("plaza"),
                    piece: Some(Piece::new(PieceKind::Wall, [step * 1500, 1250, -20_000], GREY)),
                };
                build.edit(&space("lobby"), vec![moved]).unwrap();
            }
        }
    }
    converged(&[&builds[0], &builds[1], &builds[2]], 30).await;
    // The peers' edits reached us as events.
    let event = wait_event(&mut a, "a building event", |event| {
        matches!(event, sanctuary_net::WorldEvent::Build { .. })
    })
    .await;
    assert!(matches!(event, sanctuary_net::WorldEvent::Build { changed, .. } if !changed.is_empty()));
    let walls = builds[2]
        .pieces(&space("lobby"))
        .into_iter()
        .filter(|(_, piece)| piece.kind == PieceKind::Wall)
        .count();
    assert_eq!(walls, 3);
    drop((b, c));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_cut_off_while_both_sides_build_converges_when_it_returns() {
    init_tracing();
    let (ada_dir, bo_dir) = (folder("partition-ada"), folder("partition-bo"));
    let nodes = [node(1).await, node(2).await];
    let a = host(&nodes[0], config(Some(ada_dir))).await;
    let ticket = a.ticket();
    let b = nodes[1]
        .join_world_with(&ticket, presence("Bo", "lobby"), config(Some(bo_dir.clone())))
        .await
        .unwrap();
    let (ada, bo) = (a.build().unwrap(), b.build().unwrap());
    wait_roster(&[&a, &b], 1).await;
    place(&ada, 0, 0);
    converged(&[&ada, &bo], 1).await;

    // Bo is cut off (leaves the world, keeps building on their own copy); both sides build.
    b.leave().await.unwrap();
    for n in 1..=4 {
        place(&ada, n * 1500, 0);
        place(&bo, n * 1500, 3000);
    }
    // The owner grants Bo the house while Bo is away.
    let grant = Record::Grant {
        zone: zone("house"),
        person: keypair(2).peer_id(),
        allowed: true,
    };
    ada.edit(&space("lobby"), vec![grant]).unwrap();
    assert_ne!(hash(&ada), hash(&bo));

    // Bo comes back: its copy is read from its folder, and both sides get what they missed.
    drop(bo);
    let b = nodes[1]
        .join_world_with(&ticket, presence("Bo", "lobby"), config(Some(bo_dir)))
        .await
        .unwrap();
    let bo = b.build().unwrap();
    assert_eq!(
        bo.pieces(&space("lobby")).len(),
        5,
        "Bo's own edits were kept on disk"
    );
    converged(&[&ada, &bo], 9).await;
    assert!(bo.may_build(&space("lobby"), &zone("house"), &keypair(2).peer_id()));
    // What Bo built while away reached Ada only by a sync (Bo's edits were never sent);
    // what Ada built may reach Bo by a sync too, or from the room's gossip, which still
    // holds recent messages for a peer that comes back.
    assert!(
        ada.counters().syncs >= 1,
        "{:?} {:?}",
        ada.counters(),
        bo.counters()
    );
    drop((a, b));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_joiner_gets_the_structures_from_another_peer_after_the_host_left() {
    init_tracing();
    let nodes = [node(1).await, node(2).await, node(3).await];
    let a = host(&nodes[0], config(None)).await;
    let b = nodes[1]
        .join_world_with(&a.ticket(), presence("Bo", "lobby"), config(None))
        .await
        .unwrap();
    wait_roster(&[&a, &b], 1).await;
    let (ada, bo) = (a.build().unwrap(), b.build().unwrap());
    for n in 0..60 {
        place(&ada, (n % 10) * 1500, (n / 10) * 1500);
    }
    converged(&[&ada, &bo], 60).await;
    a.leave().await.unwrap();

    // Cy joins through Bo's ticket: the host is gone, Bo holds the structures.
    let c = nodes[2]
        .join_world_with(&b.ticket(), presence("Cy", "lobby"), config(None))
        .await
        .unwrap();
    let cy = c.build().unwrap();
    converged(&[&bo, &cy], 60).await;
    drop((b, c));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_records_are_refused_by_every_receiver_and_change_nothing() {
    init_tracing();
    let (_nodes, [a, b, c]) = three_in_lobby(config(None)).await;
    let (ada, bo, cy) = (a.build().unwrap(), b.build().unwrap(), c.build().unwrap());
    place(&ada, 0, 0);
    converged(&[&ada, &bo, &cy], 1).await;
    let before = hash(&bo);

    // Ada's node sends records that break every rule, each signed by Ada herself.
    let ada_key = keypair(1);
    let world = a.world();
    let lobby = space("lobby");
    let now = unix_ms();
    let sign = |record: Record| SignedRecord::sign(&ada_key, world, &lobby, now, record);
    let piece = |x: i32, size: [u16; 3]| Piece {
        size,
        ..Piece::new(PieceKind::Block, [x, 500, 0], GREY)
    };
    let bo_piece = PieceId {
        creator: keypair(2).peer_id(),
        number: 7,
    };
    let bad = vec![
        // Outside any zone.
        sign(Record::Piece {
            id: ada.new_piece_id(),
            zone: zone("plaza"),
            piece: Some(piece(60_000, [100, 100, 100])),
        }),
        // Over the zone's size limit.
        sign(Record::Piece {
            id: ada.new_piece_id(),
            zone: zone("plaza"),
            piece: Some(piece(0, [500, 100, 100])),
        }),
        // A zone that does not exist.
        sign(Record::Piece {
            id: ada.new_piece_id(),
            zone: zone("attic"),
            piece: Some(piece(0, [100, 100, 100])),
        }),
        // Someone else's piece.
        sign(Record::Piece {
            id: bo_piece,
            zone: zone("plaza"),
            piece: Some(piece(0, [100, 100, 100])),
        }),
        // A grant in a zone Ada does not own.
        sign(Record::Grant {
            zone: zone("plaza"),
            person: keypair(3).peer_id(),
            allowed: true,
        }),
        // Signed for another world.
        SignedRecord::sign(
            &ada_key,
            WorldId([0; 32]),
            &lobby,
            now,
            Record::Piece {
                id: ada.new_piece_id(),
                zone: zone("plaza"),
                piece: Some(piece(0, [100, 100, 100])),
            },
        ),
    ];
    let count = bad.len() as u64;
    let envelope = SignedEnvelope::sign(
        &ada_key,
        &Context::room(world, lobby.clone()),
        now,
        now,
        Body::Build(RecordBatch::new(bad).unwrap()),
    );
    a.broadcast_raw(RawTopic::Room, envelope.encode()).await.unwrap();
    // Bytes that are no message at all.
    a.broadcast_raw(RawTopic::Room, vec![1, 0xff, 0xfe, 3])
        .await
        .unwrap();
    for (build, name) in [(&bo, "Bo"), (&cy, "Cy")] {
        wait_until(&format!("{name} to refuse every bad record"), || {
            build.counters().refused >= count
        })
        .await;
        assert_eq!(build.counters().refused, count, "{name}");
        assert_eq!(hash(build), before, "{name}'s document is unchanged");
        assert_eq!(build.pieces(&lobby).len(), 1);
    }
    wait_until("the malformed bytes to be counted", || {
        b.counters().rejected_total() > 0
    })
    .await;

    // A flood: two hundred batches at once, each a new record that breaks no rule. Past the
    // rate one peer may send, receivers refuse them before looking inside, and count them.
    for n in 0..200u64 {
        let record = sign(Record::Piece {
            id: ada.new_piece_id(),
            zone: zone("plaza"),
            piece: Some(piece((n as i32 % 40) * 1000 - 20_000, [100, 100, 100])),
        });
        let envelope = SignedEnvelope::sign(
            &ada_key,
            &Context::room(world, lobby.clone()),
            now + 10 + n,
            now,
            Body::Build(RecordBatch::new(vec![record]).unwrap()),
        );
        a.broadcast_raw(RawTopic::Room, envelope.encode()).await.unwrap();
    }
    use sanctuary_net::RejectReason;
    for (handle, build, name) in [(&b, &bo, "Bo"), (&c, &cy, "Cy")] {
        wait_until(&format!("{name} to refuse the flood past the rate"), || {
            let counters = handle.counters();
            counters.rejected(RejectReason::RateLimited) + counters.rejected(RejectReason::Muted) > 100
        })
        .await;
        let kept = build.pieces(&lobby).len();
        assert!(kept < 100, "{name} kept {kept} of the flood's pieces");
    }
    drop((a, b, c));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peers_under_other_rules_are_told_and_still_share_what_both_allow() {
    init_tracing();
    let nodes = [node(1).await, node(2).await];
    let a = host(&nodes[0], config(None)).await;
    // Bo's space file has a smaller plaza: only its western half (x below 0).
    let mut narrower = rules();
    let lobby = narrower.get_mut(&space("lobby")).unwrap();
    lobby.zones[0].max[0] = 0.0;
    let b = nodes[1]
        .join_world_with(
            &a.ticket(),
            presence("Bo", "lobby"),
            WorldConfig {
                build: Some(BuildSetup {
                    rules: narrower,
                    folder: None,
                    state_every: Some(Duration::from_millis(300)),
                }),
                ..fast(Duration::from_secs(60))
            },
        )
        .await
        .unwrap();
    wait_roster(&[&a, &b], 1).await;
    let (ada, bo) = (a.build().unwrap(), b.build().unwrap());
    assert_ne!(
        ada.state(&space("lobby")).unwrap().rules,
        bo.state(&space("lobby")).unwrap().rules
    );
    let west = place(&ada, -10_000, 0);
    let east = place(&ada, 10_000, 0);
    // Bo keeps the piece its rules allow, and not the other.
    wait_until("Bo to show the western piece", || {
        bo.pieces(&space("lobby")).iter().any(|(id, _)| *id == west)
    })
    .await;
    assert!(!bo.pieces(&space("lobby")).iter().any(|(id, _)| *id == east));
    // Both are told, once, that the other builds under other rules.
    let mut told = [Vec::new(), Vec::new()];
    wait_until("both to be told the rules differ", || {
        for (said, build) in told.iter_mut().zip([&ada, &bo]) {
            said.extend(build.take_notices());
        }
        told.iter()
            .all(|said| said.iter().any(|notice| notice.contains("other rules")))
    })
    .await;
    assert!(
        told[0][0].contains("Bo builds under other rules in lobby"),
        "{:?}",
        told[0]
    );
    assert!(
        told[1][0].contains("Host builds under other rules"),
        "{:?}",
        told[1]
    );
    // The documents never match, yet neither asks the other again and again.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let syncs = (ada.counters().syncs, bo.counters().syncs);
    assert!(syncs.0 <= 1 && syncs.1 <= 1, "{syncs:?}");
    for build in [&ada, &bo] {
        assert!(
            build
                .take_notices()
                .iter()
                .all(|notice| !notice.contains("other rules"))
        );
    }
    drop((a, b));
}
