//! The people panel: everyone in the world, where they are, a way to join them, the
//! invitation ticket to share, voice (who speaks, Mute, Call, the voice settings), for
//! the owner of a building zone here, who may build in it, and the buttons apps put
//! beside people ("Be friends").

use super::plugin::Roster;
use crate::build::{BuildAction, BuildLink};
use crate::net_bridge::{NetMode, NetOptions, NetStatus};
use crate::panels::{PanelAppExt, PanelSpec};
use crate::spaces::{CurrentSpace, SpaceCatalog, TravelRequest};
use crate::voice::{CallState, VoiceControl, VoiceLink, VoiceOptions, voice_settings};
use bevy::prelude::*;
use bevy_egui::egui;
use sanctuary_plugin_api::host::PeopleButtons;
use sanctuary_plugin_api::{Grants, InstalledApps, Permission};
use sanctuary_protocols::build::{Builders, ZoneName};
use sanctuary_protocols::identity::PeerId;
use sanctuary_protocols::text::SpaceName;

/// The text of this world's ticket, when connected, for others to join with.
#[derive(Resource, Debug, Clone, Default)]
pub struct InviteTicket(pub Option<String>);

/// Adds the people panel.
pub struct PeoplePanelPlugin;

impl Plugin for PeoplePanelPlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<InviteTicket>()
            .add_panel(PanelSpec::standard("people", "People"), people_ui);
    }
}

fn people_ui(
    InMut(ui): InMut<egui::Ui>,
    roster: Res<Roster>,
    catalog: Res<SpaceCatalog>,
    current: Option<Res<CurrentSpace>>,
    ticket: Res<InviteTicket>,
    status: Option<Res<NetStatus>>,
    options: Option<Res<NetOptions>>,
    mut travel: MessageWriter<TravelRequest>,
    voice: (
        Option<Res<VoiceLink>>,
        Option<ResMut<VoiceControl>>,
        Option<ResMut<VoiceOptions>>,
    ),
    building: (Option<Res<BuildLink>>, MessageWriter<BuildAction>),
    apps: (
        Option<ResMut<PeopleButtons>>,
        Option<Res<Grants>>,
        Option<Res<InstalledApps>>,
    ),
) {
    let (link, mut voice, mut voice_options) = voice;
    let (mut app_buttons, grants, installed) = apps;
    // Apps' buttons show while the app runs and may draw in panels.
    let app_may_draw = |app: &str| {
        installed.as_deref().is_some_and(|apps| apps.is_running(app))
            && grants
                .as_deref()
                .is_some_and(|grants| grants.is_granted(app, &Permission::Panels))
    };
    let mut app_clicks = Vec::new();
    let (build_link, mut build_actions) = building;
    let owned = owned_zones(build_link.as_deref(), current.as_deref());
    if let Some(status) = &status {
        if let Some(capacity) = status.world_full {
            ui.colored_label(
                egui::Color32::LIGHT_RED,
                format!("This world is full ({capacity} people): the others can't see you."),
            );
        }
        if let Some(undelivered) = &status.undelivered {
            ui.colored_label(egui::Color32::LIGHT_RED, undelivered);
        }
    }
    match &ticket.0 {
        Some(ticket) => {
            ui.label("Invite a friend with this ticket:");
            ui.horizontal(|ui| {
                let shown = if ticket.len() > 40 {
                    format!("{}…", &ticket[..40])
                } else {
                    ticket.clone()
                };
                ui.monospace(shown);
                if ui.button("Copy").clicked() {
                    ui.ctx().copy_text(ticket.clone());
                }
            });
        }
        None if options.is_some_and(|options| matches!(options.mode, NetMode::Browse)) => {
            ui.weak("In no world yet: join one hosted nearby from the Directory.");
        }
        None => {
            ui.weak("Offline. Start with --host to invite friends, or --join TICKET.");
        }
    }
    ui.separator();
    if let (Some(link), Some(control), Some(options)) =
        (&link, voice.as_deref_mut(), voice_options.as_deref_mut())
    {
        egui::CollapsingHeader::new("Voice")
            .default_open(true)
            .show(ui, |ui| voice_settings(ui, link, control, options, &roster));
        ui.separator();
    }
    let here = current.as_ref().map(|current| current.name.as_str());
    if roster.people.is_empty() {
        ui.weak("Nobody else is here yet.");
    }
    egui::ScrollArea::vertical().show(ui, |ui| {
        for (peer, entry) in &roster.people {
            ui.horizontal(|ui| {
                let [r, g, b] = entry.color;
                ui.label(
                    egui::RichText::new("●")
                        .color(egui::Color32::from_rgb(r, g, b))
                        .size(18.0),
                );
                ui.label(egui::RichText::new(&entry.name).strong());
                let title = catalog
                    .get(&entry.space)
                    .map_or(entry.space.as_str(), |space| &space.title);
                ui.label(format!("in {title}"));
                ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                    if let Some(voice) = voice.as_deref_mut() {
                        voice_buttons(ui, voice, *peer);
                    }
                    for button in app_buttons.iter().flat_map(|buttons| buttons.beside(*peer)) {
                        if app_may_draw(button.app)
                            && ui
                                .add_enabled(button.enabled, egui::Button::new(&button.label))
                                .on_hover_text(format!("from the {} app", button.app))
                                .clicked()
                        {
                            app_clicks.push((button.app, *peer));
                        }
                    }
                    for (zone, space, handle) in &owned {
                        let allowed = handle.may_build(space, zone, peer);
                        let label = if allowed {
                            format!("Stop building in {zone}")
                        } else {
                            format!("Let build in {zone}")
                        };
                        if ui.button(label).clicked() {
                            build_actions.write(BuildAction::Grant {
                                zone: zone.clone(),
                                person: *peer,
                                allowed: !allowed,
                            });
                        }
                    }
                    if Some(entry.space.as_str()) != here
                        && catalog.get(&entry.space).is_some()
                        && ui.button("Join them").clicked()
                    {
                        travel.write(TravelRequest {
                            to: entry.space.clone(),
                            arrive_at: None,
                        });
                    }
                });
            });
        }
    });
    if let Some(buttons) = app_buttons.as_deref_mut() {
        for (app, peer) in app_clicks {
            buttons.click(app, peer);
        }
    }
}

/// The zones of the current space that we own and only invited people build in: where
/// we can let people build, or stop them.
fn owned_zones(
    link: Option<&BuildLink>,
    current: Option<&CurrentSpace>,
) -> Vec<(ZoneName, SpaceName, sanctuary_net::BuildHandle)> {
    let Some(handle) = link.and_then(|link| link.0.clone()) else {
        return Vec::new();
    };
    let Some(space) = current.and_then(|current| SpaceName::new(current.name.clone()).ok()) else {
        return Vec::new();
    };
    let me = handle.me();
    let zones: Vec<ZoneName> = handle
        .rules(&space)
        .map(|rules| {
            rules
                .zones
                .iter()
                .filter(|zone| {
                    zone.builders == Builders::Invited && zone.owners.iter().any(|key| key.0 == me)
                })
                .map(|zone| zone.name.clone())
                .collect()
        })
        .unwrap_or_default();
    zones
        .into_iter()
        .map(|zone| (zone, space.clone(), handle.clone()))
        .collect()
}

/// Call, answer or hang up, and mute, for one person; "speaking" while they are heard.
/// (Laid out right to left.)
fn voice_buttons(ui: &mut egui::Ui, voice: &mut VoiceControl, peer: PeerId) {
    if voice.call == Some(peer) {
        match voice.report.call {
            CallState::Connected(partner) if partner == peer => {
                ui.colored_label(egui::Color32::LIGHT_GREEN, "in a call");
            }
            _ => {
                ui.label("calling…");
            }
        }
        if ui.button("Hang up").clicked() {
            voice.call = None;
        }
    } else if voice.report.ringing == Some(peer) {
        if ui
            .button(egui::RichText::new("Answer").color(egui::Color32::LIGHT_GREEN))
            .clicked()
        {
            voice.call = Some(peer);
        }
        if ui.button("Decline").clicked() {
            voice.declined.push(peer);
        }
    } else if ui.button("Call").clicked() {
        voice.call = Some(peer);
    }
    let muted = voice.muted.contains(&peer);
    if ui.button(if muted { "Unmute" } else { "Mute" }).clicked() {
        if muted {
            voice.muted.remove(&peer);
        } else {
            voice.muted.insert(peer);
        }
    }
    if voice.report.speaking.contains(&peer) {
        ui.colored_label(egui::Color32::LIGHT_GREEN, "speaking");
    }
}
