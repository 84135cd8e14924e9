//! Name tags: each remote avatar's name floats above its head, in its colour.

use super::plugin::{RemoteAvatar, Roster};
use crate::desktop::MainCamera;
use crate::sets::GameSystems;
use bevy::prelude::*;

/// Tags farther than this are hidden, metres.
const TAG_RANGE: f32 = 45.0;

/// Draws name tags over remote avatars (needs a window).
pub struct NameTagsPlugin;

impl Plugin for NameTagsPlugin {
    fn build(&self, app: &mut App) {
        app.add_systems(Update, place_tags.in_set(GameSystems::Presentation));
    }
}

/// A name tag and the avatar it follows.
#[derive(Component, Debug)]
struct NameTag(Entity);

fn place_tags(
    mut commands: Commands,
    roster: Res<Roster>,
    avatars: Query<(Entity, &RemoteAvatar, &GlobalTransform)>,
    mut tags: Query<(Entity, &NameTag, &mut Node, &mut Visibility)>,
    camera: Single<(&Camera, &GlobalTransform), With<MainCamera>>,
    window: Single<&Window, With<bevy::window::PrimaryWindow>>,
    mut tagged: Local<std::collections::HashSet<Entity>>,
) {
    let (camera, eye) = *camera;
    // The camera may draw a smaller picture stretched over the window (low quality).
    let stretch = camera
        .logical_viewport_size()
        .map_or(Vec2::ONE, |picture| window.size() / picture.max(Vec2::ONE));
    tagged.clear();
    for (tag_entity, tag, mut node, mut visibility) in &mut tags {
        let Ok((_, _, body)) = avatars.get(tag.0) else {
            commands.entity(tag_entity).despawn();
            continue;
        };
        tagged.insert(tag.0);
        let head = body.translation() + Vec3::Y * 1.35;
        let near = head.distance(eye.translation()) < TAG_RANGE;
        match camera.world_to_viewport(eye, head).ok().filter(|_| near) {
            Some(point) => {
                let point = point * stretch;
                node.left = px(point.x - 60.0);
                node.top = px(point.y - 24.0);
                visibility.set_if_neq(Visibility::Inherited);
            }
            None => {
                visibility.set_if_neq(Visibility::Hidden);
            }
        }
    }
    for (entity, avatar, _) in &avatars {
        if tagged.contains(&entity) {
            continue;
        }
        let Some(entry) = roster.people.get(&avatar.peer) else {
            continue;
        };
        commands.spawn((
            NameTag(entity),
            Text::new(entry.name.clone()),
            TextFont::from_font_size(16.0),
            TextColor(entry.bevy_color().lighter(0.15)),
            TextLayout::justify(Justify::Center),
            TextShadow {
                offset: Vec2::splat(1.5),
                color: Color::srgba(0.0, 0.0, 0.0, 0.8),
            },
            Node {
                position_type: PositionType::Absolute,
                width: px(120),
                ..default()
            },
            Visibility::Hidden,
        ));
    }
}
