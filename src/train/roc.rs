//! Scoring a binary detector (anomaly detection, a lesion classifier): the confusion counts at
//! a threshold and the rates built from them, the ROC curve and the area under it, with the
//! conventions of scikit-learn so a learner can recompute them from exported scores.
//!
//! Label `true` is the positive class (an anomaly). An example is flagged when its score is
//! at or above the threshold (`score >= t`), as `roc_curve`'s thresholds read. The AUC is the
//! Mann-Whitney statistic: the probability that a random positive scores above a random
//! negative, a tie counting one half, which is what `roc_auc_score` computes (it integrates
//! the same curve with the trapezoidal rule, where ties become diagonal steps).

/// Counts of a binary decision against the truth.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Confusion {
    pub tp: usize,
    pub fp: usize,
    pub tn: usize,
    pub fn_: usize,
}

/// `a / b`, 0 when `b` is 0 (scikit-learn's `zero_division=0`).
fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

impl Confusion {
    /// Flags every example scoring at least `threshold` and counts the outcomes.
    pub fn at(scores: &[f64], labels: &[bool], threshold: f64) -> Self {
        let mut c = Confusion::default();
        for (&s, &y) in scores.iter().zip(labels) {
            match (s >= threshold, y) {
                (true, true) => c.tp += 1,
                (true, false) => c.fp += 1,
                (false, false) => c.tn += 1,
                (false, true) => c.fn_ += 1,
            }
        }
        c
    }

    /// Of the flagged examples, the share that are positive: TP / (TP + FP).
    pub fn precision(&self) -> f64 {
        ratio(self.tp, self.tp + self.fp)
    }

    /// Of the positives, the share flagged (sensitivity, true-positive rate): TP / (TP + FN).
    pub fn recall(&self) -> f64 {
        ratio(self.tp, self.tp + self.fn_)
    }

    /// Of the negatives, the share left alone (true-negative rate): TN / (TN + FP).
    pub fn specificity(&self) -> f64 {
        ratio(self.tn, self.tn + self.fp)
    }

    /// Of the negatives, the share flagged: FP / (FP + TN) = 1 - specificity.
    pub fn fpr(&self) -> f64 {
        ratio(self.fp, self.fp + self.tn)
    }

    /// The harmonic mean of precision and recall: 2TP / (2TP + FP + FN).
    pub fn f1(&self) -> f64 {
        ratio(2 * self.tp, 2 * self.tp + self.fp + self.fn_)
    }

    /// (TP + TN) / everything.
    pub fn accuracy(&self) -> f64 {
        ratio(self.tp + self.tn, self.tp + self.tn + self.fp + self.fn_)
    }
}

/// The ROC curve as `(fpr, tpr, threshold)` points, from `(0, 0)` (threshold +∞) to `(1, 1)`,
/// one point per distinct score taken from the highest down, as scikit-learn's `roc_curve`
/// with `drop_intermediate=False`. Empty when either class is missing.
pub fn roc_curve(scores: &[f64], labels: &[bool]) -> Vec<(f64, f64, f64)> {
    let pos = labels.iter().filter(|&&y| y).count();
    let neg = labels.len() - pos;
    if pos == 0 || neg == 0 {
        return Vec::new();
    }
    let mut order: Vec<usize> = (0..scores.len().min(labels.len())).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let mut points = vec![(0.0, 0.0, f64::INFINITY)];
    let (mut tp, mut fp) = (0usize, 0usize);
    let mut i = 0;
    while i < order.len() {
        let s = scores[order[i]];
        while i < order.len() && scores[order[i]] == s {
            if labels[order[i]] {
                tp += 1;
            } else {
                fp += 1;
            }
            i += 1;
        }
        points.push((fp as f64 / neg as f64, tp as f64 / pos as f64, s));
    }
    points
}

/// The area under the ROC curve by its probabilistic definition: over every (positive,
/// negative) pair, 1 when the positive scores higher, 1/2 on a tie, 0 otherwise, averaged
/// (the Mann-Whitney U statistic over `n_pos · n_neg`). NaN when either class is missing, where
/// scikit-learn raises an error.
pub fn auc(scores: &[f64], labels: &[bool]) -> f64 {
    let n = scores.len().min(labels.len());
    let pos = labels[..n].iter().filter(|&&y| y).count();
    let neg = n - pos;
    if pos == 0 || neg == 0 {
        return f64::NAN;
    }
    // Midranks (ties share the mean of their ranks), then U = R_pos - pos(pos+1)/2.
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let mut rank_sum_pos = 0.0;
    let mut i = 0;
    while i < n {
        let mut j = i;
        while j < n && scores[order[j]] == scores[order[i]] {
            j += 1;
        }
        // Ranks i+1 ..= j share their mean.
        let mid = (i + 1 + j) as f64 / 2.0;
        rank_sum_pos += mid * order[i..j].iter().filter(|&&k| labels[k]).count() as f64;
        i = j;
    }
    let u = rank_sum_pos - (pos * (pos + 1)) as f64 / 2.0;
    u / (pos as f64 * neg as f64)
}

/// The trapezoidal area under `(x, y, _)` points (a ROC curve from [`roc_curve`]).
pub fn trapezoid_area(points: &[(f64, f64, f64)]) -> f64 {
    points
        .windows(2)
        .map(|w| (w[1].0 - w[0].0) * (w[1].1 + w[0].1) / 2.0)
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every (positive, negative) pair counted directly.
    fn pairwise(scores: &[f64], labels: &[bool]) -> f64 {
        let mut sum = 0.0;
        let mut pairs = 0.0;
        for (i, &yi) in labels.iter().enumerate() {
            for (j, &yj) in labels.iter().enumerate() {
                if yi && !yj {
                    pairs += 1.0;
                    sum += match scores[i].partial_cmp(&scores[j]).unwrap() {
                        std::cmp::Ordering::Greater => 1.0,
                        std::cmp::Ordering::Equal => 0.5,
                        std::cmp::Ordering::Less => 0.0,
                    };
                }
            }
        }
        sum / pairs
    }

    #[test]
    fn auc_by_hand_with_ties() {
        // scikit-learn's own example: roc_auc_score([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) = 0.75.
        let labels = [false, false, true, true];
        assert!((auc(&[0.1, 0.4, 0.35, 0.8], &labels) - 0.75).abs() < 1e-12);
        // Pairs (pos 0.5, neg 0.5) tie = 1/2, (0.5, 0.2) = 1, (0.9, 0.5) = 1, (0.9, 0.2) = 1:
        // 3.5 / 4 = 0.875.
        let labels = [true, true, false, false];
        assert!((auc(&[0.5, 0.9, 0.5, 0.2], &labels) - 0.875).abs() < 1e-12);
        // Every score equal: every pair a tie, AUC 1/2.
        assert!((auc(&[1.0; 5], &[true, false, false, true, false]) - 0.5).abs() < 1e-12);
        // Perfectly separated and perfectly reversed.
        assert_eq!(auc(&[3.0, 4.0, 1.0, 2.0], &[true, true, false, false]), 1.0);
        assert_eq!(auc(&[1.0, 2.0, 3.0, 4.0], &[true, true, false, false]), 0.0);
        assert!(auc(&[1.0, 2.0], &[true, true]).is_nan());
    }

    #[test]
    fn auc_equals_pairs_and_the_trapezoid_under_the_roc_curve() {
        // Many ties: scores on a coarse grid.
        let scores: Vec<f64> = (0..40).map(|i| ((i * 7) % 5) as f64).collect();
        let labels: Vec<bool> = (0..40).map(|i| (i * 3) % 4 == 0 || i % 5 == 2).collect();
        let a = auc(&scores, &labels);
        assert!((a - pairwise(&scores, &labels)).abs() < 1e-12);
        let curve = roc_curve(&scores, &labels);
        assert!((a - trapezoid_area(&curve)).abs() < 1e-12);
        assert_eq!(curve.first().map(|p| (p.0, p.1)), Some((0.0, 0.0)));
        assert_eq!(curve.last().map(|p| (p.0, p.1)), Some((1.0, 1.0)));
    }

    #[test]
    fn roc_points_by_hand() {
        // Scores 0.8 (pos), 0.4 (neg), 0.35 (pos), 0.1 (neg): thresholds ∞, 0.8, 0.4, 0.35, 0.1.
        let c = roc_curve(&[0.1, 0.4, 0.35, 0.8], &[false, false, true, true]);
        let xy: Vec<(f64, f64)> = c.iter().map(|p| (p.0, p.1)).collect();
        assert_eq!(
            xy,
            [(0.0, 0.0), (0.0, 0.5), (0.5, 0.5), (0.5, 1.0), (1.0, 1.0)]
        );
        assert_eq!(c[2].2, 0.4);
    }

    #[test]
    fn rates_at_a_threshold_by_hand() {
        // Flag score >= 0.5: scores 0.9 0.6 (pos, flagged), 0.3 (pos, missed),
        // 0.7 (neg, flagged), 0.2 0.1 (neg, left alone).
        let scores = [0.9, 0.6, 0.3, 0.7, 0.2, 0.1];
        let labels = [true, true, true, false, false, false];
        let c = Confusion::at(&scores, &labels, 0.5);
        assert_eq!(
            c,
            Confusion {
                tp: 2,
                fp: 1,
                tn: 2,
                fn_: 1
            }
        );
        assert!((c.precision() - 2.0 / 3.0).abs() < 1e-12);
        assert!((c.recall() - 2.0 / 3.0).abs() < 1e-12);
        assert!((c.specificity() - 2.0 / 3.0).abs() < 1e-12);
        assert!((c.fpr() - 1.0 / 3.0).abs() < 1e-12);
        assert!((c.f1() - 4.0 / 6.0).abs() < 1e-12);
        // A score equal to the threshold is flagged.
        assert_eq!(Confusion::at(&[0.5], &[true], 0.5).tp, 1);
        // Nothing flagged: precision 0 by convention, recall 0.
        let none = Confusion::at(&scores, &labels, 2.0);
        assert_eq!(
            (none.precision(), none.recall(), none.specificity()),
            (0.0, 0.0, 1.0)
        );
    }
}
