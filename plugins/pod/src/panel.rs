//! The Home panel, and the systems that carry out what the person does there.

use std::collections::HashMap;

use bevy::prelude::*;
use sanctuary_plugin_api::prelude::*;
use sanctuary_plugin_api::{AppMessages, HomeCall, HomeNode, HomeReply, PeerId, WorldView};
use sanctuary_protocols::home::{
    Access, AccessEntry, Audience, DeviceView, FileView, FriendOffer, FriendState, FriendView, Grant,
    HomeAddress, InboxEntry, ItemBody, ItemId, Request, Response, Scope, WallPost,
};

use crate::HomeApp;

/// How often the wall, friends and inbox are asked for again, in seconds, while the device
/// is paired.
pub const REFRESH_EVERY: f64 = 10.0;
/// Posts, inbox entries and log entries asked for at once.
const PAGE: u32 = 50;
/// How long a grant given from the panel lasts, in days.
const GRANT_DAYS: u64 = 30;
/// Most people asked to be friends in the world, waiting for their answer.
const OFFERED_MAX: usize = 64;
/// Most offers from people in the world waiting for the person's answer.
const OFFERS_MAX: usize = 32;

/// The panel's pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HomeTab {
    /// Posts, with comments and likes, and a box to post.
    #[default]
    Wall,
    /// Friends and requests.
    Friends,
    /// What happened.
    Inbox,
    /// Files on the node.
    Files,
    /// Paired devices.
    Devices,
    /// Apps let in, and what they asked.
    Apps,
}

impl HomeTab {
    const ALL: [HomeTab; 6] = [
        Self::Wall,
        Self::Friends,
        Self::Inbox,
        Self::Files,
        Self::Devices,
        Self::Apps,
    ];

    fn title(self) -> &'static str {
        match self {
            Self::Wall => "Wall",
            Self::Friends => "Friends",
            Self::Inbox => "Inbox",
            Self::Files => "Files",
            Self::Devices => "Devices",
            Self::Apps => "Apps",
        }
    }

    /// What this page shows, asked of the node.
    fn requests(self) -> Vec<Request> {
        match self {
            Self::Wall => vec![Request::Wall { limit: PAGE }, Request::Friends],
            Self::Friends => vec![Request::Friends],
            Self::Inbox => vec![Request::Inbox { limit: PAGE }],
            Self::Files => vec![Request::Files],
            Self::Devices => vec![Request::Devices],
            Self::Apps => vec![Request::Grants, Request::AccessLog { limit: PAGE }],
        }
    }
}

/// Something the person does in the Home panel (or a test does for them).
#[derive(Message, Debug, Clone, PartialEq, Eq)]
pub enum HomeAction {
    /// Pair this device with a node.
    Pair {
        /// The node's address (its `home:` line).
        address: String,
        /// The code it shows.
        code: String,
    },
    /// Ask the node something.
    Ask(Request),
    /// Ask again for what the open page shows.
    Refresh,
    /// Offer friendship to someone in the world: their Home app shows it, and if they
    /// accept, both nodes ask each other.
    OfferFriendship(PeerId),
    /// Answer an offer from someone in the world.
    AnswerOffer {
        /// Who offered.
        peer: PeerId,
        /// Yes or no.
        accept: bool,
    },
}

/// What the panel shows: the node's latest answers and the person's drafts.
#[derive(Resource, Debug, Default)]
pub struct HomePanel {
    /// The open page.
    pub tab: HomeTab,
    /// The pairing form.
    pub pair_address: String,
    /// The pairing form's code.
    pub pair_code: String,
    /// The check shown after pairing (the node shows the same).
    pub check: Option<String>,
    /// The post being written.
    pub draft: String,
    /// Comments being written, by post.
    pub comments: HashMap<ItemId, String>,
    /// The friend-request box.
    pub friend_address: String,
    /// The grant form: the app's key and name, and what it may do.
    pub grant_app: String,
    /// The grant form's name.
    pub grant_name: String,
    /// The grant form's choices.
    pub grant_allow: Vec<(Scope, Access)>,
    /// The wall, newest first.
    pub wall: Vec<WallPost>,
    /// Friends and requests.
    pub friends: Vec<FriendView>,
    /// The inbox, newest first.
    pub inbox: Vec<InboxEntry>,
    /// Files.
    pub files: Vec<FileView>,
    /// Devices.
    pub devices: Vec<DeviceView>,
    /// Grants.
    pub grants: Vec<Grant>,
    /// Apps' requests, newest first.
    pub access: Vec<AccessEntry>,
    /// The latest outcome, in one line, and whether it is a problem.
    pub message: Option<(String, bool)>,
    /// When the page was last asked for (seconds of app time); `None` asks at once.
    pub refreshed_at: Option<f64>,
    /// People in the world asked to be friends, until they answer.
    pub offered: Vec<PeerId>,
    /// Offers from people in the world, with their node's address, until answered.
    pub offers: Vec<(PeerId, HomeAddress)>,
    /// People whose offer the person declined: their offers are not shown again this
    /// session (at most [`OFFERS_MAX`]).
    pub declined: Vec<PeerId>,
}

impl HomePanel {
    fn say(&mut self, text: impl Into<String>) {
        self.message = Some((text.into(), false));
    }

    fn complain(&mut self, text: impl Into<String>) {
        self.message = Some((text.into(), true));
    }

    /// Empties the post box if it still holds `sent` (not something typed since).
    fn clear_draft(&mut self, sent: &str) {
        if self.draft.trim() == sent.trim() {
            self.draft.clear();
        }
    }

    /// Empties `post`'s comment box if it still holds `sent`.
    fn clear_comment(&mut self, post: ItemId, sent: &str) {
        if self
            .comments
            .get(&post)
            .is_some_and(|draft| draft.trim() == sent.trim())
        {
            self.comments.remove(&post);
        }
    }

    /// Empties the friend box if it still holds `sent`.
    fn clear_friend_address(&mut self, sent: &HomeAddress) {
        if self.friend_address.parse::<HomeAddress>().ok().as_ref() == Some(sent) {
            self.friend_address.clear();
        }
    }

    /// A person's name, from the friends list, or the start of their key.
    pub fn name_of(&self, node: PeerId) -> String {
        self.friends
            .iter()
            .find(|friend| friend.node == node)
            .map(|friend| friend.name.clone())
            .filter(|name| !name.is_empty())
            .unwrap_or_else(|| node.to_string()[..8].to_owned())
    }
}

/// Carries out the person's actions.
pub fn act(
    mut actions: MessageReader<HomeAction>,
    mut home: HomeNode<HomeApp>,
    mut messages: AppMessages<HomeApp>,
    view: Res<WorldView>,
    mut panel: ResMut<HomePanel>,
) {
    for action in actions.read() {
        let calls = match action {
            HomeAction::OfferFriendship(peer) => {
                offer_friendship(*peer, &home, &mut messages, &view, &mut panel);
                continue;
            }
            HomeAction::AnswerOffer { peer, accept } => {
                match answer_offer(*peer, *accept, &home, &mut messages, &view, &mut panel) {
                    Some(address) => vec![HomeCall::Ask(Request::AddFriend { address })],
                    None => continue,
                }
            }
            HomeAction::Pair { address, code } => vec![HomeCall::Pair {
                address: address.trim().to_owned(),
                code: code.trim().to_owned(),
                device_name: "Sanctuary client".into(),
            }],
            HomeAction::Ask(request) => vec![HomeCall::Ask(request.clone())],
            HomeAction::Refresh => panel.tab.requests().into_iter().map(HomeCall::Ask).collect(),
        };
        for call in calls {
            if let Err(error) = home.call(call) {
                panel.complain(error.to_string());
                break;
            }
        }
    }
}

/// This device's node, to tell people met in the world.
fn own_address(home: &HomeNode<HomeApp>) -> Option<HomeAddress> {
    home.link().ok().and_then(|link| link.node.clone())
}

fn offer_friendship(
    peer: PeerId,
    home: &HomeNode<HomeApp>,
    messages: &mut AppMessages<HomeApp>,
    view: &WorldView,
    panel: &mut HomePanel,
) {
    let Some(mine) = own_address(home) else {
        panel.complain("pair this device with your home node first");
        return;
    };
    if let Err(error) = messages.send_to(peer, FriendOffer::Offer(mine).encode()) {
        panel.complain(error.to_string());
        return;
    }
    panel.offered.retain(|asked| *asked != peer);
    if panel.offered.len() >= OFFERED_MAX {
        panel.offered.remove(0);
    }
    panel.offered.push(peer);
    panel.say(format!(
        "asked {}: their Home panel shows it",
        view.name_of(&peer)
    ));
}

/// Answers `peer`'s offer; on yes, tells them this device's node and returns theirs, to
/// ask.
fn answer_offer(
    peer: PeerId,
    accept: bool,
    home: &HomeNode<HomeApp>,
    messages: &mut AppMessages<HomeApp>,
    view: &WorldView,
    panel: &mut HomePanel,
) -> Option<HomeAddress> {
    let at = panel.offers.iter().position(|(from, _)| *from == peer)?;
    if !accept {
        panel.offers.remove(at);
        if panel.declined.len() >= OFFERS_MAX {
            panel.declined.remove(0);
        }
        panel.declined.push(peer);
        // Telling them is a courtesy: if it does not go, their offer simply stays unanswered.
        if let Err(error) = messages.send_to(peer, FriendOffer::Decline.encode()) {
            debug!("a declined offer was not told: {error}");
        }
        return None;
    }
    let Some(mine) = own_address(home) else {
        panel.complain("pair this device with your home node first");
        return None;
    };
    if let Err(error) = messages.send_to(peer, FriendOffer::Accept(mine).encode()) {
        panel.complain(error.to_string());
        return None;
    }
    let (_, address) = panel.offers.remove(at);
    panel.say(format!("you and {} ask each other's nodes", view.name_of(&peer)));
    Some(address)
}

/// Takes offers and answers from people in the world. An answer is taken only from
/// someone this person asked; anything that does not read is dropped.
pub fn take_offers(
    mut messages: AppMessages<HomeApp>,
    mut home: HomeNode<HomeApp>,
    view: Res<WorldView>,
    mut panel: ResMut<HomePanel>,
) {
    for message in messages.read() {
        let Ok(offer) = FriendOffer::decode(&message.bytes) else {
            continue;
        };
        let name = view.name_of(&message.from);
        match offer {
            FriendOffer::Offer(_) if panel.declined.contains(&message.from) => {
                // Said no to already: not asked again this session.
            }
            FriendOffer::Offer(address) => {
                panel.offers.retain(|(from, _)| *from != message.from);
                if panel.offers.len() >= OFFERS_MAX {
                    panel.offers.remove(0);
                }
                panel.offers.push((message.from, address));
                panel.say(format!("{name} would like to be friends (see Friends)"));
            }
            FriendOffer::Accept(address) => {
                if !panel.offered.contains(&message.from) {
                    continue;
                }
                panel.offered.retain(|asked| *asked != message.from);
                match home.call(HomeCall::Ask(Request::AddFriend { address })) {
                    Ok(()) => panel.say(format!("{name} said yes: your nodes ask each other")),
                    Err(error) => panel.complain(error.to_string()),
                }
            }
            FriendOffer::Decline => {
                if panel.offered.contains(&message.from) {
                    panel.offered.retain(|asked| *asked != message.from);
                    panel.say(format!("{name} said no, thank you"));
                }
            }
        }
    }
}

/// Puts a button beside each person in the People panel while this device is paired: "Be
/// friends", "Asked to be friends" (greyed) once asked, or "Accept friendship" when they
/// asked; a click does what the Friends page would.
pub fn person_buttons(
    view: Res<WorldView>,
    home: HomeNode<HomeApp>,
    panel: Res<HomePanel>,
    mut buttons: PersonButtons<HomeApp>,
    mut actions: MessageWriter<HomeAction>,
) {
    for peer in buttons.clicked() {
        if panel.offers.iter().any(|(from, _)| *from == peer) {
            actions.write(HomeAction::AnswerOffer { peer, accept: true });
        } else if !panel.offered.contains(&peer) {
            actions.write(HomeAction::OfferFriendship(peer));
        }
    }
    if own_address(&home).is_none() {
        buttons.retain(|_| false);
        return;
    }
    buttons.retain(|peer| view.people.iter().any(|person| person.id == peer));
    for person in &view.people {
        let (label, enabled) = if panel.offers.iter().any(|(from, _)| *from == person.id) {
            ("Accept friendship", true)
        } else if panel.offered.contains(&person.id) {
            ("Asked to be friends", false)
        } else {
            ("Be friends", true)
        };
        if buttons.show(person.id, label, enabled).is_err() {
            // Not allowed to draw, or as many buttons as an app may show: the rest wait.
            break;
        }
    }
}

/// Asks for the open page now and then while the device is paired.
pub fn refresh(time: Res<Time>, mut home: HomeNode<HomeApp>, mut panel: ResMut<HomePanel>) {
    let paired = home.link().is_ok_and(|link| link.node.is_some());
    let now = time.elapsed_secs_f64();
    if !paired || panel.refreshed_at.is_some_and(|at| now - at < REFRESH_EVERY) {
        return;
    }
    panel.refreshed_at = Some(now);
    for request in panel.tab.requests() {
        if home.call(HomeCall::Ask(request)).is_err() {
            return;
        }
    }
}

/// Takes the node's answers into the panel.
pub fn take_replies(mut home: HomeNode<HomeApp>, mut panel: ResMut<HomePanel>) {
    for reply in home.replies() {
        match reply {
            HomeReply::Paired { node, check } => {
                panel.pair_code.clear();
                panel.check = Some(check.clone());
                panel.refreshed_at = None;
                panel.say(format!(
                    "paired with {}: the node shows check {check} too",
                    &node.to_string()[..8]
                ));
            }
            HomeReply::Failed(error) => panel.complain(error),
            HomeReply::Answer { request, response } => take_answer(&mut panel, *request, *response),
            HomeReply::Saved {
                request,
                response,
                saved_ms,
            } => {
                take_answer(&mut panel, *request, *response);
                panel.complain(format!(
                    "your home node does not answer: this is what it said {}",
                    how_long_ago(now_ms().saturating_sub(saved_ms))
                ));
            }
            HomeReply::Kept { request, waiting } => {
                match *request {
                    Request::Post { text, .. } => panel.clear_draft(&text),
                    Request::Comment { post, text } => panel.clear_comment(post, &text),
                    Request::AddFriend { address } => panel.clear_friend_address(&address),
                    _ => {}
                }
                panel.complain(format!(
                    "your home node does not answer: kept on this device, it goes there when the node \
                     answers ({waiting} waiting)"
                ));
            }
        }
    }
}

fn take_answer(panel: &mut HomePanel, request: Request, response: Response) {
    match response {
        Response::Wall(posts) => panel.wall = posts,
        Response::Friends(friends) => panel.friends = friends,
        Response::Inbox(entries) => panel.inbox = entries,
        Response::Files(files) => panel.files = files,
        Response::Devices(devices) => panel.devices = devices,
        Response::Grants(grants) => panel.grants = grants,
        Response::AccessLog(entries) => panel.access = entries,
        Response::Refused { detail, .. } => panel.complain(format!("refused: {detail}")),
        Response::Posted(id) => {
            match request {
                Request::Post { text, .. } => {
                    panel.clear_draft(&text);
                    panel.say("posted");
                }
                Request::Comment { post, text } => {
                    panel.clear_comment(post, &text);
                    panel.say("commented");
                }
                Request::Like { .. } => panel.say("liked"),
                _ => panel.say(format!("done: {id}")),
            }
            panel.refreshed_at = None;
        }
        Response::Done => {
            let said = match request {
                Request::AddFriend { address } => {
                    panel.clear_friend_address(&address);
                    "asked: they see your request on their node"
                }
                Request::AcceptFriend { .. } => "you are friends now",
                Request::RemoveFriend { .. } => "removed",
                Request::RevokeDevice { .. } => "that device is refused from now on",
                Request::Grant(_) => {
                    panel.grant_app.clear();
                    panel.grant_name.clear();
                    "the app may do what you chose"
                }
                Request::Revoke { .. } => "that app is refused from now on",
                _ => "done",
            };
            panel.say(said);
            panel.refreshed_at = None;
        }
        _ => {}
    }
}

/// "just now", "5 minutes ago", "3 hours ago", "2 days ago".
fn how_long_ago(ms: u64) -> String {
    let minutes = ms / 60_000;
    match minutes {
        0 => "just now".into(),
        1..60 => format!("{minutes} minute{} ago", plural(minutes)),
        60..1440 => format!("{} hour{} ago", minutes / 60, plural(minutes / 60)),
        _ => format!("{} day{} ago", minutes / 1440, plural(minutes / 1440)),
    }
}

fn plural(n: u64) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Draws the panel.
pub fn draw(
    InMut(ui): InMut<egui::Ui>,
    mut panel: ResMut<HomePanel>,
    home: HomeNode<HomeApp>,
    view: Res<WorldView>,
    mut actions: MessageWriter<HomeAction>,
) {
    let link = match home.link() {
        Ok(link) => link.clone(),
        Err(error) => {
            ui.label(error.to_string());
            return;
        }
    };
    if let Some(problem) = &link.problem {
        ui.colored_label(egui::Color32::from_rgb(240, 170, 90), problem);
    }
    let Some(node) = &link.node else {
        draw_pairing(ui, &mut panel, &mut actions);
        return;
    };
    ui.horizontal(|ui| {
        let state = if link.online {
            "online"
        } else {
            "not answering: showing what it last said"
        };
        ui.label(format!("Your home node {}: {state}", &node.node.to_string()[..8]));
        if link.waiting > 0 {
            ui.colored_label(
                egui::Color32::from_rgb(240, 170, 90),
                format!("{} change{} waiting", link.waiting, plural(link.waiting as u64)),
            );
        }
        if ui.button("Refresh").clicked() {
            actions.write(HomeAction::Refresh);
        }
    });
    ui.horizontal(|ui| {
        for tab in HomeTab::ALL {
            if ui.selectable_label(panel.tab == tab, tab.title()).clicked() && panel.tab != tab {
                panel.tab = tab;
                panel.refreshed_at = None;
            }
        }
    });
    if let Some((text, problem)) = &panel.message {
        let color = if *problem {
            egui::Color32::from_rgb(240, 170, 90)
        } else {
            egui::Color32::from_rgb(150, 210, 150)
        };
        ui.colored_label(color, text);
    }
    ui.separator();
    egui::ScrollArea::vertical()
        .max_height(380.0)
        .show(ui, |ui| match panel.tab {
            HomeTab::Wall => draw_wall(ui, &mut panel, &mut actions),
            HomeTab::Friends => draw_friends(ui, &mut panel, &view, &mut actions),
            HomeTab::Inbox => {
                for entry in &panel.inbox {
                    ui.label(&entry.text);
                }
            }
            HomeTab::Files => {
                for file in &panel.files {
                    let state = if file.complete { "" } else { " (partial)" };
                    ui.label(format!("{}  {} bytes{state}", file.name, file.size))
                        .on_hover_text(file.hash.to_string());
                }
            }
            HomeTab::Devices => {
                for device in panel.devices.clone() {
                    ui.horizontal(|ui| {
                        let state = if device.revoked_ms.is_some() {
                            "revoked"
                        } else {
                            "paired"
                        };
                        ui.label(format!("{} ({state})", device.name))
                            .on_hover_text(device.device.to_string());
                        if device.revoked_ms.is_none() && ui.button("Revoke").clicked() {
                            actions.write(HomeAction::Ask(Request::RevokeDevice {
                                device: device.device,
                            }));
                        }
                    });
                }
                if ui.button("New pairing code").clicked() {
                    actions.write(HomeAction::Ask(Request::NewPairingCode));
                }
            }
            HomeTab::Apps => draw_apps(ui, &mut panel, &mut actions),
        });
}

fn draw_pairing(ui: &mut egui::Ui, panel: &mut HomePanel, actions: &mut MessageWriter<HomeAction>) {
    ui.label("Pair this device with your home node (`sanctuary-node serve` prints both lines).");
    ui.horizontal(|ui| {
        ui.label("Address:");
        ui.add(
            egui::TextEdit::singleline(&mut panel.pair_address)
                .hint_text("sanctuaryhome1…")
                .desired_width(320.0),
        );
    });
    ui.horizontal(|ui| {
        ui.label("Code:");
        ui.add(
            egui::TextEdit::singleline(&mut panel.pair_code)
                .hint_text("123-456-789")
                .desired_width(120.0),
        );
        if ui.button("Pair").clicked() {
            actions.write(HomeAction::Pair {
                address: panel.pair_address.clone(),
                code: panel.pair_code.clone(),
            });
        }
    });
    if let Some((text, problem)) = &panel.message
        && *problem
    {
        ui.colored_label(egui::Color32::from_rgb(240, 170, 90), text);
    }
}

fn draw_wall(ui: &mut egui::Ui, panel: &mut HomePanel, actions: &mut MessageWriter<HomeAction>) {
    ui.horizontal(|ui| {
        ui.add(
            egui::TextEdit::multiline(&mut panel.draft)
                .hint_text("Say something to your friends")
                .desired_rows(2),
        );
        if ui.button("Post").clicked() && !panel.draft.trim().is_empty() {
            actions.write(HomeAction::Ask(Request::Post {
                text: panel.draft.trim().to_owned(),
                audience: Audience::Friends,
                pictures: Vec::new(),
            }));
        }
    });
    for entry in panel.wall.clone() {
        let item = &entry.post.item;
        let ItemBody::Post { text, pictures, .. } = &item.body else {
            continue;
        };
        ui.separator();
        ui.strong(panel.name_of(item.id.author));
        ui.label(text);
        for (picture, held) in pictures.iter().zip(&entry.pictures_held) {
            let state = if *held { "" } else { " (on its way)" };
            ui.label(format!("picture: {}{state}", picture.name));
        }
        for comment in &entry.comments {
            if let ItemBody::Comment { text, .. } = &comment.item.body {
                ui.label(format!("  {}: {text}", panel.name_of(comment.item.id.author)));
            }
        }
        ui.horizontal(|ui| {
            if ui.button(format!("Like ({})", entry.likes.len())).clicked() {
                actions.write(HomeAction::Ask(Request::Like { post: item.id }));
            }
            let draft = panel.comments.entry(item.id).or_default();
            ui.add(
                egui::TextEdit::singleline(draft)
                    .hint_text("comment")
                    .desired_width(220.0),
            );
            if ui.button("Comment").clicked() && !draft.trim().is_empty() {
                actions.write(HomeAction::Ask(Request::Comment {
                    post: item.id,
                    text: draft.trim().to_owned(),
                }));
            }
        });
    }
}

fn draw_friends(
    ui: &mut egui::Ui,
    panel: &mut HomePanel,
    view: &WorldView,
    actions: &mut MessageWriter<HomeAction>,
) {
    ui.horizontal(|ui| {
        ui.add(
            egui::TextEdit::singleline(&mut panel.friend_address)
                .hint_text("their home address")
                .desired_width(300.0),
        );
        if ui.button("Ask").clicked() {
            match panel.friend_address.parse() {
                Ok(address) => {
                    actions.write(HomeAction::Ask(Request::AddFriend { address }));
                }
                Err(error) => panel.complain(format!("{error}")),
            }
        }
    });
    for friend in &panel.friends {
        ui.horizontal(|ui| {
            let state = match friend.state {
                FriendState::Friends => "friends",
                FriendState::Asked => "asked",
                FriendState::AskedUs => "asks you",
            };
            ui.label(format!("{} ({state})", panel.name_of(friend.node)))
                .on_hover_text(friend.node.to_string());
            if friend.state == FriendState::AskedUs && ui.button("Accept").clicked() {
                actions.write(HomeAction::Ask(Request::AcceptFriend { node: friend.node }));
            }
            if ui.button("Remove").clicked() {
                actions.write(HomeAction::Ask(Request::RemoveFriend { node: friend.node }));
            }
        });
    }
    if !panel.offers.is_empty() {
        ui.separator();
        ui.label("Asking you, here in the world:");
        for (peer, _) in &panel.offers {
            let peer = *peer;
            ui.horizontal(|ui| {
                ui.label(format!("{} would like to be friends", view.name_of(&peer)));
                if ui.button("Accept").clicked() {
                    actions.write(HomeAction::AnswerOffer { peer, accept: true });
                }
                if ui.button("No").clicked() {
                    actions.write(HomeAction::AnswerOffer { peer, accept: false });
                }
            });
        }
    }
    if !view.people.is_empty() {
        ui.weak("To befriend someone here, click \"Be friends\" beside them in the People panel.");
    }
}

fn draw_apps(ui: &mut egui::Ui, panel: &mut HomePanel, actions: &mut MessageWriter<HomeAction>) {
    for grant in panel.grants.clone() {
        ui.horizontal(|ui| {
            let allowed: Vec<String> = grant
                .allowed
                .iter()
                .map(|(s, a)| format!("{s:?} {a:?}"))
                .collect();
            ui.label(format!("{}: {}", grant.name, allowed.join(", ")))
                .on_hover_text(grant.app.to_string());
            if ui.button("Revoke").clicked() {
                actions.write(HomeAction::Ask(Request::Revoke { app: grant.app }));
            }
        });
    }
    ui.separator();
    ui.label("Let an app in:");
    ui.horizontal(|ui| {
        ui.add(
            egui::TextEdit::singleline(&mut panel.grant_app)
                .hint_text("its key")
                .desired_width(260.0),
        );
        ui.add(
            egui::TextEdit::singleline(&mut panel.grant_name)
                .hint_text("its name")
                .desired_width(120.0),
        );
    });
    ui.horizontal(|ui| {
        for scope in [Scope::Wall, Scope::Contacts, Scope::Files, Scope::Inbox] {
            for access in [Access::Read, Access::Append] {
                let mut on = panel.grant_allow.contains(&(scope, access));
                if ui.checkbox(&mut on, format!("{scope:?} {access:?}")).changed() {
                    panel.grant_allow.retain(|chosen| *chosen != (scope, access));
                    if on {
                        panel.grant_allow.push((scope, access));
                    }
                }
            }
        }
    });
    if ui.button("Grant").clicked() {
        match panel.grant_app.trim().parse::<PeerId>() {
            Ok(app) if !panel.grant_allow.is_empty() => {
                actions.write(HomeAction::Ask(Request::Grant(Grant {
                    app,
                    name: panel.grant_name.trim().to_owned(),
                    allowed: panel.grant_allow.clone(),
                    until_ms: now_ms() + GRANT_DAYS * 24 * 3600 * 1000,
                })));
            }
            Ok(_) => panel.complain("choose what the app may do"),
            Err(_) => panel.complain("that is not an app's key"),
        }
    }
    ui.separator();
    ui.label("What apps asked:");
    for entry in &panel.access {
        let verdict = if entry.allowed { "allowed" } else { "refused" };
        ui.label(format!(
            "{} {} ({verdict})",
            &entry.app.to_string()[..8],
            entry.what
        ));
    }
}
