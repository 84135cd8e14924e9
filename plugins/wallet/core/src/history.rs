//! What the wallet sent: each transfer as it was signed, and what became of it.

use alloy::primitives::{Address, TxHash, U256};
use serde::{Deserialize, Serialize};

/// What a transfer moves.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Asset {
    /// The network's own coin.
    Native {
        /// Its symbol ("ETH").
        symbol: String,
    },
    /// An ERC-20 token.
    Token {
        /// The contract.
        contract: Address,
        /// Its symbol.
        symbol: String,
        /// Its decimals.
        decimals: u8,
    },
}

impl Asset {
    /// The symbol shown beside amounts.
    pub fn symbol(&self) -> &str {
        match self {
            Asset::Native { symbol } | Asset::Token { symbol, .. } => symbol,
        }
    }

    /// How many decimals an amount of it has.
    pub fn decimals(&self) -> u8 {
        match self {
            Asset::Native { .. } => 18,
            Asset::Token { decimals, .. } => *decimals,
        }
    }
}

/// What became of a transfer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TransferStatus {
    /// Signed and sent; not yet in a block.
    Pending,
    /// In block `block` and succeeded.
    Confirmed {
        /// The block number.
        block: u64,
    },
    /// In block `block`, but the transaction reverted: nothing moved but the fee.
    Reverted {
        /// The block number.
        block: u64,
    },
    /// The network refused or lost it: nothing moved.
    Failed {
        /// Why, in one line.
        reason: String,
    },
}

/// One transfer this wallet signed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transfer {
    /// Its transaction hash.
    pub hash: TxHash,
    /// The network's chain id.
    pub chain_id: u64,
    /// The sending account.
    pub from: Address,
    /// The recipient (for tokens, the person paid, not the contract).
    pub to: Address,
    /// What was sent.
    pub asset: Asset,
    /// How much, in the asset's smallest unit.
    pub value: U256,
    /// The most the fee could be, in wei.
    pub max_fee: U256,
    /// The sender's nonce.
    pub nonce: u64,
    /// When it was signed, ms since the Unix epoch.
    pub sent_at_ms: u64,
    /// What it was for, if anything ("order 3f2a…").
    #[serde(default)]
    pub memo: Option<String>,
    /// The bytes it carries to name what it pays for (an order's id), if any.
    #[serde(default)]
    pub reference: Vec<u8>,
    /// What became of it.
    pub status: TransferStatus,
}
