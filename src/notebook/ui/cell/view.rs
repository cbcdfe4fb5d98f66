//! A cell ready to draw: a stack of [`Piece`]s (wrapped lines, a chart, pictures, a matrix,
//! code panes) whose height is known at any width before anything is drawn, so the notebook
//! can lay out and scroll cells taller than the screen.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style, Stylize};
use ratatui::text::Line;
use ratatui::widgets::{Block, BorderType, Paragraph, Widget};
use unicode_width::UnicodeWidthStr;

use super::style::DIM;
use crate::course::lesson::Pane;
use crate::notebook::app::ColorMode;
use crate::notebook::ui::markdown::truncate_line;
use crate::output::{Matrix, Picture, Plot};

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

pub(super) fn panes_side_by_side(panes: &[Pane], width: u16) -> bool {
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
        Piece::Pictures(p) => crate::notebook::ui::halfblock::layout(p, width).1,
        Piece::Matrix(m) => crate::notebook::ui::grid::height(m),
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
        Piece::Plot(plot) => crate::notebook::ui::chart::PlotView { plot }.render(area, buf),
        Piece::Pictures(p) => crate::notebook::ui::halfblock::Pictures {
            pictures: p,
            colors,
        }
        .render(area, buf),
        Piece::Matrix(m) => {
            crate::notebook::ui::grid::MatrixView { matrix: m, colors }.render(area, buf)
        }
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
