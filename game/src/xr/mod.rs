//! Stepping in with a headset: an OpenXR session renders both eyes, tracks the head and
//! both controllers, and drives the same body as the keyboard does.
//!
//! [`probe`] asks the machine's OpenXR runtime for a headset before the app is built, so
//! that `--xr` can say in one line why there is none and start on the desktop instead.
//! [`XrPlugin`] adds the session's systems: the rig that follows the body
//! ([`rig`]), the controllers' actions ([`actions`]), comfortable movement
//! ([`locomotion`]) and the wrist menu ([`wrist`]). The laser pointer that clicks panels
//! lives with the panels ([`crate::panels::laser`]), so any pointing device can use it.

pub mod actions;
pub mod locomotion;
mod plugin;
pub mod rig;
pub mod wrist;

pub use plugin::{TurnStyle, XrBodyPlugin, XrPlugin, XrSettings, XrStats};

use bevy::math::UVec2;
use thiserror::Error;

/// Whether to start in a headset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum XrMode {
    /// The desktop window only.
    #[default]
    Off,
    /// A headset if there is one, else the desktop (`--xr`).
    Preferred,
    /// A headset or nothing (`--xr --require-xr`).
    Required,
}

/// What the machine's OpenXR runtime offers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XrRuntime {
    /// The runtime's name and version, e.g. "Monado(XRT) 25.0.0".
    pub runtime: String,
    /// The headset's name.
    pub headset: String,
    /// The picture size per eye the runtime recommends.
    pub eye_pixels: UVec2,
}

/// Why there is no headset to start in.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum XrUnavailable {
    /// The OpenXR loader library is not installed.
    #[error("no OpenXR loader on this machine ({0}); install an OpenXR runtime such as Monado or SteamVR")]
    NoLoader(String),
    /// The loader found no runtime, or the runtime refused us.
    #[error("no OpenXR runtime answered ({0}); start your runtime (Monado's monado-service, SteamVR)")]
    NoRuntime(String),
    /// The runtime answered but has no headset.
    #[error("the OpenXR runtime has no headset connected ({0})")]
    NoHeadset(String),
}

/// Asks the OpenXR runtime for a head-mounted display, and what it recommends.
#[allow(
    unsafe_code,
    reason = "OpenXR's loader is a system library opened at run time; the session loads it too"
)]
pub fn probe() -> Result<XrRuntime, XrUnavailable> {
    // SAFETY: loading the system's OpenXR loader runs its initialisers; that is what
    // the loader is for, and the session below loads the same library again.
    let entry =
        unsafe { openxr::Entry::load() }.map_err(|error| XrUnavailable::NoLoader(error.to_string()))?;
    let available = entry
        .enumerate_extensions()
        .map_err(|error| XrUnavailable::NoRuntime(error.to_string()))?;
    let mut wanted = openxr::ExtensionSet::default();
    wanted.khr_vulkan_enable2 = available.khr_vulkan_enable2;
    let instance = entry
        .create_instance(
            &openxr::ApplicationInfo {
                application_name: "Sanctuary",
                engine_name: "Bevy",
                ..Default::default()
            },
            &wanted,
            &[],
        )
        .map_err(|error| XrUnavailable::NoRuntime(error.to_string()))?;
    if !available.khr_vulkan_enable2 {
        return Err(XrUnavailable::NoRuntime(
            "the runtime cannot render with Vulkan (XR_KHR_vulkan_enable2)".into(),
        ));
    }
    let runtime = instance
        .properties()
        .map(|properties| format!("{} {}", properties.runtime_name, properties.runtime_version))
        .unwrap_or_else(|_| "an OpenXR runtime".into());
    let system = instance
        .system(openxr::FormFactor::HEAD_MOUNTED_DISPLAY)
        .map_err(|error| XrUnavailable::NoHeadset(error.to_string()))?;
    let headset = instance
        .system_properties(system)
        .map(|properties| properties.system_name)
        .unwrap_or_else(|_| "a headset".into());
    let views = instance
        .enumerate_view_configuration_views(system, openxr::ViewConfigurationType::PRIMARY_STEREO)
        .map_err(|error| XrUnavailable::NoHeadset(error.to_string()))?;
    let eye_pixels = views
        .first()
        .map(|view| {
            UVec2::new(
                view.recommended_image_rect_width,
                view.recommended_image_rect_height,
            )
        })
        .ok_or_else(|| XrUnavailable::NoHeadset("it shows no views".into()))?;
    Ok(XrRuntime {
        runtime,
        headset,
        eye_pixels,
    })
}

/// The picture size per eye at a render scale, kept even and at least 64 pixels.
pub fn scaled_eye_pixels(recommended: UVec2, scale: f32) -> UVec2 {
    let scale = if scale.is_finite() {
        scale.clamp(0.25, 1.0)
    } else {
        1.0
    };
    let even = |side: u32| (side.max(64) / 2) * 2;
    let scaled = (recommended.as_vec2() * scale).as_uvec2();
    UVec2::new(even(scaled.x), even(scaled.y))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eye_pictures_shrink_with_the_render_scale_within_bounds() {
        let recommended = UVec2::new(1440, 1600);
        assert_eq!(scaled_eye_pixels(recommended, 1.0), recommended);
        assert_eq!(scaled_eye_pixels(recommended, 0.5), UVec2::new(720, 800));
        assert_eq!(
            scaled_eye_pixels(recommended, 0.01),
            UVec2::new(360, 400),
            "a quarter at least"
        );
        assert_eq!(
            scaled_eye_pixels(recommended, 3.0),
            recommended,
            "never above the runtime's"
        );
        assert_eq!(scaled_eye_pixels(recommended, f32::NAN), recommended);
        assert_eq!(scaled_eye_pixels(UVec2::new(101, 40), 1.0), UVec2::new(100, 64));
    }
}
