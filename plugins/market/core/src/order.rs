//! An order's id, and what a payment for it must look like on chain.

use std::fmt;

use sanctuary_wallet_core::ExpectedPayment;
use serde::{Deserialize, Serialize};

use crate::MarketError;
use crate::listing::Price;

/// How long a buyer has to pay after the seller accepts an order.
pub const PAY_WITHIN_MS: u64 = 10 * 60 * 1000;

/// The buyer's random id for one order. It is also the payment's reference on chain, so a
/// payment pays for this order and no other.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct OrderId(pub [u8; 16]);

impl OrderId {
    /// A fresh random id.
    pub fn random() -> Result<Self, MarketError> {
        let mut bytes = [0; 16];
        getrandom::fill(&mut bytes).map_err(|error| MarketError::Random(error.to_string()))?;
        Ok(Self(bytes))
    }
}

impl fmt::Display for OrderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for byte in self.0 {
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for OrderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "OrderId({self})")
    }
}

/// What a payment of `price` for `order` must be, confirmed by `confirmations` blocks.
pub fn expected_payment(price: &Price, order: OrderId, confirmations: u64) -> ExpectedPayment {
    ExpectedPayment {
        to: price.payee(),
        asset: price.asset(),
        value: price.value(),
        reference: order.0.to_vec(),
        confirmations,
    }
}
