//! Scores of predicted segmentation masks against true ones, image by image: the figures a
//! segmentation lesson reports at the end, computed from class masks alone (no network), so
//! anyone holding the exported masks gets the same numbers.
//!
//! **Definition (samplewise, background left out).** For every image and every foreground
//! class `c` (1..K), count true positives, false positives and false negatives over its pixels:
//! Dice = 2TP / (2TP + FP + FN) and IoU = TP / (TP + FP + FN). A class absent from both the
//! truth and the prediction of an image (TP + FP + FN = 0) is skipped for that image; the
//! image's score is the mean over the classes left. The reported score is the mean of the
//! images' scores; an image with no foreground in either mask has no score and is left out
//! (counted in [`Scores::skipped_images`]). This is torchmetrics'
//! `DiceScore(average="macro", include_background=False)` per sample, then averaged over
//! samples. Pixel accuracy is the share of all pixels whose class is right, background
//! included.
//!
//! [`super::metrics::MetricKind::Dice`] accumulates counts over a whole split instead: it is
//! what the loop draws per epoch, and it is not the same number.

/// The three scores of a set of masks.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scores {
    /// Mean over images of the mean Dice over the image's foreground classes.
    pub dice: f64,
    /// The same with IoU (Jaccard).
    pub iou: f64,
    /// Right pixels over all pixels.
    pub pixel_accuracy: f64,
    /// Images that got a score.
    pub images: usize,
    /// Images left out: no foreground in the truth nor in the prediction.
    pub skipped_images: usize,
}

/// One image's scores: `None` when it has no foreground in either mask.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ImageScores {
    pub dice: Option<f64>,
    pub iou: Option<f64>,
    /// Right pixels over the image's pixels.
    pub pixel_accuracy: f64,
}

/// Scores of one predicted mask against its true mask (`classes` classes, 0 = background).
/// Pixels with a class at or past `classes` count as wrong in the accuracy and belong to no
/// class.
pub fn image_scores(pred: &[u8], truth: &[u8], classes: usize) -> ImageScores {
    assert_eq!(pred.len(), truth.len(), "masks of different sizes");
    let k = classes.max(1);
    let (mut tp, mut fp, mut fn_) = (vec![0u64; k], vec![0u64; k], vec![0u64; k]);
    let mut right = 0usize;
    for (&p, &t) in pred.iter().zip(truth) {
        let (p, t) = (p as usize, t as usize);
        if p == t && p < k {
            right += 1;
            tp[p] += 1;
            continue;
        }
        if p < k {
            fp[p] += 1;
        }
        if t < k {
            fn_[t] += 1;
        }
    }
    let (mut dice, mut iou, mut counted) = (0.0, 0.0, 0usize);
    for c in 1..k {
        let (tp, fp, fn_) = (tp[c] as f64, fp[c] as f64, fn_[c] as f64);
        if tp + fp + fn_ == 0.0 {
            continue;
        }
        dice += 2.0 * tp / (2.0 * tp + fp + fn_);
        iou += tp / (tp + fp + fn_);
        counted += 1;
    }
    let mean = |s: f64| (counted > 0).then(|| s / counted as f64);
    ImageScores {
        dice: mean(dice),
        iou: mean(iou),
        pixel_accuracy: right as f64 / truth.len().max(1) as f64,
    }
}

/// Scores of a set of masks laid out image after image, `pixels` per image.
pub fn scores(pred: &[u8], truth: &[u8], pixels: usize, classes: usize) -> Scores {
    assert_eq!(pred.len(), truth.len(), "mask sets of different sizes");
    let pixels = pixels.max(1);
    let (mut dice, mut iou, mut images, mut skipped) = (0.0, 0.0, 0usize, 0usize);
    let (mut right, mut total) = (0.0, 0usize);
    for (p, t) in pred.chunks(pixels).zip(truth.chunks(pixels)) {
        let s = image_scores(p, t, classes);
        right += s.pixel_accuracy * t.len() as f64;
        total += t.len();
        match (s.dice, s.iou) {
            (Some(d), Some(j)) => {
                dice += d;
                iou += j;
                images += 1;
            }
            _ => skipped += 1,
        }
    }
    let mean = |s: f64| if images == 0 { 0.0 } else { s / images as f64 };
    Scores {
        dice: mean(dice),
        iou: mean(iou),
        pixel_accuracy: right / total.max(1) as f64,
        images,
        skipped_images: skipped,
    }
}

/// Dice from counts: 2TP / (2TP + FP + FN), 0 when all three are 0.
pub fn dice_from_counts(tp: f64, fp: f64, fn_: f64) -> f64 {
    let d = 2.0 * tp + fp + fn_;
    if d == 0.0 {
        0.0
    } else {
        2.0 * tp / d
    }
}

/// IoU from counts: TP / (TP + FP + FN), 0 when all three are 0.
pub fn iou_from_counts(tp: f64, fp: f64, fn_: f64) -> f64 {
    let d = tp + fp + fn_;
    if d == 0.0 {
        0.0
    } else {
        tp / d
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn one_image_by_hand() {
        // 3 classes on 8 pixels.
        // truth: 0 0 1 1 1 2 2 0
        // pred:  0 1 1 1 0 2 0 0
        // class 1: tp 2, fp 1 (pixel 1), fn 1 (pixel 4): Dice 4/6, IoU 2/4.
        // class 2: tp 1, fp 0, fn 1 (pixel 6): Dice 2/3, IoU 1/2.
        // right: pixels 0, 2, 3, 5, 7 = 5 of 8.
        let truth = [0, 0, 1, 1, 1, 2, 2, 0];
        let pred = [0, 1, 1, 1, 0, 2, 0, 0];
        let s = image_scores(&pred, &truth, 3);
        assert!(close(s.dice.unwrap(), (4.0 / 6.0 + 2.0 / 3.0) / 2.0));
        assert!(close(s.iou.unwrap(), 0.5));
        assert!(close(s.pixel_accuracy, 5.0 / 8.0));
    }

    #[test]
    fn a_class_absent_from_both_masks_is_skipped() {
        // Class 2 appears nowhere: only class 1 counts (tp 1, fp 0, fn 1: Dice 2/3, IoU 1/2),
        // not (2/3 + 0) / 2.
        let truth = [1, 1, 0, 0];
        let pred = [1, 0, 0, 0];
        let s = image_scores(&pred, &truth, 3);
        assert!(close(s.dice.unwrap(), 2.0 / 3.0));
        assert!(close(s.iou.unwrap(), 0.5));
        assert!(close(s.pixel_accuracy, 0.75));
    }

    #[test]
    fn an_empty_prediction_scores_zero_and_an_empty_image_is_left_out() {
        // Image 1: an object the prediction misses entirely: Dice 0, IoU 0, accuracy 2/4.
        // Image 2: background in both masks: no score, accuracy 4/4.
        // Image 3: a class predicted where there is none: Dice 0 for it.
        let truth = [1, 1, 0, 0, /**/ 0, 0, 0, 0, /**/ 0, 0, 0, 0];
        let pred = [0, 0, 0, 0, /**/ 0, 0, 0, 0, /**/ 2, 0, 0, 0];
        let one = image_scores(&pred[..4], &truth[..4], 3);
        assert_eq!((one.dice, one.iou), (Some(0.0), Some(0.0)));
        let empty = image_scores(&pred[4..8], &truth[4..8], 3);
        assert_eq!(
            (empty.dice, empty.iou, empty.pixel_accuracy),
            (None, None, 1.0)
        );
        let s = scores(&pred, &truth, 4, 3);
        assert_eq!((s.images, s.skipped_images), (2, 1));
        assert!(close(s.dice, 0.0) && close(s.iou, 0.0));
        assert!(close(s.pixel_accuracy, 9.0 / 12.0));
    }

    #[test]
    fn scores_average_images_not_pixels() {
        // Image 1 perfect (Dice 1); image 2: one class, tp 1, fn 3: Dice 2/5, IoU 1/4.
        // Pooled counts would give another Dice: tp 3, fn 3 -> 6/9.
        let truth = [1, 1, 0, 0, /**/ 1, 1, 1, 1];
        let pred = [1, 1, 0, 0, /**/ 1, 0, 0, 0];
        let s = scores(&pred, &truth, 4, 2);
        assert!(close(s.dice, (1.0 + 0.4) / 2.0));
        assert!(close(s.iou, (1.0 + 0.25) / 2.0));
        assert!(close(s.pixel_accuracy, 5.0 / 8.0));
        assert!(!close(s.dice, 6.0 / 9.0));
    }

    #[test]
    fn dice_is_never_below_iou() {
        for (tp, fp, fn_) in [
            (3.0, 1.0, 2.0),
            (0.0, 1.0, 0.0),
            (5.0, 0.0, 0.0),
            (1.0, 9.0, 9.0),
        ] {
            let (d, j) = (dice_from_counts(tp, fp, fn_), iou_from_counts(tp, fp, fn_));
            assert!(d >= j);
            // Dice = 2 IoU / (1 + IoU).
            assert!(close(d, 2.0 * j / (1.0 + j)));
        }
        assert_eq!(dice_from_counts(0.0, 0.0, 0.0), 0.0);
    }
}
