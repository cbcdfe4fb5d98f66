//! Box arithmetic and detection metrics for the localisation and detection lesson, with the
//! conventions practitioners check against: boxes are `(x0, y0, x1, y1)` corners with area
//! `(x1 - x0)(y1 - y0)` and IoU as torchvision's `ops.box_iou`; non-maximum suppression as
//! torchvision's `ops.nms` (a box is dropped when its IoU with a kept, higher-scoring box is
//! strictly greater than the threshold); average precision as pycocotools' `COCOeval` (greedy
//! matching in score order to the unmatched ground truth of highest IoU, IoU ≥ threshold,
//! precision made monotone, sampled at 101 recall points; a class without ground truth has no
//! AP and is left out of the mean).

/// An axis-aligned box by its corners, `x0 <= x1`, `y0 <= y1`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rect {
    pub x0: f64,
    pub y0: f64,
    pub x1: f64,
    pub y1: f64,
}

impl Rect {
    pub fn new(x0: f64, y0: f64, x1: f64, y1: f64) -> Self {
        Rect { x0, y0, x1, y1 }
    }

    /// Width times height (0 for an empty or inverted box).
    pub fn area(&self) -> f64 {
        (self.x1 - self.x0).max(0.0) * (self.y1 - self.y0).max(0.0)
    }
}

/// Intersection over union of two boxes; 0 when both are empty.
pub fn iou(a: &Rect, b: &Rect) -> f64 {
    let w = (a.x1.min(b.x1) - a.x0.max(b.x0)).max(0.0);
    let h = (a.y1.min(b.y1) - a.y0.max(b.y0)).max(0.0);
    let inter = w * h;
    let union = a.area() + b.area() - inter;
    if union <= 0.0 {
        0.0
    } else {
        inter / union
    }
}

/// The indices of the boxes kept by non-maximum suppression, highest score first.
pub fn nms(boxes: &[Rect], scores: &[f64], iou_threshold: f64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..boxes.len().min(scores.len())).collect();
    // Stable, so equal scores keep their input order.
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let mut keep: Vec<usize> = Vec::new();
    for i in order {
        if keep
            .iter()
            .all(|&k| iou(&boxes[k], &boxes[i]) <= iou_threshold)
        {
            keep.push(i);
        }
    }
    keep
}

/// One predicted box of one image.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Detection {
    pub image: usize,
    pub class: usize,
    pub score: f64,
    pub rect: Rect,
}

/// One ground-truth box of one image.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Truth {
    pub image: usize,
    pub class: usize,
    pub rect: Rect,
}

/// The number of recall points COCO samples precision at (0, 0.01, ..., 1).
const RECALL_POINTS: usize = 101;

/// One class's detections in COCO's order, each marked true or false positive at one IoU
/// threshold, with the number of ground-truth boxes; `None` when the class has none.
///
/// COCO's order: per image, the detections sorted by score (stable) and cut to the best
/// `max_dets`, matched greedily to the unmatched ground truth of highest IoU (IoU ≥ threshold;
/// on equal IoU the later box); then all images' detections sorted by score with a stable sort,
/// so ties keep image order. Pass detections image by image, as a results file lists them.
pub fn ranked(
    dets: &[Detection],
    truths: &[Truth],
    class: usize,
    iou_threshold: f64,
    max_dets: usize,
) -> Option<(Vec<(f64, bool)>, usize)> {
    let gts: Vec<&Truth> = truths.iter().filter(|t| t.class == class).collect();
    if gts.is_empty() {
        return None;
    }
    // Image by image, in the order images first appear, each image's detections by score.
    let mut images: Vec<usize> = Vec::new();
    for d in dets.iter().filter(|d| d.class == class) {
        if !images.contains(&d.image) {
            images.push(d.image);
        }
    }
    images.sort_unstable();
    let mut matched = vec![false; gts.len()];
    let mut out: Vec<(f64, bool)> = Vec::new();
    for &image in &images {
        let mut ds: Vec<&Detection> = dets
            .iter()
            .filter(|d| d.class == class && d.image == image)
            .collect();
        ds.sort_by(|a, b| b.score.total_cmp(&a.score));
        ds.truncate(max_dets);
        for d in ds {
            // pycocotools starts from min(t, 1 - 1e-10), so IoU = t matches.
            let mut best: Option<usize> = None;
            let mut bar = iou_threshold.min(1.0 - 1e-10);
            for (g, t) in gts.iter().enumerate() {
                if matched[g] || t.image != image {
                    continue;
                }
                let v = iou(&d.rect, &t.rect);
                if v >= bar {
                    bar = v;
                    best = Some(g);
                }
            }
            if let Some(g) = best {
                matched[g] = true;
            }
            out.push((d.score, best.is_some()));
        }
    }
    out.sort_by(|a, b| b.0.total_cmp(&a.0));
    Some((out, gts.len()))
}

/// The precision-recall curve of one class at one IoU threshold: `(recall, precision)` after
/// each detection in COCO's order (see [`ranked`]), before the envelope; `None` without
/// ground truth.
pub fn pr_curve(
    dets: &[Detection],
    truths: &[Truth],
    class: usize,
    iou_threshold: f64,
    max_dets: usize,
) -> Option<Vec<(f64, f64)>> {
    let (tp, n_gt) = ranked(dets, truths, class, iou_threshold, max_dets)?;
    let (mut tps, mut fps) = (0.0, 0.0);
    Some(
        tp.iter()
            .map(|&(_, t)| {
                if t {
                    tps += 1.0;
                } else {
                    fps += 1.0;
                }
                (tps / n_gt as f64, tps / (tps + fps))
            })
            .collect(),
    )
}

/// Average precision of one class at one IoU threshold; `None` when the class has no ground
/// truth (COCO's -1). At most `max_dets` detections per image count, the highest-scoring.
pub fn average_precision(
    dets: &[Detection],
    truths: &[Truth],
    class: usize,
    iou_threshold: f64,
    max_dets: usize,
) -> Option<f64> {
    let curve = pr_curve(dets, truths, class, iou_threshold, max_dets)?;
    let recall: Vec<f64> = curve.iter().map(|p| p.0).collect();
    let mut precision: Vec<f64> = curve.iter().map(|p| p.1).collect();
    // The precision envelope: the best precision at this recall or any higher one.
    for i in (0..precision.len().saturating_sub(1)).rev() {
        precision[i] = precision[i].max(precision[i + 1]);
    }
    let mut sum = 0.0;
    for k in 0..RECALL_POINTS {
        let r = k as f64 / (RECALL_POINTS - 1) as f64;
        // The first detection whose recall reaches r (numpy's searchsorted, side "left").
        if let Some(i) = recall.iter().position(|&x| x >= r) {
            sum += precision[i];
        }
    }
    Some(sum / RECALL_POINTS as f64)
}

/// The share of one class's ground-truth boxes matched at one IoU threshold by the best
/// `max_dets` detections per image; `None` without ground truth.
pub fn recall(
    dets: &[Detection],
    truths: &[Truth],
    class: usize,
    iou_threshold: f64,
    max_dets: usize,
) -> Option<f64> {
    let (tp, n_gt) = ranked(dets, truths, class, iou_threshold, max_dets)?;
    Some(tp.iter().filter(|t| t.1).count() as f64 / n_gt as f64)
}

/// COCO's average recall of one class: its [`recall`] averaged over the IoU thresholds 0.50,
/// 0.55, ..., 0.95 (`max_dets` per image, 100 in COCO's AR@100).
pub fn average_recall(
    dets: &[Detection],
    truths: &[Truth],
    class: usize,
    max_dets: usize,
) -> Option<f64> {
    let rs: Vec<f64> = COCO_IOUS
        .iter()
        .filter_map(|&t| recall(dets, truths, class, t, max_dets))
        .collect();
    (!rs.is_empty()).then(|| rs.iter().sum::<f64>() / rs.len() as f64)
}

/// The mean of [`average_recall`] over the classes `0..classes` that have ground truth.
pub fn mean_average_recall(
    dets: &[Detection],
    truths: &[Truth],
    classes: usize,
    max_dets: usize,
) -> Option<f64> {
    let ars: Vec<f64> = (0..classes)
        .filter_map(|c| average_recall(dets, truths, c, max_dets))
        .collect();
    (!ars.is_empty()).then(|| ars.iter().sum::<f64>() / ars.len() as f64)
}

/// COCO's ten IoU thresholds, 0.50 to 0.95 in steps of 0.05 (`COCOeval`'s `iouThrs`).
pub const COCO_IOUS: [f64; 10] = [0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95];

/// The mean of [`average_precision`] over the classes `0..classes` that have ground truth;
/// `None` when none has.
pub fn mean_average_precision(
    dets: &[Detection],
    truths: &[Truth],
    classes: usize,
    iou_threshold: f64,
    max_dets: usize,
) -> Option<f64> {
    let aps: Vec<f64> = (0..classes)
        .filter_map(|c| average_precision(dets, truths, c, iou_threshold, max_dets))
        .collect();
    (!aps.is_empty()).then(|| aps.iter().sum::<f64>() / aps.len() as f64)
}

/// COCO's headline figure: mAP averaged over IoU thresholds 0.50, 0.55, ..., 0.95.
pub fn coco_map(dets: &[Detection], truths: &[Truth], classes: usize) -> Option<f64> {
    let maps: Vec<f64> = COCO_IOUS
        .iter()
        .filter_map(|&t| mean_average_precision(dets, truths, classes, t, 100))
        .collect();
    (!maps.is_empty()).then(|| maps.iter().sum::<f64>() / maps.len() as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(x0: f64, y0: f64, x1: f64, y1: f64) -> Rect {
        Rect::new(x0, y0, x1, y1)
    }

    fn det(image: usize, score: f64, rect: Rect) -> Detection {
        Detection {
            image,
            class: 0,
            score,
            rect,
        }
    }

    fn truth(image: usize, rect: Rect) -> Truth {
        Truth {
            image,
            class: 0,
            rect,
        }
    }

    #[test]
    fn iou_by_hand() {
        // Two 2x2 squares overlapping in a 1x2 strip: 2 / (4 + 4 - 2) = 1/3.
        assert!((iou(&r(0.0, 0.0, 2.0, 2.0), &r(1.0, 0.0, 3.0, 2.0)) - 1.0 / 3.0).abs() < 1e-12);
        assert_eq!(iou(&r(0.0, 0.0, 1.0, 1.0), &r(2.0, 2.0, 3.0, 3.0)), 0.0);
        assert_eq!(iou(&r(0.0, 0.0, 1.0, 1.0), &r(0.0, 0.0, 1.0, 1.0)), 1.0);
        assert_eq!(iou(&r(0.0, 0.0, 0.0, 0.0), &r(0.0, 0.0, 0.0, 0.0)), 0.0);
    }

    #[test]
    fn nms_drops_only_overlaps_above_the_threshold() {
        let boxes = [
            r(0.0, 0.0, 2.0, 2.0),
            r(1.0, 0.0, 3.0, 2.0), // IoU 1/3 with the first
            r(0.0, 0.0, 2.0, 1.9), // IoU 0.95 with the first
            r(5.0, 5.0, 6.0, 6.0),
        ];
        let scores = [0.9, 0.8, 0.95, 0.1];
        // Box 2 scores highest; box 0 overlaps it by 0.95 and goes; box 1 overlaps box 2 by
        // 1.9 / (4 + 3.8 - 1.9) = 0.322: kept at threshold 0.5, dropped at 0.3.
        assert_eq!(nms(&boxes, &scores, 0.5), vec![2, 1, 3]);
        assert_eq!(nms(&boxes, &scores, 0.3), vec![2, 3]);
    }

    #[test]
    fn ap_perfect_and_with_a_confident_false_positive() {
        let gt = [truth(0, r(0.0, 0.0, 10.0, 10.0))];
        let hit = det(0, 0.9, r(0.0, 0.0, 10.0, 10.0));
        assert_eq!(average_precision(&[hit], &gt, 0, 0.5, 100), Some(1.0));
        // A miss scored above the hit: precision 0 then 1/2 at recall 1; the envelope is
        // 1/2 everywhere, so AP = 0.5.
        let miss = det(0, 0.95, r(50.0, 50.0, 60.0, 60.0));
        let ap = average_precision(&[hit, miss], &gt, 0, 0.5, 100).unwrap();
        assert!((ap - 0.5).abs() < 1e-12, "{ap}");
        // No ground truth of the class: no AP; no detections: AP 0.
        assert_eq!(average_precision(&[hit], &[], 0, 0.5, 100), None);
        assert_eq!(average_precision(&[], &gt, 0, 0.5, 100), Some(0.0));
    }

    #[test]
    fn ap_half_recall_and_duplicates() {
        // Two objects, one found: precision 1 up to recall 0.5, nothing after:
        // 51 of 101 recall points (0, 0.01, ..., 0.5) score 1, so AP = 51/101.
        let gt = [
            truth(0, r(0.0, 0.0, 10.0, 10.0)),
            truth(1, r(0.0, 0.0, 10.0, 10.0)),
        ];
        let hit = det(0, 0.9, r(0.0, 0.0, 10.0, 10.0));
        let ap = average_precision(&[hit], &gt, 0, 0.5, 100).unwrap();
        assert!((ap - 51.0 / 101.0).abs() < 1e-12);
        // A duplicate of the hit is a false positive: the object is matched once.
        let dup = det(0, 0.8, r(0.0, 0.0, 10.0, 9.0));
        let ap2 = average_precision(&[hit, dup], &gt, 0, 0.5, 100).unwrap();
        assert!((ap2 - 51.0 / 101.0).abs() < 1e-12);
        // IoU exactly at the threshold matches (pycocotools' >=).
        let half = det(1, 0.7, r(0.0, 0.0, 10.0, 5.0));
        let ap3 = average_precision(&[hit, half], &gt, 0, 0.5, 100).unwrap();
        assert_eq!(ap3, 1.0);
        assert_eq!(average_precision(&[hit, half], &gt, 0, 0.55, 100), Some(ap));
    }

    #[test]
    fn map_averages_classes_with_ground_truth_and_thresholds() {
        let gt = [truth(0, r(0.0, 0.0, 10.0, 10.0))];
        let hit = det(0, 0.9, r(0.0, 0.0, 10.0, 10.0));
        // Class 1 has no ground truth and is left out of the mean.
        assert_eq!(mean_average_precision(&[hit], &gt, 2, 0.5, 100), Some(1.0));
        // A box with IoU 0.81 counts at thresholds 0.50..0.80 (7 of 10).
        let close = det(0, 0.9, r(0.0, 0.0, 10.0, 8.1));
        let m = coco_map(&[close], &gt, 1).unwrap();
        assert!((m - 0.7).abs() < 1e-12, "{m}");
    }

    #[test]
    fn ap_score_ties_keep_image_order() {
        // One object, in image 1. Two detections with the same score: a miss in image 0 and a
        // hit in image 1. COCO's stable sort keeps image order, so the miss ranks first:
        // precision 0 then 1/2 at recall 1, AP 0.5, whatever order the list comes in.
        let gt = [truth(1, r(0.0, 0.0, 10.0, 10.0))];
        let miss = det(0, 0.8, r(0.0, 0.0, 10.0, 10.0));
        let hit = det(1, 0.8, r(0.0, 0.0, 10.0, 10.0));
        for dets in [[miss, hit], [hit, miss]] {
            let ap = average_precision(&dets, &gt, 0, 0.5, 100).unwrap();
            assert!((ap - 0.5).abs() < 1e-12, "{ap}");
            assert_eq!(
                pr_curve(&dets, &gt, 0, 0.5, 100).unwrap(),
                vec![(0.0, 0.0), (1.0, 0.5)]
            );
        }
        // Within one image, equal scores keep the list's order.
        let gt = [truth(0, r(0.0, 0.0, 10.0, 10.0))];
        let a = det(0, 0.8, r(0.0, 0.0, 10.0, 10.0));
        let b = det(0, 0.8, r(0.0, 0.0, 10.0, 9.0));
        let (ra, _) = ranked(&[a, b], &gt, 0, 0.5, 100).unwrap();
        assert_eq!(ra, vec![(0.8, true), (0.8, false)]);
    }

    #[test]
    fn recall_and_average_recall() {
        // Two objects; one found with IoU 0.81 (counts at 0.50..0.80: 7 of 10 thresholds).
        let gt = [
            truth(0, r(0.0, 0.0, 10.0, 10.0)),
            truth(0, r(20.0, 20.0, 30.0, 30.0)),
        ];
        let close = det(0, 0.9, r(0.0, 0.0, 10.0, 8.1));
        assert_eq!(recall(&[close], &gt, 0, 0.5, 100), Some(0.5));
        assert_eq!(recall(&[close], &gt, 0, 0.85, 100), Some(0.0));
        let ar = average_recall(&[close], &gt, 0, 100).unwrap();
        assert!((ar - 0.35).abs() < 1e-12, "{ar}");
        assert_eq!(mean_average_recall(&[close], &gt, 3, 100), Some(ar));
        // max_dets: only the best detection of an image counts.
        let far = det(0, 0.95, r(40.0, 40.0, 50.0, 50.0));
        assert_eq!(recall(&[close, far], &gt, 0, 0.5, 1), Some(0.0));
    }

    #[test]
    fn nms_ties_and_threshold_equality() {
        // IoU exactly 1/3 at threshold 1/3 is not "greater": both kept (torchvision's rule).
        let boxes = [r(0.0, 0.0, 2.0, 2.0), r(1.0, 0.0, 3.0, 2.0)];
        let t = iou(&boxes[0], &boxes[1]);
        assert_eq!(nms(&boxes, &[0.9, 0.8], t), vec![0, 1]);
        assert_eq!(nms(&boxes, &[0.9, 0.8], t - 1e-9), vec![0]);
        // Equal scores: the earlier box is kept.
        let same = [r(0.0, 0.0, 2.0, 2.0), r(0.0, 0.0, 2.0, 2.0)];
        assert_eq!(nms(&same, &[0.5, 0.5], 0.5), vec![0]);
        // Touching boxes share an edge but no area: IoU 0.
        assert_eq!(iou(&r(0.0, 0.0, 1.0, 1.0), &r(1.0, 0.0, 2.0, 1.0)), 0.0);
    }
}
