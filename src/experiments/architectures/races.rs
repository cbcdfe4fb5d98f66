//! Lesson 9's trained comparisons, each two networks on the same MNIST digits with the same
//! seed, batches and learning rate: a deep plain CNN against the same depth with residual
//! skips (with the gradient reaching each layer measured at the start), a flatten head
//! against a global-average-pooling head (with lesson 3's shifted-digit test), and a CNN with
//! and without a squeeze-and-excitation block.

use std::path::Path;
use std::time::Instant;

use super::super::common::{self, Budget, Live, Prepared};
use super::super::mlp_cnn::shifted_accuracy;
use crate::data::{self, Dataset};
use crate::experiments::kit::{self, metrics, params, Ctx, Emit, Experiment};
use crate::nn::summary::fmt_count;
use crate::nn::{Batch, LossKind, Target};
use crate::output::{Output, Plot, Series, SeriesStyle, Table};
use crate::train::{self, History, NetModel, TrainConfig};

/// Share of the training images held out for validation.
const VAL_FRACTION: f64 = 0.1;
/// Test digits scored (the first of the embedded test set).
const TEST_SIZE: usize = 2000;

/// Training digits (a seeded subset), validation and test sets, normalised.
fn digits(train_size: usize, seed: u64) -> anyhow::Result<(Prepared, Dataset)> {
    let full = data::mnist(data::Split::Train)?;
    let raw_train = full.subset(train_size.min(full.n), seed)?;
    let test = data::mnist(data::Split::Test)?;
    let raw_test = test.subset(TEST_SIZE.min(test.n), 0)?;
    Ok((
        Prepared::new(&raw_train, &raw_test, VAL_FRACTION, seed)?,
        raw_test,
    ))
}

/// One trained network of a race.
struct Trained {
    name: &'static str,
    model: NetModel,
    params: usize,
    history: History,
    test_accuracy: f64,
    seconds: f64,
}

/// Trains each `(name, network file)` in turn on `data`, drawing all the loss curves in one
/// plot, and scores each on the test digits.
fn race(
    ctx: &mut dyn Ctx,
    title: &str,
    nets: [(&'static str, &str); 2],
    data: &Prepared,
    cfg: &TrainConfig,
) -> anyhow::Result<Vec<Trained>> {
    let batches = data.train.n.div_ceil(cfg.batch_size);
    let mut budget = Budget {
        done: 0,
        total: 2 * batches * cfg.epochs,
    };
    let mut plot = common::loss_plot(title, cfg.epochs, "cross-entropy");
    let mut out = Vec::new();
    for (name, file) in nets {
        let mut model = common::classifier(Path::new(file), cfg.seed, cfg.lr)?;
        let (params, _) = model.net.param_counts();
        let t0 = Instant::now();
        let history = {
            let mut live = Live::new(
                ctx,
                &mut plot,
                "curves",
                name,
                &mut budget,
                1,
                batches,
                cfg.epochs,
            );
            train::fit(
                &mut model,
                common::split(&data.train),
                common::split(&data.val),
                cfg,
                &mut live,
            )?
        };
        let seconds = t0.elapsed().as_secs_f64();
        let (_, test_accuracy, _) = train::evaluate(&mut model, common::split(&data.test), 256)?;
        out.push(Trained {
            name,
            model,
            params,
            history,
            test_accuracy,
            seconds,
        });
    }
    Ok(out)
}

/// The table row every race shows per network: parameters, validation and test accuracy,
/// best epoch and training time.
fn row(t: &Trained) -> Vec<String> {
    let h = &t.history;
    vec![
        t.name.to_string(),
        fmt_count(t.params),
        h.epochs
            .get(h.best_epoch.saturating_sub(1))
            .map_or("-".into(), |e| common::pct(e.val_metric("accuracy"))),
        common::pct(t.test_accuracy),
        format!("{}", h.best_epoch),
        format!("{:.1} s", t.seconds),
    ]
}

fn header(extra: &[&str]) -> Vec<String> {
    let mut h: Vec<String> = [
        "model",
        "parameters",
        "validation",
        "test",
        "best epoch",
        "time",
    ]
    .map(String::from)
    .to_vec();
    h.extend(extra.iter().map(|s| s.to_string()));
    h
}

/// The first `n` training digits as one batch with their labels.
fn first_batch(d: &Dataset, n: usize) -> anyhow::Result<(Batch, Target)> {
    let n = n.min(d.n);
    let px = d.h * d.w;
    let batch = Batch::new(d.images[..n * px].to_vec(), vec![n, 1, d.h, d.w])?;
    let labels = d.labels[..n].iter().map(|&l| l as usize).collect();
    Ok((batch, Target::Classes(labels)))
}

/// The L2 norm of the loss's gradient for every conv and linear weight, in layer order.
pub(crate) fn weight_gradient_norms(
    model: &mut NetModel,
    batch: &Batch,
    target: &Target,
) -> anyhow::Result<Vec<(String, f64)>> {
    let (_, grads) = model.net.gradients(batch, target, LossKind::CrossEntropy)?;
    Ok(grads
        .into_iter()
        .filter(|(name, _)| name.ends_with(".weight"))
        .map(|(name, g)| {
            let norm = g.iter().map(|&v| f64::from(v) * f64::from(v)).sum::<f64>();
            (name.trim_end_matches(".weight").to_string(), norm.sqrt())
        })
        .collect())
}

params! {
    /// Parameters of `arch.resnet`.
    pub struct ResnetParams {
        plain: String = "nets/lesson9_plain.toml", File, "the deep CNN without skips";
        resnet: String = "nets/lesson9_resnet.toml", File,
            "the same layers with a residual skip around every pair of convolutions";
        epochs: i64 = 3, Int { min: 1, max: 20 }, "passes over the training digits";
        train_size: i64 = 3000, Int { min: 500, max: 12000 },
            "training digits used (10% of them validate)";
        lr: f64 = 2e-3, Float { min: 1e-5, max: 0.1 }, "Adam learning rate";
        seed: i64 = 1, Int { min: 0, max: 9999 }, "seed for weights, digits and batches";
    }
}

metrics! {
    /// What `arch.resnet` reports.
    pub enum ResnetMetric {
        PlainDeepAccuracy = "plain_deep_accuracy",
        ResnetAccuracy = "resnet_accuracy",
        PlainFirstGradient = "plain_first_gradient",
        ResnetFirstGradient = "resnet_first_gradient",
        PlainParams = "plain_params",
        ResnetParams = "resnet_params",
        PlainSeconds = "plain_seconds",
        ResnetSeconds = "resnet_seconds",
    }
}

/// The degradation race: a deep plain CNN against the same depth with skips.
pub static RESNET: Experiment = Experiment {
    name: "arch.resnet",
    summary: "A deep plain CNN and the same layers with residual skips, trained side by side; \
              the gradient reaching every layer at the start",
    params: ResnetParams::SPECS,
    metrics: ResnetMetric::NAMES,
    long: true,
    run: |p, ctx| kit::typed(&RESNET, p, ctx, resnet),
};

fn resnet(p: ResnetParams, ctx: &mut Emit<'_, ResnetMetric>) -> anyhow::Result<()> {
    let seed = p.seed as u64;
    let (data, _) = digits(p.train_size as usize, seed)?;
    let cfg = TrainConfig {
        epochs: p.epochs as usize,
        lr: p.lr,
        seed,
        ..TrainConfig::default()
    };
    // Gradients at the start, on the same 64 digits, before any step.
    let (batch, target) = first_batch(&data.train, 64)?;
    let mut norms = Vec::new();
    for file in [&p.plain, &p.resnet] {
        let mut m = common::classifier(Path::new(file), seed, p.lr)?;
        norms.push(weight_gradient_norms(&mut m, &batch, &target)?);
    }
    let plot = Plot {
        title: "Gradient norm of each layer's weights at the start (log10)".into(),
        x_label: "layer with weights (1 = first)".into(),
        y_label: "log10 |gradient|".into(),
        x_log: false,
        series: ["plain", "ResNet"]
            .iter()
            .zip(&norms)
            .map(|(name, n)| Series {
                colour: None,
                name: name.to_string(),
                points: n
                    .iter()
                    .enumerate()
                    .map(|(i, (_, g))| ((i + 1) as f64, g.max(1e-30).log10()))
                    .collect(),
                style: SeriesStyle::Line,
            })
            .collect(),
        marks: Vec::new(),
        x_range: None,
    };
    ctx.show("gradients", Output::Plot(plot));
    let first = |n: &[(String, f64)]| n.first().map_or(0.0, |x| x.1);
    let last = |n: &[(String, f64)]| n.last().map_or(0.0, |x| x.1);
    let (gp, gr) = (first(&norms[0]), first(&norms[1]));
    ctx.show(
        "gradient-text",
        Output::Text(format!(
            "At the start, the first layer's weights get a gradient of norm {gp:.2e} in the \
             plain network and {gr:.2e} with skips ({:.0}x larger); the last layer's are {:.2e} \
             and {:.2e}.",
            gr / gp.max(1e-30),
            last(&norms[0]),
            last(&norms[1])
        )),
    );

    let results = race(
        ctx,
        "Loss per epoch: plain vs ResNet",
        [("plain", &p.plain), ("ResNet", &p.resnet)],
        &data,
        &cfg,
    )?;
    let rows = results.iter().map(row).collect();
    ctx.show(
        "results",
        Output::Table(Table {
            title: Some(format!(
                "{} weighted layers each, {} training digits, {} epochs: test accuracy on {} \
                 digits",
                norms[0].len(),
                data.train.n,
                cfg.epochs,
                data.test.n
            )),
            header: header(&[]),
            rows,
        }),
    );
    use ResnetMetric as M;
    ctx.emit(M::PlainDeepAccuracy, results[0].test_accuracy);
    ctx.emit(M::ResnetAccuracy, results[1].test_accuracy);
    ctx.emit(M::PlainFirstGradient, gp);
    ctx.emit(M::ResnetFirstGradient, gr);
    ctx.emit(M::PlainParams, results[0].params as f64);
    ctx.emit(M::ResnetParams, results[1].params as f64);
    ctx.emit(M::PlainSeconds, results[0].seconds);
    ctx.emit(M::ResnetSeconds, results[1].seconds);
    Ok(())
}

params! {
    /// Parameters of `arch.gap`.
    pub struct GapParams {
        flat: String = "nets/lesson9_flat.toml", File,
            "the CNN whose head flattens the feature maps into a linear layer";
        gap: String = "nets/lesson9_gap.toml", File,
            "the CNN whose head averages each channel (global average pooling)";
        epochs: i64 = 3, Int { min: 1, max: 20 }, "passes over the training digits";
        train_size: i64 = 3000, Int { min: 500, max: 12000 },
            "training digits used (10% of them validate)";
        lr: f64 = 3e-3, Float { min: 1e-5, max: 0.1 }, "Adam learning rate";
        shift: i64 = 3, Int { min: 0, max: 8 },
            "pixels the test digits are moved (left, right, up, down)";
        seed: i64 = 1, Int { min: 0, max: 9999 }, "seed for weights, digits and batches";
    }
}

metrics! {
    /// What `arch.gap` reports.
    pub enum GapMetric {
        GapParams = "gap_params",
        FlatParams = "flat_params",
        GapAccuracy = "gap_accuracy",
        FlatAccuracy = "flat_accuracy",
        GapShiftedAccuracy = "gap_shifted_accuracy",
        FlatShiftedAccuracy = "flat_shifted_accuracy",
    }
}

/// Flatten head vs global-average-pooling head, with the shifted-digit test.
pub static GAP: Experiment = Experiment {
    name: "arch.gap",
    summary: "A flatten + linear head against a global-average-pooling head: parameters, \
              accuracy, and shifted digits",
    params: GapParams::SPECS,
    metrics: GapMetric::NAMES,
    long: true,
    run: |p, ctx| kit::typed(&GAP, p, ctx, gap),
};

fn gap(p: GapParams, ctx: &mut Emit<'_, GapMetric>) -> anyhow::Result<()> {
    let seed = p.seed as u64;
    let (data, raw_test) = digits(p.train_size as usize, seed)?;
    let cfg = TrainConfig {
        epochs: p.epochs as usize,
        lr: p.lr,
        seed,
        ..TrainConfig::default()
    };
    let mut results = race(
        ctx,
        "Loss per epoch: flatten head vs global average pooling",
        [("flatten head", &p.flat), ("GAP head", &p.gap)],
        &data,
        &cfg,
    )?;
    let shift = p.shift as i32;
    let mut shifted = Vec::new();
    for t in &mut results {
        shifted.push(shifted_accuracy(&mut t.model, &raw_test, &data, shift)?);
    }
    let rows = results
        .iter()
        .zip(&shifted)
        .map(|(t, s)| {
            let mut r = row(t);
            r.push(common::pct(*s));
            r.push(format!("{:+.1} points", 100.0 * (s - t.test_accuracy)));
            r
        })
        .collect();
    ctx.show(
        "results",
        Output::Table(Table {
            title: Some(format!(
                "Test accuracy, and on the test digits shifted by {shift} px (mean of 4 \
                 directions)"
            )),
            header: header(&["shifted", "change"]),
            rows,
        }),
    );
    use GapMetric as M;
    ctx.emit(M::FlatParams, results[0].params as f64);
    ctx.emit(M::GapParams, results[1].params as f64);
    ctx.emit(M::FlatAccuracy, results[0].test_accuracy);
    ctx.emit(M::GapAccuracy, results[1].test_accuracy);
    ctx.emit(M::FlatShiftedAccuracy, shifted[0]);
    ctx.emit(M::GapShiftedAccuracy, shifted[1]);
    Ok(())
}

params! {
    /// Parameters of `arch.se`.
    pub struct SeParams {
        plain: String = "nets/lesson9_nose.toml", File, "the CNN without the block";
        se: String = "nets/lesson9_se.toml", File,
            "the same CNN with a squeeze-and-excitation block";
        epochs: i64 = 3, Int { min: 1, max: 20 }, "passes over the training digits";
        train_size: i64 = 3000, Int { min: 500, max: 12000 },
            "training digits used (10% of them validate)";
        lr: f64 = 3e-3, Float { min: 1e-5, max: 0.1 }, "Adam learning rate";
        seed: i64 = 1, Int { min: 0, max: 9999 }, "seed for weights, digits and batches";
    }
}

metrics! {
    /// What `arch.se` reports.
    pub enum SeMetric {
        SeParams = "se_params",
        SeAccuracy = "se_accuracy",
        NoSeAccuracy = "no_se_accuracy",
        SeSeconds = "se_seconds",
        NoSeSeconds = "no_se_seconds",
    }
}

/// A CNN with and without a squeeze-and-excitation block.
pub static SE: Experiment = Experiment {
    name: "arch.se",
    summary: "The same CNN with and without a squeeze-and-excitation block: the block's \
              parameters, accuracy and time",
    params: SeParams::SPECS,
    metrics: SeMetric::NAMES,
    long: true,
    run: |p, ctx| kit::typed(&SE, p, ctx, se),
};

fn se(p: SeParams, ctx: &mut Emit<'_, SeMetric>) -> anyhow::Result<()> {
    let seed = p.seed as u64;
    let (data, _) = digits(p.train_size as usize, seed)?;
    let cfg = TrainConfig {
        epochs: p.epochs as usize,
        lr: p.lr,
        seed,
        ..TrainConfig::default()
    };
    let results = race(
        ctx,
        "Loss per epoch: without and with squeeze-and-excitation",
        [("without SE", &p.plain), ("with SE", &p.se)],
        &data,
        &cfg,
    )?;
    let cost = results[1].params.saturating_sub(results[0].params);
    ctx.show(
        "results",
        Output::Table(Table {
            title: Some(format!(
                "The block costs {} parameters ({:.1}% more); test accuracy on {} digits",
                fmt_count(cost),
                100.0 * cost as f64 / results[0].params.max(1) as f64,
                data.test.n
            )),
            header: header(&[]),
            rows: results.iter().map(row).collect(),
        }),
    );
    use SeMetric as M;
    ctx.emit(M::SeParams, cost as f64);
    ctx.emit(M::NoSeAccuracy, results[0].test_accuracy);
    ctx.emit(M::SeAccuracy, results[1].test_accuracy);
    ctx.emit(M::NoSeSeconds, results[0].seconds);
    ctx.emit(M::SeSeconds, results[1].seconds);
    Ok(())
}
