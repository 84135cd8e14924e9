//! Sanctuary, the Bevy client: shared spaces where friends meet, trade and build,
//! with nobody in the middle.
//!
//! Each folder is one feature exposing one plugin; [`app`] puts them together for a
//! window or for headless runs.

pub mod app;
pub mod apps;
pub mod avatar;
pub mod build;
pub mod chat;
pub mod cli;
pub mod desktop;
pub mod home;
pub mod hud;
pub mod identity;
pub mod launch;
pub mod net_bridge;
pub mod panels;
pub mod people;
pub mod quality;
pub mod run_limits;
pub mod sets;
pub mod spaces;
pub mod storage;
pub mod voice;
pub mod xr;
