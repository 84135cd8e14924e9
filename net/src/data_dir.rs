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

/// The person's key file in a data folder: 32 secret bytes, readable by its owner only.
pub const KEY_FILE: &str = "identity.key";

/// The person's key from `data_dir` (the one the client uses), made and kept there
/// (owner-only) when there is none yet, so a headless tool speaks as the same person.
pub fn load_or_create_key(data_dir: &Path) -> std::io::Result<sanctuary_protocols::identity::Keypair> {
    use sanctuary_protocols::identity::Keypair;
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let path = data_dir.join(KEY_FILE);
    match std::fs::read(&path) {
        Ok(bytes) => {
            let secret: [u8; 32] = bytes.as_slice().try_into().map_err(|_| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!(
                        "{} holds {} bytes, not a 32-byte key",
                        path.display(),
                        bytes.len()
                    ),
                )
            })?;
            Ok(Keypair::from_bytes(&secret))
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(data_dir)?;
            let keypair = Keypair::generate().map_err(std::io::Error::other)?;
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&path)?;
            file.write_all(&keypair.to_bytes())?;
            file.sync_all()?;
            Ok(keypair)
        }
        Err(error) => Err(error),
    }
}
