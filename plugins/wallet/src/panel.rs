//! The Wallet panel, and the system that carries out what the person does there.

use bevy::prelude::*;
use sanctuary_plugin_api::host::WalletMail;
use sanctuary_plugin_api::prelude::*;
use sanctuary_plugin_api::{PaymentTerms, WalletReply};
use sanctuary_wallet_core::{
    Address, LOCAL_CHAIN_LABEL, Secret, Transfer, TransferPlan, TransferStatus, format_amount,
};

use crate::directory::Directory;
use crate::plugin::WalletLink;
use crate::qr;
use crate::worker::{Command, RequestId, WalletSnapshot};

/// Payment requests from apps kept waiting for the person, at most; more are declined.
pub const WAITING_PAYMENTS_MAX: usize = 8;

/// A payment an app asked for, waiting for the person to review or decline it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaitingPayment {
    /// The app that asks.
    pub app: String,
    /// Its number for the request.
    pub id: u64,
    /// What it asks to pay.
    pub terms: PaymentTerms,
    /// What for, in its words.
    pub memo: String,
}

/// Something the person does in the Wallet panel (or a test does for them).
#[derive(Message, Debug, Clone)]
pub enum WalletAction {
    /// Make a new wallet with this passphrase.
    Create {
        /// The passphrase.
        passphrase: Secret,
    },
    /// Restore a wallet from its words.
    Restore {
        /// The words as typed.
        words: Secret,
        /// The new passphrase.
        passphrase: Secret,
    },
    /// The person typed back the asked words of the new phrase.
    ConfirmBackup,
    /// Unlock.
    Unlock {
        /// The passphrase.
        passphrase: Secret,
    },
    /// Lock now.
    Lock,
    /// Derive the next account.
    AddAccount,
    /// Follow an ERC-20 token by its contract address.
    AddToken(String),
    /// Plan a transfer to an address or to a person here by name, for the confirm step.
    Review {
        /// From which account.
        account: u32,
        /// An address (0x…) or a person's name.
        to: String,
        /// The amount, in whole units.
        amount: String,
        /// What it is for.
        memo: Option<String>,
    },
    /// Sign and send the plan being shown, unlocking first when a passphrase is given.
    Confirm {
        /// The passphrase, if the wallet is locked.
        passphrase: Option<Secret>,
    },
    /// Drop the plan being shown (declining it, if an app asked for it).
    Cancel,
    /// Plan the first payment an app asked for, from this account, for the confirm step.
    ReviewRequest {
        /// From which account.
        account: u32,
    },
    /// Decline the first payment an app asked for.
    DeclineRequest,
}

/// A transfer waiting for the person's confirmation.
#[derive(Debug, Clone)]
pub struct PendingPlan {
    /// What will be signed.
    pub plan: TransferPlan,
    /// What it is for.
    pub memo: Option<String>,
    /// Who is paid, as the person named them.
    pub recipient: String,
    /// The app's request it answers, if an app asked for it.
    pub request: Option<RequestId>,
}

/// What the wallet thread last said, for the panel.
#[derive(Resource, Debug, Default)]
pub struct WalletState {
    /// The wallet's state.
    pub snapshot: WalletSnapshot,
    /// A new wallet's words, shown until the person confirms them.
    pub words: Option<Secret>,
    /// A transfer waiting for confirmation.
    pub plan: Option<PendingPlan>,
    /// Payments apps asked for, oldest first.
    pub requests: std::collections::VecDeque<WaitingPayment>,
    /// Who the next plan pays, as named.
    pub recipient: Option<String>,
    /// The latest outcome, in one line, and whether it is a problem.
    pub message: Option<(String, bool)>,
    /// A command is being carried out.
    pub busy: bool,
    /// Why the wallet cannot run at all.
    pub problem: Option<String>,
}

impl WalletState {
    pub(crate) fn say(&mut self, text: impl Into<String>) {
        self.message = Some((text.into(), false));
    }

    pub(crate) fn complain(&mut self, text: impl Into<String>) {
        self.message = Some((text.into(), true));
    }
}

/// What the person is typing.
#[derive(Resource, Default)]
pub struct WalletPanel {
    passphrase: Secret,
    passphrase_again: Secret,
    words: Secret,
    restoring: bool,
    check: Option<[usize; 2]>,
    check_words: [Secret; 2],
    to: String,
    amount: String,
    memo: String,
    token: String,
    account: u32,
}

/// Carries out the person's actions.
pub fn act(
    mut actions: MessageReader<WalletAction>,
    link: Res<WalletLink>,
    mut mail: ResMut<WalletMail>,
    mut state: ResMut<WalletState>,
    directory: Res<Directory>,
    view: Res<WorldView>,
) {
    for action in actions.read() {
        let command = match action.clone() {
            WalletAction::Create { passphrase } => Command::Create { passphrase },
            WalletAction::Restore { words, passphrase } => Command::Restore { words, passphrase },
            WalletAction::ConfirmBackup => {
                state.words = None;
                Command::ConfirmBackup
            }
            WalletAction::Unlock { passphrase } => Command::Unlock { passphrase },
            WalletAction::Lock => Command::Lock,
            WalletAction::AddAccount => Command::AddAccount,
            WalletAction::AddToken(contract) => Command::AddToken { contract },
            WalletAction::Review {
                account,
                to,
                amount,
                memo,
            } => {
                let chain_id = state
                    .snapshot
                    .network
                    .as_ref()
                    .map_or(0, |network| network.chain_id);
                let resolved = match to.trim().parse::<Address>() {
                    Ok(address) => Ok((address.to_string(), address)),
                    Err(_) if to.trim().starts_with("0x") => Err(format!(
                        "\"{}\" is not an address (0x and 40 hex digits)",
                        to.trim()
                    )),
                    Err(_) => directory
                        .find(&view.people, &to, chain_id)
                        .map(|(person, address)| (format!("{} ({address})", person.name), address)),
                };
                match resolved {
                    Ok((label, address)) => {
                        state.recipient = Some(label);
                        Command::Plan {
                            account,
                            to: address,
                            amount,
                            token: None,
                            memo,
                        }
                    }
                    Err(problem) => {
                        state.complain(problem);
                        continue;
                    }
                }
            }
            WalletAction::Confirm { passphrase } => {
                let Some(pending) = state.plan.clone() else {
                    state.complain("nothing to confirm");
                    continue;
                };
                Command::Send {
                    plan: pending.plan,
                    passphrase,
                    memo: pending.memo,
                    request: pending.request,
                }
            }
            WalletAction::Cancel => {
                if let Some(PendingPlan {
                    request: Some((app, id)),
                    ..
                }) = state.plan.take()
                {
                    let reason = "you declined".to_owned();
                    mail.reply(&app, WalletReply::Declined { id, reason });
                }
                state.say("not sent");
                continue;
            }
            WalletAction::ReviewRequest { account } => {
                let Some(waiting) = state.requests.pop_front() else {
                    state.complain("no payment is asked for");
                    continue;
                };
                state.recipient = Some(format!(
                    "{} (asked by {})",
                    Address::from(waiting.terms.to),
                    waiting.app
                ));
                Command::PlanPayment {
                    account,
                    terms: waiting.terms,
                    memo: waiting.memo,
                    request: (waiting.app, waiting.id),
                }
            }
            WalletAction::DeclineRequest => {
                if let Some(waiting) = state.requests.pop_front() {
                    let reason = "you declined".to_owned();
                    mail.reply(
                        &waiting.app,
                        WalletReply::Declined {
                            id: waiting.id,
                            reason,
                        },
                    );
                    state.say(format!("declined {}'s payment request", waiting.app));
                }
                continue;
            }
        };
        let request = command.request();
        match link.send(command) {
            Ok(()) => {
                state.busy = true;
                state.message = None;
            }
            Err(problem) => {
                if let Some(((app, id), false)) = request {
                    mail.reply(
                        &app,
                        WalletReply::Declined {
                            id,
                            reason: problem.clone(),
                        },
                    );
                }
                state.complain(problem);
            }
        }
    }
}

const AMBER: egui::Color32 = egui::Color32::from_rgb(240, 170, 90);
const GREEN: egui::Color32 = egui::Color32::from_rgb(140, 220, 140);

/// Draws the panel.
pub fn draw(
    InMut(ui): InMut<egui::Ui>,
    mut panel: ResMut<WalletPanel>,
    state: Res<WalletState>,
    view: Res<WorldView>,
    mut actions: MessageWriter<WalletAction>,
) {
    if let Some(problem) = &state.problem {
        ui.colored_label(AMBER, format!("The wallet is unavailable: {problem}"));
        return;
    }
    let snapshot = &state.snapshot;
    match &snapshot.network {
        Some(network) if network.name == LOCAL_CHAIN_LABEL || network.test => {
            ui.colored_label(AMBER, format!("{} (chain {})", network.name, network.chain_id));
        }
        Some(network) => {
            ui.label(format!("{} (chain {})", network.name, network.chain_id));
        }
        None if snapshot.exists => {
            ui.colored_label(
                AMBER,
                snapshot
                    .chain_problem
                    .as_deref()
                    .unwrap_or("connecting to the chain…"),
            );
        }
        None => {}
    }
    if let Some(words) = &state.words {
        draw_words(ui, &mut panel, words, &mut actions);
    } else if !snapshot.exists {
        draw_setup(ui, &mut panel, &mut actions);
    } else if let Some(pending) = &state.plan {
        draw_confirm(ui, &mut panel, pending, snapshot.unlocked, &mut actions);
    } else if let Some(waiting) = state.requests.front() {
        draw_request(ui, &panel, waiting, state.requests.len(), &mut actions);
    } else {
        draw_wallet(ui, &mut panel, snapshot, &view, &mut actions);
    }
    if state.busy {
        ui.label("working…");
    }
    if let Some((text, problem)) = &state.message {
        ui.colored_label(if *problem { AMBER } else { GREEN }, text);
    }
}

fn draw_setup(ui: &mut egui::Ui, panel: &mut WalletPanel, actions: &mut MessageWriter<WalletAction>) {
    ui.heading(if panel.restoring {
        "Restore a wallet"
    } else {
        "Make your wallet"
    });
    ui.label("Your keys stay on this machine, encrypted with your passphrase.");
    if panel.restoring {
        ui.label("Recovery phrase (12 to 24 words):");
        ui.add(
            egui::TextEdit::multiline(panel.words.edit())
                .desired_rows(2)
                .desired_width(600.0),
        );
    }
    passphrase_field(ui, "Passphrase:", &mut panel.passphrase);
    passphrase_field(ui, "Again:", &mut panel.passphrase_again);
    let same = *panel.passphrase == *panel.passphrase_again;
    if !same && !panel.passphrase_again.is_empty() {
        ui.colored_label(AMBER, "the two passphrases differ");
    }
    ui.horizontal(|ui| {
        let label = if panel.restoring { "Restore" } else { "Create" };
        if ui
            .add_enabled(same && panel.passphrase.len() >= 8, egui::Button::new(label))
            .clicked()
        {
            let passphrase = std::mem::take(&mut panel.passphrase);
            panel.passphrase_again = Secret::default();
            if panel.restoring {
                let words = std::mem::take(&mut panel.words);
                actions.write(WalletAction::Restore { words, passphrase });
            } else {
                actions.write(WalletAction::Create { passphrase });
            }
        }
        let other = if panel.restoring {
            "Make a new one instead"
        } else {
            "I have a recovery phrase"
        };
        if ui.link(other).clicked() {
            panel.restoring = !panel.restoring;
        }
    });
}

fn draw_words(
    ui: &mut egui::Ui,
    panel: &mut WalletPanel,
    words: &str,
    actions: &mut MessageWriter<WalletAction>,
) {
    let list: Vec<&str> = words.split(' ').collect();
    ui.heading("Your recovery phrase");
    ui.label("Write these words down, in order, and keep them safe. They are shown once.");
    ui.label("Anyone with them has your wallet; without them a forgotten passphrase cannot be recovered.");
    egui::Grid::new("wallet-words")
        .num_columns(4)
        .spacing([24.0, 6.0])
        .show(ui, |ui| {
            for (index, word) in list.iter().enumerate() {
                ui.monospace(format!("{:>2}. {word}", index + 1));
                if index % 4 == 3 {
                    ui.end_row();
                }
            }
        });
    ui.separator();
    let Some(check) = panel.check else {
        if ui.button("I wrote them down").clicked() {
            let seed = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(7, |since| since.subsec_nanos() as usize);
            let first = seed % list.len();
            let second = (first + 1 + (seed / 7) % (list.len() - 1)) % list.len();
            panel.check = Some([first.min(second), first.max(second)]);
        }
        return;
    };
    ui.label("To be sure, type two of them:");
    for (slot, index) in check.iter().enumerate() {
        ui.horizontal(|ui| {
            ui.label(format!("word {}:", index + 1));
            ui.add(egui::TextEdit::singleline(panel.check_words[slot].edit()).desired_width(160.0));
        });
    }
    let right = check.iter().zip(&panel.check_words).all(|(index, typed)| {
        list.get(*index)
            .is_some_and(|word| typed.trim().eq_ignore_ascii_case(word))
    });
    if ui.add_enabled(right, egui::Button::new("Done")).clicked() {
        panel.check = None;
        panel.check_words = Default::default();
        actions.write(WalletAction::ConfirmBackup);
    }
}

/// An app's payment request, before its plan: who asks, for what, and how much.
fn draw_request(
    ui: &mut egui::Ui,
    panel: &WalletPanel,
    waiting: &WaitingPayment,
    count: usize,
    actions: &mut MessageWriter<WalletAction>,
) {
    ui.heading("A payment is asked for");
    if count > 1 {
        ui.label(format!("({} more waiting)", count - 1));
    }
    let value = sanctuary_wallet_core::U256::from_be_bytes(waiting.terms.amount);
    let amount = match waiting.terms.token {
        None => format!("{} of the network's coin", format_amount(value, 18)),
        Some(token) => format!("{value} units of the token at {}", Address::from(token)),
    };
    egui::Grid::new("wallet-request")
        .num_columns(2)
        .spacing([16.0, 6.0])
        .show(ui, |ui| {
            ui.label("Asked by");
            ui.strong(&waiting.app);
            ui.end_row();
            ui.label("For");
            ui.label(&waiting.memo);
            ui.end_row();
            ui.label("Amount");
            ui.label(amount);
            ui.end_row();
            ui.label("To");
            ui.monospace(Address::from(waiting.terms.to).to_string());
            ui.end_row();
        });
    ui.label("Review shows exactly what will be signed, with the fee, before anything is sent.");
    ui.horizontal(|ui| {
        if ui.button("Review").clicked() {
            actions.write(WalletAction::ReviewRequest {
                account: panel.account,
            });
        }
        if ui.button("Decline").clicked() {
            actions.write(WalletAction::DeclineRequest);
        }
    });
}

fn draw_confirm(
    ui: &mut egui::Ui,
    panel: &mut WalletPanel,
    pending: &PendingPlan,
    unlocked: bool,
    actions: &mut MessageWriter<WalletAction>,
) {
    let plan = &pending.plan;
    ui.heading("Confirm what will be signed");
    egui::Grid::new("wallet-confirm")
        .num_columns(2)
        .spacing([16.0, 6.0])
        .show(ui, |ui| {
            ui.label("To");
            ui.monospace(&pending.recipient);
            ui.end_row();
            ui.label("Amount");
            ui.strong(format!(
                "{} {}",
                format_amount(plan.value, plan.asset.decimals()),
                plan.asset.symbol()
            ));
            ui.end_row();
            ui.label("Fee, at most");
            ui.label(format!("{} ETH", format_amount(plan.max_fee(), 18)));
            ui.end_row();
            ui.label("Network");
            ui.label(format!("{} (chain {})", plan.network, plan.chain_id));
            ui.end_row();
            ui.label("From");
            ui.monospace(plan.from.to_string());
            ui.end_row();
            if let Some(memo) = &pending.memo {
                ui.label("For");
                ui.label(memo);
                ui.end_row();
            }
        });
    if !unlocked {
        passphrase_field(ui, "Passphrase:", &mut panel.passphrase);
    }
    ui.horizontal(|ui| {
        if ui.button("Confirm and send").clicked() {
            let passphrase = (!unlocked).then(|| std::mem::take(&mut panel.passphrase));
            actions.write(WalletAction::Confirm { passphrase });
        }
        if ui.button("Cancel").clicked() {
            actions.write(WalletAction::Cancel);
        }
    });
}

fn draw_wallet(
    ui: &mut egui::Ui,
    panel: &mut WalletPanel,
    snapshot: &WalletSnapshot,
    view: &WorldView,
    actions: &mut MessageWriter<WalletAction>,
) {
    if !snapshot.backed_up {
        ui.colored_label(
            AMBER,
            "This wallet's recovery phrase was never confirmed as written down.",
        );
    }
    let account = snapshot
        .accounts
        .iter()
        .find(|account| account.index == panel.account)
        .or(snapshot.accounts.first());
    ui.horizontal(|ui| {
        if let (Some(account), Some(network)) = (account, &snapshot.network) {
            qr::draw(ui, &qr::payment_uri(account.address, network.chain_id), 132.0);
        }
        ui.vertical(|ui| {
            if let Some(account) = account {
                ui.horizontal(|ui| {
                    ui.label(format!("Account {}", account.index));
                    if snapshot.accounts.len() > 1 && ui.small_button("next").clicked() {
                        let position = snapshot
                            .accounts
                            .iter()
                            .position(|a| a.index == account.index)
                            .unwrap_or(0);
                        panel.account = snapshot.accounts[(position + 1) % snapshot.accounts.len()].index;
                    }
                    if snapshot.unlocked && ui.small_button("add account").clicked() {
                        actions.write(WalletAction::AddAccount);
                    }
                });
                ui.horizontal(|ui| {
                    ui.monospace(account.address.to_string());
                    if ui.button("Copy").clicked() {
                        ui.ctx().copy_text(account.address.to_string());
                    }
                });
                let symbol = snapshot
                    .network
                    .as_ref()
                    .map_or("ETH", |network| network.symbol.as_str());
                match account.balance {
                    Some(balance) => ui.heading(format!("{} {symbol}", format_amount(balance, 18))),
                    None => ui.heading(format!("? {symbol}")),
                };
                for (token, held) in &account.tokens {
                    let amount = held.map_or("?".into(), |held| format_amount(held, token.decimals));
                    ui.label(format!("{amount} {}", token.symbol));
                }
            }
            ui.horizontal(|ui| {
                if snapshot.unlocked {
                    ui.label("unlocked");
                    if ui.button("Lock").clicked() {
                        actions.write(WalletAction::Lock);
                    }
                } else {
                    passphrase_field(ui, "locked", &mut panel.passphrase);
                    if ui.button("Unlock").clicked() {
                        let passphrase = std::mem::take(&mut panel.passphrase);
                        actions.write(WalletAction::Unlock { passphrase });
                    }
                }
            });
        });
    });
    ui.separator();
    ui.horizontal(|ui| {
        ui.label("Send");
        ui.add(
            egui::TextEdit::singleline(&mut panel.amount)
                .hint_text("amount")
                .desired_width(90.0),
        );
        ui.label("to");
        ui.add(
            egui::TextEdit::singleline(&mut panel.to)
                .hint_text("0x… or a name here")
                .desired_width(260.0),
        );
    });
    ui.horizontal(|ui| {
        ui.add(
            egui::TextEdit::singleline(&mut panel.memo)
                .hint_text("what for (optional)")
                .desired_width(260.0),
        );
        let ready = !panel.amount.trim().is_empty() && !panel.to.trim().is_empty() && account.is_some();
        if ui.add_enabled(ready, egui::Button::new("Review")).clicked() {
            let memo = (!panel.memo.trim().is_empty()).then(|| panel.memo.trim().to_string());
            actions.write(WalletAction::Review {
                account: account.map_or(0, |account| account.index),
                to: panel.to.clone(),
                amount: panel.amount.clone(),
                memo,
            });
        }
    });
    let payable: Vec<&str> = view
        .people
        .iter()
        .map(|person| person.name.as_str())
        .take(6)
        .collect();
    if !payable.is_empty() {
        ui.small(format!("here: {}", payable.join(", ")));
    }
    ui.horizontal(|ui| {
        ui.add(
            egui::TextEdit::singleline(&mut panel.token)
                .hint_text("token contract 0x…")
                .desired_width(260.0),
        );
        if ui
            .add_enabled(!panel.token.trim().is_empty(), egui::Button::new("Add token"))
            .clicked()
        {
            actions.write(WalletAction::AddToken(std::mem::take(&mut panel.token)));
        }
    });
    ui.separator();
    ui.label("History");
    egui::ScrollArea::vertical().max_height(150.0).show(ui, |ui| {
        if snapshot.history.is_empty() {
            ui.label("nothing sent yet");
        }
        for transfer in snapshot.history.iter().rev() {
            ui.label(history_line(transfer));
        }
    });
}

/// One history entry in words.
pub fn history_line(transfer: &Transfer) -> String {
    let status = match &transfer.status {
        TransferStatus::Pending => "pending".to_string(),
        TransferStatus::Confirmed { block } => format!("confirmed (block {block})"),
        TransferStatus::Reverted { block } => format!("reverted (block {block}): only the fee was spent"),
        TransferStatus::Failed { reason } => format!("failed: {reason}"),
    };
    let to = transfer.to.to_string();
    format!(
        "{} {} to {}…{}: {status}{}",
        format_amount(transfer.value, transfer.asset.decimals()),
        transfer.asset.symbol(),
        &to[..6],
        &to[to.len() - 4..],
        transfer
            .memo
            .as_deref()
            .map(|memo| format!(" ({memo})"))
            .unwrap_or_default()
    )
}

fn passphrase_field(ui: &mut egui::Ui, label: &str, text: &mut Secret) {
    ui.horizontal(|ui| {
        ui.label(label);
        ui.add(
            egui::TextEdit::singleline(text.edit())
                .password(true)
                .desired_width(220.0),
        );
    });
}
