//! [`VoicePlugin`]: starts the voice thread and keeps it told where everyone stands and
//! whether the talk key is held; [`VoiceRingPlugin`] shows a ring around whoever speaks.

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::mpsc::{Sender, channel};
use std::sync::{Arc, Mutex};

use bevy::prelude::*;
use sanctuary_net::VoiceSender;
use sanctuary_protocols::{FrameDuration, PeerId, VoiceDatagram};
use sanctuary_voice::{Listener, TalkMode};

use super::engine::{self, CallState, EngineInput, InputChoice, OutputChoice, Scene, VoiceReport};
use super::settings::{SettingsFile, VoiceSettings, save_settings};
use crate::avatar::controller::{CENTER_ABOVE_FEET, EYES_ABOVE_CENTER};
use crate::avatar::{Motion, Player};
use crate::people::RemoteAvatar;
use crate::sets::GameSystems;

/// The key held to talk.
pub const TALK_KEY: KeyCode = KeyCode::KeyV;

/// Level over which an open microphone goes out, dBFS.
pub const OPEN_MIC_THRESHOLD_DB: f32 = -45.0;

/// Where voice comes from and goes, and how the microphone opens.
#[derive(Resource, Debug, Clone, PartialEq)]
pub struct VoiceOptions {
    /// The microphone (or a recording).
    pub input: InputChoice,
    /// The speaker (or a file).
    pub output: OutputChoice,
    /// Open microphone (a level gate) instead of push-to-talk.
    pub open_mic: bool,
    /// Length of the frames we send.
    pub frame: FrameDuration,
}

impl Default for VoiceOptions {
    fn default() -> Self {
        Self {
            input: InputChoice::Device(None),
            output: OutputChoice::Device(None),
            open_mic: false,
            frame: FrameDuration::Ms20,
        }
    }
}

/// The frame loop's line to the voice thread. Dropping it stops the thread (and writes an
/// output file, if voice goes to one).
#[derive(Resource)]
pub struct VoiceLink {
    tx: Sender<EngineInput>,
    scene: Arc<Mutex<Scene>>,
    report: Arc<Mutex<VoiceReport>>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl VoiceLink {
    /// Hands the voice thread the world's voice, straight from the network.
    pub fn network(&self, inbox: std::sync::mpsc::Receiver<(PeerId, VoiceDatagram)>) {
        let _ = self.tx.send(EngineInput::Network(inbox));
    }

    /// Stops `peer`'s present call from ringing.
    pub fn decline(&self, peer: PeerId) {
        let _ = self.tx.send(EngineInput::Decline(peer));
    }

    /// Sends voice in frames of `frame`.
    pub fn set_frame(&self, frame: FrameDuration) {
        if let Ok(mut scene) = self.scene.lock() {
            scene.frame = frame;
        }
    }

    /// Hands the voice thread the world's voice sender.
    pub fn sender(&self, sender: VoiceSender) {
        let _ = self.tx.send(EngineInput::Sender(sender));
    }

    /// `peer` left the world.
    pub fn left(&self, peer: PeerId) {
        let _ = self.tx.send(EngineInput::Left(peer));
    }

    /// Mutes or unmutes `peer`.
    pub fn mute(&self, peer: PeerId, muted: bool) {
        let _ = self.tx.send(EngineInput::Mute(peer, muted));
    }

    /// Sets how loud `peer` is (1 as sent).
    pub fn set_volume(&self, peer: PeerId, volume: f32) {
        let _ = self.tx.send(EngineInput::Volume(peer, volume));
    }

    /// Switches the microphone and speaker.
    pub fn use_devices(&self, input: InputChoice, output: OutputChoice) {
        let _ = self.tx.send(EngineInput::Devices(input, output));
    }

    /// Starts a private call with `peer`, or ends the call (`None`).
    pub fn call(&self, peer: Option<PeerId>) {
        if let Ok(mut scene) = self.scene.lock() {
            scene.call = peer;
        }
    }

    /// Push-to-talk or an open microphone.
    pub fn set_mode(&self, mode: TalkMode) {
        if let Ok(mut scene) = self.scene.lock() {
            scene.mode = mode;
        }
    }

    /// What the voice thread last reported.
    pub fn report(&self) -> VoiceReport {
        self.report
            .lock()
            .map(|report| report.clone())
            .unwrap_or_default()
    }

    /// What the voice thread last reported, when it differs from `known` (copied only
    /// then: this is asked every frame).
    fn report_if_changed(&self, known: &VoiceReport) -> Option<VoiceReport> {
        let report = self.report.lock().ok()?;
        (*report != *known).then(|| report.clone())
    }
}

impl Drop for VoiceLink {
    fn drop(&mut self) {
        let _ = self.tx.send(EngineInput::Stop);
        if let Some(thread) = self.thread.lock().ok().and_then(|mut thread| thread.take()) {
            let _ = thread.join();
        }
    }
}

/// Voice as the panels and the ring see it, updated every frame.
#[derive(Resource, Debug, Clone, Default)]
pub struct VoiceControl {
    /// The latest report from the voice thread.
    pub report: VoiceReport,
    /// People muted by this person.
    pub muted: BTreeSet<PeerId>,
    /// The person we are in a private call with.
    pub call: Option<PeerId>,
    /// People's volumes, when not 1.
    pub volumes: HashMap<PeerId, f32>,
    /// Callers declined since the last frame (passed on, then emptied).
    pub declined: Vec<PeerId>,
}

/// Voice for a client in a world: adds a [`VoiceLink`] and [`VoiceControl`].
pub struct VoicePlugin {
    /// Devices or files, and the microphone mode, as asked on the command line.
    pub options: VoiceOptions,
    /// The data folder, where the voice settings are kept between runs (`None`: nothing
    /// is kept).
    pub settings: Option<PathBuf>,
}

impl Plugin for VoicePlugin {
    fn build(&self, app: &mut App) {
        let mut options = self.options.clone();
        let mut control = VoiceControl::default();
        if let Some(folder) = &self.settings {
            let kept = VoiceSettings::load(folder);
            kept.apply(&mut options, &mut control);
            app.insert_resource(SettingsFile {
                folder: folder.clone(),
                saved: kept,
                changed_at: None,
            })
            .add_systems(Last, save_settings);
        }
        let (tx, inbox) = channel();
        let scene = Arc::new(Mutex::new(Scene {
            mode: if options.open_mic {
                TalkMode::OpenMic {
                    threshold_db: OPEN_MIC_THRESHOLD_DB,
                }
            } else {
                TalkMode::PushToTalk
            },
            frame: options.frame,
            ..Scene::default()
        }));
        let report = Arc::new(Mutex::new(VoiceReport::default()));
        let thread = match engine::spawn(
            options.input.clone(),
            options.output.clone(),
            inbox,
            scene.clone(),
            report.clone(),
        ) {
            Ok(thread) => Some(thread),
            Err(error) => {
                warn!("voice: cannot start its thread: {error}; going on without voice");
                None
            }
        };
        app.insert_resource(options)
            .insert_resource(VoiceLink {
                tx,
                scene,
                report,
                thread: Mutex::new(thread),
            })
            .insert_resource(control)
            .init_resource::<SpeakingRings>()
            .add_systems(
                Update,
                (
                    talk_key.in_set(GameSystems::Input),
                    (follow_scene, follow_report, place_rings)
                        .chain()
                        .after(GameSystems::Movement)
                        .before(GameSystems::Presentation),
                    apply_control.after(GameSystems::Presentation),
                ),
            );
    }
}

fn talk_key(keys: Option<Res<ButtonInput<KeyCode>>>, link: Res<VoiceLink>) {
    let pressed = keys.is_some_and(|keys| keys.pressed(TALK_KEY));
    if let Ok(mut scene) = link.scene.lock() {
        scene.pressed = pressed;
    }
}

/// Our ears are the player's head; the others' voices come from their avatars' heads.
fn follow_scene(
    link: Res<VoiceLink>,
    player: Query<(&Transform, &Motion), With<Player>>,
    others: Query<(&RemoteAvatar, &GlobalTransform)>,
) {
    let Ok(mut scene) = link.scene.lock() else {
        return;
    };
    if let Ok((transform, motion)) = player.single() {
        scene.listener = Listener {
            position: (transform.translation + Vec3::Y * EYES_ABOVE_CENTER).to_array(),
            yaw: motion.yaw,
        };
    }
    scene.positions.clear();
    // An avatar's transform, like ours, is at the middle of its body.
    for (avatar, transform) in &others {
        let head = transform.translation() + Vec3::Y * EYES_ABOVE_CENTER;
        scene.positions.insert(avatar.peer, head.to_array());
    }
}

fn follow_report(link: Res<VoiceLink>, mut control: ResMut<VoiceControl>) {
    // Only a real change counts as one, so that `apply_control` works only when something
    // changed.
    if let Some(report) = link.report_if_changed(&control.report) {
        // A call the other side hung up (or never answered) is over here too.
        if let CallState::Ended(partner) = report.call
            && control.call == Some(partner)
        {
            control.call = None;
        }
        control.report = report;
    }
}

/// Passes changes of mute, volume and call made in panels on to the voice thread.
fn apply_control(link: Res<VoiceLink>, mut control: ResMut<VoiceControl>, mut applied: Local<VoiceControl>) {
    if !control.is_changed() {
        return;
    }
    for peer in control.bypass_change_detection().declined.drain(..) {
        link.decline(peer);
    }
    for peer in control.muted.difference(&applied.muted) {
        link.mute(*peer, true);
    }
    for peer in applied.muted.difference(&control.muted) {
        link.mute(*peer, false);
    }
    for (peer, volume) in &control.volumes {
        if applied.volumes.get(peer) != Some(volume) {
            link.set_volume(*peer, *volume);
        }
    }
    if control.call != applied.call {
        link.call(control.call);
    }
    applied.muted = control.muted.clone();
    applied.volumes = control.volumes.clone();
    applied.call = control.call;
}

/// Where the speaking rings go this frame: around the head of each person heard speaking,
/// and at our own feet while our voice goes out.
#[derive(Resource, Debug, Clone, Default, PartialEq)]
pub struct SpeakingRings(pub Vec<Ring>);

/// How far above the top of a speaker's head their ring turns, metres.
const RING_ABOVE_HEAD: f32 = 0.15;

/// One speaking ring, lying flat.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ring {
    /// Its centre.
    pub center: Vec3,
    /// Its radius in metres.
    pub radius: f32,
    /// Whose ring it is (`None`: ours).
    pub peer: Option<PeerId>,
}

fn place_rings(
    control: Res<VoiceControl>,
    others: Query<(&RemoteAvatar, &GlobalTransform)>,
    player: Query<&Transform, With<Player>>,
    mut rings: ResMut<SpeakingRings>,
) {
    let mut placed = Vec::new();
    for (avatar, transform) in &others {
        if control.report.speaking.contains(&avatar.peer) {
            placed.push(Ring {
                // A halo just over the top of the head (the body's middle is as far
                // below the top as the feet are).
                center: transform.translation() + Vec3::Y * (CENTER_ABOVE_FEET + RING_ABOVE_HEAD),
                radius: 0.45,
                peer: Some(avatar.peer),
            });
        }
    }
    if control.report.talking
        && let Ok(transform) = player.single()
    {
        placed.push(Ring {
            center: transform.translation - Vec3::Y * (CENTER_ABOVE_FEET - 0.05),
            radius: 0.6,
            peer: None,
        });
    }
    if rings.0 != placed {
        rings.0 = placed;
    }
}

/// Shows the [`SpeakingRings`] in a window: a glowing ring that turns slowly, one mesh
/// and one material shared by all.
pub struct VoiceRingPlugin;

impl Plugin for VoiceRingPlugin {
    fn build(&self, app: &mut App) {
        app.add_systems(Startup, load_ring_look)
            .add_systems(Update, show_rings.in_set(GameSystems::Presentation));
    }
}

/// Colour of the speaking ring.
const RING_COLOR: Color = Color::srgb(0.35, 0.95, 0.55);

/// Radius of the ring mesh; each ring is scaled to its own radius.
const RING_MESH_RADIUS: f32 = 0.5;

/// How fast a ring turns, radians a second.
const RING_TURN: f32 = 1.5;

/// The mesh and material every ring shares.
#[derive(Resource)]
struct RingLook {
    mesh: Handle<Mesh>,
    material: Handle<StandardMaterial>,
}

/// One ring shown, for whom (`None`: ours).
#[derive(Component)]
struct RingShown(Option<PeerId>);

fn load_ring_look(
    mut commands: Commands,
    meshes: Option<ResMut<Assets<Mesh>>>,
    materials: Option<ResMut<Assets<StandardMaterial>>>,
) {
    let (Some(mut meshes), Some(mut materials)) = (meshes, materials) else {
        return;
    };
    commands.insert_resource(RingLook {
        mesh: meshes.add(Torus::new(RING_MESH_RADIUS - 0.03, RING_MESH_RADIUS + 0.03)),
        material: materials.add(StandardMaterial {
            base_color: RING_COLOR,
            unlit: true,
            ..default()
        }),
    });
}

fn show_rings(
    mut commands: Commands,
    rings: Option<Res<SpeakingRings>>,
    look: Option<Res<RingLook>>,
    time: Res<Time>,
    mut shown: Query<(Entity, &RingShown, &mut Transform)>,
) {
    let (Some(rings), Some(look)) = (rings, look) else {
        return;
    };
    let turn = Quat::from_rotation_y(time.elapsed_secs() * RING_TURN);
    let place = |ring: &Ring| {
        Transform::from_translation(ring.center)
            .with_rotation(turn)
            .with_scale(Vec3::splat(ring.radius / RING_MESH_RADIUS))
    };
    let mut placed = Vec::new();
    for (entity, RingShown(peer), mut transform) in &mut shown {
        match rings.0.iter().find(|ring| ring.peer == *peer) {
            Some(ring) => {
                *transform = place(ring);
                placed.push(*peer);
            }
            None => commands.entity(entity).despawn(),
        }
    }
    for ring in rings.0.iter().filter(|ring| !placed.contains(&ring.peer)) {
        commands.spawn((
            RingShown(ring.peer),
            Mesh3d(look.mesh.clone()),
            MeshMaterial3d(look.material.clone()),
            place(ring),
        ));
    }
}
