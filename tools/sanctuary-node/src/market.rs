//! `sanctuary-node market …`: selling and buying from a terminal or a script, on the same
//! records, wallet, storage and messages as the client's Market app.
//!
//! - `sell FILE --title T --price P [--picture IMAGE] [--token CONTRACT] [--quantity N]
//!   [--hours H]`: adds the file to storage (served to buyers only) and the picture (served
//!   to all, for stalls and panels), and lists it; nothing goes online yet.
//! - `serve --join TICKET | --host`: the stall, online: publishes the listings, takes orders,
//!   checks each payment on chain and delivers the goods to whoever paid.
//! - `list --join TICKET [--search WORDS]`: the listings heard in a few seconds.
//! - `buy LISTING --join TICKET [--yes] [--out FILE]`: orders, pays (after showing exactly
//!   what will be signed), waits for the goods and fetches them.
//! - `history`: what was sold and bought.
//!
//! The person's key, wallet and storage come from the data folder (`--data-dir`), and the
//! chain as for `wallet` (`--rpc`, a configured network, or the local test chain).

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use sanctuary_market_core::{
    Listing, ListingId, ListingRef, MARKET_APP, MarketBook, MarketMessage, MarketRecords, OrderId, Price,
    PurchaseState, PurchaseStep, SaleState, SaleStep, market_dir,
};
use sanctuary_net::storage::{self, FetchRequest};
use sanctuary_net::{
    DirectSender, JoinTarget, Node, NodeConfig, RelayChoice, Storage, WorldEvent, WorldHandle,
};
use sanctuary_protocols::message::{AvatarShape, Presence, Rgb};
use sanctuary_protocols::text::{DisplayName, SpaceName};
use sanctuary_protocols::{AppMessage, AppName, AppPayload, PeerId, WorldId};
use sanctuary_wallet_core::wallet::DEFAULT_UNLOCK;
use sanctuary_wallet_core::{Address, Chain, TransferStatus, Wallet, parse_amount};
use tokio::sync::mpsc;

use crate::wallet::{WalletOptions, confirm, connect, now_ms, passphrase};

/// How often a stall shows its listings to the world again.
const REPUBLISH: Duration = Duration::from_secs(10);
/// How soon after someone joins a stall shows its listings again.
const JOIN_SHOWING_DELAY: Duration = Duration::from_millis(500);
/// How often a stall asks the chain about payments it waits for.
const CHECK_PAYMENTS: Duration = Duration::from_secs(1);
/// How long a buyer looks for the listing (a stall shows its listings at least this often).
const LISTING_WAIT: Duration = Duration::from_secs(12);
/// How long a buyer waits for each of the seller's answers.
const ANSWER_WAIT: Duration = Duration::from_secs(30);
/// How long a buyer waits for its payment's block.
const PAYMENT_WAIT: Duration = Duration::from_secs(60);

/// The market's commands.
#[derive(clap::Subcommand, Debug)]
pub enum MarketCommand {
    /// List a file for sale (it is added to storage, served to buyers only).
    Sell {
        /// The goods: the file buyers receive.
        file: PathBuf,
        /// What it is, in a few words.
        #[arg(long)]
        title: String,
        /// More about it.
        #[arg(long, default_value = "")]
        description: String,
        /// A picture of it (PNG or JPEG), shown to everyone who looks.
        #[arg(long, value_name = "IMAGE")]
        picture: Option<PathBuf>,
        /// The price of one, in whole units: 0.25
        #[arg(long)]
        price: String,
        /// Priced in this ERC-20 token (its contract) rather than the network's coin.
        #[arg(long, value_name = "CONTRACT")]
        token: Option<String>,
        /// How many to sell.
        #[arg(long, default_value_t = 1)]
        quantity: u32,
        /// Offered for this many hours.
        #[arg(long, default_value_t = 24 * 7)]
        hours: u64,
        /// Paid to this account of the wallet.
        #[arg(long, default_value_t = 0)]
        account: u32,
    },
    /// Withdraw a listing.
    Withdraw {
        /// The listing's id (as `sell` and `history` print it).
        id: String,
    },
    /// Keep the stall open: publish the listings, take orders, check payments, deliver.
    Serve {
        #[command(flatten)]
        world: WorldOptions,
        /// Blocks that must hold a payment before the goods go.
        #[arg(long, default_value_t = 1)]
        confirmations: u64,
    },
    /// Print the listings heard in the world.
    List {
        #[command(flatten)]
        world: WorldOptions,
        /// Only listings whose title or description hold all these words.
        #[arg(long, default_value = "")]
        search: String,
    },
    /// Buy one unit of a listing: order, pay, receive the goods.
    Buy {
        /// The listing, as `list` prints it: ID@SELLER.
        listing: String,
        #[command(flatten)]
        world: WorldOptions,
        /// Pay from this account of the wallet.
        #[arg(long, default_value_t = 0)]
        account: u32,
        /// Pay without asking.
        #[arg(long)]
        yes: bool,
        /// Also write the goods to this file.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Print what was sold and bought, and where each trade stands.
    History,
}

/// Which world, and for how long.
#[derive(clap::Args, Debug)]
pub struct WorldOptions {
    /// The world's ticket.
    #[arg(long, value_name = "TICKET", required_unless_present = "host")]
    join: Option<String>,
    /// Host a new world instead, and print its ticket.
    #[arg(long, conflicts_with = "join")]
    host: bool,
    /// Stop after this many seconds (`list`: 5; `buy`: 120; `serve`: until Ctrl-C).
    #[arg(long, value_name = "SECONDS")]
    seconds: Option<u64>,
    /// The UDP address to listen on, e.g. 127.0.0.1:0 for this machine only.
    #[arg(long, value_name = "ADDR")]
    bind: Option<std::net::SocketAddr>,
}

/// Runs one `market` command.
pub async fn run(command: MarketCommand, options: WalletOptions) -> anyhow::Result<()> {
    let data_dir = options.data_dir();
    let dir = market_dir(&data_dir);
    let (mut records, note) = MarketRecords::load(&dir)?;
    if let Some(note) = note {
        eprintln!("{note}");
    }
    match command {
        MarketCommand::Sell {
            file,
            title,
            description,
            picture,
            price,
            token,
            quantity,
            hours,
            account,
        } => {
            let wallet = Wallet::open(&Wallet::dir_in(&data_dir))?;
            let pay_to = wallet
                .address(account)
                .with_context(|| format!("account {account} has not been added (wallet add-account)"))?;
            let (chain, local) = connect(&options, &data_dir).await?;
            let token = token.as_deref().map(parse_address).transpose()?;
            let asset = chain.asset(token).await;
            let chain_id = chain.network().chain_id;
            if let Some(local) = local {
                local.stop().await;
            }
            let asset = asset?;
            let value = parse_amount(&price, asset.decimals())?;
            let store = open_store(&data_dir).await?;
            let added = add_goods(&store, &file, picture.as_deref()).await;
            store.shutdown().await;
            let (added, picture) = added?;
            let now = now_ms();
            let listing = Listing {
                id: ListingId::random()?,
                title,
                description,
                picture,
                goods: Some(added.hash),
                price: Price::new(chain_id, &asset, value, pay_to),
                quantity,
                expires_ms: now + hours.saturating_mul(3600 * 1000),
            };
            records.shop.list(listing.clone(), now)?;
            records.save(&dir)?;
            println!(
                "listed {}: {} for {} ({} of them), paid to {pay_to}",
                listing.id,
                listing.title,
                listing.price.shown(),
                listing.quantity
            );
            if let Some(picture) = listing.picture {
                println!("picture {picture}, served to everyone");
            }
            Ok(())
        }
        MarketCommand::Withdraw { id } => {
            let id = ListingId(u64::from_str_radix(id.trim(), 16).context("a listing id is 16 hex digits")?);
            let listing = records
                .shop
                .withdraw(id)
                .with_context(|| format!("no listing {id} in this shop"))?;
            records.save(&dir)?;
            println!("withdrawn {id}: {}", listing.title);
            Ok(())
        }
        MarketCommand::History => {
            history(&records);
            Ok(())
        }
        MarketCommand::Serve { world, confirmations } => {
            let (chain, local) = connect(&options, &data_dir).await?;
            let done = crate::until_done(world.seconds);
            let result = serve(
                &data_dir,
                &mut records,
                &chain,
                &world,
                confirmations,
                "stall",
                done,
            )
            .await;
            if let Some(local) = local {
                local.stop().await;
            }
            result
        }
        MarketCommand::List { world, search } => list(&data_dir, &world, &search).await,
        MarketCommand::Buy {
            listing,
            world,
            account,
            yes,
            out,
        } => {
            let listing: ListingRef = listing.parse()?;
            let (chain, local) = connect(&options, &data_dir).await?;
            let purchase = Purchase {
                data_dir: &data_dir,
                chain: &chain,
                account,
                yes,
                out: out.as_deref(),
            };
            let result = purchase.run(&mut records, listing, &world).await;
            if let Some(local) = local {
                local.stop().await;
            }
            result
        }
    }
}

/// Adds the goods (served to buyers only) and their picture (served to everyone).
async fn add_goods(
    store: &Storage,
    file: &Path,
    picture: Option<&Path>,
) -> anyhow::Result<(storage::BlobEntry, Option<sanctuary_protocols::BlobHash>)> {
    let added = store
        .add_file(file)
        .await
        .map_err(|error| anyhow::anyhow!("{error}"))
        .with_context(|| format!("the goods, {}", file.display()))?;
    let Some(picture) = picture else {
        return Ok((added, None));
    };
    let shown = store
        .add_file(picture)
        .await
        .map_err(|error| anyhow::anyhow!("{error}"))
        .with_context(|| format!("the picture, {}", picture.display()))?;
    store
        .set_serving(shown.hash, true)
        .map_err(|error| anyhow::anyhow!("{error}"))?;
    Ok((added, Some(shown.hash)))
}

fn parse_address(text: &str) -> anyhow::Result<Address> {
    text.trim()
        .parse()
        .map_err(|_| anyhow::anyhow!("\"{text}\" is not an address (0x and 40 hex digits)"))
}

async fn open_store(data_dir: &Path) -> anyhow::Result<Storage> {
    let (store, note) = Storage::open(
        &sanctuary_net::data_dir::storage_dir(data_dir),
        storage::DEFAULT_QUOTA,
    )
    .await
    .map_err(|error| anyhow::anyhow!("{error}"))?;
    if let Some(note) = note {
        eprintln!("{note}");
    }
    Ok(store)
}

/// This person in a world, with their store online.
struct Online {
    data_dir: PathBuf,
    node: Node,
    world: WorldHandle,
    store: Storage,
    directs: DirectSender,
}

impl Online {
    /// Joins (or hosts) the world as the data folder's person, standing in the market.
    async fn start(data_dir: &Path, options: &WorldOptions, name: &str) -> anyhow::Result<(Self, Events)> {
        let keypair = sanctuary_net::data_dir::load_or_create_key(data_dir)
            .with_context(|| format!("the key in {}", data_dir.display()))?;
        let store = open_store(data_dir).await?;
        let node = Node::spawn(NodeConfig {
            keypair,
            relay: RelayChoice::Disabled,
            local_discovery: false,
            bind_addr: options.bind,
            gossip_neighbours: None,
            storage: Some(store.clone()),
            home: None,
        })
        .await?;
        let target = match &options.join {
            Some(ticket) => JoinTarget::from(crate::parse_ticket(ticket)?),
            None => JoinTarget::host(WorldId::random()?),
        };
        let presence = Presence {
            name: DisplayName::new(name)?,
            color: Rgb {
                r: 220,
                g: 170,
                b: 60,
            },
            shape: AvatarShape::Capsule,
            space: SpaceName::new("market")?,
        };
        let mut world = node.join_world(target, presence).await?;
        if options.host {
            println!("ticket: {}", world.ticket());
        }
        let directs = world.direct_sender();
        let events = world.take_events();
        Ok((
            Self {
                data_dir: data_dir.to_owned(),
                node,
                world,
                store,
                directs,
            },
            events,
        ))
    }

    /// The data folder it speaks for.
    fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// Sends `message` to everyone in the world.
    async fn publish(&self, message: &MarketMessage) -> anyhow::Result<()> {
        self.world.send_app(app_message(message)?).await?;
        Ok(())
    }

    /// Sends `message` to `peer` alone, in its own task (an unreachable peer takes seconds
    /// to give up on); `done` hears how it went.
    fn tell(
        &self,
        peer: PeerId,
        message: &MarketMessage,
        done: Option<(OrderId, mpsc::Sender<(OrderId, bool)>)>,
    ) {
        let Ok(message) = app_message(message) else {
            return;
        };
        let directs = self.directs.clone();
        tokio::spawn(async move {
            let result = directs.send_app(peer, message).await;
            if let Err(error) = &result {
                eprintln!("could not reach {peer}: {error}");
            }
            if let Some((order, done)) = done {
                done.send((order, result.is_ok())).await.ok();
            }
        });
    }

    async fn stop(self) {
        self.world.leave().await.ok();
        self.node.shutdown().await;
        self.store.shutdown().await;
    }
}

/// A world's events, taken from its handle so that they can be read while the handle is
/// used for sending.
type Events = mpsc::Receiver<WorldEvent>;

/// The next market message, with its author and whether it was sent to us alone; other
/// world events go to `other`. `None` once the world closed.
async fn next_message(
    events: &mut Events,
    mut other: impl FnMut(&WorldEvent),
) -> Option<(PeerId, MarketMessage, bool)> {
    loop {
        let event = events.recv().await?;
        match &event {
            WorldEvent::App {
                peer,
                message,
                direct,
            } if message.app.as_str() == MARKET_APP => {
                match MarketMessage::decode(message.payload.as_bytes()) {
                    Ok(decoded) => return Some((*peer, decoded, *direct)),
                    Err(error) => eprintln!("ignored a market message from {peer}: {error}"),
                }
            }
            _ => other(&event),
        }
    }
}

fn app_message(message: &MarketMessage) -> anyhow::Result<AppMessage> {
    Ok(AppMessage {
        app: AppName::new(MARKET_APP)?,
        payload: AppPayload::new(message.encode()?)?,
    })
}

/// Keeps the stall of the data folder `data_dir` (its key, wallet, storage and listings,
/// made with `market sell --data-dir DIR`) open in the world of `ticket` under `name`,
/// checking payments on the chain `wallet` names, until `done`: how a home node keeps
/// its person's listings in their world while their client is off.
pub async fn keep_stall(
    data_dir: PathBuf,
    ticket: String,
    bind: Option<std::net::SocketAddr>,
    wallet: WalletOptions,
    name: String,
    done: impl std::future::Future<Output = ()>,
) -> anyhow::Result<()> {
    let (mut records, note) = MarketRecords::load(&market_dir(&data_dir))?;
    if let Some(note) = note {
        eprintln!("stall: {note}");
    }
    let (chain, local) = connect(&wallet, &data_dir).await?;
    let world = WorldOptions {
        join: Some(ticket),
        host: false,
        seconds: None,
        bind,
    };
    let result = serve(&data_dir, &mut records, &chain, &world, 1, &name, done).await;
    if let Some(local) = local {
        local.stop().await;
    }
    result
}

/// The stall, standing in the market as `name`: publish, take orders, check payments,
/// deliver; until `done`.
async fn serve(
    data_dir: &Path,
    records: &mut MarketRecords,
    chain: &Chain,
    options: &WorldOptions,
    confirmations: u64,
    name: &str,
    done: impl std::future::Future<Output = ()>,
) -> anyhow::Result<()> {
    let dir = market_dir(data_dir);
    let (online, mut events) = Online::start(data_dir, options, name).await?;
    let live = records.shop.live(now_ms()).count();
    println!(
        "stall open: {live} listings, payments checked on {}",
        chain.network().name
    );
    let (delivered_tx, mut delivered) = mpsc::channel::<(OrderId, bool)>(64);
    let mut republish = tokio::time::interval(REPUBLISH);
    let mut check = tokio::time::interval(CHECK_PAYMENTS);
    let mut due = records.shop.deliveries_due();
    tokio::pin!(done);
    loop {
        for step in due.drain(..) {
            carry_out(&online, step, &delivered_tx);
        }
        let mut someone_joined = false;
        tokio::select! {
            _ = &mut done => break,
            _ = republish.tick() => publish_all(&online, records).await,
            _ = check.tick() => {
                let expired = records.shop.expire(now_ms());
                for (buyer, message) in &expired {
                    online.tell(*buyer, message, None);
                }
                let steps = check_payments(chain, records, confirmations, None).await;
                // Saved only when something changed: this runs every second.
                if !expired.is_empty() || steps.iter().any(|step| *step != SaleStep::Wait) {
                    records.save(&dir)?;
                }
                due.extend(steps);
            }
            Some((order, sent)) = delivered.recv() => {
                if sent {
                    let news = records.shop.delivered(order, now_ms());
                    sale_complete(&online, records, order, news).await?;
                }
            }
            message = next_message(&mut events, |event| someone_joined |= matches!(event, WorldEvent::Joined { .. })) => {
                let Some((from, message, direct)) = message else { break };
                let now = now_ms();
                match message {
                    MarketMessage::Order { order, listing } if direct => {
                        let answer = records.shop.take_order(from, order, listing, now);
                        records.save(&dir)?;
                        match &answer {
                            MarketMessage::Accepted { price, .. } => {
                                println!("order {order} from {from}: accepted, {} to pay", price.shown());
                            }
                            MarketMessage::Refused { reason, .. } => println!("order {order} from {from}: refused, {reason}"),
                            _ => {}
                        }
                        online.tell(from, &answer, None);
                    }
                    MarketMessage::Received { order } if direct => {
                        let news = records.shop.received(from, order, now);
                        sale_complete(&online, records, order, news).await?;
                    }
                    MarketMessage::Paid { order, transaction } if direct => {
                        match records.shop.take_payment(from, order, transaction, now) {
                            Ok(step) => {
                                println!("order {order}: paid by 0x{}, checking on chain", hex(&transaction));
                                due.extend(step);
                                // Asked at once; the next ticks ask again while it waits.
                                due.extend(check_payments(chain, records, confirmations, Some(order)).await);
                            }
                            Err(reason) => online.tell(from, &MarketMessage::Refused { order, reason }, None),
                        }
                        records.save(&dir)?;
                    }
                    _ => {}
                }
            }
        }
        // Someone new hears the listings soon; joins close together share one showing.
        if someone_joined {
            republish.reset_after(JOIN_SHOWING_DELAY);
        }
    }
    online.stop().await;
    Ok(())
}

/// A sale's goods reached the buyer: keep it, say so, and tell the world what is left of
/// the listing (`news`; `None` when the sale was complete already).
async fn sale_complete(
    online: &Online,
    records: &MarketRecords,
    order: OrderId,
    news: Option<MarketMessage>,
) -> anyhow::Result<()> {
    let Some(news) = news else {
        return Ok(());
    };
    records.save(&market_dir(online.data_dir()))?;
    println!("delivered order {order}");
    if let Err(error) = online.publish(&news).await {
        eprintln!("could not tell the world: {error}");
    }
    Ok(())
}

/// Asks the chain about the payments the shop waits for (or only `order`'s), and returns
/// what to do about each answer.
async fn check_payments(
    chain: &Chain,
    records: &mut MarketRecords,
    confirmations: u64,
    only: Option<OrderId>,
) -> Vec<SaleStep> {
    let mut steps = Vec::new();
    for (order, hash, expected) in records.shop.payments_to_check(confirmations) {
        if only.is_some_and(|only| only != order) {
            continue;
        }
        match chain.check_payment(hash, &expected).await {
            Ok(check) => steps.push(records.shop.payment_checked(order, check, now_ms())),
            Err(error) => eprintln!("could not check the payment for order {order}: {error}"),
        }
    }
    steps
}

/// Does what the shop asked: deliver goods or tell a buyer something.
fn carry_out(online: &Online, step: SaleStep, delivered: &mpsc::Sender<(OrderId, bool)>) {
    match step {
        SaleStep::Wait => {}
        SaleStep::Tell { buyer, message } => {
            if let MarketMessage::Refused { order, reason } = &message {
                println!("order {order}: refused, {reason}");
            }
            online.tell(buyer, &message, None);
        }
        SaleStep::Deliver { order, buyer, goods } => {
            let ticket = online
                .store
                .serve_to(goods, buyer)
                .and_then(|()| online.store.ticket(goods));
            match ticket {
                Ok(ticket) => online.tell(
                    buyer,
                    &MarketMessage::Delivered { order, ticket },
                    Some((order, delivered.clone())),
                ),
                Err(error) => eprintln!("order {order}: the goods cannot be sent: {error}"),
            }
        }
    }
}

async fn publish_all(online: &Online, records: &MarketRecords) {
    for listing in records.shop.live(now_ms()) {
        if let Err(error) = online
            .publish(&MarketMessage::Listing(Box::new(listing.clone())))
            .await
        {
            eprintln!("could not publish {}: {error}", listing.id);
        }
    }
}

/// Prints the listings heard within the time.
async fn list(data_dir: &Path, options: &WorldOptions, search: &str) -> anyhow::Result<()> {
    let (online, mut events) = Online::start(data_dir, options, "shopper").await?;
    let mut book = MarketBook::default();
    let wait = tokio::time::sleep(Duration::from_secs(options.seconds.unwrap_or(5)));
    tokio::pin!(wait);
    loop {
        tokio::select! {
            _ = &mut wait => break,
            message = next_message(&mut events, |_| {}) => {
                let Some((from, message, _)) = message else { break };
                learn(&mut book, from, message);
            }
        }
    }
    online.stop().await;
    for (reference, listing) in book.search(search) {
        let picture = listing
            .picture
            .map(|picture| format!("  (picture {picture})"))
            .unwrap_or_default();
        println!(
            "{reference}  {}  {} left  {}{picture}",
            listing.price.shown(),
            listing.quantity,
            listing.title
        );
    }
    Ok(())
}

fn learn(book: &mut MarketBook, from: PeerId, message: MarketMessage) {
    match message {
        MarketMessage::Listing(listing) => {
            let id = listing.id;
            if let Err(error) = book.learn(from, *listing, now_ms()) {
                eprintln!("ignored listing {id} of {from}: {error}");
            }
        }
        MarketMessage::Withdrawn(id) => book.withdraw(from, id),
        _ => {}
    }
}

/// One `buy`.
struct Purchase<'a> {
    data_dir: &'a Path,
    chain: &'a Chain,
    account: u32,
    yes: bool,
    out: Option<&'a Path>,
}

impl Purchase<'_> {
    async fn run(
        &self,
        records: &mut MarketRecords,
        wanted: ListingRef,
        options: &WorldOptions,
    ) -> anyhow::Result<()> {
        let (online, mut events) = Online::start(self.data_dir, options, "buyer").await?;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(options.seconds.unwrap_or(120));
        let result =
            tokio::time::timeout_at(deadline, self.trade(&online, &mut events, records, wanted)).await;
        online.stop().await;
        match result {
            Ok(result) => result,
            Err(_) => bail!("the trade did not finish in time; `market history` shows where it stands"),
        }
    }

    async fn trade(
        &self,
        online: &Online,
        events: &mut Events,
        records: &mut MarketRecords,
        wanted: ListingRef,
    ) -> anyhow::Result<()> {
        let dir = market_dir(self.data_dir);
        let mut book = MarketBook::default();
        eprintln!("looking for listing {wanted}…");
        let looking = async {
            loop {
                if let Some(listing) = book.get(wanted) {
                    break Ok::<Listing, anyhow::Error>(listing.clone());
                }
                let (from, message, _) = next_message(events, |_| {}).await.context("the world closed")?;
                learn(&mut book, from, message);
            }
        };
        let listing: Listing = tokio::time::timeout(LISTING_WAIT, looking).await.map_err(|_| {
            anyhow::anyhow!(
                "not bought: listing {wanted} is not offered in this world (sold out, withdrawn, or its seller is away)"
            )
        })??;
        if listing.price.chain_id != self.chain.network().chain_id {
            bail!(
                "that listing is paid on chain {}, and this wallet is on chain {} ({})",
                listing.price.chain_id,
                self.chain.network().chain_id,
                self.chain.network().name
            );
        }
        // "Buy": from here to the goods in storage is the trade's time (`timing:` below).
        let bought = std::time::Instant::now();
        let order_message = records.purchases.order(wanted.seller, &listing, now_ms())?;
        let MarketMessage::Order { order, .. } = order_message else {
            bail!("not an order");
        };
        records.save(&dir)?;
        online
            .directs
            .send_app(wanted.seller, app_message(&order_message)?)
            .await?;
        eprintln!("ordered {}: order {order}", listing.title);

        // Wait for the seller's answer; pay only on an acceptance at the listed price.
        let accepted_at = loop {
            let (from, message, _) = tokio::time::timeout(ANSWER_WAIT, next_message(events, |_| {}))
                .await
                .context("the seller did not answer the order")?
                .context("the world closed")?;
            let step = records.purchases.on_message(from, &message, now_ms());
            records.save(&dir)?;
            if step == (PurchaseStep::Pay { order }) {
                break bought.elapsed();
            }
            if let Some(purchase) = records.purchases.get(order)
                && let PurchaseState::Refused { reason } = &purchase.state
            {
                bail!("not bought: {reason}");
            }
        };
        let transaction = match self.pay(&listing, order).await {
            Ok(transaction) => transaction,
            Err(error) => {
                records.purchases.failed(order, format!("not paid: {error}"));
                records.save(&dir)?;
                return Err(error);
            }
        };
        let paid = records
            .purchases
            .paid(order, transaction)
            .context("the order was not waiting for payment")?;
        records.save(&dir)?;
        let paid_at = bought.elapsed();
        println!("paid: 0x{}", hex(&transaction));

        // Tell the seller, again now and then until the goods come (they may have missed it).
        let mut remind = tokio::time::interval(Duration::from_secs(10));
        let (ticket, delivered_at) = loop {
            tokio::select! {
                _ = remind.tick() => {
                    if let Err(error) = online.directs.send_app(wanted.seller, app_message(&paid)?).await {
                        eprintln!("could not reach the seller: {error}");
                    }
                }
                message = next_message(events, |_| {}) => {
                    let (from, message, _) = message.context("the world closed")?;
                    let step = records.purchases.on_message(from, &message, now_ms());
                    records.save(&dir)?;
                    if let PurchaseStep::Fetch { ticket, .. } = step {
                        break (ticket, bought.elapsed());
                    }
                    if let Some(purchase) = records.purchases.get(order)
                        && let PurchaseState::Refused { reason } = &purchase.state
                    {
                        bail!("not delivered: {reason}");
                    }
                }
            }
        };
        let (hash, holder) = storage::parse_ticket(&ticket).map_err(|error| anyhow::anyhow!("{error}"))?;
        let accepted = records.purchases.accept_delivery(order, hash);
        records.save(&dir)?;
        accepted?;
        let entry = online
            .store
            .fetch(
                FetchRequest {
                    hash,
                    name: listing.title.clone(),
                    holders: vec![holder],
                    pin: true,
                },
                |_| {},
            )
            .await
            .map_err(|error| anyhow::anyhow!("{error}"))?;
        let receipt = records.purchases.received(order, hash);
        records.save(&dir)?;
        if let Some(receipt) = receipt
            && let Err(error) = online
                .directs
                .send_app(wanted.seller, app_message(&receipt)?)
                .await
        {
            eprintln!("the goods are here, but the seller could not be told: {error}");
        }
        if let Some(out) = self.out {
            online
                .store
                .export(hash, out)
                .await
                .map_err(|error| anyhow::anyhow!("{error}"))
                .with_context(|| format!("writing {}", out.display()))?;
        }
        println!("received {} {} {}", entry.hash, entry.size, listing.title);
        let ms = |at: Duration| at.as_secs_f64() * 1000.0;
        eprintln!(
            "timing: accepted {:.0} ms, paid and in a block {:.0} ms, delivered {:.0} ms, goods stored {:.0} ms after Buy",
            ms(accepted_at),
            ms(paid_at),
            ms(delivered_at),
            ms(bought.elapsed())
        );
        Ok(())
    }

    /// Pays the listing's price for `order`, naming the order, after the person confirms
    /// exactly what will be signed; returns once the payment is in a block.
    async fn pay(&self, listing: &Listing, order: OrderId) -> anyhow::Result<[u8; 32]> {
        let mut wallet = Wallet::open(&Wallet::dir_in(self.data_dir))?;
        let from = wallet
            .address(self.account)
            .with_context(|| format!("account {} has not been added (wallet add-account)", self.account))?;
        let price = &listing.price;
        let plan = self
            .chain
            .plan_payment(
                from,
                price.payee(),
                price.asset(),
                price.value(),
                order.0.to_vec(),
            )
            .await?;
        println!("to sign: {}", plan.summary());
        if !self.yes && !confirm("Pay? [y/N] ")? {
            bail!("not paid: you declined");
        }
        wallet.unlock(&passphrase("Passphrase: ")?, DEFAULT_UNLOCK)?;
        let memo = Some(format!("market: {}", listing.title));
        let sent = wallet.send(self.chain, &plan, memo, now_ms()).await?;
        let status = self.chain.wait(sent.hash, PAYMENT_WAIT).await?;
        wallet.set_status(sent.hash, status.clone())?;
        match status {
            TransferStatus::Confirmed { .. } => Ok(sent.hash.0),
            TransferStatus::Pending => bail!("the payment {} is not in a block yet", sent.hash),
            other => bail!("the payment {} did not go through: {other:?}", sent.hash),
        }
    }
}

fn history(records: &MarketRecords) {
    for listing in &records.shop.listings {
        println!(
            "listing {}: {} for {}, {} left",
            listing.id,
            listing.title,
            listing.price.shown(),
            listing.quantity
        );
    }
    for sale in &records.shop.sales {
        let state = match &sale.state {
            SaleState::AwaitingPayment => "waiting for payment".to_owned(),
            SaleState::Checking { transaction } => format!("checking 0x{}", hex(transaction)),
            SaleState::Paid { .. } => "paid, delivering".to_owned(),
            SaleState::Delivered { transaction, .. } => format!("complete (paid by 0x{})", hex(transaction)),
            SaleState::Refused { reason } => format!("refused: {reason}"),
        };
        println!(
            "sold {} to {} for {}: {state}",
            sale.title,
            sale.buyer,
            sale.price.shown()
        );
    }
    for purchase in &records.purchases.list {
        let state = match &purchase.state {
            PurchaseState::Ordered => "ordered".to_owned(),
            PurchaseState::Accepted { .. } => "accepted, to pay".to_owned(),
            PurchaseState::Paid { transaction } => {
                format!("paid by 0x{}, waiting for the goods", hex(transaction))
            }
            PurchaseState::Delivered { .. } => "delivered, fetching".to_owned(),
            PurchaseState::Received { goods, .. } => format!("complete ({goods})"),
            PurchaseState::Refused { reason } => format!("refused: {reason}"),
        };
        println!(
            "bought {} from {} for {}: {state}",
            purchase.listing.title,
            purchase.seller,
            purchase.listing.price.shown()
        );
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}
