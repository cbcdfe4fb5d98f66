//! Anchors for a one-stage detector, RetinaNet's scheme at a size that trains here.
//!
//! **Placement.** The image is cut into a `grid x grid` lattice of cells; every cell holds the
//! same set of anchors, one per (size, aspect ratio) pair, centred on the cell's centre. As in
//! torchvision's `AnchorGenerator`, an aspect ratio is height / width and keeps the area:
//! `w = size / sqrt(ratio)`, `h = size * sqrt(ratio)`. (torchvision centres anchors on the
//! cells' top-left corners; the centre is what the lesson draws and what reads naturally.)
//!
//! **Order.** Anchor `i = a * cells + cell`, with `a = size_index * ratios + ratio_index` and
//! `cell = row * grid + column`. A detector's heads are convolutions with `A * K` and `A * 4`
//! output channels, so in a head's output (one image, `[channels, grid, grid]`) the score of
//! class `k` for anchor `(a, cell)` sits at `(a * K + k) * cells + cell` and its offset `j` at
//! `(a * 4 + j) * cells + cell`: [`class_index`] and [`box_index`].
//!
//! **Assignment** (RetinaNet, torchvision's `Matcher(0.5, 0.4, allow_low_quality_matches=True)`):
//! an anchor whose best IoU with a ground-truth box is at least [`FG_IOU`] is that box's
//! (foreground); below [`BG_IOU`] it is background; in between it is ignored (no loss). Then
//! every box also gets the anchors it overlaps most (all of them on a tie), even below 0.5, so
//! no object is left without an anchor. (torchvision gives such an anchor to the box *that
//! anchor* overlaps most; here it goes to the box it is best for, which can only differ when two
//! boxes share a best anchor.)
//!
//! **Offsets** are torchvision's `BoxCoder` with weights (1, 1, 1, 1): the centre shift in
//! anchor widths and heights and the log of the size ratios.

use super::detection::{iou, nms, Rect};

/// An anchor at or above this IoU with its best box is foreground.
pub const FG_IOU: f64 = 0.5;
/// An anchor below this IoU with every box is background; between the two it is ignored.
pub const BG_IOU: f64 = 0.4;
/// The largest log size ratio decoded (torchvision's `log(1000 / 16)`), so an untrained head
/// cannot ask for an overflowing box.
const MAX_LOG_RATIO: f64 = 4.135_166_556_742_356;
/// Candidates kept before NMS (torchvision's `topk_candidates`).
const TOP_CANDIDATES: usize = 1000;

/// Where the anchors are and what shapes they have.
#[derive(Debug, Clone, PartialEq)]
pub struct AnchorConfig {
    /// Side of the (square) image in pixels.
    pub image: usize,
    /// Cells per side.
    pub grid: usize,
    /// Anchor sizes: the square root of an anchor's area, in pixels.
    pub sizes: Vec<f64>,
    /// Aspect ratios, height / width.
    pub ratios: Vec<f64>,
}

impl AnchorConfig {
    /// Anchors per cell (sizes times ratios).
    pub fn per_cell(&self) -> usize {
        self.sizes.len() * self.ratios.len()
    }

    /// Cells in the grid.
    pub fn cells(&self) -> usize {
        self.grid * self.grid
    }

    /// Anchors in the image: cells times anchors per cell.
    pub fn count(&self) -> usize {
        self.cells() * self.per_cell()
    }

    /// Pixels per cell.
    pub fn stride(&self) -> f64 {
        self.image as f64 / self.grid.max(1) as f64
    }

    /// Every anchor, in the module's order.
    pub fn anchors(&self) -> Vec<Rect> {
        let s = self.stride();
        let mut out = Vec::with_capacity(self.count());
        for &size in &self.sizes {
            for &ratio in &self.ratios {
                let (w, h) = (size / ratio.sqrt(), size * ratio.sqrt());
                for row in 0..self.grid {
                    for col in 0..self.grid {
                        let (cx, cy) = ((col as f64 + 0.5) * s, (row as f64 + 0.5) * s);
                        out.push(Rect::new(
                            cx - w / 2.0,
                            cy - h / 2.0,
                            cx + w / 2.0,
                            cy + h / 2.0,
                        ));
                    }
                }
            }
        }
        out
    }
}

/// Where anchor `i`'s score of class `k` sits in one image's class-head output.
pub fn class_index(cells: usize, classes: usize, i: usize, k: usize) -> usize {
    let (a, cell) = (i / cells, i % cells);
    (a * classes + k) * cells + cell
}

/// Where anchor `i`'s offset `j` (0..4) sits in one image's box-head output.
pub fn box_index(cells: usize, i: usize, j: usize) -> usize {
    let (a, cell) = (i / cells, i % cells);
    (a * 4 + j) * cells + cell
}

/// What an anchor is trained to say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Match {
    /// Nothing: every class score is pushed down.
    Background,
    /// Too close to call: no loss at all.
    Ignored,
    /// The ground-truth box with this index.
    Object(usize),
}

/// Assigns every anchor (see the module documentation); `fg` and `bg` are the two IoU
/// thresholds, `bg <= fg`.
pub fn assign(anchors: &[Rect], truths: &[Rect], fg: f64, bg: f64) -> Vec<Match> {
    if truths.is_empty() {
        return vec![Match::Background; anchors.len()];
    }
    let ious: Vec<Vec<f64>> = anchors
        .iter()
        .map(|a| truths.iter().map(|t| iou(a, t)).collect())
        .collect();
    let mut out: Vec<Match> = ious
        .iter()
        .map(|row| {
            let (g, v) =
                row.iter()
                    .enumerate()
                    .fold((0, f64::MIN), |b, (g, &v)| if v > b.1 { (g, v) } else { b });
            if v >= fg {
                Match::Object(g)
            } else if v < bg {
                Match::Background
            } else {
                Match::Ignored
            }
        })
        .collect();
    for g in 0..truths.len() {
        let best = ious.iter().map(|row| row[g]).fold(0.0, f64::max);
        if best <= 0.0 {
            continue;
        }
        for (i, row) in ious.iter().enumerate() {
            if row[g] == best {
                out[i] = Match::Object(g);
            }
        }
    }
    out
}

/// The offsets that move `anchor` onto `target`: `(dx, dy, dw, dh)` with
/// `dx = (cx_t - cx_a) / w_a`, `dy = (cy_t - cy_a) / h_a`, `dw = ln(w_t / w_a)`,
/// `dh = ln(h_t / h_a)`.
pub fn encode(anchor: &Rect, target: &Rect) -> [f64; 4] {
    let (aw, ah) = (anchor.x1 - anchor.x0, anchor.y1 - anchor.y0);
    let (tw, th) = (target.x1 - target.x0, target.y1 - target.y0);
    let (acx, acy) = (anchor.x0 + aw / 2.0, anchor.y0 + ah / 2.0);
    let (tcx, tcy) = (target.x0 + tw / 2.0, target.y0 + th / 2.0);
    [
        (tcx - acx) / aw,
        (tcy - acy) / ah,
        (tw / aw).ln(),
        (th / ah).ln(),
    ]
}

/// The box that offsets `d` make of `anchor` (the inverse of [`encode`]); size ratios are
/// clamped at e^4.1 so an untrained head cannot overflow.
pub fn decode(anchor: &Rect, d: [f64; 4]) -> Rect {
    let (aw, ah) = (anchor.x1 - anchor.x0, anchor.y1 - anchor.y0);
    let (acx, acy) = (anchor.x0 + aw / 2.0, anchor.y0 + ah / 2.0);
    let (cx, cy) = (acx + d[0] * aw, acy + d[1] * ah);
    let w = aw * d[2].min(MAX_LOG_RATIO).exp();
    let h = ah * d[3].min(MAX_LOG_RATIO).exp();
    Rect::new(cx - w / 2.0, cy - h / 2.0, cx + w / 2.0, cy + h / 2.0)
}

/// One image's training targets in the heads' layouts.
#[derive(Debug, Clone, PartialEq)]
pub struct Targets {
    /// Per class score: 1 for the anchor's class, 0 otherwise (all 0 for background).
    pub classes: Vec<f32>,
    /// Per class score: 0 for ignored anchors, 1 otherwise.
    pub class_weights: Vec<f32>,
    /// Per offset: the encoded box of a foreground anchor (0 elsewhere).
    pub offsets: Vec<f32>,
    /// Per offset: 1 for foreground anchors, 0 otherwise.
    pub offset_weights: Vec<f32>,
    pub foreground: usize,
    pub ignored: usize,
    pub background: usize,
}

/// The targets of one image with boxes `truths` (class `0..classes` each).
pub fn targets(
    cfg: &AnchorConfig,
    anchors: &[Rect],
    truths: &[(Rect, usize)],
    classes: usize,
) -> Targets {
    let cells = cfg.cells();
    let n = anchors.len();
    let rects: Vec<Rect> = truths.iter().map(|t| t.0).collect();
    let m = assign(anchors, &rects, FG_IOU, BG_IOU);
    let mut t = Targets {
        classes: vec![0.0; n * classes],
        class_weights: vec![1.0; n * classes],
        offsets: vec![0.0; n * 4],
        offset_weights: vec![0.0; n * 4],
        foreground: 0,
        ignored: 0,
        background: 0,
    };
    for (i, m) in m.iter().enumerate() {
        match *m {
            Match::Background => t.background += 1,
            Match::Ignored => {
                t.ignored += 1;
                for k in 0..classes {
                    t.class_weights[class_index(cells, classes, i, k)] = 0.0;
                }
            }
            Match::Object(g) => {
                t.foreground += 1;
                let (rect, class) = truths[g];
                if class < classes {
                    t.classes[class_index(cells, classes, i, class)] = 1.0;
                }
                for (j, d) in encode(&anchors[i], &rect).iter().enumerate() {
                    t.offsets[box_index(cells, i, j)] = *d as f32;
                    t.offset_weights[box_index(cells, i, j)] = 1.0;
                }
            }
        }
    }
    t
}

/// One detection of one image: class `0..K`, sigmoid score, box clipped to the image.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Found {
    pub class: usize,
    pub score: f64,
    pub rect: Rect,
}

fn sigmoid(x: f32) -> f64 {
    1.0 / (1.0 + (-(x as f64)).exp())
}

/// Every (anchor, class) pair scoring above `min_score`, decoded and clipped, best first (at
/// most [`TOP_CANDIDATES`]): what a detector says before non-maximum suppression.
pub fn candidates(
    cfg: &AnchorConfig,
    anchors: &[Rect],
    class_out: &[f32],
    box_out: &[f32],
    classes: usize,
    min_score: f64,
) -> Vec<Found> {
    let cells = cfg.cells();
    let side = cfg.image as f64;
    let mut out = Vec::new();
    for (i, anchor) in anchors.iter().enumerate() {
        for k in 0..classes {
            let Some(&logit) = class_out.get(class_index(cells, classes, i, k)) else {
                continue;
            };
            let score = sigmoid(logit);
            if score <= min_score {
                continue;
            }
            let d: [f64; 4] = std::array::from_fn(|j| {
                box_out
                    .get(box_index(cells, i, j))
                    .map_or(0.0, |&v| v as f64)
            });
            let r = decode(anchor, d);
            let clip = |v: f64| v.clamp(0.0, side);
            out.push(Found {
                class: k,
                score,
                rect: Rect::new(clip(r.x0), clip(r.y0), clip(r.x1), clip(r.y1)),
            });
        }
    }
    // Stable: equal scores keep anchor order.
    out.sort_by(|a, b| b.score.total_cmp(&a.score));
    out.truncate(TOP_CANDIDATES);
    out
}

/// Non-maximum suppression class by class (torchvision's `batched_nms`) over `found`, then the
/// best `max_dets`, best first.
pub fn suppress(found: &[Found], iou_threshold: f64, max_dets: usize) -> Vec<Found> {
    let mut kept: Vec<Found> = Vec::new();
    let classes = found.iter().map(|f| f.class + 1).max().unwrap_or(0);
    for k in 0..classes {
        let of_k: Vec<&Found> = found.iter().filter(|f| f.class == k).collect();
        let rects: Vec<Rect> = of_k.iter().map(|f| f.rect).collect();
        let scores: Vec<f64> = of_k.iter().map(|f| f.score).collect();
        kept.extend(
            nms(&rects, &scores, iou_threshold)
                .into_iter()
                .map(|i| *of_k[i]),
        );
    }
    kept.sort_by(|a, b| b.score.total_cmp(&a.score));
    kept.truncate(max_dets);
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> AnchorConfig {
        AnchorConfig {
            image: 64,
            grid: 8,
            sizes: vec![12.0, 24.0],
            ratios: vec![0.5, 1.0, 2.0],
        }
    }

    #[test]
    fn anchors_count_and_shapes() {
        let c = cfg();
        let a = c.anchors();
        assert_eq!((c.per_cell(), c.count(), a.len()), (6, 384, 384));
        // Anchor 0: size 12, ratio 0.5 (wide), centred on cell (0, 0) at (4, 4).
        let w = 12.0 / 0.5f64.sqrt();
        let h = 12.0 * 0.5f64.sqrt();
        assert!((a[0].x1 - a[0].x0 - w).abs() < 1e-12 && (a[0].y1 - a[0].y0 - h).abs() < 1e-12);
        assert!(((a[0].x0 + a[0].x1) / 2.0 - 4.0).abs() < 1e-12);
        // Every anchor of one size has that area.
        for r in &a[..c.cells() * 3] {
            assert!((r.area() - 144.0).abs() < 1e-9);
        }
        // Anchor (a = 1, cell = row 2 col 3): centre (28, 20).
        let r = a[c.cells() + 2 * 8 + 3];
        assert_eq!(((r.x0 + r.x1) / 2.0, (r.y0 + r.y1) / 2.0), (28.0, 20.0));
    }

    #[test]
    fn head_layout_indices() {
        // 4 cells, 3 classes: anchor 5 is a = 1, cell 1.
        assert_eq!(class_index(4, 3, 5, 2), (3 + 2) * 4 + 1);
        assert_eq!(box_index(4, 5, 3), (4 + 3) * 4 + 1);
    }

    #[test]
    fn offsets_round_trip() {
        let anchor = Rect::new(10.0, 12.0, 26.0, 20.0);
        for t in [
            Rect::new(11.0, 9.0, 30.5, 27.0),
            Rect::new(0.0, 0.0, 3.0, 64.0),
            anchor,
        ] {
            let d = encode(&anchor, &t);
            let back = decode(&anchor, d);
            for (x, y) in [
                (back.x0, t.x0),
                (back.y0, t.y0),
                (back.x1, t.x1),
                (back.y1, t.y1),
            ] {
                assert!((x - y).abs() < 1e-9, "{back:?} vs {t:?}");
            }
        }
        assert_eq!(encode(&anchor, &anchor), [0.0; 4]);
        // By hand: a box twice as wide, shifted by half an anchor width.
        let d = encode(
            &Rect::new(0.0, 0.0, 10.0, 10.0),
            &Rect::new(-5.0, 0.0, 15.0, 10.0),
        );
        assert_eq!(d, [0.0, 0.0, 2f64.ln(), 0.0]);
        let d = encode(
            &Rect::new(0.0, 0.0, 10.0, 10.0),
            &Rect::new(5.0, 0.0, 15.0, 10.0),
        );
        assert_eq!(d, [0.5, 0.0, 0.0, 0.0]);
    }

    #[test]
    fn assignment_thresholds_and_best_anchor() {
        let anchors = [
            Rect::new(0.0, 0.0, 10.0, 10.0),   // the box itself: IoU 1
            Rect::new(0.0, 0.0, 10.0, 5.0),    // IoU 0.5: foreground (>= 0.5)
            Rect::new(0.0, 0.0, 10.0, 4.5),    // IoU 0.45: ignored
            Rect::new(0.0, 0.0, 10.0, 4.0),    // IoU 0.4: ignored (not < 0.4)
            Rect::new(0.0, 0.0, 10.0, 3.9),    // IoU 0.39: background
            Rect::new(40.0, 40.0, 50.0, 50.0), // IoU 0 with the first box
        ];
        let truths = [Rect::new(0.0, 0.0, 10.0, 10.0)];
        let m = assign(&anchors, &truths, FG_IOU, BG_IOU);
        use Match::*;
        assert_eq!(
            m,
            vec![
                Object(0),
                Object(0),
                Ignored,
                Ignored,
                Background,
                Background
            ]
        );
        // A second box overlapping no anchor by 0.4 still gets its best anchor (IoU 0.25).
        let truths = [
            Rect::new(0.0, 0.0, 10.0, 10.0),
            Rect::new(35.0, 35.0, 45.0, 45.0),
        ];
        let m = assign(&anchors, &truths, FG_IOU, BG_IOU);
        assert!((iou(&anchors[5], &truths[1]) - 25.0 / 175.0).abs() < 1e-12);
        assert_eq!(m[5], Object(1));
        // Nothing to find: all background.
        assert_eq!(assign(&anchors, &[], FG_IOU, BG_IOU), vec![Background; 6]);
    }

    #[test]
    fn targets_in_head_layout() {
        let c = AnchorConfig {
            image: 16,
            grid: 2,
            sizes: vec![8.0],
            ratios: vec![1.0],
        };
        let anchors = c.anchors();
        // One box exactly on the anchor of cell (row 1, col 0), class 1 of 2.
        let t = targets(&c, &anchors, &[(anchors[2], 1)], 2);
        assert_eq!((t.foreground, t.ignored, t.background), (1, 0, 3));
        assert_eq!(t.classes, vec![0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0]);
        assert_eq!(t.offset_weights.iter().sum::<f32>(), 4.0);
        assert_eq!(t.offset_weights[box_index(4, 2, 0)], 1.0);
    }

    #[test]
    fn candidates_decode_and_suppress_per_class() {
        let c = AnchorConfig {
            image: 16,
            grid: 2,
            sizes: vec![8.0],
            ratios: vec![1.0],
        };
        let anchors = c.anchors();
        // Class 0 on anchors 0 and 1 (scores 0.73 and 0.5), class 1 on anchor 0 (0.88).
        let mut cls = vec![-20.0f32; 8];
        cls[class_index(4, 2, 0, 0)] = 1.0;
        cls[class_index(4, 2, 1, 0)] = 0.0;
        cls[class_index(4, 2, 0, 1)] = 2.0;
        let mut boxes = vec![0.0f32; 16];
        // Anchor 1's box moves half a width left: it now overlaps anchor 0 by 1/3.
        boxes[box_index(4, 1, 0)] = -0.5;
        let found = candidates(&c, &anchors, &cls, &boxes, 2, 0.05);
        assert_eq!(found.len(), 3);
        assert_eq!((found[0].class, found[1].class), (1, 0));
        assert_eq!(found[2].rect, Rect::new(4.0, 0.0, 12.0, 8.0));
        // Per class: the class-1 box does not suppress the class-0 box it sits on.
        assert_eq!(suppress(&found, 0.5, 100).len(), 3);
        assert_eq!(suppress(&found, 0.3, 100).len(), 2);
        assert_eq!(suppress(&found, 0.5, 1), vec![found[0]]);
    }
}
