//! The sync connection ([`ALPN_BUILD`]): answering another peer's [`SyncRequest`] with
//! our document of a space, and asking a peer for theirs.
//!
//! Answers are bounded: at most [`SERVES_AT_ONCE`] at a time for everyone, one stream per
//! connection at a time, and each must finish within [`SYNC_TIMEOUT`]. Fetches read at most
//! [`DOCUMENT_RECORDS_MAX`] records, page by page, each page checked for size first.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use iroh::endpoint::Connection;
use iroh::protocol::{AcceptError, ProtocolHandler};
use sanctuary_protocols::PeerId;
use sanctuary_protocols::alpn::ALPN_BUILD;
use sanctuary_protocols::build::sync::{SYNC_REQUEST_MAX, SyncRequest, decode_page, encode_page, page_len};
use sanctuary_protocols::build::{RecordBatch, SignedRecord};
use sanctuary_protocols::limits::{BUILD_BATCH_MAX, DOCUMENT_RECORDS_MAX};
use tokio::sync::Semaphore;

use super::BuildStore;
use crate::error::NetError;
use crate::node::{Node, peer_id};

/// Longest one sync (asking or answering) may take.
pub const SYNC_TIMEOUT: Duration = Duration::from_secs(60);

/// Most answers being sent at once.
pub const SERVES_AT_ONCE: usize = 4;

/// Where the sync handler finds the documents of the world the node is in.
#[derive(Default)]
pub(crate) struct SyncSlot {
    store: Mutex<Option<Arc<BuildStore>>>,
}

impl std::fmt::Debug for SyncSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SyncSlot")
    }
}

impl SyncSlot {
    pub fn set(&self, store: Option<Arc<BuildStore>>) {
        if let Ok(mut slot) = self.store.lock() {
            *slot = store;
        }
    }

    fn get(&self) -> Option<Arc<BuildStore>> {
        self.store.lock().ok().and_then(|slot| slot.clone())
    }
}

/// Answers sync requests.
#[derive(Debug, Clone)]
pub(crate) struct SyncHandler {
    pub slot: Arc<SyncSlot>,
    pub serving: Arc<Semaphore>,
}

impl SyncHandler {
    pub fn new(slot: Arc<SyncSlot>) -> Self {
        Self {
            slot,
            serving: Arc::new(Semaphore::new(SERVES_AT_ONCE)),
        }
    }
}

impl ProtocolHandler for SyncHandler {
    async fn accept(&self, connection: Connection) -> Result<(), AcceptError> {
        let from = peer_id(connection.remote_id());
        while let Ok((mut send, mut recv)) = connection.accept_bi().await {
            let Ok(_permit) = self.serving.clone().try_acquire_owned() else {
                tracing::debug!(%from, "sync refused: answering enough already");
                let _ = send.finish();
                continue;
            };
            let answer = async {
                let bytes = recv.read_to_end(SYNC_REQUEST_MAX).await.ok()?;
                let request = SyncRequest::decode(&bytes).ok()?;
                let store = self.slot.get()?;
                if store.world() != request.world {
                    return Some(());
                }
                let state = store.state(&request.space)?;
                if state.hash == request.hash {
                    return Some(());
                }
                let records = store.records(&request.space);
                for page in records.chunks(BUILD_BATCH_MAX) {
                    let batch = RecordBatch::new(page.to_vec()).ok()?;
                    send.write_all(&encode_page(&batch)).await.ok()?;
                }
                tracing::debug!(%from, space = %request.space, records = records.len(), "answered a sync");
                Some(())
            };
            let _ = tokio::time::timeout(SYNC_TIMEOUT, answer).await;
            let _ = send.finish();
        }
        Ok(())
    }
}

/// Asks `peer` for its document of `space`; `hash` is what we show. Returns its records,
/// unchecked (offer them to the document).
pub(crate) async fn fetch(
    node: &Node,
    peer: PeerId,
    request: SyncRequest,
) -> Result<Vec<SignedRecord>, NetError> {
    let err = |what: String| NetError::Send(peer, what);
    let attempt = async {
        let out = node.dialer.get(peer, ALPN_BUILD).await?;
        let (mut send, mut recv) = out.connection.open_bi().await.map_err(|e| err(e.to_string()))?;
        send.write_all(&request.encode())
            .await
            .map_err(|e| err(e.to_string()))?;
        send.finish().map_err(|e| err(e.to_string()))?;
        let mut records = Vec::new();
        loop {
            let mut prefix = [0u8; 4];
            match recv.read_exact(&mut prefix).await {
                Ok(()) => {}
                Err(iroh::endpoint::ReadExactError::FinishedEarly(0)) => break,
                Err(e) => return Err(err(e.to_string())),
            }
            let len = page_len(prefix).map_err(|e| err(e.to_string()))?;
            let mut page = vec![0u8; len];
            recv.read_exact(&mut page).await.map_err(|e| err(e.to_string()))?;
            let batch = decode_page(&page).map_err(|e| err(e.to_string()))?;
            if records.len() + batch.records().len() > DOCUMENT_RECORDS_MAX {
                return Err(err("sent more records than a document holds".into()));
            }
            records.extend(batch.into_records());
        }
        Ok(records)
    };
    tokio::time::timeout(SYNC_TIMEOUT, attempt)
        .await
        .map_err(|_| err("sync timed out".into()))?
}
