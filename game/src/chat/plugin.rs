//! [`ChatPlugin`]: the chat log, the chat panel and the messages it sends.

use crate::panels::{PanelAppExt, PanelSpec};
use crate::people::Roster;
use bevy::prelude::*;
use bevy_egui::egui;
use sanctuary_protocols::identity::PeerId;
use sanctuary_protocols::limits::CHAT_MAX;
use std::collections::VecDeque;

/// How many lines the log keeps.
const LOG_LINES: usize = 200;

/// Adds the chat log and the message that sends chat.
pub struct ChatPlugin;

impl Plugin for ChatPlugin {
    fn build(&self, app: &mut App) {
        app.add_message::<OutgoingChat>().init_resource::<ChatLog>();
    }
}

/// Adds the chat panel (needs the panel host).
pub struct ChatPanelPlugin;

impl Plugin for ChatPanelPlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<ChatDraft>()
            .add_panel(PanelSpec::standard("chat", "Chat"), chat_ui);
    }
}

/// Who a line was said to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChatTarget {
    /// Everyone in the space.
    Room,
    /// One person, privately.
    Direct(PeerId),
}

/// Something the person wrote, for the network to send.
#[derive(Message, Debug, Clone, PartialEq)]
pub struct OutgoingChat {
    /// To whom.
    pub to: ChatTarget,
    /// What.
    pub text: String,
}

/// One line of chat.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatLine {
    /// Who said it; `None` for this person.
    pub from: Option<PeerId>,
    /// Their name when it was said.
    pub name: String,
    /// To whom.
    pub to: ChatTarget,
    /// What.
    pub text: String,
}

/// Recent chat, oldest first.
#[derive(Resource, Debug, Default)]
pub struct ChatLog {
    /// The lines.
    pub lines: VecDeque<ChatLine>,
}

impl ChatLog {
    /// Adds a line, forgetting the oldest past the limit.
    pub fn push(&mut self, line: ChatLine) {
        self.lines.push_back(line);
        while self.lines.len() > LOG_LINES {
            self.lines.pop_front();
        }
    }
}

/// What the person is typing and to whom.
#[derive(Resource, Debug)]
struct ChatDraft {
    text: String,
    to: ChatTarget,
}

impl Default for ChatDraft {
    fn default() -> Self {
        Self {
            text: String::new(),
            to: ChatTarget::Room,
        }
    }
}

fn chat_ui(
    InMut(ui): InMut<egui::Ui>,
    log: Res<ChatLog>,
    roster: Res<Roster>,
    mut draft: ResMut<ChatDraft>,
    mut outgoing: MessageWriter<OutgoingChat>,
) {
    let name_of = |peer: &PeerId| roster.name_of(peer);
    egui::ScrollArea::vertical()
        .max_height(ui.available_height() - 70.0)
        .stick_to_bottom(true)
        .auto_shrink([false, false])
        .show(ui, |ui| {
            if log.lines.is_empty() {
                ui.weak("Nothing said yet. Say hello!");
            }
            for line in &log.lines {
                let color = line
                    .from
                    .and_then(|peer| roster.people.get(&peer))
                    .map_or(egui::Color32::LIGHT_GRAY, |entry| {
                        egui::Color32::from_rgb(entry.color[0], entry.color[1], entry.color[2])
                    });
                ui.horizontal_wrapped(|ui| {
                    // Prefer the current name: a line can arrive before its author's presence.
                    let said_by = line.from.and_then(|peer| roster.people.get(&peer));
                    let name = said_by.map_or(line.name.as_str(), |entry| entry.name.as_str());
                    let who = match (line.from, line.to) {
                        (None, ChatTarget::Direct(to)) => format!("you -> {}", name_of(&to)),
                        (None, ChatTarget::Room) => "you".to_owned(),
                        (Some(_), ChatTarget::Direct(_)) => format!("{name} (private)"),
                        (Some(_), ChatTarget::Room) => name.to_owned(),
                    };
                    ui.label(egui::RichText::new(who).color(color).strong());
                    ui.label(&line.text);
                });
            }
        });
    ui.separator();
    ui.horizontal(|ui| {
        let label = match draft.to {
            ChatTarget::Room => "Everyone here".to_owned(),
            ChatTarget::Direct(peer) => format!("Only {}", name_of(&peer)),
        };
        egui::ComboBox::from_id_salt("chat target")
            .selected_text(label)
            .show_ui(ui, |ui| {
                ui.selectable_value(&mut draft.to, ChatTarget::Room, "Everyone here");
                for (peer, entry) in &roster.people {
                    ui.selectable_value(
                        &mut draft.to,
                        ChatTarget::Direct(*peer),
                        format!("Only {}", entry.name),
                    );
                }
            });
    });
    ui.horizontal(|ui| {
        let field = ui.add(
            egui::TextEdit::singleline(&mut draft.text)
                .char_limit(CHAT_MAX)
                .hint_text("Say something")
                .desired_width(ui.available_width() - 70.0),
        );
        let enter = field.lost_focus() && ui.input(|input| input.key_pressed(egui::Key::Enter));
        if (ui.button("Send").clicked() || enter) && !draft.text.trim().is_empty() {
            let text = std::mem::take(&mut draft.text).trim().to_owned();
            outgoing.write(OutgoingChat { to: draft.to, text });
            if enter {
                field.request_focus();
            }
        }
    });
}
