//! Putting the client together: the same world simulation runs in a window or
//! headless; a window adds the camera, controls, HUD and panels on top.

use crate::apps::{AppsPanelPlugin, AppsPlugin};
use crate::avatar::AvatarPlugin;
use crate::chat::{ChatPanelPlugin, ChatPlugin};
use crate::desktop::DesktopPlugin;
use crate::hud::HudPlugin;
use crate::identity::ProfilePanelPlugin;
use crate::panels::{DirectoryPanelPlugin, PanelsPlugin};
use crate::people::{NameTagsPlugin, PeoplePanelPlugin, PeoplePlugin};
use crate::quality::{Quality, QualityPlugin};
use crate::run_limits::RunLimitsPlugin;
use crate::spaces::{SpaceCatalog, SpacesPlugin, StartSpace};
use bevy::app::ScheduleRunnerPlugin;
use bevy::prelude::*;
use bevy::window::WindowResolution;
use bevy_mod_openxr::add_xr_plugins;
use bevy_mod_openxr::init::OxrInitPlugin;
use bevy_mod_openxr::resources::OxrSessionConfig;
use bevy_mod_openxr::types::AppInfo;
use bevy_rapier3d::prelude::{NoUserData, RapierPhysicsPlugin};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Everything decided before the app starts.
#[derive(Debug, Clone)]
pub struct LaunchPlan {
    /// Every space, checked.
    pub catalog: SpaceCatalog,
    /// The space to open in.
    pub start_space: String,
    /// The assets folder.
    pub assets: PathBuf,
    /// Where the person's data lives.
    pub data_dir: PathBuf,
    /// Quit after this many frames.
    pub frames: Option<u32>,
    /// Save the last frame here before quitting.
    pub screenshot: Option<PathBuf>,
    /// When the process started.
    pub launched: Instant,
}

/// Where this person's data lives (keys, profile and settings go here).
#[derive(Resource, Debug, Clone)]
pub struct DataDir(pub PathBuf);

/// The simulation ticks this often when headless.
pub const HEADLESS_TICK: Duration = Duration::from_nanos(16_666_667);

/// The world simulation shared by every kind of app: spaces, bodies, physics.
pub fn add_simulation(app: &mut App, plan: &LaunchPlan) {
    crate::sets::configure(app);
    app.insert_resource(plan.catalog.clone())
        .insert_resource(StartSpace(plan.start_space.clone()))
        .insert_resource(DataDir(plan.data_dir.clone()))
        .add_plugins((
            RapierPhysicsPlugin::<NoUserData>::default(),
            SpacesPlugin,
            AvatarPlugin,
            PeoplePlugin,
            ChatPlugin,
            crate::build::BuildPlugin,
            RunLimitsPlugin {
                frames: plan.frames,
                screenshot: plan.screenshot.clone(),
                launched: plan.launched,
            },
        ));
}

/// The world with no window and no GPU, ticking at 60 Hz. Apps run too (without panels).
pub fn headless_app(plan: &LaunchPlan) -> App {
    let mut app = App::new();
    app.add_plugins((
        MinimalPlugins.set(ScheduleRunnerPlugin::run_loop(HEADLESS_TICK)),
        bevy::log::LogPlugin::default(),
        TransformPlugin,
        bevy::input::InputPlugin,
    ));
    add_simulation(&mut app, plan);
    app.add_plugins(AppsPlugin);
    app
}

/// How a window shows the world.
#[derive(Debug, Clone, Default)]
pub struct DisplayOptions {
    /// The headset to step in with, if any (see [`crate::xr::probe`]).
    pub xr: Option<crate::xr::XrRuntime>,
    /// How much rendering work to spend.
    pub quality: Quality,
}

/// The world in a 1280x720 window with controls, HUD and panels, and in a headset when
/// `display` has one.
pub fn windowed_app(plan: &LaunchPlan, display: &DisplayOptions) -> App {
    let mut app = App::new();
    let plugins = DefaultPlugins
        .set(WindowPlugin {
            primary_window: Some(Window {
                title: "Sanctuary".into(),
                resolution: WindowResolution::new(1280, 720),
                ..default()
            }),
            ..default()
        })
        .set(AssetPlugin {
            file_path: plan.assets.display().to_string(),
            ..default()
        });
    match &display.xr {
        Some(runtime) => {
            app.insert_resource(OxrSessionConfig {
                resolutions: Some(vec![crate::xr::scaled_eye_pixels(
                    runtime.eye_pixels,
                    display.quality.render_scale(),
                )]),
                ..default()
            });
            app.add_plugins(add_xr_plugins(plugins).set(OxrInitPlugin {
                app_info: AppInfo {
                    name: "Sanctuary".into(),
                    ..AppInfo::BEVY
                },
                ..default()
            }));
        }
        None => {
            app.add_plugins(plugins);
        }
    }
    app.add_plugins((
        MeshPickingPlugin,
        bevy_egui::EguiPlugin::default(),
        QualityPlugin(display.quality),
    ));
    add_simulation(&mut app, plan);
    app.add_plugins((
        DesktopPlugin,
        HudPlugin,
        PanelsPlugin,
        DirectoryPanelPlugin,
        PeoplePanelPlugin,
        ChatPanelPlugin,
        ProfilePanelPlugin,
        AppsPanelPlugin,
        NameTagsPlugin,
        crate::voice::VoiceRingPlugin,
        crate::build::BuildModePlugin,
    ));
    if display.xr.is_some() {
        app.add_plugins(crate::xr::XrPlugin {
            settings_dir: plan.data_dir.clone(),
        });
    }
    // Apps come last: their panels join the client's, after the client's own.
    app.add_plugins(AppsPlugin);
    app
}
