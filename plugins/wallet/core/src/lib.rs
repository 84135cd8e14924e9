//! The wallet's core, with no engine: the recovery phrase (BIP-39), its accounts
//! (BIP-32/44), the keystore that encrypts it at rest (Ethereum's v3 format), networks as
//! configuration, the chain client (balances, ERC-20 tokens, EIP-1559 transfers and their
//! fate) and the local test chain. The wallet panel and `sanctuary-node wallet` both use it.
//!
//! Secrets never leave this crate except through [`RecoveryPhrase::words`] (for the one
//! reveal step) and signing keys used in place; nothing here logs them.

pub mod amount;
pub mod chain;
pub mod files;
pub mod history;
pub mod keystore;
pub mod local_chain;
pub mod network;
pub mod payment;
pub mod phrase;
mod secret;
pub mod wallet;

pub use alloy::primitives::{Address, TxHash, U256};
pub use amount::{format_amount, parse_amount};
pub use chain::{Chain, REFERENCE_MAX, SignedTransfer, TransferPlan, sign};
pub use history::{Asset, Transfer, TransferStatus};
pub use keystore::{KdfStrength, KeystoreFile};
pub use local_chain::LocalChain;
pub use network::{LOCAL_CHAIN_LABEL, Network, load_networks};
pub use payment::{ExpectedPayment, PaymentCheck};
pub use phrase::RecoveryPhrase;
pub use secret::Secret;
pub use wallet::{Account, Token, Wallet};

/// Everything the wallet can refuse, each in words a person can act on.
#[derive(Debug, thiserror::Error)]
pub enum WalletError {
    /// No wallet in this data folder yet.
    #[error("there is no wallet here yet: create one or restore one from its recovery phrase")]
    NoWallet,
    /// A wallet exists and would be replaced.
    #[error("a wallet already exists in {0}; it is never replaced (move it away first)")]
    AlreadyExists(String),
    /// The passphrase is too short to protect anything.
    #[error("a passphrase needs at least 8 characters")]
    WeakPassphrase,
    /// The passphrase does not open the keystore.
    #[error("wrong passphrase (or the keystore file was changed)")]
    WrongPassphrase,
    /// The wallet is locked (or its unlock timed out).
    #[error("the wallet is locked: unlock it with its passphrase")]
    Locked,
    /// The keystore file cannot be used.
    #[error("the keystore cannot be read: {0}")]
    BadKeystore(String),
    /// A recovery phrase was mistyped.
    #[error("{0}")]
    BadPhrase(String),
    /// Key derivation failed.
    #[error("key derivation failed: {0}")]
    Derivation(String),
    /// The system's random source failed.
    #[error("no random numbers: {0}")]
    Random(String),
    /// An amount was mistyped.
    #[error("{0}")]
    BadAmount(String),
    /// An address was mistyped or refused.
    #[error("{0}")]
    BadAddress(String),
    /// A configuration file is wrong.
    #[error("{0}")]
    BadConfig(String),
    /// A limit was reached.
    #[error("{0}")]
    TooMany(String),
    /// The chain's RPC did not answer.
    #[error("the chain at {url} is not answering: {reason}")]
    Unreachable {
        /// The RPC address.
        url: String,
        /// What went wrong.
        reason: String,
    },
    /// The RPC serves another chain than the network's.
    #[error("the RPC at {url} is on chain {actual}, but this network is chain {expected}")]
    WrongChain {
        /// The RPC address.
        url: String,
        /// The configured chain id.
        expected: u64,
        /// The one the RPC reported.
        actual: u64,
    },
    /// The node refused a request (a reverted call, a transaction it will not take).
    #[error("the chain refused: {0}")]
    Rejected(String),
    /// The RPC answered something wrong.
    #[error("{0}")]
    Rpc(String),
    /// Not enough to pay.
    #[error("not enough funds: {0}")]
    InsufficientFunds(String),
    /// The local chain could not be started.
    #[error("the local test chain is unavailable: {0}")]
    NoLocalChain(String),
    /// A file could not be read or written.
    #[error("{0}: {1}")]
    Io(String, #[source] std::io::Error),
}

/// Gives the HTTP client its TLS crypto (ring, as iroh uses) once per process.
pub(crate) fn install_tls_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
