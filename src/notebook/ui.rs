//! Pure rendering of the app: `impl Widget for &App` draws the lesson title and progress, the
//! notebook scrolled to the app's position, the status line and any overlay. Nothing here
//! changes state; [`layout`] measures the cells so the app can scroll by line and keep the
//! focused cell in view.

pub mod cell;
pub mod chart;
pub mod grid;
pub mod halfblock;
pub mod markdown;

use crate::notebook::app::RunStatus;
use ratatui::buffer::Buffer;
use ratatui::layout::{Alignment, Rect};
use ratatui::style::{Color, Modifier, Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Clear, Paragraph, Widget, Wrap};
use unicode_width::UnicodeWidthStr;

use crate::notebook::app::{App, Mode, NotebookLayout};

/// The smallest terminal the notebook is drawn in.
pub const MIN_WIDTH: u16 = 60;
pub const MIN_HEIGHT: u16 = 20;
/// Blank lines between cells.
const GAP: usize = 1;
/// Columns left of each cell for the focus bar.
const GUTTER: u16 = 2;
/// Prose is easier to read in a column; wide terminals centre it.
const MAX_WIDTH: u16 = 120;

/// The screen split into its parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Areas {
    pub title: Rect,
    pub notebook: Rect,
    pub status: Rect,
}

/// Lines the warning takes (wrapped), at most three.
fn warning_lines(app: &App, width: u16) -> Vec<Line<'static>> {
    match &app.warning {
        None => Vec::new(),
        Some(w) => {
            let mut l = markdown::wrap(
                &[(
                    format!("⚠ {w} (Esc: dismiss)"),
                    Style::new().fg(Color::Yellow),
                )],
                usize::from(width),
                "",
                "  ",
            );
            l.truncate(3);
            l
        }
    }
}

pub fn areas(app: &App, area: Rect) -> Areas {
    let status_h = 1 + warning_lines(app, area.width).len() as u16;
    let title = Rect::new(area.x, area.y, area.width, 1);
    let status = Rect::new(
        area.x,
        area.bottom().saturating_sub(status_h),
        area.width,
        status_h,
    );
    let top = area.y + 1;
    let notebook = Rect::new(area.x, top, area.width, status.y.saturating_sub(top));
    Areas {
        title,
        notebook,
        status,
    }
}

/// The width cells are drawn at, and the column they start in, within the notebook area.
fn columns(nb: Rect) -> (u16, u16) {
    let w = nb.width.min(MAX_WIDTH);
    let x = nb.x + (nb.width - w) / 2;
    (x + GUTTER, w.saturating_sub(GUTTER + 1))
}

/// Where each cell sits at this notebook width.
pub fn layout(app: &App, nb: Rect) -> NotebookLayout {
    let (_, w) = columns(nb);
    let mut l = NotebookLayout::default();
    let mut y = 0;
    for i in 0..app.cells.len() {
        let h = usize::from(cell::build(app, i, w).height(w));
        l.tops.push(y);
        l.heights.push(h);
        y += h + GAP;
    }
    l.total = y.saturating_sub(GAP);
    l
}

/// True when the terminal is big enough to draw the notebook.
pub fn fits(area: Rect) -> bool {
    area.width >= MIN_WIDTH && area.height >= MIN_HEIGHT
}

impl Widget for &App {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let l = fits(area).then(|| layout(self, areas(self, area).notebook));
        render(self, l.as_ref(), area, buf);
    }
}

/// Draws the app into `area` with `l`, the [`layout`] of its notebook area (`None` when the
/// area does not [`fit`](fits)): the event loop has just computed it to settle the scroll, and
/// laying out every cell again would double the cost of a frame.
pub fn render(app: &App, l: Option<&NotebookLayout>, area: Rect, buf: &mut Buffer) {
    let Some(l) = l.filter(|_| fits(area)) else {
        too_small(area, buf);
        return;
    };
    let a = areas(app, area);
    title_bar(app, a.title, buf);
    if let Some((cell, at)) = app.viewer {
        let below_title = Rect::new(
            area.x,
            a.notebook.y,
            area.width,
            area.bottom() - a.notebook.y,
        );
        viewer(app, cell, at, below_title, buf);
        return;
    }
    notebook(app, a.notebook, l, buf);
    status_bar(app, a.status, scroll_label(app, l, a.notebook), buf);
    if app.help {
        help(area, buf);
    }
}

fn too_small(area: Rect, buf: &mut Buffer) {
    let text = vec![
        Line::from("terminal too small").bold(),
        Line::from(format!(
            "(need {MIN_WIDTH}x{MIN_HEIGHT}, have {}x{})",
            area.width, area.height
        )),
        Line::from("q: quit").fg(Color::DarkGray),
    ];
    let h = (text.len() as u16).min(area.height);
    let y = area.y + area.height.saturating_sub(h) / 2;
    Paragraph::new(text)
        .alignment(Alignment::Center)
        .wrap(Wrap { trim: true })
        .render(
            Rect::new(area.x, y, area.width, area.height - (y - area.y)),
            buf,
        );
}

fn title_bar(app: &App, area: Rect, buf: &mut Buffer) {
    let lesson = app.lesson();
    let s = app.store.data.summary(lesson);
    let frac = s.fraction().clamp(0.0, 1.0);
    let bar_w = 12usize;
    let filled = (frac * bar_w as f64).round() as usize;
    let mut right = Vec::new();
    // The count of solved tasks and the percentage always; the bar, which only repeats the
    // percentage, when there is room; the lesson title gives way first.
    let solved = if area.width >= 70 {
        format!("{}/{} solved ", s.solved, s.tasks)
    } else {
        format!("{}/{} ", s.solved, s.tasks)
    };
    right.push(Span::styled(solved, Style::new().fg(Color::Gray)));
    if area.width >= 90 {
        right.extend([
            Span::styled("█".repeat(filled), Style::new().fg(Color::Green)),
            Span::styled("░".repeat(bar_w - filled), Style::new().fg(Color::DarkGray)),
        ]);
    }
    right.push(Span::styled(
        format!(" {:>3.0}% ", frac * 100.0),
        Style::new().bold(),
    ));
    let right = Line::from(right);
    let rw = right.width() as u16;
    buf.set_style(area, Style::new().bg(Color::Indexed(236)));
    let left = Line::from(vec![
        Span::styled(
            " tutor ",
            Style::new().fg(Color::Black).bg(Color::Cyan).bold(),
        ),
        Span::raw(" "),
        Span::styled(
            format!("Lesson {} · {}", lesson.number, lesson.title),
            Style::new().bold(),
        ),
        Span::styled(
            format!("  ({}/{})", app.current + 1, app.lessons.len()),
            Style::new().fg(Color::DarkGray),
        ),
    ]);
    let left_w = area.width.saturating_sub(rw + 1);
    let left = markdown::truncate_line(left, usize::from(left_w));
    buf.set_line(area.x, area.y, &left, left_w);
    if rw < area.width {
        buf.set_line(area.right() - rw, area.y, &right, rw);
    }
}

fn notebook(app: &App, nb: Rect, l: &NotebookLayout, buf: &mut Buffer) {
    if nb.height == 0 {
        return;
    }
    let (x, w) = columns(nb);
    let (top, bottom) = (app.scroll, app.scroll + usize::from(nb.height));
    for i in 0..app.cells.len() {
        let (t, h) = (l.tops[i], l.heights[i]);
        if t + h <= top || t >= bottom || h == 0 {
            continue;
        }
        // Draw the whole cell off screen, then copy the rows in view: cells taller than the
        // screen scroll line by line like everything else.
        let view = cell::build(app, i, w);
        let focused = i == app.focus;
        let frame = if focused && app.mode == Mode::Typing {
            Style::new().fg(cell::TYPING)
        } else if focused {
            Style::new().fg(cell::ACCENT)
        } else {
            Style::new().fg(Color::DarkGray)
        };
        let hh = h.min(u16::MAX as usize) as u16;
        let mut off = Buffer::empty(Rect::new(0, 0, w, hh));
        view.render(off.area, &mut off, frame, app.colors);
        for row in 0..h {
            let y = t + row;
            if y < top || y >= bottom {
                continue;
            }
            let sy = nb.y + (y - top) as u16;
            for col in 0..w {
                buf[(x + col, sy)] = off[(col, row as u16)].clone();
            }
            if focused {
                let bar = if app.mode == Mode::Typing {
                    cell::TYPING
                } else {
                    cell::ACCENT
                };
                buf[(x - GUTTER, sy)].set_symbol("▌").set_fg(bar);
            }
        }
    }
}

/// How far down the notebook the screen is, when there is more than a screen.
fn scroll_label(app: &App, l: &NotebookLayout, nb: Rect) -> Option<String> {
    let vh = usize::from(nb.height);
    (l.total > vh).then(|| {
        let max = l.total - vh;
        match app.scroll.min(max) {
            0 => "top".to_string(),
            s if s == max => "end".to_string(),
            s => format!("{}%", s * 100 / max),
        }
    })
}

fn status_bar(app: &App, area: Rect, pos: Option<String>, buf: &mut Buffer) {
    let warn = warning_lines(app, area.width);
    for (i, l) in warn.iter().enumerate() {
        buf.set_line(area.x, area.y + i as u16, l, area.width);
    }
    let y = area.bottom() - 1;
    buf.set_style(
        Rect::new(area.x, y, area.width, 1),
        Style::new().bg(Color::Indexed(236)),
    );
    let (mode, mode_style) = match app.mode {
        Mode::Typing => (
            " TYPE ",
            Style::new().fg(Color::Black).bg(cell::TYPING).bold(),
        ),
        Mode::Normal => (
            " NOTEBOOK ",
            Style::new().fg(Color::Black).bg(Color::Gray).bold(),
        ),
    };
    let mut spans = vec![Span::styled(mode, mode_style), Span::raw(" ")];
    if let Some(status) = app.run_status() {
        if matches!(status, RunStatus::Cancelling) {
            spans.push(Span::styled("Stopping… · ", Style::new().fg(Color::Yellow)));
        } else if let (Some(p), RunStatus::Running { what, .. }) =
            (cell::progress_label(status), status)
        {
            let what = if what.is_empty() {
                String::new()
            } else {
                format!(" · {what}")
            };
            spans.push(Span::styled(
                format!("{p}{what} · "),
                Style::new().fg(Color::Yellow),
            ));
        }
    }
    match &app.message {
        Some(m) => spans.push(Span::styled(
            m.text.clone(),
            if m.error {
                Style::new().fg(Color::LightRed).bold()
            } else {
                Style::new().fg(Color::Yellow)
            },
        )),
        None => {
            let keys = match app.mode {
                Mode::Typing => "Enter submit · Esc stop typing · Ctrl-C quit",
                // Most important first: narrow terminals cut the end off.
                Mode::Normal if app.busy() => {
                    "Esc stop run · ? help · q quit · j/k cells · PgUp/PgDn scroll"
                }
                Mode::Normal => {
                    "? help · q quit · j/k cells · Enter run/answer · h hint · r run all · n/p lesson"
                }
            };
            spans.push(Span::styled(keys, Style::new().fg(Color::Gray)));
        }
    }
    let pos = pos.map(|p| format!(" {p} ")).unwrap_or_default();
    let pw = pos.width() as u16;
    let line = markdown::truncate_line(
        Line::from(spans),
        usize::from(area.width.saturating_sub(pw + 1)),
    );
    buf.set_line(area.x, y, &line, area.width);
    buf.set_string(
        area.right().saturating_sub(pw),
        y,
        pos,
        Style::new().fg(Color::Gray),
    );
}

/// One picture of a cell over the whole screen below the title, at the largest whole-number
/// scale that fits, its full caption above it and the keys below.
fn viewer(app: &App, cell: usize, at: usize, area: Rect, buf: &mut Buffer) {
    let pics = app.pictures(cell);
    let Some(pic) = pics.get(at) else {
        return;
    };
    Clear.render(area, buf);
    let w = usize::from(area.width);
    let mut head = markdown::wrap(
        &[(
            format!("Picture {} of {} · {}", at + 1, pics.len(), pic.caption),
            Style::new().bold(),
        )],
        w,
        "",
        "  ",
    );
    head.truncate(3);
    let (iw, ih) = pic.image.dimensions();
    let foot = Line::styled(
        "←/→: previous / next picture · any other key: back to the notebook",
        Style::new().fg(Color::Gray),
    );
    // Below the caption: one line for the size, the picture, one line of keys.
    let rows = area.height.saturating_sub(head.len() as u16 + 2);
    let scale = halfblock::best_fit(iw, ih, area.width, rows);
    let (cols, prow) = halfblock::size(iw, ih, scale);
    let scale_note = match scale {
        halfblock::Scale::Up(1) => "actual size".to_string(),
        halfblock::Scale::Up(n) => format!("enlarged {n}x"),
        halfblock::Scale::Down(n) => format!("shrunk {n}x to fit the terminal"),
    };
    head.push(Line::styled(
        format!("{iw}x{ih} pixels, {scale_note}"),
        Style::new().fg(Color::DarkGray),
    ));
    let rows = area.height.saturating_sub(head.len() as u16 + 1);
    for (k, l) in head.iter().enumerate() {
        buf.set_line(area.x, area.y + k as u16, l, area.width);
    }
    let top = area.y + head.len() as u16;
    let x = area.x + area.width.saturating_sub(cols) / 2;
    halfblock::HalfBlock {
        image: &pic.image,
        scale,
        colors: app.colors,
    }
    .render(Rect::new(x, top, cols.min(area.width), prow.min(rows)), buf);
    buf.set_line(
        area.x,
        area.bottom().saturating_sub(1),
        &markdown::truncate_line(foot, w),
        area.width,
    );
}

/// Every key, for the help overlay.
pub const KEYS: &[(&str, &str)] = &[
    ("j k ↓ ↑", "next / previous cell"),
    ("J K", "scroll one line (also Ctrl-E / Ctrl-Y)"),
    ("PgDn PgUp g G", "scroll a page (Space too) · top / bottom"),
    ("Enter", "run the cell, or start answering"),
    ("i", "type an answer or a parameter's value"),
    ("a b c …", "pick a choice (multi: tick, Enter checks)"),
    ("← → Home End", "move in the answer; Backspace/Del erase"),
    ("h", "next hint (Tab while answering)"),
    ("v", "the cell's pictures full-screen (← → page)"),
    ("s", "give up: show the answer (not solved)"),
    ("N", "new numbers for a drill"),
    ("Tab S-Tab", "select a parameter; + - change it"),
    ("r", "run every experiment, top to bottom"),
    ("Esc", "stop a run · close · dismiss a warning"),
    ("n p", "next / previous lesson"),
    ("? q", "this help · quit (Ctrl-C too)"),
];

fn help(area: Rect, buf: &mut Buffer) {
    let kw = KEYS.iter().map(|(k, _)| k.width()).max().unwrap_or(0);
    let lines: Vec<Line> = KEYS
        .iter()
        .map(|(k, d)| {
            Line::from(vec![
                Span::styled(format!(" {k:<kw$}  "), Style::new().fg(Color::Cyan).bold()),
                Span::raw(*d),
            ])
        })
        .collect();
    let w = (lines.iter().map(Line::width).max().unwrap_or(0) as u16 + 3).min(area.width);
    let h = (lines.len() as u16 + 2).min(area.height);
    let r = Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    );
    Clear.render(r, buf);
    Paragraph::new(lines)
        .block(
            Block::bordered()
                .border_type(BorderType::Rounded)
                .border_style(Style::new().fg(Color::Cyan))
                .title(Line::from(" Keys ").add_modifier(Modifier::BOLD))
                .title_bottom(Line::from(" Esc or ? closes ").right_aligned()),
        )
        .render(r, buf);
}
