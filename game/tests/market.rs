//! The Market app between two clients on loopback and a real local chain: a seller lists
//! a file from storage, it stands on their stall for the buyer, the buyer buys it from
//! the Market panel and confirms the payment in their wallet, the seller's copy checks
//! the payment on chain and delivers the file to the buyer alone, and both histories say
//! the trade is complete. A listing nobody can pay for, and a second Buy of a sold-out
//! listing, change nothing.

use std::path::Path;

use bevy::prelude::*;
use sanctuary::net_bridge::NetMode;
use sanctuary::people::InviteTicket;
use sanctuary_market::{MarketAction, MarketApp, MarketState, StallGoods};
use sanctuary_market_core::{ListingRef, PurchaseState, SaleState};
use sanctuary_plugin_api::{BlobLibrary, BlobRequest, Grants, PeerId, SanctuaryApp, WorldView};
use sanctuary_storage::{StorageAction, StorageApp};
use sanctuary_wallet::{WalletAction, WalletApp, WalletState};
use sanctuary_wallet_core::{Address, Chain, LocalChain, Secret, parse_amount};

mod common;
use common::{folder, networked_client, run_until};

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

    let mut seller = networked_client("market", &seller_dir, NetMode::Host);
    run_until(&mut [&mut seller], "the seller's ticket", |apps| {
        apps[0].world().resource::<InviteTicket>().0.is_some()
    });
    let ticket = seller.world().resource::<InviteTicket>().0.clone().unwrap();
    let mut buyer = networked_client("market", &buyer_dir, NetMode::Join(ticket.parse().unwrap()));
    let apps = &mut [&mut seller, &mut buyer];
    run_until(apps, "both online, seeing each other", |apps| {
        apps.iter().all(|app| {
            let view = app.world().resource::<WorldView>();
            view.online && !view.people.is_empty() && library(app).online
        })
    });
    let seller_address = make_wallet(apps, 0);
    let buyer_address = make_wallet(apps, 1);
    let ten = parse_amount("10", 18).unwrap();
    let _: () = runtime
        .block_on(chain.raw("anvil_setBalance", (buyer_address, ten)))
        .unwrap();

    // The seller adds a file to storage and lists it for 0.5, once the market knows
    // where they are paid.
    let goods_path = seller_dir.join("field-recording.ogg");
    let goods_bytes: Vec<u8> = (0..300_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(&goods_path, &goods_bytes).unwrap();
    apps[0]
        .world_mut()
        .write_message(StorageAction::Request(BlobRequest::AddFile(goods_path)));
    run_until(apps, "the goods in storage and the seller's account", |apps| {
        !library(apps[0]).blobs.is_empty() && market(apps[0]).account.is_some()
    });
    let goods = library(&*apps[0]).blobs[0].hash;
    assert_eq!(
        market(&*apps[0]).account.as_ref().unwrap().address,
        seller_address.into_array()
    );
    let sell = |price: &str, title: &str| MarketAction::Sell {
        goods,
        picture: None,
        title: title.into(),
        description: "Rain on the market roof, 3 minutes".into(),
        price: price.into(),
        token: None,
        quantity: 1,
        hours: 2,
    };
    apps[0].world_mut().write_message(sell("nothing", "Rain"));
    run_until(apps, "the bad price refused", |apps| {
        market(apps[0])
            .message
            .as_ref()
            .is_some_and(|(text, problem)| *problem && text.contains("not listed"))
    });
    assert!(market(&*apps[0]).records.shop.listings.is_empty());
    apps[0].world_mut().write_message(sell("0.5", "Rain on the roof"));

    // It reaches the buyer's Market panel and stands on the seller's stall there.
    let seller_id = me(&*apps[0]);
    run_until(apps, "the listing on the buyer's side", |apps| {
        !market(apps[1]).book.search("rain").is_empty()
    });
    let (reference, listing) = market(&*apps[1]).book.search("roof")[0];
    let reference: ListingRef = reference;
    assert_eq!(reference.seller, seller_id);
    assert_eq!(listing.price.shown(), "0.5 ETH");
    assert_eq!(listing.goods, Some(goods));
    run_until(apps, "the goods on the stall", |apps| {
        !stall_goods(apps[1]).is_empty()
    });
    let on_stall = stall_goods(apps[1]);
    assert_eq!(
        (on_stall.len(), on_stall[0].listing, on_stall[0].stall.as_str()),
        (1, reference, "stall_05")
    );

    // The buyer buys; the payment waits for them in their wallet, where they see what is
    // signed and confirm it.
    apps[1].world_mut().write_message(MarketAction::Buy(reference));
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

    // Both keep the trade in the records on disk.
    let records = |dir: &Path| std::fs::read_to_string(dir.join("apps/market/market.json")).unwrap();
    assert!(records(&buyer_dir).contains("Received"));
    assert!(records(&seller_dir).contains("Delivered"));
    drop(seller);
    drop(buyer);
    runtime.block_on(local.stop());
}
