//! `sanctuary-node wallet …`: the wallet from a terminal or a script, on the same keystore
//! and the same transfer flow as the wallet panel.
//!
//! - `new [--restore]`: make a wallet (its recovery phrase is printed once) or restore one
//!   from its words.
//! - `address [--account N]`, `balance [--account N]`, `history`, `add-account`,
//!   `add-token CONTRACT`.
//! - `send TO AMOUNT [--token CONTRACT] [--account N] [--yes] [--memo TEXT]`: shows exactly
//!   what will be signed, asks (unless `--yes`), sends and waits for the block.
//!
//! The passphrase comes from `SANCTUARY_WALLET_PASSPHRASE`, else a prompt that does not echo,
//! else the next line of standard input. With no `--rpc` and no configured network the
//! local test chain is started for the command, its state kept in the data folder.

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use sanctuary_wallet_core::wallet::DEFAULT_UNLOCK;
use sanctuary_wallet_core::{
    Address, Chain, KdfStrength, LocalChain, RecoveryPhrase, Token, TransferStatus, Wallet, format_amount,
    load_networks,
};

/// How long `send` waits for its block before leaving the transfer pending.
const CONFIRM_WAIT: Duration = Duration::from_secs(60);

/// The wallet's commands.
#[derive(clap::Subcommand, Debug)]
pub enum WalletCommand {
    /// Make a new wallet (prints its recovery phrase once), or restore one from its words.
    New {
        /// Read the recovery phrase instead of making one.
        #[arg(long)]
        restore: bool,
    },
    /// Print an account's address.
    Address {
        /// Which account.
        #[arg(long, default_value_t = 0)]
        account: u32,
    },
    /// Derive and print the next account.
    AddAccount,
    /// Print an account's balances: the network's coin and every token added.
    Balance {
        /// Which account.
        #[arg(long, default_value_t = 0)]
        account: u32,
    },
    /// Follow an ERC-20 token by its contract address.
    AddToken {
        /// The token's contract.
        contract: String,
    },
    /// Send coins or tokens to an address.
    Send {
        /// The recipient's address (0x…).
        to: String,
        /// How much, in whole units: 1.5
        amount: String,
        /// Send this ERC-20 token (its contract) instead of the network's coin.
        #[arg(long, value_name = "CONTRACT")]
        token: Option<String>,
        /// From which account.
        #[arg(long, default_value_t = 0)]
        account: u32,
        /// Do not ask before signing.
        #[arg(long)]
        yes: bool,
        /// A note kept with the transfer in the history.
        #[arg(long)]
        memo: Option<String>,
    },
    /// List what this wallet sent and what became of it.
    History,
}

/// Where the wallet lives and which chain it talks to.
#[derive(clap::Args, Debug)]
pub struct WalletOptions {
    /// The data folder (the client's, by default: ~/.local/share/sanctuary).
    #[arg(long, value_name = "DIR", global = true)]
    pub data_dir: Option<PathBuf>,
    /// A JSON-RPC address to use instead of the configured networks.
    #[arg(long, value_name = "URL", global = true)]
    pub rpc: Option<String>,
    /// Which configured network (by name) when several are in apps/wallet/networks.json.
    #[arg(long, value_name = "NAME", global = true)]
    pub network: Option<String>,
}

impl WalletOptions {
    /// The data folder: `--data-dir`, else the client's.
    pub fn data_dir(&self) -> PathBuf {
        self.data_dir
            .clone()
            .unwrap_or_else(sanctuary_net::data_dir::default_data_dir)
    }
}

/// Runs one `wallet` command.
pub async fn run(command: WalletCommand, options: WalletOptions) -> anyhow::Result<()> {
    let data_dir = options.data_dir();
    let dir = Wallet::dir_in(&data_dir);
    match command {
        WalletCommand::New { restore } => return new_wallet(&dir, restore),
        WalletCommand::Address { account } => {
            let wallet = Wallet::open(&dir)?;
            let address = wallet
                .address(account)
                .with_context(|| format!("account {account} has not been added (add-account)"))?;
            println!("address: {address}");
            return Ok(());
        }
        WalletCommand::AddAccount => {
            let mut wallet = Wallet::open(&dir)?;
            wallet.unlock(&passphrase("Passphrase: ")?, DEFAULT_UNLOCK)?;
            let account = wallet.add_account()?;
            println!("account {}: {}", account.index, account.address);
            return Ok(());
        }
        _ => {}
    }

    let mut wallet = Wallet::open(&dir)?;
    let (chain, local) = connect(&options, &data_dir).await?;
    if let Some(first) = wallet.address(0).filter(|_| local.is_some())
        && LocalChain::fund_if_empty(&chain, first).await?
    {
        println!("test funds: 100 {} given to {first}", chain.network().symbol);
    }
    let result = chain_command(command, &mut wallet, &chain).await;
    if let Some(local) = local {
        local.stop().await;
    }
    result
}

async fn chain_command(command: WalletCommand, wallet: &mut Wallet, chain: &Chain) -> anyhow::Result<()> {
    let network = chain.network().clone();
    match command {
        WalletCommand::Balance { account } => {
            let address = wallet
                .address(account)
                .with_context(|| format!("account {account} has not been added"))?;
            println!("network: {} (chain {})", network.name, network.chain_id);
            println!("address: {address}");
            println!(
                "balance: {} {}",
                format_amount(chain.balance(address).await?, 18),
                network.symbol
            );
            let tokens: Vec<Token> = wallet.tokens(network.chain_id).cloned().collect();
            for token in tokens {
                match chain.token_balance(token.address, address).await {
                    Ok(held) => println!(
                        "balance: {} {} ({})",
                        format_amount(held, token.decimals),
                        token.symbol,
                        token.address
                    ),
                    Err(error) => println!("balance: ? {} ({error})", token.symbol),
                }
            }
        }
        WalletCommand::AddToken { contract } => {
            let contract: Address = contract
                .parse()
                .map_err(|_| anyhow::anyhow!("\"{contract}\" is not an address"))?;
            let (symbol, decimals) = chain.token_info(contract).await?;
            wallet.add_token(Token {
                chain_id: network.chain_id,
                address: contract,
                symbol: symbol.clone(),
                decimals,
            })?;
            println!(
                "token: {symbol} ({decimals} decimals) at {contract} on {}",
                network.name
            );
        }
        WalletCommand::Send {
            to,
            amount,
            token,
            account,
            yes,
            memo,
        } => {
            let from = wallet
                .address(account)
                .with_context(|| format!("account {account} has not been added"))?;
            let to: Address = to
                .parse()
                .map_err(|_| anyhow::anyhow!("\"{to}\" is not an address (0x and 40 hex digits)"))?;
            let token = match token {
                None => None,
                Some(contract) => Some(
                    contract
                        .parse::<Address>()
                        .map_err(|_| anyhow::anyhow!("\"{contract}\" is not an address"))?,
                ),
            };
            let plan = chain.plan_typed(from, to, token, &amount).await?;
            println!("plan: {}", plan.summary());
            if !yes && !confirm("Sign and send? [y/N] ")? {
                bail!("not sent");
            }
            wallet.unlock(&passphrase("Passphrase: ")?, Duration::from_secs(30))?;
            let sent = wallet.send(chain, &plan, memo, now_ms()).await;
            wallet.lock();
            let transfer = sent?;
            println!("sent: {}", transfer.hash);
            let status = chain.wait(transfer.hash, CONFIRM_WAIT).await?;
            wallet.set_status(transfer.hash, status.clone())?;
            println!("status: {}", describe(&status));
            if let TransferStatus::Reverted { .. } = status {
                bail!("the transfer reverted: nothing was sent but the fee");
            }
        }
        WalletCommand::History => {
            let pending: Vec<_> = wallet
                .history()
                .iter()
                .filter(|transfer| {
                    transfer.status == TransferStatus::Pending && transfer.chain_id == network.chain_id
                })
                .map(|transfer| transfer.hash)
                .collect();
            for hash in pending {
                if let Ok((status, _)) = chain.status(hash).await {
                    wallet.set_status(hash, status)?;
                }
            }
            if wallet.history().is_empty() {
                println!("no transfers yet");
            }
            for transfer in wallet.history() {
                println!(
                    "{} {} {} to {} on chain {}: {}{}",
                    transfer.hash,
                    format_amount(transfer.value, transfer.asset.decimals()),
                    transfer.asset.symbol(),
                    transfer.to,
                    transfer.chain_id,
                    describe(&transfer.status),
                    transfer
                        .memo
                        .as_deref()
                        .map(|memo| format!(" ({memo})"))
                        .unwrap_or_default()
                );
            }
        }
        WalletCommand::New { .. } | WalletCommand::Address { .. } | WalletCommand::AddAccount => {}
    }
    Ok(())
}

fn new_wallet(dir: &std::path::Path, restore: bool) -> anyhow::Result<()> {
    if Wallet::exists(dir) {
        bail!(
            "a wallet already exists in {}; it is never replaced",
            dir.display()
        );
    }
    if restore {
        let words = secret_line("Recovery phrase: ")?;
        let phrase = RecoveryPhrase::parse(&words)?;
        let pass = new_passphrase()?;
        let wallet = Wallet::restore(dir, &phrase, &pass, KdfStrength::STANDARD)?;
        println!("restored: {}", wallet.accounts()[0].address);
        return Ok(());
    }
    let pass = new_passphrase()?;
    let (wallet, phrase) = Wallet::create(dir, &pass, KdfStrength::STANDARD)?;
    println!("address: {}", wallet.accounts()[0].address);
    println!("Your recovery phrase, shown this once. Write it down and keep it safe:");
    println!("words: {}", phrase.words().expose());
    println!("Anyone with these words has this wallet; without them a lost passphrase cannot be recovered.");
    Ok(())
}

/// Starts the chain the options name: `--rpc`, a configured network, or the local test chain.
pub async fn connect(
    options: &WalletOptions,
    data_dir: &std::path::Path,
) -> anyhow::Result<(Chain, Option<LocalChain>)> {
    if let Some(url) = &options.rpc {
        return Ok((Chain::probe(url).await?, None));
    }
    let networks = load_networks(&Wallet::dir_in(data_dir).join("networks.json"))?;
    if let Some(name) = &options.network {
        let network = networks
            .into_iter()
            .find(|network| &network.name == name)
            .with_context(|| format!("no network named \"{name}\" in apps/wallet/networks.json"))?;
        return Ok((Chain::connect(network).await?, None));
    }
    if let Some(network) = networks.into_iter().next() {
        return Ok((Chain::connect(network).await?, None));
    }
    let local = LocalChain::start(Some(&Wallet::dir_in(data_dir).join("chain-state.json"))).await?;
    let chain = Chain::connect(local.network()).await?;
    Ok((chain, Some(local)))
}

fn describe(status: &TransferStatus) -> String {
    match status {
        TransferStatus::Pending => "pending".into(),
        TransferStatus::Confirmed { block } => format!("confirmed in block {block}"),
        TransferStatus::Reverted { block } => format!("reverted in block {block}"),
        TransferStatus::Failed { reason } => format!("failed: {reason}"),
    }
}

/// Now, in Unix milliseconds.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_millis() as u64)
}

/// The passphrase: from the environment, a silent prompt, or standard input.
pub fn passphrase(prompt: &str) -> anyhow::Result<String> {
    if let Ok(pass) = std::env::var("SANCTUARY_WALLET_PASSPHRASE") {
        return Ok(pass);
    }
    secret_line(prompt)
}

/// A new passphrase, asked twice on a terminal.
fn new_passphrase() -> anyhow::Result<String> {
    let pass = passphrase("New passphrase (at least 8 characters): ")?;
    if std::env::var_os("SANCTUARY_WALLET_PASSPHRASE").is_none() && std::io::stdin().is_terminal() {
        let again = secret_line("Again: ")?;
        if again != pass {
            bail!("the two passphrases differ; nothing was made");
        }
    }
    Ok(pass)
}

/// One line from a terminal with echo off, or from piped standard input.
fn secret_line(prompt: &str) -> anyhow::Result<String> {
    let stdin = std::io::stdin();
    let terminal = stdin.is_terminal();
    if terminal {
        eprint!("{prompt}");
        std::io::stderr().flush()?;
        let _ = std::process::Command::new("stty")
            .arg("-echo")
            .stdin(std::process::Stdio::inherit())
            .status();
    }
    let mut line = String::new();
    let read = stdin.lock().read_line(&mut line);
    if terminal {
        let _ = std::process::Command::new("stty")
            .arg("echo")
            .stdin(std::process::Stdio::inherit())
            .status();
        eprintln!();
    }
    if read? == 0 {
        bail!("nothing to read: set SANCTUARY_WALLET_PASSPHRASE or run in a terminal");
    }
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

/// Asks a yes/no question on the terminal; refuses to go on without one.
pub fn confirm(prompt: &str) -> anyhow::Result<bool> {
    if !std::io::stdin().is_terminal() {
        bail!("not sent: pass --yes to send without a terminal to confirm in");
    }
    eprint!("{prompt}");
    std::io::stderr().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}
