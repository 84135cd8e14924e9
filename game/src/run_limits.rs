//! `--frames N` and `--screenshot FILE`: quit after a number of frames, saving the
//! last one as a PNG first, and report how long frames took.

use bevy::prelude::*;
use bevy::render::view::screenshot::{Screenshot, ScreenshotCaptured};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Quits after `frames` frames, optionally saving a screenshot of the last one.
pub struct RunLimitsPlugin {
    /// How many frames to run; forever if `None`.
    pub frames: Option<u32>,
    /// Where to save the last frame (needs a window).
    pub screenshot: Option<PathBuf>,
    /// When the process started, for the time to the first frame.
    pub launched: Instant,
}

impl Plugin for RunLimitsPlugin {
    fn build(&self, app: &mut App) {
        app.insert_resource(FrameStats {
            launched: self.launched,
            first_frame: None,
            frames: 0,
            timed: Duration::ZERO,
            last: None,
            tick_started: None,
            ticking: Duration::ZERO,
        });
        if let Some(frames) = self.frames {
            app.insert_resource(FrameLimit {
                frames,
                screenshot: self.screenshot.clone(),
                requested: false,
            })
            .add_systems(Last, stop_at_limit.after(count_frames).before(ExitReports));
        }
        app.add_systems(First, start_tick).add_systems(
            Last,
            (
                count_frames,
                report_on_exit.after(count_frames).in_set(ExitReports),
            ),
        );
    }
}

/// How many frames ran and how long they took; printed when the app exits.
#[derive(Resource, Debug)]
pub struct FrameStats {
    launched: Instant,
    first_frame: Option<Duration>,
    /// Frames finished so far.
    pub frames: u32,
    timed: Duration,
    last: Option<Instant>,
    tick_started: Option<Instant>,
    ticking: Duration,
}

impl FrameStats {
    /// One line with the frame count; the mean time from one frame to the next and the
    /// frames per second that makes (the first frame, which includes start-up, is left
    /// out); the mean time the main schedule works per frame, from `First` to `Last`
    /// (the simulation tick; a window's rendering runs beside it); and the time from
    /// launch to the end of the first frame.
    pub fn summary(&self) -> String {
        let timed_frames = f64::from(self.frames.saturating_sub(1).max(1));
        let mean_ms = self.timed.as_secs_f64() * 1000.0 / timed_frames;
        let tick_ms = self.ticking.as_secs_f64() * 1000.0 / timed_frames;
        format!(
            "frames={} mean_frame_ms={:.2} fps={:.1} mean_tick_ms={:.3} first_frame_ms={:.0}",
            self.frames,
            mean_ms,
            if mean_ms > 0.0 { 1000.0 / mean_ms } else { 0.0 },
            tick_ms,
            self.first_frame.unwrap_or_default().as_secs_f64() * 1000.0
        )
    }
}

#[derive(Resource, Debug)]
struct FrameLimit {
    frames: u32,
    screenshot: Option<PathBuf>,
    requested: bool,
}

fn start_tick(mut stats: ResMut<FrameStats>) {
    stats.tick_started = Some(Instant::now());
}

fn count_frames(mut stats: ResMut<FrameStats>) {
    let now = Instant::now();
    if stats.first_frame.is_none() {
        stats.first_frame = Some(now - stats.launched);
    } else if let Some(started) = stats.tick_started {
        stats.ticking += now - started;
    }
    if let Some(last) = stats.last {
        stats.timed += now - last;
    }
    stats.last = Some(now);
    stats.frames += 1;
}

fn stop_at_limit(
    mut commands: Commands,
    stats: Res<FrameStats>,
    mut limit: ResMut<FrameLimit>,
    mut exit: MessageWriter<AppExit>,
) {
    if stats.frames < limit.frames || limit.requested {
        return;
    }
    limit.requested = true;
    match limit.screenshot.clone() {
        None => {
            exit.write(AppExit::Success);
        }
        Some(path) => {
            commands.spawn(Screenshot::primary_window()).observe(
                move |captured: On<ScreenshotCaptured>, mut exit: MessageWriter<AppExit>| {
                    exit.write(save_png(&captured.image, &path));
                },
            );
        }
    }
}

fn save_png(image: &Image, path: &PathBuf) -> AppExit {
    let saved = image
        .clone()
        .try_into_dynamic()
        .map_err(|error| error.to_string())
        .and_then(|picture| picture.to_rgb8().save(path).map_err(|error| error.to_string()));
    match saved {
        Ok(()) => {
            info!("saved the last frame to {}", path.display());
            AppExit::Success
        }
        Err(error) => {
            error!("cannot save the screenshot to {}: {error}", path.display());
            AppExit::error()
        }
    }
}

/// Where reports printed at exit run: after the frame limit asked for the exit.
#[derive(SystemSet, Debug, Clone, PartialEq, Eq, Hash)]
pub struct ExitReports;

fn report_on_exit(mut exits: MessageReader<AppExit>, stats: Res<FrameStats>) {
    if exits.read().next().is_some() {
        println!("stats: {}", stats.summary());
    }
}
