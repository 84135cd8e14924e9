//! The local test chain: anvil, started as a child process on loopback, so a fresh machine
//! has a working wallet with no network configured. Not real money, and labelled so.
//!
//! anvil is found at `$SANCTUARY_ANVIL`, then where `scripts/install-anvil.sh` puts it
//! (`~/.cache/sanctuary/tools/anvil-<version>/anvil`), then on `PATH`. The chain's state is
//! kept in the data folder, so balances and history survive a restart.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use alloy::primitives::{Address, U256};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::WalletError;
use crate::chain::Chain;
use crate::network::Network;

/// The anvil release the scripts install.
pub const ANVIL_VERSION: &str = "1.7.1";

/// What the person's first account is given on a new local chain: 100 ETH.
pub const TEST_FUNDS_WEI: u128 = 100_000_000_000_000_000_000;

/// How long anvil may take to start listening.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// A running local chain. Dropping it stops anvil (which saves its state first when asked
/// with [`LocalChain::stop`]).
#[derive(Debug)]
pub struct LocalChain {
    child: Child,
    rpc_url: String,
}

impl LocalChain {
    /// Finds the anvil binary, or says how to install it.
    pub fn find_anvil() -> Result<PathBuf, WalletError> {
        if let Some(path) = std::env::var_os("SANCTUARY_ANVIL") {
            let path = PathBuf::from(path);
            return if path.is_file() {
                Ok(path)
            } else {
                Err(WalletError::NoLocalChain(format!(
                    "SANCTUARY_ANVIL names {}, which is not a file",
                    path.display()
                )))
            };
        }
        let cache = std::env::var_os("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")));
        let installed = cache.map(|cache| cache.join(format!("sanctuary/tools/anvil-{ANVIL_VERSION}/anvil")));
        if let Some(installed) = installed.filter(|path| path.is_file()) {
            return Ok(installed);
        }
        std::env::var_os("PATH")
            .into_iter()
            .flat_map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
            .map(|dir| dir.join("anvil"))
            .find(|candidate| candidate.is_file())
            .ok_or_else(|| {
                WalletError::NoLocalChain(
                    "anvil is not installed: run scripts/install-anvil.sh (./run.sh does)".into(),
                )
            })
    }

    /// Starts anvil on a free loopback port, keeping its state in `state_file` when given.
    pub async fn start(state_file: Option<&Path>) -> Result<Self, WalletError> {
        let anvil = Self::find_anvil()?;
        let mut command = Command::new(&anvil);
        command
            .args(["--host", "127.0.0.1", "--port", "0", "--chain-id"])
            .arg(crate::network::LOCAL_CHAIN_ID.to_string());
        // anvil's own test accounts stay unfunded: only the person's account gets test funds.
        command.args(["--accounts", "1", "--balance", "0"]);
        if let Some(state) = state_file {
            if let Some(parent) = state.parent() {
                std::fs::create_dir_all(parent)
                    .map_err(|error| WalletError::Io(parent.display().to_string(), error))?;
            }
            command.arg("--state").arg(state).args(["--state-interval", "5"]);
        }
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        stop_with_parent(&mut command);
        let mut child = command.spawn().map_err(|error| {
            WalletError::NoLocalChain(format!("{} would not start: {error}", anvil.display()))
        })?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| WalletError::NoLocalChain("anvil has no output".into()))?;
        let stderr = child
            .stderr
            .take()
            .ok_or_else(|| WalletError::NoLocalChain("anvil has no output".into()))?;
        let mut lines = BufReader::new(stdout).lines();
        let listening = tokio::time::timeout(START_TIMEOUT, async {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(address) = line.trim().strip_prefix("Listening on ") {
                    return Some(address.trim().to_string());
                }
            }
            None
        })
        .await;
        let address = match listening {
            Ok(Some(address)) => address,
            _ => {
                let _ = child.start_kill();
                let mut errors = String::new();
                let mut error_lines = BufReader::new(stderr).lines();
                while let Ok(Ok(Some(line))) =
                    tokio::time::timeout(Duration::from_millis(500), error_lines.next_line()).await
                {
                    errors.push_str(&line);
                    errors.push(' ');
                }
                return Err(WalletError::NoLocalChain(format!(
                    "anvil did not start listening: {}",
                    errors.trim()
                )));
            }
        };
        // anvil logs every call: keep reading so it never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        tokio::spawn(async move {
            let mut lines = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                tracing::debug!("anvil: {line}");
            }
        });
        Ok(Self {
            child,
            rpc_url: format!("http://{address}"),
        })
    }

    /// Its JSON-RPC address.
    pub fn rpc_url(&self) -> &str {
        &self.rpc_url
    }

    /// The network entry for it.
    pub fn network(&self) -> Network {
        Network::local(self.rpc_url.clone())
    }

    /// Gives `address` [`TEST_FUNDS_WEI`] if it holds nothing yet (a new chain, a new wallet).
    pub async fn fund_if_empty(chain: &Chain, address: Address) -> Result<bool, WalletError> {
        if !chain.network().is_local() {
            return Err(WalletError::NoLocalChain(
                "test funds exist only on the local test chain".into(),
            ));
        }
        if chain.balance(address).await? > U256::ZERO {
            return Ok(false);
        }
        let _: serde_json::Value = chain
            .raw("anvil_setBalance", (address, U256::from(TEST_FUNDS_WEI)))
            .await?;
        Ok(true)
    }

    /// Stops anvil, letting it save its state first.
    pub async fn stop(mut self) {
        #[cfg(unix)]
        if let Some(pid) = self.child.id() {
            // SIGTERM: anvil writes its state file on the way out.
            let _ = std::process::Command::new("kill")
                .arg("-TERM")
                .arg(pid.to_string())
                .status();
            if tokio::time::timeout(Duration::from_secs(5), self.child.wait())
                .await
                .is_ok()
            {
                return;
            }
        }
        let _ = self.child.kill().await;
    }
}

/// Asks Linux to send anvil SIGTERM (on which it saves its state) when the thread that
/// started it ends, so a client that crashes or is killed leaves no chain running.
#[cfg(target_os = "linux")]
fn stop_with_parent(command: &mut Command) {
    #[expect(
        unsafe_code,
        reason = "prctl between fork and exec; it touches nothing of the parent's"
    )]
    // SAFETY: the closure only calls prctl, which is async-signal-safe.
    unsafe {
        command.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

#[cfg(not(target_os = "linux"))]
fn stop_with_parent(_command: &mut Command) {}
