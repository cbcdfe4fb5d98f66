//! A labelled matrix (a confusion matrix, say) as a heat map with the numbers printed in it.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::widgets::Widget;
use unicode_width::UnicodeWidthStr;

use crate::notebook::app::ColorMode;
use crate::output::Matrix;

/// Widest label shown before it is cut.
const LABEL_MAX: usize = 12;

fn clip(s: &str, w: usize) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if (out.clone() + &c.to_string()).width() > w {
            break;
        }
        out.push(c);
    }
    out
}

/// The numbers as shown: whole numbers plainly, others with two decimals.
fn cells(m: &Matrix) -> Vec<Vec<String>> {
    let whole = m.values.iter().flatten().all(|v| v.fract() == 0.0);
    m.values
        .iter()
        .map(|r| {
            r.iter()
                .map(|v| {
                    if whole {
                        format!("{v:.0}")
                    } else {
                        format!("{v:.2}")
                    }
                })
                .collect()
        })
        .collect()
}

/// Rows the widget takes: title, axis note, header, one per matrix row.
pub fn height(m: &Matrix) -> u16 {
    (u16::from(!m.title.is_empty()) + 2 + m.values.len() as u16).min(200)
}

/// A matrix drawn as a heat map.
pub struct MatrixView<'a> {
    pub matrix: &'a Matrix,
    pub colors: ColorMode,
}

impl Widget for MatrixView<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let m = self.matrix;
        let text = cells(m);
        let ncols = m.values.iter().map(Vec::len).max().unwrap_or(0);
        let label_w = m
            .row_labels
            .iter()
            .map(|l| l.width().min(LABEL_MAX))
            .max()
            .unwrap_or(0);
        let value_w = text.iter().flatten().map(|s| s.width()).max().unwrap_or(1);
        let head_w = m
            .col_labels
            .iter()
            .map(|l| l.width().min(LABEL_MAX))
            .max()
            .unwrap_or(0);
        let mut cw = value_w.max(head_w) + 2;
        // Narrow terminals: shrink the columns to the numbers before cutting columns off.
        let avail = usize::from(area.width).saturating_sub(label_w + 1);
        if cw * ncols > avail {
            cw = (avail / ncols.max(1)).max(value_w + 1);
        }
        let (lo, hi) = m
            .values
            .iter()
            .flatten()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
                (a.min(v), b.max(v))
            });
        let mut y = area.y;
        let right = area.right();
        let put = |buf: &mut Buffer, x: u16, y: u16, s: &str, st: Style| {
            if x < right && y < area.bottom() {
                buf.set_stringn(x, y, s, usize::from(right - x), st);
            }
        };
        if !m.title.is_empty() {
            put(
                buf,
                area.x,
                y,
                &m.title,
                Style::new().add_modifier(Modifier::BOLD),
            );
            y += 1;
        }
        put(
            buf,
            area.x,
            y,
            &format!("rows: {} · columns: {}", m.row_axis, m.col_axis),
            Style::new().fg(Color::DarkGray),
        );
        y += 1;
        let x0 = area.x + label_w as u16 + 1;
        for (j, l) in m.col_labels.iter().enumerate() {
            let l = clip(l, cw - 1);
            let x = x0 + (j * cw) as u16 + (cw - l.width()) as u16 / 2;
            put(buf, x, y, &l, Style::new().add_modifier(Modifier::BOLD));
        }
        y += 1;
        for (i, row) in text.iter().enumerate() {
            if y >= area.bottom() {
                break;
            }
            let label = clip(m.row_labels.get(i).map_or("", String::as_str), label_w);
            put(
                buf,
                area.x + (label_w - label.width()) as u16,
                y,
                &label,
                Style::new().add_modifier(Modifier::BOLD),
            );
            for (j, s) in row.iter().enumerate() {
                let v = m.values[i][j];
                let t = if hi > lo { (v - lo) / (hi - lo) } else { 0.5 };
                let rgb = heat(t);
                let bg = super::halfblock::color(rgb, self.colors);
                let lum = 0.299 * f64::from(rgb[0])
                    + 0.587 * f64::from(rgb[1])
                    + 0.114 * f64::from(rgb[2]);
                let fg = if lum > 140.0 {
                    Color::Black
                } else {
                    Color::White
                };
                let cell = format!("{s:>w$} ", w = cw - 1);
                put(
                    buf,
                    x0 + (j * cw) as u16,
                    y,
                    &cell,
                    Style::new().fg(fg).bg(bg),
                );
            }
            y += 1;
        }
    }
}

/// Dark blue for the smallest value through teal to yellow for the largest.
pub fn heat(t: f64) -> [u8; 3] {
    let t = t.clamp(0.0, 1.0);
    let stops: [[f64; 3]; 3] = [
        [25.0, 35.0, 90.0],
        [30.0, 150.0, 140.0],
        [250.0, 220.0, 60.0],
    ];
    let (a, b, u) = if t < 0.5 {
        (stops[0], stops[1], t * 2.0)
    } else {
        (stops[1], stops[2], (t - 0.5) * 2.0)
    };
    [0, 1, 2].map(|i| (a[i] + (b[i] - a[i]) * u).round() as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_has_numbers_labels_and_heat() {
        let m = Matrix {
            title: "confusion".into(),
            row_axis: "true".into(),
            col_axis: "predicted".into(),
            row_labels: vec!["cat".into(), "dog".into()],
            col_labels: vec!["cat".into(), "dog".into()],
            values: vec![vec![9.0, 1.0], vec![2.0, 8.0]],
        };
        assert_eq!(height(&m), 5);
        let mut buf = Buffer::empty(Rect::new(0, 0, 30, 5));
        MatrixView {
            matrix: &m,
            colors: ColorMode::TrueColor,
        }
        .render(buf.area, &mut buf);
        let row = |y: u16| -> String { (0..30).map(|x| buf[(x, y)].symbol()).collect() };
        assert!(row(0).starts_with("confusion"));
        assert!(row(2).contains("cat") && row(2).contains("dog"));
        assert!(row(3).starts_with("cat    9 "), "{:?}", row(3));
        // The largest value is the brightest, the smallest the darkest.
        let bg9 = buf[(7, 3)].bg;
        let bg1 = buf[(10, 3)].bg;
        assert_eq!(bg9, Color::Rgb(250, 220, 60));
        assert_eq!(bg1, Color::Rgb(25, 35, 90));
    }
}
