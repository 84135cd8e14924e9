//! One game of chess between two people: who plays, the moves so far, and the rules
//! every copy applies to the next move.

pub use cozy_chess::Board;
use cozy_chess::util::{display_uci_move, parse_uci_move};
use cozy_chess::{Color, GameStatus, Piece, Square};
use sanctuary_plugin_api::PeerId;
use serde::{Deserialize, Serialize};

/// Longest game kept, in half-moves; a game that reaches it is a draw. It bounds a
/// game's size on the wire: [`MAX_PLIES`] moves of at most 3 bytes each fit in one app
/// message.
pub const MAX_PLIES: usize = 1000;

/// Which game: the person who started it (white) and when, in Unix milliseconds.
/// Ordered by time first, so every copy agrees which of two games came first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct GameKey {
    /// When white started it.
    pub started_ms: u64,
    /// White, who started it.
    pub white: PeerId,
}

/// A side of the board.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Side {
    /// Moves first.
    White,
    /// Moves second.
    Black,
}

impl Side {
    fn of(color: Color) -> Self {
        match color {
            Color::White => Self::White,
            Color::Black => Self::Black,
        }
    }

    /// The other side.
    pub fn other(self) -> Self {
        match self {
            Self::White => Self::Black,
            Self::Black => Self::White,
        }
    }
}

/// How a game stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Waiting for black to accept.
    Invited,
    /// Being played; this side moves next.
    ToMove(Side),
    /// Checkmate: this side won.
    Checkmate(Side),
    /// The other side resigned: this side won.
    Resigned(Side),
    /// Stalemate, the fifty-move rule, or [`MAX_PLIES`].
    Draw,
}

impl Outcome {
    /// Whether the game is over.
    pub fn is_over(self) -> bool {
        matches!(self, Self::Checkmate(_) | Self::Resigned(_) | Self::Draw)
    }
}

/// A move as it travels: from-square, to-square (0 = a1 … 63 = h8, as in UCI, so castling
/// is the king's two-square move) and a promotion piece, in 15 bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PackedMove(pub u16);

impl PackedMove {
    /// The move in UCI notation (`e2e4`, `e7e8q`), or `None` for bits that name no move.
    pub fn uci(self) -> Option<String> {
        let from = Square::try_index(usize::from(self.0 & 63))?;
        let to = Square::try_index(usize::from((self.0 >> 6) & 63))?;
        let promotion = match self.0 >> 12 {
            0 => "",
            1 => "n",
            2 => "b",
            3 => "r",
            4 => "q",
            _ => return None,
        };
        Some(format!("{from}{to}{promotion}"))
    }

    /// Packs a UCI move; `None` if it is not one.
    pub fn from_uci(uci: &str) -> Option<Self> {
        let square = |text: &str| text.parse::<Square>().ok().map(|square| square as u16);
        let from = square(uci.get(0..2)?)?;
        let to = square(uci.get(2..4)?)?;
        let promotion = match uci.get(4..)? {
            "" => 0,
            "n" => 1,
            "b" => 2,
            "r" => 3,
            "q" => 4,
            _ => return None,
        };
        Some(Self(from | to << 6 | promotion << 12))
    }
}

/// Why a move, an accept or a resignation was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// Only the two players may act in their game.
    #[error("only the players may move")]
    NotAPlayer,
    /// It is the other player's move.
    #[error("it is not their move")]
    NotTheirTurn,
    /// Black has not accepted yet.
    #[error("the game has not started")]
    NotStarted,
    /// The game is over.
    #[error("the game is over")]
    Over,
    /// Not a legal move in this position.
    #[error("{0} is not a legal move here")]
    Illegal(String),
}

/// One game: who plays it, whether black accepted, and every move so far (each checked
/// when it was added, so the list always replays).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Game {
    /// Which game; white is `key.white`.
    pub key: GameKey,
    /// Black, who was invited.
    pub black: PeerId,
    /// Whether black accepted.
    pub accepted: bool,
    /// The moves, in order.
    pub moves: Vec<PackedMove>,
    /// Who resigned, if someone did.
    pub resigned: Option<Side>,
}

impl Game {
    /// White's invitation to black, not yet accepted.
    pub fn new(key: GameKey, black: PeerId) -> Self {
        Self {
            key,
            black,
            accepted: false,
            moves: Vec::new(),
            resigned: None,
        }
    }

    /// The player of `side`.
    pub fn player(&self, side: Side) -> PeerId {
        match side {
            Side::White => self.key.white,
            Side::Black => self.black,
        }
    }

    /// The side `peer` plays, if it plays.
    pub fn side_of(&self, peer: &PeerId) -> Option<Side> {
        if *peer == self.key.white {
            Some(Side::White)
        } else if *peer == self.black {
            Some(Side::Black)
        } else {
            None
        }
    }

    /// The position after every move.
    pub fn board(&self) -> Board {
        let mut board = Board::default();
        for packed in &self.moves {
            // Every stored move was legal when added; a move that somehow is not ends the
            // replay rather than the program.
            let Some(uci) = packed.uci() else { break };
            let Ok(mv) = parse_uci_move(&board, &uci) else {
                break;
            };
            if board.try_play(mv).is_err() {
                break;
            }
        }
        board
    }

    /// How the game stands.
    pub fn outcome(&self) -> Outcome {
        if !self.accepted {
            return Outcome::Invited;
        }
        if let Some(side) = self.resigned {
            return Outcome::Resigned(side.other());
        }
        let board = self.board();
        match board.status() {
            GameStatus::Won => Outcome::Checkmate(Side::of(!board.side_to_move())),
            GameStatus::Drawn => Outcome::Draw,
            GameStatus::Ongoing if self.moves.len() >= MAX_PLIES => Outcome::Draw,
            GameStatus::Ongoing => Outcome::ToMove(Side::of(board.side_to_move())),
        }
    }

    /// Adds `mv`, played by `by`, if the rules allow it.
    pub fn play(&mut self, by: &PeerId, mv: PackedMove) -> Result<(), Refusal> {
        let side = self.side_of(by).ok_or(Refusal::NotAPlayer)?;
        match self.outcome() {
            Outcome::Invited => return Err(Refusal::NotStarted),
            Outcome::ToMove(to_move) if to_move != side => return Err(Refusal::NotTheirTurn),
            Outcome::ToMove(_) => {}
            _ => return Err(Refusal::Over),
        }
        let uci = mv
            .uci()
            .ok_or_else(|| Refusal::Illegal(format!("{:#06x}", mv.0)))?;
        let mut board = self.board();
        let parsed = parse_uci_move(&board, &uci).map_err(|_| Refusal::Illegal(uci.clone()))?;
        board.try_play(parsed).map_err(|_| Refusal::Illegal(uci))?;
        self.moves.push(mv);
        Ok(())
    }

    /// `by` gives up.
    pub fn resign(&mut self, by: &PeerId) -> Result<(), Refusal> {
        let side = self.side_of(by).ok_or(Refusal::NotAPlayer)?;
        if self.outcome().is_over() {
            return Err(Refusal::Over);
        }
        self.resigned = Some(side);
        Ok(())
    }

    /// Replays `moves` from the start as this game's players would have played them:
    /// `Some` game if every move is legal, `None` otherwise.
    pub fn replayed(
        key: GameKey,
        black: PeerId,
        moves: &[PackedMove],
        resigned: Option<Side>,
    ) -> Option<Self> {
        if moves.len() > MAX_PLIES {
            return None;
        }
        let mut game = Self::new(key, black);
        game.accepted = true;
        for mv in moves {
            let Outcome::ToMove(side) = game.outcome() else {
                return None;
            };
            let player = game.player(side);
            game.play(&player, *mv).ok()?;
        }
        if let Some(side) = resigned {
            let player = game.player(side);
            game.resign(&player).ok()?;
        }
        Some(game)
    }
}

/// What stands on a square, for drawing: side and piece letter (`K`, `Q`, `R`, `B`, `N`,
/// `P`).
pub fn piece_at(board: &Board, index: usize) -> Option<(Side, char)> {
    let square = Square::try_index(index)?;
    let piece = board.piece_on(square)?;
    let color = board.color_on(square)?;
    let letter = match piece {
        Piece::King => 'K',
        Piece::Queen => 'Q',
        Piece::Rook => 'R',
        Piece::Bishop => 'B',
        Piece::Knight => 'N',
        Piece::Pawn => 'P',
    };
    Some((Side::of(color), letter))
}

/// The legal moves from square `from`, in UCI, for highlighting targets.
pub fn moves_from(board: &Board, from: usize) -> Vec<String> {
    let Some(square) = Square::try_index(from) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    board.generate_moves_for(square.bitboard(), |moves| {
        for mv in moves {
            found.push(display_uci_move(board, mv).to_string());
        }
        false
    });
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use sanctuary_plugin_api::PeerId;

    fn peer(n: u8) -> PeerId {
        PeerId::from_bytes([n; 32])
    }

    fn started() -> Game {
        let mut game = Game::new(
            GameKey {
                started_ms: 1,
                white: peer(1),
            },
            peer(2),
        );
        game.accepted = true;
        game
    }

    fn mv(uci: &str) -> PackedMove {
        PackedMove::from_uci(uci).unwrap()
    }

    #[test]
    fn moves_pack_and_unpack() {
        for uci in ["e2e4", "e1g1", "a7a8q", "h2h1n", "b7c8r", "g7h8b"] {
            assert_eq!(mv(uci).uci().as_deref(), Some(uci));
        }
        assert_eq!(PackedMove::from_uci("e2e9"), None);
        assert_eq!(PackedMove::from_uci("e7e8k"), None);
        assert_eq!(PackedMove(0x7fff).uci(), None);
    }

    #[test]
    fn the_rules_decide_who_moves_and_what_is_legal() {
        let mut game = started();
        assert_eq!(game.play(&peer(3), mv("e2e4")), Err(Refusal::NotAPlayer));
        assert_eq!(game.play(&peer(2), mv("e7e5")), Err(Refusal::NotTheirTurn));
        assert_eq!(
            game.play(&peer(1), mv("e2e5")),
            Err(Refusal::Illegal("e2e5".into()))
        );
        assert_eq!(game.play(&peer(1), mv("e2e4")), Ok(()));
        assert_eq!(game.play(&peer(1), mv("d2d4")), Err(Refusal::NotTheirTurn));
        assert_eq!(game.play(&peer(2), mv("e7e5")), Ok(()));
        assert_eq!(game.outcome(), Outcome::ToMove(Side::White));
        assert_eq!(game.moves.len(), 2);
    }

    #[test]
    fn an_invitation_is_not_a_game_yet() {
        let mut game = Game::new(
            GameKey {
                started_ms: 1,
                white: peer(1),
            },
            peer(2),
        );
        assert_eq!(game.play(&peer(1), mv("e2e4")), Err(Refusal::NotStarted));
    }

    #[test]
    fn fools_mate_ends_the_game() {
        let mut game = started();
        for (by, uci) in [(1, "f2f3"), (2, "e7e5"), (1, "g2g4"), (2, "d8h4")] {
            game.play(&peer(by), mv(uci)).unwrap();
        }
        assert_eq!(game.outcome(), Outcome::Checkmate(Side::Black));
        assert_eq!(game.play(&peer(1), mv("a2a3")), Err(Refusal::Over));
        assert_eq!(game.resign(&peer(1)), Err(Refusal::Over));
    }

    #[test]
    fn castling_and_promotion_use_plain_uci() {
        let mut game = started();
        let line = ["e2e4", "e7e5", "g1f3", "b8c6", "f1c4", "g8f6", "e1g1", "f8c5"];
        for (ply, uci) in line.iter().enumerate() {
            let by = if ply % 2 == 0 { peer(1) } else { peer(2) };
            game.play(&by, mv(uci)).unwrap();
        }
        assert_eq!(piece_at(&game.board(), 6), Some((Side::White, 'K')), "king on g1");
        assert_eq!(piece_at(&game.board(), 5), Some((Side::White, 'R')), "rook on f1");
    }

    #[test]
    fn a_replayed_history_must_be_legal_throughout() {
        let good = [mv("e2e4"), mv("e7e5")];
        let key = started().key;
        assert!(Game::replayed(key, peer(2), &good, None).is_some());
        let bad = [mv("e2e4"), mv("e2e4")];
        assert!(Game::replayed(key, peer(2), &bad, None).is_none());
        let resigned = Game::replayed(key, peer(2), &good, Some(Side::Black)).unwrap();
        assert_eq!(resigned.outcome(), Outcome::Resigned(Side::White));
    }

    #[test]
    fn targets_of_a_piece_are_listed() {
        let board = Board::default();
        let mut knight = moves_from(&board, 6);
        knight.sort();
        assert_eq!(knight, ["g1f3", "g1h3"]);
        assert!(moves_from(&board, 36).is_empty(), "nothing on e5");
    }
}
