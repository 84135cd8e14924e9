//! The Market app between two clients on loopback and a real local chain, driven through
//! its panel as a person would: a seller lists files from storage (one by filling in the
//! Sell page: file, picture, title, description, price, List it), they stand on the
//! seller's stall for the buyer, the seller withdraws one from their stall page, the buyer
//! finds the other by a word typed in the Market panel's search and presses Buy, confirms
//! the payment in their wallet, the seller's copy checks the payment on chain and delivers
//! the file to the buyer alone, and both History pages say the trade is complete. A
//! price that is not a number, bytes that are no market message, a listing sent to one
//! person alone, and a second Buy of a sold-out listing change nothing.

use std::path::Path;

use bevy::ecs::system::RunSystemOnce;
use bevy::prelude::*;
use sanctuary_market::{MarketAction, MarketApp, MarketState, Offer, StallGoods, StallPictures};
use sanctuary_market_core::{ListingRef, MarketMessage, PurchaseState, SaleState};
use sanctuary_plugin_api::{
    AppMessages, BlobLibrary, BlobRequest, Grants, KnownToken, PaymentAccount, PeerId, SanctuaryApp,
    WorldView, egui,
};
use sanctuary_storage::{StorageAction, StorageApp};
use sanctuary_wallet::{WalletAction, WalletApp, WalletState};
use sanctuary_wallet_core::{Address, Chain, LocalChain, Secret, parse_amount};

mod common;
use common::{PanelView, Shown, folder, host_and_guest, run_until};

const PASSPHRASE: &str = "market day passphrase";

/// A data folder whose person allows the wallet, storage and market apps everything, on
/// the chain at `rpc`.
fn prepare(dir: &Path, rpc: &str) {
    let wallet_dir = dir.join("apps/wallet");
    std::fs::create_dir_all(&wallet_dir).unwrap();
    let network =
        format!(r#"[{{"name": "test chain", "chain_id": 31337, "rpc_url": "{rpc}", "test": true}}]"#);
    std::fs::write(wallet_dir.join("networks.json"), network).unwrap();
    let mut grants = Grants::load(dir);
    for manifest in [WalletApp::MANIFEST, StorageApp::MANIFEST, MarketApp::MANIFEST] {
        for permission in manifest.permissions {
            grants.grant(manifest.name, permission);
        }
    }
    grants.save().unwrap();
}

fn market(app: &App) -> &MarketState {
    app.world().resource::<MarketState>()
}

fn wallet(app: &App) -> &WalletState {
    app.world().resource::<WalletState>()
}

fn library(app: &App) -> &BlobLibrary {
    app.world().resource::<BlobLibrary>()
}

fn me(app: &App) -> PeerId {
    app.world().resource::<WorldView>().me.unwrap()
}

fn stall_goods(app: &mut App) -> Vec<StallGoods> {
    let mut query = app.world_mut().query::<&StallGoods>();
    query.iter(app.world()).cloned().collect()
}

fn shows(shown: &Shown, what: &str) -> bool {
    shown.iter().any(|(text, _)| text.contains(what))
}

/// A PNG picture of `width` x `height` pixels.
fn png(width: u32, height: u32) -> Vec<u8> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, width, height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let pixels: Vec<u8> = (0..width * height)
        .flat_map(|i| [(i * 7) as u8, 120, 200])
        .collect();
    let mut writer = encoder.write_header().unwrap();
    writer.write_image_data(&pixels).unwrap();
    writer.finish().unwrap();
    out
}

/// Makes the person's wallet and notes its words as backed up; returns its address.
fn make_wallet(apps: &mut [&mut App], index: usize) -> Address {
    apps[index].world_mut().write_message(WalletAction::Create {
        passphrase: Secret::new(PASSPHRASE),
    });
    run_until(apps, "a new wallet", |apps| {
        wallet(apps[index]).words.is_some() && wallet(apps[index]).snapshot.network.is_some()
    });
    apps[index].world_mut().write_message(WalletAction::ConfirmBackup);
    wallet(apps[index]).snapshot.accounts[0].address
}

#[test]
fn a_file_sold_on_a_stall_is_paid_on_chain_and_delivered_to_its_buyer_alone() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let local = runtime.block_on(LocalChain::start(None)).unwrap();
    let chain = runtime.block_on(Chain::probe(local.rpc_url())).unwrap();
    let (seller_dir, buyer_dir) = (folder("market-seller"), folder("market-buyer"));
    prepare(&seller_dir, local.rpc_url());
    prepare(&buyer_dir, local.rpc_url());

    let (mut seller, mut buyer) = host_and_guest("market", &seller_dir, &buyer_dir);
    let apps = &mut [&mut seller, &mut buyer];
    run_until(apps, "storage online on both", |apps| {
        apps.iter().all(|app| library(app).online)
    });
    let seller_address = make_wallet(apps, 0);
    let buyer_address = make_wallet(apps, 1);
    let ten = parse_amount("10", 18).unwrap();
    let _: () = runtime
        .block_on(chain.raw("anvil_setBalance", (buyer_address, ten)))
        .unwrap();

    // The seller adds a file and a picture of it to storage and lists it for 0.5, once the
    // market knows where they are paid.
    let cover_path = seller_dir.join("cover.png");
    std::fs::write(&cover_path, png(24, 16)).unwrap();
    apps[0]
        .world_mut()
        .write_message(StorageAction::Request(BlobRequest::AddFile(cover_path)));
    let goods_path = seller_dir.join("field-recording.ogg");
    let goods_bytes: Vec<u8> = (0..300_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(&goods_path, &goods_bytes).unwrap();
    apps[0]
        .world_mut()
        .write_message(StorageAction::Request(BlobRequest::AddFile(goods_path)));
    run_until(apps, "the goods in storage and the seller's account", |apps| {
        library(apps[0]).blobs.iter().filter(|blob| blob.complete).count() == 2
            && market(apps[0]).account.is_some()
    });
    let held = |name: &str| {
        library(&*apps[0])
            .blobs
            .iter()
            .find(|blob| blob.name == name)
            .unwrap()
            .hash
    };
    let (goods, cover) = (held("field-recording.ogg"), held("cover.png"));
    assert_eq!(
        market(&*apps[0]).account.as_ref().unwrap().address,
        seller_address.into_array()
    );
    let sell = |price: &str, title: &str| {
        MarketAction::Sell(Offer {
            goods: Some(goods),
            picture: (title != "Thunder").then_some(cover),
            title: title.into(),
            description: "Rain on the market roof, 3 minutes".into(),
            price: price.into(),
            token: None,
            quantity: 1,
            hours: 2,
        })
    };
    apps[0].world_mut().write_message(sell("nothing", "Rain"));
    run_until(apps, "the bad price refused", |apps| {
        market(apps[0])
            .message
            .as_ref()
            .is_some_and(|(text, problem)| *problem && text.contains("not listed"))
    });
    assert!(market(&*apps[0]).records.shop.listings.is_empty());
    // The first through the Sell page, as a person fills it in; the second at once.
    let seller_panel = PanelView::app(&*apps[0], "market");
    seller_panel.click(apps[0], "Browse", "Sell");
    seller_panel.click(apps[0], "File to sell:", "choose…");
    seller_panel.click_text(apps[0], "field-recording.ogg");
    seller_panel.click(apps[0], "Picture (shown to all):", "none");
    seller_panel.click_text(apps[0], "cover.png");
    let fields = seller_panel.left_of(apps[0], "field-recording.ogg");
    seller_panel.click_row_at(apps[0], "Title:", fields);
    seller_panel.type_text(apps[0], "Rain on the roof");
    seller_panel.click_row_at(apps[0], "Description:", fields);
    seller_panel.type_text(apps[0], "Rain on the market roof, 3 minutes");
    seller_panel.click_row_at(apps[0], "Price of one:", fields);
    seller_panel.type_text(apps[0], "0.5");
    seller_panel.click_text(apps[0], "List it");
    run_until(apps, "the listing in the seller's shop", |apps| {
        market(apps[0]).records.shop.listings.len() == 1
    });
    let listed = market(&*apps[0]).records.shop.listings[0].clone();
    assert_eq!(
        (
            listed.title.as_str(),
            listed.goods,
            listed.picture,
            listed.price.shown(),
            listed.quantity
        ),
        (
            "Rain on the roof",
            Some(goods),
            Some(cover),
            "0.5 ETH".to_owned(),
            1
        )
    );
    assert_eq!(listed.description, "Rain on the market roof, 3 minutes");
    // Offered for the form's week.
    let week_ms = 7 * 24 * 3600 * 1000;
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    assert!((now_ms + week_ms - 60_000..=now_ms + week_ms).contains(&listed.expires_ms));
    // Its panel has its place in the Market.
    assert!(apps[0].world().resource::<WorldView>().anchor("market").is_some());
    apps[0].world_mut().write_message(sell("0.2", "Thunder"));

    // Both reach the buyer's Market panel and stand on the seller's stall there.
    let seller_id = me(&*apps[0]);
    run_until(apps, "the listings on the buyer's side", |apps| {
        market(apps[1]).book.search("").len() == 2
    });
    let (reference, listing) = market(&*apps[1]).book.search("roof")[0];
    let reference: ListingRef = reference;
    assert_eq!(reference.seller, seller_id);
    assert_eq!(listing.price.shown(), "0.5 ETH");
    assert_eq!(listing.goods, Some(goods));
    let listing_copy = listing.clone();
    run_until(apps, "the goods on the stall", |apps| {
        stall_goods(apps[1]).len() == 2
    });
    let on_stall = stall_goods(apps[1]);
    assert!(
        on_stall.iter().all(|goods| goods.stall == "stall_05"),
        "{on_stall:?}"
    );
    assert!(on_stall.iter().any(|goods| goods.listing == reference));
    // Its picture, fetched from the seller, stands above it.
    run_until(apps, "the picture above the goods", |apps| {
        stall_goods(apps[1])
            .iter()
            .any(|goods| goods.listing == reference && goods.picture == Some(cover))
    });
    assert!(apps[1].world().resource::<StallPictures>().is_shown(cover));
    assert!(
        library(&*apps[0]).get(cover).unwrap().serving,
        "a listing's picture is served to all"
    );

    // Bytes that are no market message, and a listing sent privately (listings are shown
    // to all, so that every copy sees the same): each refused by the seller's copy, and
    // the stall is as it was.
    let refused = market(&*apps[0]).refused;
    let seller_id_copy = seller_id;
    apps[1]
        .world_mut()
        .run_system_once(move |mut messages: AppMessages<MarketApp>| {
            messages.send(vec![0xFF; 40]).unwrap();
            let forged = MarketMessage::Listing(Box::new(listing_copy.clone()));
            messages
                .send_to(seller_id_copy, forged.encode().unwrap())
                .unwrap();
        })
        .unwrap();
    run_until(apps, "the seller's copy to refuse both", |apps| {
        market(apps[0]).refused >= refused + 2
    });
    assert!(market(&*apps[0]).records.shop.sales.is_empty());
    assert_eq!(market(&*apps[0]).records.shop.listings.len(), 2);

    // The seller withdraws one from their stall page; it leaves the buyer's side.
    seller_panel.click(apps[0], "Sell", "My stall");
    assert!(shows(&seller_panel.shown(apps[0]), "Thunder"));
    seller_panel.click(apps[0], "Thunder", "Withdraw");
    run_until(apps, "the withdrawn listing gone", |apps| {
        market(apps[1]).book.search("").len() == 1 && stall_goods(apps[1]).len() == 1
    });
    assert_eq!(market(&*apps[0]).records.shop.listings.len(), 1);

    // The buyer finds it by a word in their Market panel and presses Buy there.
    let buyer_panel = PanelView::app(&*apps[1], "market");
    let browse = buyer_panel.shown(apps[1]);
    assert!(
        shows(&browse, "Rain on the roof") && shows(&browse, "0.5 ETH"),
        "{browse:?}"
    );
    buyer_panel.click_right_of(apps[1], "Search:");
    buyer_panel.type_text(apps[1], "zebra");
    assert!(shows(&buyer_panel.shown(apps[1]), "Nothing matches."));
    let backspace = egui::Event::Key {
        key: egui::Key::Backspace,
        physical_key: None,
        pressed: true,
        repeat: false,
        modifiers: egui::Modifiers::default(),
    };
    buyer_panel.frame(apps[1], vec![backspace; 5]);
    buyer_panel.type_text(apps[1], "roof");
    let found = buyer_panel.shown(apps[1]);
    assert!(
        shows(&found, "Rain on the roof") && !shows(&found, "Nothing matches."),
        "{found:?}"
    );
    buyer_panel.click(apps[1], "Rain on the roof", "Buy");

    // The payment waits for them in their wallet, where they see what is signed and
    // confirm it.
    run_until(apps, "the payment request in the buyer's wallet", |apps| {
        wallet(apps[1]).requests.len() == 1
    });
    assert!(wallet(&*apps[1]).requests[0].memo.contains("Rain on the roof"));
    apps[1]
        .world_mut()
        .write_message(WalletAction::ReviewRequest { account: 0 });
    run_until(apps, "the plan to sign", |apps| wallet(apps[1]).plan.is_some());
    let plan = wallet(&*apps[1]).plan.clone().unwrap().plan;
    assert_eq!(
        (plan.to, plan.value),
        (seller_address, parse_amount("0.5", 18).unwrap())
    );
    apps[1].world_mut().write_message(WalletAction::Confirm {
        passphrase: Some(Secret::new(PASSPHRASE)),
    });

    // The seller's copy checks the chain and delivers; the buyer's fetches by hash.
    run_until(apps, "the trade complete on both sides", |apps| {
        let bought = market(apps[1]).records.purchases.list.iter().any(
            |purchase| matches!(purchase.state, PurchaseState::Received { goods: got, .. } if got == goods),
        );
        let sold = market(apps[0])
            .records
            .shop
            .sales
            .iter()
            .any(|sale| matches!(sale.state, SaleState::Delivered { .. }));
        bought && sold
    });
    // Both History pages say so.
    seller_panel.click(apps[0], "Sell", "History");
    buyer_panel.click(apps[1], "Browse", "History");
    let (sold, bought) = (seller_panel.shown(apps[0]), buyer_panel.shown(apps[1]));
    assert!(
        shows(&sold, "Sold Rain on the roof") && shows(&sold, "complete: delivered"),
        "{sold:?}"
    );
    assert!(
        shows(&bought, "Bought Rain on the roof") && shows(&bought, "complete: in your storage"),
        "{bought:?}"
    );
    let copy = library(&*apps[1]).get(goods).cloned().unwrap();
    assert!(copy.complete && copy.pinned, "{copy:?}");
    assert_eq!(copy.size, goods_bytes.len() as u64);
    assert_eq!(
        runtime.block_on(chain.balance(seller_address)).unwrap(),
        parse_amount("0.5", 18).unwrap(),
        "the seller was paid the price, once"
    );
    // The goods were served to the buyer alone, never to the whole world.
    assert!(!library(&*apps[0]).get(goods).unwrap().serving);

    // Sold out: the listing leaves the buyer's panel and the stall, and a second Buy
    // orders nothing.
    run_until(apps, "the sold-out listing withdrawn", |apps| {
        market(apps[1]).book.search("roof").is_empty() && stall_goods(apps[1]).is_empty()
    });
    assert!(market(&*apps[0]).records.shop.listings.is_empty());
    apps[1].world_mut().write_message(MarketAction::Buy(reference));
    run_until(apps, "the second Buy refused", |apps| {
        market(apps[1])
            .message
            .as_ref()
            .is_some_and(|(text, problem)| *problem && text.contains("no longer offered"))
    });
    assert_eq!(market(&*apps[1]).records.purchases.list.len(), 1);

    // A price in a token the seller's wallet knows; one it does not know is refused.
    let token = [0x70; 20];
    let account = market(&*apps[0]).account.clone().unwrap();
    apps[0].world_mut().resource_mut::<MarketState>().account = Some(PaymentAccount {
        tokens: vec![KnownToken {
            contract: token,
            symbol: "TST".into(),
            decimals: 6,
        }],
        ..account
    });
    let in_token = |contract| {
        MarketAction::Sell(Offer {
            goods: Some(goods),
            title: "Lantern light".into(),
            price: "1.5".into(),
            token: Some(contract),
            ..Offer::default()
        })
    };
    apps[0].world_mut().write_message(in_token([0x71; 20]));
    run_until(apps, "the unknown token refused", |apps| {
        market(apps[0])
            .message
            .as_ref()
            .is_some_and(|(text, problem)| *problem && text.contains("does not know that token"))
    });
    apps[0].world_mut().write_message(in_token(token));
    run_until(apps, "the token price on the buyer's side", |apps| {
        market(apps[1])
            .book
            .search("lantern")
            .first()
            .is_some_and(|(_, listing)| listing.price.shown() == "1.5 TST")
    });

    // Both keep the trade in the records on disk.
    let records = |dir: &Path| std::fs::read_to_string(dir.join("apps/market/market.json")).unwrap();
    assert!(records(&buyer_dir).contains("Received"));
    assert!(records(&seller_dir).contains("Delivered"));
    drop(seller);
    drop(buyer);
    runtime.block_on(local.stop());
}
