//! Every game this copy knows of, and the rules for changing them. Pure logic: the same
//! on every peer, whatever order messages arrive in.

use std::collections::BTreeMap;

use sanctuary_plugin_api::PeerId;
use serde::{Deserialize, Serialize};

use crate::game::{Game, GameKey, Refusal};
use crate::wire::ChessMessage;

/// Most games kept at once. Past it, the oldest finished game or unanswered invitation
/// makes room; if there is none, new invitations are refused.
pub const MAX_GAMES: usize = 32;

/// Why a message changed nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TableRefusal {
    /// The game is not known here (yet): a message arrived before the one that
    /// started the game, or the game never existed.
    #[error("unknown game")]
    UnknownGame,
    /// A person cannot invite themselves.
    #[error("a player cannot invite themselves")]
    SelfInvite,
    /// Only the invited person can accept.
    #[error("only the invited player can accept")]
    NotInvited,
    /// A move for a later half-move than the next one; the state will follow.
    #[error("a move ahead of this copy's game")]
    Ahead,
    /// The game's rules say no.
    #[error(transparent)]
    Rules(#[from] Refusal),
    /// A game's state from someone who does not play it, or a history that is not legal.
    #[error("a game state that is not a player's or not legal")]
    BadState,
    /// A game's state that does not continue the game this copy has.
    #[error("a game state that contradicts this copy's")]
    Conflict,
    /// Too many games at once.
    #[error("too many games at once")]
    Full,
}

/// What a message did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// The table changed.
    Changed,
    /// Nothing new (a repeat).
    Unchanged,
}

/// All the games this copy knows of.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Table {
    games: BTreeMap<GameKey, Game>,
}

impl Table {
    /// The game `key`.
    pub fn get(&self, key: &GameKey) -> Option<&Game> {
        self.games.get(key)
    }

    /// Every game, oldest first.
    pub fn games(&self) -> impl DoubleEndedIterator<Item = &Game> {
        self.games.values()
    }

    /// The game the board shows: the oldest game in play, or else the latest finished one.
    /// Every copy with the same games picks the same one.
    pub fn on_the_board(&self) -> Option<&Game> {
        let playing = self
            .games
            .values()
            .find(|game| game.accepted && !game.outcome().is_over());
        playing.or_else(|| self.games.values().rev().find(|game| game.accepted))
    }

    /// The same games, each history replayed by the rules: a saved file that was damaged
    /// or edited cannot put an illegal position on the board.
    pub fn checked(self) -> Self {
        let mut table = Self::default();
        for game in self.games.into_values().take(MAX_GAMES) {
            let valid = if game.accepted {
                Game::replayed(game.key, game.black, &game.moves, game.resigned)
            } else if game.moves.is_empty() && game.resigned.is_none() && game.black != game.key.white {
                Some(Game::new(game.key, game.black))
            } else {
                None
            };
            if let Some(valid) = valid {
                table.games.insert(valid.key, valid);
            }
        }
        table
    }

    /// Applies `message` written by `author`, by the same rules on every copy.
    pub fn apply(&mut self, author: PeerId, message: ChessMessage) -> Result<Applied, TableRefusal> {
        match message {
            ChessMessage::Challenge { started_ms, black } => {
                if black == author {
                    return Err(TableRefusal::SelfInvite);
                }
                let key = GameKey {
                    started_ms,
                    white: author,
                };
                if self.games.contains_key(&key) {
                    return Ok(Applied::Unchanged);
                }
                self.insert(Game::new(key, black))
            }
            ChessMessage::Accept { game } => {
                let game = self.games.get_mut(&game).ok_or(TableRefusal::UnknownGame)?;
                if game.black != author {
                    return Err(TableRefusal::NotInvited);
                }
                if game.accepted {
                    return Ok(Applied::Unchanged);
                }
                game.accepted = true;
                Ok(Applied::Changed)
            }
            ChessMessage::Move { game, ply, mv } => {
                let game = self.games.get_mut(&game).ok_or(TableRefusal::UnknownGame)?;
                let ply = usize::from(ply);
                if ply < game.moves.len() {
                    // A repeat of a move we have is harmless; a different one is not.
                    return if game.moves[ply] == mv && game.side_of(&author).is_some() {
                        Ok(Applied::Unchanged)
                    } else {
                        Err(TableRefusal::Conflict)
                    };
                }
                if ply > game.moves.len() {
                    return Err(TableRefusal::Ahead);
                }
                game.play(&author, mv)?;
                Ok(Applied::Changed)
            }
            ChessMessage::Resign { game } => {
                let game = self.games.get_mut(&game).ok_or(TableRefusal::UnknownGame)?;
                if game.resigned.is_some() && game.side_of(&author) == game.resigned {
                    return Ok(Applied::Unchanged);
                }
                game.resign(&author)?;
                Ok(Applied::Changed)
            }
            ChessMessage::State {
                game: key,
                black,
                moves,
                resigned,
            } => {
                if author != key.white && author != black {
                    return Err(TableRefusal::BadState);
                }
                let theirs = Game::replayed(key, black, &moves, resigned).ok_or(TableRefusal::BadState)?;
                match self.games.get_mut(&key) {
                    None => self.insert(theirs),
                    Some(ours) => merge(ours, theirs),
                }
            }
        }
    }

    fn insert(&mut self, game: Game) -> Result<Applied, TableRefusal> {
        if self.games.len() >= MAX_GAMES {
            let spare = self
                .games
                .values()
                .find(|game| game.outcome().is_over())
                .or_else(|| self.games.values().find(|game| !game.accepted))
                .map(|game| game.key);
            let Some(spare) = spare else {
                return Err(TableRefusal::Full);
            };
            self.games.remove(&spare);
        }
        self.games.insert(game.key, game);
        Ok(Applied::Changed)
    }
}

/// Takes `theirs` into `ours` where it continues it.
fn merge(ours: &mut Game, theirs: Game) -> Result<Applied, TableRefusal> {
    if ours.black != theirs.black {
        return Err(TableRefusal::Conflict);
    }
    let continues = theirs.moves.len() >= ours.moves.len() && theirs.moves.starts_with(&ours.moves);
    let behind = ours.moves.starts_with(&theirs.moves);
    if !continues && !behind {
        return Err(TableRefusal::Conflict);
    }
    let mut changed = false;
    if !ours.accepted {
        ours.accepted = true;
        changed = true;
    }
    if continues && theirs.moves.len() > ours.moves.len() {
        ours.moves = theirs.moves;
        changed = true;
    }
    if ours.resigned.is_none() && theirs.resigned.is_some() && continues {
        ours.resigned = theirs.resigned;
        changed = true;
    }
    Ok(if changed {
        Applied::Changed
    } else {
        Applied::Unchanged
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::game::{Outcome, PackedMove, Side};

    fn peer(n: u8) -> PeerId {
        PeerId::from_bytes([n; 32])
    }

    const WHITE: u8 = 1;
    const BLACK: u8 = 2;

    fn key() -> GameKey {
        GameKey {
            started_ms: 100,
            white: peer(WHITE),
        }
    }

    fn mv(ply: u16, uci: &str) -> ChessMessage {
        ChessMessage::Move {
            game: key(),
            ply,
            mv: PackedMove::from_uci(uci).unwrap(),
        }
    }

    fn started() -> Table {
        let mut table = Table::default();
        let challenge = ChessMessage::Challenge {
            started_ms: 100,
            black: peer(BLACK),
        };
        assert_eq!(table.apply(peer(WHITE), challenge), Ok(Applied::Changed));
        assert_eq!(
            table.apply(peer(3), ChessMessage::Accept { game: key() }),
            Err(TableRefusal::NotInvited)
        );
        assert_eq!(
            table.apply(peer(BLACK), ChessMessage::Accept { game: key() }),
            Ok(Applied::Changed)
        );
        table
    }

    #[test]
    fn only_the_players_move_in_turn_and_legally() {
        let mut table = started();
        assert_eq!(
            table.apply(peer(3), mv(0, "e2e4")),
            Err(TableRefusal::Rules(Refusal::NotAPlayer))
        );
        assert_eq!(
            table.apply(peer(WHITE), mv(0, "e2e5")),
            Err(TableRefusal::Rules(Refusal::Illegal("e2e5".into())))
        );
        assert_eq!(table.apply(peer(WHITE), mv(0, "e2e4")), Ok(Applied::Changed));
        assert_eq!(table.apply(peer(WHITE), mv(0, "e2e4")), Ok(Applied::Unchanged));
        assert_eq!(
            table.apply(peer(BLACK), mv(0, "e7e5")),
            Err(TableRefusal::Conflict)
        );
        assert_eq!(table.apply(peer(BLACK), mv(2, "e7e5")), Err(TableRefusal::Ahead));
        assert_eq!(table.apply(peer(BLACK), mv(1, "e7e5")), Ok(Applied::Changed));
        assert_eq!(table.on_the_board().unwrap().moves.len(), 2);
    }

    #[test]
    fn a_state_catches_up_a_late_copy_but_cannot_rewrite_history() {
        let mut player = started();
        player.apply(peer(WHITE), mv(0, "e2e4")).unwrap();
        player.apply(peer(BLACK), mv(1, "e7e5")).unwrap();
        let game = player.get(&key()).unwrap().clone();
        let state = |moves: Vec<PackedMove>| ChessMessage::State {
            game: key(),
            black: peer(BLACK),
            moves,
            resigned: None,
        };

        let mut late = Table::default();
        assert_eq!(
            late.apply(peer(3), state(game.moves.clone())),
            Err(TableRefusal::BadState)
        );
        assert_eq!(
            late.apply(peer(BLACK), state(game.moves.clone())),
            Ok(Applied::Changed)
        );
        assert_eq!(late.get(&key()), Some(&game));

        let other = vec![PackedMove::from_uci("d2d4").unwrap()];
        assert_eq!(
            player.apply(peer(WHITE), state(other)),
            Err(TableRefusal::Conflict)
        );
        let illegal = vec![
            PackedMove::from_uci("e2e4").unwrap(),
            PackedMove::from_uci("e2e4").unwrap(),
        ];
        assert_eq!(
            player.apply(peer(WHITE), state(illegal)),
            Err(TableRefusal::BadState)
        );
        assert_eq!(
            player.apply(peer(WHITE), state(game.moves[..1].to_vec())),
            Ok(Applied::Unchanged)
        );
        assert_eq!(player.get(&key()).unwrap().moves.len(), 2);
    }

    #[test]
    fn copies_agree_whatever_order_two_games_start_in() {
        let second = GameKey {
            started_ms: 50,
            white: peer(5),
        };
        let messages = [
            (
                peer(WHITE),
                ChessMessage::Challenge {
                    started_ms: 100,
                    black: peer(BLACK),
                },
            ),
            (peer(BLACK), ChessMessage::Accept { game: key() }),
            (
                peer(5),
                ChessMessage::Challenge {
                    started_ms: 50,
                    black: peer(6),
                },
            ),
            (peer(6), ChessMessage::Accept { game: second }),
        ];
        let mut forward = Table::default();
        for (author, message) in messages.clone() {
            forward.apply(author, message).unwrap();
        }
        let mut interleaved = Table::default();
        for index in [2, 3, 0, 1] {
            let (author, message) = messages[index].clone();
            interleaved.apply(author, message).unwrap();
        }
        assert_eq!(forward, interleaved);
        assert_eq!(forward.on_the_board().unwrap().key, second, "the earlier game");
    }

    #[test]
    fn resigning_ends_the_game_and_frees_the_board() {
        let mut table = started();
        assert_eq!(
            table.apply(peer(3), ChessMessage::Resign { game: key() }),
            Err(TableRefusal::Rules(Refusal::NotAPlayer))
        );
        table
            .apply(peer(BLACK), ChessMessage::Resign { game: key() })
            .unwrap();
        let game = table.get(&key()).unwrap();
        assert_eq!(game.outcome(), Outcome::Resigned(Side::White));
        assert_eq!(
            table.apply(peer(WHITE), mv(0, "e2e4")),
            Err(TableRefusal::Rules(Refusal::Over))
        );
    }

    #[test]
    fn the_table_stays_bounded() {
        let mut table = Table::default();
        for n in 0..(MAX_GAMES as u64 + 10) {
            let challenge = ChessMessage::Challenge {
                started_ms: n,
                black: peer(BLACK),
            };
            table.apply(peer(WHITE), challenge).unwrap();
        }
        assert_eq!(table.games().count(), MAX_GAMES);
        // Fill it with games in play: nothing can make room.
        let mut full = Table::default();
        for n in 0..MAX_GAMES as u64 {
            full.apply(
                peer(WHITE),
                ChessMessage::Challenge {
                    started_ms: n,
                    black: peer(BLACK),
                },
            )
            .unwrap();
            let game = GameKey {
                started_ms: n,
                white: peer(WHITE),
            };
            full.apply(peer(BLACK), ChessMessage::Accept { game }).unwrap();
        }
        let one_more = ChessMessage::Challenge {
            started_ms: 999,
            black: peer(BLACK),
        };
        assert_eq!(full.apply(peer(WHITE), one_more), Err(TableRefusal::Full));
    }
}
