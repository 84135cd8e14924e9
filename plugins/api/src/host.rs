//! The client's side of the API: what the host does so that apps can run. Apps do not use
//! this module.
//!
//! The host adds [`AppsHostPlugin`], installs apps, and then each frame: keeps the
//! [`WorldView`] up to date, sends what [`AppMail::take_outgoing`] returns as signed app
//! messages, hands what arrives to [`AppMail::deliver`], and draws the apps' panels with
//! [`draw_panel`].

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::time::Instant;

use bevy::prelude::*;
use bevy_egui::egui;
use sanctuary_protocols::{AppMessage, AppName, AppPayload, PeerId, RateLimiter};

pub use crate::blobs::{BlobLibrary, BlobMail};
use crate::grants::{CapabilityError, Grants};
pub use crate::home::{HomeLink, HomeMail};
use crate::manifest::Permission;
use crate::messages::{IncomingAppMessage, SEND_BURST, SEND_RATE_PER_SEC};
pub use crate::panels::{AppPanel, AppPanels, PanelDraw};
pub use crate::people::{PeopleButtons, PersonButton};
use crate::setup::{AppSystems, InstalledApps, run_guarded};
pub use crate::wallet::WalletMail;
use crate::world::{AppEntity, EnteredSpace, WorldView};

/// Messages waiting for one app, at most; older ones are dropped first.
pub const INBOX_MAX: usize = 256;
/// Messages waiting to be sent, at most, for all apps together.
pub const OUTBOX_MAX: usize = 256;

/// Where the apps' folders are (`apps/` in the data folder), if there is one.
#[derive(Resource, Debug, Default, Clone)]
pub struct AppsFolder(pub Option<PathBuf>);

/// App messages on their way out and in.
#[derive(Resource, Debug)]
pub struct AppMail {
    outgoing: VecDeque<AppMessage>,
    outgoing_direct: VecDeque<(PeerId, AppMessage)>,
    incoming: HashMap<String, VecDeque<IncomingAppMessage>>,
    budgets: HashMap<String, RateLimiter>,
    started: Instant,
    /// Incoming messages dropped: for an app that is not installed, not allowed, stopped,
    /// or too slow to read them.
    pub dropped: u64,
}

impl Default for AppMail {
    fn default() -> Self {
        Self {
            outgoing: VecDeque::new(),
            outgoing_direct: VecDeque::new(),
            incoming: HashMap::new(),
            budgets: HashMap::new(),
            started: Instant::now(),
            dropped: 0,
        }
    }
}

/// What became of a message handed to [`AppMail::deliver`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// Waiting for the app to read it.
    Queued,
    /// No app of that name is installed here.
    NotInstalled,
    /// The app is stopped or the person does not let it receive messages.
    NotAllowed,
}

impl AppMail {
    /// Queues `payload` from `app`, to everyone or to one peer, within the app's budget.
    pub(crate) fn queue(
        &mut self,
        app: &str,
        to: Option<PeerId>,
        payload: AppPayload,
    ) -> Result<(), CapabilityError> {
        let name = AppName::new(app).map_err(|_| CapabilityError::NotInstalled { app: app.into() })?;
        let now_ms = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let budget = self
            .budgets
            .entry(app.into())
            .or_insert_with(|| RateLimiter::new(SEND_RATE_PER_SEC, SEND_BURST));
        let queued = self.outgoing.len() + self.outgoing_direct.len();
        if queued >= OUTBOX_MAX || !budget.try_acquire(now_ms) {
            return Err(CapabilityError::TooFast { app: app.into() });
        }
        let message = AppMessage { app: name, payload };
        match to {
            None => self.outgoing.push_back(message),
            Some(peer) => self.outgoing_direct.push_back((peer, message)),
        }
        Ok(())
    }

    /// Takes the messages apps queued for everyone, oldest first, for the host to sign and
    /// send.
    pub fn take_outgoing(&mut self) -> Vec<AppMessage> {
        self.outgoing.drain(..).collect()
    }

    /// Takes the messages apps queued for one peer each, oldest first, for the host to
    /// sign for that peer and send over a direct connection.
    pub fn take_outgoing_direct(&mut self) -> Vec<(PeerId, AppMessage)> {
        self.outgoing_direct.drain(..).collect()
    }

    /// Hands a message that arrived from `from` to its app, if the app is installed,
    /// running and allowed to receive.
    pub fn deliver(
        &mut self,
        from: PeerId,
        message: AppMessage,
        installed: &InstalledApps,
        grants: &Grants,
    ) -> Delivery {
        self.deliver_to_app(from, message, false, installed, grants)
    }

    /// Like [`deliver`](Self::deliver), for a message sent to us alone.
    pub fn deliver_direct(
        &mut self,
        from: PeerId,
        message: AppMessage,
        installed: &InstalledApps,
        grants: &Grants,
    ) -> Delivery {
        self.deliver_to_app(from, message, true, installed, grants)
    }

    fn deliver_to_app(
        &mut self,
        from: PeerId,
        message: AppMessage,
        direct: bool,
        installed: &InstalledApps,
        grants: &Grants,
    ) -> Delivery {
        let name = message.app.as_str();
        if installed.get(name).is_none() {
            self.dropped += 1;
            return Delivery::NotInstalled;
        }
        if !installed.is_running(name) || !grants.is_granted(name, &Permission::Messages) {
            self.dropped += 1;
            return Delivery::NotAllowed;
        }
        let inbox = self.incoming.entry(name.into()).or_default();
        if inbox.len() >= INBOX_MAX {
            inbox.pop_front();
            self.dropped += 1;
        }
        inbox.push_back(IncomingAppMessage {
            from,
            bytes: message.payload.into_bytes(),
            direct,
        });
        Delivery::Queued
    }

    pub(crate) fn take_incoming(&mut self, app: &str) -> Vec<IncomingAppMessage> {
        self.incoming
            .get_mut(app)
            .map(|inbox| inbox.drain(..).collect())
            .unwrap_or_default()
    }
}

/// Sets up what apps need: grants from the data folder, the world view, app mail, and the
/// upkeep of apps' objects. Add it before installing apps.
pub struct AppsHostPlugin {
    /// The person's data folder; `None` keeps grants in memory and gives apps no files.
    pub data_dir: Option<PathBuf>,
}

impl Plugin for AppsHostPlugin {
    fn build(&self, app: &mut App) {
        let grants = match &self.data_dir {
            Some(dir) => Grants::load(dir),
            None => Grants::in_memory(),
        };
        if let Some(problem) = grants.problem() {
            error!("{problem}");
        }
        app.insert_resource(grants)
            .insert_resource(AppsFolder(self.data_dir.as_ref().map(|dir| dir.join("apps"))))
            .init_resource::<AppMail>()
            .init_resource::<crate::blobs::BlobMail>()
            .init_resource::<crate::blobs::BlobLibrary>()
            .init_resource::<crate::wallet::WalletMail>()
            .init_resource::<crate::home::HomeMail>()
            .init_resource::<crate::home::HomeLink>()
            .init_resource::<WorldView>()
            .init_resource::<crate::people::PeopleButtons>()
            .init_resource::<InstalledApps>()
            .init_resource::<AppPanels>()
            .add_message::<EnteredSpace>()
            .configure_sets(Update, (AppSystems::Prepare, AppSystems::Run).chain())
            .add_systems(
                Update,
                (follow_space, remove_disallowed_objects, save_grants)
                    .chain()
                    .in_set(AppSystems::Prepare),
            );
    }
}

/// Draws app `app`'s panel into `ui`: the app's drawing if the person allows panels and
/// the app runs, otherwise a line saying why not. A panic stops the app.
pub fn draw_panel(world: &mut World, app: &str, draw: PanelDraw, ui: &mut egui::Ui) {
    let allowed = world.resource::<Grants>().check(app, &Permission::Panels);
    let running = world.resource::<InstalledApps>().is_running(app);
    if !running {
        ui.label(format!("{app} was stopped after a failure; see the Apps panel."));
        return;
    }
    if let Err(error) = allowed {
        ui.label(format!("{error}."));
        return;
    }
    let result = run_guarded(world, app, |world| world.run_system_with(draw, ui));
    if let Some(Err(error)) = result {
        debug!("app {app}: its panel did not draw: {error}");
    }
}

/// On arrival in another space: removes the apps' objects of the last one and tells the
/// apps.
fn follow_space(
    mut commands: Commands,
    view: Res<WorldView>,
    mut last: Local<Option<String>>,
    objects: Query<(Entity, &AppEntity)>,
    mut entered: MessageWriter<EnteredSpace>,
) {
    if view.space == *last {
        return;
    }
    last.clone_from(&view.space);
    for (entity, object) in &objects {
        if Some(&object.space) != view.space.as_ref() {
            commands.entity(entity).despawn();
        }
    }
    if let Some(space) = &view.space {
        entered.write(EnteredSpace { space: space.clone() });
    }
}

/// Removes objects of apps that stopped or may no longer place them.
fn remove_disallowed_objects(
    mut commands: Commands,
    grants: Res<Grants>,
    installed: Res<InstalledApps>,
    objects: Query<(Entity, &AppEntity)>,
) {
    if !grants.is_changed() && !installed.is_changed() {
        return;
    }
    for (entity, object) in &objects {
        let allowed = installed.is_running(object.app)
            && installed.get(object.app).is_some_and(|app| {
                app.manifest.permissions.iter().any(|permission| {
                    permission.allows_spawn_in(&object.space) && grants.is_granted(object.app, permission)
                })
            });
        if !allowed {
            commands.entity(entity).despawn();
        }
    }
}

fn save_grants(mut grants: ResMut<Grants>) {
    if !grants.is_changed() || grants.is_added() {
        return;
    }
    if let Err(error) = grants.bypass_change_detection().save() {
        error!("{error}");
    }
}
