//! Voice settings that outlive a run, in `voice.ron` in the data folder: how the microphone
//! opens, the frame length, the microphone and speaker chosen by name, and who is muted or
//! set louder or quieter. Written a moment after a change (and at exit), beside and then
//! renamed over the old file; a damaged file is set aside with a warning, never lost.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bevy::prelude::*;
use sanctuary_protocols::{FrameDuration, PeerId};
use serde::{Deserialize, Serialize};

use super::engine::{InputChoice, OutputChoice};
use super::plugin::{VoiceControl, VoiceOptions};

/// The settings file's name in the data folder.
pub const SETTINGS_FILE: &str = "voice.ron";

/// Most people whose mute or volume is kept.
pub const PEOPLE_KEPT_MAX: usize = 1_000;

/// How long after a change the settings are written (a slider being dragged changes them
/// every frame).
const SAVE_AFTER: Duration = Duration::from_secs(1);

/// What is kept between runs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct VoiceSettings {
    /// Talk with an open microphone instead of holding V.
    pub open_mic: bool,
    /// Send 10 ms frames instead of 20.
    pub short_frames: bool,
    /// The microphone chosen by name (`None`: the default one).
    pub microphone: Option<String>,
    /// The speaker chosen by name (`None`: the default one).
    pub speaker: Option<String>,
    /// People muted, by key.
    #[serde(with = "hex_keys")]
    pub muted: BTreeSet<PeerId>,
    /// People's volumes other than 1, by key.
    #[serde(with = "hex_key_map")]
    pub volumes: BTreeMap<PeerId, f32>,
}

/// People's keys in the file as the hex text shown everywhere else, not 32 numbers.
mod hex_keys {
    use std::collections::BTreeSet;

    use sanctuary_protocols::PeerId;
    use serde::de::Error as _;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(keys: &BTreeSet<PeerId>, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(keys.iter().map(PeerId::to_string))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<BTreeSet<PeerId>, D::Error> {
        Vec::<String>::deserialize(deserializer)?
            .iter()
            .map(|text| text.parse().map_err(D::Error::custom))
            .collect()
    }
}

/// A map by people's keys, written as hex text (see [`hex_keys`]).
mod hex_key_map {
    use std::collections::BTreeMap;

    use sanctuary_protocols::PeerId;
    use serde::de::Error as _;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(map: &BTreeMap<PeerId, f32>, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(map.iter().map(|(key, value)| (key.to_string(), value)))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<BTreeMap<PeerId, f32>, D::Error> {
        BTreeMap::<String, f32>::deserialize(deserializer)?
            .into_iter()
            .map(|(text, value)| Ok((text.parse().map_err(D::Error::custom)?, value)))
            .collect()
    }
}

impl VoiceSettings {
    /// Reads the settings in `folder`: none yet gives the defaults; a damaged file is
    /// renamed to `voice.ron.broken`, said, and the defaults used.
    pub fn load(folder: &Path) -> Self {
        let path = folder.join(SETTINGS_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Self::default(),
            Err(error) => {
                warn!(
                    "voice settings in {} not read ({error}); using the defaults",
                    path.display()
                );
                return Self::default();
            }
        };
        match ron::from_str::<Self>(&text) {
            Ok(settings) => settings.bounded(),
            Err(error) => {
                let aside = folder.join(format!("{SETTINGS_FILE}.broken"));
                warn!(
                    "{} is not valid voice settings ({error}); kept as {} and using the defaults",
                    path.display(),
                    aside.display()
                );
                if let Err(error) = std::fs::rename(&path, &aside) {
                    warn!("{} could not be set aside: {error}", path.display());
                }
                Self::default()
            }
        }
    }

    /// Writes the settings into `folder`, whole or not at all.
    pub fn save(&self, folder: &Path) -> std::io::Result<()> {
        let text = ron::ser::to_string_pretty(self, ron::ser::PrettyConfig::default())
            .map_err(std::io::Error::other)?;
        let partial = folder.join(format!("{SETTINGS_FILE}.partial"));
        std::fs::write(&partial, text)?;
        std::fs::rename(&partial, folder.join(SETTINGS_FILE))
    }

    /// The settings as the client has them now; a recording in place of a device keeps
    /// the device `before` had.
    pub fn of(options: &VoiceOptions, control: &VoiceControl, before: &Self) -> Self {
        Self {
            open_mic: options.open_mic,
            short_frames: options.frame == FrameDuration::Ms10,
            microphone: match &options.input {
                InputChoice::Device(name) => name.clone(),
                InputChoice::File(_) => before.microphone.clone(),
            },
            speaker: match &options.output {
                OutputChoice::Device(name) => name.clone(),
                OutputChoice::File(_) => before.speaker.clone(),
            },
            muted: control.muted.iter().copied().collect(),
            volumes: control
                .volumes
                .iter()
                .filter(|(_, volume)| (**volume - 1.0).abs() > f32::EPSILON)
                .map(|(peer, volume)| (*peer, *volume))
                .collect(),
        }
        .bounded()
    }

    /// Applies the kept settings under what the command line asked for: a flag given
    /// there wins, the rest comes from here.
    pub fn apply(&self, options: &mut VoiceOptions, control: &mut VoiceControl) {
        options.open_mic |= self.open_mic;
        if self.short_frames {
            options.frame = FrameDuration::Ms10;
        }
        if options.input == InputChoice::Device(None) && self.microphone.is_some() {
            options.input = InputChoice::Device(self.microphone.clone());
        }
        if options.output == OutputChoice::Device(None) && self.speaker.is_some() {
            options.output = OutputChoice::Device(self.speaker.clone());
        }
        control.muted.extend(self.muted.iter().copied());
        control.volumes.extend(
            self.volumes
                .iter()
                .map(|(peer, volume)| (*peer, volume.clamp(0.0, 2.0))),
        );
    }

    /// At most [`PEOPLE_KEPT_MAX`] people in each list.
    fn bounded(mut self) -> Self {
        while self.muted.len() > PEOPLE_KEPT_MAX {
            self.muted.pop_last();
        }
        while self.volumes.len() > PEOPLE_KEPT_MAX {
            self.volumes.pop_last();
        }
        self
    }
}

/// Where the settings are kept and what was written last.
#[derive(Resource)]
pub(super) struct SettingsFile {
    pub folder: PathBuf,
    pub saved: VoiceSettings,
    pub changed_at: Option<Instant>,
}

/// Writes the settings a moment after they change, and at exit.
pub(super) fn save_settings(
    file: Option<ResMut<SettingsFile>>,
    options: Res<VoiceOptions>,
    control: Res<VoiceControl>,
    mut exits: MessageReader<AppExit>,
) {
    let Some(mut file) = file else {
        return;
    };
    let exiting = exits.read().next().is_some();
    if options.is_changed() || control.is_changed() {
        let now = VoiceSettings::of(&options, &control, &file.saved);
        if now != file.saved && file.changed_at.is_none() {
            file.changed_at = Some(Instant::now());
        }
    }
    let due = file
        .changed_at
        .is_some_and(|at| exiting || at.elapsed() >= SAVE_AFTER);
    if !due {
        return;
    }
    file.changed_at = None;
    let now = VoiceSettings::of(&options, &control, &file.saved);
    if now == file.saved {
        return;
    }
    match now.save(&file.folder) {
        Ok(()) => file.saved = now,
        Err(error) => warn!("voice settings not saved in {}: {error}", file.folder.display()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(n: u8) -> PeerId {
        sanctuary_protocols::Keypair::from_bytes(&[n; 32]).peer_id()
    }

    fn folder(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("sanctuary-voice-settings-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn settings_round_trip_and_the_command_line_wins() {
        let dir = folder("round-trip");
        let kept = VoiceSettings {
            open_mic: true,
            short_frames: true,
            microphone: Some("Desk mic".into()),
            speaker: None,
            muted: [peer(1)].into(),
            volumes: [(peer(2), 0.5)].into(),
        };
        kept.save(&dir).unwrap();
        assert_eq!(VoiceSettings::load(&dir), kept);
        // People's keys are written as the hex text shown everywhere else.
        let text = std::fs::read_to_string(dir.join(SETTINGS_FILE)).unwrap();
        assert!(text.contains(&format!("\"{}\"", peer(1))), "{text}");
        assert!(text.contains(&format!("\"{}\": 0.5", peer(2))), "{text}");

        let mut options = VoiceOptions::default();
        let mut control = VoiceControl::default();
        kept.apply(&mut options, &mut control);
        assert!(options.open_mic && options.frame == FrameDuration::Ms10);
        assert_eq!(options.input, InputChoice::Device(Some("Desk mic".into())));
        assert!(control.muted.contains(&peer(1)));
        assert_eq!(control.volumes.get(&peer(2)), Some(&0.5));
        assert_eq!(
            VoiceSettings::of(&options, &control, &VoiceSettings::default()),
            kept
        );

        // A microphone named on the command line wins over the kept one.
        let mut options = VoiceOptions {
            input: InputChoice::Device(Some("Headset".into())),
            ..VoiceOptions::default()
        };
        kept.apply(&mut options, &mut VoiceControl::default());
        assert_eq!(options.input, InputChoice::Device(Some("Headset".into())));
        std::fs::remove_dir_all(dir).ok();
    }

    #[test]
    fn a_damaged_file_is_set_aside_and_the_defaults_used() {
        let dir = folder("damaged");
        for damaged in ["(open_mic: maybe", "(muted: [\"not a key\"])"] {
            std::fs::write(dir.join(SETTINGS_FILE), damaged).unwrap();
            assert_eq!(VoiceSettings::load(&dir), VoiceSettings::default());
            assert_eq!(
                std::fs::read_to_string(dir.join("voice.ron.broken")).unwrap(),
                damaged
            );
            assert!(!dir.join(SETTINGS_FILE).exists());
        }
        std::fs::remove_dir_all(dir).ok();
    }

    #[test]
    fn the_people_kept_are_bounded() {
        let key = |n: usize| {
            let mut bytes = [0; 32];
            bytes[..8].copy_from_slice(&(n as u64).to_le_bytes());
            PeerId::from_bytes(bytes)
        };
        let settings = VoiceSettings {
            muted: (0..PEOPLE_KEPT_MAX + 50).map(key).collect(),
            ..VoiceSettings::default()
        };
        assert_eq!(settings.bounded().muted.len(), PEOPLE_KEPT_MAX);
    }
}
