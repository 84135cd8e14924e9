//! [`StorageHostPlugin`]: opens the store and moves the apps' blob requests to the storage
//! thread and its answers back, each frame, without waiting.

use std::sync::Mutex;

use bevy::prelude::*;
use sanctuary_net::Storage;
use sanctuary_plugin_api::host::{BlobLibrary, BlobMail};
use sanctuary_plugin_api::{AppSystems, BlobRequest};
use tokio::sync::mpsc;

use super::worker::{self, FromWorker};
use crate::app::DataDir;

/// The quota of the client's store: 2 GiB.
pub const CLIENT_QUOTA: u64 = sanctuary_net::storage::DEFAULT_QUOTA;

/// The open store, for the network session to serve and fetch through; `None` when it
/// could not be opened (the reason is in [`BlobLibrary::problem`]).
#[derive(Resource, Clone, Default)]
pub struct StorageHandle(pub Option<Storage>);

/// The frame loop's ends of the storage thread's channels.
#[derive(Resource)]
struct StorageLink {
    requests: mpsc::Sender<(String, BlobRequest)>,
    answers: Mutex<std::sync::mpsc::Receiver<FromWorker>>,
}

/// Opens `storage/` in the data folder (needs [`DataDir`]) and serves the apps' blob
/// requests. Add it after the plugin API's host plugin.
pub struct StorageHostPlugin;

impl Plugin for StorageHostPlugin {
    fn build(&self, app: &mut App) {
        let Some(data_dir) = app.world().get_resource::<DataDir>().map(|dir| dir.0.clone()) else {
            app.insert_resource(StorageHandle(None));
            return;
        };
        let dir = sanctuary_net::data_dir::storage_dir(&data_dir);
        match worker::start(dir, CLIENT_QUOTA) {
            Ok((storage, requests, answers)) => {
                app.insert_resource(StorageHandle(Some(storage)))
                    .insert_resource(StorageLink {
                        requests,
                        answers: Mutex::new(answers),
                    })
                    .add_systems(Update, exchange.after(AppSystems::Run));
            }
            Err(problem) => {
                error!("storage is unavailable: {problem}");
                app.insert_resource(StorageHandle(None));
                app.world_mut().resource_mut::<BlobLibrary>().problem = Some(problem);
            }
        }
    }
}

/// Sends the apps' requests to the storage thread and hands its answers to the apps.
fn exchange(link: Res<StorageLink>, mut mail: ResMut<BlobMail>, mut library: ResMut<BlobLibrary>) {
    for (app, request) in mail.take_requests() {
        if link.requests.try_send((app.clone(), request)).is_err() {
            mail.reply(
                &app,
                sanctuary_plugin_api::BlobReply::Failed {
                    hash: None,
                    error: "storage is busy; try again in a moment".into(),
                },
            );
        }
    }
    let Ok(answers) = link.answers.lock() else {
        return;
    };
    let mut newest = None;
    while let Ok(answer) = answers.try_recv() {
        match answer {
            FromWorker::Reply(app, reply) => mail.reply(&app, reply),
            FromWorker::Library(snapshot) => newest = Some(snapshot),
        }
    }
    if let Some(snapshot) = newest {
        *library = snapshot;
    }
}
