//! The directory panel: every space of the world, with a button to go there.

use super::host::{PanelAppExt, PanelOverlay, PanelSpec};
use crate::spaces::{CurrentSpace, SpaceCatalog, TravelRequest};
use bevy::prelude::*;
use bevy_egui::egui;

/// Adds the directory panel.
pub struct DirectoryPanelPlugin;

impl Plugin for DirectoryPanelPlugin {
    fn build(&self, app: &mut App) {
        app.add_panel(PanelSpec::standard("directory", "Directory"), directory_ui);
    }
}

fn directory_ui(
    InMut(ui): InMut<egui::Ui>,
    catalog: Res<SpaceCatalog>,
    current: Option<Res<CurrentSpace>>,
    mut overlay: ResMut<PanelOverlay>,
    mut travel: MessageWriter<TravelRequest>,
) {
    let here = current.as_ref().map(|current| current.name.as_str());
    egui::ScrollArea::vertical().show(ui, |ui| {
        for space in catalog.spaces() {
            ui.add_space(6.0);
            ui.horizontal(|ui| {
                ui.vertical(|ui| {
                    ui.label(egui::RichText::new(&space.title).size(20.0).strong());
                    if !space.summary.is_empty() {
                        ui.label(&space.summary);
                    }
                });
                ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                    if here == Some(space.name.as_str()) {
                        ui.label(egui::RichText::new("You are here").italics());
                    } else if ui.button(egui::RichText::new("Go there").size(18.0)).clicked() {
                        travel.write(TravelRequest {
                            to: space.name.clone(),
                            arrive_at: None,
                        });
                        overlay.open = None;
                    }
                });
            });
            ui.separator();
        }
    });
}
