//! Helpers shared by the headless App tests.
#![allow(dead_code, reason = "each test binary uses a different subset")]

use bevy::prelude::*;
use bevy::time::TimeUpdateStrategy;
use sanctuary::app::{LaunchPlan, headless_app};
use sanctuary::spaces::SpaceCatalog;
use sanctuary::spaces::catalog::default_assets_folder;
use std::time::{Duration, Instant};

/// One frame of the fixed test clock: 60 Hz.
pub const FRAME: Duration = Duration::from_nanos(16_666_667);

/// The shipped spaces.
pub fn catalog() -> SpaceCatalog {
    SpaceCatalog::load(&default_assets_folder().join("spaces")).expect("the shipped spaces load")
}

/// The headless world started in `space`, on a fixed 60 Hz clock, not yet updated.
pub fn world_in(space: &str) -> App {
    let plan = LaunchPlan {
        catalog: catalog(),
        start_space: space.to_owned(),
        assets: default_assets_folder(),
        data_dir: std::env::temp_dir(),
        frames: None,
        screenshot: None,
        launched: Instant::now(),
    };
    let mut app = headless_app(&plan);
    app.insert_resource(TimeUpdateStrategy::ManualDuration(FRAME));
    app.finish();
    app.cleanup();
    app
}
