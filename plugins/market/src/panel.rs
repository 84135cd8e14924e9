//! The Market panel: browse and buy, sell a file from storage, the person's stall, and
//! the history of their trades.

use bevy::prelude::*;
use sanctuary_market_core::{PurchaseState, SaleState, TITLE_MAX};
use sanctuary_plugin_api::prelude::*;

use crate::MarketApp;
use crate::trade::{MarketAction, MarketState, Offer};

/// Rows shown in the search results at most.
const RESULTS_MAX: usize = 50;
/// Width of the title and description column, in panel pixels.
const TITLE_WIDTH: f32 = 300.0;

/// The panel's pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Page {
    #[default]
    Browse,
    Sell,
    Stall,
    History,
}

/// What the person typed and chose in the panel.
#[derive(Resource, Debug, Default)]
pub(crate) struct MarketPanel {
    page: Page,
    search: String,
    offer: Offer,
}

/// The colour of a line that reports a problem.
const PROBLEM: egui::Color32 = egui::Color32::from_rgb(240, 170, 90);

/// Draws the Market panel.
pub(crate) fn draw(
    InMut(ui): InMut<egui::Ui>,
    mut panel: ResMut<MarketPanel>,
    state: Res<MarketState>,
    blobs: Blobs<MarketApp>,
    wallet: WalletRequests<MarketApp>,
    view: Res<WorldView>,
    mut actions: MessageWriter<MarketAction>,
) {
    ui.horizontal(|ui| {
        for (page, label) in [
            (Page::Browse, "Browse"),
            (Page::Sell, "Sell"),
            (Page::Stall, "My stall"),
            (Page::History, "History"),
        ] {
            ui.selectable_value(&mut panel.page, page, label);
        }
    });
    if let Some((text, problem)) = &state.message {
        match problem {
            true => ui.colored_label(PROBLEM, text),
            false => ui.label(text),
        };
    }
    if !wallet.allowed() || !blobs.allowed() {
        ui.colored_label(
            PROBLEM,
            "To trade, allow the Market its wallet and files in the Apps panel.",
        );
    }
    ui.separator();
    egui::ScrollArea::vertical().show(ui, |ui| match panel.page {
        Page::Browse => browse(ui, &mut panel, &state, &view, &mut actions),
        Page::Sell => sell(ui, &mut panel, &state, &blobs, &mut actions),
        Page::Stall => stall(ui, &state, &mut actions),
        Page::History => history(ui, &state, &view, &mut actions),
    });
}

fn browse(
    ui: &mut egui::Ui,
    panel: &mut MarketPanel,
    state: &MarketState,
    view: &WorldView,
    actions: &mut MessageWriter<MarketAction>,
) {
    ui.horizontal(|ui| {
        ui.label("Search:");
        ui.text_edit_singleline(&mut panel.search);
    });
    let found = state.book.search(&panel.search);
    if found.is_empty() {
        ui.label(if state.book.sellers() == 0 {
            "Nobody here sells anything yet."
        } else {
            "Nothing matches."
        });
    }
    let network = state.account.as_ref().map(|account| account.chain_id);
    egui::Grid::new("market listings").striped(true).show(ui, |ui| {
        for (reference, listing) in found.into_iter().take(RESULTS_MAX) {
            ui.vertical(|ui| {
                ui.set_width(TITLE_WIDTH);
                ui.label(egui::RichText::new(&listing.title).strong());
                if !listing.description.is_empty() {
                    ui.label(egui::RichText::new(&listing.description).small());
                }
            });
            ui.label(listing.price.shown());
            ui.label(format!("{} left", listing.quantity));
            ui.label(format!("by {}", view.name_of(&reference.seller)));
            let payable = network.is_none_or(|chain| chain == listing.price.chain_id);
            let button = ui.add_enabled(payable, egui::Button::new("Buy"));
            if button.clicked() {
                actions.write(MarketAction::Buy(reference));
            }
            if !payable {
                button.on_disabled_hover_text("paid on another network than your wallet's");
            }
            ui.end_row();
        }
    });
}

fn sell(
    ui: &mut egui::Ui,
    panel: &mut MarketPanel,
    state: &MarketState,
    blobs: &Blobs<MarketApp>,
    actions: &mut MessageWriter<MarketAction>,
) {
    let Some(account) = &state.account else {
        ui.colored_label(
            PROBLEM,
            format!(
                "Your wallet has not said where you are paid yet: {}",
                state
                    .account_problem
                    .as_deref()
                    .unwrap_or("make or open a wallet in the Wallet panel")
            ),
        );
        return;
    };
    let Ok(library) = blobs.library() else {
        return;
    };
    let held: Vec<&BlobInfo> = library.blobs.iter().filter(|blob| blob.complete).collect();
    if held.is_empty() {
        ui.label("Add the file to sell in the Storage panel first.");
        return;
    }
    let name = |hash: Option<BlobHash>| {
        hash.and_then(|hash| library.get(hash))
            .map_or_else(|| "choose…".to_owned(), |blob| blob.name.clone())
    };
    egui::Grid::new("market sell").num_columns(2).show(ui, |ui| {
        ui.label("File to sell:");
        egui::ComboBox::from_id_salt("market goods")
            .selected_text(name(panel.offer.goods))
            .show_ui(ui, |ui| {
                for blob in &held {
                    ui.selectable_value(&mut panel.offer.goods, Some(blob.hash), &blob.name);
                }
            });
        ui.end_row();
        ui.label("Picture (shown to all):");
        egui::ComboBox::from_id_salt("market picture")
            .selected_text(match panel.offer.picture {
                None => "none".to_owned(),
                some => name(some),
            })
            .show_ui(ui, |ui| {
                ui.selectable_value(&mut panel.offer.picture, None, "none");
                for blob in &held {
                    ui.selectable_value(&mut panel.offer.picture, Some(blob.hash), &blob.name);
                }
            });
        ui.end_row();
        ui.label("Title:");
        ui.add(egui::TextEdit::singleline(&mut panel.offer.title).char_limit(TITLE_MAX));
        ui.end_row();
        ui.label("Description:");
        ui.text_edit_multiline(&mut panel.offer.description);
        ui.end_row();
        ui.label("Price of one:");
        ui.horizontal(|ui| {
            ui.add(egui::TextEdit::singleline(&mut panel.offer.price).desired_width(100.0));
            let symbol = |token: Option<[u8; 20]>| match token {
                None => account.coin_symbol.clone(),
                Some(contract) => account
                    .tokens
                    .iter()
                    .find(|known| known.contract == contract)
                    .map_or_else(|| "?".into(), |known| known.symbol.clone()),
            };
            egui::ComboBox::from_id_salt("market asset")
                .selected_text(symbol(panel.offer.token))
                .show_ui(ui, |ui| {
                    ui.selectable_value(&mut panel.offer.token, None, &account.coin_symbol);
                    for known in &account.tokens {
                        ui.selectable_value(&mut panel.offer.token, Some(known.contract), &known.symbol);
                    }
                });
        });
        ui.end_row();
        ui.label("How many:");
        ui.add(egui::DragValue::new(&mut panel.offer.quantity).range(1..=1000));
        ui.end_row();
        ui.label("Offered for (hours):");
        ui.add(egui::DragValue::new(&mut panel.offer.hours).range(1..=24 * 31));
        ui.end_row();
    });
    let network = match account.test {
        true => format!("{} (test funds, not real money)", account.network),
        false => account.network.clone(),
    };
    ui.label(format!("Paid to your first account on {network}."));
    let ready = panel.offer.goods.is_some()
        && !panel.offer.title.trim().is_empty()
        && !panel.offer.price.trim().is_empty();
    if ui.add_enabled(ready, egui::Button::new("List it")).clicked() {
        actions.write(MarketAction::Sell(panel.offer.clone()));
        panel.offer.title.clear();
        panel.offer.description.clear();
        panel.offer.price.clear();
    }
}

fn stall(ui: &mut egui::Ui, state: &MarketState, actions: &mut MessageWriter<MarketAction>) {
    let shop = &state.records.shop;
    if shop.listings.is_empty() {
        ui.label("You offer nothing yet: list a file on the Sell page.");
    }
    egui::Grid::new("market stall").striped(true).show(ui, |ui| {
        for listing in &shop.listings {
            ui.label(egui::RichText::new(&listing.title).strong());
            ui.label(listing.price.shown());
            ui.label(format!(
                "{} of {} free",
                shop.available(listing),
                listing.quantity
            ));
            if ui.button("Withdraw").clicked() {
                actions.write(MarketAction::Withdraw(listing.id));
            }
            ui.end_row();
        }
    });
}

fn history(
    ui: &mut egui::Ui,
    state: &MarketState,
    view: &WorldView,
    actions: &mut MessageWriter<MarketAction>,
) {
    let records = &state.records;
    if records.shop.sales.is_empty() && records.purchases.list.is_empty() {
        ui.label("No trades yet.");
    }
    for purchase in records.purchases.list.iter().rev() {
        let (text, done) = match &purchase.state {
            PurchaseState::Ordered => ("ordered, waiting for the seller".to_owned(), false),
            PurchaseState::Accepted { .. } => ("accepted: to pay".to_owned(), false),
            PurchaseState::Paid { .. } => ("paid, waiting for the goods".to_owned(), false),
            PurchaseState::Delivered { .. } => ("delivered, fetching".to_owned(), false),
            PurchaseState::Received { .. } => ("complete: in your storage".to_owned(), true),
            PurchaseState::Refused { reason } => (format!("not bought: {reason}"), true),
        };
        ui.horizontal_wrapped(|ui| {
            ui.label(format!(
                "Bought {} from {} for {}: {text}",
                purchase.listing.title,
                view.name_of(&purchase.seller),
                purchase.listing.price.shown()
            ));
            let waiting = matches!(purchase.state, PurchaseState::Accepted { .. });
            if waiting && !done && !state.paying(purchase.order) && ui.button("Pay").clicked() {
                actions.write(MarketAction::Pay(purchase.order));
            }
        });
    }
    for sale in records.shop.sales.iter().rev() {
        let text = match &sale.state {
            SaleState::AwaitingPayment => "waiting for payment".to_owned(),
            SaleState::Checking { .. } => "checking the payment on chain".to_owned(),
            SaleState::Paid { .. } => "paid, delivering".to_owned(),
            SaleState::Delivered { .. } => "complete: delivered".to_owned(),
            SaleState::Refused { reason } => format!("refused: {reason}"),
        };
        ui.label(format!(
            "Sold {} to {} for {}: {text}",
            sale.title,
            view.name_of(&sale.buyer),
            sale.price.shown()
        ));
    }
}
