//! The rendering quality: `high`, or `low` for weak machines and software renderers.
//! Low turns the spaces' point lights off (shadows are always off) and draws half the
//! pixels across and down: the desktop's world into a picture half the window's size,
//! stretched over it (see `desktop::picture`), and each eye of a headset at half the
//! size the runtime recommends.

use bevy::prelude::*;

/// How much rendering work to spend on each frame.
#[derive(Resource, Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Quality {
    /// Every light; a headset's recommended picture size.
    #[default]
    High,
    /// No point lights; half the window's or the headset's recommended size each way.
    Low,
}

impl Quality {
    /// The size of the picture of the world, as a share of the window's (or of the
    /// headset's recommended size per eye) each way.
    pub fn render_scale(self) -> f32 {
        match self {
            Quality::High => 1.0,
            Quality::Low => 0.5,
        }
    }
}

/// Applies a [`Quality`] to everything the spaces spawn.
pub struct QualityPlugin(pub Quality);

impl Plugin for QualityPlugin {
    fn build(&self, app: &mut App) {
        app.insert_resource(self.0).add_observer(drop_point_light);
    }
}

/// At low quality a point light is removed as it appears (the space's sun and ambient
/// light still light it).
fn drop_point_light(light: On<Add, PointLight>, quality: Res<Quality>, mut commands: Commands) {
    if *quality == Quality::Low {
        commands.entity(light.entity).remove::<PointLight>();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn low_quality_removes_point_lights_and_high_keeps_them() {
        for (quality, kept) in [(Quality::High, 1), (Quality::Low, 0)] {
            let mut app = App::new();
            app.add_plugins(QualityPlugin(quality));
            app.world_mut().spawn(PointLight::default());
            app.world_mut().spawn(DirectionalLight::default());
            app.update();
            let world = app.world_mut();
            assert_eq!(
                world.query::<&PointLight>().iter(world).count(),
                kept,
                "{quality:?}"
            );
            assert_eq!(world.query::<&DirectionalLight>().iter(world).count(), 1);
        }
    }
}
