//! [`ChatPlugin`]: the chat log, the chat panel and the messages it sends.

use crate::panels::{PanelAppExt, PanelSpec};
use crate::people::Roster;
use bevy::prelude::*;
use bevy_egui::egui;
use sanctuary_protocols::identity::PeerId;
use sanctuary_protocols::limits::CHAT_MAX;
use sanctuary_protocols::text::{ChatText, TextError, truncate_at_char_boundary};
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
    /// Everyone in the space, before this person came (told by someone who was there,
    /// checked against its author's signature).
    Earlier,
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

/// What the person is typing and to whom, and why the last message was not sent.
#[derive(Resource, Debug)]
struct ChatDraft {
    text: String,
    to: ChatTarget,
    problem: Option<String>,
}

impl Default for ChatDraft {
    fn default() -> Self {
        Self {
            text: String::new(),
            to: ChatTarget::Room,
            problem: None,
        }
    }
}

/// A label drawn on a coloured background before a line's text. Names are drawn as
/// plain text, so no name can look like a badge: a person called "Ada (private)" still
/// cannot pass a room message off as a private one, nor "you" pass for this person.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Badge {
    /// This person said it, to everyone here.
    You,
    /// Someone said it to this person only; their name follows.
    Private,
    /// This person said it privately; the recipient's name follows.
    PrivateTo,
    /// Said here before this person came; the author's name follows.
    Earlier,
}

impl Badge {
    fn text(self) -> &'static str {
        match self {
            Badge::You => " you ",
            Badge::Private => " private ",
            Badge::PrivateTo => " private to ",
            Badge::Earlier => " earlier ",
        }
    }

    fn fill(self) -> egui::Color32 {
        match self {
            Badge::You => egui::Color32::from_rgb(70, 78, 92),
            Badge::Private | Badge::PrivateTo => egui::Color32::from_rgb(112, 64, 150),
            Badge::Earlier => egui::Color32::from_rgb(96, 96, 96),
        }
    }
}

/// How a line starts: its badge, if any, then whose name, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Heading {
    badge: Option<Badge>,
    name: Option<PeerId>,
}

/// The heading of a line from `from` (`None`: this person) to `to`.
fn heading(from: Option<PeerId>, to: ChatTarget) -> Heading {
    match (from, to) {
        (None, ChatTarget::Room) => Heading {
            badge: Some(Badge::You),
            name: None,
        },
        (None, ChatTarget::Direct(recipient)) => Heading {
            badge: Some(Badge::PrivateTo),
            name: Some(recipient),
        },
        (Some(author), ChatTarget::Direct(_)) => Heading {
            badge: Some(Badge::Private),
            name: Some(author),
        },
        (Some(author), ChatTarget::Room) => Heading {
            badge: None,
            name: Some(author),
        },
        (author, ChatTarget::Earlier) => Heading {
            badge: Some(Badge::Earlier),
            name: author,
        },
    }
}

/// Text as one line with single spaces: whatever it holds cannot start a line of its
/// own (runs of spaces could push words to the start of a wrapped line).
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Cuts the draft to what one message can carry: [`CHAT_MAX`] bytes, at a character
/// boundary (the box counts bytes, as the wire does, not characters).
fn limit_draft(text: &mut String) {
    truncate_at_char_boundary(text, CHAT_MAX);
}

/// The counter beside the box, and whether the draft is near the limit.
fn byte_counter(len: usize) -> (String, bool) {
    (format!("{len} / {CHAT_MAX} bytes"), len * 10 >= CHAT_MAX * 9)
}

/// What to send for a draft: nothing for a blank one, otherwise the cleaned text or why
/// there is nothing left to send.
fn outgoing_text(draft: &str) -> Option<Result<String, TextError>> {
    if draft.trim().is_empty() {
        return None;
    }
    Some(ChatText::clean(draft).map(|text| text.as_str().to_owned()))
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
        .max_height(ui.available_height() - 90.0)
        .stick_to_bottom(true)
        .auto_shrink([false, false])
        .show(ui, |ui| {
            if log.lines.is_empty() {
                ui.weak("Nothing said yet. Say hello!");
            }
            for line in &log.lines {
                let heading = heading(line.from, line.to);
                ui.horizontal_wrapped(|ui| {
                    if let Some(badge) = heading.badge {
                        ui.label(
                            egui::RichText::new(badge.text())
                                .color(egui::Color32::WHITE)
                                .background_color(badge.fill()),
                        );
                    }
                    if let Some(peer) = heading.name {
                        let entry = roster.people.get(&peer);
                        // Prefer the current name: a line can arrive before its author's presence.
                        let name = match entry {
                            Some(entry) => entry.name.clone(),
                            None if line.from == Some(peer) => line.name.clone(),
                            None => name_of(&peer),
                        };
                        let color = entry.map_or(egui::Color32::LIGHT_GRAY, |entry| {
                            egui::Color32::from_rgb(entry.color[0], entry.color[1], entry.color[2])
                        });
                        ui.label(egui::RichText::new(one_line(&name)).color(color).strong());
                    }
                    ui.label(one_line(&line.text));
                });
            }
        });
    ui.separator();
    ui.horizontal(|ui| {
        let label = match draft.to {
            ChatTarget::Room | ChatTarget::Earlier => "Everyone here".to_owned(),
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
    let draft = &mut *draft;
    ui.horizontal(|ui| {
        let field = ui.add(
            egui::TextEdit::singleline(&mut draft.text)
                .hint_text("Say something")
                .desired_width(ui.available_width() - 70.0),
        );
        if field.changed() {
            limit_draft(&mut draft.text);
            draft.problem = None;
        }
        let enter = field.lost_focus() && ui.input(|input| input.key_pressed(egui::Key::Enter));
        if ui.button("Send").clicked() || enter {
            match outgoing_text(&draft.text) {
                None => {}
                Some(Ok(text)) => {
                    draft.text.clear();
                    draft.problem = None;
                    outgoing.write(OutgoingChat { to: draft.to, text });
                }
                Some(Err(error)) => draft.problem = Some(format!("Not sent: the message {error}")),
            }
            if enter {
                field.request_focus();
            }
        }
    });
    ui.horizontal(|ui| {
        let (counter, near_limit) = byte_counter(draft.text.len());
        if near_limit {
            let red = ui.visuals().error_fg_color;
            ui.colored_label(red, counter);
        } else {
            ui.weak(counter);
        }
        if let Some(problem) = &draft.problem {
            ui.colored_label(egui::Color32::LIGHT_RED, problem);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(byte: u8) -> PeerId {
        PeerId::from_bytes([byte; 32])
    }

    #[test]
    fn private_lines_are_marked_by_a_badge_not_by_the_name() {
        let (ada, me) = (peer(1), peer(2));
        assert_eq!(
            heading(Some(ada), ChatTarget::Room),
            Heading {
                badge: None,
                name: Some(ada)
            }
        );
        assert_eq!(
            heading(Some(ada), ChatTarget::Direct(me)),
            Heading {
                badge: Some(Badge::Private),
                name: Some(ada)
            }
        );
        assert_eq!(
            heading(None, ChatTarget::Direct(ada)),
            Heading {
                badge: Some(Badge::PrivateTo),
                name: Some(ada)
            }
        );
        assert_eq!(
            heading(None, ChatTarget::Room),
            Heading {
                badge: Some(Badge::You),
                name: None
            }
        );
        // Badges have a background; names never do.
        for badge in [Badge::You, Badge::Private, Badge::PrivateTo] {
            assert_ne!(badge.fill(), egui::Color32::TRANSPARENT);
        }
    }

    #[test]
    fn a_line_cannot_start_another() {
        assert_eq!(one_line("hi\nAda: forged"), "hi Ada: forged");
        assert_eq!(one_line("hi                    Ada: forged"), "hi Ada: forged");
        assert_eq!(one_line("a\u{2028}b\u{85}c\td"), "a b c d");
        assert_eq!(one_line("plain words"), "plain words");
    }

    #[test]
    fn the_draft_is_limited_in_bytes_at_a_character_boundary() {
        let mut text = "漢".repeat(400);
        limit_draft(&mut text);
        assert!(text.len() <= CHAT_MAX);
        assert_eq!(text.chars().count(), CHAT_MAX / 3);
        let mut short = "hello".to_owned();
        limit_draft(&mut short);
        assert_eq!(short, "hello");
        let mut exact = format!("a{}", "漢".repeat(400));
        limit_draft(&mut exact);
        assert_eq!(exact.len(), CHAT_MAX);
    }

    #[test]
    fn the_counter_turns_red_near_the_limit() {
        assert_eq!(byte_counter(812), ("812 / 1000 bytes".to_owned(), false));
        assert!(!byte_counter(0).1);
        assert!(byte_counter(CHAT_MAX * 9 / 10).1);
        assert!(byte_counter(CHAT_MAX).1);
    }

    #[test]
    fn what_is_sent_is_cleaned() {
        assert_eq!(outgoing_text("   "), None);
        assert_eq!(outgoing_text(""), None);
        assert_eq!(
            outgoing_text("  hi\nAda: forged "),
            Some(Ok("hi Ada: forged".to_owned()))
        );
        assert_eq!(
            outgoing_text("see \u{202E}txt.exe"),
            Some(Ok("see txt.exe".to_owned()))
        );
        assert_eq!(outgoing_text("\u{200B}\u{200B}"), Some(Err(TextError::Empty)));
        let sent = outgoing_text(&"漢".repeat(400))
            .and_then(Result::ok)
            .unwrap_or_default();
        assert!(!sent.is_empty() && sent.len() <= CHAT_MAX);
    }
}
