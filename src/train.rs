//! Training: one loop, evaluation and the learning-rate finder, reporting through an
//! [`Observer`] that the TUI, the headless runner and the tests each plug into.
//!
//! The loop knows nothing of tensors or of what is being learnt: it drives anything that
//! implements [`Model`] over plain `f32` examples and the targets of a [`Split`] (class labels,
//! masks, images, weighted box offsets), and reports the per-epoch [`metrics`] the experiment
//! chose. Seeded batches, validation after every epoch, early stopping with the best weights
//! restored, cancellation, progress: written once, here.

pub mod anchors;
pub mod detection;
pub mod lr_find;
pub mod metrics;
pub mod model;
pub mod roc;
pub mod segmentation;
pub mod split;

use std::time::Instant;

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;

pub use crate::nn::Schedule;
use crate::nn::{Batch, Targets};
use crate::util::cancel::Cancelled;
pub use metrics::{Metric, MetricKind};
pub use model::NetModel;
pub use split::{Split, TargetData};

/// A model the loop can train: one optimizer step on a batch, and evaluation.
pub trait Model {
    /// Forward, backward and one optimizer step at learning rate `lr` on a batch of `n`
    /// examples laid out one after another in `x`, in training mode. Returns the batch's
    /// loss (before the step), in total and per term of the objective.
    fn train_step(
        &mut self,
        x: &[f32],
        n: usize,
        targets: &Targets,
        lr: f64,
    ) -> anyhow::Result<StepLoss>;
    /// The loss summed over the batch (in total and per term) and every output, in
    /// evaluation mode.
    fn evaluate(&mut self, x: &[f32], n: usize, targets: &Targets) -> anyhow::Result<Evaluated>;
    /// The names of the objective's terms, for reports (one name per entry of
    /// [`StepLoss::terms`]).
    fn term_names(&self) -> Vec<String> {
        Vec::new()
    }
    /// A copy of every weight and optimizer moment, to come back to.
    fn snapshot(&self) -> anyhow::Result<Snapshot>;
    /// Puts back what [`Model::snapshot`] took.
    fn restore(&mut self, s: &Snapshot) -> anyhow::Result<()>;
    /// Refuses a batch size whose training would need more memory than the machine can be
    /// expected to have (an allocation failure aborts the process, so it must not be tried).
    fn check_memory(&self, _batch: usize) -> anyhow::Result<()> {
        Ok(())
    }
}

/// One step's loss: the weighted total and each term before weighting.
#[derive(Debug, Clone, PartialEq)]
pub struct StepLoss {
    pub total: f64,
    pub terms: Vec<f64>,
}

/// What evaluating one batch gives.
#[derive(Debug, Clone)]
pub struct Evaluated {
    /// The objective summed over the batch's examples.
    pub loss_sum: f64,
    /// Each term summed over the batch's examples.
    pub term_sums: Vec<f64>,
    /// The model's outputs by name.
    pub outputs: Vec<(String, Batch)>,
}

/// Saved model state, opaque to the loop.
#[derive(Debug, Clone, Default)]
pub struct Snapshot(pub Vec<Vec<f32>>);

/// How many training examples the per-epoch training metrics are measured on.
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
    /// What to measure after every epoch (accuracy on the only output unless chosen).
    pub metrics: Vec<MetricKind>,
    /// Changes every training batch's inputs before the step (augmentation); validation and
    /// evaluation never see it.
    pub augment: Option<Augment>,
}

/// A seeded change of a training batch's inputs: called with the batch's inputs (`n`
/// examples) and a seed that differs for every step, the same for the same run.
#[derive(Clone)]
pub struct Augment(pub std::sync::Arc<AugmentFn>);

/// What an [`Augment`] calls: the batch's inputs, its number of examples, a seed.
pub type AugmentFn = dyn Fn(&mut [f32], usize, u64) -> anyhow::Result<()> + Send + Sync;

impl std::fmt::Debug for Augment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Augment(..)")
    }
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
            metrics: vec![MetricKind::accuracy()],
            augment: None,
        }
    }
}

/// Figures for one finished epoch.
#[derive(Debug, Clone, PartialEq)]
pub struct EpochStats {
    /// From 1.
    pub epoch: usize,
    /// Mean of the epoch's batch losses (training mode, as the weights changed).
    pub train_loss: f64,
    /// Mean of each objective term over the epoch's batches, in term order.
    pub train_terms: Vec<f64>,
    /// Each chosen metric in evaluation mode on up to 2000 training examples after the epoch.
    pub train_metrics: Vec<(String, f64)>,
    pub val_loss: f64,
    /// Each objective term on the validation set.
    pub val_terms: Vec<f64>,
    pub val_metrics: Vec<(String, f64)>,
    pub seconds: f64,
}

impl EpochStats {
    /// The validation value of metric `name` (NaN when it was not measured).
    pub fn val_metric(&self, name: &str) -> f64 {
        lookup(&self.val_metrics, name)
    }

    /// The training-probe value of metric `name` (NaN when it was not measured).
    pub fn train_metric(&self, name: &str) -> f64 {
        lookup(&self.train_metrics, name)
    }
}

fn lookup(m: &[(String, f64)], name: &str) -> f64 {
    m.iter()
        .find(|(n, _)| n == name)
        .map_or(f64::NAN, |(_, v)| *v)
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

/// The loss and metrics of a model on a split.
#[derive(Debug, Clone, Default)]
pub struct Evaluation {
    /// The objective's mean over examples.
    pub loss: f64,
    /// Each term's mean over examples.
    pub terms: Vec<f64>,
    /// Each metric asked for, by name.
    pub metrics: Vec<(String, f64)>,
}

/// Mean loss and `metrics` of `model` on `data`, in batches; `keep` is handed every batch's
/// outputs (to collect predictions).
pub fn evaluate_with<M: Model + ?Sized>(
    model: &mut M,
    data: &Split,
    batch_size: usize,
    metrics: &[MetricKind],
    mut keep: impl FnMut(&[(String, Batch)]),
) -> anyhow::Result<Evaluation> {
    data.check()?;
    let mut acc: Vec<Box<dyn Metric>> = metrics.iter().map(MetricKind::make).collect();
    let mut loss = 0.0;
    let mut terms: Vec<f64> = Vec::new();
    let idx: Vec<usize> = (0..data.n()).collect();
    let chunks: Vec<&[usize]> = idx.chunks(batch_size.max(1)).collect();
    let mut batch = Gathered::first(data, &chunks);
    for (b, chunk) in chunks.iter().enumerate() {
        let (e, next) = batch.run(data, chunks.get(b + 1).copied(), |x, targets| {
            model.evaluate(x, chunk.len(), targets)
        });
        let e = e?;
        let targets = std::mem::replace(&mut batch, next).into_targets();
        loss += e.loss_sum;
        terms.resize(e.term_sums.len(), 0.0);
        for (t, v) in terms.iter_mut().zip(&e.term_sums) {
            *t += v;
        }
        for m in &mut acc {
            m.update(&e.outputs, &targets);
        }
        keep(&e.outputs);
    }
    let n = data.n().max(1) as f64;
    Ok(Evaluation {
        loss: loss / n,
        terms: terms.iter().map(|t| t / n).collect(),
        metrics: acc.iter().map(|m| (m.name(), m.value())).collect(),
    })
}

/// One batch's inputs and targets, gathered from a [`Split`].
struct Gathered {
    x: Vec<f32>,
    targets: Targets,
    /// A buffer for the next batch (the inputs' allocation is passed from batch to batch).
    spare: Vec<f32>,
}

impl Gathered {
    /// The first of `chunks` (an empty batch when there is none).
    fn first(data: &Split, chunks: &[&[usize]]) -> Gathered {
        let mut x = Vec::new();
        let targets = data.gather(chunks.first().copied().unwrap_or(&[]), &mut x);
        Gathered {
            x,
            targets,
            spare: Vec::new(),
        }
    }

    /// Runs `work` on this batch while another thread of the pool gathers `next` (when there
    /// is one): copying the rows is done during the work of the step or evaluation it feeds,
    /// not between steps with the other core idle. The gathered batch is what it would have
    /// been in order, so nothing downstream changes by a bit.
    fn run<R>(
        &mut self,
        data: &Split,
        next: Option<&[usize]>,
        work: impl FnOnce(&[f32], &Targets) -> R,
    ) -> (R, Gathered) {
        let mut spare = std::mem::take(&mut self.spare);
        let mut targets = None;
        let r = rayon::in_place_scope(|s| {
            if let Some(idx) = next {
                let (spare, targets) = (&mut spare, &mut targets);
                s.spawn(move |_| *targets = Some(data.gather(idx, spare)));
            }
            work(&self.x, &self.targets)
        });
        let next = Gathered {
            x: spare,
            targets: targets.unwrap_or_default(),
            spare: std::mem::take(&mut self.x),
        };
        (r, next)
    }

    fn into_targets(self) -> Targets {
        self.targets
    }
}

/// A classifier's mean loss, accuracy and predicted classes on a split of labels.
pub fn evaluate<M: Model + ?Sized>(
    model: &mut M,
    data: Split,
    batch_size: usize,
) -> anyhow::Result<(f64, f64, Vec<u8>)> {
    let mut preds = Vec::with_capacity(data.n());
    let e = evaluate_with(
        model,
        &data,
        batch_size,
        &[MetricKind::accuracy()],
        |outs| {
            if let Some((_, b)) = outs.first() {
                preds.extend(metrics::argmax_rows(b).into_iter().map(|p| p as u8));
            }
        },
    )?;
    Ok((e.loss, e.metrics[0].1, preds))
}

/// How many times its first batch's loss a batch's loss may reach before training counts as
/// diverged (and at least this plus 10): a run that is learning never comes near it, one whose
/// learning rate is far too high passes it within a few batches.
pub const DIVERGE_FACTOR: f64 = 20.0;

/// Training stopped because the loss exploded or stopped being a number (issue 11, item 9).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error(
    "the loss diverged at epoch {epoch}, batch {batch}: it became {loss:.3e}, from {first:.3} \
     at the start (learning rate {lr:.2e}): try a smaller learning rate"
)]
pub struct Diverged {
    pub epoch: usize,
    /// The batch within the epoch, from 1.
    pub batch: usize,
    pub loss: f64,
    /// The first batch's loss.
    pub first: f64,
    pub lr: f64,
}

/// Whether `loss` means the run has diverged, given the first batch's.
pub fn diverged(loss: f64, first: f64) -> bool {
    !loss.is_finite() || loss > (DIVERGE_FACTOR * first).max(first + 10.0)
}

/// Trains `model` on `train`, validating on `val` after every epoch; the model ends with the
/// weights of its best validation epoch. Stops with [`Diverged`] when the loss explodes.
pub fn fit<M: Model + ?Sized>(
    model: &mut M,
    train: Split,
    val: Split,
    cfg: &TrainConfig,
    obs: &mut dyn Observer,
) -> anyhow::Result<History> {
    train.check()?;
    val.check()?;
    model.check_memory(cfg.batch_size.max(1))?;
    let t0 = Instant::now();
    let per_epoch = train.n().div_ceil(cfg.batch_size.max(1));
    let total = per_epoch * cfg.epochs;
    let mut rng = StdRng::seed_from_u64(cfg.seed);
    let mut order: Vec<usize> = (0..train.n()).collect();
    let mut history = History::default();
    let mut best: Option<(f64, Snapshot)> = None;
    let mut since_best = 0;
    let mut step = 0;
    let mut first: Option<f64> = None;
    // Metrics on the training data are measured in evaluation mode (no dropout) on a fixed
    // slice: what the model knows now, not the average over an epoch of changing weights.
    let probe = train.first(TRAIN_PROBE);
    for epoch in 1..=cfg.epochs {
        let e0 = Instant::now();
        order.shuffle(&mut rng);
        let mut loss_sum = 0.0;
        let mut term_sums: Vec<f64> = Vec::new();
        let chunks: Vec<&[usize]> = order.chunks(cfg.batch_size.max(1)).collect();
        let mut batch = Gathered::first(&train, &chunks);
        for (b, chunk) in chunks.iter().enumerate() {
            if obs.cancelled() {
                return Err(Cancelled.into());
            }
            if let Some(a) = &cfg.augment {
                (a.0)(
                    &mut batch.x,
                    chunk.len(),
                    cfg.seed ^ (step as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15),
                )?;
            }
            let lr = cfg.schedule.lr_at(cfg.lr, step);
            let (loss, next) = batch.run(&train, chunks.get(b + 1).copied(), |x, targets| {
                model.train_step(x, chunk.len(), targets, lr)
            });
            batch = next;
            let loss = loss?;
            let start = *first.get_or_insert(loss.total);
            if diverged(loss.total, start) {
                return Err(Diverged {
                    epoch,
                    batch: b + 1,
                    loss: loss.total,
                    first: start,
                    lr,
                }
                .into());
            }
            loss_sum += loss.total * chunk.len() as f64;
            term_sums.resize(loss.terms.len(), 0.0);
            for (s, t) in term_sums.iter_mut().zip(&loss.terms) {
                *s += t * chunk.len() as f64;
            }
            step += 1;
            obs.batch(step, total, loss.total);
        }
        let v = evaluate_with(model, &val, 256, &cfg.metrics, |_| {})?;
        let p = evaluate_with(model, &probe, 256, &cfg.metrics, |_| {})?;
        let n = train.n().max(1) as f64;
        let stats = EpochStats {
            epoch,
            train_loss: loss_sum / n,
            train_terms: term_sums.iter().map(|s| s / n).collect(),
            train_metrics: p.metrics,
            val_loss: v.loss,
            val_terms: v.terms,
            val_metrics: v.metrics,
            seconds: e0.elapsed().as_secs_f64(),
        };
        obs.epoch(&stats);
        let val_loss = stats.val_loss;
        history.epochs.push(stats);
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
pub fn find_lr<M: Model + ?Sized>(
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
    let mut xb = Vec::new();
    let mut batches = order.chunks(batch_size.max(1)).cycle();
    let result = (|| -> anyhow::Result<()> {
        for i in 0..num_it {
            if obs.cancelled() {
                return Err(Cancelled.into());
            }
            let lr = lr_find::lr_at(start, end, i, num_it);
            let chunk = batches.next().unwrap_or(&[]);
            let targets = train.gather(chunk, &mut xb);
            let loss = model.train_step(&xb, chunk.len(), &targets, lr)?.total;
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
