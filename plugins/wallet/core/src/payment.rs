//! Checking a payment someone says they made: the payee reads the transaction and its
//! receipt from the chain and compares them with what they asked for, field by field.
//!
//! A payment names what it pays for in its data (the reference, e.g. a market order's
//! id), so one transaction can pay for one thing only, and nobody can claim someone
//! else's payment as their own.

use alloy::consensus::Transaction as _;
use alloy::primitives::{Address, Bytes, TxHash, TxKind, U256};
use alloy::providers::Provider;
use alloy::sol_types::{SolCall, SolEvent};

use crate::WalletError;
use crate::amount::format_amount;
use crate::chain::{Chain, IERC20};
use crate::history::Asset;

/// What the payee asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExpectedPayment {
    /// Who must be paid.
    pub to: Address,
    /// In what.
    pub asset: Asset,
    /// At least how much, in the asset's smallest unit.
    pub value: U256,
    /// The bytes the payment must carry after its transfer.
    pub reference: Vec<u8>,
    /// How many blocks must hold it (the one it is in counts as one).
    pub confirmations: u64,
}

/// What the chain says about a payment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PaymentCheck {
    /// Not in a block yet (or unknown to the chain), or in fewer blocks than asked: ask
    /// again later.
    Waiting {
        /// Blocks that hold it so far.
        confirmations: u64,
    },
    /// Paid as asked and confirmed.
    Paid {
        /// The account that paid.
        from: Address,
        /// The block it is in.
        block: u64,
    },
    /// The transaction does not pay what was asked, and never will; why, in one line.
    Wrong(String),
}

impl Chain {
    /// Checks that transaction `hash` pays `expected`: on this chain, to the payee, in the
    /// asset, at least the amount, carrying the reference, succeeded, and in enough
    /// blocks. The sender is read from the signature, not from the RPC's word.
    pub async fn check_payment(
        &self,
        hash: TxHash,
        expected: &ExpectedPayment,
    ) -> Result<PaymentCheck, WalletError> {
        let provider = self.provider();
        let Some(transaction) = self
            .rpc_call(async { provider.get_transaction_by_hash(hash).await })
            .await?
        else {
            return Ok(PaymentCheck::Waiting { confirmations: 0 });
        };
        let envelope = transaction.inner.inner();
        if *envelope.tx_hash() != hash {
            return Err(WalletError::Rpc(format!(
                "the RPC answered with transaction {} when asked about {hash}",
                envelope.tx_hash()
            )));
        }
        let from = envelope
            .signature()
            .recover_address_from_prehash(&envelope.signature_hash())
            .map_err(|_| WalletError::Rpc(format!("transaction {hash} has no valid signature")))?;
        if envelope.chain_id() != Some(self.network().chain_id) {
            return Ok(PaymentCheck::Wrong(format!(
                "transaction {hash} is not for chain {}",
                self.network().chain_id
            )));
        }
        if let Some(wrong) = wrong_transfer(envelope.kind(), envelope.value(), envelope.input(), expected) {
            return Ok(PaymentCheck::Wrong(wrong));
        }

        let Some(receipt) = self
            .rpc_call(async { provider.get_transaction_receipt(hash).await })
            .await?
        else {
            return Ok(PaymentCheck::Waiting { confirmations: 0 });
        };
        if receipt.transaction_hash != hash {
            return Err(WalletError::Rpc(format!(
                "the RPC answered for {} when asked about {hash}",
                receipt.transaction_hash
            )));
        }
        let Some(block) = receipt.block_number else {
            return Ok(PaymentCheck::Waiting { confirmations: 0 });
        };
        if !receipt.status() {
            return Ok(PaymentCheck::Wrong(format!(
                "transaction {hash} reverted: nothing was paid"
            )));
        }
        if let Asset::Token { contract, .. } = &expected.asset {
            // The token's own word on what moved, from its Transfer event.
            let moved = receipt
                .inner
                .logs()
                .iter()
                .filter(|log| log.address() == *contract)
                .filter_map(|log| IERC20::Transfer::decode_log_data(log.data()).ok())
                .any(|event| event.from == from && event.to == expected.to && event.value >= expected.value);
            if !moved {
                return Ok(PaymentCheck::Wrong(format!(
                    "transaction {hash} moved no {} to {}",
                    expected.asset.symbol(),
                    expected.to
                )));
            }
        }
        let latest = self.rpc_call(provider.get_block_number()).await?;
        let confirmations = latest.saturating_sub(block) + 1;
        if confirmations < expected.confirmations {
            return Ok(PaymentCheck::Waiting { confirmations });
        }
        Ok(PaymentCheck::Paid { from, block })
    }
}

/// Why a transaction's call does not pay `expected`, if it does not.
fn wrong_transfer(kind: TxKind, value: U256, input: &Bytes, expected: &ExpectedPayment) -> Option<String> {
    let TxKind::Call(called) = kind else {
        return Some("it creates a contract rather than paying".into());
    };
    let symbol = expected.asset.symbol();
    let decimals = expected.asset.decimals();
    let short = |paid: U256| {
        format!(
            "it pays {} {symbol}, not {}",
            format_amount(paid, decimals),
            format_amount(expected.value, decimals)
        )
    };
    let reference = match &expected.asset {
        Asset::Native { .. } => {
            if called != expected.to {
                return Some(format!("it pays {called}, not {}", expected.to));
            }
            if value < expected.value {
                return Some(short(value));
            }
            input.as_ref()
        }
        Asset::Token { contract, .. } => {
            if called != *contract {
                return Some(format!("it does not pay in {symbol}"));
            }
            let call_len = IERC20::transferCall::SELECTOR.len() + 64;
            let Some(call) = input.get(..call_len) else {
                return Some(format!("it is not a {symbol} transfer"));
            };
            let Ok(transfer) = IERC20::transferCall::abi_decode(call) else {
                return Some(format!("it is not a {symbol} transfer"));
            };
            if transfer.to != expected.to {
                return Some(format!("it pays {}, not {}", transfer.to, expected.to));
            }
            if transfer.amount < expected.value {
                return Some(short(transfer.amount));
            }
            &input[call_len..]
        }
    };
    (reference != expected.reference.as_slice())
        .then(|| "it pays for something else (its reference differs)".into())
}
