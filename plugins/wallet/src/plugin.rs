//! Wires the wallet app together: its resources, the link to the wallet thread, and the
//! systems that move actions to the thread and its events to the panel.

use std::sync::Mutex;

use bevy::prelude::*;
use sanctuary_plugin_api::host::AppsFolder;
use sanctuary_plugin_api::prelude::*;
use tokio::sync::mpsc;

use crate::directory::{self, Directory};
use crate::panel::{self, WalletAction, WalletPanel, WalletState};
use crate::worker::{self, Command, Event};

/// The frame loop's ends of the wallet thread; empty when there is no data folder or the
/// thread could not start (the reason is in [`WalletState::problem`]).
#[derive(Resource)]
pub(crate) struct WalletLink {
    commands: Option<mpsc::Sender<Command>>,
    events: Mutex<Option<std::sync::mpsc::Receiver<Event>>>,
    problem: Option<String>,
}

impl WalletLink {
    /// Hands `command` to the wallet thread without waiting.
    pub(crate) fn send(&self, command: Command) -> Result<(), String> {
        let commands = self
            .commands
            .as_ref()
            .ok_or_else(|| self.problem.clone().unwrap_or_default())?;
        commands
            .try_send(command)
            .map_err(|_| "the wallet is busy; try again in a moment".to_string())
    }
}

impl FromWorld for WalletLink {
    fn from_world(world: &mut World) -> Self {
        let folder = world
            .get_resource::<AppsFolder>()
            .and_then(|folder| folder.0.clone());
        let Some(apps) = folder else {
            return Self {
                commands: None,
                events: Mutex::new(None),
                problem: Some("the client runs without a data folder".into()),
            };
        };
        match worker::start(apps.join(crate::WalletApp::MANIFEST.name)) {
            Ok(link) => Self {
                commands: Some(link.commands),
                events: Mutex::new(Some(link.events)),
                problem: None,
            },
            Err(problem) => Self {
                commands: None,
                events: Mutex::new(None),
                problem: Some(problem),
            },
        }
    }
}

pub(crate) fn build(setup: &mut AppSetup) {
    setup
        .init_resource::<WalletLink>()
        .init_resource::<WalletState>()
        .init_resource::<WalletPanel>()
        .init_resource::<Directory>()
        .add_message::<WalletAction>()
        .add_system(panel::act)
        .add_system(take_events)
        .add_system(directory::receive)
        .add_system(directory::announce)
        .add_panel(PanelSpec::standard("wallet", "Wallet"), panel::draw);
}

/// Takes what the wallet thread says and keeps it for the panel.
fn take_events(link: Res<WalletLink>, mut state: ResMut<WalletState>) {
    if state.problem.is_none() && link.problem.is_some() {
        state.problem.clone_from(&link.problem);
    }
    let Ok(events) = link.events.lock() else {
        return;
    };
    let Some(events) = events.as_ref() else {
        return;
    };
    while let Ok(event) = events.try_recv() {
        state.busy = false;
        match event {
            Event::Snapshot(snapshot) => state.snapshot = snapshot,
            Event::Words(words) => state.words = Some(words),
            Event::Planned { plan, memo } => {
                let recipient = state.recipient.take().unwrap_or_else(|| plan.to.to_string());
                state.plan = Some(panel::PendingPlan {
                    plan,
                    memo,
                    recipient,
                });
            }
            Event::Sent(transfer) => {
                state.plan = None;
                state.say(format!(
                    "sent; waiting for a block ({})",
                    short_hash(&transfer.hash.to_string())
                ));
            }
            Event::Problem(problem) => state.complain(problem),
        }
    }
}

fn short_hash(hash: &str) -> String {
    format!("{}…", hash.chars().take(10).collect::<String>())
}
