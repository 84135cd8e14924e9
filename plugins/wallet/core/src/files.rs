//! Writing the wallet's files so that a crash never leaves half of one.

use std::io::Write;
use std::path::Path;

use crate::WalletError;

/// Writes `bytes` to a temporary file beside `path`, flushes it to disk and renames it over
/// `path`. With `private`, the file is readable by its owner only (on Unix).
pub fn write_atomically(path: &Path, bytes: &[u8], private: bool) -> Result<(), WalletError> {
    let io_error = |error| WalletError::Io(path.display().to_string(), error);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io_error)?;
    }
    let temporary = path.with_extension("partial");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = private;
    let mut file = options.open(&temporary).map_err(io_error)?;
    file.write_all(bytes).map_err(io_error)?;
    file.sync_all().map_err(io_error)?;
    drop(file);
    std::fs::rename(&temporary, path).map_err(io_error)
}
