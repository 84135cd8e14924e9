//! [`NetBridgePlugin`]: starts the network session and moves messages both ways.

use crate::avatar::controller::{CENTER_ABOVE_FEET, EYES_ABOVE_CENTER};
use crate::avatar::{Motion, Player, TrackedBody};
use crate::chat::{ChatLine, ChatLog, ChatTarget, OutgoingChat};
use crate::identity::{Identity, ProfileChanged};
use crate::people::{InviteTicket, PeerUpdate, Roster};
use crate::sets::GameSystems;
use crate::spaces::{SpaceEntered, SpacesSystems, StartSpace};
use bevy::prelude::*;
use sanctuary_net::session::{
    self, ChatTo, Connect, SessionCommand, SessionConfig, SessionEvent, SessionHandle,
};
use sanctuary_net::{LeaveReason, NearbyWorld, WorldConfig, WorldEvent, WorldId, WorldTicket};
use sanctuary_plugin_api::host::AppMail;
use sanctuary_plugin_api::{AppSystems, Grants, InstalledApps};
use sanctuary_protocols::identity::PeerId;
use sanctuary_protocols::message::Presence;
use sanctuary_protocols::pose::{PoseSample, TrackedPoint};
use sanctuary_protocols::text::{ChatText, SpaceName};
use std::io::Write;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::Duration;

/// The most network events handled in one frame; the rest wait for the next.
const EVENTS_PER_FRAME: usize = 2000;
/// How long quitting waits for the goodbye to go out.
const GOODBYE_WAIT: Duration = Duration::from_secs(2);

/// Host a new world or join one.
#[derive(Debug, Clone)]
pub enum NetMode {
    /// Start a world; its ticket is printed as `ticket: <TICKET>`.
    Host,
    /// Join the world of this ticket.
    Join(WorldTicket),
    /// Start in no world and list the worlds hosted nearby ([`Nearby`]); a
    /// [`JoinNearby`] enters one.
    Browse,
}

/// How to connect, from the command line.
#[derive(Resource, Debug, Clone)]
pub struct NetOptions {
    /// Host or join.
    pub mode: NetMode,
    /// A self-hosted relay URL.
    pub relay: Option<String>,
    /// Look peers up on the local network, announce a hosted world there and list the
    /// worlds hosted nearby.
    pub lan: bool,
    /// Where to bind the UDP socket; all interfaces when `None`.
    pub bind: Option<SocketAddr>,
}

/// Connects this client to a world. Needs an [`Identity`] resource.
pub struct NetBridgePlugin {
    /// How to connect.
    pub options: NetOptions,
}

impl Plugin for NetBridgePlugin {
    fn build(&self, app: &mut App) {
        app.insert_resource(self.options.clone())
            .init_resource::<NetStatus>()
            .init_resource::<InviteTicket>()
            .init_resource::<Nearby>()
            .add_message::<ProfileChanged>()
            .add_message::<JoinNearby>()
            .add_systems(Startup, start_network)
            .add_systems(
                Update,
                (
                    receive.in_set(GameSystems::Input),
                    (send_chat, follow_space, send_profile, send_pose, join_nearby)
                        .after(SpacesSystems::Transition),
                    send_app_messages.after(AppSystems::Run),
                ),
            )
            .add_systems(Last, say_goodbye_on_exit);
    }
}

/// Where the network stands, for panels and the HUD.
#[derive(Resource, Debug, Default, Clone)]
pub struct NetStatus {
    /// Our id, once online.
    pub me: Option<PeerId>,
    /// Connected to a world.
    pub online: bool,
    /// The world we are in, once connected.
    pub world: Option<WorldId>,
    /// The world we asked to join from the nearby list, until we are in it or it failed.
    pub joining: Option<WorldId>,
    /// Why not, if it failed.
    pub problem: Option<String>,
    /// Incoming messages refused so far.
    pub rejected: u64,
    /// The world was already full when we joined: how many people it holds.
    pub world_full: Option<usize>,
    /// The latest private message that could not be delivered, and why.
    pub undelivered: Option<String>,
}

/// The worlds hosted on the local network (with `--lan`), as the network last reported
/// them: at most [`NEARBY_MAX`](sanctuary_net::nearby::NEARBY_MAX), checked there.
#[derive(Resource, Debug, Default, Clone)]
pub struct Nearby {
    /// The worlds, the one heard from longest ago first.
    pub worlds: Vec<NearbyWorld>,
}

/// Enter this world from the nearby list, as its ticket would (only while in no world).
#[derive(Message, Debug, Clone)]
pub struct JoinNearby(pub NearbyWorld);

/// The session the bridge talks to. [`NetBridgePlugin`] starts one at startup unless the
/// app already has one: tests insert one made of channels they hold.
#[derive(Resource)]
pub struct Bridge {
    handle: Mutex<SessionHandle>,
    space: Option<String>,
}

impl Bridge {
    /// A bridge to a session that is already running (the world's space is announced on
    /// the first space change).
    pub fn new(handle: SessionHandle) -> Self {
        Self {
            handle: Mutex::new(handle),
            space: None,
        }
    }
}

impl Drop for Bridge {
    fn drop(&mut self) {
        say_goodbye(Some(self));
    }
}

fn start_network(
    mut commands: Commands,
    identity: Res<Identity>,
    start_space: Res<StartSpace>,
    options: Res<NetOptions>,
    mut status: ResMut<NetStatus>,
    running: Option<Res<Bridge>>,
    storage: Option<Res<crate::storage::StorageHandle>>,
    building: (Res<crate::spaces::SpaceCatalog>, Res<crate::app::DataDir>),
) {
    if running.is_some() {
        return;
    }
    let presence = match identity.profile.presence(&start_space.0) {
        Ok(presence) => presence,
        Err(error) => {
            status.problem = Some(error.to_string());
            return;
        }
    };
    let config = SessionConfig {
        keypair: sanctuary_protocols::identity::Keypair::from_bytes(&identity.keypair.to_bytes()),
        presence,
        connect: match &options.mode {
            NetMode::Host => match sanctuary_net::data_dir::hosted_world(&building.1.0) {
                Ok((world, notice)) => {
                    if let Some(notice) = notice {
                        warn!("{notice}");
                    }
                    Connect::Reopen(world)
                }
                Err(error) => {
                    warn!(
                        "cannot keep the hosted world's id in the data folder ({error}); hosting a new world this time"
                    );
                    Connect::Host
                }
            },
            NetMode::Join(ticket) => Connect::Join(ticket.clone()),
            NetMode::Browse => Connect::Browse,
        },
        relay: options.relay.clone(),
        local_discovery: options.lan,
        bind_addr: options.bind,
        world: WorldConfig {
            build: Some(building_setup(&building.0, &building.1.0)),
            ..WorldConfig::default()
        },
        storage: storage.and_then(|handle| handle.0.clone()),
    };
    match session::start(config) {
        Ok(handle) => commands.insert_resource(Bridge {
            handle: Mutex::new(handle),
            space: Some(start_space.0.clone()),
        }),
        Err(error) => status.problem = Some(format!("cannot start the network thread: {error}")),
    }
}

/// Each space's building rules, and the documents kept in `<data>/build`.
fn building_setup(
    catalog: &crate::spaces::SpaceCatalog,
    data_dir: &std::path::Path,
) -> sanctuary_net::BuildSetup {
    let rules = catalog
        .spaces()
        .iter()
        .filter_map(|space| {
            let rules = space.build.clone()?;
            Some((SpaceName::new(space.name.clone()).ok()?, rules))
        })
        .collect();
    sanctuary_net::BuildSetup {
        rules,
        folder: Some(sanctuary_net::data_dir::build_dir(data_dir)),
        state_every: None,
    }
}

fn receive(
    bridge: Option<Res<Bridge>>,
    mut status: ResMut<NetStatus>,
    mut ticket: ResMut<InviteTicket>,
    mut nearby: ResMut<Nearby>,
    mut updates: MessageWriter<PeerUpdate>,
    mut log: ResMut<ChatLog>,
    roster: Res<Roster>,
    voice: Option<Res<crate::voice::VoiceLink>>,
    building: (
        ResMut<crate::build::BuildLink>,
        MessageWriter<crate::build::PiecesChanged>,
    ),
    apps: (
        Option<ResMut<AppMail>>,
        Option<Res<InstalledApps>>,
        Option<Res<Grants>>,
    ),
) {
    let (mut mail, installed, grants) = apps;
    let (mut build_link, mut pieces_changed) = building;
    let Some(bridge) = bridge else {
        return;
    };
    let Ok(mut handle) = bridge.handle.lock() else {
        return;
    };
    for _ in 0..EVENTS_PER_FRAME {
        let Ok(event) = handle.events.try_recv() else {
            break;
        };
        match event {
            SessionEvent::Browsing { me } => {
                info!("online as {me}, in no world yet");
                status.me = Some(me);
            }
            SessionEvent::Ready {
                ticket: text,
                me,
                world,
            } => {
                info!("in the world as {me}");
                // Tools and people copy this line; it stands on its own on stdout.
                println!("ticket: {text}");
                std::io::stdout().flush().ok();
                status.me = Some(me);
                status.online = true;
                status.world = Some(world);
                status.joining = None;
                status.problem = None;
                ticket.0 = Some(text);
            }
            SessionEvent::Nearby(worlds) => {
                print_new_nearby(&nearby.worlds, &worlds);
                nearby.worlds = worlds;
            }
            SessionEvent::Failed(problem) => {
                error!("offline: {problem}");
                status.online = false;
                status.joining = None;
                status.problem = Some(problem);
            }
            SessionEvent::Rejected(count) => status.rejected = count,
            SessionEvent::Voice(sender) => {
                if let Some(voice) = &voice {
                    voice.sender(sender);
                    // The world's voice goes straight to the voice thread, not through
                    // this frame loop.
                    if let Some(inbox) = handle.voice.take() {
                        voice.network(inbox);
                    }
                }
            }
            SessionEvent::Build(handle) => build_link.0 = Some(handle),
            SessionEvent::DirectFailed { peer, error } => {
                warn!(
                    "private message to {} not delivered: {error}",
                    roster.name_of(&peer)
                );
                status.undelivered = Some(format!("To {}: not delivered ({error})", roster.name_of(&peer)));
            }
            SessionEvent::World(event) => match event {
                WorldEvent::Joined { peer, presence } | WorldEvent::PresenceChanged { peer, presence } => {
                    updates.write(present(peer, &presence));
                }
                WorldEvent::Left { peer, reason } => {
                    if let Some(voice) = &voice {
                        voice.left(peer);
                    }
                    updates.write(PeerUpdate::Left {
                        peer,
                        timed_out: reason == LeaveReason::TimedOut,
                    });
                }
                WorldEvent::Pose { peer, pose, seq } => {
                    updates.write(PeerUpdate::Pose {
                        peer,
                        seq,
                        sample: pose,
                    });
                }
                WorldEvent::Chat { peer, text, .. } => log.push(ChatLine {
                    from: Some(peer),
                    name: roster.name_of(&peer),
                    to: ChatTarget::Room,
                    text: text.as_str().to_owned(),
                }),
                WorldEvent::EarlierChat { peer, name, text, .. } => log.push(ChatLine {
                    from: Some(peer),
                    name: name.map_or_else(|| roster.name_of(&peer), |name| name.as_str().to_owned()),
                    to: ChatTarget::Earlier,
                    text: text.as_str().to_owned(),
                }),
                WorldEvent::Direct { peer, text } => log.push(ChatLine {
                    from: Some(peer),
                    name: roster.name_of(&peer),
                    to: ChatTarget::Direct(status.me.unwrap_or(peer)),
                    text: text.as_str().to_owned(),
                }),
                WorldEvent::App {
                    peer,
                    message,
                    direct,
                } => {
                    if let (Some(mail), Some(installed), Some(grants)) = (&mut mail, &installed, &grants) {
                        match direct {
                            false => mail.deliver(peer, message, installed, grants),
                            true => mail.deliver_direct(peer, message, installed, grants),
                        };
                    }
                }
                WorldEvent::Build { space, changed } => {
                    pieces_changed.write(crate::build::PiecesChanged { space, changed });
                }
                // The session hands voice to the voice thread directly.
                WorldEvent::Voice { .. } | WorldEvent::VoiceReport { .. } => {}
                WorldEvent::Full { capacity } => {
                    warn!("this world is full ({capacity} people); others will not see you");
                    status.world_full = Some(capacity);
                }
                WorldEvent::Rejected { peer, reason } => {
                    debug!("refused input from {peer:?}: {reason:?}");
                }
            },
        }
    }
}

/// Prints a `nearby:` line for each world that is new or changed, for people (and tests)
/// running without a window.
fn print_new_nearby(before: &[NearbyWorld], now: &[NearbyWorld]) {
    let mut stdout = std::io::stdout().lock();
    for world in now.iter().filter(|world| !before.contains(world)) {
        writeln!(
            stdout,
            "nearby: world {} hosted by {} ({})",
            world.world,
            world.host_name.as_str(),
            world.host
        )
        .ok();
    }
    stdout.flush().ok();
}

/// Asks the session to enter the world chosen in the nearby list, once.
fn join_nearby(
    bridge: Option<Res<Bridge>>,
    mut joins: MessageReader<JoinNearby>,
    mut status: ResMut<NetStatus>,
) {
    let Some(JoinNearby(world)) = joins.read().last() else {
        return;
    };
    if status.world.is_some() || status.joining.is_some() {
        warn!("already in a world; not joining {}", world.world);
        return;
    }
    let Some(bridge) = bridge else {
        return;
    };
    let sent = bridge.handle.lock().is_ok_and(|handle| {
        handle
            .commands
            .try_send(SessionCommand::Join(world.ticket()))
            .is_ok()
    });
    if sent {
        info!("joining the world hosted nearby by {}", world.host_name.as_str());
        status.joining = Some(world.world);
    } else {
        warn!("the network is busy or gone; not joining");
    }
}

fn present(peer: PeerId, presence: &Presence) -> PeerUpdate {
    PeerUpdate::Present {
        peer,
        name: presence.name.as_str().to_owned(),
        color: [presence.color.r, presence.color.g, presence.color.b],
        shape: presence.shape,
        space: presence.space.as_str().to_owned(),
    }
}

fn send_chat(
    bridge: Option<Res<Bridge>>,
    mut outgoing: MessageReader<OutgoingChat>,
    mut log: ResMut<ChatLog>,
    identity: Res<Identity>,
    options: Res<NetOptions>,
    status: Res<NetStatus>,
) {
    // Browsing, a message has nowhere to go; a host or joiner's first words wait for
    // the world instead.
    let nowhere =
        matches!(options.mode, NetMode::Browse) && status.world.is_none() && status.joining.is_none();
    for chat in outgoing.read() {
        let Some(bridge) = &bridge else {
            continue;
        };
        if nowhere {
            warn!("not in a world yet; chat not sent");
            continue;
        }
        let text = match ChatText::new(chat.text.clone()) {
            Ok(text) => text,
            Err(error) => {
                warn!("not sent: {error}");
                continue;
            }
        };
        let sent = bridge
            .handle
            .lock()
            .map(|handle| {
                let to = match chat.to {
                    ChatTarget::Room | ChatTarget::Earlier => ChatTo::Room,
                    ChatTarget::Direct(peer) => ChatTo::Direct(peer),
                };
                handle.commands.try_send(SessionCommand::Chat(to, text)).is_ok()
            })
            .unwrap_or(false);
        if sent {
            log.push(ChatLine {
                from: None,
                name: identity.profile.name.clone(),
                to: chat.to,
                text: chat.text.clone(),
            });
        } else {
            warn!("the network is busy or gone; chat not sent");
        }
    }
}

/// Sends what apps queued, signed like all world traffic: to everyone, or to one peer over
/// a direct connection.
fn send_app_messages(bridge: Option<Res<Bridge>>, mail: Option<ResMut<AppMail>>) {
    let (Some(bridge), Some(mut mail)) = (bridge, mail) else {
        return;
    };
    let outgoing = mail.take_outgoing();
    let direct = mail.take_outgoing_direct();
    if outgoing.is_empty() && direct.is_empty() {
        return;
    }
    let Ok(handle) = bridge.handle.lock() else {
        return;
    };
    let commands = outgoing.into_iter().map(SessionCommand::App).chain(
        direct
            .into_iter()
            .map(|(peer, message)| SessionCommand::AppTo(peer, message)),
    );
    for command in commands {
        if handle.commands.try_send(command).is_err() {
            warn!("the network is busy or gone; an app message was not sent");
        }
    }
}

fn follow_space(bridge: Option<ResMut<Bridge>>, mut entered: MessageReader<SpaceEntered>) {
    let (Some(mut bridge), Some(arrival)) = (bridge, entered.read().last()) else {
        return;
    };
    if bridge.space.as_deref() == Some(arrival.name.as_str()) {
        return;
    }
    let Ok(space) = SpaceName::new(arrival.name.clone()) else {
        return;
    };
    bridge.space = Some(arrival.name.clone());
    if let Ok(handle) = bridge.handle.lock() {
        handle.commands.try_send(SessionCommand::EnterSpace(space)).ok();
    }
}

fn send_profile(
    bridge: Option<Res<Bridge>>,
    mut changed: MessageReader<ProfileChanged>,
    identity: Res<Identity>,
) {
    let (Some(bridge), Some(_)) = (bridge, changed.read().last()) else {
        return;
    };
    let space = bridge.space.clone().unwrap_or_default();
    match identity.profile.presence(&space) {
        Ok(presence) => {
            if let Ok(handle) = bridge.handle.lock() {
                handle.commands.try_send(SessionCommand::Profile(presence)).ok();
            }
        }
        Err(error) => warn!("profile not announced: {error}"),
    }
}

fn send_pose(
    bridge: Option<Res<Bridge>>,
    player: Query<(&Transform, &Motion), With<Player>>,
    tracked: Option<Res<TrackedBody>>,
) {
    let (Some(bridge), Ok((transform, motion))) = (bridge, player.single()) else {
        return;
    };
    let feet = transform.translation - Vec3::Y * CENTER_ABOVE_FEET;
    let point = |(offset, rotation): (Vec3, Quat)| TrackedPoint {
        offset: offset.to_array(),
        rotation: rotation.to_array(),
    };
    // A headset tracks the head and hands; on the desktop the head sits at eye height
    // and tilts with the view, and the hands are not shown.
    let (head, hands) = match tracked.as_deref() {
        Some(tracked) => (tracked.head, tracked.hands),
        None => (
            (
                Vec3::Y * (CENTER_ABOVE_FEET + EYES_ABOVE_CENTER),
                Quat::from_rotation_x(motion.pitch),
            ),
            [None, None],
        ),
    };
    let [left_hand, right_hand] = hands.map(|hand| hand.map(point).unwrap_or_default());
    let sample = PoseSample {
        position: feet.to_array(),
        yaw: motion.yaw,
        head: point(head),
        left_hand,
        right_hand,
        flying: motion.flying,
        grounded: motion.grounded,
    };
    if let Ok(handle) = bridge.handle.lock() {
        // Coalesces: the network thread sends the newest at its own pace.
        handle.pose.send_replace(Some(sample));
    }
}

fn say_goodbye_on_exit(mut exits: MessageReader<AppExit>, bridge: Option<Res<Bridge>>) {
    if exits.read().next().is_some() {
        say_goodbye(bridge.as_deref());
    }
}

/// Says goodbye to the world (a signed leave others show at once) and waits a moment for
/// it to go out. Called when a system sees the exit, and again when the bridge is dropped
/// with the app: an exit asked for late in the last frame is never seen by a system, and
/// without this the others would wait for the timeout. A second call does nothing.
fn say_goodbye(bridge: Option<&Bridge>) {
    let Some(bridge) = bridge else {
        return;
    };
    if let Ok(handle) = bridge.handle.lock()
        && handle.commands.try_send(SessionCommand::Leave).is_ok()
    {
        handle.finished.recv_timeout(GOODBYE_WAIT).ok();
    }
}
