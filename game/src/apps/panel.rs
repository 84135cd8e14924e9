//! The Apps panel: every installed app, what it asks for, and what the person allows.

use crate::panels::{PanelAppExt, PanelSpec};
use bevy::prelude::*;
use bevy_egui::egui;
use sanctuary_plugin_api::{AppStatus, Grants, InstalledApps};

/// Adds the Apps panel.
pub struct AppsPanelPlugin;

impl Plugin for AppsPanelPlugin {
    fn build(&self, app: &mut App) {
        app.add_panel(PanelSpec::standard("apps", "Apps"), apps_ui);
    }
}

fn apps_ui(InMut(ui): InMut<egui::Ui>, installed: Res<InstalledApps>, mut grants: ResMut<Grants>) {
    if let Some(problem) = grants.problem() {
        ui.colored_label(egui::Color32::LIGHT_RED, problem);
    }
    egui::ScrollArea::vertical().show(ui, |ui| {
        for app in installed.iter() {
            let manifest = &app.manifest;
            ui.horizontal(|ui| {
                ui.label(egui::RichText::new(manifest.title).size(20.0).strong());
                ui.label(format!("{} by {}", manifest.version, manifest.author));
            });
            ui.label(manifest.description);
            if let AppStatus::Stopped { reason } = &app.status {
                ui.colored_label(
                    egui::Color32::LIGHT_RED,
                    format!("Stopped after a failure: {reason}. It starts again with the client."),
                );
            }
            ui.horizontal(|ui| {
                ui.label(egui::RichText::new("Asks to:").italics());
                if ui.button("Allow all").clicked() {
                    for permission in manifest.permissions {
                        grants.grant(manifest.name, permission);
                    }
                }
                if ui.button("Allow nothing").clicked() {
                    for permission in manifest.permissions {
                        grants.revoke(manifest.name, permission);
                    }
                }
            });
            for permission in manifest.permissions {
                let granted = grants.is_granted(manifest.name, permission);
                let mut checked = granted;
                ui.checkbox(&mut checked, permission.to_string());
                if checked != granted {
                    if checked {
                        grants.grant(manifest.name, permission);
                    } else {
                        grants.revoke(manifest.name, permission);
                    }
                }
            }
            ui.separator();
        }
    });
}
