//! Where a person's data lives on this machine, shared by the client and the headless
//! tools so both find the same keys and the same store.

use std::path::{Path, PathBuf};

/// The default data folder: `$XDG_DATA_HOME/sanctuary`, else `~/.local/share/sanctuary`,
/// else `./sanctuary-data`.
pub fn default_data_dir() -> PathBuf {
    if let Some(xdg) = std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(xdg).join("sanctuary");
    }
    match std::env::var_os("HOME").filter(|v| !v.is_empty()) {
        Some(home) => PathBuf::from(home).join(".local/share/sanctuary"),
        None => PathBuf::from("sanctuary-data"),
    }
}

/// The storage folder (blob store and catalogue) inside a data folder.
pub fn storage_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("storage")
}
