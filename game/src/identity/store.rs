//! Reading and writing the key and the profile in the data folder.

use bevy::prelude::Resource;
use sanctuary_protocols::identity::{Keypair, PeerId};
use sanctuary_protocols::message::{AvatarShape, Presence, Rgb};
use sanctuary_protocols::text::{DisplayName, SpaceName};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use thiserror::Error;

/// The key file's name in the data folder: 32 secret bytes.
const KEY_FILE: &str = "identity.key";
/// The profile's file name in the data folder.
const PROFILE_FILE: &str = "profile.ron";

/// How a person appears to others.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    /// The name above their avatar: a valid
    /// [`DisplayName`](sanctuary_protocols::text::DisplayName) (1 to 32 bytes).
    pub name: String,
    /// Avatar colour, sRGB.
    pub color: [u8; 3],
    /// Avatar shape.
    pub shape: AvatarShape,
}

impl Profile {
    /// A fresh profile for a new key: a name and colour derived from the key, so two
    /// new people do not look alike.
    pub fn fresh(peer: &PeerId) -> Self {
        let bytes = peer.as_bytes();
        let hue = f32::from(u16::from_le_bytes([bytes[0], bytes[1]])) / 65535.0 * 360.0;
        let color = bevy::color::Color::hsl(hue, 0.65, 0.55).to_srgba();
        let to_byte = |c: f32| (c.clamp(0.0, 1.0) * 255.0).round() as u8;
        Self {
            name: format!("guest-{}", &peer.to_string()[..6]),
            color: [to_byte(color.red), to_byte(color.green), to_byte(color.blue)],
            shape: AvatarShape::Capsule,
        }
    }

    /// The signed-presence form of this profile, standing in `space`.
    pub fn presence(&self, space: &str) -> Result<Presence, IdentityError> {
        Ok(Presence {
            name: DisplayName::new(self.name.clone())
                .map_err(|error| IdentityError::Profile(format!("name: {error}")))?,
            color: Rgb {
                r: self.color[0],
                g: self.color[1],
                b: self.color[2],
            },
            shape: self.shape,
            space: SpaceName::new(space)
                .map_err(|error| IdentityError::Profile(format!("space: {error}")))?,
        })
    }

    /// Checks the name fits on the wire.
    pub fn validate(&self) -> Result<(), IdentityError> {
        self.presence("lobby").map(|_| ())
    }

    /// Makes the name follow today's rules: a name stored before a rule changed is
    /// cleaned, or replaced by the fresh name for `peer` when nothing of it is left.
    /// Returns whether the name changed.
    fn repair_name(&mut self, peer: &PeerId) -> bool {
        if DisplayName::new(self.name.as_str()).is_ok() {
            return false;
        }
        self.name = match DisplayName::clean(&self.name) {
            Ok(name) => name.as_str().to_owned(),
            Err(_) => Self::fresh(peer).name,
        };
        true
    }
}

/// This person's key and profile, and where they are kept.
#[derive(Resource, Debug)]
pub struct Identity {
    /// The signing key; its public half is the person's id.
    pub keypair: Keypair,
    /// How they appear.
    pub profile: Profile,
    folder: PathBuf,
}

impl Identity {
    /// The person's public id.
    pub fn peer_id(&self) -> PeerId {
        self.keypair.peer_id()
    }

    /// Replaces the profile and saves it.
    pub fn set_profile(&mut self, profile: Profile) -> Result<(), IdentityError> {
        profile.validate()?;
        write_profile(&self.folder, &profile)?;
        self.profile = profile;
        Ok(())
    }
}

/// What can go wrong with the identity files.
#[derive(Debug, Error)]
pub enum IdentityError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The key file is not 32 bytes.
    #[error(
        "{path}: a key file holds exactly 32 bytes, this one holds {len}; move it away to make a new identity"
    )]
    BadKey {
        /// The file.
        path: String,
        /// Its length.
        len: usize,
    },
    /// The profile file or a profile edit is not valid.
    #[error("profile {0}")]
    Profile(String),
    /// The machine could not provide randomness for a new key.
    #[error("cannot make a new key: {0}")]
    Randomness(String),
}

/// Loads the key and profile from `folder`, making a new key (owner-only file) and a
/// fresh profile on first run. A broken profile file is kept aside, not lost; a stored
/// name that no longer follows the rules is cleaned (or made fresh) and saved again.
pub fn load_or_create(folder: &Path) -> Result<Identity, IdentityError> {
    let io = |path: &Path| {
        let path = path.display().to_string();
        move |source| IdentityError::Io { path, source }
    };
    std::fs::create_dir_all(folder).map_err(io(folder))?;
    let key_path = folder.join(KEY_FILE);
    let keypair = match std::fs::read(&key_path) {
        Ok(bytes) => {
            let secret: [u8; 32] = bytes.as_slice().try_into().map_err(|_| IdentityError::BadKey {
                path: key_path.display().to_string(),
                len: bytes.len(),
            })?;
            let permissions = std::fs::metadata(&key_path).map_err(io(&key_path))?.permissions();
            if permissions.mode() & 0o077 != 0 {
                bevy::log::warn!(
                    "{} was readable by others; making it owner-only",
                    key_path.display()
                );
                std::fs::set_permissions(&key_path, std::fs::Permissions::from_mode(0o600))
                    .map_err(io(&key_path))?;
            }
            Keypair::from_bytes(&secret)
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            let keypair =
                Keypair::generate().map_err(|error| IdentityError::Randomness(error.to_string()))?;
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&key_path)
                .map_err(io(&key_path))?;
            file.write_all(&keypair.to_bytes()).map_err(io(&key_path))?;
            file.sync_all().map_err(io(&key_path))?;
            keypair
        }
        Err(error) => return Err(io(&key_path)(error)),
    };
    let profile_path = folder.join(PROFILE_FILE);
    let profile = match std::fs::read_to_string(&profile_path) {
        Ok(text) => match ron::from_str::<Profile>(&text)
            .map_err(|error| error.to_string())
            .map(|mut profile| {
                let stored = profile.name.clone();
                if profile.repair_name(&keypair.peer_id()) {
                    bevy::log::warn!(
                        "the name {stored:?} in {} does not follow the rules for names; using {:?}",
                        profile_path.display(),
                        profile.name
                    );
                    if let Err(error) = write_profile(folder, &profile) {
                        bevy::log::warn!("the repaired profile was not saved: {error}");
                    }
                }
                profile
            })
            .and_then(|profile| {
                profile
                    .validate()
                    .map(|()| profile)
                    .map_err(|error| error.to_string())
            }) {
            Ok(profile) => profile,
            Err(problem) => {
                let aside = folder.join("profile.ron.broken");
                bevy::log::warn!(
                    "{} is not a valid profile ({problem}); kept as {} and starting afresh",
                    profile_path.display(),
                    aside.display()
                );
                std::fs::rename(&profile_path, &aside).map_err(io(&profile_path))?;
                Profile::fresh(&keypair.peer_id())
            }
        },
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            let profile = Profile::fresh(&keypair.peer_id());
            write_profile(folder, &profile)?;
            profile
        }
        Err(error) => return Err(io(&profile_path)(error)),
    };
    Ok(Identity {
        keypair,
        profile,
        folder: folder.to_owned(),
    })
}

fn write_profile(folder: &Path, profile: &Profile) -> Result<(), IdentityError> {
    let path = folder.join(PROFILE_FILE);
    let text = ron::ser::to_string_pretty(profile, ron::ser::PrettyConfig::default())
        .map_err(|error| IdentityError::Profile(error.to_string()))?;
    // Write beside and rename, so a crash never leaves half a profile.
    let partial = folder.join("profile.ron.partial");
    std::fs::write(&partial, text).map_err(|source| IdentityError::Io {
        path: partial.display().to_string(),
        source,
    })?;
    std::fs::rename(&partial, &path).map_err(|source| IdentityError::Io {
        path: path.display().to_string(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("sanctuary-identity-{name}-{}", std::process::id()));
        std::fs::remove_dir_all(&dir).ok();
        dir
    }

    #[test]
    fn a_new_identity_is_kept_owner_only_and_reloads_the_same() {
        let folder = scratch("new");
        let first = load_or_create(&folder).expect("created");
        let mode = std::fs::metadata(folder.join(KEY_FILE))
            .expect("key file")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let again = load_or_create(&folder).expect("loaded");
        assert_eq!(first.peer_id(), again.peer_id());
        assert_eq!(first.profile, again.profile);
        std::fs::remove_dir_all(&folder).ok();
    }

    #[test]
    fn a_truncated_key_is_an_error_not_a_new_identity() {
        let folder = scratch("short");
        std::fs::create_dir_all(&folder).expect("folder");
        std::fs::write(folder.join(KEY_FILE), [1u8; 7]).expect("write");
        let error = load_or_create(&folder).unwrap_err();
        assert!(error.to_string().contains("32 bytes"), "{error}");
        assert_eq!(
            std::fs::read(folder.join(KEY_FILE)).expect("kept").len(),
            7,
            "nothing overwritten"
        );
        std::fs::remove_dir_all(&folder).ok();
    }

    #[test]
    fn a_stored_name_that_breaks_the_rules_is_cleaned() {
        let folder = scratch("old-name");
        let identity = load_or_create(&folder).expect("created");
        let old = Profile {
            name: "\u{202E}Ada\u{200B}  Lovelace\n".into(),
            color: [1, 2, 3],
            shape: AvatarShape::Cone,
        };
        write_profile(&folder, &old).expect("write");
        let loaded = load_or_create(&folder).expect("loads");
        assert_eq!(
            loaded.profile,
            Profile {
                name: "Ada Lovelace".into(),
                ..old
            }
        );
        assert!(!folder.join("profile.ron.broken").exists(), "nothing set aside");
        assert_eq!(
            load_or_create(&folder).expect("reload").profile.name,
            "Ada Lovelace",
            "the cleaned name was saved"
        );

        // Nothing visible left: the fresh name for the key.
        let invisible = Profile {
            name: "\u{200B}\u{3164} ".into(),
            ..loaded.profile.clone()
        };
        write_profile(&folder, &invisible).expect("write");
        let loaded = load_or_create(&folder).expect("loads");
        assert_eq!(loaded.profile.name, Profile::fresh(&identity.peer_id()).name);
        assert_eq!(loaded.profile.color, [1, 2, 3]);
        std::fs::remove_dir_all(&folder).ok();
    }

    #[test]
    fn a_broken_profile_is_set_aside_and_edits_persist() {
        let folder = scratch("profile");
        let mut identity = load_or_create(&folder).expect("created");
        std::fs::write(folder.join(PROFILE_FILE), "(name: ").expect("break it");
        let mut identity2 = load_or_create(&folder).expect("recovers");
        assert!(folder.join("profile.ron.broken").exists());
        assert_eq!(
            identity2.profile, identity.profile,
            "fresh profile derives from the same key"
        );
        let renamed = Profile {
            name: "Ada".into(),
            ..identity2.profile.clone()
        };
        identity2.set_profile(renamed.clone()).expect("saved");
        assert_eq!(load_or_create(&folder).expect("reload").profile, renamed);
        let too_long = Profile {
            name: "x".repeat(100),
            ..renamed
        };
        assert!(identity.set_profile(too_long).is_err());
        std::fs::remove_dir_all(&folder).ok();
    }
}
