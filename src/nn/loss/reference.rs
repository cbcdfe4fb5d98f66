//! Every loss term in plain `f64` over slices, following the same definitions as the taped
//! versions in [`super`]: the oracle for their tests, and a way to score predictions already
//! read back from a network (evaluation) without a tape.

use super::{checked_weights, LossKind, LossTarget, IGNORE};
use crate::nn::NnError;

/// The loss `kind` of predictions `pred` against `target`, with optional per-element weights
/// (per row for class terms) and normaliser `denom`, exactly as [`super::apply`] defines it.
/// Class terms read `pred` as rows of `cols` scores; value terms ignore `cols`.
pub fn reference(
    kind: &LossKind,
    pred: &[f32],
    cols: usize,
    target: &LossTarget<'_>,
    weights: Option<&[f32]>,
    denom: Option<f64>,
) -> Result<f64, NnError> {
    if let Some(d) = denom {
        if !(d.is_finite() && d >= 0.0) || matches!(kind, LossKind::Dice { .. }) {
            return Err(NnError::Shape(format!(
                "loss denominator {d} is not usable here"
            )));
        }
    }
    match (kind, *target) {
        (LossKind::CrossEntropy | LossKind::Dice { .. }, LossTarget::Classes(classes)) => {
            if cols == 0 || pred.len() != classes.len() * cols {
                return Err(NnError::Shape(format!(
                    "{} scores are not {} rows of {cols}",
                    pred.len(),
                    classes.len()
                )));
            }
            let rows = classes.len();
            let w = super::row_weights(rows, cols, classes, weights)?;
            let rows_of = || pred.chunks(cols).zip(classes).zip(&w);
            if let LossKind::Dice { smooth } = kind {
                return Ok(dice(rows_of(), cols, *smooth));
            }
            let total: f64 = rows_of()
                .filter(|((_, &c), _)| c != IGNORE)
                .map(|((s, &c), &wr)| {
                    let m = s.iter().fold(f64::NEG_INFINITY, |m, &x| m.max(x as f64));
                    let lse = m + s.iter().map(|&x| (x as f64 - m).exp()).sum::<f64>().ln();
                    wr as f64 * (lse - s[c] as f64)
                })
                .sum();
            Ok(normalise(total, &w, denom))
        }
        (_, LossTarget::Values(t)) if !kind.needs_classes() => {
            if t.len() != pred.len() {
                return Err(NnError::Shape(format!(
                    "{} targets for {} predictions",
                    t.len(),
                    pred.len()
                )));
            }
            let w = checked_weights(pred.len(), weights)?;
            let each = |x: f64, t: f64| -> f64 {
                match *kind {
                    LossKind::BceWithLogits => bce(x, t),
                    LossKind::Mse => (x - t).powi(2),
                    LossKind::L1 => (x - t).abs(),
                    LossKind::SmoothL1 { beta } => {
                        let d = (x - t).abs();
                        if d < beta {
                            0.5 * d * d / beta
                        } else {
                            d - 0.5 * beta
                        }
                    }
                    LossKind::Focal { alpha, gamma } => {
                        let p = 1.0 / (1.0 + (-x).exp());
                        let p_t = p * t + (1.0 - p) * (1.0 - t);
                        let l = bce(x, t) * (1.0 - p_t).max(0.0).powf(gamma);
                        alpha.map_or(l, |a| l * (a * t + (1.0 - a) * (1.0 - t)))
                    }
                    LossKind::CrossEntropy | LossKind::Dice { .. } => unreachable!(),
                }
            };
            let total: f64 = pred
                .iter()
                .zip(t)
                .zip(&w)
                .map(|((&x, &t), &wi)| wi as f64 * each(x as f64, t as f64))
                .sum();
            Ok(normalise(total, &w, denom))
        }
        (k, _) => Err(NnError::Shape(format!(
            "the {} loss needs {} targets",
            k.name(),
            if k.needs_classes() {
                "class-label"
            } else {
                "value"
            }
        ))),
    }
}

/// Stable BCE with logits: `max(x, 0) - x t + ln(1 + exp(-|x|))`.
fn bce(x: f64, t: f64) -> f64 {
    x.max(0.0) - x * t + (-x.abs()).exp().ln_1p()
}

/// `total / denom`, or `/ sum(w)`; 0 when that is 0.
fn normalise(total: f64, w: &[f32], denom: Option<f64>) -> f64 {
    let d = denom.unwrap_or_else(|| w.iter().map(|&x| x as f64).sum());
    if d > 0.0 {
        total / d
    } else {
        0.0
    }
}

/// Soft Dice over all `k` classes of weighted rows `((scores, class), weight)`.
fn dice<'a>(
    rows: impl Iterator<Item = ((&'a [f32], &'a usize), &'a f32)>,
    k: usize,
    smooth: f64,
) -> f64 {
    // Per class: sum w p t, sum w p, sum w t.
    let (mut pt, mut ps, mut ts) = (vec![0.0; k], vec![0.0; k], vec![0.0; k]);
    let mut any = false;
    for ((s, &c), &wr) in rows {
        let wr = wr as f64;
        any |= wr > 0.0;
        let m = s.iter().fold(f64::NEG_INFINITY, |m, &x| m.max(x as f64));
        let z: f64 = s.iter().map(|&x| (x as f64 - m).exp()).sum();
        for (j, &x) in s.iter().enumerate() {
            let p = (x as f64 - m).exp() / z;
            ps[j] += wr * p;
            if j == c {
                pt[j] += wr * p;
                ts[j] += wr;
            }
        }
    }
    if !any && smooth == 0.0 {
        return 0.0;
    }
    let mean = (0..k)
        .map(|c| (2.0 * pt[c] + smooth) / (ps[c] + ts[c] + smooth))
        .sum::<f64>()
        / k as f64;
    1.0 - mean
}
