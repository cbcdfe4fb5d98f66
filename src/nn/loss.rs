//! Loss terms over dfdx tensors, kept on the tape so a network's backward pass can run through
//! them, plus a plain-`f64` [`reference`] of each for tests and tape-free evaluation.
//!
//! Each term follows the definition of the library people will compare against:
//! [`cross_entropy`] is PyTorch's `F.cross_entropy(ignore_index=..., reduction='mean')`,
//! [`bce_with_logits`] `F.binary_cross_entropy_with_logits`, [`mse`] `F.mse_loss`, [`l1`]
//! `F.l1_loss`, [`smooth_l1`] `F.smooth_l1_loss(beta=...)`, [`sigmoid_focal`] torchvision's
//! `ops.sigmoid_focal_loss` (RetinaNet) and [`soft_dice`] the soft Dice loss of MONAI's
//! `DiceLoss(softmax=True, to_onehot_y=True, include_background=True, batch=True)`.
//!
//! Every term is built only from dfdx's portable elementwise ops, reductions and
//! `log_softmax`/`softmax`, so it runs on any dfdx device (CUDA included) with no custom
//! backward. Targets and weights arrive as host slices and become tensors on the prediction's
//! device; everything that depends only on them (ignored elements, normalisers) is worked out
//! on the host, so the taped path never reads a tensor back.
//!
//! Reduction: per-element losses `l_i` with weights `w_i >= 0` (0 = ignored, default 1) give
//! `sum(w_i l_i) / sum(w_i)`, or `sum(w_i l_i) / denom` when a `denom` is given (RetinaNet
//! divides by its number of foreground anchors). Nothing left to average (all weights 0, or a
//! `denom` of 0) gives 0 with zero gradients, never NaN.

use dfdx::prelude::*;

use super::backend::Backend;
use super::network::{dev_err, NnError};
use super::ops::{Flat, Mat};

mod reference;
#[cfg(test)]
mod tests;

pub use reference::reference;

/// The class label of a row that contributes nothing (PyTorch's `ignore_index`).
pub const IGNORE: usize = usize::MAX;

/// The Dice smoothing term used when a lesson does not choose one (MONAI uses 1e-5; 1.0 is the
/// common "Laplace" choice that keeps an empty class from dominating a small batch).
pub const DEFAULT_DICE_SMOOTH: f64 = 1.0;

/// Which loss a term computes, with its hyper-parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LossKind {
    /// Softmax cross-entropy over class scores; see [`cross_entropy`].
    CrossEntropy,
    /// Binary cross-entropy on logits; see [`bce_with_logits`].
    BceWithLogits,
    /// Mean squared error; see [`mse`].
    Mse,
    /// Mean absolute error; see [`l1`].
    L1,
    /// Huber-like smooth L1 with transition point `beta`; see [`smooth_l1`].
    SmoothL1 { beta: f64 },
    /// Sigmoid focal loss; see [`sigmoid_focal`].
    Focal { alpha: Option<f64>, gamma: f64 },
    /// Soft Dice loss over softmax probabilities; see [`soft_dice`].
    Dice { smooth: f64 },
}

impl LossKind {
    /// A short name for axis titles and tables.
    pub fn name(&self) -> &'static str {
        match self {
            LossKind::CrossEntropy => "cross-entropy",
            LossKind::BceWithLogits => "BCE with logits",
            LossKind::Mse => "MSE",
            LossKind::L1 => "L1",
            LossKind::SmoothL1 { .. } => "smooth L1",
            LossKind::Focal { .. } => "focal",
            LossKind::Dice { .. } => "Dice",
        }
    }

    /// Whether the term takes class labels ([`LossTarget::Classes`]) rather than values.
    pub fn needs_classes(&self) -> bool {
        matches!(self, LossKind::CrossEntropy | LossKind::Dice { .. })
    }
}

/// One weighted loss term of a multi-head objective (e.g. a detector's classification and box
/// terms): the head it reads, what it computes and its weight in the total.
#[derive(Debug, Clone, PartialEq)]
pub struct LossTerm {
    /// The output head (layer name) the term applies to.
    pub head: String,
    /// What the term computes.
    pub kind: LossKind,
    /// Its factor in the total loss.
    pub weight: f64,
}

/// The targets of a loss term, as host slices.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LossTarget<'a> {
    /// One class per row ([`IGNORE`] for none), for [`LossKind::needs_classes`] terms.
    Classes(&'a [usize]),
    /// One value per prediction element.
    Values(&'a [f32]),
}

/// Any term by its [`LossKind`], over predictions as `(rows, cols)`: class terms read them as
/// scores per row, value terms as one flat list. `denom` replaces the weight sum as the
/// normaliser (for [`LossKind::Dice`], which has no such normaliser, it must be `None`).
pub fn apply<D: Backend, T: Tape<f32, D> + Merge<NoneTape>>(
    kind: &LossKind,
    pred: Tensor<Mat, f32, D, T>,
    target: &LossTarget<'_>,
    weights: Option<&[f32]>,
    denom: Option<f32>,
) -> Result<Tensor<Rank0, f32, D, T>, NnError> {
    let flat = |p: Tensor<Mat, f32, D, T>| {
        let n = p.shape().num_elements();
        p.try_reshape_like(&(n,)).map_err(dev_err)
    };
    match (kind, *target) {
        (LossKind::CrossEntropy, LossTarget::Classes(c)) => {
            cross_entropy_to(pred, c, weights, denom)
        }
        (LossKind::Dice { smooth }, LossTarget::Classes(c)) => {
            if denom.is_some() {
                return Err(NnError::Shape("the Dice loss takes no denominator".into()));
            }
            soft_dice(pred, c, weights, *smooth as f32)
        }
        (LossKind::BceWithLogits, LossTarget::Values(t)) => {
            bce_with_logits(flat(pred)?, t, weights, denom)
        }
        (LossKind::Mse, LossTarget::Values(t)) => mse(flat(pred)?, t, weights, denom),
        (LossKind::L1, LossTarget::Values(t)) => l1(flat(pred)?, t, weights, denom),
        (LossKind::SmoothL1 { beta }, LossTarget::Values(t)) => {
            smooth_l1(flat(pred)?, t, *beta as f32, weights, denom)
        }
        (LossKind::Focal { alpha, gamma }, LossTarget::Values(t)) => sigmoid_focal(
            flat(pred)?,
            t,
            alpha.map(|a| a as f32),
            *gamma as f32,
            weights,
            denom,
        ),
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

/// Softmax cross-entropy with logits, as PyTorch's `F.cross_entropy(scores, classes,
/// ignore_index=IGNORE, reduction='mean')`: `l_r = logsumexp(scores_r) - scores_r[class_r]`,
/// averaged over the rows not ignored (weighted by `weights` if given, which then acts like
/// PyTorch's per-class `weight` looked up per row). Rows are examples, or pixels/anchors the
/// caller flattened.
pub fn cross_entropy<D: Backend, T: Tape<f32, D> + Merge<NoneTape>>(
    scores: Tensor<Mat, f32, D, T>,
    classes: &[usize],
    weights: Option<&[f32]>,
) -> Result<Tensor<Rank0, f32, D, T>, NnError> {
    cross_entropy_to(scores, classes, weights, None)
}

fn cross_entropy_to<D: Backend, T: Tape<f32, D> + Merge<NoneTape>>(
    scores: Tensor<Mat, f32, D, T>,
    classes: &[usize],
    weights: Option<&[f32]>,
    denom: Option<f32>,
) -> Result<Tensor<Rank0, f32, D, T>, NnError> {
    let (rows, k) = *scores.shape();
    let w = row_weights(rows, k, classes, weights)?;
    let scale = scale(&w, denom)?;
    // The weighted one-hot matrix picks -w_r * log_softmax(scores)[r, class_r] in one product
    // and one sum; an ignored row is all zeros.
    let mut pick = vec![0f32; rows * k];
    for (r, (&c, &wr)) in classes.iter().zip(&w).enumerate() {
        if c != IGNORE {
            pick[r * k + c] = wr;
        }
    }
    D::log_softmax(scores)
        .and_then(|l| D::weighted_sum(l, pick))
        .and_then(|l| l.try_mul(-scale))
        .map_err(dev_err)
}

/// Binary cross-entropy on logits, as PyTorch's `F.binary_cross_entropy_with_logits`, in its
/// stable form `max(x, 0) - x t + ln(1 + exp(-|x|))` (dfdx's `bce_with_logits` kernel).
/// Targets are probabilities in 0..=1.
pub fn bce_with_logits<D: Backend, T: Tape<f32, D> + Merge<NoneTape>>(
    logits: Tensor<Flat, f32, D, T>,
    targets: &[f32],
    weights: Option<&[f32]>,
    denom: Option<f32>,
) -> Result<Tensor<Rank0, f32, D, T>, NnError> {
    let (_, w, scale) = prepare(&logits, targets, weights, denom)?;
    let l = D::bce_with_logits(logits, targets).map_err(dev_err)?;
    reduce(l, w, scale)
}

/// Mean squared error `(x - t)^2`, as PyTorch's `F.mse_loss`.
pub fn mse<D: Backend, T: Tape<f32, D> + Merge<NoneTape>>(
    pred: Tensor<Flat, f32, D, T>,
    targets: &[f32],
    weights: Option<&[f32]>,
    denom: Option<f32>,
) -> Result<Tensor<Rank0, f32, D, T>, NnError> {
    let (t, w, scale) = prepare(&pred, targets, weights, denom)?;
    let l = pred
        .try_sub(t)
        .and_then(|d| d.try_square())
        .map_err(dev_err)?;
    reduce(l, w, scale)
}

/// Mean absolute error `|x - t|`, as PyTorch's `F.l1_loss` (gradient 0 where `x == t`).
pub fn l1<D: Backend, T: Tape<f32, D> + Merge<NoneTape>>(
    pred: Tensor<Flat, f32, D, T>,
    targets: &[f32],
    weights: Option<&[f32]>,
    denom: Option<f32>,
) -> Result<Tensor<Rank0, f32, D, T>, NnError> {
    let (t, w, scale) = prepare(&pred, targets, weights, denom)?;
    let l = pred.try_sub(t).and_then(|d| d.try_abs()).map_err(dev_err)?;
    reduce(l, w, scale)
}

/// Smooth L1, as PyTorch's `F.smooth_l1_loss(beta=beta)`: with `d = x - t`, `0.5 d^2 / beta`
/// if `|d| < beta`, else `|d| - 0.5 beta`; `beta = 0` is plain L1, as in PyTorch. This is
/// Faster R-CNN's box-regression loss; pass a foreground mask as `weights`.
pub fn smooth_l1<D: Backend, T: Tape<f32, D> + Merge<NoneTape>>(
    pred: Tensor<Flat, f32, D, T>,
    targets: &[f32],
    beta: f32,
    weights: Option<&[f32]>,
    denom: Option<f32>,
) -> Result<Tensor<Rank0, f32, D, T>, NnError> {
    if !(beta >= 0.0 && beta.is_finite()) {
        return Err(NnError::Shape(format!(
            "smooth L1 needs beta >= 0, not {beta}"
        )));
    }
    if beta == 0.0 {
        return l1(pred, targets, weights, denom);
    }
    let (t, w, scale) = prepare(&pred, targets, weights, denom)?;
    // dfdx's Huber error with delta = beta is beta times smooth L1, with the same `<` branch.
    let l = pred.try_huber_error(t, beta).map_err(dev_err)?;
    reduce(l, w, scale / beta)
}

/// Sigmoid focal loss, as torchvision's `ops.sigmoid_focal_loss` (RetinaNet): with
/// `p = sigmoid(x)`, `ce` the BCE with logits and `p_t = p t + (1 - p)(1 - t)`, the loss is
/// `ce (1 - p_t)^gamma`, times `alpha_t = alpha t + (1 - alpha)(1 - t)` if `alpha` is given.
/// torchvision's `reduction='mean'` is `denom = None` with no weights; RetinaNet uses
/// `weights` for ignored anchors and `denom` = the number of foreground anchors.
/// `gamma = 0` with no `alpha` is exactly [`bce_with_logits`].
pub fn sigmoid_focal<D: Backend, T: Tape<f32, D> + Merge<NoneTape>>(
    logits: Tensor<Flat, f32, D, T>,
    targets: &[f32],
    alpha: Option<f32>,
    gamma: f32,
    weights: Option<&[f32]>,
    denom: Option<f32>,
) -> Result<Tensor<Rank0, f32, D, T>, NnError> {
    if !(gamma >= 0.0 && gamma.is_finite()) {
        return Err(NnError::Shape(format!(
            "focal loss needs gamma >= 0, not {gamma}"
        )));
    }
    if let Some(a) = alpha {
        if !(0.0..=1.0).contains(&a) {
            return Err(NnError::Shape(format!(
                "focal loss needs alpha in 0..=1, not {a}"
            )));
        }
    }
    let (t, mut w, scale) = prepare(&logits, targets, weights, denom)?;
    // alpha_t depends only on the targets, so it joins the weights on the host; the normaliser
    // stays the weight sum (torchvision's mean is over elements, not over alpha_t).
    if let Some(a) = alpha {
        for (wi, &ti) in w.iter_mut().zip(targets) {
            *wi *= a * ti + (1.0 - a) * (1.0 - ti);
        }
    }
    if gamma == 0.0 {
        // (1 - p_t)^0 = 1 everywhere, as torch's pow gives; skipping it also skips 0^-1.
        let l = D::bce_with_logits(logits, targets).map_err(dev_err)?;
        return reduce(l, w, scale);
    }
    let dev = logits.device().clone();
    let n = targets.len();
    // The logits feed two branches; the second gets its own tape, merged back by the product.
    let x2 = logits.with_empty_tape();
    let ce = D::bce_with_logits(logits, targets).map_err(dev_err)?;
    // 1 - p_t = p (1 - t) + (1 - p) t = p (1 - 2t) + t: one product and one sum on the tape.
    let slope: Vec<f32> = targets.iter().map(|&ti| 1.0 - 2.0 * ti).collect();
    let slope = dev.try_tensor_from_vec(slope, (n,)).map_err(dev_err)?;
    // Clamped into [lo, 1]: rounding can leave 1 - p_t a hair below 0 (NaN under powf), and for
    // gamma < 1 the derivative gamma (1 - p_t)^(gamma - 1) is infinite at 0.
    let lo = if gamma < 1.0 { 1e-20 } else { 0.0 };
    let m = D::sigmoid(x2)
        .and_then(|p| p.try_mul(slope))
        .and_then(|q| q.try_add(t))
        .and_then(|q| q.try_clamp(lo, 1.0))
        .and_then(|q| D::powf(q, gamma))
        .map_err(dev_err)?;
    let l = ce.try_mul(m).map_err(dev_err)?;
    reduce(l, w, scale)
}

/// Soft Dice loss on class scores `(rows, K)`, as MONAI's `DiceLoss(softmax=True,
/// to_onehot_y=True, include_background=True, batch=True, smooth_nr=s, smooth_dr=s)`: the
/// sums run over the whole batch (all rows pooled, not one Dice per image averaged),
/// `p = softmax` over the K scores of a row,
/// `t` the one-hot target, and per class `c`
/// `dice_c = (2 sum_r w_r p_rc t_rc + s) / (sum_r w_r p_rc + sum_r w_r t_rc + s)`;
/// the loss is `1 - mean_c dice_c` over **all K classes** (background and classes absent from
/// the batch included; an absent class scores `s / (sum p_c + s)`). Rows labelled [`IGNORE`]
/// or weighted 0 are left out of every sum. `smooth` (`s`, usually
/// [`DEFAULT_DICE_SMOOTH`]) must be >= 0; with `s = 0` an all-ignored batch gives 0.
pub fn soft_dice<D: Backend, T: Tape<f32, D> + Merge<NoneTape>>(
    scores: Tensor<Mat, f32, D, T>,
    classes: &[usize],
    weights: Option<&[f32]>,
    smooth: f32,
) -> Result<Tensor<Rank0, f32, D, T>, NnError> {
    if !(smooth >= 0.0 && smooth.is_finite()) {
        return Err(NnError::Shape(format!(
            "Dice needs smooth >= 0, not {smooth}"
        )));
    }
    let (rows, k) = *scores.shape();
    let w = row_weights(rows, k, classes, weights)?;
    if smooth == 0.0 && w.iter().all(|&wi| wi == 0.0) {
        // 0/0 per class: nothing to score. Keep the tape with a zero that depends on scores.
        return scores
            .try_sum()
            .and_then(|s| s.try_mul(0.0))
            .map_err(dev_err);
    }
    // Host side: the weighted one-hot targets, every row's weight in each column, and the
    // denominator's target part plus smoothing, sum_r w_r t_rc + s.
    let mut wt = vec![0f32; rows * k];
    let mut wrow = vec![0f32; rows * k];
    let mut tsum = vec![smooth; k];
    for (r, (&c, &wr)) in classes.iter().zip(&w).enumerate() {
        wrow[r * k..(r + 1) * k].fill(wr);
        if c != IGNORE {
            wt[r * k + c] = wr;
            tsum[c] += wr;
        }
    }
    let dev = scores.device().clone();
    let e = dev_err;
    let tsum = dev.try_tensor_from_vec(tsum, (k,)).map_err(e)?;
    let p = D::softmax(scores).map_err(e)?;
    // p feeds numerator and denominator; the second branch gets its own tape (merged by div).
    let p2 = p.with_empty_tape();
    let num: Tensor<Flat, f32, D, T> = D::weighted_col_sums(p, wt)
        .and_then(|q| q.try_mul(2.0))
        .and_then(|q| q.try_add(smooth))
        .map_err(e)?;
    let den: Tensor<Flat, f32, D, T> = D::weighted_col_sums(p2, wrow)
        .and_then(|q| q.try_add(tsum))
        .map_err(e)?;
    num.try_div(den)
        .and_then(|d| d.try_mean())
        .and_then(|m| m.try_negate())
        .and_then(|m| m.try_add(1.0))
        .map_err(e)
}

/// Checks class labels and weights of `rows` rows of `k` classes; the effective row weights,
/// 0 for [`IGNORE`] rows.
fn row_weights(
    rows: usize,
    k: usize,
    classes: &[usize],
    weights: Option<&[f32]>,
) -> Result<Vec<f32>, NnError> {
    if classes.len() != rows {
        return Err(NnError::Shape(format!(
            "{} class labels for {rows} rows of scores",
            classes.len()
        )));
    }
    if let Some(&c) = classes.iter().find(|&&c| c != IGNORE && c >= k) {
        return Err(NnError::Shape(format!(
            "class label {c} but only {k} classes"
        )));
    }
    let mut w = checked_weights(rows, weights)?;
    for (wi, &c) in w.iter_mut().zip(classes) {
        if c == IGNORE {
            *wi = 0.0;
        }
    }
    Ok(w)
}

/// The weights (all 1 if none), checked: one per element, finite and >= 0.
fn checked_weights(n: usize, weights: Option<&[f32]>) -> Result<Vec<f32>, NnError> {
    let Some(w) = weights else {
        return Ok(vec![1.0; n]);
    };
    if w.len() != n {
        return Err(NnError::Shape(format!(
            "{} weights for {n} elements",
            w.len()
        )));
    }
    if let Some(x) = w.iter().find(|x| !(x.is_finite() && **x >= 0.0)) {
        return Err(NnError::Shape(format!(
            "loss weight {x} is not finite and >= 0"
        )));
    }
    Ok(w.to_vec())
}

/// The factor after the weighted sum: `1 / denom`, or `1 / sum(w)`; 0 when nothing is left to
/// average, so an empty batch gives 0 rather than 0/0.
fn scale(w: &[f32], denom: Option<f32>) -> Result<f32, NnError> {
    let d = match denom {
        Some(d) if !(d.is_finite() && d >= 0.0) => {
            return Err(NnError::Shape(format!(
                "loss denominator {d} is not finite and >= 0"
            )))
        }
        Some(d) => d as f64,
        None => w.iter().map(|&x| x as f64).sum(),
    };
    Ok(if d > 0.0 { (1.0 / d) as f32 } else { 0.0 })
}

/// A flat prediction's checked inputs: the targets on its device, the weights and the factor
/// after the weighted sum.
type Prepared<D> = (Tensor<Flat, f32, D>, Vec<f32>, f32);

/// Checks a flat prediction's targets and weights and turns them into [`Prepared`].
fn prepare<D: Backend, T>(
    pred: &Tensor<Flat, f32, D, T>,
    targets: &[f32],
    weights: Option<&[f32]>,
    denom: Option<f32>,
) -> Result<Prepared<D>, NnError> {
    let n = pred.shape().0;
    if targets.len() != n {
        return Err(NnError::Shape(format!(
            "{} targets for {n} predictions",
            targets.len()
        )));
    }
    let w = checked_weights(n, weights)?;
    let s = scale(&w, denom)?;
    let t = pred
        .device()
        .try_tensor_from_vec(targets.to_vec(), (n,))
        .map_err(dev_err)?;
    Ok((t, w, s))
}

/// `scale * sum(w_i l_i)`.
fn reduce<D: Backend, T: Tape<f32, D> + Merge<NoneTape>>(
    l: Tensor<Flat, f32, D, T>,
    w: Vec<f32>,
    scale: f32,
) -> Result<Tensor<Rank0, f32, D, T>, NnError> {
    D::weighted_sum(l, w)
        .and_then(|l| l.try_mul(scale))
        .map_err(dev_err)
}
