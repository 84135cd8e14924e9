//! App messages: each app's own channel in the world.

use std::marker::PhantomData;

use bevy::ecs::system::SystemParam;
use bevy::prelude::*;
use sanctuary_protocols::limits::APP_PAYLOAD_MAX;
use sanctuary_protocols::{AppPayload, PeerId};

use crate::grants::{CapabilityError, Grants};
use crate::host::AppMail;
use crate::manifest::Permission;
use crate::setup::SanctuaryApp;

/// Messages an app may send per second, on average. Every peer takes at most 30 messages
/// a second from one person in all, so one app cannot spend them all and get its person
/// muted.
pub const SEND_RATE_PER_SEC: u32 = 5;
/// Messages an app may send at once after being quiet.
pub const SEND_BURST: u32 = 10;

/// A message from the same app on another peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncomingAppMessage {
    /// Who sent it: their signature was checked.
    pub from: PeerId,
    /// What it says, in the app's own encoding. Check everything: it may come from
    /// anyone in the world.
    pub bytes: Vec<u8>,
    /// Sent to us alone ([`AppMessages::send_to`]) rather than to everyone.
    pub direct: bool,
}

/// App `A`'s channel in the world: send to its copies on every other peer, and read what
/// they sent. Needs [`Permission::Messages`]; without it, sending fails and nothing
/// arrives.
#[derive(SystemParam)]
pub struct AppMessages<'w, A: SanctuaryApp> {
    mail: ResMut<'w, AppMail>,
    grants: Res<'w, Grants>,
    app: PhantomData<A>,
}

impl<A: SanctuaryApp> AppMessages<'_, A> {
    /// Sends `bytes` (at most [`APP_PAYLOAD_MAX`]) to the app's copies on every other peer
    /// of the world, signed by the person.
    pub fn send(&mut self, bytes: impl Into<Vec<u8>>) -> Result<(), CapabilityError> {
        self.queue(None, bytes.into())
    }

    /// Sends `bytes` to the app's copy on `peer` alone, signed by the person for them and
    /// carried over a direct connection: for what concerns two people (an order, a
    /// delivery). Same budget as [`send`](Self::send).
    pub fn send_to(&mut self, peer: PeerId, bytes: impl Into<Vec<u8>>) -> Result<(), CapabilityError> {
        self.queue(Some(peer), bytes.into())
    }

    fn queue(&mut self, to: Option<PeerId>, bytes: Vec<u8>) -> Result<(), CapabilityError> {
        let name = A::MANIFEST.name;
        self.grants.check(name, &Permission::Messages)?;
        let len = bytes.len();
        let payload = AppPayload::new(bytes).map_err(|_| CapabilityError::TooLarge {
            app: name.into(),
            len,
            max: APP_PAYLOAD_MAX,
        })?;
        self.mail.queue(name, to, payload)
    }

    /// Takes the messages that arrived since the last call, oldest first.
    pub fn read(&mut self) -> Vec<IncomingAppMessage> {
        self.mail.take_incoming(A::MANIFEST.name)
    }

    /// Whether the person lets this app send and receive.
    pub fn allowed(&self) -> bool {
        self.grants.is_granted(A::MANIFEST.name, &Permission::Messages)
    }
}
