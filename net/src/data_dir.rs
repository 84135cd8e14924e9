//! Where a person's data lives on this machine, shared by the client and the headless
//! tools so both find the same keys and the same store.

use std::path::{Path, PathBuf};

use sanctuary_protocols::WorldId;

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

/// The building folder (one folder of documents per world, named by [`hex`]) inside a
/// data folder.
pub fn build_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("build")
}

/// The storage folder (blob store and catalogue) inside a data folder.
pub fn storage_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("storage")
}

/// The file in a device's data folder naming the home node it paired with (its address,
/// one line).
pub const HOME_NODE_FILE: &str = "home-node";

/// The home node this device paired with, if any: `Ok(None)` before pairing, an error
/// when the file is unreadable or damaged.
pub fn paired_home(data_dir: &Path) -> Result<Option<sanctuary_protocols::home::HomeAddress>, String> {
    let path = data_dir.join(HOME_NODE_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => text
            .trim()
            .parse()
            .map(Some)
            .map_err(|err| format!("{}: {err}", path.display())),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(err) => Err(format!("{}: {err}", path.display())),
    }
}

/// Remembers the home node this device paired with.
pub fn remember_home(
    data_dir: &Path,
    address: &sanctuary_protocols::home::HomeAddress,
) -> std::io::Result<()> {
    let path = data_dir.join(HOME_NODE_FILE);
    let partial = path.with_extension("partial");
    std::fs::write(&partial, format!("{address}\n"))?;
    std::fs::rename(&partial, &path)
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

/// The file of a data folder that names the world hosted from it.
pub const HOSTED_WORLD_FILE: &str = "hosted-world";

/// The world hosted from `data_dir`: the same one every time (so its tickets, and what was
/// built there, stay), named in [`HOSTED_WORLD_FILE`] as 64 hex digits and made on first
/// use. A damaged file is set aside as `hosted-world.broken` and a new world made; the
/// second value then says so, for the person.
pub fn hosted_world(data_dir: &Path) -> std::io::Result<(WorldId, Option<String>)> {
    let notice = match read_hosted_world(data_dir)? {
        HostedWorld::Kept(world) => return Ok((world, None)),
        HostedWorld::None => None,
        HostedWorld::SetAside(notice) => Some(notice),
    };
    Ok((write_new_world(data_dir)?, notice))
}

/// Makes a new world to host from `data_dir` from now on (the next [`hosted_world`] gives
/// it), and says what became of the one before: what was built there stays in the data
/// folder under its id, but this host no longer opens it, so its old tickets lead nowhere.
pub fn new_hosted_world(data_dir: &Path) -> std::io::Result<(WorldId, Option<String>)> {
    let notice = match read_hosted_world(data_dir)? {
        HostedWorld::Kept(old) => Some(format!(
            "the world hosted before ({}) is no longer hosted; what was built there stays in {}",
            world_hex(&old),
            build_dir(data_dir).join(world_hex(&old)).display()
        )),
        HostedWorld::None => None,
        HostedWorld::SetAside(notice) => Some(notice),
    };
    Ok((write_new_world(data_dir)?, notice))
}

/// What [`HOSTED_WORLD_FILE`] held.
enum HostedWorld {
    /// A world's id.
    Kept(WorldId),
    /// Nothing: there is no file.
    None,
    /// Something damaged, now set aside; the message says where.
    SetAside(String),
}

fn read_hosted_world(data_dir: &Path) -> std::io::Result<HostedWorld> {
    let path = data_dir.join(HOSTED_WORLD_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(HostedWorld::None),
        Err(error) => return Err(error),
    };
    if let Some(world) = parse_world_hex(&text) {
        return Ok(HostedWorld::Kept(world));
    }
    let aside = data_dir.join(format!("{HOSTED_WORLD_FILE}.broken"));
    std::fs::rename(&path, &aside)?;
    Ok(HostedWorld::SetAside(format!(
        "{} was damaged: set aside as {}; a new world is hosted",
        path.display(),
        aside.display()
    )))
}

/// Makes a world and names it in [`HOSTED_WORLD_FILE`].
fn write_new_world(data_dir: &Path) -> std::io::Result<WorldId> {
    std::fs::create_dir_all(data_dir)?;
    let world = WorldId::random().map_err(std::io::Error::other)?;
    std::fs::write(data_dir.join(HOSTED_WORLD_FILE), world_hex(&world) + "\n")?;
    Ok(world)
}

/// A world's id from its 64 hex digits (spaces around them ignored).
pub fn parse_world_hex(text: &str) -> Option<WorldId> {
    let text = text.trim();
    if text.len() != 64 || !text.is_ascii() {
        return None;
    }
    let mut bytes = [0u8; 32];
    for (byte, pair) in bytes.iter_mut().zip(text.as_bytes().chunks_exact(2)) {
        let pair = std::str::from_utf8(pair).ok()?;
        *byte = u8::from_str_radix(pair, 16).ok()?;
    }
    Some(WorldId(bytes))
}

/// A world's id as 64 hex digits, as files and folders name it.
pub fn world_hex(world: &WorldId) -> String {
    world
        .as_bytes()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hosted_world_stays_and_a_damaged_file_is_set_aside() {
        let dir = std::env::temp_dir().join(format!("sanctuary-hosted-world-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let (first, notice) = hosted_world(&dir).unwrap();
        assert!(notice.is_none());
        assert_eq!(hosted_world(&dir).unwrap(), (first, None));
        std::fs::write(dir.join(HOSTED_WORLD_FILE), "not a world").unwrap();
        let (second, notice) = hosted_world(&dir).unwrap();
        assert_ne!(second, first);
        assert!(notice.unwrap().contains("set aside"));
        assert_eq!(
            std::fs::read_to_string(dir.join("hosted-world.broken")).unwrap(),
            "not a world"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn world_ids_go_to_hex_and_back() {
        let world = WorldId([0xab; 32]);
        assert_eq!(parse_world_hex(&world_hex(&world)), Some(world));
        assert_eq!(parse_world_hex("abc"), None);
        assert_eq!(parse_world_hex(&"zz".repeat(32)), None);
        assert_eq!(parse_world_hex(&"é".repeat(32)), None);
    }

    #[test]
    fn a_new_world_replaces_the_hosted_one_from_then_on() {
        let dir = std::env::temp_dir().join(format!("sanctuary-new-world-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let (fresh, notice) = new_hosted_world(&dir).unwrap();
        assert!(notice.is_none(), "nothing was hosted before");
        assert_eq!(hosted_world(&dir).unwrap(), (fresh, None));
        let (newer, notice) = new_hosted_world(&dir).unwrap();
        assert_ne!(newer, fresh);
        let notice = notice.unwrap();
        assert!(notice.contains(&world_hex(&fresh)), "{notice}");
        assert_eq!(hosted_world(&dir).unwrap(), (newer, None));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
