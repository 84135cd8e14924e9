//! `serve --host-world`: the home node keeps the person's world open while their own
//! client is off.
//!
//! One keeper per space of the assets folder stands at the space's spawn point, named
//! after the person's home ("Ana's home"). Together they keep the world joinable (its
//! ticket leads to the first keeper), hold each space's building document (kept under the
//! node's folder, so a restart goes on where it stopped) and give it to whoever comes, and
//! tell newcomers what was said in the space before they came (earlier chat).
//!
//! The world's id is kept in the node's folder too (`world/hosted-world`): the same world
//! every time the node starts. Its ticket is printed as `world: <TICKET>` and written to
//! `world/ticket`; it names the lobby keeper's address, which changes with its port unless
//! `--world-bind` fixes it.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use sanctuary_net::{BuildSetup, JoinTarget, Node, WorldConfig, WorldHandle, WorldTicket, data_dir};
use sanctuary_protocols::limits::NAME_MAX;
use sanctuary_protocols::message::{AvatarShape, Presence, Rgb};
use sanctuary_protocols::pose::PoseSample;
use sanctuary_protocols::text::{DisplayName, SpaceName};

use crate::spaces;

/// The space people arrive in.
const ARRIVAL_SPACE: &str = "lobby";

/// How often a keeper says where it stands (it never moves).
const POSE_EVERY: Duration = Duration::from_secs(1);

/// The keepers of a hosted world.
pub struct Keepers {
    /// The world's ticket, leading to the first keeper.
    pub ticket: WorldTicket,
    stop: tokio::sync::watch::Sender<bool>,
    keepers: Vec<tokio::task::JoinHandle<()>>,
}

/// Where the keepers' world is kept: `<node folder>/world`.
pub fn world_dir(node_dir: &Path) -> PathBuf {
    node_dir.join("world")
}

/// Starts one keeper per space of `assets`, in the world kept in `node_dir`, named after
/// `person`. `bind` is the first keeper's address (the ticket's); the others listen on
/// any port of the same address.
pub async fn start(
    node_dir: &Path,
    person: &str,
    assets: &Path,
    bind: Option<SocketAddr>,
) -> anyhow::Result<Keepers> {
    let dir = world_dir(node_dir);
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let world = crate::building::hosted_world(Some(&dir))?;
    let rules = spaces::all_build_rules(assets)?;
    let name = owned_name(person, "home")?;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut keepers = Vec::new();
    let mut ticket: Option<WorldTicket> = None;
    // The ticket leads to the lobby's keeper, where people arrive: a newcomer's room there
    // starts from it without waiting to learn anyone's address.
    let mut names = spaces::names(assets)?;
    names.sort_by_key(|name| name != ARRIVAL_SPACE);
    for space in names {
        let folder = dir.join(&space);
        let keypair = data_dir::load_or_create_key(&folder)
            .map_err(|error| anyhow::anyhow!("the keeper's key in {}: {error}", folder.display()))?;
        let listen = match (&ticket, bind) {
            (None, bind) => bind,
            (Some(_), Some(bind)) => Some(SocketAddr::new(bind.ip(), 0)),
            (Some(_), None) => None,
        };
        let node = crate::node_with_key(listen, false, keypair).await?;
        let presence = Presence {
            name: name.clone(),
            color: Rgb {
                r: 236,
                g: 200,
                b: 120,
            },
            shape: AvatarShape::Sphere,
            space: SpaceName::new(space.clone())?,
        };
        let config = WorldConfig {
            build: Some(BuildSetup {
                rules: rules.clone(),
                folder: Some(data_dir::build_dir(&folder)),
                state_every: None,
            }),
            // What was said here outlives the node's restarts.
            chat_folder: Some(folder.join("chat")),
            ..WorldConfig::default()
        };
        let handle = match &ticket {
            Some(ticket) => node.join_world_with(ticket, presence, config).await?,
            None => {
                node.join_world_with(JoinTarget::host(world), presence, config)
                    .await?
            }
        };
        if ticket.is_none() {
            ticket = Some(handle.ticket());
        }
        if let Some(build) = handle.build() {
            for notice in build.take_notices() {
                eprintln!("{space}: {notice}");
            }
        }
        let spawn = spaces::spawn_point(assets, &space)?;
        keepers.push(tokio::spawn(stand(node, handle, spawn, stopped.clone())));
    }
    let ticket = ticket.context("the assets folder has no spaces to keep")?;
    super::write_atomically(&dir.join("ticket"), format!("{ticket}\n").as_bytes())?;
    Ok(Keepers {
        ticket,
        stop,
        keepers,
    })
}

impl Keepers {
    /// Says goodbye in every space and stops.
    pub async fn stop(self) {
        self.stop.send_replace(true);
        for keeper in self.keepers {
            keeper.await.ok();
        }
    }
}

/// "Ana's home" (for `thing` "home"), cut to what a name may hold.
pub(crate) fn owned_name(person: &str, thing: &str) -> anyhow::Result<DisplayName> {
    let person = if person.trim().is_empty() {
        "Someone"
    } else {
        person.trim()
    };
    let suffix = format!("'s {thing}");
    let mut name = format!("{person}{suffix}");
    if name.len() > NAME_MAX {
        let mut cut = NAME_MAX.saturating_sub(suffix.len()).min(person.len());
        while !person.is_char_boundary(cut) {
            cut -= 1;
        }
        name = format!("{}{suffix}", &person[..cut]);
    }
    Ok(DisplayName::new(name)?)
}

/// Drains a keeper's events (it needs none of them) and says where it stands, now and
/// then, so that everyone sees it at the spawn point, until `stop` turns true; then says
/// goodbye.
async fn stand(
    node: Node,
    mut world: WorldHandle,
    spawn: [f32; 3],
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut events = world.take_events();
    tokio::spawn(async move { while events.recv().await.is_some() {} });
    let mut every = tokio::time::interval(POSE_EVERY);
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            _ = every.tick() => {
                let pose = PoseSample {
                    position: [spawn[0] + 1.5, spawn[1], spawn[2] - 1.5],
                    grounded: true,
                    ..PoseSample::default()
                };
                if let Err(error) = world.send_pose(pose) {
                    tracing::debug!("a keeper's pose was not sent: {error}");
                }
            }
        }
    }
    if let Err(error) = world.leave().await {
        tracing::debug!("a keeper's goodbye was not sent: {error}");
    }
    node.shutdown().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_keeper_is_named_after_the_person_within_the_name_limit() {
        assert_eq!(owned_name("Ana", "home").unwrap().as_str(), "Ana's home");
        assert_eq!(owned_name("  ", "stall").unwrap().as_str(), "Someone's stall");
        let long = "é".repeat(NAME_MAX);
        let name = owned_name(&long, "home").unwrap();
        assert!(name.as_str().len() <= NAME_MAX && name.as_str().ends_with("'s home"));
    }
}
