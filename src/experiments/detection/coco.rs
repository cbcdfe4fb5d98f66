//! The test scenes' boxes and a detector's detections as COCO files, so anyone can score them
//! with their own tools (pycocotools' `COCO("ground-truth.json").loadRes("detections.json")`,
//! then `COCOeval(gt, dt, "bbox")`).
//!
//! `ground-truth.json` is in COCO's annotation format: `images` (id = scene index + 1, 64x64),
//! `categories` (id = the scene class: 1 square, 2 disc, 3 triangle) and `annotations` with
//! `bbox = [x, y, width, height]` in pixels (a box covering columns `x0..x1` has `x = x0`,
//! `width = x1 - x0`), `area = width * height`, `iscrowd = 0`. `detections.json` is COCO's
//! results format: a list of `image_id`, `category_id`, `bbox`, `score`, image by image, each
//! image's detections best first.

use serde::{Deserialize, Serialize};

use crate::train::detection::{Detection, Rect, Truth};

#[derive(Debug, Serialize, Deserialize)]
pub struct Image {
    pub id: usize,
    pub width: usize,
    pub height: usize,
    pub file_name: String,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Category {
    pub id: usize,
    pub name: String,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Annotation {
    pub id: usize,
    pub image_id: usize,
    pub category_id: usize,
    pub bbox: [f64; 4],
    pub area: f64,
    pub iscrowd: u8,
}

/// A COCO annotation file.
#[derive(Debug, Serialize, Deserialize)]
pub struct GroundTruth {
    pub images: Vec<Image>,
    pub categories: Vec<Category>,
    pub annotations: Vec<Annotation>,
}

/// One line of a COCO results file.
#[derive(Debug, Serialize, Deserialize)]
pub struct Result {
    pub image_id: usize,
    pub category_id: usize,
    pub bbox: [f64; 4],
    pub score: f64,
}

fn xywh(r: &Rect) -> [f64; 4] {
    [r.x0, r.y0, r.x1 - r.x0, r.y1 - r.y0]
}

fn rect(b: &[f64; 4]) -> Rect {
    Rect::new(b[0], b[1], b[0] + b[2], b[1] + b[3])
}

/// The annotation file of `truths` (detector classes `0..names.len()`, images `0..images`).
pub fn ground_truth(truths: &[Truth], images: usize, size: usize, names: &[&str]) -> GroundTruth {
    GroundTruth {
        images: (0..images)
            .map(|i| Image {
                id: i + 1,
                width: size,
                height: size,
                file_name: format!("scene-{i:03}.png"),
            })
            .collect(),
        categories: names
            .iter()
            .enumerate()
            .map(|(k, n)| Category {
                id: k + 1,
                name: n.to_string(),
            })
            .collect(),
        annotations: truths
            .iter()
            .enumerate()
            .map(|(j, t)| Annotation {
                id: j + 1,
                image_id: t.image + 1,
                category_id: t.class + 1,
                bbox: xywh(&t.rect),
                area: t.rect.area(),
                iscrowd: 0,
            })
            .collect(),
    }
}

/// The results file of `dets`.
pub fn results(dets: &[Detection]) -> Vec<Result> {
    dets.iter()
        .map(|d| Result {
            image_id: d.image + 1,
            category_id: d.class + 1,
            bbox: xywh(&d.rect),
            score: d.score,
        })
        .collect()
}

/// Reads both files back into the tutor's types (image index = id - 1, class = id - 1).
pub fn read(gt: &str, dt: &str) -> anyhow::Result<(Vec<Truth>, Vec<Detection>, usize)> {
    let gt: GroundTruth = serde_json::from_str(gt)?;
    let dt: Vec<Result> = serde_json::from_str(dt)?;
    let truths = gt
        .annotations
        .iter()
        .map(|a| Truth {
            image: a.image_id - 1,
            class: a.category_id - 1,
            rect: rect(&a.bbox),
        })
        .collect();
    let dets = dt
        .iter()
        .map(|d| Detection {
            image: d.image_id - 1,
            class: d.category_id - 1,
            score: d.score,
            rect: rect(&d.bbox),
        })
        .collect();
    Ok((truths, dets, gt.categories.len()))
}
