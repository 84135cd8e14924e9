//! Wires the wallet app together: its resources, the link to the wallet thread, and the
//! systems that move actions to the thread and its events to the panel.

use std::sync::Mutex;

use bevy::prelude::*;
use sanctuary_plugin_api::host::{AppsFolder, WalletMail};
use sanctuary_plugin_api::prelude::*;
use sanctuary_plugin_api::{KnownToken, PaymentAccount, PaymentTerms, WalletReply, WalletRequest};
use sanctuary_wallet_core::{Asset, TransferStatus};
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
        .add_system(take_requests)
        .add_system(directory::receive)
        .add_system(directory::announce)
        .add_panel(PanelSpec::standard("wallet", "Wallet"), panel::draw);
}

/// Takes apps' wallet requests: payments wait for the person in the panel; checks go
/// straight to the wallet thread (they move nothing).
fn take_requests(link: Res<WalletLink>, mut mail: ResMut<WalletMail>, mut state: ResMut<WalletState>) {
    for (app, request) in mail.take_requests() {
        match request {
            WalletRequest::Pay { id, terms, memo } => {
                // The same payment again (the app did not hear the answer, the client
                // stopped in between): answered with the first, never paid twice.
                if let Some(transaction) = paid_before(&state.snapshot, &terms) {
                    mail.reply(&app, WalletReply::Paid { id, transaction });
                    continue;
                }
                if state.requests.len() >= panel::WAITING_PAYMENTS_MAX {
                    let reason = "too many payment requests are waiting for the person".to_owned();
                    mail.reply(&app, WalletReply::Declined { id, reason });
                    continue;
                }
                state
                    .requests
                    .push_back(panel::WaitingPayment { app, id, terms, memo });
            }
            WalletRequest::Check {
                id,
                transaction,
                terms,
                confirmations,
            } => {
                let command = Command::Check {
                    request: (app.clone(), id),
                    transaction,
                    terms,
                    confirmations,
                };
                if let Err(reason) = link.send(command) {
                    mail.reply(&app, WalletReply::Unchecked { id, reason });
                }
            }
            WalletRequest::Account { id } => {
                let reply = match payment_account(&state.snapshot) {
                    Ok(account) => WalletReply::Account { id, account },
                    Err(reason) => WalletReply::Unchecked { id, reason },
                };
                mail.reply(&app, reply);
            }
        }
    }
}

/// The transaction of a payment with these terms and a reference that this wallet made
/// already and that has not failed or reverted.
fn paid_before(snapshot: &worker::WalletSnapshot, terms: &PaymentTerms) -> Option<[u8; 32]> {
    if terms.reference.is_empty() {
        return None;
    }
    snapshot
        .history
        .iter()
        .find(|transfer| {
            let contract = match &transfer.asset {
                Asset::Native { .. } => None,
                Asset::Token { contract, .. } => Some(contract.into_array()),
            };
            transfer.chain_id == terms.chain_id
                && transfer.to.into_array() == terms.to
                && contract == terms.token
                && transfer.value.to_be_bytes::<32>() == terms.amount
                && transfer.reference == terms.reference
                && matches!(
                    transfer.status,
                    TransferStatus::Pending | TransferStatus::Confirmed { .. }
                )
        })
        .map(|transfer| transfer.hash.0)
}

/// Where the person is paid, as an app may know it: the first account on the network
/// the wallet is connected to.
fn payment_account(snapshot: &worker::WalletSnapshot) -> Result<PaymentAccount, String> {
    if !snapshot.exists {
        return Err("there is no wallet yet: make one in the Wallet panel".into());
    }
    let network = snapshot.network.as_ref().ok_or_else(|| {
        snapshot
            .chain_problem
            .clone()
            .unwrap_or_else(|| "the wallet is not connected to a network yet".into())
    })?;
    let first = snapshot
        .accounts
        .first()
        .ok_or_else(|| "the wallet has no account yet".to_string())?;
    Ok(PaymentAccount {
        address: first.address.into_array(),
        chain_id: network.chain_id,
        network: network.name.clone(),
        test: network.test,
        coin_symbol: network.symbol.clone(),
        tokens: first
            .tokens
            .iter()
            .map(|(token, _)| KnownToken {
                contract: token.address.into_array(),
                symbol: token.symbol.clone(),
                decimals: token.decimals,
            })
            .collect(),
    })
}

/// Takes what the wallet thread says and keeps it for the panel, and answers apps.
fn take_events(link: Res<WalletLink>, mut mail: ResMut<WalletMail>, mut state: ResMut<WalletState>) {
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
            Event::Planned { plan, memo, request } => {
                let recipient = state.recipient.take().unwrap_or_else(|| plan.to.to_string());
                state.plan = Some(panel::PendingPlan {
                    plan,
                    memo,
                    recipient,
                    request,
                });
            }
            Event::Checked {
                request: (app, id),
                verdict,
            } => mail.reply(&app, WalletReply::Checked { id, verdict }),
            Event::RequestFailed { app, reply } => {
                // A failed plan or send ends the request, and the plan shown for it.
                if let WalletReply::Declined { id, .. } = &reply
                    && state
                        .plan
                        .as_ref()
                        .is_some_and(|plan| plan.request.as_ref() == Some(&(app.clone(), *id)))
                {
                    state.plan = None;
                }
                mail.reply(&app, reply);
            }
            Event::Sent { transfer, request } => {
                if let Some((app, id)) = request {
                    mail.reply(
                        &app,
                        WalletReply::Paid {
                            id,
                            transaction: transfer.hash.0,
                        },
                    );
                }
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
