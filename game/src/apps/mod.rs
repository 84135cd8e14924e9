//! Apps and mods in the world: installs the built-in ones ([`list`]) through
//! `sanctuary-plugin-api`, keeps the API's view of the world up to date, and shows the
//! Apps panel where the person grants and revokes what each app may do.

pub mod list;
mod panel;
mod plugin;

pub use panel::AppsPanelPlugin;
pub use plugin::AppsPlugin;
