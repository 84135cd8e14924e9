//! Build mode on the desktop: B turns it on; the crosshair aims a ghost of the next piece,
//! snapped to a half-metre grid and to the piece it touches; the mouse and keys turn that
//! into [`BuildAction`]s. Nothing here edits anything itself, so a VR hand pointer can
//! make the same actions.

use std::collections::BTreeSet;

use bevy::prelude::*;
use bevy_egui::{EguiContexts, EguiPrimaryContextPass, egui};
use bevy_rapier3d::prelude::{QueryFilter, ReadRapierContext};
use sanctuary_protocols::build::{Piece, PieceId, PieceKind, Record, SignText, YAW_STEPS};
use sanctuary_protocols::limits::PIECE_SIZE_MAX_CM;
use sanctuary_protocols::message::Rgb;
use sanctuary_protocols::text::SpaceName;

use super::edit::{BuildAction, BuildLink, BuildStatus, EditHistory, zone_for};
use super::scene::{BuiltScene, placement, unit_mesh};
use crate::avatar::{ControlsBlocked, Player};
use crate::desktop::{CursorGrab, MainCamera};
use crate::sets::GameSystems;
use crate::spaces::CurrentSpace;

/// Furthest the crosshair reaches to build, metres.
pub const REACH_M: f32 = 24.0;

/// The grid pieces snap to on the ground, metres.
pub const GRID_M: f32 = 0.5;

/// The colours of the palette, in order.
pub const PALETTE: [Rgb; 10] = [
    Rgb {
        r: 200,
        g: 196,
        b: 186,
    },
    Rgb {
        r: 120,
        g: 116,
        b: 110,
    },
    Rgb { r: 60, g: 58, b: 56 },
    Rgb { r: 176, g: 92, b: 58 },
    Rgb {
        r: 214,
        g: 168,
        b: 72,
    },
    Rgb { r: 92, g: 150, b: 88 },
    Rgb {
        r: 70,
        g: 120,
        b: 190,
    },
    Rgb {
        r: 150,
        g: 84,
        b: 170,
    },
    Rgb {
        r: 220,
        g: 80,
        b: 120,
    },
    Rgb {
        r: 240,
        g: 240,
        b: 236,
    },
];

/// The controls of build mode, as shown on screen and in the README.
pub const BUILD_CONTROLS: &[(&str, &str)] = &[
    ("B", "build mode on / off"),
    ("Click", "place the piece shown"),
    ("Right click", "remove the piece aimed at"),
    ("1 - 7", "block, slab, wall, stairs, ramp, light, sign"),
    ("R", "turn 15°"),
    ("Q / E", "previous / next colour"),
    ("[ / ]", "smaller / larger"),
    ("T", "select or unselect the piece aimed at"),
    ("M", "move the selection to where the ghost is"),
    ("Ctrl+C / Ctrl+V", "copy the selection / paste it at the ghost"),
    ("Delete", "remove the selection"),
    ("Ctrl+Z / Ctrl+Y", "undo / redo your edits"),
    ("Enter", "write the text of the next sign"),
];

/// Build mode on the desktop (needs a window).
pub struct BuildModePlugin;

impl Plugin for BuildModePlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<BuildMode>()
            .add_systems(Startup, spawn_ghost)
            .add_systems(Update, (toggle, aim, act).chain().in_set(GameSystems::Input))
            .add_systems(
                Update,
                (show_ghost, show_selection).in_set(GameSystems::Presentation),
            )
            .add_systems(EguiPrimaryContextPass, draw_palette);
    }
}

/// A hand that builds, in a headset: where it points and which grips are squeezed (left,
/// right). The right grip grabs the piece pointed at and sets it down where it is let go,
/// or places the next piece where no piece is pointed at; the left grip removes the piece
/// pointed at. Absent on the desktop, where the crosshair and the mouse do this.
#[derive(Resource, Debug, Default, Clone, PartialEq)]
pub struct BuildingHand {
    /// The ray it points along (origin, direction), when tracked.
    pub aim: Option<(Vec3, Vec3)>,
    /// Whether each grip is squeezed now: left, right.
    pub grips: [bool; 2],
}

/// A piece a hand holds up while its grip is squeezed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Held {
    /// The piece.
    pub piece: PieceId,
    /// How far along the hand's aim it was grabbed, metres.
    pub reach: f32,
    /// From the point grabbed to the piece's centre, metres.
    pub offset: Vec3,
}

/// What the person is about to build, and what they picked.
#[derive(Resource, Debug)]
pub struct BuildMode {
    /// Whether build mode is on.
    pub active: bool,
    /// The kind placed next.
    pub kind: PieceKind,
    /// The palette colour placed next.
    pub color: usize,
    /// The turn placed next, in steps of 15°.
    pub yaw: u8,
    /// The size placed next, in percent of the kind's own.
    pub scale: u16,
    /// The text of the next sign.
    pub sign_text: String,
    /// Pieces picked for moving, copying or removing.
    pub selected: BTreeSet<PieceId>,
    /// Pieces copied, relative to the first one's position.
    pub clipboard: Vec<Piece>,
    /// What the crosshair aims at now.
    pub target: Option<Target>,
    /// The piece a hand holds, while it does.
    pub held: Option<Held>,
    /// Writing the sign's text (the keyboard is the text field's).
    writing: bool,
}

impl Default for BuildMode {
    fn default() -> Self {
        Self {
            active: false,
            kind: PieceKind::Block,
            color: 0,
            yaw: 0,
            scale: 100,
            sign_text: "Welcome".into(),
            selected: BTreeSet::new(),
            clipboard: Vec::new(),
            target: None,
            held: None,
            writing: false,
        }
    }
}

impl BuildMode {
    /// The next piece as it would stand at `position` (millimetres).
    pub fn template(&self, position: [i32; 3]) -> Piece {
        let size = self.kind.default_size().map(|side| {
            (u32::from(side) * u32::from(self.scale) / 100).clamp(5, u32::from(PIECE_SIZE_MAX_CM)) as u16
        });
        Piece {
            kind: self.kind,
            position,
            yaw: self.yaw,
            size,
            color: PALETTE[self.color % PALETTE.len()],
            text: (self.kind == PieceKind::Sign)
                .then(|| SignText::new(self.sign_text.trim()).ok())
                .flatten(),
        }
    }
}

/// What the crosshair aims at.
#[derive(Debug, Clone)]
pub struct Target {
    /// The piece hit, if it was one.
    pub piece: Option<PieceId>,
    /// The next piece, where it would go.
    pub ghost: Piece,
    /// Why it cannot go there, if it cannot.
    pub refused: Option<String>,
    /// Where the aim touched, metres.
    pub point: Vec3,
}

/// Where a held piece goes when the hand holds its centre at `centre`: moved from where
/// it stands by whole grid steps, so what lined up with its neighbours still does.
pub fn carried(piece: &Piece, centre: Vec3) -> Piece {
    let (from, _, _) = placement(piece);
    let steps = ((centre - from) / GRID_M).round() * GRID_M;
    let millimetres = (steps * 1000.0).round().as_ivec3().to_array();
    Piece {
        position: [0, 1, 2].map(|axis| piece.position[axis] + millimetres[axis]),
        ..piece.clone()
    }
}

/// Where a new piece goes when the crosshair hits `point` on a surface facing `normal`:
/// on top of what it hit, or beside the piece it hit, snapped to the grid (on the ground)
/// or to that piece (so stacked and neighbouring pieces line up).
pub fn ghost_at(point: Vec3, normal: Vec3, hit: Option<&Piece>, template: &Piece) -> Piece {
    let half = Vec3::from_array(template.half_extents_mm().map(|mm| mm as f32 / 1000.0));
    let snap = |value: f32, origin: f32| ((value - origin) / GRID_M).round() * GRID_M + origin;
    let centre = match hit {
        Some(piece) => {
            let (centre, _, _) = placement(piece);
            let other = Vec3::from_array(piece.half_extents_mm().map(|mm| mm as f32 / 1000.0));
            if normal.y > 0.7 {
                Vec3::new(
                    snap(point.x, centre.x),
                    centre.y + other.y + half.y,
                    snap(point.z, centre.z),
                )
            } else if normal.y < -0.7 {
                Vec3::new(
                    snap(point.x, centre.x),
                    centre.y - other.y - half.y,
                    snap(point.z, centre.z),
                )
            } else if normal.x.abs() >= normal.z.abs() {
                let side = normal.x.signum();
                Vec3::new(
                    centre.x + side * (other.x + half.x),
                    centre.y - other.y + half.y,
                    snap(point.z, centre.z),
                )
            } else {
                let side = normal.z.signum();
                Vec3::new(
                    snap(point.x, centre.x),
                    centre.y - other.y + half.y,
                    centre.z + side * (other.z + half.z),
                )
            }
        }
        None => {
            let lifted = point + normal * 0.01;
            let mut centre = Vec3::new(snap(lifted.x, 0.0), point.y + half.y, snap(lifted.z, 0.0));
            if normal.y <= 0.7 {
                // Against a wall: stand out from it, its bottom on the grid step at or
                // below where the crosshair touched (the floor, for a low wall).
                centre += Vec3::new(normal.x, 0.0, normal.z).normalize_or_zero() * half.max_element();
                centre.y = (point.y / GRID_M).floor() * GRID_M + half.y;
            }
            centre
        }
    };
    Piece {
        position: (centre * 1000.0).round().as_ivec3().to_array(),
        ..template.clone()
    }
}

fn toggle(
    keys: Res<ButtonInput<KeyCode>>,
    blocked: Res<ControlsBlocked>,
    mut mode: ResMut<BuildMode>,
    link: Res<BuildLink>,
    mut status: ResMut<BuildStatus>,
) {
    if blocked.0 || !keys.just_pressed(KeyCode::KeyB) {
        return;
    }
    mode.active = !mode.active;
    mode.target = None;
    if mode.active && link.0.is_none() {
        status.message = Some("Building starts once you are in a world.".into());
    }
}

/// Follows the crosshair (or a building hand): which piece it hits, and where the next
/// piece would go.
fn aim(
    mut mode: ResMut<BuildMode>,
    rapier: ReadRapierContext,
    camera: Single<&GlobalTransform, With<MainCamera>>,
    hand: Option<Res<BuildingHand>>,
    player: Single<Entity, With<Player>>,
    scene: Res<BuiltScene>,
    link: Res<BuildLink>,
    current: Option<Res<CurrentSpace>>,
) {
    if !mode.active {
        return;
    }
    let Ok(context) = rapier.single() else {
        return;
    };
    let (origin, direction) = hand
        .and_then(|hand| hand.aim)
        .unwrap_or((camera.translation(), camera.forward().as_vec3()));
    if let Some(held) = mode.held {
        // A held piece goes where the hand carries it, whatever is behind it.
        let Some(piece) = scene.piece(&held.piece) else {
            mode.held = None;
            mode.target = None;
            return;
        };
        let point = origin + direction * held.reach;
        let ghost = carried(piece, point + held.offset);
        let refused = refusal(&link, current.as_deref(), &ghost);
        mode.target = Some(Target {
            piece: Some(held.piece),
            ghost,
            refused,
            point,
        });
        return;
    }
    let filter = QueryFilter::default().exclude_collider(*player);
    let Some((_, hit)) = context.cast_ray_and_get_normal(origin, direction, REACH_M, true, filter) else {
        mode.target = None;
        return;
    };
    let piece = scene.piece_at(hit.point);
    let template = mode.template([0, 0, 0]);
    let ghost = ghost_at(
        hit.point,
        hit.normal,
        piece.and_then(|id| scene.piece(&id)),
        &template,
    );
    let refused = refusal(&link, current.as_deref(), &ghost);
    mode.target = Some(Target {
        piece,
        ghost,
        refused,
        point: hit.point,
    });
}

/// Why `ghost` cannot be placed, asked of the document's own checks: what turns the ghost
/// red, and the reason the Build window shows.
pub fn refusal(link: &BuildLink, current: Option<&CurrentSpace>, ghost: &Piece) -> Option<String> {
    let handle = link.0.as_ref()?;
    let space = SpaceName::new(current?.name.clone()).ok()?;
    let Some(rules) = handle.rules(&space) else {
        return Some("Nobody may build here.".into());
    };
    let Some(zone) = zone_for(rules, ghost) else {
        return Some("Outside the building zones.".into());
    };
    // A number no piece gets: asking each frame spends none of ours.
    let record = Record::Piece {
        id: PieceId {
            creator: handle.me(),
            number: u64::MAX,
        },
        zone,
        piece: Some(ghost.clone()),
    };
    handle.check(&space, &record).err().map(|error| error.to_string())
}

/// The mouse and keys, made into actions.
fn act(
    keys: Res<ButtonInput<KeyCode>>,
    mouse: Res<ButtonInput<MouseButton>>,
    hand: Option<Res<BuildingHand>>,
    grab: Res<CursorGrab>,
    blocked: Res<ControlsBlocked>,
    scene: Res<BuiltScene>,
    mut mode: ResMut<BuildMode>,
    mut actions: MessageWriter<BuildAction>,
    mut status: ResMut<BuildStatus>,
    mut was_grabbed: Local<bool>,
    mut was_gripped: Local<[bool; 2]>,
) {
    let grabbed_before = *was_grabbed;
    *was_grabbed = grab.0;
    let grips = hand.as_deref().map_or([false; 2], |hand| hand.grips);
    let squeezed = [0, 1].map(|side| grips[side] && !was_gripped[side]);
    *was_gripped = grips;
    // Letting go of the right grip sets down what it held, where the ghost shows.
    if !grips[1]
        && let Some(held) = mode.held.take()
        && mode.active
        && !blocked.0
        && let Some(target) = mode.target.clone()
        && target.piece == Some(held.piece)
    {
        match target.refused {
            None if scene.piece(&held.piece) != Some(&target.ghost) => {
                actions.write(BuildAction::Change(vec![(held.piece, target.ghost)]));
            }
            None => {}
            Some(why) => status.message = Some(format!("Not moved: {why}")),
        }
    }
    if !mode.active || blocked.0 || mode.writing {
        return;
    }
    // Held, or pressed and let go within this frame (a quick Ctrl+Z on a slow frame).
    let ctrl_keys = [KeyCode::ControlLeft, KeyCode::ControlRight];
    let ctrl = keys.any_pressed(ctrl_keys) || keys.any_just_pressed(ctrl_keys);
    let pressed = |key| keys.just_pressed(key);
    for (index, key) in [
        KeyCode::Digit1,
        KeyCode::Digit2,
        KeyCode::Digit3,
        KeyCode::Digit4,
        KeyCode::Digit5,
        KeyCode::Digit6,
        KeyCode::Digit7,
    ]
    .into_iter()
    .enumerate()
    {
        if pressed(key) {
            mode.kind = PieceKind::ALL[index];
        }
    }
    if pressed(KeyCode::Enter) {
        mode.writing = true;
        return;
    }
    let selected: Vec<(PieceId, Piece)> = mode
        .selected
        .iter()
        .filter_map(|id| scene.piece(id).map(|piece| (*id, piece.clone())))
        .collect();
    let change_selected = |change: &dyn Fn(&Piece) -> Piece| -> BuildAction {
        BuildAction::Change(selected.iter().map(|(id, piece)| (*id, change(piece))).collect())
    };
    if pressed(KeyCode::KeyR) && !ctrl {
        if selected.is_empty() {
            mode.yaw = (mode.yaw + 1) % YAW_STEPS;
        } else {
            actions.write(change_selected(&|piece| Piece {
                yaw: (piece.yaw + 1) % YAW_STEPS,
                ..piece.clone()
            }));
        }
    }
    for (key, step) in [(KeyCode::KeyQ, PALETTE.len() - 1), (KeyCode::KeyE, 1)] {
        if pressed(key) {
            mode.color = (mode.color + step) % PALETTE.len();
            if !selected.is_empty() {
                let color = PALETTE[mode.color];
                actions.write(change_selected(&|piece| Piece {
                    color,
                    ..piece.clone()
                }));
            }
        }
    }
    for (key, grow) in [(KeyCode::BracketLeft, false), (KeyCode::BracketRight, true)] {
        if pressed(key) {
            mode.scale = if grow {
                (mode.scale + 25).min(400)
            } else {
                mode.scale.saturating_sub(25).max(25)
            };
            if !selected.is_empty() {
                let factor = if grow { 1.25 } else { 0.8 };
                actions.write(change_selected(&|piece| Piece {
                    size: piece
                        .size
                        .map(|side| ((f32::from(side) * factor).round() as u16).clamp(5, PIECE_SIZE_MAX_CM)),
                    ..piece.clone()
                }));
            }
        }
    }
    if ctrl && pressed(KeyCode::KeyZ) {
        actions.write(BuildAction::Undo);
    }
    if ctrl && pressed(KeyCode::KeyY) {
        actions.write(BuildAction::Redo);
    }
    if ctrl && pressed(KeyCode::KeyC) && !selected.is_empty() {
        let anchor = selected[0].1.position;
        mode.clipboard = selected
            .iter()
            .map(|(_, piece)| Piece {
                position: [0, 1, 2].map(|axis| piece.position[axis] - anchor[axis]),
                ..piece.clone()
            })
            .collect();
        status.message = Some(format!("Copied {} pieces.", mode.clipboard.len()));
    }
    if pressed(KeyCode::Delete) && !selected.is_empty() {
        actions.write(BuildAction::Remove(selected.iter().map(|(id, _)| *id).collect()));
        mode.selected.clear();
    }
    let Some(target) = mode.target.clone() else {
        return;
    };
    if pressed(KeyCode::KeyT)
        && let Some(id) = target.piece
        && !mode.selected.remove(&id)
    {
        mode.selected.insert(id);
    }
    let ghost_at_anchor = |pieces: &[Piece]| -> Vec<Piece> {
        pieces
            .iter()
            .map(|piece| Piece {
                position: [0, 1, 2].map(|axis| target.ghost.position[axis] + piece.position[axis]),
                ..piece.clone()
            })
            .collect()
    };
    if ctrl && pressed(KeyCode::KeyV) && !mode.clipboard.is_empty() {
        actions.write(BuildAction::Place(ghost_at_anchor(&mode.clipboard)));
    }
    if pressed(KeyCode::KeyM) && !selected.is_empty() {
        let anchor = selected[0].1.position;
        let moved = selected
            .iter()
            .map(|(id, piece)| {
                let offset = [0, 1, 2].map(|axis| piece.position[axis] - anchor[axis]);
                let position = [0, 1, 2].map(|axis| target.ghost.position[axis] + offset[axis]);
                (
                    *id,
                    Piece {
                        position,
                        ..piece.clone()
                    },
                )
            })
            .collect();
        actions.write(BuildAction::Change(moved));
    }
    // A squeeze of the right grip grabs the piece the hand points at.
    let hand_origin = hand
        .as_deref()
        .and_then(|hand| hand.aim)
        .map(|(origin, _)| origin);
    if squeezed[1]
        && let Some(id) = target.piece
        && let Some(piece) = scene.piece(&id)
        && let Some(origin) = hand_origin
    {
        mode.held = Some(Held {
            piece: id,
            reach: target.point.distance(origin),
            offset: placement(piece).0 - target.point,
        });
    }
    // A click that grabbed the mouse only grabs it.
    let clicks = grab.0 && grabbed_before;
    if (clicks && mouse.just_pressed(MouseButton::Left)) || (squeezed[1] && mode.held.is_none()) {
        match &target.refused {
            None => {
                actions.write(BuildAction::Place(vec![target.ghost.clone()]));
            }
            Some(why) => status.message = Some(format!("Not built: {why}")),
        }
    }
    if ((clicks && mouse.just_pressed(MouseButton::Right)) || squeezed[0])
        && let Some(id) = target.piece
    {
        mode.selected.remove(&id);
        if mode.held.is_some_and(|held| held.piece == id) {
            mode.held = None;
        }
        actions.write(BuildAction::Remove(vec![id]));
    }
}

/// The translucent ghost of the next piece.
#[derive(Component)]
struct Ghost;

/// Materials of the ghost: fits, and does not.
#[derive(Resource)]
struct GhostLooks {
    fits: Handle<StandardMaterial>,
    refused: Handle<StandardMaterial>,
    selected: Handle<StandardMaterial>,
    meshes: Vec<(PieceKind, Handle<Mesh>)>,
}

fn spawn_ghost(
    mut commands: Commands,
    mut meshes: ResMut<Assets<Mesh>>,
    mut materials: ResMut<Assets<StandardMaterial>>,
) {
    let translucent = |color: Color| StandardMaterial {
        base_color: color,
        alpha_mode: AlphaMode::Blend,
        unlit: true,
        ..default()
    };
    let looks = GhostLooks {
        fits: materials.add(translucent(Color::srgba(0.4, 1.0, 0.6, 0.45))),
        refused: materials.add(translucent(Color::srgba(1.0, 0.3, 0.3, 0.45))),
        selected: materials.add(translucent(Color::srgba(1.0, 0.85, 0.2, 0.4))),
        meshes: PieceKind::ALL
            .iter()
            .map(|kind| (*kind, meshes.add(unit_mesh(*kind))))
            .collect(),
    };
    commands.spawn((
        Ghost,
        Name::new("build ghost"),
        Transform::default(),
        Visibility::Hidden,
        Mesh3d(looks.meshes[0].1.clone()),
        MeshMaterial3d(looks.fits.clone()),
    ));
    commands.insert_resource(looks);
}

fn show_ghost(
    mode: Res<BuildMode>,
    looks: Res<GhostLooks>,
    ghost: Single<
        (
            &mut Transform,
            &mut Visibility,
            &mut Mesh3d,
            &mut MeshMaterial3d<StandardMaterial>,
        ),
        With<Ghost>,
    >,
) {
    let (mut transform, mut visibility, mut mesh, mut material) = ghost.into_inner();
    let Some(target) = mode.target.as_ref().filter(|_| mode.active) else {
        visibility.set_if_neq(Visibility::Hidden);
        return;
    };
    let (translation, rotation, size) = placement(&target.ghost);
    *transform = Transform::from_translation(translation)
        .with_rotation(rotation)
        .with_scale(size * 1.002);
    visibility.set_if_neq(Visibility::Inherited);
    if let Some((_, handle)) = looks.meshes.iter().find(|(kind, _)| *kind == target.ghost.kind)
        && mesh.0 != *handle
    {
        mesh.0 = handle.clone();
    }
    let wanted = if target.refused.is_some() {
        &looks.refused
    } else {
        &looks.fits
    };
    if material.0 != *wanted {
        material.0 = wanted.clone();
    }
}

/// A glow over each selected piece.
#[derive(Component)]
struct SelectionGlow(PieceId);

fn show_selection(
    mut commands: Commands,
    mode: Res<BuildMode>,
    scene: Res<BuiltScene>,
    looks: Res<GhostLooks>,
    mut glows: Query<(Entity, &SelectionGlow, &mut Transform)>,
) {
    let mut shown = BTreeSet::new();
    for (entity, glow, mut transform) in &mut glows {
        match scene.piece(&glow.0).filter(|_| mode.selected.contains(&glow.0)) {
            Some(piece) => {
                let (translation, rotation, size) = placement(piece);
                *transform = Transform::from_translation(translation)
                    .with_rotation(rotation)
                    .with_scale(size * 1.03);
                shown.insert(glow.0);
            }
            None => commands.entity(entity).despawn(),
        }
    }
    for id in mode.selected.difference(&shown) {
        let Some(piece) = scene.piece(id) else {
            continue;
        };
        let Some((_, mesh)) = looks.meshes.iter().find(|(kind, _)| *kind == piece.kind) else {
            continue;
        };
        let (translation, rotation, size) = placement(piece);
        commands.spawn((
            SelectionGlow(*id),
            Transform::from_translation(translation)
                .with_rotation(rotation)
                .with_scale(size * 1.03),
            Mesh3d(mesh.clone()),
            MeshMaterial3d(looks.selected.clone()),
        ));
    }
}

/// Buttons that pick the next piece's kind and colour: the Build window's, and the
/// wrist menu's in a headset.
pub fn pick_next_piece(ui: &mut egui::Ui, mode: &mut BuildMode) {
    ui.horizontal_wrapped(|ui| {
        for kind in PieceKind::ALL {
            ui.selectable_value(&mut mode.kind, kind, kind.label());
        }
    });
    ui.horizontal(|ui| {
        for (index, color) in PALETTE.iter().enumerate() {
            let swatch = egui::Color32::from_rgb(color.r, color.g, color.b);
            let text = if index == mode.color { "■" } else { "□" };
            if ui.button(egui::RichText::new(text).color(swatch)).clicked() {
                mode.color = index;
            }
        }
    });
}

/// The palette and what build mode says, in a small window while it is on.
fn draw_palette(
    mut contexts: EguiContexts,
    mut mode: ResMut<BuildMode>,
    status: Res<BuildStatus>,
    history: Res<EditHistory>,
    link: Res<BuildLink>,
    current: Option<Res<CurrentSpace>>,
) -> Result {
    if !mode.active {
        return Ok(());
    }
    let ctx = contexts.ctx_mut()?;
    let zone = mode.target.as_ref().and_then(|target| {
        let handle = link.0.as_ref()?;
        let space = SpaceName::new(current.as_ref()?.name.clone()).ok()?;
        zone_for(handle.rules(&space)?, &target.ghost)
    });
    egui::Window::new("Build")
        .anchor(egui::Align2::RIGHT_BOTTOM, [-12.0, -12.0])
        .resizable(false)
        .collapsible(false)
        .show(ctx, |ui| {
            pick_next_piece(ui, &mut mode);
            ui.label(format!(
                "turned {}°, size {}%, {} selected, {} to undo",
                u32::from(mode.yaw) * 15,
                mode.scale,
                mode.selected.len(),
                history.undo_len()
            ));
            ui.horizontal(|ui| {
                ui.label("Sign text:");
                let field = ui.text_edit_singleline(&mut mode.sign_text);
                if mode.writing {
                    field.request_focus();
                    if field.lost_focus() || ui.input(|input| input.key_pressed(egui::Key::Escape)) {
                        mode.writing = false;
                    }
                }
            });
            match (&zone, mode.target.as_ref().and_then(|t| t.refused.as_ref())) {
                (_, Some(why)) => ui.colored_label(egui::Color32::LIGHT_RED, why),
                (Some(zone), None) => ui.label(format!("Building in {zone}")),
                (None, None) => ui.label("Aim at the ground or a piece"),
            };
            if let Some(message) = &status.message {
                ui.label(message);
            }
            ui.small("B leave · click place · right click remove · R turn · 1-7 kind · Q/E colour · [ ] size · T select · Ctrl+Z undo");
        });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use sanctuary_protocols::identity::PeerId;

    fn block() -> Piece {
        Piece::new(PieceKind::Block, [0, 0, 0], PALETTE[0])
    }

    #[test]
    fn on_the_ground_a_piece_stands_on_it_snapped_to_the_grid() {
        let ghost = ghost_at(Vec3::new(1.2, 0.0, -3.9), Vec3::Y, None, &block());
        assert_eq!(ghost.position, [1000, 500, -4000]);
    }

    #[test]
    fn against_a_wall_of_the_space_a_piece_stands_out_from_it_on_the_grid_below() {
        // The fountain's basin side, 0.3 m up, facing +z.
        let ghost = ghost_at(Vec3::new(0.2, 0.3, 3.2), Vec3::Z, None, &block());
        assert_eq!(ghost.position, [0, 500, 3500]);
    }

    #[test]
    fn on_a_piece_the_next_stacks_on_top_and_beside_lines_up() {
        let below = Piece::new(PieceKind::Block, [250, 500, 250], PALETTE[0]);
        let on_top = ghost_at(Vec3::new(0.4, 1.0, 0.1), Vec3::Y, Some(&below), &block());
        assert_eq!(on_top.position, [250, 1500, 250]);
        let beside = ghost_at(Vec3::new(0.75, 0.8, 0.3), Vec3::X, Some(&below), &block());
        assert_eq!(beside.position, [1250, 500, 250]);
        let slab = Piece::new(PieceKind::Slab, [0, 0, 0], PALETTE[0]);
        let behind = ghost_at(Vec3::new(0.2, 0.3, -0.25), Vec3::NEG_Z, Some(&below), &slab);
        // A slab (2 x 0.2 x 2 m) behind the block: bottoms level, touching its back.
        assert_eq!(behind.position, [250, 100, -1250]);
    }

    #[test]
    fn the_template_follows_the_choices() {
        let mode = BuildMode {
            kind: PieceKind::Sign,
            scale: 50,
            color: 3,
            yaw: 5,
            ..BuildMode::default()
        };
        let sign = mode.template([1, 2, 3]);
        assert_eq!(sign.size, [60, 30, 5]);
        assert_eq!(sign.color, PALETTE[3]);
        assert_eq!(sign.text.as_ref().map(|t| t.as_str()), Some("Welcome"));
        assert_eq!(sign.check(), Ok(()));
    }

    fn id(number: u64) -> PieceId {
        PieceId {
            creator: PeerId::from_bytes([4; 32]),
            number,
        }
    }

    /// Build mode's input system alone, in build mode, the mouse grabbed, aiming at piece 1
    /// (a block at the origin) with the ghost on top of it.
    fn aiming() -> App {
        let mut app = App::new();
        app.add_plugins(MinimalPlugins)
            .init_resource::<ButtonInput<KeyCode>>()
            .init_resource::<ButtonInput<MouseButton>>()
            .insert_resource(CursorGrab(true))
            .init_resource::<ControlsBlocked>()
            .init_resource::<BuiltScene>()
            .init_resource::<BuildStatus>()
            .add_message::<BuildAction>()
            .add_systems(Update, act);
        let below = Piece::new(PieceKind::Block, [0, 500, 0], PALETTE[0]);
        app.world_mut()
            .resource_mut::<BuiltScene>()
            .remember(id(1), below);
        let mode = BuildMode {
            active: true,
            target: Some(Target {
                piece: Some(id(1)),
                ghost: Piece::new(PieceKind::Block, [0, 1500, 0], PALETTE[0]),
                refused: None,
                point: Vec3::new(0.0, 1.0, 0.0),
            }),
            ..BuildMode::default()
        };
        app.insert_resource(mode);
        app.update();
        app
    }

    /// Presses `keys` and `buttons` together for one frame; returns the actions made.
    fn press(app: &mut App, keys: &[KeyCode], buttons: &[MouseButton]) -> Vec<BuildAction> {
        for key in keys {
            app.world_mut().resource_mut::<ButtonInput<KeyCode>>().press(*key);
        }
        for button in buttons {
            app.world_mut()
                .resource_mut::<ButtonInput<MouseButton>>()
                .press(*button);
        }
        app.update();
        let mut keyboard = app.world_mut().resource_mut::<ButtonInput<KeyCode>>();
        keyboard.release_all();
        keyboard.clear();
        let mut mouse = app.world_mut().resource_mut::<ButtonInput<MouseButton>>();
        mouse.release_all();
        mouse.clear();
        app.world_mut()
            .resource_mut::<Messages<BuildAction>>()
            .drain()
            .collect()
    }

    #[test]
    fn clicks_place_and_remove_and_a_click_that_grabs_the_mouse_does_neither() {
        let mut app = aiming();
        let placed = press(&mut app, &[KeyCode::Digit3], &[MouseButton::Left]);
        assert!(matches!(&placed[..], [BuildAction::Place(pieces)] if pieces.len() == 1));
        let removed = press(&mut app, &[], &[MouseButton::Right]);
        assert_eq!(removed, vec![BuildAction::Remove(vec![id(1)])]);

        // Where the ghost may not go, a click says why and builds nothing.
        app.world_mut()
            .resource_mut::<BuildMode>()
            .target
            .as_mut()
            .unwrap()
            .refused = Some("Outside the building zones.".into());
        assert!(press(&mut app, &[], &[MouseButton::Left]).is_empty());
        let said = app.world().resource::<BuildStatus>().message.clone().unwrap();
        assert!(said.contains("Outside the building zones"), "{said}");

        // The mouse was free: this click grabs it and builds nothing.
        app.world_mut()
            .resource_mut::<BuildMode>()
            .target
            .as_mut()
            .unwrap()
            .refused = None;
        app.insert_resource(CursorGrab(false));
        app.update();
        app.insert_resource(CursorGrab(true));
        assert!(press(&mut app, &[], &[MouseButton::Left]).is_empty());
        assert_eq!(press(&mut app, &[], &[MouseButton::Left]).len(), 1);
    }

    /// A building hand 3 m in front of the block's top, pointing at it, its grips so.
    fn hand(grips: [bool; 2]) -> BuildingHand {
        BuildingHand {
            aim: Some((Vec3::new(0.0, 1.0, 3.0), Vec3::NEG_Z)),
            grips,
        }
    }

    #[test]
    fn the_right_grip_grabs_the_piece_pointed_at_and_sets_it_down_where_it_is_let_go() {
        let mut app = aiming();
        app.insert_resource(CursorGrab(false));
        app.insert_resource(hand([false, true]));
        assert!(
            press(&mut app, &[], &[]).is_empty(),
            "grabbing changes nothing yet"
        );
        let held = app.world().resource::<BuildMode>().held;
        assert_eq!(
            held,
            Some(Held {
                piece: id(1),
                reach: 3.0,
                offset: Vec3::new(0.0, -0.5, 0.0),
            })
        );
        // The hand carries it a metre to the right (build mode's aim shows it there).
        let moved = Piece::new(PieceKind::Block, [1000, 500, 0], PALETTE[0]);
        app.world_mut().resource_mut::<BuildMode>().target = Some(Target {
            piece: Some(id(1)),
            ghost: moved.clone(),
            refused: None,
            point: Vec3::new(1.0, 1.0, 0.0),
        });
        assert!(press(&mut app, &[], &[]).is_empty(), "still held");
        app.insert_resource(hand([false, false]));
        assert_eq!(
            press(&mut app, &[], &[]),
            vec![BuildAction::Change(vec![(id(1), moved)])]
        );
        assert_eq!(app.world().resource::<BuildMode>().held, None);
    }

    #[test]
    fn a_piece_let_go_where_it_may_not_stand_stays_and_the_person_is_told() {
        let mut app = aiming();
        app.insert_resource(hand([false, true]));
        press(&mut app, &[], &[]);
        app.world_mut()
            .resource_mut::<BuildMode>()
            .target
            .as_mut()
            .expect("a target")
            .refused = Some("Outside the building zones.".into());
        app.insert_resource(hand([false, false]));
        assert!(press(&mut app, &[], &[]).is_empty());
        assert_eq!(
            app.world().resource::<BuildStatus>().message.as_deref(),
            Some("Not moved: Outside the building zones.")
        );
    }

    #[test]
    fn the_right_grip_places_where_no_piece_is_and_the_left_grip_removes() {
        let mut app = aiming();
        app.insert_resource(CursorGrab(false));
        app.world_mut()
            .resource_mut::<BuildMode>()
            .target
            .as_mut()
            .expect("a target")
            .piece = None;
        app.insert_resource(hand([false, true]));
        let placed = press(&mut app, &[], &[]);
        assert!(matches!(&placed[..], [BuildAction::Place(pieces)] if pieces.len() == 1));
        assert!(press(&mut app, &[], &[]).is_empty(), "a held grip places once");
        app.world_mut()
            .resource_mut::<BuildMode>()
            .target
            .as_mut()
            .expect("a target")
            .piece = Some(id(1));
        app.insert_resource(hand([true, false]));
        assert_eq!(press(&mut app, &[], &[]), vec![BuildAction::Remove(vec![id(1)])]);
        app.insert_resource(hand([false, false]));
        assert!(press(&mut app, &[], &[]).is_empty(), "no grip, nothing built");
    }

    #[test]
    fn a_carried_piece_moves_by_whole_grid_steps_from_where_it_stood() {
        // Lined up with a neighbour a quarter step off the grid.
        let block = Piece::new(PieceKind::Block, [250, 500, 250], PALETTE[0]);
        let moved = carried(&block, Vec3::new(1.4, 0.6, -0.6));
        assert_eq!(moved.position, [1250, 500, -750]);
        assert_eq!(carried(&block, Vec3::new(0.3, 0.55, 0.2)), block);
    }

    #[test]
    fn keys_pick_turn_and_colour_and_work_on_the_selection() {
        let mut app = aiming();
        press(
            &mut app,
            &[
                KeyCode::Digit4,
                KeyCode::KeyR,
                KeyCode::KeyE,
                KeyCode::BracketRight,
            ],
            &[],
        );
        let mode = app.world().resource::<BuildMode>();
        assert_eq!(
            (mode.kind, mode.yaw, mode.color, mode.scale),
            (PieceKind::Stairs, 1, 1, 125)
        );
        assert!(mode.selected.is_empty(), "nothing selected, nothing changed");

        // T selects the piece aimed at; R, E and [ then change it.
        assert!(press(&mut app, &[KeyCode::KeyT], &[]).is_empty());
        assert!(app.world().resource::<BuildMode>().selected.contains(&id(1)));
        let turned = press(&mut app, &[KeyCode::KeyR], &[]);
        assert!(matches!(&turned[..], [BuildAction::Change(changes)] if changes[0].1.yaw == 1));
        let coloured = press(&mut app, &[KeyCode::KeyE], &[]);
        assert!(matches!(&coloured[..], [BuildAction::Change(changes)] if changes[0].1.color == PALETTE[2]));
        let smaller = press(&mut app, &[KeyCode::BracketLeft], &[]);
        assert!(matches!(&smaller[..], [BuildAction::Change(changes)] if changes[0].1.size == [80, 80, 80]));

        // M moves it to the ghost; Ctrl+C and Ctrl+V paste a copy there.
        let moved = press(&mut app, &[KeyCode::KeyM], &[]);
        assert!(
            matches!(&moved[..], [BuildAction::Change(changes)] if changes[0].1.position == [0, 1500, 0])
        );
        assert!(press(&mut app, &[KeyCode::ControlLeft, KeyCode::KeyC], &[]).is_empty());
        let pasted = press(&mut app, &[KeyCode::ControlLeft, KeyCode::KeyV], &[]);
        assert!(matches!(&pasted[..], [BuildAction::Place(pieces)] if pieces[0].position == [0, 1500, 0]));

        // A quick Ctrl+Z, let go within one frame, still undoes.
        app.world_mut()
            .resource_mut::<ButtonInput<KeyCode>>()
            .press(KeyCode::ControlLeft);
        app.world_mut()
            .resource_mut::<ButtonInput<KeyCode>>()
            .release(KeyCode::ControlLeft);
        assert_eq!(press(&mut app, &[KeyCode::KeyZ], &[]), vec![BuildAction::Undo]);

        // Undo, redo, and Delete removes the selection.
        assert_eq!(
            press(&mut app, &[KeyCode::ControlLeft, KeyCode::KeyZ], &[]),
            vec![BuildAction::Undo]
        );
        assert_eq!(
            press(&mut app, &[KeyCode::ControlLeft, KeyCode::KeyY], &[]),
            vec![BuildAction::Redo]
        );
        assert_eq!(
            press(&mut app, &[KeyCode::Delete], &[]),
            vec![BuildAction::Remove(vec![id(1)])]
        );
        assert!(app.world().resource::<BuildMode>().selected.is_empty());
    }
}
