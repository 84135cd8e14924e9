//! The Market app: trade between people in the world, built only on
//! `sanctuary-plugin-api` and the engine-free `sanctuary-market-core`.
//!
//! - `trade`: the app's systems. Sellers publish their listings to the world; buyers'
//!   orders, payments and deliveries travel privately between the two copies. The
//!   buyer's payment is made by the wallet app after the person confirms it there
//!   ([`WalletRequests`](sanctuary_plugin_api::WalletRequests)); the seller's copy asks
//!   the wallet whether the chain confirms it, and only then shares the goods with the
//!   buyer alone through storage ([`Blobs`](sanctuary_plugin_api::Blobs)), which fetches
//!   them by hash so that only the listed goods are taken.
//! - `panel`: the Market panel: search and buy, sell a file from storage, the person's
//!   stall, and the history of their trades.
//! - `stalls`: each seller's goods on a stall in the Market space, the same stall on
//!   every peer; `pictures`: the listings' pictures above them, fetched from the sellers.
//!
//! The records (shop and purchases) are the same file `sanctuary-node market` uses, in
//! the app's folder of the data folder.

mod panel;
mod pictures;
mod stalls;
mod trade;

use sanctuary_plugin_api::prelude::*;

pub use pictures::StallPictures;
pub use stalls::StallGoods;
pub use trade::{MarketAction, MarketState, Offer};

/// The market app.
pub struct MarketApp;

impl SanctuaryApp for MarketApp {
    const MANIFEST: Manifest = Manifest {
        name: sanctuary_market_core::MARKET_APP,
        title: "Market",
        version: env!("CARGO_PKG_VERSION"),
        author: "The Sanctuary developers",
        description: "Sell files from your storage on a stall in the Market, and buy others' with your wallet.",
        permissions: &[
            Permission::Panels,
            Permission::Messages,
            Permission::Blobs,
            Permission::Wallet,
            Permission::Spawn { spaces: &["market"] },
        ],
    };

    fn build(&self, setup: &mut AppSetup) {
        setup
            .init_resource::<MarketState>()
            .init_resource::<panel::MarketPanel>()
            .init_resource::<StallPictures>()
            .add_message::<MarketAction>()
            .add_startup_system(trade::load)
            .add_system(trade::receive)
            .add_system(trade::act)
            .add_system(trade::wallet_replies)
            .add_system(trade::blob_replies)
            .add_system(trade::tick)
            .add_system(trade::save)
            .add_system(pictures::fetch)
            .add_system(stalls::show)
            .add_panel(PanelSpec::standard("market", "Market"), panel::draw);
    }
}
