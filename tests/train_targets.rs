//! The one training loop beyond classification, on real data, small and seeded: an
//! autoencoder reconstructing digits, a segmenter on generated scenes, and a two-head model
//! (a class head and a box head on one backbone). Each runs in a few seconds in release.

use tutor::data::{self, scenes, SceneConfig, SceneKinds, Split as DataSplit};
use tutor::nn::{LossKind, NetSpec, Network, Objective, Optimizer};
use tutor::train::NetModel;
use tutor::train::{self, MetricKind, Model, Quiet, Split, TargetData, TrainConfig};

fn model(text: &str, objective: Objective, lr: f64) -> NetModel {
    let spec = NetSpec::parse(text, "test.toml").unwrap();
    NetModel::with_objective(
        Network::new(&spec, 1).unwrap(),
        Optimizer::adam(lr),
        objective,
    )
}

/// Digits as their own targets: 784 values per example.
fn image_split(d: &data::Dataset) -> Split<'_> {
    Split::with_targets(
        &d.images,
        d.n,
        vec![(
            String::new(),
            TargetData::Values {
                values: &d.images,
                per: 784,
            },
        )],
    )
}

const AUTOENCODER: &str = r#"
input = [1, 28, 28]
[[layers]]
type = "conv2d"
name = "enc1"
out_channels = 8
kernel = 3
stride = 2
padding = 1
[[layers]]
type = "relu"
[[layers]]
type = "conv2d"
name = "enc2"
out_channels = 16
kernel = 3
stride = 2
padding = 1
[[layers]]
type = "relu"
[[layers]]
type = "conv_transpose2d"
name = "dec1"
out_channels = 8
kernel = 3
stride = 2
padding = 1
output_padding = 1
[[layers]]
type = "relu"
[[layers]]
type = "conv_transpose2d"
name = "dec2"
out_channels = 1
kernel = 3
stride = 2
padding = 1
output_padding = 1
[[layers]]
type = "sigmoid"
"#;

#[test]
fn autoencoder_halves_its_reconstruction_error() {
    let all = data::mnist(DataSplit::Train)
        .unwrap()
        .subset(1200, 3)
        .unwrap();
    let (tr, val) = all.train_val_split(200, 3).unwrap();
    let mut m = model(AUTOENCODER, Objective::single(LossKind::Mse), 3e-3);
    let metrics = [
        MetricKind::Mse {
            head: String::new(),
        },
        MetricKind::Psnr {
            head: String::new(),
            data_range: 1.0,
        },
    ];
    let before = train::evaluate_with(&mut m, &image_split(&val), 256, &metrics, |_| {}).unwrap();
    let cfg = TrainConfig {
        epochs: 4,
        batch_size: 32,
        lr: 3e-3,
        seed: 3,
        metrics: metrics.to_vec(),
        ..TrainConfig::default()
    };
    let h = train::fit(
        &mut m,
        image_split(&tr),
        image_split(&val),
        &cfg,
        &mut Quiet,
    )
    .unwrap();
    let after = train::evaluate_with(&mut m, &image_split(&val), 256, &metrics, |_| {}).unwrap();
    assert!(
        after.metrics[0].1 <= 0.5 * before.metrics[0].1,
        "validation MSE {} -> {}",
        before.metrics[0].1,
        after.metrics[0].1
    );
    // The loss the loop minimised is the same MSE the metric reports.
    assert!((after.loss - after.metrics[0].1).abs() < 1e-4);
    assert!(after.metrics[1].1 > before.metrics[1].1 + 3.0, "PSNR rose");
    let last = h.epochs.last().unwrap();
    assert_eq!(last.val_metrics[1].0, "PSNR (dB)");
}

const SEGMENTER: &str = r#"
input = [1, 64, 64]
[[layers]]
type = "conv2d"
name = "c1"
out_channels = 8
kernel = 3
padding = 1
[[layers]]
type = "relu"
[[layers]]
type = "conv2d"
name = "c2"
out_channels = 8
kernel = 3
padding = 1
[[layers]]
type = "relu"
[[layers]]
type = "conv2d"
name = "score"
out_channels = 2
kernel = 1
"#;

/// Scenes with one class per pixel as the target.
fn mask_split<'a>(s: &'a scenes::SceneSet, m: &'a [usize]) -> Split<'a> {
    Split::with_targets(
        s.images(),
        s.len(),
        vec![(
            String::new(),
            TargetData::Classes {
                classes: m,
                per: 64 * 64,
            },
        )],
    )
}

/// Foreground (any object) against background, per pixel.
fn binary_masks(set: &scenes::SceneSet) -> Vec<usize> {
    set.masks().iter().map(|&c| usize::from(c != 0)).collect()
}

#[test]
fn segmenter_on_scenes_beats_an_all_background_guess() {
    let cfg = |seed| SceneConfig {
        kinds: SceneKinds::Both,
        seed,
        ..SceneConfig::default()
    };
    let tr = scenes::mnist_scenes(&cfg(11), 160, DataSplit::Train).unwrap();
    let val = scenes::mnist_scenes(&cfg(12), 40, DataSplit::Test).unwrap();
    let (tr_m, val_m) = (binary_masks(&tr), binary_masks(&val));
    let dice = MetricKind::Dice {
        head: String::new(),
        classes: 2,
    };
    let mut m = model(SEGMENTER, Objective::single(LossKind::CrossEntropy), 1e-2);
    // An all-background guess scores 0: no foreground pixel is ever found.
    let guess = vec![0usize; val_m.len()];
    let fg = val_m.iter().filter(|&&c| c == 1).count();
    assert!(fg > 0 && guess.iter().all(|&g| g == 0));
    let train_cfg = TrainConfig {
        epochs: 3,
        batch_size: 16,
        lr: 1e-2,
        seed: 5,
        metrics: vec![dice.clone(), MetricKind::accuracy()],
        ..TrainConfig::default()
    };
    let h = train::fit(
        &mut m,
        mask_split(&tr, &tr_m),
        mask_split(&val, &val_m),
        &train_cfg,
        &mut Quiet,
    )
    .unwrap();
    let best = &h.epochs[h.best_epoch - 1];
    let background_share = 1.0 - fg as f64 / val_m.len() as f64;
    assert!(
        best.val_metric("Dice") > 0.7,
        "validation Dice {}",
        best.val_metric("Dice")
    );
    // Pixel accuracy must beat calling everything background, too.
    assert!(best.val_metric("accuracy") > background_share + 0.5 * (1.0 - background_share));
}

const TWO_HEADS: &str = r#"
input = [1, 64, 64]
[[layers]]
type = "conv2d"
name = "c1"
out_channels = 8
kernel = 3
stride = 2
padding = 1
[[layers]]
type = "relu"
[[layers]]
type = "conv2d"
name = "c2"
out_channels = 16
kernel = 3
stride = 2
padding = 1
[[layers]]
type = "relu"
[[layers]]
type = "maxpool2d"
kernel = 2
[[layers]]
type = "flatten"
[[layers]]
type = "save"
as = "features"
[[layers]]
type = "linear"
name = "cls"
out_features = 2
[[layers]]
type = "output"
as = "class"
[[layers]]
type = "branch"
from = "features"
[[layers]]
type = "linear"
name = "box"
out_features = 4
[[layers]]
type = "output"
as = "box"
"#;

#[test]
fn two_head_model_lowers_both_losses() {
    let cfg = SceneConfig {
        objects: 1..=1,
        kinds: SceneKinds::Both,
        seed: 21,
        ..SceneConfig::default()
    };
    let set = scenes::mnist_scenes(&cfg, 300, DataSplit::Train).unwrap();
    // The class head tells a digit (classes 1..=10) from a shape (11..=13); the box head
    // finds the object. Boxes as fractions of the canvas.
    let labels: Vec<u8> = set
        .boxes()
        .iter()
        .map(|b| u8::from(b[0].class > 10))
        .collect();
    let boxes: Vec<f32> = set
        .boxes()
        .iter()
        .flat_map(|b| {
            let b = b[0];
            [b.x0, b.y0, b.x1, b.y1].map(|v| v as f32 / 64.0)
        })
        .collect();
    let weights = vec![1.0f32; boxes.len()];
    let n = set.len();
    let split = |lo: usize, hi: usize| {
        Split::with_targets(
            &set.images()[lo * 4096..hi * 4096],
            hi - lo,
            vec![
                ("class".into(), TargetData::Labels(&labels[lo..hi])),
                (
                    "box".into(),
                    TargetData::Weighted {
                        values: &boxes[lo * 4..hi * 4],
                        weights: &weights[lo * 4..hi * 4],
                        norm: None,
                        per: 4,
                    },
                ),
            ],
        )
    };
    let objective = Objective::new()
        .term("class", LossKind::CrossEntropy, 1.0)
        .term("box", LossKind::SmoothL1 { beta: 0.1 }, 5.0);
    let mut m = model(TWO_HEADS, objective, 3e-3);
    assert_eq!(m.term_names(), ["cross-entropy (class)", "smooth L1 (box)"]);
    let cfg = TrainConfig {
        epochs: 8,
        batch_size: 32,
        lr: 3e-3,
        seed: 2,
        metrics: vec![MetricKind::Accuracy {
            head: "class".into(),
        }],
        ..TrainConfig::default()
    };
    let before = train::evaluate_with(&mut m, &split(240, n), 256, &[], |_| {}).unwrap();
    let h = train::fit(&mut m, split(0, 240), split(240, n), &cfg, &mut Quiet).unwrap();
    let after = train::evaluate_with(&mut m, &split(240, n), 256, &[], |_| {}).unwrap();
    for (t, name) in ["class", "box"].iter().enumerate() {
        assert!(
            after.terms[t] < 0.7 * before.terms[t],
            "{name} loss {} -> {}",
            before.terms[t],
            after.terms[t]
        );
    }
    let first = &h.epochs[0];
    let last = h.epochs.last().unwrap();
    assert!(last.train_terms[0] < first.train_terms[0]);
    assert!(last.train_terms[1] < first.train_terms[1]);
    let digits = labels[240..].iter().filter(|&&l| l == 0).count() as f64 / 60.0;
    let majority = digits.max(1.0 - digits);
    assert!(h.epochs[h.best_epoch - 1].val_metric("accuracy") > majority + 0.1);
}
