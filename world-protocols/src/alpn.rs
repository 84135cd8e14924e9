//! ALPN protocol names, one per kind of connection.
//!
//! A QUIC connection is opened for exactly one of these names, and the receiving side
//! routes it to the matching handler. Each name ends in a version number: a change to the
//! bytes on that connection gets a new number, so old and new clients refuse each other
//! cleanly instead of misreading each other.

/// Avatar poses: [`PoseDatagram`](crate::PoseDatagram)s sent as QUIC datagrams to nearby peers.
pub const ALPN_POSE: &[u8] = b"/sanctuary/pose/0";

/// Direct messages: [`SignedEnvelope`](crate::SignedEnvelope)s carrying
/// [`Body::Chat`](crate::Body::Chat) from one peer to another on a QUIC stream.
pub const ALPN_DM: &[u8] = b"/sanctuary/dm/2";

/// Rooms: the gossip wire carrying presence, chat and far-away poses, each one a
/// [`SignedEnvelope`](crate::SignedEnvelope).
pub const ALPN_ROOM: &[u8] = b"/sanctuary/room/2";

/// Voice: [`VoicePacket`](crate::VoicePacket)s sent as QUIC datagrams to the peers in
/// earshot, or to the other side of a private call.
pub const ALPN_VOICE: &[u8] = b"/sanctuary/voice/0";

/// Building sync: one [`SyncRequest`](crate::build::sync::SyncRequest) and the pages of
/// the answering peer's document on a QUIC stream. Version 1: documents hash what they
/// show as a sum of one hash per record (version 0's hashes cannot be compared with it).
pub const ALPN_BUILD: &[u8] = b"/sanctuary/build/1";

/// The personal server: one [`Request`](crate::home::Request) and its
/// [`Response`](crate::home::Response) per QUIC stream, from the owner's devices, friends'
/// nodes and granted apps.
pub const ALPN_HOME: &[u8] = b"/sanctuary/home/0";

/// Earlier chat: one [`HistoryRequest`](crate::history::HistoryRequest) and the
/// [`HistoryAnswer`](crate::history::HistoryAnswer) of a peer in that space, on a QUIC stream.
pub const ALPN_HISTORY: &[u8] = b"/sanctuary/history/0";

/// Every protocol this version of Sanctuary speaks.
pub const ALL: [&[u8]; 7] = [
    ALPN_POSE,
    ALPN_DM,
    ALPN_ROOM,
    ALPN_VOICE,
    ALPN_BUILD,
    ALPN_HOME,
    ALPN_HISTORY,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_versioned_pattern_and_differ() {
        for (i, alpn) in ALL.iter().enumerate() {
            let name = std::str::from_utf8(alpn).unwrap();
            let parts: Vec<&str> = name.split('/').collect();
            assert_eq!(parts.len(), 4, "{name}");
            assert_eq!(parts[0], "");
            assert_eq!(parts[1], "sanctuary");
            assert!(parts[3].parse::<u32>().is_ok(), "{name} has no version number");
            for other in &ALL[i + 1..] {
                assert_ne!(alpn, other);
            }
        }
    }
}
