//! Each app's own folder in the person's data folder.

use std::marker::PhantomData;
use std::path::PathBuf;

use bevy::ecs::system::SystemParam;
use bevy::prelude::Res;

use crate::host::AppsFolder;
use crate::setup::SanctuaryApp;

/// Files of app `A`, in `apps/<name>/` of the data folder. Every app has one; no
/// permission is needed, and no app can name another's files.
#[derive(SystemParam)]
pub struct AppData<'w, A: SanctuaryApp> {
    folder: Res<'w, AppsFolder>,
    app: PhantomData<A>,
}

/// An app's file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum AppDataError {
    /// File names are short and plain: letters, digits, `.`, `-` and `_`, not starting
    /// with a dot.
    #[error("{0:?} is not an allowed file name")]
    BadName(String),
    /// The client runs without a data folder.
    #[error("there is no data folder")]
    NoFolder,
    /// The file system said no.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

impl<A: SanctuaryApp> AppData<'_, A> {
    /// The path of the app's file `name`.
    pub fn path(&self, name: &str) -> Result<PathBuf, AppDataError> {
        let plain = !name.is_empty()
            && name.len() <= 64
            && !name.starts_with('.')
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
        if !plain {
            return Err(AppDataError::BadName(name.into()));
        }
        let root = self.folder.0.as_ref().ok_or(AppDataError::NoFolder)?;
        Ok(root.join(A::MANIFEST.name).join(name))
    }

    /// The file's bytes, or `None` if it does not exist yet.
    pub fn read(&self, name: &str) -> Result<Option<Vec<u8>>, AppDataError> {
        let path = self.path(name)?;
        match std::fs::read(&path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(io(&path, source)),
        }
    }

    /// Replaces the file with `bytes`, through a temporary file so that a crash leaves
    /// the old or the new content, never half of it.
    pub fn write(&self, name: &str, bytes: &[u8]) -> Result<(), AppDataError> {
        let path = self.path(name)?;
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|source| io(parent, source))?;
        }
        let temporary = path.with_extension("tmp");
        std::fs::write(&temporary, bytes).map_err(|source| io(&temporary, source))?;
        std::fs::rename(&temporary, &path).map_err(|source| io(&path, source))
    }
}

fn io(path: &std::path::Path, source: std::io::Error) -> AppDataError {
    AppDataError::Io {
        path: path.display().to_string(),
        source,
    }
}
