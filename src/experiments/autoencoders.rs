//! Lesson 5: autoencoders. A network squeezes a digit into an embedding and rebuilds it, trained
//! on the difference between its input and its output (MSE on its `image` head). This module
//! holds what the lesson's experiments share (building, training and running an autoencoder,
//! images as pictures) and the first two experiments: a linear autoencoder, and two
//! convolutional ones that differ only in how their decoders upsample. Anomaly detection,
//! denoising and the embedding space have their own modules.

pub mod anomaly;
pub mod denoise;
pub mod embedding;
pub mod pca;

use std::path::Path;
use std::time::Instant;

use image::{Rgb, RgbImage};

use super::common::{self, Budget, Live};
use crate::data::{self, Dataset};
use crate::experiments::kit::{
    self, metrics, params, Ctx, Default, Emit, Experiment, ParamKind, ParamSpec,
};
use crate::nn::{LossKind, NetSpec, Network, Objective, Optimizer};
use crate::output::{Output, Picture, Plot, Table};
use crate::train::NetModel;
use crate::train::{self, History, MetricKind, Split, TargetData, TrainConfig};

/// The output an autoencoder's loss and metrics read.
pub const IMAGE: &str = "image";
/// The encoder's output.
pub const EMBEDDING: &str = "embedding";
/// Values per 28x28 image.
pub const PIXELS: usize = 28 * 28;
/// Share of the training images held out for validation.
const VAL_FRACTION: f64 = 0.1;
const BATCH: usize = 64;

/// An autoencoder from its network file: MSE between its `image` output and the target, Adam at
/// `lr`.
pub fn autoencoder(net: &Path, seed: u64, lr: f64) -> anyhow::Result<NetModel> {
    let spec = NetSpec::load(net)?;
    anyhow::ensure!(
        spec.output_names().iter().any(|n| n == IMAGE),
        "{}: an autoencoder needs an `output` layer with `as = \"{IMAGE}\"`",
        net.display()
    );
    Ok(NetModel::with_objective(
        Network::new(&spec, seed)?,
        Optimizer::adam(lr),
        Objective::new().term(IMAGE, LossKind::Mse, 1.0),
    ))
}

/// Inputs `x` with `target` as what the `image` head should produce.
pub fn image_split<'a>(x: &'a [f32], target: &'a [f32]) -> Split<'a> {
    Split::with_targets(
        x,
        x.len() / PIXELS,
        vec![(
            IMAGE.into(),
            TargetData::Values {
                values: target,
                per: PIXELS,
            },
        )],
    )
}

/// MSE and PSNR (pixels in 0..1, so a data range of 1) on the `image` head.
pub fn image_metrics() -> Vec<MetricKind> {
    vec![
        MetricKind::Mse { head: IMAGE.into() },
        MetricKind::Psnr {
            head: IMAGE.into(),
            data_range: 1.0,
        },
    ]
}

/// Training and validation digits (raw 0..1 pixels, no normalisation: the sigmoid output lives
/// there too) and the test digits.
pub struct Digits {
    pub train: Dataset,
    pub val: Dataset,
    pub test: Dataset,
}

impl Digits {
    /// `train_size` training digits drawn at random (seeded), 10% of them held out.
    pub fn load(train_size: usize, seed: u64) -> anyhow::Result<Self> {
        // The two sets are inflated side by side.
        let (full, test) = rayon::join(
            || data::mnist(data::Split::Train),
            || data::mnist(data::Split::Test),
        );
        Digits::with_test(&full?, test?, train_size, seed)
    }

    /// The same from any training set (digits without one class, say).
    pub fn from(full: &Dataset, train_size: usize, seed: u64) -> anyhow::Result<Self> {
        Digits::with_test(full, data::mnist(data::Split::Test)?, train_size, seed)
    }

    fn with_test(
        full: &Dataset,
        test: Dataset,
        train_size: usize,
        seed: u64,
    ) -> anyhow::Result<Self> {
        let count = train_size.min(full.n);
        let val_count = ((count as f64) * VAL_FRACTION).round() as usize;
        let (train, val) = full.subset_split(count, val_count.max(1), seed)?;
        Ok(Digits { train, val, test })
    }
}

/// One autoencoder to train: inputs and targets for training and validation.
pub struct Job<'a> {
    /// Its name in the plot's legend and the progress line.
    pub name: &'a str,
    pub x_train: &'a [f32],
    pub y_train: &'a [f32],
    pub x_val: &'a [f32],
    pub y_val: &'a [f32],
    pub epochs: usize,
    pub lr: f64,
    pub seed: u64,
    /// Progress units per batch.
    pub cost: usize,
}

impl Job<'_> {
    /// Batches per epoch.
    pub fn batches(&self) -> usize {
        (self.x_train.len() / PIXELS).div_ceil(BATCH)
    }
}

/// Trains `model` on `job`, drawing its curves into `plot` (shown under `key`); with
/// `draw_metrics` every validation metric gets its own growing plot too.
pub fn train_live(
    ctx: &mut dyn Ctx,
    model: &mut NetModel,
    plot: &mut Plot,
    key: &str,
    budget: &mut Budget,
    job: &Job,
    draw_metrics: bool,
) -> anyhow::Result<History> {
    let cfg = TrainConfig {
        epochs: job.epochs,
        batch_size: BATCH,
        lr: job.lr,
        seed: job.seed,
        metrics: image_metrics(),
        ..TrainConfig::default()
    };
    let mut live = Live::new(
        ctx,
        plot,
        key,
        job.name,
        budget,
        job.cost,
        job.batches(),
        job.epochs,
    );
    live.draw_metrics = draw_metrics;
    train::fit(
        model,
        image_split(job.x_train, job.y_train),
        image_split(job.x_val, job.y_val),
        &cfg,
        &mut live,
    )
}

/// Every example's output `head` for inputs `x`, in evaluation mode, one after another.
pub fn outputs(model: &mut NetModel, x: &[f32], head: &str) -> anyhow::Result<Vec<f32>> {
    let mut out = Vec::with_capacity(x.len());
    train::evaluate_with(model, &image_split(x, x), 256, &[], |outs| {
        if let Some((_, b)) = outs.iter().find(|(n, _)| n == head) {
            out.extend_from_slice(&b.data);
        }
    })?;
    Ok(out)
}

/// The mean squared difference of every image of `a` from the same image of `b`.
pub fn per_image_mse(a: &[f32], b: &[f32]) -> Vec<f64> {
    a.chunks(PIXELS)
        .zip(b.chunks(PIXELS))
        .map(|(x, y)| {
            x.iter()
                .zip(y)
                .map(|(p, q)| f64::from(p - q).powi(2))
                .sum::<f64>()
                / PIXELS as f64
        })
        .collect()
}

/// The mean of `v`.
pub fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len().max(1) as f64
}

/// A 28x28 image of values in 0..1 as RGB.
pub fn gray(values: &[f32]) -> RgbImage {
    RgbImage::from_fn(28, 28, |x, y| {
        let v = (values[y as usize * 28 + x as usize].clamp(0.0, 1.0) * 255.0).round() as u8;
        Rgb([v, v, v])
    })
}

/// The same, stretched so its darkest pixel is black and its brightest white: faint patterns
/// become visible.
pub fn stretched(values: &[f32]) -> RgbImage {
    let lo = values.iter().copied().fold(f32::INFINITY, f32::min);
    let hi = values.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let span = (hi - lo).max(1e-6);
    let v: Vec<f32> = values.iter().map(|p| (p - lo) / span).collect();
    gray(&v)
}

/// Pictures of images `idx` of `images`, captioned by `caption(i)`.
pub fn pictures(images: &[f32], idx: &[usize], caption: impl Fn(usize) -> String) -> Output {
    Output::Pictures(
        idx.iter()
            .map(|&i| Picture {
                caption: caption(i),
                image: gray(&images[i * PIXELS..(i + 1) * PIXELS]),
            })
            .collect(),
    )
}

/// The first test image of every class: one of each digit to show.
pub fn one_per_class(d: &Dataset) -> Vec<usize> {
    (0..d.classes.len() as u8)
        .filter_map(|c| d.labels.iter().position(|&l| l == c))
        .collect()
}

const LR: ParamSpec = ParamSpec {
    name: "lr",
    kind: ParamKind::Float {
        min: 1e-5,
        max: 0.1,
    },
    default: Default::Float(3e-3),
    doc: "Adam learning rate",
};
/// The conv autoencoders settle into a flat grey output at 3e-3 more often.
const CONV_LR: ParamSpec = ParamSpec {
    default: Default::Float(1e-3),
    ..LR
};
const SEED: ParamSpec = ParamSpec {
    name: "seed",
    kind: ParamKind::Int { min: 0, max: 9999 },
    default: Default::Int(1),
    doc: "seed for weights, images and batches",
};

params! {
    /// Parameters of `ae.linear`.
    pub struct LinearParams {
        net: String = "nets/lesson5_linear.toml", File, "the autoencoder's network file";
        epochs: i64 = 6, Int { min: 1, max: 30 }, "passes over the training images";
        train_size: i64 = 6000, Int { min: 500, max: 12000 },
            "training images used (10% of them validate)";
        lr: f64 = LR;
        seed: i64 = SEED;
    }
}

metrics! {
    /// What `ae.linear` reports.
    pub enum LinearMetric {
        ReconMseLinear = "recon_mse_linear",
        ReconPsnrLinear = "recon_psnr_linear",
        EmbeddingSize = "embedding_size",
    }
}

/// The linear autoencoder on digits.
pub static LINEAR: Experiment = Experiment {
    name: "ae.linear",
    summary: "A linear autoencoder on digits: reconstruction MSE per epoch, originals above reconstructions",
    params: LinearParams::SPECS,
    metrics: LinearMetric::NAMES,
    long: true,
    run: |p, ctx| kit::typed(&LINEAR, p, ctx, linear),
};

fn linear(p: LinearParams, ctx: &mut Emit<'_, LinearMetric>) -> anyhow::Result<()> {
    let seed = p.seed as u64;
    let epochs = p.epochs as usize;
    let d = Digits::load(p.train_size as usize, seed)?;
    let mut model = autoencoder(Path::new(&p.net), seed, p.lr)?;
    let job = Job {
        name: "linear AE",
        x_train: &d.train.images,
        y_train: &d.train.images,
        x_val: &d.val.images,
        y_val: &d.val.images,
        epochs,
        lr: p.lr,
        seed,
        cost: 1,
    };
    ctx.show(
        "data",
        Output::Text(format!(
            "{} training and {} validation digits; the target of every image is the image itself \
             (no labels are used).",
            d.train.n, d.val.n
        )),
    );
    let mut budget = Budget {
        done: 0,
        total: job.batches() * epochs,
    };
    let mut plot = common::loss_plot("Reconstruction loss per epoch", epochs, "MSE");
    train_live(
        ctx,
        &mut model,
        &mut plot,
        "curves",
        &mut budget,
        &job,
        true,
    )?;
    let recon = outputs(&mut model, &d.test.images, IMAGE)?;
    let embedding = outputs(&mut model, &d.test.images[..PIXELS], EMBEDDING)?.len();
    let shown = one_per_class(&d.test);
    ctx.show(
        "originals",
        pictures(&d.test.images, &shown, |i| {
            format!("test {}", d.test.class_name(i))
        }),
    );
    ctx.show(
        "reconstructions",
        pictures(&recon, &shown, |_| "rebuilt".into()),
    );
    let mse = mean(&per_image_mse(&recon, &d.test.images));
    let psnr = psnr_mean(&recon, &d.test.images);
    ctx.show(
        "result",
        Output::Text(format!(
            "Test reconstruction MSE {mse:.4} (PSNR {psnr:.1} dB) through an embedding of {embedding} \
             numbers per {PIXELS}-pixel image."
        )),
    );
    ctx.emit(LinearMetric::ReconMseLinear, mse);
    ctx.emit(LinearMetric::ReconPsnrLinear, psnr);
    ctx.emit(LinearMetric::EmbeddingSize, embedding as f64);
    Ok(())
}

/// The mean PSNR (data range 1) of the images of `test` against those of `truth`.
pub fn psnr_mean(test: &[f32], truth: &[f32]) -> f64 {
    let v: Vec<f64> = test
        .chunks(PIXELS)
        .zip(truth.chunks(PIXELS))
        .map(|(a, b)| train::metrics::psnr(a, b, 1.0))
        .collect();
    mean(&v)
}

params! {
    /// Parameters of `ae.conv`.
    pub struct ConvParams {
        conv: String = "nets/lesson5_conv.toml", File,
            "the autoencoder whose decoder uses transposed convolutions";
        upsample: String = "nets/lesson5_upsample.toml", File,
            "the autoencoder whose decoder uses upsampling + convolution";
        epochs: i64 = 4, Int { min: 1, max: 30 }, "passes over the training images";
        train_size: i64 = 3000, Int { min: 500, max: 12000 },
            "training images used (10% of them validate)";
        lr: f64 = CONV_LR;
        seed: i64 = SEED;
    }
}

metrics! {
    /// What `ae.conv` reports.
    pub enum ConvMetric {
        ReconMseConv = "recon_mse_conv",
        ReconMseUpsample = "recon_mse_upsample",
        ReconPsnrConv = "recon_psnr_conv",
        ReconPsnrUpsample = "recon_psnr_upsample",
    }
}

/// Two convolutional autoencoders, transposed conv vs upsample + conv.
pub static CONV: Experiment = Experiment {
    name: "ae.conv",
    summary: "Two conv autoencoders, transposed conv vs nearest upsampling + conv: curves, reconstructions, the checkerboard",
    params: ConvParams::SPECS,
    metrics: ConvMetric::NAMES,
    long: true,
    run: |p, ctx| kit::typed(&CONV, p, ctx, conv),
};

fn conv(p: ConvParams, ctx: &mut Emit<'_, ConvMetric>) -> anyhow::Result<()> {
    let seed = p.seed as u64;
    let epochs = p.epochs as usize;
    let lr = p.lr;
    let d = Digits::load(p.train_size as usize, seed)?;
    let nets = [
        (
            "transposed conv",
            "conv",
            p.conv.as_str(),
            ConvMetric::ReconMseConv,
            ConvMetric::ReconPsnrConv,
        ),
        (
            "upsample + conv",
            "upsample",
            p.upsample.as_str(),
            ConvMetric::ReconMseUpsample,
            ConvMetric::ReconPsnrUpsample,
        ),
    ];
    let batches = d.train.n.div_ceil(BATCH);
    let mut budget = Budget {
        done: 0,
        total: 2 * batches * epochs,
    };
    let mut plot = common::loss_plot("Reconstruction loss per epoch: two decoders", epochs, "MSE");
    let shown = one_per_class(&d.test);
    ctx.show(
        "originals",
        pictures(&d.test.images, &shown, |i| {
            format!("test {}", d.test.class_name(i))
        }),
    );
    let blank = vec![0.0f32; PIXELS];
    let mut rows = Vec::new();
    let mut blanks = Vec::new();
    for (label, key, path, mse_metric, psnr_metric) in nets {
        let mut model = autoencoder(Path::new(path), seed, lr)?;
        let job = Job {
            name: label,
            x_train: &d.train.images,
            y_train: &d.train.images,
            x_val: &d.val.images,
            y_val: &d.val.images,
            epochs,
            lr,
            seed,
            cost: 1,
        };
        let t0 = Instant::now();
        train_live(
            ctx,
            &mut model,
            &mut plot,
            "curves",
            &mut budget,
            &job,
            false,
        )?;
        let secs = t0.elapsed().as_secs_f64();
        let recon = outputs(&mut model, &d.test.images, IMAGE)?;
        ctx.show(
            &format!("recon-{key}"),
            pictures(&recon, &shown, |_| label.to_string()),
        );
        blanks.push(Picture {
            caption: label.to_string(),
            image: stretched(&outputs(&mut model, &blank, IMAGE)?),
        });
        let mse = mean(&per_image_mse(&recon, &d.test.images));
        let psnr = psnr_mean(&recon, &d.test.images);
        ctx.emit(mse_metric, mse);
        ctx.emit(psnr_metric, psnr);
        let (params, _) = model.net.param_counts();
        rows.push(vec![
            label.to_string(),
            params.to_string(),
            format!("{mse:.4}"),
            format!("{psnr:.1} dB"),
            format!("{secs:.1} s"),
        ]);
    }
    ctx.show(
        "blank-title",
        Output::Text("Each decoder's answer to an all-black input, contrast-stretched:".into()),
    );
    ctx.show("blank", Output::Pictures(blanks));
    ctx.show(
        "results",
        Output::Table(Table {
            title: Some("Test reconstruction by decoder".into()),
            header: vec![
                "decoder".into(),
                "parameters".into(),
                "test MSE".into(),
                "PSNR".into(),
                "time".into(),
            ],
            rows,
        }),
    );
    Ok(())
}
