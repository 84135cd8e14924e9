//! The market app's systems: the person's actions, others' messages, the wallet's and the
//! store's answers, and the clock (republishing, checking payments, reminding).
//!
//! Everything that decides something lives in `sanctuary-market-core` ([`Shop`] for the
//! seller, [`Purchases`] for the buyer); these systems only carry its messages and steps
//! to the world, the wallet and the store, and keep the records.

use std::collections::{HashMap, HashSet, VecDeque};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bevy::prelude::*;
use sanctuary_market_core::{
    Listing, ListingId, ListingRef, MarketBook, MarketMessage, MarketRecords, OrderId, Price, PurchaseState,
    PurchaseStep, RECORDS_FILE, SaleStep,
};
use sanctuary_plugin_api::prelude::*;
use sanctuary_plugin_api::{PaymentAccount, PaymentTerms, PaymentVerdict, PeerId};
use sanctuary_wallet_core::{Address, Asset, PaymentCheck, parse_amount};

use crate::MarketApp;
use crate::pictures::StallPictures;

/// Blocks that must hold a payment before the goods go.
const CONFIRMATIONS: u64 = 1;
/// How often the clock runs.
const TICK: Duration = Duration::from_secs(1);
/// How often a seller shows their listings to the world again.
const REPUBLISH: Duration = Duration::from_secs(10);
/// How soon after someone arrives the listings are shown again.
const ARRIVAL_SHOWING: Duration = Duration::from_millis(500);
/// Listings published per tick at most (each is one message of the app's budget).
const PUBLISH_PER_TICK: usize = 3;
/// How often a buyer repeats an unanswered order or a payment whose goods have not come,
/// and fetches undelivered goods again.
const REMIND: Duration = Duration::from_secs(10);
/// How often the wallet is asked where the person is paid, while it has no answer.
const ASK_ACCOUNT: Duration = Duration::from_secs(3);
/// How often it is asked again once it answered (the person may change network).
const REFRESH_ACCOUNT: Duration = Duration::from_secs(30);

/// What a seller fills in to offer a file held in storage (the Sell page's form).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offer {
    /// The goods: the blob buyers receive.
    pub goods: Option<BlobHash>,
    /// A picture of it, held in storage (served to everyone).
    pub picture: Option<BlobHash>,
    /// What it is.
    pub title: String,
    /// More about it.
    pub description: String,
    /// The price of one, in whole units: "0.25".
    pub price: String,
    /// Priced in this token (one the wallet knows) rather than the network's coin.
    pub token: Option<[u8; 20]>,
    /// How many.
    pub quantity: u32,
    /// Offered for this many hours.
    pub hours: u64,
}

impl Default for Offer {
    fn default() -> Self {
        Self {
            goods: None,
            picture: None,
            title: String::new(),
            description: String::new(),
            price: String::new(),
            token: None,
            quantity: 1,
            hours: 24 * 7,
        }
    }
}

/// Something the person does in the market (from the panel, or a test).
#[derive(Message, Debug, Clone, PartialEq, Eq)]
pub enum MarketAction {
    /// Offer a file held in storage.
    Sell(Offer),
    /// Stop offering one of the person's listings.
    Withdraw(ListingId),
    /// Buy one unit of someone's listing.
    Buy(ListingRef),
    /// Pay for an order the seller accepted whose payment was not asked for or not made
    /// (the client stopped in between).
    Pay(OrderId),
}

/// What a wallet request of this app was for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WalletAsk {
    Account,
    Pay(OrderId),
    Check(OrderId),
}

/// The market on this peer: the person's records, what others offer, and what is under way.
#[derive(Resource, Debug, Default)]
pub struct MarketState {
    /// The person's shop and purchases (kept in the app's folder).
    pub records: MarketRecords,
    /// Everyone else's listings.
    pub book: MarketBook,
    /// Where the person is paid, once the wallet said.
    pub account: Option<PaymentAccount>,
    /// Why the wallet could not say where the person is paid.
    pub account_problem: Option<String>,
    /// The latest news for the person, and whether it is a problem.
    pub message: Option<(String, bool)>,
    /// Messages from others refused: not market messages, sent the wrong way (a listing to
    /// one person alone, an order to everyone), or listings that break the rules.
    pub refused: u64,
    loaded: bool,
    dirty: bool,
    next_ask: u64,
    asks: HashMap<u64, WalletAsk>,
    /// Goods shared with a buyer, waiting for the store's ticket: the blob's orders.
    sharing: VecDeque<(BlobHash, OrderId, PeerId)>,
    /// Purchased goods being fetched, and their orders.
    fetching: HashMap<BlobHash, OrderId>,
    to_publish: VecDeque<ListingId>,
    people: HashSet<PeerId>,
    last_tick: Option<Instant>,
    next_showing: Option<Instant>,
    last_reminder: Option<Instant>,
    last_account_ask: Option<Instant>,
}

impl MarketState {
    fn say(&mut self, text: impl Into<String>) {
        self.message = Some((text.into(), false));
    }

    fn complain(&mut self, text: impl Into<String>) {
        self.message = Some((text.into(), true));
    }

    fn ask(
        &mut self,
        wallet: &mut WalletRequests<MarketApp>,
        ask: WalletAsk,
        request: impl FnOnce(u64) -> WalletRequest,
    ) -> bool {
        self.next_ask += 1;
        let id = self.next_ask;
        match wallet.request(request(id)) {
            Ok(()) => {
                self.asks.insert(id, ask);
                true
            }
            Err(error) => {
                self.complain(error.to_string());
                false
            }
        }
    }

    /// Whether the wallet was asked to pay for `order` and has not answered yet.
    pub fn paying(&self, order: OrderId) -> bool {
        self.asking(WalletAsk::Pay(order))
    }

    fn asking(&self, ask: WalletAsk) -> bool {
        self.asks.values().any(|asked| *asked == ask)
    }

    /// Whether the records were read (nothing is saved before, so nothing is lost).
    pub fn loaded(&self) -> bool {
        self.loaded
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_millis() as u64)
}

/// The app's view of a price, for the wallet.
fn terms(price: &Price, order: OrderId) -> PaymentTerms {
    PaymentTerms {
        to: price.pay_to,
        chain_id: price.chain_id,
        token: price.token.as_ref().map(|token| token.contract),
        amount: price.amount,
        reference: order.0.to_vec(),
    }
}

fn send(
    messages: &mut AppMessages<MarketApp>,
    to: Option<PeerId>,
    message: &MarketMessage,
) -> Result<(), String> {
    let bytes = message.encode().map_err(|error| error.to_string())?;
    match to {
        Some(peer) => messages.send_to(peer, bytes),
        None => messages.send(bytes),
    }
    .map_err(|error| error.to_string())
}

/// The app's folder, where the records are (the same as `sanctuary-node market`'s).
fn records_dir(data: &AppData<MarketApp>) -> Result<PathBuf, String> {
    data.path(RECORDS_FILE)
        .ok()
        .and_then(|path| path.parent().map(Path::to_path_buf))
        .ok_or_else(|| "the market cannot keep records: the client runs without a data folder".to_owned())
}

/// Reads the records from the app's folder.
pub fn load(data: AppData<MarketApp>, mut state: ResMut<MarketState>) {
    let dir = match records_dir(&data) {
        Ok(dir) => dir,
        Err(problem) => return state.complain(problem),
    };
    match MarketRecords::load(&dir) {
        Ok((records, note)) => {
            state.records = records;
            state.loaded = true;
            state.to_publish = state
                .records
                .shop
                .live(now_ms())
                .map(|listing| listing.id)
                .collect();
            if let Some(note) = note {
                state.complain(note);
            }
        }
        Err(error) => state.complain(error.to_string()),
    }
}

/// Writes the records after a change.
pub fn save(data: AppData<MarketApp>, mut state: ResMut<MarketState>) {
    if !state.dirty || !state.loaded {
        return;
    }
    state.dirty = false;
    let dir = match records_dir(&data) {
        Ok(dir) => dir,
        Err(problem) => return state.complain(problem),
    };
    if let Err(error) = state.records.save(&dir) {
        state.complain(format!("the market's records were not saved: {error}"));
    }
}

/// Carries out what the person asked.
pub fn act(
    mut actions: MessageReader<MarketAction>,
    mut state: ResMut<MarketState>,
    mut messages: AppMessages<MarketApp>,
    mut blobs: Blobs<MarketApp>,
    mut wallet: WalletRequests<MarketApp>,
    view: Res<WorldView>,
) {
    for action in actions.read() {
        if !state.loaded {
            state.complain("the market's records could not be read, so nothing can change");
            continue;
        }
        let result = match action.clone() {
            MarketAction::Sell(offer) => sell(&mut state, &mut blobs, offer),
            MarketAction::Withdraw(id) => match state.records.shop.withdraw(id) {
                Some(listing) => {
                    state.dirty = true;
                    send(&mut messages, None, &MarketMessage::Withdrawn(id))
                        .map(|()| format!("withdrawn: {}", listing.title))
                }
                None => Err("that listing is not offered".into()),
            },
            MarketAction::Buy(wanted) => buy(&mut state, &mut messages, wanted),
            MarketAction::Pay(order) => {
                let accepted = state
                    .records
                    .purchases
                    .get(order)
                    .is_some_and(|purchase| matches!(purchase.state, PurchaseState::Accepted { .. }));
                if accepted && !state.asking(WalletAsk::Pay(order)) {
                    pay(&mut state, &mut wallet, &view, order);
                    continue;
                }
                Err("that order is not waiting for your payment".into())
            }
        };
        match result {
            Ok(news) => state.say(news),
            Err(problem) => state.complain(problem),
        }
    }
}

fn sell(state: &mut MarketState, blobs: &mut Blobs<MarketApp>, offer: Offer) -> Result<String, String> {
    let account = state.account.clone().ok_or_else(|| {
        format!(
            "not listed: the wallet has not said where you are paid ({})",
            state
                .account_problem
                .as_deref()
                .unwrap_or("open the Wallet panel")
        )
    })?;
    let library = blobs.library().map_err(|error| error.to_string())?;
    let held = |hash: BlobHash| library.get(hash).is_some_and(|blob| blob.complete);
    let goods = offer.goods.ok_or("not listed: choose the file to sell")?;
    if !held(goods) {
        return Err("not listed: the goods are not (all) in your storage".into());
    }
    if offer.picture.is_some_and(|picture| !held(picture)) {
        return Err("not listed: the picture is not (all) in your storage".into());
    }
    let asset = match offer.token {
        None => Asset::Native {
            symbol: account.coin_symbol.clone(),
        },
        Some(contract) => {
            let known = account
                .tokens
                .iter()
                .find(|known| known.contract == contract)
                .ok_or("not listed: your wallet does not know that token")?;
            Asset::Token {
                contract: Address::from(contract),
                symbol: known.symbol.clone(),
                decimals: known.decimals,
            }
        }
    };
    let value =
        parse_amount(&offer.price, asset.decimals()).map_err(|error| format!("not listed: {error}"))?;
    let now = now_ms();
    let listing = Listing {
        id: ListingId::random().map_err(|error| error.to_string())?,
        title: offer.title.trim().to_owned(),
        description: offer.description.trim().to_owned(),
        picture: offer.picture,
        goods: Some(goods),
        price: Price::new(account.chain_id, &asset, value, Address::from(account.address)),
        quantity: offer.quantity,
        expires_ms: now.saturating_add(offer.hours.saturating_mul(3600 * 1000)),
    };
    state
        .records
        .shop
        .list(listing.clone(), now)
        .map_err(|error| format!("not listed: {error}"))?;
    if let Some(picture) = offer.picture {
        // Everyone who sees the stall fetches the picture from the seller.
        blobs
            .request(BlobRequest::SetServing(picture, true))
            .map_err(|error| error.to_string())?;
    }
    state.dirty = true;
    state.to_publish.push_front(listing.id);
    Ok(format!(
        "listed {} for {}, paid to your account on {}",
        listing.title,
        listing.price.shown(),
        account.network
    ))
}

fn buy(
    state: &mut MarketState,
    messages: &mut AppMessages<MarketApp>,
    wanted: ListingRef,
) -> Result<String, String> {
    let listing = state
        .book
        .get(wanted)
        .cloned()
        .ok_or("not bought: that listing is no longer offered")?;
    if let Some(account) = &state.account
        && account.chain_id != listing.price.chain_id
    {
        return Err(format!(
            "not bought: it is paid on chain {}, and your wallet is on {} (chain {})",
            listing.price.chain_id, account.network, account.chain_id
        ));
    }
    let order = state
        .records
        .purchases
        .order(wanted.seller, &listing, now_ms())
        .map_err(|error| format!("not bought: {error}"))?;
    state.dirty = true;
    send(messages, Some(wanted.seller), &order)?;
    Ok(format!("ordered {}: waiting for the seller", listing.title))
}

/// Takes in what other copies of the market sent.
pub fn receive(
    mut state: ResMut<MarketState>,
    mut messages: AppMessages<MarketApp>,
    mut wallet: WalletRequests<MarketApp>,
    mut blobs: Blobs<MarketApp>,
    view: Res<WorldView>,
) {
    let incoming = messages.read();
    if !state.loaded {
        return;
    }
    for message in incoming {
        let Ok(decoded) = MarketMessage::decode(&message.bytes) else {
            state.refused += 1;
            continue;
        };
        let (from, now) = (message.from, now_ms());
        match decoded {
            MarketMessage::Listing(listing) if !message.direct => {
                if state.book.learn(from, *listing, now).is_err() {
                    state.refused += 1;
                }
            }
            MarketMessage::Withdrawn(id) if !message.direct => state.book.withdraw(from, id),
            MarketMessage::Order { order, listing } if message.direct => {
                let answer = state.records.shop.take_order(from, order, listing, now);
                state.dirty = true;
                if let Err(problem) = send(&mut messages, Some(from), &answer) {
                    state.complain(problem);
                }
            }
            MarketMessage::Paid { order, transaction } if message.direct => {
                match state.records.shop.take_payment(from, order, transaction, now) {
                    Ok(Some(step)) => carry_out(&mut state, &mut messages, &mut blobs, step),
                    // The chain is asked on the next tick.
                    Ok(None) => {}
                    Err(reason) => {
                        let refused = MarketMessage::Refused { order, reason };
                        if let Err(problem) = send(&mut messages, Some(from), &refused) {
                            state.complain(problem);
                        }
                    }
                }
                state.dirty = true;
            }
            MarketMessage::Received { order } if message.direct => {
                let news = state.records.shop.received(from, order, now);
                sale_complete(&mut state, &mut messages, news);
            }
            reply @ (MarketMessage::Accepted { .. }
            | MarketMessage::Refused { .. }
            | MarketMessage::Delivered { .. })
                if message.direct =>
            {
                let step = state.records.purchases.on_message(from, &reply, now);
                state.dirty = true;
                match step {
                    PurchaseStep::Nothing => {
                        if let MarketMessage::Refused { order, .. } = reply
                            && let Some(purchase) = state.records.purchases.get(order)
                            && let PurchaseState::Refused { reason } = &purchase.state
                        {
                            let news = format!("{}: {reason}", purchase.listing.title);
                            state.complain(news);
                        }
                    }
                    PurchaseStep::Pay { order } => pay(&mut state, &mut wallet, &view, order),
                    PurchaseStep::Fetch { order, ticket, goods } => {
                        fetch(&mut state, &mut blobs, order, &ticket, goods);
                    }
                }
            }
            // Private messages sent to all, or public ones sent privately: not how the
            // market talks, so not taken.
            _ => state.refused += 1,
        }
    }
}

/// Asks the person, through their wallet, to pay for `order`.
fn pay(state: &mut MarketState, wallet: &mut WalletRequests<MarketApp>, view: &WorldView, order: OrderId) {
    let Some(purchase) = state.records.purchases.get(order) else {
        return;
    };
    let terms = terms(&purchase.listing.price, order);
    let memo = format!(
        "Market: {} from {}",
        purchase.listing.title,
        view.name_of(&purchase.seller)
    );
    let title = purchase.listing.title.clone();
    if state.ask(wallet, WalletAsk::Pay(order), |id| WalletRequest::Pay {
        id,
        terms,
        memo,
    }) {
        state.say(format!(
            "{title}: the seller accepted; confirm the payment in your Wallet"
        ));
    } else {
        state
            .records
            .purchases
            .failed(order, "not paid: the wallet could not be asked");
        state.dirty = true;
    }
}

/// Fetches delivered goods: by the listed hash from the seller (so only the listed goods
/// can arrive), or with the ticket for goods that were not listed by hash.
fn fetch(
    state: &mut MarketState,
    blobs: &mut Blobs<MarketApp>,
    order: OrderId,
    ticket: &str,
    goods: Option<BlobHash>,
) {
    let Some(purchase) = state.records.purchases.get(order) else {
        return;
    };
    let (seller, name) = (purchase.seller, purchase.listing.title.clone());
    let request = match goods {
        Some(hash) => {
            if state.fetching.contains_key(&hash) {
                return;
            }
            state.fetching.insert(hash, order);
            BlobRequest::FetchFrom {
                hash,
                name,
                holders: vec![seller],
                pin: true,
            }
        }
        None => BlobRequest::FetchTicket(ticket.to_owned()),
    };
    if let Err(error) = blobs.request(request) {
        goods.map(|hash| state.fetching.remove(&hash));
        state.complain(format!("the goods cannot be fetched: {error}"));
    }
}

/// Does what the shop asked: deliver goods or tell a buyer something.
fn carry_out(
    state: &mut MarketState,
    messages: &mut AppMessages<MarketApp>,
    blobs: &mut Blobs<MarketApp>,
    step: SaleStep,
) {
    match step {
        SaleStep::Wait => {}
        SaleStep::Tell { buyer, message } => {
            if let Err(problem) = send(messages, Some(buyer), &message) {
                state.complain(problem);
            }
        }
        SaleStep::Deliver { order, buyer, goods } => {
            if state.sharing.iter().any(|(_, sharing, _)| *sharing == order) {
                return;
            }
            match blobs.request(BlobRequest::ShareWith(goods, buyer)) {
                Ok(()) => state.sharing.push_back((goods, order, buyer)),
                Err(error) => state.complain(format!("the goods cannot be sent: {error}")),
            }
        }
    }
}

/// A sale's goods reached the buyer: tell the world what is left of the listing.
fn sale_complete(
    state: &mut MarketState,
    messages: &mut AppMessages<MarketApp>,
    news: Option<MarketMessage>,
) {
    let Some(news) = news else { return };
    state.dirty = true;
    let title = match &news {
        MarketMessage::Listing(listing) => listing.title.clone(),
        _ => "the last one".into(),
    };
    state.say(format!("sold: {title}"));
    if let Err(problem) = send(messages, None, &news) {
        state.complain(problem);
    }
}

/// Takes the wallet's answers.
pub fn wallet_replies(
    mut state: ResMut<MarketState>,
    mut wallet: WalletRequests<MarketApp>,
    mut messages: AppMessages<MarketApp>,
    mut blobs: Blobs<MarketApp>,
) {
    for reply in wallet.replies() {
        let id = match &reply {
            WalletReply::Paid { id, .. }
            | WalletReply::Declined { id, .. }
            | WalletReply::Checked { id, .. }
            | WalletReply::Account { id, .. }
            | WalletReply::Unchecked { id, .. } => *id,
        };
        let Some(ask) = state.asks.remove(&id) else {
            continue;
        };
        match (ask, reply) {
            (WalletAsk::Account, WalletReply::Account { account, .. }) => {
                state.account = Some(account);
                state.account_problem = None;
            }
            (WalletAsk::Account, WalletReply::Unchecked { reason, .. }) => {
                state.account = None;
                state.account_problem = Some(reason);
            }
            (WalletAsk::Pay(order), WalletReply::Paid { transaction, .. }) => {
                state.dirty = true;
                if let Some(paid) = state.records.purchases.paid(order, transaction) {
                    state.say("paid: the seller checks the payment on chain, then sends the goods");
                    if let Some(seller) = state.records.purchases.get(order).map(|p| p.seller)
                        && let Err(problem) = send(&mut messages, Some(seller), &paid)
                    {
                        state.complain(problem);
                    }
                }
            }
            (WalletAsk::Pay(order), WalletReply::Declined { reason, .. }) => {
                state
                    .records
                    .purchases
                    .failed(order, format!("not paid: {reason}"));
                state.dirty = true;
                state.complain(format!("not paid: {reason}"));
            }
            (WalletAsk::Check(order), WalletReply::Checked { verdict, .. }) => {
                let check = match verdict {
                    PaymentVerdict::Waiting { confirmations } => PaymentCheck::Waiting { confirmations },
                    PaymentVerdict::Paid { from, block } => PaymentCheck::Paid {
                        from: Address::from(from),
                        block,
                    },
                    PaymentVerdict::Wrong(why) => PaymentCheck::Wrong(why),
                };
                let step = state.records.shop.payment_checked(order, check, now_ms());
                if step != SaleStep::Wait {
                    state.dirty = true;
                }
                carry_out(&mut state, &mut messages, &mut blobs, step);
            }
            // Asked again on the next tick.
            (WalletAsk::Check(_), WalletReply::Unchecked { reason, .. }) => {
                state.complain(format!("a payment could not be checked: {reason}"));
            }
            (_, other) => warn!("market: an unexpected answer from the wallet: {other:?}"),
        }
    }
}

/// Takes the store's answers: tickets for goods to deliver, goods that arrived, and the
/// stalls' pictures.
pub fn blob_replies(
    mut state: ResMut<MarketState>,
    mut blobs: Blobs<MarketApp>,
    mut messages: AppMessages<MarketApp>,
    mut pictures: ResMut<StallPictures>,
    mut images: Option<ResMut<Assets<Image>>>,
) {
    for reply in blobs.replies() {
        // A file may be both a picture and goods: each side takes what concerns it.
        pictures.take_reply(&reply, &mut blobs, images.as_deref_mut());
        match reply {
            BlobReply::Ticket { hash, ticket } => {
                let Some(index) = state.sharing.iter().position(|(goods, ..)| *goods == hash) else {
                    continue;
                };
                let Some((_, order, buyer)) = state.sharing.remove(index) else {
                    continue;
                };
                match send(
                    &mut messages,
                    Some(buyer),
                    &MarketMessage::Delivered { order, ticket },
                ) {
                    Ok(()) => {
                        let news = state.records.shop.delivered(order, now_ms());
                        sale_complete(&mut state, &mut messages, news);
                    }
                    Err(problem) => state.complain(problem),
                }
            }
            BlobReply::Fetched(info) => {
                let Some(order) = state.fetching.remove(&info.hash) else {
                    continue;
                };
                if let Err(error) = state.records.purchases.accept_delivery(order, info.hash) {
                    state.complain(error.to_string());
                    state.dirty = true;
                    continue;
                }
                let receipt = state.records.purchases.received(order, info.hash);
                state.dirty = true;
                if let Some(receipt) = receipt
                    && let Some(purchase) = state.records.purchases.get(order)
                {
                    let (seller, title) = (purchase.seller, purchase.listing.title.clone());
                    state.say(format!("bought {title}: it is in your storage"));
                    if let Err(problem) = send(&mut messages, Some(seller), &receipt) {
                        state.complain(problem);
                    }
                }
            }
            BlobReply::Failed {
                hash: Some(hash),
                error,
            } => {
                if let Some(index) = state.sharing.iter().position(|(goods, ..)| *goods == hash) {
                    state.sharing.remove(index);
                    state.complain(format!("the goods could not be shared: {error}"));
                } else if state.fetching.remove(&hash).is_some() {
                    // Fetched again at the next reminder.
                    state.complain(format!("the goods could not be fetched yet: {error}"));
                }
            }
            _ => {}
        }
    }
}

/// The clock: where the person is paid, expiries, payments to check, deliveries due,
/// listings to show, reminders to send.
pub fn tick(
    mut state: ResMut<MarketState>,
    mut wallet: WalletRequests<MarketApp>,
    mut messages: AppMessages<MarketApp>,
    mut blobs: Blobs<MarketApp>,
    view: Res<WorldView>,
) {
    if !state.loaded {
        return;
    }
    let now = Instant::now();
    // Someone arrived: they hear the listings soon (arrivals close together share one).
    // Someone who left takes their stall with them.
    if view.is_changed() {
        let people: HashSet<PeerId> = view.people.iter().map(|person| person.id).collect();
        if people.iter().any(|person| !state.people.contains(person)) {
            let soon = now + ARRIVAL_SHOWING;
            state.next_showing = Some(state.next_showing.map_or(soon, |at| at.min(soon)));
        }
        for seller in state.book.seller_ids() {
            if !people.contains(&seller) {
                state.book.forget(seller);
            }
        }
        state.people = people;
    }
    if state.next_showing.is_some_and(|at| now >= at) {
        state.next_showing = None;
        let live: Vec<ListingId> = state
            .records
            .shop
            .live(now_ms())
            .map(|listing| listing.id)
            .collect();
        state.to_publish.extend(live);
    }
    if state
        .last_tick
        .is_some_and(|last| now.duration_since(last) < TICK)
    {
        return;
    }
    state.last_tick = Some(now);
    let now_ms = now_ms();

    let every = match state.account {
        Some(_) => REFRESH_ACCOUNT,
        None => ASK_ACCOUNT,
    };
    if wallet.allowed()
        && !state.asking(WalletAsk::Account)
        && state
            .last_account_ask
            .is_none_or(|last| now.duration_since(last) >= every)
    {
        state.last_account_ask = Some(now);
        state.ask(&mut wallet, WalletAsk::Account, |id| WalletRequest::Account {
            id,
        });
    }

    // The seller's side.
    let expired = state.records.shop.expire(now_ms);
    for (buyer, message) in &expired {
        send(&mut messages, Some(*buyer), message).ok();
    }
    if !expired.is_empty() {
        state.dirty = true;
    }
    state.book.expire(now_ms);
    for (order, transaction, _) in state.records.shop.payments_to_check(CONFIRMATIONS) {
        if state.asking(WalletAsk::Check(order)) {
            continue;
        }
        let Some(sale) = state.records.shop.sales.iter().find(|sale| sale.order == order) else {
            continue;
        };
        let terms = terms(&sale.price, order);
        state.ask(&mut wallet, WalletAsk::Check(order), |id| WalletRequest::Check {
            id,
            transaction: transaction.0,
            terms,
            confirmations: CONFIRMATIONS,
        });
    }
    for step in state.records.shop.deliveries_due() {
        carry_out(&mut state, &mut messages, &mut blobs, step);
    }
    if view.online {
        if state.to_publish.is_empty() && state.next_showing.is_none() {
            state.next_showing = Some(now + REPUBLISH);
        }
        for _ in 0..PUBLISH_PER_TICK {
            let Some(id) = state.to_publish.pop_front() else {
                break;
            };
            let listing = state
                .records
                .shop
                .live(now_ms)
                .find(|listing| listing.id == id)
                .cloned();
            if let Some(listing) = listing {
                let message = MarketMessage::Listing(Box::new(listing));
                if send(&mut messages, None, &message).is_err() {
                    state.to_publish.push_front(id);
                    break;
                }
            }
        }
    }

    // The buyer's side: repeat what may have been missed.
    if state
        .last_reminder
        .is_some_and(|last| now.duration_since(last) < REMIND)
    {
        return;
    }
    state.last_reminder = Some(now);
    let open: Vec<(OrderId, PeerId, PurchaseState, Listing)> = state
        .records
        .purchases
        .list
        .iter()
        .filter(|purchase| !purchase.state.is_finished())
        .map(|purchase| {
            (
                purchase.order,
                purchase.seller,
                purchase.state.clone(),
                purchase.listing.clone(),
            )
        })
        .collect();
    for (order, seller, purchase_state, listing) in open {
        let again = match purchase_state {
            PurchaseState::Ordered => Some(MarketMessage::Order {
                order,
                listing: listing.id,
            }),
            PurchaseState::Paid { transaction } => Some(MarketMessage::Paid { order, transaction }),
            PurchaseState::Delivered { ticket, .. } => {
                fetch(&mut state, &mut blobs, order, &ticket, listing.goods);
                None
            }
            _ => None,
        };
        if let Some(again) = again {
            send(&mut messages, Some(seller), &again).ok();
        }
    }
}
