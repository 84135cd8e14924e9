//! Entry points for the fuzz targets in `world-protocols/fuzz/`, also run by the
//! property tests on random input.
//!
//! Each function feeds untrusted bytes to one decoder. Refusing the input is fine; what
//! must never happen is a panic, or an accepted input that breaks an invariant, which is
//! returned as an [`InvariantViolation`] (the fuzz targets turn it into a crash).

use crate::announce::WorldAnnouncement;
use crate::build::sync::{SyncRequest, decode_page, encode_page};
use crate::build::{BuildRules, Document, SignedRecord};
use crate::history::{HistoryAnswer, HistoryRequest};
use crate::home::{HomeAddress, Request, Response, request::OWNER_REQUEST_MAX};
use crate::identity::PeerId;
use crate::message::{Context, SignedEnvelope};
use crate::pose::{Pose, PoseDatagram, PoseSample, TrackedPoint};
use crate::voice::VoiceDatagram;
use crate::world::{WorldId, WorldTicket};

/// A decoder accepted input but broke one of its promises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum InvariantViolation {
    /// The decoded value does not encode back to the same bytes.
    #[error("decoded value does not encode back to the input")]
    NotCanonical,
    /// A decoded pose has a non-finite number, a position out of range, or a rotation
    /// that is not unit length.
    #[error("decoded pose is out of range")]
    PoseOutOfRange,
    /// A parsed ticket does not print and parse back to itself.
    #[error("parsed ticket does not round-trip")]
    TicketRoundTrip,
    /// A parsed world announcement does not print as the same text.
    #[error("parsed world announcement does not print back the same")]
    AnnouncementRoundTrip,
}

/// [`SignedEnvelope::decode`], then [`SignedEnvelope::verify`] on whatever decodes.
pub fn decode_envelope(data: &[u8]) -> Result<(), InvariantViolation> {
    let Ok(envelope) = SignedEnvelope::decode(data) else {
        return Ok(());
    };
    if envelope.encode() != data {
        return Err(InvariantViolation::NotCanonical);
    }
    // Random bytes almost never carry a valid signature; this must only not panic.
    let _ = envelope.verify(&Context::world(WorldId([0; 32])));
    let _ = envelope.check_fresh(0);
    Ok(())
}

/// The building sync decoders: the first byte picks a sync request, a page of records (whose
/// records are then offered to an empty document, which must not panic), or one stored
/// record. What decodes must encode back to the same bytes.
pub fn decode_build(data: &[u8]) -> Result<(), InvariantViolation> {
    let Some((&which, rest)) = data.split_first() else {
        return Ok(());
    };
    match which % 3 {
        0 => {
            if let Ok(request) = SyncRequest::decode(rest)
                && request.encode() != rest
            {
                return Err(InvariantViolation::NotCanonical);
            }
        }
        1 => {
            if let Ok(page) = decode_page(rest) {
                if encode_page(&page)[4..] != *rest {
                    return Err(InvariantViolation::NotCanonical);
                }
                let world = WorldId([0; 32]);
                let space =
                    crate::text::SpaceName::new("lobby").map_err(|_| InvariantViolation::NotCanonical)?;
                if let Ok(mut document) = Document::new(world, space, &BuildRules::default()) {
                    for record in page.into_records() {
                        let _ = document.offer(record, 0);
                    }
                }
            }
        }
        _ => {
            if let Ok(record) = SignedRecord::decode(rest)
                && record.encode() != rest
            {
                return Err(InvariantViolation::NotCanonical);
            }
        }
    }
    Ok(())
}

/// The earlier-chat decoders: a history request and a history answer, each of which must
/// encode back to the same bytes; every line of an answer is then checked (which must only
/// not panic).
pub fn decode_history(data: &[u8]) -> Result<(), InvariantViolation> {
    if let Ok(request) = HistoryRequest::decode(data)
        && request.encode() != data
    {
        return Err(InvariantViolation::NotCanonical);
    }
    if let Ok(answer) = HistoryAnswer::decode(data) {
        if answer.encode() != data {
            return Err(InvariantViolation::NotCanonical);
        }
        let space = crate::text::SpaceName::new("lobby").map_err(|_| InvariantViolation::NotCanonical)?;
        for line in &answer.lines {
            let _ = line.check(WorldId([0; 32]), &space);
        }
    }
    Ok(())
}

/// Parses the input as ticket text; one that parses must print as text that parses back
/// to the same ticket.
pub fn parse_ticket(data: &[u8]) -> Result<(), InvariantViolation> {
    let Some(ticket) = std::str::from_utf8(data)
        .ok()
        .and_then(|text| text.parse::<WorldTicket>().ok())
    else {
        return Ok(());
    };
    match ticket.to_string().parse::<WorldTicket>() {
        Ok(again) if again == ticket => Ok(()),
        _ => Err(InvariantViolation::TicketRoundTrip),
    }
}

/// Parses the input as a world announcement (what a host publishes on the local network);
/// one that parses must print as exactly the same text.
pub fn parse_world_announcement(data: &[u8]) -> Result<(), InvariantViolation> {
    let Some(announcement) = std::str::from_utf8(data)
        .ok()
        .and_then(|text| text.parse::<WorldAnnouncement>().ok())
    else {
        return Ok(());
    };
    if announcement.to_string().as_bytes() != data {
        return Err(InvariantViolation::AnnouncementRoundTrip);
    }
    Ok(())
}

/// [`PoseDatagram::decode`], then checks the decoded pose.
pub fn decode_pose_datagram(data: &[u8]) -> Result<(), InvariantViolation> {
    let Ok(datagram) = PoseDatagram::decode(data) else {
        return Ok(());
    };
    if datagram.encode() != data {
        return Err(InvariantViolation::NotCanonical);
    }
    check_pose(&datagram.pose)
}

/// [`VoiceDatagram::decode`] (frames and reception reports); a datagram that decodes must
/// encode back to the same bytes.
pub fn decode_voice_packet(data: &[u8]) -> Result<(), InvariantViolation> {
    match VoiceDatagram::decode(data) {
        Ok(packet) if packet.encode() != data => Err(InvariantViolation::NotCanonical),
        _ => Ok(()),
    }
}

/// [`Pose::from_bytes`], then checks the decoded pose.
pub fn decode_pose(data: &[u8]) -> Result<(), InvariantViolation> {
    let Ok(pose) = Pose::from_bytes(data) else {
        return Ok(());
    };
    if pose.to_bytes() != data {
        return Err(InvariantViolation::NotCanonical);
    }
    check_pose(&pose)
}

/// Parses a [`PeerId`] from the input as text; one that parses must print back the same,
/// apart from letter case.
pub fn parse_peer_id(data: &[u8]) -> Result<(), InvariantViolation> {
    let Some(id) = std::str::from_utf8(data)
        .ok()
        .and_then(|s| s.parse::<PeerId>().ok())
    else {
        return Ok(());
    };
    if !id.to_string().as_bytes().eq_ignore_ascii_case(data) {
        return Err(InvariantViolation::NotCanonical);
    }
    Ok(())
}

/// A dequantized pose must be finite, in range and have unit rotations, and quantizing it
/// again must not move it further than the documented precision.
fn check_pose(pose: &Pose) -> Result<(), InvariantViolation> {
    let sample = pose.dequantize();
    if !sample_is_sane(&sample) || !sample_is_sane(&sample.quantize().dequantize()) {
        return Err(InvariantViolation::PoseOutOfRange);
    }
    Ok(())
}

fn sample_is_sane(sample: &PoseSample) -> bool {
    let position_ok = sample
        .position
        .iter()
        .all(|v| v.is_finite() && v.abs() <= 8388.608);
    let yaw_ok = (0.0..std::f32::consts::TAU).contains(&sample.yaw);
    let point_ok = |point: &TrackedPoint| {
        let norm = point.rotation.iter().map(|c| c * c).sum::<f32>().sqrt();
        point.offset.iter().all(|v| v.is_finite() && v.abs() <= 2.048) && (norm - 1.0).abs() < 1e-5
    };
    position_ok
        && yaw_ok
        && [&sample.head, &sample.left_hand, &sample.right_hand]
            .into_iter()
            .all(point_ok)
}

/// The home node's decoders: the first byte picks a request (as the owner's device
/// sends it), a response, a home address as text, or a Home app's friend offer. Whatever
/// decodes must encode back to the same bytes, and any item in it is verified (which must
/// only not panic).
pub fn decode_home(data: &[u8]) -> Result<(), InvariantViolation> {
    let Some((&which, rest)) = data.split_first() else {
        return Ok(());
    };
    match which % 4 {
        0 => {
            if let Ok(request) = Request::decode(rest, OWNER_REQUEST_MAX) {
                if request.encode() != rest {
                    return Err(InvariantViolation::NotCanonical);
                }
                if let Request::Deliver(item) = &request {
                    let _ = item.verify();
                }
                if let Ok((_, change)) = request.open_once(OWNER_REQUEST_MAX)
                    && Request::decode(&change.encode(), OWNER_REQUEST_MAX) != Ok(change)
                {
                    return Err(InvariantViolation::NotCanonical);
                }
            }
        }
        1 => {
            if let Ok(response) = Response::decode(rest)
                && response.encode() != rest
            {
                return Err(InvariantViolation::NotCanonical);
            }
        }
        2 => {
            if let Ok(offer) = crate::home::FriendOffer::decode(rest)
                && crate::home::FriendOffer::decode(&offer.encode()) != Ok(offer)
            {
                return Err(InvariantViolation::NotCanonical);
            }
        }
        _ => {
            if let Ok(text) = std::str::from_utf8(rest)
                && let Ok(address) = text.parse::<HomeAddress>()
                && address.to_string().parse::<HomeAddress>() != Ok(address)
            {
                return Err(InvariantViolation::TicketRoundTrip);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pose::{POSE_DATAGRAM_LEN, POSE_LEN};

    #[test]
    fn garbage_is_refused_without_complaint() {
        for data in [
            &[][..],
            &[0],
            &[0xff; 7],
            &[0; POSE_LEN],
            &[0; POSE_DATAGRAM_LEN],
            &[0xff; POSE_LEN],
        ] {
            assert_eq!(decode_envelope(data), Ok(()));
            assert_eq!(decode_pose_datagram(data), Ok(()));
            assert_eq!(decode_pose(data), Ok(()));
            assert_eq!(decode_voice_packet(data), Ok(()));
            assert_eq!(parse_peer_id(data), Ok(()));
            assert_eq!(parse_ticket(data), Ok(()));
            assert_eq!(parse_world_announcement(data), Ok(()));
        }
    }

    #[test]
    fn the_pose_check_can_fail() {
        let mut sample = PoseSample::default();
        assert!(sample_is_sane(&sample));
        sample.head.rotation = [0.0; 4];
        assert!(!sample_is_sane(&sample));
        sample = PoseSample {
            yaw: std::f32::consts::TAU,
            ..PoseSample::default()
        };
        assert!(!sample_is_sane(&sample));
    }

    proptest::proptest! {
        #[test]
        fn random_bytes_never_break_ticket_parsing(data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..600)) {
            proptest::prop_assert_eq!(parse_ticket(&data), Ok(()));
        }

        #[test]
        fn random_bytes_never_break_building_decoders(data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..600)) {
            proptest::prop_assert_eq!(decode_build(&data), Ok(()));
        }

        #[test]
        fn random_bytes_never_break_voice_packets(data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..500)) {
            proptest::prop_assert_eq!(decode_voice_packet(&data), Ok(()));
        }

        #[test]
        fn random_bytes_never_break_announcement_parsing(data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200)) {
            proptest::prop_assert_eq!(parse_world_announcement(&data), Ok(()));
        }

        #[test]
        fn random_text_after_the_prefix_never_breaks_announcement_parsing(world in "[0-9a-fA-F:]{60,68}", name in "\\PC{0,40}") {
            let text = format!("{}{world}:{name}", crate::announce::ANNOUNCEMENT_PREFIX);
            proptest::prop_assert_eq!(parse_world_announcement(text.as_bytes()), Ok(()));
        }

        #[test]
        fn random_base32_after_the_prefix_never_breaks_parsing(body in "[a-z2-7]{0,400}") {
            let text = format!("{}{body}", crate::world::TICKET_PREFIX);
            proptest::prop_assert_eq!(parse_ticket(text.as_bytes()), Ok(()));
        }
    }
}
