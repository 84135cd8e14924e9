//! The command line: `sanctuary [--space NAME] [--data-dir DIR] [--headless] [--frames N] [--screenshot FILE] [--xr] …`.

use clap::Parser;
use std::path::PathBuf;

/// Sanctuary: shared spaces where friends meet, with nobody in the middle.
#[derive(Parser, Debug, Clone)]
#[command(name = "sanctuary", version, about)]
pub struct Cli {
    /// The space to start in (lobby, market, cinema, lecture-hall, or any in the spaces folder).
    #[arg(long, value_name = "NAME", default_value = "lobby")]
    pub space: String,

    /// Where this person's data is kept (defaults to ~/.local/share/sanctuary).
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    /// Run the world simulation with no window and no GPU (for bots and tests).
    #[arg(long)]
    pub headless: bool,

    /// Quit after this many frames.
    #[arg(long, value_name = "N")]
    pub frames: Option<u32>,

    /// Save the last frame as a PNG before quitting (needs --frames and a window).
    #[arg(long, value_name = "FILE", requires = "frames", conflicts_with = "headless")]
    pub screenshot: Option<PathBuf>,

    /// Host your world of the spaces (the same one each time, with what was built there);
    /// its ticket is printed as `ticket: <TICKET>`.
    #[arg(long, conflicts_with = "join")]
    pub host: bool,

    /// With --host: host a new world from now on instead of the one hosted before (what
    /// was built there stays in the data folder; its old tickets lead nowhere).
    #[arg(long, requires = "host")]
    pub new_world: bool,

    /// Join the world of this ticket (from someone's `--host`).
    #[arg(long, value_name = "TICKET")]
    pub join: Option<String>,

    /// A self-hosted iroh relay to reach peers behind firewalls.
    #[arg(long, value_name = "URL")]
    pub relay: Option<String>,

    /// Use the local network (mDNS): with --host, announce the world there; without
    /// --host or --join, list the worlds hosted nearby in the Directory to join; and look
    /// up there the addresses of peers whose keys are known.
    #[arg(long)]
    pub lan: bool,

    /// The UDP address to listen on, e.g. 127.0.0.1:0 for this machine only.
    #[arg(long, value_name = "ADDR")]
    pub bind: Option<std::net::SocketAddr>,

    /// Talk with an open microphone (a level gate) instead of holding V.
    #[arg(long)]
    pub open_mic: bool,

    /// The microphone to use, by name (the default one if not given).
    #[arg(long, value_name = "NAME", conflicts_with = "voice_in")]
    pub microphone: Option<String>,

    /// The speaker to use, by name (the default one if not given).
    #[arg(long, value_name = "NAME", conflicts_with = "voice_out")]
    pub speaker: Option<String>,

    /// Speak a recording instead of the microphone (a WAV file, played once).
    #[arg(long, value_name = "FILE.wav")]
    pub voice_in: Option<PathBuf>,

    /// Write what is heard to a WAV file (at exit) instead of playing it.
    #[arg(long, value_name = "FILE.wav")]
    pub voice_out: Option<PathBuf>,

    /// Voice in 10 ms frames instead of 20: less delay, a little more bandwidth.
    #[arg(long)]
    pub short_frames: bool,

    /// No voice at all: no microphone, no speaker.
    #[arg(long, conflicts_with_all = ["open_mic", "microphone", "speaker", "voice_in", "voice_out", "short_frames"])]
    pub no_voice: bool,

    /// Step in with a VR headset through OpenXR; without a runtime or headset, say why and
    /// start on the desktop.
    #[arg(long, conflicts_with = "headless")]
    pub xr: bool,

    /// With --xr: exit with an error, rather than start on the desktop, when there is no headset.
    #[arg(long, requires = "xr")]
    pub require_xr: bool,

    /// Rendering quality: high, or low for weak machines (no point lights; in a headset,
    /// half the recommended pixels each way).
    #[arg(long, value_enum, default_value = "high", conflicts_with = "headless")]
    pub quality: crate::quality::Quality,

    /// The assets folder (defaults to $SANCTUARY_ASSETS, then the source tree's assets/).
    #[arg(long, value_name = "DIR")]
    pub assets: Option<PathBuf>,
}

impl Cli {
    /// Whether to start in a headset.
    pub fn xr_mode(&self) -> crate::xr::XrMode {
        use crate::xr::XrMode;
        match (self.xr, self.require_xr) {
            (false, _) => XrMode::Off,
            (true, false) => XrMode::Preferred,
            (true, true) => XrMode::Required,
        }
    }

    /// Where voice comes from and goes, or `None` with `--no-voice`.
    pub fn voice(&self) -> Option<crate::voice::VoiceOptions> {
        use crate::voice::{InputChoice, OutputChoice, VoiceOptions};
        if self.no_voice {
            return None;
        }
        Some(VoiceOptions {
            input: match &self.voice_in {
                Some(path) => InputChoice::File(path.clone()),
                None => InputChoice::Device(self.microphone.clone()),
            },
            output: match &self.voice_out {
                Some(path) => OutputChoice::File(path.clone()),
                None => OutputChoice::Device(self.speaker.clone()),
            },
            open_mic: self.open_mic,
            frame: if self.short_frames {
                sanctuary_protocols::FrameDuration::Ms10
            } else {
                sanctuary_protocols::FrameDuration::Ms20
            },
        })
    }

    /// The data folder: `--data-dir`, else `$XDG_DATA_HOME/sanctuary`, else
    /// `~/.local/share/sanctuary`, else `./sanctuary-data`.
    pub fn data_dir(&self) -> PathBuf {
        if let Some(dir) = &self.data_dir {
            return dir.clone();
        }
        sanctuary_net::data_dir::default_data_dir()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::voice::{InputChoice, OutputChoice};

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("sanctuary").chain(args.iter().copied()))
    }

    #[test]
    fn voice_flags_choose_devices_files_the_microphone_mode_or_no_voice() {
        let plain = parse(&[]).unwrap().voice().unwrap();
        assert_eq!(plain.input, InputChoice::Device(None));
        assert_eq!(plain.output, OutputChoice::Device(None));
        assert!(!plain.open_mic);
        assert_eq!(plain.frame, sanctuary_protocols::FrameDuration::Ms20);
        let chosen = parse(&[
            "--open-mic",
            "--microphone",
            "Desk mic",
            "--voice-out",
            "heard.wav",
        ])
        .unwrap()
        .voice()
        .unwrap();
        assert!(chosen.open_mic);
        assert_eq!(chosen.input, InputChoice::Device(Some("Desk mic".into())));
        assert_eq!(chosen.output, OutputChoice::File("heard.wav".into()));
        let recorded = parse(&["--voice-in", "speech.wav", "--short-frames"])
            .unwrap()
            .voice()
            .unwrap();
        assert_eq!(recorded.input, InputChoice::File("speech.wav".into()));
        assert_eq!(recorded.frame, sanctuary_protocols::FrameDuration::Ms10);
        assert!(parse(&["--no-voice"]).unwrap().voice().is_none());
        assert!(
            parse(&["--no-voice", "--open-mic"]).is_err(),
            "no voice and a voice flag conflict"
        );
        assert!(parse(&["--voice-in", "a.wav", "--microphone", "x"]).is_err());
    }

    #[test]
    fn a_headset_is_asked_for_with_xr_and_required_only_with_it() {
        use crate::xr::XrMode;
        assert_eq!(parse(&[]).unwrap().xr_mode(), XrMode::Off);
        assert_eq!(parse(&["--xr"]).unwrap().xr_mode(), XrMode::Preferred);
        assert_eq!(
            parse(&["--xr", "--require-xr"]).unwrap().xr_mode(),
            XrMode::Required
        );
        assert!(parse(&["--require-xr"]).is_err(), "--require-xr needs --xr");
        assert!(
            parse(&["--xr", "--headless"]).is_err(),
            "a headset needs rendering"
        );
        assert_eq!(
            parse(&["--quality", "low"]).unwrap().quality,
            crate::quality::Quality::Low
        );
        assert!(parse(&["--quality", "ultra"]).is_err());
    }

    #[test]
    fn a_new_world_is_only_for_hosting() {
        assert!(parse(&["--host", "--new-world"]).unwrap().new_world);
        assert!(!parse(&["--host"]).unwrap().new_world);
        assert!(parse(&["--new-world"]).is_err(), "--new-world needs --host");
    }
}
