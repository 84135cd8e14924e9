//! Building from the command line: the lines the tools print about it, and `build-doc`,
//! which reads the documents a data folder keeps.
//!
//! Lines, one per fact, flushed at once so that tests and people can follow:
//! - `built: <bot> <piece id> <x_mm>,<y_mm>,<z_mm>` (also `moved:`, `removed:`), printed by
//!   building bots after an edit that was kept;
//! - `refused: <bot> <reason>` for an edit that was not (a bug: bots build within the rules);
//! - `build-hash: <space> <64 hex> <pieces shown> <records>`: what a peer holds of a space's
//!   document (the watcher, and each bot as it stops, with ` bot-<n>` after it);
//! - `build-doc: <folder> <world> <space> <64 hex> <pieces shown> <records>` and, with
//!   `--pieces`, `piece: <folder> <world> <space> <piece id> <x_mm>,<y_mm>,<z_mm> <kind>`.
//!
//! A piece id is written `<creator's key in hex>:<number>`.
//!
//! `build-doc` opens each document through the same code a peer uses when it joins: it
//! hosts the document's world on loopback, alone and silent, with the data folder's
//! `build/` as the documents' folder, and asks the [`BuildHandle`] what it holds. Opening a
//! document also mends its file as joining would (an unfinished last record is cut off, a
//! damaged file set aside, a long one compacted), so run it on folders no process is using.

use std::io::Write;
use std::path::{Path, PathBuf};

use sanctuary_net::{BuildHandle, BuildSetup, JoinTarget, WorldConfig, WorldId};
use sanctuary_protocols::build::PieceId;
use sanctuary_protocols::message::{AvatarShape, Presence, Rgb};
use sanctuary_protocols::text::{DisplayName, SpaceName};

use crate::spaces;

/// Prints `line` on stdout and flushes it.
pub fn say(line: &str) {
    let mut stdout = std::io::stdout().lock();
    if writeln!(stdout, "{line}").and_then(|()| stdout.flush()).is_err() {
        tracing::debug!("stdout is closed: {line}");
    }
}

/// A piece id as the tools write it: `<creator hex>:<number>`.
pub fn piece_text(id: &PieceId) -> String {
    format!("{}:{}", id.creator, id.number)
}

/// Bytes as lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// `build-hash: <space> <hash> <pieces shown> <records>` for `space`, if it allows
/// building.
pub fn hash_line(build: &BuildHandle, space: &SpaceName) -> Option<String> {
    let state = build.state(space)?;
    let shown = build.pieces(space).len();
    Some(format!(
        "build-hash: {space} {} {shown} {}",
        hex(&state.hash),
        state.records
    ))
}

/// The world a hosting process starts: the one kept in `data_dir` (as the client keeps
/// it), so that a restarted host finds its documents again, or a new one.
pub fn hosted_world(data_dir: Option<&Path>) -> anyhow::Result<WorldId> {
    let Some(data_dir) = data_dir else {
        return Ok(WorldId::random()?);
    };
    let (world, notice) = sanctuary_net::data_dir::hosted_world(data_dir).map_err(|error| {
        anyhow::anyhow!("cannot keep the hosted world in {}: {error}", data_dir.display())
    })?;
    if let Some(notice) = notice {
        eprintln!("{notice}");
    }
    Ok(world)
}

/// The `build/` folders of a data folder: its own, or (a bots' folder) those of its
/// subfolders, each with the name it is shown under.
fn build_folders(data_dir: &Path) -> anyhow::Result<Vec<(String, PathBuf)>> {
    let own = sanctuary_net::data_dir::build_dir(data_dir);
    if own.is_dir() {
        return Ok(vec![(".".to_owned(), own)]);
    }
    let entries = std::fs::read_dir(data_dir)
        .map_err(|error| anyhow::anyhow!("cannot read the data folder {}: {error}", data_dir.display()))?;
    let mut folders = Vec::new();
    for entry in entries.flatten() {
        let build = sanctuary_net::data_dir::build_dir(&entry.path());
        if build.is_dir() {
            folders.push((entry.file_name().to_string_lossy().into_owned(), build));
        }
    }
    folders.sort();
    anyhow::ensure!(
        !folders.is_empty(),
        "no building documents in {} (neither build/ nor */build/ there)",
        data_dir.display()
    );
    Ok(folders)
}

/// The worlds of a `build/` folder and, for each, the spaces it has a file for.
fn documents(folder: &Path) -> anyhow::Result<Vec<(WorldId, Vec<SpaceName>)>> {
    let entries = std::fs::read_dir(folder)
        .map_err(|error| anyhow::anyhow!("cannot read {}: {error}", folder.display()))?;
    let mut worlds = Vec::new();
    for entry in entries.flatten() {
        let Some(world) = entry
            .file_name()
            .to_str()
            .and_then(sanctuary_net::data_dir::parse_world_hex)
        else {
            continue;
        };
        let Ok(files) = std::fs::read_dir(entry.path()) else {
            continue;
        };
        let mut spaces: Vec<SpaceName> = files
            .flatten()
            .map(|file| file.path())
            .filter(|path| path.extension().is_some_and(|ext| ext == "records"))
            .filter_map(|path| {
                let stem = path.file_stem()?.to_str()?.to_owned();
                SpaceName::new(stem).ok()
            })
            .collect();
        spaces.sort();
        if !spaces.is_empty() {
            worlds.push((world, spaces));
        }
    }
    worlds.sort_by_key(|(world, _)| *world);
    Ok(worlds)
}

/// `build-doc`: prints what the documents kept in `data_dir` hold, per world and space.
pub async fn show_documents(data_dir: &Path, assets: &Path, pieces: bool) -> anyhow::Result<()> {
    let rules = spaces::all_build_rules(assets)?;
    let folders = build_folders(data_dir)?;
    let node = crate::node(Some(std::net::SocketAddr::from(([127, 0, 0, 1], 0)))).await?;
    for (label, folder) in folders {
        for (world, spaces) in documents(&folder)? {
            let world_hex = hex(world.as_bytes());
            let presence = Presence {
                name: DisplayName::new("build-doc")?,
                color: Rgb { r: 90, g: 90, b: 90 },
                shape: AvatarShape::Sphere,
                space: spaces[0].clone(),
            };
            let config = WorldConfig {
                observer: true,
                build: Some(BuildSetup {
                    rules: rules.clone(),
                    folder: Some(folder.clone()),
                    state_every: None,
                }),
                ..WorldConfig::default()
            };
            let handle = node
                .join_world_with(JoinTarget::host(world), presence, config)
                .await?;
            let build = handle
                .build()
                .ok_or_else(|| anyhow::anyhow!("building was not set up"))?;
            for space in &spaces {
                let Some(state) = build.state(space) else {
                    say(&format!(
                        "build-doc: {label} {world_hex} {space} no-rules (its space file allows no building)"
                    ));
                    continue;
                };
                let shown = build.pieces(space);
                say(&format!(
                    "build-doc: {label} {world_hex} {space} {} {} {}",
                    hex(&state.hash),
                    shown.len(),
                    state.records
                ));
                if pieces {
                    for (id, piece) in &shown {
                        let [x, y, z] = piece.position;
                        say(&format!(
                            "piece: {label} {world_hex} {space} {} {x},{y},{z} {}",
                            piece_text(id),
                            piece.kind.label()
                        ));
                    }
                }
            }
            for notice in build.take_notices() {
                eprintln!("{notice}");
            }
            handle.leave().await.ok();
        }
    }
    node.shutdown().await;
    Ok(())
}
