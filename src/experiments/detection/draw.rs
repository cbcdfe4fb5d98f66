//! Lesson 6's pictures: scenes in gray with boxes drawn over them, enlarged so that a box edge
//! stays visible in the terminal and in the PNGs.

use image::{Rgb, RgbImage};

use crate::experiments::segmentation::colour;
use crate::train::detection::Rect;

/// Pixels per scene pixel in the pictures.
pub const ZOOM: u32 = 3;
/// The colour of ground-truth boxes.
pub const TRUTH: [u8; 3] = [255, 255, 255];

/// A `size x size` scene in gray, enlarged [`ZOOM`] times and dimmed a little so coloured boxes
/// stand out.
pub fn scene(image: &[f32], size: usize) -> RgbImage {
    RgbImage::from_fn(size as u32 * ZOOM, size as u32 * ZOOM, |x, y| {
        let i = (y / ZOOM) as usize * size + (x / ZOOM) as usize;
        let v = (image.get(i).copied().unwrap_or(0.0).clamp(0.0, 1.0) * 200.0).round() as u8;
        Rgb([v, v, v])
    })
}

/// The colour of detector class `k` (0-based: class `k + 1` of the scenes).
pub fn class_colour(k: usize) -> [u8; 3] {
    colour(k + 1)
}

/// The outline of `r` (in scene pixels) over a picture made by [`scene`]; `dashed` leaves every
/// other pair of pixels out (for ground truth under predictions).
pub fn outline(img: &mut RgbImage, r: &Rect, col: [u8; 3], dashed: bool) {
    let (w, h) = (img.width() as i64, img.height() as i64);
    let z = ZOOM as f64;
    let px = |v: f64| (v * z).round() as i64;
    let (x0, y0) = (px(r.x0), px(r.y0));
    let (x1, y1) = (px(r.x1) - 1, px(r.y1) - 1);
    if x1 < x0 || y1 < y0 {
        return;
    }
    let mut put = |x: i64, y: i64, n: i64| {
        if (0..w).contains(&x) && (0..h).contains(&y) && !(dashed && (n / 2) % 2 == 1) {
            img.put_pixel(x as u32, y as u32, Rgb(col));
        }
    };
    for x in x0..=x1 {
        put(x, y0, x - x0);
        put(x, y1, x - x0);
    }
    for y in y0..=y1 {
        put(x0, y, y - y0);
        put(x1, y, y - y0);
    }
}

/// A small filled square at `(x, y)` (scene pixels): an anchor's centre.
pub fn dot(img: &mut RgbImage, x: f64, y: f64, col: [u8; 3]) {
    let (cx, cy) = ((x * ZOOM as f64) as i64, (y * ZOOM as f64) as i64);
    for dy in -1..1 {
        for dx in -1..1 {
            let (px, py) = (cx + dx, cy + dy);
            if px >= 0 && py >= 0 && (px as u32) < img.width() && (py as u32) < img.height() {
                img.put_pixel(px as u32, py as u32, Rgb(col));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outline_lands_on_the_box_edges() {
        let mut img = scene(&[0.0; 16], 4);
        outline(&mut img, &Rect::new(1.0, 1.0, 3.0, 2.0), [9, 9, 9], false);
        // Enlarged three times: columns 3..=8, rows 3..=5.
        assert_eq!(ZOOM, 3);
        assert_eq!(img.get_pixel(3, 3).0, [9, 9, 9]);
        assert_eq!(img.get_pixel(8, 5).0, [9, 9, 9]);
        assert_eq!(img.get_pixel(9, 5).0, [0, 0, 0]);
        assert_eq!(img.get_pixel(4, 6).0, [0, 0, 0]);
    }
}
