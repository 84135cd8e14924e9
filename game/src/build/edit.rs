//! Edits: what a person asks ([`BuildAction`], from whatever device) made into signed
//! records through the network's [`BuildHandle`], with undo and redo of their own edits.

use bevy::prelude::*;
use sanctuary_net::{BuildError, BuildHandle};
use sanctuary_protocols::build::{BuildRules, Piece, PieceId, Record, ZoneName};
use sanctuary_protocols::identity::PeerId;
use sanctuary_protocols::text::SpaceName;

/// Most steps kept for undo.
pub const UNDO_STEPS: usize = 200;

/// The network's building handle, once in a world where building is set up.
#[derive(Resource, Debug, Default, Clone)]
pub struct BuildLink(pub Option<BuildHandle>);

/// Peers' edits (or a sync) changed these pieces of `space`.
#[derive(Message, Debug, Clone)]
pub struct PiecesChanged {
    /// The space.
    pub space: SpaceName,
    /// The pieces.
    pub changed: Vec<PieceId>,
}

/// What a person asks of building. Mouse and keyboard make these today, a hand pointer
/// in VR later; the edit logic does not care which.
#[derive(Message, Debug, Clone, PartialEq)]
pub enum BuildAction {
    /// Put new pieces where they are shown (one placed, or a paste).
    Place(Vec<Piece>),
    /// Change pieces that stand: move, turn, resize, recolour.
    Change(Vec<(PieceId, Piece)>),
    /// Take pieces away.
    Remove(Vec<PieceId>),
    /// Take back our last edit.
    Undo,
    /// Make the last edit we took back again.
    Redo,
    /// As an owner of `zone`, let `person` build there or stop them.
    Grant {
        /// The zone.
        zone: ZoneName,
        /// Who.
        person: PeerId,
        /// Whether they may build.
        allowed: bool,
    },
}

/// One step of undo: each piece as it was before and after.
type Step = Vec<(PieceId, Option<Piece>, Option<Piece>)>;

/// Our own edits, for undo and redo.
#[derive(Resource, Debug, Default)]
pub struct EditHistory {
    undo: Vec<Step>,
    redo: Vec<Step>,
}

impl EditHistory {
    /// Steps that can be taken back.
    pub fn undo_len(&self) -> usize {
        self.undo.len()
    }

    /// Steps that can be made again.
    pub fn redo_len(&self) -> usize {
        self.redo.len()
    }

    fn push(&mut self, step: Step) {
        if step.is_empty() {
            return;
        }
        self.undo.push(step);
        if self.undo.len() > UNDO_STEPS {
            self.undo.remove(0);
        }
        self.redo.clear();
    }

    /// Records a step made of `before` and `after` states.
    pub fn record(&mut self, step: Step) {
        self.push(step);
    }

    /// The states to put back for undo, moving the step to redo.
    pub fn take_undo(&mut self) -> Option<Vec<(PieceId, Option<Piece>)>> {
        let step = self.undo.pop()?;
        let back = step.iter().map(|(id, before, _)| (*id, before.clone())).collect();
        self.redo.push(step);
        Some(back)
    }

    /// The states to put again for redo, moving the step back to undo.
    pub fn take_redo(&mut self) -> Option<Vec<(PieceId, Option<Piece>)>> {
        let step = self.redo.pop()?;
        let again = step.iter().map(|(id, _, after)| (*id, after.clone())).collect();
        self.undo.push(step);
        Some(again)
    }

    /// An undo or redo could not be made: put the step back where it was.
    pub fn give_back(&mut self, undoing: bool) {
        let (from, to) = if undoing {
            (&mut self.redo, &mut self.undo)
        } else {
            (&mut self.undo, &mut self.redo)
        };
        if let Some(step) = from.pop() {
            to.push(step);
        }
    }
}

/// What building last said to the person: a refusal, a notice, or what was done.
#[derive(Resource, Debug, Default, Clone)]
pub struct BuildStatus {
    /// The line to show.
    pub message: Option<String>,
}

/// The zone a piece would belong to: the first whose box holds its centre.
pub fn zone_for(rules: &BuildRules, piece: &Piece) -> Option<ZoneName> {
    let centre = piece.position.map(|mm| mm as f32 / 1000.0);
    rules.zone_at(centre).map(|zone| zone.name.clone())
}

/// Why an edit cannot be made, in words for the person.
fn explain(error: &BuildError) -> String {
    format!("Not built: {error}")
}

/// Makes `pieces` (`None`: removed) the state of these ids in `space`, through `handle`;
/// returns the ids whose showing changed.
pub fn put(
    handle: &BuildHandle,
    space: &SpaceName,
    pieces: &[(PieceId, Option<Piece>)],
    current: impl Fn(&PieceId) -> Option<Piece>,
) -> Result<Vec<PieceId>, String> {
    let Some(rules) = handle.rules(space) else {
        return Err(format!("Nobody may build in {space}."));
    };
    let mut records = Vec::with_capacity(pieces.len());
    for (id, piece) in pieces {
        // A removed piece keeps the zone it stood in; a placed one takes the zone it is in.
        let zone = match piece {
            Some(piece) => zone_for(rules, piece),
            None => current(id).and_then(|old| zone_for(rules, &old)),
        };
        let Some(zone) = zone else {
            return Err("Not built: that is outside every building zone here.".into());
        };
        records.push(Record::Piece {
            id: *id,
            zone,
            piece: piece.clone(),
        });
    }
    let edited = handle.edit(space, records).map_err(|error| explain(&error))?;
    if let Some(refused) = edited.refused {
        return Err(format!("Only part was built: {refused}"));
    }
    Ok(edited.changed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sanctuary_protocols::build::PieceKind;
    use sanctuary_protocols::message::Rgb;

    fn id(number: u64) -> PieceId {
        PieceId {
            creator: PeerId::from_bytes([1; 32]),
            number,
        }
    }

    #[test]
    fn undo_and_redo_walk_the_steps_and_a_new_edit_clears_redo() {
        let block = Piece::new(PieceKind::Block, [0, 500, 0], Rgb { r: 1, g: 2, b: 3 });
        let moved = Piece {
            position: [1000, 500, 0],
            ..block.clone()
        };
        let mut history = EditHistory::default();
        history.record(vec![(id(1), None, Some(block.clone()))]);
        history.record(vec![(id(1), Some(block.clone()), Some(moved.clone()))]);
        assert_eq!(history.take_undo(), Some(vec![(id(1), Some(block.clone()))]));
        assert_eq!(history.take_undo(), Some(vec![(id(1), None)]));
        assert_eq!(history.take_undo(), None);
        assert_eq!(history.take_redo(), Some(vec![(id(1), Some(block.clone()))]));
        history.give_back(false);
        assert_eq!(history.redo_len(), 2);
        history.record(vec![(id(2), None, Some(block))]);
        assert_eq!(history.redo_len(), 0);
        for n in 0..UNDO_STEPS + 5 {
            history.record(vec![(id(n as u64), None, None)]);
        }
        assert_eq!(history.undo_len(), UNDO_STEPS);
    }
}
