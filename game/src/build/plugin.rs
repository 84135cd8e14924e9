//! [`BuildPlugin`]: the structures of the current space in the world, kept in step with
//! the network's document, and the person's [`BuildAction`]s made into edits.

use bevy::prelude::*;
use sanctuary_protocols::build::{Piece, PieceId, Record};
use sanctuary_protocols::text::SpaceName;

use super::edit::{BuildAction, BuildLink, BuildStatus, EditHistory, PiecesChanged, put};
use super::scene::{BuiltScene, PieceLooks, Stores, rebuild_chunk_colliders, reset, show};
use crate::sets::GameSystems;
use crate::spaces::{CurrentSpace, SpacesSystems};

/// Shows what people built in the current space and makes the person's edits. Works
/// headless (colliders, no meshes) and in a window.
pub struct BuildPlugin;

impl Plugin for BuildPlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<BuildLink>()
            .init_resource::<BuiltScene>()
            .init_resource::<PieceLooks>()
            .init_resource::<EditHistory>()
            .init_resource::<BuildStatus>()
            .add_message::<PiecesChanged>()
            .add_message::<BuildAction>()
            .add_systems(
                Update,
                (
                    follow_space,
                    apply_changes,
                    apply_actions,
                    tell_notices,
                    rebuild_chunk_colliders,
                )
                    .chain()
                    .in_set(BuildSystems::Apply)
                    .in_set(GameSystems::Travel)
                    .after(SpacesSystems::Transition),
            );
    }
}

/// The building feature's systems, for others to order against.
#[derive(SystemSet, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BuildSystems {
    /// The scene follows the document; actions become edits.
    Apply,
}

/// The link and the current space, when both exist.
fn here(link: &BuildLink, current: Option<&CurrentSpace>) -> Option<(sanctuary_net::BuildHandle, SpaceName)> {
    let handle = link.0.clone()?;
    let space = SpaceName::new(current?.name.clone()).ok()?;
    Some((handle, space))
}

/// On entering a space (or once the network is ready), shows every piece of it.
fn follow_space(
    mut commands: Commands,
    link: Res<BuildLink>,
    current: Option<Res<CurrentSpace>>,
    mut scene: ResMut<BuiltScene>,
    mut looks: ResMut<PieceLooks>,
    mut stores: Stores,
) {
    let Some((handle, space)) = here(&link, current.as_deref()) else {
        return;
    };
    if scene.space.as_deref() == Some(space.as_str()) {
        return;
    }
    reset(&mut commands, &mut scene, Some(space.as_str().to_owned()));
    let started = std::time::Instant::now();
    let pieces = handle.pieces(&space);
    let read = started.elapsed();
    for (id, piece) in pieces {
        show(
            &mut commands,
            &mut scene,
            &mut looks,
            &mut stores,
            id,
            Some(piece),
        );
    }
    let spawned = started.elapsed() - read;
    info!(
        "{} built pieces in {space} (read in {read:?}, spawned in {spawned:?})",
        scene.len()
    );
}

/// Tells the person what the network noticed about building: a damaged file set aside, a
/// peer building under other rules.
fn tell_notices(link: Res<BuildLink>, mut status: ResMut<BuildStatus>) {
    let Some(handle) = &link.0 else {
        return;
    };
    for notice in handle.take_notices() {
        warn!("{notice}");
        status.message = Some(notice);
    }
}

/// Peers' edits: shows the changed pieces as the document has them now.
fn apply_changes(
    mut commands: Commands,
    mut changes: MessageReader<PiecesChanged>,
    link: Res<BuildLink>,
    current: Option<Res<CurrentSpace>>,
    mut scene: ResMut<BuiltScene>,
    mut looks: ResMut<PieceLooks>,
    mut stores: Stores,
) {
    let Some((handle, space)) = here(&link, current.as_deref()) else {
        changes.clear();
        return;
    };
    for change in changes.read() {
        if change.space != space || scene.space.as_deref() != Some(space.as_str()) {
            continue;
        }
        for (id, piece) in handle.shown(&space, &change.changed) {
            show(&mut commands, &mut scene, &mut looks, &mut stores, id, piece);
        }
    }
}

/// The person's actions: made into signed edits, shown at once, kept for undo.
fn apply_actions(
    mut commands: Commands,
    mut actions: MessageReader<BuildAction>,
    link: Res<BuildLink>,
    current: Option<Res<CurrentSpace>>,
    mut history: ResMut<EditHistory>,
    mut status: ResMut<BuildStatus>,
    mut scene: ResMut<BuiltScene>,
    mut looks: ResMut<PieceLooks>,
    mut stores: Stores,
) {
    let Some((handle, space)) = here(&link, current.as_deref()) else {
        if !actions.is_empty() {
            actions.clear();
            status.message = Some("Building is not available until you are in a world.".into());
        }
        return;
    };
    for action in actions.read() {
        let states: Vec<(PieceId, Option<Piece>)> = match action {
            BuildAction::Place(pieces) => pieces
                .iter()
                .map(|piece| (handle.new_piece_id(), Some(piece.clone())))
                .collect(),
            BuildAction::Change(pieces) => pieces
                .iter()
                .map(|(id, piece)| (*id, Some(piece.clone())))
                .collect(),
            BuildAction::Remove(ids) => ids.iter().map(|id| (*id, None)).collect(),
            BuildAction::Undo => match history.take_undo() {
                Some(states) => states,
                None => continue,
            },
            BuildAction::Redo => match history.take_redo() {
                Some(states) => states,
                None => continue,
            },
            BuildAction::Grant {
                zone,
                person,
                allowed,
            } => {
                let record = Record::Grant {
                    zone: zone.clone(),
                    person: *person,
                    allowed: *allowed,
                };
                status.message = Some(match handle.edit(&space, vec![record]) {
                    Ok(edited) => {
                        // Their pieces in the zone appear or come down with their rights.
                        for (id, piece) in handle.shown(&space, &edited.changed) {
                            show(&mut commands, &mut scene, &mut looks, &mut stores, id, piece);
                        }
                        match allowed {
                            true => format!("They may build in {zone} now."),
                            false => format!("They may no longer build in {zone}."),
                        }
                    }
                    Err(error) => format!("Not changed: {error}"),
                });
                continue;
            }
        };
        let before: Vec<Option<Piece>> = states.iter().map(|(id, _)| scene.piece(id).cloned()).collect();
        match put(&handle, &space, &states, |id| scene.piece(id).cloned()) {
            Ok(changed) => {
                if !matches!(action, BuildAction::Undo | BuildAction::Redo) {
                    let step = states
                        .iter()
                        .zip(before)
                        .map(|((id, after), before)| (*id, before, after.clone()))
                        .collect();
                    history.record(step);
                }
                for (id, piece) in handle.shown(&space, &changed) {
                    show(&mut commands, &mut scene, &mut looks, &mut stores, id, piece);
                }
                status.message = None;
            }
            Err(message) => {
                match action {
                    BuildAction::Undo => history.give_back(true),
                    BuildAction::Redo => history.give_back(false),
                    _ => {}
                }
                // Part of a batch may have been made: show the document as it is.
                for (id, piece) in handle.shown(&space, &states.iter().map(|(id, _)| *id).collect::<Vec<_>>())
                {
                    show(&mut commands, &mut scene, &mut looks, &mut stores, id, piece);
                }
                status.message = Some(message);
            }
        }
    }
}
