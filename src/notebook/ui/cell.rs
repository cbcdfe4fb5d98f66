//! One notebook cell as a stack of pieces (wrapped lines, a chart, pictures, a matrix, code
//! panes), so the notebook can measure every cell's height at the current width before drawing
//! and scroll through cells taller than the screen.

use std::time::Duration;

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Paragraph, Widget};
use unicode_width::UnicodeWidthStr;

use super::markdown::{self, truncate_line};
use crate::course::lesson::{CellBody, Exercise, Pane, Quiz, QuizKind, Run};
use crate::notebook::app::input::LineInput;
use crate::notebook::app::{
    cells::show_value, App, CellState, ColorMode, ExerciseState, Feedback, Mode, QuizState,
    RunResult, RunStatus, TaskStatus,
};
use crate::output::{Matrix, Output, Picture, Plot, Table};

const DIM: Style = Style::new().fg(Color::DarkGray);
const ERROR: Style = Style::new().fg(Color::LightRed);
const GOOD: Style = Style::new().fg(Color::Green);
const WARN: Style = Style::new().fg(Color::Yellow);
/// The colour of focus: the gutter bar and the focused cell's frame.
pub const ACCENT: Color = Color::Cyan;
/// The focused cell's frame while typing into it.
pub const TYPING: Color = Color::Yellow;

/// A vertical piece of a cell.
pub enum Piece<'a> {
    Lines(Vec<Line<'a>>),
    Plot(&'a Plot),
    Pictures(&'a [Picture]),
    Matrix(&'a Matrix),
    /// Code panes side by side (one pane when stacked).
    Panes(&'a [Pane]),
}

/// A cell ready to draw: framed with a title, or bare (prose and code).
pub struct CellView<'a> {
    pub title: Option<Line<'a>>,
    pub pieces: Vec<Piece<'a>>,
}

impl CellView<'_> {
    /// Inner width for a cell drawn `width` wide.
    fn inner(&self, width: u16) -> u16 {
        if self.title.is_some() {
            width.saturating_sub(2)
        } else {
            width
        }
    }

    pub fn height(&self, width: u16) -> u16 {
        let inner = self.inner(width);
        let body: u16 = self
            .pieces
            .iter()
            .map(|p| piece_height(p, inner))
            .fold(0u16, u16::saturating_add);
        if self.title.is_some() {
            body.saturating_add(2)
        } else {
            body.max(1)
        }
    }

    pub fn render(self, area: Rect, buf: &mut Buffer, frame: Style, colors: ColorMode) {
        let inner = match &self.title {
            Some(t) => {
                let block = Block::bordered()
                    .border_type(BorderType::Rounded)
                    .border_style(frame)
                    .title(t.clone());
                let inner = block.inner(area);
                block.render(area, buf);
                inner
            }
            None => area,
        };
        let mut y = inner.y;
        for p in &self.pieces {
            let h = piece_height(p, inner.width);
            let r = Rect::new(inner.x, y, inner.width, h).intersection(inner);
            if r.height > 0 {
                render_piece(p, r, buf, colors);
            }
            y = y.saturating_add(h);
        }
    }
}

/// A chart's height for a cell `width` wide: roomy when wide, still readable at 60 columns.
pub fn plot_height(width: u16) -> u16 {
    (width / 5).clamp(9, 16)
}

fn panes_side_by_side(panes: &[Pane], width: u16) -> bool {
    let n = panes.len().max(1);
    let each = usize::from(width) / n;
    panes.len() > 1
        && panes
            .iter()
            .all(|p| p.code.lines().map(|l| l.width()).max().unwrap_or(0) + 2 <= each)
}

fn piece_height(p: &Piece, width: u16) -> u16 {
    match p {
        Piece::Lines(l) => l.len().min(u16::MAX as usize) as u16,
        Piece::Plot(_) => plot_height(width),
        Piece::Pictures(p) => super::halfblock::layout(p, width).1,
        Piece::Matrix(m) => super::grid::height(m),
        Piece::Panes(p) => p.iter().map(|p| p.code.lines().count()).max().unwrap_or(0) as u16 + 2,
    }
}

fn render_piece(p: &Piece, area: Rect, buf: &mut Buffer, colors: ColorMode) {
    match p {
        Piece::Lines(lines) => {
            for (i, l) in lines.iter().enumerate().take(usize::from(area.height)) {
                buf.set_line(area.x, area.y + i as u16, l, area.width);
            }
        }
        Piece::Plot(plot) => super::chart::PlotView { plot }.render(area, buf),
        Piece::Pictures(p) => super::halfblock::Pictures {
            pictures: p,
            colors,
        }
        .render(area, buf),
        Piece::Matrix(m) => super::grid::MatrixView { matrix: m, colors }.render(area, buf),
        Piece::Panes(panes) => {
            let n = panes.len().max(1) as u16;
            let each = area.width / n;
            for (i, pane) in panes.iter().enumerate() {
                let i = i as u16;
                let w = if i + 1 == n {
                    area.width - each * i
                } else {
                    each
                };
                let r = Rect::new(area.x + each * i, area.y, w, area.height);
                let block = Block::bordered()
                    .border_type(BorderType::Plain)
                    .border_style(DIM)
                    .title(Line::from(format!(" {} ", pane.title)).fg(Color::Gray));
                let lines: Vec<Line> = pane
                    .code
                    .lines()
                    .map(|l| {
                        let l = Line::from(l.replace('\t', "    "));
                        truncate_line(l, usize::from(w.saturating_sub(2)))
                    })
                    .collect();
                Paragraph::new(lines)
                    .style(Style::new().fg(Color::White))
                    .block(block)
                    .render(r, buf);
            }
        }
    }
}

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
        (CellBody::Run(run), CellState::Run(st)) => {
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
            let mut pieces = vec![Piece::Lines(lines)];
            outputs(&st.result, inner, &mut pieces);
            if focused {
                let keys = if run.experiment.long {
                    "Enter: run · Esc: stop · r: run all"
                } else {
                    "Enter: run again · r: run all"
                };
                pieces.push(Piece::Lines(markdown::wrap(
                    &[(keys.to_string(), DIM)],
                    inner,
                    "",
                    "",
                )));
            }
            let mut title = vec![Span::raw(" ▶ "), Span::raw(run.experiment.name).bold()];
            title.push(Span::raw(" "));
            CellView {
                title: Some(Line::from(title)),
                pieces,
            }
        }
        (CellBody::Quiz(q), CellState::Quiz(st)) => quiz_view(q, st, focused, typing, width),
        (CellBody::Exercise(ex), CellState::Exercise(st)) => {
            exercise_view(ex, st, focused, typing, width)
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

fn params_lines(
    run: &Run,
    st: &crate::notebook::app::RunState,
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
                "Enter: set the value · Esc: keep the old one".to_string(),
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
            lines.extend(markdown::wrap(
                &[(
                    format!(
                        "{}: {} · Tab: next parameter · +/-: change{} · i: type a value",
                        spec.name,
                        spec.doc,
                        if run.experiment.long {
                            ", then Enter to run"
                        } else {
                            " (reruns at once)"
                        }
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

/// "1m 05s", "12s".
pub fn fmt_duration(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 3600 {
        format!("{}h {:02}m", s / 3600, (s % 3600) / 60)
    } else if s >= 60 {
        format!("{}m {:02}s", s / 60, s % 60)
    } else if s < 10 {
        format!("{:.1}s", d.as_secs_f64())
    } else {
        format!("{s}s")
    }
}

/// `" 25% · ETA 30s"` (or `starting…`) for a running status; `None` otherwise.
pub fn progress_label(status: &RunStatus) -> Option<String> {
    if !matches!(status, RunStatus::Running { .. }) {
        return None;
    }
    Some(match status.eta() {
        Some((ratio, eta)) => {
            let mut label = format!("{:>3.0}%", ratio * 100.0);
            if let Some(eta) = eta {
                label.push_str(&format!(" · ETA {}", fmt_duration(eta)));
            }
            label
        }
        None => "starting…".to_string(),
    })
}

fn status_lines(status: &RunStatus, long: bool, focused: bool, width: usize) -> Vec<Line<'static>> {
    match status {
        RunStatus::Idle => vec![Line::styled(
            if focused {
                "Not run yet: press Enter to run."
            } else {
                "Not run yet."
            },
            DIM,
        )],
        RunStatus::Queued => vec![Line::styled("Waiting for the run before it…", DIM)],
        RunStatus::Running { what, .. } => {
            let (ratio, _) = status.eta().unwrap_or((0.0, None));
            let mut label = format!(" {}", progress_label(status).unwrap_or_default());
            if !what.is_empty() {
                label.push_str(&format!(" · {what}"));
            }
            let bar_w = width.saturating_sub(label.width() + 2).clamp(10, 40);
            let filled = ((ratio * bar_w as f64).round() as usize).min(bar_w);
            let line = Line::from(vec![
                Span::styled("█".repeat(filled), Style::new().fg(ACCENT)),
                Span::styled("░".repeat(bar_w - filled), DIM),
                Span::raw(label),
            ]);
            vec![truncate_line(line, width)]
        }
        RunStatus::Cancelling => vec![Line::styled("Stopping…", WARN)],
        RunStatus::Done { elapsed } => {
            if long {
                vec![Line::styled(
                    format!("Done in {}.", fmt_duration(*elapsed)),
                    DIM,
                )]
            } else {
                Vec::new()
            }
        }
        RunStatus::Cancelled => vec![Line::styled("Cancelled.", WARN)],
        RunStatus::Failed(m) => markdown::wrap(&[(format!("Error: {m}"), ERROR)], width, "", "  "),
    }
}

/// The pieces that show a run's outputs.
fn outputs<'a>(res: &'a RunResult, width: usize, pieces: &mut Vec<Piece<'a>>) {
    for (k, (_, out)) in res.outputs.iter().enumerate() {
        if k > 0 {
            // A blank line between outputs, so a chart's axis labels do not run into the
            // next picture's top.
            pieces.push(Piece::Lines(vec![Line::default()]));
        }
        match out {
            Output::Text(t) => pieces.push(Piece::Lines(
                t.lines()
                    .flat_map(|l| hard_wrap(&l.replace('\t', "    "), width))
                    .map(Line::from)
                    .collect(),
            )),
            Output::Table(t) => pieces.push(Piece::Lines(table_lines(t, width))),
            Output::Pictures(p) => pieces.push(Piece::Pictures(p)),
            Output::Plot(p) => {
                if !p.title.is_empty() {
                    pieces.push(Piece::Lines(vec![Line::from(p.title.clone()).bold()]));
                }
                pieces.push(Piece::Plot(p));
            }
            Output::Matrix(m) => pieces.push(Piece::Matrix(m)),
            Output::File(f) => pieces.push(Piece::Lines(
                hard_wrap(
                    &format!(
                        "{}: {} (tutor exec writes it as {})",
                        f.path, f.summary, f.path
                    ),
                    width,
                )
                .into_iter()
                .map(|l| Line::from(l).italic())
                .collect(),
            )),
        }
    }
}

/// Splits a monospace line longer than `width`, at a space in its second half when there is
/// one; spacing is kept, so aligned text that fits is untouched.
pub fn hard_wrap(line: &str, width: usize) -> Vec<String> {
    let width = width.max(8);
    let mut out = Vec::new();
    let mut rest: Vec<char> = line.chars().collect();
    loop {
        let mut used = 0;
        let mut cut = rest.len();
        for (i, c) in rest.iter().enumerate() {
            used += c.to_string().width();
            if used > width {
                cut = i;
                break;
            }
        }
        if cut == rest.len() {
            out.push(rest.iter().collect());
            return out;
        }
        if rest[cut] != ' ' {
            if let Some(sp) = rest[..cut]
                .iter()
                .rposition(|c| *c == ' ')
                .filter(|&p| p > cut / 2)
            {
                cut = sp + 1;
            }
        }
        out.push(
            rest[..cut]
                .iter()
                .collect::<String>()
                .trim_end()
                .to_string(),
        );
        let tail: Vec<char> = rest[cut..]
            .iter()
            .skip_while(|c| **c == ' ')
            .copied()
            .collect();
        // Continuation lines are indented so they read as one.
        rest = "  ".chars().chain(tail).collect();
    }
}

/// A table with aligned columns; numbers are right-aligned.
pub fn table_lines(t: &Table, width: usize) -> Vec<Line<'static>> {
    let ncols = t
        .rows
        .iter()
        .map(Vec::len)
        .chain([t.header.len()])
        .max()
        .unwrap_or(0);
    let mut widths = vec![0usize; ncols];
    for row in t.rows.iter().chain([&t.header]) {
        for (j, c) in row.iter().enumerate() {
            widths[j] = widths[j].max(c.width());
        }
    }
    // A column is right-aligned when every entry below the header is a number.
    let numeric: Vec<bool> = (0..ncols)
        .map(|j| {
            t.rows.iter().all(|r| {
                r.get(j)
                    .is_none_or(|c| c.trim().is_empty() || c.trim().parse::<f64>().is_ok())
            })
        })
        .collect();
    let fmt_row = |row: &[String], style: Style| -> Line<'static> {
        let mut spans = Vec::new();
        for (j, w) in widths.iter().enumerate() {
            if j > 0 {
                spans.push(Span::styled("  ", style));
            }
            let c = row.get(j).map(String::as_str).unwrap_or("");
            let pad = " ".repeat(w.saturating_sub(c.width()));
            let text = if numeric[j] {
                format!("{pad}{c}")
            } else {
                format!("{c}{pad}")
            };
            spans.push(Span::styled(text, style));
        }
        truncate_line(Line::from(spans), width)
    };
    let mut out = Vec::new();
    if let Some(title) = &t.title {
        out.push(Line::from(title.clone()).bold());
    }
    if !t.header.is_empty() {
        out.push(fmt_row(&t.header, Style::new().bold()));
        let total: usize = widths.iter().sum::<usize>() + 2 * ncols.saturating_sub(1);
        out.push(Line::styled("─".repeat(total.min(width)), DIM));
    }
    for r in &t.rows {
        out.push(fmt_row(r, Style::new()));
    }
    out
}

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

fn feedback_lines(f: &Option<Feedback>, width: usize) -> Vec<Line<'static>> {
    match f {
        None => Vec::new(),
        Some(Feedback::Correct(m)) => {
            markdown::wrap(&[(format!("✓ {m}"), GOOD.bold())], width, "", "  ")
        }
        Some(Feedback::Wrong(m)) => {
            markdown::wrap(&[(format!("✗ {m}"), ERROR.bold())], width, "", "  ")
        }
        Some(Feedback::Invalid(m)) => markdown::wrap(&[(format!("⚠ {m}"), WARN)], width, "", "  "),
    }
}

fn hint_lines(hints: &[String], shown: usize, width: usize) -> Vec<Line<'static>> {
    let mut out = Vec::new();
    for (k, h) in hints.iter().take(shown).enumerate() {
        let label = format!("Hint {}: ", k + 1);
        let mut pieces = vec![(label, Style::new().fg(Color::LightBlue).bold())];
        pieces.extend(markdown::inline(h, Style::new().fg(Color::LightBlue)));
        out.extend(markdown::wrap(&pieces, width, "", "  "));
    }
    out
}

fn status_tag(status: TaskStatus) -> Option<Span<'static>> {
    match status {
        TaskStatus::Open => None,
        TaskStatus::Solved => Some(Span::styled(" ✓ solved ", GOOD.bold())),
        TaskStatus::Revealed => Some(Span::styled(" answer shown ", WARN)),
    }
}

fn quiz_view<'a>(
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
            let order = crate::course::quiz::match_order(pairs.len(), st.seed);
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
    CellView {
        title: Some(Line::from(title)),
        pieces: vec![Piece::Lines(lines)],
    }
}

fn quiz_keys(q: &Quiz, st: &QuizState, typing: bool) -> String {
    let choice = matches!(q.kind, QuizKind::Single { .. } | QuizKind::Multi { .. });
    if typing {
        return match q.kind {
            QuizKind::Single { .. } => "a, b, c…: answer · Esc: stop answering".into(),
            QuizKind::Multi { .. } => {
                "a, b, c…: tick/untick · Enter: check · Esc: stop answering".into()
            }
            _ => "Enter: check · ←/→ Home End: move · Esc: stop typing".into(),
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
    if st.status == TaskStatus::Open {
        keys.push("s: show the answer".into());
    }
    if !q.vars.is_empty() {
        keys.push("N: new numbers".into());
    }
    keys.join(" · ")
}

fn exercise_view<'a>(
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
            "Enter: run and check · ←/→ Home End: move · Esc: stop typing".to_string()
        } else {
            let mut k = vec!["Enter: type an answer".to_string()];
            if st.hints < ex.hints.len() {
                k.push(format!("h: hint ({} left)", ex.hints.len() - st.hints));
            }
            if st.status == TaskStatus::Open {
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
    CellView {
        title: Some(Line::from(title)),
        pieces,
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

    #[test]
    fn long_text_lines_wrap_keeping_spacing() {
        assert_eq!(hard_wrap("a  b", 10), ["a  b"]);
        assert_eq!(
            hard_wrap("input (3, 32, 32) -> output (16, 30, 30)", 20),
            ["input (3, 32, 32) ->", "  output (16, 30,", "  30)"]
        );
        assert_eq!(hard_wrap("abcdefghijkl", 8), ["abcdefgh", "  ijkl"]);
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(fmt_duration(Duration::from_millis(2500)), "2.5s");
        assert_eq!(fmt_duration(Duration::from_secs(42)), "42s");
        assert_eq!(fmt_duration(Duration::from_secs(65)), "1m 05s");
        assert_eq!(fmt_duration(Duration::from_secs(3720)), "1h 02m");
    }

    #[test]
    fn tables_align_and_right_align_numbers() {
        let t = Table {
            title: None,
            header: vec!["layer".into(), "params".into()],
            rows: vec![
                vec!["conv1".into(), "448".into()],
                vec!["fc".into(), "10250".into()],
            ],
        };
        let l: Vec<String> = table_lines(&t, 80)
            .iter()
            .map(|l| l.spans.iter().map(|s| s.content.as_ref()).collect())
            .collect();
        assert_eq!(
            l,
            [
                "layer  params",
                "─────────────",
                "conv1     448",
                "fc      10250"
            ]
        );
    }
}
