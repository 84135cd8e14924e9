//! What a building bot builds: small structures (towers of blocks and lights capped by a
//! slab, walls, floors, a ramp, stairs or a sign) in a zone of its space it may build in,
//! at a steady rate, within the zone's rules: only the kinds it allows, no side longer than
//! its largest, every piece inside its box, centres on a 0.5 m grid and each piece standing
//! on the ground or on the one below it. At its limit of pieces it moves or removes its own
//! pieces instead, and places removed ones again, so it never needs more records than
//! pieces.
//!
//! Edits go through the [`BuildHandle`]: checked, signed, written to the disk and applied
//! before it returns (nothing waits on the network), then sent to the room by the world's
//! task. Each kept edit is printed (see [`crate::building`]).

use std::collections::VecDeque;
use std::time::Instant;

use sanctuary_net::{BuildError, BuildHandle};
use sanctuary_protocols::build::{Piece, PieceId, PieceKind, Record, SignText, ZoneName};
use sanctuary_protocols::limits::PIECE_SIZE_MAX_CM;
use sanctuary_protocols::message::Rgb;
use sanctuary_protocols::text::SpaceName;

use crate::bots::Dice;
use crate::building::{hash_line, piece_text, say};

/// The grid piece centres snap to, millimetres.
const GRID_MM: i64 = 500;

/// Sides are multiples of this, centimetres (but for the thin side of a slab, wall or sign).
const SIDE_STEP_CM: u16 = 50;

/// How many places a new structure tries before it settles for one that overlaps our own.
const PLACES_TRIED: usize = 12;

/// Footprints of our structures remembered, so new ones go elsewhere.
const FOOTPRINTS_KEPT: usize = 64;

/// How often each kind is picked, where the zone allows it.
const KIND_WEIGHTS: [(PieceKind, u32); 7] = [
    (PieceKind::Block, 4),
    (PieceKind::Wall, 3),
    (PieceKind::Light, 1),
    (PieceKind::Slab, 1),
    (PieceKind::Stairs, 1),
    (PieceKind::Ramp, 1),
    (PieceKind::Sign, 1),
];

/// A zone's box and limits in the whole numbers the checks use.
#[derive(Debug, Clone)]
struct Area {
    name: ZoneName,
    min: [i64; 3],
    max: [i64; 3],
    largest_cm: u16,
    limit: usize,
    kinds: Vec<PieceKind>,
}

fn to_mm(metres: f32) -> i64 {
    (f64::from(metres) * 1000.0).round() as i64
}

impl Area {
    /// Whether `piece` fits the zone: the same checks every peer makes.
    fn fits(&self, piece: &Piece) -> bool {
        if piece.check().is_err()
            || piece.size.iter().any(|&side| side > self.largest_cm)
            || !self.kinds.contains(&piece.kind)
        {
            return false;
        }
        let half = piece.half_extents_mm();
        (0..3).all(|axis| {
            let centre = i64::from(piece.position[axis]);
            self.min[axis] <= centre - half[axis] && centre + half[axis] <= self.max[axis]
        })
    }

    /// Whether the centre of `piece` is inside the zone's box.
    fn holds(&self, piece: &Piece) -> bool {
        (0..3).all(|axis| {
            let centre = i64::from(piece.position[axis]);
            self.min[axis] <= centre && centre <= self.max[axis]
        })
    }

    /// The lowest height on the grid inside the box: where structures stand.
    fn ground(&self) -> i64 {
        self.min[1].div_euclid(GRID_MM) * GRID_MM
            + if self.min[1].rem_euclid(GRID_MM) == 0 {
                0
            } else {
                GRID_MM
            }
    }

    /// A random point of the grid inside the box, on one horizontal axis.
    fn grid_point(&self, axis: usize, dice: &mut Dice) -> i64 {
        let low = (self.min[axis] + GRID_MM - 1).div_euclid(GRID_MM);
        let high = self.max[axis].div_euclid(GRID_MM);
        if high < low {
            return (self.min[axis] + self.max[axis]) / 2;
        }
        let steps = (high - low + 1) as f32;
        (low + ((dice.next() * steps) as i64).min(high - low)) * GRID_MM
    }

    /// The longest side allowed, rounded down to a whole step when it is one or more.
    fn largest_side(&self) -> u16 {
        if self.largest_cm >= SIDE_STEP_CM {
            self.largest_cm / SIDE_STEP_CM * SIDE_STEP_CM
        } else {
            self.largest_cm
        }
    }
}

/// One bot's building.
pub struct Builder {
    index: u32,
    build: BuildHandle,
    space: SpaceName,
    planner: Planner,
    /// Our pieces standing in the zone, as we placed them.
    mine: Vec<(PieceId, Piece)>,
    /// Our pieces we removed: placed again before any new id is used.
    removed: Vec<PieceId>,
    /// Pieces per second.
    rate: f32,
    /// Edits owed: grows with time at `rate`.
    credit: f32,
    /// No building after this.
    until: Option<Instant>,
    /// Edits wait for the disk: let the runtime move other tasks off this thread.
    on_disk: bool,
}

/// Where the next pieces go: structures planned in a zone, piece by piece.
struct Planner {
    /// Whose (for a sign's text).
    index: u32,
    area: Area,
    /// The rest of the structure under way, bottom first.
    plan: VecDeque<Piece>,
    footprints: VecDeque<[i64; 4]>,
    dice: Dice,
}

impl Builder {
    /// A builder for the bot `index` in `space`, in the first zone it may build in (an open
    /// one, or one it owns or is invited to); `None`, said on stderr, when there is none.
    /// Our pieces already in the document (kept on disk by an earlier run) count as ours.
    pub fn new(
        index: u32,
        build: BuildHandle,
        space: SpaceName,
        rate: f32,
        until: Option<Instant>,
        dice: Dice,
        on_disk: bool,
    ) -> Option<Self> {
        let me = build.me();
        let zone = build
            .rules(&space)?
            .zones
            .iter()
            .find(|zone| build.may_build(&space, &zone.name, &me))
            .cloned();
        let Some(zone) = zone else {
            eprintln!("bot-{index}: no zone of {space} lets this bot build");
            return None;
        };
        let area = Area {
            name: zone.name.clone(),
            min: zone.min.map(to_mm),
            max: zone.max.map(to_mm),
            largest_cm: (f64::from(zone.limits.largest_m) * 100.0)
                .round()
                .clamp(1.0, f64::from(PIECE_SIZE_MAX_CM)) as u16,
            limit: zone.limits.pieces_per_person as usize,
            kinds: zone
                .limits
                .kinds
                .clone()
                .unwrap_or_else(|| PieceKind::ALL.to_vec()),
        };
        let mine: Vec<(PieceId, Piece)> = build
            .pieces(&space)
            .into_iter()
            .filter(|(id, piece)| id.creator == me && area.holds(piece))
            .collect();
        Some(Self {
            index,
            build,
            space,
            planner: Planner {
                index,
                area,
                plan: VecDeque::new(),
                footprints: VecDeque::new(),
                dice,
            },
            mine,
            removed: Vec::new(),
            rate,
            credit: 0.0,
            until,
            on_disk,
        })
    }

    /// What we hold of the space's document, as a `build-hash:` line.
    pub fn hash_line(&self) -> Option<String> {
        hash_line(&self.build, &self.space)
    }

    /// Makes the edits `dt` seconds at the rate owe.
    pub fn tick(&mut self, dt: f32) {
        if self.until.is_some_and(|until| Instant::now() >= until) || self.planner.area.kinds.is_empty() {
            return;
        }
        // At most a second's worth at once: a stalled loop does not make a burst after.
        self.credit = (self.credit + self.rate * dt).min(self.rate.max(1.0));
        while self.credit >= 1.0 {
            self.credit -= 1.0;
            self.act();
        }
    }

    /// One edit: a piece placed, or at the limit one of ours moved or removed.
    fn act(&mut self) {
        if self.mine.len() >= self.planner.area.limit {
            if self.mine.is_empty() {
                return;
            }
            let dice = &mut self.planner.dice;
            let which = ((dice.next() * self.mine.len() as f32) as usize).min(self.mine.len() - 1);
            if dice.next() < 0.5 {
                self.move_piece(which);
            } else {
                self.remove_piece(which);
            }
            return;
        }
        let Some(piece) = self.planner.next_piece() else {
            return;
        };
        let (id, again) = match self.removed.pop() {
            Some(id) => (id, true),
            None => (self.build.new_piece_id(), false),
        };
        match self.edit(id, Some(piece.clone())) {
            Ok(()) => {
                self.print("built", &id, &piece);
                self.mine.push((id, piece));
            }
            Err(reason) => {
                if again {
                    self.removed.push(id);
                }
                self.planner.plan.clear();
                say(&format!("refused: {} {reason}", self.index));
            }
        }
    }

    fn move_piece(&mut self, which: usize) {
        let (id, piece) = self.mine[which].clone();
        let Some(moved) = self.planner.ground_spot(&piece) else {
            return;
        };
        match self.edit(id, Some(moved.clone())) {
            Ok(()) => {
                self.print("moved", &id, &moved);
                self.mine[which].1 = moved;
            }
            Err(reason) => say(&format!("refused: {} {reason}", self.index)),
        }
    }

    fn remove_piece(&mut self, which: usize) {
        let (id, piece) = self.mine[which].clone();
        match self.edit(id, None) {
            Ok(()) => {
                self.print("removed", &id, &piece);
                self.mine.swap_remove(which);
                self.removed.push(id);
            }
            Err(reason) => say(&format!("refused: {} {reason}", self.index)),
        }
    }

    fn print(&self, what: &str, id: &PieceId, piece: &Piece) {
        let [x, y, z] = piece.position;
        say(&format!("{what}: {} {} {x},{y},{z}", self.index, piece_text(id)));
    }

    /// Makes one edit; the reason when it was not kept.
    fn edit(&self, id: PieceId, piece: Option<Piece>) -> Result<(), String> {
        let record = Record::Piece {
            id,
            zone: self.planner.area.name.clone(),
            piece,
        };
        let edit = || self.build.edit(&self.space, vec![record]);
        let result = if self.on_disk {
            tokio::task::block_in_place(edit)
        } else {
            edit()
        };
        match result {
            Ok(edited) => match edited.refused {
                None => Ok(()),
                Some(refusal) => Err(refusal.to_string()),
            },
            Err(BuildError::Refused(refusal)) => Err(refusal.to_string()),
            Err(error) => Err(error.to_string()),
        }
    }
}

impl Planner {
    /// The next piece of the structure under way, planning a new one when it is done.
    fn next_piece(&mut self) -> Option<Piece> {
        for _ in 0..2 {
            if let Some(piece) = self.plan.pop_front() {
                return Some(piece);
            }
            self.plan_structure();
        }
        None
    }

    /// `piece` moved to a free spot on the ground.
    fn ground_spot(&mut self, piece: &Piece) -> Option<Piece> {
        for _ in 0..PLACES_TRIED {
            let half = piece.half_extents_mm();
            let position = [
                self.area.grid_point(0, &mut self.dice),
                self.area.ground() + half[1],
                self.area.grid_point(2, &mut self.dice),
            ];
            let moved = Piece {
                position: position.map(|v| v as i32),
                ..piece.clone()
            };
            if self.area.fits(&moved) {
                return Some(moved);
            }
        }
        None
    }

    fn pick_kind(&mut self) -> Option<PieceKind> {
        let allowed: Vec<(PieceKind, u32)> = KIND_WEIGHTS
            .into_iter()
            .filter(|(kind, _)| self.area.kinds.contains(kind))
            .collect();
        let total: u32 = allowed.iter().map(|(_, weight)| weight).sum();
        let mut roll = (self.dice.next() * total as f32) as u32;
        for (kind, weight) in &allowed {
            if roll < *weight {
                return Some(*kind);
            }
            roll -= weight;
        }
        allowed.last().map(|(kind, _)| *kind)
    }

    /// `kind`'s default size, its long sides scaled by a half to twice, in whole steps,
    /// within the zone's largest.
    fn size(&mut self, kind: PieceKind) -> [u16; 3] {
        let scale = [0.5f32, 1.0, 1.5, 2.0][((self.dice.next() * 4.0) as usize).min(3)];
        let largest = self.area.largest_side();
        kind.default_size().map(|side| {
            let side = if side >= SIDE_STEP_CM {
                let scaled = (f32::from(side) * scale / f32::from(SIDE_STEP_CM)).round() as u16;
                scaled.max(1) * SIDE_STEP_CM
            } else {
                side
            };
            side.min(largest).max(1)
        })
    }

    fn color(&mut self) -> Rgb {
        Rgb {
            r: (self.dice.next() * 255.0) as u8,
            g: (self.dice.next() * 255.0) as u8,
            b: (self.dice.next() * 255.0) as u8,
        }
    }

    /// Plans a structure at a free place of the zone: as much of it as fits there.
    fn plan_structure(&mut self) {
        let Some(kind) = self.pick_kind() else {
            return;
        };
        let color = self.color();
        let shape = self.shape(kind, color);
        let mut best: Vec<Piece> = Vec::new();
        for attempt in 0..PLACES_TRIED {
            let (x, z) = (
                self.area.grid_point(0, &mut self.dice),
                self.area.grid_point(2, &mut self.dice),
            );
            let ground = self.area.ground();
            let pieces: Vec<Piece> = shape
                .iter()
                .map(|piece| {
                    let [dx, dy, dz] = piece.position;
                    Piece {
                        position: [
                            (x + i64::from(dx)) as i32,
                            (ground + i64::from(dy)) as i32,
                            (z + i64::from(dz)) as i32,
                        ],
                        ..piece.clone()
                    }
                })
                .take_while(|piece| self.area.fits(piece))
                .collect();
            if pieces.is_empty() {
                continue;
            }
            let footprint = footprint(&pieces);
            let free = !self.footprints.iter().any(|other| overlap(other, &footprint));
            if pieces.len() > best.len() || (free && attempt < PLACES_TRIED - 1) {
                best = pieces;
            }
            if free {
                break;
            }
        }
        if best.is_empty() {
            return;
        }
        if self.footprints.len() >= FOOTPRINTS_KEPT {
            self.footprints.pop_front();
        }
        self.footprints.push_back(footprint(&best));
        self.plan = best.into();
    }

    /// The pieces of a structure of `kind` around the origin (x, z) on the ground (y 0),
    /// bottom first.
    fn shape(&mut self, kind: PieceKind, color: Rgb) -> Vec<Piece> {
        let mut pieces = Vec::new();
        let piece = |kind, position: [i64; 3], size, yaw| Piece {
            kind,
            position: position.map(|v| v as i32),
            yaw,
            size,
            color,
            text: None,
        };
        match kind {
            // A tower of cubes, now and then a light among them, maybe a slab on top.
            PieceKind::Block | PieceKind::Light => {
                let side = self.size(PieceKind::Block)[0];
                let side_mm = i64::from(side) * 10;
                let levels = 2 + (self.dice.next() * 5.0) as i64;
                let light = self.area.kinds.contains(&PieceKind::Light);
                let block = self.area.kinds.contains(&PieceKind::Block);
                for level in 0..levels {
                    let kind = if !block || (light && self.dice.next() < 0.2) {
                        PieceKind::Light
                    } else {
                        PieceKind::Block
                    };
                    pieces.push(piece(kind, [0, side_mm / 2 + level * side_mm, 0], [side; 3], 0));
                }
                if self.area.kinds.contains(&PieceKind::Slab) && self.dice.next() < 0.5 {
                    let [_, thick, _] = PieceKind::Slab.default_size();
                    let wide = (side * 2).min(self.area.largest_side());
                    let thick = thick.min(self.area.largest_cm);
                    let top = levels * side_mm + i64::from(thick) * 5;
                    pieces.push(piece(PieceKind::Slab, [0, top, 0], [wide, thick, wide], 0));
                }
            }
            // A wall of panels side by side, one or two rows high, along x or z.
            PieceKind::Wall => {
                let size = self.size(PieceKind::Wall);
                let (width, height) = (i64::from(size[0]) * 10, i64::from(size[1]) * 10);
                let along_z = self.dice.next() < 0.5;
                let count = 2 + (self.dice.next() * 4.0) as i64;
                let rows = 1 + (self.dice.next() * 2.0) as i64;
                for row in 0..rows {
                    for n in 0..count {
                        let offset = n * width;
                        let (dx, dz) = if along_z { (0, offset) } else { (offset, 0) };
                        let yaw = if along_z { 6 } else { 0 };
                        pieces.push(piece(kind, [dx, height / 2 + row * height, dz], size, yaw));
                    }
                }
            }
            // A floor of slabs in a row.
            PieceKind::Slab => {
                let size = self.size(PieceKind::Slab);
                let width = i64::from(size[0]) * 10;
                let count = 2 + (self.dice.next() * 3.0) as i64;
                for n in 0..count {
                    pieces.push(piece(kind, [n * width, i64::from(size[1]) * 5, 0], size, 0));
                }
            }
            // One piece on the ground, facing one of four ways.
            PieceKind::Stairs | PieceKind::Ramp | PieceKind::Sign => {
                let size = self.size(kind);
                let yaw = 6 * ((self.dice.next() * 4.0) as u8).min(3);
                let mut single = piece(kind, [0, i64::from(size[1]) * 5, 0], size, yaw);
                if kind == PieceKind::Sign {
                    single.text = SignText::new(format!("bot-{} was here", self.index)).ok();
                }
                pieces.push(single);
            }
        }
        pieces
    }
}

/// The box (x min, z min, x max, z max) that holds `pieces` seen from above.
fn footprint(pieces: &[Piece]) -> [i64; 4] {
    let mut area = [i64::MAX, i64::MAX, i64::MIN, i64::MIN];
    for piece in pieces {
        let half = piece.half_extents_mm();
        let (x, z) = (i64::from(piece.position[0]), i64::from(piece.position[2]));
        area[0] = area[0].min(x - half[0]);
        area[1] = area[1].min(z - half[2]);
        area[2] = area[2].max(x + half[0]);
        area[3] = area[3].max(z + half[2]);
    }
    area
}

fn overlap(a: &[i64; 4], b: &[i64; 4]) -> bool {
    a[0] < b[2] && b[0] < a[2] && a[1] < b[3] && b[1] < a[3]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn garden() -> Area {
        Area {
            name: ZoneName::new("garden").unwrap(),
            min: [-11_000, 0, -11_500],
            max: [11_000, 11_500, -3_500],
            largest_cm: 600,
            limit: 300,
            kinds: PieceKind::ALL.to_vec(),
        }
    }

    #[test]
    fn grid_points_stay_in_the_box_and_on_the_grid() {
        let area = garden();
        let mut dice = Dice(12345);
        for _ in 0..1000 {
            let x = area.grid_point(0, &mut dice);
            let z = area.grid_point(2, &mut dice);
            assert!((-11_000..=11_000).contains(&x) && x % GRID_MM == 0, "{x}");
            assert!((-11_500..=-3_500).contains(&z) && z % GRID_MM == 0, "{z}");
        }
        assert_eq!(area.ground(), 0);
        let raised = Area {
            min: [0, 250, 0],
            ..garden()
        };
        assert_eq!(raised.ground(), 500);
    }

    #[test]
    fn a_tower_stands_each_piece_on_the_one_below() {
        let rgb = Rgb { r: 1, g: 2, b: 3 };
        let a = Piece::new(PieceKind::Block, [0, 500, -5_000], rgb);
        let b = Piece::new(PieceKind::Block, [0, 1500, -5_000], rgb);
        let [_, ha, _] = a.half_extents_mm();
        let [_, hb, _] = b.half_extents_mm();
        assert_eq!(i64::from(a.position[1]) + ha, i64::from(b.position[1]) - hb);
        assert!(garden().fits(&a));
        let too_big = Piece {
            size: [700, 100, 100],
            ..a.clone()
        };
        assert!(!garden().fits(&too_big));
        let outside = Piece {
            position: [0, 500, 0],
            ..a
        };
        assert!(!garden().fits(&outside), "z 0 is outside the garden");
        let only_walls = Area {
            kinds: vec![PieceKind::Wall],
            ..garden()
        };
        assert!(!only_walls.fits(&b));
    }

    fn planner(area: Area, seed: u64) -> Planner {
        Planner {
            index: 3,
            area,
            plan: VecDeque::new(),
            footprints: VecDeque::new(),
            dice: Dice(seed),
        }
    }

    /// Plans many structures in `area`: every piece fits, is centred on the grid (seen
    /// from above) and stands on the ground or on the top of a piece placed before it.
    fn check_structures(area: Area) -> Vec<PieceKind> {
        let mut planner = planner(area.clone(), 0x5eed);
        let mut kinds = Vec::new();
        for _ in 0..400 {
            planner.plan_structure();
            let pieces: Vec<Piece> = planner.plan.drain(..).collect();
            let mut tops = vec![area.ground()];
            for piece in &pieces {
                assert!(area.fits(piece), "{piece:?} in {area:?}");
                let [x, y, z] = piece.position.map(i64::from);
                let [_, half, _] = piece.half_extents_mm();
                if area.largest_cm >= SIDE_STEP_CM {
                    assert!(x % GRID_MM == 0 && z % GRID_MM == 0, "{piece:?}");
                }
                assert!(tops.contains(&(y - half)), "{piece:?} floats above {tops:?}");
                tops.push(y + half);
                kinds.push(piece.kind);
            }
        }
        kinds
    }

    #[test]
    fn structures_fit_the_zone_snap_to_the_grid_and_stand_on_something() {
        let kinds = check_structures(garden());
        for kind in PieceKind::ALL {
            assert!(kinds.contains(&kind), "{kind:?} never built");
        }
        let walls_and_lights = Area {
            kinds: vec![PieceKind::Wall, PieceKind::Light],
            largest_cm: 150,
            ..garden()
        };
        let kinds = check_structures(walls_and_lights);
        assert!(
            kinds
                .iter()
                .all(|kind| matches!(kind, PieceKind::Wall | PieceKind::Light))
        );
        assert!(kinds.contains(&PieceKind::Light) && kinds.contains(&PieceKind::Wall));
        let tiny = Area {
            largest_cm: 30,
            min: [0, 250, 0],
            max: [2_000, 1_500, 2_000],
            ..garden()
        };
        assert!(!check_structures(tiny).is_empty());
    }

    #[test]
    fn a_moved_piece_lands_on_the_ground_inside_the_zone() {
        let area = garden();
        let mut planner = planner(area.clone(), 99);
        let wall = Piece {
            yaw: 6,
            ..Piece::new(PieceKind::Wall, [0, 1250, -5_000], Rgb { r: 1, g: 1, b: 1 })
        };
        for _ in 0..100 {
            let moved = planner.ground_spot(&wall).unwrap();
            assert!(area.fits(&moved));
            assert_eq!(moved.position[1], 1250);
            assert_eq!(
                (moved.kind, moved.size, moved.yaw),
                (wall.kind, wall.size, wall.yaw)
            );
        }
    }

    #[test]
    fn footprints_overlap_when_they_share_area() {
        assert!(overlap(&[0, 0, 10, 10], &[5, 5, 15, 15]));
        assert!(!overlap(&[0, 0, 10, 10], &[10, 0, 20, 10]));
    }
}
