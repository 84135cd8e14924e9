//! The errors of this crate.

use sanctuary_protocols::PeerId;

/// What can go wrong starting a node or acting in a world.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    /// The endpoint could not bind its socket.
    #[error("could not bind the endpoint: {0}")]
    Bind(String),
    /// The relay URL does not parse.
    #[error("invalid relay URL {0:?}")]
    InvalidRelayUrl(String),
    /// Local-network lookup was asked for, but the crate was built without the
    /// `local-discovery` feature.
    #[error("local-network discovery needs the `local-discovery` feature")]
    LocalDiscoveryUnavailable,
    /// The local-network lookup could not start (e.g. no usable network interface).
    #[error("local-network discovery could not start: {0}")]
    LocalDiscovery(String),
    /// Something needs the local-network lookup, but the node was started without it.
    #[error("local-network discovery is off for this node")]
    LocalDiscoveryOff,
    /// The node is already in a world.
    #[error("this node is already in a world; leave it first")]
    AlreadyInWorld,
    /// The world handle's background task has stopped (after leaving, or on shutdown).
    #[error("not in the world any more")]
    WorldClosed,
    /// A peer id is not a valid ed25519 public key, so it cannot be dialed.
    #[error("peer id {0} is not a valid key")]
    InvalidPeer(PeerId),
    /// Dialing a peer failed.
    #[error("could not connect to {0}: {1}")]
    Connect(PeerId, String),
    /// Sending on a connection failed.
    #[error("could not send to {0}: {1}")]
    Send(PeerId, String),
    /// The gossip layer refused a request.
    #[error("gossip: {0}")]
    Gossip(String),
    /// The operating system gave no randomness.
    #[error("no randomness available: {0}")]
    Randomness(#[from] getrandom::Error),
}
