//! The bands above the chart: the title, centred and shrunk to fit, and the legend, packed
//! into centred rows of "swatch name", so neither can ever cover the data.

use anyhow::Result;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::palette::TEXT;
use super::prepare::Drawn;
use crate::export::png::text::{fit_text, text_size};
use crate::export::png::{drawing_error, FAMILY};
use crate::output::SeriesStyle;

/// Draws the title centred at the top and returns the area below it.
pub(super) fn draw_title<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    fs: f64,
    margin: u32,
) -> Result<DrawingArea<DB, Shift>> {
    if title.trim().is_empty() {
        return Ok(root.margin(margin, 0, 0, 0));
    }
    let (width, _) = root.dim_in_pixel();
    let (text, size) = fit_text(root, title, fs * 1.3, fs, width.saturating_sub(2 * margin));
    let style = TextStyle::from((FAMILY, size).into_font())
        .color(&TEXT)
        .pos(Pos::new(HPos::Center, VPos::Top));
    root.draw_text(&text, &style, (width as i32 / 2, margin as i32))
        .map_err(drawing_error)?;
    let used = margin + (size * 1.5) as u32;
    Ok(root.split_vertically(used).1)
}

/// Draws the legend as rows of "swatch name" centred under the title, and returns the area
/// below it. Series without a name are left out; with none named there is no legend.
pub(super) fn draw_legend<'a, DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    series: &[Drawn<'a>],
    fs: f64,
    margin: u32,
) -> Result<DrawingArea<DB, Shift>> {
    let named: Vec<&Drawn> = series
        .iter()
        .filter(|d| !d.series.name.trim().is_empty())
        .collect();
    if named.is_empty() {
        return Ok(area.clone());
    }
    let (width, _) = area.dim_in_pixel();
    let lfs = fs * 0.9;
    let swatch = (lfs * 1.8) as i32;
    let inner_gap = (lfs * 0.4) as i32;
    let item_gap = (lfs * 1.5) as i32;
    let max_row = width.saturating_sub(2 * margin) as i32;
    // Pack items into rows of at most the image's width.
    let mut rows: Vec<Vec<(&Drawn, String, i32)>> = vec![Vec::new()];
    let mut row_w = 0;
    for d in named {
        let (name, _) = fit_text(
            area,
            &d.series.name,
            lfs,
            lfs,
            (max_row - swatch - inner_gap).max(1) as u32,
        );
        let w = swatch + inner_gap + text_size(area, &name, lfs).0 as i32;
        let needed = if row_w == 0 { w } else { row_w + item_gap + w };
        let last = rows.len() - 1;
        if needed > max_row && !rows[last].is_empty() {
            rows.push(Vec::new());
            row_w = w;
        } else {
            row_w = needed;
        }
        let last = rows.len() - 1;
        rows[last].push((d, name, w));
    }
    let row_h = (lfs * 1.6) as i32;
    let stroke = ((fs / 7.0).round() as u32).max(1);
    for (r, row) in rows.iter().enumerate() {
        let total: i32 =
            row.iter().map(|item| item.2).sum::<i32>() + item_gap * (row.len() as i32 - 1);
        let mut x = (width as i32 - total) / 2;
        let cy = r as i32 * row_h + row_h / 2;
        for (d, name, w) in row {
            match d.series.style {
                SeriesStyle::Line => area
                    .draw(&PathElement::new(
                        vec![(x, cy), (x + swatch, cy)],
                        d.color.stroke_width(stroke + 1),
                    ))
                    .map_err(drawing_error)?,
                SeriesStyle::Points => area
                    .draw(&Circle::new(
                        (x + swatch / 2, cy),
                        (lfs / 3.5) as i32,
                        d.color.filled(),
                    ))
                    .map_err(drawing_error)?,
            }
            let style = TextStyle::from((FAMILY, lfs).into_font())
                .color(&TEXT)
                .pos(Pos::new(HPos::Left, VPos::Center));
            area.draw_text(name, &style, (x + swatch + inner_gap, cy))
                .map_err(drawing_error)?;
            x += w + item_gap;
        }
    }
    let used = rows.len() as i32 * row_h + (fs * 0.5) as i32;
    Ok(area.split_vertically(used).1)
}
