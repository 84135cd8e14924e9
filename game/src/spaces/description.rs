//! The space file format: what a space is made of, as plain data read from RON.
//!
//! A space file (`assets/spaces/<name>.ron`) lists the blocks that make up its
//! geometry, its lights, spawn points, portals to other spaces and named anchors that
//! features attach behaviour to (`screen`, `stage`, `stall_03`, `directory`, ...).
//! Nothing here knows about Bevy's ECS: [`SpaceDescription::parse`] turns text into a
//! checked description or an error that says what is wrong.

use serde::Deserialize;
use std::collections::HashSet;
use thiserror::Error;

/// A point or size in metres, `[x, y, z]`, with `y` up.
pub type Vec3Data = [f32; 3];

/// A linear RGB colour, each channel from 0 to 1 (values above 1 glow when emissive).
pub type ColorData = [f32; 3];

/// One space, as written in its file.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SpaceDescription {
    /// The name used on the command line and in portals, such as `lobby`.
    pub name: String,
    /// The name shown to people, such as `The Lobby`.
    pub title: String,
    /// One line that says what the space is for, shown in the directory.
    #[serde(default)]
    pub summary: String,
    /// The colour of the sky (the clear colour behind everything).
    pub sky: ColorData,
    /// Light that reaches every surface, as a colour and a brightness.
    #[serde(default)]
    pub ambient: AmbientData,
    /// Distance fog: things fade into the sky colour between these distances in metres.
    #[serde(default)]
    pub fog: Option<FogData>,
    /// Falling below this height sends a person back to the first spawn point.
    #[serde(default = "default_fall_limit")]
    pub fall_limit: f32,
    /// Where people appear. The first one is where a fresh arrival lands.
    pub spawn_points: Vec<SpawnPoint>,
    /// The geometry, built from simple solids.
    #[serde(default)]
    pub blocks: Vec<Block>,
    /// Lights beyond the ambient light.
    #[serde(default)]
    pub lights: Vec<LightData>,
    /// Doorways to other spaces.
    #[serde(default)]
    pub portals: Vec<Portal>,
    /// Named places that features attach behaviour to.
    #[serde(default)]
    pub anchors: Vec<Anchor>,
    /// Idle avatars that drift through the space to give it life.
    #[serde(default)]
    pub floating_avatars: Option<FloatingAvatars>,
    /// Where people may build, who, and within which limits. No building without it.
    #[serde(default)]
    pub build: Option<sanctuary_protocols::build::BuildRules>,
}

fn default_fall_limit() -> f32 {
    -60.0
}

/// Light that reaches every surface.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AmbientData {
    /// Colour of the light.
    pub color: ColorData,
    /// Brightness in Bevy's ambient units (about 80 for a dim room, 500 for daylight).
    pub brightness: f32,
}

impl Default for AmbientData {
    fn default() -> Self {
        Self {
            color: [1.0, 1.0, 1.0],
            brightness: 200.0,
        }
    }
}

/// Distance fog.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FogData {
    /// Colour things fade to.
    pub color: ColorData,
    /// Distance in metres where the fog starts.
    pub start: f32,
    /// Distance in metres where things are fully hidden.
    pub end: f32,
}

/// A named place to stand.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SpawnPoint {
    /// Name that portals use to arrive here, such as `main` or `from_market`.
    pub name: String,
    /// Where the feet stand.
    pub position: Vec3Data,
    /// Which way the person faces, in degrees about the up axis (0 faces -z).
    #[serde(default)]
    pub yaw_degrees: f32,
    /// How far the person looks up (positive) or down, in degrees.
    #[serde(default)]
    pub pitch_degrees: f32,
}

/// The outline of a block.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub enum Shape {
    /// A box with the given full size along x, y and z.
    Box(Vec3Data),
    /// An upright cylinder.
    Cylinder {
        /// Radius in metres.
        radius: f32,
        /// Full height in metres.
        height: f32,
    },
    /// A ball.
    Sphere {
        /// Radius in metres.
        radius: f32,
    },
}

/// A solid (or purely visual) piece of the space.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Block {
    /// Optional name, for error messages and for features that look blocks up.
    #[serde(default)]
    pub name: Option<String>,
    /// The outline.
    pub shape: Shape,
    /// Centre of the block.
    pub position: Vec3Data,
    /// Turn about the up axis, in degrees.
    #[serde(default)]
    pub yaw_degrees: f32,
    /// Surface colour.
    pub color: ColorData,
    /// Glow colour; light sources and screens use it.
    #[serde(default)]
    pub emissive: Option<ColorData>,
    /// Whether people collide with it. Defaults to true.
    #[serde(default = "default_true")]
    pub solid: bool,
    /// Repeats the block: `count` copies in all, each `step` further than the last.
    #[serde(default)]
    pub repeat: Option<Repeat>,
}

fn default_true() -> bool {
    true
}

/// Copies of a block along a line, for floors, galleries, seats and stalls.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Repeat {
    /// How many copies in all, the original included.
    pub count: u32,
    /// Offset from one copy to the next.
    pub step: Vec3Data,
}

/// A light.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub enum LightData {
    /// A light far away that lights everything from one direction, like the sun.
    Directional {
        /// Colour of the light.
        color: ColorData,
        /// Illuminance in lux.
        illuminance: f32,
        /// The direction the light travels.
        direction: Vec3Data,
    },
    /// A light that shines in every direction from a point.
    Point {
        /// Where it is.
        position: Vec3Data,
        /// Colour of the light.
        color: ColorData,
        /// Luminous power in lumens.
        intensity: f32,
        /// How far it reaches, in metres.
        range: f32,
    },
}

/// A doorway to another space. Walking into its volume takes you there.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Portal {
    /// The name of the space it leads to.
    pub to: String,
    /// The spawn point to arrive at in that space; its first spawn point if not given.
    #[serde(default)]
    pub arrive_at: Option<String>,
    /// Centre of the doorway, at the middle of its height.
    pub position: Vec3Data,
    /// Width, height and depth of the volume that triggers the portal.
    pub size: Vec3Data,
    /// Turn about the up axis, in degrees.
    #[serde(default)]
    pub yaw_degrees: f32,
    /// Colour of the shimmering surface.
    #[serde(default = "default_portal_color")]
    pub color: ColorData,
}

fn default_portal_color() -> ColorData {
    [0.3, 0.6, 1.0]
}

/// A named place in a space that features attach behaviour to.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Anchor {
    /// The name features look for, such as `screen` or `stall_03`.
    pub name: String,
    /// Where it is.
    pub position: Vec3Data,
    /// Which way it faces, in degrees about the up axis (0 faces +z, towards a viewer at +z).
    #[serde(default)]
    pub yaw_degrees: f32,
    /// Its size, where it matters (a screen's width and height, for example).
    #[serde(default)]
    pub size: Option<Vec3Data>,
}

/// Idle avatars drifting through a region of the space.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FloatingAvatars {
    /// How many.
    pub count: u32,
    /// Centre of the region they drift around.
    pub center: Vec3Data,
    /// How far from the centre line they drift, in metres.
    pub radius: f32,
    /// The lowest height they drift at.
    pub min_height: f32,
    /// The greatest height they drift at.
    pub max_height: f32,
}

/// What can be wrong with a space file.
#[derive(Debug, Error)]
pub enum SpaceError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The text is not a valid space description.
    #[error("{path}: {message}")]
    Syntax {
        /// The file.
        path: String,
        /// What the parser said, with line and column.
        message: String,
    },
    /// The description parses but makes no sense.
    #[error("{path}: {problem}")]
    Invalid {
        /// The file.
        path: String,
        /// What is wrong.
        problem: String,
    },
}

impl SpaceDescription {
    /// Parses and checks the text of a space file. `path` names the file in errors.
    pub fn parse(path: &str, text: &str) -> Result<Self, SpaceError> {
        let description: Self = ron::from_str(text).map_err(|error| SpaceError::Syntax {
            path: path.to_owned(),
            message: error.to_string(),
        })?;
        description.check().map_err(|problem| SpaceError::Invalid {
            path: path.to_owned(),
            problem,
        })?;
        Ok(description)
    }

    /// Checks what a space must have on its own; links between spaces are checked by
    /// the catalog.
    fn check(&self) -> Result<(), String> {
        if !is_space_name(&self.name) {
            return Err(format!(
                "name {:?} must be lowercase letters, digits and '-'",
                self.name
            ));
        }
        if self.spawn_points.is_empty() {
            return Err("a space needs at least one spawn point".into());
        }
        let mut names = HashSet::new();
        for spawn in &self.spawn_points {
            if !names.insert(spawn.name.as_str()) {
                return Err(format!("spawn point {:?} is named twice", spawn.name));
            }
            finite(&spawn.position, &format!("spawn point {:?}", spawn.name))?;
            if spawn.position[1] <= self.fall_limit {
                return Err(format!(
                    "spawn point {:?} is below the fall limit {}",
                    spawn.name, self.fall_limit
                ));
            }
            for portal in &self.portals {
                if portal.contains(spawn.position) {
                    return Err(format!(
                        "spawn point {:?} stands inside the portal to {:?}; arrivals would bounce straight back",
                        spawn.name, portal.to
                    ));
                }
            }
        }
        for (index, block) in self.blocks.iter().enumerate() {
            let label = block
                .name
                .clone()
                .unwrap_or_else(|| format!("block #{}", index + 1));
            finite(&block.position, &label)?;
            let positive = match block.shape {
                Shape::Box(size) => size.iter().all(|side| *side > 0.0),
                Shape::Cylinder { radius, height } => radius > 0.0 && height > 0.0,
                Shape::Sphere { radius } => radius > 0.0,
            };
            if !positive {
                return Err(format!("{label} has a size that is not positive"));
            }
            if let Some(repeat) = &block.repeat {
                if repeat.count == 0 || repeat.count > 1000 {
                    return Err(format!(
                        "{label} repeats {} times; 1 to 1000 allowed",
                        repeat.count
                    ));
                }
                finite(&repeat.step, &label)?;
            }
        }
        for portal in &self.portals {
            finite(&portal.position, &format!("portal to {:?}", portal.to))?;
            if portal.size.iter().any(|side| *side <= 0.0) {
                return Err(format!(
                    "portal to {:?} has a size that is not positive",
                    portal.to
                ));
            }
        }
        let mut anchors = HashSet::new();
        for anchor in &self.anchors {
            if !anchors.insert(anchor.name.as_str()) {
                return Err(format!("anchor {:?} is named twice", anchor.name));
            }
        }
        if let Some(floating) = &self.floating_avatars
            && (floating.max_height < floating.min_height || floating.count > 500)
        {
            return Err("floating_avatars needs min_height <= max_height and at most 500 avatars".into());
        }
        if let Some(build) = &self.build {
            build.validate().map_err(|err| format!("build: {err}"))?;
        }
        Ok(())
    }

    /// The spawn point with this name, or the first one when `name` is `None`.
    pub fn spawn_point(&self, name: Option<&str>) -> Option<&SpawnPoint> {
        match name {
            Some(name) => self.spawn_points.iter().find(|spawn| spawn.name == name),
            None => self.spawn_points.first(),
        }
    }

    /// The anchor with this name.
    pub fn anchor(&self, name: &str) -> Option<&Anchor> {
        self.anchors.iter().find(|anchor| anchor.name == name)
    }
}

impl Block {
    /// Centres of every copy of this block, the original first.
    pub fn positions(&self) -> impl Iterator<Item = Vec3Data> + '_ {
        let (count, step) = match &self.repeat {
            Some(repeat) => (repeat.count, repeat.step),
            None => (1, [0.0; 3]),
        };
        (0..count).map(move |i| {
            let i = i as f32;
            [
                self.position[0] + step[0] * i,
                self.position[1] + step[1] * i,
                self.position[2] + step[2] * i,
            ]
        })
    }
}

impl Portal {
    /// Whether a point lies inside the portal's trigger volume.
    pub fn contains(&self, point: Vec3Data) -> bool {
        let offset = [
            point[0] - self.position[0],
            point[1] - self.position[1],
            point[2] - self.position[2],
        ];
        // Turn the offset into the portal's own frame (undo its yaw).
        let (sin, cos) = (-self.yaw_degrees.to_radians()).sin_cos();
        let local_x = offset[0] * cos + offset[2] * sin;
        let local_z = -offset[0] * sin + offset[2] * cos;
        local_x.abs() <= self.size[0] / 2.0
            && offset[1].abs() <= self.size[1] / 2.0
            && local_z.abs() <= self.size[2] / 2.0
    }
}

/// Whether a name may name a space: lowercase ASCII letters, digits and '-'.
pub fn is_space_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

fn finite(values: &[f32; 3], what: &str) -> Result<(), String> {
    if values.iter().all(|v| v.is_finite()) {
        Ok(())
    } else {
        Err(format!("{what} has a coordinate that is not a finite number"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"(
        name: "test-room",
        title: "Test Room",
        sky: (0.1, 0.1, 0.1),
        spawn_points: [(name: "main", position: (0, 1, 0))],
        portals: [(to: "lobby", position: (0, 1.5, -5), size: (2, 3, 1))],
    )"#;

    #[test]
    fn a_minimal_space_parses_with_defaults() {
        let space = SpaceDescription::parse("test.ron", MINIMAL).expect("valid space");
        assert_eq!(space.name, "test-room");
        assert_eq!(space.fall_limit, -60.0);
        assert_eq!(space.spawn_point(None).map(|s| s.name.as_str()), Some("main"));
        assert!(space.spawn_point(Some("nowhere")).is_none());
    }

    #[test]
    fn syntax_errors_name_the_file_and_the_place() {
        let error = SpaceDescription::parse("broken.ron", "(name: \"x\", title: ").unwrap_err();
        let text = error.to_string();
        assert!(text.starts_with("broken.ron:"), "{text}");
        assert!(matches!(error, SpaceError::Syntax { .. }));
    }

    #[test]
    fn unknown_fields_are_rejected() {
        let text = MINIMAL.replace("sky:", "skye: (0,0,0), sky:");
        let error = SpaceDescription::parse("typo.ron", &text).unwrap_err();
        assert!(error.to_string().contains("skye"), "{error}");
    }

    #[test]
    fn a_space_without_spawn_points_is_invalid() {
        let text = MINIMAL.replace(r#"(name: "main", position: (0, 1, 0))"#, "");
        let error = SpaceDescription::parse("empty.ron", &text).unwrap_err();
        assert!(error.to_string().contains("spawn point"), "{error}");
    }

    #[test]
    fn a_spawn_inside_a_portal_is_invalid() {
        let text = MINIMAL.replace("position: (0, 1, 0)", "position: (0, 1.5, -5)");
        let error = SpaceDescription::parse("loop.ron", &text).unwrap_err();
        assert!(error.to_string().contains("inside the portal"), "{error}");
    }

    #[test]
    fn non_finite_and_non_positive_sizes_are_invalid() {
        let text = MINIMAL.replace("size: (2, 3, 1)", "size: (2, 0, 1)");
        assert!(SpaceDescription::parse("flat.ron", &text).is_err());
        let text = MINIMAL.replace("position: (0, 1, 0)", "position: (inf, 1, 0)");
        assert!(SpaceDescription::parse("far.ron", &text).is_err());
    }

    #[test]
    fn repeated_blocks_step_from_the_original() {
        let block = Block {
            name: None,
            shape: Shape::Box([1.0, 1.0, 1.0]),
            position: [1.0, 2.0, 3.0],
            yaw_degrees: 0.0,
            color: [1.0; 3],
            emissive: None,
            solid: true,
            repeat: Some(Repeat {
                count: 3,
                step: [0.0, 10.0, 0.0],
            }),
        };
        let positions: Vec<_> = block.positions().collect();
        assert_eq!(
            positions,
            vec![[1.0, 2.0, 3.0], [1.0, 12.0, 3.0], [1.0, 22.0, 3.0]]
        );
    }

    #[test]
    fn a_turned_portal_contains_points_in_its_own_frame() {
        let portal = Portal {
            to: "lobby".into(),
            arrive_at: None,
            position: [0.0, 0.0, 0.0],
            size: [4.0, 2.0, 0.5],
            yaw_degrees: 90.0,
            color: [1.0; 3],
        };
        // Turned a quarter, the 4 m width now runs along z.
        assert!(portal.contains([0.0, 0.0, 1.8]));
        assert!(!portal.contains([1.8, 0.0, 0.0]));
    }

    #[test]
    fn building_rules_are_read_and_broken_ones_refused() {
        let zone = r#"(name: "garden", min: (-5, 0, -5), max: (5, 4, 5))"#;
        let text = MINIMAL.replace("sky:", &format!("build: Some((zones: [{zone}])), sky:"));
        let space = SpaceDescription::parse("garden.ron", &text).expect("valid space");
        let rules = space.build.expect("rules");
        assert_eq!(rules.zones[0].name.as_str(), "garden");
        let flat = text.replace("max: (5, 4, 5)", "max: (5, 0, 5)");
        let error = SpaceDescription::parse("flat.ron", &flat).unwrap_err();
        assert!(error.to_string().contains("build: zone \"garden\""), "{error}");
    }

    #[test]
    fn space_names_are_restricted() {
        assert!(is_space_name("lecture-hall"));
        assert!(!is_space_name("Lecture Hall"));
        assert!(!is_space_name(""));
        assert!(!is_space_name("../etc"));
    }
}
