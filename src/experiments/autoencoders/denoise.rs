//! Denoising: the same convolutional autoencoder trained twice on noisy digits, once with the
//! clean digit as its target (the right way) and once with the noisy digit itself (the mistake
//! the course notes warn about), then measured on noisy test digits by PSNR against the clean
//! ones (pixels in 0..1, so the data range R is 1).

use std::path::Path;

use super::{autoencoder, outputs, pictures, psnr_mean, train_live, Digits, Job, IMAGE, LR, SEED};
use crate::data::transforms::Transform;
use crate::experiments::common::{self, Budget};
use crate::experiments::kit::{self, metrics, params, Ctx, Emit, Experiment};
use crate::output::{Output, Table};

/// Digits shown per row of noisy / denoised / clean / wrong-target pictures: 7 fit the PNG
/// gallery's row width (1280 px at 140 px a digit), 8 wrapped as 7 + 1.
const SHOWN: usize = 7;

params! {
    /// Parameters of `ae.denoise`.
    pub struct DenoiseParams {
        net: String = "nets/lesson5_conv.toml", File, "the autoencoder's network file";
        noise: f64 = 0.4, Float { min: 0.0, max: 1.0 },
            "standard deviation of the Gaussian noise added to every pixel (then clipped to 0..1)";
        epochs: i64 = 8, Int { min: 1, max: 30 }, "passes over the training images";
        train_size: i64 = 3000, Int { min: 500, max: 12000 },
            "training images used (10% of them validate)";
        lr: f64 = LR;
        seed: i64 = SEED;
    }
}

metrics! {
    /// What `ae.denoise` reports.
    pub enum DenoiseMetric {
        DenoisePsnrNoisy = "denoise_psnr_noisy",
        DenoisePsnrOut = "denoise_psnr_out",
        DenoisePsnrWrongTarget = "denoise_psnr_wrong_target",
    }
}

/// Denoising with the right and the wrong target.
pub static DENOISE: Experiment = Experiment {
    name: "ae.denoise",
    summary: "A conv autoencoder learns to remove noise (noisy input, clean target), and the same net trained with the noisy image as target; PSNR of each",
    params: DenoiseParams::SPECS,
    metrics: DenoiseMetric::NAMES,
    long: true,
    run: |p, ctx| kit::typed(&DENOISE, p, ctx, denoise),
};

fn denoise(p: DenoiseParams, ctx: &mut Emit<'_, DenoiseMetric>) -> anyhow::Result<()> {
    let seed = p.seed as u64;
    let epochs = p.epochs as usize;
    let lr = p.lr;
    let noise = Transform::GaussianNoise {
        std: p.noise as f32,
        clip: true,
    };
    let d = Digits::load(p.train_size as usize, seed)?;
    // Three different noise seeds: training, validation and test never share a pattern.
    let noisy_train = noise.applied(&d.train.images, 28, 28, seed)?;
    let noisy_val = noise.applied(&d.val.images, 28, 28, seed + 1)?;
    let noisy_test = noise.applied(&d.test.images, 28, 28, seed + 2)?;
    let net = Path::new(&p.net);
    ctx.show(
        "data",
        Output::Text(format!(
            "{} training digits with {noise}; test digits get noise of their own.",
            d.train.n
        )),
    );
    let batches = d.train.n.div_ceil(64);
    let mut budget = Budget {
        done: 0,
        total: 2 * batches * epochs,
    };
    let mut plot = common::loss_plot(
        "Training loss per epoch (each against its own target)",
        epochs,
        "MSE",
    );
    let mut results = Vec::new();
    for (name, target_train, target_val) in [
        ("clean target", &d.train.images, &d.val.images),
        ("noisy target", &noisy_train, &noisy_val),
    ] {
        let mut model = autoencoder(net, seed, lr)?;
        let job = Job {
            name,
            x_train: &noisy_train,
            y_train: target_train,
            x_val: &noisy_val,
            y_val: target_val,
            epochs,
            lr,
            seed,
            cost: 1,
        };
        train_live(
            ctx,
            &mut model,
            &mut plot,
            "curves",
            &mut budget,
            &job,
            false,
        )?;
        results.push(outputs(&mut model, &noisy_test, IMAGE)?);
    }
    let shown: Vec<usize> = super::one_per_class(&d.test)
        .into_iter()
        .take(SHOWN)
        .collect();
    ctx.show(
        "noisy",
        pictures(&noisy_test, &shown, |_| "noisy in".into()),
    );
    ctx.show(
        "denoised",
        pictures(&results[0], &shown, |_| "denoised".into()),
    );
    ctx.show(
        "clean",
        pictures(&d.test.images, &shown, |i| {
            format!("clean {}", d.test.class_name(i))
        }),
    );
    ctx.show(
        "wrong",
        pictures(&results[1], &shown, |_| "noisy target".into()),
    );
    let noisy = psnr_mean(&noisy_test, &d.test.images);
    let out = psnr_mean(&results[0], &d.test.images);
    let wrong = psnr_mean(&results[1], &d.test.images);
    ctx.show(
        "psnr",
        Output::Table(Table {
            title: Some(format!(
                "PSNR against the clean test digits, 10·log10(1² / MSE), mean of {} images",
                d.test.n
            )),
            header: vec!["image".into(), "PSNR".into(), "vs noisy input".into()],
            rows: vec![
                vec!["noisy input".into(), format!("{noisy:.2} dB"), "-".into()],
                vec![
                    "denoised (clean target)".into(),
                    format!("{out:.2} dB"),
                    format!("{:+.2} dB", out - noisy),
                ],
                vec![
                    "trained on noisy target".into(),
                    format!("{wrong:.2} dB"),
                    format!("{:+.2} dB", wrong - noisy),
                ],
            ],
        }),
    );
    ctx.emit(DenoiseMetric::DenoisePsnrNoisy, noisy);
    ctx.emit(DenoiseMetric::DenoisePsnrOut, out);
    ctx.emit(DenoiseMetric::DenoisePsnrWrongTarget, wrong);
    Ok(())
}
