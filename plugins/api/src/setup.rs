//! The entry point an app implements, and how the client installs it.

use std::panic::{AssertUnwindSafe, catch_unwind};

use bevy::ecs::system::SystemId;
use bevy::prelude::*;
use bevy_egui::egui;
use sanctuary_protocols::AppName;

use crate::manifest::Manifest;
use crate::panels::{AppPanel, AppPanels, PanelSpec};

/// An app or mod: a manifest and what it adds to the client.
///
/// ```ignore
/// pub struct Clock;
///
/// impl SanctuaryApp for Clock {
///     const MANIFEST: Manifest = Manifest {
///         name: "clock",
///         title: "Clock",
///         version: env!("CARGO_PKG_VERSION"),
///         author: "Ada",
///         description: "Shows the time.",
///         permissions: &[Permission::Panels],
///     };
///
///     fn build(&self, setup: &mut AppSetup) {
///         setup.add_panel(PanelSpec::standard("clock", "Clock"), draw_clock);
///     }
/// }
/// ```
pub trait SanctuaryApp: Send + Sync + 'static {
    /// Who the app is and what it asks for.
    const MANIFEST: Manifest;

    /// Adds the app's systems, panels, messages and resources.
    fn build(&self, setup: &mut AppSetup);
}

/// Sets in which the apps' systems run each frame, in this order.
#[derive(SystemSet, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AppSystems {
    /// The host brings the world view, messages and grants up to date.
    Prepare,
    /// The apps' own systems.
    Run,
}

/// Whether an installed app runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppStatus {
    /// It runs.
    Running,
    /// It failed (panicked) and was stopped until the client restarts.
    Stopped {
        /// What went wrong.
        reason: String,
    },
}

/// One installed app.
#[derive(Debug, Clone)]
pub struct InstalledApp {
    /// What it says about itself.
    pub manifest: Manifest,
    /// Whether it runs.
    pub status: AppStatus,
}

/// Every installed app, in the order they were installed.
#[derive(Resource, Debug, Default, Clone)]
pub struct InstalledApps {
    apps: Vec<InstalledApp>,
}

impl InstalledApps {
    /// The installed apps.
    pub fn iter(&self) -> impl Iterator<Item = &InstalledApp> {
        self.apps.iter()
    }

    /// The app called `name`, if installed.
    pub fn get(&self, name: &str) -> Option<&InstalledApp> {
        self.apps.iter().find(|app| app.manifest.name == name)
    }

    /// Whether `name` is installed and running.
    pub fn is_running(&self, name: &str) -> bool {
        self.get(name).is_some_and(|app| app.status == AppStatus::Running)
    }

    /// Stops `name`, remembering why.
    pub fn stop(&mut self, name: &str, reason: String) {
        if let Some(app) = self.apps.iter_mut().find(|app| app.manifest.name == name) {
            app.status = AppStatus::Stopped { reason };
        }
    }
}

/// What an app's `build` adds itself through. Everything added runs guarded: a panic
/// stops this app, not the client.
pub struct AppSetup<'a> {
    app: &'a mut App,
    name: AppName,
}

impl AppSetup<'_> {
    /// The app's name.
    pub fn name(&self) -> &AppName {
        &self.name
    }

    /// Adds a panel. `draw` is a system whose first parameter is `InMut<egui::Ui>`; the
    /// client calls it only while the person allows [`Permission::Panels`](crate::Permission::Panels).
    pub fn add_panel<M>(
        &mut self,
        spec: PanelSpec,
        draw: impl IntoSystem<InMut<'static, egui::Ui>, (), M> + 'static,
    ) -> &mut Self {
        let draw = self.app.register_system(draw);
        self.app.init_resource::<AppPanels>();
        self.app
            .world_mut()
            .resource_mut::<AppPanels>()
            .panels
            .push(AppPanel {
                app: self.name.to_string(),
                spec,
                draw,
            });
        self
    }

    /// Adds a system that runs once, at startup.
    pub fn add_startup_system<M>(&mut self, system: impl IntoSystem<(), (), M> + 'static) -> &mut Self {
        let id = self.app.register_system(system);
        let runner = guarded(self.name.to_string(), id);
        self.app.add_systems(Startup, runner);
        self
    }

    /// Adds a system that runs every frame, in [`AppSystems::Run`].
    pub fn add_system<M>(&mut self, system: impl IntoSystem<(), (), M> + 'static) -> &mut Self {
        let id = self.app.register_system(system);
        let runner = guarded(self.name.to_string(), id);
        self.app.add_systems(Update, runner.in_set(AppSystems::Run));
        self
    }

    /// Adds a message type the app's systems send each other.
    pub fn add_message<T: Message>(&mut self) -> &mut Self {
        self.app.add_message::<T>();
        self
    }

    /// Adds a resource of the app's, made from the world.
    pub fn init_resource<R: Resource + FromWorld>(&mut self) -> &mut Self {
        self.app.init_resource::<R>();
        self
    }

    /// Adds a resource of the app's.
    pub fn insert_resource<R: Resource>(&mut self, resource: R) -> &mut Self {
        self.app.insert_resource(resource);
        self
    }
}

/// Installs apps.
pub trait SanctuaryAppExt {
    /// Installs `app`: records its manifest and runs its `build`. An app whose name is not
    /// a valid [`AppName`], or that is already installed, is refused with an error in the
    /// log. Add [`AppsHostPlugin`](crate::host::AppsHostPlugin) first.
    fn add_sanctuary_app<A: SanctuaryApp>(&mut self, app: A) -> &mut Self;
}

impl SanctuaryAppExt for App {
    fn add_sanctuary_app<A: SanctuaryApp>(&mut self, sanctuary_app: A) -> &mut Self {
        let manifest = A::MANIFEST;
        let name = match AppName::new(manifest.name) {
            Ok(name) => name,
            Err(error) => {
                error!(
                    "app {:?} not installed: its name is not allowed ({error})",
                    manifest.name
                );
                return self;
            }
        };
        self.init_resource::<InstalledApps>();
        let mut installed = self.world_mut().resource_mut::<InstalledApps>();
        if installed.get(manifest.name).is_some() {
            error!("app {name} not installed twice");
            return self;
        }
        installed.apps.push(InstalledApp {
            manifest,
            status: AppStatus::Running,
        });
        let mut setup = AppSetup {
            app: self,
            name: name.clone(),
        };
        if let Err(panic) = catch_unwind(AssertUnwindSafe(|| sanctuary_app.build(&mut setup))) {
            stop(self.world_mut(), name.as_str(), panic_message(panic.as_ref()));
        }
        self
    }
}

/// A system that runs `id` for app `name` only while the app runs, and stops the app if
/// it panics.
fn guarded(name: String, id: SystemId) -> impl FnMut(&mut World) + Send + Sync + 'static {
    move |world: &mut World| {
        let result = run_guarded(world, &name, |world| world.run_system(id));
        if let Some(Err(error)) = result {
            debug!("app {name}: a system did not run: {error}");
        }
    }
}

/// Runs `run` for app `name` if it is running; a panic stops the app and returns `None`.
pub(crate) fn run_guarded<R>(world: &mut World, name: &str, run: impl FnOnce(&mut World) -> R) -> Option<R> {
    let running = world
        .get_resource::<InstalledApps>()
        .is_some_and(|apps| apps.is_running(name));
    if !running {
        return None;
    }
    match catch_unwind(AssertUnwindSafe(|| run(world))) {
        Ok(result) => Some(result),
        Err(panic) => {
            stop(world, name, panic_message(panic.as_ref()));
            None
        }
    }
}

fn stop(world: &mut World, name: &str, reason: String) {
    error!("app {name} failed and was stopped: {reason}");
    if let Some(mut apps) = world.get_resource_mut::<InstalledApps>() {
        apps.stop(name, reason);
    }
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|text| (*text).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "it panicked".into())
}
