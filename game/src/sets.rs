//! System sets that several features order their systems against.

use bevy::prelude::*;

/// The order of one frame's game logic in `Update`.
#[derive(SystemSet, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GameSystems {
    /// Turn devices (keyboard, mouse, later VR controllers and bots) into intents.
    Input,
    /// Move the person and everything that drifts; physics applies it in `PostUpdate`.
    Movement,
    /// Portals and travel between spaces; spawns and despawns space content.
    Travel,
    /// What only a window shows: HUD text, fades, panel placement.
    Presentation,
}

/// Orders [`GameSystems`] one after another.
pub fn configure(app: &mut App) {
    app.configure_sets(
        Update,
        (
            GameSystems::Input,
            GameSystems::Movement,
            GameSystems::Travel,
            GameSystems::Presentation,
        )
            .chain(),
    );
}
