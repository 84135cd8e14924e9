//! Voice between headless clients on loopback, through the real encoder, network, jitter
//! buffer, decoder and mixer, with recordings for microphones and files for speakers: an
//! open microphone is heard by the peer in earshot (who sees them speaking), a released
//! talk key sends nothing and a held one is heard, a speaker who leaves goes quiet at once;
//! a private call rings, is answered, is heard by the two alone (not by a third person
//! standing next to them), a second caller can be declined, and hanging up ends the call
//! on both sides; missing devices are said, the client goes on, and the Voice section's
//! pickers switch to devices that are there.

use std::path::{Path, PathBuf};

use bevy::prelude::*;
use bevy_egui::egui;
use sanctuary::net_bridge::NetMode;
use sanctuary::people::{PeoplePanelPlugin, RemoteAvatar, Roster};
use sanctuary::voice::{
    CallState, InputChoice, OutputChoice, SpeakingRings, TALK_KEY, VoiceControl, VoiceLink, VoiceOptions,
    VoicePlugin,
};
use sanctuary_plugin_api::{PeerId, WorldView};
use sanctuary_voice::{RecordingSink, WavSource};

mod common;
use common::{PanelView, folder, invite_ticket, networked_client_with, run_until};

/// Twelve seconds of a voiced, syllable-like sound at 48 kHz.
fn write_speech(path: &Path) {
    write_speech_for(path, 12);
}

/// `seconds` of a voiced, syllable-like sound at 48 kHz.
fn write_speech_for(path: &Path, seconds: usize) {
    let samples: Vec<f32> = (0..48_000 * seconds)
        .map(|n| {
            let t = n as f32 / 48_000.0;
            let syllable = (t * 4.0).fract();
            let envelope = if syllable < 0.7 {
                (syllable / 0.7 * std::f32::consts::PI).sin()
            } else {
                0.0
            };
            let phase = t * 150.0 * std::f32::consts::TAU;
            0.3 * envelope * (phase.sin() + 0.5 * (phase * 3.0).sin())
        })
        .collect();
    let sink = RecordingSink {
        stereo: samples.iter().flat_map(|s| [*s, *s]).collect(),
    };
    sink.save(path).unwrap();
}

fn voiced(dir: &Path, mode: NetMode, input: &Path, open_mic: bool) -> App {
    let options = VoiceOptions {
        input: InputChoice::File(input.to_path_buf()),
        output: OutputChoice::File(dir.join("heard.wav")),
        open_mic,
        ..VoiceOptions::default()
    };
    networked_client_with("lobby", dir, mode, |app| {
        app.add_plugins((
            VoicePlugin {
                options,
                settings: Some(dir.to_path_buf()),
            },
            PeoplePanelPlugin,
        ));
    })
}

fn me(app: &App) -> PeerId {
    app.world().resource::<WorldView>().me.expect("online")
}

fn control(app: &App) -> &VoiceControl {
    app.world().resource::<VoiceControl>()
}

/// The energy of what a client heard, written when it stopped.
fn heard_energy(dir: &Path) -> f32 {
    let mut source = WavSource::open(&dir.join("heard.wav")).unwrap();
    let mut samples = vec![0.0; source.remaining()];
    sanctuary_voice::AudioSource::read(&mut source, &mut samples);
    samples.iter().map(|s| s * s).sum()
}

fn joiner(host: &App, dir: &Path, input: &Path, open_mic: bool) -> App {
    let ticket = invite_ticket(host).parse().unwrap();
    voiced(dir, NetMode::Join(ticket), input, open_mic)
}

/// A fifth of a second of silence, for a client that says nothing.
fn silence(root: &Path) -> PathBuf {
    let path = root.join("silence.wav");
    RecordingSink {
        stereo: vec![0.0; 9600],
    }
    .save(&path)
    .unwrap();
    path
}

fn speech(root: &Path) -> PathBuf {
    let path = root.join("speech.wav");
    write_speech(&path);
    path
}

#[test]
fn an_open_microphone_is_heard_in_earshot_and_the_talk_key_sends_only_while_held() {
    let root = folder("voice-earshot");
    let speech = speech(&root);
    let (host_dir, guest_dir) = (root.join("host"), root.join("guest"));
    let mut host = voiced(&host_dir, NetMode::Host, &speech, true);
    run_until(&mut [&mut host], "the host's ticket", |apps| {
        apps[0]
            .world()
            .resource::<sanctuary::people::InviteTicket>()
            .0
            .is_some()
    });
    let mut guest = joiner(&host, &guest_dir, &speech, false);
    run_until(&mut [&mut host, &mut guest], "both to see each other", |apps| {
        apps.iter()
            .all(|app| !app.world().resource::<WorldView>().people.is_empty())
    });
    let host_id = me(&host);
    let guest_id = me(&guest);

    // The host's open microphone: the guest hears them and sees them speaking.
    run_until(
        &mut [&mut host, &mut guest],
        "the guest to hear the host",
        |apps| {
            let report = &control(apps[1]).report;
            report.speaking.contains(&host_id) && report.received > 50
        },
    );
    assert!(control(&host).report.sent > 50);
    // Voice does not wait on the frame loop: with the guest's frames stopped for a second
    // (as on a machine drawing a few frames a second), its voice thread still takes the
    // host's packets in.
    let taken_in = |app: &App| app.world().resource::<VoiceLink>().report().received;
    let before = taken_in(&guest);
    for _ in 0..100 {
        host.update();
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert!(
        taken_in(&guest) > before + 20,
        "{} then {}",
        before,
        taken_in(&guest)
    );
    // A ring turns above the host's avatar on the guest's side.
    run_until(&mut [&mut host, &mut guest], "a ring above the host", |apps| {
        let world = apps[1].world_mut();
        let head = world
            .query::<(&RemoteAvatar, &GlobalTransform)>()
            .iter(world)
            .find(|(avatar, _)| avatar.peer == host_id)
            .map(|(_, transform)| transform.translation());
        let rings = world.resource::<SpeakingRings>();
        // The avatar's transform is at the middle of its body, as far below the top of
        // the head as the feet are: the ring is just over the head.
        let top = |at: Vec3| at.y + sanctuary::avatar::controller::CENTER_ABOVE_FEET;
        head.is_some_and(|at| {
            rings.0.iter().any(|ring| {
                ring.peer == Some(host_id)
                    && (ring.center.xz() - at.xz()).length() < 0.01
                    && ring.center.y > top(at)
                    && ring.center.y < top(at) + 0.4
            })
        })
    });
    // The host's own ring, at their feet while their voice goes out.
    let feet = {
        let world = host.world_mut();
        let middle = world
            .query_filtered::<&Transform, With<sanctuary::avatar::Player>>()
            .single(world)
            .expect("the host's avatar")
            .translation;
        middle.y - sanctuary::avatar::controller::CENTER_ABOVE_FEET
    };
    assert!(
        host.world()
            .resource::<SpeakingRings>()
            .0
            .iter()
            .any(|ring| ring.peer.is_none() && (ring.center.y - feet).abs() < 0.1),
        "the host sees their own ring at their feet while talking"
    );

    // The guest's People panel says the host is speaking; Mute silences them there. The
    // host's own level bar says they are talking.
    let people = PanelView::client("people");
    assert!(people.shows(&mut host, "talking"));
    let host_name = guest.world().resource::<Roster>().name_of(&host_id);
    assert!(people.shows(&mut guest, "speaking"));
    people.click(&mut guest, &host_name, "Mute");
    assert!(control(&guest).muted.contains(&host_id));
    run_until(
        &mut [&mut host, &mut guest],
        "the muted host to go quiet",
        |apps| !control(apps[1]).report.speaking.contains(&host_id),
    );
    assert!(!people.shows(&mut guest, "speaking"));
    people.click(&mut guest, &host_name, "Unmute");
    run_until(&mut [&mut host, &mut guest], "the host heard again", |apps| {
        control(apps[1]).report.speaking.contains(&host_id)
    });

    // The voice settings set how loud the host is: a click near the start of their slider.
    let voice = &people;
    assert!(voice.shows(&mut guest, "Hold V to talk") && voice.shows(&mut guest, "Microphone"));
    let label = voice.find(&mut guest, &host_name, "volume");
    voice.click_at(&mut guest, egui::pos2(label.min.x - 135.0, label.center().y));
    let volume = control(&guest).volumes.get(&host_id).copied();
    assert!(volume.is_some_and(|volume| volume < 0.9), "volume {volume:?}");
    assert!(control(&host).report.talking);
    // The guest holds no key: nothing of theirs went out.
    assert_eq!(control(&guest).report.sent, 0);
    assert_eq!(control(&host).report.received, 0);

    // The guest holds V: now the host hears them.
    guest
        .world_mut()
        .resource_mut::<ButtonInput<KeyCode>>()
        .press(TALK_KEY);
    run_until(
        &mut [&mut host, &mut guest],
        "the host to hear the guest",
        |apps| {
            let report = &control(apps[0]).report;
            report.speaking.contains(&guest_id) && report.received > 25
        },
    );
    // Released: the guest's stream ends and nothing more goes out.
    guest
        .world_mut()
        .resource_mut::<ButtonInput<KeyCode>>()
        .release(TALK_KEY);
    run_until(
        &mut [&mut host, &mut guest],
        "the guest to stop talking",
        |apps| !control(apps[1]).report.talking,
    );
    let sent = control(&guest).report.sent;
    for _ in 0..30 {
        guest.update();
        host.update();
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert_eq!(control(&guest).report.sent, sent, "released means no packets");

    // The voice settings' "Open microphone": the guest's voice goes out without V.
    voice.click(&mut guest, "Hold V to talk", "Open microphone");
    assert!(guest.world().resource::<VoiceOptions>().open_mic);
    run_until(
        &mut [&mut host, &mut guest],
        "the guest's open microphone",
        |apps| {
            control(apps[1]).report.sent > sent + 10 && control(apps[0]).report.speaking.contains(&guest_id)
        },
    );
    // The settings say what goes out: the bitrate (which the guest's reports set; the
    // tool's test checks it follows loss) and the frame length.
    let bitrate = control(&host).report.bitrate_kbps;
    assert!((16..=32).contains(&bitrate), "{bitrate} kbit/s");
    assert!(voice.shows(&mut host, &format!("sending {bitrate} kbit/s, 20 ms frames")));
    // Short frames: the host's voice goes on in 10 ms frames, and the guest still hears it.
    voice.click_text(&mut host, "Short frames (10 ms)");
    let before = control(&guest).report.received;
    run_until(
        &mut [&mut host, &mut guest],
        "the host's voice in short frames",
        |apps| control(apps[0]).report.frame_ms == 10 && control(apps[1]).report.received > before + 50,
    );
    assert!(control(&guest).report.speaking.contains(&host_id));

    // The guest leaves mid-sentence: their stream ends on the host's side at once, rather
    // than being concealed on and on.
    drop(guest);
    run_until(&mut [&mut host], "the guest's voice to end", |apps| {
        !control(apps[0]).report.speaking.contains(&guest_id)
            && apps[0].world().resource::<WorldView>().people.is_empty()
    });
    drop(host);
    let guest_heard = heard_energy(&guest_dir);
    let host_heard = heard_energy(&host_dir);
    assert!(
        guest_heard > 100.0,
        "the guest's file holds the host's voice: {guest_heard}"
    );
    assert!(
        host_heard > 1.0,
        "the host's file holds the guest's few words: {host_heard}"
    );
    std::fs::remove_dir_all(root).ok();
}

#[test]
fn a_private_call_rings_and_is_heard_by_the_two_alone() {
    let root = folder("voice-call");
    let speech = speech(&root);
    let silence = silence(&root);
    // The host talks only while holding V: nothing reaches anyone before the call.
    let mut host = voiced(&root.join("host"), NetMode::Host, &speech, false);
    run_until(&mut [&mut host], "the host's ticket", |apps| {
        apps[0]
            .world()
            .resource::<sanctuary::people::InviteTicket>()
            .0
            .is_some()
    });
    let mut guest = joiner(&host, &root.join("guest"), &silence, false);
    let mut third = joiner(&host, &root.join("third"), &silence, false);
    run_until(
        &mut [&mut host, &mut guest, &mut third],
        "all three to see each other",
        |apps| {
            apps.iter()
                .all(|app| app.world().resource::<WorldView>().people.len() == 2)
        },
    );
    let (host_id, guest_id) = (me(&host), me(&guest));

    // The host calls the guest ("Call" on the guest's row of the host's People panel),
    // without saying a word yet: it rings there, and the host's panel says it is calling.
    let people = PanelView::client("people");
    let guest_name = host.world().resource::<Roster>().name_of(&guest_id);
    let host_name = guest.world().resource::<Roster>().name_of(&host_id);
    let third_name = guest.world().resource::<Roster>().name_of(&me(&third));
    people.click(&mut host, &guest_name, "Call");
    assert_eq!(control(&host).call, Some(guest_id));
    run_until(
        &mut [&mut host, &mut guest, &mut third],
        "the call to ring",
        |apps| control(apps[1]).report.ringing == Some(host_id),
    );
    assert_eq!(control(&host).report.call, CallState::Calling(guest_id));
    assert!(people.shows(&mut host, "calling…"));
    assert_eq!(
        control(&guest).report.received,
        0,
        "not heard before it is answered"
    );
    // The guest answers: the host's panel says they are in a call.
    people.click(&mut guest, &host_name, "Answer");
    assert_eq!(control(&guest).call, Some(host_id));
    run_until(
        &mut [&mut host, &mut guest, &mut third],
        "the host to see the call answered",
        |apps| control(apps[0]).report.call == CallState::Connected(guest_id),
    );
    assert!(people.shows(&mut host, "in a call"));
    host.world_mut()
        .resource_mut::<ButtonInput<KeyCode>>()
        .press(TALK_KEY);
    run_until(
        &mut [&mut host, &mut guest, &mut third],
        "the guest to hear the call",
        |apps| {
            let report = &control(apps[1]).report;
            report.speaking.contains(&host_id) && report.received > 50
        },
    );
    // The third person stands right there (everyone is at the lobby's spawn) and hears
    // nothing of it.
    assert_eq!(control(&third).report.received, 0);
    assert!(control(&third).report.ringing.is_none());

    // The third person calls the guest too: it rings beside the call, and "Decline" stops
    // it while they go on calling.
    let guest_name_for_third = third.world().resource::<Roster>().name_of(&guest_id);
    people.click(&mut third, &guest_name_for_third, "Call");
    run_until(
        &mut [&mut host, &mut guest, &mut third],
        "the third person's call to ring",
        |apps| control(apps[1]).report.ringing == Some(me(apps[2])),
    );
    people.click(&mut guest, &third_name, "Decline");
    run_until(
        &mut [&mut host, &mut guest, &mut third],
        "the declined call to stop ringing",
        |apps| control(apps[1]).report.ringing.is_none(),
    );
    for _ in 0..150 {
        for app in [&mut host, &mut guest, &mut third] {
            app.update();
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
        assert!(
            control(&guest).report.ringing.is_none(),
            "a declined call rang again"
        );
    }
    assert_eq!(control(&third).report.call, CallState::Calling(guest_id));

    // The guest hangs up on the host: the call ends on the host's side by itself.
    people.click(&mut guest, &host_name, "Hang up");
    assert_eq!(control(&guest).call, None);
    run_until(
        &mut [&mut host, &mut guest, &mut third],
        "the call to end on the host's side",
        |apps| control(apps[0]).call.is_none() && control(apps[0]).report.call == CallState::Idle,
    );
    std::fs::remove_dir_all(root).ok();
}

#[test]
fn a_missing_microphone_and_speaker_are_said_and_the_client_goes_on() {
    let root = folder("voice-missing");
    let options = VoiceOptions {
        input: InputChoice::Device(Some("no such microphone".into())),
        output: OutputChoice::Device(Some("no such speaker".into())),
        open_mic: true,
        ..VoiceOptions::default()
    };
    let mut host = networked_client_with("lobby", &root, NetMode::Host, |app| {
        app.add_plugins((
            VoicePlugin {
                options,
                settings: None,
            },
            PeoplePanelPlugin,
        ));
    });
    run_until(&mut [&mut host], "the missing devices said", |apps| {
        control(apps[0])
            .report
            .problem
            .as_deref()
            .is_some_and(|problem| problem.contains("no microphone") && problem.contains("no speaker"))
    });
    // The world goes on without voice.
    run_until(&mut [&mut host], "the host online", |apps| {
        apps[0].world().resource::<WorldView>().online
    });
    assert_eq!(control(&host).report.sent, 0);
    let voice = PanelView::client("people");
    assert!(voice.shows(&mut host, "no microphone"));

    // With sound devices (./test.sh starts a PulseAudio null sink and sets
    // SANCTUARY_SOUND_TEST), the Voice section's pickers switch to ones that are there.
    if std::env::var_os("SANCTUARY_SOUND_TEST").is_some() {
        voice.click(&mut host, "Microphone", "none");
        voice.click_text(&mut host, "Default");
        voice.click(&mut host, "Speaker", "none");
        voice.click_text(&mut host, "Default");
        run_until(&mut [&mut host], "the default devices in use", |apps| {
            let report = &control(apps[0]).report;
            report.problem.is_none() && report.input.is_some() && report.output.is_some()
        });
        let report = control(&host).report.clone();
        assert!(voice.shows(&mut host, report.input.as_deref().unwrap()));
        assert_eq!(
            host.world().resource::<VoiceOptions>().input,
            InputChoice::Device(None)
        );
    } else {
        eprintln!("device pickers not tried: no test sound server (./test.sh starts one)");
    }
    std::fs::remove_dir_all(root).ok();
}

#[test]
fn voice_settings_chosen_in_the_panel_are_there_the_next_time() {
    let root = folder("voice-settings");
    let silence = silence(&root);
    let dir = root.join("client");
    let mut client = voiced(&dir, NetMode::Host, &silence, false);
    let voice = PanelView::client("people");
    voice.click(&mut client, "Hold V to talk", "Open microphone");
    voice.click_text(&mut client, "Short frames (10 ms)");
    let options = client.world().resource::<VoiceOptions>().clone();
    assert!(options.open_mic && options.frame == sanctuary_protocols::FrameDuration::Ms10);
    // Written a moment after the change.
    run_until(&mut [&mut client], "the settings written", |_| {
        dir.join(sanctuary::voice::settings::SETTINGS_FILE).exists()
    });
    drop(client);

    // The next run starts with them: open microphone, short frames.
    let mut again = voiced(&dir, NetMode::Host, &silence, false);
    let options = again.world().resource::<VoiceOptions>().clone();
    assert!(options.open_mic, "the open microphone was kept");
    assert_eq!(options.frame, sanctuary_protocols::FrameDuration::Ms10);
    run_until(&mut [&mut again], "short frames going out", |apps| {
        control(apps[0]).report.frame_ms == 10
    });

    // A damaged file is set aside, and the client starts with the defaults.
    drop(again);
    std::fs::write(dir.join(sanctuary::voice::settings::SETTINGS_FILE), "(open_mic: ").unwrap();
    let fresh = voiced(&dir, NetMode::Host, &silence, false);
    assert!(!fresh.world().resource::<VoiceOptions>().open_mic);
    assert!(dir.join("voice.ron.broken").exists());
    std::fs::remove_dir_all(root).ok();
}

/// Pixels of the speaking ring's green in a screenshot: the ring is unlit, so it shows in
/// one flat tone (its colour after tonemapping), unlike a lit avatar's shaded surfaces.
fn ring_pixels(path: &Path) -> usize {
    const RING_AS_SHOWN: [i16; 3] = [109, 200, 131];
    common::read_screenshot(path)
        .pixels
        .iter()
        .filter(|p| (0..3).all(|c| (i16::from(p[c]) - RING_AS_SHOWN[c]).abs() <= 20))
        .count()
}

#[test]
fn people_talking_wear_a_ring_in_a_real_window() {
    use std::process::{Command, Stdio};
    use std::time::Duration;

    let display = common::VirtualDisplay::start();
    let root = folder("voice-window");
    // Bots say a minute-long recording over and over (with a second's pause between).
    let speech = root.join("speech.wav");
    write_speech_for(&speech, 60);
    let silence = silence(&root);
    let shot = root.join("rings.png");
    let client = env!("CARGO_BIN_EXE_sanctuary");
    let extra = [
        "--voice-in".into(),
        silence.clone().into_os_string(),
        "--voice-out".into(),
        root.join("heard.wav").into_os_string(),
    ];
    let (mut viewer, ticket) = common::windowed_host(&display, &root.join("viewer"), 90, &shot, &extra);
    // Eight talking bots wander around the spawn point, in front of the viewer and behind.
    let tool = Path::new(client).with_file_name("sanctuary-node");
    let mut bots = Command::new(&tool)
        .env("RUST_LOG", "error")
        .args([
            "bots",
            "--count",
            "8",
            "--seconds",
            "400",
            "--bind",
            "127.0.0.1:0",
            "--join",
            &ticket,
        ])
        .arg("--talk")
        .arg(&speech)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("sanctuary-node runs (cargo nextest run --workspace builds it)");
    let ended = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        common::wait_for_window(&mut viewer, Duration::from_secs(400), || {})
    }));
    bots.kill().ok();
    bots.wait().ok();
    let (status, stderr) = ended.unwrap_or_else(|panic| std::panic::resume_unwind(panic));
    assert!(status.success(), "{stderr}");
    let green = ring_pixels(&shot);
    assert!(
        green > 1_000,
        "speaking rings show ({green} ring-green pixels in {}); the client said: {stderr}",
        shot.display()
    );
    std::fs::remove_file(&speech).ok();
}
