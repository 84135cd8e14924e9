//! The board and pieces standing on the table in the Market (anchor `chessboard`).

use bevy::prelude::*;
use sanctuary_plugin_api::prelude::*;

use crate::ChessApp;
use crate::game::{GameKey, Side, piece_at};
use crate::play::ChessState;

/// The space the board stands in.
const SPACE: &str = "market";
/// The anchor it stands on.
const ANCHOR: &str = "chessboard";
/// Width of one square, metres.
const SQUARE: f32 = 0.18;

/// A piece on the board in the world.
#[derive(Component, Debug, Clone, PartialEq, Eq)]
pub struct ChessPiece {
    /// Its square, 0 = a1 … 63 = h8.
    pub square: usize,
    /// Its side.
    pub side: Side,
    /// Its letter: `K`, `Q`, `R`, `B`, `N` or `P`.
    pub letter: char,
}

/// Marks everything of the board, to rebuild it when the position changes.
#[derive(Component)]
pub(crate) struct BoardPart;

/// What the board shows now: rebuilt when this changes.
#[derive(Default, PartialEq)]
pub(crate) struct Shown(Option<(Option<GameKey>, usize)>);

/// Stands the board and the pieces of the game on the board, when the person is in the
/// Market and the app may place objects there.
pub fn show(
    mut spawner: AppSpawner<ChessApp>,
    view: Res<WorldView>,
    state: Res<ChessState>,
    parts: Query<Entity, With<BoardPart>>,
    mut shown: Local<Shown>,
    mut meshes: Option<ResMut<Assets<Mesh>>>,
    mut materials: Option<ResMut<Assets<StandardMaterial>>>,
) {
    let Some(anchor) = view.anchor(ANCHOR).cloned() else {
        shown.0 = None;
        return;
    };
    if spawner.check(SPACE).is_err() {
        shown.0 = None;
        return;
    }
    let game = state.table.on_the_board();
    let now = Some((
        game.map(|game| game.key),
        game.map_or(0, |game| game.moves.len() + usize::from(game.resigned.is_some())),
    ));
    // Parts vanish when the person travels or a grant is taken back; rebuild then too.
    if shown.0 == now && !parts.is_empty() {
        return;
    }
    shown.0 = now;
    for entity in &parts {
        spawner.commands().entity(entity).despawn();
    }
    let place = Transform::from_translation(anchor.position).with_rotation(Quat::from_rotation_y(anchor.yaw));
    let at = |index: usize, height: f32| {
        let file = (index % 8) as f32;
        let rank = (index / 8) as f32;
        place * Transform::from_xyz((file - 3.5) * SQUARE, height, (3.5 - rank) * SQUARE)
    };
    for index in 0..64 {
        let dark = (index % 8 + index / 8) % 2 == 0;
        let color = if dark {
            Color::srgb(0.42, 0.27, 0.16)
        } else {
            Color::srgb(0.9, 0.82, 0.66)
        };
        let visual = visual(
            &mut meshes,
            &mut materials,
            Cuboid::new(SQUARE, 0.02, SQUARE).into(),
            color,
        );
        if let Ok(mut square) = spawner.spawn(SPACE, (BoardPart, at(index, 0.01)))
            && let Some(visual) = visual
        {
            square.insert(visual);
        }
    }
    let Some(game) = game else { return };
    let position = game.board();
    for index in 0..64 {
        let Some((side, letter)) = piece_at(&position, index) else {
            continue;
        };
        let (mesh, height): (Mesh, f32) = match letter {
            'P' => (Sphere::new(0.05).into(), 0.1),
            'N' => (Cuboid::new(0.07, 0.14, 0.1).into(), 0.14),
            'B' => (Cone::new(0.06, 0.18).into(), 0.18),
            'R' => (Cylinder::new(0.065, 0.14).into(), 0.14),
            'Q' => (Cylinder::new(0.06, 0.22).into(), 0.22),
            _ => (Cuboid::new(0.08, 0.26, 0.08).into(), 0.26),
        };
        let color = match side {
            Side::White => Color::srgb(0.95, 0.93, 0.86),
            Side::Black => Color::srgb(0.12, 0.1, 0.09),
        };
        let visual = visual(&mut meshes, &mut materials, mesh, color);
        let piece = ChessPiece {
            square: index,
            side,
            letter,
        };
        if let Ok(mut entity) = spawner.spawn(SPACE, (BoardPart, piece, at(index, 0.02 + height / 2.0)))
            && let Some(visual) = visual
        {
            entity.insert(visual);
        }
    }
}

/// A mesh and material, where the client renders (not when headless).
fn visual(
    meshes: &mut Option<ResMut<Assets<Mesh>>>,
    materials: &mut Option<ResMut<Assets<StandardMaterial>>>,
    mesh: Mesh,
    color: Color,
) -> Option<(Mesh3d, MeshMaterial3d<StandardMaterial>)> {
    let (meshes, materials) = (meshes.as_mut()?, materials.as_mut()?);
    Some((
        Mesh3d(meshes.add(mesh)),
        MeshMaterial3d(materials.add(StandardMaterial {
            base_color: color,
            perceptual_roughness: 0.6,
            ..default()
        })),
    ))
}
