//! [`SpacesPlugin`]: builds the current space and carries people through portals.

use super::catalog::SpaceCatalog;
use super::description::SpaceDescription;
use super::spawn::{Visuals, spawn_space};
use super::travel::{FADE_SECONDS, Travel, TravelRequest};
use crate::sets::GameSystems;
use bevy::prelude::*;

/// Loads the start space, watches portals and runs transitions between spaces.
///
/// Needs a [`SpaceCatalog`] and a [`StartSpace`] resource.
pub struct SpacesPlugin;

impl Plugin for SpacesPlugin {
    fn build(&self, app: &mut App) {
        app.add_message::<TravelRequest>()
            .add_message::<SpaceEntered>()
            .init_resource::<Travel>()
            .add_systems(Startup, enter_start_space)
            .add_systems(
                Update,
                (walk_into_portals, advance_travel)
                    .chain()
                    .in_set(SpacesSystems::Transition)
                    .in_set(GameSystems::Travel),
            );
    }
}

/// The spaces feature's own systems, for others to order against.
#[derive(SystemSet, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SpacesSystems {
    /// Portals are checked and a transition advanced; a new space is spawned here.
    Transition,
}

/// The space to open in, from the command line.
#[derive(Resource, Debug, Clone)]
pub struct StartSpace(pub String);

/// The space the person is in now.
#[derive(Resource, Debug, Clone, PartialEq)]
pub struct CurrentSpace {
    /// Its name, as in the catalog.
    pub name: String,
}

/// Sent when a space has been built and the person should stand at `position`.
#[derive(Message, Debug, Clone)]
pub struct SpaceEntered {
    /// The space's name.
    pub name: String,
    /// Where the person's feet go.
    pub position: Vec3,
    /// Which way they face, in radians about the up axis.
    pub yaw: f32,
    /// How far they look up, in radians.
    pub pitch: f32,
}

/// Marks every entity that belongs to the current space; leaving despawns them.
#[derive(Component, Debug, Default, Clone, Copy)]
pub struct SpaceEntity;

/// Marks whatever walks through portals (the person, later bots).
#[derive(Component, Debug, Default, Clone, Copy)]
pub struct PortalUser;

/// Marks the camera that shows the space, so the space can set its fog.
#[derive(Component, Debug, Default, Clone, Copy)]
pub struct SpaceCamera;

fn enter_start_space(
    mut commands: Commands,
    catalog: Res<SpaceCatalog>,
    start: Res<StartSpace>,
    mut travel: ResMut<Travel>,
    mut scene: SceneSettings,
    mut entered: MessageWriter<SpaceEntered>,
) -> Result {
    let space = catalog
        .get(&start.0)
        .ok_or_else(|| format!("unknown start space {:?}", start.0))?;
    build_space(&mut commands, space, None, &mut scene, &mut entered);
    *travel = Travel::Arriving { elapsed: 0.0 };
    Ok(())
}

/// Starts a transition when a portal user stands inside a portal of the current space.
fn walk_into_portals(
    catalog: Res<SpaceCatalog>,
    current: Option<Res<CurrentSpace>>,
    travel: Res<Travel>,
    users: Query<&Transform, With<PortalUser>>,
    mut requests: MessageWriter<TravelRequest>,
) {
    let (Some(current), Travel::Idle) = (current, &*travel) else {
        return;
    };
    let Some(space) = catalog.get(&current.name) else {
        return;
    };
    for transform in &users {
        let point = transform.translation.to_array();
        if let Some(portal) = space.portals.iter().find(|portal| portal.contains(point)) {
            requests.write(TravelRequest {
                to: portal.to.clone(),
                arrive_at: portal.arrive_at.clone(),
            });
            return;
        }
    }
}

/// Runs the fade out, swap and fade in.
fn advance_travel(
    mut commands: Commands,
    time: Res<Time>,
    catalog: Res<SpaceCatalog>,
    mut travel: ResMut<Travel>,
    mut requests: MessageReader<TravelRequest>,
    old: Query<Entity, With<SpaceEntity>>,
    mut scene: SceneSettings,
    mut entered: MessageWriter<SpaceEntered>,
) {
    if let Some(request) = requests.read().last() {
        if catalog.get(&request.to).is_none() {
            warn!("there is no space called {:?}", request.to);
        } else if matches!(*travel, Travel::Idle | Travel::Arriving { .. }) {
            info!("travelling to {}", request.to);
            *travel = Travel::Leaving {
                request: request.clone(),
                elapsed: 0.0,
            };
        }
    }
    let dt = time.delta_secs();
    match &mut *travel {
        Travel::Idle => {}
        Travel::Arriving { elapsed } => {
            *elapsed += dt;
            if *elapsed >= FADE_SECONDS {
                *travel = Travel::Idle;
            }
        }
        Travel::Leaving { request, elapsed } => {
            *elapsed += dt;
            if *elapsed < FADE_SECONDS {
                return;
            }
            let request = request.clone();
            let Some(space) = catalog.get(&request.to) else {
                *travel = Travel::Idle;
                return;
            };
            for entity in &old {
                commands.entity(entity).despawn();
            }
            build_space(
                &mut commands,
                space,
                request.arrive_at.as_deref(),
                &mut scene,
                &mut entered,
            );
            *travel = Travel::Arriving { elapsed: 0.0 };
        }
    }
}

/// The parts of the app a space's look touches; absent ones (headless) are skipped.
#[derive(bevy::ecs::system::SystemParam)]
struct SceneSettings<'w, 's> {
    meshes: Option<ResMut<'w, Assets<Mesh>>>,
    materials: Option<ResMut<'w, Assets<StandardMaterial>>>,
    clear_color: Option<ResMut<'w, ClearColor>>,
    ambient: Option<ResMut<'w, GlobalAmbientLight>>,
    cameras: Query<'w, 's, Entity, With<SpaceCamera>>,
}

fn build_space(
    commands: &mut Commands,
    space: &SpaceDescription,
    arrive_at: Option<&str>,
    scene: &mut SceneSettings,
    entered: &mut MessageWriter<SpaceEntered>,
) {
    let visuals = match (scene.meshes.as_deref_mut(), scene.materials.as_deref_mut()) {
        (Some(meshes), Some(materials)) => Some(Visuals::new(meshes, materials)),
        _ => None,
    };
    spawn_space(commands, space, visuals);
    let [r, g, b] = space.sky;
    if let Some(clear_color) = scene.clear_color.as_deref_mut() {
        clear_color.0 = Color::linear_rgb(r, g, b);
    }
    if let Some(ambient) = scene.ambient.as_deref_mut() {
        let [r, g, b] = space.ambient.color;
        ambient.color = Color::linear_rgb(r, g, b);
        ambient.brightness = space.ambient.brightness;
    }
    for camera in &scene.cameras {
        match &space.fog {
            Some(fog) => {
                let [r, g, b] = fog.color;
                commands.entity(camera).insert(DistanceFog {
                    color: Color::linear_rgb(r, g, b),
                    falloff: FogFalloff::Linear {
                        start: fog.start,
                        end: fog.end,
                    },
                    ..default()
                });
            }
            None => {
                commands.entity(camera).remove::<DistanceFog>();
            }
        }
    }
    let spawn = space
        .spawn_point(arrive_at)
        .or_else(|| space.spawn_point(None))
        .expect("the catalog checks every space has a spawn point");
    commands.insert_resource(CurrentSpace {
        name: space.name.clone(),
    });
    entered.write(SpaceEntered {
        name: space.name.clone(),
        position: Vec3::from_array(spawn.position),
        yaw: spawn.yaw_degrees.to_radians(),
        pitch: spawn.pitch_degrees.to_radians(),
    });
}
