//! A shared chessboard in the Market: two people play, everyone there watches, and every
//! copy of the app checks every move. The first mod, written only against
//! `sanctuary-plugin-api` as a third party would write one; copy it to start your own.
//!
//! - [`game`]: the rules of one game (through the `cozy-chess` move generator).
//! - [`table`]: every game this copy knows, and how messages change them, the same on
//!   every peer whatever order the messages come in.
//! - [`wire`]: the app messages the copies send each other.
//! - `play`: the app's systems: act for the person, take in others' messages, keep
//!   the games in the app's folder, and send the state to peers who missed it.
//! - `panel`: the Chess panel; `board`: the board and pieces standing in the Market.
//!
//! Trust: a move counts only if its author, whose signature the world checked, is the
//! player whose turn it is, and the move is legal. A peer that joins late believes the
//! history a player sends it (every move in it must still be legal and alternate between
//! the two players); the other player's copy refuses a history that contradicts its own.

mod board;
pub mod game;
mod panel;
mod play;
pub mod table;
pub mod wire;

use sanctuary_plugin_api::prelude::*;

pub use board::ChessPiece;
pub use play::{ChessAction, ChessState};

/// The chess app.
pub struct ChessApp;

impl SanctuaryApp for ChessApp {
    const MANIFEST: Manifest = Manifest {
        name: "chess",
        title: "Chess",
        version: env!("CARGO_PKG_VERSION"),
        author: "The Sanctuary developers",
        description: "A chessboard in the Market: challenge someone in the world, play, and let everyone watch.",
        permissions: &[
            Permission::Panels,
            Permission::Messages,
            Permission::Spawn { spaces: &["market"] },
        ],
    };

    fn build(&self, setup: &mut AppSetup) {
        setup
            .init_resource::<ChessState>()
            .add_message::<ChessAction>()
            .add_startup_system(play::load)
            .add_system(play::receive)
            .add_system(play::act)
            .add_system(play::announce)
            .add_system(play::save)
            .add_system(board::show)
            .add_panel(PanelSpec::standard("chess", "Chess"), panel::draw);
    }
}
