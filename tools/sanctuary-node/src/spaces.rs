//! Just enough of the space files: their names and where people arrive.

use anyhow::Context;
use serde::Deserialize;
use std::path::{Path, PathBuf};

#[derive(Deserialize)]
struct SpaceFile {
    name: String,
    spawn_points: Vec<Spawn>,
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

fn read(folder: &Path, name: &str) -> anyhow::Result<SpaceFile> {
    let path = folder.join("spaces").join(format!("{name}.ron"));
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("no space {name:?} ({})", path.display()))?;
    ron::from_str(&text).with_context(|| format!("{} is not a space file", path.display()))
}

/// Where arrivals stand in `space`.
pub fn spawn_point(folder: &Path, space: &str) -> anyhow::Result<[f32; 3]> {
    read(folder, space)?
        .spawn_points
        .first()
        .map(|spawn| spawn.position)
        .with_context(|| format!("space {space:?} has no spawn point"))
}

/// The names of every space in the folder.
pub fn names(folder: &Path) -> anyhow::Result<Vec<String>> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(folder.join("spaces")).with_context(|| format!("{}", folder.display()))? {
        let path = entry?.path();
        if path.extension().is_some_and(|ext| ext == "ron")
            && let Some(stem) = path.file_stem().and_then(|s| s.to_str())
        {
            names.push(read(folder, stem)?.name);
        }
    }
    names.sort();
    Ok(names)
}
