//! Panels: egui drawn onto quads standing in the world, which a person points at and
//! clicks, and which can also open as a screen overlay (Tab). Every panel in the
//! client — the space directory now; wallet, storage, personal server and VR menus
//! later — is made through [`PanelAppExt::add_panel`].

mod directory;
mod host;
pub mod laser;

pub use directory::DirectoryPanelPlugin;
pub use host::{
    PanelAppExt, PanelOverlay, PanelPointer, PanelQuad, PanelRegistry, PanelSpec, PanelsPlugin,
    draw_panel_contents,
};
