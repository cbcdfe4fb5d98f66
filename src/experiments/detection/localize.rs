//! `det.localize`: one object per scene, a shared backbone with a class head and a box head,
//! trained on `cross-entropy + α · MSE(box)` at two values of α, so the learner sees what α
//! balances: the box term's share of the gradient.
//!
//! The box head answers `(cx, cy, w, h) / 64`: the centre and size as fractions of the image,
//! so every target lies in 0..1 and the MSE is small next to the cross-entropy at the start.

use std::path::Path;
use std::time::Instant;

use super::{draw, rect, scene_config, NAMES, PIXELS, SIZE};
use crate::data::{scenes, SceneSet};
use crate::experiments::common::{self, Budget, Live};
use crate::experiments::kit::{self, metrics, params, Ctx, Emit, Experiment};
use crate::nn::{LossKind, NetSpec, Network, Objective, Optimizer};
use crate::output::{Output, Picture, Table};
use crate::train::detection::{iou, Rect};
use crate::train::{self, MetricKind, NetModel, Split, TargetData, TrainConfig};

/// Test scenes drawn with their boxes.
const SHOWN: usize = 6;

params! {
    /// Parameters of `det.localize`.
    pub struct LocalizeParams {
        net: String = "nets/lesson6_localizer.toml", File, "the two-head network file";
        alpha: f64 = 20.0, Float { min: 0.0, max: 1000.0 }, "weight α of the box loss";
        alpha_other: f64 = 100.0, Float { min: 0.0, max: 1000.0 },
            "a second α, trained for comparison (0: skip it)";
        epochs: i64 = 10, Int { min: 1, max: 30 }, "passes over the training scenes";
        train_size: i64 = 800, Int { min: 32, max: 5000 }, "training scenes";
        test_size: i64 = 200, Int { min: 8, max: 1000 }, "test scenes";
        lr: f64 = 3e-3, Float { min: 1e-5, max: 0.1 }, "Adam learning rate";
        seed: i64 = 1, Int { min: 0, max: 9999 }, "seed for scenes, weights and batches";
    }
}

metrics! {
    /// What `det.localize` reports.
    pub enum LocalizeMetric {
        LocalizationIou = "localization_iou",
        LocalizationAccuracy = "localization_accuracy",
        OtherIou = "other_iou",
        OtherAccuracy = "other_accuracy",
    }
}

/// The localiser trained at two values of α.
pub static LOCALIZE: Experiment = Experiment {
    name: "det.localize",
    summary: "One object per scene: a class head and a box head on one backbone, CE + α·MSE at two values of α; IoU and accuracy",
    params: LocalizeParams::SPECS,
    metrics: LocalizeMetric::NAMES,
    long: true,
    run: |p, ctx| kit::typed(&LOCALIZE, p, ctx, localize),
};

/// One-object scenes with their class labels and box targets.
struct Data {
    set: SceneSet,
    labels: Vec<u8>,
    boxes: Vec<f32>,
}

fn data(seed: u64, part: u64, n: usize) -> anyhow::Result<Data> {
    let set = scenes::generate(&scene_config(seed * 10 + part, 1..=1), n, None)?;
    let mut labels = Vec::with_capacity(n);
    let mut boxes = Vec::with_capacity(4 * n);
    let s = SIZE as f32;
    for b in set.boxes() {
        let b = b[0];
        labels.push((b.class - 1) as u8);
        let (w, h) = (b.width() as f32, b.height() as f32);
        boxes.extend([
            (b.x0 as f32 + w / 2.0) / s,
            (b.y0 as f32 + h / 2.0) / s,
            w / s,
            h / s,
        ]);
    }
    Ok(Data { set, labels, boxes })
}

fn split(d: &Data) -> Split<'_> {
    Split::with_targets(
        d.set.images(),
        d.set.len(),
        vec![
            ("class".into(), TargetData::Labels(&d.labels)),
            (
                "box".into(),
                TargetData::Values {
                    values: &d.boxes,
                    per: 4,
                },
            ),
        ],
    )
}

/// A predicted `(cx, cy, w, h) / 64` as a box in pixels.
fn to_rect(v: &[f32]) -> Rect {
    let s = SIZE as f64;
    let (cx, cy) = (v[0] as f64 * s, v[1] as f64 * s);
    let (w, h) = ((v[2] as f64 * s).max(0.0), (v[3] as f64 * s).max(0.0));
    Rect::new(cx - w / 2.0, cy - h / 2.0, cx + w / 2.0, cy + h / 2.0)
}

/// What one trained localiser says about the test scenes.
struct Scored {
    alpha: f64,
    classes: Vec<usize>,
    rects: Vec<Rect>,
    accuracy: f64,
    mean_iou: f64,
    seconds: f64,
}

fn localize(p: LocalizeParams, ctx: &mut Emit<'_, LocalizeMetric>) -> anyhow::Result<()> {
    let seed = p.seed as u64;
    let epochs = p.epochs as usize;
    let train_d = data(seed, 0, p.train_size as usize)?;
    let val_d = data(seed, 1, (p.train_size as usize / 5).max(8))?;
    let test_d = data(seed, 2, p.test_size as usize)?;
    let spec = NetSpec::load(Path::new(&p.net))?;
    let alphas: Vec<f64> = if p.alpha_other > 0.0 && p.alpha_other != p.alpha {
        vec![p.alpha, p.alpha_other]
    } else {
        vec![p.alpha]
    };
    let cfg = TrainConfig {
        epochs,
        batch_size: 32,
        lr: p.lr,
        seed,
        metrics: vec![MetricKind::Accuracy {
            head: "class".into(),
        }],
        ..TrainConfig::default()
    };
    let batches = train_d.set.len().div_ceil(cfg.batch_size);
    let mut budget = Budget {
        done: 0,
        total: alphas.len() * batches * epochs,
    };
    ctx.show(
        "data",
        Output::Text(format!(
            "{} training, {} validation and {} test scenes of {SIZE}x{SIZE} pixels, one shape \
             each ({}). Box targets: (cx, cy, w, h) / {SIZE}.",
            train_d.set.len(),
            val_d.set.len(),
            test_d.set.len(),
            NAMES.join(", ")
        )),
    );
    let mut plot = common::loss_plot(
        "Loss per epoch (cross-entropy + α · MSE)",
        epochs,
        "cross-entropy + α · MSE",
    );
    let mut results = Vec::new();
    for &alpha in &alphas {
        let objective = Objective::new()
            .term("class", LossKind::CrossEntropy, 1.0)
            .term("box", LossKind::Mse, alpha);
        let mut model =
            NetModel::with_objective(Network::new(&spec, seed)?, Optimizer::adam(p.lr), objective);
        let t0 = Instant::now();
        let name = format!("α = {alpha}");
        {
            let mut live = Live::new(
                ctx,
                &mut plot,
                "curves",
                &name,
                &mut budget,
                1,
                batches,
                epochs,
            );
            train::fit(&mut model, split(&train_d), split(&val_d), &cfg, &mut live)?;
        }
        let seconds = t0.elapsed().as_secs_f64();
        let (mut classes, mut rects) = (Vec::new(), Vec::new());
        train::evaluate_with(&mut model, &split(&test_d), 64, &[], |outs| {
            for (head, b) in outs {
                match head.as_str() {
                    "class" => classes.extend(train::metrics::argmax_rows(b)),
                    "box" => rects.extend(b.data.chunks(4).map(to_rect)),
                    _ => {}
                }
            }
        })?;
        let n = test_d.set.len() as f64;
        let accuracy = classes
            .iter()
            .zip(&test_d.labels)
            .filter(|(c, l)| **c == **l as usize)
            .count() as f64
            / n;
        let mean_iou = rects
            .iter()
            .zip(test_d.set.boxes())
            .map(|(r, b)| iou(r, &rect(&b[0])))
            .sum::<f64>()
            / n;
        results.push(Scored {
            alpha,
            classes,
            rects,
            accuracy,
            mean_iou,
            seconds,
        });
    }
    show_boxes(ctx, &test_d, &results[0]);
    let hits = |s: &Scored, t: f64| {
        s.rects
            .iter()
            .zip(test_d.set.boxes())
            .filter(|(r, b)| iou(r, &rect(&b[0])) >= t)
            .count() as f64
            / test_d.set.len() as f64
    };
    ctx.show(
        "results",
        Output::Table(Table {
            title: Some(format!("Test scores on {} scenes", test_d.set.len())),
            header: ["α", "class accuracy", "mean IoU", "IoU ≥ 0.5", "time"]
                .map(String::from)
                .to_vec(),
            rows: results
                .iter()
                .map(|s| {
                    vec![
                        s.alpha.to_string(),
                        common::pct(s.accuracy),
                        format!("{:.3}", s.mean_iou),
                        common::pct(hits(s, 0.5)),
                        format!("{:.1} s", s.seconds),
                    ]
                })
                .collect(),
        }),
    );
    let first = &results[0];
    ctx.emit(LocalizeMetric::LocalizationIou, first.mean_iou);
    ctx.emit(LocalizeMetric::LocalizationAccuracy, first.accuracy);
    if let Some(o) = results.get(1) {
        ctx.emit(LocalizeMetric::OtherIou, o.mean_iou);
        ctx.emit(LocalizeMetric::OtherAccuracy, o.accuracy);
    }
    Ok(())
}

/// The first test scenes with the true box (dashed white) and the predicted one (in the
/// predicted class's colour), captioned with the class and the IoU.
fn show_boxes(ctx: &mut dyn Ctx, d: &Data, s: &Scored) {
    let pics = (0..SHOWN.min(d.set.len()))
        .map(|i| {
            let truth = rect(&d.set.boxes()[i][0]);
            let mut img = draw::scene(&d.set.images()[i * PIXELS..(i + 1) * PIXELS], SIZE);
            draw::outline(&mut img, &truth, draw::TRUTH, true);
            draw::outline(
                &mut img,
                &s.rects[i],
                draw::class_colour(s.classes[i]),
                false,
            );
            let said = NAMES.get(s.classes[i]).copied().unwrap_or("?");
            let right = if s.classes[i] == d.labels[i] as usize {
                ""
            } else {
                " ✗"
            };
            Picture {
                caption: format!("{said}{right}, IoU {:.2}", iou(&s.rects[i], &truth)),
                image: img,
            }
        })
        .collect();
    ctx.show("boxes", Output::Pictures(pics));
}
