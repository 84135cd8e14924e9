//! [`PeoplePlugin`]: the roster, remote avatars that appear, move smoothly and fade,
//! and name tags in each person's colour.

use super::interpolation::{Limbs, PoseBuffer, Snapshot};
use crate::avatar::body::{AvatarHand, AvatarHead, AvatarMeshes, dress_avatar};
use crate::avatar::controller::CENTER_ABOVE_FEET;
use crate::sets::GameSystems;
use crate::spaces::{CurrentSpace, SpaceEntity};
use bevy::prelude::*;
use sanctuary_protocols::identity::PeerId;
use sanctuary_protocols::message::AvatarShape;
use sanctuary_protocols::pose::PoseSample;
use std::collections::{BTreeMap, HashMap};

/// Where an avatar's head stands above the middle of its body when the pose has none.
const STANDING_HEAD_ABOVE_CENTER: f32 = 0.78;
/// Seconds an arriving avatar takes to grow in.
const APPEAR_SECONDS: f32 = 0.4;
/// Seconds a leaving avatar takes to fade out.
const FADE_SECONDS: f32 = 0.8;

/// Keeps the roster from [`PeerUpdate`]s and shows the people in this space.
pub struct PeoplePlugin;

impl Plugin for PeoplePlugin {
    fn build(&self, app: &mut App) {
        app.add_message::<PeerUpdate>()
            .init_resource::<Roster>()
            .init_resource::<PoseBuffers>()
            .add_systems(
                Update,
                (
                    apply_updates.in_set(GameSystems::Input),
                    (show_people_here, move_avatars, fade_avatars)
                        .chain()
                        .in_set(GameSystems::Presentation),
                ),
            );
    }
}

/// What the network says about another person.
#[derive(Message, Debug, Clone, PartialEq)]
pub enum PeerUpdate {
    /// They are in the world (first seen, or their profile or space changed).
    Present {
        /// Who.
        peer: PeerId,
        /// Their name.
        name: String,
        /// Their colour, sRGB.
        color: [u8; 3],
        /// Their avatar's shape.
        shape: AvatarShape,
        /// The space they are in.
        space: String,
    },
    /// They left, or went quiet for too long.
    Left {
        /// Who.
        peer: PeerId,
        /// True when they went quiet rather than saying goodbye.
        timed_out: bool,
    },
    /// Where they are now.
    Pose {
        /// Who.
        peer: PeerId,
        /// Their sequence number for this pose.
        seq: u32,
        /// The pose.
        sample: PoseSample,
    },
}

/// One person in the world.
#[derive(Debug, Clone, PartialEq)]
pub struct RosterEntry {
    /// Their name.
    pub name: String,
    /// Their colour, sRGB.
    pub color: [u8; 3],
    /// Their avatar's shape.
    pub shape: AvatarShape,
    /// The space they are in.
    pub space: String,
}

impl RosterEntry {
    /// Their colour as a Bevy colour.
    pub fn bevy_color(&self) -> Color {
        Color::srgb_u8(self.color[0], self.color[1], self.color[2])
    }
}

/// Everyone else in the world, by id.
#[derive(Resource, Debug, Default)]
pub struct Roster {
    /// The people.
    pub people: BTreeMap<PeerId, RosterEntry>,
}

impl Roster {
    /// A peer's name, or the start of their id while their presence is unknown.
    pub fn name_of(&self, peer: &PeerId) -> String {
        self.people
            .get(peer)
            .map_or_else(|| peer.to_string()[..8].to_owned(), |entry| entry.name.clone())
    }

    /// How many others are in `space`.
    pub fn count_in(&self, space: &str) -> usize {
        self.people.values().filter(|entry| entry.space == space).count()
    }
}

/// The poses received from each person in the roster (dropped when they leave).
#[derive(Resource, Debug, Default)]
pub struct PoseBuffers(HashMap<PeerId, PoseBuffer>);

impl PoseBuffers {
    /// The newest pose received from `peer`.
    pub fn newest(&self, peer: &PeerId) -> Option<&Snapshot> {
        self.0.get(peer).and_then(PoseBuffer::newest)
    }
}

/// Another person's avatar in this space.
#[derive(Component, Debug, Clone, PartialEq)]
pub struct RemoteAvatar {
    /// Whose.
    pub peer: PeerId,
    /// The profile it was dressed with (a change re-dresses it).
    entry: RosterEntry,
}

/// Growing in (positive) or fading out (negative) progress, seconds.
#[derive(Component, Debug, Clone, Copy)]
struct Fade {
    elapsed: f32,
    leaving: bool,
}

fn apply_updates(
    mut updates: MessageReader<PeerUpdate>,
    time: Res<Time<Real>>,
    mut roster: ResMut<Roster>,
    mut buffers: ResMut<PoseBuffers>,
) {
    let now = time.elapsed_secs_f64();
    for update in updates.read() {
        match update {
            PeerUpdate::Present {
                peer,
                name,
                color,
                shape,
                space,
            } => {
                let entry = RosterEntry {
                    name: name.clone(),
                    color: *color,
                    shape: *shape,
                    space: space.clone(),
                };
                if roster.people.get(peer) != Some(&entry) {
                    roster.people.insert(*peer, entry);
                }
            }
            PeerUpdate::Left { peer, timed_out } => {
                if roster.people.remove(peer).is_some() {
                    info!("{peer} {}", if *timed_out { "went quiet" } else { "left" });
                }
                buffers.0.remove(peer);
            }
            PeerUpdate::Pose { peer, seq, sample } => {
                buffers.0.entry(*peer).or_default().push(Snapshot {
                    arrived: now,
                    seq: *seq,
                    position: sample.position,
                    yaw: sample.yaw,
                    limbs: Limbs {
                        head: sample.head,
                        hands: [sample.left_hand, sample.right_hand],
                    },
                });
            }
        }
    }
}

/// Spawns avatars for people in this space and fades out those who left it.
fn show_people_here(
    mut commands: Commands,
    roster: Res<Roster>,
    current: Option<Res<CurrentSpace>>,
    buffers: Res<PoseBuffers>,
    avatars: Query<(Entity, &RemoteAvatar, Option<&Fade>)>,
    meshes: Option<Res<AvatarMeshes>>,
    mut materials: Option<ResMut<Assets<StandardMaterial>>>,
    mut shown: Local<std::collections::HashSet<PeerId>>,
) {
    let here = current.as_ref().map(|current| current.name.as_str());
    shown.clear();
    for (entity, avatar, fade) in &avatars {
        let wanted = roster
            .people
            .get(&avatar.peer)
            .filter(|entry| Some(entry.space.as_str()) == here);
        match wanted {
            Some(entry) if *entry == avatar.entry && !fade.is_some_and(|fade| fade.leaving) => {
                shown.insert(avatar.peer);
            }
            Some(_) => {
                // The profile changed: dress again.
                commands.entity(entity).despawn();
            }
            None => {
                if !fade.is_some_and(|fade| fade.leaving) {
                    commands.entity(entity).insert(Fade {
                        elapsed: 0.0,
                        leaving: true,
                    });
                }
            }
        }
    }
    for (peer, entry) in &roster.people {
        if Some(entry.space.as_str()) != here || shown.contains(peer) {
            continue;
        }
        // Wait for a first pose, so the avatar appears where the person is.
        let Some(newest) = buffers.0.get(peer).and_then(PoseBuffer::newest) else {
            continue;
        };
        let position = Vec3::from_array(newest.position) + Vec3::Y * CENTER_ABOVE_FEET;
        let entity = commands
            .spawn((
                SpaceEntity,
                Name::new(format!("avatar of {}", entry.name)),
                RemoteAvatar {
                    peer: *peer,
                    entry: entry.clone(),
                },
                Fade {
                    elapsed: 0.0,
                    leaving: false,
                },
                Transform::from_translation(position)
                    .with_rotation(Quat::from_rotation_y(newest.yaw))
                    .with_scale(Vec3::splat(0.01)),
                Visibility::default(),
            ))
            .id();
        dress_avatar(
            &mut commands,
            entity,
            entry.bevy_color(),
            entry.shape,
            meshes.as_deref(),
            materials.as_deref_mut(),
        );
    }
}

fn move_avatars(
    time: Res<Time<Real>>,
    buffers: Res<PoseBuffers>,
    mut avatars: Query<(&RemoteAvatar, &mut Transform, Option<&Children>)>,
    mut limbs: Query<
        (&mut Transform, &mut Visibility, Option<&AvatarHand>),
        (Or<(With<AvatarHead>, With<AvatarHand>)>, Without<RemoteAvatar>),
    >,
) {
    let now = time.elapsed_secs_f64();
    for (avatar, mut transform, children) in &mut avatars {
        let Some(buffer) = buffers.0.get(&avatar.peer) else {
            continue;
        };
        if let Some((position, yaw)) = buffer.sample(now) {
            transform.translation = Vec3::from_array(position) + Vec3::Y * CENTER_ABOVE_FEET;
            transform.rotation = Quat::from_rotation_y(yaw);
        }
        if let (Some(newest), Some(children)) = (buffer.newest(), children) {
            pose_limbs(&newest.limbs, children, &mut limbs);
        }
    }
}

/// Turns the head and places the hands of an avatar (whose origin is the body's middle)
/// as the pose says; hands that are not tracked are hidden.
fn pose_limbs(
    pose: &Limbs,
    children: &Children,
    limbs: &mut Query<
        (&mut Transform, &mut Visibility, Option<&AvatarHand>),
        (Or<(With<AvatarHead>, With<AvatarHand>)>, Without<RemoteAvatar>),
    >,
) {
    // A pose with no head offset (a bot's, a keeper's) has its head where an avatar's stands.
    let (head, head_turn) = if pose.head.offset == [0.0; 3] {
        (Vec3::Y * STANDING_HEAD_ABOVE_CENTER, Quat::IDENTITY)
    } else {
        (
            Vec3::from_array(pose.head.offset) - Vec3::Y * CENTER_ABOVE_FEET,
            Quat::from_array(pose.head.rotation),
        )
    };
    for child in children.iter() {
        let Ok((mut transform, mut visibility, hand)) = limbs.get_mut(child) else {
            continue;
        };
        match hand {
            None => {
                transform.translation = head;
                transform.rotation = head_turn;
            }
            Some(AvatarHand(side)) => {
                let point = &pose.hands[usize::from(*side)];
                let tracked = point.offset != [0.0; 3];
                visibility.set_if_neq(if tracked {
                    Visibility::Inherited
                } else {
                    Visibility::Hidden
                });
                transform.translation = head + Vec3::from_array(point.offset);
                transform.rotation = Quat::from_array(point.rotation);
            }
        }
    }
}

fn fade_avatars(
    mut commands: Commands,
    time: Res<Time>,
    mut avatars: Query<(Entity, &mut Fade, &mut Transform), With<RemoteAvatar>>,
) {
    for (entity, mut fade, mut transform) in &mut avatars {
        fade.elapsed += time.delta_secs();
        if fade.leaving {
            let left = 1.0 - fade.elapsed / FADE_SECONDS;
            if left <= 0.0 {
                commands.entity(entity).despawn();
            } else {
                transform.scale = Vec3::splat(left);
                transform.translation.y += time.delta_secs() * 0.8;
            }
        } else {
            let grown = (fade.elapsed / APPEAR_SECONDS).min(1.0);
            transform.scale = Vec3::splat(grown.max(0.01));
            if grown >= 1.0 {
                commands.entity(entity).remove::<Fade>();
            }
        }
    }
}
