//! What an app sees of the world, and the objects it places in it.

use std::marker::PhantomData;

use bevy::ecs::system::SystemParam;
use bevy::prelude::*;
use sanctuary_protocols::PeerId;

use crate::grants::{CapabilityError, Grants};
use crate::setup::SanctuaryApp;

/// Where the person is and who else is in the world, kept up to date by the client.
#[derive(Resource, Debug, Default, Clone)]
pub struct WorldView {
    /// The person's own id, once online.
    pub me: Option<PeerId>,
    /// Whether the client is connected to a world.
    pub online: bool,
    /// The space the person is in.
    pub space: Option<String>,
    /// The named places of that space (where panels and objects may stand).
    pub anchors: Vec<SpaceAnchor>,
    /// Everyone else in the world.
    pub people: Vec<Person>,
}

impl WorldView {
    /// The anchor called `name` in the current space.
    pub fn anchor(&self, name: &str) -> Option<&SpaceAnchor> {
        self.anchors.iter().find(|anchor| anchor.name == name)
    }

    /// The name of `peer`, or a short form of its id for someone not (yet) listed.
    pub fn name_of(&self, peer: &PeerId) -> String {
        match self.people.iter().find(|person| person.id == *peer) {
            Some(person) => person.name.clone(),
            None if Some(*peer) == self.me => "you".into(),
            None => peer.to_string().chars().take(8).collect(),
        }
    }
}

/// A named place in a space.
#[derive(Debug, Clone, PartialEq)]
pub struct SpaceAnchor {
    /// Its name in the space file.
    pub name: String,
    /// Where, in metres.
    pub position: Vec3,
    /// Which way it faces: a turn about the vertical axis, in radians.
    pub yaw: f32,
}

/// Someone else in the world.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    /// Their id.
    pub id: PeerId,
    /// Their display name.
    pub name: String,
    /// The space they are in.
    pub space: String,
}

/// The person arrived in a space (also sent for the first space). The app's objects of
/// the previous space are gone by then.
#[derive(Message, Debug, Clone, PartialEq, Eq)]
pub struct EnteredSpace {
    /// The space's name.
    pub space: String,
}

/// Marks an object an app placed. The client removes it when the person leaves the
/// space, when the app's permission is taken back, or when the app stops.
#[derive(Component, Debug, Clone, PartialEq, Eq)]
pub struct AppEntity {
    /// The app's name.
    pub app: &'static str,
    /// The space it stands in.
    pub space: String,
}

/// Places app `A`'s objects in the space the person is in, where
/// [`Permission::Spawn`](crate::Permission::Spawn) allows.
#[derive(SystemParam)]
pub struct AppSpawner<'w, 's, A: SanctuaryApp> {
    commands: Commands<'w, 's>,
    grants: Res<'w, Grants>,
    view: Res<'w, WorldView>,
    app: PhantomData<A>,
}

impl<'w, 's, A: SanctuaryApp> AppSpawner<'w, 's, A> {
    /// Whether the app may place objects in `space` now.
    pub fn check(&self, space: &str) -> Result<(), CapabilityError> {
        let name = A::MANIFEST.name;
        let Some(permission) = A::MANIFEST
            .permissions
            .iter()
            .find(|permission| permission.allows_spawn_in(space))
        else {
            return Err(CapabilityError::SpaceNotAllowed {
                app: name.into(),
                space: space.into(),
            });
        };
        self.grants.check(name, permission)?;
        if self.view.space.as_deref() != Some(space) {
            return Err(CapabilityError::NotThere {
                app: name.into(),
                space: space.into(),
            });
        }
        Ok(())
    }

    /// Commands, for the app's own entities (despawning its objects, for example).
    pub fn commands(&mut self) -> &mut Commands<'w, 's> {
        &mut self.commands
    }

    /// Spawns `bundle` in `space`, marked as the app's.
    pub fn spawn(&mut self, space: &str, bundle: impl Bundle) -> Result<EntityCommands<'_>, CapabilityError> {
        self.check(space)?;
        Ok(self.commands.spawn((
            AppEntity {
                app: A::MANIFEST.name,
                space: space.into(),
            },
            bundle,
        )))
    }
}
