//! Buttons apps put beside people in the client's People panel ("Be friends", "Trade"),
//! and the clicks on them.

use std::collections::BTreeMap;
use std::marker::PhantomData;

use bevy::ecs::system::SystemParam;
use bevy::prelude::*;
use sanctuary_protocols::PeerId;

use crate::grants::{CapabilityError, Grants};
use crate::manifest::Permission;
use crate::setup::SanctuaryApp;

/// Most people one app shows a button beside at once.
pub const PERSON_BUTTONS_MAX: usize = 256;
/// Longest button label, in characters (longer ones are cut).
pub const PERSON_BUTTON_LABEL_MAX: usize = 40;
/// Most clicks kept for one app until it takes them.
const CLICKS_MAX: usize = 32;

/// One app's button beside one person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonButton {
    /// The app's name.
    pub app: &'static str,
    /// What the button says.
    pub label: String,
    /// Whether it can be clicked now (a greyed button says what is under way).
    pub enabled: bool,
}

/// Every app's buttons beside people, and the clicks the apps have not taken yet: the
/// host's side (in [`host`](crate::host)). Apps use [`PersonButtons`]; the client's People
/// panel draws [`PeopleButtons::beside`] each person, says whose button each is, and
/// reports clicks with [`PeopleButtons::click`].
#[derive(Resource, Debug, Default)]
pub struct PeopleButtons {
    buttons: BTreeMap<(PeerId, &'static str), PersonButton>,
    clicks: BTreeMap<&'static str, Vec<PeerId>>,
}

impl PeopleButtons {
    /// The buttons beside `peer`, in the apps' name order.
    pub fn beside(&self, peer: PeerId) -> impl Iterator<Item = &PersonButton> {
        self.buttons
            .range((peer, "")..)
            .take_while(move |((person, _), _)| *person == peer)
            .map(|(_, button)| button)
    }

    /// The person clicked `app`'s button beside `peer`.
    pub fn click(&mut self, app: &'static str, peer: PeerId) {
        let shown = self
            .buttons
            .get(&(peer, app))
            .is_some_and(|button| button.enabled);
        let clicks = self.clicks.entry(app).or_default();
        if shown && clicks.len() < CLICKS_MAX {
            clicks.push(peer);
        }
    }
}

/// App `A`'s buttons beside people in the People panel: one per person, with the app's
/// label; clicks come back by person. Needs [`Permission::Panels`].
#[derive(SystemParam)]
pub struct PersonButtons<'w, A: SanctuaryApp> {
    buttons: ResMut<'w, PeopleButtons>,
    grants: Res<'w, Grants>,
    app: PhantomData<A>,
}

impl<A: SanctuaryApp> PersonButtons<'_, A> {
    /// Shows a button saying `label` beside `peer` (replacing the app's button there, if
    /// any), clickable when `enabled`.
    pub fn show(&mut self, peer: PeerId, label: &str, enabled: bool) -> Result<(), CapabilityError> {
        let app = A::MANIFEST.name;
        self.grants.check(app, &Permission::Panels)?;
        let key = (peer, app);
        // One line of plain text: no control characters (new lines, bidi overrides).
        let label: String = label
            .chars()
            .filter(|c| !c.is_control() && !matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'))
            .take(PERSON_BUTTON_LABEL_MAX)
            .collect();
        if let Some(button) = self.buttons.buttons.get(&key) {
            if button.label == label && button.enabled == enabled {
                // Unchanged: no write, so that the panel is not told of a change.
                return Ok(());
            }
        } else if self.shown() >= PERSON_BUTTONS_MAX {
            return Err(CapabilityError::TooMany {
                app: app.into(),
                what: "buttons beside people",
                max: PERSON_BUTTONS_MAX,
            });
        }
        self.buttons
            .buttons
            .insert(key, PersonButton { app, label, enabled });
        Ok(())
    }

    /// Takes the app's button beside `peer` away.
    pub fn hide(&mut self, peer: PeerId) {
        if self.buttons.buttons.contains_key(&(peer, A::MANIFEST.name)) {
            self.buttons.buttons.remove(&(peer, A::MANIFEST.name));
        }
    }

    /// Keeps the app's buttons only beside the people `keep` says yes to.
    pub fn retain(&mut self, mut keep: impl FnMut(PeerId) -> bool) {
        let app = A::MANIFEST.name;
        if self
            .buttons
            .buttons
            .keys()
            .any(|(peer, owner)| *owner == app && !keep(*peer))
        {
            self.buttons
                .buttons
                .retain(|(peer, owner), _| *owner != app || keep(*peer));
        }
    }

    /// The people whose button beside them was clicked since the last call, oldest first.
    pub fn clicked(&mut self) -> Vec<PeerId> {
        match self.buttons.clicks.get(A::MANIFEST.name) {
            Some(clicks) if !clicks.is_empty() => self
                .buttons
                .clicks
                .get_mut(A::MANIFEST.name)
                .map(std::mem::take)
                .unwrap_or_default(),
            _ => Vec::new(),
        }
    }

    /// How many buttons the app shows now.
    fn shown(&self) -> usize {
        self.buttons
            .buttons
            .keys()
            .filter(|(_, app)| *app == A::MANIFEST.name)
            .count()
    }
}
