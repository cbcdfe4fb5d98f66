//! Lesson 3: an MLP and a CNN trained side by side on MNIST, then tested on shifted digits.

use std::time::Instant;

use image::{Rgb, RgbImage};
use rand::seq::SliceRandom;
use rand::SeedableRng;

use super::common::{self, Budget, Live, LrMetric, Prepared};
use crate::data::{self, Dataset};
use crate::experiments::kit::{self, metrics, params, Ctx, Emit, Experiment};
use crate::output::{Output, Picture, Table};
use crate::train::{self, Model, TrainConfig};

/// Share of the training images held out for validation.
const VAL_FRACTION: f64 = 0.1;
/// Progress units per batch: a CNN step costs several MLP steps.
const MLP_COST: usize = 1;
const CNN_COST: usize = 8;

params! {
    /// Parameters of `mnist.samples`.
    pub struct SamplesParams {
        count: i64 = 10, Int { min: 1, max: 30 }, "how many images";
        seed: i64 = 0, Int { min: 0, max: 9999 }, "which random images";
        dataset: String = "mnist", Choice(&["mnist", "fashion"]), "digits or clothing";
    }
}

metrics! {
    /// What `mnist.samples` reports.
    pub enum SamplesMetric {
        TrainImages = "train_images",
        TestImages = "test_images",
    }
}

/// A few training digits with their labels.
pub static SAMPLES: Experiment = Experiment {
    name: "mnist.samples",
    summary: "Random training images with their labels",
    params: SamplesParams::SPECS,
    metrics: SamplesMetric::NAMES,
    long: false,
    run: |p, ctx| kit::typed(&SAMPLES, p, ctx, samples),
};

fn load(name: &str, split: data::Split) -> anyhow::Result<Dataset> {
    Ok(match name {
        "fashion" => data::fashion(split)?,
        _ => data::mnist(split)?,
    })
}

/// A 0..1 grayscale image as RGB.
pub fn digit_picture(d: &Dataset, i: usize) -> RgbImage {
    let img = d.image(i);
    RgbImage::from_fn(d.w as u32, d.h as u32, |x, y| {
        let v = (img[y as usize * d.w + x as usize].clamp(0.0, 1.0) * 255.0) as u8;
        Rgb([v, v, v])
    })
}

fn samples(p: SamplesParams, ctx: &mut Emit<'_, SamplesMetric>) -> anyhow::Result<()> {
    let name = p.dataset.as_str();
    let train = load(name, data::Split::Train)?;
    let test = load(name, data::Split::Test)?;
    let mut rng = rand::rngs::StdRng::seed_from_u64(p.seed as u64);
    let mut idx: Vec<usize> = (0..train.n).collect();
    idx.shuffle(&mut rng);
    let pics = idx
        .iter()
        .take(p.count as usize)
        .map(|&i| Picture {
            caption: train.class_name(i).to_string(),
            image: digit_picture(&train, i),
        })
        .collect();
    ctx.show("samples", Output::Pictures(pics));
    let counts = train.class_counts();
    ctx.show(
        "counts",
        Output::Text(format!(
            "{} training and {} test images of {}x{} pixels. Training images per class: {}",
            train.n,
            test.n,
            train.h,
            train.w,
            counts
                .iter()
                .enumerate()
                .map(|(c, n)| format!("{}: {n}", train.classes[c]))
                .collect::<Vec<_>>()
                .join(", ")
        )),
    );
    ctx.emit(SamplesMetric::TrainImages, train.n as f64);
    ctx.emit(SamplesMetric::TestImages, test.n as f64);
    Ok(())
}

params! {
    /// Parameters of `mnist.lr_find`.
    pub struct LrFindParams {
        net: String = "nets/lesson3_cnn.toml", File, "the network to test";
        seed: i64 = 1, Int { min: 0, max: 9999 }, "seed for weights and batches";
    }
}

/// The learning-rate range test on a network.
pub static LR_FIND: Experiment = Experiment {
    name: "mnist.lr_find",
    summary: "Learning-rate range test (fastai's lr_find) on MNIST",
    params: LrFindParams::SPECS,
    metrics: LrMetric::NAMES,
    long: true,
    run: |p, ctx| kit::typed(&LR_FIND, p, ctx, lr_find),
};

fn lr_find(p: LrFindParams, ctx: &mut Emit<'_, LrMetric>) -> anyhow::Result<()> {
    let seed = p.seed as u64;
    let data = Prepared::new(
        &data::mnist(data::Split::Train)?,
        &data::mnist(data::Split::Test)?,
        VAL_FRACTION,
        seed,
    )?;
    let mut model = common::classifier(std::path::Path::new(&p.net), seed, 1e-3)?;
    let mut budget = Budget {
        done: 0,
        total: train::lr_find::NUM_IT,
    };
    let r = common::find_lr(&mut model, &data.train, seed, ctx, &mut budget, 1)?;
    ctx.show(
        "plot",
        Output::Plot(common::lr_plot("Learning-rate range test (Adam)", &r)),
    );
    common::report_lr(
        ctx,
        &r,
        &format!(
            "The sweep ran {} of {} steps; the weights were restored afterwards.",
            r.lrs.len(),
            train::lr_find::NUM_IT
        ),
    )
}

params! {
    /// Parameters of `mnist.compare`.
    pub struct CompareParams {
        mlp: String = "nets/lesson3_mlp.toml", File, "the MLP's network file";
        cnn: String = "nets/lesson3_cnn.toml", File, "the CNN's network file";
        epochs: i64 = 5, Int { min: 1, max: 30 }, "passes over the training images";
        train_size: i64 = 12000, Int { min: 500, max: 12000 },
            "training images used (10% of them validate)";
        mlp_lr: f64 = 1e-3, Float { min: 1e-6, max: 1.0 }, "the MLP's Adam learning rate";
        cnn_lr: f64 = 0.0, Float { min: 0.0, max: 1.0 },
            "the CNN's learning rate; 0 = the range test's valley suggestion";
        shift: i64 = 3, Int { min: 0, max: 8 },
            "pixels the test digits are moved (left, right, up, down)";
        seed: i64 = 1, Int { min: 0, max: 9999 }, "seed for weights, split and batches";
    }
}

metrics! {
    /// What `mnist.compare` reports.
    pub enum CompareMetric {
        MlpParams = "mlp_params",
        CnnParams = "cnn_params",
        MlpTestAccuracy = "mlp_test_accuracy",
        CnnTestAccuracy = "cnn_test_accuracy",
        MlpShiftedAccuracy = "mlp_shifted_accuracy",
        CnnShiftedAccuracy = "cnn_shifted_accuracy",
        LrSuggestion = "lr_suggestion",
        MlpSeconds = "mlp_seconds",
        CnnSeconds = "cnn_seconds",
    }
}

/// The race: MLP vs CNN.
pub static COMPARE: Experiment = Experiment {
    name: "mnist.compare",
    summary: "Train an MLP and a CNN on the same digits; test accuracy, confusion, shifted digits",
    params: CompareParams::SPECS,
    metrics: CompareMetric::NAMES,
    long: true,
    run: |p, ctx| kit::typed(&COMPARE, p, ctx, compare),
};

/// Accuracy on the test set moved `shift` pixels in each of four directions, averaged.
pub(crate) fn shifted_accuracy(
    model: &mut dyn Model,
    raw_test: &Dataset,
    data: &Prepared,
    shift: i32,
) -> anyhow::Result<f64> {
    let mut sum = 0.0;
    let moves = [(shift, 0), (-shift, 0), (0, shift), (0, -shift)];
    for (dx, dy) in moves {
        let moved = data.norm.applied(&raw_test.shifted(dx, dy));
        let (_, acc, _) = train::evaluate(model, common::split(&moved), 256)?;
        sum += acc;
    }
    Ok(sum / moves.len() as f64)
}

fn compare(p: CompareParams, ctx: &mut Emit<'_, CompareMetric>) -> anyhow::Result<()> {
    let seed = p.seed as u64;
    let epochs = p.epochs as usize;
    let shift = p.shift as i32;
    let full = data::mnist(data::Split::Train)?;
    let train_size = (p.train_size as usize).min(full.n);
    let raw_train = if train_size < full.n {
        full.subset(train_size, seed)?
    } else {
        full
    };
    let raw_test = data::mnist(data::Split::Test)?;
    let data = Prepared::new(&raw_train, &raw_test, VAL_FRACTION, seed)?;
    let batches = data.train.n.div_ceil(64);
    let cnn_lr_given = p.cnn_lr;
    let finder_units = if cnn_lr_given > 0.0 {
        0
    } else {
        train::lr_find::NUM_IT * CNN_COST
    };
    let mut budget = Budget {
        done: 0,
        total: finder_units + batches * epochs * (MLP_COST + CNN_COST),
    };

    let mut mlp = common::classifier(std::path::Path::new(&p.mlp), seed, 1e-3)?;
    let mut cnn = common::classifier(std::path::Path::new(&p.cnn), seed, 1e-3)?;
    let (mlp_params, _) = mlp.net.param_counts();
    let (cnn_params, _) = cnn.net.param_counts();
    ctx.show(
        "data",
        Output::Text(format!(
            "{} training, {} validation and {} test images; {} batches of 64 per epoch.",
            data.train.n, data.val.n, data.test.n, batches
        )),
    );

    // The CNN's learning rate: given, or read off a range test.
    let cnn_lr = if cnn_lr_given > 0.0 {
        cnn_lr_given
    } else {
        let r = common::find_lr(&mut cnn, &data.train, seed, ctx, &mut budget, CNN_COST)?;
        ctx.show(
            "lr",
            Output::Plot(common::lr_plot("Range test on the CNN", &r)),
        );
        r.suggestions
            .map(|s| s.valley)
            .ok_or_else(|| anyhow::anyhow!("the range test found no learning rate"))?
    };
    ctx.emit(CompareMetric::LrSuggestion, cnn_lr);

    let mut plot = common::loss_plot("Loss per epoch: MLP vs CNN", epochs, "cross-entropy");
    let mlp_cfg = TrainConfig {
        epochs,
        lr: p.mlp_lr,
        seed,
        ..TrainConfig::default()
    };
    let cnn_cfg = TrainConfig {
        lr: cnn_lr,
        ..mlp_cfg.clone()
    };
    let mut results = Vec::new();
    for (name, model, cfg, cost) in [
        ("MLP", &mut mlp, &mlp_cfg, MLP_COST),
        ("CNN", &mut cnn, &cnn_cfg, CNN_COST),
    ] {
        let t0 = Instant::now();
        let history = {
            let mut live = Live::new(
                ctx,
                &mut plot,
                "curves",
                name,
                &mut budget,
                cost,
                batches,
                epochs,
            );
            train::fit(
                model,
                common::split(&data.train),
                common::split(&data.val),
                cfg,
                &mut live,
            )?
        };
        let seconds = t0.elapsed().as_secs_f64();
        let (_, test_acc, preds) = train::evaluate(model, common::split(&data.test), 256)?;
        let shifted = shifted_accuracy(model, &raw_test, &data, shift)?;
        ctx.show(
            &format!("confusion-{}", name.to_lowercase()),
            Output::Matrix(common::confusion(
                &format!("{name}: test images by true and predicted digit"),
                &data.test,
                &preds,
            )),
        );
        results.push((name, test_acc, shifted, seconds, history));
    }

    let mut rows = Vec::new();
    for (name, test, shifted, secs, h) in &results {
        use CompareMetric as M;
        let (params, [m_test, m_shifted, m_secs]) = if *name == "MLP" {
            (
                mlp_params,
                [M::MlpTestAccuracy, M::MlpShiftedAccuracy, M::MlpSeconds],
            )
        } else {
            (
                cnn_params,
                [M::CnnTestAccuracy, M::CnnShiftedAccuracy, M::CnnSeconds],
            )
        };
        rows.push(vec![
            name.to_string(),
            crate::nn::summary::fmt_count(params),
            h.epochs
                .get(h.best_epoch.saturating_sub(1))
                .map_or("-".into(), |e| common::pct(e.val_metric("accuracy"))),
            common::pct(*test),
            common::pct(*shifted),
            format!("{:+.1} points", 100.0 * (shifted - test)),
            format!("{}", h.best_epoch),
            format!("{secs:.1} s"),
        ]);
        ctx.emit(m_test, *test);
        ctx.emit(m_shifted, *shifted);
        ctx.emit(m_secs, *secs);
    }
    ctx.show(
        "results",
        Output::Table(Table {
            title: Some(format!(
                "Test accuracy, and on test digits shifted by {shift} px (mean of 4 directions)"
            )),
            header: vec![
                "model".into(),
                "parameters".into(),
                "validation".into(),
                "test".into(),
                "shifted".into(),
                "change".into(),
                "best epoch".into(),
                "time".into(),
            ],
            rows,
        }),
    );
    ctx.emit(CompareMetric::MlpParams, mlp_params as f64);
    ctx.emit(CompareMetric::CnnParams, cnn_params as f64);
    Ok(())
}
