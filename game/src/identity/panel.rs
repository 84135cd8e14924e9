//! The profile panel: change your name, colour and avatar shape; see your id.

use super::store::{Identity, Profile};
use crate::panels::{PanelAppExt, PanelSpec};
use bevy::prelude::*;
use bevy_egui::egui;
use sanctuary_protocols::limits::NAME_MAX;
use sanctuary_protocols::message::AvatarShape;
use sanctuary_protocols::text::{DisplayName, TextError, truncate_at_char_boundary};

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
            if ui.add(egui::TextEdit::singleline(&mut profile.name)).changed() {
                limit_name(&mut profile.name);
            }
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
        match cleaned(profile) {
            Ok(clean) => {
                // Show the name as it was saved.
                *profile = clean.clone();
                match identity.set_profile(clean) {
                    Ok(()) => {
                        draft.problem = None;
                        changed.write(ProfileChanged);
                    }
                    Err(error) => draft.problem = Some(error.to_string()),
                }
            }
            Err(error) => draft.problem = Some(format!("Name {error}")),
        }
    }
    if let Some(problem) = &draft.problem {
        ui.colored_label(egui::Color32::LIGHT_RED, problem);
    }
}

/// Cuts a name being typed to what the wire carries: [`NAME_MAX`] bytes (not
/// characters), at a character boundary.
fn limit_name(name: &mut String) {
    truncate_at_char_boundary(name, NAME_MAX);
}

/// The profile to save: `draft` with its name cleaned (see [`DisplayName::clean`]), or
/// why no name is left.
fn cleaned(draft: &Profile) -> Result<Profile, TextError> {
    let name = DisplayName::clean(&draft.name)?;
    Ok(Profile {
        name: name.as_str().to_owned(),
        ..draft.clone()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(name: &str) -> Profile {
        Profile {
            name: name.to_owned(),
            color: [10, 20, 30],
            shape: AvatarShape::Sphere,
        }
    }

    #[test]
    fn the_name_box_is_limited_in_bytes() {
        let mut name = "名".repeat(20);
        limit_name(&mut name);
        assert_eq!(name, "名".repeat(NAME_MAX / 3));
        let mut short = "Ada".to_owned();
        limit_name(&mut short);
        assert_eq!(short, "Ada");
    }

    #[test]
    fn saving_cleans_the_name() {
        assert_eq!(
            cleaned(&profile("  Ada\u{200B}   Lovelace\u{202E} ")),
            Ok(profile("Ada Lovelace"))
        );
        assert_eq!(cleaned(&profile("e\u{301}")), Ok(profile("\u{e9}")));
        assert_eq!(cleaned(&profile("   ")), Err(TextError::Empty));
        assert_eq!(cleaned(&profile("\u{200B}")), Err(TextError::Empty));
    }
}
