//! [`DesktopPlugin`]: camera, mouse look and cursor grab for a window.

use crate::avatar::controller::EYES_ABOVE_CENTER;
use crate::avatar::{Motion, Player};
use crate::panels::PanelPointer;
use crate::quality::Quality;
use crate::sets::GameSystems;
use crate::spaces::SpaceCamera;
use bevy::input::mouse::AccumulatedMouseMotion;
use bevy::prelude::*;
use bevy::window::{CursorGrabMode, CursorOptions, PrimaryWindow};
use bevy_egui::PrimaryEguiContext;

/// Radians of turn per pixel of mouse movement.
const MOUSE_SENSITIVITY: f32 = 0.0025;
/// How far the head tilts up or down, radians.
const PITCH_LIMIT: f32 = 1.5;

/// Adds the first-person camera and the mouse controls.
pub struct DesktopPlugin;

impl Plugin for DesktopPlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<CursorGrab>()
            .add_plugins((
                super::picture::ScaledPicturePlugin,
                super::pointer::MousePointerPlugin,
            ))
            .add_observer(attach_camera)
            .add_systems(
                Update,
                ((grab_or_release_cursor, look_around)
                    .chain()
                    .in_set(GameSystems::Input),),
            )
            .add_systems(PostUpdate, tilt_camera);
    }
}

/// The camera a person sees the world through.
#[derive(Component, Debug, Default)]
pub struct MainCamera;

/// Whether the mouse steers the view (grabbed) or points at things (free).
#[derive(Resource, Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CursorGrab(pub bool);

/// Gives the person a camera at eye height as soon as their body exists. At a quality
/// that draws fewer pixels than the window has, it draws into a smaller picture that a
/// screen camera stretches over the window.
fn attach_camera(
    player: On<Add, Player>,
    quality: Option<Res<Quality>>,
    window: Query<&Window, With<PrimaryWindow>>,
    mut images: ResMut<Assets<Image>>,
    mut commands: Commands,
) {
    let camera = commands
        .spawn((
            Name::new("main camera"),
            MainCamera,
            SpaceCamera,
            Camera3d::default(),
            // Multisampling quadruples the cost of every pixel; software renderers can't afford it.
            Msaa::Off,
            bevy::core_pipeline::tonemapping::Tonemapping::AcesFitted,
            bevy::core_pipeline::tonemapping::DebandDither::Disabled,
            Projection::Perspective(PerspectiveProjection {
                fov: 75f32.to_radians(),
                far: 2000.0,
                ..default()
            }),
            Transform::from_xyz(0.0, EYES_ABOVE_CENTER, 0.0),
        ))
        .id();
    commands.entity(player.entity).add_child(camera);
    let scale = quality.map_or(1.0, |quality| quality.render_scale());
    match window.single() {
        Ok(window) if scale < 1.0 => {
            super::picture::draw_into_picture(&mut commands, &mut images, camera, window, scale);
        }
        _ => {
            commands
                .entity(camera)
                .insert((PrimaryEguiContext, IsDefaultUiCamera));
        }
    }
}

/// Click grabs the cursor (unless the click is for a panel), Esc or losing focus
/// releases it. While grabbed, the hidden cursor is held at the window's centre so
/// that it points where the crosshair does.
fn grab_or_release_cursor(
    mouse: Res<ButtonInput<MouseButton>>,
    keys: Res<ButtonInput<KeyCode>>,
    pointer: Res<PanelPointer>,
    mut grab: ResMut<CursorGrab>,
    window: Single<(&mut Window, &mut CursorOptions), With<PrimaryWindow>>,
) {
    let (mut window, mut cursor) = window.into_inner();
    let wanted = if keys.just_pressed(KeyCode::Escape) || !window.focused || pointer.overlay_open {
        false
    } else if mouse.just_pressed(MouseButton::Left) && !pointer.over_panel {
        true
    } else {
        grab.0
    };
    if wanted != grab.0 {
        grab.0 = wanted;
        cursor.visible = !wanted;
        cursor.grab_mode = if wanted {
            CursorGrabMode::Locked
        } else {
            CursorGrabMode::None
        };
    }
    if grab.0 {
        let center = Vec2::new(window.width(), window.height()) / 2.0;
        if window.cursor_position() != Some(center) {
            window.set_cursor_position(Some(center));
        }
    }
}

fn look_around(
    motion: Res<AccumulatedMouseMotion>,
    grab: Res<CursorGrab>,
    mut player: Single<&mut Motion, With<Player>>,
) {
    if !grab.0 || motion.delta == Vec2::ZERO {
        return;
    }
    player.yaw -= motion.delta.x * MOUSE_SENSITIVITY;
    player.pitch = (player.pitch - motion.delta.y * MOUSE_SENSITIVITY).clamp(-PITCH_LIMIT, PITCH_LIMIT);
}

fn tilt_camera(player: Single<&Motion, With<Player>>, mut camera: Single<&mut Transform, With<MainCamera>>) {
    camera.rotation = Quat::from_rotation_x(player.pitch);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::desktop::picture::{ScaledPicture, ScreenCamera};
    use bevy::camera::RenderTarget;
    use bevy::window::WindowResolution;

    /// A person arriving in a 1280x720 window at `quality`.
    fn arrive(quality: Quality) -> App {
        let mut app = App::new();
        app.add_plugins((MinimalPlugins, AssetPlugin::default()))
            .init_asset::<Image>()
            .insert_resource(quality)
            .add_observer(attach_camera);
        app.world_mut().spawn((
            Window {
                resolution: WindowResolution::new(1280, 720),
                ..default()
            },
            PrimaryWindow,
        ));
        app.world_mut().spawn(Player);
        app.update();
        app
    }

    /// Whether the camera that holds the screen's UI and panels draws into the window.
    fn screen_ui_in_the_window(app: &mut App) -> bool {
        let mut ui = app
            .world_mut()
            .query_filtered::<Option<&RenderTarget>, (With<IsDefaultUiCamera>, With<PrimaryEguiContext>)>();
        let targets: Vec<_> = ui.iter(app.world()).collect();
        assert_eq!(targets.len(), 1, "one camera holds the screen's UI");
        targets[0].is_none_or(|target| matches!(target, RenderTarget::Window(_)))
    }

    #[test]
    fn at_low_quality_the_world_is_drawn_smaller_and_the_screen_stays_at_the_windows_size() {
        let mut app = arrive(Quality::Low);
        let picture = app.world().resource::<ScaledPicture>().image.clone();
        let mut main = app
            .world_mut()
            .query_filtered::<&RenderTarget, With<MainCamera>>();
        let target = main
            .single(app.world())
            .expect("the main camera draws into a picture");
        assert!(matches!(target, RenderTarget::Image(image) if image.handle == picture));
        let size = app
            .world()
            .resource::<Assets<Image>>()
            .get(&picture)
            .map(Image::size);
        assert_eq!(size, Some(UVec2::new(640, 360)));
        let mut screen = app.world_mut().query_filtered::<(), With<ScreenCamera>>();
        assert_eq!(screen.iter(app.world()).count(), 1);
        assert!(
            screen_ui_in_the_window(&mut app),
            "the screen's text and panels stay sharp"
        );

        let mut app = arrive(Quality::High);
        assert!(app.world().get_resource::<ScaledPicture>().is_none());
        let mut screen = app.world_mut().query_filtered::<(), With<ScreenCamera>>();
        assert_eq!(screen.iter(app.world()).count(), 0);
        assert!(screen_ui_in_the_window(&mut app));
    }
}
