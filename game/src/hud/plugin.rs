//! [`HudPlugin`]: screen-space text and overlays drawn with bevy_ui.

use crate::desktop::CursorGrab;
use crate::people::Roster;
use crate::sets::GameSystems;
use crate::spaces::{CurrentSpace, SpaceCatalog, Travel};
use bevy::prelude::*;

/// The controls, as shown in the help overlay and the README.
pub const CONTROLS: &[(&str, &str)] = &[
    (
        "Click",
        "grab the mouse to look around (or press a panel's button)",
    ),
    ("Esc", "release the mouse"),
    ("W A S D / arrows", "walk"),
    ("Shift", "run (fly faster)"),
    ("Space", "jump; rise while flying"),
    ("F", "fly on / off"),
    ("Ctrl / C", "sink while flying"),
    ("Tab", "open or close the panels on screen"),
    ("F1", "show or hide this help"),
];

/// Draws the HUD and toggles help with F1.
pub struct HudPlugin;

impl Plugin for HudPlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<HelpOverlay>()
            .add_systems(Startup, build_hud)
            .add_systems(
                Update,
                (toggle_help, show_space_name, show_fade, show_crosshair, show_help)
                    .in_set(GameSystems::Presentation),
            );
    }
}

/// Whether the help overlay is showing.
#[derive(Resource, Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct HelpOverlay(pub bool);

#[derive(Component)]
struct SpaceLabel;

#[derive(Component)]
struct Fade;

#[derive(Component)]
struct Crosshair;

#[derive(Component)]
struct HelpPanel;

fn build_hud(mut commands: Commands) {
    let shadowed = |size: f32| {
        (
            TextFont::from_font_size(size),
            TextColor(Color::srgb(0.95, 0.95, 1.0)),
        )
    };
    commands.spawn((
        SpaceLabel,
        Text::new(""),
        shadowed(26.0),
        TextShadow {
            offset: Vec2::splat(1.5),
            color: Color::srgba(0.0, 0.0, 0.0, 0.7),
        },
        Node {
            position_type: PositionType::Absolute,
            left: px(18),
            top: px(14),
            ..default()
        },
    ));
    commands.spawn((
        Text::new("F1 help   Tab panels   Esc release mouse"),
        shadowed(15.0),
        TextShadow {
            offset: Vec2::splat(1.5),
            color: Color::srgba(0.0, 0.0, 0.0, 0.7),
        },
        Node {
            position_type: PositionType::Absolute,
            left: px(18),
            bottom: px(12),
            ..default()
        },
    ));
    commands.spawn((
        Crosshair,
        Node {
            position_type: PositionType::Absolute,
            left: percent(50),
            top: percent(50),
            width: px(6),
            height: px(6),
            margin: UiRect::all(px(-3)),
            border_radius: BorderRadius::MAX,
            ..default()
        },
        BackgroundColor(Color::srgba(1.0, 1.0, 1.0, 0.8)),
        Visibility::Hidden,
    ));
    commands
        .spawn((
            HelpPanel,
            Node {
                position_type: PositionType::Absolute,
                right: px(18),
                top: px(14),
                padding: UiRect::all(px(14)),
                flex_direction: FlexDirection::Column,
                row_gap: px(4),
                border_radius: BorderRadius::all(px(8)),
                ..default()
            },
            BackgroundColor(Color::srgba(0.02, 0.03, 0.06, 0.8)),
            Visibility::Hidden,
        ))
        .with_children(|panel| {
            panel.spawn((Text::new("Controls"), shadowed(20.0)));
            for (keys, action) in CONTROLS {
                panel.spawn((Text::new(format!("{keys:<18} {action}")), shadowed(15.0)));
            }
        });
    commands.spawn((
        Fade,
        Node {
            position_type: PositionType::Absolute,
            width: percent(100),
            height: percent(100),
            ..default()
        },
        BackgroundColor(Color::BLACK),
        GlobalZIndex(10),
    ));
}

fn toggle_help(keys: Res<ButtonInput<KeyCode>>, mut help: ResMut<HelpOverlay>) {
    if keys.just_pressed(KeyCode::F1) {
        help.0 = !help.0;
    }
}

/// "The Lobby" alone, or "The Lobby  -  3 others here" when others are (the default
/// font has no middle dot).
fn show_space_name(
    current: Option<Res<CurrentSpace>>,
    roster: Res<Roster>,
    catalog: Res<SpaceCatalog>,
    mut label: Single<&mut Text, With<SpaceLabel>>,
) {
    let Some(current) = current else {
        return;
    };
    if !current.is_changed() && !roster.is_changed() {
        return;
    }
    let title = catalog
        .get(&current.name)
        .map_or(current.name.as_str(), |space| space.title.as_str());
    label.0 = match roster.count_in(&current.name) {
        0 => title.to_owned(),
        1 => format!("{title}  -  1 other here"),
        others => format!("{title}  -  {others} others here"),
    };
}

fn show_fade(travel: Res<Travel>, mut fade: Single<&mut BackgroundColor, With<Fade>>) {
    let alpha = travel.darkness();
    if fade.0.alpha() != alpha {
        fade.0.set_alpha(alpha);
    }
}

fn show_crosshair(grab: Res<CursorGrab>, mut crosshair: Single<&mut Visibility, With<Crosshair>>) {
    crosshair.set_if_neq(if grab.0 {
        Visibility::Inherited
    } else {
        Visibility::Hidden
    });
}

fn show_help(help: Res<HelpOverlay>, mut panel: Single<&mut Visibility, With<HelpPanel>>) {
    panel.set_if_neq(if help.0 {
        Visibility::Inherited
    } else {
        Visibility::Hidden
    });
}
