//! The controllers' buttons, sticks and poses as OpenXR actions, bound for the common
//! controllers (Valve Index, Oculus Touch, and the plain "simple controller" every
//! runtime offers), and read each frame into [`XrControls`].

use bevy::prelude::*;
use bevy_mod_openxr::action_binding::OxrSuggestActionBinding;
use bevy_mod_openxr::action_set_attaching::OxrAttachActionSet;
use bevy_mod_openxr::action_set_syncing::OxrSyncActionSet;
use bevy_mod_openxr::resources::OxrInstance;
use bevy_mod_openxr::session::OxrSession;
use bevy_mod_xr::session::XrTracker;

/// The actions of one session's controllers.
#[derive(Resource)]
pub struct XrActions {
    set: openxr::ActionSet,
    grip: [openxr::Action<openxr::Posef>; 2],
    aim: [openxr::Action<openxr::Posef>; 2],
    walk: openxr::Action<openxr::Vector2f>,
    turn: openxr::Action<openxr::Vector2f>,
    select: [openxr::Action<bool>; 2],
    fly: openxr::Action<bool>,
    jump: openxr::Action<bool>,
    run: openxr::Action<bool>,
    menu: openxr::Action<bool>,
    squeeze: [openxr::Action<bool>; 2],
}

/// Which hand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Hand {
    /// The left hand.
    Left,
    /// The right hand.
    Right,
}

impl Hand {
    /// Both hands, left first.
    pub const BOTH: [Hand; 2] = [Hand::Left, Hand::Right];

    fn index(self) -> usize {
        match self {
            Hand::Left => 0,
            Hand::Right => 1,
        }
    }

    fn path(self) -> &'static str {
        match self {
            Hand::Left => "/user/hand/left",
            Hand::Right => "/user/hand/right",
        }
    }
}

/// What the controllers say this frame.
#[derive(Resource, Debug, Default, Clone, PartialEq)]
pub struct XrControls {
    /// The left stick: walking (x right, y forward).
    pub walk: Vec2,
    /// The right stick: turning (x), and teleport aim or rising while flying (y).
    pub turn: Vec2,
    /// Each hand's trigger (select) is held: left, right.
    pub select: [bool; 2],
    /// Switch flying on or off (left X / A / left menu-less button).
    pub fly_pressed: bool,
    /// Jump (right A).
    pub jump_pressed: bool,
    /// Run while held (left stick click).
    pub run: bool,
    /// Open or close the wrist menu (B / Y / menu).
    pub menu_pressed: bool,
    /// Whether each hand's grip is squeezed: left, right (in build mode: remove; grab or place).
    pub squeezed: [bool; 2],
}

/// Marks the entity that follows a hand's grip (where the hand holds the controller).
#[derive(Component, Debug, Clone, Copy)]
pub struct HandGrip(pub Hand);

/// Marks the entity that follows a hand's aim (where the controller points).
#[derive(Component, Debug, Clone, Copy)]
pub struct HandAim(pub Hand);

/// Makes the actions once the OpenXR instance exists.
pub fn create_actions(instance: Res<OxrInstance>, mut commands: Commands) {
    match make_actions(&instance) {
        Ok(actions) => commands.insert_resource(actions),
        Err(error) => error!("xr: the controllers' actions could not be made: {error}"),
    }
}

fn make_actions(instance: &OxrInstance) -> openxr::Result<XrActions> {
    let set = instance.create_action_set("sanctuary", "Sanctuary", 0)?;
    let per_hand = |name: &str, title: &str| -> openxr::Result<[openxr::Action<openxr::Posef>; 2]> {
        Ok([
            set.create_action(&format!("left_{name}"), &format!("Left hand {title}"), &[])?,
            set.create_action(&format!("right_{name}"), &format!("Right hand {title}"), &[])?,
        ])
    };
    let grip = per_hand("grip", "grip")?;
    let aim = per_hand("aim", "aim")?;
    Ok(XrActions {
        select: [
            set.create_action("left_select", "Left hand select", &[])?,
            set.create_action("right_select", "Right hand select", &[])?,
        ],
        walk: set.create_action("walk", "Walk", &[])?,
        turn: set.create_action("turn", "Turn", &[])?,
        fly: set.create_action("fly", "Fly on or off", &[])?,
        jump: set.create_action("jump", "Jump", &[])?,
        run: set.create_action("run", "Run", &[])?,
        menu: set.create_action("menu", "Wrist menu", &[])?,
        squeeze: [
            set.create_action("left_squeeze", "Left hand squeeze", &[])?,
            set.create_action("right_squeeze", "Right hand squeeze", &[])?,
        ],
        grip,
        aim,
        set,
    })
}

/// Suggests where each action sits on the controllers the runtime may have.
pub fn suggest_bindings(actions: Res<XrActions>, mut bindings: MessageWriter<OxrSuggestActionBinding>) {
    let mut bind = |profile: &str, action: openxr::sys::Action, paths: &[String]| {
        bindings.write(OxrSuggestActionBinding {
            action,
            interaction_profile: format!("/interaction_profiles/{profile}").into(),
            bindings: paths.iter().map(|path| path.clone().into()).collect(),
        });
    };
    let left = Hand::Left.path();
    let right = Hand::Right.path();
    for hand in Hand::BOTH {
        let path = hand.path();
        let i = hand.index();
        for profile in [
            "valve/index_controller",
            "oculus/touch_controller",
            "khr/simple_controller",
        ] {
            bind(
                profile,
                actions.grip[i].as_raw(),
                &[format!("{path}/input/grip/pose")],
            );
            bind(
                profile,
                actions.aim[i].as_raw(),
                &[format!("{path}/input/aim/pose")],
            );
        }
        bind(
            "khr/simple_controller",
            actions.select[i].as_raw(),
            &[format!("{path}/input/select/click")],
        );
        bind(
            "valve/index_controller",
            actions.select[i].as_raw(),
            &[format!("{path}/input/trigger/click")],
        );
        bind(
            "oculus/touch_controller",
            actions.select[i].as_raw(),
            &[format!("{path}/input/trigger/value")],
        );
    }
    for hand in Hand::BOTH {
        let squeeze = format!("{}/input/squeeze/value", hand.path());
        for profile in ["valve/index_controller", "oculus/touch_controller"] {
            bind(
                profile,
                actions.squeeze[hand.index()].as_raw(),
                std::slice::from_ref(&squeeze),
            );
        }
    }
    for profile in ["valve/index_controller", "oculus/touch_controller"] {
        bind(
            profile,
            actions.walk.as_raw(),
            &[format!("{left}/input/thumbstick")],
        );
        bind(
            profile,
            actions.turn.as_raw(),
            &[format!("{right}/input/thumbstick")],
        );
        bind(
            profile,
            actions.run.as_raw(),
            &[format!("{left}/input/thumbstick/click")],
        );
    }
    bind(
        "valve/index_controller",
        actions.fly.as_raw(),
        &[format!("{left}/input/a/click")],
    );
    bind(
        "valve/index_controller",
        actions.jump.as_raw(),
        &[format!("{right}/input/a/click")],
    );
    bind(
        "valve/index_controller",
        actions.menu.as_raw(),
        &[format!("{left}/input/b/click"), format!("{right}/input/b/click")],
    );
    bind(
        "oculus/touch_controller",
        actions.fly.as_raw(),
        &[format!("{left}/input/x/click")],
    );
    bind(
        "oculus/touch_controller",
        actions.jump.as_raw(),
        &[format!("{right}/input/a/click")],
    );
    bind(
        "oculus/touch_controller",
        actions.menu.as_raw(),
        &[format!("{left}/input/y/click"), format!("{right}/input/b/click")],
    );
    bind(
        "khr/simple_controller",
        actions.menu.as_raw(),
        &[
            format!("{left}/input/menu/click"),
            format!("{right}/input/menu/click"),
        ],
    );
}

/// Attaches the actions to a new session and gives each hand's grip and aim an entity
/// that follows it.
pub fn attach_actions(
    actions: Res<XrActions>,
    session: Res<OxrSession>,
    mut attach: MessageWriter<OxrAttachActionSet>,
    mut commands: Commands,
) {
    attach.write(OxrAttachActionSet(actions.set.clone()));
    for hand in Hand::BOTH {
        let i = hand.index();
        for (action, is_grip) in [(&actions.grip[i], true), (&actions.aim[i], false)] {
            let space = match session.create_action_space(action, openxr::Path::NULL, Isometry3d::IDENTITY) {
                Ok(space) => space,
                Err(error) => {
                    error!("xr: cannot follow the {hand:?} hand: {error}");
                    continue;
                }
            };
            let mut entity = commands.spawn((space, XrTracker, Transform::default(), Visibility::default()));
            if is_grip {
                entity.insert((Name::new(format!("{hand:?} grip")), HandGrip(hand)));
            } else {
                entity.insert((Name::new(format!("{hand:?} aim")), HandAim(hand)));
            }
        }
    }
}

/// Asks the runtime to update the actions this frame.
pub fn sync_actions(actions: Res<XrActions>, mut sync: MessageWriter<OxrSyncActionSet>) {
    sync.write(OxrSyncActionSet(actions.set.clone()));
}

/// Reads the actions into [`XrControls`].
pub fn read_controls(actions: Res<XrActions>, session: Res<OxrSession>, mut controls: ResMut<XrControls>) {
    let session: &openxr::Session<openxr::AnyGraphics> = &session;
    let vector = |action: &openxr::Action<openxr::Vector2f>| {
        action
            .state(session, openxr::Path::NULL)
            .ok()
            .filter(|state| state.is_active)
            .map_or(Vec2::ZERO, |state| {
                Vec2::new(state.current_state.x, state.current_state.y)
            })
    };
    let held = |action: &openxr::Action<bool>| {
        action
            .state(session, openxr::Path::NULL)
            .is_ok_and(|state| state.is_active && state.current_state)
    };
    let pressed = |action: &openxr::Action<bool>| {
        action
            .state(session, openxr::Path::NULL)
            .is_ok_and(|state| state.is_active && state.current_state && state.changed_since_last_sync)
    };
    *controls = XrControls {
        walk: vector(&actions.walk),
        turn: vector(&actions.turn),
        select: [held(&actions.select[0]), held(&actions.select[1])],
        fly_pressed: pressed(&actions.fly),
        jump_pressed: pressed(&actions.jump),
        run: held(&actions.run),
        menu_pressed: pressed(&actions.menu),
        squeezed: [held(&actions.squeeze[0]), held(&actions.squeeze[1])],
    };
}
