//! One notebook cell as a stack of pieces (wrapped lines, a chart, pictures, a matrix, code
//! panes), so the notebook can measure every cell's height at the current width before drawing
//! and scroll through cells taller than the screen.
//!
//! [`build`] picks the view for the cell's kind: prose and code here, `run`, `quiz` and
//! `exercise` in their own modules. Those share `parts` (the answer box, feedback, hints) and
//! `result` (a run's status and outputs), which with `view` (the pieces and their layout) and
//! `style` (the colours) import nothing from the cell kinds.

mod exercise_view;
mod parts;
mod question_view;
mod result;
mod run_view;
mod style;
mod view;

use ratatui::style::{Modifier, Style};
use ratatui::text::Line;

use crate::course::lesson::CellBody;
use crate::notebook::app::{App, CellState, Mode};
use crate::notebook::ui::markdown;
use style::ERROR;
use view::panes_side_by_side;

pub use parts::input_line;
pub use result::{fmt_duration, hard_wrap, progress_label, table_lines};
pub use style::{ACCENT, TYPING};
pub use view::{plot_height, CellView, Piece};

/// The view of cell `i` of the open lesson at `width` columns.
pub fn build(app: &App, i: usize, width: u16) -> CellView<'_> {
    let cell = &app.lesson().cells[i];
    let focused = app.focus == i;
    let typing = focused && app.mode == Mode::Typing;
    match (&cell.body, &app.cells[i]) {
        (CellBody::Text(t), _) => CellView {
            title: None,
            pieces: vec![Piece::Lines(markdown::render(t, usize::from(width)))],
        },
        (CellBody::Code { caption, panes }, _) => {
            let mut pieces = Vec::new();
            if !caption.is_empty() {
                pieces.push(Piece::Lines(markdown::render_styled(
                    caption,
                    usize::from(width),
                    Style::new().add_modifier(Modifier::ITALIC),
                )));
            }
            if panes_side_by_side(panes, width) {
                pieces.push(Piece::Panes(panes));
            } else {
                for k in 0..panes.len() {
                    pieces.push(Piece::Panes(&panes[k..k + 1]));
                }
            }
            CellView {
                title: None,
                pieces,
            }
        }
        (CellBody::Run(run), CellState::Run(st)) => run_view::view(run, st, focused, typing, width),
        (CellBody::Quiz(q), CellState::Quiz(st)) => {
            question_view::view(q, st, focused, typing, width)
        }
        (CellBody::Exercise(ex), CellState::Exercise(st)) => {
            exercise_view::view(ex, st, focused, typing, width)
        }
        _ => CellView {
            title: None,
            pieces: vec![Piece::Lines(vec![Line::styled(
                "(this cell's state is missing)",
                ERROR,
            )])],
        },
    }
}
