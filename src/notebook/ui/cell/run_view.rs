//! A run cell: its caption, the parameters the learner can change (and the box to type one),
//! the run's status and outputs, and the keys that apply.

use ratatui::style::{Color, Style, Stylize};
use ratatui::text::{Line, Span};
use unicode_width::UnicodeWidthStr;

use super::parts::input_line;
use super::result::{outputs, status_lines};
use super::style::{ACCENT, DIM, WARN};
use super::view::{CellView, Piece};
use crate::course::lesson::Run;
use crate::experiments::ParamKind;
use crate::notebook::app::{cell_state::show_value, RunState};
use crate::notebook::ui::markdown;

/// The view of a run cell `width` columns wide.
pub(super) fn view<'a>(
    run: &'a Run,
    st: &'a RunState,
    focused: bool,
    typing: bool,
    width: u16,
) -> CellView<'a> {
    let inner = usize::from(width.saturating_sub(2));
    let mut lines = Vec::new();
    if !run.caption.is_empty() {
        lines.extend(markdown::render(&run.caption, inner));
    }
    lines.extend(params_lines(run, st, focused, typing, inner));
    lines.extend(status_lines(
        &st.result.status,
        run.experiment.long,
        focused,
        inner,
    ));
    if st.result.is_stale(&st.values) && !st.result.outputs.is_empty() {
        // The outputs below answer other values than the ones shown above.
        let changed: Vec<String> = st
            .result
            .ran_with
            .iter()
            .flatten()
            .filter(|(k, v)| st.values.get(*k) != Some(v))
            .map(|(k, v)| format!("{k} = {}", show_value(v)))
            .collect();
        lines.extend(markdown::wrap(
            &[(
                format!(
                    "⚠ Out of date: the outputs below are from the run with {}. Enter runs                      with the values above.",
                    changed.join(", ")
                ),
                WARN,
            )],
            inner,
            "",
            "  ",
        ));
    }
    let mut pieces = vec![Piece::Lines(lines)];
    outputs(&st.result, inner, &mut pieces);
    if focused {
        let mut keys = if run.experiment.long {
            "Enter: run · Esc: stop · r: run all"
        } else {
            "Enter: run again · r: run all"
        }
        .to_string();
        let has_pictures = st
            .result
            .outputs
            .iter()
            .any(|(_, o)| matches!(o, crate::output::Output::Pictures(_)));
        if has_pictures {
            keys.push_str(" · v: pictures full-screen");
        }
        pieces.push(Piece::Lines(markdown::wrap(&[(keys, DIM)], inner, "", "")));
    }
    let mut title = vec![Span::raw(" ▶ "), Span::raw(run.experiment.name).bold()];
    title.push(Span::raw(" "));
    CellView {
        title: Some(Line::from(title)),
        pieces,
    }
}

fn params_lines(
    run: &Run,
    st: &RunState,
    focused: bool,
    typing: bool,
    width: usize,
) -> Vec<Line<'static>> {
    if run.adjust.is_empty() {
        return Vec::new();
    }
    let mut pieces: Vec<(String, Style)> = vec![("Parameters: ".into(), DIM)];
    for (k, name) in run.adjust.iter().enumerate() {
        if k > 0 {
            pieces.push((" · ".into(), DIM));
        }
        let v = st.values.get(name).map(show_value).unwrap_or_default();
        let style = if focused && k == st.selected {
            Style::new().fg(Color::Black).bg(ACCENT).bold()
        } else {
            Style::new().bold()
        };
        // Non-breaking spaces keep `name = value` together when the line wraps.
        pieces.push((format!("{name}\u{a0}=\u{a0}{v}"), style));
    }
    let mut lines = markdown::wrap(&pieces, width, "", "");
    let selected = run
        .adjust
        .get(st.selected)
        .and_then(|n| run.experiment.param(n));
    if let (true, Some(spec)) = (typing, selected) {
        let label = format!("{} ", spec.name);
        let mut line = input_line(
            &st.edit,
            spec.doc,
            true,
            width.saturating_sub(label.width()),
        );
        line.spans
            .insert(0, Span::styled(label, Style::new().bold()));
        lines.push(line);
        if let Some(e) = &st.edit_error {
            lines.extend(markdown::wrap(&[(format!("⚠ {e}"), WARN)], width, "", "  "));
        }
        lines.extend(markdown::wrap(
            &[(
                "type to replace · ←/→ edit · Ctrl-U clear · Enter: set · Esc: keep the old value"
                    .to_string(),
                DIM,
            )],
            width,
            "",
            "",
        ));
        return lines;
    }
    if focused {
        if let Some(spec) = run
            .adjust
            .get(st.selected)
            .and_then(|n| run.experiment.param(n))
        {
            // Only a parameter +/- can step says so (free text and files are typed).
            let steps = !matches!(
                spec.kind,
                ParamKind::Text | ParamKind::Matrix { .. } | ParamKind::File
            );
            let change = match (steps, run.experiment.long) {
                (true, true) => " · +/-: change, then Enter to run",
                (true, false) => " · +/-: change (reruns at once)",
                (false, _) => "",
            };
            let next = if run.adjust.len() > 1 {
                " · Tab: next parameter"
            } else {
                ""
            };
            lines.extend(markdown::wrap(
                &[(
                    format!(
                        "{}: {}{next}{change} · i: type a value",
                        spec.name, spec.doc
                    ),
                    DIM,
                )],
                width,
                "",
                "",
            ));
        }
    }
    lines
}
