//! The world drawn smaller than the window and stretched over it, for `--quality low`: a
//! software renderer's cost grows with the pixels it draws. The main camera draws into a
//! picture; a screen camera shows the picture over the whole window, with the screen's
//! text, crosshair and panels on top at full size. The mouse points at the panels in the
//! world through the picture (see [`super::pointer`]).

use bevy::asset::RenderAssetUsages;
use bevy::camera::RenderTarget;
use bevy::camera::visibility::RenderLayers;
use bevy::picking::Pickable;
use bevy::prelude::*;
use bevy::render::render_resource::{Extent3d, TextureFormat};
use bevy::window::PrimaryWindow;
use bevy_egui::PrimaryEguiContext;

/// A render layer nothing in the world is on: the screen camera's, so that it draws and
/// picks nothing of the world itself.
const SCREEN_LAYER: usize = 31;

/// The smaller picture the main camera draws the world into.
#[derive(Resource, Debug, Clone)]
pub struct ScaledPicture {
    /// The picture.
    pub image: Handle<Image>,
    /// Its size as a share of the window's, each way.
    pub scale: f32,
}

/// Marks the camera that shows the picture, the screen's UI and its panels in the window.
#[derive(Component, Debug, Default)]
pub struct ScreenCamera;

/// Marks the UI node the picture is shown on.
#[derive(Component, Debug, Default)]
struct PictureNode;

/// Keeps the picture the window's shape.
pub struct ScaledPicturePlugin;

impl Plugin for ScaledPicturePlugin {
    fn build(&self, app: &mut App) {
        app.add_systems(Last, fit_picture.run_if(resource_exists::<ScaledPicture>));
    }
}

/// The picture's size for a window of `window` pixels at `scale`: at least a pixel each way.
pub fn picture_size(window: UVec2, scale: f32) -> UVec2 {
    (window.as_vec2() * scale).round().as_uvec2().max(UVec2::ONE)
}

/// Makes `camera` draw into a picture `scale` of the window's size, and shows it in the
/// window through a screen camera that holds the screen's UI and panels.
pub fn draw_into_picture(
    commands: &mut Commands,
    images: &mut Assets<Image>,
    camera: Entity,
    window: &Window,
    scale: f32,
) {
    let size = picture_size(window.physical_size(), scale);
    let mut picture = Image::new_target_texture(size.x, size.y, TextureFormat::Rgba8UnormSrgb, None);
    picture.asset_usage = RenderAssetUsages::RENDER_WORLD;
    let image = images.add(picture);
    println!(
        "quality: the world is drawn at {}x{} and stretched over the window",
        size.x, size.y
    );
    commands
        .entity(camera)
        .insert(RenderTarget::Image(image.clone().into()));
    commands.spawn((
        Name::new("screen camera"),
        ScreenCamera,
        Camera2d,
        Camera {
            order: 1,
            ..default()
        },
        Msaa::Off,
        RenderLayers::layer(SCREEN_LAYER),
        PrimaryEguiContext,
        IsDefaultUiCamera,
    ));
    commands.spawn((
        Name::new("the world's picture"),
        PictureNode,
        ImageNode::new(image.clone()),
        Node {
            position_type: PositionType::Absolute,
            width: percent(100),
            height: percent(100),
            ..default()
        },
        GlobalZIndex(i32::MIN),
        Pickable::IGNORE,
    ));
    commands.insert_resource(ScaledPicture { image, scale });
}

/// Resizes the picture when the window's size changes.
fn fit_picture(
    picture: Res<ScaledPicture>,
    window: Single<&Window, (With<PrimaryWindow>, Changed<Window>)>,
    mut images: ResMut<Assets<Image>>,
) {
    let size = picture_size(window.physical_size(), picture.scale);
    let Some(image) = images.get(&picture.image) else {
        return;
    };
    if image.size() == size {
        return;
    }
    if let Some(mut image) = images.get_mut(&picture.image) {
        image.resize(Extent3d {
            width: size.x,
            height: size.y,
            depth_or_array_layers: 1,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_picture_is_a_share_of_the_window() {
        assert_eq!(picture_size(UVec2::new(1280, 720), 0.5), UVec2::new(640, 360));
        assert_eq!(picture_size(UVec2::new(1, 1), 0.5), UVec2::ONE);
        assert_eq!(picture_size(UVec2::new(1281, 721), 1.0), UVec2::new(1281, 721));
    }
}
