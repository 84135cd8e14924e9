//! The home thread: a small tokio runtime with an endpoint of this device's key, which
//! pairs with a home node and carries the apps' requests to it one at a time, so a slow
//! node never holds a frame.

use std::path::PathBuf;

use sanctuary_net::home::pairing_check;
use sanctuary_net::{HomeConnection, Node, NodeConfig, RelayChoice, data_dir};
use sanctuary_plugin_api::{HomeCall, HomeLink, HomeReply};
use sanctuary_protocols::Keypair;
use sanctuary_protocols::home::{HomeAddress, Request, Response};
use tokio::sync::mpsc;

/// Calls waiting for the thread, at most.
const CALLS_WAITING_MAX: usize = 64;

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

/// The device's side of the link: its key, its endpoint (made at the first call), and a
/// connection to its node (made again when it drops).
struct Device {
    data_dir: PathBuf,
    keypair: Keypair,
    node: Option<Node>,
    connection: Option<HomeConnection>,
    link: HomeLink,
}

async fn run(
    data_dir: PathBuf,
    mut calls: mpsc::Receiver<(String, HomeCall)>,
    out: std::sync::mpsc::Sender<FromWorker>,
) {
    let keypair = match data_dir::load_or_create_key(&data_dir) {
        Ok(keypair) => keypair,
        Err(error) => {
            let link = HomeLink {
                problem: Some(format!("this device's key: {error}")),
                ..HomeLink::default()
            };
            out.send(FromWorker::Link(link)).ok();
            return;
        }
    };
    let mut link = HomeLink::default();
    match data_dir::paired_home(&data_dir) {
        Ok(node) => link.node = node,
        Err(problem) => link.problem = Some(format!("the pairing file is damaged ({problem}); pair again")),
    }
    out.send(FromWorker::Link(link.clone())).ok();
    let mut device = Device {
        data_dir,
        keypair,
        node: None,
        connection: None,
        link,
    };
    while let Some((app, call)) = calls.recv().await {
        let reply = match call {
            HomeCall::Pair {
                address,
                code,
                device_name,
            } => device.pair(&address, code, device_name).await,
            HomeCall::Ask(request) => device.ask(request).await,
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

impl Device {
    async fn node(&mut self) -> Result<Node, String> {
        if let Some(node) = &self.node {
            return Ok(node.clone());
        }
        let node = Node::spawn(NodeConfig {
            keypair: self.keypair.clone(),
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

    async fn connect(&mut self, address: &HomeAddress) -> Result<HomeConnection, String> {
        if let Some(connection) = &self.connection {
            return Ok(connection.clone());
        }
        let node = self.node().await?;
        let connection = node
            .connect_home(address)
            .await
            .map_err(|error| error.to_string())?;
        self.connection = Some(connection.clone());
        Ok(connection)
    }

    async fn pair(&mut self, address: &str, code: String, device_name: String) -> HomeReply {
        let address: HomeAddress = match address.trim().trim_start_matches("home:").trim().parse() {
            Ok(address) => address,
            Err(error) => return HomeReply::Failed(error.to_string()),
        };
        if let Some(old) = self.connection.take() {
            old.close();
        }
        let connection = match self.connect(&address).await {
            Ok(connection) => connection,
            Err(error) => return HomeReply::Failed(error),
        };
        match connection.ask(&Request::Pair { code, device_name }).await {
            Ok(Response::Paired { node, .. }) => {
                if let Err(error) = data_dir::remember_home(&self.data_dir, &address) {
                    return HomeReply::Failed(format!("paired, but it could not be remembered: {error}"));
                }
                self.link = HomeLink {
                    node: Some(address),
                    online: true,
                    problem: None,
                };
                HomeReply::Paired {
                    node,
                    check: pairing_check(node, self.keypair.peer_id()),
                }
            }
            Ok(Response::Refused { detail, .. }) => HomeReply::Failed(format!("the node refused: {detail}")),
            Ok(_) => HomeReply::Failed("the node answered something else".into()),
            Err(error) => {
                self.connection = None;
                HomeReply::Failed(error.to_string())
            }
        }
    }

    async fn ask(&mut self, request: Request) -> HomeReply {
        let Some(address) = self.link.node.clone() else {
            return HomeReply::Failed("pair this device with your home node first".into());
        };
        // A dropped connection is made again once before the call fails.
        for attempt in 0..2 {
            let connection = match self.connect(&address).await {
                Ok(connection) => connection,
                Err(error) => {
                    self.link.online = false;
                    return HomeReply::Failed(format!("your home node does not answer: {error}"));
                }
            };
            match connection.ask(&request).await {
                Ok(response) => {
                    self.link.online = true;
                    return HomeReply::Answer {
                        request: Box::new(request),
                        response: Box::new(response),
                    };
                }
                Err(error) => {
                    self.connection = None;
                    if attempt == 1 {
                        self.link.online = false;
                        return HomeReply::Failed(format!("your home node does not answer: {error}"));
                    }
                }
            }
        }
        HomeReply::Failed("your home node does not answer".into())
    }
}
