//! Pictures (digits, photos, feature maps) laid out side by side with captions, as one image.
//!
//! Small images are blown up by a whole factor with nearest-neighbour sampling, so a 28x28
//! digit shows crisp square pixels, which is what the network saw, rather than a blur.

use anyhow::{ensure, Result};
use image::imageops::{self, FilterType};
use image::RgbImage;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

use super::canvas::Canvas;
use super::text::{draw_text, text_size, wrap_text};
use super::{drawing_error, ensure_fonts, white_canvas, MAX_PIXELS};
use crate::output::Picture;

const TEXT: RGBColor = RGBColor(30, 30, 30);
const BORDER: image::Rgb<u8> = image::Rgb([200, 200, 200]);
/// Rows wrap before this width, so a long strip of digits stays viewable.
const MAX_ROW_WIDTH: u32 = 1280;
/// The largest whole-factor upscale, so a 1x1 image does not become a wall.
const MAX_FACTOR: u32 = 32;

/// Lays the pictures out in rows on white, each with its caption centred under it.
///
/// An image whose longer side is under `scale_to` pixels is enlarged by the largest whole
/// factor that keeps it within `scale_to`; larger images keep their size. Captions wrap to at
/// most three lines. No pictures gives a small image saying "no pictures".
pub fn pictures_png(pics: &[Picture], scale_to: u32) -> Result<RgbImage> {
    ensure_fonts()?;
    let fs = (f64::from(scale_to) / 9.0).clamp(12.0, 16.0);
    let margin = (fs * 1.2) as u32;
    let gap = (fs * 1.5) as u32;
    let line_h = (fs * 1.3) as u32;
    let caption_gap = (fs * 0.5) as u32;

    let mut scratch = [255u8; 3];
    let probe = Canvas::area(&mut scratch, (1, 1))?;

    if pics.is_empty() {
        let w = text_size(&probe, "no pictures", fs).0 + 2 * margin;
        drop(probe);
        let mut img = white_canvas(w, line_h + 2 * margin)?;
        let (iw, ih) = img.dimensions();
        let buf: &mut [u8] = &mut img;
        let root = Canvas::area(buf, (iw, ih))?;
        let mid = ((iw / 2) as i32, (ih / 2) as i32);
        draw_text(
            &root,
            "no pictures",
            fs,
            RGBColor(120, 120, 120),
            mid,
            HPos::Center,
            VPos::Center,
            false,
        )?;
        root.present().map_err(drawing_error)?;
        drop(root);
        return Ok(img);
    }

    // Each tile: the enlarged image and its caption wrapped to the tile's width.
    struct Tile {
        image: RgbImage,
        width: u32,
        caption: Vec<String>,
    }
    let factor = |img: &RgbImage| {
        let longest = img.width().max(img.height()).max(1);
        if longest < scale_to {
            (scale_to / longest).clamp(1, MAX_FACTOR)
        } else {
            1
        }
    };
    // Check the total before enlarging anything: the sheet holds every enlarged image.
    let area: u64 = pics
        .iter()
        .map(|p| {
            u64::from(p.image.width() * factor(&p.image))
                * u64::from(p.image.height() * factor(&p.image))
        })
        .sum();
    ensure!(
        area <= MAX_PIXELS,
        "{} pictures enlarged to {scale_to} px are too large to draw on one sheet",
        pics.len()
    );
    let tiles: Vec<Tile> = pics
        .iter()
        .map(|p| {
            let (w, h) = p.image.dimensions();
            let factor = factor(&p.image);
            let image = if factor > 1 {
                imageops::resize(&p.image, w * factor, h * factor, FilterType::Nearest)
            } else {
                p.image.clone()
            };
            // A caption may be a little wider than a small image, but not without limit.
            let room = image.width().max((fs * 11.0) as u32);
            let caption = wrap_text(&probe, &p.caption, fs, room, 3);
            let text_w = caption
                .iter()
                .map(|l| text_size(&probe, l, fs).0)
                .max()
                .unwrap_or(0);
            let width = image.width().max(text_w).max(1);
            Tile {
                image,
                width,
                caption,
            }
        })
        .collect();
    drop(probe);

    // Greedy rows: as many tiles as fit in MAX_ROW_WIDTH (always at least one).
    let mut rows: Vec<Vec<&Tile>> = vec![Vec::new()];
    let mut row_w = 0;
    for t in &tiles {
        let last = rows.len() - 1;
        if !rows[last].is_empty() && row_w + gap + t.width > MAX_ROW_WIDTH {
            rows.push(Vec::new());
            row_w = 0;
        }
        row_w += if row_w == 0 { t.width } else { gap + t.width };
        let last = rows.len() - 1;
        rows[last].push(t);
    }
    let row_width = |row: &[&Tile]| -> u32 {
        row.iter().map(|t| t.width).sum::<u32>() + gap * (row.len() as u32).saturating_sub(1)
    };
    let row_height = |row: &[&Tile]| -> u32 {
        let img_h = row.iter().map(|t| t.image.height()).max().unwrap_or(0);
        let lines = row.iter().map(|t| t.caption.len()).max().unwrap_or(0) as u32;
        img_h
            + if lines > 0 {
                caption_gap + lines * line_h
            } else {
                0
            }
    };
    let width = rows.iter().map(|r| row_width(r)).max().unwrap_or(0) + 2 * margin;
    let height = rows.iter().map(|r| row_height(r)).sum::<u32>()
        + gap * (rows.len() as u32).saturating_sub(1)
        + 2 * margin;

    let mut canvas = white_canvas(width, height)?;
    // Images first, straight into the pixels; captions after, through plotters.
    let mut captions: Vec<(i32, i32, &str)> = Vec::new();
    let mut y = margin;
    for row in &rows {
        let img_h = row.iter().map(|t| t.image.height()).max().unwrap_or(0);
        // Rows are centred, so a short last row does not hang to the left.
        let mut x = margin + (width - 2 * margin - row_width(row)) / 2;
        for t in row {
            let ix = x + (t.width - t.image.width()) / 2;
            let iy = y + (img_h - t.image.height()) / 2;
            frame(&mut canvas, ix, iy, t.image.width(), t.image.height());
            imageops::replace(&mut canvas, &t.image, i64::from(ix), i64::from(iy));
            let cx = (x + t.width / 2) as i32;
            for (k, line) in t.caption.iter().enumerate() {
                let ly = y + img_h + caption_gap + k as u32 * line_h;
                captions.push((cx, ly as i32, line.as_str()));
            }
            x += t.width + gap;
        }
        y += row_height(row) + gap;
    }
    {
        let buf: &mut [u8] = &mut canvas;
        let root = Canvas::area(buf, (width, height))?;
        for (cx, ly, line) in captions {
            draw_text(
                &root,
                line,
                fs,
                TEXT,
                (cx, ly),
                HPos::Center,
                VPos::Top,
                false,
            )?;
        }
        root.present().map_err(drawing_error)?;
    }
    Ok(canvas)
}

/// A one-pixel grey frame just outside an image, so a white-background picture still shows
/// its edges on the white page.
fn frame(canvas: &mut RgbImage, x: u32, y: u32, w: u32, h: u32) {
    let (cw, ch) = canvas.dimensions();
    let (x0, y0) = (i64::from(x) - 1, i64::from(y) - 1);
    let (x1, y1) = (i64::from(x + w), i64::from(y + h));
    let mut put = |px: i64, py: i64| {
        if px >= 0 && py >= 0 && px < i64::from(cw) && py < i64::from(ch) {
            canvas.put_pixel(px as u32, py as u32, BORDER);
        }
    };
    for px in x0..=x1 {
        put(px, y0);
        put(px, y1);
    }
    for py in y0..=y1 {
        put(x0, py);
        put(x1, py);
    }
}
