//! The profile panel: change your name, colour and avatar shape; see your id.

use super::store::{Identity, Profile};
use crate::panels::{PanelAppExt, PanelSpec};
use bevy::prelude::*;
use bevy_egui::egui;
use sanctuary_protocols::message::AvatarShape;

/// Sent when the person saved a new profile, for the network to announce.
#[derive(Message, Debug, Clone, PartialEq)]
pub struct ProfileChanged;

/// Adds the profile panel.
pub struct ProfilePanelPlugin;

impl Plugin for ProfilePanelPlugin {
    fn build(&self, app: &mut App) {
        app.add_message::<ProfileChanged>()
            .init_resource::<ProfileDraft>()
            .add_panel(PanelSpec::standard("profile", "Your profile"), profile_ui);
    }
}

#[derive(Resource, Debug, Default)]
struct ProfileDraft {
    editing: Option<Profile>,
    problem: Option<String>,
}

fn profile_ui(
    InMut(ui): InMut<egui::Ui>,
    identity: Option<ResMut<Identity>>,
    mut draft: ResMut<ProfileDraft>,
    mut changed: MessageWriter<ProfileChanged>,
) {
    let Some(mut identity) = identity else {
        ui.weak("No identity loaded.");
        return;
    };
    let draft = &mut *draft;
    let profile = draft.editing.get_or_insert_with(|| identity.profile.clone());
    ui.label("Your id (your public key):");
    ui.horizontal(|ui| {
        let id = identity.peer_id().to_string();
        ui.monospace(format!("{}…", &id[..24]));
        if ui.button("Copy").clicked() {
            ui.ctx().copy_text(id);
        }
    });
    ui.separator();
    egui::Grid::new("profile")
        .num_columns(2)
        .spacing([12.0, 10.0])
        .show(ui, |ui| {
            ui.label("Name");
            ui.add(egui::TextEdit::singleline(&mut profile.name).char_limit(32));
            ui.end_row();
            ui.label("Colour");
            ui.color_edit_button_srgb(&mut profile.color);
            ui.end_row();
            ui.label("Shape");
            ui.horizontal(|ui| {
                for (shape, label) in [
                    (AvatarShape::Capsule, "Capsule"),
                    (AvatarShape::Cube, "Cube"),
                    (AvatarShape::Sphere, "Sphere"),
                    (AvatarShape::Cone, "Cone"),
                ] {
                    ui.selectable_value(&mut profile.shape, shape, label);
                }
            });
            ui.end_row();
        });
    ui.add_space(8.0);
    let unsaved = *profile != identity.profile;
    if ui.add_enabled(unsaved, egui::Button::new("Save")).clicked() {
        match identity.set_profile(profile.clone()) {
            Ok(()) => {
                draft.problem = None;
                changed.write(ProfileChanged);
            }
            Err(error) => draft.problem = Some(error.to_string()),
        }
    }
    if let Some(problem) = &draft.problem {
        ui.colored_label(egui::Color32::LIGHT_RED, problem);
    }
}
