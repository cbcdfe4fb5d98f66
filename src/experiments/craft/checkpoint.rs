//! `craft.checkpoint`: train, keep the best weights, save them to a file, load them into a
//! freshly built network, check it predicts exactly what the trained one does, and use it on
//! one test digit with its class probabilities.

use std::path::Path;

use super::{budget, config, mnist};
use crate::experiments::common::{self, Live};
use crate::experiments::kit::{self, metrics, params, Ctx, Emit, Experiment};
use crate::experiments::mlp_cnn;
use crate::nn::{NetSpec, Network};
use crate::output::{Output, Picture, Table};
use crate::train::{self, NetModel, Split};
use crate::util::home;

params! {
    /// Parameters of `craft.checkpoint`.
    pub struct CheckpointParams {
        net: String = "nets/lesson8_cnn.toml", File, "the network trained and saved";
        train_size: i64 = 2000, Int { min: 500, max: 60000 }, "training digits";
        epochs: i64 = 2, Int { min: 1, max: 20 }, "passes over the training digits";
        image: i64 = 0, Int { min: 0, max: 9999 }, "which test digit to predict";
        seed: i64 = 1, Int { min: 0, max: 9999 }, "seed for the data, weights and batches";
    }
}

metrics! {
    /// What `craft.checkpoint` reports.
    pub enum CheckpointMetric {
        TestAccuracy = "test_accuracy",
        ReloadedTestAccuracy = "reloaded_test_accuracy",
        SamePredictions = "same_predictions",
        Predicted = "predicted",
        Probability = "probability",
        Label = "label",
        BestEpoch = "best_epoch",
    }
}

/// Save the best weights, load them back, predict one digit.
pub static CHECKPOINT: Experiment = Experiment {
    name: "craft.checkpoint",
    summary: "Keep the best epoch's weights, save them, load them into a new network and predict one digit with its probabilities",
    params: CheckpointParams::SPECS,
    metrics: CheckpointMetric::NAMES,
    long: true,
    run: |p, ctx| kit::typed(&CHECKPOINT, p, ctx, checkpoint),
};

/// Softmax of one row of scores.
fn softmax(scores: &[f32]) -> Vec<f64> {
    let m = scores.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
    let e: Vec<f64> = scores.iter().map(|&s| (s as f64 - m).exp()).collect();
    let sum: f64 = e.iter().sum();
    e.iter().map(|x| x / sum).collect()
}

fn checkpoint(p: CheckpointParams, ctx: &mut Emit<'_, CheckpointMetric>) -> anyhow::Result<()> {
    let seed = p.seed as u64;
    let epochs = p.epochs as usize;
    let (data, raw_test) = mnist(p.train_size as usize, seed)?;
    let mut budget = budget(&data, 1, epochs);
    let batches = data.train.n.div_ceil(super::BATCH);
    let spec = NetSpec::load(Path::new(&p.net))?;
    let mut m = common::classifier(Path::new(&p.net), seed, 2e-3)?;
    let cfg = config(epochs, 2e-3, seed);
    let mut plot = common::loss_plot("Loss per epoch", epochs, "cross-entropy");
    let h = {
        let mut live = Live::new(
            ctx,
            &mut plot,
            "curves",
            "CNN",
            &mut budget,
            1,
            batches,
            epochs,
        );
        train::fit(
            &mut m,
            common::split(&data.train),
            common::split(&data.val),
            &cfg,
            &mut live,
        )?
    };
    // fit hands back the weights of the epoch with the lowest validation loss.
    let dir = home::learner_dir()?;
    std::fs::create_dir_all(&dir)?;
    let file = dir.join("lesson-8-best.safetensors");
    m.net.save(&file)?;
    let bytes = std::fs::metadata(&file)?.len();
    let mut fresh = NetModel::new(
        Network::new(&spec, seed + 1)?,
        crate::nn::Optimizer::adam(2e-3),
    );
    fresh.net.load(&file)?;
    let (_, acc, preds) = train::evaluate(&mut m, common::split(&data.test), 256)?;
    let (_, acc2, preds2) = train::evaluate(&mut fresh, common::split(&data.test), 256)?;
    let same = preds == preds2;
    ctx.show(
        "saved",
        Output::Text(format!(
            "Epoch {} had the lowest validation loss; its weights ({} parameters, and batch-norm \
             buffers if the network has any: {bytes} bytes) went to {}. A new network built from the same file and \
             loaded from it scores {} on the test digits, the trained one {}: {}.",
            h.best_epoch,
            crate::nn::summary::fmt_count(m.net.param_counts().0),
            file.display(),
            common::pct(acc2),
            common::pct(acc),
            if same {
                "every prediction is the same"
            } else {
                "the predictions differ"
            }
        )),
    );
    // One digit through the reloaded network.
    let i = (p.image as usize).min(data.test.n.saturating_sub(1));
    let one = Split::new(data.test.image(i), &data.test.labels[i..=i]);
    let mut scores = Vec::new();
    train::evaluate_with(&mut fresh, &one, 1, &[], |outs| {
        if let Some((_, b)) = outs.first() {
            scores.extend_from_slice(&b.data);
        }
    })?;
    let probs = softmax(&scores);
    let (best, &pb) = probs
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .ok_or_else(|| anyhow::anyhow!("the network gave no scores"))?;
    let label = data.test.labels[i] as usize;
    ctx.show(
        "digit",
        Output::Pictures(vec![Picture {
            caption: format!("test digit {i}: a {label}"),
            image: mlp_cnn::digit_picture(&raw_test, i),
        }]),
    );
    ctx.show(
        "probabilities",
        Output::Table(Table {
            title: Some(format!(
                "The reloaded network's probabilities (softmax of its scores): {best} with {}",
                common::pct(pb)
            )),
            header: ["class", "probability", ""].map(String::from).to_vec(),
            rows: probs
                .iter()
                .enumerate()
                .map(|(c, &q)| {
                    vec![
                        c.to_string(),
                        format!("{:.4}", q),
                        "█".repeat((q * 30.0).round() as usize),
                    ]
                })
                .collect(),
        }),
    );
    use CheckpointMetric as M;
    ctx.emit(M::TestAccuracy, acc);
    ctx.emit(M::ReloadedTestAccuracy, acc2);
    ctx.emit(M::SamePredictions, f64::from(u8::from(same)));
    ctx.emit(M::Predicted, best as f64);
    ctx.emit(M::Probability, pb);
    ctx.emit(M::Label, label as f64);
    ctx.emit(M::BestEpoch, h.best_epoch as f64);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn softmax_sums_to_one_and_keeps_the_order() {
        let p = softmax(&[1.0, 3.0, 2.0]);
        assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        assert!(p[1] > p[2] && p[2] > p[0]);
        // e^1 / (e^1 + e^3 + e^2)
        let e = std::f64::consts::E;
        assert!((p[0] - e / (e + e.powi(3) + e * e)).abs() < 1e-9);
    }
}
