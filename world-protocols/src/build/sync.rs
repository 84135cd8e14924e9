//! The sync connection ([`ALPN_BUILD`](crate::alpn::ALPN_BUILD)): how a peer fetches a
//! space's whole document from another peer, when it arrives in the space or when the
//! other's [`BuildState`](super::BuildState) says it holds something else.
//!
//! The asking peer opens a stream and sends one [`SyncRequest`]: a version byte
//! ([`SYNC_VERSION`]), then in postcard the world, the space and the hash of what it
//! shows. The other peer answers on the same stream with pages: each a 4-byte
//! little-endian length (at most [`SYNC_PAGE_MAX`]) and a postcard
//! [`RecordBatch`](super::RecordBatch), then closes it. An empty answer means it holds
//! nothing for that space, or the same as the asker. The connection says who answers;
//! each record carries its own author's signature, checked like any other.

use serde::{Deserialize, Serialize};

use super::record::{RecordBatch, RecordDecodeError};
use crate::limits::MESSAGE_MAX;
use crate::text::SpaceName;
use crate::world::WorldId;

/// The first byte of a sync request.
pub const SYNC_VERSION: u8 = 0;

/// Largest page of a sync answer, in bytes.
pub const SYNC_PAGE_MAX: usize = MESSAGE_MAX;

/// Largest sync request, in bytes: a version byte, the world, a space name and a hash.
pub const SYNC_REQUEST_MAX: usize = 1 + 32 + 1 + 32 + 32;

/// "Send me what you hold of this space."
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncRequest {
    /// The world.
    pub world: WorldId,
    /// The space.
    pub space: SpaceName,
    /// [`Document::hash`](super::Document::hash) of what the asker shows: an answerer
    /// that shows the same sends nothing.
    pub hash: [u8; 32],
}

/// Why bytes are not a sync request or page.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SyncDecodeError {
    /// Longer than allowed.
    #[error("{len} bytes, over the limit of {max}")]
    TooLarge {
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// Another version, or none.
    #[error("unsupported sync version")]
    Version,
    /// Not what it should be.
    #[error(transparent)]
    Malformed(#[from] RecordDecodeError),
}

impl SyncRequest {
    /// The request's bytes.
    pub fn encode(&self) -> Vec<u8> {
        postcard::to_extend(self, vec![SYNC_VERSION]).unwrap_or_default()
    }

    /// Reads a request from exactly `bytes`.
    pub fn decode(bytes: &[u8]) -> Result<Self, SyncDecodeError> {
        if bytes.len() > SYNC_REQUEST_MAX {
            return Err(SyncDecodeError::TooLarge {
                len: bytes.len(),
                max: SYNC_REQUEST_MAX,
            });
        }
        let Some((&SYNC_VERSION, rest)) = bytes.split_first() else {
            return Err(SyncDecodeError::Version);
        };
        let (request, trailing) =
            postcard::take_from_bytes::<Self>(rest).map_err(RecordDecodeError::Malformed)?;
        if !trailing.is_empty() {
            return Err(RecordDecodeError::TrailingBytes(trailing.len()).into());
        }
        if request.encode() != bytes {
            return Err(RecordDecodeError::NonCanonical.into());
        }
        Ok(request)
    }
}

/// The bytes of one page, length first.
pub fn encode_page(batch: &RecordBatch) -> Vec<u8> {
    let body = postcard::to_allocvec(batch).unwrap_or_default();
    let mut bytes = Vec::with_capacity(4 + body.len());
    bytes.extend_from_slice(&(body.len() as u32).to_le_bytes());
    bytes.extend_from_slice(&body);
    bytes
}

/// Reads a page's length from its 4-byte prefix, refusing one over [`SYNC_PAGE_MAX`].
pub fn page_len(prefix: [u8; 4]) -> Result<usize, SyncDecodeError> {
    let len = u32::from_le_bytes(prefix) as usize;
    if len > SYNC_PAGE_MAX {
        return Err(SyncDecodeError::TooLarge {
            len,
            max: SYNC_PAGE_MAX,
        });
    }
    Ok(len)
}

/// Reads one page's records from exactly `bytes` (after the length).
pub fn decode_page(bytes: &[u8]) -> Result<RecordBatch, SyncDecodeError> {
    if bytes.len() > SYNC_PAGE_MAX {
        return Err(SyncDecodeError::TooLarge {
            len: bytes.len(),
            max: SYNC_PAGE_MAX,
        });
    }
    let (batch, trailing) =
        postcard::take_from_bytes::<RecordBatch>(bytes).map_err(RecordDecodeError::Malformed)?;
    if !trailing.is_empty() {
        return Err(RecordDecodeError::TrailingBytes(trailing.len()).into());
    }
    if postcard::to_allocvec(&batch).ok().as_deref() != Some(bytes) {
        return Err(RecordDecodeError::NonCanonical.into());
    }
    Ok(batch)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build::{Piece, PieceId, PieceKind, Record, SignedRecord, ZoneName};
    use crate::identity::Keypair;
    use crate::message::Rgb;

    #[test]
    fn requests_and_pages_round_trip_and_odd_ones_are_refused() {
        let request = SyncRequest {
            world: WorldId([4; 32]),
            space: SpaceName::new("lecture-hall").unwrap(),
            hash: [9; 32],
        };
        let bytes = request.encode();
        assert!(bytes.len() <= SYNC_REQUEST_MAX);
        assert_eq!(SyncRequest::decode(&bytes), Ok(request.clone()));
        assert_eq!(SyncRequest::decode(&[1]), Err(SyncDecodeError::Version));
        assert!(SyncRequest::decode(&[bytes.clone(), vec![0]].concat()).is_err());
        assert!(SyncRequest::decode(&bytes[..bytes.len() - 1]).is_err());

        let ada = Keypair::from_bytes(&[2; 32]);
        let record = SignedRecord::sign(
            &ada,
            request.world,
            &request.space,
            5,
            Record::Piece {
                id: PieceId {
                    creator: ada.peer_id(),
                    number: 1,
                },
                zone: ZoneName::new("stage").unwrap(),
                piece: Some(Piece::new(PieceKind::Slab, [0, 0, 0], Rgb { r: 1, g: 2, b: 3 })),
            },
        );
        let page = RecordBatch::new(vec![record.clone(), record]).unwrap();
        let bytes = encode_page(&page);
        let len = page_len(bytes[..4].try_into().unwrap()).unwrap();
        assert_eq!(len, bytes.len() - 4);
        assert_eq!(decode_page(&bytes[4..]), Ok(page));
        assert!(decode_page(&bytes[4..bytes.len() - 1]).is_err());
        assert!(page_len(((SYNC_PAGE_MAX + 1) as u32).to_le_bytes()).is_err());
    }
}
