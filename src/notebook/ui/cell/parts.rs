//! Lines several cell kinds share: the answer box with its cursor (quizzes, exercises and a
//! run cell's typed parameter), feedback on an answer, the hints shown so far, and the solved
//! or answer-shown tag in a title.

use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};

use super::style::{DIM, ERROR, GOOD, TYPING, WARN};
use crate::notebook::app::input::LineInput;
use crate::notebook::app::{Feedback, TaskStatus};
use crate::notebook::ui::markdown::{self, truncate_line};

/// The answer box: `› ` then the text, with a block cursor while typing, or the placeholder.
pub fn input_line(
    input: &LineInput,
    placeholder: &str,
    typing: bool,
    width: usize,
) -> Line<'static> {
    let prompt = Span::styled(
        "› ",
        if typing {
            Style::new().fg(TYPING).bold()
        } else {
            DIM
        },
    );
    let avail = width.saturating_sub(3).max(4);
    let chars: Vec<char> = input.text().chars().collect();
    let cursor = input.cursor();
    // Scroll the text so the cursor stays in view.
    let start = (cursor + 1).saturating_sub(avail);
    let end = (start + avail).min(chars.len());
    let mut spans = vec![prompt];
    if input.is_empty() {
        if typing {
            spans.push(Span::styled(" ", Style::new().reversed()));
        }
        spans.push(Span::styled(placeholder.to_string(), DIM.italic()));
        return truncate_line(Line::from(spans), width);
    }
    if typing && input.is_selected() {
        // The value to replace: shown selected, as a text field does.
        let shown: String = chars[start..end].iter().collect();
        spans.push(Span::styled(
            shown,
            Style::new().fg(Color::Black).bg(TYPING),
        ));
        return Line::from(spans);
    }
    let before: String = chars[start..cursor.min(end)].iter().collect();
    spans.push(Span::raw(before));
    if typing {
        let at = chars.get(cursor).map_or(" ".to_string(), |c| c.to_string());
        spans.push(Span::styled(at, Style::new().reversed()));
        if cursor < end {
            spans.push(Span::raw(chars[cursor + 1..end].iter().collect::<String>()));
        }
    } else if cursor < end {
        spans.push(Span::raw(chars[cursor..end].iter().collect::<String>()));
    }
    Line::from(spans)
}

pub(super) fn feedback_lines(f: &Option<Feedback>, width: usize) -> Vec<Line<'static>> {
    match f {
        None => Vec::new(),
        Some(Feedback::Correct(m)) => {
            markdown::wrap(&[(format!("✓ {m}"), GOOD.bold())], width, "", "  ")
        }
        Some(Feedback::Wrong(m)) => {
            markdown::wrap(&[(format!("✗ {m}"), ERROR.bold())], width, "", "  ")
        }
        Some(Feedback::Invalid(m)) => markdown::wrap(&[(format!("⚠ {m}"), WARN)], width, "", "  "),
        Some(Feedback::Recorded(m)) => markdown::wrap(
            &[(format!("● {m}"), Style::new().fg(Color::LightBlue).bold())],
            width,
            "",
            "  ",
        ),
    }
}

pub(super) fn hint_lines(hints: &[String], shown: usize, width: usize) -> Vec<Line<'static>> {
    let mut out = Vec::new();
    for (k, h) in hints.iter().take(shown).enumerate() {
        let label = format!("Hint {}: ", k + 1);
        let mut pieces = vec![(label, Style::new().fg(Color::LightBlue).bold())];
        pieces.extend(markdown::inline(h, Style::new().fg(Color::LightBlue)));
        out.extend(markdown::wrap(&pieces, width, "", "  "));
    }
    out
}

/// " graded · 2 points " for a graded cell.
pub(super) fn graded_tag(points: Option<f64>) -> Option<Span<'static>> {
    let p = points?;
    let unit = if p == 1.0 { "point" } else { "points" };
    Some(Span::styled(
        format!(
            " graded · {} {unit} ",
            crate::course::quiz::format_number(p)
        ),
        Style::new().fg(Color::LightBlue),
    ))
}

pub(super) fn status_tag(status: TaskStatus) -> Option<Span<'static>> {
    match status {
        TaskStatus::Open => None,
        TaskStatus::Solved => Some(Span::styled(" ✓ solved ", GOOD.bold())),
        TaskStatus::Revealed => Some(Span::styled(" answer shown ", WARN)),
    }
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_scrolls_to_keep_the_cursor_visible() {
        let mut i = LineInput::default();
        i.set("0123456789abcdef");
        let l = input_line(&i, "", true, 10);
        let text: String = l.spans.iter().map(|s| s.content.as_ref()).collect();
        // 7 columns for text: the tail and the cursor block.
        assert_eq!(text, "› abcdef ");
        assert!(l.width() <= 10);
    }
}
