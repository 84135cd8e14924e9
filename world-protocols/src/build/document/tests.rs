use proptest::prelude::*;

use super::*;
use crate::build::piece::PieceKind;
use crate::build::rules::{Builders, KeyText, Limits, Zone};
use crate::message::Rgb;

const NOW: u64 = 1_800_000_000_000;
const GREY: Rgb = Rgb {
    r: 120,
    g: 120,
    b: 120,
};

fn key(n: u8) -> Keypair {
    Keypair::from_bytes(&[n; 32])
}

fn world() -> WorldId {
    WorldId([7; 32])
}

fn lobby() -> SpaceName {
    SpaceName::new("lobby").unwrap()
}

fn zone(name: &str) -> ZoneName {
    ZoneName::new(name).unwrap()
}

/// A plaza anyone may build in (three pieces each) and a house only its owner (key 1),
/// and those it grants, may build in.
fn rules() -> BuildRules {
    BuildRules {
        zones: vec![
            Zone {
                name: zone("plaza"),
                min: [-10.0, 0.0, -10.0],
                max: [10.0, 10.0, 10.0],
                builders: Builders::Anyone,
                owners: vec![],
                invited: vec![],
                limits: Limits {
                    pieces_per_person: 3,
                    largest_m: 4.0,
                    kinds: Some(vec![PieceKind::Block, PieceKind::Wall]),
                },
            },
            Zone {
                name: zone("house"),
                min: [20.0, 0.0, 20.0],
                max: [30.0, 10.0, 30.0],
                builders: Builders::Invited,
                owners: vec![KeyText(key(1).peer_id())],
                invited: vec![],
                limits: Limits::default(),
            },
        ],
    }
}

fn document() -> Document {
    Document::new(world(), lobby(), &rules()).unwrap()
}

fn id(author: &Keypair, number: u64) -> PieceId {
    PieceId {
        creator: author.peer_id(),
        number,
    }
}

fn block_at(x: i32, z: i32) -> Piece {
    Piece::new(PieceKind::Block, [x, 500, z], GREY)
}

fn put(author: &Keypair, number: u64, zone_name: &str, piece: Piece, clock: u64) -> SignedRecord {
    let record = Record::Piece {
        id: id(author, number),
        zone: zone(zone_name),
        piece: Some(piece),
    };
    SignedRecord::sign(author, world(), &lobby(), clock, record)
}

fn remove(author: &Keypair, piece: PieceId, zone_name: &str, clock: u64) -> SignedRecord {
    let record = Record::Piece {
        id: piece,
        zone: zone(zone_name),
        piece: None,
    };
    SignedRecord::sign(author, world(), &lobby(), clock, record)
}

fn grant(author: &Keypair, person: PeerId, allowed: bool, clock: u64) -> SignedRecord {
    let record = Record::Grant {
        zone: zone("house"),
        person,
        allowed,
    };
    SignedRecord::sign(author, world(), &lobby(), clock, record)
}

fn applied(offer: Result<Offer, Refusal>) -> Vec<PieceId> {
    match offer {
        Ok(Offer::Applied(changed)) => changed,
        other => panic!("not applied: {other:?}"),
    }
}

#[test]
fn a_newer_record_wins_and_an_older_one_changes_nothing() {
    let ada = key(2);
    let mut doc = document();
    applied(doc.offer(put(&ada, 1, "plaza", block_at(0, 0), NOW), NOW));
    applied(doc.offer(put(&ada, 1, "plaza", block_at(1000, 0), NOW + 5), NOW));
    assert_eq!(doc.shown(&id(&ada, 1)).unwrap().position, [1000, 500, 0]);
    let hash = doc.hash();
    assert_eq!(
        doc.offer(put(&ada, 1, "plaza", block_at(2000, 0), NOW + 1), NOW),
        Ok(Offer::Stale)
    );
    assert_eq!(
        doc.offer(put(&ada, 1, "plaza", block_at(1000, 0), NOW + 5), NOW),
        Ok(Offer::Stale)
    );
    assert_eq!(doc.hash(), hash);
    applied(doc.offer(remove(&ada, id(&ada, 1), "plaza", NOW + 6), NOW));
    assert!(doc.shown(&id(&ada, 1)).is_none());
    // A put from before the removal cannot bring the piece back.
    assert_eq!(
        doc.offer(put(&ada, 1, "plaza", block_at(0, 0), NOW + 2), NOW),
        Ok(Offer::Stale)
    );
    assert_eq!(doc.pieces().count(), 0);
    assert!(doc.next_clock(NOW) > NOW + 6);
}

#[test]
fn every_kind_of_bad_record_is_refused_and_changes_nothing() {
    let (owner, ada, bob) = (key(1), key(2), key(3));
    let mut doc = document();
    applied(doc.offer(put(&ada, 1, "plaza", block_at(0, 0), NOW), NOW));
    let before = (doc.hash(), doc.len());

    let elsewhere = SignedRecord::sign(
        &ada,
        world(),
        &SpaceName::new("market").unwrap(),
        NOW,
        Record::Piece {
            id: id(&ada, 2),
            zone: zone("plaza"),
            piece: Some(block_at(0, 0)),
        },
    );
    let wide = Piece {
        size: [500, 100, 100],
        ..block_at(0, 0)
    };
    let refused = [
        (elsewhere, "bad signature"),
        (put(&ada, 2, "plaza", block_at(9800, 0), NOW), "outside"),
        (put(&ada, 2, "plaza", wide, NOW), "larger"),
        (
            put(
                &ada,
                2,
                "plaza",
                Piece::new(PieceKind::Ramp, [0, 500, 0], GREY),
                NOW,
            ),
            "does not allow",
        ),
        (put(&ada, 2, "yard", block_at(0, 0), NOW), "no zone"),
        (
            put(&ada, 2, "house", block_at(25_000, 25_000), NOW),
            "may not build",
        ),
        (
            put(&bob, 1, "plaza", block_at(0, 0), NOW + 10 * 60 * 1000),
            "ahead",
        ),
        (
            SignedRecord::sign(
                &bob,
                world(),
                &lobby(),
                NOW + 1,
                Record::Piece {
                    id: id(&ada, 1),
                    zone: zone("plaza"),
                    piece: Some(block_at(3000, 0)),
                },
            ),
            "changes a piece of",
        ),
        (remove(&bob, id(&ada, 1), "plaza", NOW + 1), "changes a piece of"),
        (grant(&ada, bob.peer_id(), true, NOW), "without owning"),
        (
            Piece {
                yaw: 30,
                ..block_at(0, 0)
            }
            .pipe(|piece| put(&ada, 2, "plaza", piece, NOW)),
            "yaw",
        ),
    ];
    for (record, reason) in refused {
        let refusal = doc.offer(record, NOW).unwrap_err();
        assert!(
            refusal.to_string().contains(reason),
            "{refusal} (expected {reason:?})"
        );
        assert_eq!((doc.hash(), doc.len()), before);
    }
    // The owner of a zone may build there and change anyone's pieces in it.
    applied(doc.offer(put(&owner, 1, "house", block_at(25_000, 25_000), NOW), NOW));
}

trait Pipe: Sized {
    fn pipe<T>(self, f: impl FnOnce(Self) -> T) -> T {
        f(self)
    }
}
impl<T> Pipe for T {}

#[test]
fn each_person_may_have_only_so_many_pieces_in_a_zone() {
    let ada = key(2);
    let mut doc = document();
    for n in 1..=3 {
        applied(doc.offer(put(&ada, n, "plaza", block_at(n as i32 * 1500, 0), NOW + n), NOW));
    }
    // Made here, a fourth is refused before it is signed.
    let fourth = Record::Piece {
        id: id(&ada, 0),
        zone: zone("plaza"),
        piece: Some(block_at(-3000, 0)),
    };
    let refusal = doc.check(&ada.peer_id(), &fourth);
    assert!(
        matches!(refusal, Err(Refusal::OverLimit { limit: 3, .. })),
        "{refusal:?}"
    );
    // Received (another device of Ada's made it), it is kept, and the first three by id
    // are shown: every peer agrees on which, whatever order they came in.
    let changed = applied(doc.offer(put(&ada, 0, "plaza", block_at(-3000, 0), NOW + 4), NOW));
    assert_eq!(changed, vec![id(&ada, 0), id(&ada, 2), id(&ada, 3)]);
    assert!(doc.shown(&id(&ada, 0)).is_some());
    assert!(doc.shown(&id(&ada, 3)).is_none());
    assert_eq!(doc.pieces().count(), 3);
    // Moving a standing piece is fine; removing one brings the fourth back.
    applied(doc.offer(put(&ada, 1, "plaza", block_at(-6000, 0), NOW + 5), NOW));
    let changed = applied(doc.offer(remove(&ada, id(&ada, 2), "plaza", NOW + 6), NOW));
    assert_eq!(changed, vec![id(&ada, 2), id(&ada, 3)]);
    assert!(doc.shown(&id(&ada, 3)).is_some());
    // Another person has their own three.
    applied(doc.offer(put(&key(3), 0, "plaza", block_at(0, 3000), NOW), NOW));
    assert_eq!(doc.pieces().count(), 4);
    // Records of any kind are bounded too: four per piece allowed.
    for n in 10..18 {
        applied(doc.offer(remove(&ada, id(&ada, n), "plaza", NOW + n), NOW));
    }
    let refusal = doc.offer(remove(&ada, id(&ada, 18), "plaza", NOW + 18), NOW);
    assert!(
        matches!(refusal, Err(Refusal::OverLimit { limit: 12, .. })),
        "{refusal:?}"
    );
}

#[test]
fn granting_shows_a_builder_and_revoking_takes_their_pieces_down_everywhere() {
    let (owner, bob) = (key(1), key(3));
    let mut doc = document();
    let in_house = block_at(25_000, 25_000);
    assert!(
        doc.offer(put(&bob, 1, "house", in_house.clone(), NOW), NOW)
            .is_err()
    );
    assert_eq!(
        applied(doc.offer(grant(&owner, bob.peer_id(), true, NOW + 1), NOW)),
        vec![]
    );
    assert!(doc.may_build(&zone("house"), &bob.peer_id()));
    applied(doc.offer(put(&bob, 1, "house", in_house.clone(), NOW + 2), NOW));
    assert!(doc.shown(&id(&bob, 1)).is_some());
    let shown = doc.hash();

    assert_eq!(
        applied(doc.offer(grant(&owner, bob.peer_id(), false, NOW + 3), NOW)),
        vec![id(&bob, 1)]
    );
    assert!(doc.shown(&id(&bob, 1)).is_none(), "revoked: hidden");
    assert_eq!(
        doc.pieces_signed_by(&zone("house"), &bob.peer_id()),
        vec![id(&bob, 1)]
    );
    // Bob may not build there now: an edit of his own is refused before it is signed...
    let second = Record::Piece {
        id: id(&bob, 2),
        zone: zone("house"),
        piece: Some(in_house.clone()),
    };
    assert!(matches!(
        doc.check(&bob.peer_id(), &second),
        Err(Refusal::NoRights { .. })
    ));
    // ...but a record he signed is kept, hidden, wherever it arrives (before or after the
    // revocation, on a peer that got them in another order): every peer keeps the same.
    applied(doc.offer(put(&bob, 2, "house", in_house.clone(), NOW + 4), NOW));
    assert!(doc.shown(&id(&bob, 2)).is_none());
    let revoked = doc.hash();
    assert_ne!(revoked, shown);

    // A peer that never saw the piece (it was refused there) shows the same after the
    // revocation: the hash covers only what is shown.
    let mut other = document();
    applied(other.offer(grant(&owner, bob.peer_id(), false, NOW + 3), NOW));
    assert_eq!(other.hash(), revoked);
    assert_eq!(doc.hash(), hash_from_scratch(&doc));

    applied(doc.offer(grant(&owner, bob.peer_id(), true, NOW + 5), NOW));
    assert!(doc.shown(&id(&bob, 1)).is_some(), "granted again: shown again");
    assert_eq!(doc.grants(&zone("house")), vec![(bob.peer_id(), true)]);
}

#[test]
fn records_encode_canonically_and_the_largest_batch_fits_a_message() {
    use crate::build::piece::SignText;
    use crate::build::record::RecordBatch;
    use crate::limits::{BUILD_BATCH_MAX, MESSAGE_MAX, SIGN_TEXT_MAX};
    use crate::message::{Body, Context, SignedEnvelope};

    let ada = key(2);
    let record = put(&ada, 1, "plaza", block_at(0, 0), NOW);
    assert_eq!(SignedRecord::decode(&record.encode()), Ok(record.clone()));
    let mut longer = record.encode();
    longer.push(0);
    assert!(SignedRecord::decode(&longer).is_err());

    let sign = Piece {
        text: Some(SignText::new("é".repeat(SIGN_TEXT_MAX / 2)).unwrap()),
        position: [i32::MIN, i32::MIN, i32::MIN],
        ..Piece::new(PieceKind::Sign, [0, 0, 0], GREY)
    };
    let long_zone = "z".repeat(crate::limits::SPACE_NAME_MAX);
    let largest = SignedRecord::sign(
        &ada,
        world(),
        &lobby(),
        u64::MAX,
        Record::Piece {
            id: PieceId {
                creator: ada.peer_id(),
                number: u64::MAX,
            },
            zone: zone(&long_zone),
            piece: Some(sign),
        },
    );
    let batch = RecordBatch::new(vec![largest; BUILD_BATCH_MAX]).unwrap();
    let context = Context::room(world(), lobby());
    let envelope = SignedEnvelope::sign(&ada, &context, u64::MAX, u64::MAX, Body::Build(batch));
    let bytes = envelope.encode();
    assert!(bytes.len() <= MESSAGE_MAX, "{} bytes", bytes.len());
    assert_eq!(SignedEnvelope::decode(&bytes), Ok(envelope));
    assert!(RecordBatch::new(vec![record; BUILD_BATCH_MAX + 1]).is_err());
}

#[test]
fn the_rules_digest_follows_what_the_rules_mean_not_how_they_are_written() {
    let digest = |rules: &BuildRules| Document::new(world(), lobby(), rules).unwrap().rules_digest();
    let mut one = rules();
    one.zones[1].owners = vec![KeyText(key(1).peer_id()), KeyText(key(2).peer_id())];
    let mut same = one.clone();
    same.zones[1].owners.reverse();
    same.zones[0].max[1] += 0.0001;
    assert_eq!(
        digest(&one),
        digest(&same),
        "owners in another order, a bound within a millimetre"
    );
    let mut other = one.clone();
    other.zones[0].limits.pieces_per_person += 1;
    assert_ne!(digest(&one), digest(&other));
    let mut moved = one.clone();
    moved.zones[0].max[0] -= 1.0;
    assert_ne!(digest(&one), digest(&moved));
}

/// The hash worked out anew from every record, as a peer that just loaded them would:
/// what the hash kept up to date with each record must always equal. What counts is
/// found as [`Document::pieces`] finds what is shown (not as the hash does).
fn hash_from_scratch(doc: &Document) -> [u8; 32] {
    let shown: BTreeSet<PieceId> = doc.pieces().map(|(id, _)| id).collect();
    let mut sum = [0u64; 4];
    let counts = |record: &&SignedRecord| match record.record() {
        Record::Piece {
            id, piece: Some(_), ..
        } => shown.contains(id),
        _ => true,
    };
    for record in doc.records().filter(counts) {
        for (sum, lane) in sum.iter_mut().zip(record_lanes(record)) {
            *sum = sum.wrapping_add(lane);
        }
    }
    hash_of_sum(&sum)
}

/// One person's edit, as the property test makes them.
#[derive(Debug, Clone)]
enum Edit {
    Place { author: u8, number: u64, x: i32 },
    Remove { author: u8, number: u64 },
    Grant { allowed: bool },
    HouseBlock { author: u8, number: u64 },
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (1..4u8, 0..5u64, -8000..8000i32).prop_map(|(author, number, x)| Edit::Place { author, number, x }),
        (1..4u8, 0..5u64).prop_map(|(author, number)| Edit::Remove { author, number }),
        any::<bool>().prop_map(|allowed| Edit::Grant { allowed }),
        (1..4u8, 0..3u64).prop_map(|(author, number)| Edit::HouseBlock { author, number }),
    ]
}

proptest! {
    /// Three people edit concurrently, each on their own copy; every copy then gets every
    /// record, in its own order, some twice. All three show the same world.
    #[test]
    fn peers_that_get_the_same_records_in_any_order_converge(
        edits in prop::collection::vec((0..3usize, edit()), 1..40),
        orders in prop::collection::vec(prop::collection::vec(any::<prop::sample::Index>(), 0..80), 3),
    ) {
        let mut peers = [document(), document(), document()];
        let mut sent = Vec::new();
        for (step, (at, edit)) in edits.into_iter().enumerate() {
            let doc = &mut peers[at];
            let now = NOW + step as u64;
            let (author, record) = match edit {
                Edit::Place { author, number, x } => (author, Record::Piece {
                    id: id(&key(author), number),
                    zone: zone("plaza"),
                    piece: Some(block_at(x, 0)),
                }),
                Edit::Remove { author, number } => (author, Record::Piece {
                    id: id(&key(author), number),
                    zone: zone("plaza"),
                    piece: None,
                }),
                Edit::Grant { allowed } => (1, Record::Grant {
                    zone: zone("house"),
                    person: key(2).peer_id(),
                    allowed,
                }),
                Edit::HouseBlock { author, number } => (author, Record::Piece {
                    // The same numbers as in the plaza: a piece moves between zones.
                    id: id(&key(author), number),
                    zone: zone("house"),
                    piece: Some(block_at(25_000, 25_000)),
                }),
            };
            let signed = doc.sign(&key(author), record, now);
            if doc.offer(signed.clone(), now).is_ok() {
                sent.push(signed);
            }
        }
        prop_assume!(!sent.is_empty());
        for (doc, order) in peers.iter_mut().zip(&orders) {
            let mut delivery: Vec<SignedRecord> = order.iter().map(|i| i.get(&sent).clone()).collect();
            delivery.extend(sent.iter().cloned());
            delivery.extend(order.iter().rev().map(|i| i.get(&sent).clone()));
            // Deliver until nothing changes: a record refused for want of a grant that
            // came later is offered again, as a sync would.
            for _ in 0..3 {
                for record in &delivery {
                    let _ = doc.offer(record.clone(), NOW);
                    prop_assert_eq!(doc.hash(), hash_from_scratch(doc));
                }
            }
        }
        let shown = |doc: &Document| doc.pieces().map(|(id, piece)| (id, piece.clone())).collect::<Vec<_>>();
        prop_assert_eq!(peers[0].hash(), peers[1].hash());
        prop_assert_eq!(peers[1].hash(), peers[2].hash());
        prop_assert_eq!(shown(&peers[0]), shown(&peers[2]));
    }
}
