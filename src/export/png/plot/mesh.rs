//! The chart itself, once the axes are sized: the mesh with our ticks, every series as lines
//! or dots, and the dashed marks with labels stacked so no two overlap.

use anyhow::Result;
use plotters::coord::Shift;
use plotters::prelude::*;

use super::axis::{Axes, Axis, Ticks};
use super::palette::{FAINT_TEXT, GRID, MARKS, MINOR_GRID, TEXT};
use super::prepare::Prepared;
use crate::export::png::text::{fit_text, text_size};
use crate::export::png::{drawing_error, FAMILY};
use crate::output::SeriesStyle;

pub(super) fn draw_chart<DB: DrawingBackend>(
    body: &DrawingArea<DB, Shift>,
    x_spec: Axis,
    y_spec: Axis,
    x_ticks: &Ticks,
    y_ticks: &Ticks,
    axes: &Axes,
    data: &Prepared,
) -> Result<()> {
    let mut chart = ChartBuilder::on(body)
        .x_label_area_size(axes.x_area)
        .y_label_area_size(axes.y_area)
        .build_cartesian_2d(x_spec, y_spec)
        .map_err(drawing_error)?;
    let x_fmt = |v: &f64| x_ticks.label(*v);
    let y_fmt = |v: &f64| y_ticks.label(*v);
    chart
        .configure_mesh()
        .bold_line_style(GRID.stroke_width(1))
        .light_line_style(MINOR_GRID.stroke_width(1))
        .axis_style(FAINT_TEXT.stroke_width(1))
        .x_label_formatter(&x_fmt)
        .y_label_formatter(&y_fmt)
        .x_desc(axes.x_desc.as_str())
        .y_desc(axes.y_desc.as_str())
        .label_style((FAMILY, axes.tick_fs).into_font().color(&TEXT))
        .axis_desc_style((FAMILY, axes.desc_fs).into_font().color(&TEXT))
        .draw()
        .map_err(drawing_error)?;

    let stroke = ((axes.fs / 7.0).round() as u32).max(1);
    let dot = (axes.fs / 4.5).max(2.0) as i32;
    for d in &data.series {
        for run in &d.runs {
            let lone = run.len() == 1;
            match d.series.style {
                SeriesStyle::Line if !lone => {
                    chart
                        .draw_series(LineSeries::new(
                            run.iter().copied(),
                            d.color.stroke_width(stroke),
                        ))
                        .map_err(drawing_error)?;
                }
                // A line of one point would be invisible; show it as a dot.
                _ => {
                    chart
                        .draw_series(run.iter().map(|&p| Circle::new(p, dot, d.color.filled())))
                        .map_err(drawing_error)?;
                }
            }
        }
    }

    // Marks: a dashed vertical line over the full height, its label at the top beside it.
    // Every line goes down before any label, so no line runs through another mark's label.
    for (i, &(x, _)) in data.marks.iter().enumerate() {
        let color = MARKS[i % MARKS.len()];
        chart
            .draw_series(DashedLineSeries::new(
                [(x, data.y.0), (x, data.y.1)],
                (axes.fs * 0.5) as i32,
                (axes.fs * 0.35) as i32,
                color.stroke_width(stroke),
            ))
            .map_err(drawing_error)?;
    }
    let (xr, yr) = chart.plotting_area().get_pixel_range();
    let label_fs = axes.tick_fs;
    let (ox, oy) = body.get_base_pixel();
    let gap = (label_fs * 0.4) as i32;
    let pad = (label_fs * 0.2) as i32;
    let mut placed: Vec<(i32, i32, i32)> = Vec::new(); // (left, right, level) of each label
    for (i, &(x, label)) in data.marks.iter().enumerate() {
        let color = MARKS[i % MARKS.len()];
        let plot_w = (xr.end - xr.start - 2 * gap).max(1) as u32;
        let (label, _) = fit_text(body, label, label_fs, label_fs, plot_w);
        if label.is_empty() {
            continue;
        }
        let (px, _) = chart.backend_coord(&(x, data.y.1));
        let (tw, th) = text_size(body, &label, label_fs);
        let tw = tw as i32;
        // Right of the line unless that runs off the frame.
        let left = if px + gap + tw <= xr.end - 2 {
            px + gap
        } else {
            (px - gap - tw).max(xr.start + 2)
        };
        let right = left + tw;
        // The first row down from the top where it overlaps no label already placed.
        let level = (0..)
            .find(|&level| {
                !placed
                    .iter()
                    .any(|&(l, r, lv)| lv == level && l < right + 2 * pad && left < r + 2 * pad)
            })
            .unwrap_or(0);
        placed.push((left, right, level));
        let top = yr.start + gap + level * (f64::from(th) * 1.5) as i32;
        // A veil behind the text keeps it readable where it crosses grid lines or data.
        body.draw(&Rectangle::new(
            [
                (left - pad - ox, top - pad - oy),
                (right + pad - ox, top + th as i32 + pad - oy),
            ],
            WHITE.mix(0.85).filled(),
        ))
        .map_err(drawing_error)?;
        let style = TextStyle::from((FAMILY, label_fs).into_font()).color(&color);
        body.draw_text(&label, &style, (left - ox, top - oy))
            .map_err(drawing_error)?;
    }
    Ok(())
}
