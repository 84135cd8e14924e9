//! What the wallet app's copies say to each other: each person's payment address, so that
//! others can pay them by name. Like every app message it is signed by its author and
//! checked by the world before it arrives, so an address is only ever taken from its owner.

use serde::{Deserialize, Serialize};

/// One wallet message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum WalletMessage {
    /// "Pay me at this address, on this chain."
    Address {
        /// The 20-byte address.
        address: [u8; 20],
        /// The chain it is meant for.
        chain_id: u64,
    },
}

/// Bytes that are not a wallet message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a wallet message: {0}")]
pub struct DecodeError(String);

impl WalletMessage {
    /// The message's bytes.
    pub fn encode(&self) -> Vec<u8> {
        postcard::to_allocvec(self).unwrap_or_default()
    }

    /// Reads a message from bytes sent by anyone; never panics. Trailing bytes are refused.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        match postcard::take_from_bytes::<Self>(bytes) {
            Ok((message, [])) => Ok(message),
            Ok((_, rest)) => Err(DecodeError(format!("{} bytes left over", rest.len()))),
            Err(error) => Err(DecodeError(error.to_string())),
        }
    }
}

/// The fuzz target's entry point: decodes, and checks that what decodes encodes back to
/// the same bytes. Returns `false` when that promise is broken.
pub fn fuzz_decode(bytes: &[u8]) -> bool {
    match WalletMessage::decode(bytes) {
        Ok(message) => message.encode() == bytes,
        Err(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn addresses_round_trip_and_trailing_bytes_are_refused() {
        let message = WalletMessage::Address {
            address: [9; 20],
            chain_id: 31337,
        };
        assert_eq!(WalletMessage::decode(&message.encode()), Ok(message.clone()));
        let mut bytes = message.encode();
        bytes.push(1);
        assert!(WalletMessage::decode(&bytes).is_err());
        assert!(WalletMessage::decode(&[]).is_err());
    }

    proptest! {
        #[test]
        fn any_bytes_decode_without_panicking(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            prop_assert!(fuzz_decode(&bytes));
        }
    }
}
