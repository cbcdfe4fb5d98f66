//! Training: the loop, evaluation and the learning-rate finder, reporting through an
//! [`Observer`] that the TUI, the headless runner and the tests each plug into.
//!
//! The loop knows nothing of tensors: it drives anything that implements [`Classifier`] (the
//! networks of [`crate::nn`]) over plain `f32` examples, so it can be read in one sitting.

pub mod lr_find;

use std::time::Instant;

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;

use crate::experiment::Cancelled;

/// A model the loop can train: one optimizer step on a batch, and evaluation.
pub trait Classifier {
    /// Forward, backward and one optimizer step at learning rate `lr` on a batch of
    /// `labels.len()` examples laid out one after another in `x`. Returns the mean loss and
    /// the number of examples classified correctly (before the step).
    fn train_step(&mut self, x: &[f32], labels: &[u8], lr: f64) -> anyhow::Result<(f64, usize)>;
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

/// How the learning rate changes over a run (`step` counts batches from 0 to `total`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Schedule {
    Constant,
    /// Multiply by `gamma` every `every` epochs.
    Step {
        every: usize,
        gamma: f64,
    },
    /// Cosine decay from the base rate to zero.
    Cosine,
    /// Leslie Smith's one-cycle: warm up to the base rate for the first `warmup` fraction,
    /// then anneal (cosine) to base/1e4; starts at base/25, as fastai and PyTorch do.
    OneCycle {
        warmup: f64,
    },
}

impl Schedule {
    /// The learning rate at batch `step` of `total`, with `per_epoch` batches an epoch.
    pub fn lr(&self, base: f64, step: usize, total: usize, per_epoch: usize) -> f64 {
        let t = step as f64 / total.max(1) as f64;
        let cos = |from: f64, to: f64, t: f64| {
            to + (from - to) * (1.0 + (std::f64::consts::PI * t).cos()) / 2.0
        };
        match *self {
            Schedule::Constant => base,
            Schedule::Step { every, gamma } => {
                let epoch = step / per_epoch.max(1);
                base * gamma.powi((epoch / every.max(1)) as i32)
            }
            Schedule::Cosine => cos(base, 0.0, t),
            Schedule::OneCycle { warmup } => {
                let start = base / 25.0;
                let end = base / 25.0 / 1e4;
                if t < warmup {
                    cos(start, base, t / warmup)
                } else {
                    cos(base, end, (t - warmup) / (1.0 - warmup).max(1e-9))
                }
            }
        }
    }
}

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
    pub train_loss: f64,
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
        let (mut loss_sum, mut correct) = (0.0, 0usize);
        for chunk in order.chunks(cfg.batch_size.max(1)) {
            if obs.cancelled() {
                return Err(Cancelled.into());
            }
            train.gather(chunk, &mut xb, &mut yb);
            let lr = cfg.schedule.lr(cfg.lr, step, total, per_epoch);
            let (loss, c) = model.train_step(&xb, &yb, lr)?;
            if !loss.is_finite() {
                anyhow::bail!(
                    "the loss became {loss} at epoch {epoch} (learning rate {lr:.2e} is probably too high)"
                );
            }
            loss_sum += loss * chunk.len() as f64;
            correct += c;
            step += 1;
            obs.batch(step, total, loss);
        }
        let (val_loss, val_accuracy, _) = evaluate(model, val, 256)?;
        let stats = EpochStats {
            epoch,
            train_loss: loss_sum / train.n().max(1) as f64,
            train_accuracy: correct as f64 / train.n().max(1) as f64,
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
            let (loss, _) = model.train_step(&xb, &yb, lr)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules_match_hand_values() {
        let c = Schedule::Cosine;
        assert!((c.lr(1.0, 0, 100, 10) - 1.0).abs() < 1e-12);
        assert!((c.lr(1.0, 50, 100, 10) - 0.5).abs() < 1e-12);
        assert!(c.lr(1.0, 100, 100, 10).abs() < 1e-12);
        let s = Schedule::Step {
            every: 2,
            gamma: 0.1,
        };
        assert!((s.lr(1.0, 19, 100, 10) - 1.0).abs() < 1e-12);
        assert!((s.lr(1.0, 20, 100, 10) - 0.1).abs() < 1e-12);
        assert!((s.lr(1.0, 45, 100, 10) - 0.01).abs() < 1e-12);
        let o = Schedule::OneCycle { warmup: 0.25 };
        assert!((o.lr(1.0, 0, 100, 10) - 0.04).abs() < 1e-12);
        assert!((o.lr(1.0, 25, 100, 10) - 1.0).abs() < 1e-12);
        assert!((o.lr(1.0, 100, 100, 10) - 4e-6).abs() < 1e-12);
    }
}
