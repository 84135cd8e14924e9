//! Avatar poses: a person's root, head and hands, quantized to [`POSE_LEN`] bytes.
//!
//! The game fills in a [`PoseSample`] (plain `f32`s), calls [`PoseSample::quantize`] to
//! get a [`Pose`], and sends that in a [`PoseDatagram`] to nearby peers many times a
//! second, or in a signed [`Body::Pose`](crate::Body::Pose) over gossip to far-away ones.
//! The receiver calls [`Pose::dequantize`] to get a `PoseSample` back, within the
//! precision listed on [`PoseSample`].

use std::f64::consts::{FRAC_1_SQRT_2, TAU};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::bits::{BitReader, BitWriter};
use crate::limits::POSE_DATAGRAM_MAX;

/// Length of an encoded [`Pose`] in bytes.
pub const POSE_LEN: usize = 36;

/// Length of an encoded [`PoseDatagram`] in bytes: a 4-byte sequence number and a pose.
pub const POSE_DATAGRAM_LEN: usize = 4 + POSE_LEN;

/// Root positions are kept within this many metres of the origin on each axis.
pub const POSITION_RANGE_M: f32 = 8388.607;

/// Head and hand offsets are kept within this many metres on each axis.
pub const OFFSET_RANGE_M: f32 = 2.046;

// Bit widths and scales of the encoding; see the table on `Pose`.
const POSITION_BITS: u32 = 24;
const POSITION_STEPS_PER_M: f64 = 1000.0;
const YAW_BITS: u32 = 16;
const YAW_STEPS_PER_TURN: f64 = 65536.0;
const OFFSET_BITS: u32 = 11;
const OFFSET_STEPS_PER_M: f64 = 500.0;
const ROTATION_BITS: u32 = 10;
/// A quaternion component of ±1/√2 is stored as ±511.
const ROTATION_STEPS: f64 = 511.0;

const POINT_BITS: u32 = 3 * OFFSET_BITS + 2 + 3 * ROTATION_BITS;
const POSE_BITS: u32 = 3 * POSITION_BITS + YAW_BITS + 2 + 3 * POINT_BITS;

// The fields fill the pose's bytes with less than one byte of zero padding, and the
// datagram stays within its limit.
const _: () = assert!(POSE_BITS as usize <= POSE_LEN * 8 && POSE_BITS as usize > (POSE_LEN - 1) * 8);
const _: () = assert!(POSE_DATAGRAM_LEN <= POSE_DATAGRAM_MAX);

/// A head or a hand: where it is and which way it points.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrackedPoint {
    /// Offset in metres, in the avatar's frame (after the root's yaw). The head's offset
    /// is from the root; a hand's is from the head. A hand with no offset at all is not
    /// tracked (a desktop person has none) and is not shown.
    pub offset: [f32; 3],
    /// Orientation as a unit quaternion `[x, y, z, w]`, in the same frame as `offset`.
    pub rotation: [f32; 4],
}

impl Default for TrackedPoint {
    /// No offset and no rotation.
    fn default() -> Self {
        Self {
            offset: [0.0; 3],
            rotation: [0.0, 0.0, 0.0, 1.0],
        }
    }
}

/// A person's pose in plain numbers, as the game reads and writes it.
///
/// Precision after [`quantize`](Self::quantize) then [`Pose::dequantize`]:
///
/// | field | step | worst error | range (larger values are clamped) |
/// | --- | --- | --- | --- |
/// | `position` | 1 mm | 0.5 mm | ±8388.607 m on each axis ([`POSITION_RANGE_M`]) |
/// | `yaw` | 1/65536 turn (0.0055°) | 0.0028° | any angle, wrapped to `0..2π` |
/// | offsets | 2 mm | 1 mm | −2.048 to +2.046 m on each axis ([`OFFSET_RANGE_M`]) |
/// | rotations | 10 bits per component | 0.3° | any unit quaternion |
/// | `flying`, `grounded` | exact | | |
///
/// Rotations come back as `q` or `-q`, which are the same rotation. A rotation that is
/// not unit length is normalized first; a zero or non-finite one becomes no rotation.
/// A non-finite position or offset becomes 0 and a non-finite yaw becomes 0.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct PoseSample {
    /// Where the avatar's feet are, in world metres, y up.
    pub position: [f32; 3],
    /// Which way the body faces: radians about +y.
    pub yaw: f32,
    /// The head, offset from `position`.
    pub head: TrackedPoint,
    /// The left hand, offset from the head.
    pub left_hand: TrackedPoint,
    /// The right hand, offset from the head.
    pub right_hand: TrackedPoint,
    /// Whether the avatar is flying.
    pub flying: bool,
    /// Whether the avatar stands on the ground.
    pub grounded: bool,
}

impl PoseSample {
    /// Rounds every field to what fits in [`POSE_LEN`] bytes.
    pub fn quantize(&self) -> Pose {
        Pose {
            position: self
                .position
                .map(|v| quantize_linear(v, POSITION_STEPS_PER_M, POSITION_BITS)),
            yaw: quantize_yaw(self.yaw),
            head: QuantizedPoint::new(&self.head),
            left_hand: QuantizedPoint::new(&self.left_hand),
            right_hand: QuantizedPoint::new(&self.right_hand),
            flying: self.flying,
            grounded: self.grounded,
        }
    }
}

/// A quantized pose: what travels on the wire, always [`POSE_LEN`] bytes.
///
/// Made by [`PoseSample::quantize`] or [`Pose::from_bytes`]; read with
/// [`Pose::dequantize`]. The bytes are these fields, packed most significant bit first:
///
/// | bits | field |
/// | --- | --- |
/// | 3 × 24 | root x, y, z in millimetres, signed |
/// | 16 | yaw in 1/65536 of a turn |
/// | 1 + 1 | flying, grounded |
/// | 3 × 65 | head, left hand, right hand, each: |
/// | ↳ 3 × 11 | offset x, y, z in units of 2 mm, signed |
/// | ↳ 2 | which quaternion component is left out (the largest, made positive) |
/// | ↳ 3 × 10 | the other three, scaled so ±1/√2 is ±511, signed ("smallest three") |
/// | 3 | zero |
///
/// Signed fields are stored as the value plus 2<sup>bits−1</sup>.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Pose {
    /// Millimetres.
    position: [i32; 3],
    /// 1/65536 of a turn.
    yaw: u16,
    head: QuantizedPoint,
    left_hand: QuantizedPoint,
    right_hand: QuantizedPoint,
    flying: bool,
    grounded: bool,
}

impl Pose {
    /// Back to plain numbers, within the precision listed on [`PoseSample`].
    pub fn dequantize(&self) -> PoseSample {
        PoseSample {
            position: self.position.map(|v| dequantize_linear(v, POSITION_STEPS_PER_M)),
            yaw: (f64::from(self.yaw) / YAW_STEPS_PER_TURN * TAU) as f32,
            head: self.head.dequantize(),
            left_hand: self.left_hand.dequantize(),
            right_hand: self.right_hand.dequantize(),
            flying: self.flying,
            grounded: self.grounded,
        }
    }

    /// The [`POSE_LEN`] bytes of this pose.
    pub fn to_bytes(&self) -> [u8; POSE_LEN] {
        let mut writer = BitWriter::<POSE_LEN>::new();
        for v in self.position {
            writer.write_signed(v, POSITION_BITS);
        }
        writer.write(self.yaw.into(), YAW_BITS);
        writer.write(self.flying.into(), 1);
        writer.write(self.grounded.into(), 1);
        for point in [&self.head, &self.left_hand, &self.right_hand] {
            point.write(&mut writer);
        }
        writer.into_bytes()
    }

    /// Reads a pose from exactly [`POSE_LEN`] bytes. Every bit pattern is a valid pose
    /// except one with a padding bit set.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, PoseError> {
        let wrong_length = PoseError::WrongLength {
            len: bytes.len(),
            expected: POSE_LEN,
        };
        if bytes.len() != POSE_LEN {
            return Err(wrong_length);
        }
        let mut reader = BitReader::new(bytes);
        let pose = Self::read(&mut reader).ok_or(wrong_length)?;
        if !reader.rest_is_zero() {
            return Err(PoseError::NonZeroPadding);
        }
        Ok(pose)
    }

    fn read(reader: &mut BitReader<'_>) -> Option<Self> {
        Some(Self {
            position: [
                reader.read_signed(POSITION_BITS)?,
                reader.read_signed(POSITION_BITS)?,
                reader.read_signed(POSITION_BITS)?,
            ],
            yaw: reader.read(YAW_BITS)? as u16,
            flying: reader.read(1)? == 1,
            grounded: reader.read(1)? == 1,
            head: QuantizedPoint::read(reader)?,
            left_hand: QuantizedPoint::read(reader)?,
            right_hand: QuantizedPoint::read(reader)?,
        })
    }
}

impl Serialize for Pose {
    /// Written as its [`POSE_LEN`] bytes, with no length in front.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        crate::fixed_bytes::serialize(&self.to_bytes(), serializer)
    }
}

impl<'de> Deserialize<'de> for Pose {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let bytes: [u8; POSE_LEN] = crate::fixed_bytes::deserialize(deserializer)?;
        Pose::from_bytes(&bytes).map_err(serde::de::Error::custom)
    }
}

/// One pose sent as one QUIC datagram on an [`ALPN_POSE`](crate::alpn::ALPN_POSE)
/// connection: a 4-byte little-endian `seq`, then the [`POSE_LEN`] pose bytes.
///
/// Datagrams are not signed. The QUIC connection they arrive on was authenticated by TLS
/// against the sender's key (its iroh endpoint id) when it was opened, so the connection
/// already says who sent them and no one else can inject into it; a signature would add
/// 64 bytes to a 40-byte datagram sent up to 60 times a second.
///
/// Datagrams can be lost or reordered. The sender counts `seq` up from 0 on each
/// connection; the receiver keeps the highest `seq` it has seen and drops older ones,
/// so the newest pose wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PoseDatagram {
    /// Counts up by one per datagram on a connection.
    pub seq: u32,
    /// The pose.
    pub pose: Pose,
}

impl PoseDatagram {
    /// The [`POSE_DATAGRAM_LEN`] bytes to send.
    pub fn encode(&self) -> [u8; POSE_DATAGRAM_LEN] {
        let mut bytes = [0u8; POSE_DATAGRAM_LEN];
        bytes[..4].copy_from_slice(&self.seq.to_le_bytes());
        bytes[4..].copy_from_slice(&self.pose.to_bytes());
        bytes
    }

    /// Reads a datagram; anything but exactly [`POSE_DATAGRAM_LEN`] bytes is refused.
    pub fn decode(bytes: &[u8]) -> Result<Self, PoseError> {
        let wrong_length = PoseError::WrongLength {
            len: bytes.len(),
            expected: POSE_DATAGRAM_LEN,
        };
        if bytes.len() != POSE_DATAGRAM_LEN {
            return Err(wrong_length);
        }
        let (seq, pose) = bytes.split_first_chunk::<4>().ok_or(wrong_length)?;
        Ok(Self {
            seq: u32::from_le_bytes(*seq),
            pose: Pose::from_bytes(pose)?,
        })
    }
}

/// Why bytes are not a [`Pose`] or a [`PoseDatagram`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PoseError {
    /// Poses and pose datagrams have a fixed length.
    #[error("expected {expected} bytes, got {len}")]
    WrongLength {
        /// Length of the input in bytes.
        len: usize,
        /// The only length accepted.
        expected: usize,
    },
    /// The padding bits at the end must be zero, so that each pose has one encoding.
    #[error("the padding bits at the end of a pose are not zero")]
    NonZeroPadding,
}

/// A [`TrackedPoint`] in integers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct QuantizedPoint {
    /// Units of 2 mm.
    offset: [i32; 3],
    /// Which quaternion component was left out: 0 to 3 for x, y, z, w.
    largest: u8,
    /// The other three components in order, each -511 to 511 (decoding also meets -512).
    others: [i32; 3],
}

impl QuantizedPoint {
    fn new(point: &TrackedPoint) -> Self {
        let (largest, others) = quantize_rotation(point.rotation);
        Self {
            offset: point
                .offset
                .map(|v| quantize_linear(v, OFFSET_STEPS_PER_M, OFFSET_BITS)),
            largest,
            others,
        }
    }

    fn dequantize(&self) -> TrackedPoint {
        TrackedPoint {
            offset: self.offset.map(|v| dequantize_linear(v, OFFSET_STEPS_PER_M)),
            rotation: dequantize_rotation(self.largest, self.others),
        }
    }

    fn write(&self, writer: &mut BitWriter<POSE_LEN>) {
        for v in self.offset {
            writer.write_signed(v, OFFSET_BITS);
        }
        writer.write(self.largest.into(), 2);
        for v in self.others {
            writer.write_signed(v, ROTATION_BITS);
        }
    }

    fn read(reader: &mut BitReader<'_>) -> Option<Self> {
        Some(Self {
            offset: [
                reader.read_signed(OFFSET_BITS)?,
                reader.read_signed(OFFSET_BITS)?,
                reader.read_signed(OFFSET_BITS)?,
            ],
            largest: reader.read(2)? as u8,
            others: [
                reader.read_signed(ROTATION_BITS)?,
                reader.read_signed(ROTATION_BITS)?,
                reader.read_signed(ROTATION_BITS)?,
            ],
        })
    }
}

/// Rounds `value` metres to whole steps that fit in a signed `width`-bit field.
fn quantize_linear(value: f32, steps_per_m: f64, width: u32) -> i32 {
    let max = (1 << (width - 1)) - 1;
    let min = -max - 1;
    // `as` turns NaN into 0 and saturates infinities; the clamp does the rest.
    ((f64::from(value) * steps_per_m).round() as i32).clamp(min, max)
}

fn dequantize_linear(steps: i32, steps_per_m: f64) -> f32 {
    (f64::from(steps) / steps_per_m) as f32
}

/// Rounds an angle in radians to 1/65536 of a turn, wrapped to one turn.
fn quantize_yaw(yaw: f32) -> u16 {
    let turns = (f64::from(yaw) / TAU).rem_euclid(1.0);
    // NaN stays NaN and `as` makes it 0. A yaw just under a full turn rounds up to
    // 65536, which is 0 again.
    ((turns * YAW_STEPS_PER_TURN).round() as u32 % 65536) as u16
}

/// "Smallest three": leaves out the largest component (it can be recomputed, since the
/// quaternion has unit length) and stores the other three, which lie within ±1/√2.
fn quantize_rotation(rotation: [f32; 4]) -> (u8, [i32; 3]) {
    let q = rotation.map(f64::from);
    let norm = q.iter().map(|c| c * c).sum::<f64>().sqrt();
    let q = if norm.is_finite() && norm > 1e-6 {
        q.map(|c| c / norm)
    } else {
        [0.0, 0.0, 0.0, 1.0]
    };

    let mut largest = 0;
    for (i, c) in q.iter().enumerate() {
        if c.abs() > q[largest].abs() {
            largest = i;
        }
    }
    // q and -q are the same rotation: flip so the left-out component is positive.
    let sign = if q[largest] < 0.0 { -1.0 } else { 1.0 };
    let max = ROTATION_STEPS as i32;

    let mut others = [0; 3];
    let rest = q
        .iter()
        .enumerate()
        .filter(|&(i, _)| i != largest)
        .map(|(_, c)| sign * c);
    for (slot, c) in others.iter_mut().zip(rest) {
        *slot = ((c / FRAC_1_SQRT_2 * ROTATION_STEPS).round() as i32).clamp(-max, max);
    }
    (largest as u8, others)
}

fn dequantize_rotation(largest: u8, others: [i32; 3]) -> [f32; 4] {
    let others = others.map(|v| f64::from(v) / ROTATION_STEPS * FRAC_1_SQRT_2);
    let sum_of_squares: f64 = others.iter().map(|c| c * c).sum();
    let left_out = (1.0 - sum_of_squares).max(0.0).sqrt();

    let mut rest = others.into_iter();
    let mut q = [0.0; 4];
    for (i, c) in q.iter_mut().enumerate() {
        *c = if i == usize::from(largest) {
            left_out
        } else {
            rest.next().unwrap_or(0.0)
        };
    }
    // Made-up bytes can hold three components whose squares add up to more than 1;
    // scale those back to unit length. The norm is at least 1, so never zero.
    let norm = (sum_of_squares + left_out * left_out).sqrt();
    q.map(|c| (c / norm) as f32)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> PoseSample {
        PoseSample {
            position: [12.3456, 1.5, -7000.2507],
            yaw: 1.0,
            head: TrackedPoint {
                offset: [0.0, 1.62, 0.05],
                rotation: [0.1, 0.2, 0.0, 0.97],
            },
            left_hand: TrackedPoint {
                offset: [-0.3, -0.4, 0.2],
                rotation: [0.0, 0.0, -0.7, 0.7],
            },
            right_hand: TrackedPoint {
                offset: [0.3, -0.4, 0.2],
                rotation: [0.5, 0.5, 0.5, 0.5],
            },
            flying: true,
            grounded: false,
        }
    }

    #[test]
    fn layout_fills_36_bytes_and_the_datagram_is_40() {
        assert_eq!(POSE_BITS, 285);
        assert_eq!(POSE_LEN, 36);
        assert_eq!(POSE_DATAGRAM_LEN, 40);
        let datagram = PoseDatagram {
            seq: 0x0102_0304,
            pose: sample().quantize(),
        };
        let bytes = datagram.encode();
        assert_eq!(bytes[..4], [4, 3, 2, 1]);
        assert_eq!(PoseDatagram::decode(&bytes), Ok(datagram));
    }

    #[test]
    fn the_rest_pose_survives_exactly() {
        let rest = PoseSample::default();
        assert_eq!(rest.quantize().dequantize(), rest);
    }

    #[test]
    fn values_come_back_within_their_steps() {
        let original = sample();
        let back = original.quantize().dequantize();
        for (a, b) in original.position.iter().zip(back.position) {
            assert!((a - b).abs() <= 0.0005 + a.abs() * f32::EPSILON, "{a} vs {b}");
        }
        assert!((original.yaw - back.yaw).abs() < 0.0001);
        assert!((original.head.offset[1] - back.head.offset[1]).abs() <= 0.001);
        assert_eq!((back.flying, back.grounded), (true, false));
    }

    #[test]
    fn out_of_range_values_are_clamped_and_nan_becomes_zero() {
        let wild = PoseSample {
            position: [1e9, -1e9, f32::NAN],
            yaw: f32::INFINITY,
            head: TrackedPoint {
                offset: [5.0, -5.0, f32::NEG_INFINITY],
                ..TrackedPoint::default()
            },
            left_hand: TrackedPoint {
                rotation: [0.0; 4],
                ..TrackedPoint::default()
            },
            right_hand: TrackedPoint {
                rotation: [f32::NAN, 0.0, 0.0, 1.0],
                ..TrackedPoint::default()
            },
            ..PoseSample::default()
        };
        let back = wild.quantize().dequantize();
        assert_eq!(back.position, [POSITION_RANGE_M, -8388.608, 0.0]);
        assert_eq!(back.yaw, 0.0);
        assert_eq!(back.head.offset, [OFFSET_RANGE_M, -2.048, -2.048]);
        assert_eq!(back.left_hand.rotation, [0.0, 0.0, 0.0, 1.0]);
        assert_eq!(back.right_hand.rotation, [0.0, 0.0, 0.0, 1.0]);
    }

    #[test]
    fn yaw_wraps_to_one_turn() {
        let quarter = std::f32::consts::FRAC_PI_2;
        assert_eq!(quantize_yaw(-quarter), quantize_yaw(3.0 * quarter));
        assert_eq!(quantize_yaw(std::f32::consts::TAU), 0);
        assert_eq!(quantize_yaw(-1e-9), 0);
        assert_eq!(quantize_yaw(quarter), 16384);
    }

    #[test]
    fn a_quaternion_and_its_negation_encode_the_same() {
        let q = [0.1, -0.7, 0.2, 0.67];
        assert_eq!(quantize_rotation(q), quantize_rotation(q.map(|c| -c)));
        assert_eq!(quantize_rotation(q).0, 1);
    }

    #[test]
    fn any_rotation_bits_decode_to_a_unit_quaternion() {
        for largest in 0..4 {
            for others in [[511, 511, 511], [-512, -512, -512], [0, 0, 0], [300, -200, 100]] {
                let q = dequantize_rotation(largest, others);
                let norm = q.iter().map(|c| c * c).sum::<f32>().sqrt();
                assert!((norm - 1.0).abs() < 1e-5, "{q:?}");
            }
        }
    }

    #[test]
    fn from_bytes_refuses_wrong_lengths_and_padding() {
        let bytes = sample().quantize().to_bytes();
        assert_eq!(Pose::from_bytes(&bytes), Ok(sample().quantize()));
        assert_eq!(
            Pose::from_bytes(&bytes[1..]),
            Err(PoseError::WrongLength {
                len: 35,
                expected: 36
            })
        );
        let mut padded = bytes;
        padded[POSE_LEN - 1] |= 1;
        assert_eq!(Pose::from_bytes(&padded), Err(PoseError::NonZeroPadding));
        assert!(PoseDatagram::decode(&[0; POSE_DATAGRAM_LEN + 1]).is_err());
        assert!(PoseDatagram::decode(&[]).is_err());
    }

    #[test]
    fn every_bit_of_the_pose_bytes_is_read_back() {
        // Flip each data bit in turn: the decoded pose must change (or be refused),
        // so no field is silently ignored.
        let bytes = sample().quantize().to_bytes();
        for bit in 0..POSE_BITS as usize {
            let mut flipped = bytes;
            flipped[bit / 8] ^= 0x80 >> (bit % 8);
            assert_ne!(Pose::from_bytes(&flipped), Ok(sample().quantize()), "bit {bit}");
            assert_eq!(
                Pose::from_bytes(&flipped).map(|p| p.to_bytes()),
                Ok(flipped),
                "bit {bit}"
            );
        }
    }
}
