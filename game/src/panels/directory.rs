//! The directory panel: every space of the world, with a button to go there; and with
//! `--lan`, under "Nearby", the worlds hosted on the local network, with a button to join.

use super::host::{PanelAppExt, PanelOverlay, PanelSpec};
use crate::net_bridge::{JoinNearby, Nearby, NetOptions, NetStatus};
use crate::spaces::{CurrentSpace, SpaceCatalog, TravelRequest};
use bevy::prelude::*;
use bevy_egui::egui;
use sanctuary_net::NearbyWorld;

/// Adds the directory panel.
pub struct DirectoryPanelPlugin;

impl Plugin for DirectoryPanelPlugin {
    fn build(&self, app: &mut App) {
        app.add_message::<JoinNearby>()
            .add_panel(PanelSpec::standard("directory", "Directory"), directory_ui);
    }
}

fn directory_ui(
    InMut(ui): InMut<egui::Ui>,
    catalog: Res<SpaceCatalog>,
    current: Option<Res<CurrentSpace>>,
    network: (
        Option<Res<NetOptions>>,
        Option<Res<NetStatus>>,
        Option<Res<Nearby>>,
    ),
    mut overlay: ResMut<PanelOverlay>,
    mut travel: MessageWriter<TravelRequest>,
    mut joins: MessageWriter<JoinNearby>,
) {
    let here = current.as_ref().map(|current| current.name.as_str());
    egui::ScrollArea::vertical().show(ui, |ui| {
        if let (Some(options), Some(status), Some(nearby)) = network
            && options.lan
            && let Some(world) = nearby_ui(ui, &nearby.worlds, &status)
        {
            joins.write(JoinNearby(world));
            overlay.open = None;
        }
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

/// The "Nearby" section: each world hosted on the local network, by its host's name, with
/// a "Join" button while we are in no world. Returns the world whose button was pressed.
fn nearby_ui(ui: &mut egui::Ui, worlds: &[NearbyWorld], status: &NetStatus) -> Option<NearbyWorld> {
    let mut chosen = None;
    ui.label(egui::RichText::new("Nearby").size(22.0).strong());
    if worlds.is_empty() {
        ui.weak("No world is hosted on this network yet (start one with --lan --host).");
    }
    if let Some(problem) = status.problem.as_ref().filter(|_| status.world.is_none()) {
        ui.colored_label(egui::Color32::LIGHT_RED, problem);
    }
    for world in worlds {
        ui.add_space(6.0);
        ui.horizontal(|ui| {
            ui.vertical(|ui| {
                ui.label(egui::RichText::new(world.host_name.as_str()).size(20.0).strong());
                let key = world.host.to_string();
                ui.weak(format!("world {}, host {}…", world.world, &key[..12]));
            });
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                if status.world == Some(world.world) {
                    ui.label(egui::RichText::new("You are here").italics());
                } else if status.joining == Some(world.world) {
                    ui.label(egui::RichText::new("Joining…").italics());
                } else if status.world.is_none()
                    && status.joining.is_none()
                    && ui.button(egui::RichText::new("Join").size(18.0)).clicked()
                {
                    chosen = Some(world.clone());
                }
            });
        });
    }
    ui.separator();
    chosen
}

#[cfg(test)]
mod tests {
    use super::*;
    use sanctuary_protocols::{DisplayName, Keypair, WorldId};

    fn world(seed: u8, name: &str) -> NearbyWorld {
        NearbyWorld {
            world: WorldId([seed; 32]),
            host: Keypair::from_bytes(&[seed; 32]).peer_id(),
            host_name: DisplayName::new(name).unwrap(),
            addrs: vec![([10, 0, 0, seed], 4433).into()],
            relay: None,
        }
    }

    /// Draws the section for one frame of `input`; returns the texts shown (with where
    /// each is) and the world chosen.
    fn frame(
        ctx: &egui::Context,
        input: Vec<egui::Event>,
        worlds: &[NearbyWorld],
        status: &NetStatus,
    ) -> (Vec<(String, egui::Pos2)>, Option<NearbyWorld>) {
        let raw = egui::RawInput {
            screen_rect: Some(egui::Rect::from_min_size(
                egui::Pos2::ZERO,
                egui::vec2(720.0, 600.0),
            )),
            events: input,
            ..Default::default()
        };
        let mut chosen = None;
        let mut output = ctx.run_ui(raw, |ui| chosen = nearby_ui(ui, worlds, status));
        output.textures_delta.clear();
        let texts = output
            .shapes
            .iter()
            .filter_map(|clipped| match &clipped.shape {
                egui::Shape::Text(text) => Some((
                    text.galley.text().to_owned(),
                    text.pos + text.galley.rect.center().to_vec2(),
                )),
                _ => None,
            })
            .collect();
        (texts, chosen)
    }

    fn click_at(at: egui::Pos2, pressed: bool) -> egui::Event {
        egui::Event::PointerButton {
            pos: at,
            button: egui::PointerButton::Primary,
            pressed,
            modifiers: egui::Modifiers::NONE,
        }
    }

    #[test]
    fn nearby_worlds_are_listed_by_host_and_join_picks_one() {
        let ctx = egui::Context::default();
        let worlds = [world(1, "Ada"), world(2, "Bo")];
        let status = NetStatus::default();
        let (texts, _) = frame(&ctx, vec![], &worlds, &status);
        let shown: Vec<&str> = texts.iter().map(|(text, _)| text.as_str()).collect();
        for expected in ["Nearby", "Ada", "Bo"] {
            assert!(shown.contains(&expected), "{expected} in {shown:?}");
        }
        let joins: Vec<egui::Pos2> = texts
            .iter()
            .filter(|(text, _)| text == "Join")
            .map(|(_, at)| *at)
            .collect();
        assert_eq!(joins.len(), 2, "one Join per world: {shown:?}");

        // Press and release on Bo's button (the second row).
        let at = joins[1];
        frame(
            &ctx,
            vec![egui::Event::PointerMoved(at), click_at(at, true)],
            &worlds,
            &status,
        );
        let (_, chosen) = frame(&ctx, vec![click_at(at, false)], &worlds, &status);
        assert_eq!(chosen, Some(worlds[1].clone()));
    }

    #[test]
    fn no_join_button_once_in_a_world_or_joining() {
        let ctx = egui::Context::default();
        let worlds = [world(1, "Ada"), world(2, "Bo")];
        let joining = NetStatus {
            joining: Some(worlds[0].world),
            ..NetStatus::default()
        };
        let inside = NetStatus {
            world: Some(worlds[1].world),
            online: true,
            ..NetStatus::default()
        };
        for (status, label) in [(&joining, "Joining…"), (&inside, "You are here")] {
            let (texts, _) = frame(&ctx, vec![], &worlds, status);
            let shown: Vec<&str> = texts.iter().map(|(text, _)| text.as_str()).collect();
            assert!(!shown.contains(&"Join"), "{shown:?}");
            assert!(shown.contains(&label), "{shown:?}");
        }
        let (texts, _) = frame(&ctx, vec![], &[], &NetStatus::default());
        assert!(
            texts
                .iter()
                .any(|(text, _)| text.starts_with("No world is hosted")),
            "{texts:?}"
        );
    }
}
