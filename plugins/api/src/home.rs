//! Home: the person's own server (their home node), reached through the client.
//!
//! An app granted [`Permission::Home`] sends [`HomeCall`]s with [`HomeNode::call`]: pair
//! this device with a node, or ask the paired node a
//! [`Request`](sanctuary_protocols::home::Request). The host carries them out off the
//! frame loop, as this device (its key is the person's), and answers with [`HomeReply`]s
//! that only the asking app reads. [`HomeLink`] says which node the device is paired
//! with and whether it answers. While it does not, reads are answered from what the node
//! said last ([`HomeReply::Saved`]) and changes wait on the device ([`HomeReply::Kept`]).

use std::marker::PhantomData;

use bevy::ecs::system::SystemParam;
use bevy::prelude::*;
use sanctuary_protocols::PeerId;
use sanctuary_protocols::home::{HomeAddress, Request, Response};

use crate::grants::{CapabilityError, Grants};
use crate::mailbox::Mailbox;
use crate::manifest::Permission;
use crate::setup::SanctuaryApp;

/// Calls waiting for the host, at most, for all apps together.
pub const HOME_CALLS_MAX: usize = 32;
/// Replies waiting for one app, at most; older ones are dropped first.
pub const HOME_REPLIES_MAX: usize = 64;

/// Something an app asks of the person's home node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HomeCall {
    /// Pair this device with the node at `address` (its `home:` line), with the code it
    /// shows.
    Pair {
        /// The node's address, as text.
        address: String,
        /// The pairing code.
        code: String,
        /// What to call this device.
        device_name: String,
    },
    /// Ask the paired node.
    Ask(Request),
}

/// The host's answer to one app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HomeReply {
    /// The device is paired with `node`; `check` is what the node shows too.
    Paired {
        /// The node's key.
        node: PeerId,
        /// Six digits both sides show.
        check: String,
    },
    /// The node's answer to a request (which may be a refusal).
    Answer {
        /// What was asked.
        request: Box<Request>,
        /// What the node said.
        response: Box<Response>,
    },
    /// The node does not answer: its latest answer to this request, kept on this device.
    Saved {
        /// What was asked.
        request: Box<Request>,
        /// What the node said then.
        response: Box<Response>,
        /// When it said it, Unix milliseconds.
        saved_ms: u64,
    },
    /// The node does not answer: the change is kept on this device and goes to the node,
    /// in order, when it answers again (its answer then comes as [`HomeReply::Answer`]).
    Kept {
        /// The change.
        request: Box<Request>,
        /// How many changes wait now, this one included.
        waiting: usize,
    },
    /// The call could not be made; one line for the person.
    Failed(String),
}

/// The device's link to its home node, kept up to date by the host.
#[derive(Resource, Debug, Clone, Default, PartialEq, Eq)]
pub struct HomeLink {
    /// The node this device is paired with.
    pub node: Option<HomeAddress>,
    /// Whether the node answered the last call.
    pub online: bool,
    /// Changes made while the node did not answer, kept on this device until it does.
    pub waiting: usize,
    /// What is wrong, if anything (a damaged pairing file, no network).
    pub problem: Option<String>,
}

/// Home calls on their way to the host and replies on their way back.
pub type HomeMail = Mailbox<HomeCall, HomeReply>;

impl HomeMail {
    /// Hands `reply` to app `app`.
    pub fn reply(&mut self, app: &str, reply: HomeReply) {
        self.reply_within(app, reply, HOME_REPLIES_MAX);
    }
}

/// App `A`'s door to the person's home node. Needs [`Permission::Home`].
#[derive(SystemParam)]
pub struct HomeNode<'w, A: SanctuaryApp> {
    mail: ResMut<'w, HomeMail>,
    link: Res<'w, HomeLink>,
    grants: Res<'w, Grants>,
    app: PhantomData<A>,
}

impl<A: SanctuaryApp> HomeNode<'_, A> {
    /// Asks the host; the answer comes later from [`replies`](Self::replies).
    pub fn call(&mut self, call: HomeCall) -> Result<(), CapabilityError> {
        let name = A::MANIFEST.name;
        self.mail
            .ask_granted(name, &Permission::Home, &self.grants, call, HOME_CALLS_MAX)
    }

    /// Takes the answers that arrived since the last call, oldest first. Nothing arrives
    /// while the permission is not granted.
    pub fn replies(&mut self) -> Vec<HomeReply> {
        self.mail
            .take_granted_replies(A::MANIFEST.name, &Permission::Home, &self.grants)
    }

    /// The device's link to its node, if the person lets this app see it.
    pub fn link(&self) -> Result<&HomeLink, CapabilityError> {
        self.grants.check(A::MANIFEST.name, &Permission::Home)?;
        Ok(&self.link)
    }
}
