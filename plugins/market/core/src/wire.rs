//! What the market's copies say to each other, on the app channel "market".
//!
//! Listings go to the whole world; everything about one order goes privately between buyer
//! and seller (signed for the recipient alone, over a direct connection). Every message is
//! signed by its author by the world layer, so `from` is always proven.

use sanctuary_protocols::limits::APP_PAYLOAD_MAX;
use serde::{Deserialize, Serialize};

use crate::listing::{Listing, ListingId, Price};
use crate::order::OrderId;

/// The app channel's name.
pub const MARKET_APP: &str = "market";
/// The encoding's version, first byte of every message.
pub const WIRE_VERSION: u8 = 1;
/// Longest refusal reason, in bytes.
pub const REASON_MAX: usize = 200;
/// Longest ticket, in bytes.
pub const TICKET_MAX: usize = 1024;

/// One market message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum MarketMessage {
    /// To everyone: a listing of the sender's, new or changed (same id replaces it).
    Listing(Box<Listing>),
    /// To everyone: the sender no longer offers this listing.
    Withdrawn(ListingId),
    /// Buyer to seller: "I want one of this listing". The order's id is the buyer's, random.
    Order {
        /// The buyer's id for the order.
        order: OrderId,
        /// Which listing.
        listing: ListingId,
    },
    /// Seller to buyer: the order is taken and one unit kept for it; pay this, naming the
    /// order, before `pay_by_ms`.
    Accepted {
        /// The order.
        order: OrderId,
        /// What to pay, where.
        price: Price,
        /// Unix milliseconds after which the unit is offered to others again.
        pay_by_ms: u64,
    },
    /// Seller to buyer: the order cannot go on; why.
    Refused {
        /// The order.
        order: OrderId,
        /// Why, in one line.
        reason: String,
    },
    /// Buyer to seller: this transaction pays for the order.
    Paid {
        /// The order.
        order: OrderId,
        /// The transaction's hash.
        transaction: [u8; 32],
    },
    /// Seller to buyer: paid and confirmed; the goods are here (a BlobTicket, served to the
    /// buyer alone).
    Delivered {
        /// The order.
        order: OrderId,
        /// The BlobTicket text.
        ticket: String,
    },
    /// Buyer to seller: the goods arrived whole; the trade is complete.
    Received {
        /// The order.
        order: OrderId,
    },
}

/// Bytes that are not a market message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// Empty, or another version.
    #[error("a market message of another version (or none)")]
    Version,
    /// Not decodable.
    #[error("a malformed market message")]
    Malformed,
    /// Too large.
    #[error("a market message of {0} bytes, over the limit of {APP_PAYLOAD_MAX}")]
    TooLarge(usize),
    /// A text field over its limit.
    #[error("a market message with a {0} over its limit")]
    TooLong(&'static str),
}

impl MarketMessage {
    /// Its bytes: the version, then postcard.
    pub fn encode(&self) -> Result<Vec<u8>, WireError> {
        let mut bytes = vec![WIRE_VERSION];
        let body = postcard::to_allocvec(self).map_err(|_| WireError::Malformed)?;
        bytes.extend(body);
        if bytes.len() > APP_PAYLOAD_MAX {
            return Err(WireError::TooLarge(bytes.len()));
        }
        Ok(bytes)
    }

    /// Reads a message, whoever sent it: never panics, and checks the sizes of its texts
    /// (a listing's own rules are checked by [`Listing::validate`]).
    pub fn decode(bytes: &[u8]) -> Result<Self, WireError> {
        if bytes.len() > APP_PAYLOAD_MAX {
            return Err(WireError::TooLarge(bytes.len()));
        }
        let (&version, body) = bytes.split_first().ok_or(WireError::Version)?;
        if version != WIRE_VERSION {
            return Err(WireError::Version);
        }
        let (message, rest) = postcard::take_from_bytes::<Self>(body).map_err(|_| WireError::Malformed)?;
        if !rest.is_empty() {
            return Err(WireError::Malformed);
        }
        match &message {
            Self::Refused { reason, .. } if reason.len() > REASON_MAX => Err(WireError::TooLong("reason")),
            Self::Delivered { ticket, .. } if ticket.len() > TICKET_MAX => Err(WireError::TooLong("ticket")),
            _ => Ok(message),
        }
    }
}

/// The fuzz target's entry point: decodes any bytes without panicking, and checks that
/// what decodes encodes to bytes that decode to the same message. Returns `false` when that
/// promise is broken.
pub fn fuzz_decode(bytes: &[u8]) -> bool {
    match MarketMessage::decode(bytes) {
        Ok(message) => message
            .encode()
            .is_ok_and(|again| MarketMessage::decode(&again).as_ref() == Ok(&message)),
        Err(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn any_bytes_decode_without_panicking(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            prop_assert!(fuzz_decode(&bytes));
        }

        #[test]
        fn any_order_message_survives_a_flipped_byte(at in 0usize..60, flip in 1u8..=255) {
            let mut bytes = MarketMessage::Paid { order: OrderId([3; 16]), transaction: [8; 32] }.encode().unwrap();
            let at = at % bytes.len();
            bytes[at] ^= flip;
            prop_assert!(fuzz_decode(&bytes));
        }
    }

    use crate::listing::Price;
    use sanctuary_wallet_core::{Address, Asset, U256};

    fn listing() -> Listing {
        Listing {
            id: ListingId(7),
            title: "A song".into(),
            description: "x".repeat(crate::listing::DESCRIPTION_MAX),
            picture: None,
            goods: Some(sanctuary_protocols::BlobHash::from_bytes([3; 32])),
            price: Price::new(
                31337,
                &Asset::Native { symbol: "ETH".into() },
                U256::from(5),
                Address::repeat_byte(1),
            ),
            quantity: 3,
            expires_ms: 1000,
        }
    }

    #[test]
    fn every_message_round_trips_and_the_largest_listing_fits() {
        let order = OrderId([9; 16]);
        for message in [
            MarketMessage::Listing(Box::new(listing())),
            MarketMessage::Withdrawn(ListingId(7)),
            MarketMessage::Order {
                order,
                listing: ListingId(7),
            },
            MarketMessage::Accepted {
                order,
                price: listing().price,
                pay_by_ms: 5,
            },
            MarketMessage::Refused {
                order,
                reason: "sold out".into(),
            },
            MarketMessage::Paid {
                order,
                transaction: [4; 32],
            },
            MarketMessage::Delivered {
                order,
                ticket: "blob…".into(),
            },
            MarketMessage::Received { order },
        ] {
            let bytes = message.encode().unwrap();
            assert_eq!(MarketMessage::decode(&bytes).unwrap(), message);
        }
    }

    #[test]
    fn bad_bytes_are_refused_with_a_reason() {
        assert_eq!(MarketMessage::decode(&[]), Err(WireError::Version));
        assert_eq!(MarketMessage::decode(&[2, 0]), Err(WireError::Version));
        assert_eq!(MarketMessage::decode(&[1, 250]), Err(WireError::Malformed));
        let mut bytes = MarketMessage::Withdrawn(ListingId(1)).encode().unwrap();
        bytes.push(0);
        assert_eq!(MarketMessage::decode(&bytes), Err(WireError::Malformed));
        let long = MarketMessage::Refused {
            order: OrderId([0; 16]),
            reason: "x".repeat(REASON_MAX + 1),
        };
        assert_eq!(
            MarketMessage::decode(&long.encode().unwrap()),
            Err(WireError::TooLong("reason"))
        );
        assert!(matches!(
            MarketMessage::decode(&vec![1; APP_PAYLOAD_MAX + 1]),
            Err(WireError::TooLarge(_))
        ));
    }
}
