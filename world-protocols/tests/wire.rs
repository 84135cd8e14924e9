//! Property tests of the wire formats: round trips, tampering, forgery, oversized and
//! random input. Decoders get untrusted bytes from the network, so every one of them is
//! also run on random bytes through the same `fuzzing` entry points the fuzz targets use.

use std::f64::consts::TAU;

use proptest::prelude::*;
use proptest::sample::Index;
use sanctuary_protocols::limits::{CHAT_MAX, MESSAGE_MAX, NAME_MAX, POSE_DATAGRAM_MAX};
use sanctuary_protocols::message::WIRE_VERSION;
use sanctuary_protocols::pose::POSE_DATAGRAM_LEN;
use sanctuary_protocols::{
    AvatarShape, Body, Chat, ChatText, Context, DecodeError, DisplayName, Keypair, PeerId, PoseDatagram,
    PoseError, PoseSample, Presence, Rgb, SignedEnvelope, SpaceName, TrackedPoint, VerifyError, WorldId,
    fuzzing,
};

// ---------------------------------------------------------------------------------------
// Strategies

/// The context every envelope in these tests is signed and checked in.
fn context() -> Context {
    Context::room(WorldId([4; 32]), SpaceName::new("lobby").unwrap())
}

fn keypair() -> impl Strategy<Value = Keypair> {
    any::<[u8; 32]>().prop_map(|secret| Keypair::from_bytes(&secret))
}

fn presence() -> impl Strategy<Value = Presence> {
    let name = "[^\\p{Cc}]{1,8}".prop_filter_map("nothing left", |s| DisplayName::clean(&s).ok());
    let space = "[a-z0-9-]{1,32}".prop_map(|s| SpaceName::new(s).unwrap());
    let shape = prop_oneof![
        Just(AvatarShape::Capsule),
        Just(AvatarShape::Cube),
        Just(AvatarShape::Sphere),
        Just(AvatarShape::Cone),
    ];
    (name, any::<[u8; 3]>(), shape, space).prop_map(|(name, [r, g, b], shape, space)| Presence {
        name,
        color: Rgb { r, g, b },
        shape,
        space,
    })
}

fn chat() -> impl Strategy<Value = Chat> {
    prop_oneof![
        "[^\\p{Cc}]{1,250}",
        "[a-z \n\t]{1,1000}",
        Just("x".repeat(CHAT_MAX)),
    ]
    .prop_filter_map("nothing left", |text| ChatText::clean(&text).ok())
    .prop_map(|text| Chat { text })
}

fn rotation() -> impl Strategy<Value = [f32; 4]> {
    any::<[i16; 4]>().prop_filter_map("near zero", |q| {
        let q = q.map(f64::from);
        let norm = q.iter().map(|c| c * c).sum::<f64>().sqrt();
        (norm > 100.0).then(|| q.map(|c| (c / norm) as f32))
    })
}

fn tracked_point() -> impl Strategy<Value = TrackedPoint> {
    (prop::array::uniform3(-2.04f32..2.04), rotation())
        .prop_map(|(offset, rotation)| TrackedPoint { offset, rotation })
}

/// Poses within the documented ranges.
fn pose_sample() -> impl Strategy<Value = PoseSample> {
    (
        prop::array::uniform3(-8388.0f32..8388.0),
        -20.0f32..20.0,
        [tracked_point(), tracked_point(), tracked_point()],
        any::<(bool, bool)>(),
    )
        .prop_map(
            |(position, yaw, [head, left_hand, right_hand], (flying, grounded))| PoseSample {
                position,
                yaw,
                head,
                left_hand,
                right_hand,
                flying,
                grounded,
            },
        )
}

fn body() -> impl Strategy<Value = Body> {
    prop_oneof![
        presence().prop_map(Body::Hello),
        presence().prop_map(Body::Presence),
        Just(Body::Leave),
        chat().prop_map(Body::Chat),
        pose_sample().prop_map(|sample| Body::Pose(sample.quantize())),
    ]
}

fn envelope() -> impl Strategy<Value = SignedEnvelope> {
    (keypair(), any::<u64>(), any::<u64>(), body()).prop_map(|(keypair, seq, timestamp_ms, body)| {
        SignedEnvelope::sign(&keypair, &context(), seq, timestamp_ms, body)
    })
}

/// Angle in radians between two rotations given as unit quaternions.
fn angle_between(a: [f32; 4], b: [f32; 4]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| f64::from(*x) * f64::from(y)).sum();
    2.0 * dot.abs().min(1.0).acos()
}

// ---------------------------------------------------------------------------------------
// Properties

proptest! {
    #[test]
    fn envelopes_round_trip_and_verify(envelope in envelope()) {
        let bytes = envelope.encode();
        prop_assert!(bytes.len() <= MESSAGE_MAX);
        let decoded = SignedEnvelope::decode(&bytes).unwrap();
        prop_assert_eq!(&decoded, &envelope);
        prop_assert_eq!(decoded.verify(&context()), envelope.verify(&context()));
        prop_assert!(decoded.verify(&context()).is_ok());
    }

    #[test]
    fn any_changed_byte_is_refused(envelope in envelope(), at in any::<Index>(), flip in 1u8..=255) {
        let mut bytes = envelope.encode();
        let i = at.index(bytes.len());
        bytes[i] ^= flip;
        match SignedEnvelope::decode(&bytes) {
            Err(_) => {}
            Ok(tampered) => prop_assert!(tampered.verify(&context()).is_err(), "byte {} accepted", i),
        }
    }

    #[test]
    fn another_key_cannot_sign_for_an_author(
        signer in keypair(),
        claimed in keypair(),
        seq in any::<u64>(),
        body in body(),
    ) {
        prop_assume!(signer.peer_id() != claimed.peer_id());
        // The forger signs honestly, then swaps in someone else's id as the author. The
        // author is the 32 bytes after the version byte.
        let mut bytes = SignedEnvelope::sign(&signer, &context(), seq, 0, body).encode();
        bytes[1..33].copy_from_slice(claimed.peer_id().as_bytes());
        let forged = SignedEnvelope::decode(&bytes).unwrap();
        prop_assert_eq!(forged.author(), claimed.peer_id());
        prop_assert_eq!(forged.verify(&context()), Err(VerifyError::BadSignature));
    }

    #[test]
    fn pose_datagrams_round_trip(seq in any::<u32>(), sample in pose_sample()) {
        let datagram = PoseDatagram { seq, pose: sample.quantize() };
        let bytes = datagram.encode();
        prop_assert_eq!(bytes.len(), POSE_DATAGRAM_LEN);
        prop_assert_eq!(PoseDatagram::decode(&bytes), Ok(datagram));
        prop_assert_eq!(fuzzing::decode_pose_datagram(&bytes), Ok(()));
    }

    /// The precision promised on `PoseSample`.
    #[test]
    fn quantization_error_is_within_documented_bounds(sample in pose_sample()) {
        let back = sample.quantize().dequantize();

        for (a, b) in sample.position.iter().zip(back.position) {
            // 1 mm steps, plus the f32 rounding of the result.
            prop_assert!((a - b).abs() <= 0.0005 + a.abs() * f32::EPSILON, "position {} -> {}", a, b);
        }

        let turned = (f64::from(back.yaw) - f64::from(sample.yaw)).rem_euclid(TAU);
        let yaw_error = turned.min(TAU - turned);
        prop_assert!(yaw_error <= TAU / 65536.0 / 2.0 + 4e-6, "yaw {} -> {}", sample.yaw, back.yaw);

        let points = [
            (sample.head, back.head),
            (sample.left_hand, back.left_hand),
            (sample.right_hand, back.right_hand),
        ];
        for (a, b) in points {
            for (x, y) in a.offset.iter().zip(b.offset) {
                prop_assert!((x - y).abs() <= 0.001 + x.abs() * f32::EPSILON, "offset {} -> {}", x, y);
            }
            let angle = angle_between(a.rotation, b.rotation);
            prop_assert!(angle.to_degrees() <= 0.3, "rotation {:?} -> {:?}: {}°", a.rotation, b.rotation, angle.to_degrees());
        }
        prop_assert_eq!((back.flying, back.grounded), (sample.flying, sample.grounded));
    }

    #[test]
    fn peer_ids_print_and_parse_back(bytes in any::<[u8; 32]>()) {
        let id = PeerId::from_bytes(bytes);
        let text = id.to_string();
        prop_assert_eq!(text.len(), 64);
        prop_assert!(text.bytes().all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c)));
        prop_assert_eq!(text.parse::<PeerId>(), Ok(id));
    }

    /// Whatever the network sends, no decoder panics, and what decodes keeps its invariants.
    #[test]
    fn random_bytes_never_break_a_decoder(data in prop::collection::vec(any::<u8>(), 0..=64 * 1024)) {
        prop_assert_eq!(fuzzing::decode_envelope(&data), Ok(()));
        prop_assert_eq!(fuzzing::decode_pose_datagram(&data), Ok(()));
        prop_assert_eq!(fuzzing::decode_pose(&data), Ok(()));
        prop_assert_eq!(fuzzing::parse_peer_id(&data), Ok(()));
        prop_assert_eq!(fuzzing::decode_home(&data), Ok(()));
        prop_assert_eq!(fuzzing::decode_history(&data), Ok(()));
    }

    /// Random bytes rarely get past the version byte; these start with it.
    #[test]
    fn random_bytes_after_the_version_never_break_the_decoder(tail in prop::collection::vec(any::<u8>(), 0..2048)) {
        let mut data = vec![WIRE_VERSION];
        data.extend(tail);
        prop_assert_eq!(fuzzing::decode_envelope(&data), Ok(()));
        data[0] = sanctuary_protocols::history::HISTORY_VERSION;
        prop_assert_eq!(fuzzing::decode_history(&data), Ok(()));
    }

    /// Valid messages cut, stretched and scribbled on: close to valid is where bugs hide.
    #[test]
    fn mangled_envelopes_never_break_the_decoder(
        envelope in envelope(),
        edits in prop::collection::vec((any::<Index>(), any::<u8>(), 0u8..3), 1..8),
    ) {
        let mut data = envelope.encode();
        for (at, byte, kind) in edits {
            let i = at.index(data.len() + 1);
            match kind {
                0 => data.insert(i, byte),
                1 if i < data.len() => { data.remove(i); }
                _ if i < data.len() => data[i] = byte,
                _ => data.push(byte),
            }
        }
        prop_assert_eq!(fuzzing::decode_envelope(&data), Ok(()));
    }
}

// ---------------------------------------------------------------------------------------
// Hand-built bytes, to check what decoding refuses

fn varint(mut n: usize, out: &mut Vec<u8>) {
    while n >= 0x80 {
        out.push((n as u8 & 0x7f) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

fn string(text: &[u8], out: &mut Vec<u8>) {
    varint(text.len(), out);
    out.extend_from_slice(text);
}

/// An envelope with seq 1 and timestamp 2, laid out as the `message` module docs say.
fn envelope_bytes(author: &PeerId, body: &[u8], signature: &[u8; 64]) -> Vec<u8> {
    let mut bytes = vec![WIRE_VERSION];
    bytes.extend_from_slice(author.as_bytes());
    bytes.push(1);
    bytes.push(2);
    bytes.extend_from_slice(body);
    bytes.extend_from_slice(signature);
    bytes
}

/// `Body::Chat` is variant 3.
fn chat_body(text: &[u8]) -> Vec<u8> {
    let mut body = vec![3];
    string(text, &mut body);
    body
}

/// `Body::Presence` is variant 1; `AvatarShape::Cube` is variant 1.
fn presence_body(name: &[u8], space: &[u8]) -> Vec<u8> {
    let mut body = vec![1];
    string(name, &mut body);
    body.extend_from_slice(&[10, 20, 30, 1]);
    string(space, &mut body);
    body
}

fn decode_hand_built(body: &[u8]) -> Result<SignedEnvelope, DecodeError> {
    SignedEnvelope::decode(&envelope_bytes(&PeerId::from_bytes([9; 32]), body, &[0; 64]))
}

#[test]
fn hand_built_bytes_match_the_real_encoding() {
    // Without this, the refusals below could be refusals of a wrong layout.
    let keypair = Keypair::from_bytes(&[5; 32]);
    let chat = SignedEnvelope::sign(
        &keypair,
        &context(),
        1,
        2,
        Body::Chat(Chat {
            text: ChatText::new("hi").unwrap(),
        }),
    );
    let hand_built = envelope_bytes(&keypair.peer_id(), &chat_body(b"hi"), chat.signature().as_bytes());
    assert_eq!(hand_built, chat.encode());

    let presence = Presence {
        name: DisplayName::new("Ada").unwrap(),
        color: Rgb { r: 10, g: 20, b: 30 },
        shape: AvatarShape::Cube,
        space: SpaceName::new("lobby").unwrap(),
    };
    let signed = SignedEnvelope::sign(&keypair, &context(), 1, 2, Body::Presence(presence));
    let hand_built = envelope_bytes(
        &keypair.peer_id(),
        &presence_body(b"Ada", b"lobby"),
        signed.signature().as_bytes(),
    );
    assert_eq!(hand_built, signed.encode());
}

#[test]
fn decoding_enforces_the_text_rules() {
    let ok = |body: Vec<u8>| assert!(decode_hand_built(&body).is_ok());
    let refused = |body: Vec<u8>| assert!(matches!(decode_hand_built(&body), Err(DecodeError::Malformed(_))));

    ok(chat_body(&[b'x'; CHAT_MAX]));
    refused(chat_body(&[b'x'; CHAT_MAX + 1]));
    refused(chat_body(b""));
    refused(chat_body(b"caf\xc3"));
    refused(chat_body(b"\xff\xfe"));
    refused(chat_body(b"bell\x07"));

    ok(presence_body(&[b'n'; NAME_MAX], b"market"));
    refused(presence_body(&[b'n'; NAME_MAX + 1], b"market"));
    refused(presence_body(b"Ada", b"Market"));
    refused(presence_body(b"Ada", b"market hall"));
    refused(presence_body(b"Ada", b""));
    refused(presence_body(b"Ada\n", b"market"));

    // An unknown body variant, and an unknown avatar shape.
    refused(vec![5]);
    let mut bad_shape = presence_body(b"Ada", b"lobby");
    bad_shape[8] = 4;
    refused(bad_shape);
}

#[test]
fn oversized_input_is_refused_before_decoding() {
    // A valid-looking start does not matter: the size is checked first.
    let mut huge = envelope_bytes(&PeerId::from_bytes([9; 32]), &chat_body(b"hi"), &[0; 64]);
    huge.resize(MESSAGE_MAX + 1, 0);
    assert_eq!(
        SignedEnvelope::decode(&huge),
        Err(DecodeError::TooLarge {
            len: MESSAGE_MAX + 1,
            max: MESSAGE_MAX
        })
    );
    // At the limit it is decoded (and refused for its trailing bytes instead).
    huge.pop();
    assert!(matches!(
        SignedEnvelope::decode(&huge),
        Err(DecodeError::TrailingBytes(_))
    ));

    let datagram = PoseDatagram {
        seq: 1,
        pose: PoseSample::default().quantize(),
    }
    .encode();
    let mut long = datagram.to_vec();
    long.push(0);
    assert_eq!(
        PoseDatagram::decode(&long),
        Err(PoseError::WrongLength {
            len: 41,
            expected: 40
        })
    );
    assert_eq!(
        PoseDatagram::decode(&datagram[..39]),
        Err(PoseError::WrongLength {
            len: 39,
            expected: 40
        })
    );
}

#[test]
fn encoded_sizes_stay_small() {
    let datagram = PoseDatagram {
        seq: u32::MAX,
        pose: PoseSample::default().quantize(),
    };
    assert_eq!(datagram.encode().len(), 40);
    assert!(datagram.encode().len() <= POSE_DATAGRAM_MAX);

    let keypair = Keypair::from_bytes(&[5; 32]);
    let hello = Body::Chat(Chat {
        text: ChatText::new("hello").unwrap(),
    });
    let signed = SignedEnvelope::sign(&keypair, &context(), 1, 1_800_000_000_000, hello);
    assert_eq!(signed.encode().len(), 111);
}
