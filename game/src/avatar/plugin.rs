//! [`AvatarPlugin`]: the person's body and the drifting avatars.

use super::body::make_avatar_meshes;
use super::controller::{
    ControlsBlocked, KeyboardControlled, Player, body_bundle, catch_falls, move_bodies, place_on_arrival,
    read_controller_output, read_keyboard,
};
use super::floating::{drift, spawn_floating_avatars};
use crate::sets::GameSystems;
use crate::spaces::SpacesSystems;
use bevy::prelude::*;

/// Spawns the person's body, moves it from its intents, places it on arrival in a
/// space, and animates the space's drifting avatars.
pub struct AvatarPlugin;

impl Plugin for AvatarPlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<ControlsBlocked>()
            .add_systems(Startup, (spawn_player, make_avatar_meshes))
            .add_systems(
                Update,
                (
                    read_keyboard.in_set(GameSystems::Input),
                    (read_controller_output, move_bodies, drift)
                        .chain()
                        .in_set(GameSystems::Movement),
                    (place_on_arrival, spawn_floating_avatars, catch_falls)
                        .after(SpacesSystems::Transition)
                        .in_set(GameSystems::Travel),
                ),
            );
    }
}

fn spawn_player(mut commands: Commands) {
    commands.spawn((Name::new("player"), Player, KeyboardControlled, body_bundle()));
}
