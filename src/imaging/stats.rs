//! Numbers experiments report about a filter response: mean and largest magnitude, the mean
//! over a [`Region`], the share above a threshold, and the flattest window of a photo to
//! measure a high-pass kernel on.

use super::GrayF;

/// A rectangle of pixels, for statistics over part of an image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Region {
    /// Left column.
    pub x: usize,
    /// Top row.
    pub y: usize,
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
}

/// Mean of |v| over the image: how strongly a filter answers on average (0 for an empty
/// image).
pub fn mean_abs(img: &GrayF) -> f32 {
    if img.data.is_empty() {
        return 0.0;
    }
    (img.data.iter().map(|v| f64::from(v.abs())).sum::<f64>() / img.data.len() as f64) as f32
}

/// The largest |v| in the image (0 for an empty image).
pub fn max_abs(img: &GrayF) -> f32 {
    img.data.iter().fold(0.0, |m, v| m.max(v.abs()))
}

/// Mean of |v| inside `region`, clipped to the image (0 if nothing is left): for example a
/// filter's response on a flat region, which a high-pass kernel keeps near 0.
pub fn mean_abs_in(img: &GrayF, region: Region) -> f32 {
    let x1 = (region.x + region.width).min(img.width);
    let y1 = (region.y + region.height).min(img.height);
    let mut sum = 0.0f64;
    let mut count = 0usize;
    for y in region.y.min(y1)..y1 {
        for x in region.x.min(x1)..x1 {
            sum += f64::from(img.get(x, y).abs());
            count += 1;
        }
    }
    if count == 0 {
        0.0
    } else {
        (sum / count as f64) as f32
    }
}

/// Share of pixels with |v| above `threshold`: how much of the image a filter calls an edge.
pub fn fraction_above(img: &GrayF, threshold: f32) -> f32 {
    if img.data.is_empty() {
        return 0.0;
    }
    img.data.iter().filter(|v| v.abs() > threshold).count() as f32 / img.data.len() as f32
}

/// The `size x size` window with the least variance, searched on a grid of half-window steps:
/// the "flat region" of a photo (sky, a wall, a background) on which to measure a filter's
/// response. The window is clipped to the image if the image is smaller.
pub fn flattest_region(img: &GrayF, size: usize) -> Region {
    let (sw, sh) = (size.min(img.width).max(1), size.min(img.height).max(1));
    let step = (size / 2).max(1);
    let mut best = (
        f64::INFINITY,
        Region {
            x: 0,
            y: 0,
            width: sw,
            height: sh,
        },
    );
    let mut y = 0;
    while y + sh <= img.height {
        let mut x = 0;
        while x + sw <= img.width {
            let (mut s, mut s2) = (0.0f64, 0.0f64);
            for yy in y..y + sh {
                for &v in &img.data[yy * img.width + x..yy * img.width + x + sw] {
                    s += f64::from(v);
                    s2 += f64::from(v) * f64::from(v);
                }
            }
            let n = (sw * sh) as f64;
            let var = s2 / n - (s / n).powi(2);
            if var < best.0 {
                best = (
                    var,
                    Region {
                        x,
                        y,
                        width: sw,
                        height: sh,
                    },
                );
            }
            x += step;
        }
        y += step;
    }
    best.1
}
