//! The wallet, as an app on the plugin API: keys and balances in a panel in the world.
//!
//! - [`worker`]: the wallet thread that owns the keystore, the chain client and the local
//!   test chain (see `sanctuary-wallet-core`), so nothing slow happens in a frame.
//! - `panel`: the Wallet panel: create (the words shown once, then typed back), restore,
//!   unlock, the address with Copy and a QR code, balances, send (to an address or to a
//!   person in the world by name) with a confirm step that shows exactly what is signed,
//!   pending and confirmed transfers, history.
//! - `directory`: each person's payment address, published by their own wallet as a signed
//!   app message, so they can be paid by name.
//! - [`wire`]: those messages.

mod directory;
mod panel;
mod plugin;
mod qr;
pub mod wire;
pub mod worker;

use sanctuary_plugin_api::prelude::*;

pub use directory::Directory;
pub use panel::{WaitingPayment, WalletAction, WalletPanel, WalletState};

/// The wallet app.
pub struct WalletApp;

impl SanctuaryApp for WalletApp {
    const MANIFEST: Manifest = Manifest {
        name: "wallet",
        title: "Wallet",
        version: env!("CARGO_PKG_VERSION"),
        author: "The Sanctuary developers",
        description: "Your keys and balances: send to an address or to someone here by name, confirm exactly what is signed, see what became of it.",
        permissions: &[Permission::Panels, Permission::Messages],
    };

    fn build(&self, setup: &mut AppSetup) {
        plugin::build(setup);
    }
}
