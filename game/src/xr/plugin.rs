//! [`XrPlugin`]: the systems of a headset session, and the person's comfort settings.

use super::actions::{self, HandAim, XrControls};
use super::locomotion::{self, StickState};
use super::rig::{self, XrRig};
use super::wrist::{self, WristMenu};
use crate::avatar::controller::read_keyboard;
use crate::build::BuildingHand;
use crate::desktop::MainCamera;
use crate::panels::PanelAppExt;
use crate::panels::laser::Laser;
use crate::sets::GameSystems;
use crate::spaces::SpaceCamera;
use bevy::prelude::*;
use bevy_mod_openxr::action_binding::OxrSendActionBindings;
use bevy_mod_openxr::action_set_syncing::OxrActionSetSyncSet;
use bevy_mod_openxr::openxr_session_running;
use bevy_mod_openxr::poll_events::{OxrEventHandlerExt, OxrEventIn};
use bevy_mod_openxr::resources::OxrFrameState;
use bevy_mod_xr::camera::XrCamera;
use bevy_mod_xr::session::{
    XrPreDestroySession, XrSessionCreated, XrState, XrStateChanged, session_available,
};
use bevy_rapier3d::prelude::PhysicsSet;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Adds a headset session's systems. Added only when the runtime has a headset.
pub struct XrPlugin {
    /// Where the comfort settings are kept (the data folder).
    pub settings_dir: PathBuf,
}

impl Plugin for XrPlugin {
    fn build(&self, app: &mut App) {
        let session = openxr_session_running;
        app.add_plugins(XrBodyPlugin {
            settings_dir: self.settings_dir.clone(),
        })
        .init_resource::<XrStats>()
        .init_resource::<WristMenu>()
        .add_panel(wrist::menu_spec(), wrist::menu_ui)
        .add_oxr_event_handler(report_focus)
        .add_observer(dress_eye_camera)
        .add_observer(give_aim_a_laser)
        .add_observer(locomotion::add_vignette)
        .add_systems(Startup, actions::create_actions.run_if(session_available))
        .add_systems(
            OxrSendActionBindings,
            actions::suggest_bindings.run_if(resource_exists::<actions::XrActions>),
        )
        .add_systems(
            XrSessionCreated,
            (
                actions::attach_actions.run_if(resource_exists::<actions::XrActions>),
                rig::follow_head,
                apply_lift,
            ),
        )
        .add_systems(
            PreUpdate,
            (
                (
                    actions::sync_actions.before(OxrActionSetSyncSet),
                    actions::read_controls.after(OxrActionSetSyncSet),
                )
                    .run_if(session.and_then(resource_exists::<actions::XrActions>)),
                let_go_of_controls.run_if(not(session)),
            ),
        )
        .add_systems(XrPreDestroySession, forget_session)
        .add_systems(
            Update,
            (
                press_lasers.in_set(GameSystems::Input).run_if(session),
                (
                    wrist::forget_summoned_on_travel,
                    wrist::toggle_menu,
                    wrist::summon_panel,
                    locomotion::show_vignette,
                    locomotion::draw_arc,
                )
                    .in_set(GameSystems::Presentation)
                    .run_if(session),
                (report_state, switch_desktop_camera, count_frames),
            ),
        )
        .add_systems(Last, report_frames_on_exit.in_set(crate::run_limits::ExitReports));
    }
}

/// The body in a headset, without the headset: the rig that keeps the head on the body,
/// and moving with the sticks. Its systems do nothing until an [`rig::XrHead`] exists and
/// [`XrControls`] say something, so tests can drive them without a runtime.
pub struct XrBodyPlugin {
    /// Where the comfort settings are kept (the data folder).
    pub settings_dir: PathBuf,
}

impl Plugin for XrBodyPlugin {
    fn build(&self, app: &mut App) {
        app.insert_resource(XrSettings::load(&self.settings_dir))
            .init_resource::<XrControls>()
            .init_resource::<XrRig>()
            .init_resource::<StickState>()
            .init_resource::<BuildingHand>()
            .add_systems(PreUpdate, build_with_hands)
            .add_systems(
                Update,
                (
                    (
                        rig::step_with_head,
                        locomotion::move_with_sticks,
                        locomotion::teleport,
                    )
                        .chain()
                        .after(read_keyboard)
                        .in_set(GameSystems::Input),
                    rig::track_body.after(GameSystems::Movement),
                ),
            )
            .add_systems(
                PostUpdate,
                rig::place_rig
                    .after(PhysicsSet::Writeback)
                    .before(TransformSystems::Propagate),
            );
    }
}

/// How turning feels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum TurnStyle {
    /// A sudden turn of 30° per push of the stick (kindest to most stomachs).
    #[default]
    Snap,
    /// A steady turn while the stick is held.
    Smooth,
}

/// The person's comfort settings in a headset, kept in `xr.ron` in the data folder.
#[derive(Resource, Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct XrSettings {
    /// Snap or smooth turning.
    pub turn: TurnStyle,
    /// Narrow the view while moving with the stick.
    pub vignette: bool,
    /// Played seated: the play area is lifted to a standing avatar's eyes.
    pub seated: bool,
    /// Metres the play area is lifted (set by "Set my height").
    pub lift: f32,
}

impl Default for XrSettings {
    fn default() -> Self {
        Self {
            turn: TurnStyle::Snap,
            vignette: true,
            seated: false,
            lift: 0.0,
        }
    }
}

const SETTINGS_FILE: &str = "xr.ron";

impl XrSettings {
    /// Reads the settings from `dir`; missing or unreadable settings are the defaults
    /// (an unreadable file is said, and left as it is until the settings change).
    pub fn load(dir: &Path) -> Self {
        let path = dir.join(SETTINGS_FILE);
        let Ok(text) = std::fs::read_to_string(&path) else {
            return Self::default();
        };
        match ron::from_str::<XrSettings>(&text) {
            Ok(mut settings) => {
                settings.lift = if settings.lift.is_finite() {
                    settings.lift.clamp(-0.5, 1.5)
                } else {
                    0.0
                };
                settings
            }
            Err(error) => {
                warn!(
                    "xr: {} is not readable ({error}); using the default settings",
                    path.display()
                );
                Self::default()
            }
        }
    }

    /// Writes the settings into `dir` (whole, replacing the old file at once).
    pub fn save(&self, dir: &Path) -> std::io::Result<()> {
        let text = ron::ser::to_string_pretty(self, ron::ser::PrettyConfig::default())
            .map_err(std::io::Error::other)?;
        let path = dir.join(SETTINGS_FILE);
        let partial = dir.join(format!("{SETTINGS_FILE}.partial"));
        std::fs::write(&partial, text)?;
        std::fs::rename(partial, path)
    }
}

/// Frames shown in the headset, for the report at exit.
#[derive(Resource, Debug, Default, Clone)]
pub struct XrStats {
    /// Frames rendered for the headset.
    pub frames: u32,
    first: Option<Instant>,
    last: Option<Instant>,
}

impl XrStats {
    /// The mean time between frames shown in the headset, in milliseconds.
    pub fn mean_frame_ms(&self) -> Option<f64> {
        let (first, last) = (self.first?, self.last?);
        (self.frames > 1)
            .then(|| last.duration_since(first).as_secs_f64() * 1000.0 / f64::from(self.frames - 1))
    }
}

/// The right hand aims build mode, and the grips build (see [`BuildingHand`]).
pub fn build_with_hands(
    controls: Res<XrControls>,
    aims: Query<(&GlobalTransform, &HandAim)>,
    mut hand: ResMut<BuildingHand>,
) {
    let aim = aims
        .iter()
        .find(|(_, aim)| aim.0 == actions::Hand::Right)
        .map(|(aim, _)| (aim.translation(), aim.forward().as_vec3()));
    hand.set_if_neq(BuildingHand {
        aim,
        grips: controls.squeezed,
    });
}

/// While no session runs, the controllers say nothing: a stick held when the session
/// stopped does not keep walking, and no laser stays pressed.
fn let_go_of_controls(mut controls: ResMut<XrControls>, mut lasers: Query<&mut Laser>) {
    if *controls != XrControls::default() {
        *controls = XrControls::default();
    }
    for mut laser in &mut lasers {
        laser.set_if_neq(Laser::default());
    }
}

/// Before a session ends, the head, hands and wrist menu that followed it go (a new
/// session makes its own), and the rig is placed again when the next one starts.
fn forget_session(
    tracked: Query<Entity, Or<(With<rig::XrHead>, With<actions::HandGrip>, With<HandAim>)>>,
    mut rig: ResMut<XrRig>,
    mut menu: ResMut<WristMenu>,
    mut commands: Commands,
) {
    for entity in &tracked {
        commands.entity(entity).try_despawn();
    }
    rig.forget_head();
    menu.close();
    commands.remove_resource::<crate::avatar::TrackedBody>();
}

fn apply_lift(settings: Res<XrSettings>, mut rig: ResMut<XrRig>) {
    rig.lift = settings.lift;
}

/// The eyes' cameras see as the desktop camera does: the space's fog, no multisampling.
fn dress_eye_camera(
    camera: On<Add, XrCamera>,
    desktop: Query<&DistanceFog, With<MainCamera>>,
    mut commands: Commands,
) {
    let mut eye = commands.entity(camera.entity);
    eye.insert((
        SpaceCamera,
        Msaa::Off,
        bevy::core_pipeline::tonemapping::Tonemapping::AcesFitted,
        bevy::core_pipeline::tonemapping::DebandDither::Disabled,
    ));
    if let Ok(fog) = desktop.single() {
        eye.insert(fog.clone());
    }
}

fn give_aim_a_laser(aim: On<Add, HandAim>, mut commands: Commands) {
    commands.entity(aim.entity).insert(Laser::default());
}

/// Each hand's trigger clicks with that hand's laser.
fn press_lasers(controls: Res<XrControls>, mut lasers: Query<(&HandAim, &mut Laser)>) {
    for (aim, mut laser) in &mut lasers {
        let held = controls.select[usize::from(aim.0 == actions::Hand::Right)];
        laser.set_if_neq(Laser { pressed: held });
    }
}

/// Says on the console where the session is, for people and for tests.
fn report_state(mut changes: MessageReader<XrStateChanged>, mut last: Local<Option<XrState>>) {
    for change in changes.read() {
        if last.replace(change.0) == Some(change.0) {
            continue;
        }
        println!(
            "xr: the session is {}",
            match change.0 {
                XrState::Unavailable => "unavailable".to_string(),
                XrState::Available => "available".into(),
                XrState::Idle => "idle".into(),
                XrState::Ready => "ready".into(),
                XrState::Running => "running".into(),
                XrState::Stopping => "stopping".into(),
                XrState::Exiting { .. } => "exiting".into(),
            }
        );
    }
}

fn report_focus(event: OxrEventIn) {
    if let openxr::Event::SessionStateChanged(change) = *event
        && change.state() == openxr::SessionState::FOCUSED
    {
        println!("xr: the session is focused (the headset shows Sanctuary and its controllers are ours)");
    }
}

/// The desktop window rests while the headset shows the world.
fn switch_desktop_camera(state: Option<Res<XrState>>, mut desktop: Query<&mut Camera, With<MainCamera>>) {
    let Some(state) = state.filter(|state| state.is_changed()) else {
        return;
    };
    for mut camera in &mut desktop {
        camera.is_active = *state != XrState::Running;
    }
}

fn count_frames(frame: Option<Res<OxrFrameState>>, state: Option<Res<XrState>>, mut stats: ResMut<XrStats>) {
    if state.as_deref() == Some(&XrState::Running) && frame.is_some_and(|frame| frame.should_render) {
        let now = Instant::now();
        stats.frames += 1;
        stats.first.get_or_insert(now);
        stats.last = Some(now);
    }
}

fn report_frames_on_exit(mut exits: MessageReader<AppExit>, stats: Res<XrStats>) {
    if exits.read().next().is_none() {
        return;
    }
    match stats.mean_frame_ms() {
        Some(ms) => println!(
            "xr: {} frames shown in the headset, {ms:.1} ms each",
            stats.frames
        ),
        None => println!("xr: {} frames shown in the headset", stats.frames),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_survive_a_restart_and_a_broken_file_is_the_defaults() {
        let dir = std::env::temp_dir().join(format!("sanctuary-xr-settings-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        assert_eq!(XrSettings::load(&dir), XrSettings::default(), "no file yet");
        let chosen = XrSettings {
            turn: TurnStyle::Smooth,
            vignette: false,
            seated: true,
            lift: 0.4,
        };
        chosen.save(&dir).unwrap();
        assert_eq!(XrSettings::load(&dir), chosen);
        std::fs::write(dir.join(SETTINGS_FILE), "(turn: Sideways").unwrap();
        assert_eq!(XrSettings::load(&dir), XrSettings::default());
        std::fs::write(dir.join(SETTINGS_FILE), "(lift: 40.0)").unwrap();
        assert_eq!(
            XrSettings::load(&dir).lift,
            1.5,
            "a wild lift is kept within reason"
        );
        std::fs::remove_dir_all(&dir).ok();
    }
}
