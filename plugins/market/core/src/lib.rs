//! The market's core, with no engine: what the Market app in the client and
//! `sanctuary-node market` share.
//!
//! - [`Listing`]s are what sellers offer; every copy checks them ([`Listing::validate`])
//!   and keeps others' in a bounded [`MarketBook`].
//! - A trade goes order → payment → check on chain → delivery: the seller's [`Shop`] and
//!   the buyer's [`Purchases`] are state machines with no I/O that say what to do next.
//!   A payment names its order ([`OrderId`]) in the transaction, so it pays for that order
//!   alone; the seller delivers only after the chain confirms it
//!   ([`sanctuary_wallet_core::Chain::check_payment`]).
//! - [`MarketMessage`] is the wire: listings to the world, the rest privately.
//! - [`MarketRecords`] keeps shop and purchases in the data folder.

mod book;
mod listing;
mod order;
mod purchases;
mod records;
mod shop;
pub mod wire;

pub use book::{MarketBook, SELLERS_MAX};
pub use listing::{
    DESCRIPTION_MAX, LIFETIME_MAX_MS, Listing, ListingId, ListingRef, Price, QUANTITY_MAX, TITLE_MAX,
    TokenRef,
};
pub use order::{OrderId, PAY_WITHIN_MS, expected_payment};
pub use purchases::{OPEN_PURCHASES_MAX, PURCHASES_MAX, Purchase, PurchaseState, PurchaseStep, Purchases};
pub use records::{MarketRecords, RECORDS_FILE, market_dir};
pub use shop::{
    CONFIRM_WITHIN_MS, LISTINGS_MAX, OPEN_ORDERS_MAX, OPEN_ORDERS_PER_BUYER, SALES_MAX, Sale, SaleState,
    SaleStep, Shop,
};
pub use wire::{MARKET_APP, MarketMessage, REASON_MAX, TICKET_MAX, WIRE_VERSION, WireError};

/// What can go wrong in the market, each in words for the person.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MarketError {
    /// A listing breaks the rules.
    #[error("not a valid listing: {0}")]
    BadListing(String),
    /// A listing has expired.
    #[error("that listing has expired")]
    Expired,
    /// A limit was reached.
    #[error("{0}")]
    TooMany(String),
    /// A seller delivered other goods than they listed.
    #[error("{0}")]
    WrongGoods(String),
    /// The system's random source failed.
    #[error("no random numbers: {0}")]
    Random(String),
    /// The records could not be read or written.
    #[error("the market's records: {0}")]
    Io(String),
}
