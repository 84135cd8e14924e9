//! Storage: the person's own content-addressed files, as an app on the plugin API.
//!
//! - `panel`: the Storage panel: add a file (path or drag-and-drop), fetch by ticket with
//!   progress, list what is held, share as a ticket (with Copy), serve, pin, delete, and
//!   what was served to whom.
//! - `easel`: a picture from storage hung on the easel in the Lobby; everyone in the room
//!   sees it, each fetching the bytes by hash from whoever hung it.
//! - [`wire`]: the app messages the copies send each other.
//!
//! Everything touching the files goes through the blobs capability
//! ([`sanctuary_plugin_api::Blobs`]); the app never sees the store or the network.

mod easel;
mod panel;
pub mod wire;

use sanctuary_plugin_api::prelude::*;

pub use easel::{Easel, Hanging, PICTURE_MAX, Picture};
pub use panel::{StorageAction, StoragePanel};

/// The storage app.
pub struct StorageApp;

impl SanctuaryApp for StorageApp {
    const MANIFEST: Manifest = Manifest {
        name: "storage",
        title: "Storage",
        version: env!("CARGO_PKG_VERSION"),
        author: "The Sanctuary developers",
        description: "Your files, by content hash: add, fetch by ticket, share, serve to others, and hang pictures in the Lobby.",
        permissions: &[
            Permission::Panels,
            Permission::Blobs,
            Permission::Messages,
            Permission::Spawn { spaces: &["lobby"] },
        ],
    };

    fn build(&self, setup: &mut AppSetup) {
        setup
            .init_resource::<StoragePanel>()
            .init_resource::<Easel>()
            .add_message::<StorageAction>()
            .add_system(panel::take_dropped_files)
            .add_system(panel::act)
            .add_system(panel::take_replies)
            .add_system(easel::receive)
            .add_system(easel::follow)
            .add_system(easel::announce)
            .add_system(easel::show)
            .add_panel(PanelSpec::standard("storage", "Storage"), panel::draw);
    }
}
