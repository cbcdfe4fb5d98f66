//! Labelled matrices (confusion matrices, mostly) drawn as heat maps with the numbers in them.
//!
//! Rows run down the left with their axis name beside them, columns along the bottom with
//! theirs below, as in scikit-learn's confusion-matrix plot, which learners may meet next.

use anyhow::{ensure, Result};
use image::RgbImage;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

use super::canvas::Canvas;
use super::text::{draw_text, fit_text, text_size};
use super::{drawing_error, ensure_fonts, white_canvas};
use crate::output::Matrix;

const TEXT: RGBColor = RGBColor(30, 30, 30);
const MISSING: RGBColor = RGBColor(235, 235, 235);

/// Draws `m` as a heat map with square cells of `cell_px` pixels, darker for larger values,
/// each cell showing its number. Missing (ragged) and non-finite cells are left grey.
/// A matrix without cells becomes an image saying "no data".
pub fn matrix_png(m: &Matrix, cell_px: u32) -> Result<RgbImage> {
    ensure!(
        (8..=1000).contains(&cell_px),
        "matrix cells of {cell_px} px cannot be drawn; use 8 to 1000"
    );
    ensure_fonts()?;
    let rows = m.values.len().max(m.row_labels.len());
    let cols = m
        .values
        .iter()
        .map(Vec::len)
        .chain([m.col_labels.len()])
        .max()
        .unwrap_or(0);
    ensure!(
        rows <= 1000 && cols <= 1000,
        "a {rows}x{cols} matrix is too large to draw"
    );

    let cell = cell_px as i32;
    let fs = (f64::from(cell_px) * 0.3).clamp(11.0, 18.0);
    let label_fs = fs.min(f64::from(cell_px) * 0.8);
    let margin = (fs * 1.2) as i32;
    let pad = (fs * 0.5) as i32;

    // Measuring needs a drawing area before the image exists; any area will do.
    let mut scratch = [255u8; 3];
    let probe = Canvas::area(&mut scratch, (1, 1))?;
    let label = |labels: &[String], i: usize| -> String {
        labels.get(i).cloned().unwrap_or_else(|| i.to_string())
    };
    let row_names: Vec<String> = (0..rows).map(|i| label(&m.row_labels, i)).collect();
    let col_names: Vec<String> = (0..cols).map(|i| label(&m.col_labels, i)).collect();
    let row_label_w = row_names
        .iter()
        .map(|s| text_size(&probe, s, label_fs).0)
        .max()
        .unwrap_or(0) as i32;
    let col_label_w = col_names
        .iter()
        .map(|s| text_size(&probe, s, label_fs).0)
        .max()
        .unwrap_or(0) as i32;
    // Column labels wider than a cell would run into each other: stand them on end.
    let rotate_cols = col_label_w > cell - 4;
    let col_label_h = if rotate_cols {
        col_label_w
    } else {
        (label_fs * 1.2) as i32
    };
    let axis_h = (fs * 1.6) as i32;
    let title_fs = fs * 1.25;
    let title_h = if m.title.trim().is_empty() {
        0
    } else {
        (title_fs * 1.6) as i32
    };

    let grid_x = margin + if m.row_axis.is_empty() { 0 } else { axis_h } + row_label_w + pad;
    let grid_y = margin + title_h;
    let grid_w = cell * cols as i32;
    let grid_h = cell * rows as i32;
    let title_w = text_size(&probe, &m.title, title_fs).0 as i32;
    let col_axis_w = text_size(&probe, &m.col_axis, fs).0 as i32;
    let width = (grid_x + grid_w + margin)
        .max(title_w + 2 * margin)
        .max(grid_x + col_axis_w + margin)
        .max(200);
    let height = grid_y
        + grid_h
        + pad
        + col_label_h
        + if m.col_axis.is_empty() {
            0
        } else {
            pad + axis_h
        }
        + margin;
    drop(probe);

    let mut img = white_canvas(width as u32, height.max(100) as u32)?;
    {
        let (w, h) = img.dimensions();
        let buf: &mut [u8] = &mut img;
        let root = Canvas::area(buf, (w, h))?;
        // The title is centred over the grid when it fits there, else over the image.
        let title_cx = if title_w <= grid_w + 2 * margin {
            grid_x + grid_w / 2
        } else {
            width / 2
        };
        if title_h > 0 {
            let (title, size) = fit_text(&root, &m.title, title_fs, fs, w - 2 * margin as u32);
            draw_text(
                &root,
                &title,
                size,
                TEXT,
                (title_cx, margin),
                HPos::Center,
                VPos::Top,
                false,
            )?;
        }
        if rows == 0 || cols == 0 {
            draw_text(
                &root,
                "no data",
                fs * 1.4,
                RGBColor(120, 120, 120),
                (width / 2, (grid_y + height) / 2),
                HPos::Center,
                VPos::Center,
                false,
            )?;
        } else {
            draw_cells(&root, m, rows, cols, (grid_x, grid_y), cell)?;
        }
        for (i, name) in row_names.iter().enumerate() {
            let cy = grid_y + cell * i as i32 + cell / 2;
            draw_text(
                &root,
                name,
                label_fs,
                TEXT,
                (grid_x - pad, cy),
                HPos::Right,
                VPos::Center,
                false,
            )?;
        }
        for (j, name) in col_names.iter().enumerate() {
            let cx = grid_x + cell * j as i32 + cell / 2;
            let top = grid_y + grid_h + pad;
            if rotate_cols {
                // Read bottom to top, ending just under the grid.
                draw_text(
                    &root,
                    name,
                    label_fs,
                    TEXT,
                    (cx, top),
                    HPos::Right,
                    VPos::Center,
                    true,
                )?;
            } else {
                draw_text(
                    &root,
                    name,
                    label_fs,
                    TEXT,
                    (cx, top),
                    HPos::Center,
                    VPos::Top,
                    false,
                )?;
            }
        }
        if !m.row_axis.is_empty() {
            let (text, size) = fit_text(&root, &m.row_axis, fs, fs * 0.8, grid_h.max(cell) as u32);
            let x = margin + axis_h / 2;
            draw_text(
                &root,
                &text,
                size,
                TEXT,
                (x, grid_y + grid_h / 2),
                HPos::Center,
                VPos::Center,
                true,
            )?;
        }
        if !m.col_axis.is_empty() {
            let y = grid_y + grid_h + pad + col_label_h + pad;
            let cx = grid_x + grid_w / 2;
            // Centred under the grid, unless that would push it off the right edge.
            let cx = cx.min(width - margin - col_axis_w / 2);
            draw_text(
                &root,
                &m.col_axis,
                fs,
                TEXT,
                (cx, y),
                HPos::Center,
                VPos::Top,
                false,
            )?;
        }
        root.present().map_err(drawing_error)?;
    }
    Ok(img)
}

/// Fills the cells and writes each value in a colour that stands out from its fill.
fn draw_cells<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    m: &Matrix,
    rows: usize,
    cols: usize,
    (x0, y0): (i32, i32),
    cell: i32,
) -> Result<()> {
    let finite = || m.values.iter().flatten().copied().filter(|v| v.is_finite());
    let lo = finite().fold(0.0f64, f64::min);
    let hi = finite().fold(f64::NEG_INFINITY, f64::max);
    let digits = decimals(finite());
    let texts: Vec<Vec<Option<String>>> = (0..rows)
        .map(|i| {
            (0..cols)
                .map(|j| value_at(m, i, j).map(|v| format!("{v:.digits$}")))
                .collect()
        })
        .collect();
    // One font size for every number, the largest at which the widest one fits its cell.
    let widest = texts
        .iter()
        .flatten()
        .flatten()
        .max_by_key(|s| s.chars().count())
        .cloned()
        .unwrap_or_default();
    let (_, num_fs) = fit_text(
        root,
        &widest,
        (f64::from(cell) * 0.36).max(6.0),
        6.0,
        (cell - 6).max(1) as u32,
    );
    // A number that does not fit even at the smallest size is left out, not spilled.
    let show_numbers = text_size(root, &widest, num_fs).0 as i32 <= cell - 2;
    for (i, row) in texts.iter().enumerate() {
        for (j, text) in row.iter().enumerate() {
            let (x, y) = (x0 + cell * j as i32, y0 + cell * i as i32);
            let fill = match value_at(m, i, j) {
                Some(v) => {
                    let t = if hi > lo { (v - lo) / (hi - lo) } else { 0.0 };
                    heat_color(t)
                }
                None => MISSING,
            };
            // One pixel of white between cells keeps neighbours of equal colour apart.
            root.draw(&Rectangle::new(
                [(x, y), (x + cell - 2, y + cell - 2)],
                fill.filled(),
            ))
            .map_err(drawing_error)?;
            if let (true, Some(text)) = (show_numbers, text) {
                let ink = if luminance(fill) < 0.45 { WHITE } else { TEXT };
                draw_text(
                    root,
                    text,
                    num_fs,
                    ink,
                    (x + cell / 2 - 1, y + cell / 2 - 1),
                    HPos::Center,
                    VPos::Center,
                    false,
                )?;
            }
        }
    }
    Ok(())
}

fn value_at(m: &Matrix, i: usize, j: usize) -> Option<f64> {
    m.values
        .get(i)
        .and_then(|r| r.get(j))
        .copied()
        .filter(|v| v.is_finite())
}

/// How many decimals every number in the matrix gets: none for counts, else fewer the larger
/// the largest value, so the numbers keep to a similar width.
fn decimals(all: impl Iterator<Item = f64>) -> usize {
    let mut integral = true;
    let mut max = 0.0f64;
    for x in all {
        integral &= x.fract() == 0.0 && x.abs() < 1e15;
        max = max.max(x.abs());
    }
    if integral || max >= 100.0 {
        0
    } else if max >= 10.0 {
        1
    } else {
        2
    }
}

/// A white-to-dark-blue ramp (matplotlib's "Blues" at three stops): darker means more, and
/// it prints and reads the same for colour-blind learners.
fn heat_color(t: f64) -> RGBColor {
    const STOPS: [(f64, [f64; 3]); 3] = [
        (0.0, [247.0, 251.0, 255.0]),
        (0.5, [107.0, 174.0, 214.0]),
        (1.0, [8.0, 48.0, 107.0]),
    ];
    let t = if t.is_finite() {
        t.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let (a, b) = if t <= 0.5 {
        (STOPS[0], STOPS[1])
    } else {
        (STOPS[1], STOPS[2])
    };
    let f = (t - a.0) / (b.0 - a.0);
    let c = |k: usize| (a.1[k] + (b.1[k] - a.1[k]) * f).round() as u8;
    RGBColor(c(0), c(1), c(2))
}

/// Relative luminance in 0..=1, to pick black or white text over a fill.
fn luminance(c: RGBColor) -> f64 {
    (0.2126 * f64::from(c.0) + 0.7152 * f64::from(c.1) + 0.0722 * f64::from(c.2)) / 255.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heat_ramp_gets_darker_as_values_grow() {
        let lum: Vec<f64> = (0..=10)
            .map(|i| luminance(heat_color(f64::from(i) / 10.0)))
            .collect();
        assert!(lum.windows(2).all(|w| w[1] < w[0]), "{lum:?}");
    }

    #[test]
    fn counts_print_as_integers_and_fractions_with_digits() {
        assert_eq!(decimals([7.0, 120.0].into_iter()), 0);
        assert_eq!(decimals([0.5, 0.25].into_iter()), 2);
        assert_eq!(decimals([0.5, 12.25].into_iter()), 1);
    }
}
