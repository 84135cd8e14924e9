//! The Storage panel, and the systems that carry out what the person does there.

use bevy::ecs::message::{MessageCursor, Messages};
use bevy::prelude::*;
use bevy::window::FileDragAndDrop;
use sanctuary_plugin_api::prelude::*;

use crate::StorageApp;
use crate::easel::{Easel, Hanging, PICTURE_MAX, now_ms};
use crate::wire::StorageMessage;
use sanctuary_plugin_api::is_picture;

/// Something the person does in the Storage panel (or a test does for them).
#[derive(Message, Debug, Clone, PartialEq, Eq)]
pub enum StorageAction {
    /// Ask the store for something.
    Request(BlobRequest),
    /// Hang this picture on the easel in the Lobby.
    Hang(BlobHash),
    /// Take the person's picture down.
    TakeDown,
}

/// What the panel shows besides the store's contents.
#[derive(Resource, Debug, Default)]
pub struct StoragePanel {
    /// The path box.
    pub path: String,
    /// The ticket box.
    pub ticket: String,
    /// The latest shared ticket, with Copy.
    pub shared: Option<(BlobHash, String)>,
    /// The latest outcome, in one line, and whether it is a problem.
    pub message: Option<(String, bool)>,
}

impl StoragePanel {
    fn say(&mut self, text: impl Into<String>) {
        self.message = Some((text.into(), false));
    }

    fn complain(&mut self, text: impl Into<String>) {
        self.message = Some((text.into(), true));
    }
}

/// Files dropped on the window are added to storage.
pub fn take_dropped_files(
    dropped: Option<Res<Messages<FileDragAndDrop>>>,
    mut cursor: Local<MessageCursor<FileDragAndDrop>>,
    mut actions: MessageWriter<StorageAction>,
) {
    let Some(dropped) = dropped else {
        return;
    };
    for drop in cursor.read(&dropped) {
        if let FileDragAndDrop::DroppedFile { path_buf, .. } = drop {
            actions.write(StorageAction::Request(BlobRequest::AddFile(path_buf.clone())));
        }
    }
}

/// Carries out the person's actions.
pub fn act(
    mut actions: MessageReader<StorageAction>,
    mut blobs: Blobs<StorageApp>,
    mut messages: AppMessages<StorageApp>,
    mut panel: ResMut<StoragePanel>,
    mut easel: ResMut<Easel>,
    view: Res<WorldView>,
) {
    for action in actions.read() {
        let result = match action {
            StorageAction::Request(request) => blobs.request(request.clone()).map_err(|e| e.to_string()),
            StorageAction::Hang(hash) => hang(*hash, &mut blobs, &mut messages, &mut easel, &view),
            StorageAction::TakeDown => {
                let at_ms = now_ms();
                easel.mine = None;
                if let Some(me) = view.me {
                    easel.take_down(me, at_ms);
                }
                messages
                    .send(StorageMessage::TakeDown { at_ms }.encode())
                    .map_err(|e| e.to_string())
            }
        };
        match result {
            Ok(()) => {
                if let StorageAction::Hang(_) = action {
                    panel.say("hung on the easel in the Lobby");
                }
            }
            Err(error) => panel.complain(error),
        }
    }
}

fn hang(
    hash: BlobHash,
    blobs: &mut Blobs<StorageApp>,
    messages: &mut AppMessages<StorageApp>,
    easel: &mut Easel,
    view: &WorldView,
) -> Result<(), String> {
    let me = view.me.ok_or("not online: hanging a picture needs the world")?;
    let blob = blobs
        .library()
        .map_err(|e| e.to_string())?
        .get(hash)
        .cloned()
        .ok_or("that file is no longer in storage")?;
    if !blob.complete || !is_picture(&blob.name) || blob.size > PICTURE_MAX {
        return Err(format!(
            "only whole PNG or JPEG pictures up to {} MiB can be hung",
            PICTURE_MAX >> 20
        ));
    }
    blobs
        .request(BlobRequest::SetServing(hash, true))
        .map_err(|e| e.to_string())?;
    let hanging = Hanging {
        by: me,
        hash,
        name: blob.name.chars().take(crate::wire::NAME_MAX / 4).collect(),
        size: blob.size,
        hung_ms: now_ms(),
    };
    messages
        .send(
            StorageMessage::Hang {
                hash,
                name: hanging.name.clone(),
                size: hanging.size,
                hung_ms: hanging.hung_ms,
            }
            .encode(),
        )
        .map_err(|e| e.to_string())?;
    easel.hang(hanging.clone());
    easel.mine = Some(hanging);
    Ok(())
}

/// Takes the store's answers: for the panel, and pictures for the easel.
pub fn take_replies(
    mut blobs: Blobs<StorageApp>,
    mut panel: ResMut<StoragePanel>,
    mut easel: ResMut<Easel>,
    mut images: Option<ResMut<Assets<Image>>>,
) {
    for reply in blobs.replies() {
        match reply {
            BlobReply::Added(blob) => {
                panel.path.clear();
                panel.say(format!("added {} ({})", blob.name, size(blob.size)));
            }
            BlobReply::Ticket { hash, ticket } => {
                panel.shared = Some((hash, ticket));
                panel.say("shared: anyone with the ticket can fetch it while you serve it");
            }
            BlobReply::Fetched(blob) => {
                if easel.requested == Some(blob.hash) {
                    // The easel's picture arrived; now read it to show it.
                    if let Err(error) = blobs.request(BlobRequest::Read(blob.hash)) {
                        easel.failed(blob.hash, &error.to_string());
                    }
                } else {
                    panel.ticket.clear();
                    panel.say(format!("fetched {} ({})", blob.name, size(blob.size)));
                }
            }
            BlobReply::Bytes { hash, bytes } => easel.accept_bytes(hash, &bytes, images.as_deref_mut()),
            BlobReply::Failed { hash, error } => {
                if hash.is_some() && hash == easel.requested {
                    easel.failed(hash.unwrap_or(BlobHash::from_bytes([0; 32])), &error);
                } else {
                    panel.complain(error);
                }
            }
        }
    }
}

/// A size in words.
pub(crate) fn size(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 30 => format!("{:.1} GiB", b as f64 / f64::from(1 << 30)),
        b if b >= 1 << 20 => format!("{:.1} MiB", b as f64 / f64::from(1 << 20)),
        b if b >= 1 << 10 => format!("{:.1} KiB", b as f64 / f64::from(1 << 10)),
        b => format!("{b} B"),
    }
}

/// Draws the panel.
pub fn draw(
    InMut(ui): InMut<egui::Ui>,
    mut panel: ResMut<StoragePanel>,
    blobs: Blobs<StorageApp>,
    easel: Res<Easel>,
    view: Res<WorldView>,
    mut actions: MessageWriter<StorageAction>,
) {
    let library = match blobs.library() {
        Ok(library) => library,
        Err(error) => {
            ui.label(error.to_string());
            return;
        }
    };
    if let Some(problem) = &library.problem {
        ui.colored_label(
            egui::Color32::from_rgb(240, 170, 90),
            format!("Storage is unavailable: {problem}"),
        );
        return;
    }
    let fraction = library.used as f32 / library.quota.max(1) as f32;
    ui.horizontal(|ui| {
        ui.label(format!("{} of {} used", size(library.used), size(library.quota)));
        ui.add(egui::ProgressBar::new(fraction.min(1.0)).desired_width(160.0));
        ui.label(if library.online {
            "online"
        } else {
            "offline: fetching and sharing wait for a world"
        });
    });
    ui.horizontal(|ui| {
        ui.label("Add a file:");
        ui.add(
            egui::TextEdit::singleline(&mut panel.path)
                .hint_text("/path/to/file, or drop it on the window")
                .desired_width(330.0),
        );
        if ui.button("Add").clicked() && !panel.path.trim().is_empty() {
            let path = panel.path.trim().into();
            actions.write(StorageAction::Request(BlobRequest::AddFile(path)));
        }
    });
    ui.horizontal(|ui| {
        ui.label("Fetch by ticket:");
        ui.add(
            egui::TextEdit::singleline(&mut panel.ticket)
                .hint_text("blob…")
                .desired_width(300.0),
        );
        if ui.button("Fetch").clicked() && !panel.ticket.trim().is_empty() {
            let ticket = panel.ticket.trim().to_owned();
            actions.write(StorageAction::Request(BlobRequest::FetchTicket(ticket)));
        }
    });
    for fetch in &library.fetching {
        ui.horizontal(|ui| {
            let fraction = if fetch.total == 0 {
                0.0
            } else {
                fetch.done as f32 / fetch.total as f32
            };
            ui.label(&fetch.name);
            ui.add(
                egui::ProgressBar::new(fraction)
                    .desired_width(200.0)
                    .text(format!("{} of {}", size(fetch.done), size(fetch.total))),
            );
            ui.label(format!("{}/s", size(fetch.bytes_per_second as u64)));
        });
    }
    if let Some((text, problem)) = &panel.message {
        let color = if *problem {
            egui::Color32::from_rgb(240, 170, 90)
        } else {
            egui::Color32::from_rgb(150, 210, 150)
        };
        ui.colored_label(color, text);
    }
    if let Some((hash, ticket)) = panel.shared.clone() {
        ui.horizontal(|ui| {
            ui.label(format!("Ticket for {}:", hash.short()));
            let mut shown = ticket.clone();
            ui.add(egui::TextEdit::singleline(&mut shown).desired_width(360.0));
            if ui.button("Copy").clicked() {
                ui.ctx().copy_text(ticket);
            }
        });
    }
    ui.separator();
    egui::ScrollArea::vertical().max_height(300.0).show(ui, |ui| {
        egui::Grid::new("blobs").striped(true).show(ui, |ui| {
            for heading in ["Name", "Size", "Hash", "From", "Pin", "Serve", "Served", ""] {
                ui.strong(heading);
            }
            ui.end_row();
            for blob in &library.blobs {
                ui.label(&blob.name).on_hover_text(&blob.origin);
                ui.label(if blob.complete {
                    size(blob.size)
                } else {
                    format!("{} (partial)", size(blob.size))
                });
                ui.label(blob.hash.short()).on_hover_text(blob.hash.to_string());
                ui.label(blob.origin.split(' ').next().unwrap_or_default());
                let mut pinned = blob.pinned;
                if ui.checkbox(&mut pinned, "").changed() {
                    actions.write(StorageAction::Request(BlobRequest::SetPinned(blob.hash, pinned)));
                }
                let mut serving = blob.serving;
                if ui
                    .add_enabled(blob.complete, egui::Checkbox::without_text(&mut serving))
                    .changed()
                {
                    actions.write(StorageAction::Request(BlobRequest::SetServing(
                        blob.hash, serving,
                    )));
                }
                ui.label(size(blob.served));
                ui.horizontal(|ui| {
                    if ui
                        .add_enabled(blob.complete && library.online, egui::Button::new("Share"))
                        .clicked()
                    {
                        actions.write(StorageAction::Request(BlobRequest::Share(blob.hash)));
                    }
                    if blob.complete
                        && is_picture(&blob.name)
                        && ui.add_enabled(view.online, egui::Button::new("Hang")).clicked()
                    {
                        actions.write(StorageAction::Hang(blob.hash));
                    }
                    if ui.button("Delete").clicked() {
                        actions.write(StorageAction::Request(BlobRequest::Delete(blob.hash)));
                    }
                });
                ui.end_row();
            }
        });
        if library.blobs.is_empty() {
            ui.label("Nothing stored yet. Add a file, or fetch one by ticket.");
        }
    });
    if !library.served_to.is_empty() {
        ui.separator();
        ui.label("Served to:");
        for (peer, bytes) in library.served_to.iter().take(8) {
            ui.label(format!("{}: {}", view.name_of(peer), size(*bytes)));
        }
    }
    if let Some(hanging) = easel.wanted() {
        ui.separator();
        ui.horizontal(|ui| {
            ui.label(format!(
                "On the easel: {} by {}",
                hanging.name,
                view.name_of(&hanging.by)
            ));
            if easel.mine.as_ref().is_some_and(|mine| mine.hash == hanging.hash)
                && ui.button("Take down").clicked()
            {
                actions.write(StorageAction::TakeDown);
            }
        });
        if let Some(problem) = &easel.problem {
            ui.colored_label(egui::Color32::from_rgb(240, 170, 90), problem);
        }
    }
}
