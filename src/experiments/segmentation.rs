//! Lesson 7: semantic segmentation on generated scenes of squares, discs and triangles. The
//! vision tasks side by side on one scene, the data with its masks, a brightness-threshold
//! segmenter the learner tunes, and the race: a U-Net against the same network without its
//! skip connections, trained with Dice + cross-entropy and scored image by image
//! ([`crate::train::segmentation`]), with the masks exported for anyone to recompute.

mod picture;

use std::time::Instant;

use rand::{Rng, SeedableRng};

use super::common::{self, Budget, Live};
use crate::data::{scenes, SceneConfig, SceneKinds, SceneSet};
use crate::experiments::kit::{self, metrics, params, Ctx, Emit, Experiment};
use crate::nn::{LossKind, NetSpec, Network, Objective, Optimizer};
use crate::output::{Output, Picture, Plot, Series, SeriesStyle, Table};
use crate::train::segmentation::{image_scores, scores, Scores};
use crate::train::NetModel;
use crate::train::{self, EpochStats, MetricKind, Observer, Split, TargetData, TrainConfig};

pub use picture::{colour, gray_bytes, gray_png, overlay};

/// Canvas side of every scene in the lesson.
const SIZE: usize = 64;
/// Pixels per scene.
const PIXELS: usize = SIZE * SIZE;
/// Test scenes shown as overlays.
const SHOWN: usize = 4;

/// The lesson's scenes: 1 to 3 shapes of 16 to 30 px on a 64 px canvas.
fn scene_config(seed: u64) -> SceneConfig {
    SceneConfig {
        size: SIZE,
        kinds: SceneKinds::Shapes,
        scale: 16..=30,
        seed,
        ..SceneConfig::default()
    }
}

/// `n` scenes of the lesson's kind; `part` keeps training, validation and test scenes apart.
fn scene_set(seed: u64, part: u64, n: usize) -> anyhow::Result<SceneSet> {
    Ok(scenes::generate(&scene_config(seed * 10 + part), n, None)?)
}

/// Share of each class among `masks`' pixels.
fn class_shares(masks: &[u8], classes: usize) -> Vec<f64> {
    let mut counts = vec![0usize; classes];
    for &m in masks {
        if let Some(c) = counts.get_mut(m as usize) {
            *c += 1;
        }
    }
    counts
        .iter()
        .map(|&c| c as f64 / masks.len().max(1) as f64)
        .collect()
}

params! {
    /// Parameters of `seg.tasks`.
    pub struct TasksParams {
        seed: i64 = 3, Int { min: 0, max: 9999 }, "which scene";
    }
}

metrics! {
    /// What `seg.tasks` reports.
    pub enum TasksMetric {
        Objects = "objects",
        ForegroundPixels = "foreground_pixels",
    }
}

/// The five vision tasks on one scene, each with the ground truth it needs.
pub static TASKS: Experiment = Experiment {
    name: "seg.tasks",
    summary:
        "Classification, localization, detection, semantic and instance segmentation on one scene",
    params: TasksParams::SPECS,
    metrics: TasksMetric::NAMES,
    long: false,
    run: |p, ctx| kit::typed(&TASKS, p, ctx, tasks),
};

fn tasks(p: TasksParams, ctx: &mut Emit<'_, TasksMetric>) -> anyhow::Result<()> {
    let cfg = SceneConfig {
        objects: 2..=3,
        ..scene_config(p.seed as u64)
    };
    let scene = scenes::scene(&cfg, 0, None)?;
    let names = scenes::class_names(&cfg, None)?;
    // The object with the most visible pixels is the one a classifier would be labelled with.
    let area = |k: usize| scene.instances.iter().filter(|&&i| i as usize == k).count();
    let main = (1..=scene.boxes.len())
        .max_by_key(|&k| area(k))
        .unwrap_or(1);
    let main_box = scene.boxes[main - 1];
    let mut localized = picture::scene_picture(&scene.image, SIZE);
    picture::draw_box(&mut localized, &main_box, colour(main_box.class));
    let mut detected = picture::scene_picture(&scene.image, SIZE);
    for b in &scene.boxes {
        picture::draw_box(&mut detected, b, colour(b.class));
    }
    let semantic = overlay(&scene.image, &scene.mask, SIZE);
    // Instances: one colour per object, whatever its class.
    let inst: Vec<u8> = scene.instances.iter().map(|&k| k.min(7)).collect();
    let instances = overlay(&scene.image, &inst, SIZE);
    let pics = vec![
        Picture {
            caption: format!("classification: \"{}\"", names[main_box.class]),
            image: picture::scene_picture(&scene.image, SIZE),
        },
        Picture {
            caption: "localization: 1 box".into(),
            image: localized,
        },
        Picture {
            caption: format!("detection: {} boxes", scene.boxes.len()),
            image: detected,
        },
        Picture {
            caption: "semantic: class per pixel".into(),
            image: semantic,
        },
        Picture {
            caption: "instance: object per pixel".into(),
            image: instances,
        },
    ];
    ctx.show("tasks", Output::Pictures(pics));
    let fg = scene.mask.iter().filter(|&&c| c != 0).count();
    let rows = [
        ["classification", "one class for the whole image", "1 label"],
        [
            "localization",
            "one class and one box",
            "1 label + 4 numbers",
        ],
        [
            "detection",
            "a class and a box per object",
            "per object: label + 4 numbers",
        ],
        [
            "semantic segmentation",
            "a class per pixel",
            "a 64x64 class mask",
        ],
        [
            "instance segmentation",
            "an object and its class per pixel",
            "a mask per object",
        ],
    ];
    ctx.show(
        "labels",
        Output::Table(Table {
            title: Some(format!(
                "The ground truth each task needs ({} objects, {fg} of {PIXELS} pixels foreground)",
                scene.boxes.len()
            )),
            header: vec!["task".into(), "answers".into(), "label per image".into()],
            rows: rows
                .iter()
                .map(|r| r.iter().map(|s| s.to_string()).collect())
                .collect(),
        }),
    );
    ctx.show("legend", Output::Table(picture::legend(&names, None)));
    ctx.emit(TasksMetric::Objects, scene.boxes.len() as f64);
    ctx.emit(TasksMetric::ForegroundPixels, fg as f64);
    Ok(())
}

params! {
    /// Parameters of `seg.scenes`.
    pub struct ScenesParams {
        count: i64 = 6, Int { min: 1, max: 12 }, "how many scenes";
        binary: bool = false, Bool, "merge every shape into one foreground class";
        seed: i64 = 1, Int { min: 0, max: 9999 }, "which scenes";
    }
}

metrics! {
    /// What `seg.scenes` reports.
    pub enum ScenesMetric {
        BackgroundShare = "background_share",
        Classes = "classes",
    }
}

/// Training scenes with their masks drawn over them.
pub static SCENES: Experiment = Experiment {
    name: "seg.scenes",
    summary:
        "Generated training scenes with their class masks drawn over them, and the class shares",
    params: ScenesParams::SPECS,
    metrics: ScenesMetric::NAMES,
    long: false,
    run: |p, ctx| kit::typed(&SCENES, p, ctx, scenes_shown),
};

fn scenes_shown(p: ScenesParams, ctx: &mut Emit<'_, ScenesMetric>) -> anyhow::Result<()> {
    let set = scene_set(p.seed as u64, 0, p.count as usize)?;
    let mut names = set.class_names().to_vec();
    let masks: Vec<u8> = if p.binary {
        names = vec![names[0].clone(), "shape".into()];
        set.masks().iter().map(|&c| u8::from(c != 0)).collect()
    } else {
        set.masks().to_vec()
    };
    let mut pics = Vec::new();
    for i in 0..set.len() {
        let image = &set.images()[i * PIXELS..(i + 1) * PIXELS];
        pics.push(Picture {
            caption: format!("scene {i}"),
            image: picture::scene_picture(image, SIZE),
        });
        pics.push(Picture {
            caption: "its mask".into(),
            image: overlay(image, &masks[i * PIXELS..(i + 1) * PIXELS], SIZE),
        });
    }
    ctx.show("scenes", Output::Pictures(pics));
    let shares = class_shares(&masks, names.len());
    ctx.show(
        "legend",
        Output::Table(picture::legend(&names, Some(&shares))),
    );
    ctx.emit(ScenesMetric::BackgroundShare, shares[0]);
    ctx.emit(ScenesMetric::Classes, names.len() as f64);
    Ok(())
}

params! {
    /// Parameters of `seg.threshold`.
    pub struct ThresholdParams {
        threshold: f64 = 0.3, Float { min: 0.0, max: 1.0 },
            "pixels brighter than this are called foreground";
        noise: f64 = 0.2, Float { min: 0.0, max: 0.5 },
            "standard deviation of the Gaussian noise added to the scenes";
        seed: i64 = 1, Int { min: 0, max: 9999 }, "seed for the scenes and the noise";
    }
}

metrics! {
    /// What `seg.threshold` reports.
    pub enum ThresholdMetric {
        Dice = "dice",
        Iou = "iou",
        PixelAccuracy = "pixel_accuracy",
    }
}

/// The simplest segmenter: a brightness threshold on noisy scenes, scored by Dice.
pub static THRESHOLD: Experiment = Experiment {
    name: "seg.threshold",
    summary: "Foreground by a brightness threshold on noisy scenes: Dice, IoU and pixel accuracy",
    params: ThresholdParams::SPECS,
    metrics: ThresholdMetric::NAMES,
    long: false,
    run: |p, ctx| kit::typed(&THRESHOLD, p, ctx, threshold),
};

/// Scenes of the binary variant: the image with seeded Gaussian noise, and the foreground mask.
fn noisy_binary(seed: u64, n: usize, noise: f64) -> anyhow::Result<(Vec<f32>, Vec<u8>)> {
    let set = scene_set(seed, 3, n)?;
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let normal = rand_distr::Normal::new(0.0, noise.max(1e-12))?;
    let images = set
        .images()
        .iter()
        .map(|&v| v + rng.sample(normal) as f32 * f32::from(noise > 0.0))
        .collect();
    let masks = set.masks().iter().map(|&c| u8::from(c != 0)).collect();
    Ok((images, masks))
}

fn threshold(p: ThresholdParams, ctx: &mut Emit<'_, ThresholdMetric>) -> anyhow::Result<()> {
    const N: usize = 24;
    let (images, masks) = noisy_binary(p.seed as u64, N, p.noise)?;
    let t = p.threshold as f32;
    let pred: Vec<u8> = images.iter().map(|&v| u8::from(v > t)).collect();
    let s = scores(&pred, &masks, PIXELS, 2);
    let mut pics = Vec::new();
    for i in 0..3 {
        let r = i * PIXELS..(i + 1) * PIXELS;
        let one = image_scores(&pred[r.clone()], &masks[r.clone()], 2);
        pics.push(Picture {
            caption: "noisy scene".into(),
            image: picture::scene_picture(&images[r.clone()], SIZE),
        });
        pics.push(Picture {
            caption: format!("> {t}: Dice {:.2}", one.dice.unwrap_or(0.0)),
            image: overlay(&images[r.clone()], &pred[r], SIZE),
        });
    }
    ctx.show("masks", Output::Pictures(pics));
    ctx.show(
        "scores",
        Output::Text(format!(
            "Threshold {t} on {N} scenes with noise σ = {}: Dice {:.3}, IoU {:.3}, pixel accuracy {}",
            p.noise,
            s.dice,
            s.iou,
            common::pct(s.pixel_accuracy)
        )),
    );
    ctx.emit(ThresholdMetric::Dice, s.dice);
    ctx.emit(ThresholdMetric::Iou, s.iou);
    ctx.emit(ThresholdMetric::PixelAccuracy, s.pixel_accuracy);
    Ok(())
}

params! {
    /// Parameters of `seg.compare`.
    pub struct CompareParams {
        unet: String = "nets/lesson7_unet.toml", File, "the U-Net's network file";
        noskip: String = "nets/lesson7_noskip.toml", File,
            "the same network without its skip connections";
        epochs: i64 = 10, Int { min: 1, max: 30 }, "passes over the training scenes";
        train_size: i64 = 160, Int { min: 32, max: 2000 }, "training scenes";
        test_size: i64 = 40, Int { min: 4, max: 200 }, "test scenes scored and exported";
        lr: f64 = 8e-3, Float { min: 1e-5, max: 0.1 }, "Adam learning rate";
        dice_weight: f64 = 1.0, Float { min: 0.0, max: 10.0 },
            "weight of the soft Dice loss next to cross-entropy (weight 1)";
        seed: i64 = 1, Int { min: 0, max: 9999 }, "seed for scenes, weights and batches";
    }
}

metrics! {
    /// What `seg.compare` reports.
    pub enum CompareMetric {
        DiceUnet = "dice_unet",
        DiceNoskip = "dice_noskip",
        IouUnet = "iou_unet",
        IouNoskip = "iou_noskip",
        PixelAccuracyUnet = "pixel_accuracy_unet",
        PixelAccuracyNoskip = "pixel_accuracy_noskip",
        PixelAccuracyBackgroundOnly = "pixel_accuracy_background_only",
        DiceBackgroundOnly = "dice_background_only",
        UnetSeconds = "unet_seconds",
        NoskipSeconds = "noskip_seconds",
    }
}

/// The race: U-Net vs the same network without skips.
pub static COMPARE: Experiment = Experiment {
    name: "seg.compare",
    summary:
        "Train a U-Net and the same net without skips (Dice + cross-entropy); Dice, IoU, masks",
    params: CompareParams::SPECS,
    metrics: CompareMetric::NAMES,
    long: true,
    run: |p, ctx| kit::typed(&COMPARE, p, ctx, compare),
};

/// Scenes with their class masks as the loop's split.
fn mask_split<'a>(set: &'a SceneSet, masks: &'a [usize]) -> Split<'a> {
    Split::with_targets(
        set.images(),
        set.len(),
        vec![(
            String::new(),
            TargetData::Classes {
                classes: masks,
                per: PIXELS,
            },
        )],
    )
}

/// The live loss curves, and every epoch's validation Dice added to a plot both nets share.
struct Curves<'a> {
    live: Live<'a>,
    dice: &'a mut Plot,
    series: usize,
}

impl Observer for Curves<'_> {
    fn batch(&mut self, step: usize, total: usize, loss: f64) {
        self.live.batch(step, total, loss);
    }
    fn epoch(&mut self, s: &EpochStats) {
        self.live.epoch(s);
        self.dice.series[self.series]
            .points
            .push((s.epoch as f64, s.val_metric("Dice")));
        self.live.ctx.show("dice", Output::Plot(self.dice.clone()));
    }
    fn cancelled(&self) -> bool {
        self.live.cancelled()
    }
}

/// What one trained network predicts for every test pixel.
fn predict(model: &mut NetModel, split: &Split) -> anyhow::Result<Vec<u8>> {
    let mut pred = Vec::new();
    train::evaluate_with(model, split, 32, &[], |outs| {
        if let Some((_, b)) = outs.first() {
            pred.extend(
                train::metrics::argmax_rows(b)
                    .into_iter()
                    .map(|c| c.min(255) as u8),
            );
        }
    })?;
    Ok(pred)
}

fn compare(p: CompareParams, ctx: &mut Emit<'_, CompareMetric>) -> anyhow::Result<()> {
    let seed = p.seed as u64;
    let epochs = p.epochs as usize;
    let train_set = scene_set(seed, 0, p.train_size as usize)?;
    let val_set = scene_set(seed, 1, (p.train_size as usize / 5).max(8))?;
    let test_set = scene_set(seed, 2, p.test_size as usize)?;
    let names = train_set.class_names().to_vec();
    let k = names.len();
    let as_usize = |s: &SceneSet| s.masks().iter().map(|&c| c as usize).collect::<Vec<_>>();
    let (train_m, val_m, test_m) = (
        as_usize(&train_set),
        as_usize(&val_set),
        as_usize(&test_set),
    );
    let objective = Objective::new().term("", LossKind::CrossEntropy, 1.0).term(
        "",
        LossKind::Dice { smooth: 1.0 },
        p.dice_weight,
    );
    let cfg = TrainConfig {
        epochs,
        batch_size: 8,
        lr: p.lr,
        seed,
        metrics: vec![MetricKind::Dice {
            head: String::new(),
            classes: k,
        }],
        ..TrainConfig::default()
    };
    let batches = train_set.len().div_ceil(cfg.batch_size);
    let mut budget = Budget {
        done: 0,
        total: 2 * batches * epochs,
    };
    ctx.show(
        "data",
        Output::Text(format!(
            "{} training, {} validation and {} test scenes of {SIZE}x{SIZE} pixels, {k} classes \
             ({}); {batches} batches of {} per epoch. Loss: {}.",
            train_set.len(),
            val_set.len(),
            test_set.len(),
            names.join(", "),
            cfg.batch_size,
            objective.describe()
        )),
    );
    let mut loss_plot = common::loss_plot(
        "Loss per epoch: U-Net vs no skips",
        epochs,
        &objective.describe(),
    );
    let mut dice_plot = Plot {
        title: "Validation Dice per epoch (counts pooled over the validation scenes)".into(),
        x_label: "epoch".into(),
        y_label: "Dice".into(),
        x_log: false,
        series: Vec::new(),
        marks: Vec::new(),
        x_range: Some((0.0, epochs as f64)),
    };
    let test_split = mask_split(&test_set, &test_m);
    let mut results = Vec::new();
    for (name, file) in [("U-Net", &p.unet), ("no skips", &p.noskip)] {
        let spec = NetSpec::load(std::path::Path::new(file))?;
        let mut model = NetModel::with_objective(
            Network::new(&spec, seed)?,
            Optimizer::adam(p.lr),
            objective.clone(),
        );
        let (params, _) = model.net.param_counts();
        dice_plot.series.push(Series {
            colour: None,
            name: name.into(),
            points: Vec::new(),
            style: SeriesStyle::Line,
        });
        let t0 = Instant::now();
        let history = {
            let live = Live::new(
                ctx,
                &mut loss_plot,
                "curves",
                name,
                &mut budget,
                1,
                batches,
                epochs,
            );
            let series = dice_plot.series.len() - 1;
            let mut curves = Curves {
                live,
                dice: &mut dice_plot,
                series,
            };
            train::fit(
                &mut model,
                mask_split(&train_set, &train_m),
                mask_split(&val_set, &val_m),
                &cfg,
                &mut curves,
            )?
        };
        let seconds = t0.elapsed().as_secs_f64();
        let pred = predict(&mut model, &test_split)?;
        let s = scores(&pred, test_set.masks(), PIXELS, k);
        results.push((name, params, history, seconds, pred, s));
    }

    // Every test pixel called background.
    let background = vec![0u8; test_set.masks().len()];
    let bg = scores(&background, test_set.masks(), PIXELS, k);
    show_overlays(ctx, &test_set, &results[0].4, &results[1].4, k);
    let shares = class_shares(test_set.masks(), k);
    ctx.show(
        "legend",
        Output::Table(picture::legend(&names, Some(&shares))),
    );
    let mut rows: Vec<Vec<String>> = results
        .iter()
        .map(|(name, params, h, secs, _, s)| {
            vec![
                name.to_string(),
                crate::nn::summary::fmt_count(*params),
                format!("{:.3}", s.dice),
                format!("{:.3}", s.iou),
                common::pct(s.pixel_accuracy),
                format!("{:.3}", h.epochs[h.best_epoch - 1].val_metric("Dice")),
                format!("{}", h.best_epoch),
                format!("{secs:.1} s"),
            ]
        })
        .collect();
    rows.push(vec![
        "all background".into(),
        "0".into(),
        format!("{:.3}", bg.dice),
        format!("{:.3}", bg.iou),
        common::pct(bg.pixel_accuracy),
        "-".into(),
        "-".into(),
        "-".into(),
    ]);
    ctx.show(
        "results",
        Output::Table(Table {
            title: Some(format!(
                "Test scores on {} scenes: per image, mean over the foreground classes present \
                 in its truth or prediction, then the mean over images",
                test_set.len()
            )),
            header: [
                "model",
                "parameters",
                "Dice",
                "IoU",
                "pixel accuracy",
                "val Dice (pooled)",
                "best epoch",
                "time",
            ]
            .map(String::from)
            .to_vec(),
            rows,
        }),
    );
    let (u, n) = (&results[0].5, &results[1].5);
    ctx.show(
        "dice-iou",
        Output::Text(format!(
            "Dice ≥ IoU on every mask: U-Net {:.3} ≥ {:.3}, no skips {:.3} ≥ {:.3}. Calling \
             every pixel background is right on {} of the pixels yet finds no object: Dice {:.3}.",
            u.dice,
            u.iou,
            n.dice,
            n.iou,
            common::pct(bg.pixel_accuracy),
            bg.dice
        )),
    );
    picture::export_masks(ctx, &test_set, &results[0].4)?;
    use CompareMetric as M;
    for ((_, _, _, secs, _, s), [d, j, a, t]) in results.iter().zip([
        [
            M::DiceUnet,
            M::IouUnet,
            M::PixelAccuracyUnet,
            M::UnetSeconds,
        ],
        [
            M::DiceNoskip,
            M::IouNoskip,
            M::PixelAccuracyNoskip,
            M::NoskipSeconds,
        ],
    ]) {
        emit_scores(ctx, s, [d, j, a]);
        ctx.emit(t, *secs);
    }
    ctx.emit(M::PixelAccuracyBackgroundOnly, bg.pixel_accuracy);
    ctx.emit(M::DiceBackgroundOnly, bg.dice);
    Ok(())
}

fn emit_scores(ctx: &mut Emit<'_, CompareMetric>, s: &Scores, m: [CompareMetric; 3]) {
    ctx.emit(m[0], s.dice);
    ctx.emit(m[1], s.iou);
    ctx.emit(m[2], s.pixel_accuracy);
}

/// The first test scenes: the scene, its true mask, both predictions and the U-Net's errors.
fn show_overlays(ctx: &mut dyn Ctx, set: &SceneSet, unet: &[u8], noskip: &[u8], k: usize) {
    for i in 0..SHOWN.min(set.len()) {
        let r = i * PIXELS..(i + 1) * PIXELS;
        let image = &set.images()[r.clone()];
        let truth = &set.masks()[r.clone()];
        let dice = |pred: &[u8]| image_scores(pred, truth, k).dice.unwrap_or(0.0);
        let pics = vec![
            Picture {
                caption: format!("test scene {i}"),
                image: picture::scene_picture(image, SIZE),
            },
            Picture {
                caption: "true mask".into(),
                image: overlay(image, truth, SIZE),
            },
            Picture {
                caption: format!("U-Net, Dice {:.2}", dice(&unet[r.clone()])),
                image: overlay(image, &unet[r.clone()], SIZE),
            },
            Picture {
                caption: format!("no skips, Dice {:.2}", dice(&noskip[r.clone()])),
                image: overlay(image, &noskip[r.clone()], SIZE),
            },
            Picture {
                caption: "no-skip errors".into(),
                image: picture::errors_picture(image, &noskip[r.clone()], truth, SIZE),
            },
        ];
        ctx.show(&format!("overlay-{i}"), Output::Pictures(pics));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn class_shares_sum_to_one() {
        let s = class_shares(&[0, 0, 1, 3], 4);
        assert_eq!(s, vec![0.5, 0.25, 0.0, 0.25]);
    }

    #[test]
    fn threshold_segmenter_scores_its_own_masks() {
        // Without noise, the generator's mask is exactly the pixels above its threshold.
        let (images, masks) = noisy_binary(1, 4, 0.0).unwrap();
        let pred: Vec<u8> = images
            .iter()
            .map(|&v| u8::from(v > scenes::MASK_THRESHOLD))
            .collect();
        let s = scores(&pred, &masks, PIXELS, 2);
        assert_eq!((s.dice, s.pixel_accuracy), (1.0, 1.0));
    }
}
