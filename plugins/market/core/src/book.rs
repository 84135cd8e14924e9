//! Everyone else's listings, as this peer heard them: bounded, checked, searchable.

use std::collections::HashMap;

use sanctuary_protocols::PeerId;

use crate::MarketError;
use crate::listing::{Listing, ListingId, ListingRef};
use crate::shop::LISTINGS_MAX;

/// Most sellers whose listings are kept.
pub const SELLERS_MAX: usize = 256;

/// The listings heard from other sellers.
#[derive(Clone, Debug, Default)]
pub struct MarketBook {
    sellers: HashMap<PeerId, Vec<Listing>>,
}

impl MarketBook {
    /// Takes a listing `seller` published (its signature was checked by the world layer,
    /// so it is theirs). A listing that breaks the rules or is expired is refused.
    pub fn learn(&mut self, seller: PeerId, listing: Listing, now_ms: u64) -> Result<(), MarketError> {
        listing.validate(now_ms)?;
        if !self.sellers.contains_key(&seller) && self.sellers.len() >= SELLERS_MAX {
            self.expire(now_ms);
            if self.sellers.len() >= SELLERS_MAX {
                return Err(MarketError::TooMany(format!(
                    "listings of {SELLERS_MAX} sellers are kept already"
                )));
            }
        }
        let listings = self.sellers.entry(seller).or_default();
        if let Some(old) = listings.iter_mut().find(|old| old.id == listing.id) {
            *old = listing;
        } else if listings.len() < LISTINGS_MAX {
            listings.push(listing);
        } else {
            return Err(MarketError::TooMany(format!(
                "a seller offers at most {LISTINGS_MAX} listings"
            )));
        }
        Ok(())
    }

    /// `seller` withdrew a listing.
    pub fn withdraw(&mut self, seller: PeerId, id: ListingId) {
        if let Some(listings) = self.sellers.get_mut(&seller) {
            listings.retain(|listing| listing.id != id);
            if listings.is_empty() {
                self.sellers.remove(&seller);
            }
        }
    }

    /// `seller` left the world: their stall goes with them.
    pub fn forget(&mut self, seller: PeerId) {
        self.sellers.remove(&seller);
    }

    /// Drops the listings that expired.
    pub fn expire(&mut self, now_ms: u64) {
        for listings in self.sellers.values_mut() {
            listings.retain(|listing| listing.expires_ms > now_ms);
        }
        self.sellers.retain(|_, listings| !listings.is_empty());
    }

    /// One listing.
    pub fn get(&self, listing: ListingRef) -> Option<&Listing> {
        self.sellers
            .get(&listing.seller)?
            .iter()
            .find(|l| l.id == listing.id)
    }

    /// One seller's listings (their stall).
    pub fn of(&self, seller: PeerId) -> &[Listing] {
        self.sellers.get(&seller).map_or(&[], Vec::as_slice)
    }

    /// The listings whose title or description hold every word of `query` (all of them for
    /// an empty query), by title.
    pub fn search(&self, query: &str) -> Vec<(ListingRef, &Listing)> {
        let mut found: Vec<(ListingRef, &Listing)> = self
            .sellers
            .iter()
            .flat_map(|(seller, listings)| {
                listings.iter().map(|listing| {
                    (
                        ListingRef {
                            seller: *seller,
                            id: listing.id,
                        },
                        listing,
                    )
                })
            })
            .filter(|(_, listing)| listing.matches(query))
            .collect();
        found.sort_by(|a, b| {
            a.1.title
                .to_lowercase()
                .cmp(&b.1.title.to_lowercase())
                .then(a.0.cmp(&b.0))
        });
        found
    }

    /// The sellers with listings, in id order (the same order on every peer).
    pub fn seller_ids(&self) -> Vec<PeerId> {
        let mut sellers: Vec<PeerId> = self.sellers.keys().copied().collect();
        sellers.sort();
        sellers
    }

    /// How many sellers are known.
    pub fn sellers(&self) -> usize {
        self.sellers.len()
    }
}
