//! The chess app's systems: what the person does, what others send, and keeping both.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bevy::prelude::*;
use sanctuary_plugin_api::PeerId;
use sanctuary_plugin_api::prelude::*;

use crate::ChessApp;
use crate::game::{GameKey, PackedMove};
use crate::table::{Applied, Table};
use crate::wire::ChessMessage;

/// The file the games are kept in, in the app's folder.
const GAMES_FILE: &str = "games.postcard";
/// How often a player repeats the state of a game in play, for peers who missed a move.
const ANNOUNCE_EVERY: Duration = Duration::from_secs(15);
/// Most games announced at once (each is one message of the app's budget).
const ANNOUNCE_MAX: usize = 4;

/// Something the person does at the board (from the panel, or a test).
#[derive(Message, Debug, Clone, PartialEq, Eq)]
pub enum ChessAction {
    /// Invite someone to a game, playing white.
    Challenge {
        /// Who.
        black: PeerId,
    },
    /// Accept an invitation.
    Accept {
        /// The game.
        game: GameKey,
    },
    /// Move.
    Move {
        /// The game.
        game: GameKey,
        /// The move.
        mv: PackedMove,
    },
    /// Give up.
    Resign {
        /// The game.
        game: GameKey,
    },
}

/// The app's state on this peer.
#[derive(Resource, Debug, Default)]
pub struct ChessState {
    /// Every game known here.
    pub table: Table,
    /// Messages from others that changed nothing because the rules refused them.
    pub refused: u64,
    /// The latest refusal, in words.
    pub last_refusal: Option<String>,
    /// The latest problem of our own (offline, not allowed, cannot save), in words.
    pub problem: Option<String>,
    /// The square the person picked a piece on, in the panel.
    pub selected: Option<usize>,
    unsaved: bool,
    announced: Option<(Instant, usize)>,
}

/// Reads the games kept in the app's folder.
pub fn load(mut state: ResMut<ChessState>, data: AppData<ChessApp>) {
    match data.read(GAMES_FILE) {
        Ok(None) => {}
        Ok(Some(bytes)) => match postcard::from_bytes::<Table>(&bytes) {
            Ok(table) => state.table = table.checked(),
            Err(error) => {
                // Keep the unreadable bytes for whoever wants to look; start afresh.
                let kept = data.write("games.unreadable", &bytes);
                state.problem = Some(format!(
                    "the saved games could not be read ({error}){}",
                    if kept.is_ok() {
                        "; kept as games.unreadable"
                    } else {
                        ""
                    }
                ));
            }
        },
        Err(error) => state.problem = Some(format!("cannot read the saved games: {error}")),
    }
}

/// Takes in what the other copies sent.
pub fn receive(mut state: ResMut<ChessState>, mut messages: AppMessages<ChessApp>) {
    for incoming in messages.read() {
        let result = ChessMessage::decode(&incoming.bytes)
            .map_err(|error| error.to_string())
            .and_then(|message| {
                state
                    .table
                    .apply(incoming.from, message)
                    .map_err(|e| e.to_string())
            });
        match result {
            Ok(Applied::Changed) => state.unsaved = true,
            Ok(Applied::Unchanged) => {}
            Err(refusal) => {
                state.refused += 1;
                state.last_refusal = Some(refusal);
            }
        }
    }
}

/// Does what the person asked: applies it here by the same rules as everyone, then sends it.
pub fn act(
    mut actions: MessageReader<ChessAction>,
    mut state: ResMut<ChessState>,
    mut messages: AppMessages<ChessApp>,
    view: Res<WorldView>,
) {
    for action in actions.read() {
        let Some(me) = view.me.filter(|_| view.online) else {
            state.problem = Some("not connected to a world".into());
            continue;
        };
        if !messages.allowed() {
            state.problem = Some("chess may not send moves: allow it in the Apps panel".into());
            continue;
        }
        let message = match action {
            ChessAction::Challenge { black } => ChessMessage::Challenge {
                started_ms: unix_ms(),
                black: *black,
            },
            ChessAction::Accept { game } => ChessMessage::Accept { game: *game },
            ChessAction::Move { game, mv } => ChessMessage::Move {
                game: *game,
                ply: state
                    .table
                    .get(game)
                    .map_or(0, |game| u16::try_from(game.moves.len()).unwrap_or(u16::MAX)),
                mv: *mv,
            },
            ChessAction::Resign { game } => ChessMessage::Resign { game: *game },
        };
        match state.table.apply(me, message.clone()) {
            Ok(_) => {
                state.unsaved = true;
                state.problem = messages
                    .send(message.encode())
                    .err()
                    .map(|error| error.to_string());
            }
            Err(refusal) => state.problem = Some(refusal.to_string()),
        }
    }
}

/// Sends the state of our games to peers who may have missed some of it: once online,
/// whenever someone new is in the world, and now and then while a game is in play.
pub fn announce(mut state: ResMut<ChessState>, mut messages: AppMessages<ChessApp>, view: Res<WorldView>) {
    let Some(me) = view.me.filter(|_| view.online) else {
        return;
    };
    if !messages.allowed() {
        return;
    }
    let people = view.people.len();
    let playing = state
        .table
        .games()
        .any(|game| game.side_of(&me).is_some() && game.accepted && !game.outcome().is_over());
    let due = match state.announced {
        None => true,
        Some((at, known)) => people > known || (playing && at.elapsed() >= ANNOUNCE_EVERY),
    };
    if !due {
        if let Some((_, known)) = &mut state.announced {
            *known = people;
        }
        return;
    }
    state.announced = Some((Instant::now(), people));
    let mine: Vec<ChessMessage> = state
        .table
        .games()
        .rev()
        .filter(|game| game.side_of(&me).is_some() && game.accepted)
        .take(ANNOUNCE_MAX)
        .map(|game| ChessMessage::State {
            game: game.key,
            black: game.black,
            moves: game.moves.clone(),
            resigned: game.resigned,
        })
        .collect();
    for message in mine {
        if let Err(error) = messages.send(message.encode()) {
            debug!("chess: state not sent: {error}");
        }
    }
}

/// Keeps the games in the app's folder after every change.
pub fn save(mut state: ResMut<ChessState>, data: AppData<ChessApp>) {
    if !state.unsaved {
        return;
    }
    state.unsaved = false;
    let bytes = postcard::to_allocvec(&state.table).unwrap_or_default();
    if let Err(error) = data.write(GAMES_FILE, &bytes) {
        state.problem = Some(format!("cannot save the games: {error}"));
    }
}

fn unix_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |elapsed| {
        u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX)
    })
}
