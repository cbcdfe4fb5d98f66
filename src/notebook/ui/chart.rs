//! Plots as ratatui charts: Braille lines and points, a legend, and a log x axis drawn as
//! log10(x) with labels on whole decades (the chart spreads labels evenly, so the bounds are
//! chosen to put every label exactly on a decade). A mark is a vertical two-point line plus a
//! labelled point at its top.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Color, Style};
use ratatui::symbols::Marker;
use ratatui::text::Line;
use ratatui::widgets::{Axis, Chart, Dataset, GraphType, LegendPosition, Widget};

use crate::output::{Plot, SeriesStyle};

/// Series colours, in order.
pub const PALETTE: [Color; 6] = [
    Color::Cyan,
    Color::Yellow,
    Color::Magenta,
    Color::Green,
    Color::LightRed,
    Color::LightBlue,
];
/// Marks, one colour each (three learning-rate suggestions must be told apart), none of
/// them a series colour.
const MARKS: [Color; 3] = [Color::LightRed, Color::LightGreen, Color::LightBlue];

/// The axes a plot is drawn on.
#[derive(Debug, Clone, PartialEq)]
pub struct Geometry {
    /// x bounds, in log10 units when the plot is `x_log`.
    pub x: [f64; 2],
    pub y: [f64; 2],
    pub x_labels: Vec<String>,
    pub y_labels: Vec<String>,
}

/// The corner of the chart with the fewest points, so the legend hides as little data as
/// possible (loss curves leave the top right empty, a range test the bottom left).
pub fn legend_corner(g: &Geometry, series: &[Vec<(f64, f64)>]) -> LegendPosition {
    let mid_x = (g.x[0] + g.x[1]) / 2.0;
    let mid_y = (g.y[0] + g.y[1]) / 2.0;
    let count = |right: bool, top: bool| {
        series
            .iter()
            .flatten()
            .filter(|(x, y)| (*x >= mid_x) == right && (*y >= mid_y) == top)
            .count()
    };
    [
        (LegendPosition::TopRight, count(true, true)),
        (LegendPosition::BottomLeft, count(false, false)),
        (LegendPosition::TopLeft, count(false, true)),
        (LegendPosition::BottomRight, count(true, false)),
    ]
    .into_iter()
    .min_by_key(|(_, n)| *n)
    .map_or(LegendPosition::TopRight, |(p, _)| p)
}

/// x as drawn: log10 on a log axis (None for x ≤ 0, which a log axis cannot show).
pub fn tx(plot: &Plot, x: f64) -> Option<f64> {
    if !x.is_finite() {
        None
    } else if plot.x_log {
        (x > 0.0).then(|| x.log10())
    } else {
        Some(x)
    }
}

/// The bounds and labels for `plot`, or None when it has no point to show.
pub fn geometry(plot: &Plot) -> Option<Geometry> {
    let mut xs = Vec::new();
    let mut ys = Vec::new();
    for s in &plot.series {
        for &(x, y) in &s.points {
            if let (Some(x), true) = (tx(plot, x), y.is_finite()) {
                xs.push(x);
                ys.push(y);
            }
        }
    }
    if xs.is_empty() {
        return None;
    }
    xs.extend(plot.marks.iter().filter_map(|m| tx(plot, m.x)));
    let min = |v: &[f64]| v.iter().copied().fold(f64::INFINITY, f64::min);
    let max = |v: &[f64]| v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let (mut x0, mut x1) = (min(&xs), max(&xs));
    if let Some((a, b)) = plot.x_range {
        if let (Some(a), Some(b)) = (tx(plot, a), tx(plot, b)) {
            (x0, x1) = (a.min(x0), b.max(x1));
        }
    }
    let (x, x_labels) = if plot.x_log {
        let lo = x0.floor();
        let mut hi = x1.ceil().max(lo + 1.0);
        // An even number of decades puts the middle label on a decade too.
        if (hi - lo) > 1.0 && (hi - lo) % 2.0 != 0.0 {
            hi += 1.0;
        }
        let mut labels = vec![decade_label(lo)];
        if hi - lo > 1.0 {
            labels.push(decade_label((lo + hi) / 2.0));
        }
        labels.push(decade_label(hi));
        ([lo, hi], labels)
    } else {
        let (a, b) = widen(x0, x1);
        ([a, b], ticks(a, b))
    };
    let (y0, y1) = (min(&ys), max(&ys));
    let pad = (y1 - y0) * 0.05;
    // Values that are never negative (losses, accuracies) keep a non-negative axis: padding
    // a range up to 7.6e5 below a loss of 0.1 drew an axis down to -4816 (issue 11, item 9).
    let low = if y0 >= 0.0 {
        (y0 - pad).max(0.0)
    } else {
        y0 - pad
    };
    let (a, b) = widen(low, y1 + pad);
    Some(Geometry {
        x,
        y: [a, b],
        x_labels,
        y_labels: ticks(a, b),
    })
}

/// A range with room in it: a flat series still gets a visible axis.
fn widen(a: f64, b: f64) -> (f64, f64) {
    if b > a {
        (a, b)
    } else {
        let d = if a == 0.0 { 1.0 } else { a.abs() * 0.1 };
        (a - d, b + d)
    }
}

fn ticks(a: f64, b: f64) -> Vec<String> {
    let span = b - a;
    [a, (a + b) / 2.0, b]
        .iter()
        .map(|&v| tick(v, span))
        .collect()
}

/// A tick label with as many decimals as the axis span needs.
pub fn tick(v: f64, span: f64) -> String {
    if v != 0.0 && (v.abs() >= 1e5 || v.abs() < 1e-3) {
        return format!("{v:.1e}");
    }
    let decimals = if span >= 20.0 {
        0
    } else if span >= 2.0 {
        1
    } else if span >= 0.2 {
        2
    } else {
        3
    };
    let s = format!("{v:.decimals$}");
    if s.starts_with('-') && s.trim_start_matches(['-', '0', '.']).is_empty() {
        s[1..].to_string()
    } else {
        s
    }
}

fn decade_label(d: f64) -> String {
    let d = d as i32;
    match d {
        -2..=0 => crate::course::quiz::format_number(10f64.powi(d)),
        1..=4 => format!("{}", 10i64.pow(d as u32)),
        _ => format!("1e{d}"),
    }
}

/// A plot drawn as a chart.
pub struct PlotView<'a> {
    pub plot: &'a Plot,
}

impl Widget for PlotView<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let plot = self.plot;
        let Some(g) = geometry(plot) else {
            buf.set_string(
                area.x,
                area.y,
                "(no points yet)",
                Style::new().fg(Color::DarkGray),
            );
            return;
        };
        let series: Vec<Vec<(f64, f64)>> = plot
            .series
            .iter()
            .map(|s| {
                s.points
                    .iter()
                    .filter_map(|&(x, y)| Some((tx(plot, x)?, y)).filter(|p| p.1.is_finite()))
                    .collect()
            })
            .collect();
        // Per mark: the vertical line's two ends and the labelled point at its top.
        type MarkPoints<'m> = ([(f64, f64); 2], [(f64, f64); 1], &'m crate::output::Mark);
        let marks: Vec<MarkPoints> = plot
            .marks
            .iter()
            .filter_map(|m| {
                let x = tx(plot, m.x)?;
                Some(([(x, g.y[0]), (x, g.y[1])], [(x, g.y[1])], m))
            })
            .collect();
        let mut datasets = Vec::new();
        for (i, (s, pts)) in plot.series.iter().zip(&series).enumerate() {
            let color = s
                .colour
                .map_or(PALETTE[i % PALETTE.len()], |[r, g, b]| Color::Rgb(r, g, b));
            let d = Dataset::default()
                .name(s.name.clone())
                .data(pts)
                .marker(Marker::Braille)
                .style(Style::new().fg(color))
                .graph_type(match s.style {
                    SeriesStyle::Line => GraphType::Line,
                    SeriesStyle::Points => GraphType::Scatter,
                });
            datasets.push(d);
        }
        for (i, (line, top, m)) in marks.iter().enumerate() {
            let mark_color = MARKS[i % MARKS.len()];
            // The line has no name, so only the labelled point appears in the legend.
            datasets.push(
                Dataset::default()
                    .data(line)
                    .marker(Marker::Braille)
                    .graph_type(GraphType::Line)
                    .style(Style::new().fg(mark_color)),
            );
            let label = format!("{} ({})", m.label, crate::course::quiz::format_number(m.x));
            datasets.push(
                Dataset::default()
                    .name(label)
                    .data(top)
                    .marker(Marker::Dot)
                    .graph_type(GraphType::Scatter)
                    .style(Style::new().fg(mark_color)),
            );
        }
        let axis_style = Style::new().fg(Color::DarkGray);
        let x_title = if plot.x_log && !plot.x_label.is_empty() && !plot.x_label.contains("log") {
            format!("{} (log)", plot.x_label)
        } else {
            plot.x_label.clone()
        };
        let chart = Chart::new(datasets)
            .x_axis(
                Axis::default()
                    .title(Line::from(x_title))
                    .style(axis_style)
                    .bounds(g.x)
                    .labels(g.x_labels.iter().map(|l| Line::from(l.clone()))),
            )
            .y_axis(
                Axis::default()
                    .title(Line::from(plot.y_label.clone()))
                    .style(axis_style)
                    .bounds(g.y)
                    .labels(g.y_labels.iter().map(|l| Line::from(l.clone()))),
            )
            .legend_position(Some(legend_corner(&g, &series)))
            // The default hides the legend once it is wider than a quarter of the chart,
            // which is most legends in a notebook cell.
            .hidden_legend_constraints((Constraint::Ratio(2, 3), Constraint::Ratio(2, 3)));
        chart.render(area, buf);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::{Mark, Series};

    fn plot(points: Vec<(f64, f64)>, x_log: bool) -> Plot {
        Plot {
            title: "t".into(),
            x_log,
            series: vec![Series {
                colour: None,
                name: "loss".into(),
                points,
                style: SeriesStyle::Line,
            }],
            ..Plot::default()
        }
    }

    #[test]
    fn a_series_with_its_own_colour_is_drawn_in_it() {
        let mut p = plot(
            (0..40).map(|i| (f64::from(i), f64::from(i % 7))).collect(),
            false,
        );
        p.series[0].colour = Some([235, 70, 60]);
        let area = Rect::new(0, 0, 60, 16);
        let mut buf = Buffer::empty(area);
        PlotView { plot: &p }.render(area, &mut buf);
        let fg = |c: Color| buf.content().iter().filter(|cell| cell.fg == c).count();
        assert!(
            fg(Color::Rgb(235, 70, 60)) > 20,
            "the line is not in its colour"
        );
        assert_eq!(
            fg(PALETTE[0]),
            0,
            "the palette's first colour is still used"
        );
    }

    #[test]
    fn linear_bounds_pad_y_and_label_three_ticks() {
        let g = geometry(&plot(vec![(1.0, 2.0), (10.0, 0.0)], false)).unwrap();
        assert_eq!(g.x, [1.0, 10.0]);
        assert!(g.y[0] == 0.0 && (g.y[1] - 2.1).abs() < 1e-12);
        assert_eq!(g.x_labels, ["1.0", "5.5", "10.0"]);
        let g = geometry(&plot(vec![(1.0, 2.0), (10.0, -1.0)], false)).unwrap();
        assert!((g.y[0] - -1.15).abs() < 1e-12 && (g.y[1] - 2.15).abs() < 1e-12);
    }

    #[test]
    fn a_loss_that_explodes_keeps_a_non_negative_axis() {
        // Issue 11, item 9: the axis ran to -4816 under a loss that reached 7.6e5.
        let g = geometry(&plot(vec![(1.0, 2.3), (2.0, 0.1), (3.0, 7.6e5)], false)).unwrap();
        assert_eq!(g.y[0], 0.0);
        assert!(g.y[1] >= 7.6e5);
        assert!(
            !g.y_labels.iter().any(|l| l.starts_with('-')),
            "{:?}",
            g.y_labels
        );
    }

    #[test]
    fn log_axis_puts_labels_on_decades() {
        let mut p = plot(vec![(3e-6, 2.3), (0.5, 9.0)], true);
        p.marks.push(Mark {
            label: "suggested".into(),
            x: 1e-3,
        });
        let g = geometry(&p).unwrap();
        // log10 spans -5.5 .. -0.3: decades -6 .. 0, six of them, middle at -3.
        assert_eq!(g.x, [-6.0, 0.0]);
        assert_eq!(g.x_labels, ["1e-6", "1e-3", "1"]);
        // An odd number of decades is widened by one so the middle is a decade.
        let g = geometry(&plot(vec![(0.01, 1.0), (5.0, 2.0)], true)).unwrap();
        assert_eq!(g.x, [-2.0, 2.0]);
        assert_eq!(g.x_labels, ["0.01", "1", "100"]);
    }

    #[test]
    fn flat_and_empty_plots() {
        assert!(geometry(&plot(vec![], false)).is_none());
        // Non-positive x cannot be drawn on a log axis.
        assert!(geometry(&plot(vec![(0.0, 1.0)], true)).is_none());
        let g = geometry(&plot(vec![(1.0, 5.0), (2.0, 5.0)], false)).unwrap();
        assert_eq!(g.y, [4.5, 5.5]);
    }

    #[test]
    fn fixed_x_range_wins() {
        let mut p = plot(vec![(1.0, 1.0), (2.0, 0.5)], false);
        p.x_range = Some((1.0, 10.0));
        assert_eq!(geometry(&p).unwrap().x, [1.0, 10.0]);
    }

    /// Issue 12, item 11: the range test's three suggestions are drawn in three colours.
    #[test]
    fn marks_are_coloured_apart() {
        let mut p = plot(
            (0..40)
                .map(|i| (10f64.powf(-6.0 + i as f64 * 0.15), 2.0))
                .collect(),
            true,
        );
        for (label, x) in [("valley", 1e-4), ("steep", 1e-2), ("min/10", 1e-1)] {
            p.marks.push(Mark {
                label: label.into(),
                x,
            });
        }
        let mut buf = Buffer::empty(Rect::new(0, 0, 80, 16));
        PlotView { plot: &p }.render(buf.area, &mut buf);
        for c in MARKS {
            assert!(
                buf.content().iter().any(|cell| cell.fg == c),
                "no cell drawn in {c:?}"
            );
        }
    }

    #[test]
    fn renders_braille_and_legend() {
        let p = plot(
            (0..50).map(|i| (i as f64, (i as f64).sqrt())).collect(),
            false,
        );
        let mut buf = Buffer::empty(Rect::new(0, 0, 60, 14));
        PlotView { plot: &p }.render(buf.area, &mut buf);
        let text: String = buf.content().iter().map(|c| c.symbol()).collect();
        assert!(text.chars().any(|c| ('\u{2801}'..='\u{28ff}').contains(&c)));
        assert!(text.contains("loss"), "legend shown");
    }
}
