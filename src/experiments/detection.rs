//! Lesson 6: object localization and one-stage detection on generated scenes of squares, discs
//! and triangles. This module holds what the lesson's experiments share (the scenes, the
//! anchors, boxes as [`Rect`]s) and the two experiments that train nothing: box formats with
//! IoU, and the anchor grid with its assignment. The localiser ([`localize`]) and the detector
//! ([`detector`]) have their own modules.

pub mod coco;
pub mod detector;
pub mod draw;
pub mod localize;

use crate::data::{scenes, SceneBox, SceneConfig, SceneKinds, SceneSet};
use crate::experiments::kit::{self, metrics, params, Ctx, Emit, Experiment};
use crate::output::{Output, Picture, Table};
use crate::train::anchors::{self, AnchorConfig, Match};
use crate::train::detection::{iou, Rect};

/// Canvas side of every scene in the lesson.
pub const SIZE: usize = 64;
/// Pixels per scene.
pub const PIXELS: usize = SIZE * SIZE;
/// The detector's classes (the scene classes 1, 2, 3 less one).
pub const NAMES: [&str; 3] = scenes::SHAPE_NAMES;
/// Number of classes.
pub const K: usize = NAMES.len();

/// The lesson's scenes: `objects` shapes of 12 to 30 px on a 64 px canvas.
pub fn scene_config(seed: u64, objects: std::ops::RangeInclusive<usize>) -> SceneConfig {
    SceneConfig {
        size: SIZE,
        objects,
        kinds: SceneKinds::Shapes,
        scale: 12..=30,
        seed,
        ..SceneConfig::default()
    }
}

/// `n` scenes of one to three shapes; `part` keeps training, validation and test apart.
pub fn scene_set(seed: u64, part: u64, n: usize) -> anyhow::Result<SceneSet> {
    Ok(scenes::generate(
        &scene_config(seed * 10 + part, 1..=3),
        n,
        None,
    )?)
}

/// The detector's anchors: an 8x8 grid (one cell per 8x8 pixels), sizes 12, 18 and 27 px,
/// aspect ratios 1/2, 1 and 2.
pub fn anchor_config() -> AnchorConfig {
    AnchorConfig {
        image: SIZE,
        grid: 8,
        sizes: vec![12.0, 18.0, 27.0],
        ratios: vec![0.5, 1.0, 2.0],
    }
}

/// A scene box as a [`Rect`] on pixel edges.
pub fn rect(b: &SceneBox) -> Rect {
    Rect::new(b.x0 as f64, b.y0 as f64, b.x1 as f64, b.y1 as f64)
}

/// One scene's boxes with detector classes (0-based).
pub fn truths(boxes: &[SceneBox]) -> Vec<(Rect, usize)> {
    boxes.iter().map(|b| (rect(b), b.class - 1)).collect()
}

/// `(x0, y0, x1, y1)` and `(cx, cy, w, h)` of a box, for tables.
fn formats(r: &Rect) -> (String, String) {
    let (w, h) = (r.x1 - r.x0, r.y1 - r.y0);
    (
        format!("({}, {}, {}, {})", r.x0, r.y0, r.x1, r.y1),
        format!("({}, {}, {}, {})", r.x0 + w / 2.0, r.y0 + h / 2.0, w, h),
    )
}

params! {
    /// Parameters of `det.boxes`.
    pub struct BoxesParams {
        shift_x: i64 = 6, Int { min: -40, max: 40 }, "move the predicted box right (pixels)";
        shift_y: i64 = 3, Int { min: -40, max: 40 }, "move the predicted box down (pixels)";
        grow: i64 = 0, Int { min: -10, max: 20 }, "make the predicted box wider and taller (pixels)";
        seed: i64 = 4, Int { min: 0, max: 9999 }, "which scene";
    }
}

metrics! {
    /// What `det.boxes` reports.
    pub enum BoxesMetric {
        Iou = "iou",
        Intersection = "intersection",
        Union = "union",
    }
}

/// A true box and a moved copy of it: both formats, and their IoU worked out.
pub static BOXES: Experiment = Experiment {
    name: "det.boxes",
    summary: "A true box and a shifted prediction: corner and centre formats, intersection, union and IoU",
    params: BoxesParams::SPECS,
    metrics: BoxesMetric::NAMES,
    long: false,
    run: |p, ctx| kit::typed(&BOXES, p, ctx, boxes),
};

fn boxes(p: BoxesParams, ctx: &mut Emit<'_, BoxesMetric>) -> anyhow::Result<()> {
    let scene = scenes::scene(&scene_config(p.seed as u64, 1..=1), 0, None)?;
    let b = scene.boxes[0];
    let t = rect(&b);
    let (dx, dy, g) = (p.shift_x as f64, p.shift_y as f64, p.grow as f64);
    let q = Rect::new(
        t.x0 + dx - g / 2.0,
        t.y0 + dy - g / 2.0,
        t.x1 + dx + g / 2.0,
        t.y1 + dy + g / 2.0,
    );
    let q = if q.x1 <= q.x0 || q.y1 <= q.y0 {
        Rect::new(q.x0, q.y0, q.x0, q.y0)
    } else {
        q
    };
    let v = iou(&t, &q);
    let iw = (t.x1.min(q.x1) - t.x0.max(q.x0)).max(0.0);
    let ih = (t.y1.min(q.y1) - t.y0.max(q.y0)).max(0.0);
    let inter = iw * ih;
    let union = t.area() + q.area() - inter;
    let mut img = draw::scene(&scene.image, SIZE);
    draw::outline(&mut img, &t, draw::TRUTH, false);
    draw::outline(&mut img, &q, draw::class_colour(b.class - 1), false);
    ctx.show(
        "picture",
        Output::Pictures(vec![Picture {
            caption: format!("true box (white), prediction (colour): IoU {v:.3}"),
            image: img,
        }]),
    );
    let row = |name: &str, r: &Rect| {
        let (c, s) = formats(r);
        vec![name.to_string(), c, s, format!("{}", r.area())]
    };
    ctx.show(
        "formats",
        Output::Table(Table {
            title: Some(format!(
                "The {} and the prediction, in both formats (pixels)",
                NAMES[b.class - 1]
            )),
            header: [
                "box",
                "corners (x0, y0, x1, y1)",
                "centre and size (cx, cy, w, h)",
                "area",
            ]
            .map(String::from)
            .to_vec(),
            rows: vec![row("true", &t), row("predicted", &q)],
        }),
    );
    ctx.show(
        "iou",
        Output::Text(format!(
            "intersection = {iw} × {ih} = {inter}\nunion = {} + {} − {inter} = {union}\nIoU = {inter} / {union} = {v:.3}",
            t.area(),
            q.area()
        )),
    );
    ctx.emit(BoxesMetric::Iou, v);
    ctx.emit(BoxesMetric::Intersection, inter);
    ctx.emit(BoxesMetric::Union, union);
    Ok(())
}

params! {
    /// Parameters of `det.anchors`.
    pub struct AnchorsParams {
        cell_row: i64 = 3, Int { min: 0, max: 7 }, "row of the cell whose anchors are drawn";
        cell_col: i64 = 4, Int { min: 0, max: 7 }, "column of the cell whose anchors are drawn";
        seed: i64 = 2, Int { min: 0, max: 9999 }, "which training scenes";
    }
}

metrics! {
    /// What `det.anchors` reports.
    pub enum AnchorsMetric {
        NumAnchors = "num_anchors",
        AnchorsPerCell = "anchors_per_cell",
        ForegroundPerImage = "foreground_per_image",
        IgnoredPerImage = "ignored_per_image",
        BackgroundPerImage = "background_per_image",
        BackgroundPerForeground = "background_per_foreground",
    }
}

/// The anchor grid over a scene, one cell's anchors, the assignment of a scene's anchors, and
/// the foreground/background counts over the training scenes.
pub static ANCHORS: Experiment = Experiment {
    name: "det.anchors",
    summary: "The anchor grid: one cell's anchors, which anchors a scene's boxes get, and how few are foreground",
    params: AnchorsParams::SPECS,
    metrics: AnchorsMetric::NAMES,
    long: false,
    run: |p, ctx| kit::typed(&ANCHORS, p, ctx, anchors_shown),
};

/// Scenes counted for the foreground/background statistics.
const COUNTED: usize = 200;

fn anchors_shown(p: AnchorsParams, ctx: &mut Emit<'_, AnchorsMetric>) -> anyhow::Result<()> {
    let cfg = anchor_config();
    let all = cfg.anchors();
    let set = scene_set(p.seed as u64, 0, COUNTED)?;
    let image = &set.images()[..PIXELS];
    // The grid and one cell's anchors.
    let mut grid = draw::scene(image, SIZE);
    let s = cfg.stride();
    for row in 0..cfg.grid {
        for col in 0..cfg.grid {
            draw::dot(
                &mut grid,
                (col as f64 + 0.5) * s,
                (row as f64 + 0.5) * s,
                [120, 120, 120],
            );
        }
    }
    let cell = p.cell_row as usize * cfg.grid + p.cell_col as usize;
    for a in 0..cfg.per_cell() {
        let size_index = a / cfg.ratios.len();
        draw::outline(
            &mut grid,
            &all[a * cfg.cells() + cell],
            draw::class_colour(size_index + 3),
            false,
        );
    }
    // One scene's assignment.
    let boxes = &set.boxes()[0];
    let t = truths(boxes);
    let rects: Vec<Rect> = t.iter().map(|x| x.0).collect();
    let m = anchors::assign(&all, &rects, anchors::FG_IOU, anchors::BG_IOU);
    let mut assigned = draw::scene(image, SIZE);
    for (i, mi) in m.iter().enumerate() {
        if let Match::Object(g) = mi {
            draw::outline(&mut assigned, &all[i], draw::class_colour(t[*g].1), false);
        }
    }
    for r in &rects {
        draw::outline(&mut assigned, r, draw::TRUTH, true);
    }
    let fg_here = m.iter().filter(|x| matches!(x, Match::Object(_))).count();
    let ign_here = m.iter().filter(|x| **x == Match::Ignored).count();
    ctx.show(
        "pictures",
        Output::Pictures(vec![
            Picture {
                caption: format!(
                    "{}x{} cells; the {} anchors of cell ({}, {})",
                    cfg.grid,
                    cfg.grid,
                    cfg.per_cell(),
                    p.cell_row,
                    p.cell_col
                ),
                image: grid,
            },
            Picture {
                caption: format!("{fg_here} foreground anchors ({ign_here} ignored)"),
                image: assigned,
            },
        ]),
    );
    // Counts over the training scenes.
    let (mut fg, mut ign, mut bg) = (0usize, 0usize, 0usize);
    for b in set.boxes() {
        let tg = anchors::targets(&cfg, &all, &truths(b), K);
        fg += tg.foreground;
        ign += tg.ignored;
        bg += tg.background;
    }
    let n = set.len() as f64;
    let sizes: Vec<String> = cfg.sizes.iter().map(|s| s.to_string()).collect();
    let ratios: Vec<String> = cfg.ratios.iter().map(|r| r.to_string()).collect();
    ctx.show(
        "count",
        Output::Table(Table {
            title: Some(format!(
                "Anchors: {} cells × {} per cell (sizes {} px × ratios {}) = {}; assignment over {} training scenes",
                cfg.cells(),
                cfg.per_cell(),
                sizes.join(", "),
                ratios.join(", "),
                cfg.count(),
                set.len()
            )),
            header: ["anchors per image", "mean", "share"].map(String::from).to_vec(),
            rows: [("foreground (IoU ≥ 0.5, or a box's best)", fg), ("ignored (0.4 ≤ IoU < 0.5)", ign), ("background (IoU < 0.4)", bg)]
                .iter()
                .map(|(name, c)| {
                    vec![
                        name.to_string(),
                        format!("{:.1}", *c as f64 / n),
                        super::common::pct(*c as f64 / (n * cfg.count() as f64)),
                    ]
                })
                .collect(),
        }),
    );
    let ratio = bg as f64 / fg.max(1) as f64;
    ctx.show(
        "ratio",
        Output::Text(format!(
            "{ratio:.0} background anchors for every foreground one: each image has {:.1} objects \
             to find among {} anchors, and {} class scores per anchor.",
            set.boxes().iter().map(|b| b.len()).sum::<usize>() as f64 / n,
            cfg.count(),
            K
        )),
    );
    use AnchorsMetric as M;
    ctx.emit(M::NumAnchors, cfg.count() as f64);
    ctx.emit(M::AnchorsPerCell, cfg.per_cell() as f64);
    ctx.emit(M::ForegroundPerImage, fg as f64 / n);
    ctx.emit(M::IgnoredPerImage, ign as f64 / n);
    ctx.emit(M::BackgroundPerImage, bg as f64 / n);
    ctx.emit(M::BackgroundPerForeground, ratio);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_box_gets_an_anchor_and_few_anchors_are_foreground() {
        let cfg = anchor_config();
        let all = cfg.anchors();
        let set = scene_set(1, 0, 50).unwrap();
        for b in set.boxes() {
            let t = truths(b);
            let rects: Vec<Rect> = t.iter().map(|x| x.0).collect();
            let m = anchors::assign(&all, &rects, anchors::FG_IOU, anchors::BG_IOU);
            for g in 0..t.len() {
                assert!(
                    m.contains(&Match::Object(g)),
                    "box {g} of {t:?} has no anchor"
                );
            }
            let tg = anchors::targets(&cfg, &all, &t, K);
            assert!(tg.foreground >= t.len() && tg.foreground * 20 < cfg.count());
        }
    }

    #[test]
    fn boxes_reports_a_worked_iou() {
        let r = kit::run_recorded(&BOXES, &[]).unwrap();
        let (i, u, v) = (
            r.metrics["intersection"],
            r.metrics["union"],
            r.metrics["iou"],
        );
        assert!((v - i / u).abs() < 1e-12 && v > 0.0 && v < 1.0);
    }
}
