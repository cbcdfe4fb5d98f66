//! Line and point plots (loss curves, the learning-rate finder) drawn as PNG images.
//!
//! The layout is fixed from top to bottom: title, legend, then the chart, so the legend can
//! never cover the data. Ticks are computed here rather than left to plotters, so that a log
//! axis gets whole decades ("1e-7" .. "1e1") and tick labels never collide, whatever the size.

use anyhow::{ensure, Result};
use image::RgbImage;
use std::ops::Range;

use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::canvas::Canvas;
use super::text::{fit_text, text_size};
use super::{drawing_error, ensure_fonts, white_canvas, FAMILY};
use crate::output::{Plot, Series, SeriesStyle};

/// Series colours, in order: matplotlib's "tab10", which learners will have seen before and
/// whose first two (blue, orange) are the usual train/validation pair.
pub(crate) const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];
const TEXT: RGBColor = RGBColor(30, 30, 30);
const FAINT_TEXT: RGBColor = RGBColor(120, 120, 120);
const GRID: RGBColor = RGBColor(222, 222, 222);
const MINOR_GRID: RGBColor = RGBColor(242, 242, 242);
const MARK: RGBColor = RGBColor(60, 60, 60);

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

/// A plotters axis with our own ticks: linear, or log10 when `log` (the values stay the real
/// ones, so the data is drawn as is and only the mapping to pixels changes).
///
/// plotters' `LogCoord` would do the mapping, but wrapping it to supply our own ticks loses
/// the default formatting its mesh insists on, so the mapping is done here.
struct Axis {
    range: (f64, f64),
    log: bool,
    ticks: Vec<f64>,
    light: Vec<f64>,
}

impl Ranged for Axis {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        let t = |v: f64| if self.log { v.log10() } else { v };
        let (a, b) = (t(self.range.0), t(self.range.1));
        let f = (t(*value) - a) / (b - a);
        let px = f64::from(limit.0) + f * f64::from(limit.1 - limit.0);
        // Far-off or non-finite values would wrap around in `as i32`; pin them off-canvas.
        if px.is_nan() {
            return -100_000;
        }
        px.round().clamp(-100_000.0, 100_000.0) as i32
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            self.light.clone()
        } else {
            self.ticks.clone()
        }
    }

    fn range(&self) -> Range<f64> {
        self.range.0..self.range.1
    }
}

/// Sizes and texts for the axes, worked out before the chart is built.
struct Axes {
    x_desc: String,
    y_desc: String,
    x_area: u32,
    y_area: u32,
    tick_fs: f64,
    desc_fs: f64,
    fs: f64,
}

/// Draws the title centred at the top and returns the area below it.
fn draw_title<DB: DrawingBackend>(
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

/// One series ready to draw: its colour and its points cut into runs of drawable points.
struct Drawn<'a> {
    series: &'a Series,
    color: RGBColor,
    runs: Vec<Vec<(f64, f64)>>,
}

/// The plot's data with everything undrawable removed, and the ranges of both axes.
struct Prepared<'a> {
    x: (f64, f64),
    y: (f64, f64),
    series: Vec<Drawn<'a>>,
    marks: Vec<(f64, &'a str)>,
}

impl<'a> Prepared<'a> {
    /// None when no point can be drawn.
    fn new(plot: &'a Plot) -> Option<Self> {
        let log = plot.x_log;
        let usable_x = |x: f64| x.is_finite() && (!log || x > 0.0);
        let x = match plot.x_range {
            Some((a, b)) if usable_x(a) && usable_x(b) && a < b => (a, b),
            _ => {
                let xs = plot
                    .series
                    .iter()
                    .flat_map(|s| s.points.iter())
                    .filter(|(x, y)| usable_x(*x) && y.is_finite())
                    .map(|p| p.0)
                    .chain(plot.marks.iter().map(|m| m.x).filter(|x| usable_x(*x)));
                widen(min_max(xs)?, log)
            }
        };
        let series: Vec<Drawn> = plot
            .series
            .iter()
            .enumerate()
            .map(|(i, s)| Drawn {
                series: s,
                color: PALETTE[i % PALETTE.len()],
                runs: match s.style {
                    SeriesStyle::Line => clip_runs(&s.points, x, log),
                    SeriesStyle::Points => vec![s
                        .points
                        .iter()
                        .copied()
                        .filter(|&(px, py)| {
                            usable_x(px) && py.is_finite() && px >= x.0 && px <= x.1
                        })
                        .collect()],
                },
            })
            .collect();
        let ys = series
            .iter()
            .flat_map(|d| d.runs.iter().flatten())
            .map(|p| p.1);
        let (y0, y1) = min_max(ys)?;
        // A little air above and below, so the extreme points do not sit on the frame (none
        // when values near f64::MAX would make the range itself infinite).
        let pad = if y1 > y0 {
            (y1 - y0) * 0.05
        } else {
            (y0.abs() * 0.1).max(1e-3)
        };
        let pad = if (y0 - pad).is_finite() && (y1 + pad).is_finite() {
            pad
        } else {
            0.0
        };
        let marks = plot
            .marks
            .iter()
            .filter(|m| usable_x(m.x) && m.x >= x.0 && m.x <= x.1)
            .map(|m| (m.x, m.label.as_str()))
            .collect();
        Some(Prepared {
            x,
            y: (y0 - pad, y1 + pad),
            series,
            marks,
        })
    }
}

fn min_max(values: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    values.fold(None, |acc, v| match acc {
        None => Some((v, v)),
        Some((lo, hi)) => Some((lo.min(v), hi.max(v))),
    })
}

/// Makes a one-value range into a real one: a decade either side on a log axis, a unit (or a
/// tenth of the value) either side on a linear one; all on one side near the ends of f64.
fn widen((lo, hi): (f64, f64), log: bool) -> (f64, f64) {
    if lo < hi {
        return (lo, hi);
    }
    let (below, above, d) = if log {
        (lo / 10.0, hi * 10.0, 0.0)
    } else {
        let d = (lo.abs() * 0.1).max(1.0);
        (lo - d, hi + d, d)
    };
    match (
        below.is_finite() && (below > 0.0 || !log),
        above.is_finite(),
    ) {
        (true, true) => (below, above),
        (true, false) => (if log { below / 10.0 } else { below - d }, hi),
        _ => (lo, if log { above * 10.0 } else { above + d }),
    }
}

/// Cuts a line into runs of finite points, clipped to the x range (interpolating where a
/// segment crosses its edge, in log space on a log axis), so a NaN leaves a gap and points
/// beyond a fixed `x_range` are not drawn outside the frame.
fn clip_runs(points: &[(f64, f64)], (lo, hi): (f64, f64), log: bool) -> Vec<Vec<(f64, f64)>> {
    let to_t = |x: f64| if log { x.log10() } else { x };
    let from_t = |t: f64| if log { 10f64.powf(t) } else { t };
    let (tlo, thi) = (to_t(lo), to_t(hi));
    let inside = |t: f64| t >= tlo && t <= thi;
    let mut runs: Vec<Vec<(f64, f64)>> = Vec::new();
    let mut current: Vec<(f64, f64)> = Vec::new();
    let mut prev: Option<(f64, f64)> = None;
    for &(x, y) in points {
        if !(x.is_finite() && y.is_finite() && (!log || x > 0.0)) {
            runs.push(std::mem::take(&mut current));
            prev = None;
            continue;
        }
        let p = (to_t(x), y);
        match prev {
            None if inside(p.0) => current.push(p),
            None => {}
            Some(a) => {
                if let Some((s, e)) = clip_segment(a, p, tlo, thi) {
                    if current.is_empty() {
                        current.push(s);
                    }
                    current.push(e);
                }
                if !inside(p.0) {
                    runs.push(std::mem::take(&mut current));
                }
            }
        }
        prev = Some(p);
    }
    runs.push(current);
    runs.retain(|r| !r.is_empty());
    for run in &mut runs {
        for p in run.iter_mut() {
            p.0 = from_t(p.0);
        }
    }
    runs
}

/// The part of segment a-b with lo <= x <= hi, if any.
fn clip_segment(
    a: (f64, f64),
    b: (f64, f64),
    lo: f64,
    hi: f64,
) -> Option<((f64, f64), (f64, f64))> {
    let (mut t0, mut t1) = (0.0f64, 1.0f64);
    let dx = b.0 - a.0;
    if dx == 0.0 {
        return (a.0 >= lo && a.0 <= hi).then_some((a, b));
    }
    for (edge, entering) in [(lo, dx > 0.0), (hi, dx < 0.0)] {
        let t = (edge - a.0) / dx;
        if entering {
            t0 = t0.max(t);
        } else {
            t1 = t1.min(t);
        }
    }
    if t0 > t1 {
        return None;
    }
    let at = |t: f64| (a.0 + dx * t, a.1 + (b.1 - a.1) * t);
    Some((at(t0), at(t1)))
}

/// Tick positions with their labels, plus unlabelled minor grid positions.
struct Ticks {
    values: Vec<f64>,
    labels: Vec<String>,
    light: Vec<f64>,
}

impl Ticks {
    fn label(&self, v: f64) -> String {
        self.values
            .iter()
            .position(|&t| t == v)
            .map(|i| self.labels[i].clone())
            .unwrap_or_default()
    }

    /// About `max_n` ticks at round numbers (1, 2 or 5 times a power of ten).
    fn linear((lo, hi): (f64, f64), max_n: usize) -> Ticks {
        let max_n = max_n.clamp(2, 12);
        let span = hi - lo;
        if !(span.is_finite() && span > 0.0) {
            return Ticks {
                values: vec![lo],
                labels: vec![format_linear(lo, 1.0)],
                light: vec![],
            };
        }
        let raw = span / max_n as f64;
        let mag = 10f64.powf(raw.log10().floor());
        let step = [1.0, 2.0, 5.0, 10.0]
            .iter()
            .map(|m| m * mag)
            .find(|s| span / s <= max_n as f64)
            .unwrap_or(10.0 * mag);
        let first = (lo / step).ceil();
        let last = (hi / step).floor();
        let values: Vec<f64> = (0..=((last - first).max(0.0) as usize))
            .map(|i| (first + i as f64) * step)
            .filter(|v| *v >= lo && *v <= hi)
            .collect();
        let labels = values.iter().map(|&v| format_linear(v, step)).collect();
        Ticks {
            values,
            labels,
            light: vec![],
        }
    }

    /// Linear ticks, as many as fit along `pixels` without their labels touching.
    fn fitting_linear(range: (f64, f64), pixels: u32, width_of: &dyn Fn(&str) -> u32) -> Ticks {
        let mut ticks = Ticks::linear(range, 2);
        for n in 2..=10 {
            let t = Ticks::linear(range, n);
            if fits(&t, pixels, width_of) {
                ticks = t;
            }
        }
        ticks
    }

    /// Whole decades, thinned out until their labels fit; 2..9 times each decade as minor
    /// grid lines. Ranges shorter than two decades fall back to 1-2-5 or linear ticks.
    fn log((lo, hi): (f64, f64), pixels: u32, width_of: &dyn Fn(&str) -> u32) -> Ticks {
        // The small tolerance keeps 1e-7 from being lost to 1e-7 being stored as 9.99..e-8.
        let dlo = (lo.log10() - 1e-9).ceil() as i32;
        let dhi = (hi.log10() + 1e-9).floor() as i32;
        let in_range = |v: f64| v >= lo * (1.0 - 1e-9) && v <= hi * (1.0 + 1e-9);
        let mut light = Vec::new();
        // Over many decades the 2..9 lines would merge into a grey wash; keep one per decade.
        let minor: &[i32] = if dhi - dlo > 12 {
            &[1]
        } else {
            &[1, 2, 3, 4, 5, 6, 7, 8, 9]
        };
        for d in (dlo - 1)..=dhi {
            for &m in minor {
                let v = f64::from(m) * 10f64.powi(d);
                if in_range(v) {
                    light.push(v);
                }
            }
        }
        if dhi - dlo >= 1 {
            let decades: Vec<i32> = (dlo..=dhi).collect();
            let mut best = None;
            for stride in 1..=decades.len() {
                let values: Vec<i32> = decades
                    .iter()
                    .copied()
                    .filter(|d| d.rem_euclid(stride as i32) == 0)
                    .collect();
                if values.len() < 2 && stride > 1 {
                    break;
                }
                let t = Ticks {
                    values: values.iter().map(|&d| 10f64.powi(d)).collect(),
                    labels: values.iter().map(|d| format!("1e{d}")).collect(),
                    light: light.clone(),
                };
                let ok = fits(&t, pixels, width_of);
                best = Some(t);
                if ok {
                    break;
                }
            }
            if let Some(t) = best {
                return t;
            }
        }
        for mantissas in [
            &[1.0, 2.0, 5.0][..],
            &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0],
        ] {
            let values: Vec<f64> = ((dlo - 1)..=dhi)
                .flat_map(|d| mantissas.iter().map(move |m| m * 10f64.powi(d)))
                .filter(|&v| in_range(v))
                .collect();
            if values.len() >= 2 {
                let t = Ticks {
                    labels: values.iter().map(|&v| format_sci(v)).collect(),
                    values,
                    light: light.clone(),
                };
                if fits(&t, pixels, width_of) {
                    return t;
                }
            }
        }
        // Less than a factor of two wide: plain round numbers read best.
        Ticks::fitting_linear((lo, hi), pixels, width_of)
    }
}

/// Whether the labels of `t` fit along `pixels` with a gap of half a label between them.
fn fits(t: &Ticks, pixels: u32, width_of: &dyn Fn(&str) -> u32) -> bool {
    let widest = t.labels.iter().map(|l| width_of(l)).max().unwrap_or(0);
    (t.values.len() as f64) * f64::from(widest) * 1.6 <= f64::from(pixels)
}

/// A tick label with just enough digits to tell ticks `step` apart.
fn format_linear(v: f64, step: f64) -> String {
    if v == 0.0 || v.abs() < step.abs() * 1e-9 {
        return "0".to_string();
    }
    let mag = v.abs().max(step.abs());
    if mag >= 1e5 || step.abs() < 1e-4 {
        // Capped: a step far below the value (f64::MAX with a step of 1) needs no 300 digits.
        let digits = (mag.log10().floor() - step.abs().log10().floor()).clamp(0.0, 6.0) as usize;
        return format!("{v:.digits$e}");
    }
    let decimals = (-step.abs().log10().floor()).clamp(0.0, 6.0) as usize;
    format!("{v:.decimals$}")
}

/// `v` as mantissa and exponent with at most two significant digits, like "3e-4".
fn format_sci(v: f64) -> String {
    let s = format!("{v:.1e}");
    // "3.0e-4" -> "3e-4": the trailing zero is noise on an axis.
    s.replace(".0e", "e")
}

fn draw_chart<DB: DrawingBackend>(
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
    for &(x, _) in &data.marks {
        chart
            .draw_series(DashedLineSeries::new(
                [(x, data.y.0), (x, data.y.1)],
                (axes.fs * 0.5) as i32,
                (axes.fs * 0.35) as i32,
                MARK.stroke_width(stroke),
            ))
            .map_err(drawing_error)?;
    }
    let (xr, yr) = chart.plotting_area().get_pixel_range();
    let label_fs = axes.tick_fs;
    let (ox, oy) = body.get_base_pixel();
    let gap = (label_fs * 0.4) as i32;
    let pad = (label_fs * 0.2) as i32;
    let mut placed: Vec<(i32, i32, i32)> = Vec::new(); // (left, right, level) of each label
    for &(x, label) in &data.marks {
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
        let style = TextStyle::from((FAMILY, label_fs).into_font()).color(&MARK);
        body.draw_text(&label, &style, (left - ox, top - oy))
            .map_err(drawing_error)?;
    }
    Ok(())
}

/// Draws the legend as rows of "swatch name" centred under the title, and returns the area
/// below it. Series without a name are left out; with none named there is no legend.
fn draw_legend<'a, DB: DrawingBackend>(
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Labels measured as 7 px per character, like a small font.
    fn width(s: &str) -> u32 {
        7 * s.chars().count() as u32
    }

    #[test]
    fn log_axis_ticks_are_whole_decades() {
        let t = Ticks::log((1e-7, 10.0), 800, &width);
        assert_eq!(
            t.labels,
            ["1e-7", "1e-6", "1e-5", "1e-4", "1e-3", "1e-2", "1e-1", "1e0", "1e1"]
        );
        // Minor lines at 2..9 times each decade, inside the range only.
        assert!(t.light.contains(&2e-7) && t.light.contains(&9.0));
        assert!(t
            .light
            .iter()
            .all(|&v| (1e-7 * 0.999..=10.0 * 1.001).contains(&v)));
    }

    #[test]
    fn log_axis_thins_decades_when_narrow() {
        let t = Ticks::log((1e-7, 10.0), 150, &width);
        assert!(t.labels.len() < 9 && t.labels.len() >= 2, "{:?}", t.labels);
        assert!(t.labels.iter().all(|l| l.starts_with("1e")));
    }

    #[test]
    fn short_log_ranges_fall_back_to_round_numbers() {
        let t = Ticks::log((2e-3, 9e-3), 800, &width);
        assert!(t.labels.len() >= 2, "{:?}", t.labels);
        assert_eq!(t.labels[0], "2e-3");
    }

    #[test]
    fn linear_ticks_are_round_and_labelled_tidily() {
        let t = Ticks::linear((1.0, 10.0), 10);
        assert_eq!(
            t.labels,
            ["1", "2", "3", "4", "5", "6", "7", "8", "9", "10"]
        );
        let t = Ticks::linear((0.03, 0.52), 5);
        assert_eq!(t.labels, ["0.1", "0.2", "0.3", "0.4", "0.5"]);
        assert_eq!(format_linear(3e-5, 1e-5), "3e-5");
        assert_eq!(format_linear(250_000.0, 50_000.0), "2.5e5");
        assert_eq!(format_linear(1e-17, 0.1), "0");
    }

    #[test]
    fn lines_break_at_gaps_and_clip_to_the_x_range() {
        let pts = [
            (0.0, 0.0),
            (2.0, 2.0),
            (f64::NAN, 1.0),
            (3.0, 3.0),
            (4.0, 4.0),
            (6.0, 6.0),
        ];
        let runs = clip_runs(&pts, (1.0, 5.0), false);
        assert_eq!(
            runs,
            vec![
                vec![(1.0, 1.0), (2.0, 2.0)],
                vec![(3.0, 3.0), (4.0, 4.0), (5.0, 5.0)]
            ]
        );
        // On a log axis, non-positive x is dropped and clipping happens in log space.
        let runs = clip_runs(&[(-1.0, 0.0), (1.0, 0.0), (100.0, 2.0)], (1.0, 10.0), true);
        assert_eq!(runs.len(), 1);
        let end = runs[0][1];
        assert!(
            (end.0 - 10.0).abs() < 1e-9 && (end.1 - 1.0).abs() < 1e-9,
            "{end:?}"
        );
    }

    #[test]
    fn single_values_widen_into_ranges() {
        assert_eq!(widen((3.0, 3.0), false), (2.0, 4.0));
        assert_eq!(widen((1e-3, 1e-3), true), (1e-4, 1e-2));
        let (lo, hi) = widen((f64::MAX, f64::MAX), false);
        assert!(lo.is_finite() && lo < hi);
    }
}
