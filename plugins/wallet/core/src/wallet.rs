//! The wallet in the data folder: the encrypted phrase, the accounts it has shown, the
//! tokens the person added and the history of what it sent.
//!
//! `wallet/keystore.json` holds the phrase's entropy in the v3 keystore format;
//! `wallet/wallet.json` holds only public things (addresses, tokens, history), so balances
//! show without unlocking. Unlocking keeps the phrase in memory until a timeout passes.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use alloy::primitives::Address;
use alloy::signers::local::PrivateKeySigner;
use serde::{Deserialize, Serialize};

use crate::WalletError;
use crate::history::{Transfer, TransferStatus};
use crate::keystore::{KdfStrength, KeystoreFile};
use crate::phrase::RecoveryPhrase;

/// How long an unlock lasts unless the caller says otherwise.
pub const DEFAULT_UNLOCK: Duration = Duration::from_secs(5 * 60);

/// The most accounts a wallet lists.
pub const MAX_ACCOUNTS: usize = 64;

/// The most transfers kept in the history (the oldest go first).
pub const MAX_HISTORY: usize = 1000;

/// An account derived from the phrase.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// Its BIP-44 index.
    pub index: u32,
    /// Its address.
    pub address: Address,
}

/// An ERC-20 token the person added, on one network.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Token {
    /// The network's chain id.
    pub chain_id: u64,
    /// The contract.
    pub address: Address,
    /// Its symbol, as the contract reported it when added.
    pub symbol: String,
    /// Its decimals, as the contract reported them when added.
    pub decimals: u8,
}

/// The public part of the wallet, in `wallet.json`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct WalletState {
    accounts: Vec<Account>,
    /// Whether the person confirmed they wrote the phrase down.
    backed_up: bool,
    tokens: Vec<Token>,
    history: Vec<Transfer>,
}

/// An unlocked phrase and when it locks again.
struct Unlocked {
    phrase: RecoveryPhrase,
    until: Instant,
}

/// The person's wallet.
pub struct Wallet {
    dir: PathBuf,
    keystore: KeystoreFile,
    state: WalletState,
    unlocked: Option<Unlocked>,
}

impl std::fmt::Debug for Wallet {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Wallet")
            .field("dir", &self.dir)
            .field("accounts", &self.state.accounts)
            .field("unlocked", &self.unlocked.is_some())
            .finish_non_exhaustive()
    }
}

impl Wallet {
    /// The wallet folder inside a data folder: the wallet app's own folder, shared with
    /// `sanctuary-node wallet`.
    pub fn dir_in(data_dir: &Path) -> PathBuf {
        data_dir.join("apps").join("wallet")
    }

    /// Whether `dir` holds a wallet.
    pub fn exists(dir: &Path) -> bool {
        keystore_path(dir).exists()
    }

    /// Makes a new wallet with a fresh phrase, encrypted under `passphrase`. Returns the phrase
    /// so it can be shown once; the wallet stays unlocked for [`DEFAULT_UNLOCK`].
    /// Refuses to replace an existing wallet.
    pub fn create(
        dir: &Path,
        passphrase: &str,
        strength: KdfStrength,
    ) -> Result<(Self, RecoveryPhrase), WalletError> {
        let phrase = RecoveryPhrase::generate()?;
        let wallet = Self::write_new(dir, &phrase, passphrase, strength, false)?;
        Ok((wallet, phrase))
    }

    /// Makes the wallet of an existing phrase. Refuses to replace an existing wallet.
    pub fn restore(
        dir: &Path,
        phrase: &RecoveryPhrase,
        passphrase: &str,
        strength: KdfStrength,
    ) -> Result<Self, WalletError> {
        Self::write_new(dir, phrase, passphrase, strength, true)
    }

    fn write_new(
        dir: &Path,
        phrase: &RecoveryPhrase,
        passphrase: &str,
        strength: KdfStrength,
        backed_up: bool,
    ) -> Result<Self, WalletError> {
        if Self::exists(dir) {
            return Err(WalletError::AlreadyExists(dir.display().to_string()));
        }
        if passphrase.chars().count() < 8 {
            return Err(WalletError::WeakPassphrase);
        }
        let first = phrase.address(0)?;
        let address = alloy::primitives::hex::encode(first);
        let keystore = KeystoreFile::encrypt(phrase.entropy(), passphrase, strength, Some(address))?;
        let wallet = Self {
            dir: dir.to_path_buf(),
            keystore,
            state: WalletState {
                accounts: vec![Account {
                    index: 0,
                    address: first,
                }],
                backed_up,
                ..Default::default()
            },
            unlocked: Some(Unlocked {
                phrase: phrase.clone(),
                until: Instant::now() + DEFAULT_UNLOCK,
            }),
        };
        wallet.save_state()?;
        wallet.keystore.save(&keystore_path(dir))?;
        Ok(wallet)
    }

    /// Opens the wallet in `dir`, locked. A missing one is [`WalletError::NoWallet`]; an
    /// unreadable `wallet.json` is set aside and rebuilt (the keystore is never touched).
    pub fn open(dir: &Path) -> Result<Self, WalletError> {
        let keystore = KeystoreFile::load(&keystore_path(dir))?;
        let state_path = state_path(dir);
        let state = match std::fs::read(&state_path) {
            Ok(bytes) => match serde_json::from_slice::<WalletState>(&bytes) {
                Ok(state) => state,
                Err(error) => {
                    let aside = state_path.with_extension("json.unreadable");
                    tracing::warn!(
                        "{} is unreadable ({error}); kept as {} and rebuilt",
                        state_path.display(),
                        aside.display()
                    );
                    std::fs::rename(&state_path, &aside)
                        .map_err(|e| WalletError::Io(state_path.display().to_string(), e))?;
                    WalletState::default()
                }
            },
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => WalletState::default(),
            Err(error) => return Err(WalletError::Io(state_path.display().to_string(), error)),
        };
        let mut wallet = Self {
            dir: dir.to_path_buf(),
            keystore,
            state,
            unlocked: None,
        };
        if wallet.state.accounts.is_empty() {
            // Rebuilt state: the keystore names the first address.
            if let Some(address) = wallet
                .keystore
                .address
                .as_deref()
                .and_then(|hex| hex.parse().ok())
            {
                wallet.state.accounts.push(Account { index: 0, address });
            }
        }
        Ok(wallet)
    }

    /// The accounts shown so far (at least the first, once unlocked).
    pub fn accounts(&self) -> &[Account] {
        &self.state.accounts
    }

    /// The address of account `index`, if it has been derived.
    pub fn address(&self, index: u32) -> Option<Address> {
        self.state
            .accounts
            .iter()
            .find(|account| account.index == index)
            .map(|account| account.address)
    }

    /// Unlocks with `passphrase` for `duration`.
    pub fn unlock(&mut self, passphrase: &str, duration: Duration) -> Result<(), WalletError> {
        let entropy = self.keystore.decrypt(passphrase)?;
        let phrase = RecoveryPhrase::from_entropy(entropy)?;
        if self.state.accounts.is_empty() {
            self.state.accounts.push(Account {
                index: 0,
                address: phrase.address(0)?,
            });
            self.save_state()?;
        }
        self.unlocked = Some(Unlocked {
            phrase,
            until: Instant::now() + duration,
        });
        Ok(())
    }

    /// Forgets the phrase now.
    pub fn lock(&mut self) {
        self.unlocked = None;
    }

    /// Whether the phrase is in memory and its time has not run out; locks when it has.
    pub fn is_unlocked(&mut self) -> bool {
        if self
            .unlocked
            .as_ref()
            .is_some_and(|unlocked| Instant::now() >= unlocked.until)
        {
            self.unlocked = None;
        }
        self.unlocked.is_some()
    }

    /// The signing key of account `index`, while unlocked.
    pub fn signer(&mut self, index: u32) -> Result<PrivateKeySigner, WalletError> {
        self.phrase()?.signer(index)
    }

    /// Derives the next account, while unlocked.
    pub fn add_account(&mut self) -> Result<Account, WalletError> {
        if self.state.accounts.len() >= MAX_ACCOUNTS {
            return Err(WalletError::TooMany(format!(
                "a wallet lists at most {MAX_ACCOUNTS} accounts"
            )));
        }
        let index = self
            .state
            .accounts
            .iter()
            .map(|account| account.index + 1)
            .max()
            .unwrap_or(0);
        let address = self.phrase()?.address(index)?;
        let account = Account { index, address };
        self.state.accounts.push(account.clone());
        self.save_state()?;
        Ok(account)
    }

    /// The phrase again, for a person who asks to see it: needs the passphrase even when unlocked.
    pub fn reveal_phrase(&self, passphrase: &str) -> Result<RecoveryPhrase, WalletError> {
        RecoveryPhrase::from_entropy(self.keystore.decrypt(passphrase)?)
    }

    /// Whether the person confirmed they wrote the phrase down.
    pub fn backed_up(&self) -> bool {
        self.state.backed_up
    }

    /// Records that the person confirmed the phrase (by typing words of it back).
    pub fn confirm_backup(&mut self) -> Result<(), WalletError> {
        self.state.backed_up = true;
        self.save_state()
    }

    /// The tokens added for `chain_id`.
    pub fn tokens(&self, chain_id: u64) -> impl Iterator<Item = &Token> {
        self.state
            .tokens
            .iter()
            .filter(move |token| token.chain_id == chain_id)
    }

    /// Adds a token (once per network and contract).
    pub fn add_token(&mut self, token: Token) -> Result<(), WalletError> {
        if self
            .state
            .tokens
            .iter()
            .any(|known| known.chain_id == token.chain_id && known.address == token.address)
        {
            return Ok(());
        }
        if self.state.tokens.len() >= MAX_ACCOUNTS {
            return Err(WalletError::TooMany(format!(
                "a wallet follows at most {MAX_ACCOUNTS} tokens"
            )));
        }
        self.state.tokens.push(token);
        self.save_state()
    }

    /// What this wallet sent, newest last.
    pub fn history(&self) -> &[Transfer] {
        &self.state.history
    }

    /// Records a transfer before it is broadcast, so a crash cannot lose track of it.
    pub fn record(&mut self, transfer: Transfer) -> Result<(), WalletError> {
        if let Some(known) = self
            .state
            .history
            .iter_mut()
            .find(|known| known.hash == transfer.hash)
        {
            *known = transfer;
        } else {
            self.state.history.push(transfer);
            let excess = self.state.history.len().saturating_sub(MAX_HISTORY);
            self.state.history.drain(..excess);
        }
        self.save_state()
    }

    /// Sets the status of a recorded transfer.
    pub fn set_status(
        &mut self,
        hash: alloy::primitives::TxHash,
        status: TransferStatus,
    ) -> Result<(), WalletError> {
        match self.state.history.iter_mut().find(|known| known.hash == hash) {
            Some(known) if known.status != status => {
                known.status = status;
                self.save_state()
            }
            _ => Ok(()),
        }
    }

    /// Signs `plan` (while unlocked), records it as pending before it leaves (so a crash
    /// cannot lose track of it), broadcasts it, and records a refusal as failed.
    pub async fn send(
        &mut self,
        chain: &crate::Chain,
        plan: &crate::TransferPlan,
        memo: Option<String>,
        sent_at_ms: u64,
    ) -> Result<Transfer, WalletError> {
        let account = self
            .state
            .accounts
            .iter()
            .find(|account| account.address == plan.from)
            .map(|account| account.index)
            .ok_or_else(|| WalletError::BadAddress("the plan's sender is not in this wallet".into()))?;
        let signed = crate::chain::sign(plan, &self.signer(account)?)?;
        let record = signed.record(sent_at_ms, memo);
        self.record(record.clone())?;
        if let Err(error) = chain.broadcast(&signed).await {
            self.set_status(
                signed.hash,
                TransferStatus::Failed {
                    reason: error.to_string(),
                },
            )?;
            return Err(error);
        }
        Ok(record)
    }

    fn phrase(&mut self) -> Result<&RecoveryPhrase, WalletError> {
        if !self.is_unlocked() {
            return Err(WalletError::Locked);
        }
        Ok(&self.unlocked.as_ref().ok_or(WalletError::Locked)?.phrase)
    }

    fn save_state(&self) -> Result<(), WalletError> {
        let json = serde_json::to_vec_pretty(&self.state)
            .map_err(|error| WalletError::BadConfig(error.to_string()))?;
        crate::files::write_atomically(&state_path(&self.dir), &json, false)
    }
}

fn keystore_path(dir: &Path) -> PathBuf {
    dir.join("keystore.json")
}

fn state_path(dir: &Path) -> PathBuf {
    dir.join("wallet.json")
}
