//! Home: the person's own server (their home node) in a panel, as an app on the plugin
//! API. It pairs this device with the node, then shows and changes what the node keeps:
//! the wall (the person's posts and their friends', with comments and likes), friends and
//! requests, the inbox, files, paired devices, and the apps let in with their grants and
//! access log. People met in the world can be befriended from the People panel (the app's
//! "Be friends" button beside each person; offers are answered there or on the Friends
//! page): the two Home apps tell each other their nodes (app messages), and each node
//! asks the other.
//!
//! Everything goes through the home capability ([`sanctuary_plugin_api::HomeNode`]): the
//! app never sees the network, only its calls and the node's answers.

mod panel;

use sanctuary_plugin_api::prelude::*;

pub use panel::{HomeAction, HomePanel, HomeTab, REFRESH_EVERY};

/// The Home app.
pub struct HomeApp;

impl SanctuaryApp for HomeApp {
    const MANIFEST: Manifest = Manifest {
        name: "home",
        title: "Home",
        version: env!("CARGO_PKG_VERSION"),
        author: "The Sanctuary developers",
        description: "Your own server: your wall and your friends' posts, friend requests, inbox, files, devices, and the apps you let in.",
        permissions: &[Permission::Panels, Permission::Home, Permission::Messages],
    };

    fn build(&self, setup: &mut AppSetup) {
        setup
            .init_resource::<HomePanel>()
            .add_message::<HomeAction>()
            .add_system(panel::act)
            .add_system(panel::refresh)
            .add_system(panel::take_replies)
            .add_system(panel::take_offers)
            .add_system(panel::person_buttons)
            .add_panel(PanelSpec::standard("home", "Home"), panel::draw);
    }
}
