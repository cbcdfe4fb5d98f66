//! Reading class scores: the predicted class of each row, softmax probabilities, accuracy.

use super::network::Logits;

/// The index of the largest score of each row of `[N, K]` scores.
pub fn predictions(logits: &Logits) -> Vec<usize> {
    let k = logits.shape.get(1).copied().unwrap_or(1).max(1);
    logits
        .data
        .chunks(k)
        .map(|row| {
            row.iter()
                .enumerate()
                .fold((0, f32::NEG_INFINITY), |(bi, bv), (i, &v)| {
                    if v > bv {
                        (i, v)
                    } else {
                        (bi, bv)
                    }
                })
                .0
        })
        .collect()
}

/// Softmax of each row of `[N, K]` scores: class probabilities, rows summing to 1.
pub fn probabilities(logits: &Logits) -> Vec<f32> {
    let k = logits.shape.get(1).copied().unwrap_or(1).max(1);
    let mut out = Vec::with_capacity(logits.data.len());
    for row in logits.data.chunks(k) {
        // Shifting by the maximum keeps exp() from overflowing.
        let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let exps: Vec<f32> = row.iter().map(|v| (v - max).exp()).collect();
        let sum: f32 = exps.iter().sum();
        out.extend(exps.iter().map(|e| e / sum));
    }
    out
}

/// The fraction of rows whose largest score is the labelled class.
pub fn accuracy(logits: &Logits, classes: &[usize]) -> f32 {
    let p = predictions(logits);
    if p.is_empty() {
        return 0.0;
    }
    let right = p.iter().zip(classes).filter(|(a, b)| a == b).count();
    right as f32 / p.len() as f32
}
