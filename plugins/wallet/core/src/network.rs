//! Networks as configuration: a name, a chain id and an RPC address.
//!
//! With none configured the wallet uses the local test chain the client starts itself
//! (see [`crate::local_chain`]). A real network is one entry in `apps/wallet/networks.json`
//! of the data folder: `[{"name": "Sepolia", "chain_id": 11155111, "rpc_url": "https://…", "symbol": "ETH"}]`.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::WalletError;

/// What the local chain is called wherever it is shown, so nobody mistakes it for money.
pub const LOCAL_CHAIN_LABEL: &str = "local test chain — not real money";

/// The chain id the local test chain runs with.
pub const LOCAL_CHAIN_ID: u64 = 31337;

/// One EVM network the wallet can use.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Network {
    /// What the person calls it.
    pub name: String,
    /// EIP-155 chain id; the RPC must agree or it is refused.
    pub chain_id: u64,
    /// JSON-RPC address (http or https).
    pub rpc_url: String,
    /// The native coin's symbol.
    #[serde(default = "default_symbol")]
    pub symbol: String,
    /// Test funds only (the local chain, testnets): shown with the network's name.
    #[serde(default)]
    pub test: bool,
}

fn default_symbol() -> String {
    "ETH".into()
}

impl Network {
    /// The local test chain at `rpc_url`.
    pub fn local(rpc_url: impl Into<String>) -> Self {
        Self {
            name: LOCAL_CHAIN_LABEL.into(),
            chain_id: LOCAL_CHAIN_ID,
            rpc_url: rpc_url.into(),
            symbol: "ETH".into(),
            test: true,
        }
    }

    /// Whether this is the chain the client starts itself.
    pub fn is_local(&self) -> bool {
        self.chain_id == LOCAL_CHAIN_ID && self.name == LOCAL_CHAIN_LABEL
    }
}

/// Reads `networks.json`; a missing file means none are configured.
pub fn load_networks(path: &Path) -> Result<Vec<Network>, WalletError> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => return Err(WalletError::Io(path.display().to_string(), error)),
    };
    let networks: Vec<Network> = serde_json::from_slice(&bytes)
        .map_err(|error| WalletError::BadConfig(format!("{}: {error}", path.display())))?;
    for network in &networks {
        if !(network.rpc_url.starts_with("http://") || network.rpc_url.starts_with("https://")) {
            return Err(WalletError::BadConfig(format!(
                "{}: network \"{}\" has RPC address \"{}\", which is not http:// or https://",
                path.display(),
                network.name,
                network.rpc_url
            )));
        }
    }
    Ok(networks)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_network_is_one_entry_and_bad_entries_say_which() {
        let dir = std::env::temp_dir().join(format!("sanctuary-networks-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("networks.json");
        assert!(load_networks(&path).unwrap().is_empty());
        std::fs::write(
            &path,
            r#"[{"name": "Sepolia", "chain_id": 11155111, "rpc_url": "https://rpc.example"}]"#,
        )
        .unwrap();
        let networks = load_networks(&path).unwrap();
        assert_eq!(networks[0].chain_id, 11155111);
        assert_eq!(networks[0].symbol, "ETH");
        assert!(!networks[0].is_local());
        std::fs::write(&path, r#"[{"name": "Odd", "chain_id": 1, "rpc_url": "ftp://x"}]"#).unwrap();
        assert!(matches!(load_networks(&path), Err(WalletError::BadConfig(m)) if m.contains("Odd")));
        std::fs::write(&path, "[{").unwrap();
        assert!(matches!(load_networks(&path), Err(WalletError::BadConfig(_))));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
