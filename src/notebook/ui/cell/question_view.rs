//! A quiz cell: the question (a fresh draw for drills), the choices or the answer box, then
//! feedback, hints, the answer once shown and the explanation once done.

use ratatui::style::{Color, Style, Stylize};
use ratatui::text::{Line, Span};
use unicode_width::UnicodeWidthStr;

use super::parts::{feedback_lines, graded_tag, hint_lines, input_line, status_tag};
use super::style::{DIM, ERROR, GOOD};
use super::view::{CellView, Piece};
use crate::course::lesson::{Quiz, QuizKind};
use crate::notebook::app::{Feedback, QuizState, TaskStatus};
use crate::notebook::ui::markdown;

/// The view of a quiz cell `width` columns wide.
pub(super) fn view<'a>(
    q: &'a Quiz,
    st: &'a QuizState,
    focused: bool,
    typing: bool,
    width: u16,
) -> CellView<'a> {
    let w = usize::from(width.saturating_sub(2));
    let mut lines = markdown::render(&st.question, w);
    if let Err(e) = &st.draw {
        lines.push(Line::styled(
            format!("This drill cannot draw a question: {e}"),
            ERROR,
        ));
    }
    let done = st.status != TaskStatus::Open || matches!(st.feedback, Some(Feedback::Correct(_)));
    match &q.kind {
        QuizKind::Single { choices, answer } => {
            for (k, c) in choices.iter().enumerate() {
                let picked = st.picked.contains(&k);
                let right = done && k == *answer;
                let mark = if right {
                    "✓"
                } else if picked {
                    "●"
                } else {
                    "○"
                };
                let style = if right {
                    GOOD
                } else if picked && matches!(st.feedback, Some(Feedback::Wrong(_))) {
                    ERROR
                } else {
                    Style::new()
                };
                let first = format!("{mark} {}) ", (b'a' + k as u8) as char);
                let indent = " ".repeat(first.width());
                lines.extend(markdown::wrap(
                    &markdown::inline(c, style),
                    w,
                    &first,
                    &indent,
                ));
            }
        }
        QuizKind::Multi { choices, answers } => {
            for (k, c) in choices.iter().enumerate() {
                let picked = st.picked.contains(&k);
                let right = done && answers.contains(&k);
                let mark = if picked { "[x]" } else { "[ ]" };
                let style = if right { GOOD } else { Style::new() };
                let first = format!("{mark} {}) ", (b'a' + k as u8) as char);
                let indent = " ".repeat(first.width());
                lines.extend(markdown::wrap(
                    &markdown::inline(c, style),
                    w,
                    &first,
                    &indent,
                ));
            }
        }
        QuizKind::Match { pairs } => {
            let order = crate::course::quiz::shown_order(q, st.seed);
            for (k, (left, _)) in pairs.iter().enumerate() {
                let first = format!("{}. ", k + 1);
                let indent = " ".repeat(first.width());
                lines.extend(markdown::wrap(
                    &markdown::inline(left, Style::new()),
                    w,
                    &first,
                    &indent,
                ));
            }
            for (j, &o) in order.iter().enumerate() {
                let first = format!("   {}) ", (b'a' + j as u8) as char);
                let indent = " ".repeat(first.width());
                lines.extend(markdown::wrap(
                    &markdown::inline(&pairs[o].1, Style::new()),
                    w,
                    &first,
                    &indent,
                ));
            }
        }
        _ => {}
    }
    let placeholder = match &q.kind {
        QuizKind::Single { .. } => "",
        QuizKind::Multi { .. } => "",
        QuizKind::Integer { .. } => "a whole number",
        QuizKind::Number { .. } => "a number",
        QuizKind::Shape { .. } => "a shape, like (32, 55, 55)",
        QuizKind::Match { .. } => "a letter per item in order, like cab",
    };
    if !placeholder.is_empty() {
        let ph = if typing || !st.input.is_empty() {
            placeholder.to_string()
        } else if focused {
            format!("{placeholder} (Enter to answer)")
        } else {
            placeholder.to_string()
        };
        lines.push(input_line(&st.input, &ph, typing, w));
    }
    lines.extend(feedback_lines(&st.feedback, w));
    lines.extend(hint_lines(&q.hints, st.hints, w));
    if let Some(a) = &st.answer {
        lines.extend(markdown::wrap(
            &[
                ("Answer: ".to_string(), Style::new().bold()),
                (a.clone(), Style::new().fg(Color::LightMagenta)),
            ],
            w,
            "",
            "  ",
        ));
    }
    if (done || st.status == TaskStatus::Revealed) && !st.explanation.is_empty() {
        lines.extend(markdown::render(&st.explanation, w));
    }
    if focused {
        lines.extend(markdown::wrap(
            &[(quiz_keys(q, st, typing), DIM)],
            w,
            "",
            "",
        ));
    }
    let mut title = vec![
        Span::raw(" ? "),
        Span::raw(if q.vars.is_empty() {
            "Question".to_string()
        } else {
            format!("Drill · question {}", st.round + 1)
        })
        .bold(),
        Span::raw(" "),
    ];
    title.extend(status_tag(st.status));
    title.extend(graded_tag(st.graded));
    CellView {
        title: Some(Line::from(title)),
        pieces: vec![Piece::Lines(lines)],
    }
}

fn quiz_keys(q: &Quiz, st: &QuizState, typing: bool) -> String {
    let choice = matches!(q.kind, QuizKind::Single { .. } | QuizKind::Multi { .. });
    if typing {
        let left = q.hints.len() - st.hints.min(q.hints.len());
        // While answering, Tab shows a hint (and h where no answer holds the letter).
        let hint = match (left, &q.kind) {
            (0, _) => String::new(),
            (_, QuizKind::Integer { .. } | QuizKind::Number { .. } | QuizKind::Shape { .. }) => {
                format!(" · h or Tab: hint ({left} left)")
            }
            _ => format!(" · Tab: hint ({left} left)"),
        };
        return match q.kind {
            QuizKind::Single { .. } => format!("a, b, c…: answer{hint} · Esc: stop answering"),
            QuizKind::Multi { .. } => {
                format!("a, b, c…: tick/untick · Enter: check{hint} · Esc: stop answering")
            }
            _ => format!("Enter: check · ←/→ Home End: move{hint} · Esc: stop typing"),
        };
    }
    let mut keys = vec![if choice {
        "Enter: choose"
    } else {
        "Enter: answer"
    }
    .to_string()];
    if st.hints < q.hints.len() {
        keys.push(format!("h: hint ({} left)", q.hints.len() - st.hints));
    }
    if st.status == TaskStatus::Open && st.graded.is_none() {
        keys.push("s: show the answer".into());
    }
    if !q.vars.is_empty() && st.graded.is_none() {
        keys.push("N: new numbers".into());
    }
    keys.join(" · ")
}
