//! The home thread: a small tokio runtime with an endpoint of this device's key, which
//! pairs with a home node and carries the apps' requests to it one at a time, so a slow
//! node never holds a frame. While the node does not answer, reads are answered from the
//! device's offline copy and changes wait there ([`super::offline`]); they go to the node,
//! in order, as soon as it answers again (tried every [`RETRY_WAITING`]).

use std::path::PathBuf;

use std::time::Duration;

use sanctuary_net::home::pairing_check;
use sanctuary_net::{HomeConnection, Node, NodeConfig, RelayChoice, data_dir};
use sanctuary_plugin_api::{HomeCall, HomeLink, HomeReply};
use sanctuary_protocols::Keypair;
use sanctuary_protocols::home::{ChangeMark, HomeAddress, Request, Response};
use tokio::sync::mpsc;

use super::offline::{Kind, Offline, kind};

/// Calls waiting for the thread, at most.
const CALLS_WAITING_MAX: usize = 64;

/// How often changes made offline are tried again (each try waits out the quiet time).
pub(crate) const RETRY_WAITING: Duration = Duration::from_secs(3);
/// Longest the device waits before trying an unreachable node again.
const QUIET_MAX: Duration = Duration::from_secs(60);

/// What the thread sends to the frame loop.
#[derive(Debug)]
pub(crate) enum FromWorker {
    /// An answer for one app.
    Reply(String, HomeReply),
    /// The link to the node changed.
    Link(HomeLink),
}

/// Starts the home thread for the device whose data folder is `data_dir`.
pub(crate) fn start(
    data_dir: PathBuf,
) -> Result<
    (
        mpsc::Sender<(String, HomeCall)>,
        std::sync::mpsc::Receiver<FromWorker>,
    ),
    String,
> {
    let (calls_tx, calls_rx) = mpsc::channel(CALLS_WAITING_MAX);
    let (out_tx, out_rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("sanctuary-home".into())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .thread_name("sanctuary-home-worker")
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime,
                Err(error) => {
                    let link = HomeLink {
                        problem: Some(format!("cannot start the home thread: {error}")),
                        ..HomeLink::default()
                    };
                    out_tx.send(FromWorker::Link(link)).ok();
                    return;
                }
            };
            runtime.block_on(run(data_dir, calls_rx, out_tx));
        })
        .map_err(|error| format!("cannot start the home thread: {error}"))?;
    Ok((calls_tx, out_rx))
}

/// The app that may ask the node anything the owner may: the built-in Home app. Other apps
/// with the home permission may read and add to the person's data, but not pair devices,
/// give grants, export, import or delete everything.
pub(crate) const OWNER_APP: &str = "home";

/// Whether `request` manages the node itself (devices, pairing, grants, the whole of the
/// data) rather than reading or adding to the person's data.
pub(crate) fn manages_the_node(request: &Request) -> bool {
    matches!(
        request,
        Request::Devices
            | Request::RevokeDevice { .. }
            | Request::NewPairingCode
            | Request::Grants
            | Request::Grant(_)
            | Request::Revoke { .. }
            | Request::AccessLog { .. }
            | Request::Export
            | Request::Import { .. }
            | Request::DeleteEverything { .. }
            | Request::SetProfile(_)
    )
}

/// The device's side of the link: its endpoint (made at the first call, once the client has
/// made the person's key), and a connection to one node (made again when it drops).
struct Device {
    data_dir: PathBuf,
    node: Option<Node>,
    connection: Option<(HomeAddress, HomeConnection)>,
    link: HomeLink,
    offline: Offline,
    out: std::sync::mpsc::Sender<FromWorker>,
    /// After the node could not be reached: calls are answered offline at once until
    /// then, rather than each waiting for a connection to time out; why; and how long the
    /// next wait is (it doubles, up to [`QUIET_MAX`], while the node stays away).
    quiet: Option<(std::time::Instant, String, Duration)>,
}

async fn run(
    data_dir: PathBuf,
    mut calls: mpsc::Receiver<(String, HomeCall)>,
    out: std::sync::mpsc::Sender<FromWorker>,
) {
    let mut link = HomeLink::default();
    match data_dir::paired_home(&data_dir) {
        Ok(node) => link.node = node,
        Err(problem) => link.problem = Some(format!("the pairing file is damaged ({problem}); pair again")),
    }
    let (offline, problems) = Offline::open(&data_dir);
    if let Some(problem) = problems.into_iter().next() {
        link.problem.get_or_insert(problem);
    }
    link.waiting = offline.waiting();
    out.send(FromWorker::Link(link.clone())).ok();
    let mut device = Device {
        data_dir,
        node: None,
        connection: None,
        link,
        offline,
        out: out.clone(),
        quiet: None,
    };
    let mut retry = tokio::time::interval(RETRY_WAITING);
    retry.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let (app, call) = tokio::select! {
            call = calls.recv() => match call {
                Some(call) => call,
                None => break,
            },
            _ = retry.tick(), if device.offline.waiting() > 0 && device.link.node.is_some() && !device.is_quiet() => {
                if let Err(error) = device.send_waiting().await {
                    tracing::debug!("the changes made offline still wait: {error}");
                }
                out.send(FromWorker::Link(device.link.clone())).ok();
                continue;
            }
        };
        let reply = match call {
            HomeCall::Pair { .. } | HomeCall::Ask(_) if app != OWNER_APP && !may_call(&call) => {
                HomeReply::Failed(format!("only the Home app may do that (asked by {app})"))
            }
            HomeCall::Pair {
                address,
                code,
                device_name,
            } => device.pair(&address, code, device_name).await,
            HomeCall::Ask(request) => device.ask(&app, request).await,
        };
        if out.send(FromWorker::Reply(app, reply)).is_err() {
            break;
        }
        out.send(FromWorker::Link(device.link.clone())).ok();
    }
    if let Some(node) = device.node {
        node.shutdown().await;
    }
}

/// What an app other than the Home app may call: requests on the person's data.
fn may_call(call: &HomeCall) -> bool {
    match call {
        HomeCall::Pair { .. } => false,
        HomeCall::Ask(request) => !manages_the_node(request),
    }
}

impl Device {
    async fn node(&mut self) -> Result<Node, String> {
        if let Some(node) = &self.node {
            return Ok(node.clone());
        }
        // The person's key, which the client made at start: read at the first call only,
        // so this thread never races the client to make it.
        let keypair: Keypair = data_dir::load_or_create_key(&self.data_dir)
            .map_err(|error| format!("this device's key: {error}"))?;
        let node = Node::spawn(NodeConfig {
            keypair,
            relay: RelayChoice::Disabled,
            local_discovery: false,
            bind_addr: None,
            gossip_neighbours: None,
            storage: None,
            home: None,
        })
        .await
        .map_err(|error| error.to_string())?;
        self.node = Some(node.clone());
        Ok(node)
    }

    /// A connection to `address`: the open one if it goes there, else a new one.
    async fn connect(&mut self, address: &HomeAddress) -> Result<HomeConnection, String> {
        if let Some((to, connection)) = &self.connection
            && to == address
        {
            return Ok(connection.clone());
        }
        if let Some((_, old)) = self.connection.take() {
            old.close();
        }
        let node = self.node().await?;
        let connection = node
            .connect_home(address)
            .await
            .map_err(|error| error.to_string())?;
        self.connection = Some((address.clone(), connection.clone()));
        Ok(connection)
    }

    async fn pair(&mut self, address: &str, code: String, device_name: String) -> HomeReply {
        let address: HomeAddress = match address.parse() {
            Ok(address) => address,
            Err(error) => return HomeReply::Failed(error.to_string()),
        };
        let reply = self.try_pair(&address, code, device_name).await;
        if !matches!(reply, HomeReply::Paired { .. }) {
            // Nothing more goes to a node this device did not pair with.
            if let Some((_, connection)) = self.connection.take() {
                connection.close();
            }
        }
        reply
    }

    async fn try_pair(&mut self, address: &HomeAddress, code: String, device_name: String) -> HomeReply {
        let connection = match self.connect(address).await {
            Ok(connection) => connection,
            Err(error) => return HomeReply::Failed(error),
        };
        match connection.ask(&Request::Pair { code, device_name }).await {
            Ok(Response::Paired { node, .. }) => {
                if let Err(error) = data_dir::remember_home(&self.data_dir, address) {
                    return HomeReply::Failed(format!("paired, but it could not be remembered: {error}"));
                }
                if self.link.node.as_ref().is_none_or(|before| before.node != node) {
                    // What was kept may be another node's.
                    self.offline.clear();
                }
                self.link = HomeLink {
                    node: Some(address.clone()),
                    online: true,
                    problem: None,
                    waiting: self.offline.waiting(),
                };
                let me = self.node.as_ref().map(Node::peer_id);
                HomeReply::Paired {
                    node,
                    check: me.map(|me| pairing_check(node, me)).unwrap_or_default(),
                }
            }
            Ok(Response::Refused { detail, .. }) => HomeReply::Failed(format!("the node refused: {detail}")),
            Ok(_) => HomeReply::Failed("the node answered something else".into()),
            Err(error) => HomeReply::Failed(error.to_string()),
        }
    }

    /// Asks the node for app `app`; while it does not answer, reads come from the offline
    /// copy and changes wait on the device. Changes that wait already go first, so that
    /// nothing overtakes them.
    async fn ask(&mut self, app: &str, request: Request) -> HomeReply {
        if self.link.node.is_none() {
            return HomeReply::Failed("pair this device with your home node first".into());
        }
        // A change goes with a number of its own, kept with it if it has to wait, so that
        // the node makes it once even when an answer is lost and it is sent again.
        if matches!(request, Request::Once { .. }) {
            // Numbering changes is this thread's business, not an app's.
            return HomeReply::Failed("send the change itself; changes are numbered here".into());
        }
        let mark = match request.changes_data() {
            true => match ChangeMark::random(now_ms()) {
                Ok(mark) => Some(mark),
                Err(error) => {
                    return HomeReply::Failed(format!("no randomness for the change's number: {error}"));
                }
            },
            false => None,
        };
        let sent = match self.send_waiting().await {
            Ok(()) => match mark {
                Some(mark) => self.send(&Request::once(mark, &request)).await,
                None => self.send(&request).await,
            },
            Err(error) => Err(error),
        };
        let reply = match sent {
            Ok(response) => {
                self.offline.answered(&request, &response, now_ms());
                HomeReply::Answer {
                    request: Box::new(request),
                    response: Box::new(response),
                }
            }
            Err(error) => self.offline_reply(app, mark, request, error),
        };
        self.link.waiting = self.offline.waiting();
        reply
    }

    /// What to answer for `request` (a change comes with its `mark`) while the node does
    /// not answer (`error` says why).
    fn offline_reply(
        &mut self,
        app: &str,
        mark: Option<ChangeMark>,
        request: Request,
        error: String,
    ) -> HomeReply {
        let not_answering = format!("your home node does not answer: {error}");
        match kind(&request) {
            Kind::Read => match self.offline.saved(&request) {
                Some((response, saved_ms)) => HomeReply::Saved {
                    request: Box::new(request),
                    response: Box::new(response),
                    saved_ms,
                },
                None => HomeReply::Failed(not_answering),
            },
            Kind::Change => {
                let Some(mark) = mark else {
                    return HomeReply::Failed(not_answering);
                };
                match self.offline.keep(app, mark, &request) {
                    Ok(waiting) => HomeReply::Kept {
                        request: Box::new(request),
                        waiting,
                    },
                    Err(kept) => HomeReply::Failed(format!("{not_answering}, and {kept}")),
                }
            }
            Kind::Live => HomeReply::Failed(not_answering),
        }
    }

    /// Sends the changes made offline, oldest first, handing each answer to the app that
    /// made it; stops at the first the node does not take (it is tried again later).
    async fn send_waiting(&mut self) -> Result<(), String> {
        while let Some(change) = self.offline.next() {
            let response = self.send(&Request::once(change.mark, &change.request)).await?;
            self.offline.sent();
            self.link.waiting = self.offline.waiting();
            let answer = HomeReply::Answer {
                request: Box::new(change.request),
                response: Box::new(response),
            };
            self.out.send(FromWorker::Reply(change.app, answer)).ok();
        }
        Ok(())
    }

    /// Whether calls are answered offline at once for now (the node was unreachable).
    fn is_quiet(&self) -> bool {
        self.quiet
            .as_ref()
            .is_some_and(|(until, _, _)| std::time::Instant::now() < *until)
    }

    /// Sends `request` to the paired node and waits for its answer. A dropped connection
    /// is made again once before it fails.
    async fn send(&mut self, request: &Request) -> Result<Response, String> {
        let Some(address) = self.link.node.clone() else {
            return Err("this device is not paired".into());
        };
        if let Some((until, why, _)) = &self.quiet
            && std::time::Instant::now() < *until
        {
            return Err(why.clone());
        }
        let mut last = String::new();
        for _ in 0..2 {
            let connection = match self.connect(&address).await {
                Ok(connection) => connection,
                Err(error) => {
                    let wait = self
                        .quiet
                        .as_ref()
                        .map_or(RETRY_WAITING, |(_, _, wait)| (*wait * 2).min(QUIET_MAX));
                    self.quiet = Some((std::time::Instant::now() + wait, error.clone(), wait));
                    last = error;
                    break;
                }
            };
            match connection.ask(request).await {
                Ok(response) => {
                    self.link.online = true;
                    self.quiet = None;
                    return Ok(response);
                }
                Err(error) => {
                    self.connection = None;
                    last = error.to_string();
                }
            }
        }
        self.link.online = false;
        Err(last)
    }
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| u64::try_from(since.as_millis()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_home_app_may_manage_the_node() {
        let export = HomeCall::Ask(Request::Export);
        let wall = HomeCall::Ask(Request::Wall { limit: 5 });
        let pair = HomeCall::Pair {
            address: String::new(),
            code: String::new(),
            device_name: String::new(),
        };
        assert!(!may_call(&export));
        assert!(!may_call(&pair));
        assert!(may_call(&wall));
    }
}
