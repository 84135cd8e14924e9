//! The personal server from the command line.
//!
//! - `serve`: runs a home node (its own key, database and files in its data folder),
//!   printing `home: <ADDRESS>`, `node: <KEY>` and a `pair: <CODE>` line, then one line
//!   per event (`paired:`, `friend-request:`, `friends:`, `received:`, `delivered:`,
//!   `refused:`). With `--host-world` it also keeps the person's world open (see
//!   [`keeper`]) and prints `world: <TICKET>`.
//! - `home <ACTION>`: a device talking to its node (pair first): everything the Home panel
//!   does, one command each (see [`HomeAction`]).
//! - `now-playing`: an example third-party app with its own key, which posts what the
//!   person listens to and needs only a wall-append grant.

mod archive;
mod keeper;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use sanctuary_net::home::HomeExport;
use sanctuary_net::{Home, HomeConnection, Node, NodeConfig, RelayChoice, Storage, data_dir};
use sanctuary_protocols::home::{
    Access, Audience, FriendState, Grant, HomeAddress, ItemBody, ItemId, Profile, Request, Response, Scope,
    Upload,
};
use sanctuary_protocols::{BlobHash, Keypair, PeerId};

/// Options of `serve`.
#[derive(clap::Args, Debug)]
pub struct ServeOptions {
    /// The node's data folder: its key, database and files.
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// The UDP address to listen on, e.g. 127.0.0.1:0 for this machine only.
    #[arg(long, value_name = "ADDR")]
    bind: Option<SocketAddr>,
    /// A self-hosted iroh relay, for friends' nodes that cannot reach this one directly.
    #[arg(long, value_name = "URL")]
    relay: Option<String>,
    /// The person's name, if the node has none yet.
    #[arg(long)]
    name: Option<String>,
    /// Most bytes of files the node keeps, in MiB.
    #[arg(long, value_name = "MIB", default_value_t = 4096)]
    quota_mib: u64,
    /// Stop after this many seconds (run until Ctrl-C if not given).
    #[arg(long, value_name = "SECONDS")]
    seconds: Option<u64>,
    /// Also keep the person's world open while their client is off: one keeper per space
    /// holds what was built there and tells newcomers what was said; prints
    /// `world: <TICKET>`.
    #[arg(long)]
    host_world: bool,
    /// The UDP address the world's ticket leads to (the first keeper's); any port of the
    /// `--bind` address if not given.
    #[arg(long, value_name = "ADDR", requires = "host_world")]
    world_bind: Option<SocketAddr>,
    /// The assets folder, for the world's spaces, spawn points and building rules.
    #[arg(long, value_name = "DIR", requires = "host_world")]
    assets: Option<PathBuf>,
    /// Also keep open, in the kept world's market, the stall of this data folder (its own
    /// key, wallet and listings, made with `market sell --data-dir DIR` while the node is
    /// stopped: the stall reads them when it starts): the person's listings can be found
    /// and bought while their client is off.
    #[arg(long, value_name = "DIR", requires = "host_world")]
    stall: Option<PathBuf>,
    /// The chain the stall checks payments on, as a JSON-RPC address (else the stall's
    /// configured network, else the local test chain).
    #[arg(long, value_name = "URL", requires = "stall")]
    rpc: Option<String>,
}

/// The default data folder of a home node.
fn default_node_dir() -> PathBuf {
    data_dir::default_data_dir().join("home-node")
}

/// Runs a home node until stopped.
pub async fn serve(options: ServeOptions) -> anyhow::Result<()> {
    let dir = options.data_dir.unwrap_or_else(default_node_dir);
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let keypair = data_dir::load_or_create_key(&dir).context("the node's key")?;
    let (storage, warning) = Storage::open(&dir.join("storage"), options.quota_mib << 20).await?;
    if let Some(warning) = warning {
        eprintln!("warning: {warning}");
    }
    let home = Home::open(&dir.join("home"), keypair.clone(), storage.clone())?;
    let node = Node::spawn(NodeConfig {
        keypair,
        relay: options.relay.map_or(RelayChoice::Disabled, RelayChoice::Url),
        local_discovery: false,
        bind_addr: options.bind,
        gossip_neighbours: None,
        storage: Some(storage.clone()),
        home: Some(home.clone()),
    })
    .await?;
    if let Some(name) = options.name {
        home.set_name_if_unset(&name)?;
    }
    let mut events = home.events();
    let address = home.address().context("the node has no address")?;
    let (code, _) = home.pairing_code()?;
    println!("home: {address}");
    println!("node: {}", home.id());
    println!(
        "pair: {code} (for {} minutes)",
        sanctuary_net::home::PAIRING_CODE_LIFETIME.as_secs() / 60
    );
    let keepers = match options.host_world {
        true => {
            let assets = crate::spaces::folder(options.assets);
            let bind = options
                .world_bind
                .or(options.bind.map(|bind| SocketAddr::new(bind.ip(), 0)));
            let keepers = keeper::start(&dir, &home.profile()?.name, &assets, bind).await?;
            println!("world: {}", keepers.ticket);
            Some(keepers)
        }
        false => None,
    };
    let (stop_stall, stall_stopped) = tokio::sync::watch::channel(false);
    let stall = match (&keepers, options.stall) {
        (Some(_), Some(stall_dir)) if stall_dir.starts_with(&dir) || dir.starts_with(&stall_dir) => {
            anyhow::bail!(
                "the stall's folder {} must be apart from the node's {}: it has a key, wallet and files of its own",
                stall_dir.display(),
                dir.display()
            );
        }
        (Some(keepers), Some(stall_dir)) => {
            let wallet = crate::wallet::WalletOptions {
                data_dir: Some(stall_dir.clone()),
                rpc: options.rpc,
                network: None,
            };
            let name = keeper::owned_name(&home.profile()?.name, "stall")?.to_string();
            let bind = options.bind.map(|bind| SocketAddr::new(bind.ip(), 0));
            let mut stopped = stall_stopped.clone();
            let done = async move {
                let _ = stopped.wait_for(|stop| *stop).await;
            };
            let ticket = keepers.ticket.to_string();
            Some(tokio::spawn(async move {
                if let Err(error) =
                    crate::market::keep_stall(stall_dir, ticket, bind, wallet, name, done).await
                {
                    eprintln!("the stall stopped: {error:#}");
                }
            }))
        }
        _ => None,
    };
    let stop = async {
        match options.seconds {
            Some(seconds) => tokio::time::sleep(Duration::from_secs(seconds)).await,
            None => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    };
    tokio::pin!(stop);
    loop {
        tokio::select! {
            () = &mut stop => break,
            event = events.recv() => match event {
                Ok(event) => println!("{event}"),
                Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => eprintln!("({n} events not shown)"),
                Err(_) => break,
            },
        }
    }
    stop_stall.send_replace(true);
    if let Some(stall) = stall {
        stall.await.ok();
    }
    if let Some(keepers) = keepers {
        keepers.stop().await;
    }
    node.shutdown().await;
    storage.shutdown().await;
    Ok(())
}

/// Options of `home`: which device speaks to which node.
#[derive(clap::Args, Debug)]
pub struct DeviceOptions {
    /// The device's data folder (the client's, by default): its key, and the node it paired
    /// with.
    #[arg(long, value_name = "DIR", global = true)]
    data_dir: Option<PathBuf>,
    /// The node's address (the `home:` line of `serve`); remembered after pairing.
    #[arg(long, value_name = "ADDRESS", global = true)]
    node: Option<String>,
    /// The UDP address to listen on, e.g. 127.0.0.1:0 for this machine only.
    #[arg(long, value_name = "ADDR", global = true)]
    bind: Option<SocketAddr>,
}

/// What `home` does.
#[derive(clap::Subcommand, Debug)]
pub enum HomeAction {
    /// Pair this device with the node, with the code it shows.
    Pair {
        /// The code (`pair:` line of `serve`, or `pair-code` from a paired device).
        code: String,
        /// What to call this device.
        #[arg(long, default_value = "device")]
        device_name: String,
    },
    /// Show the node and who this device is to it.
    Hello,
    /// Show the profile, or change it.
    Profile {
        /// A new name.
        #[arg(long)]
        name: Option<String>,
        /// A new bio.
        #[arg(long)]
        bio: Option<String>,
        /// A payment address to publish.
        #[arg(long)]
        pay_address: Option<String>,
    },
    /// Friends and requests.
    Friend {
        #[command(subcommand)]
        action: FriendAction,
    },
    /// Post on the wall.
    Post {
        /// What to say.
        text: String,
        /// A picture (up to four).
        #[arg(long, value_name = "FILE")]
        picture: Vec<PathBuf>,
        /// Only for the friends in this group.
        #[arg(long)]
        group: Option<String>,
    },
    /// Comment on a post (its id from `wall`).
    Comment {
        /// The post.
        post: String,
        /// What to say.
        text: String,
    },
    /// Like a post.
    Like {
        /// The post.
        post: String,
    },
    /// Take back one of your items, here and at friends' nodes.
    Delete {
        /// The item.
        item: String,
    },
    /// The wall: your posts and your friends', newest first.
    Wall {
        /// At most this many posts.
        #[arg(long, default_value_t = 20)]
        limit: u32,
    },
    /// The inbox, newest first.
    Inbox {
        /// At most this many entries.
        #[arg(long, default_value_t = 20)]
        limit: u32,
    },
    /// Files on the node.
    Files,
    /// Add a file to the node.
    AddFile {
        /// The file.
        file: PathBuf,
    },
    /// Fetch a file from the node.
    GetFile {
        /// Its hash.
        hash: String,
        /// Where to write it.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Paired devices.
    Devices,
    /// Unpair a device.
    RevokeDevice {
        /// Its key.
        device: String,
    },
    /// A new pairing code, for another device.
    PairCode,
    /// Let an app in: `--allow wall:append --allow files:read`.
    Grant {
        /// The app's key.
        app: String,
        /// What to call it.
        #[arg(long)]
        name: String,
        /// SCOPE:ACCESS (scopes: wall, contacts, files, inbox; access: read, append, write).
        #[arg(long, value_name = "SCOPE:ACCESS", required = true)]
        allow: Vec<String>,
        /// For how many days.
        #[arg(long, default_value_t = 30)]
        days: u64,
    },
    /// End an app's grant.
    Revoke {
        /// The app's key.
        app: String,
    },
    /// Grants given to apps.
    Grants,
    /// What apps asked for, newest first.
    AccessLog {
        /// At most this many entries.
        #[arg(long, default_value_t = 20)]
        limit: u32,
    },
    /// What the node holds and refused.
    Status,
    /// Export everything to a tar archive (home.json and the files).
    Export {
        /// The archive to write.
        file: PathBuf,
    },
    /// Import an export into the node.
    Import {
        /// The archive.
        file: PathBuf,
    },
    /// Delete everything on the node for good, and ask friends' nodes to delete your items.
    DeleteEverything {
        /// The node's key, to confirm.
        #[arg(long, value_name = "NODE")]
        confirm: String,
    },
}

/// What `home friend` does.
#[derive(clap::Subcommand, Debug)]
pub enum FriendAction {
    /// Ask someone for friendship, by their node's address.
    Add {
        /// Their address (the `home:` line of their node).
        address: String,
    },
    /// Accept a request.
    Accept {
        /// Their node's key.
        #[arg(value_name = "NODE")]
        friend: String,
    },
    /// End a friendship or turn a request down.
    Remove {
        /// Their node's key.
        #[arg(value_name = "NODE")]
        friend: String,
    },
    /// Put a friend in a group, or in none.
    Group {
        /// Their node's key.
        #[arg(value_name = "NODE")]
        friend: String,
        /// The group.
        group: Option<String>,
    },
    /// Friends and requests.
    List,
}

/// A device's session with its node.
struct Device {
    node: Node,
    connection: HomeConnection,
    address: HomeAddress,
}

impl Device {
    async fn open(options: &DeviceOptions, keypair: Keypair, dir: &Path) -> anyhow::Result<Self> {
        let address = match &options.node {
            Some(text) => parse_address(text)?,
            None => data_dir::paired_home(dir)
                .map_err(anyhow::Error::msg)?
                .context("no home node yet: pair with one first (--node ADDRESS)")?,
        };
        let node = Node::spawn(NodeConfig {
            keypair,
            relay: address
                .relay
                .clone()
                .map_or(RelayChoice::Disabled, RelayChoice::Url),
            local_discovery: false,
            bind_addr: options.bind,
            gossip_neighbours: None,
            storage: None,
            home: None,
        })
        .await?;
        let connection = node.connect_home(&address).await?;
        Ok(Self {
            node,
            connection,
            address,
        })
    }

    async fn ask(&self, request: &Request) -> anyhow::Result<Response> {
        Ok(self.connection.ask_ok(request).await?)
    }

    async fn close(self) {
        self.connection.close();
        self.node.shutdown().await;
    }
}

fn parse_address(text: &str) -> anyhow::Result<HomeAddress> {
    text.parse().map_err(|err| anyhow::anyhow!("{err}"))
}

fn parse_peer(text: &str) -> anyhow::Result<PeerId> {
    text.trim()
        .parse()
        .map_err(|err| anyhow::anyhow!("{text:?} is not a key: {err}"))
}

fn parse_item(text: &str) -> anyhow::Result<ItemId> {
    text.trim()
        .parse()
        .map_err(|err| anyhow::anyhow!("{text:?}: {err}"))
}

fn parse_allow(text: &str) -> anyhow::Result<(Scope, Access)> {
    let (scope, access) = text
        .split_once(':')
        .context("--allow takes SCOPE:ACCESS, e.g. wall:append")?;
    let scope = match scope {
        "wall" => Scope::Wall,
        "contacts" => Scope::Contacts,
        "files" => Scope::Files,
        "inbox" => Scope::Inbox,
        other => bail!("no scope {other:?} (wall, contacts, files, inbox)"),
    };
    let access = match access {
        "read" => Access::Read,
        "append" => Access::Append,
        "write" => Access::Write,
        other => bail!("no access {other:?} (read, append, write)"),
    };
    Ok((scope, access))
}

fn read_upload(path: &Path) -> anyhow::Result<Upload> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let name = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".into());
    Ok(Upload { name, bytes })
}

/// Runs one `home` action as this device.
pub async fn run(action: HomeAction, options: DeviceOptions) -> anyhow::Result<()> {
    let dir = options
        .data_dir
        .clone()
        .unwrap_or_else(data_dir::default_data_dir);
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let keypair = data_dir::load_or_create_key(&dir).context("this device's key")?;
    let me = keypair.peer_id();
    let device = Device::open(&options, keypair, &dir).await?;
    let result = act(&device, action, &dir, me).await;
    device.close().await;
    result
}

async fn act(device: &Device, action: HomeAction, dir: &Path, me: PeerId) -> anyhow::Result<()> {
    match action {
        HomeAction::Pair { code, device_name } => {
            let Response::Paired { node, name } = device.ask(&Request::Pair { code, device_name }).await?
            else {
                bail!("the node did not pair");
            };
            data_dir::remember_home(dir, &device.address).context("cannot remember the node")?;
            println!("paired with {node} ({name:?})");
            println!(
                "check: {} (the node shows the same)",
                sanctuary_net::home::pairing_check(node, me)
            );
        }
        HomeAction::Hello => {
            if let Response::Hello { node, name, you } = device.ask(&Request::Hello).await? {
                println!("node: {node} ({name:?}); you are {you:?} to it");
            }
        }
        HomeAction::Profile {
            name,
            bio,
            pay_address,
        } => {
            let Response::Profile(mut profile) = device.ask(&Request::GetProfile).await? else {
                bail!("no profile");
            };
            if name.is_some() || bio.is_some() || pay_address.is_some() {
                profile.name = name.unwrap_or(profile.name);
                profile.bio = bio.unwrap_or(profile.bio);
                profile.pay_address = pay_address.or(profile.pay_address);
                device.ask(&Request::SetProfile(profile.clone())).await?;
            }
            print_profile(&profile);
        }
        HomeAction::Friend { action } => friend(device, action).await?,
        HomeAction::Post { text, picture, group } => {
            let pictures = picture
                .iter()
                .map(|path| read_upload(path))
                .collect::<anyhow::Result<_>>()?;
            let audience = group.map_or(Audience::Friends, Audience::Group);
            if let Response::Posted(id) = device
                .ask(&Request::Post {
                    text,
                    audience,
                    pictures,
                })
                .await?
            {
                println!("posted: {id}");
            }
        }
        HomeAction::Comment { post, text } => {
            let post = parse_item(&post)?;
            if let Response::Posted(id) = device.ask(&Request::Comment { post, text }).await? {
                println!("commented: {id}");
            }
        }
        HomeAction::Like { post } => {
            let post = parse_item(&post)?;
            if let Response::Posted(id) = device.ask(&Request::Like { post }).await? {
                println!("liked: {id}");
            }
        }
        HomeAction::Delete { item } => {
            let item = parse_item(&item)?;
            device.ask(&Request::Delete { item }).await?;
            println!("deleted: {item}");
        }
        HomeAction::Wall { limit } => print_wall(device.ask(&Request::Wall { limit }).await?),
        HomeAction::Inbox { limit } => {
            if let Response::Inbox(entries) = device.ask(&Request::Inbox { limit }).await? {
                for entry in entries {
                    println!("inbox: {} {}", entry.at_ms, entry.text);
                }
            }
        }
        HomeAction::Files => {
            if let Response::Files(files) = device.ask(&Request::Files).await? {
                for file in files {
                    let state = if file.complete { "" } else { " (partial)" };
                    println!("file: {} {} {} bytes{state}", file.hash, file.name, file.size);
                }
            }
        }
        HomeAction::AddFile { file } => {
            if let Response::FileAdded(file) = device.ask(&Request::AddFile(read_upload(&file)?)).await? {
                println!("added: {} {} {} bytes", file.hash, file.name, file.size);
            }
        }
        HomeAction::GetFile { hash, out } => {
            let hash: BlobHash = hash.trim().parse()?;
            if let Response::File(bytes) = device.ask(&Request::ReadFile { hash }).await? {
                std::fs::write(&out, &bytes).with_context(|| format!("cannot write {}", out.display()))?;
                println!("wrote: {} ({} bytes)", out.display(), bytes.len());
            }
        }
        HomeAction::Devices => {
            if let Response::Devices(devices) = device.ask(&Request::Devices).await? {
                for entry in devices {
                    let state = entry.revoked_ms.map_or("paired", |_| "revoked");
                    let this = if entry.device == me { " (this device)" } else { "" };
                    println!("device: {} {:?} {state}{this}", entry.device, entry.name);
                }
            }
        }
        HomeAction::RevokeDevice { device: key } => {
            device
                .ask(&Request::RevokeDevice {
                    device: parse_peer(&key)?,
                })
                .await?;
            println!("revoked: {key}");
        }
        HomeAction::PairCode => {
            if let Response::PairingCode { code, .. } = device.ask(&Request::NewPairingCode).await? {
                println!("pair: {code}");
            }
        }
        HomeAction::Grant {
            app,
            name,
            allow,
            days,
        } => {
            let allowed = allow
                .iter()
                .map(|a| parse_allow(a))
                .collect::<anyhow::Result<_>>()?;
            let until_ms = now_ms() + days * 24 * 3600 * 1000;
            let grant = Grant {
                app: parse_peer(&app)?,
                name,
                allowed,
                until_ms,
            };
            device.ask(&Request::Grant(grant)).await?;
            println!("granted: {app}");
        }
        HomeAction::Revoke { app } => {
            device
                .ask(&Request::Revoke {
                    app: parse_peer(&app)?,
                })
                .await?;
            println!("revoked: {app}");
        }
        HomeAction::Grants => {
            if let Response::Grants(grants) = device.ask(&Request::Grants).await? {
                for grant in grants {
                    println!(
                        "grant: {} {:?} {:?} until {}",
                        grant.app, grant.name, grant.allowed, grant.until_ms
                    );
                }
            }
        }
        HomeAction::AccessLog { limit } => {
            if let Response::AccessLog(entries) = device.ask(&Request::AccessLog { limit }).await? {
                for entry in entries {
                    let verdict = if entry.allowed { "allowed" } else { "refused" };
                    println!("access: {} {} {} {verdict}", entry.at_ms, entry.app, entry.what);
                }
            }
        }
        HomeAction::Status => {
            if let Response::Status(status) = device.ask(&Request::Status).await? {
                println!("node: {}", status.node);
                println!("own-items: {}", status.own_items);
                println!("friends-items: {}", status.friends_items);
                println!("friends: {}", status.friends);
                println!("outbox: {}", status.outbox);
                for (reason, count) in status.refused {
                    println!("refused: {reason:?} {count}");
                }
            }
        }
        HomeAction::Export { file } => export(device, &file).await?,
        HomeAction::Import { file } => import(device, &file).await?,
        HomeAction::DeleteEverything { confirm } => {
            device
                .ask(&Request::DeleteEverything {
                    node: parse_peer(&confirm)?,
                })
                .await?;
            println!("deleted everything on {confirm}");
        }
    }
    Ok(())
}

async fn friend(device: &Device, action: FriendAction) -> anyhow::Result<()> {
    match action {
        FriendAction::Add { address } => {
            let address = parse_address(&address)?;
            device
                .ask(&Request::AddFriend {
                    address: address.clone(),
                })
                .await?;
            println!("asked: {}", address.node);
        }
        FriendAction::Accept { friend } => {
            device
                .ask(&Request::AcceptFriend {
                    node: parse_peer(&friend)?,
                })
                .await?;
            println!("accepted: {friend}");
        }
        FriendAction::Remove { friend } => {
            device
                .ask(&Request::RemoveFriend {
                    node: parse_peer(&friend)?,
                })
                .await?;
            println!("removed: {friend}");
        }
        FriendAction::Group { friend, group } => {
            device
                .ask(&Request::SetGroup {
                    node: parse_peer(&friend)?,
                    group,
                })
                .await?;
            println!("grouped: {friend}");
        }
        FriendAction::List => {
            if let Response::Friends(friends) = device.ask(&Request::Friends).await? {
                for friend in friends {
                    let state = match friend.state {
                        FriendState::Friends => "friends",
                        FriendState::Asked => "asked",
                        FriendState::AskedUs => "asks-you",
                    };
                    let group = friend.group.map(|g| format!(" group {g:?}")).unwrap_or_default();
                    println!(
                        "friend: {} {:?} {state}{group} waiting {}",
                        friend.node, friend.name, friend.waiting
                    );
                }
            }
        }
    }
    Ok(())
}

fn print_profile(profile: &Profile) {
    println!("name: {:?}", profile.name);
    println!("bio: {:?}", profile.bio);
    if let Some(address) = &profile.pay_address {
        println!("pay-address: {address}");
    }
}

fn print_wall(response: Response) {
    let Response::Wall(posts) = response else {
        return;
    };
    for entry in posts {
        let item = &entry.post.item;
        let ItemBody::Post { text, pictures, .. } = &item.body else {
            continue;
        };
        println!(
            "post: {} at {}: {}",
            item.id,
            item.created_ms,
            text.replace('\n', " / ")
        );
        for (picture, held) in pictures.iter().zip(&entry.pictures_held) {
            let state = if *held { "held" } else { "fetching" };
            println!(
                "  picture: {} {} {} bytes {state}",
                picture.hash, picture.name, picture.size
            );
        }
        for comment in &entry.comments {
            if let ItemBody::Comment { text, .. } = &comment.item.body {
                println!(
                    "  comment: {} by {}: {}",
                    comment.id(),
                    comment.item.id.author,
                    text.replace('\n', " / ")
                );
            }
        }
        if !entry.likes.is_empty() {
            println!("  likes: {}", entry.likes.len());
        }
    }
}

async fn export(device: &Device, file: &Path) -> anyhow::Result<()> {
    let Response::Export(json) = device.ask(&Request::Export).await? else {
        bail!("the node sent no export");
    };
    let export: HomeExport = serde_json::from_str(&json).context("the node's export")?;
    let mut archive = Vec::new();
    archive::append(&mut archive, "home.json", json.as_bytes())?;
    for entry in export.files.iter().filter(|f| f.complete) {
        let Response::File(bytes) = device.ask(&Request::ReadFile { hash: entry.hash }).await? else {
            bail!("the node did not send {}", entry.hash);
        };
        archive::append(&mut archive, &format!("files/{}", entry.hash), &bytes)?;
    }
    archive::finish(&mut archive);
    write_atomically(file, &archive)?;
    println!(
        "exported: {} items, {} friends, {} files to {}",
        export.items.len(),
        export.friends.len(),
        export.files.len(),
        file.display()
    );
    Ok(())
}

async fn import(device: &Device, file: &Path) -> anyhow::Result<()> {
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let entries = archive::read(&bytes).with_context(|| format!("{} is not an export", file.display()))?;
    let json = entries
        .iter()
        .find(|(name, _)| name == "home.json")
        .map(|(_, bytes)| String::from_utf8_lossy(bytes).into_owned())
        .context("the archive has no home.json")?;
    let export: HomeExport = serde_json::from_str(&json).context("home.json")?;
    let mut files = 0;
    for listed in &export.files {
        let Some((_, bytes)) = entries
            .iter()
            .find(|(name, _)| *name == format!("files/{}", listed.hash))
        else {
            continue;
        };
        let Response::FileAdded(added) = device
            .ask(&Request::AddFile(Upload {
                name: listed.name.clone(),
                bytes: bytes.clone(),
            }))
            .await?
        else {
            bail!("the node did not take {}", listed.name);
        };
        if added.hash != listed.hash {
            bail!(
                "files/{} in the archive is damaged (its bytes hash to {})",
                listed.hash,
                added.hash
            );
        }
        files += 1;
    }
    device.ask(&Request::Import { json }).await?;
    println!(
        "imported: {} items, {} friends, {files} files",
        export.items.len(),
        export.friends.len()
    );
    Ok(())
}

fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let partial = path.with_extension("partial");
    std::fs::write(&partial, bytes).with_context(|| format!("cannot write {}", partial.display()))?;
    std::fs::rename(&partial, path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Options of the example app.
#[derive(clap::Args, Debug)]
pub struct NowPlayingOptions {
    /// The app's own folder (its key).
    #[arg(long, value_name = "DIR")]
    app_dir: PathBuf,
    /// The person's node (their `home:` line).
    #[arg(long, value_name = "ADDRESS")]
    node: Option<String>,
    /// Only print the app's key (what the person grants).
    #[arg(long)]
    key: bool,
    /// Also list what the wall says (needs wall read, which the app does not ask for: it
    /// shows the refusal).
    #[arg(long)]
    read_wall: bool,
    /// What is playing.
    text: Option<String>,
}

/// The example app: posts "now playing" to the person's wall with its own key, within
/// its grant (wall append), and nothing else.
pub async fn now_playing(options: NowPlayingOptions) -> anyhow::Result<()> {
    std::fs::create_dir_all(&options.app_dir)?;
    let keypair = data_dir::load_or_create_key(&options.app_dir).context("the app's key")?;
    if options.key {
        println!("app: {}", keypair.peer_id());
        return Ok(());
    }
    let node = options
        .node
        .as_deref()
        .context("--node ADDRESS: the person's node")?;
    let device_options = DeviceOptions {
        data_dir: None,
        node: Some(node.to_owned()),
        bind: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
    };
    let app = Device::open(&device_options, keypair, &options.app_dir).await?;
    let result = async {
        if let Some(text) = options.text {
            let request = Request::Post {
                text: format!("♪ now playing: {text}"),
                audience: Audience::Friends,
                pictures: Vec::new(),
            };
            if let Response::Posted(id) = app.ask(&request).await? {
                println!("posted: {id}");
            }
        }
        if options.read_wall {
            print_wall(app.ask(&Request::Wall { limit: 5 }).await?);
        }
        anyhow::Ok(())
    }
    .await;
    app.close().await;
    result
}
