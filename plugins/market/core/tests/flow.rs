//! The trade's rules, buyer and seller together, with the chain's answers given by hand
//! (the real chain is in `sanctuary-node`'s market test).

use sanctuary_market_core::{
    Listing, ListingId, ListingRef, MarketBook, MarketError, MarketMessage, MarketRecords, OrderId,
    PAY_WITHIN_MS, Price, PurchaseState, PurchaseStep, Purchases, SaleState, SaleStep, Shop,
};
use sanctuary_protocols::{BlobHash, PeerId};
use sanctuary_wallet_core::{Address, Asset, PaymentCheck, U256};

const NOW: u64 = 1_700_000_000_000;
const HOUR: u64 = 3600 * 1000;

fn peer(n: u8) -> PeerId {
    PeerId::from_bytes([n; 32])
}

fn goods() -> BlobHash {
    BlobHash::from_bytes([7; 32])
}

fn listing(quantity: u32) -> Listing {
    Listing {
        id: ListingId(0xfeed),
        title: "Lobby soundtrack".into(),
        description: "Twelve songs for a tall room".into(),
        picture: None,
        goods: Some(goods()),
        price: Price::new(
            31337,
            &Asset::Native { symbol: "ETH".into() },
            U256::from(250u64),
            Address::repeat_byte(0x5e),
        ),
        quantity,
        expires_ms: NOW + HOUR,
    }
}

fn order_of(message: &MarketMessage) -> OrderId {
    match message {
        MarketMessage::Order { order, .. } => *order,
        other => panic!("not an order: {other:?}"),
    }
}

#[test]
fn a_trade_goes_from_order_to_goods_received_and_sells_one_unit() {
    let (seller, buyer) = (peer(1), peer(2));
    let mut shop = Shop::default();
    shop.list(listing(2), NOW).unwrap();

    // The buyer hears the listing and finds it by a word of its description.
    let mut book = MarketBook::default();
    book.learn(seller, shop.live(NOW).next().unwrap().clone(), NOW)
        .unwrap();
    let found = book.search("TALL room");
    assert_eq!(found.len(), 1);
    let (reference, heard) = found[0];
    assert_eq!(reference.to_string().parse::<ListingRef>().unwrap(), reference);
    assert!(book.search("guitar").is_empty());

    let mut purchases = Purchases::default();
    let order_message = purchases.order(seller, heard, NOW).unwrap();
    let order = order_of(&order_message);

    let accepted = shop.take_order(buyer, order, reference.id, NOW);
    assert!(matches!(accepted, MarketMessage::Accepted { .. }), "{accepted:?}");
    assert_eq!(
        shop.available(&shop.listings[0]),
        1,
        "one unit kept for the buyer"
    );
    assert_eq!(
        purchases.on_message(seller, &accepted, NOW),
        PurchaseStep::Pay { order }
    );

    let transaction = [0xab; 32];
    let paid = purchases.paid(order, transaction).unwrap();
    let MarketMessage::Paid {
        transaction: claimed, ..
    } = paid
    else {
        panic!("{paid:?}")
    };
    assert_eq!(shop.take_payment(buyer, order, claimed, NOW), Ok(None));
    let checks = shop.payments_to_check(1);
    assert_eq!(checks.len(), 1);
    let (checked_order, hash, expected) = &checks[0];
    assert_eq!((*checked_order, hash.0), (order, transaction));
    assert_eq!(
        expected.reference,
        order.0.to_vec(),
        "the payment must name the order"
    );
    assert_eq!(
        (expected.to, expected.value),
        (Address::repeat_byte(0x5e), U256::from(250u64))
    );

    // Not confirmed yet: wait. Then paid: deliver.
    assert_eq!(
        shop.payment_checked(order, PaymentCheck::Waiting { confirmations: 0 }, NOW),
        SaleStep::Wait
    );
    let step = shop.payment_checked(
        order,
        PaymentCheck::Paid {
            from: Address::repeat_byte(1),
            block: 3,
        },
        NOW,
    );
    assert_eq!(
        step,
        SaleStep::Deliver {
            order,
            buyer,
            goods: goods()
        }
    );
    assert_eq!(
        shop.deliveries_due().len(),
        1,
        "a restart before delivery delivers again"
    );
    let told = shop.delivered(order, NOW);
    assert!(
        matches!(told, Some(MarketMessage::Listing(ref l)) if l.quantity == 1),
        "{told:?}"
    );
    assert_eq!(shop.delivered(order, NOW), None);
    assert_eq!(shop.listings[0].quantity, 1, "one unit sold, once");
    assert!(matches!(shop.sales[0].state, SaleState::Delivered { .. }));

    let delivered = MarketMessage::Delivered {
        order,
        ticket: "blobticket".into(),
    };
    // Only the seller's delivery counts.
    assert_eq!(
        purchases.on_message(peer(9), &delivered, NOW),
        PurchaseStep::Nothing
    );
    assert_eq!(
        purchases.on_message(seller, &delivered, NOW),
        PurchaseStep::Fetch {
            order,
            ticket: "blobticket".into(),
            goods: Some(goods())
        }
    );
    purchases.received(order, goods());
    assert!(matches!(
        purchases.get(order).unwrap().state,
        PurchaseState::Received { .. }
    ));

    // A buyer who lost the goods claims the same payment again and gets them again,
    // without another unit sold.
    let again = shop.take_payment(buyer, order, transaction, NOW).unwrap();
    assert!(matches!(again, Some(SaleStep::Deliver { .. })));
    assert_eq!(shop.delivered(order, NOW), None);
    assert_eq!(shop.listings[0].quantity, 1);

    // Both sides keep it across a restart.
    let dir = std::env::temp_dir().join(format!("sanctuary-market-flow-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let records = MarketRecords { shop, purchases };
    records.save(&dir).unwrap();
    assert_eq!(MarketRecords::load(&dir).unwrap(), (records, None));
}

#[test]
fn replayed_orders_and_reused_payments_are_refused() {
    let (seller, buyer, thief) = (peer(1), peer(2), peer(3));
    let mut shop = Shop::default();
    shop.list(listing(5), NOW).unwrap();
    let mut purchases = Purchases::default();
    let order = order_of(&purchases.order(seller, &listing(5), NOW).unwrap());

    let first = shop.take_order(buyer, order, ListingId(0xfeed), NOW);
    // The same order again (a retry) gets the same answer and keeps no second unit.
    assert_eq!(shop.take_order(buyer, order, ListingId(0xfeed), NOW), first);
    assert_eq!(shop.available(&shop.listings[0]), 4);
    // Someone else replaying the order id is refused.
    let replayed = shop.take_order(thief, order, ListingId(0xfeed), NOW);
    assert!(matches!(&replayed, MarketMessage::Refused { reason, .. } if reason.contains("already used")));
    // And cannot claim a payment for it.
    assert!(shop.take_payment(thief, order, [1; 32], NOW).is_err());

    shop.take_payment(buyer, order, [1; 32], NOW).unwrap();
    // A second order cannot be paid by the first order's transaction.
    let second = OrderId([2; 16]);
    shop.take_order(buyer, second, ListingId(0xfeed), NOW);
    let reused = shop.take_payment(buyer, second, [1; 32], NOW).unwrap_err();
    assert!(reused.contains("another order"), "{reused}");
}

#[test]
fn a_wrong_payment_is_refused_and_frees_the_unit() {
    let (seller, buyer) = (peer(1), peer(2));
    let mut shop = Shop::default();
    shop.list(listing(1), NOW).unwrap();
    let order = OrderId([5; 16]);
    shop.take_order(buyer, order, ListingId(0xfeed), NOW);
    // Sold out while the unit is kept.
    let late = shop.take_order(peer(4), OrderId([6; 16]), ListingId(0xfeed), NOW);
    assert!(matches!(&late, MarketMessage::Refused { reason, .. } if reason == "sold out"));

    shop.take_payment(buyer, order, [9; 32], NOW).unwrap();
    let step = shop.payment_checked(
        order,
        PaymentCheck::Wrong("it pays 0.1 ETH, not 0.25".into()),
        NOW,
    );
    let SaleStep::Tell { buyer: told, message } = step else {
        panic!("{step:?}")
    };
    assert_eq!(told, buyer);
    assert!(matches!(&message, MarketMessage::Refused { reason, .. } if reason.contains("not 0.25")));
    assert_eq!(shop.available(&shop.listings[0]), 1, "the unit is offered again");

    // The buyer hears why.
    let mut purchases = Purchases::default();
    purchases.order(seller, &listing(1), NOW).unwrap();
    let mine = purchases.list[0].order;
    purchases.list[0].state = PurchaseState::Paid { transaction: [9; 32] };
    let refusal = MarketMessage::Refused {
        order: mine,
        reason: "payment refused: it pays 0.1 ETH, not 0.25".into(),
    };
    purchases.on_message(seller, &refusal, NOW);
    assert!(purchases.list[0].state.is_finished());
    assert!(
        matches!(&purchases.list[0].state, PurchaseState::Refused { reason } if reason.contains("not 0.25") && reason.contains("paid by 0x0909"))
    );
}

#[test]
fn unpaid_orders_expire_and_a_payment_never_confirmed_is_given_up() {
    let buyer = peer(2);
    let mut shop = Shop::default();
    shop.list(listing(1), NOW).unwrap();
    shop.take_order(buyer, OrderId([1; 16]), ListingId(0xfeed), NOW);
    let told = shop.expire(NOW + PAY_WITHIN_MS + 1);
    assert_eq!(told.len(), 1);
    assert_eq!(shop.available(&shop.listings[0]), 1);
    let paid_late = shop.take_payment(buyer, OrderId([1; 16]), [3; 32], NOW + PAY_WITHIN_MS + 2);
    assert!(paid_late.is_err(), "an expired order is not paid");

    shop.take_order(buyer, OrderId([2; 16]), ListingId(0xfeed), NOW);
    shop.take_payment(buyer, OrderId([2; 16]), [4; 32], NOW).unwrap();
    let much_later = NOW + PAY_WITHIN_MS + sanctuary_market_core::CONFIRM_WITHIN_MS + 1;
    let step = shop.payment_checked(
        OrderId([2; 16]),
        PaymentCheck::Waiting { confirmations: 0 },
        much_later,
    );
    assert!(matches!(step, SaleStep::Tell { .. }), "{step:?}");
}

#[test]
fn the_buyer_pays_only_the_listed_price_to_the_seller_who_listed_it() {
    let seller = peer(1);
    let mut purchases = Purchases::default();
    let order = order_of(&purchases.order(seller, &listing(1), NOW).unwrap());
    let mut dearer = listing(1).price;
    dearer.amount = U256::from(9999u64).to_be_bytes();
    let accepted = MarketMessage::Accepted {
        order,
        price: dearer,
        pay_by_ms: NOW + PAY_WITHIN_MS,
    };
    // Someone else's acceptance is not heard at all.
    assert_eq!(
        purchases.on_message(peer(8), &accepted, NOW),
        PurchaseStep::Nothing
    );
    assert!(matches!(
        purchases.get(order).unwrap().state,
        PurchaseState::Ordered
    ));
    // The seller's, at another price, is refused: nothing is paid.
    assert_eq!(
        purchases.on_message(seller, &accepted, NOW),
        PurchaseStep::Nothing
    );
    assert!(
        matches!(&purchases.get(order).unwrap().state, PurchaseState::Refused { reason } if reason.contains("rather than the listed"))
    );
}

#[test]
fn forged_expired_and_broken_listings_are_refused() {
    let (seller, other) = (peer(1), peer(2));
    let mut book = MarketBook::default();
    let mut expired = listing(1);
    expired.expires_ms = NOW - 1;
    assert_eq!(book.learn(seller, expired, NOW), Err(MarketError::Expired));
    let mut free = listing(1);
    free.price.amount = [0; 32];
    assert!(matches!(
        book.learn(seller, free, NOW),
        Err(MarketError::BadListing(_))
    ));
    let mut forever = listing(1);
    forever.expires_ms = NOW + 400 * 24 * HOUR;
    assert!(matches!(
        book.learn(seller, forever, NOW),
        Err(MarketError::BadListing(_))
    ));
    let mut shouting = listing(1);
    shouting.title = "x".repeat(sanctuary_market_core::TITLE_MAX + 1);
    assert!(book.learn(seller, shouting, NOW).is_err());

    // A listing is its sender's: another peer publishing the same id makes their own,
    // and cannot withdraw the seller's.
    book.learn(seller, listing(1), NOW).unwrap();
    book.learn(other, listing(3), NOW).unwrap();
    book.withdraw(other, ListingId(0xfeed));
    let theirs = ListingRef {
        seller,
        id: ListingId(0xfeed),
    };
    assert_eq!(book.get(theirs).unwrap().quantity, 1);
    assert_eq!(book.search("").len(), 1);
    // Expired listings leave the book.
    book.expire(NOW + 2 * HOUR);
    assert!(book.get(theirs).is_none());

    assert!("nonsense".parse::<ListingRef>().is_err());
}

#[test]
fn unreadable_records_are_set_aside_and_the_market_starts_empty() {
    let dir = std::env::temp_dir().join(format!("sanctuary-market-broken-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("market.json"), b"{ not json").unwrap();
    let (records, note) = MarketRecords::load(&dir).unwrap();
    assert_eq!(records, MarketRecords::default());
    assert!(note.unwrap().contains("kept as"));
    let kept: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
    assert_eq!(kept.len(), 1, "the unreadable file is kept aside");
}

#[test]
fn goods_other_than_listed_are_not_taken() {
    let seller = peer(1);
    let mut purchases = Purchases::default();
    let order = order_of(&purchases.order(seller, &listing(1), NOW).unwrap());
    purchases.list[0].state = PurchaseState::Paid { transaction: [1; 32] };
    let delivered = MarketMessage::Delivered {
        order,
        ticket: "a ticket for other bytes".into(),
    };
    assert!(matches!(
        purchases.on_message(seller, &delivered, NOW),
        PurchaseStep::Fetch { .. }
    ));
    let other = BlobHash::from_bytes([8; 32]);
    assert!(matches!(
        purchases.accept_delivery(order, other),
        Err(MarketError::WrongGoods(_))
    ));
    assert!(
        matches!(&purchases.get(order).unwrap().state, PurchaseState::Refused { reason } if reason.contains("not the listed"))
    );
    assert_eq!(
        purchases.received(order, other),
        None,
        "no receipt for goods not taken"
    );

    let mut fresh = Purchases::default();
    let order = order_of(&fresh.order(seller, &listing(1), NOW).unwrap());
    assert_eq!(fresh.accept_delivery(order, goods()), Ok(()));
}
