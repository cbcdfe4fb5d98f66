//! A plot's axes: the ticks (round linear steps, or whole decades on a log axis, thinned until
//! their labels fit), their labels, and the plotters coordinate that maps values to pixels
//! with exactly those ticks.

use std::ops::Range;

use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};

/// A plotters axis with our own ticks: linear, or log10 when `log` (the values stay the real
/// ones, so the data is drawn as is and only the mapping to pixels changes).
///
/// plotters' `LogCoord` would do the mapping, but wrapping it to supply our own ticks loses
/// the default formatting its mesh insists on, so the mapping is done here.
pub(super) struct Axis {
    pub(super) range: (f64, f64),
    pub(super) log: bool,
    pub(super) ticks: Vec<f64>,
    pub(super) light: Vec<f64>,
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
pub(super) struct Axes {
    pub(super) x_desc: String,
    pub(super) y_desc: String,
    pub(super) x_area: u32,
    pub(super) y_area: u32,
    pub(super) tick_fs: f64,
    pub(super) desc_fs: f64,
    pub(super) fs: f64,
}

/// Tick positions with their labels, plus unlabelled minor grid positions.
pub(super) struct Ticks {
    pub(super) values: Vec<f64>,
    pub(super) labels: Vec<String>,
    pub(super) light: Vec<f64>,
}

impl Ticks {
    pub(super) fn label(&self, v: f64) -> String {
        self.values
            .iter()
            .position(|&t| t == v)
            .map(|i| self.labels[i].clone())
            .unwrap_or_default()
    }

    /// About `max_n` ticks at round numbers (1, 2 or 5 times a power of ten).
    pub(super) fn linear((lo, hi): (f64, f64), max_n: usize) -> Ticks {
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
    pub(super) fn fitting_linear(
        range: (f64, f64),
        pixels: u32,
        width_of: &dyn Fn(&str) -> u32,
    ) -> Ticks {
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
    pub(super) fn log((lo, hi): (f64, f64), pixels: u32, width_of: &dyn Fn(&str) -> u32) -> Ticks {
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
}
