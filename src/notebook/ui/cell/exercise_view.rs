//! An exercise cell: the prompt, each goal with whether the last run met it, the answer box,
//! the run's status and outputs, then hints, the solution once shown and the explanation.

use ratatui::style::{Color, Style, Stylize};
use ratatui::text::{Line, Span};

use super::parts::{feedback_lines, graded_tag, hint_lines, input_line, status_tag};
use super::result::{outputs, status_lines};
use super::style::{DIM, ERROR, GOOD};
use super::view::{CellView, Piece};
use crate::course::lesson::Exercise;
use crate::notebook::app::{ExerciseState, RunStatus, TaskStatus};
use crate::notebook::ui::markdown;

/// The view of an exercise cell `width` columns wide.
pub(super) fn view<'a>(
    ex: &'a Exercise,
    st: &'a ExerciseState,
    focused: bool,
    typing: bool,
    width: u16,
) -> CellView<'a> {
    let w = usize::from(width.saturating_sub(2));
    let mut lines = markdown::render(&ex.prompt, w);
    for (k, g) in ex.goals.iter().enumerate() {
        let met = st.goals_met.as_ref().and_then(|m| m.get(k).copied());
        let (mark, style) = match met {
            None => ("○", Style::new()),
            Some(true) => ("✓", GOOD),
            Some(false) => ("✗", ERROR),
        };
        let mut text = match (g.min, g.max) {
            (Some(a), Some(b)) if a == b => {
                format!(
                    "Goal: {} = {}",
                    g.metric,
                    crate::course::quiz::format_number(a)
                )
            }
            _ => format!("Goal: {g}"),
        };
        if !g.text.is_empty() {
            text.push_str(&format!(" — {}", g.text));
        }
        if let (Some(_), Some(v)) = (met, st.result.metrics.get(&g.metric)) {
            text.push_str(&format!(
                " (got {})",
                crate::course::quiz::format_number(*v)
            ));
        }
        let first = format!("{mark} ");
        lines.extend(markdown::wrap(
            &markdown::inline(&text, style),
            w,
            &first,
            "  ",
        ));
    }
    let ph = if ex.placeholder.is_empty() {
        format!("a value for `{}`", ex.input)
    } else {
        ex.placeholder.clone()
    };
    let ph = if focused && !typing {
        format!("{ph}   (Enter to type)")
    } else {
        ph
    };
    lines.push(input_line(&st.input, &ph, typing, w));
    lines.extend(feedback_lines(&st.feedback, w));
    if !matches!(st.result.status, RunStatus::Failed(_) | RunStatus::Idle) {
        lines.extend(status_lines(
            &st.result.status,
            ex.experiment.long,
            focused,
            w,
        ));
    }
    let mut pieces = vec![Piece::Lines(lines)];
    outputs(&st.result, w, &mut pieces);
    let mut tail = hint_lines(&ex.hints, st.hints, w);
    if st.status == TaskStatus::Revealed {
        match &ex.solution {
            Some(s) => tail.extend(markdown::wrap(
                &[
                    ("Solution: ".to_string(), Style::new().bold()),
                    (s.clone(), Style::new().fg(Color::LightMagenta)),
                ],
                w,
                "",
                "  ",
            )),
            None => tail.push(Line::styled("(this exercise has no stored solution)", DIM)),
        }
    }
    if st.status != TaskStatus::Open && !ex.explanation.is_empty() {
        tail.extend(markdown::render(&ex.explanation, w));
    }
    if focused {
        let keys = if typing {
            let left = ex.hints.len() - st.hints.min(ex.hints.len());
            let hint = if left > 0 {
                format!(" · Tab: hint ({left} left)")
            } else {
                String::new()
            };
            format!("Enter: run and check · ←/→ Home End: move{hint} · Esc: stop typing")
        } else {
            let mut k = vec!["Enter: type an answer".to_string()];
            if st.hints < ex.hints.len() {
                k.push(format!("h: hint ({} left)", ex.hints.len() - st.hints));
            }
            if st.status == TaskStatus::Open && st.graded.is_none() {
                k.push("s: show the solution".into());
            }
            k.join(" · ")
        };
        tail.extend(markdown::wrap(&[(keys, DIM)], w, "", ""));
    }
    if !tail.is_empty() {
        pieces.push(Piece::Lines(tail));
    }
    let mut title = vec![
        Span::raw(" ✎ "),
        Span::raw("Exercise").bold(),
        Span::raw(" "),
    ];
    title.extend(status_tag(st.status));
    title.extend(graded_tag(st.graded));
    CellView {
        title: Some(Line::from(title)),
        pieces,
    }
}
