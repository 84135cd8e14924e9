//! What the person holds, beside the bytes: each blob's name, origin, pin and serving
//! choice. Kept in one file in the storage folder, replaced atomically on every change.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use sanctuary_protocols::{BlobHash, PeerId};
use serde::{Deserialize, Serialize};

/// Where a blob came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum BlobOrigin {
    /// The person added it from a file on this machine.
    Added {
        /// The file it was read from.
        path: String,
    },
    /// Fetched by ticket or by hash from another peer.
    Fetched {
        /// The peer the last bytes came from.
        from: PeerId,
    },
}

/// One blob the person holds, whole or in part.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlobEntry {
    /// Its hash, which is also its name in the store.
    pub hash: BlobHash,
    /// A name for people: the file name it was added or shared under.
    pub name: String,
    /// Its size in bytes (0 while a fetch has not learnt it yet).
    pub size: u64,
    /// Whether all its bytes are here (a fetch that stopped leaves a partial blob that a
    /// later fetch resumes).
    pub complete: bool,
    /// Pinned blobs are kept; unpinned ones make room when a fetch needs it.
    pub pinned: bool,
    /// Whether it is served to peers who ask for it by hash.
    pub serving: bool,
    /// Where it came from.
    pub origin: BlobOrigin,
    /// When it entered storage, in Unix milliseconds.
    pub added_ms: u64,
    /// Who was asked for it, while it is incomplete: a fetch resumes from them after a
    /// restart.
    pub holders: Vec<iroh::EndpointAddr>,
}

/// The catalogue file's contents.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct Catalogue {
    pub entries: BTreeMap<BlobHash, BlobEntry>,
}

/// Name of the catalogue file in the storage folder.
pub(crate) const CATALOGUE_FILE: &str = "catalogue.postcard";

impl Catalogue {
    /// Reads the catalogue in `dir`. A file that cannot be decoded is renamed to
    /// `catalogue.postcard.unreadable` and an empty catalogue returned with a warning, so
    /// nothing is overwritten; the caller then rebuilds entries from the store's tags.
    pub fn load(dir: &Path) -> (Self, Option<String>) {
        let path = dir.join(CATALOGUE_FILE);
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return (Self::default(), None),
            Err(err) => {
                return (
                    Self::default(),
                    Some(format!("cannot read {}: {err}", path.display())),
                );
            }
        };
        match postcard::from_bytes(&bytes) {
            Ok(catalogue) => (catalogue, None),
            Err(err) => {
                let aside = unreadable_path(&path);
                let moved = std::fs::rename(&path, &aside);
                let note = match moved {
                    Ok(()) => format!(
                        "the storage catalogue was unreadable ({err}); it was set aside as {} and rebuilt from the store",
                        aside.display()
                    ),
                    Err(move_err) => format!(
                        "the storage catalogue is unreadable ({err}) and could not be set aside: {move_err}"
                    ),
                };
                (Self::default(), Some(note))
            }
        }
    }

    /// Writes the catalogue to `dir`: a temporary file, synced, then renamed over the old.
    pub fn save(&self, dir: &Path) -> std::io::Result<()> {
        let bytes = postcard::to_allocvec(self).map_err(std::io::Error::other)?;
        let path = dir.join(CATALOGUE_FILE);
        let temporary = dir.join(format!("{CATALOGUE_FILE}.new"));
        let mut file = std::fs::File::create(&temporary)?;
        file.write_all(&bytes)?;
        file.sync_all()?;
        std::fs::rename(&temporary, &path)
    }

    /// Bytes held by complete and partial blobs together (partial ones at their full size,
    /// since they are on their way there).
    pub fn used(&self) -> u64 {
        self.entries.values().map(|entry| entry.size).sum()
    }
}

fn unreadable_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".unreadable");
    PathBuf::from(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(byte: u8, size: u64) -> BlobEntry {
        BlobEntry {
            hash: BlobHash::from_bytes([byte; 32]),
            name: format!("file {byte}"),
            size,
            complete: true,
            pinned: true,
            serving: false,
            origin: BlobOrigin::Added {
                path: "/tmp/x".into(),
            },
            added_ms: 1,
            holders: Vec::new(),
        }
    }

    #[test]
    fn a_saved_catalogue_loads_back() {
        let dir = tempdir();
        let mut catalogue = Catalogue::default();
        for (byte, size) in [(1, 10), (2, 32)] {
            let entry = entry(byte, size);
            catalogue.entries.insert(entry.hash, entry);
        }
        catalogue.save(&dir).unwrap();
        let (loaded, note) = Catalogue::load(&dir);
        assert!(note.is_none());
        assert_eq!(loaded.entries, catalogue.entries);
        assert_eq!(loaded.used(), 42);
    }

    #[test]
    fn an_unreadable_catalogue_is_set_aside_not_overwritten() {
        let dir = tempdir();
        std::fs::write(dir.join(CATALOGUE_FILE), b"\xff\xff\xff not postcard").unwrap();
        let (loaded, note) = Catalogue::load(&dir);
        assert!(loaded.entries.is_empty());
        assert!(note.unwrap().contains("set aside"));
        assert_eq!(
            std::fs::read(dir.join(format!("{CATALOGUE_FILE}.unreadable"))).unwrap(),
            b"\xff\xff\xff not postcard"
        );
    }

    fn tempdir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "sanctuary-catalogue-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}
