//! Panels: egui an app draws, on a quad the client stands in the world or as an overlay.

use bevy::ecs::system::SystemId;
use bevy::prelude::*;
use bevy_egui::egui;

/// What a panel is: its name, where it stands and how big it is.
#[derive(Debug, Clone)]
pub struct PanelSpec {
    /// A short unique id, such as `directory`.
    pub id: &'static str,
    /// The heading shown on the panel.
    pub title: &'static str,
    /// The anchor a space names for this panel; spaces without it show the panel only
    /// in the overlay.
    pub anchor: &'static str,
    /// Size of the panel's picture in pixels.
    pub pixels: UVec2,
    /// Width of the panel in the world, metres; the height follows from `pixels`.
    pub width: f32,
}

impl PanelSpec {
    /// A panel of the standard size (720x600 pixels, 3 m wide), standing at the anchor
    /// named like its id.
    pub fn standard(id: &'static str, title: &'static str) -> Self {
        Self {
            id,
            title,
            anchor: id,
            pixels: UVec2::new(720, 600),
            width: 3.0,
        }
    }
}

/// Draws a panel's content into the `egui::Ui` it is given.
pub type PanelDraw = SystemId<InMut<'static, egui::Ui>>;

/// A panel an app added.
#[derive(Debug, Clone)]
pub struct AppPanel {
    /// The app's name.
    pub app: String,
    /// The panel.
    pub spec: PanelSpec,
    /// Its drawing system.
    pub draw: PanelDraw,
}

/// The panels apps added, for the client's panel host to take in.
#[derive(Resource, Debug, Default)]
pub struct AppPanels {
    /// The panels.
    pub panels: Vec<AppPanel>,
}
