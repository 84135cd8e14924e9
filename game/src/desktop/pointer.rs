//! The mouse pointing at the panels in the world: a ray from the main camera through the
//! cursor, wherever the camera draws (the window, or a smaller picture stretched over it
//! at low quality). The panel it meets hears the mouse where the ray meets it, in the
//! panel's own points, as the lasers' panels do.

use super::MainCamera;
use crate::panels::laser::panel_under_ray;
use bevy::picking::mesh_picking::ray_cast::MeshRayCast;
use bevy::prelude::*;
use bevy::window::PrimaryWindow;
use bevy_egui::input::{EguiContextPointerPosition, HoveredNonWindowEguiContext};
use bevy_egui::picking::PickableEguiContext;
use bevy_egui::{EguiContext, EguiPreUpdateSet, PrimaryEguiContext};

/// Points the mouse at the world's panels.
pub struct MousePointerPlugin;

impl Plugin for MousePointerPlugin {
    fn build(&self, app: &mut App) {
        app.add_systems(
            PreUpdate,
            point_mouse_at_panels
                .after(bevy::input::InputSystems)
                .before(EguiPreUpdateSet::ProcessInput),
        );
    }
}

/// Where a point of the window (logical pixels) is on what a camera draws, `drawn`
/// logical pixels stretched over a window of `window` logical pixels.
pub fn window_to_drawn(point: Vec2, window: Vec2, drawn: Vec2) -> Vec2 {
    point * drawn / window.max(Vec2::ONE)
}

/// Tells egui which panel in the world the mouse is over and where: the panel then
/// hears the mouse's buttons, wheel and (once clicked) keys.
fn point_mouse_at_panels(
    window: Single<&Window, With<PrimaryWindow>>,
    camera: Single<(&Camera, &GlobalTransform), With<MainCamera>>,
    mut ray_cast: MeshRayCast,
    panels: Query<&PickableEguiContext>,
    mut contexts: Query<(&Camera, &mut EguiContext)>,
    screen: Query<Entity, With<PrimaryEguiContext>>,
    mut pointers: Query<&mut EguiContextPointerPosition>,
    hovered: Option<Res<HoveredNonWindowEguiContext>>,
    mut commands: Commands,
) {
    let (camera, eye) = *camera;
    // What the screen shows (the panels opened with Tab, the Build window) stands in
    // front of the world.
    let over_screen = screen.iter().any(|context| {
        contexts.get_mut(context).is_ok_and(|(_, mut egui)| {
            let ctx = egui.get_mut();
            ctx.is_pointer_over_egui() || ctx.egui_is_using_pointer()
        })
    });
    let over = window
        .cursor_position()
        .filter(|_| camera.is_active && !over_screen)
        .zip(camera.logical_viewport_size())
        .and_then(|(cursor, drawn)| {
            let at = window_to_drawn(cursor, window.size(), drawn);
            camera.viewport_to_world(eye, at).ok()
        })
        .and_then(|ray| panel_under_ray(ray, &mut ray_cast, &panels, &mut contexts))
        .map(|(target, _)| target);
    match over {
        Some((context, at)) => {
            if let Ok(mut pointer) = pointers.get_mut(context) {
                pointer.position = at;
            }
            if hovered.is_none_or(|hovered| hovered.0 != context) {
                commands.insert_resource(HoveredNonWindowEguiContext(context));
            }
        }
        None if hovered.is_some() => commands.remove_resource::<HoveredNonWindowEguiContext>(),
        None => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_point_of_the_window_lands_where_it_shows_in_a_stretched_picture() {
        let window = Vec2::new(1280.0, 720.0);
        let half = Vec2::new(640.0, 360.0);
        assert_eq!(
            window_to_drawn(Vec2::new(640.0, 360.0), window, half),
            Vec2::new(320.0, 180.0)
        );
        assert_eq!(window_to_drawn(window, window, half), half);
        let point = Vec2::new(449.0, 495.0);
        assert_eq!(
            window_to_drawn(point, window, window),
            point,
            "drawn in the window itself"
        );
    }
}
