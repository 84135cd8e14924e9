//! The seller's side: their listings, and each sale from order to delivery.
//!
//! The shop is a state machine with no I/O: the caller feeds it what arrives (orders,
//! payment claims, what the chain said) and does what it answers (send a message, check a
//! payment, deliver goods). So the client's Market app and `sanctuary-node market serve`
//! run the same rules.

use sanctuary_protocols::{BlobHash, PeerId};
use sanctuary_wallet_core::{ExpectedPayment, PaymentCheck, TxHash};
use serde::{Deserialize, Serialize};

use crate::MarketError;
use crate::listing::{Listing, ListingId, Price};
use crate::order::{OrderId, PAY_WITHIN_MS, expected_payment};
use crate::wire::{MarketMessage, REASON_MAX};

/// Most listings a seller offers at once.
pub const LISTINGS_MAX: usize = 32;
/// Most sales remembered; past it the oldest finished ones are forgotten.
pub const SALES_MAX: usize = 1000;
/// Most orders one buyer may have open (not yet paid) at once.
pub const OPEN_ORDERS_PER_BUYER: usize = 4;
/// Most orders open at once, from everyone.
pub const OPEN_ORDERS_MAX: usize = 256;
/// How long after the deadline to pay a claimed payment may take to confirm before the
/// sale is given up.
pub const CONFIRM_WITHIN_MS: u64 = 30 * 60 * 1000;

/// Where a sale stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SaleState {
    /// Accepted; one unit kept for the buyer until the deadline to pay.
    AwaitingPayment,
    /// The buyer named a transaction; the chain is being asked about it.
    Checking {
        /// The transaction.
        transaction: [u8; 32],
    },
    /// The chain confirmed the payment; the goods are on their way.
    Paid {
        /// The transaction.
        transaction: [u8; 32],
    },
    /// Paid, and the goods were sent.
    Delivered {
        /// The transaction.
        transaction: [u8; 32],
        /// When, in Unix milliseconds.
        at_ms: u64,
    },
    /// Did not go through; why.
    Refused {
        /// Why, in one line.
        reason: String,
    },
}

impl SaleState {
    /// Whether it keeps a unit of the listing for its buyer.
    fn holds_a_unit(&self) -> bool {
        matches!(
            self,
            Self::AwaitingPayment | Self::Checking { .. } | Self::Paid { .. }
        )
    }

    /// Whether nothing more will happen to it.
    pub fn is_finished(&self) -> bool {
        matches!(self, Self::Delivered { .. } | Self::Refused { .. })
    }
}

/// One sale, from the buyer's order on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sale {
    /// The buyer's order id.
    pub order: OrderId,
    /// The listing sold.
    pub listing: ListingId,
    /// Its title when ordered.
    pub title: String,
    /// Who buys.
    pub buyer: PeerId,
    /// The price agreed.
    pub price: Price,
    /// The goods to deliver.
    pub goods: Option<BlobHash>,
    /// When it was ordered, in Unix milliseconds.
    pub ordered_ms: u64,
    /// The deadline to pay, in Unix milliseconds.
    pub pay_by_ms: u64,
    /// Where it stands.
    pub state: SaleState,
}

/// What the caller must do after a payment was checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SaleStep {
    /// Nothing yet: ask the chain again later.
    Wait,
    /// Paid: serve `goods` to `buyer`, send them the ticket
    /// ([`MarketMessage::Delivered`]) and call [`Shop::delivered`].
    Deliver {
        /// The order.
        order: OrderId,
        /// To whom.
        buyer: PeerId,
        /// The goods.
        goods: BlobHash,
    },
    /// Tell the buyer this ([`MarketMessage::Refused`]).
    Tell {
        /// The buyer.
        buyer: PeerId,
        /// The message.
        message: MarketMessage,
    },
}

/// A seller's listings and sales, kept in the market's records.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shop {
    /// What is offered (quantity counts down as units are delivered).
    pub listings: Vec<Listing>,
    /// Sales, oldest first.
    pub sales: Vec<Sale>,
}

impl Shop {
    /// Offers a new listing (or replaces one with the same id).
    pub fn list(&mut self, listing: Listing, now_ms: u64) -> Result<(), MarketError> {
        listing.validate(now_ms)?;
        if let Some(old) = self.listings.iter_mut().find(|old| old.id == listing.id) {
            *old = listing;
            return Ok(());
        }
        self.listings
            .retain(|old| old.expires_ms > now_ms && old.quantity > 0);
        if self.listings.len() >= LISTINGS_MAX {
            return Err(MarketError::TooMany(format!(
                "a seller offers at most {LISTINGS_MAX} listings at once; withdraw one first"
            )));
        }
        self.listings.push(listing);
        Ok(())
    }

    /// Stops offering a listing; open sales of it go on.
    pub fn withdraw(&mut self, id: ListingId) -> Option<Listing> {
        let index = self.listings.iter().position(|listing| listing.id == id)?;
        Some(self.listings.remove(index))
    }

    /// The listings to show the world now: not expired, some left.
    pub fn live(&self, now_ms: u64) -> impl Iterator<Item = &Listing> {
        self.listings
            .iter()
            .filter(move |listing| listing.expires_ms > now_ms && listing.quantity > 0)
    }

    /// Units of `listing` that can still be ordered.
    pub fn available(&self, listing: &Listing) -> u32 {
        let held = self
            .sales
            .iter()
            .filter(|sale| sale.listing == listing.id && sale.state.holds_a_unit())
            .count();
        listing
            .quantity
            .saturating_sub(u32::try_from(held).unwrap_or(u32::MAX))
    }

    /// A buyer's order: the answer to send them, [`MarketMessage::Accepted`] (a unit is
    /// kept for them) or [`MarketMessage::Refused`]. The same order again gets the same
    /// answer; an order id used for something else is refused.
    pub fn take_order(&mut self, buyer: PeerId, order: OrderId, id: ListingId, now_ms: u64) -> MarketMessage {
        self.expire(now_ms);
        let refuse = |reason: &str| MarketMessage::Refused {
            order,
            reason: reason.into(),
        };
        if let Some(sale) = self.sales.iter().find(|sale| sale.order == order) {
            return match (sale.buyer == buyer && sale.listing == id, &sale.state) {
                (false, _) => refuse("that order id is already used"),
                (true, SaleState::Refused { reason }) => refuse(reason),
                (true, _) => MarketMessage::Accepted {
                    order,
                    price: sale.price.clone(),
                    pay_by_ms: sale.pay_by_ms,
                },
            };
        }
        let Some(listing) = self.listings.iter().find(|listing| listing.id == id) else {
            return refuse("that listing is not offered (any more)");
        };
        if listing.expires_ms <= now_ms {
            return refuse("that listing has expired");
        }
        if self.available(listing) == 0 {
            return refuse("sold out");
        }
        let open = |sale: &&Sale| sale.state == SaleState::AwaitingPayment;
        if self
            .sales
            .iter()
            .filter(open)
            .filter(|sale| sale.buyer == buyer)
            .count()
            >= OPEN_ORDERS_PER_BUYER
        {
            return refuse("too many unpaid orders from you; pay or let them expire first");
        }
        if self.sales.iter().filter(open).count() >= OPEN_ORDERS_MAX {
            return refuse("too many orders are waiting for payment; try again later");
        }
        let sale = Sale {
            order,
            listing: id,
            title: listing.title.clone(),
            buyer,
            price: listing.price.clone(),
            goods: listing.goods,
            ordered_ms: now_ms,
            pay_by_ms: now_ms + PAY_WITHIN_MS,
            state: SaleState::AwaitingPayment,
        };
        let answer = MarketMessage::Accepted {
            order,
            price: sale.price.clone(),
            pay_by_ms: sale.pay_by_ms,
        };
        self.sales.push(sale);
        self.forget_oldest();
        answer
    }

    /// A buyer says `transaction` pays for `order`. `Ok(None)` means the chain will be
    /// asked ([`payments_to_check`](Self::payments_to_check)); `Ok(Some(step))` is a
    /// delivery to make again (the buyer claims a paid order again: the goods did not
    /// reach them, or they lost them); `Err` is why it is refused, for a
    /// [`MarketMessage::Refused`] to the buyer.
    pub fn take_payment(
        &mut self,
        buyer: PeerId,
        order: OrderId,
        transaction: [u8; 32],
        now_ms: u64,
    ) -> Result<Option<SaleStep>, String> {
        let refuse = |reason: &str| reason.to_owned();
        let used_elsewhere = self.sales.iter().any(|sale| {
            sale.order != order
                && matches!(&sale.state, SaleState::Checking { transaction: t } | SaleState::Paid { transaction: t } | SaleState::Delivered { transaction: t, .. } if *t == transaction)
        });
        let Some(sale) = self
            .sales
            .iter_mut()
            .find(|sale| sale.order == order && sale.buyer == buyer)
        else {
            return Err(refuse("no such order from you"));
        };
        if used_elsewhere {
            return Err(refuse("that transaction already paid for another order"));
        }
        match &sale.state {
            SaleState::AwaitingPayment if now_ms > sale.pay_by_ms + CONFIRM_WITHIN_MS => {
                Err(refuse("the time to pay for this order is over"))
            }
            SaleState::AwaitingPayment => {
                sale.state = SaleState::Checking { transaction };
                Ok(None)
            }
            SaleState::Checking { transaction: t } | SaleState::Paid { transaction: t }
                if *t == transaction =>
            {
                Ok(None)
            }
            SaleState::Delivered { transaction: t, .. } if *t == transaction => {
                Ok(sale.goods.map(|goods| SaleStep::Deliver { order, buyer, goods }))
            }
            SaleState::Refused { reason } => Err(reason.clone()),
            _ => Err(refuse("this order is already paid by another transaction")),
        }
    }

    /// The payments waiting for the chain's word, with what each must be.
    pub fn payments_to_check(&self, confirmations: u64) -> Vec<(OrderId, TxHash, ExpectedPayment)> {
        self.sales
            .iter()
            .filter_map(|sale| match sale.state {
                SaleState::Checking { transaction } => Some((
                    sale.order,
                    TxHash::from(transaction),
                    expected_payment(&sale.price, sale.order, confirmations),
                )),
                _ => None,
            })
            .collect()
    }

    /// What the chain said about an order's payment, and what to do about it.
    pub fn payment_checked(&mut self, order: OrderId, check: PaymentCheck, now_ms: u64) -> SaleStep {
        let Some(sale) = self.sales.iter_mut().find(|sale| sale.order == order) else {
            return SaleStep::Wait;
        };
        let SaleState::Checking { transaction } = sale.state else {
            return SaleStep::Wait;
        };
        let refuse = |sale: &mut Sale, reason: String| {
            let reason: String = reason.chars().take(REASON_MAX / 2).collect();
            sale.state = SaleState::Refused {
                reason: reason.clone(),
            };
            SaleStep::Tell {
                buyer: sale.buyer,
                message: MarketMessage::Refused { order, reason },
            }
        };
        match check {
            PaymentCheck::Paid { .. } => {
                sale.state = SaleState::Paid { transaction };
                match sale.goods {
                    Some(goods) => SaleStep::Deliver {
                        order,
                        buyer: sale.buyer,
                        goods,
                    },
                    None => SaleStep::Wait,
                }
            }
            PaymentCheck::Wrong(why) => refuse(sale, format!("payment refused: {why}")),
            PaymentCheck::Waiting { .. } if now_ms > sale.pay_by_ms + CONFIRM_WITHIN_MS => {
                refuse(sale, "the payment was not confirmed in time".into())
            }
            PaymentCheck::Waiting { .. } => SaleStep::Wait,
        }
    }

    /// The paid sales whose goods still have to go (after a restart, say).
    pub fn deliveries_due(&self) -> Vec<SaleStep> {
        self.sales
            .iter()
            .filter_map(|sale| match (&sale.state, sale.goods) {
                (SaleState::Paid { .. }, Some(goods)) => Some(SaleStep::Deliver {
                    order: sale.order,
                    buyer: sale.buyer,
                    goods,
                }),
                _ => None,
            })
            .collect()
    }

    /// The goods of `order` were sent: the sale is complete, and the listing has one less.
    /// Returns what to tell the world about the listing: its new quantity, or that it is
    /// withdrawn when none are left. A delivery made again changes nothing.
    pub fn delivered(&mut self, order: OrderId, now_ms: u64) -> Option<MarketMessage> {
        let sale = self.sales.iter_mut().find(|sale| sale.order == order)?;
        let SaleState::Paid { transaction } = sale.state else {
            return None;
        };
        sale.state = SaleState::Delivered {
            transaction,
            at_ms: now_ms,
        };
        let id = sale.listing;
        let index = self.listings.iter().position(|listing| listing.id == id)?;
        let listing = &mut self.listings[index];
        listing.quantity = listing.quantity.saturating_sub(1);
        if listing.quantity == 0 {
            self.listings.remove(index);
            return Some(MarketMessage::Withdrawn(id));
        }
        Some(MarketMessage::Listing(Box::new(listing.clone())))
    }

    /// The buyer of `order` says the goods arrived: the same as [`delivered`](Self::delivered),
    /// for a delivery whose sending was not confirmed. Heard only from the order's buyer.
    pub fn received(&mut self, buyer: PeerId, order: OrderId, now_ms: u64) -> Option<MarketMessage> {
        if !self
            .sales
            .iter()
            .any(|sale| sale.order == order && sale.buyer == buyer)
        {
            return None;
        }
        self.delivered(order, now_ms)
    }

    /// Refuses orders whose time to pay ran out, freeing their units. Returns what to tell
    /// whom.
    pub fn expire(&mut self, now_ms: u64) -> Vec<(PeerId, MarketMessage)> {
        let mut told = Vec::new();
        for sale in &mut self.sales {
            if sale.state == SaleState::AwaitingPayment && now_ms > sale.pay_by_ms {
                let reason = "the time to pay ran out".to_owned();
                sale.state = SaleState::Refused {
                    reason: reason.clone(),
                };
                told.push((
                    sale.buyer,
                    MarketMessage::Refused {
                        order: sale.order,
                        reason,
                    },
                ));
            }
        }
        told
    }

    fn forget_oldest(&mut self) {
        while self.sales.len() > SALES_MAX {
            match self.sales.iter().position(|sale| sale.state.is_finished()) {
                Some(index) => {
                    self.sales.remove(index);
                }
                None => break,
            }
        }
    }
}
