//! The voice thread: microphone to packets, packets to speaker, every 10 ms, off the
//! frame loop. Bevy's systems talk to it through a channel (packets, settings) and a shared
//! [`Scene`] (where everyone stands, whether the talk key is held); it reports back in a
//! shared [`VoiceReport`].

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sanctuary_net::{VoiceSender, VoiceTo};
use sanctuary_protocols::{FrameDuration, PeerId, VoiceDatagram};
use sanctuary_voice::audio_io::{AudioSink, AudioSource};
use sanctuary_voice::feedback::REPORT_EVERY_MS;
use sanctuary_voice::{
    Listener, LossReports, MIX_FRAME, PacedSource, RecordingSink, Speakers, TalkMode, Talker, WavSource,
    devices,
};

/// How long a call rings after its last packet, and how long a partner may stay unheard
/// before their end of the call counts as hung up.
const RING_FOR: Duration = Duration::from_secs(2);

/// How often each end of a call signals it is there while not talking (a packet with no
/// sound): it rings on the other side until answered, and tells the caller it was.
const CALL_SIGNAL_EVERY: Duration = Duration::from_millis(500);

/// How long a call rings unanswered before the caller gives up.
const CALL_UNANSWERED_AFTER: Duration = Duration::from_secs(30);

/// Where sound comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InputChoice {
    /// A microphone: the default one, or one by name.
    Device(Option<String>),
    /// A recording, played once (for tests and bots).
    File(PathBuf),
}

/// Where sound goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutputChoice {
    /// A speaker: the default one, or one by name.
    Device(Option<String>),
    /// A WAV file written when voice stops (for tests).
    File(PathBuf),
}

/// What the frame loop tells the voice thread.
pub enum EngineInput {
    /// The world's voice, straight from the network (frames and reception reports).
    Network(Receiver<(PeerId, VoiceDatagram)>),
    /// Do not ring for this caller's present call.
    Decline(PeerId),
    /// The world's voice sender (once in a world).
    Sender(VoiceSender),
    /// A peer left: their stream ends.
    Left(PeerId),
    /// Mute or unmute a person.
    Mute(PeerId, bool),
    /// Set a person's volume.
    Volume(PeerId, f32),
    /// Use another microphone or speaker.
    Devices(InputChoice, OutputChoice),
    /// Stop and write what is to be written.
    Stop,
}

/// What the frame loop keeps up to date for the voice thread.
#[derive(Debug, Clone, Default)]
pub struct Scene {
    /// Our ears.
    pub listener: Listener,
    /// Where the people in our space stand (their heads).
    pub positions: HashMap<PeerId, [f32; 3]>,
    /// The talk key is held.
    pub pressed: bool,
    /// Push-to-talk or open microphone.
    pub mode: TalkMode,
    /// The one person we are in a private call with.
    pub call: Option<PeerId>,
    /// Length of the frames we send.
    pub frame: FrameDuration,
}

/// Where our private call stands.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum CallState {
    /// No call.
    #[default]
    Idle,
    /// We called; it rings on their side.
    Calling(PeerId),
    /// They are on the line.
    Connected(PeerId),
    /// They hung up, or never answered: the call is over (the frame loop then clears it).
    Ended(PeerId),
}

/// What the voice thread reports.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct VoiceReport {
    /// People heard speaking now.
    pub speaking: Vec<PeerId>,
    /// Our microphone's level, dBFS.
    pub mic_level_db: f32,
    /// Our voice is going out.
    pub talking: bool,
    /// Someone is calling us privately (their call packets arrive; we have not answered).
    pub ringing: Option<PeerId>,
    /// Our own call.
    pub call: CallState,
    /// The bitrate our voice goes out at, in kbit/s (it follows what listeners report).
    pub bitrate_kbps: u32,
    /// Length of the frames we send, in milliseconds.
    pub frame_ms: u32,
    /// Packets we sent.
    pub sent: u64,
    /// Packets we received.
    pub received: u64,
    /// The microphone in use, if any.
    pub input: Option<String>,
    /// The speaker in use, if any.
    pub output: Option<String>,
    /// Why there is no microphone or speaker, in words.
    pub problem: Option<String>,
    /// The microphones and speakers there are.
    pub input_names: Vec<String>,
    /// The speakers there are.
    pub output_names: Vec<String>,
}

/// Starts the voice thread.
pub fn spawn(
    input: InputChoice,
    output: OutputChoice,
    inbox: Receiver<EngineInput>,
    scene: Arc<Mutex<Scene>>,
    report: Arc<Mutex<VoiceReport>>,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("voice".into())
        .spawn(move || run(input, output, inbox, scene, report))
}

/// The ends the thread reads from and writes to.
struct Ends {
    source: Option<Box<dyn AudioSource>>,
    sink: Option<Box<dyn AudioSink>>,
    recording: Option<(PathBuf, RecordingSink)>,
    // Device streams stop when dropped; they stay on this thread.
    _streams: Vec<devices::DeviceStream>,
}

fn open(input: &InputChoice, output: &OutputChoice, report: &Arc<Mutex<VoiceReport>>) -> Ends {
    let mut problems = Vec::new();
    let mut streams = Vec::new();
    let (mut input_name, mut output_name) = (None, None);
    let source: Option<Box<dyn AudioSource>> = match input {
        InputChoice::File(path) => match WavSource::open(path) {
            Ok(source) => {
                input_name = Some(path.display().to_string());
                Some(Box::new(PacedSource::new(source)))
            }
            Err(error) => {
                problems.push(error.to_string());
                None
            }
        },
        InputChoice::Device(name) => match devices::open_input(name.as_deref()) {
            Ok((capture, stream)) => {
                input_name = Some(stream.name.clone());
                streams.push(stream);
                Some(Box::new(capture))
            }
            Err(error) => {
                problems.push(format!("no microphone: {error}"));
                None
            }
        },
    };
    let (sink, recording): (Option<Box<dyn AudioSink>>, _) = match output {
        OutputChoice::File(path) => {
            output_name = Some(path.display().to_string());
            (None, Some((path.clone(), RecordingSink::default())))
        }
        OutputChoice::Device(name) => match devices::open_output(name.as_deref()) {
            Ok((playback, stream)) => {
                output_name = Some(stream.name.clone());
                streams.push(stream);
                (Some(Box::new(playback)), None)
            }
            Err(error) => {
                problems.push(format!("no speaker: {error}"));
                (None, None)
            }
        },
    };
    let problem = (!problems.is_empty()).then(|| problems.join("; "));
    if let Some(problem) = &problem {
        // Said once; the world goes on without that half of voice.
        tracing::warn!("voice: {problem}");
    }
    if let Ok(mut report) = report.lock() {
        report.input = input_name;
        report.output = output_name;
        report.problem = problem;
        report.input_names = devices::input_names();
        report.output_names = devices::output_names();
    }
    Ends {
        source,
        sink,
        recording,
        _streams: streams,
    }
}

fn run(
    input: InputChoice,
    output: OutputChoice,
    inbox: Receiver<EngineInput>,
    scene: Arc<Mutex<Scene>>,
    report: Arc<Mutex<VoiceReport>>,
) {
    let mut ends = open(&input, &output, &report);
    let first_frame = scene.lock().map(|scene| scene.frame).unwrap_or_default();
    let Some(mut talker) = new_talker(first_frame) else {
        return;
    };
    let mut speakers = Speakers::new();
    let mut sender: Option<VoiceSender> = None;
    let mut network: Option<Receiver<(PeerId, VoiceDatagram)>> = None;
    let (mut sent, mut received) = (0u64, 0u64);
    let mut ringing: Option<(PeerId, Instant)> = None;
    let mut call = Call::default();
    let mut loss = LossReports::new();
    let started = Instant::now();
    let mut next_report = started + Duration::from_millis(REPORT_EVERY_MS);
    let tick = Duration::from_millis(u64::from(MIX_FRAME.millis()));
    let mut next_tick = Instant::now() + tick;
    loop {
        // Messages until the next tick.
        loop {
            let wait = next_tick.saturating_duration_since(Instant::now());
            match inbox.recv_timeout(wait) {
                Ok(EngineInput::Network(inbox)) => network = Some(inbox),
                Ok(EngineInput::Decline(peer)) => {
                    call.decline(peer);
                    ringing = ringing.filter(|(ringer, _)| *ringer != peer);
                }
                Ok(EngineInput::Sender(new)) => sender = Some(new),
                Ok(EngineInput::Left(peer)) => speakers.remove(&peer),
                Ok(EngineInput::Mute(peer, muted)) => speakers.set_muted(peer, muted),
                Ok(EngineInput::Volume(peer, volume)) => speakers.set_volume(peer, volume),
                Ok(EngineInput::Devices(input, output)) => {
                    save(&ends);
                    ends = open(&input, &output, &report);
                }
                Ok(EngineInput::Stop) | Err(RecvTimeoutError::Disconnected) => {
                    save(&ends);
                    return;
                }
                Err(RecvTimeoutError::Timeout) => break,
            }
        }
        next_tick += tick;
        if next_tick < Instant::now() {
            // Fell behind (a stall): start the clock again rather than rushing.
            next_tick = Instant::now() + tick;
        }
        let scene_now = scene.lock().map(|scene| scene.clone()).unwrap_or_default();
        call.follow(scene_now.call);

        // What the network brought since the last tick.
        let now_ms = started.elapsed().as_millis() as u64;
        for (peer, datagram) in network.iter().flat_map(|network| network.try_iter()) {
            match datagram {
                VoiceDatagram::Frame(packet) => {
                    if packet.call {
                        if scene_now.call == Some(peer) {
                            call.heard = Some(Instant::now());
                        } else {
                            // Anyone else's call packets ring until answered (or declined);
                            // their sound is for the person they called alone.
                            if !call.declined(peer) {
                                ringing = Some((peer, Instant::now()));
                            }
                            continue;
                        }
                    }
                    received += 1;
                    let _ = speakers.receive(peer, packet, now_ms);
                }
                VoiceDatagram::Report(report) => {
                    // Only those we speak to have a say in our bitrate.
                    let listener = scene_now.call == Some(peer)
                        || sender
                            .as_ref()
                            .is_some_and(|sender| sender.earshot().contains(&peer));
                    if listener {
                        loss.note(peer, &report, now_ms);
                    }
                }
            }
        }

        // Our voice out.
        if talker.frame() != scene_now.frame
            && let Some(new) = new_talker(scene_now.frame)
        {
            talker = new;
        }
        talker.set_mode(scene_now.mode);
        talker.set_pressed(scene_now.pressed);
        talker.set_call(scene_now.call.is_some());
        let to = scene_now.call.map_or(VoiceTo::Earshot, VoiceTo::Peer);
        if let Some(source) = ends.source.as_deref_mut() {
            match talker.pump(source) {
                Ok(packets) => {
                    for packet in packets {
                        if let Some(sender) = &sender {
                            sender.send(&packet, to);
                            sent += 1;
                            call.signalled = Instant::now();
                        }
                    }
                }
                Err(error) => tracing::warn!("voice: {error}"),
            }
        }
        if call.should_signal()
            && let (Some(sender), VoiceTo::Peer(_)) = (&sender, to)
        {
            sender.send(&talker.signal(), to);
            call.signalled = Instant::now();
        }

        // Everyone else in.
        let stereo = speakers.mix(&scene_now.listener, |peer| scene_now.positions.get(peer).copied());
        if let Some(sink) = ends.sink.as_deref_mut() {
            sink.write(&stereo);
        }
        if let Some((_, recording)) = ends.recording.as_mut() {
            recording.write(&stereo);
        }

        // Once a second: tell each speaker how their frames arrive, and follow what our
        // listeners told us.
        if Instant::now() >= next_report {
            next_report += Duration::from_millis(REPORT_EVERY_MS);
            if let Some(sender) = &sender {
                for (speaker, reception) in speakers.reception_reports() {
                    sender.report(speaker, &reception);
                }
            }
            if let Err(error) = talker.adapt(loss.worst(started.elapsed().as_millis() as u64)) {
                tracing::warn!("voice: {error}");
            }
        }

        if let Ok(mut report) = report.lock() {
            report.speaking = speakers
                .peers()
                .filter(|peer| speakers.is_speaking(peer))
                .copied()
                .collect();
            report.mic_level_db = talker.level_db();
            report.talking = talker.is_talking();
            // A call rings while its packets keep coming, and stops soon after.
            ringing =
                ringing.filter(|(peer, since)| since.elapsed() < RING_FOR && scene_now.call != Some(*peer));
            report.ringing = ringing.map(|(peer, _)| peer);
            report.call = call.state();
            report.bitrate_kbps = u32::try_from(talker.bitrate() / 1000).unwrap_or_default();
            report.frame_ms = talker.frame().millis();
            report.sent = sent;
            report.received = received;
        }
    }
}

fn new_talker(frame: FrameDuration) -> Option<Talker> {
    match Talker::new(frame) {
        Ok(talker) => Some(talker),
        Err(error) => {
            tracing::error!("voice: cannot start the encoder: {error}");
            None
        }
    }
}

/// Our private call as the voice thread sees it: when it started, when the partner was
/// last heard, whom we declined.
struct Call {
    partner: Option<PeerId>,
    since: Instant,
    /// When the partner's call packets last came, in this call.
    heard: Option<Instant>,
    /// When we last sent them something.
    signalled: Instant,
    /// The call is over on their side (or was never answered).
    ended: bool,
    /// A caller we declined or hung up on, and when their call packets last came: they do
    /// not ring until they have been quiet for [`RING_FOR`].
    declined: Option<(PeerId, Instant)>,
}

impl Default for Call {
    fn default() -> Self {
        Self {
            partner: None,
            since: Instant::now(),
            heard: None,
            signalled: Instant::now(),
            ended: false,
            declined: None,
        }
    }
}

impl Call {
    /// Follows the call the frame loop asks for.
    fn follow(&mut self, partner: Option<PeerId>) {
        if partner == self.partner {
            return;
        }
        if let Some(old) = self.partner {
            // Hanging up: their side's signals must not ring straight away.
            self.decline(old);
        }
        *self = Self {
            partner,
            declined: self.declined,
            ..Self::default()
        };
        if let Some((declined, _)) = self.declined
            && partner == Some(declined)
        {
            self.declined = None;
        }
    }

    fn decline(&mut self, peer: PeerId) {
        self.declined = Some((peer, Instant::now()));
    }

    /// Whether call packets from `peer` are not to ring (and notes that they came).
    fn declined(&mut self, peer: PeerId) -> bool {
        match &mut self.declined {
            Some((declined, last)) if *declined == peer && last.elapsed() < RING_FOR => {
                *last = Instant::now();
                true
            }
            _ => false,
        }
    }

    /// Whether it is time to tell the partner we are on the line.
    fn should_signal(&self) -> bool {
        self.partner.is_some() && !self.ended && self.signalled.elapsed() >= CALL_SIGNAL_EVERY
    }

    fn state(&mut self) -> CallState {
        let Some(partner) = self.partner else {
            return CallState::Idle;
        };
        let answered = self.heard.is_some();
        let on_line = self.heard.is_some_and(|heard| heard.elapsed() < RING_FOR);
        if !self.ended
            && ((answered && !on_line) || (!answered && self.since.elapsed() > CALL_UNANSWERED_AFTER))
        {
            self.ended = true;
        }
        match (self.ended, on_line) {
            (true, _) => CallState::Ended(partner),
            (false, true) => CallState::Connected(partner),
            (false, false) => CallState::Calling(partner),
        }
    }
}

fn save(ends: &Ends) {
    if let Some((path, recording)) = &ends.recording
        && let Err(error) = recording.save(path)
    {
        tracing::warn!("voice: {error}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(n: u8) -> PeerId {
        sanctuary_protocols::Keypair::from_bytes(&[n; 32]).peer_id()
    }

    fn ago(seconds: u64) -> Instant {
        Instant::now()
            .checked_sub(Duration::from_secs(seconds))
            .expect("the clock has run that long")
    }

    #[test]
    fn a_call_rings_out_then_connects_and_ends_when_the_other_side_goes_quiet() {
        let mut call = Call::default();
        assert_eq!(call.state(), CallState::Idle);
        call.follow(Some(peer(1)));
        assert_eq!(call.state(), CallState::Calling(peer(1)));
        assert!(!call.should_signal(), "just called: nothing to say yet");
        call.signalled = ago(1);
        assert!(call.should_signal(), "half a second on: it rings on their side");
        call.heard = Some(Instant::now());
        assert_eq!(call.state(), CallState::Connected(peer(1)));
        // They hung up: no signal from them for longer than a ring.
        call.heard = Some(ago(RING_FOR.as_secs() + 1));
        assert_eq!(call.state(), CallState::Ended(peer(1)));
        assert!(!call.should_signal(), "an ended call sends nothing more");
        // The frame loop clears it; their signals do not ring for a while.
        call.follow(None);
        assert_eq!(call.state(), CallState::Idle);
        assert!(call.declined(peer(1)));
        assert!(!call.declined(peer(2)));
    }

    #[test]
    fn an_unanswered_call_gives_up_after_half_a_minute() {
        let mut call = Call::default();
        call.follow(Some(peer(3)));
        call.since = ago(CALL_UNANSWERED_AFTER.as_secs() - 5);
        assert_eq!(call.state(), CallState::Calling(peer(3)));
        call.since = ago(CALL_UNANSWERED_AFTER.as_secs() + 1);
        assert_eq!(call.state(), CallState::Ended(peer(3)));
    }

    #[test]
    fn a_declined_caller_rings_again_once_they_have_been_quiet_a_while() {
        let mut call = Call::default();
        call.decline(peer(4));
        assert!(call.declined(peer(4)), "their next signal does not ring");
        call.declined = Some((peer(4), ago(RING_FOR.as_secs() + 1)));
        assert!(!call.declined(peer(4)), "a new call from them rings");
    }
}
