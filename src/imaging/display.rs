//! Turning a filter response, which may be negative or exceed 1, into a picture a learner can
//! look at: by magnitude, signed around mid-grey, or clamped.

use image::{Rgb, RgbImage};

use super::stats::max_abs;
use super::GrayF;

/// How to turn a filter response into a picture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResponseView {
    /// |v| scaled so the strongest response is white: where is there an edge at all.
    Abs,
    /// Mid-grey at 0, white for the strongest positive and black for the strongest negative
    /// response: which side of the edge is brighter.
    Signed,
    /// Values clamped to 0..1 and shown as they are: for kernels that keep brightness (blur,
    /// sharpen, identity) on 0..1 images.
    Clamped,
}

/// Render a response as an RGB picture (gray, R = G = B).
pub fn to_rgb(img: &GrayF, view: ResponseView) -> RgbImage {
    let max_abs = max_abs(img);
    // An all-zero response would divide by zero; it renders as black (Abs) or mid-grey.
    let scale = if max_abs > 0.0 { 1.0 / max_abs } else { 0.0 };
    let level = |v: f32| -> u8 {
        let l = match view {
            ResponseView::Abs => v.abs() * scale * 255.0,
            ResponseView::Signed => 128.0 + v * scale * 127.0,
            ResponseView::Clamped => v.clamp(0.0, 1.0) * 255.0,
        };
        l.round().clamp(0.0, 255.0) as u8
    };
    RgbImage::from_fn(img.width as u32, img.height as u32, |x, y| {
        let l = level(img.get(x as usize, y as usize));
        Rgb([l, l, l])
    })
}

/// [`to_rgb`] with [`ResponseView::Abs`].
pub fn display_abs(img: &GrayF) -> RgbImage {
    to_rgb(img, ResponseView::Abs)
}

/// [`to_rgb`] with [`ResponseView::Signed`].
pub fn display_signed(img: &GrayF) -> RgbImage {
    to_rgb(img, ResponseView::Signed)
}

/// [`to_rgb`] with [`ResponseView::Clamped`].
pub fn display_clamped(img: &GrayF) -> RgbImage {
    to_rgb(img, ResponseView::Clamped)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_helpers_map_responses_to_gray_levels() {
        let r = GrayF::new(3, 1, vec![-2.0, 0.0, 1.0]);
        let px = |img: &RgbImage| -> Vec<u8> { img.pixels().map(|p| p[0]).collect() };
        assert_eq!(px(&display_abs(&r)), [255, 0, 128]);
        assert_eq!(px(&display_signed(&r)), [1, 128, 192]);
        assert_eq!(px(&display_clamped(&r)), [0, 0, 255]);
        let zero = GrayF::filled(2, 2, 0.0);
        assert_eq!(px(&display_abs(&zero)), [0; 4]);
        assert_eq!(px(&display_signed(&zero)), [128; 4]);
        assert!(display_abs(&r)
            .pixels()
            .all(|p| p[0] == p[1] && p[1] == p[2]));
    }
}
