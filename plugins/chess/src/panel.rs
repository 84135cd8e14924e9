//! The Chess panel: the board on the table, invitations, and who to challenge.

use bevy::prelude::*;
use sanctuary_plugin_api::PeerId;
use sanctuary_plugin_api::prelude::*;

use crate::game::{Game, Outcome, PackedMove, Side, moves_from, piece_at};
use crate::play::{ChessAction, ChessState};

const SQUARE: f32 = 34.0;
const LIGHT: egui::Color32 = egui::Color32::from_rgb(238, 216, 178);
const DARK: egui::Color32 = egui::Color32::from_rgb(170, 122, 84);
const PICKED: egui::Color32 = egui::Color32::from_rgb(120, 190, 120);
const TARGET: egui::Color32 = egui::Color32::from_rgb(150, 200, 230);

/// Draws the panel.
pub fn draw(
    InMut(ui): InMut<egui::Ui>,
    mut state: ResMut<ChessState>,
    view: Res<WorldView>,
    mut actions: MessageWriter<ChessAction>,
) {
    let me = view.me;
    let shown = state.table.on_the_board().cloned();
    ui.horizontal_top(|ui| {
        match &shown {
            Some(game) => board(ui, game, me, &mut state, &mut actions),
            None => {
                ui.label("No game on the board. Challenge someone to start one.");
            }
        }
        ui.vertical(|ui| side_column(ui, shown.as_ref(), &state, &view, &mut actions));
    });
    if let Some(problem) = &state.problem {
        ui.colored_label(egui::Color32::from_rgb(240, 170, 90), problem);
    }
    if state.refused > 0 {
        let last = state.last_refusal.as_deref().unwrap_or("");
        ui.small(format!(
            "{} moves from others refused (last: {last})",
            state.refused
        ));
    }
}

fn board(
    ui: &mut egui::Ui,
    game: &Game,
    me: Option<PeerId>,
    state: &mut ChessState,
    actions: &mut MessageWriter<ChessAction>,
) {
    let position = game.board();
    let my_side = me.and_then(|me| game.side_of(&me));
    let my_turn = my_side.is_some() && game.outcome() == Outcome::ToMove(my_side.unwrap_or(Side::White));
    let targets: Vec<String> = match (state.selected, my_turn) {
        (Some(from), true) => moves_from(&position, from),
        _ => Vec::new(),
    };
    // Black sees the board from its own side.
    let flipped = my_side == Some(Side::Black);
    egui::Grid::new("chess board").spacing([0.0, 0.0]).show(ui, |ui| {
        for row in 0..8 {
            for column in 0..8 {
                let (rank, file) = if flipped {
                    (row, 7 - column)
                } else {
                    (7 - row, column)
                };
                let index = rank * 8 + file;
                let (rect, response) =
                    ui.allocate_exact_size(egui::vec2(SQUARE, SQUARE), egui::Sense::click());
                let name = square_name(index);
                let is_target = targets.iter().any(|uci| uci.get(2..4) == Some(name.as_str()));
                let fill = if state.selected == Some(index) {
                    PICKED
                } else if is_target {
                    TARGET
                } else if (rank + file) % 2 == 0 {
                    DARK
                } else {
                    LIGHT
                };
                ui.painter().rect_filled(rect, 0.0, fill);
                if let Some((side, letter)) = piece_at(&position, index) {
                    let (disc, ink) = match side {
                        Side::White => (
                            egui::Color32::from_rgb(250, 248, 240),
                            egui::Color32::from_rgb(30, 30, 30),
                        ),
                        Side::Black => (
                            egui::Color32::from_rgb(40, 36, 34),
                            egui::Color32::from_rgb(245, 240, 230),
                        ),
                    };
                    ui.painter().circle_filled(rect.center(), SQUARE * 0.4, disc);
                    ui.painter().text(
                        rect.center(),
                        egui::Align2::CENTER_CENTER,
                        letter,
                        egui::FontId::proportional(SQUARE * 0.5),
                        ink,
                    );
                }
                if response.clicked() && my_turn {
                    click(index, &targets, &position, my_side, game, state, actions);
                }
            }
            ui.end_row();
        }
    });
}

fn click(
    index: usize,
    targets: &[String],
    position: &crate::game::Board,
    my_side: Option<Side>,
    game: &Game,
    state: &mut ChessState,
    actions: &mut MessageWriter<ChessAction>,
) {
    if let Some(uci) = move_to(targets, &square_name(index)).and_then(PackedMove::from_uci) {
        actions.write(ChessAction::Move {
            game: game.key,
            mv: uci,
        });
        state.selected = None;
    } else if piece_at(position, index).is_some_and(|(side, _)| Some(side) == my_side) {
        state.selected = Some(index);
    } else {
        state.selected = None;
    }
}

fn side_column(
    ui: &mut egui::Ui,
    shown: Option<&Game>,
    state: &ChessState,
    view: &WorldView,
    actions: &mut MessageWriter<ChessAction>,
) {
    if let Some(game) = shown {
        let white = view.name_of(&game.key.white);
        let black = view.name_of(&game.black);
        ui.label(egui::RichText::new(format!("{white} (white) v {black} (black)")).strong());
        ui.label(match game.outcome() {
            Outcome::Invited => "Waiting for black".to_string(),
            Outcome::ToMove(Side::White) => format!("{white} to move"),
            Outcome::ToMove(Side::Black) => format!("{black} to move"),
            Outcome::Checkmate(side) => format!(
                "Checkmate: {} wins",
                if side == Side::White { &white } else { &black }
            ),
            Outcome::Resigned(side) => format!(
                "Resigned: {} wins",
                if side == Side::White { &white } else { &black }
            ),
            Outcome::Draw => "Draw".to_string(),
        });
        if view.me.is_some_and(|me| game.side_of(&me).is_some())
            && !game.outcome().is_over()
            && ui.button("Resign").clicked()
        {
            actions.write(ChessAction::Resign { game: game.key });
        }
        ui.separator();
    }
    let Some(me) = view.me else {
        ui.label("Join a world to play.");
        return;
    };
    for game in state.table.games().filter(|game| !game.accepted) {
        if game.black == me {
            ui.horizontal(|ui| {
                ui.label(format!("{} invites you", view.name_of(&game.key.white)));
                if ui.button("Accept").clicked() {
                    actions.write(ChessAction::Accept { game: game.key });
                }
            });
        } else if game.key.white == me {
            ui.label(format!("Waiting for {}", view.name_of(&game.black)));
        }
    }
    ui.label("Challenge:");
    if view.people.is_empty() {
        ui.small("Nobody else is in the world yet.");
    }
    for person in &view.people {
        ui.horizontal(|ui| {
            ui.label(&person.name);
            if ui.small_button("Play").clicked() {
                actions.write(ChessAction::Challenge { black: person.id });
            }
        });
    }
}

/// Of the legal moves of the picked piece, the one to `square`; a pawn reaching the last
/// rank becomes a queen.
fn move_to<'a>(targets: &'a [String], square: &str) -> Option<&'a str> {
    targets
        .iter()
        .filter(|uci| uci.get(2..4) == Some(square))
        .find(|uci| uci.len() == 4 || uci.ends_with('q'))
        .map(String::as_str)
}

fn square_name(index: usize) -> String {
    let file = char::from(b'a' + (index % 8) as u8);
    let rank = char::from(b'1' + (index / 8) as u8);
    format!("{file}{rank}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_click_picks_the_move_to_that_square_and_promotes_to_a_queen() {
        let board: crate::game::Board = "8/P6k/8/8/8/8/8/K7 w - - 0 1".parse().unwrap();
        let a7 = 48;
        let targets = moves_from(&board, a7);
        assert_eq!(targets.len(), 4, "four promotions: {targets:?}");
        assert_eq!(move_to(&targets, "a8"), Some("a7a8q"));
        assert_eq!(move_to(&targets, "b8"), None);
        assert_eq!(square_name(a7), "a7");
        let start = crate::game::Board::default();
        assert_eq!(move_to(&moves_from(&start, 12), "e4"), Some("e2e4"));
    }
}
