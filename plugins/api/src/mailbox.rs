//! Requests from apps to a service the client or another app provides (the store, the
//! wallet), and the replies back, each app reading only its own.

use std::collections::{HashMap, VecDeque};

use bevy::prelude::*;

use crate::grants::{CapabilityError, Grants};
use crate::manifest::Permission;

/// Requests of type `R` waiting for their service, with the asking app's name, and replies
/// of type `A` waiting for each app. Both queues are bounded.
#[derive(Resource, Debug)]
pub struct Mailbox<R: Send + Sync + 'static, A: Send + Sync + 'static> {
    requests: VecDeque<(String, R)>,
    replies: HashMap<String, VecDeque<A>>,
}

impl<R: Send + Sync + 'static, A: Send + Sync + 'static> Default for Mailbox<R, A> {
    fn default() -> Self {
        Self {
            requests: VecDeque::new(),
            replies: HashMap::new(),
        }
    }
}

impl<R: Send + Sync + 'static, A: Send + Sync + 'static> Mailbox<R, A> {
    /// Takes the apps' requests, oldest first, each with the asking app's name (for the
    /// service).
    pub fn take_requests(&mut self) -> Vec<(String, R)> {
        self.requests.drain(..).collect()
    }

    /// Queues `request` from `app`, unless `max` are waiting already (then it comes back).
    pub(crate) fn ask(&mut self, app: &str, request: R, max: usize) -> Result<(), R> {
        if self.requests.len() >= max {
            return Err(request);
        }
        self.requests.push_back((app.into(), request));
        Ok(())
    }

    /// Hands `reply` to app `app` (for the service); past `max` waiting the oldest is
    /// dropped.
    pub(crate) fn reply_within(&mut self, app: &str, reply: A, max: usize) {
        let inbox = self.replies.entry(app.into()).or_default();
        if inbox.len() >= max {
            inbox.pop_front();
        }
        inbox.push_back(reply);
    }

    /// Takes `app`'s replies, oldest first.
    pub(crate) fn take_replies(&mut self, app: &str) -> Vec<A> {
        self.replies
            .get_mut(app)
            .map(|inbox| inbox.drain(..).collect())
            .unwrap_or_default()
    }

    /// Queues `request` from `app` if the person granted it `permission` and fewer than
    /// `max` requests wait: what every app's request door does.
    pub(crate) fn ask_granted(
        &mut self,
        app: &str,
        permission: &Permission,
        grants: &Grants,
        request: R,
        max: usize,
    ) -> Result<(), CapabilityError> {
        grants.check(app, permission)?;
        self.ask(app, request, max)
            .map_err(|_| CapabilityError::TooFast { app: app.into() })
    }

    /// Takes `app`'s replies; none are handed over while `permission` is not granted (they
    /// are dropped).
    pub(crate) fn take_granted_replies(
        &mut self,
        app: &str,
        permission: &Permission,
        grants: &Grants,
    ) -> Vec<A> {
        let replies = self.take_replies(app);
        match grants.is_granted(app, permission) {
            true => replies,
            false => Vec::new(),
        }
    }
}
