//! The laser pointer: a ray from anything that points (a VR controller's aim), which
//! hovers and clicks panels in the world. It gives a panel the same pointer events the
//! mouse does (moved, button pressed and released, gone), so every panel works with it
//! unchanged.

use bevy::picking::mesh_picking::ray_cast::{MeshRayCast, MeshRayCastSettings, RayCastVisibility};
use bevy::prelude::*;
use bevy_egui::input::EguiInputEvent;
use bevy_egui::picking::PickableEguiContext;
use bevy_egui::{EguiContext, EguiInputSet, egui};

/// How far a laser reaches, metres.
pub const LASER_REACH: f32 = 12.0;

/// Points along the entity's forward (-z) and clicks panels while `pressed`.
#[derive(Component, Debug, Default, Clone, PartialEq)]
pub struct Laser {
    /// The click button (a trigger) is held.
    pub pressed: bool,
}

/// What a laser is pointing at, as of its last frame.
#[derive(Component, Debug, Default, Clone, PartialEq)]
pub struct LaserState {
    /// The panel context it points at and where, in the panel's points.
    pub target: Option<(Entity, egui::Pos2)>,
    /// How far the ray went: to the panel, or its whole reach.
    pub length: f32,
    /// The button was held last frame.
    pub held: bool,
    /// The panel that heard the button go down, until it hears it come up.
    pub pressed_on: Option<Entity>,
}

/// Marks the visible beam of a laser.
#[derive(Component, Debug, Default, Clone, Copy)]
pub struct LaserBeam;

/// Adds lasers: their pointing, their events and their beams.
pub struct LaserPlugin;

impl Plugin for LaserPlugin {
    fn build(&self, app: &mut App) {
        app.register_required_components::<Laser, LaserState>()
            .add_observer(add_beam)
            .add_systems(PreUpdate, point_lasers.in_set(EguiInputSet::ReadBevyMessages))
            .add_systems(PostUpdate, stretch_beams);
    }
}

/// The pointer events panels hear when a laser now points at `now` (a panel context and
/// a point on it, or nothing) with its button `held`, and the laser's state updated. As
/// with a mouse: the pointer leaves the old panel and moves over the new one; the button
/// goes down on the panel it points at when pressed, and comes up on the panel that
/// heard it go down (where the laser leaves it, if it leaves), so no button stays held.
pub fn pointer_events(
    state: &mut LaserState,
    now: Option<(Entity, egui::Pos2)>,
    held: bool,
) -> Vec<(Entity, egui::Event)> {
    let mut events = Vec::new();
    let button = |pos, pressed| egui::Event::PointerButton {
        pos,
        button: egui::PointerButton::Primary,
        pressed,
        modifiers: egui::Modifiers::default(),
    };
    if let Some((old, at)) = state.target
        && now.is_none_or(|(new, _)| new != old)
    {
        if state.pressed_on == Some(old) {
            events.push((old, button(at, false)));
            state.pressed_on = None;
        }
        events.push((old, egui::Event::PointerGone));
    }
    if let Some((context, at)) = now {
        events.push((context, egui::Event::PointerMoved(at)));
        if held && !state.held {
            events.push((context, button(at, true)));
            state.pressed_on = Some(context);
        } else if !held && state.pressed_on == Some(context) {
            events.push((context, button(at, false)));
            state.pressed_on = None;
        }
    }
    if !held {
        state.pressed_on = None;
    }
    state.target = now;
    state.held = held;
    events
}

/// The panel context the ray meets first and where on it (in the panel's points), and
/// how far along the ray.
pub fn panel_under_ray(
    ray: Ray3d,
    ray_cast: &mut MeshRayCast,
    panels: &Query<&PickableEguiContext>,
    contexts: &mut Query<(&Camera, &mut EguiContext)>,
) -> Option<((Entity, egui::Pos2), f32)> {
    let settings = MeshRayCastSettings {
        visibility: RayCastVisibility::Visible,
        filter: &|entity| panels.contains(entity),
        early_exit_test: &|_| true,
    };
    let (entity, hit) = ray_cast.cast_ray(ray, &settings).first()?;
    let context = panels.get(*entity).ok()?.0;
    let (camera, mut egui) = contexts.get_mut(context).ok()?;
    // egui places the pointer in points: the picture's pixels over its zoom.
    let size = camera.logical_target_size()? / egui.get_mut().zoom_factor();
    let uv = hit.uv?;
    Some(((context, egui::pos2(uv.x * size.x, uv.y * size.y)), hit.distance))
}

/// Casts each laser's ray at the panels and tells the panel it points at what the laser
/// does, before egui reads its input this frame.
fn point_lasers(
    mut lasers: Query<(Entity, &GlobalTransform, &Laser, &mut LaserState)>,
    mut ray_cast: MeshRayCast,
    panels: Query<&PickableEguiContext>,
    mut contexts: Query<(&Camera, &mut EguiContext)>,
    mut input: MessageWriter<EguiInputEvent>,
    mut order: Local<Vec<(bool, Entity)>>,
    mut spoken_to: Local<Vec<Entity>>,
) {
    // One laser at a time speaks to a panel: the one holding a press there, else the
    // first to point at it this frame (two pointers on one panel would make egui see a
    // drag instead of a click). The lists are kept between frames to spare allocating.
    order.clear();
    order.extend(
        lasers
            .iter()
            .map(|(entity, _, _, state)| (state.pressed_on.is_none(), entity)),
    );
    order.sort();
    spoken_to.clear();
    for &(_, entity) in order.iter() {
        let Ok((_, transform, laser, mut state)) = lasers.get_mut(entity) else {
            continue;
        };
        let ray = Ray3d::new(transform.translation(), transform.forward());
        let hit = panel_under_ray(ray, &mut ray_cast, &panels, &mut contexts)
            .filter(|(_, distance)| *distance <= LASER_REACH);
        let now = hit
            .map(|(target, _)| target)
            .filter(|(context, _)| !spoken_to.contains(context));
        if now.map(|(context, _)| context) != state.target.map(|(context, _)| context) {
            debug!("laser {:?} now points at {now:?}", transform.translation());
        }
        for (context, event) in pointer_events(&mut state, now, laser.pressed) {
            input.write(EguiInputEvent { context, event });
        }
        if let Some((context, _)) = now {
            spoken_to.push(context);
        }
        state.length = hit.map_or(LASER_REACH, |(_, distance)| distance);
    }
}

fn add_beam(
    laser: On<Add, Laser>,
    mut commands: Commands,
    meshes: Option<ResMut<Assets<Mesh>>>,
    materials: Option<ResMut<Assets<StandardMaterial>>>,
) {
    let (Some(mut meshes), Some(mut materials)) = (meshes, materials) else {
        return;
    };
    let beam = commands
        .spawn((
            Name::new("laser beam"),
            LaserBeam,
            Mesh3d(meshes.add(Cuboid::new(0.004, 0.004, 1.0))),
            MeshMaterial3d(materials.add(StandardMaterial {
                base_color: Color::srgba(0.4, 0.95, 1.0, 0.8),
                unlit: true,
                alpha_mode: AlphaMode::Blend,
                ..default()
            })),
            Transform::from_xyz(0.0, 0.0, -0.5),
            Pickable::IGNORE,
            bevy::light::NotShadowCaster,
        ))
        .id();
    commands.entity(laser.entity).add_child(beam);
}

/// Makes each beam as long as its laser's ray, brighter when it points at a panel.
fn stretch_beams(lasers: Query<(&LaserState, &Children)>, mut beams: Query<&mut Transform, With<LaserBeam>>) {
    for (state, children) in &lasers {
        for child in children.iter() {
            if let Ok(mut transform) = beams.get_mut(child) {
                let length = state.length.max(0.01);
                transform.translation.z = -length / 2.0;
                transform.scale = Vec3::new(1.0, 1.0, length);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn panel(n: u32) -> Entity {
        Entity::from_raw_u32(n).expect("an entity")
    }

    fn button(down: bool, at: egui::Pos2) -> egui::Event {
        egui::Event::PointerButton {
            pos: at,
            button: egui::PointerButton::Primary,
            pressed: down,
            modifiers: egui::Modifiers::default(),
        }
    }

    #[test]
    fn a_laser_clicks_like_a_mouse_moves_press_then_release_where_it_points() {
        let a = panel(1);
        let at = egui::pos2(100.0, 50.0);
        let mut laser = LaserState::default();
        assert_eq!(
            pointer_events(&mut laser, Some((a, at)), false),
            vec![(a, egui::Event::PointerMoved(at))]
        );
        assert_eq!(
            pointer_events(&mut laser, Some((a, at)), true),
            vec![(a, egui::Event::PointerMoved(at)), (a, button(true, at))]
        );
        assert_eq!(
            pointer_events(&mut laser, Some((a, at)), true),
            vec![(a, egui::Event::PointerMoved(at))],
            "held: no second press"
        );
        assert_eq!(
            pointer_events(&mut laser, Some((a, at)), false),
            vec![(a, egui::Event::PointerMoved(at)), (a, button(false, at))]
        );
        assert_eq!(laser.pressed_on, None);
    }

    #[test]
    fn leaving_a_panel_lets_go_there_and_a_held_button_clicks_nothing_new() {
        let (a, b) = (panel(1), panel(2));
        let (at, there) = (egui::pos2(10.0, 10.0), egui::pos2(30.0, 40.0));
        let mut laser = LaserState::default();
        pointer_events(&mut laser, Some((a, at)), true);
        // Swept onto panel b with the trigger held: a hears the button come up and the
        // pointer go; b hears only the move, not a press it never saw start.
        assert_eq!(
            pointer_events(&mut laser, Some((b, there)), true),
            vec![
                (a, button(false, at)),
                (a, egui::Event::PointerGone),
                (b, egui::Event::PointerMoved(there))
            ]
        );
        assert_eq!(
            pointer_events(&mut laser, Some((b, there)), false),
            vec![(b, egui::Event::PointerMoved(there))],
            "no release for a press b never heard"
        );
        // Pressed off every panel, then swept onto one: nothing is clicked.
        assert_eq!(
            pointer_events(&mut laser, None, true),
            vec![(b, egui::Event::PointerGone)]
        );
        assert_eq!(
            pointer_events(&mut laser, Some((a, at)), true),
            vec![(a, egui::Event::PointerMoved(at))]
        );
    }
}
