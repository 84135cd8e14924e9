//! The market's file in the data folder (`apps/market/market.json`): the person's shop and
//! purchases, replaced atomically on every change.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::MarketError;
use crate::purchases::Purchases;
use crate::shop::Shop;

/// The records' file name in the market's folder.
pub const RECORDS_FILE: &str = "market.json";

/// Everything the market keeps about this person's trade.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MarketRecords {
    /// What they sell, and their sales.
    pub shop: Shop,
    /// What they bought.
    pub purchases: Purchases,
}

/// The market's folder in the data folder.
pub fn market_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("apps").join("market")
}

impl MarketRecords {
    /// Reads the records in `dir`, or empty ones the first time. An unreadable file is set
    /// aside (renamed, never deleted) and the second value says so.
    pub fn load(dir: &Path) -> Result<(Self, Option<String>), MarketError> {
        let path = dir.join(RECORDS_FILE);
        let text = match std::fs::read(&path) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok((Self::default(), None)),
            Err(error) => return Err(MarketError::Io(format!("{}: {error}", path.display()))),
        };
        match serde_json::from_slice(&text) {
            Ok(records) => Ok((records, None)),
            Err(error) => {
                let aside = path.with_extension(format!("unreadable-{}", std::process::id()));
                std::fs::rename(&path, &aside)
                    .map_err(|error| MarketError::Io(format!("{}: {error}", path.display())))?;
                Ok((
                    Self::default(),
                    Some(format!(
                        "the market's records were unreadable ({error}); they were kept as {} and the market starts empty",
                        aside.display()
                    )),
                ))
            }
        }
    }

    /// Writes the records to `dir`.
    pub fn save(&self, dir: &Path) -> Result<(), MarketError> {
        let json = serde_json::to_vec_pretty(self).map_err(|error| MarketError::Io(error.to_string()))?;
        sanctuary_wallet_core::files::write_atomically(&dir.join(RECORDS_FILE), &json, true)
            .map_err(|error| MarketError::Io(error.to_string()))
    }
}
