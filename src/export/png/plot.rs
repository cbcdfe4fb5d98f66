//! Line and point plots (loss curves, the learning-rate finder) drawn as PNG images.
//!
//! The layout is fixed from top to bottom: title, legend, then the chart, so the legend can
//! never cover the data. Ticks are computed here rather than left to plotters, so that a log
//! axis gets whole decades ("1e-7" .. "1e1") and tick labels never collide, whatever the size.
//!
//! [`plot_png`] lays the image out; `legend` draws the title and legend bands, `axis` works
//! out the ticks, `data` makes the series drawable and `chart` draws them, with `style`
//! holding the colours. The submodules import only downwards: `chart` and `legend` use
//! `axis`, `data` and `style`; `data` uses `style`.

mod axis;
mod legend;
mod mesh;
mod palette;
mod prepare;

use anyhow::{ensure, Result};
use image::RgbImage;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::canvas::Canvas;
use super::text::{fit_text, text_size};
use super::{drawing_error, ensure_fonts, white_canvas, FAMILY};
use crate::output::Plot;
use axis::{Axes, Axis, Ticks};
use legend::{draw_legend, draw_title};
use mesh::draw_chart;
use palette::FAINT_TEXT;
use prepare::Prepared;

/// Draws `plot` on a `width` x `height` white image.
///
/// Non-finite values are skipped (a line breaks around them), as are x <= 0 on a log axis.
/// A plot with nothing left to draw becomes an image that says "no data".
pub fn plot_png(plot: &Plot, width: u32, height: u32) -> Result<RgbImage> {
    ensure!(
        width >= 160 && height >= 120,
        "a {width}x{height} plot is too small to read; use at least 160x120"
    );
    ensure_fonts()?;
    let mut img = white_canvas(width, height)?;
    {
        let buf: &mut [u8] = &mut img;
        let root = Canvas::area(buf, (width, height))?;
        draw(&root, plot)?;
        root.present().map_err(drawing_error)?;
    }
    Ok(img)
}

/// The base font size for an image: readable at 640x400, not shouting at 1600x1000.
fn font_size(width: u32, height: u32) -> f64 {
    (f64::from(width.min(height)) / 30.0).clamp(10.0, 26.0)
}

fn draw<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, plot: &Plot) -> Result<()> {
    let (width, height) = root.dim_in_pixel();
    let fs = font_size(width, height);
    let margin = (fs * 0.8) as u32;

    let body = draw_title(root, &plot.title, fs, margin)?;
    let Some(data) = Prepared::new(plot) else {
        let (w, h) = body.dim_in_pixel();
        let style = TextStyle::from((FAMILY, fs * 1.5).into_font())
            .color(&FAINT_TEXT)
            .pos(Pos::new(HPos::Center, VPos::Center));
        body.draw_text("no data", &style, (w as i32 / 2, h as i32 / 2))
            .map_err(drawing_error)?;
        return Ok(());
    };
    let body = draw_legend(&body, &data.series, fs, margin)?;
    let body = body.margin(0, margin, margin, margin * 2);

    let (bw, bh) = body.dim_in_pixel();
    // Tick numbers below 10 px turn to mush, even on a small plot.
    let tick_fs = (fs * 0.85).max(10.0);
    let desc_fs = fs;
    // The x label band has a fixed height, which fixes the plot's height and so how many y
    // ticks fit; their widest label then fixes the y band, and the plot's width what x
    // ticks fit.
    let x_area = (tick_fs * 1.6
        + if plot.x_label.is_empty() {
            0.0
        } else {
            desc_fs * 1.8
        }) as u32;
    let plot_h = bh.saturating_sub(x_area).max(20);
    let y_ticks = Ticks::linear(data.y, (f64::from(plot_h) / (tick_fs * 2.6)) as usize);
    let y_label_w = y_ticks
        .labels
        .iter()
        .map(|l| text_size(&body, l, tick_fs).0)
        .max()
        .unwrap_or(0);
    let y_area = y_label_w
        + (tick_fs * 0.9) as u32
        + if plot.y_label.is_empty() {
            0
        } else {
            (desc_fs * 1.8) as u32
        };
    let plot_w = bw.saturating_sub(y_area).max(20);
    let x_ticks = if plot.x_log {
        Ticks::log(data.x, plot_w, &|s| text_size(&body, s, tick_fs).0)
    } else {
        Ticks::fitting_linear(data.x, plot_w, &|s| text_size(&body, s, tick_fs).0)
    };

    let (x_desc, _) = fit_text(&body, &plot.x_label, desc_fs, desc_fs * 0.8, plot_w);
    let (y_desc, _) = fit_text(&body, &plot.y_label, desc_fs, desc_fs * 0.8, plot_h);
    let axes = Axes {
        x_desc,
        y_desc,
        x_area,
        y_area,
        tick_fs,
        desc_fs,
        fs,
    };
    let x_axis = Axis {
        range: data.x,
        log: plot.x_log,
        ticks: x_ticks.values.clone(),
        light: x_ticks.light.clone(),
    };
    let y_axis = Axis {
        range: data.y,
        log: false,
        ticks: y_ticks.values.clone(),
        light: y_ticks.light.clone(),
    };
    draw_chart(&body, x_axis, y_axis, &x_ticks, &y_ticks, &axes, &data)
}
