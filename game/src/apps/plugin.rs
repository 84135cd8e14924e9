//! [`AppsPlugin`]: the host side of the plugin API in the client.

use crate::app::DataDir;
use crate::net_bridge::NetStatus;
use crate::people::Roster;
use crate::sets::GameSystems;
use crate::spaces::{CurrentSpace, SpaceCatalog};
use bevy::prelude::*;
use sanctuary_plugin_api::host::AppsHostPlugin;
use sanctuary_plugin_api::{AppSystems, Person, SpaceAnchor, WorldView};

/// Hosts apps: grants from the data folder, the built-in apps, and the world view they
/// read. Needs the [`DataDir`] resource.
pub struct AppsPlugin;

impl Plugin for AppsPlugin {
    fn build(&self, app: &mut App) {
        let data_dir = app.world().get_resource::<DataDir>().map(|dir| dir.0.clone());
        app.add_plugins(AppsHostPlugin { data_dir })
            .add_plugins(crate::storage::StorageHostPlugin)
            .add_plugins(crate::home::HomeHostPlugin)
            .configure_sets(Update, AppSystems::Prepare.after(GameSystems::Travel))
            .add_systems(
                Update,
                update_view.before(AppSystems::Prepare).after(GameSystems::Travel),
            );
        super::list::install(app);
    }
}

/// Copies what apps may know of the world into their [`WorldView`].
fn update_view(
    mut view: ResMut<WorldView>,
    current: Option<Res<CurrentSpace>>,
    catalog: Res<SpaceCatalog>,
    roster: Option<Res<Roster>>,
    status: Option<Res<NetStatus>>,
) {
    let space = current.as_ref().map(|current| current.name.clone());
    if view.space != space {
        view.anchors = space
            .as_deref()
            .and_then(|name| catalog.get(name))
            .map(|space| {
                space
                    .anchors
                    .iter()
                    .map(|anchor| SpaceAnchor {
                        name: anchor.name.clone(),
                        position: Vec3::from_array(anchor.position),
                        yaw: anchor.yaw_degrees.to_radians(),
                    })
                    .collect()
            })
            .unwrap_or_default();
        view.space = space;
    }
    if let Some(status) = status.filter(|status| status.is_changed()) {
        view.me = status.me;
        view.online = status.online;
    }
    if let Some(roster) = roster.filter(|roster| roster.is_changed()) {
        view.people = roster
            .people
            .iter()
            .map(|(id, entry)| Person {
                id: *id,
                name: entry.name.clone(),
                space: entry.space.clone(),
            })
            .collect();
    }
}
