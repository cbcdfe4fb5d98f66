//! Per-epoch metrics, chosen by the experiment and computed by the loop on the validation set
//! (and a probe of the training set) from the model's outputs in evaluation mode. Each follows
//! the definition of the library practitioners check against, named on its variant, so a
//! learner can recompute it from exported data.

use crate::nn::{Batch, Target, IGNORE};
use rayon::prelude::*;

/// A metric accumulated over batches.
pub trait Metric {
    /// Its name in reports and on chart axes, e.g. `accuracy`, `PSNR (dB)`.
    fn name(&self) -> String;
    /// Adds one batch: the model's outputs by name and the batch's targets by name.
    fn update(&mut self, outputs: &[(String, Batch)], targets: &[(String, Target)]);
    /// The value over everything added so far.
    fn value(&self) -> f64;
}

/// The metrics the lessons use; [`MetricKind::make`] gives a fresh accumulator. `head` names
/// the output (and target) it reads; empty means the network's only one.
#[derive(Debug, Clone, PartialEq)]
pub enum MetricKind {
    /// Share of rows whose highest score is the target class (scikit-learn's
    /// `accuracy_score`); over pixels for an image-shaped output, ignored elements left out.
    Accuracy { head: String },
    /// Mean squared error over every value (scikit-learn's `mean_squared_error`).
    Mse { head: String },
    /// Peak signal-to-noise ratio in dB, `10·log10(data_range² / MSE)` per image as
    /// scikit-image's `peak_signal_noise_ratio`, averaged over images.
    Psnr { head: String, data_range: f64 },
    /// Dice (F1) per foreground class from counts accumulated over the whole split, averaged
    /// over the classes that occur (torchmetrics' `F1Score(average="macro")` without the
    /// background class 0); ignored pixels left out.
    Dice { head: String, classes: usize },
    /// Intersection over union per foreground class, accumulated the same way (torchmetrics'
    /// `JaccardIndex(average="macro")` without the background class).
    MeanIou { head: String, classes: usize },
}

impl MetricKind {
    /// Accuracy on the only output.
    pub fn accuracy() -> Self {
        MetricKind::Accuracy {
            head: String::new(),
        }
    }

    /// A fresh accumulator.
    pub fn make(&self) -> Box<dyn Metric> {
        match self {
            MetricKind::Accuracy { head } => Box::new(Accuracy {
                head: head.clone(),
                right: 0,
                total: 0,
            }),
            MetricKind::Mse { head } => Box::new(Mse {
                head: head.clone(),
                sum: 0.0,
                count: 0,
            }),
            MetricKind::Psnr { head, data_range } => Box::new(Psnr {
                head: head.clone(),
                range: *data_range,
                sum: 0.0,
                images: 0,
            }),
            MetricKind::Dice { head, classes } => Box::new(Overlap::new(head, *classes, true)),
            MetricKind::MeanIou { head, classes } => Box::new(Overlap::new(head, *classes, false)),
        }
    }
}

/// The output called `head` (the only one when `head` is empty).
fn output<'a>(outputs: &'a [(String, Batch)], head: &str) -> Option<&'a Batch> {
    if head.is_empty() && outputs.len() == 1 {
        return outputs.first().map(|(_, b)| b);
    }
    outputs.iter().find(|(n, _)| n == head).map(|(_, b)| b)
}

fn target<'a>(targets: &'a [(String, Target)], head: &str) -> Option<&'a Target> {
    crate::nn::objective::target_for(targets, head)
}

/// The predicted class of every row of scores: per example for `[N, K]`, per pixel for
/// `[N, K, H, W]` (in `n, y, x` order, matching a mask's layout).
pub fn argmax_rows(b: &Batch) -> Vec<usize> {
    let k = b.shape.get(1).copied().unwrap_or(1).max(1);
    let n = b.shape.first().copied().unwrap_or(0);
    let hw: usize = b.shape.iter().skip(2).product();
    let mut out = Vec::with_capacity(n * hw);
    for i in 0..n {
        for p in 0..hw {
            let mut best = (0, f32::NEG_INFINITY);
            for c in 0..k {
                let v = b.data[(i * k + c) * hw + p];
                if v > best.1 {
                    best = (c, v);
                }
            }
            out.push(best.0);
        }
    }
    out
}

fn values(t: &Target) -> Option<&[f32]> {
    match t {
        Target::Values(v) | Target::Weighted { values: v, .. } => Some(v),
        Target::Classes(_) => None,
    }
}

struct Accuracy {
    head: String,
    right: usize,
    total: usize,
}

impl Metric for Accuracy {
    fn name(&self) -> String {
        "accuracy".into()
    }
    fn update(&mut self, outputs: &[(String, Batch)], targets: &[(String, Target)]) {
        let (Some(out), Some(Target::Classes(classes))) =
            (output(outputs, &self.head), target(targets, &self.head))
        else {
            return;
        };
        for (p, &y) in argmax_rows(out).into_iter().zip(classes) {
            if y != IGNORE {
                self.total += 1;
                self.right += usize::from(p == y);
            }
        }
    }
    fn value(&self) -> f64 {
        self.right as f64 / self.total.max(1) as f64
    }
}

struct Mse {
    head: String,
    sum: f64,
    count: usize,
}

impl Metric for Mse {
    fn name(&self) -> String {
        "MSE".into()
    }
    fn update(&mut self, outputs: &[(String, Batch)], targets: &[(String, Target)]) {
        let (Some(out), Some(t)) = (output(outputs, &self.head), target(targets, &self.head))
        else {
            return;
        };
        let Some(v) = values(t) else { return };
        for (a, b) in out.data.iter().zip(v) {
            self.sum += f64::from(a - b).powi(2);
            self.count += 1;
        }
    }
    fn value(&self) -> f64 {
        self.sum / self.count.max(1) as f64
    }
}

struct Psnr {
    head: String,
    range: f64,
    sum: f64,
    images: usize,
}

impl Metric for Psnr {
    fn name(&self) -> String {
        "PSNR (dB)".into()
    }
    fn update(&mut self, outputs: &[(String, Batch)], targets: &[(String, Target)]) {
        let (Some(out), Some(t)) = (output(outputs, &self.head), target(targets, &self.head))
        else {
            return;
        };
        let Some(v) = values(t) else { return };
        let n = out.len().max(1);
        let per = (out.data.len() / n).max(1);
        // Each image's PSNR on either core; their total in image order.
        let each: Vec<f64> = out
            .data
            .par_chunks(per)
            .zip(v.par_chunks(per))
            .with_min_len(16)
            .map(|(a, b)| psnr(a, b, self.range))
            .collect();
        for p in each {
            self.sum += p;
            self.images += 1;
        }
    }
    fn value(&self) -> f64 {
        self.sum / self.images.max(1) as f64
    }
}

/// PSNR of `test` against `truth` in dB, as scikit-image computes it; identical images give
/// infinity there, capped here at 100 dB so an average stays finite.
pub fn psnr(test: &[f32], truth: &[f32], data_range: f64) -> f64 {
    let mse = test
        .iter()
        .zip(truth)
        .map(|(a, b)| f64::from(a - b).powi(2))
        .sum::<f64>()
        / truth.len().max(1) as f64;
    if mse <= 0.0 {
        return 100.0;
    }
    (10.0 * (data_range * data_range / mse).log10()).min(100.0)
}

/// Dice or IoU per class from true positives, false positives and false negatives.
struct Overlap {
    head: String,
    dice: bool,
    tp: Vec<u64>,
    fp: Vec<u64>,
    fn_: Vec<u64>,
}

impl Overlap {
    fn new(head: &str, classes: usize, dice: bool) -> Self {
        let k = classes.max(1);
        Overlap {
            head: head.to_string(),
            dice,
            tp: vec![0; k],
            fp: vec![0; k],
            fn_: vec![0; k],
        }
    }
}

impl Metric for Overlap {
    fn name(&self) -> String {
        if self.dice { "Dice" } else { "mean IoU" }.into()
    }
    fn update(&mut self, outputs: &[(String, Batch)], targets: &[(String, Target)]) {
        let (Some(out), Some(Target::Classes(classes))) =
            (output(outputs, &self.head), target(targets, &self.head))
        else {
            return;
        };
        let k = self.tp.len();
        for (p, &y) in argmax_rows(out).into_iter().zip(classes) {
            if y == IGNORE || y >= k || p >= k {
                continue;
            }
            if p == y {
                self.tp[y] += 1;
            } else {
                self.fp[p] += 1;
                self.fn_[y] += 1;
            }
        }
    }
    fn value(&self) -> f64 {
        let mut sum = 0.0;
        let mut present = 0;
        for c in 1..self.tp.len() {
            let (tp, fp, fn_) = (self.tp[c] as f64, self.fp[c] as f64, self.fn_[c] as f64);
            let denom = if self.dice {
                2.0 * tp + fp + fn_
            } else {
                tp + fp + fn_
            };
            if denom > 0.0 {
                let num = if self.dice { 2.0 * tp } else { tp };
                sum += num / denom;
                present += 1;
            }
        }
        if present == 0 {
            0.0
        } else {
            sum / present as f64
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(name: &str, b: Batch) -> Vec<(String, Batch)> {
        vec![(name.to_string(), b)]
    }

    #[test]
    fn accuracy_over_pixels_skips_ignored() {
        // Two pixels of one 2-class image: scores favour class 1 then class 0.
        let out = Batch::new(vec![0.0, 1.0, 1.0, 0.0], vec![1, 2, 1, 2]).unwrap();
        let mut m = MetricKind::accuracy().make();
        let t = vec![(String::new(), Target::Classes(vec![1, IGNORE]))];
        m.update(&one("out", out.clone()), &t);
        assert_eq!(m.value(), 1.0);
        let t = vec![(String::new(), Target::Classes(vec![0, 0]))];
        let mut m = MetricKind::accuracy().make();
        m.update(&one("out", out), &t);
        assert_eq!(m.value(), 0.5);
    }

    #[test]
    fn psnr_matches_hand_value() {
        // MSE = (0.1² + 0.1²) / 2 = 0.01, so PSNR = 10·log10(1 / 0.01) = 20 dB.
        assert!((psnr(&[0.1, 0.9], &[0.0, 1.0], 1.0) - 20.0).abs() < 1e-4);
        assert_eq!(psnr(&[0.5], &[0.5], 1.0), 100.0);
    }

    #[test]
    fn dice_and_iou_by_hand() {
        // Four pixels, classes 0/1: predicted [1, 1, 0, 0], true [1, 0, 1, 0] for class 1:
        // tp 1, fp 1, fn 1: Dice = 2/(2+1+1) = 0.5, IoU = 1/3.
        let scores = vec![
            0.0, 0.0, 1.0, 1.0, // class 0 scores per pixel
            1.0, 1.0, 0.0, 0.0, // class 1
        ];
        let out = Batch::new(scores, vec![1, 2, 2, 2]).unwrap();
        let t = vec![(String::new(), Target::Classes(vec![1, 0, 1, 0]))];
        let mut d = MetricKind::Dice {
            head: String::new(),
            classes: 2,
        }
        .make();
        d.update(&one("out", out.clone()), &t);
        assert!((d.value() - 0.5).abs() < 1e-12);
        let mut j = MetricKind::MeanIou {
            head: String::new(),
            classes: 2,
        }
        .make();
        j.update(&one("out", out), &t);
        assert!((j.value() - 1.0 / 3.0).abs() < 1e-12);
    }
}
