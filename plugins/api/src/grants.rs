//! What the person has allowed each app to do, kept in the data folder.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use bevy::prelude::Resource;

use crate::manifest::Permission;

/// The file in the data folder that holds the grants.
pub const GRANTS_FILE: &str = "grants.ron";

/// Which permissions the person granted to which app, by app name and
/// [`Permission::key`]. Changes are saved by the host after the frame they happen in.
#[derive(Resource, Debug, Default)]
pub struct Grants {
    granted: BTreeMap<String, BTreeSet<String>>,
    path: Option<PathBuf>,
    problem: Option<String>,
}

/// An app asked for something it was not allowed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CapabilityError {
    /// The person has not granted the permission (or revoked it).
    #[error("{app} may not {permission}: not allowed in the Apps panel")]
    NotGranted {
        /// The app.
        app: String,
        /// What it tried, in words.
        permission: String,
    },
    /// The app may place objects, but not in this space.
    #[error("{app} may not place objects in {space}")]
    SpaceNotAllowed {
        /// The app.
        app: String,
        /// The space.
        space: String,
    },
    /// The app's objects can only be placed in the space the person is in.
    #[error("{app} cannot place objects in {space}: the person is not there")]
    NotThere {
        /// The app.
        app: String,
        /// The space asked for.
        space: String,
    },
    /// An app message over the size limit.
    #[error("{app}'s message of {len} bytes is over the limit of {max}")]
    TooLarge {
        /// The app.
        app: String,
        /// Its size.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The app sends messages faster than its budget allows.
    #[error("{app} sends messages too fast; this one was dropped")]
    TooFast {
        /// The app.
        app: String,
    },
    /// The app has as many of something as it may.
    #[error("{app} has {max} {what} already, the most it may")]
    TooMany {
        /// The app.
        app: String,
        /// What, in words.
        what: &'static str,
        /// The limit.
        max: usize,
    },
    /// No app of that name is installed.
    #[error("{app} is not an installed app")]
    NotInstalled {
        /// The name asked for.
        app: String,
    },
}

/// The grants file could not be written.
#[derive(Debug, thiserror::Error)]
#[error("cannot save the app grants to {path}: {source}")]
pub struct GrantsError {
    /// The file.
    pub path: String,
    /// Why.
    #[source]
    pub source: std::io::Error,
}

impl Grants {
    /// Grants kept only in memory (tests, and apps run without a data folder).
    pub fn in_memory() -> Self {
        Self::default()
    }

    /// Reads the grants in `data_dir`. A missing file means nothing is granted yet. A file
    /// that cannot be read is set aside (renamed with `.unreadable`) so nothing in it is
    /// lost, nothing is granted, and [`problem`](Self::problem) says what happened.
    pub fn load(data_dir: &Path) -> Self {
        let path = data_dir.join(GRANTS_FILE);
        let mut grants = Self {
            path: Some(path.clone()),
            ..Self::default()
        };
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return grants,
            Err(error) => {
                grants.problem = Some(format!("cannot read {}: {error}", path.display()));
                grants.path = None;
                return grants;
            }
        };
        match ron::from_str::<BTreeMap<String, BTreeSet<String>>>(&text) {
            Ok(granted) => grants.granted = granted,
            Err(error) => {
                let aside = path.with_extension("ron.unreadable");
                let moved = std::fs::rename(&path, &aside);
                grants.problem = Some(match moved {
                    Ok(()) => format!(
                        "{} was not readable ({error}); it was kept as {} and every app must be allowed again",
                        path.display(),
                        aside.display()
                    ),
                    Err(rename) => {
                        // Never overwrite what we could not read.
                        grants.path = None;
                        format!(
                            "{} is not readable ({error}) and could not be set aside ({rename}); grants will not be saved",
                            path.display()
                        )
                    }
                });
            }
        }
        grants
    }

    /// Whether `app` may do what `permission` allows.
    pub fn is_granted(&self, app: &str, permission: &Permission) -> bool {
        self.granted
            .get(app)
            .is_some_and(|keys| keys.contains(&permission.key()))
    }

    /// `Ok` when `app` may do what `permission` allows, otherwise the error that says so.
    pub fn check(&self, app: &str, permission: &Permission) -> Result<(), CapabilityError> {
        if self.is_granted(app, permission) {
            Ok(())
        } else {
            Err(CapabilityError::NotGranted {
                app: app.into(),
                permission: permission.to_string(),
            })
        }
    }

    /// Allows `app` to do what `permission` allows.
    pub fn grant(&mut self, app: &str, permission: &Permission) {
        self.granted
            .entry(app.into())
            .or_default()
            .insert(permission.key());
    }

    /// Takes back one permission.
    pub fn revoke(&mut self, app: &str, permission: &Permission) {
        if let Some(keys) = self.granted.get_mut(app) {
            keys.remove(&permission.key());
            if keys.is_empty() {
                self.granted.remove(app);
            }
        }
    }

    /// Whether the person has decided anything about `app` yet.
    pub fn knows(&self, app: &str) -> bool {
        self.granted.contains_key(app)
    }

    /// What went wrong reading or saving the grants, if anything.
    pub fn problem(&self) -> Option<&str> {
        self.problem.as_deref()
    }

    /// Writes the grants to their file (through a temporary file, so a crash leaves the
    /// old or the new file, never half of one). Does nothing for in-memory grants.
    pub fn save(&mut self) -> Result<(), GrantsError> {
        let Some(path) = self.path.clone() else {
            return Ok(());
        };
        let text =
            ron::ser::to_string_pretty(&self.granted, ron::ser::PrettyConfig::default()).unwrap_or_default();
        let temporary = path.with_extension("ron.tmp");
        let result = std::fs::write(&temporary, text).and_then(|()| std::fs::rename(&temporary, &path));
        match result {
            Ok(()) => {
                self.problem = None;
                Ok(())
            }
            Err(source) => {
                let error = GrantsError {
                    path: path.display().to_string(),
                    source,
                };
                self.problem = Some(error.to_string());
                Err(error)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MARKET: Permission = Permission::Spawn { spaces: &["market"] };

    fn folder(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("sanctuary-grants-{name}-{}", std::process::id()));
        std::fs::remove_dir_all(&dir).ok();
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn grants_survive_a_restart_and_revocation_sticks() {
        let dir = folder("restart");
        let mut grants = Grants::load(&dir);
        assert!(!grants.knows("chess"));
        grants.grant("chess", &Permission::Messages);
        grants.grant("chess", &MARKET);
        grants.save().unwrap();
        let mut again = Grants::load(&dir);
        assert!(again.is_granted("chess", &Permission::Messages));
        assert!(again.is_granted("chess", &MARKET));
        assert!(!again.is_granted("chess", &Permission::Panels));
        assert!(!again.is_granted("other", &Permission::Messages));
        again.revoke("chess", &Permission::Messages);
        again.save().unwrap();
        let last = Grants::load(&dir);
        assert!(!last.is_granted("chess", &Permission::Messages));
        assert_eq!(
            last.check("chess", &Permission::Messages),
            Err(CapabilityError::NotGranted {
                app: "chess".into(),
                permission: Permission::Messages.to_string()
            })
        );
    }

    #[test]
    fn an_unreadable_file_is_set_aside_not_overwritten() {
        let dir = folder("unreadable");
        std::fs::write(dir.join(GRANTS_FILE), "{ this is not ron").unwrap();
        let mut grants = Grants::load(&dir);
        assert!(
            grants.problem().unwrap().contains("kept as"),
            "{:?}",
            grants.problem()
        );
        assert!(!grants.is_granted("chess", &Permission::Panels));
        assert_eq!(
            std::fs::read_to_string(dir.join("grants.ron.unreadable")).unwrap(),
            "{ this is not ron"
        );
        grants.grant("chess", &Permission::Panels);
        grants.save().unwrap();
        assert!(Grants::load(&dir).is_granted("chess", &Permission::Panels));
    }
}
