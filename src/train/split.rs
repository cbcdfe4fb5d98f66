//! Examples and what they should produce, as the loop sees them: inputs laid out one after
//! another, and per named output a target column (class labels, per-element classes such as
//! masks or anchors, images, or weighted values such as box offsets with a foreground mask).
//! Batches are gathered from here by index, so any target trains through the same loop.

use crate::nn::{Target, Targets};

/// One output's targets for every example of a split.
#[derive(Debug, Clone, Copy)]
pub enum TargetData<'a> {
    /// One class per example (digit labels).
    Labels(&'a [u8]),
    /// `per` classes per example: a mask's pixels, an image's anchors; `nn::IGNORE` elements
    /// count for nothing.
    Classes { classes: &'a [usize], per: usize },
    /// `per` values per example: a clean image to reconstruct, box offsets.
    Values { values: &'a [f32], per: usize },
    /// `per` values with a weight each (0 = ignored); the loss is divided by the batch's sum
    /// of `norm` (one number per example, e.g. its count of object anchors) when given, by
    /// the weights' sum otherwise.
    Weighted {
        values: &'a [f32],
        weights: &'a [f32],
        norm: Option<&'a [f32]>,
        per: usize,
    },
}

impl TargetData<'_> {
    /// The number of examples this column covers.
    pub fn examples(&self) -> usize {
        match self {
            TargetData::Labels(l) => l.len(),
            TargetData::Classes { classes, per } => classes.len() / (*per).max(1),
            TargetData::Values { values, per } | TargetData::Weighted { values, per, .. } => {
                values.len() / (*per).max(1)
            }
        }
    }

    /// The targets of the examples at `idx`, as one batch's target.
    pub fn gather(&self, idx: &[usize]) -> Target {
        fn rows<T: Copy>(src: &[T], per: usize, idx: &[usize]) -> Vec<T> {
            let mut out = Vec::with_capacity(idx.len() * per);
            for &i in idx {
                out.extend_from_slice(&src[i * per..(i + 1) * per]);
            }
            out
        }
        match *self {
            TargetData::Labels(l) => Target::Classes(idx.iter().map(|&i| l[i] as usize).collect()),
            TargetData::Classes { classes, per } => Target::Classes(rows(classes, per, idx)),
            TargetData::Values { values, per } => Target::Values(rows(values, per, idx)),
            TargetData::Weighted {
                values,
                weights,
                norm,
                per,
            } => Target::Weighted {
                values: rows(values, per, idx),
                weights: rows(weights, per, idx),
                denom: norm.map(|n| idx.iter().map(|&i| n[i]).sum()),
            },
        }
    }
}

/// Inputs and targets: `x` holds `n` examples of `len` values each.
#[derive(Debug, Clone)]
pub struct Split<'a> {
    pub x: &'a [f32],
    pub len: usize,
    n: usize,
    /// Targets by output name; an empty name is the network's only output.
    pub targets: Vec<(String, TargetData<'a>)>,
}

impl<'a> Split<'a> {
    /// Examples with one class label each, for a one-output classifier.
    pub fn new(x: &'a [f32], labels: &'a [u8]) -> Self {
        Split::with_targets(
            x,
            labels.len(),
            vec![(String::new(), TargetData::Labels(labels))],
        )
    }

    /// `n` examples with any targets (each column must cover `n` examples).
    pub fn with_targets(x: &'a [f32], n: usize, targets: Vec<(String, TargetData<'a>)>) -> Self {
        let len = x.len().checked_div(n).unwrap_or(0);
        Split { x, len, n, targets }
    }

    /// Number of examples.
    pub fn n(&self) -> usize {
        self.n
    }

    /// The class labels of a one-output classifier's split, if that is what it holds.
    pub fn labels(&self) -> Option<&'a [u8]> {
        match self.targets.first() {
            Some((_, TargetData::Labels(l))) => Some(l),
            _ => None,
        }
    }

    /// The first `k` examples (or all, if fewer).
    pub fn first(&self, k: usize) -> Split<'a> {
        let k = k.min(self.n);
        let targets = self
            .targets
            .iter()
            .map(|(h, t)| {
                let t = match *t {
                    TargetData::Labels(l) => TargetData::Labels(&l[..k]),
                    TargetData::Classes { classes, per } => TargetData::Classes {
                        classes: &classes[..k * per],
                        per,
                    },
                    TargetData::Values { values, per } => TargetData::Values {
                        values: &values[..k * per],
                        per,
                    },
                    TargetData::Weighted {
                        values,
                        weights,
                        norm,
                        per,
                    } => TargetData::Weighted {
                        values: &values[..k * per],
                        weights: &weights[..k * per],
                        norm: norm.map(|n| &n[..k]),
                        per,
                    },
                };
                (h.clone(), t)
            })
            .collect();
        Split {
            x: &self.x[..k * self.len],
            len: self.len,
            n: k,
            targets,
        }
    }

    /// Checks that every target column covers every example.
    pub fn check(&self) -> anyhow::Result<()> {
        for (h, t) in &self.targets {
            if t.examples() != self.n {
                anyhow::bail!(
                    "output \"{h}\" has targets for {} examples, the inputs {}",
                    t.examples(),
                    self.n
                );
            }
        }
        Ok(())
    }

    /// Gathers the examples at `idx` into one batch: inputs into `xb`, and the targets.
    pub fn gather(&self, idx: &[usize], xb: &mut Vec<f32>) -> Targets {
        xb.clear();
        for &i in idx {
            xb.extend_from_slice(&self.x[i * self.len..(i + 1) * self.len]);
        }
        self.targets
            .iter()
            .map(|(h, t)| (h.clone(), t.gather(idx)))
            .collect()
    }
}
