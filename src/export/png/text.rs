//! Small text helpers shared by the drawings: measuring, shrinking and eliding text so it fits.

use plotters::coord::Shift;
use plotters::prelude::*;

use anyhow::Result;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{drawing_error, FAMILY};

/// The width and height in pixels of `text` at `size` px in the embedded font.
pub(crate) fn text_size<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    text: &str,
    size: f64,
) -> (u32, u32) {
    // Measuring cannot fail once the font is registered; zero is the harmless answer if the
    // font ever went missing, since drawing would then report the real error.
    area.estimate_text_size(text, &TextStyle::from((FAMILY, size).into_font()))
        .unwrap_or((0, 0))
}

/// Fits `text` into `max_width` pixels: first by shrinking the font from `size` down to
/// `min_size`, then by cutting the end off and adding an ellipsis. Returns the text and size.
pub(crate) fn fit_text<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    text: &str,
    size: f64,
    min_size: f64,
    max_width: u32,
) -> (String, f64) {
    let mut s = size;
    while s > min_size && text_size(area, text, s).0 > max_width {
        s = (s - 0.5).max(min_size);
    }
    if text_size(area, text, s).0 <= max_width {
        return (text.to_string(), s);
    }
    let chars: Vec<char> = text.chars().collect();
    for keep in (0..chars.len()).rev() {
        let cut: String = chars[..keep]
            .iter()
            .collect::<String>()
            .trim_end()
            .to_string()
            + "…";
        if text_size(area, &cut, s).0 <= max_width {
            return (cut, s);
        }
    }
    (String::new(), s)
}

/// Splits `text` into lines of at most `max_width` pixels at `size`, breaking at spaces (and
/// inside words only when a single word is too wide). At most `max_lines` lines are returned;
/// the last one is elided when text was left over.
pub(crate) fn wrap_text<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    text: &str,
    size: f64,
    max_width: u32,
    max_lines: usize,
) -> Vec<String> {
    let max_lines = max_lines.max(1);
    let fits = |s: &str| text_size(area, s, size).0 <= max_width;
    let mut lines: Vec<String> = Vec::new();
    let mut current = String::new();
    for word in text.split_whitespace() {
        let candidate = if current.is_empty() {
            word.to_string()
        } else {
            format!("{current} {word}")
        };
        if fits(&candidate) {
            current = candidate;
            continue;
        }
        if !current.is_empty() {
            lines.push(std::mem::take(&mut current));
        }
        // A word wider than the line is broken by characters.
        let mut piece = String::new();
        for c in word.chars() {
            piece.push(c);
            if !fits(&piece) && piece.chars().count() > 1 {
                piece.pop();
                lines.push(std::mem::take(&mut piece));
                piece.push(c);
            }
        }
        current = piece;
    }
    if !current.is_empty() {
        lines.push(current);
    }
    if lines.len() > max_lines {
        let rest = lines[max_lines - 1..].join(" ");
        lines.truncate(max_lines - 1);
        lines.push(fit_text(area, &rest, size, size, max_width).0);
    }
    lines
}

/// Draws `text` anchored at `pos`; `vertical` turns it to read from bottom to top.
#[allow(clippy::too_many_arguments)]
pub(crate) fn draw_text<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    text: &str,
    size: f64,
    color: RGBColor,
    pos: (i32, i32),
    h: HPos,
    v: VPos,
    vertical: bool,
) -> Result<()> {
    let mut style = TextStyle::from((FAMILY, size).into_font())
        .color(&color)
        .pos(Pos::new(h, v));
    if vertical {
        style = style.transform(FontTransform::Rotate270);
    }
    root.draw_text(text, &style, pos).map_err(drawing_error)
}
