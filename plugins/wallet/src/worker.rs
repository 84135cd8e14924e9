//! The wallet thread: a small tokio runtime that owns the [`Wallet`], the chain client and
//! the local test chain, so unlocking (scrypt) and every RPC call happen off the frame.
//!
//! The frame loop sends [`Command`]s and takes [`Event`]s; a [`WalletSnapshot`] after each
//! change (and every few seconds, for balances and pending transfers) is all the panel
//! draws from. Passphrases and words cross the channel wrapped in [`Secret`]s, which never show in a log.

use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sanctuary_plugin_api::{PaymentTerms, PaymentVerdict, WalletReply};
use sanctuary_wallet_core::wallet::DEFAULT_UNLOCK;
use sanctuary_wallet_core::{
    Address, Chain, ExpectedPayment, KdfStrength, LocalChain, Network, PaymentCheck, RecoveryPhrase, Secret,
    Token, Transfer, TransferPlan, TransferStatus, TxHash, U256, Wallet, WalletError, load_networks,
};
use tokio::sync::mpsc;

/// How often balances and pending transfers are refreshed without being asked.
const REFRESH: Duration = Duration::from_secs(2);

/// An app's request: its name and its own number for it.
pub type RequestId = (String, u64);

/// What the frame loop asks of the wallet thread.
#[derive(Debug)]
pub enum Command {
    /// Make a new wallet; its words come back once as [`Event::Words`].
    Create {
        /// The new passphrase.
        passphrase: Secret,
    },
    /// Restore a wallet from its words.
    Restore {
        /// The recovery phrase as typed.
        words: Secret,
        /// The new passphrase.
        passphrase: Secret,
    },
    /// The person typed back words of the phrase correctly.
    ConfirmBackup,
    /// Unlock with the passphrase.
    Unlock {
        /// The passphrase.
        passphrase: Secret,
    },
    /// Lock now.
    Lock,
    /// Derive the next account (needs unlocked).
    AddAccount,
    /// Follow an ERC-20 token.
    AddToken {
        /// Its contract, as typed.
        contract: String,
    },
    /// Plan a transfer; the plan comes back as [`Event::Planned`] for the confirm step.
    Plan {
        /// From which account.
        account: u32,
        /// The recipient.
        to: Address,
        /// The amount as typed.
        amount: String,
        /// A token contract, or the network's coin.
        token: Option<Address>,
        /// What it is for.
        memo: Option<String>,
    },
    /// Plan the payment an app asked for, for the confirm step.
    PlanPayment {
        /// From which account.
        account: u32,
        /// What the app asked to pay.
        terms: PaymentTerms,
        /// What it is for.
        memo: String,
        /// The app's request.
        request: RequestId,
    },
    /// Sign and send a plan the person confirmed: unlocks first with `passphrase` when given.
    Send {
        /// The plan, exactly as shown.
        plan: TransferPlan,
        /// The passphrase, when the wallet was locked at the confirm step.
        passphrase: Option<Secret>,
        /// What it is for.
        memo: Option<String>,
        /// The app's request it answers, if any.
        request: Option<RequestId>,
    },
    /// Ask the chain whether a transaction pays the person as an app expects.
    Check {
        /// The app's request.
        request: RequestId,
        /// The transaction.
        transaction: [u8; 32],
        /// What it must pay.
        terms: PaymentTerms,
        /// Blocks that must hold it.
        confirmations: u64,
    },
    /// Refresh balances now.
    Refresh,
}

impl Command {
    /// The app's request this command carries out, if any, and whether it is a check.
    pub(crate) fn request(&self) -> Option<(RequestId, bool)> {
        match self {
            Self::PlanPayment { request, .. } => Some((request.clone(), false)),
            Self::Check { request, .. } => Some((request.clone(), true)),
            Self::Send { request, .. } => request.clone().map(|request| (request, false)),
            _ => None,
        }
    }
}

/// What the wallet thread tells the frame loop.
#[derive(Debug)]
pub enum Event {
    /// The wallet's state changed.
    Snapshot(WalletSnapshot),
    /// A new wallet's words, to be shown once.
    Words(Secret),
    /// A plan to confirm.
    Planned {
        /// The plan.
        plan: TransferPlan,
        /// Its memo.
        memo: Option<String>,
        /// The app's request it answers, if any.
        request: Option<RequestId>,
    },
    /// A transfer was sent.
    Sent {
        /// What was sent.
        transfer: Transfer,
        /// The app's request it answers, if any.
        request: Option<RequestId>,
    },
    /// The chain's word on a payment an app asked about.
    Checked {
        /// The app's request.
        request: RequestId,
        /// What the chain says.
        verdict: PaymentVerdict,
    },
    /// An app's request could not be carried out: the reply that says why.
    RequestFailed {
        /// The app.
        app: String,
        /// The reply for it.
        reply: WalletReply,
    },
    /// Something was refused, in one line.
    Problem(String),
}

/// One account with its balances.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountView {
    /// Its index.
    pub index: u32,
    /// Its address.
    pub address: Address,
    /// Its balance in the network's coin, if the chain answered.
    pub balance: Option<U256>,
    /// Its token balances: token, then the amount if the chain answered.
    pub tokens: Vec<(Token, Option<U256>)>,
}

/// Everything the panel shows.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WalletSnapshot {
    /// Whether a wallet exists in the data folder.
    pub exists: bool,
    /// Whether it is unlocked.
    pub unlocked: bool,
    /// Whether the person confirmed the words.
    pub backed_up: bool,
    /// The network, once connected.
    pub network: Option<Network>,
    /// Why the chain is unavailable, if it is.
    pub chain_problem: Option<String>,
    /// The accounts.
    pub accounts: Vec<AccountView>,
    /// What was sent, newest last.
    pub history: Vec<Transfer>,
}

/// The frame loop's ends of the wallet thread.
pub struct WorkerLink {
    /// Commands to the thread.
    pub commands: mpsc::Sender<Command>,
    /// Events from it.
    pub events: std::sync::mpsc::Receiver<Event>,
}

/// Starts the wallet thread on the wallet folder `dir`.
pub fn start(dir: PathBuf) -> Result<WorkerLink, String> {
    let (commands_tx, commands_rx) = mpsc::channel(64);
    let (events_tx, events_rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("sanctuary-wallet".into())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .thread_name("sanctuary-wallet-worker")
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime,
                Err(error) => {
                    events_tx
                        .send(Event::Problem(format!("the wallet cannot start: {error}")))
                        .ok();
                    return;
                }
            };
            runtime.block_on(Worker::new(dir, events_tx).run(commands_rx));
        })
        .map_err(|error| format!("the wallet cannot start: {error}"))?;
    Ok(WorkerLink {
        commands: commands_tx,
        events: events_rx,
    })
}

struct Worker {
    dir: PathBuf,
    events: std::sync::mpsc::Sender<Event>,
    wallet: Option<Wallet>,
    chain: Option<Chain>,
    local: Option<LocalChain>,
    chain_problem: Option<String>,
    balances: Vec<AccountView>,
    last_sent: Option<WalletSnapshot>,
}

impl Worker {
    fn new(dir: PathBuf, events: std::sync::mpsc::Sender<Event>) -> Self {
        let (wallet, problem) = match Wallet::open(&dir) {
            Ok(wallet) => (Some(wallet), None),
            Err(WalletError::NoWallet) => (None, None),
            Err(error) => (None, Some(error.to_string())),
        };
        if let Some(problem) = problem {
            events.send(Event::Problem(problem)).ok();
        }
        Self {
            dir,
            events,
            wallet,
            chain: None,
            local: None,
            chain_problem: None,
            balances: Vec::new(),
            last_sent: None,
        }
    }

    async fn run(mut self, mut commands: mpsc::Receiver<Command>) {
        // The chain (and with no network configured, the local test chain) starts only
        // for a wallet: a client nobody made a wallet in runs no chain.
        if self.wallet.is_some() {
            self.connect().await;
        }
        self.refresh().await;
        let mut ticker = tokio::time::interval(REFRESH);
        loop {
            tokio::select! {
                command = commands.recv() => {
                    let Some(command) = command else { break };
                    let request = command.request();
                    if let Err(error) = self.handle(command).await {
                        // A mistyped passphrase leaves the plan on screen to try again.
                        let retry = matches!(error, WalletError::WrongPassphrase | WalletError::Locked);
                        if let Some(((app, id), check)) = request.filter(|_| !retry) {
                            let reason = error.to_string();
                            let reply = match check {
                                true => WalletReply::Unchecked { id, reason },
                                false => WalletReply::Declined { id, reason },
                            };
                            self.events.send(Event::RequestFailed { app, reply }).ok();
                        }
                        self.events.send(Event::Problem(error.to_string())).ok();
                    }
                    self.publish();
                }
                _ = ticker.tick() => {
                    if self.chain.is_none() && self.wallet.is_some() {
                        self.connect().await;
                    }
                    self.refresh().await;
                }
            }
        }
        // The client is closing: let the local chain save its state.
        if let Some(local) = self.local.take() {
            local.stop().await;
        }
    }

    /// Connects to the first configured network, or to a local test chain it starts.
    async fn connect(&mut self) {
        let result = async {
            let networks = load_networks(&self.dir.join("networks.json"))?;
            if let Some(network) = networks.into_iter().next() {
                return Chain::connect(network).await.map(|chain| (chain, None));
            }
            let local = LocalChain::start(Some(&self.dir.join("chain-state.json"))).await?;
            let chain = Chain::connect(local.network()).await?;
            Ok((chain, Some(local)))
        }
        .await;
        match result {
            Ok((chain, local)) => {
                self.chain = Some(chain);
                self.local = local;
                self.chain_problem = None;
                self.fund().await;
            }
            Err(error) => self.chain_problem = Some(error.to_string()),
        }
    }

    /// Connects for a new wallet (which also gives it test funds on the local chain).
    async fn start_chain(&mut self) {
        if self.chain.is_none() {
            self.connect().await;
        } else {
            self.fund().await;
        }
        self.refresh().await;
    }

    /// On the local test chain, gives the first account its test funds.
    async fn fund(&mut self) {
        let (Some(chain), Some(wallet)) = (&self.chain, &self.wallet) else {
            return;
        };
        if let (true, Some(first)) = (chain.network().is_local(), wallet.address(0))
            && let Err(error) = LocalChain::fund_if_empty(chain, first).await
        {
            self.events.send(Event::Problem(error.to_string())).ok();
        }
    }

    async fn handle(&mut self, command: Command) -> Result<(), WalletError> {
        match command {
            Command::Create { passphrase } => {
                let (wallet, phrase) = Wallet::create(&self.dir, &passphrase, KdfStrength::STANDARD)?;
                self.wallet = Some(wallet);
                self.events.send(Event::Words(phrase.words())).ok();
                self.start_chain().await;
            }
            Command::Restore { words, passphrase } => {
                let phrase = RecoveryPhrase::parse(&words)?;
                self.wallet = Some(Wallet::restore(
                    &self.dir,
                    &phrase,
                    &passphrase,
                    KdfStrength::STANDARD,
                )?);
                self.start_chain().await;
            }
            Command::ConfirmBackup => self.wallet()?.confirm_backup()?,
            Command::Unlock { passphrase } => self.wallet()?.unlock(&passphrase, DEFAULT_UNLOCK)?,
            Command::Lock => self.wallet()?.lock(),
            Command::AddAccount => {
                self.wallet()?.add_account()?;
                self.refresh().await;
            }
            Command::AddToken { contract } => {
                let contract: Address = contract.trim().parse().map_err(|_| {
                    WalletError::BadAddress(format!("\"{}\" is not a contract address", contract.trim()))
                })?;
                let chain = self.chain()?;
                let chain_id = chain.network().chain_id;
                let (symbol, decimals) = chain.token_info(contract).await?;
                self.wallet()?.add_token(Token {
                    chain_id,
                    address: contract,
                    symbol,
                    decimals,
                })?;
                self.refresh().await;
            }
            Command::Plan {
                account,
                to,
                amount,
                token,
                memo,
            } => {
                let from = self.wallet()?.address(account).ok_or_else(|| {
                    WalletError::BadAddress(format!("account {account} is not in this wallet"))
                })?;
                let plan = self.chain()?.plan_typed(from, to, token, &amount).await?;
                self.events
                    .send(Event::Planned {
                        plan,
                        memo,
                        request: None,
                    })
                    .ok();
            }
            Command::PlanPayment {
                account,
                terms,
                memo,
                request,
            } => {
                let from = self.wallet()?.address(account).ok_or_else(|| {
                    WalletError::BadAddress(format!("account {account} is not in this wallet"))
                })?;
                let chain = self.chain()?;
                if terms.chain_id != chain.network().chain_id {
                    return Err(WalletError::BadConfig(format!(
                        "the payment is asked on chain {}, and this wallet is on chain {} ({})",
                        terms.chain_id,
                        chain.network().chain_id,
                        chain.network().name
                    )));
                }
                let asset = chain.asset(terms.token.map(Address::from)).await?;
                let value = U256::from_be_bytes(terms.amount);
                let plan = chain
                    .plan_payment(from, Address::from(terms.to), asset, value, terms.reference)
                    .await?;
                self.events
                    .send(Event::Planned {
                        plan,
                        memo: Some(memo),
                        request: Some(request),
                    })
                    .ok();
            }
            Command::Send {
                plan,
                passphrase,
                memo,
                request,
            } => {
                if let Some(passphrase) = passphrase {
                    self.wallet()?.unlock(&passphrase, DEFAULT_UNLOCK)?;
                }
                let chain = self.chain()?.clone();
                let transfer = self.wallet()?.send(&chain, &plan, memo, now_ms()).await?;
                self.events.send(Event::Sent { transfer, request }).ok();
                self.refresh().await;
            }
            Command::Check {
                request,
                transaction,
                terms,
                confirmations,
            } => {
                let chain = self.chain()?;
                let asset = chain.asset(terms.token.map(Address::from)).await?;
                let expected = ExpectedPayment {
                    to: Address::from(terms.to),
                    asset,
                    value: U256::from_be_bytes(terms.amount),
                    reference: terms.reference,
                    confirmations,
                };
                let verdict = if terms.chain_id == chain.network().chain_id {
                    match chain.check_payment(TxHash::from(transaction), &expected).await? {
                        PaymentCheck::Waiting { confirmations } => PaymentVerdict::Waiting { confirmations },
                        PaymentCheck::Paid { from, block } => PaymentVerdict::Paid {
                            from: from.into_array(),
                            block,
                        },
                        PaymentCheck::Wrong(why) => PaymentVerdict::Wrong(why),
                    }
                } else {
                    PaymentVerdict::Wrong(format!(
                        "it is asked on chain {}, not this wallet's",
                        terms.chain_id
                    ))
                };
                self.events.send(Event::Checked { request, verdict }).ok();
            }
            Command::Refresh => self.refresh().await,
        }
        Ok(())
    }

    /// Reads balances and the fate of pending transfers, then tells the panel.
    async fn refresh(&mut self) {
        if let (Some(chain), Some(wallet)) = (&self.chain, &mut self.wallet) {
            let chain_id = chain.network().chain_id;
            let mut views = Vec::new();
            let tokens: Vec<Token> = wallet.tokens(chain_id).cloned().collect();
            for account in wallet.accounts() {
                let balance = chain.balance(account.address).await.ok();
                let mut held = Vec::new();
                for token in &tokens {
                    held.push((
                        token.clone(),
                        chain.token_balance(token.address, account.address).await.ok(),
                    ));
                }
                views.push(AccountView {
                    index: account.index,
                    address: account.address,
                    balance,
                    tokens: held,
                });
            }
            let pending: Vec<_> = wallet
                .history()
                .iter()
                .filter(|transfer| {
                    transfer.status == TransferStatus::Pending && transfer.chain_id == chain_id
                })
                .map(|transfer| transfer.hash)
                .collect();
            for hash in pending {
                if let Ok((status, _)) = chain.status(hash).await {
                    let _ = wallet.set_status(hash, status);
                }
            }
            self.chain_problem = if views.iter().all(|view| view.balance.is_none()) && !views.is_empty() {
                Some(format!(
                    "the chain at {} is not answering",
                    chain.network().rpc_url
                ))
            } else {
                None
            };
            self.balances = views;
        } else if let Some(wallet) = &self.wallet {
            self.balances = wallet
                .accounts()
                .iter()
                .map(|account| AccountView {
                    index: account.index,
                    address: account.address,
                    balance: None,
                    tokens: Vec::new(),
                })
                .collect();
        }
        self.publish();
    }

    /// Sends a snapshot if anything the panel shows changed.
    fn publish(&mut self) {
        let snapshot = WalletSnapshot {
            exists: self.wallet.is_some(),
            unlocked: self.wallet.as_mut().is_some_and(Wallet::is_unlocked),
            backed_up: self.wallet.as_ref().is_some_and(Wallet::backed_up),
            network: self.chain.as_ref().map(|chain| chain.network().clone()),
            chain_problem: self.chain_problem.clone(),
            accounts: self.balances.clone(),
            history: self
                .wallet
                .as_ref()
                .map(|wallet| wallet.history().to_vec())
                .unwrap_or_default(),
        };
        if self.last_sent.as_ref() != Some(&snapshot) {
            self.last_sent = Some(snapshot.clone());
            self.events.send(Event::Snapshot(snapshot)).ok();
        }
    }

    fn wallet(&mut self) -> Result<&mut Wallet, WalletError> {
        self.wallet.as_mut().ok_or(WalletError::NoWallet)
    }

    fn chain(&self) -> Result<&Chain, WalletError> {
        self.chain.as_ref().ok_or_else(|| {
            WalletError::NoLocalChain(
                self.chain_problem
                    .clone()
                    .unwrap_or_else(|| "not connected yet".into()),
            )
        })
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_millis() as u64)
}
