//! Training: the loop, evaluation and the learning-rate finder, reporting through an
//! [`Observer`] that the TUI, the headless runner and the tests each plug into.
//!
//! The loop knows nothing of tensors: it drives anything that implements [`Classifier`] (the
//! networks of [`crate::nn`]) over plain `f32` examples, so it can be read in one sitting.

pub mod lr_find;
pub mod net;

use std::time::Instant;

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;

pub use crate::nn::Schedule;
use crate::util::cancel::Cancelled;

/// A model the loop can train: one optimizer step on a batch, and evaluation.
pub trait Classifier {
    /// Forward, backward and one optimizer step at learning rate `lr` on a batch of
    /// `labels.len()` examples laid out one after another in `x`, in training mode. Returns
    /// the batch's mean loss (before the step).
    fn train_step(&mut self, x: &[f32], labels: &[u8], lr: f64) -> anyhow::Result<f64>;
    /// Loss summed over the batch and the predicted classes, in evaluation mode.
    fn evaluate(&mut self, x: &[f32], labels: &[u8]) -> anyhow::Result<(f64, Vec<u8>)>;
    /// A copy of every weight and optimizer moment, to come back to.
    fn snapshot(&self) -> anyhow::Result<Snapshot>;
    /// Puts back what [`Classifier::snapshot`] took.
    fn restore(&mut self, s: &Snapshot) -> anyhow::Result<()>;
}

/// Saved model state, opaque to the loop.
#[derive(Debug, Clone, Default)]
pub struct Snapshot(pub Vec<Vec<f32>>);

/// Examples and labels: `x` holds `labels.len()` examples of `len` values each.
#[derive(Debug, Clone, Copy)]
pub struct Split<'a> {
    pub x: &'a [f32],
    pub labels: &'a [u8],
    pub len: usize,
}

impl<'a> Split<'a> {
    pub fn new(x: &'a [f32], labels: &'a [u8]) -> Self {
        let len = if labels.is_empty() {
            0
        } else {
            x.len() / labels.len()
        };
        Split { x, labels, len }
    }

    pub fn n(&self) -> usize {
        self.labels.len()
    }

    /// Gathers the examples at `idx` into one batch.
    fn gather(&self, idx: &[usize], xb: &mut Vec<f32>, yb: &mut Vec<u8>) {
        xb.clear();
        yb.clear();
        for &i in idx {
            xb.extend_from_slice(&self.x[i * self.len..(i + 1) * self.len]);
            yb.push(self.labels[i]);
        }
    }
}

/// How many training examples the per-epoch training accuracy is measured on.
const TRAIN_PROBE: usize = 2000;

/// Settings of one training run.
#[derive(Debug, Clone)]
pub struct TrainConfig {
    pub epochs: usize,
    pub batch_size: usize,
    pub lr: f64,
    pub schedule: Schedule,
    /// Stop after this many epochs without a better validation loss, and restore the best
    /// weights. `None` trains every epoch (and still restores the best).
    pub patience: Option<usize>,
    pub seed: u64,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            epochs: 5,
            batch_size: 64,
            lr: 1e-3,
            schedule: Schedule::Constant,
            patience: None,
            seed: 0,
        }
    }
}

/// Figures for one finished epoch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EpochStats {
    /// From 1.
    pub epoch: usize,
    /// Mean of the epoch's batch losses (training mode, as the weights changed).
    pub train_loss: f64,
    /// Accuracy in evaluation mode on up to 2000 training examples after the epoch.
    pub train_accuracy: f64,
    pub val_loss: f64,
    pub val_accuracy: f64,
    pub seconds: f64,
}

/// What a training run reports as it goes.
pub trait Observer {
    /// After every batch: `step` of `total` batches done, the batch's loss.
    fn batch(&mut self, _step: usize, _total: usize, _loss: f64) {}
    /// After every epoch, with its figures.
    fn epoch(&mut self, _stats: &EpochStats) {}
    /// True once the run should stop (Esc).
    fn cancelled(&self) -> bool {
        false
    }
}

/// An observer that only records (for tests and quick runs).
#[derive(Debug, Default)]
pub struct Quiet;
impl Observer for Quiet {}

/// Everything a run produced.
#[derive(Debug, Clone, Default)]
pub struct History {
    pub epochs: Vec<EpochStats>,
    /// The epoch (from 1) whose weights the model holds at the end.
    pub best_epoch: usize,
    pub stopped_early: bool,
    pub seconds: f64,
}

/// Mean loss, accuracy and predictions of `model` on `data`, in batches.
pub fn evaluate<M: Classifier + ?Sized>(
    model: &mut M,
    data: Split,
    batch_size: usize,
) -> anyhow::Result<(f64, f64, Vec<u8>)> {
    let mut preds = Vec::with_capacity(data.n());
    let mut loss = 0.0;
    let idx: Vec<usize> = (0..data.n()).collect();
    let (mut xb, mut yb) = (Vec::new(), Vec::new());
    for chunk in idx.chunks(batch_size.max(1)) {
        data.gather(chunk, &mut xb, &mut yb);
        let (l, p) = model.evaluate(&xb, &yb)?;
        loss += l;
        preds.extend(p);
    }
    let n = data.n().max(1) as f64;
    let correct = preds
        .iter()
        .zip(data.labels)
        .filter(|(p, y)| p == y)
        .count();
    Ok((loss / n, correct as f64 / n, preds))
}

/// Trains `model` on `train`, validating on `val` after every epoch; the model ends with the
/// weights of its best validation epoch.
pub fn fit<M: Classifier + ?Sized>(
    model: &mut M,
    train: Split,
    val: Split,
    cfg: &TrainConfig,
    obs: &mut dyn Observer,
) -> anyhow::Result<History> {
    let t0 = Instant::now();
    let per_epoch = train.n().div_ceil(cfg.batch_size.max(1));
    let total = per_epoch * cfg.epochs;
    let mut rng = StdRng::seed_from_u64(cfg.seed);
    let mut order: Vec<usize> = (0..train.n()).collect();
    let (mut xb, mut yb) = (Vec::new(), Vec::new());
    let mut history = History::default();
    let mut best: Option<(f64, Snapshot)> = None;
    let mut since_best = 0;
    let mut step = 0;
    for epoch in 1..=cfg.epochs {
        let e0 = Instant::now();
        order.shuffle(&mut rng);
        let mut loss_sum = 0.0;
        for chunk in order.chunks(cfg.batch_size.max(1)) {
            if obs.cancelled() {
                return Err(Cancelled.into());
            }
            train.gather(chunk, &mut xb, &mut yb);
            let lr = cfg.schedule.lr_at(cfg.lr, step);
            let loss = model.train_step(&xb, &yb, lr)?;
            if !loss.is_finite() {
                anyhow::bail!(
                    "the loss became {loss} at epoch {epoch} (learning rate {lr:.2e} is probably too high)"
                );
            }
            loss_sum += loss * chunk.len() as f64;
            step += 1;
            obs.batch(step, total, loss);
        }
        let (val_loss, val_accuracy, _) = evaluate(model, val, 256)?;
        // Training accuracy in evaluation mode (no dropout) on a fixed slice of the training
        // data: what the model knows now, not the average over an epoch of changing weights.
        let probe = Split {
            x: &train.x[..TRAIN_PROBE.min(train.n()) * train.len],
            labels: &train.labels[..TRAIN_PROBE.min(train.n())],
            len: train.len,
        };
        let (_, train_accuracy, _) = evaluate(model, probe, 256)?;
        let stats = EpochStats {
            epoch,
            train_loss: loss_sum / train.n().max(1) as f64,
            train_accuracy,
            val_loss,
            val_accuracy,
            seconds: e0.elapsed().as_secs_f64(),
        };
        history.epochs.push(stats);
        obs.epoch(&stats);
        if best.as_ref().is_none_or(|(b, _)| val_loss < *b) {
            best = Some((val_loss, model.snapshot()?));
            history.best_epoch = epoch;
            since_best = 0;
        } else {
            since_best += 1;
            if cfg.patience.is_some_and(|p| since_best >= p) {
                history.stopped_early = true;
                break;
            }
        }
    }
    if let Some((_, snap)) = &best {
        if history.best_epoch != history.epochs.len() {
            model.restore(snap)?;
        }
    }
    history.seconds = t0.elapsed().as_secs_f64();
    Ok(history)
}

/// The result of a learning-rate range test.
#[derive(Debug, Clone)]
pub struct LrFind {
    pub lrs: Vec<f64>,
    /// Smoothed losses, one per learning rate tried.
    pub losses: Vec<f64>,
    pub suggestions: Option<lr_find::Suggestions>,
}

/// Runs the range test on `train` (fastai's defaults unless given) and restores the model's
/// weights afterwards, so the test leaves no trace on the run that follows.
pub fn find_lr<M: Classifier + ?Sized>(
    model: &mut M,
    train: Split,
    batch_size: usize,
    range: (f64, f64, usize),
    seed: u64,
    obs: &mut dyn Observer,
) -> anyhow::Result<LrFind> {
    let (start, end, num_it) = range;
    let saved = model.snapshot()?;
    let mut rng = StdRng::seed_from_u64(seed);
    let mut order: Vec<usize> = (0..train.n()).collect();
    order.shuffle(&mut rng);
    let mut smoother = lr_find::Smoother::new(lr_find::BETA);
    let (mut lrs, mut losses) = (Vec::new(), Vec::new());
    let (mut xb, mut yb) = (Vec::new(), Vec::new());
    let mut batches = order.chunks(batch_size.max(1)).cycle();
    let result = (|| -> anyhow::Result<()> {
        for i in 0..num_it {
            if obs.cancelled() {
                return Err(Cancelled.into());
            }
            let lr = lr_find::lr_at(start, end, i, num_it);
            let chunk = batches.next().unwrap_or(&[]);
            train.gather(chunk, &mut xb, &mut yb);
            let loss = model.train_step(&xb, &yb, lr)?;
            let smooth = smoother.push(loss);
            lrs.push(lr);
            losses.push(smooth);
            obs.batch(i + 1, num_it, loss);
            if smoother.diverged(smooth) {
                break;
            }
        }
        Ok(())
    })();
    model.restore(&saved)?;
    result?;
    let suggestions = lr_find::suggest(&lrs, &losses);
    Ok(LrFind {
        lrs,
        losses,
        suggestions,
    })
}
