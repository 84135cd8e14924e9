//! The wrist menu: what the desktop opens with Tab, on the left wrist. The menu button
//! (B, Y or menu) shows it; the right hand's laser picks a panel to bring in front of
//! the eyes, and sets how moving feels.

use super::actions::{Hand, HandGrip, XrControls};
use super::rig::{XrHead, XrRig, calibrated_lift};
use super::{TurnStyle, XrSettings};
use crate::app::DataDir;
use crate::panels::{PanelRegistry, PanelSpec};
use bevy::prelude::*;
use bevy_egui::egui;

/// The wrist menu's panel id.
pub const MENU_PANEL: &str = "menu";

/// The wrist menu's panel: small, close, and standing at no anchor of any space.
pub fn menu_spec() -> PanelSpec {
    PanelSpec {
        id: MENU_PANEL,
        title: "Menu",
        anchor: "wrist",
        pixels: UVec2::new(420, 540),
        width: 0.24,
    }
}

/// Whether the wrist menu is out, and which panel it brought in front of the eyes.
#[derive(Resource, Debug, Default, Clone, PartialEq)]
pub struct WristMenu {
    /// The menu shows on the wrist.
    pub open: bool,
    /// The panel brought in front of the eyes, and its quad.
    pub summoned: Option<(&'static str, Entity)>,
    /// A panel chosen in the menu this frame (or `Some(None)` to send it away).
    chosen: Option<Option<&'static str>>,
    /// The menu's quad while it shows.
    quad: Option<Entity>,
}

impl WristMenu {
    /// Puts the menu away and forgets the summoned panel (their quads go with the
    /// hands and the space they belonged to).
    pub fn close(&mut self) {
        *self = WristMenu::default();
    }
}

/// A summoned panel belongs to the space it was summoned in: travelling sends it away.
pub fn forget_summoned_on_travel(
    mut entered: MessageReader<crate::spaces::SpaceEntered>,
    mut menu: ResMut<WristMenu>,
) {
    if entered.read().last().is_some() {
        menu.summoned = None;
    }
}

/// Draws the menu: a button for each panel and the comfort settings.
pub fn menu_ui(
    InMut(ui): InMut<egui::Ui>,
    registry: Res<PanelRegistry>,
    mut menu: ResMut<WristMenu>,
    mut settings: ResMut<XrSettings>,
    mut rig: ResMut<XrRig>,
    head: Query<&Transform, With<XrHead>>,
    data: Option<Res<DataDir>>,
    building: Option<ResMut<crate::build::BuildMode>>,
) {
    let shown = menu.summoned.map(|(id, _)| id);
    ui.label("Bring a panel in front of you:");
    for spec in registry.specs().filter(|spec| spec.id != MENU_PANEL) {
        let here = shown == Some(spec.id);
        if ui
            .selectable_label(here, egui::RichText::new(spec.title).size(18.0))
            .clicked()
        {
            menu.chosen = Some((!here).then_some(spec.id));
        }
    }
    ui.separator();
    if let Some(mut building) = building {
        ui.checkbox(
            &mut building.active,
            "Build: the right grip grabs or places, the left removes",
        );
        if building.active {
            crate::build::pick_next_piece(ui, &mut building);
            if let Some(why) = building.target.as_ref().and_then(|target| target.refused.clone()) {
                ui.colored_label(egui::Color32::LIGHT_RED, why);
            }
        }
    }
    let before = *settings;
    ui.horizontal(|ui| {
        ui.label("Turn:");
        ui.selectable_value(&mut settings.turn, TurnStyle::Snap, "Snap");
        ui.selectable_value(&mut settings.turn, TurnStyle::Smooth, "Smooth");
    });
    ui.checkbox(&mut settings.vignette, "Narrow the view while moving");
    ui.checkbox(&mut settings.seated, "Seated");
    let head_height = head.single().map(|head| head.translation.y).ok();
    if ui.button("Set my height").clicked()
        && let Some(height) = head_height
    {
        settings.lift = calibrated_lift(height);
    }
    if settings.seated != before.seated {
        settings.lift = match (settings.seated, head_height) {
            (true, Some(height)) => calibrated_lift(height),
            _ => 0.0,
        };
    }
    rig.lift = settings.lift;
    if *settings != before
        && let Some(data) = data
        && let Err(error) = settings.save(&data.0)
    {
        warn!("xr: settings not saved: {error}");
    }
}

/// Shows or hides the menu on the wrist when its button is pressed.
pub fn toggle_menu(
    controls: Res<XrControls>,
    mut menu: ResMut<WristMenu>,
    registry: Res<PanelRegistry>,
    grips: Query<(Entity, &HandGrip)>,
    mut commands: Commands,
    mut meshes: ResMut<Assets<Mesh>>,
    mut materials: ResMut<Assets<StandardMaterial>>,
) {
    if !controls.menu_pressed {
        return;
    }
    menu.open = !menu.open;
    println!("xr: the wrist menu is {}", if menu.open { "out" } else { "away" });
    if let Some(quad) = menu.quad.take() {
        commands.entity(quad).try_despawn();
    }
    let Some(wrist) = grips
        .iter()
        .find(|(_, grip)| grip.0 == Hand::Left)
        .map(|(entity, _)| entity)
    else {
        return;
    };
    if menu.open {
        // Above the back of the wrist, tilted towards the eyes.
        let on_wrist = Transform::from_xyz(0.0, 0.06, 0.12).with_rotation(Quat::from_rotation_x(-1.1));
        menu.quad = registry.spawn_quad(
            &mut commands,
            MENU_PANEL,
            None,
            on_wrist,
            &mut meshes,
            &mut materials,
        );
        if let Some(quad) = menu.quad {
            commands.entity(wrist).add_child(quad);
        }
    }
}

/// Brings the panel chosen in the menu in front of the eyes, or sends it away.
pub fn summon_panel(
    mut menu: ResMut<WristMenu>,
    registry: Res<PanelRegistry>,
    head: Query<&GlobalTransform, With<XrHead>>,
    mut commands: Commands,
    mut meshes: ResMut<Assets<Mesh>>,
    mut materials: ResMut<Assets<StandardMaterial>>,
) {
    let Some(chosen) = menu.chosen.take() else {
        return;
    };
    if let Some((_, quad)) = menu.summoned.take() {
        commands.entity(quad).try_despawn();
    }
    let (Some(id), Ok(head)) = (chosen, head.single()) else {
        return;
    };
    let place = in_front_of(head.compute_transform());
    menu.summoned = registry
        .spawn_quad(&mut commands, id, Some(1.2), place, &mut meshes, &mut materials)
        .map(|quad| {
            commands.entity(quad).insert(crate::spaces::SpaceEntity);
            (id, quad)
        });
    if menu.summoned.is_some()
        && let Some(spec) = registry.specs().find(|spec| spec.id == id)
    {
        println!("xr: the {} panel is in front of you", spec.title);
    }
}

/// A panel's place a metre in front of a head, level, a little below the eyes, facing it.
pub fn in_front_of(head: Transform) -> Transform {
    let heading = super::rig::heading(head.rotation);
    let facing = Quat::from_rotation_y(heading);
    Transform::from_translation(head.translation + facing * Vec3::new(0.0, -0.15, -1.0)).with_rotation(facing)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_summoned_panel_stands_ahead_of_the_eyes_and_faces_them() {
        let head = Transform::from_xyz(2.0, 1.6, 0.0)
            .with_rotation(Quat::from_rotation_y(std::f32::consts::FRAC_PI_2) * Quat::from_rotation_x(0.4));
        let panel = in_front_of(head);
        // Turned a quarter left, "ahead" is -x.
        assert!(
            (panel.translation - Vec3::new(1.0, 1.45, 0.0)).length() < 1e-4,
            "{}",
            panel.translation
        );
        // The panel's face (+z) points back at the head.
        let face = panel.rotation * Vec3::Z;
        assert!(face.dot((head.translation - panel.translation).normalize()) > 0.98);
    }
}
