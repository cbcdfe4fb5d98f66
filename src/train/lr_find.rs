//! The learning-rate range test (Leslie Smith; fastai's `lr_find`), the pure part.
//!
//! The learning rate grows exponentially over a fixed number of mini-batches while the loss is
//! recorded, smoothed with an exponential moving average (bias-corrected, as early averages
//! lean towards zero). The sweep stops once the smoothed loss passes four times its best.
//! From the curve, three suggestions are read the way fastai reads them: "valley" (the middle
//! of the longest stretch where the loss keeps falling; the default), "steep" (the steepest
//! fall) and "minimum/10" (a tenth of the learning rate at the lowest loss).

/// fastai's defaults.
pub const START_LR: f64 = 1e-7;
pub const END_LR: f64 = 10.0;
pub const NUM_IT: usize = 100;
pub const BETA: f64 = 0.98;
/// The sweep stops when the smoothed loss exceeds this multiple of the best one.
pub const DIVERGE: f64 = 4.0;

/// The learning rate at step `i` of `n` (i = 0 gives `start`, i = n - 1 gives `end`).
pub fn lr_at(start: f64, end: f64, i: usize, n: usize) -> f64 {
    if n <= 1 {
        return start;
    }
    start * (end / start).powf(i as f64 / (n - 1) as f64)
}

/// Bias-corrected exponential moving average of the loss, with the stop rule.
#[derive(Debug, Clone)]
pub struct Smoother {
    beta: f64,
    avg: f64,
    count: i32,
    best: f64,
}

impl Smoother {
    pub fn new(beta: f64) -> Self {
        Smoother {
            beta,
            avg: 0.0,
            count: 0,
            best: f64::INFINITY,
        }
    }

    /// Adds a raw loss and returns the smoothed value.
    pub fn push(&mut self, loss: f64) -> f64 {
        self.count += 1;
        self.avg = self.beta * self.avg + (1.0 - self.beta) * loss;
        let smooth = self.avg / (1.0 - self.beta.powi(self.count));
        if smooth < self.best {
            self.best = smooth;
        }
        smooth
    }

    /// True once the sweep should stop: the loss diverged or is not a number.
    pub fn diverged(&self, smooth: f64) -> bool {
        !smooth.is_finite() || smooth > DIVERGE * self.best
    }
}

/// The learning rates suggested by a sweep.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Suggestions {
    pub valley: f64,
    pub steep: f64,
    pub minimum_tenth: f64,
}

/// Reads the suggestions off a sweep (learning rates and smoothed losses, same length), after
/// dropping the first tenth and the last five points as fastai does: the start is flat noise
/// and the end is where the loss blew up.
pub fn suggest(lrs: &[f64], losses: &[f64]) -> Option<Suggestions> {
    let n = lrs.len().min(losses.len());
    let skip_start = n / 10;
    let end = n.saturating_sub(5);
    if end <= skip_start + 2 {
        return None;
    }
    let (lrs, losses): (Vec<f64>, Vec<f64>) = lrs[skip_start..end]
        .iter()
        .zip(&losses[skip_start..end])
        .filter(|(l, v)| l.is_finite() && **l > 0.0 && v.is_finite())
        .map(|(l, v)| (*l, *v))
        .unzip();
    let m = lrs.len();
    if m < 3 {
        return None;
    }
    let argmin = (0..m).min_by(|&a, &b| losses[a].total_cmp(&losses[b]))?;
    let minimum_tenth = lrs[argmin] / 10.0;
    // Steepest descent per unit of log learning rate.
    let steep_i = (0..m - 1).min_by(|&a, &b| {
        let g = |i: usize| (losses[i + 1] - losses[i]) / (lrs[i + 1].ln() - lrs[i].ln());
        g(a).total_cmp(&g(b))
    })?;
    let steep = lrs[steep_i];
    // Valley: find the longest strictly decreasing subsequence of the losses and, as fastai
    // does, take the point at its start + len/3 + len/6: inside the fall, before the bottom.
    let mut lds = vec![1usize; m];
    let (mut max_start, mut max_end) = (0usize, 0usize);
    for i in 1..m {
        for j in 0..i {
            if losses[i] < losses[j] && lds[i] < lds[j] + 1 {
                lds[i] = lds[j] + 1;
            }
            if lds[max_end] < lds[i] {
                max_end = i;
                max_start = max_end - lds[max_end];
            }
        }
    }
    let sections = (max_end - max_start) as f64 / 3.0;
    let idx = (max_start + sections as usize + (sections / 2.0) as usize).min(m - 1);
    Some(Suggestions {
        valley: lrs[idx],
        steep,
        minimum_tenth,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_is_exponential_between_the_ends() {
        assert!((lr_at(1e-7, 10.0, 0, 100) - 1e-7).abs() < 1e-20);
        assert!((lr_at(1e-7, 10.0, 99, 100) - 10.0).abs() < 1e-9);
        // Halfway in steps is halfway in log space: 10^-3.
        assert!((lr_at(1e-7, 10.0, 50, 101) - 1e-3).abs() < 1e-12);
    }

    #[test]
    fn smoother_is_bias_corrected() {
        let mut s = Smoother::new(0.98);
        // The first smoothed value equals the first loss (no pull towards zero).
        assert!((s.push(2.0) - 2.0).abs() < 1e-12);
        assert!((s.push(2.0) - 2.0).abs() < 1e-12);
        // Early on the corrected average weighs the points almost equally.
        let v = s.push(4.0);
        let b: f64 = 0.98;
        let want = (2.0 * b * b + 2.0 * b + 4.0) * (1.0 - b) / (1.0 - b.powi(3));
        assert!((v - want).abs() < 1e-12, "{v} vs {want}");
        assert!(!s.diverged(7.9));
        assert!(s.diverged(8.1));
        assert!(s.diverged(f64::NAN));
    }

    /// A textbook curve: flat, then falling between 1e-4 and 1e-2, then exploding.
    fn curve() -> (Vec<f64>, Vec<f64>) {
        let lrs: Vec<f64> = (0..100).map(|i| lr_at(1e-7, 10.0, i, 100)).collect();
        let losses = lrs
            .iter()
            .map(|&lr| {
                let x = lr.log10();
                if x < -4.0 {
                    2.3
                } else if x < -2.0 {
                    2.3 - 1.0 * (x + 4.0)
                } else {
                    0.3 + 5.0 * (x + 2.0).powi(2)
                }
            })
            .collect();
        (lrs, losses)
    }

    #[test]
    fn suggestions_fall_where_the_loss_falls() {
        let (lrs, losses) = curve();
        let s = suggest(&lrs, &losses).unwrap();
        for (name, lr) in [("valley", s.valley), ("steep", s.steep)] {
            assert!(lr > 1e-4 && lr < 1e-2, "{name} = {lr:e}");
        }
        // The minimum sits at 1e-2, so a tenth of it is about 1e-3.
        assert!(
            (s.minimum_tenth.log10() + 3.0).abs() < 0.2,
            "{:e}",
            s.minimum_tenth
        );
        // Valley lies inside the falling stretch, past its first third.
        assert!(s.valley > 1e-4 * 10f64.powf(0.6), "{:e}", s.valley);
    }

    #[test]
    fn too_short_a_sweep_suggests_nothing() {
        assert!(suggest(&[1e-3; 5], &[1.0; 5]).is_none());
    }
}
