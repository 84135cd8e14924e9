//! [`HomeHostPlugin`]: moves the apps' home calls to the home thread and its answers back,
//! each frame, without waiting.

use std::sync::Mutex;

use bevy::prelude::*;
use sanctuary_plugin_api::host::{HomeLink, HomeMail};
use sanctuary_plugin_api::{AppSystems, HomeCall, HomeReply};
use tokio::sync::mpsc;

use super::worker::{self, FromWorker};
use crate::app::DataDir;

/// The frame loop's ends of the home thread's channels.
#[derive(Resource)]
struct HomeChannels {
    calls: mpsc::Sender<(String, HomeCall)>,
    answers: Mutex<std::sync::mpsc::Receiver<FromWorker>>,
}

/// Talks to the home node named in the data folder (needs [`DataDir`]). Add it after the
/// plugin API's host plugin.
pub struct HomeHostPlugin;

impl Plugin for HomeHostPlugin {
    fn build(&self, app: &mut App) {
        let Some(data_dir) = app.world().get_resource::<DataDir>().map(|dir| dir.0.clone()) else {
            return;
        };
        match worker::start(data_dir) {
            Ok((calls, answers)) => {
                app.insert_resource(HomeChannels {
                    calls,
                    answers: Mutex::new(answers),
                })
                .add_systems(Update, exchange.after(AppSystems::Run));
            }
            Err(problem) => {
                error!("the home node is out of reach: {problem}");
                app.world_mut().resource_mut::<HomeLink>().problem = Some(problem);
            }
        }
    }
}

/// Sends the apps' calls to the home thread and hands its answers to the apps.
fn exchange(channels: Res<HomeChannels>, mut mail: ResMut<HomeMail>, mut link: ResMut<HomeLink>) {
    for (app, call) in mail.take_requests() {
        if channels.calls.try_send((app.clone(), call)).is_err() {
            mail.reply(
                &app,
                HomeReply::Failed("the home node is busy; try again in a moment".into()),
            );
        }
    }
    let Ok(answers) = channels.answers.lock() else {
        return;
    };
    while let Ok(answer) = answers.try_recv() {
        match answer {
            FromWorker::Reply(app, reply) => mail.reply(&app, reply),
            FromWorker::Link(newest) => {
                if *link != newest {
                    *link = newest;
                }
            }
        }
    }
}
