//! A plot's data made drawable: non-finite points and x <= 0 on a log axis dropped, lines cut
//! into runs at gaps and clipped to the x range, and both axes' ranges worked out (a single
//! value widened into a real range, a little air above and below).

use plotters::style::RGBColor;

use super::palette::PALETTE;
use crate::output::{Plot, Series, SeriesStyle};

/// One series ready to draw: its colour and its points cut into runs of drawable points.
pub(super) struct Drawn<'a> {
    pub(super) series: &'a Series,
    pub(super) color: RGBColor,
    pub(super) runs: Vec<Vec<(f64, f64)>>,
}

/// The plot's data with everything undrawable removed, and the ranges of both axes.
pub(super) struct Prepared<'a> {
    pub(super) x: (f64, f64),
    pub(super) y: (f64, f64),
    pub(super) series: Vec<Drawn<'a>>,
    pub(super) marks: Vec<(f64, &'a str)>,
}

impl<'a> Prepared<'a> {
    /// None when no point can be drawn.
    pub(super) fn new(plot: &'a Plot) -> Option<Self> {
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
                color: s
                    .colour
                    .map_or(PALETTE[i % PALETTE.len()], |[r, g, b]| RGBColor(r, g, b)),
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
        // Values never negative (a loss) keep a non-negative axis, as in the notebook's chart.
        let low = if y0 >= 0.0 {
            (y0 - pad).max(0.0)
        } else {
            y0 - pad
        };
        Some(Prepared {
            x,
            y: (low, y1 + pad),
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

#[cfg(test)]
mod tests {
    use super::*;

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
    fn an_exploding_loss_keeps_a_non_negative_axis() {
        // Issue 11, item 9: padding below a loss that reached 7.6e5 gave a negative axis.
        let plot = Plot {
            title: "loss".into(),
            series: vec![Series {
                colour: None,
                name: "train".into(),
                points: vec![(1.0, 2.3), (2.0, 0.1), (3.0, 7.6e5)],
                style: SeriesStyle::Line,
            }],
            ..Plot::default()
        };
        let p = Prepared::new(&plot).unwrap();
        assert_eq!(p.y.0, 0.0);
        assert!(p.y.1 > 7.6e5);
    }

    #[test]
    fn single_values_widen_into_ranges() {
        assert_eq!(widen((3.0, 3.0), false), (2.0, 4.0));
        assert_eq!(widen((1e-3, 1e-3), true), (1e-4, 1e-2));
        let (lo, hi) = widen((f64::MAX, f64::MAX), false);
        assert!(lo.is_finite() && lo < hi);
    }
}
