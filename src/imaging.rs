//! Hand-written image filtering for the first lesson: the sliding dot product a convolutional
//! layer computes, before any learning happens.
//!
//! Images are [`GrayF`] (one `f32` per pixel, 0..1 when they come from a photo), defined here
//! with the conversions from `image`'s types. [`filter`](fn@filter) slides a [`Kernel`] over
//! them with a choice of [`Padding`] at the borders and an optional stride, exactly as a CNN
//! layer does (cross-correlation, see [`filter`](fn@filter)). The classic kernels (Sobel,
//! Laplacian, box and Gaussian blur, sharpen) are in `kernel`, as is a parser for kernels
//! typed by a learner, with errors that point at the row and column to fix. The `display`
//! helpers turn signed responses into pictures, [`worked_example`] spells out one output pixel
//! as nine products and a sum, and the `stats` helpers give experiments numbers to report.
//! Nothing here allocates per pixel or uses a tensor library: the point is that a learner can
//! read it.
//!
//! The submodules only import [`GrayF`] from here and each other downwards (`fmt` is a leaf,
//! `kernel` uses it, `filter` uses `kernel`, `display` uses `stats`); everything public is
//! re-exported, so callers write `crate::imaging::X`.

use image::{GrayImage, RgbImage};

mod display;
mod filter;
mod fmt;
mod kernel;
mod samples;
mod stats;
#[cfg(test)]
mod tests;
mod worked;

pub use display::{display_abs, display_clamped, display_signed, to_rgb, ResponseView};
pub use filter::{filter, filter_strided, gradient_magnitude, output_size, Padding};
pub use kernel::{Kernel, KernelParseError, MAX_KERNEL_SIDE};
pub use samples::{corner_edges, horizontal_step, vertical_step};
pub use stats::{flattest_region, fraction_above, max_abs, mean_abs, mean_abs_in, Region};
pub use worked::worked_example;

/// Gray level of an sRGB pixel by the ITU-R 601-2 luma transform,
/// L = R·299/1000 + G·587/1000 + B·114/1000, in the 16-bit fixed point Pillow uses for
/// `Image.convert("L")`, so results match Pillow (and so the lesson's numbers match what a
/// learner gets in Python) pixel for pixel. Gray pixels (R = G = B) keep their value.
pub fn luma(r: u8, g: u8, b: u8) -> u8 {
    // 19595 + 38470 + 7471 = 65536: the three weights scaled by 2^16, then rounded.
    let l = (u32::from(r) * 19595 + u32::from(g) * 38470 + u32::from(b) * 7471 + 0x8000) >> 16;
    l as u8
}

/// An RGB image converted to gray with [`luma`].
pub fn to_gray(img: &RgbImage) -> GrayImage {
    GrayImage::from_fn(img.width(), img.height(), |x, y| {
        let [r, g, b] = img.get_pixel(x, y).0;
        image::Luma([luma(r, g, b)])
    })
}

/// A single-channel image of `f32` values, row-major. Filter responses are `GrayF` too, so
/// they can be negative and exceed 1.
#[derive(Debug, Clone, PartialEq)]
pub struct GrayF {
    width: usize,
    height: usize,
    data: Vec<f32>,
}

impl GrayF {
    /// An image from row-major values.
    ///
    /// # Panics
    /// If `data.len() != width * height`.
    pub fn new(width: usize, height: usize, data: Vec<f32>) -> Self {
        assert_eq!(
            data.len(),
            width * height,
            "GrayF::new: {} values for a {width}x{height} image",
            data.len()
        );
        Self {
            width,
            height,
            data,
        }
    }

    /// An image with every pixel equal to `value`.
    pub fn filled(width: usize, height: usize, value: f32) -> Self {
        Self::new(width, height, vec![value; width * height])
    }

    /// An image whose pixel `(x, y)` is `f(x, y)`.
    pub fn from_fn(width: usize, height: usize, mut f: impl FnMut(usize, usize) -> f32) -> Self {
        let mut data = Vec::with_capacity(width * height);
        for y in 0..height {
            for x in 0..width {
                data.push(f(x, y));
            }
        }
        Self::new(width, height, data)
    }

    /// A gray image with 0..255 mapped to 0..1.
    pub fn from_gray(img: &GrayImage) -> Self {
        Self::new(
            img.width() as usize,
            img.height() as usize,
            img.as_raw().iter().map(|&v| f32::from(v) / 255.0).collect(),
        )
    }

    /// An RGB image converted with [`luma`], then mapped to 0..1.
    pub fn from_rgb(img: &RgbImage) -> Self {
        Self::from_gray(&to_gray(img))
    }

    /// Width in pixels.
    pub fn width(&self) -> usize {
        self.width
    }

    /// Height in pixels.
    pub fn height(&self) -> usize {
        self.height
    }

    /// The pixel in column `x`, row `y`.
    pub fn get(&self, x: usize, y: usize) -> f32 {
        assert!(
            x < self.width && y < self.height,
            "({x}, {y}) is outside the image"
        );
        self.data[y * self.width + x]
    }

    /// Set the pixel in column `x`, row `y`.
    pub fn set(&mut self, x: usize, y: usize, value: f32) {
        assert!(
            x < self.width && y < self.height,
            "({x}, {y}) is outside the image"
        );
        self.data[y * self.width + x] = value;
    }

    /// All pixels, row-major.
    pub fn as_slice(&self) -> &[f32] {
        &self.data
    }

    /// A new image with `f` applied to every pixel.
    pub fn map(&self, f: impl Fn(f32) -> f32) -> GrayF {
        Self::new(
            self.width,
            self.height,
            self.data.iter().map(|&v| f(v)).collect(),
        )
    }

    /// The 3x3 neighbourhood centred on `(x, y)`, as rows, for [`worked_example`]; `None` when
    /// part of it lies outside the image.
    pub fn patch3(&self, x: usize, y: usize) -> Option<[[f32; 3]; 3]> {
        if x == 0 || y == 0 || x + 1 >= self.width || y + 1 >= self.height {
            return None;
        }
        let mut patch = [[0.0; 3]; 3];
        for (r, row) in patch.iter_mut().enumerate() {
            for (c, v) in row.iter_mut().enumerate() {
                *v = self.get(x + c - 1, y + r - 1);
            }
        }
        Some(patch)
    }
}
