//! `det.detect` and `det.tune`: the one-stage detector. Scenes of one to three shapes, the
//! anchors of [`super::anchor_config`], a class head read through a sigmoid and trained with
//! the sigmoid focal loss, a box head trained with smooth L1 on the foreground anchors'
//! offsets, both summed over the anchors that count and divided by the number of foreground
//! anchors (RetinaNet). The same detector trained with γ = 0 and no α (plain binary
//! cross-entropy) is the comparison. Detections are the decoded boxes above a score cut-off,
//! class by class through NMS, at most 100 per image; they are scored as COCO does
//! ([`crate::train::detection`]) and exported as COCO files ([`super::coco`]).
//!
//! A trained detector's raw outputs on the validation and test scenes are kept, keyed by
//! every training parameter and the network file's text, so moving the NMS threshold or the
//! score cut-off redraws without training.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use super::{anchor_config, coco, draw, rect, scene_set, truths, K, NAMES, PIXELS, SIZE};
use crate::data::SceneSet;
use crate::experiments::common::{self, Budget, Live};
use crate::experiments::kit::{self, metrics, params, Ctx, Emit, Experiment};
use crate::experiments::segmentation::{gray_bytes, gray_png};
use crate::nn::{LossKind, NetSpec, Network, Objective, Optimizer};
use crate::output::{DataFile, Output, Picture, Plot, Series, SeriesStyle, Table};
use crate::train::anchors::{self, AnchorConfig, Found};
use crate::train::detection::{self as det, Detection, Rect, Truth};
use crate::train::{self, NetModel, Split, TargetData, TrainConfig};

/// Detections kept per image (COCO's `maxDets` for AP).
pub const MAX_DETS: usize = 100;
/// Test scenes drawn before and after NMS.
const SHOWN: usize = 3;
/// The smooth-L1 β of the box term (Detectron's RetinaNet).
const BOX_BETA: f64 = 1.0 / 9.0;
/// The layer whose bias starts every class score at the prior π.
const CLASS_HEAD: &str = "class_head";

params! {
    /// Parameters of `det.detect`.
    pub struct DetectParams {
        net: String = "nets/lesson6_detector.toml", File, "the detector's network file";
        epochs: i64 = 12, Int { min: 1, max: 40 }, "passes over the training scenes";
        train_size: i64 = 600, Int { min: 16, max: 5000 }, "training scenes";
        test_size: i64 = 100, Int { min: 4, max: 1000 }, "test scenes scored and exported";
        lr: f64 = 3e-3, Float { min: 1e-5, max: 0.1 }, "Adam learning rate";
        gamma: f64 = 2.0, Float { min: 0.0, max: 5.0 }, "focal loss γ (0: no focusing)";
        alpha: f64 = 0.25, Float { min: 0.0, max: 1.0 },
            "focal loss α: the weight of an object score (1 − α for background)";
        prior: f64 = 0.01, Float { min: 0.0001, max: 0.5 },
            "π: the probability every class score starts at";
        compare: bool = true, Bool, "also train the detector with plain cross-entropy (γ = 0)";
        nms: f64 = 0.5, Float { min: 0.0, max: 1.0 },
            "NMS: drop a box overlapping a better one of its class by more than this IoU";
        score: f64 = 0.05, Float { min: 0.0, max: 0.99 }, "score cut-off: drop detections below it";
        shown: f64 = 0.3, Float { min: 0.0, max: 0.99 },
            "draw only boxes scoring at least this in the pictures (the scores count them all)";
        seed: i64 = 1, Int { min: 0, max: 9999 }, "seed for scenes, weights and batches";
    }
}

metrics! {
    /// What `det.detect` reports.
    pub enum DetectMetric {
        NumAnchors = "num_anchors",
        BackgroundPerForeground = "background_per_foreground",
        Map50 = "map50",
        Ap50Square = "ap50_square",
        Ap50Disc = "ap50_disc",
        Ap50Triangle = "ap50_triangle",
        Map = "map",
        Mar = "mar",
        Map50Ce = "map50_ce",
        Precision = "precision",
        Recall = "recall",
        Detections = "detections",
        FocalSeconds = "focal_seconds",
        CeSeconds = "ce_seconds",
    }
}

/// The detector, trained with focal loss and with plain cross-entropy; NMS and cut-off live.
pub static DETECT: Experiment = Experiment {
    name: "det.detect",
    summary: "Train a one-stage detector (anchors, focal loss) and the same with plain cross-entropy; NMS, PR curves, COCO mAP",
    params: DetectParams::SPECS,
    metrics: DetectMetric::NAMES,
    long: true,
    run: |p, ctx| kit::typed(&DETECT, p, ctx, detect),
};

/// Everything a training run depends on.
#[derive(Debug, Clone, PartialEq)]
struct Setup {
    net: String,
    epochs: usize,
    train_size: usize,
    test_size: usize,
    lr: f64,
    /// `None` for the plain cross-entropy detector.
    focal: Option<(f64, f64)>,
    prior: f64,
    seed: u64,
}

impl Setup {
    fn of(p: &DetectParams) -> Setup {
        Setup {
            net: p.net.clone(),
            epochs: p.epochs as usize,
            train_size: p.train_size as usize,
            test_size: p.test_size as usize,
            lr: p.lr,
            focal: Some((p.gamma, p.alpha)),
            prior: p.prior,
            seed: p.seed as u64,
        }
    }

    fn plain(&self) -> Setup {
        Setup {
            focal: None,
            ..self.clone()
        }
    }

    fn name(&self) -> &'static str {
        if self.focal.is_some() {
            "focal"
        } else {
            "cross-entropy"
        }
    }

    fn objective(&self) -> Objective {
        // Focal with γ = 0 and no α is exactly binary cross-entropy; named as such.
        let class = match self.focal {
            Some((gamma, alpha)) => LossKind::Focal {
                alpha: Some(alpha),
                gamma,
            },
            None => LossKind::BceWithLogits,
        };
        Objective::new().term("class", class, 1.0).term(
            "box",
            LossKind::SmoothL1 { beta: BOX_BETA },
            1.0,
        )
    }
}

/// Scenes with their anchor targets in the heads' layouts.
pub struct DetData {
    pub set: SceneSet,
    classes: Vec<f32>,
    class_weights: Vec<f32>,
    offsets: Vec<f32>,
    offset_weights: Vec<f32>,
    /// Foreground anchors per scene (the loss's divisor).
    norm: Vec<f32>,
    pub foreground: usize,
    pub ignored: usize,
    pub background: usize,
}

/// Scenes and their targets.
pub fn det_data(cfg: &AnchorConfig, set: SceneSet) -> DetData {
    let all = cfg.anchors();
    let mut d = DetData {
        classes: Vec::new(),
        class_weights: Vec::new(),
        offsets: Vec::new(),
        offset_weights: Vec::new(),
        norm: Vec::new(),
        foreground: 0,
        ignored: 0,
        background: 0,
        set,
    };
    for b in d.set.boxes() {
        let t = anchors::targets(cfg, &all, &truths(b), K);
        d.classes.extend(t.classes);
        d.class_weights.extend(t.class_weights);
        d.offsets.extend(t.offsets);
        d.offset_weights.extend(t.offset_weights);
        d.norm.push(t.foreground.max(1) as f32);
        d.foreground += t.foreground;
        d.ignored += t.ignored;
        d.background += t.background;
    }
    d
}

fn split<'a>(cfg: &AnchorConfig, d: &'a DetData) -> Split<'a> {
    Split::with_targets(
        d.set.images(),
        d.set.len(),
        vec![
            (
                "class".into(),
                TargetData::Weighted {
                    values: &d.classes,
                    weights: &d.class_weights,
                    norm: Some(&d.norm),
                    per: cfg.count() * K,
                },
            ),
            (
                "box".into(),
                TargetData::Weighted {
                    values: &d.offsets,
                    weights: &d.offset_weights,
                    norm: Some(&d.norm),
                    per: cfg.count() * 4,
                },
            ),
        ],
    )
}

/// A detector's raw head outputs on some scenes.
#[derive(Debug, Clone, Default)]
pub struct Raw {
    pub classes: Vec<f32>,
    pub boxes: Vec<f32>,
}

/// What one training run leaves behind.
struct Trained {
    curves: Plot,
    val: Raw,
    test: Raw,
    seconds: f64,
    /// The class term on the validation scenes before training: with the prior, and with the
    /// class bias at 0.
    start_loss: (f64, f64),
}

/// Trained detectors, by what they depend on (the network file's text included).
type Key = (Setup, Vec<u8>);
static CACHE: Mutex<Vec<(Key, Arc<Trained>)>> = Mutex::new(Vec::new());
/// Most detectors kept.
const CACHED: usize = 4;

/// How many detectors have been trained, per seed (the other runs reused one): for tests, which
/// run at the same time and tell their runs apart by seed (the training itself runs on a
/// thread of rayon's pool, not the test's).
static TRAININGS: Mutex<Vec<(u64, usize)>> = Mutex::new(Vec::new());

/// How many detectors `det.detect` and `det.tune` have trained with `seed`.
pub fn trainings(seed: u64) -> usize {
    let t = TRAININGS.lock().unwrap_or_else(|e| e.into_inner());
    t.iter().find(|(s, _)| *s == seed).map_or(0, |(_, n)| *n)
}

/// The scenes one setup trains, validates and tests on.
struct Scenes {
    train: DetData,
    val: DetData,
    test: DetData,
}

fn scenes(s: &Setup) -> anyhow::Result<Scenes> {
    let cfg = anchor_config();
    Ok(Scenes {
        train: det_data(&cfg, scene_set(s.seed, 0, s.train_size)?),
        val: det_data(&cfg, scene_set(s.seed, 1, (s.train_size / 5).max(8))?),
        test: det_data(&cfg, scene_set(s.seed, 2, s.test_size)?),
    })
}

/// The cached detector of `s`, or a newly trained one (its curves drawn live under `key`).
fn trained(
    s: &Setup,
    data: &Scenes,
    ctx: &mut dyn Ctx,
    budget: &mut Budget,
    key: &str,
) -> anyhow::Result<Arc<Trained>> {
    let k: Key = (s.clone(), std::fs::read(&s.net).unwrap_or_default());
    if let Some((_, t)) = CACHE
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .find(|(c, _)| *c == k)
    {
        return Ok(Arc::clone(t));
    }
    let t = Arc::new(train_one(s, data, ctx, budget, key)?);
    let mut cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
    cache.push((k, Arc::clone(&t)));
    if cache.len() > CACHED {
        cache.remove(0);
    }
    Ok(t)
}

fn outputs(model: &mut NetModel, split: &Split) -> anyhow::Result<Raw> {
    let mut raw = Raw::default();
    train::evaluate_with(model, split, 64, &[], |outs| {
        for (head, b) in outs {
            match head.as_str() {
                "class" => raw.classes.extend_from_slice(&b.data),
                "box" => raw.boxes.extend_from_slice(&b.data),
                _ => {}
            }
        }
    })?;
    Ok(raw)
}

fn train_one(
    s: &Setup,
    data: &Scenes,
    ctx: &mut dyn Ctx,
    budget: &mut Budget,
    key: &str,
) -> anyhow::Result<Trained> {
    {
        let mut t = TRAININGS.lock().unwrap_or_else(|e| e.into_inner());
        match t.iter_mut().find(|(seed, _)| *seed == s.seed) {
            Some((_, n)) => *n += 1,
            None => t.push((s.seed, 1)),
        }
    }
    let cfg = anchor_config();
    let spec = NetSpec::load(Path::new(&s.net))?;
    let net = Network::new(&spec, s.seed)?;
    let bias = format!("{CLASS_HEAD}.bias");
    let n_bias = net
        .values(&bias)
        .map_err(|_| {
            anyhow::anyhow!(
                "{}: the detector needs its class head to be a layer named `{CLASS_HEAD}` with a bias",
                s.net
            )
        })?
        .len();
    anyhow::ensure!(
        n_bias == cfg.per_cell() * K,
        "{}: layer `{CLASS_HEAD}` has {n_bias} outputs, but {} anchors per cell × {K} classes need {}",
        s.net,
        cfg.per_cell(),
        cfg.per_cell() * K
    );
    let mut model = NetModel::with_objective(net, Optimizer::adam(s.lr), s.objective());
    let val_split = split(&cfg, &data.val);
    let at_zero = train::evaluate_with(&mut model, &val_split, 64, &[], |_| {})?;
    let b = -((1.0 - s.prior) / s.prior).ln();
    model.net.set_values(&bias, &vec![b as f32; n_bias])?;
    let at_prior = train::evaluate_with(&mut model, &val_split, 64, &[], |_| {})?;
    let tc = TrainConfig {
        epochs: s.epochs,
        batch_size: 16,
        lr: s.lr,
        seed: s.seed,
        ..TrainConfig::default()
    };
    let batches = data.train.set.len().div_ceil(tc.batch_size);
    let mut curves = common::loss_plot(
        &format!("Loss per epoch, {} detector", s.name()),
        s.epochs,
        &s.objective().describe(),
    );
    let t0 = Instant::now();
    {
        let mut live = Live::new(
            ctx,
            &mut curves,
            key,
            s.name(),
            budget,
            1,
            batches,
            s.epochs,
        );
        train::fit(
            &mut model,
            split(&cfg, &data.train),
            val_split,
            &tc,
            &mut live,
        )?;
    }
    let seconds = t0.elapsed().as_secs_f64();
    let val = outputs(&mut model, &split(&cfg, &data.val))?;
    let test = outputs(&mut model, &split(&cfg, &data.test))?;
    let term = |e: &train::Evaluation| e.terms.first().copied().unwrap_or(f64::NAN);
    Ok(Trained {
        curves,
        val,
        test,
        seconds,
        start_loss: (term(&at_prior), term(&at_zero)),
    })
}

/// A box on a 1/16-pixel grid: exact in a JSON file and back.
fn snap(r: &Rect) -> Rect {
    let g = |v: f64| (v * 16.0).round() / 16.0;
    Rect::new(g(r.x0), g(r.y0), g(r.x1), g(r.y1))
}

/// Image `i`'s candidates above `score`, before NMS.
fn candidates(raw: &Raw, i: usize, score: f64) -> Vec<Found> {
    let cfg = anchor_config();
    let (pc, pb) = (cfg.count() * K, cfg.count() * 4);
    anchors::candidates(
        &cfg,
        &cfg.anchors(),
        raw.classes.get(i * pc..(i + 1) * pc).unwrap_or(&[]),
        raw.boxes.get(i * pb..(i + 1) * pb).unwrap_or(&[]),
        K,
        score,
    )
}

/// Every image's detections after the cut-off and NMS, image by image, best first.
pub fn detections(raw: &Raw, images: usize, score: f64, nms: f64) -> Vec<Detection> {
    let mut out = Vec::new();
    for i in 0..images {
        for f in anchors::suppress(&candidates(raw, i, score), nms, MAX_DETS) {
            out.push(Detection {
                image: i,
                class: f.class,
                score: f.score,
                rect: snap(&f.rect),
            });
        }
    }
    out
}

/// The ground truth of a scene set.
pub fn truth_list(set: &SceneSet) -> Vec<Truth> {
    set.boxes()
        .iter()
        .enumerate()
        .flat_map(|(i, bs)| {
            bs.iter().map(move |b| Truth {
                image: i,
                class: b.class - 1,
                rect: rect(b),
            })
        })
        .collect()
}

/// Precision and recall of `dets` at IoU 0.5: a detection is a true positive when COCO's
/// matching gives it a box.
fn precision_recall(dets: &[Detection], truths: &[Truth]) -> (f64, f64) {
    let (mut tp, mut n) = (0usize, 0usize);
    for k in 0..K {
        if let Some((r, _)) = det::ranked(dets, truths, k, 0.5, MAX_DETS) {
            tp += r.iter().filter(|x| x.1).count();
            n += r.len();
        }
    }
    let p = if n == 0 { 0.0 } else { tp as f64 / n as f64 };
    (p, tp as f64 / truths.len().max(1) as f64)
}

fn detect(p: DetectParams, ctx: &mut Emit<'_, DetectMetric>) -> anyhow::Result<()> {
    let cfg = anchor_config();
    let focal = Setup::of(&p);
    let setups = if p.compare {
        vec![focal.clone(), focal.plain()]
    } else {
        vec![focal.clone()]
    };
    let data = scenes(&focal)?;
    let per_fg = data.train.background as f64 / data.train.foreground.max(1) as f64;
    ctx.show(
        "data",
        Output::Text(format!(
            "{} training, {} validation and {} test scenes of {SIZE}x{SIZE} pixels with 1 to 3 \
             shapes each; {} anchors per scene. In the training targets {:.1} anchors per scene \
             are foreground, {:.1} ignored and {:.1} background: {per_fg:.0} background anchors \
             for each foreground one. Loss: {}, each divided by the foreground anchors.",
            data.train.set.len(),
            data.val.set.len(),
            data.test.set.len(),
            cfg.count(),
            data.train.foreground as f64 / data.train.set.len() as f64,
            data.train.ignored as f64 / data.train.set.len() as f64,
            data.train.background as f64 / data.train.set.len() as f64,
            focal.objective().describe()
        )),
    );
    let batches = data.train.set.len().div_ceil(16);
    let mut budget = Budget {
        done: 0,
        total: setups.len() * batches * focal.epochs,
    };
    let mut runs = Vec::new();
    for (s, key) in setups.iter().zip(["curves", "curves-ce"]) {
        let t = trained(s, &data, ctx, &mut budget, key)?;
        ctx.show(key, Output::Plot(t.curves.clone()));
        runs.push(t);
    }
    let f = &runs[0];
    ctx.show(
        "prior",
        Output::Text(format!(
            "Before training, the class loss on the validation scenes is {:.3} with every score \
             starting at π = {} (bias −ln((1 − π)/π) = {:.2}), and would be {:.3} with the bias \
             at 0 (every score 0.5).",
            f.start_loss.0,
            p.prior,
            -((1.0 - p.prior) / p.prior).ln(),
            f.start_loss.1
        )),
    );
    let truths = truth_list(&data.test.set);
    let n_test = data.test.set.len();
    let dets = detections(&f.test, n_test, p.score, p.nms);
    show_nms(ctx, &data.test.set, &f.test, &p);
    // Per class: PR curves, AP and AR.
    let mut pr = Plot {
        title: format!(
            "Precision-recall at IoU 0.5, {} test scenes (score cut-off {}, NMS {})",
            n_test, p.score, p.nms
        ),
        x_label: "recall".into(),
        y_label: "precision".into(),
        x_log: false,
        series: Vec::new(),
        marks: Vec::new(),
        x_range: Some((0.0, 1.0)),
    };
    let ce_dets = runs
        .get(1)
        .map(|t| detections(&t.test, n_test, p.score, p.nms));
    let mut rows = Vec::new();
    let mut aps = Vec::new();
    for (k, name) in NAMES.iter().enumerate() {
        let curve = det::pr_curve(&dets, &truths, k, 0.5, MAX_DETS).unwrap_or_default();
        pr.series.push(Series {
            // The class's colour in the pictures, so the curves read as the boxes do.
            colour: Some(draw::class_colour(k)),
            name: name.to_string(),
            points: curve,
            style: SeriesStyle::Line,
        });
        let ap = det::average_precision(&dets, &truths, k, 0.5, MAX_DETS);
        let ar = det::average_recall(&dets, &truths, k, MAX_DETS);
        let ce = ce_dets
            .as_ref()
            .and_then(|d| det::average_precision(d, &truths, k, 0.5, MAX_DETS));
        aps.push(ap);
        let f3 = |v: Option<f64>| v.map_or("-".into(), |v| format!("{v:.3}"));
        rows.push(vec![
            name.to_string(),
            truths.iter().filter(|t| t.class == k).count().to_string(),
            dets.iter().filter(|d| d.class == k).count().to_string(),
            f3(ap),
            f3(ar),
            f3(ce),
        ]);
    }
    ctx.show("pr", Output::Plot(pr));
    let map50 = det::mean_average_precision(&dets, &truths, K, 0.5, MAX_DETS).unwrap_or(0.0);
    let mar = det::mean_average_recall(&dets, &truths, K, MAX_DETS).unwrap_or(0.0);
    let map = det::coco_map(&dets, &truths, K).unwrap_or(0.0);
    let map50_ce = ce_dets
        .as_ref()
        .and_then(|d| det::mean_average_precision(d, &truths, K, 0.5, MAX_DETS));
    rows.push(vec![
        "mean".into(),
        truths.len().to_string(),
        dets.len().to_string(),
        format!("{map50:.3}"),
        format!("{mar:.3}"),
        map50_ce.map_or("-".into(), |v| format!("{v:.3}")),
    ]);
    ctx.show(
        "ap",
        Output::Table(Table {
            title: Some(format!(
                "COCO scores on {n_test} test scenes (score cut-off {}, NMS {}); AP at IoU 0.5, \
                 AR over IoU 0.5-0.95; mAP@[0.5:0.95] = {map:.3}",
                p.score, p.nms
            )),
            header: [
                "class",
                "objects",
                "detections",
                "AP@0.5 (focal)",
                "AR (focal)",
                "AP@0.5 (cross-entropy)",
            ]
            .map(String::from)
            .to_vec(),
            rows,
        }),
    );
    let (precision, recall) = precision_recall(&dets, &truths);
    ctx.show(
        "pr-point",
        Output::Text(format!(
            "At score ≥ {} after NMS: {} detections for {} objects, precision {} and recall {} \
             at IoU 0.5. Training took {:.1} s (focal){}.",
            p.score,
            dets.len(),
            truths.len(),
            common::pct(precision),
            common::pct(recall),
            f.seconds,
            runs.get(1).map_or(String::new(), |t| format!(
                " and {:.1} s (cross-entropy)",
                t.seconds
            ))
        )),
    );
    export(ctx, &data.test.set, &truths, &dets)?;
    use DetectMetric as M;
    ctx.emit(M::NumAnchors, cfg.count() as f64);
    ctx.emit(M::BackgroundPerForeground, per_fg);
    ctx.emit(M::Map50, map50);
    for (m, ap) in [M::Ap50Square, M::Ap50Disc, M::Ap50Triangle]
        .into_iter()
        .zip(&aps)
    {
        if let Some(v) = ap {
            ctx.emit(m, *v);
        }
    }
    ctx.emit(M::Map, map);
    ctx.emit(M::Mar, mar);
    if let Some(v) = map50_ce {
        ctx.emit(M::Map50Ce, v);
    }
    ctx.emit(M::Precision, precision);
    ctx.emit(M::Recall, recall);
    ctx.emit(M::Detections, dets.len() as f64);
    ctx.emit(M::FocalSeconds, f.seconds);
    if let Some(t) = runs.get(1) {
        ctx.emit(M::CeSeconds, t.seconds);
    }
    Ok(())
}

/// The first test scenes: every candidate above the cut-off, then what NMS keeps.
fn show_nms(ctx: &mut dyn Ctx, set: &SceneSet, raw: &Raw, p: &DetectParams) {
    let mut pics = Vec::new();
    for i in 0..SHOWN.min(set.len()) {
        let image = &set.images()[i * PIXELS..(i + 1) * PIXELS];
        let before = candidates(raw, i, p.score);
        let after = anchors::suppress(&before, p.nms, MAX_DETS);
        for (what, all) in [("before NMS", &before), ("after NMS", &after)] {
            let boxes: Vec<&Found> = all.iter().filter(|f| f.score >= p.shown).collect();
            let mut img = draw::scene(image, SIZE);
            for b in &set.boxes()[i] {
                draw::outline(&mut img, &rect(b), draw::TRUTH, true);
            }
            // Worst first, so the best boxes are drawn on top.
            for f in boxes.iter().rev() {
                draw::outline(&mut img, &f.rect, draw::class_colour(f.class), false);
            }
            pics.push(Picture {
                caption: format!("{what}: {} of {} boxes", boxes.len(), all.len()),
                image: img,
            });
        }
    }
    ctx.show("nms", Output::Pictures(pics));
    ctx.show(
        "nms-key",
        Output::Text(format!(
            "Drawn: the boxes scoring at least {} (of those above the cut-off {}); true boxes \
             dashed white, detections in their class's colour (square red, disc green, \
             triangle blue).",
            p.shown, p.score
        )),
    );
}

/// The COCO files and the test scenes as PNGs, under `detection/`.
fn export(
    ctx: &mut dyn Ctx,
    set: &SceneSet,
    truths: &[Truth],
    dets: &[Detection],
) -> anyhow::Result<()> {
    let gt = coco::ground_truth(truths, set.len(), SIZE, &NAMES);
    let files = [
        (
            "detection/ground-truth.json",
            serde_json::to_vec_pretty(&gt)?,
            "the test scenes' boxes in COCO's annotation format (bbox = [x, y, w, h])".to_string(),
        ),
        (
            "detection/detections.json",
            serde_json::to_vec_pretty(&coco::results(dets))?,
            format!(
                "the focal detector's {} detections after NMS in COCO's results format",
                dets.len()
            ),
        ),
    ];
    for (path, bytes, summary) in files {
        ctx.show(
            path,
            Output::File(DataFile {
                path: path.into(),
                summary,
                bytes,
            }),
        );
    }
    for i in 0..set.len() {
        let path = format!("detection/scene-{i:03}.png");
        ctx.show(
            &path,
            Output::File(DataFile {
                bytes: gray_png(
                    &gray_bytes(&set.images()[i * PIXELS..(i + 1) * PIXELS]),
                    SIZE,
                )?,
                summary: format!("test scene {i} (image id {}), 8-bit gray", i + 1),
                path: path.clone(),
            }),
        );
    }
    Ok(())
}

params! {
    /// Parameters of `det.tune`.
    pub struct TuneParams {
        settings: Matrix = &[&[0.5, 0.05]], Matrix { rows: 1, cols: 2 },
            "the NMS threshold and the score cut-off, e.g. `0.5 0.05`";
        net: String = "nets/lesson6_detector.toml", File, "the detector's network file";
        epochs: i64 = 12, Int { min: 1, max: 40 }, "passes over the training scenes";
        train_size: i64 = 600, Int { min: 16, max: 5000 }, "training scenes";
        test_size: i64 = 100, Int { min: 4, max: 1000 }, "test scenes";
        lr: f64 = 3e-3, Float { min: 1e-5, max: 0.1 }, "Adam learning rate";
        gamma: f64 = 2.0, Float { min: 0.0, max: 5.0 }, "focal loss γ";
        alpha: f64 = 0.25, Float { min: 0.0, max: 1.0 }, "focal loss α";
        prior: f64 = 0.01, Float { min: 0.0001, max: 0.5 }, "π, the starting score";
        seed: i64 = 1, Int { min: 0, max: 9999 }, "seed for scenes, weights and batches";
    }
}

metrics! {
    /// What `det.tune` reports.
    pub enum TuneMetric {
        ValMap50 = "val_map50",
        BestValMap50 = "best_val_map50",
        Shortfall = "shortfall",
    }
}

/// NMS thresholds and score cut-offs the best validation mAP is searched over.
const NMS_GRID: [f64; 13] = [
    0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8,
];
const SCORE_GRID: [f64; 6] = [0.01, 0.05, 0.1, 0.2, 0.3, 0.5];

/// The exercise: an NMS threshold and a score cut-off scored on the validation scenes.
pub static TUNE: Experiment = Experiment {
    name: "det.tune",
    summary: "Score an NMS threshold and a score cut-off by mAP@0.5 on the validation scenes, against the best of a grid",
    params: TuneParams::SPECS,
    metrics: TuneMetric::NAMES,
    long: true,
    run: |p, ctx| kit::typed(&TUNE, p, ctx, tune),
};

fn tune(p: TuneParams, ctx: &mut Emit<'_, TuneMetric>) -> anyhow::Result<()> {
    let (nms, score) = match p.settings.first().map(|r| r.as_slice()) {
        Some([n, s]) => (*n, *s),
        _ => anyhow::bail!("settings: give two numbers, the NMS threshold and the score cut-off"),
    };
    anyhow::ensure!(
        (0.0..=1.0).contains(&nms) && (0.0..1.0).contains(&score),
        "settings: the NMS threshold must be in 0..=1 and the score cut-off in 0..1 (got {nms} and {score})"
    );
    let s = Setup {
        net: p.net.clone(),
        epochs: p.epochs as usize,
        train_size: p.train_size as usize,
        test_size: p.test_size as usize,
        lr: p.lr,
        focal: Some((p.gamma, p.alpha)),
        prior: p.prior,
        seed: p.seed as u64,
    };
    let data = scenes(&s)?;
    let batches = data.train.set.len().div_ceil(16);
    let mut budget = Budget {
        done: 0,
        total: batches * s.epochs,
    };
    let t = trained(&s, &data, ctx, &mut budget, "curves")?;
    let truths = truth_list(&data.val.set);
    let n = data.val.set.len();
    let map_at = |nms: f64, score: f64| {
        det::mean_average_precision(
            &detections(&t.val, n, score, nms),
            &truths,
            K,
            0.5,
            MAX_DETS,
        )
        .unwrap_or(0.0)
    };
    let yours = map_at(nms, score);
    let best = NMS_GRID
        .iter()
        .flat_map(|&a| SCORE_GRID.iter().map(move |&b| (a, b)))
        .map(|(a, b)| map_at(a, b))
        .fold(0.0, f64::max);
    let dets = detections(&t.val, n, score, nms);
    let mut img = draw::scene(&data.val.set.images()[..PIXELS], SIZE);
    for b in &data.val.set.boxes()[0] {
        draw::outline(&mut img, &rect(b), draw::TRUTH, true);
    }
    let drawn = score.max(0.3);
    for d in dets
        .iter()
        .filter(|d| d.image == 0 && d.score >= drawn)
        .rev()
    {
        draw::outline(&mut img, &d.rect, draw::class_colour(d.class), false);
    }
    ctx.show(
        "scene",
        Output::Pictures(vec![Picture {
            caption: format!("validation scene 0 at NMS {nms}, boxes scoring ≥ {drawn}"),
            image: img,
        }]),
    );
    ctx.show(
        "score",
        Output::Text(format!(
            "NMS {nms}, score cut-off {score}: {} detections on {n} validation scenes, mAP@0.5 \
             {yours:.3}. The best of {} settings on a grid reaches {best:.3}.",
            dets.len(),
            NMS_GRID.len() * SCORE_GRID.len()
        )),
    );
    ctx.emit(TuneMetric::ValMap50, yours);
    ctx.emit(TuneMetric::BestValMap50, best);
    ctx.emit(TuneMetric::Shortfall, best - yours);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiments::kit::Value;

    fn small() -> Vec<(&'static str, Value)> {
        vec![
            ("net", Value::Str("nets/lesson6_detector.toml".into())),
            ("epochs", Value::Int(1)),
            ("train_size", Value::Int(24)),
            ("test_size", Value::Int(8)),
            ("compare", Value::Bool(false)),
            ("score", Value::Float(0.01)),
        ]
    }

    #[test]
    fn exported_coco_files_give_back_the_reported_map() {
        let r = kit::run_recorded(&DETECT, &small()).unwrap();
        let file = |path: &str| {
            r.outputs
                .iter()
                .find_map(|(_, o)| match o {
                    Output::File(f) if f.path == path => {
                        Some(String::from_utf8(f.bytes.clone()).unwrap())
                    }
                    _ => None,
                })
                .unwrap()
        };
        let (truths, dets, classes) = coco::read(
            &file("detection/ground-truth.json"),
            &file("detection/detections.json"),
        )
        .unwrap();
        assert_eq!(classes, K);
        assert!(!dets.is_empty() && !truths.is_empty());
        let map = det::mean_average_precision(&dets, &truths, classes, 0.5, MAX_DETS).unwrap();
        assert_eq!(map, r.metrics["map50"]);
        assert_eq!(r.metrics["num_anchors"], anchor_config().count() as f64);
    }

    #[test]
    fn moving_the_thresholds_does_not_retrain() {
        let mut given = small();
        given.push(("nms", Value::Float(0.5)));
        given.push(("seed", Value::Int(7)));
        let first = kit::run_recorded(&DETECT, &given).unwrap();
        let before = trainings(7);
        assert!(before >= 1);
        given[6] = ("nms", Value::Float(0.2));
        let moved = kit::run_recorded(&DETECT, &given).unwrap();
        assert_eq!(trainings(7), before, "moving the NMS threshold retrained");
        // Fewer boxes survive a stricter NMS, and the same settings give the same scores.
        assert!(moved.metrics["detections"] <= first.metrics["detections"]);
        given[6] = ("nms", Value::Float(0.5));
        let back = kit::run_recorded(&DETECT, &given).unwrap();
        assert_eq!(back.metrics["map50"], first.metrics["map50"]);
        assert_eq!(trainings(7), before);
    }
}
