//! Apps between clients on loopback: the chess mod plays a game over real iroh endpoints,
//! every copy refuses illegal moves and moves by the wrong player, the board stands in the
//! Market on both sides, the game survives a restart, and a late arrival is sent it.

use bevy::ecs::system::RunSystemOnce;
use bevy::prelude::*;
use sanctuary::net_bridge::NetMode;
use sanctuary_chess::game::{GameKey, PackedMove};
use sanctuary_chess::wire::ChessMessage;
use sanctuary_chess::{ChessAction, ChessApp, ChessPiece, ChessState};
use sanctuary_plugin_api::{AppMessages, Grants, PeerId, SanctuaryApp, WorldView};
use std::path::Path;

mod common;
use common::{folder, host_and_guest, invite_ticket, networked_client, run_until};

/// Allows chess everything it asks for, as a person would in the Apps panel.
fn allow_chess(dir: &Path) {
    let mut grants = Grants::load(dir);
    for permission in ChessApp::MANIFEST.permissions {
        grants.grant(ChessApp::MANIFEST.name, permission);
    }
    grants.save().unwrap();
}

fn client(dir: &Path, mode: NetMode) -> App {
    networked_client("market", dir, mode)
}

fn me(app: &App) -> Option<PeerId> {
    app.world().resource::<WorldView>().me
}

fn sees_people(app: &App) -> bool {
    let view = app.world().resource::<WorldView>();
    view.online && !view.people.is_empty()
}

fn chess(app: &App) -> &ChessState {
    app.world().resource::<ChessState>()
}

fn the_game(app: &App) -> Option<(GameKey, bool, usize)> {
    chess(app)
        .table
        .games()
        .next()
        .map(|game| (game.key, game.accepted, game.moves.len()))
}

fn act(app: &mut App, action: ChessAction) {
    app.world_mut().write_message(action);
}

fn mv(uci: &str) -> PackedMove {
    PackedMove::from_uci(uci).unwrap()
}

/// Sends a chess message as this client, past its own panel's checks, as a modified
/// client would.
fn send_raw(app: &mut App, message: ChessMessage) {
    app.world_mut()
        .run_system_once(move |mut messages: AppMessages<ChessApp>| messages.send(message.encode()))
        .unwrap()
        .unwrap();
}

fn pieces(app: &mut App) -> Vec<ChessPiece> {
    let world = app.world_mut();
    world.query::<&ChessPiece>().iter(world).cloned().collect()
}

#[test]
fn two_peers_play_chess_and_every_copy_refuses_what_the_rules_forbid() {
    let (host_dir, guest_dir) = (folder("host"), folder("guest"));
    allow_chess(&host_dir);
    allow_chess(&guest_dir);
    let (mut host, mut guest) = host_and_guest("market", &host_dir, &guest_dir);
    let ticket = invite_ticket(&host);
    let guest_id = me(&guest).unwrap();

    // The host invites the guest, who accepts.
    act(&mut host, ChessAction::Challenge { black: guest_id });
    run_until(&mut [&mut host, &mut guest], "the invitation", |apps| {
        the_game(apps[1]).is_some()
    });
    let (game, accepted, _) = the_game(&guest).unwrap();
    assert!(!accepted);
    act(&mut guest, ChessAction::Accept { game });
    run_until(&mut [&mut host, &mut guest], "the acceptance", |apps| {
        the_game(apps[0]).is_some_and(|(_, accepted, _)| accepted)
    });

    // A move each, seen by the other.
    act(&mut host, ChessAction::Move { game, mv: mv("e2e4") });
    run_until(&mut [&mut host, &mut guest], "white's move", |apps| {
        the_game(apps[1]).is_some_and(|(.., moves)| moves == 1)
    });
    act(&mut guest, ChessAction::Move { game, mv: mv("e7e5") });
    run_until(&mut [&mut host, &mut guest], "black's move", |apps| {
        the_game(apps[0]).is_some_and(|(.., moves)| moves == 2)
    });

    // An illegal move from white and a move out of turn from black, each sent past the
    // sender's own checks: the other copy refuses both.
    let (host_refused, guest_refused) = (chess(&host).refused, chess(&guest).refused);
    send_raw(
        &mut host,
        ChessMessage::Move {
            game,
            ply: 2,
            mv: mv("e4e6"),
        },
    );
    send_raw(
        &mut guest,
        ChessMessage::Move {
            game,
            ply: 2,
            mv: mv("d7d5"),
        },
    );
    run_until(&mut [&mut host, &mut guest], "both refusals", |apps| {
        chess(apps[0]).refused > host_refused && chess(apps[1]).refused > guest_refused
    });
    for app in [&host, &guest] {
        assert_eq!(the_game(app).unwrap().2, 2, "no refused move was played");
    }

    // The board stands in the Market on both sides, with white's pawn on e4.
    for app in [&mut host, &mut guest] {
        let pieces = pieces(app);
        assert_eq!(pieces.len(), 32);
        assert!(
            pieces
                .iter()
                .any(|piece| piece.square == 28 && piece.letter == 'P')
        );
    }

    // The guest restarts: the game is back from its folder before it is online again,
    // and play goes on.
    drop(guest);
    let mut guest = client(&guest_dir, NetMode::Join(ticket.parse().unwrap()));
    guest.update();
    assert_eq!(
        the_game(&guest).map(|(key, _, moves)| (key, moves)),
        Some((game, 2))
    );
    run_until(&mut [&mut host, &mut guest], "the guest to be back", |apps| {
        sees_people(apps[1]) && apps[0].world().resource::<WorldView>().people.len() == 1
    });
    act(&mut host, ChessAction::Move { game, mv: mv("g1f3") });
    run_until(&mut [&mut host, &mut guest], "a move after the restart", |apps| {
        the_game(apps[1]).is_some_and(|(.., moves)| moves == 3)
    });

    // Someone who arrives now, after all of it, is sent the game by its players.
    let watcher_dir = folder("watcher");
    allow_chess(&watcher_dir);
    let mut watcher = client(&watcher_dir, NetMode::Join(ticket.parse().unwrap()));
    run_until(
        &mut [&mut host, &mut guest, &mut watcher],
        "the watcher to see the game",
        |apps| the_game(apps[2]).is_some_and(|(key, accepted, moves)| key == game && accepted && moves == 3),
    );
    run_until(&mut [&mut watcher], "the watcher's board", |apps| {
        pieces(apps[0]).len() == 32
    });
}
