//! What a seller offers: a listing, its price and the rules every copy checks it against.

use std::fmt;
use std::str::FromStr;

use sanctuary_protocols::{BlobHash, PeerId};
use sanctuary_wallet_core::{Address, Asset, U256, format_amount};
use serde::{Deserialize, Serialize};

use crate::MarketError;

/// Longest title, in bytes.
pub const TITLE_MAX: usize = 80;
/// Longest description, in bytes.
pub const DESCRIPTION_MAX: usize = 1000;
/// Longest token symbol, in bytes.
pub const SYMBOL_MAX: usize = 16;
/// Most units one listing offers.
pub const QUANTITY_MAX: u32 = 1_000_000;
/// How far ahead a listing may expire: a month.
pub const LIFETIME_MAX_MS: u64 = 31 * 24 * 3600 * 1000;

/// A seller's number for one of their listings, random so that a new listing never takes an
/// old one's place. Shown as 16 hex digits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ListingId(pub u64);

impl ListingId {
    /// A fresh random id.
    pub fn random() -> Result<Self, MarketError> {
        let mut bytes = [0; 8];
        getrandom::fill(&mut bytes).map_err(|error| MarketError::Random(error.to_string()))?;
        Ok(Self(u64::from_le_bytes(bytes)))
    }
}

impl fmt::Display for ListingId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

/// Which listing of which seller: `ID@SELLER` as text, the form `sanctuary-node market
/// list` prints and `buy` takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ListingRef {
    /// Who sells.
    pub seller: PeerId,
    /// Their listing.
    pub id: ListingId,
}

impl fmt::Display for ListingRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.id, self.seller)
    }
}

impl FromStr for ListingRef {
    type Err = MarketError;

    fn from_str(text: &str) -> Result<Self, MarketError> {
        let bad = || MarketError::BadListing(format!("\"{text}\" is not a listing (ID@SELLER)"));
        let (id, seller) = text.trim().split_once('@').ok_or_else(bad)?;
        if id.len() != 16 {
            return Err(bad());
        }
        Ok(Self {
            id: ListingId(u64::from_str_radix(id, 16).map_err(|_| bad())?),
            seller: seller.parse().map_err(|_| bad())?,
        })
    }
}

/// An ERC-20 token a price is in, as the seller's wallet knows it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TokenRef {
    /// The contract.
    pub contract: [u8; 20],
    /// Its symbol.
    pub symbol: String,
    /// Its decimals.
    pub decimals: u8,
}

/// What something costs, and where it is paid.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Price {
    /// The chain it is paid on.
    pub chain_id: u64,
    /// The token, or `None` for the chain's own coin.
    pub token: Option<TokenRef>,
    /// The coin's symbol when `token` is `None` ("ETH").
    pub coin_symbol: String,
    /// The amount in the asset's smallest unit, big-endian.
    pub amount: [u8; 32],
    /// The seller's address that is paid.
    pub pay_to: [u8; 20],
}

impl Price {
    /// A price of `amount` of `asset` on chain `chain_id`, paid to `pay_to`.
    pub fn new(chain_id: u64, asset: &Asset, amount: U256, pay_to: Address) -> Self {
        let token = match asset {
            Asset::Native { .. } => None,
            Asset::Token {
                contract,
                symbol,
                decimals,
            } => Some(TokenRef {
                contract: contract.into_array(),
                symbol: symbol.clone(),
                decimals: *decimals,
            }),
        };
        Self {
            chain_id,
            token,
            coin_symbol: asset.symbol().to_owned(),
            amount: amount.to_be_bytes(),
            pay_to: pay_to.into_array(),
        }
    }

    /// The amount, in the asset's smallest unit.
    pub fn value(&self) -> U256 {
        U256::from_be_bytes(self.amount)
    }

    /// Who is paid.
    pub fn payee(&self) -> Address {
        Address::from(self.pay_to)
    }

    /// What is paid, as the wallet names it.
    pub fn asset(&self) -> Asset {
        match &self.token {
            None => Asset::Native {
                symbol: self.coin_symbol.clone(),
            },
            Some(token) => Asset::Token {
                contract: Address::from(token.contract),
                symbol: token.symbol.clone(),
                decimals: token.decimals,
            },
        }
    }

    /// "2.5 TST", for people.
    pub fn shown(&self) -> String {
        let asset = self.asset();
        format!(
            "{} {}",
            format_amount(self.value(), asset.decimals()),
            asset.symbol()
        )
    }

    fn validate(&self) -> Result<(), MarketError> {
        let bad = |why: &str| Err(MarketError::BadListing(why.into()));
        if self.value() == U256::ZERO {
            return bad("a price of nothing");
        }
        if self.pay_to == [0; 20] {
            return bad("payment to the zero address, which burns it");
        }
        let symbol = match &self.token {
            Some(token) if token.decimals > 36 => return bad("a token with over 36 decimals"),
            Some(token) => &token.symbol,
            None => &self.coin_symbol,
        };
        if symbol.is_empty() || symbol.len() > SYMBOL_MAX || symbol.chars().any(char::is_control) {
            return bad("a symbol that is empty, too long or unprintable");
        }
        Ok(())
    }
}

/// One thing a seller offers, as everyone in the world sees it. It travels signed by the
/// seller (as all world traffic), so only they can publish or change their listings.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Listing {
    /// The seller's number for it.
    pub id: ListingId,
    /// What it is, in a few words.
    pub title: String,
    /// More about it.
    pub description: String,
    /// A picture of it in storage (fetched from the seller).
    pub picture: Option<BlobHash>,
    /// The goods themselves, for digital goods: the blob the buyer receives, so the buyer
    /// can check that what arrives is what was listed. Served only to buyers.
    pub goods: Option<BlobHash>,
    /// The price of one.
    pub price: Price,
    /// How many are left to sell.
    pub quantity: u32,
    /// When it stops being offered, in Unix milliseconds.
    pub expires_ms: u64,
}

impl Listing {
    /// Checks the listing against the rules every copy applies: sizes, a real price, some
    /// left, not expired and not for longer than [`LIFETIME_MAX_MS`].
    pub fn validate(&self, now_ms: u64) -> Result<(), MarketError> {
        let bad = |why: String| Err(MarketError::BadListing(why));
        let text_ok = |text: &str| !text.chars().any(|c| c.is_control() && c != '\n');
        if self.title.trim().is_empty() || self.title.len() > TITLE_MAX || !text_ok(&self.title) {
            return bad(format!("a title needs 1 to {TITLE_MAX} bytes of text"));
        }
        if self.description.len() > DESCRIPTION_MAX || !text_ok(&self.description) {
            return bad(format!(
                "a description has at most {DESCRIPTION_MAX} bytes of text"
            ));
        }
        if self.quantity == 0 || self.quantity > QUANTITY_MAX {
            return bad(format!("a quantity from 1 to {QUANTITY_MAX}"));
        }
        if self.expires_ms <= now_ms {
            return Err(MarketError::Expired);
        }
        if self.expires_ms > now_ms.saturating_add(LIFETIME_MAX_MS) {
            return bad("an expiry more than a month ahead".into());
        }
        self.price.validate()
    }

    /// Whether `query` (words, any case) matches its title or description.
    pub fn matches(&self, query: &str) -> bool {
        let text = format!("{} {}", self.title, self.description).to_lowercase();
        query
            .split_whitespace()
            .all(|word| text.contains(&word.to_lowercase()))
    }
}
