//! The catalog of every space, read from the space files in one folder.
//!
//! The catalog checks what single files can't: that every portal leads to a space
//! that exists and arrives at a spawn point that exists, and that every space has a
//! way back to the lobby.

use super::description::{SpaceDescription, SpaceError};
use bevy::prelude::Resource;
use std::path::{Path, PathBuf};

/// The space everybody starts in and every space leads back to.
pub const LOBBY: &str = "lobby";

/// Every space of the world, the lobby first, the rest by name.
#[derive(Resource, Debug, Clone)]
pub struct SpaceCatalog {
    spaces: Vec<SpaceDescription>,
}

/// Why the catalog could not be built.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// The folder of space files could not be listed.
    #[error("cannot read the spaces folder {path}: {source}")]
    Folder {
        /// The folder.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// One space file is broken.
    #[error(transparent)]
    Space(#[from] SpaceError),
    /// The spaces do not fit together.
    #[error("{0}")]
    Links(String),
}

impl SpaceCatalog {
    /// Reads and checks every `*.ron` file in `folder`.
    pub fn load(folder: &Path) -> Result<Self, CatalogError> {
        let entries = std::fs::read_dir(folder).map_err(|source| CatalogError::Folder {
            path: folder.to_owned(),
            source,
        })?;
        let mut files: Vec<PathBuf> = entries
            .filter_map(|entry| entry.ok().map(|entry| entry.path()))
            .filter(|path| path.extension().is_some_and(|ext| ext == "ron"))
            .collect();
        files.sort();
        let mut spaces = Vec::with_capacity(files.len());
        for file in files {
            let shown = file.display().to_string();
            let text = std::fs::read_to_string(&file).map_err(|source| SpaceError::Read {
                path: shown.clone(),
                source,
            })?;
            let space = SpaceDescription::parse(&shown, &text)?;
            let stem = file.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
            if stem != space.name {
                return Err(SpaceError::Invalid {
                    path: shown,
                    problem: format!(
                        "names the space {:?}; the file must be {:?}.ron",
                        space.name, space.name
                    ),
                }
                .into());
            }
            spaces.push(space);
        }
        Self::from_spaces(spaces)
    }

    /// Builds a catalog from descriptions already parsed, checking the links between them.
    pub fn from_spaces(mut spaces: Vec<SpaceDescription>) -> Result<Self, CatalogError> {
        spaces.sort_by(|a, b| (a.name != LOBBY, &a.name).cmp(&(b.name != LOBBY, &b.name)));
        let catalog = Self { spaces };
        catalog.check_links()?;
        Ok(catalog)
    }

    fn check_links(&self) -> Result<(), CatalogError> {
        if self.get(LOBBY).is_none() {
            return Err(CatalogError::Links(format!(
                "there is no {LOBBY:?} space; every world starts in one"
            )));
        }
        for space in &self.spaces {
            for portal in &space.portals {
                let Some(target) = self.get(&portal.to) else {
                    return Err(CatalogError::Links(format!(
                        "space {:?} has a portal to {:?}, which does not exist (spaces: {})",
                        space.name,
                        portal.to,
                        self.names().join(", ")
                    )));
                };
                if target.spawn_point(portal.arrive_at.as_deref()).is_none() {
                    return Err(CatalogError::Links(format!(
                        "space {:?} has a portal arriving at {:?} in {:?}, which has no such spawn point",
                        space.name,
                        portal.arrive_at.as_deref().unwrap_or_default(),
                        portal.to
                    )));
                }
            }
            if space.name != LOBBY && !space.portals.iter().any(|portal| portal.to == LOBBY) {
                return Err(CatalogError::Links(format!(
                    "space {:?} has no portal back to the lobby",
                    space.name
                )));
            }
        }
        Ok(())
    }

    /// The space with this name.
    pub fn get(&self, name: &str) -> Option<&SpaceDescription> {
        self.spaces.iter().find(|space| space.name == name)
    }

    /// Every space, the lobby first.
    pub fn spaces(&self) -> &[SpaceDescription] {
        &self.spaces
    }

    /// The names of every space, the lobby first.
    pub fn names(&self) -> Vec<&str> {
        self.spaces.iter().map(|space| space.name.as_str()).collect()
    }
}

/// The folder the client reads its assets from: `$SANCTUARY_ASSETS` if set, otherwise
/// the `assets/` folder of the source tree the binary was built from.
pub fn default_assets_folder() -> PathBuf {
    std::env::var_os("SANCTUARY_ASSETS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../assets"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn space(name: &str, portals: &[(&str, Option<&str>)]) -> SpaceDescription {
        let portals: Vec<String> = portals
            .iter()
            .enumerate()
            .map(|(i, (to, arrive))| {
                let arrive = arrive
                    .map(|a| format!("arrive_at: Some({a:?}),"))
                    .unwrap_or_default();
                format!(
                    "(to: {to:?}, {arrive} position: ({}, 1.5, -10), size: (2, 3, 1))",
                    i * 5
                )
            })
            .collect();
        let text = format!(
            r#"(name: {name:?}, title: "T", sky: (0,0,0),
                spawn_points: [(name: "main", position: (0, 1, 0)), (name: "door", position: (3, 1, 0))],
                portals: [{}])"#,
            portals.join(",")
        );
        SpaceDescription::parse("test.ron", &text).expect("valid test space")
    }

    #[test]
    fn the_lobby_comes_first() {
        let catalog = SpaceCatalog::from_spaces(vec![
            space("market", &[("lobby", None)]),
            space("lobby", &[("market", Some("door"))]),
        ])
        .expect("consistent");
        assert_eq!(catalog.names(), vec!["lobby", "market"]);
    }

    #[test]
    fn a_portal_to_nowhere_is_an_error() {
        let error = SpaceCatalog::from_spaces(vec![space("lobby", &[("attic", None)])]).unwrap_err();
        assert!(
            error.to_string().contains("\"attic\", which does not exist"),
            "{error}"
        );
    }

    #[test]
    fn arriving_at_a_missing_spawn_point_is_an_error() {
        let error = SpaceCatalog::from_spaces(vec![
            space("lobby", &[("market", Some("balcony"))]),
            space("market", &[("lobby", None)]),
        ])
        .unwrap_err();
        assert!(error.to_string().contains("balcony"), "{error}");
    }

    #[test]
    fn every_space_needs_a_way_back() {
        let error =
            SpaceCatalog::from_spaces(vec![space("lobby", &[("market", None)]), space("market", &[])])
                .unwrap_err();
        assert!(error.to_string().contains("no portal back"), "{error}");
    }

    #[test]
    fn a_world_needs_a_lobby() {
        let error = SpaceCatalog::from_spaces(vec![space("market", &[])]).unwrap_err();
        assert!(error.to_string().contains("no \"lobby\""), "{error}");
    }

    #[test]
    fn the_shipped_spaces_load_and_link_up() {
        let catalog =
            SpaceCatalog::load(&default_assets_folder().join("spaces")).expect("shipped spaces are valid");
        for name in ["lobby", "market", "cinema", "lecture-hall"] {
            let space = catalog.get(name).unwrap_or_else(|| panic!("{name} is shipped"));
            assert!(!space.spawn_points.is_empty());
            if name != LOBBY {
                assert!(
                    space.portals.iter().any(|portal| portal.to == LOBBY),
                    "{name} leads back"
                );
            }
        }
    }

    #[test]
    fn a_broken_file_is_named_in_the_error() {
        let folder = std::env::temp_dir().join(format!("sanctuary-catalog-{}", std::process::id()));
        std::fs::create_dir_all(&folder).expect("temp folder");
        std::fs::write(folder.join("lobby.ron"), "(name: \"lobby\", title: 3)").expect("write");
        let error = SpaceCatalog::load(&folder).unwrap_err();
        std::fs::remove_dir_all(&folder).ok();
        assert!(error.to_string().contains("lobby.ron"), "{error}");
    }
}
