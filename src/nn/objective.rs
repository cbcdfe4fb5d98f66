//! What a training step minimises: targets for a network's outputs ([`Target`]) and a weighted
//! sum of loss terms, each on one named output ([`Objective`]). The terms themselves are the
//! functions of [`super::loss`]; the network wires each to its head (`network/backward.rs`).

use super::loss::{LossKind, LossTerm};

/// What one loss term compares an output with.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    /// One class index per example, or per pixel or anchor for an output shaped
    /// `[N, K, H, W]` (read as rows of K scores); [`super::loss::IGNORE`] marks elements that
    /// count for nothing (void pixels, anchors neither object nor background).
    Classes(Vec<usize>),
    /// Values of the output's shape (reconstruction, denoising, regression).
    Values(Vec<f32>),
    /// Values with a weight per element (0 = ignored, e.g. box offsets only where an anchor
    /// holds an object); the loss is divided by `denom`, or by the weights' sum when `None`.
    Weighted {
        values: Vec<f32>,
        weights: Vec<f32>,
        denom: Option<f32>,
    },
}

impl Target {
    /// The number of elements (classes) or values the target covers.
    pub fn len(&self) -> usize {
        match self {
            Target::Classes(c) => c.len(),
            Target::Values(v) | Target::Weighted { values: v, .. } => v.len(),
        }
    }

    /// Whether it covers nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Targets by output name; a one-output network takes one entry under any name.
pub type Targets = Vec<(String, Target)>;

/// A weighted sum of loss terms, each on one output of the network.
#[derive(Debug, Clone, PartialEq)]
pub struct Objective {
    pub terms: Vec<LossTerm>,
}

impl Objective {
    /// One term on the network's only output.
    pub fn single(kind: LossKind) -> Self {
        Objective {
            terms: vec![LossTerm {
                head: String::new(),
                kind,
                weight: 1.0,
            }],
        }
    }

    /// No terms yet; add them with [`Objective::term`].
    pub fn new() -> Self {
        Objective { terms: Vec::new() }
    }

    /// Adds `weight` times the `kind` loss on output `head`.
    pub fn term(mut self, head: &str, kind: LossKind, weight: f64) -> Self {
        self.terms.push(LossTerm {
            head: head.to_string(),
            kind,
            weight,
        });
        self
    }

    /// `cross-entropy (class) + 2 × smooth L1 (box)`, for axis titles and reports.
    pub fn describe(&self) -> String {
        let parts: Vec<String> = self
            .terms
            .iter()
            .map(|t| {
                let w = if t.weight == 1.0 {
                    String::new()
                } else {
                    format!("{} × ", t.weight)
                };
                let head = if t.head.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", t.head)
                };
                format!("{w}{}{head}", t.kind.name())
            })
            .collect();
        parts.join(" + ")
    }
}

impl std::default::Default for Objective {
    fn default() -> Self {
        Objective::new()
    }
}

impl From<LossKind> for Objective {
    fn from(kind: LossKind) -> Self {
        Objective::single(kind)
    }
}

/// Finds the target for output `head` (an empty head means the only one).
pub fn target_for<'a>(targets: &'a [(String, Target)], head: &str) -> Option<&'a Target> {
    if head.is_empty() && targets.len() == 1 {
        return targets.first().map(|(_, t)| t);
    }
    targets.iter().find(|(h, _)| h == head).map(|(_, t)| t)
}
