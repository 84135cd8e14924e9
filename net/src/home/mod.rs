//! The personal server: a person's always-on home node ([`Home`]), and how devices, apps
//! and other nodes talk to one ([`HomeConnection`]).
//!
//! A [`Home`] is attached to a [`Node`](crate::Node) (through
//! [`NodeConfig::home`](crate::NodeConfig::home)), which then answers
//! [`ALPN_HOME`](sanctuary_protocols::alpn::ALPN_HOME). Its key is the node's key: the
//! person's home identity, which signs their posts, comments and likes. It keeps the
//! person's data in a redb database and their files in the node's
//! [`Storage`](crate::Storage), both in its data folder, and answers each request by who
//! asks ([`Role`](sanctuary_protocols::home::Role)):
//!
//! - the owner's paired devices may do everything (pairing: [`Home::pairing_code`]);
//! - apps may do what their [`Grant`](sanctuary_protocols::home::Grant) says, until it
//!   ends or is revoked, and every request they make is logged;
//! - friends' nodes deliver items: their person's posts, comments and likes on this
//!   person's posts, and what others said under their own posts;
//! - anyone may say hello, pair with a valid code, or ask for friendship (a bounded
//!   number of open requests).
//!
//! Posts go to friends' nodes through an outbox kept in the database, retried until each
//! node has them, so a post reaches a friend whose node was off when it was written.
//! Whatever is refused is counted by reason and stores nothing.

mod client;
mod server;
mod store;

pub use client::{HomeConnection, endpoint_addr, home_address};
pub use server::{Home, HomeEvent, HomeExport, PAIRING_CODE_LIFETIME, PENDING_REQUESTS_MAX, pairing_check};
pub use store::{INBOX_MAX, LOG_MAX};

use sanctuary_protocols::home::{HomeDecodeError, Refusal};

use crate::StorageError;

/// What can go wrong on a home node or talking to one.
#[derive(Debug, thiserror::Error)]
pub enum HomeError {
    /// The database failed.
    #[error("the home database: {0}")]
    Database(String),
    /// The file store failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The node could not be reached.
    #[error("could not reach the home node {node}: {reason}")]
    Unreachable {
        /// The node.
        node: String,
        /// Why.
        reason: String,
    },
    /// The node's answer does not decode.
    #[error("the home node answered with something else: {0}")]
    BadResponse(#[from] HomeDecodeError),
    /// The node refused the request.
    #[error("refused ({reason:?}): {detail}")]
    Refused {
        /// Why, as a kind.
        reason: Refusal,
        /// Why, in words.
        detail: String,
    },
    /// Files could not be read or written.
    #[error("{0}")]
    Io(String),
}
