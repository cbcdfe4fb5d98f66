//! Lesson 8: the training craft, every claim shown with the learner's own runs on MNIST.
//! Augmentation (and lesson 3's shifted-digit test revisited), batch norm at a learning rate
//! the plain network cannot take, dropout and weight decay against overfitting, learning-rate
//! schedules fed by the LR finder, and initialisation. The hyperparameter search with its
//! stored runs table is [`search`]; checkpoints are [`checkpoint`].

pub mod checkpoint;
pub mod search;

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use super::common::{self, Budget, Live, Prepared};
use super::mlp_cnn;
use crate::data::transforms::{self, Transform};
use crate::data::{self, Dataset, Normalization};
use crate::experiments::kit::{self, metrics, params, Ctx, Emit, Experiment};
use crate::nn::{NetSpec, Network, Optimizer, Schedule};
use crate::output::{Output, Picture, Plot, Series, SeriesStyle, Table};
use crate::train::{self, Augment, History, NetModel, TrainConfig};

/// Share of the training images held out for validation.
const VAL_FRACTION: f64 = 0.1;
const BATCH: usize = 64;

/// `train_size` MNIST training digits (seeded subset) split into training and validation,
/// and the whole test set, normalised; and the raw (0..1) test set for shifting.
pub fn mnist(train_size: usize, seed: u64) -> anyhow::Result<(Prepared, Dataset)> {
    let full = data::mnist(data::Split::Train)?;
    let raw = if train_size < full.n {
        full.subset(train_size, seed)?
    } else {
        full
    };
    let test = data::mnist(data::Split::Test)?;
    Ok((Prepared::new(&raw, &test, VAL_FRACTION, seed)?, test))
}

/// The lesson's augmentation pipeline: a random rotation and scale, a random shift, then
/// (when `noise > 0`) Gaussian noise clipped to 0..1.
pub fn pipeline(shift: usize, degrees: f32, scale: f32, noise: f32) -> Vec<Transform> {
    let mut t = vec![
        Transform::RandomAffine { degrees, scale },
        Transform::RandomShift { max: shift },
    ];
    if noise > 0.0 {
        t.push(Transform::GaussianNoise {
            std: noise,
            clip: true,
        });
    }
    t
}

/// `transforms` as a training-batch augmentation for images normalised with `norm`: each batch
/// is turned back into 0..1 pixels, transformed, and normalised again.
pub fn augmenter(norm: Normalization, h: usize, w: usize, transforms: Vec<Transform>) -> Augment {
    Augment(Arc::new(move |x: &mut [f32], _n: usize, seed: u64| {
        for v in x.iter_mut() {
            *v = norm.invert(*v);
        }
        transforms::apply_all(&transforms, x, h, w, seed)?;
        norm.apply(x);
        Ok(())
    }))
}

/// The lesson's training settings: batches of [`BATCH`], `epochs` passes at `lr`, seeded.
fn config(epochs: usize, lr: f64, seed: u64) -> TrainConfig {
    TrainConfig {
        epochs,
        batch_size: BATCH,
        lr,
        seed,
        ..TrainConfig::default()
    }
}

/// Progress units for `runs` trainings of `epochs` passes over `data`'s training set.
fn budget(data: &Prepared, runs: usize, epochs: usize) -> Budget {
    Budget {
        done: 0,
        total: runs * data.train.n.div_ceil(BATCH) * epochs,
    }
}

/// A classifier from its network file with Adam at `lr`.
fn model(net: &str, seed: u64, lr: f64) -> anyhow::Result<NetModel> {
    common::classifier(Path::new(net), seed, lr)
}

/// Trains `m` on `data` with live curves under `key`; returns the history and the seconds.
#[allow(clippy::too_many_arguments)]
fn train_live(
    ctx: &mut dyn Ctx,
    plot: &mut Plot,
    key: &str,
    name: &str,
    budget: &mut Budget,
    m: &mut NetModel,
    data: &Prepared,
    cfg: &TrainConfig,
) -> anyhow::Result<(History, f64)> {
    let batches = data.train.n.div_ceil(cfg.batch_size);
    let t0 = Instant::now();
    let mut live = Live::new(ctx, plot, key, name, budget, 1, batches, cfg.epochs);
    let h = train::fit(
        m,
        common::split(&data.train),
        common::split(&data.val),
        cfg,
        &mut live,
    )?;
    Ok((h, t0.elapsed().as_secs_f64()))
}

/// The last epoch's validation accuracy.
fn last_val_accuracy(h: &History) -> f64 {
    h.epochs.last().map_or(0.0, |e| e.val_metric("accuracy"))
}

params! {
    /// Parameters of `craft.augment`.
    pub struct AugmentParams {
        shift: i64 = 3, Int { min: 0, max: 8 }, "largest random shift (pixels)";
        degrees: f64 = 12.0, Float { min: 0.0, max: 90.0 }, "largest random rotation (degrees)";
        scale: f64 = 0.1, Float { min: 0.0, max: 0.5 }, "random scale between 1 − this and 1 + this";
        noise: f64 = 0.0, Float { min: 0.0, max: 0.5 }, "Gaussian noise σ (0: none)";
        seed: i64 = 1, Int { min: 0, max: 9999 }, "which random draws";
    }
}

metrics! {
    /// What `craft.augment` reports.
    pub enum AugmentMetric {
        MeanChange = "mean_change",
    }
}

/// The augmentation pipeline on a few digits: three random versions of each.
pub static AUGMENT: Experiment = Experiment {
    name: "craft.augment",
    summary: "A seeded augmentation pipeline (rotation, scale, shift, noise) drawn on a few digits",
    params: AugmentParams::SPECS,
    metrics: AugmentMetric::NAMES,
    long: false,
    run: |p, ctx| kit::typed(&AUGMENT, p, ctx, augment_shown),
};

fn augment_shown(p: AugmentParams, ctx: &mut Emit<'_, AugmentMetric>) -> anyhow::Result<()> {
    const SHOWN: usize = 5;
    const VERSIONS: usize = 3;
    let digits = data::mnist(data::Split::Train)?.subset(SHOWN, p.seed as u64)?;
    let t = pipeline(
        p.shift as usize,
        p.degrees as f32,
        p.scale as f32,
        p.noise as f32,
    );
    let mut rows = Vec::new();
    let mut change = 0.0;
    for v in 0..VERSIONS {
        let mut moved = digits.clone();
        transforms::apply_all(
            &t,
            &mut moved.images,
            digits.h,
            digits.w,
            transforms::derive_seed(p.seed as u64, v as u64),
        )?;
        change += moved
            .images
            .iter()
            .zip(&digits.images)
            .map(|(a, b)| (a - b).abs() as f64)
            .sum::<f64>()
            / moved.images.len() as f64;
        rows.push(moved);
    }
    let mut pics = Vec::new();
    for i in 0..digits.n {
        pics.push(Picture {
            caption: format!("digit {}", digits.labels[i]),
            image: mlp_cnn::digit_picture(&digits, i),
        });
        for (v, moved) in rows.iter().enumerate() {
            pics.push(Picture {
                caption: format!("draw {}", v + 1),
                image: mlp_cnn::digit_picture(moved, i),
            });
        }
    }
    ctx.show("digits", Output::Pictures(pics));
    let names: Vec<String> = t.iter().map(|x| x.to_string()).collect();
    ctx.show(
        "pipeline",
        Output::Text(format!(
            "The pipeline, in order: {}. Every training batch gets fresh draws; validation and \
             test images are never changed.",
            names.join(", then ")
        )),
    );
    ctx.emit(AugmentMetric::MeanChange, change / VERSIONS as f64);
    Ok(())
}

params! {
    /// Parameters of `craft.shifted`.
    pub struct ShiftedParams {
        net: String = "nets/lesson3_cnn.toml", File, "the CNN's network file (lesson 3's)";
        train_size: i64 = 6000, Int { min: 500, max: 60000 }, "training digits";
        epochs: i64 = 3, Int { min: 1, max: 20 }, "passes over the training digits";
        lr: f64 = 2e-3, Float { min: 1e-5, max: 0.1 }, "Adam learning rate";
        shift: i64 = 3, Int { min: 1, max: 6 }, "test shift (pixels, in each of 4 directions)";
        aug_shift: i64 = 3, Int { min: 0, max: 8 }, "largest random shift in training";
        degrees: f64 = 12.0, Float { min: 0.0, max: 45.0 }, "largest random rotation in training";
        scale: f64 = 0.1, Float { min: 0.0, max: 0.4 }, "random scale in training, 1 ± this";
        seed: i64 = 1, Int { min: 0, max: 9999 }, "seed for the data, weights and batches";
    }
}

metrics! {
    /// What `craft.shifted` reports.
    pub enum ShiftedMetric {
        TestAccuracyPlain = "test_accuracy_plain",
        TestAccuracyAugmented = "test_accuracy_augmented",
        ShiftedAccuracyPlain = "shifted_accuracy_plain",
        ShiftedAccuracyAugmented = "shifted_accuracy_augmented",
    }
}

/// Lesson 3's CNN trained plainly and with augmentation, both tested on shifted digits.
pub static SHIFTED: Experiment = Experiment {
    name: "craft.shifted",
    summary: "Lesson 3's CNN trained with and without augmentation; accuracy on test digits and on shifted ones",
    params: ShiftedParams::SPECS,
    metrics: ShiftedMetric::NAMES,
    long: true,
    run: |p, ctx| kit::typed(&SHIFTED, p, ctx, shifted),
};

fn shifted(p: ShiftedParams, ctx: &mut Emit<'_, ShiftedMetric>) -> anyhow::Result<()> {
    let seed = p.seed as u64;
    let epochs = p.epochs as usize;
    let (data, raw_test) = mnist(p.train_size as usize, seed)?;
    let mut budget = budget(&data, 2, epochs);
    let aug = augmenter(
        data.norm,
        data.train.h,
        data.train.w,
        pipeline(p.aug_shift as usize, p.degrees as f32, p.scale as f32, 0.0),
    );
    let plain_cfg = config(epochs, p.lr, seed);
    let aug_cfg = TrainConfig {
        augment: Some(aug),
        ..plain_cfg.clone()
    };
    ctx.show(
        "data",
        Output::Text(format!(
            "{} training and {} validation digits, {} test digits. The augmented run draws a \
             rotation up to ±{}°, a scale of 1 ± {} and a shift up to {} px for every training \
             image of every batch.",
            data.train.n, data.val.n, data.test.n, p.degrees, p.scale, p.aug_shift
        )),
    );
    let mut plot = common::loss_plot(
        "Loss per epoch: plain vs augmented training",
        epochs,
        "cross-entropy",
    );
    let mut rows = Vec::new();
    let mut scores = Vec::new();
    for (name, cfg) in [("plain", &plain_cfg), ("augmented", &aug_cfg)] {
        let mut m = model(&p.net, seed, p.lr)?;
        let (_, secs) = train_live(
            ctx,
            &mut plot,
            "curves",
            name,
            &mut budget,
            &mut m,
            &data,
            cfg,
        )?;
        let (_, test_acc, _) = train::evaluate(&mut m, common::split(&data.test), 256)?;
        let moved = mlp_cnn::shifted_accuracy(&mut m, &raw_test, &data, p.shift as i32)?;
        rows.push(vec![
            name.to_string(),
            common::pct(test_acc),
            common::pct(moved),
            format!("{:+.1} points", 100.0 * (moved - test_acc)),
            format!("{secs:.1} s"),
        ]);
        scores.push((test_acc, moved));
    }
    ctx.show(
        "results",
        Output::Table(Table {
            title: Some(format!(
                "Test accuracy, and on the test digits shifted by {} px (mean of 4 directions)",
                p.shift
            )),
            header: ["training", "test", "shifted", "change", "time"]
                .map(String::from)
                .to_vec(),
            rows,
        }),
    );
    let (plain, aug) = (scores[0], scores[1]);
    let gap = plain.0 - plain.1;
    let closed = if gap > 0.0 {
        (aug.1 - plain.1) / gap
    } else {
        0.0
    };
    ctx.show(
        "gap",
        Output::Text(format!(
            "Shifting costs the plain CNN {:.1} points; augmentation wins back {:.1} of them \
             ({} of the gap).",
            100.0 * gap,
            100.0 * (aug.1 - plain.1),
            common::pct(closed)
        )),
    );
    use ShiftedMetric as M;
    ctx.emit(M::TestAccuracyPlain, plain.0);
    ctx.emit(M::TestAccuracyAugmented, aug.0);
    ctx.emit(M::ShiftedAccuracyPlain, plain.1);
    ctx.emit(M::ShiftedAccuracyAugmented, aug.1);
    Ok(())
}

params! {
    /// Parameters of `craft.batchnorm`.
    pub struct BatchNormParams {
        plain: String = "nets/lesson8_cnn.toml", File, "the CNN without batch norm";
        bn: String = "nets/lesson8_cnn_bn.toml", File, "the same CNN with batch norm";
        lr: f64 = 0.05, Float { min: 1e-4, max: 1.0 }, "Adam learning rate, the same for both";
        train_size: i64 = 6000, Int { min: 500, max: 60000 }, "training digits";
        epochs: i64 = 3, Int { min: 1, max: 20 }, "passes over the training digits";
        seed: i64 = 1, Int { min: 0, max: 9999 }, "seed for the data, weights and batches";
    }
}

metrics! {
    /// What `craft.batchnorm` reports.
    pub enum BatchNormMetric {
        ValAccuracyBn = "val_accuracy_bn",
        ValAccuracyNoBn = "val_accuracy_no_bn",
    }
}

/// The same CNN with and without batch norm at one high learning rate.
pub static BATCHNORM: Experiment = Experiment {
    name: "craft.batchnorm",
    summary: "The same CNN with and without batch norm at a high learning rate: curves and validation accuracy",
    params: BatchNormParams::SPECS,
    metrics: BatchNormMetric::NAMES,
    long: true,
    run: |p, ctx| kit::typed(&BATCHNORM, p, ctx, batchnorm),
};

fn batchnorm(p: BatchNormParams, ctx: &mut Emit<'_, BatchNormMetric>) -> anyhow::Result<()> {
    let seed = p.seed as u64;
    let epochs = p.epochs as usize;
    let (data, _) = mnist(p.train_size as usize, seed)?;
    let mut budget = budget(&data, 2, epochs);
    let cfg = config(epochs, p.lr, seed);
    let mut plot = common::loss_plot(
        &format!("Loss per epoch at learning rate {}", p.lr),
        epochs,
        "cross-entropy",
    );
    let mut rows = Vec::new();
    let mut accs = Vec::new();
    for (name, net) in [("no batch norm", &p.plain), ("batch norm", &p.bn)] {
        let spec = NetSpec::load(Path::new(net))?;
        let mut m = NetModel::new(Network::new(&spec, seed)?, Optimizer::adam(p.lr));
        let (params, _) = m.net.param_counts();
        let t0 = Instant::now();
        let run = train_live(
            ctx,
            &mut plot,
            "curves",
            name,
            &mut budget,
            &mut m,
            &data,
            &cfg,
        );
        let (acc, by_epoch) = match run {
            Ok((h, _)) => (
                last_val_accuracy(&h),
                h.epochs
                    .iter()
                    .map(|e| common::pct(e.val_metric("accuracy")))
                    .collect::<Vec<_>>()
                    .join(" → "),
            ),
            Err(e) if e.is::<crate::util::cancel::Cancelled>() => return Err(e),
            // A diverged run is a result here, not a failure: score what is left of it.
            Err(e) => {
                let (_, acc, _) = train::evaluate(&mut m, common::split(&data.val), 256)?;
                (acc, format!("diverged ({e}); now {}", common::pct(acc)))
            }
        };
        rows.push(vec![
            name.to_string(),
            crate::nn::summary::fmt_count(params),
            by_epoch,
            format!("{:.1} s", t0.elapsed().as_secs_f64()),
        ]);
        accs.push(acc);
    }
    ctx.show(
        "results",
        Output::Table(Table {
            title: Some(format!(
                "Validation accuracy after each epoch, Adam at {} for both",
                p.lr
            )),
            header: [
                "network",
                "parameters",
                "validation accuracy by epoch",
                "time",
            ]
            .map(String::from)
            .to_vec(),
            rows,
        }),
    );
    ctx.emit(BatchNormMetric::ValAccuracyNoBn, accs[0]);
    ctx.emit(BatchNormMetric::ValAccuracyBn, accs[1]);
    Ok(())
}

params! {
    /// Parameters of `craft.regularize`.
    pub struct RegularizeParams {
        plain: String = "nets/lesson8_mlp.toml", File, "the MLP without dropout";
        dropout: String = "nets/lesson8_mlp_dropout.toml", File, "the same MLP with dropout";
        weight_decay: f64 = 1.0, Float { min: 0.0, max: 5.0 },
            "AdamW's decoupled weight decay for the regularised run";
        train_size: i64 = 600, Int { min: 100, max: 60000 }, "training digits (few, so it overfits)";
        epochs: i64 = 40, Int { min: 1, max: 100 }, "passes over the training digits";
        lr: f64 = 1e-3, Float { min: 1e-5, max: 0.1 }, "learning rate";
        seed: i64 = 1, Int { min: 0, max: 9999 }, "seed for the data, weights and batches";
    }
}

metrics! {
    /// What `craft.regularize` reports.
    pub enum RegularizeMetric {
        TrainAccuracyPlain = "train_accuracy_plain",
        ValAccuracyPlain = "val_accuracy_plain",
        TrainAccuracyRegularized = "train_accuracy_regularized",
        ValAccuracyRegularized = "val_accuracy_regularized",
        ValLossRisePlain = "val_loss_rise_plain",
        ValLossRiseRegularized = "val_loss_rise_regularized",
    }
}

/// Overfitting a small training set, and the same run with dropout and weight decay.
pub static REGULARIZE: Experiment = Experiment {
    name: "craft.regularize",
    summary: "An MLP overfits a few hundred digits (curves diverge); the same with dropout and weight decay",
    params: RegularizeParams::SPECS,
    metrics: RegularizeMetric::NAMES,
    long: true,
    run: |p, ctx| kit::typed(&REGULARIZE, p, ctx, regularize),
};

fn regularize(p: RegularizeParams, ctx: &mut Emit<'_, RegularizeMetric>) -> anyhow::Result<()> {
    let seed = p.seed as u64;
    let epochs = p.epochs as usize;
    // A small training set, but a validation set big enough to measure it: 1,000 more digits.
    let full = data::mnist(data::Split::Train)?;
    let pool = full.subset((p.train_size as usize + 1000).min(full.n), seed)?;
    let test = data::mnist(data::Split::Test)?;
    let data = Prepared::new(&pool, &test, 1000.0 / pool.n as f64, seed)?;
    let mut budget = budget(&data, 2, epochs);
    let cfg = config(epochs, p.lr, seed);
    let mut plot = common::loss_plot(
        &format!(
            "Loss per epoch on {} training digits: train (lines) vs validation (points)",
            data.train.n
        ),
        epochs,
        "cross-entropy",
    );
    let mut rows = Vec::new();
    let mut out = Vec::new();
    for (name, net, wd) in [
        ("plain", &p.plain, 0.0),
        ("dropout + weight decay", &p.dropout, p.weight_decay),
    ] {
        let spec = NetSpec::load(Path::new(net))?;
        let opt = if wd > 0.0 {
            Optimizer::adamw(p.lr, wd)
        } else {
            Optimizer::adam(p.lr)
        };
        let mut m = NetModel::new(Network::new(&spec, seed)?, opt);
        let (h, _) = train_live(
            ctx,
            &mut plot,
            "curves",
            name,
            &mut budget,
            &mut m,
            &data,
            &cfg,
        )?;
        let last = h.epochs.last().cloned();
        let (train_acc, val_acc) = last.as_ref().map_or((0.0, 0.0), |e| {
            (e.train_metric("accuracy"), e.val_metric("accuracy"))
        });
        let best_val = h
            .epochs
            .iter()
            .map(|e| e.val_loss)
            .fold(f64::INFINITY, f64::min);
        let rise = last.as_ref().map_or(0.0, |e| e.val_loss - best_val);
        rows.push(vec![
            name.to_string(),
            common::pct(train_acc),
            common::pct(val_acc),
            format!("{:.1} points", 100.0 * (train_acc - val_acc)),
            format!("{best_val:.3} (epoch {})", h.best_epoch),
            format!("{:.3}", last.as_ref().map_or(0.0, |e| e.val_loss)),
        ]);
        out.push((train_acc, val_acc, rise));
    }
    ctx.show(
        "results",
        Output::Table(Table {
            title: Some(format!("After {epochs} epochs")),
            header: [
                "run",
                "train accuracy",
                "validation accuracy",
                "gap",
                "best validation loss",
                "final validation loss",
            ]
            .map(String::from)
            .to_vec(),
            rows,
        }),
    );
    use RegularizeMetric as M;
    ctx.emit(M::TrainAccuracyPlain, out[0].0);
    ctx.emit(M::ValAccuracyPlain, out[0].1);
    ctx.emit(M::ValLossRisePlain, out[0].2);
    ctx.emit(M::TrainAccuracyRegularized, out[1].0);
    ctx.emit(M::ValAccuracyRegularized, out[1].1);
    ctx.emit(M::ValLossRiseRegularized, out[1].2);
    Ok(())
}

params! {
    /// Parameters of `craft.schedules`.
    pub struct SchedulesParams {
        net: String = "nets/lesson8_cnn_bn.toml", File, "the network trained";
        train_size: i64 = 2000, Int { min: 500, max: 60000 }, "training digits";
        epochs: i64 = 3, Int { min: 1, max: 20 }, "passes over the training digits";
        seed: i64 = 1, Int { min: 0, max: 9999 }, "seed for the data, weights and batches";
    }
}

metrics! {
    /// What `craft.schedules` reports.
    pub enum SchedulesMetric {
        LrSuggestion = "lr_suggestion",
        ValAccuracyConstant = "val_accuracy_constant",
        ValAccuracyOnecycle = "val_accuracy_onecycle",
    }
}

/// Four schedules drawn, then constant vs one-cycle at the LR finder's suggestion.
pub static SCHEDULES: Experiment = Experiment {
    name: "craft.schedules",
    summary: "Constant, step, cosine and one-cycle schedules drawn; the LR finder's rate used constant and as one-cycle's peak",
    params: SchedulesParams::SPECS,
    metrics: SchedulesMetric::NAMES,
    long: true,
    run: |p, ctx| kit::typed(&SCHEDULES, p, ctx, schedules),
};

fn schedule_plot(base: f64, total: usize) -> Plot {
    let kinds = [
        ("constant", Schedule::Constant),
        (
            "step (×0.1 every third)",
            Schedule::Step {
                every: total.div_ceil(3).max(1),
                gamma: 0.1,
            },
        ),
        ("cosine", Schedule::Cosine { total, min_lr: 0.0 }),
        (
            "one-cycle",
            Schedule::OneCycle {
                total,
                pct_start: 0.3,
            },
        ),
    ];
    let every = (total / 200).max(1);
    Plot {
        title: format!("Learning rate per step, peak {base:.2e}, {total} steps"),
        x_label: "step".into(),
        y_label: "learning rate".into(),
        x_log: false,
        series: kinds
            .iter()
            .map(|(name, s)| Series {
                colour: None,
                name: name.to_string(),
                points: (0..total)
                    .step_by(every)
                    .map(|i| (i as f64, s.lr_at(base, i)))
                    .collect(),
                style: SeriesStyle::Line,
            })
            .collect(),
        marks: Vec::new(),
        x_range: Some((0.0, total as f64)),
    }
}

fn schedules(p: SchedulesParams, ctx: &mut Emit<'_, SchedulesMetric>) -> anyhow::Result<()> {
    let seed = p.seed as u64;
    let epochs = p.epochs as usize;
    let (data, _) = mnist(p.train_size as usize, seed)?;
    let batches = data.train.n.div_ceil(BATCH);
    let total = batches * epochs;
    let mut budget = Budget {
        done: 0,
        total: train::lr_find::NUM_IT + 2 * total,
    };
    let mut m = model(&p.net, seed, 1e-3)?;
    let r = common::find_lr(&mut m, &data.train, seed, ctx, &mut budget, 1)?;
    ctx.show(
        "finder",
        Output::Plot(common::lr_plot("Range test on the network", &r)),
    );
    let lr = r
        .suggestions
        .map(|s| s.valley)
        .ok_or_else(|| anyhow::anyhow!("the range test found no learning rate"))?;
    ctx.show("schedules", Output::Plot(schedule_plot(lr, total)));
    let base = config(epochs, lr, seed);
    let one = TrainConfig {
        schedule: Schedule::OneCycle {
            total,
            pct_start: 0.3,
        },
        ..base.clone()
    };
    let mut plot = common::loss_plot(
        &format!("Loss per epoch at the finder's rate {lr:.2e}: constant vs one-cycle"),
        epochs,
        "cross-entropy",
    );
    let mut rows = Vec::new();
    let mut accs = Vec::new();
    for (name, cfg) in [("constant", &base), ("one-cycle", &one)] {
        let mut m = model(&p.net, seed, lr)?;
        let (h, secs) = train_live(
            ctx,
            &mut plot,
            "curves",
            name,
            &mut budget,
            &mut m,
            &data,
            cfg,
        )?;
        let acc = last_val_accuracy(&h);
        rows.push(vec![
            name.to_string(),
            format!("{:.4}", h.epochs.last().map_or(0.0, |e| e.val_loss)),
            common::pct(acc),
            format!("{secs:.1} s"),
        ]);
        accs.push(acc);
    }
    ctx.show(
        "results",
        Output::Table(Table {
            title: Some(format!(
                "After {epochs} epochs, peak rate {lr:.2e} from the range test"
            )),
            header: ["schedule", "validation loss", "validation accuracy", "time"]
                .map(String::from)
                .to_vec(),
            rows,
        }),
    );
    ctx.emit(SchedulesMetric::LrSuggestion, lr);
    ctx.emit(SchedulesMetric::ValAccuracyConstant, accs[0]);
    ctx.emit(SchedulesMetric::ValAccuracyOnecycle, accs[1]);
    Ok(())
}

params! {
    /// Parameters of `craft.init`.
    pub struct InitParams {
        net: String = "nets/lesson8_mlp.toml", File, "the network trained";
        scale: f64 = 8.0, Float { min: 0.0, max: 100.0 }, "the factor of the badly scaled start";
        train_size: i64 = 3000, Int { min: 500, max: 60000 }, "training digits";
        epochs: i64 = 3, Int { min: 1, max: 20 }, "passes over the training digits";
        seed: i64 = 1, Int { min: 0, max: 9999 }, "seed for the data, weights and batches";
    }
}

metrics! {
    /// What `craft.init` reports.
    pub enum InitMetric {
        ValAccuracyDefault = "val_accuracy_default",
        ValAccuracyZero = "val_accuracy_zero",
        ValAccuracyScaled = "val_accuracy_scaled",
        FirstLossDefault = "first_loss_default",
        FirstLossScaled = "first_loss_scaled",
    }
}

/// PyTorch's default start against all zeros and against the default times a large factor.
pub static INIT: Experiment = Experiment {
    name: "craft.init",
    summary: "Default initialisation vs all-zero weights vs weights scaled up: the first epochs",
    params: InitParams::SPECS,
    metrics: InitMetric::NAMES,
    long: true,
    run: |p, ctx| kit::typed(&INIT, p, ctx, init),
};

fn init(p: InitParams, ctx: &mut Emit<'_, InitMetric>) -> anyhow::Result<()> {
    let seed = p.seed as u64;
    let epochs = p.epochs as usize;
    let (data, _) = mnist(p.train_size as usize, seed)?;
    let mut budget = budget(&data, 3, epochs);
    let cfg = config(epochs, 1e-3, seed);
    let mut plot = common::loss_plot(
        "Loss per epoch by starting weights",
        epochs,
        "cross-entropy",
    );
    let mut rows = Vec::new();
    let mut out = Vec::new();
    let scaled_name = format!("default × {}", p.scale);
    for (name, f) in [
        ("default", 1.0),
        ("all zero", 0.0),
        (scaled_name.as_str(), p.scale),
    ] {
        let mut m = model(&p.net, seed, 1e-3)?;
        if f != 1.0 {
            for info in m.net.params() {
                let v: Vec<f32> = m
                    .net
                    .values(&info.name)?
                    .iter()
                    .map(|x| x * f as f32)
                    .collect();
                m.net.set_values(&info.name, &v)?;
            }
        }
        let (start, _, _) = train::evaluate(&mut m, common::split(&data.val), 256)?;
        match train_live(
            ctx,
            &mut plot,
            "curves",
            name,
            &mut budget,
            &mut m,
            &data,
            &cfg,
        ) {
            Ok((h, _)) => {
                let acc = last_val_accuracy(&h);
                rows.push(vec![
                    name.to_string(),
                    format!("{start:.3}"),
                    h.epochs
                        .iter()
                        .map(|e| common::pct(e.val_metric("accuracy")))
                        .collect::<Vec<_>>()
                        .join(" → "),
                ]);
                out.push((acc, start));
            }
            Err(e) if e.is::<crate::util::cancel::Cancelled>() => return Err(e),
            Err(e) => {
                rows.push(vec![
                    name.to_string(),
                    format!("{start:.3}"),
                    format!("failed: {e}"),
                ]);
                out.push((0.0, start));
            }
        }
    }
    ctx.show(
        "results",
        Output::Table(Table {
            title: Some(
                "Validation loss before training, and validation accuracy after each epoch".into(),
            ),
            header: [
                "start",
                "loss before training",
                "validation accuracy by epoch",
            ]
            .map(String::from)
            .to_vec(),
            rows,
        }),
    );
    use InitMetric as M;
    ctx.emit(M::ValAccuracyDefault, out[0].0);
    ctx.emit(M::ValAccuracyZero, out[1].0);
    ctx.emit(M::ValAccuracyScaled, out[2].0);
    ctx.emit(M::FirstLossDefault, out[0].1);
    ctx.emit(M::FirstLossScaled, out[2].1);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn augmentation_changes_training_batches_only_and_round_trips_the_normalisation() {
        let norm = Normalization {
            mean: 0.13,
            std: 0.31,
        };
        // No transform at all: a batch comes back as it went in.
        let a = augmenter(norm, 4, 4, vec![]);
        let raw: Vec<f32> = (0..16).map(|i| i as f32 / 16.0).collect();
        let mut x: Vec<f32> = raw.iter().map(|v| (v - 0.13) / 0.31).collect();
        let before = x.clone();
        (a.0)(&mut x, 1, 7).unwrap();
        for (p, q) in x.iter().zip(&before) {
            assert!((p - q).abs() < 1e-5);
        }
        // A shift fills with raw 0, i.e. the normalised background, not with 0.
        let s = augmenter(norm, 4, 4, vec![Transform::RandomShift { max: 3 }]);
        let mut y = vec![(0.0 - 0.13) / 0.31; 16];
        y[5] = (1.0 - 0.13) / 0.31;
        (s.0)(&mut y, 1, 3).unwrap();
        assert!(y
            .iter()
            .all(|v| (v - (0.0 - 0.13) / 0.31).abs() < 1e-5
                || (v - (1.0 - 0.13) / 0.31).abs() < 1e-5));
    }

    #[test]
    fn schedules_start_and_end_where_pytorch_puts_them() {
        let p = schedule_plot(0.01, 100);
        let first = |k: usize| p.series[k].points[0].1;
        assert_eq!(first(0), 0.01);
        assert!((first(3) - 0.01 / 25.0).abs() < 1e-12);
        assert!(p.series[2].points.last().unwrap().1 < 1e-4);
    }
}
