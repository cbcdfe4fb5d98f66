//! Pictures as half-block characters: each terminal cell shows two pixels stacked, `▀` with
//! the top pixel as foreground and the bottom pixel as background.
//!
//! Works in any terminal with colour (no graphics protocol to detect), scales by whole
//! numbers so pixels stay square and sharp, and is exactly testable cell by cell. Colours are
//! 24-bit when the terminal says so, else the nearest of xterm's 256.

use image::RgbImage;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::widgets::Widget;
use unicode_width::UnicodeWidthStr;

use crate::notebook::app::ColorMode;
use crate::output::Picture;

/// How an image is resized to fit: by whole numbers only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scale {
    /// Each source pixel becomes n x n.
    Up(u32),
    /// Each n x n block of source pixels is averaged into one.
    Down(u32),
}

/// Small images are enlarged until about this many columns wide.
const TARGET_COLS: u32 = 16;
/// The tallest a picture may be, in rows, so one photo never fills the whole screen; a wide
/// notebook (a big terminal) allows more, so photos are shrunk less.
pub const MAX_ROWS: u32 = 20;
pub const MAX_ROWS_WIDE: u32 = 26;
/// Notebook widths from which [`MAX_ROWS_WIDE`] applies.
const WIDE: u16 = 100;
/// Lines a caption may wrap to under its picture.
const CAPTION_LINES: usize = 3;

/// The largest whole-number scale that shows a `w` x `h` image in `cols` x `rows` cells (the
/// full-screen view).
pub fn best_fit(w: u32, h: u32, cols: u16, rows: u16) -> Scale {
    let (w, h) = (w.max(1), h.max(1));
    let (cw, ch) = (u32::from(cols).max(1), 2 * u32::from(rows).max(1));
    let up = (cw / w).min(ch / h);
    if up >= 1 {
        Scale::Up(up)
    } else {
        Scale::Down(w.div_ceil(cw).max(h.div_ceil(ch)).max(2))
    }
}

/// The scale that shows a `w`-pixel-wide image in at most `max_cols` columns.
pub fn fit(w: u32, max_cols: u32) -> Scale {
    let (w, max_cols) = (w.max(1), max_cols.max(1));
    if w > max_cols {
        Scale::Down(w.div_ceil(max_cols))
    } else {
        Scale::Up((TARGET_COLS / w).clamp(1, 4).min(max_cols / w).max(1))
    }
}

/// `scale`, reduced until an image `h` pixels tall takes at most `max_rows` rows.
pub fn shrink_to_rows(scale: Scale, h: u32, max_rows: u32) -> Scale {
    let rows = |s: Scale| u32::from(size(1, h, s).1);
    let mut s = scale;
    while rows(s) > max_rows.max(1) {
        s = match s {
            Scale::Up(n) if n > 1 => Scale::Up(n - 1),
            Scale::Up(_) => Scale::Down(2),
            Scale::Down(n) => Scale::Down(n + 1),
        };
    }
    s
}

/// Columns and rows an image of `w` x `h` pixels takes at `scale`.
pub fn size(w: u32, h: u32, scale: Scale) -> (u16, u16) {
    let (sw, sh) = match scale {
        Scale::Up(n) => (w * n, h * n),
        Scale::Down(n) => (w.div_ceil(n), h.div_ceil(n)),
    };
    (
        sw.min(u16::MAX as u32) as u16,
        sh.div_ceil(2).min(u16::MAX as u32) as u16,
    )
}

/// An image drawn with half blocks.
pub struct HalfBlock<'a> {
    pub image: &'a RgbImage,
    pub scale: Scale,
    pub colors: ColorMode,
}

impl HalfBlock<'_> {
    /// The colour of pixel (x, y) of the scaled image, or None outside it.
    fn pixel(&self, x: u32, y: u32) -> Option<[u8; 3]> {
        let (w, h) = self.image.dimensions();
        match self.scale {
            Scale::Up(n) => {
                let (sx, sy) = (x / n, y / n);
                (sx < w && sy < h).then(|| self.image.get_pixel(sx, sy).0)
            }
            Scale::Down(n) => {
                let (x0, y0) = (x * n, y * n);
                if x0 >= w || y0 >= h {
                    return None;
                }
                let mut sum = [0u32; 3];
                let mut count = 0;
                for sy in y0..(y0 + n).min(h) {
                    for sx in x0..(x0 + n).min(w) {
                        let p = self.image.get_pixel(sx, sy).0;
                        for c in 0..3 {
                            sum[c] += u32::from(p[c]);
                        }
                        count += 1;
                    }
                }
                Some(sum.map(|s| (s / count) as u8))
            }
        }
    }
}

impl Widget for HalfBlock<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let (cols, rows) = size(self.image.width(), self.image.height(), self.scale);
        for row in 0..rows.min(area.height) {
            for col in 0..cols.min(area.width) {
                let top = self.pixel(u32::from(col), u32::from(row) * 2);
                let bottom = self.pixel(u32::from(col), u32::from(row) * 2 + 1);
                let cell = &mut buf[(area.x + col, area.y + row)];
                cell.set_symbol("▀");
                cell.set_fg(top.map_or(Color::Reset, |p| color(p, self.colors)));
                // An odd last row has no bottom pixel: leave the terminal's background.
                cell.set_bg(bottom.map_or(Color::Reset, |p| color(p, self.colors)));
            }
        }
    }
}

/// An RGB colour for the terminal.
pub fn color(p: [u8; 3], mode: ColorMode) -> Color {
    match mode {
        ColorMode::TrueColor => Color::Rgb(p[0], p[1], p[2]),
        ColorMode::Palette256 => Color::Indexed(xterm256(p)),
    }
}

/// The nearest xterm-256 colour: the 6x6x6 cube or the 24-step grey ramp.
pub fn xterm256(p: [u8; 3]) -> u8 {
    const LEVELS: [i32; 6] = [0, 95, 135, 175, 215, 255];
    let nearest = |v: u8| {
        (0..6)
            .min_by_key(|&i| (LEVELS[i] - i32::from(v)).abs())
            .unwrap_or(0)
    };
    let (r, g, b) = (nearest(p[0]), nearest(p[1]), nearest(p[2]));
    let cube = [LEVELS[r], LEVELS[g], LEVELS[b]];
    let avg = (i32::from(p[0]) + i32::from(p[1]) + i32::from(p[2])) / 3;
    let gi = ((avg - 8 + 5) / 10).clamp(0, 23);
    let grey = 8 + 10 * gi;
    let dist =
        |c: [i32; 3]| -> i32 { (0..3).map(|i| (c[i] - i32::from(p[i])).pow(2)).sum::<i32>() };
    if dist([grey; 3]) < dist(cube) {
        (232 + gi) as u8
    } else {
        (16 + 36 * r + 6 * g + b) as u8
    }
}

/// Where each picture goes when pictures are laid out side by side in `width` columns.
#[derive(Debug, Clone, PartialEq)]
pub struct Placed {
    pub index: usize,
    pub x: u16,
    pub y: u16,
    pub scale: Scale,
    pub cols: u16,
    pub rows: u16,
    /// Width of the slot (the picture or its caption, whichever is wider).
    pub slot: u16,
}

const GAP: u16 = 2;
/// Captions wider than their picture may widen the slot up to this.
const CAPTION_MAX: u16 = 24;

/// A caption wrapped to `width` columns, at most [`CAPTION_LINES`] lines.
fn caption_lines(caption: &str, width: u16) -> Vec<ratatui::text::Line<'static>> {
    if caption.is_empty() {
        return vec![ratatui::text::Line::default()];
    }
    let mut l = super::markdown::wrap(
        &[(
            caption.to_string(),
            Style::new().add_modifier(Modifier::ITALIC),
        )],
        usize::from(width.max(1)),
        "",
        "",
    );
    if l.len() > CAPTION_LINES {
        let last = l[CAPTION_LINES - 1].clone();
        l.truncate(CAPTION_LINES - 1);
        // The cut is shown: `…` on the last line kept.
        let mut last = last;
        last.spans.push(ratatui::text::Span::raw(" …"));
        l.push(super::markdown::truncate_line(last, usize::from(width)));
    }
    l
}

/// Lays pictures out left to right, wrapping to new rows; returns the places and total height.
/// Pictures of about the same size share the scale of the largest, so a row of them stays
/// comparable; a much smaller one (a 3x3 patch next to a photo) is enlarged on its own.
pub fn layout(pictures: &[Picture], width: u16) -> (Vec<Placed>, u16) {
    let width = width.max(1);
    let widest = pictures.iter().map(|p| p.image.width()).max().unwrap_or(1);
    let tallest = pictures.iter().map(|p| p.image.height()).max().unwrap_or(1);
    let max_rows = if width >= WIDE {
        MAX_ROWS_WIDE
    } else {
        MAX_ROWS
    };
    let scale_for = |w: u32, h: u32| shrink_to_rows(fit(w, u32::from(width)), h, max_rows);
    let shared = scale_for(widest, tallest);
    let mut placed = Vec::new();
    let (mut x, mut y, mut row_h) = (0u16, 0u16, 0u16);
    for (index, p) in pictures.iter().enumerate() {
        let (w, h) = p.image.dimensions();
        let scale = if 2 * w < widest && 2 * h < tallest {
            scale_for(w, h)
        } else {
            shared
        };
        let (cols, rows) = size(w, h, scale);
        let cap = (p.caption.width() as u16).min(CAPTION_MAX);
        let slot = cols.max(cap).min(width);
        if x > 0 && x + slot > width {
            x = 0;
            y += row_h;
            row_h = 0;
        }
        placed.push(Placed {
            index,
            x,
            y,
            scale,
            cols,
            rows,
            slot,
        });
        row_h = row_h.max(rows + caption_lines(&p.caption, slot).len() as u16);
        x += slot + GAP;
    }
    let height = if pictures.is_empty() { 0 } else { y + row_h };
    (placed, height)
}

/// Pictures side by side, each with its caption below.
pub struct Pictures<'a> {
    pub pictures: &'a [Picture],
    pub colors: ColorMode,
}

impl Widget for Pictures<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let (placed, _) = layout(self.pictures, area.width);
        for p in placed {
            let pic = &self.pictures[p.index];
            let img_area = Rect::new(area.x + p.x, area.y + p.y, p.cols, p.rows).intersection(area);
            HalfBlock {
                image: &pic.image,
                scale: p.scale,
                colors: self.colors,
            }
            .render(img_area, buf);
            // The caption under the picture, wrapped to the picture's slot.
            for (k, cap) in caption_lines(&pic.caption, p.slot).iter().enumerate() {
                let cap_y = area.y + p.y + p.rows + k as u16;
                if cap_y < area.bottom() {
                    buf.set_line(area.x + p.x, cap_y, cap, p.slot);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Rgb;

    fn two_by_two() -> RgbImage {
        let mut img = RgbImage::new(2, 2);
        img.put_pixel(0, 0, Rgb([255, 0, 0]));
        img.put_pixel(1, 0, Rgb([0, 255, 0]));
        img.put_pixel(0, 1, Rgb([0, 0, 255]));
        img.put_pixel(1, 1, Rgb([255, 255, 255]));
        img
    }

    #[test]
    fn two_by_two_in_truecolor_is_exact() {
        let img = two_by_two();
        let mut buf = Buffer::empty(Rect::new(0, 0, 3, 2));
        HalfBlock {
            image: &img,
            scale: Scale::Up(1),
            colors: ColorMode::TrueColor,
        }
        .render(buf.area, &mut buf);
        let c = &buf[(0, 0)];
        assert_eq!(c.symbol(), "▀");
        assert_eq!(c.fg, Color::Rgb(255, 0, 0));
        assert_eq!(c.bg, Color::Rgb(0, 0, 255));
        let c = &buf[(1, 0)];
        assert_eq!(c.symbol(), "▀");
        assert_eq!(c.fg, Color::Rgb(0, 255, 0));
        assert_eq!(c.bg, Color::Rgb(255, 255, 255));
        // Nothing drawn outside the 2x1 cells.
        assert_eq!(buf[(2, 0)].symbol(), " ");
        assert_eq!(buf[(0, 1)].symbol(), " ");
    }

    #[test]
    fn two_by_two_in_256_colours_uses_the_cube() {
        let img = two_by_two();
        let mut buf = Buffer::empty(Rect::new(0, 0, 2, 1));
        HalfBlock {
            image: &img,
            scale: Scale::Up(1),
            colors: ColorMode::Palette256,
        }
        .render(buf.area, &mut buf);
        assert_eq!(buf[(0, 0)].fg, Color::Indexed(196));
        assert_eq!(buf[(0, 0)].bg, Color::Indexed(21));
        assert_eq!(buf[(1, 0)].fg, Color::Indexed(46));
        assert_eq!(buf[(1, 0)].bg, Color::Indexed(231));
    }

    #[test]
    fn scaling_up_and_down() {
        let img = two_by_two();
        let mut buf = Buffer::empty(Rect::new(0, 0, 4, 2));
        HalfBlock {
            image: &img,
            scale: Scale::Up(2),
            colors: ColorMode::TrueColor,
        }
        .render(buf.area, &mut buf);
        // Row 0 holds scaled pixel rows 0 and 1: both red on the left.
        assert_eq!(buf[(1, 0)].fg, Color::Rgb(255, 0, 0));
        assert_eq!(buf[(1, 0)].bg, Color::Rgb(255, 0, 0));
        assert_eq!(buf[(2, 1)].bg, Color::Rgb(255, 255, 255));
        let mut buf = Buffer::empty(Rect::new(0, 0, 1, 1));
        HalfBlock {
            image: &img,
            scale: Scale::Down(2),
            colors: ColorMode::TrueColor,
        }
        .render(buf.area, &mut buf);
        // The average of the four pixels; an odd last row leaves the background alone.
        assert_eq!(buf[(0, 0)].fg, Color::Rgb(127, 127, 127));
        assert_eq!(buf[(0, 0)].bg, Color::Reset);
    }

    #[test]
    fn fits_width_by_whole_numbers() {
        assert_eq!(fit(28, 100), Scale::Up(1));
        assert_eq!(fit(8, 100), Scale::Up(2));
        assert_eq!(fit(4, 100), Scale::Up(4));
        assert_eq!(fit(8, 10), Scale::Up(1));
        assert_eq!(fit(200, 100), Scale::Down(2));
        assert_eq!(fit(201, 100), Scale::Down(3));
        assert_eq!(size(28, 28, Scale::Up(1)), (28, 14));
        assert_eq!(size(5, 5, Scale::Up(2)), (10, 5));
    }

    #[test]
    fn tall_pictures_are_capped_in_height() {
        let tall = Picture {
            caption: String::new(),
            image: RgbImage::new(256, 256),
        };
        let (placed, _) = layout(std::slice::from_ref(&tall), 90);
        assert!(
            u32::from(placed[0].rows) <= MAX_ROWS,
            "{:?}",
            placed[0].rows
        );
        assert!(placed[0].rows >= MAX_ROWS as u16 - 2);
        // A wide notebook lets it be larger.
        let (placed, _) = layout(std::slice::from_ref(&tall), 118);
        assert!(u32::from(placed[0].rows) <= MAX_ROWS_WIDE);
        assert!(u32::from(placed[0].rows) > MAX_ROWS);
    }

    /// Issue 12, item 5: the 3x3 patch beside a photo is enlarged on its own, and a long
    /// caption wraps instead of being cut.
    #[test]
    fn a_small_picture_beside_a_photo_is_enlarged_and_captions_wrap() {
        let pics = vec![
            Picture {
                caption: "camera: the patch at row 70, column 97".into(),
                image: RgbImage::new(256, 256),
            },
            Picture {
                caption: "the 3x3 patch, enlarged".into(),
                image: RgbImage::new(3, 3),
            },
        ];
        let (placed, h) = layout(&pics, 118);
        assert!(placed[1].cols >= 9, "patch {:?}", placed[1]);
        assert!(placed[0].cols >= 40, "photo {:?}", placed[0]);
        let mut buf = Buffer::empty(Rect::new(0, 0, 118, h));
        Pictures {
            pictures: &pics,
            colors: ColorMode::TrueColor,
        }
        .render(buf.area, &mut buf);
        let text: String = buf.content().iter().map(|c| c.symbol()).collect();
        assert!(text.contains("column 97"), "the caption is whole");
        assert!(!text.contains('…'));
    }

    #[test]
    fn best_fit_fills_the_screen_by_whole_numbers() {
        assert_eq!(best_fit(28, 28, 100, 30), Scale::Up(2));
        assert_eq!(best_fit(256, 256, 100, 30), Scale::Down(5));
        assert_eq!(best_fit(3, 3, 100, 30), Scale::Up(20));
    }

    #[test]
    fn pictures_wrap_to_rows() {
        let pic = |c: &str| Picture {
            caption: c.into(),
            image: RgbImage::new(28, 28),
        };
        let pics = vec![pic("a"), pic("b"), pic("c")];
        let (placed, h) = layout(&pics, 70);
        assert_eq!((placed[0].x, placed[0].y), (0, 0));
        assert_eq!((placed[1].x, placed[1].y), (30, 0));
        assert_eq!((placed[2].x, placed[2].y), (0, 15));
        assert_eq!(h, 30);
    }
}
