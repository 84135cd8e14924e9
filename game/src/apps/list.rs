//! The apps and mods that come with the client, each a crate in `plugins/`. To add one,
//! depend on its crate in `game/Cargo.toml` and add a line here.

use bevy::prelude::*;
use sanctuary_plugin_api::SanctuaryAppExt;

/// Installs every built-in app and mod.
pub fn install(app: &mut App) {
    app.add_sanctuary_app(sanctuary_chess::ChessApp);
    app.add_sanctuary_app(sanctuary_storage::StorageApp);
    app.add_sanctuary_app(sanctuary_wallet::WalletApp);
    app.add_sanctuary_app(sanctuary_market::MarketApp);
    app.add_sanctuary_app(sanctuary_pod::HomeApp);
}
