//! Spaces: the lobby, market, cinema, lecture hall and whatever else `assets/spaces/`
//! holds. Each is a data file; this feature loads them, builds the current one in the
//! world and carries people between them through portals.

pub mod catalog;
pub mod description;
mod plugin;
mod spawn;
pub mod travel;

pub use catalog::{LOBBY, SpaceCatalog};
pub use plugin::{
    CurrentSpace, PortalUser, SpaceCamera, SpaceEntered, SpaceEntity, SpacesPlugin, SpacesSystems, StartSpace,
};
pub use spawn::PortalSurface;
pub use travel::{Travel, TravelRequest};
