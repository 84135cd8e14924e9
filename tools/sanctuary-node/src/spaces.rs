//! Just enough of the space files: their names, where people arrive, and their building
//! rules.

use sanctuary_protocols::build::BuildRules;
use sanctuary_protocols::text::SpaceName;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Deserialize)]
struct SpaceFile {
    name: String,
    spawn_points: Vec<Spawn>,
    /// Where and how people may build there; no building when absent.
    #[serde(default)]
    build: Option<BuildRules>,
}

#[derive(Deserialize)]
struct Spawn {
    position: [f32; 3],
}

/// The assets folder: the one given, `$SANCTUARY_ASSETS`, or the source tree's.
pub fn folder(given: Option<PathBuf>) -> PathBuf {
    given
        .or_else(|| std::env::var_os("SANCTUARY_ASSETS").map(PathBuf::from))
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../assets"))
}

/// The folder of space files, or a one-line error saying the assets folder is not one.
fn spaces_folder(folder: &Path) -> anyhow::Result<PathBuf> {
    let spaces = folder.join("spaces");
    anyhow::ensure!(
        spaces.is_dir(),
        "no assets folder at {} (it has no spaces/ folder)",
        folder.display()
    );
    Ok(spaces)
}

fn read(folder: &Path, name: &str) -> anyhow::Result<SpaceFile> {
    let path = spaces_folder(folder)?.join(format!("{name}.ron"));
    let text = std::fs::read_to_string(&path)
        .map_err(|error| anyhow::anyhow!("no space {name:?} ({}: {error})", path.display()))?;
    ron::from_str(&text).map_err(|error| anyhow::anyhow!("{} is not a space file: {error}", path.display()))
}

/// Every space file of the folder, by its file name.
fn read_all(folder: &Path) -> anyhow::Result<Vec<SpaceFile>> {
    let spaces = spaces_folder(folder)?;
    let entries = std::fs::read_dir(&spaces)
        .map_err(|error| anyhow::anyhow!("cannot list {}: {error}", spaces.display()))?;
    let mut files = Vec::new();
    for entry in entries {
        let path = entry?.path();
        if path.extension().is_some_and(|ext| ext == "ron")
            && let Some(stem) = path.file_stem().and_then(|s| s.to_str())
        {
            files.push(read(folder, stem)?);
        }
    }
    files.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(files)
}

/// Where arrivals stand in `space`.
pub fn spawn_point(folder: &Path, space: &str) -> anyhow::Result<[f32; 3]> {
    read(folder, space)?
        .spawn_points
        .first()
        .map(|spawn| spawn.position)
        .ok_or_else(|| anyhow::anyhow!("space {space:?} has no spawn point"))
}

/// The names of every space in the folder.
pub fn names(folder: &Path) -> anyhow::Result<Vec<String>> {
    Ok(read_all(folder)?.into_iter().map(|file| file.name).collect())
}

/// The building rules of `space`, if its file has any (checked: a file whose rules cannot
/// be used is an error).
pub fn build_rules(folder: &Path, space: &str) -> anyhow::Result<Option<BuildRules>> {
    let file = read(folder, space)?;
    checked(&file)
}

/// The building rules of every space in the folder that allows building, as
/// [`BuildSetup::rules`](sanctuary_net::BuildSetup) wants them.
pub fn all_build_rules(folder: &Path) -> anyhow::Result<BTreeMap<SpaceName, BuildRules>> {
    let mut all = BTreeMap::new();
    for file in read_all(folder)? {
        if let Some(rules) = checked(&file)? {
            let name = SpaceName::new(file.name.clone())
                .map_err(|error| anyhow::anyhow!("space name {:?}: {error}", file.name))?;
            all.insert(name, rules);
        }
    }
    Ok(all)
}

fn checked(file: &SpaceFile) -> anyhow::Result<Option<BuildRules>> {
    let Some(rules) = &file.build else {
        return Ok(None);
    };
    rules.validate().map_err(|error| {
        anyhow::anyhow!("the building rules of space {:?} are broken: {error}", file.name)
    })?;
    Ok(Some(rules.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lobby_has_a_garden_anyone_may_build_in_and_the_market_none() {
        let assets = folder(None);
        let all = all_build_rules(&assets).unwrap();
        let lobby = &all[&SpaceName::new("lobby").unwrap()];
        let garden = &lobby.zones[0];
        assert_eq!(garden.name.as_str(), "garden");
        assert_eq!(garden.builders, sanctuary_protocols::build::Builders::Anyone);
        assert_eq!(garden.min, [-11.0, 0.0, -11.5]);
        assert_eq!(garden.limits.pieces_per_person, 300);
        assert!(build_rules(&assets, "market").unwrap().is_none());
        assert!(!all.contains_key(&SpaceName::new("market").unwrap()));
    }

    #[test]
    fn a_missing_assets_folder_is_one_line() {
        let error = names(Path::new("/nonexistent/assets")).unwrap_err();
        let text = format!("{error:#}");
        assert_eq!(text.lines().count(), 1, "{text}");
        assert!(text.contains("no assets folder"), "{text}");
    }
}
