//! The panel host: one egui context per panel, rendered into an image that textures a
//! quad at the panel's anchor in each space; the same drawing code fills the overlay.

use crate::sets::GameSystems;
use crate::spaces::{SpaceCatalog, SpaceEntered, SpaceEntity};
use bevy::camera::RenderTarget;
use bevy::camera::visibility::RenderLayers;
use bevy::ecs::schedule::ScheduleLabel;
use bevy::picking::hover::HoverMap;
use bevy::picking::pointer::PointerId;
use bevy::prelude::*;
use bevy::render::render_resource::{Extent3d, TextureUsages};
use bevy_egui::input::EguiWantsInput;
use bevy_egui::picking::PickableEguiContext;
use bevy_egui::{
    EguiContext, EguiContextSettings, EguiGlobalSettings, EguiPrimaryContextPass, EguiSchedule,
    PrimaryEguiContext, egui,
};

pub use sanctuary_plugin_api::PanelSpec;
use sanctuary_plugin_api::host::{AppPanels, PanelDraw};

/// Adds panels to an app.
pub trait PanelAppExt {
    /// Registers a panel. `draw` is a system whose first parameter is
    /// `InMut<egui::Ui>`; it may take any other system parameters too.
    fn add_panel<M>(
        &mut self,
        spec: PanelSpec,
        draw: impl IntoSystem<InMut<'static, egui::Ui>, (), M> + 'static,
    ) -> &mut Self;
}

impl PanelAppExt for App {
    fn add_panel<M>(
        &mut self,
        spec: PanelSpec,
        draw: impl IntoSystem<InMut<'static, egui::Ui>, (), M> + 'static,
    ) -> &mut Self {
        let draw = self.register_system(draw);
        let id = spec.id;
        self.init_resource::<PanelRegistry>();
        self.world_mut()
            .resource_mut::<PanelRegistry>()
            .panels
            .push(Panel {
                spec,
                draw,
                owner: None,
                context: None,
                image: None,
            });
        self.add_systems(PanelPass(id), draw_in_world(id))
    }
}

/// Hosts the panels: contexts, quads, overlay and pointer state.
pub struct PanelsPlugin;

impl Plugin for PanelsPlugin {
    fn build(&self, app: &mut App) {
        app.add_plugins(super::laser::LaserPlugin)
            .init_resource::<PanelRegistry>()
            .init_resource::<PanelOverlay>()
            .init_resource::<PanelPointer>()
            .add_systems(Startup, create_contexts)
            .add_systems(
                PreUpdate,
                watch_pointer.after(bevy::picking::PickingSystems::Hover),
            )
            .add_systems(
                Update,
                (
                    toggle_overlay.in_set(GameSystems::Input),
                    place_quads.in_set(GameSystems::Presentation),
                ),
            )
            .add_systems(EguiPrimaryContextPass, draw_overlay);
    }

    /// Takes in the panels apps added (apps are installed after the client's own plugins).
    fn finish(&self, app: &mut App) {
        let Some(added) = app.world_mut().remove_resource::<AppPanels>() else {
            return;
        };
        for panel in added.panels {
            let id = panel.spec.id;
            if app.world().resource::<PanelRegistry>().get(id).is_some() {
                error!("app {}: a panel called {id} exists already", panel.app);
                continue;
            }
            app.world_mut()
                .resource_mut::<PanelRegistry>()
                .panels
                .push(Panel {
                    spec: panel.spec,
                    draw: panel.draw,
                    owner: Some(panel.app),
                    context: None,
                    image: None,
                });
            app.add_systems(PanelPass(id), draw_in_world(id));
        }
        app.init_resource::<AppPanels>();
    }
}

/// Which panel, if any, is open as a screen overlay.
#[derive(Resource, Debug, Default, Clone, PartialEq, Eq)]
pub struct PanelOverlay {
    /// The open panel's id.
    pub open: Option<&'static str>,
}

/// Where the pointer is, for features that share the mouse with panels.
#[derive(Resource, Debug, Default, Clone, Copy)]
pub struct PanelPointer {
    /// The mouse is over a panel in the world.
    pub over_panel: bool,
    /// A panel overlay is open on screen.
    pub overlay_open: bool,
    /// A panel has the keyboard (a text field has focus).
    pub typing: bool,
}

/// Marks a panel's quad in the world.
#[derive(Component, Debug, Clone)]
pub struct PanelQuad {
    /// The panel's id.
    pub id: &'static str,
}

/// The schedule in which a panel's world context is drawn.
#[derive(ScheduleLabel, Debug, Clone, PartialEq, Eq, Hash)]
struct PanelPass(&'static str);

#[derive(Debug)]
struct Panel {
    spec: PanelSpec,
    draw: PanelDraw,
    /// The app that added it; `None` for the client's own panels.
    owner: Option<String>,
    context: Option<Entity>,
    image: Option<Handle<Image>>,
}

/// Every panel of the client and its apps: what it is, its egui context and picture.
#[derive(Resource, Debug, Default)]
pub struct PanelRegistry {
    panels: Vec<Panel>,
}

impl PanelRegistry {
    fn get(&self, id: &str) -> Option<&Panel> {
        self.panels.iter().find(|panel| panel.spec.id == id)
    }

    /// The panels, in the order they were added.
    pub fn specs(&self) -> impl Iterator<Item = &PanelSpec> {
        self.panels.iter().map(|panel| &panel.spec)
    }

    /// Spawns a quad showing the panel `id` at `transform`, `width` metres wide (the
    /// panel's own width if `None`), that pointers click like the panel's other quads.
    /// `None` before the panel's picture exists, or for an unknown id.
    pub fn spawn_quad(
        &self,
        commands: &mut Commands,
        id: &str,
        width: Option<f32>,
        transform: Transform,
        meshes: &mut Assets<Mesh>,
        materials: &mut Assets<StandardMaterial>,
    ) -> Option<Entity> {
        let panel = self.get(id)?;
        let (context, image) = (panel.context?, panel.image.clone()?);
        let width = width.unwrap_or(panel.spec.width);
        let height = width * panel.spec.pixels.y as f32 / panel.spec.pixels.x as f32;
        let quad = commands
            .spawn((
                Name::new(format!("panel quad {}", panel.spec.id)),
                PanelQuad { id: panel.spec.id },
                Mesh3d(meshes.add(Plane3d::new(Vec3::Z, Vec2::new(width / 2.0, height / 2.0)).mesh())),
                MeshMaterial3d(materials.add(StandardMaterial {
                    base_color_texture: Some(image),
                    alpha_mode: AlphaMode::Blend,
                    unlit: true,
                    ..default()
                })),
                transform,
                // The desktop's mouse (desktop::pointer) and the lasers find it by this.
                PickableEguiContext(context),
            ))
            .id();
        Some(quad)
    }
}

/// Draws the contents of the panel `id` into `ui`, as the host does in the world (for
/// tests that read and click panels without a window). False if there is no such panel.
pub fn draw_panel_contents(world: &mut World, id: &str, ui: &mut egui::Ui) -> bool {
    let Some(draw) = world
        .get_resource::<PanelRegistry>()
        .and_then(|registry| registry.get(id))
        .map(|panel| panel.draw)
    else {
        return false;
    };
    world.run_system_with(draw, ui).is_ok()
}

/// Makes each panel's picture and the egui context that paints it.
fn create_contexts(
    mut commands: Commands,
    mut registry: ResMut<PanelRegistry>,
    mut images: ResMut<Assets<Image>>,
    mut egui_settings: ResMut<EguiGlobalSettings>,
) {
    // The main camera carries the primary context (for overlays); panel cameras must not.
    egui_settings.auto_create_primary_context = false;
    for (order, panel) in registry.panels.iter_mut().enumerate() {
        let size = Extent3d {
            width: panel.spec.pixels.x,
            height: panel.spec.pixels.y,
            depth_or_array_layers: 1,
        };
        let mut image = Image {
            data: Some(vec![0; (size.width * size.height * 4) as usize]),
            ..default()
        };
        image.texture_descriptor.usage |= TextureUsages::RENDER_ATTACHMENT;
        image.texture_descriptor.size = size;
        let image = images.add(image);
        let context = commands
            .spawn((
                Name::new(format!("panel {}", panel.spec.id)),
                Camera3d::default(),
                Camera {
                    order: -1 - order as isize,
                    clear_color: ClearColorConfig::Custom(Color::NONE),
                    ..default()
                },
                RenderLayers::none(),
                RenderTarget::Image(image.clone().into()),
                EguiSchedule::new(PanelPass(panel.spec.id)),
                EguiContextSettings {
                    capture_pointer_input: true,
                    ..default()
                },
            ))
            .id();
        panel.context = Some(context);
        panel.image = Some(image);
    }
}

/// Runs a panel's drawing system into the panel's own world context.
fn draw_in_world(id: &'static str) -> impl FnMut(&mut World) {
    move |world: &mut World| {
        let Some((context, draw, title, owner)) = world
            .resource::<PanelRegistry>()
            .get(id)
            .and_then(|panel| Some((panel.context?, panel.draw, panel.spec.title, panel.owner.clone())))
        else {
            return;
        };
        let Some(ctx) = world
            .get_mut::<EguiContext>(context)
            .map(|mut ctx| ctx.get_mut().clone())
        else {
            return;
        };
        ctx.set_pixels_per_point(1.5);
        let mut root = egui::Ui::new(
            ctx.clone(),
            egui::Id::new(("panel", id)),
            egui::UiBuilder::new()
                .layer_id(egui::LayerId::background())
                .max_rect(ctx.viewport_rect()),
        );
        egui::CentralPanel::default()
            .frame(
                egui::Frame::new()
                    .fill(egui::Color32::from_rgba_unmultiplied(12, 16, 28, 235))
                    .inner_margin(18),
            )
            .show(&mut root, |ui| {
                ui.heading(title);
                ui.separator();
                run_draw(world, draw, owner.as_deref(), ui);
            });
    }
}

/// Draws a panel's content: the client's own directly, an app's through the API, which
/// checks the app's grant and stops the app if its drawing panics.
fn run_draw(world: &mut World, draw: PanelDraw, owner: Option<&str>, ui: &mut egui::Ui) {
    if let Some(app) = owner {
        sanctuary_plugin_api::host::draw_panel(world, app, draw, ui);
    } else if let Err(error) = world.run_system_with(draw, ui) {
        error!("a panel failed to draw: {error}");
    }
}

/// Draws the open overlay panel, with tabs to switch between panels.
fn draw_overlay(world: &mut World) {
    let Some(open) = world.resource::<PanelOverlay>().open else {
        return;
    };
    let tabs: Vec<(&'static str, &'static str, PanelDraw, Option<String>)> = world
        .resource::<PanelRegistry>()
        .panels
        .iter()
        .map(|panel| (panel.spec.id, panel.spec.title, panel.draw, panel.owner.clone()))
        .collect();
    let Some((_, title, draw, owner)) = tabs.iter().find(|(id, ..)| *id == open).cloned() else {
        return;
    };
    let mut primary = world.query_filtered::<&mut EguiContext, With<PrimaryEguiContext>>();
    let Ok(mut ctx) = primary.single_mut(world) else {
        return;
    };
    let ctx = ctx.get_mut().clone();
    let mut chosen = open;
    let mut still_open = true;
    egui::Window::new(title)
        .id(egui::Id::new("panel overlay"))
        .open(&mut still_open)
        .collapsible(false)
        .resizable(true)
        .default_width(520.0)
        .anchor(egui::Align2::CENTER_CENTER, egui::Vec2::ZERO)
        .show(&ctx, |ui| {
            if tabs.len() > 1 {
                ui.horizontal(|ui| {
                    for (id, title, ..) in &tabs {
                        ui.selectable_value(&mut chosen, *id, *title);
                    }
                });
                ui.separator();
            }
            run_draw(world, draw, owner.as_deref(), ui);
        });
    let mut overlay = world.resource_mut::<PanelOverlay>();
    // The drawing system may itself have closed the overlay (after "go there").
    if overlay.open.is_some() {
        overlay.open = still_open.then_some(chosen);
    }
}

fn toggle_overlay(
    keys: Res<ButtonInput<KeyCode>>,
    pointer: Res<PanelPointer>,
    registry: Res<PanelRegistry>,
    mut overlay: ResMut<PanelOverlay>,
) {
    if keys.just_pressed(KeyCode::Tab) && !pointer.typing {
        overlay.open = match overlay.open {
            Some(_) => None,
            None => registry.panels.first().map(|panel| panel.spec.id),
        };
    } else if keys.just_pressed(KeyCode::Escape) && !pointer.typing {
        overlay.open = None;
    }
}

fn watch_pointer(
    hover: Res<HoverMap>,
    quads: Query<(), With<PanelQuad>>,
    overlay: Res<PanelOverlay>,
    wants: Res<EguiWantsInput>,
    through_picture: Option<Res<bevy_egui::input::HoveredNonWindowEguiContext>>,
    mut pointer: ResMut<PanelPointer>,
    mut blocked: ResMut<crate::avatar::ControlsBlocked>,
) {
    // Picking finds the panels under the mouse; so does the desktop's own ray
    // (desktop::pointer), which also sees through the smaller picture of low quality.
    let over_panel = hover
        .get(&PointerId::Mouse)
        .is_some_and(|hits| hits.keys().any(|entity| quads.contains(*entity)))
        || through_picture.is_some();
    let overlay_open = overlay.open.is_some();
    *pointer = PanelPointer {
        over_panel: over_panel || (overlay_open && wants.wants_any_pointer_input()),
        overlay_open,
        typing: wants.wants_any_keyboard_input(),
    };
    blocked.0 = pointer.typing;
}

/// Stands each panel at its anchor when a space is entered.
fn place_quads(
    mut commands: Commands,
    mut entered: MessageReader<SpaceEntered>,
    catalog: Res<SpaceCatalog>,
    registry: Res<PanelRegistry>,
    mut meshes: ResMut<Assets<Mesh>>,
    mut materials: ResMut<Assets<StandardMaterial>>,
) {
    let Some(space) = entered
        .read()
        .last()
        .and_then(|arrival| catalog.get(&arrival.name))
    else {
        return;
    };
    for panel in &registry.panels {
        let Some(anchor) = space.anchor(panel.spec.anchor) else {
            continue;
        };
        let transform = Transform::from_translation(Vec3::from_array(anchor.position))
            .with_rotation(Quat::from_rotation_y(anchor.yaw_degrees.to_radians()));
        let Some(quad) = registry.spawn_quad(
            &mut commands,
            panel.spec.id,
            None,
            transform,
            &mut meshes,
            &mut materials,
        ) else {
            continue;
        };
        commands.entity(quad).insert(SpaceEntity);
        let width = panel.spec.width;
        let height = width * panel.spec.pixels.y as f32 / panel.spec.pixels.x as f32;
        // A thin backing slab so the panel reads as an object from the side and behind.
        commands.spawn((
            SpaceEntity,
            Mesh3d(meshes.add(Cuboid::new(width + 0.12, height + 0.12, 0.06))),
            MeshMaterial3d(materials.add(StandardMaterial {
                base_color: Color::srgb(0.16, 0.17, 0.2),
                ..default()
            })),
            Pickable::IGNORE,
            transform * Transform::from_xyz(0.0, 0.0, -0.04),
        ));
    }
}
