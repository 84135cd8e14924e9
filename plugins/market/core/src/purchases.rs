//! The buyer's side: each order from "Buy" to the goods in storage.
//!
//! Like the shop, a state machine with no I/O: the buyer pays only after the seller has
//! accepted the order at exactly the listed price, and takes goods only from the seller
//! and only as the listed blob.

use sanctuary_protocols::{BlobHash, PeerId};
use serde::{Deserialize, Serialize};

use crate::MarketError;
use crate::listing::Listing;
use crate::order::OrderId;
use crate::wire::MarketMessage;

/// Most purchases remembered; past it the oldest finished ones are forgotten.
pub const PURCHASES_MAX: usize = 1000;
/// Most purchases waiting on a seller at once.
pub const OPEN_PURCHASES_MAX: usize = 16;

/// Where a purchase stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PurchaseState {
    /// Ordered; waiting for the seller to accept.
    Ordered,
    /// Accepted at the listed price; to be paid before `pay_by_ms`.
    Accepted {
        /// The deadline, in Unix milliseconds.
        pay_by_ms: u64,
    },
    /// Paid by this transaction; waiting for the seller to see it confirmed and deliver.
    Paid {
        /// The transaction.
        transaction: [u8; 32],
    },
    /// The seller sent the goods' ticket; fetching them.
    Delivered {
        /// The transaction.
        transaction: [u8; 32],
        /// The BlobTicket.
        ticket: String,
    },
    /// The goods are in storage: the trade is complete.
    Received {
        /// The transaction.
        transaction: [u8; 32],
        /// The goods.
        goods: BlobHash,
    },
    /// The seller refused, or it failed here; why.
    Refused {
        /// Why, in one line.
        reason: String,
    },
}

impl PurchaseState {
    /// Whether nothing more will happen to it.
    pub fn is_finished(&self) -> bool {
        matches!(self, Self::Received { .. } | Self::Refused { .. })
    }
}

/// One purchase.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Purchase {
    /// Its order id (also the payment's reference).
    pub order: OrderId,
    /// Who sells.
    pub seller: PeerId,
    /// The listing as it was when ordered: the price and goods the buyer agreed to.
    pub listing: Listing,
    /// When it was ordered, in Unix milliseconds.
    pub ordered_ms: u64,
    /// Where it stands.
    pub state: PurchaseState,
}

/// What the caller must do after a seller's message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PurchaseStep {
    /// Nothing.
    Nothing,
    /// Pay the listing's price for `order` (the person confirms), then call
    /// [`Purchases::paid`].
    Pay {
        /// The order.
        order: OrderId,
    },
    /// Fetch the goods with `ticket`; they must be the blob `goods`. Then call
    /// [`Purchases::received`].
    Fetch {
        /// The order.
        order: OrderId,
        /// The BlobTicket.
        ticket: String,
        /// The blob listed.
        goods: Option<BlobHash>,
    },
}

/// A buyer's purchases, kept in the market's records.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Purchases {
    /// Oldest first.
    pub list: Vec<Purchase>,
}

impl Purchases {
    /// Orders one unit of `listing` from `seller`: the message to send them.
    pub fn order(
        &mut self,
        seller: PeerId,
        listing: &Listing,
        now_ms: u64,
    ) -> Result<MarketMessage, MarketError> {
        listing.validate(now_ms)?;
        let open = self.list.iter().filter(|p| !p.state.is_finished()).count();
        if open >= OPEN_PURCHASES_MAX {
            return Err(MarketError::TooMany(format!(
                "{OPEN_PURCHASES_MAX} purchases are already under way"
            )));
        }
        let order = OrderId::random()?;
        self.list.push(Purchase {
            order,
            seller,
            listing: listing.clone(),
            ordered_ms: now_ms,
            state: PurchaseState::Ordered,
        });
        while self.list.len() > PURCHASES_MAX {
            match self.list.iter().position(|p| p.state.is_finished()) {
                Some(index) => {
                    self.list.remove(index);
                }
                None => break,
            }
        }
        Ok(MarketMessage::Order {
            order,
            listing: listing.id,
        })
    }

    /// The purchase of `order`.
    pub fn get(&self, order: OrderId) -> Option<&Purchase> {
        self.list.iter().find(|p| p.order == order)
    }

    /// A message from `from` about one of our orders. Only the order's seller is heard,
    /// and only a price identical to the listed one is paid.
    pub fn on_message(&mut self, from: PeerId, message: &MarketMessage, now_ms: u64) -> PurchaseStep {
        let order = match message {
            MarketMessage::Accepted { order, .. }
            | MarketMessage::Refused { order, .. }
            | MarketMessage::Delivered { order, .. } => *order,
            _ => return PurchaseStep::Nothing,
        };
        let Some(purchase) = self
            .list
            .iter_mut()
            .find(|p| p.order == order && p.seller == from)
        else {
            return PurchaseStep::Nothing;
        };
        match (message, &purchase.state) {
            (MarketMessage::Accepted { price, pay_by_ms, .. }, PurchaseState::Ordered) => {
                if *price != purchase.listing.price {
                    purchase.state = PurchaseState::Refused {
                        reason: format!(
                            "the seller asked {} rather than the listed {}: not paid",
                            price.shown(),
                            purchase.listing.price.shown()
                        ),
                    };
                    return PurchaseStep::Nothing;
                }
                if *pay_by_ms <= now_ms {
                    purchase.state = PurchaseState::Refused {
                        reason: "the seller's deadline to pay is already over".into(),
                    };
                    return PurchaseStep::Nothing;
                }
                purchase.state = PurchaseState::Accepted {
                    pay_by_ms: *pay_by_ms,
                };
                PurchaseStep::Pay { order }
            }
            (MarketMessage::Refused { reason, .. }, state) if !state.is_finished() => {
                let reason = match state {
                    PurchaseState::Paid { transaction } | PurchaseState::Delivered { transaction, .. } => {
                        format!("{reason} (paid by 0x{})", hex(transaction))
                    }
                    _ => reason.clone(),
                };
                purchase.state = PurchaseState::Refused { reason };
                PurchaseStep::Nothing
            }
            (
                MarketMessage::Delivered { ticket, .. },
                PurchaseState::Paid { transaction } | PurchaseState::Delivered { transaction, .. },
            ) => {
                purchase.state = PurchaseState::Delivered {
                    transaction: *transaction,
                    ticket: ticket.clone(),
                };
                PurchaseStep::Fetch {
                    order,
                    ticket: ticket.clone(),
                    goods: purchase.listing.goods,
                }
            }
            _ => PurchaseStep::Nothing,
        }
    }

    /// `order` was paid by `transaction`: the message telling the seller.
    pub fn paid(&mut self, order: OrderId, transaction: [u8; 32]) -> Option<MarketMessage> {
        let purchase = self.list.iter_mut().find(|p| p.order == order)?;
        if !matches!(
            purchase.state,
            PurchaseState::Accepted { .. } | PurchaseState::Paid { .. }
        ) {
            return None;
        }
        purchase.state = PurchaseState::Paid { transaction };
        Some(MarketMessage::Paid { order, transaction })
    }

    /// Checks that the ticket delivered for `order` names `goods`, the blob listed, before
    /// anything is fetched; if not, the purchase ends here, refused.
    pub fn accept_delivery(&mut self, order: OrderId, goods: BlobHash) -> Result<(), MarketError> {
        let purchase = self
            .list
            .iter_mut()
            .find(|p| p.order == order)
            .ok_or_else(|| MarketError::BadListing("no such purchase".into()))?;
        match purchase.listing.goods {
            Some(listed) if listed != goods => {
                let reason = format!("the seller sent {goods}, not the listed {listed}; not taken");
                purchase.state = PurchaseState::Refused {
                    reason: reason.clone(),
                };
                Err(MarketError::WrongGoods(reason))
            }
            _ => Ok(()),
        }
    }

    /// The goods of `order` are in storage: the trade is complete. Returns the receipt to
    /// send the seller.
    pub fn received(&mut self, order: OrderId, goods: BlobHash) -> Option<MarketMessage> {
        let purchase = self.list.iter_mut().find(|p| p.order == order)?;
        let PurchaseState::Delivered { transaction, .. } = purchase.state else {
            return None;
        };
        purchase.state = PurchaseState::Received { transaction, goods };
        Some(MarketMessage::Received { order })
    }

    /// `order` failed here (the person declined to pay, the payment failed); why.
    pub fn failed(&mut self, order: OrderId, reason: impl Into<String>) {
        if let Some(purchase) = self.list.iter_mut().find(|p| p.order == order)
            && !purchase.state.is_finished()
        {
            purchase.state = PurchaseState::Refused {
                reason: reason.into(),
            };
        }
    }
}

/// Lowercase hex of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}
