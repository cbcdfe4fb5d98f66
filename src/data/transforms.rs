//! Seeded transforms on batches of single-channel images: noise for the denoising lessons and
//! random shifts and flips for augmentation.
//!
//! A batch is a flat slice of `h x w` images, one after the other, row-major, values 0..1 (the
//! layout of [`Dataset::images`](super::Dataset)). Every transform takes a `seed` and is
//! deterministic by it: the same seed gives the same output bit for bit, another seed another
//! output. Each image draws from its own generator, seeded from `(seed, image index)` with
//! [`derive_seed`], so an image is transformed the same way whether it is processed alone or in
//! a batch of any size (a subset of a batch stays reproducible), and two images of one batch
//! never share a noise pattern.
//!
//! For a denoising lesson the input is a noisy copy and the target the clean image:
//! `let noisy = Transform::GaussianNoise { std: 0.3, clip: true }.applied(&clean, 28, 28, seed)?`.
//! Salt-and-pepper noise follows scikit-image's `random_noise(mode="s&p", salt_vs_pepper=0.5)`:
//! each pixel is replaced independently with probability `amount`, by 1 or by 0 with equal
//! odds, so the replaced fraction is `amount` on average rather than exactly.

use std::fmt;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Normal};

use super::{shift, DataError};

/// One transform of a batch, with its parameters, so experiments can list and name them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Transform {
    /// Add noise drawn from N(0, std²) to every pixel; with `clip`, clamp the result to 0..1.
    GaussianNoise { std: f32, clip: bool },
    /// Replace each pixel with probability `amount` (0..=1) by 1 (salt) or 0 (pepper), half
    /// each.
    SaltAndPepper { amount: f32 },
    /// Translate each image by a random whole number of pixels in -max..=max, independently in
    /// x and y, filling the uncovered border with 0.
    RandomShift { max: usize },
    /// Mirror each image left to right with probability `p` (0..=1).
    RandomHFlip { p: f32 },
    /// Rotate each image about its centre by a random angle in -degrees..=degrees and scale it
    /// by a random factor in 1-scale..=1+scale (bilinear, zero fill).
    RandomAffine { degrees: f32, scale: f32 },
}

impl Transform {
    /// Transform `images` (a whole number of `h x w` images) in place.
    pub fn apply(
        &self,
        images: &mut [f32],
        h: usize,
        w: usize,
        seed: u64,
    ) -> Result<(), DataError> {
        match *self {
            Transform::GaussianNoise { std, clip } => gaussian_noise(images, h, w, std, clip, seed),
            Transform::SaltAndPepper { amount } => salt_and_pepper(images, h, w, amount, seed),
            Transform::RandomShift { max } => random_shift(images, h, w, max, seed),
            Transform::RandomHFlip { p } => random_hflip(images, h, w, p, seed),
            Transform::RandomAffine { degrees, scale } => {
                random_affine(images, h, w, degrees, scale, seed)
            }
        }
    }

    /// A transformed copy of `images`; the input stays clean (the target of denoising).
    pub fn applied(
        &self,
        images: &[f32],
        h: usize,
        w: usize,
        seed: u64,
    ) -> Result<Vec<f32>, DataError> {
        let mut out = images.to_vec();
        self.apply(&mut out, h, w, seed)?;
        Ok(out)
    }
}

impl fmt::Display for Transform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Transform::GaussianNoise { std, clip: true } => {
                write!(f, "Gaussian noise σ={std}, clipped to 0..1")
            }
            Transform::GaussianNoise { std, clip: false } => write!(f, "Gaussian noise σ={std}"),
            Transform::SaltAndPepper { amount } => write!(f, "salt-and-pepper noise {amount}"),
            Transform::RandomShift { max } => write!(f, "random shift up to {max} px"),
            Transform::RandomHFlip { p } => write!(f, "horizontal flip with p={p}"),
            Transform::RandomAffine { degrees, scale } => {
                write!(f, "rotation up to ±{degrees}° and scale 1±{scale}")
            }
        }
    }
}

/// Apply `transforms` one after the other. Transform `k` gets the seed `derive_seed(seed, k)`,
/// so two noise steps in one list do not draw the same pattern.
pub fn apply_all(
    transforms: &[Transform],
    images: &mut [f32],
    h: usize,
    w: usize,
    seed: u64,
) -> Result<(), DataError> {
    for (k, t) in transforms.iter().enumerate() {
        t.apply(images, h, w, derive_seed(seed, k as u64))?;
    }
    Ok(())
}

/// A seed for item `index` of something seeded with `seed`: the SplitMix64 finaliser of the
/// pair. Neighbouring indices and seeds give unrelated seeds, which `seed + index` would not
/// (seed 1 item 0 would equal seed 0 item 1).
pub fn derive_seed(seed: u64, index: u64) -> u64 {
    let mut z = seed
        .wrapping_add(index.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15))
        .wrapping_add(0x6A09_E667_F3BC_C909);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Add N(0, std²) noise to every pixel, in place; with `clip` the result is clamped to 0..1.
pub fn gaussian_noise(
    images: &mut [f32],
    h: usize,
    w: usize,
    std: f32,
    clip: bool,
    seed: u64,
) -> Result<(), DataError> {
    let len = image_len(images, h, w)?;
    let normal = Normal::new(0.0f32, std)
        .ok()
        .filter(|_| std.is_finite() && std >= 0.0)
        .ok_or_else(|| {
            DataError::Request(format!(
                "Gaussian noise needs a finite standard deviation of at least 0, not {std}"
            ))
        })?;
    for (i, img) in images.chunks_exact_mut(len).enumerate() {
        let mut rng = image_rng(seed, i);
        for v in img {
            *v += normal.sample(&mut rng);
            if clip {
                *v = v.clamp(0.0, 1.0);
            }
        }
    }
    Ok(())
}

/// Replace each pixel with probability `amount` by 1 or 0 (half each), in place, like
/// scikit-image's `random_noise(mode="s&p", salt_vs_pepper=0.5)`.
pub fn salt_and_pepper(
    images: &mut [f32],
    h: usize,
    w: usize,
    amount: f32,
    seed: u64,
) -> Result<(), DataError> {
    let len = image_len(images, h, w)?;
    check_probability("salt-and-pepper amount", amount)?;
    for (i, img) in images.chunks_exact_mut(len).enumerate() {
        let mut rng = image_rng(seed, i);
        for v in img {
            // Two draws per pixel whatever the outcome, so the stream (and thus the pattern at
            // every other pixel) does not depend on the image's content.
            let flipped = rng.gen::<f32>() < amount;
            let salt = rng.gen::<bool>();
            if flipped {
                *v = if salt { 1.0 } else { 0.0 };
            }
        }
    }
    Ok(())
}

/// Translate each image by its own random `(dx, dy)`, both uniform in -max..=max, with zero
/// fill, in place.
pub fn random_shift(
    images: &mut [f32],
    h: usize,
    w: usize,
    max: usize,
    seed: u64,
) -> Result<(), DataError> {
    let len = image_len(images, h, w)?;
    // A shift of the full width already empties the image; capping keeps the casts in range.
    let max = max.min(h.max(w)) as i32;
    for (i, img) in images.chunks_exact_mut(len).enumerate() {
        let mut rng = image_rng(seed, i);
        let dx = rng.gen_range(-max..=max);
        let dy = rng.gen_range(-max..=max);
        if (dx, dy) != (0, 0) {
            let moved = shift(img, h, w, dx, dy);
            img.copy_from_slice(&moved);
        }
    }
    Ok(())
}

/// Rotate each image about its centre by its own random angle in -degrees..=degrees and scale
/// it by a random factor in `1 - scale..=1 + scale`, sampling bilinearly with zero fill
/// (torchvision's `RandomAffine(degrees, scale=(1-s, 1+s))` with bilinear interpolation), in
/// place.
pub fn random_affine(
    images: &mut [f32],
    h: usize,
    w: usize,
    degrees: f32,
    scale: f32,
    seed: u64,
) -> Result<(), DataError> {
    let len = image_len(images, h, w)?;
    if !(0.0..=180.0).contains(&degrees) || !(0.0..1.0).contains(&scale) {
        return Err(DataError::Request(format!(
            "a random affine needs degrees in 0..=180 and scale in 0..1, not {degrees} and {scale}"
        )));
    }
    let (cy, cx) = ((h as f32 - 1.0) / 2.0, (w as f32 - 1.0) / 2.0);
    let mut out = vec![0f32; len];
    for (i, img) in images.chunks_exact_mut(len).enumerate() {
        let mut rng = image_rng(seed, i);
        let angle = rng.gen_range(-degrees..=degrees).to_radians();
        let factor = rng.gen_range(1.0 - scale..=1.0 + scale);
        // Each output pixel reads the input at the inverse transform of its position.
        let (sin, cos) = angle.sin_cos();
        let at = |y: isize, x: isize| {
            if y < 0 || x < 0 || y as usize >= h || x as usize >= w {
                0.0
            } else {
                img[y as usize * w + x as usize]
            }
        };
        for (y, row) in out.chunks_exact_mut(w).enumerate() {
            for (x, o) in row.iter_mut().enumerate() {
                let (dx, dy) = (x as f32 - cx, y as f32 - cy);
                let sx = (cos * dx + sin * dy) / factor + cx;
                let sy = (-sin * dx + cos * dy) / factor + cy;
                let (x0, y0) = (sx.floor(), sy.floor());
                let (fx, fy) = (sx - x0, sy - y0);
                let (x0, y0) = (x0 as isize, y0 as isize);
                *o = (1.0 - fy) * ((1.0 - fx) * at(y0, x0) + fx * at(y0, x0 + 1))
                    + fy * ((1.0 - fx) * at(y0 + 1, x0) + fx * at(y0 + 1, x0 + 1));
            }
        }
        img.copy_from_slice(&out);
    }
    Ok(())
}

/// Mirror each image left to right with probability `p`, in place.
pub fn random_hflip(
    images: &mut [f32],
    h: usize,
    w: usize,
    p: f32,
    seed: u64,
) -> Result<(), DataError> {
    let len = image_len(images, h, w)?;
    check_probability("flip probability", p)?;
    for (i, img) in images.chunks_exact_mut(len).enumerate() {
        if image_rng(seed, i).gen::<f32>() < p {
            flip_rows(img, w);
        }
    }
    Ok(())
}

/// Mirror every image left to right, in place (applying it twice restores the input).
pub fn hflip(images: &mut [f32], h: usize, w: usize) -> Result<(), DataError> {
    let len = image_len(images, h, w)?;
    for img in images.chunks_exact_mut(len) {
        flip_rows(img, w);
    }
    Ok(())
}

fn flip_rows(img: &mut [f32], w: usize) {
    for row in img.chunks_exact_mut(w) {
        row.reverse();
    }
}

fn image_rng(seed: u64, i: usize) -> StdRng {
    StdRng::seed_from_u64(derive_seed(seed, i as u64))
}

/// Pixels per image, after checking that `images` is a whole number of `h x w` images.
fn image_len(images: &[f32], h: usize, w: usize) -> Result<usize, DataError> {
    let len = h.checked_mul(w).filter(|&l| l > 0).ok_or_else(|| {
        DataError::Request(format!("images of {h}x{w} pixels cannot be transformed"))
    })?;
    if !images.len().is_multiple_of(len) {
        return Err(DataError::Request(format!(
            "{} values are not a whole number of {h}x{w} images",
            images.len()
        )));
    }
    Ok(len)
}

fn check_probability(what: &str, p: f32) -> Result<(), DataError> {
    if (0.0..=1.0).contains(&p) {
        Ok(())
    } else {
        Err(DataError::Request(format!(
            "the {what} must lie in 0..=1, not {p}"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `n` images of `h x w`, pixel value (x + y * w + image) / many, all distinct and in 0..1.
    fn ramp(n: usize, h: usize, w: usize) -> Vec<f32> {
        let total = (n * h * w) as f32;
        (0..n * h * w).map(|i| i as f32 / total).collect()
    }

    fn mean_std(values: impl Iterator<Item = f64> + Clone) -> (f64, f64) {
        let n = values.clone().count() as f64;
        let mean = values.clone().sum::<f64>() / n;
        let var = values.map(|v| (v - mean).powi(2)).sum::<f64>() / n;
        (mean, var.sqrt())
    }

    #[test]
    fn gaussian_noise_has_mean_zero_and_the_asked_std() {
        // 64 images of 28x28 at 0.5: 50,176 samples, so the standard error of the mean is
        // 0.1 / 224 = 0.00045 and the tolerances below are many of them.
        let clean = vec![0.5f32; 64 * 28 * 28];
        let t = Transform::GaussianNoise {
            std: 0.1,
            clip: false,
        };
        let noisy = t.applied(&clean, 28, 28, 3).unwrap();
        let added = noisy.iter().zip(&clean).map(|(n, c)| f64::from(n - c));
        let (mean, std) = mean_std(added);
        assert!(mean.abs() < 0.003, "mean {mean}");
        assert!((std - 0.1).abs() < 0.003, "std {std}");

        // Clipped: strong noise stays in 0..1 and actually reaches both ends.
        let t = Transform::GaussianNoise {
            std: 1.0,
            clip: true,
        };
        let noisy = t.applied(&clean, 28, 28, 3).unwrap();
        assert!(noisy.iter().all(|v| (0.0..=1.0).contains(v)));
        assert!(noisy.contains(&0.0) && noisy.contains(&1.0));
        // σ = 0 changes nothing.
        let t = Transform::GaussianNoise {
            std: 0.0,
            clip: false,
        };
        assert_eq!(t.applied(&clean, 28, 28, 3).unwrap(), clean);
    }

    #[test]
    fn salt_and_pepper_replaces_the_asked_fraction_by_0_or_1() {
        let clean = vec![0.5f32; 64 * 28 * 28];
        let noisy = salt_and_pepper_copy(&clean, 0.2, 11);
        let changed: Vec<f32> = noisy.iter().copied().filter(|&v| v != 0.5).collect();
        assert!(changed.iter().all(|&v| v == 0.0 || v == 1.0));
        let fraction = changed.len() as f64 / clean.len() as f64;
        assert!((fraction - 0.2).abs() < 0.01, "fraction {fraction}");
        let salt = changed.iter().filter(|&&v| v == 1.0).count() as f64 / changed.len() as f64;
        assert!((salt - 0.5).abs() < 0.03, "salt share {salt}");

        // On real digits: every pixel is either untouched or now 0 or 1.
        let digits = super::super::mnist(super::super::Split::Test).unwrap();
        let clean = &digits.images[..100 * 784];
        let noisy = salt_and_pepper_copy(clean, 0.05, 2);
        assert!(noisy
            .iter()
            .zip(clean)
            .all(|(&n, &c)| n == c || n == 0.0 || n == 1.0));
        assert_ne!(noisy, clean);
        assert_eq!(salt_and_pepper_copy(clean, 0.0, 2), clean);
        assert!(salt_and_pepper_copy(clean, 1.0, 2)
            .iter()
            .all(|&v| v == 0.0 || v == 1.0));
    }

    fn salt_and_pepper_copy(clean: &[f32], amount: f32, seed: u64) -> Vec<f32> {
        Transform::SaltAndPepper { amount }
            .applied(clean, 28, 28, seed)
            .unwrap()
    }

    #[test]
    fn flips_are_involutions_and_mirror_rows() {
        let img = ramp(3, 4, 5);
        let mut once = img.clone();
        hflip(&mut once, 4, 5).unwrap();
        assert_eq!(once[0], img[4]);
        assert_eq!(once[5 * 4 + 4], img[5 * 4]);
        let mut twice = once.clone();
        hflip(&mut twice, 4, 5).unwrap();
        assert_eq!(twice, img);

        // p = 1 flips all, p = 0 none; p = 0.5 flips some images of a batch and not others.
        let all = Transform::RandomHFlip { p: 1.0 };
        assert_eq!(all.applied(&img, 4, 5, 9).unwrap(), once);
        let none = Transform::RandomHFlip { p: 0.0 };
        assert_eq!(none.applied(&img, 4, 5, 9).unwrap(), img);
        let many = ramp(40, 4, 5);
        let half = Transform::RandomHFlip { p: 0.5 }
            .applied(&many, 4, 5, 9)
            .unwrap();
        let flipped = half
            .chunks(20)
            .zip(many.chunks(20))
            .filter(|(a, b)| a != b)
            .count();
        assert!((8..=32).contains(&flipped), "{flipped} of 40 flipped");
    }

    #[test]
    fn shifts_move_a_known_pixel_within_the_limit() {
        // One bright pixel in the middle of each 9x9 image; after a shift of at most 2 it is
        // the only bright pixel and lies within 2 of the centre in x and y.
        let (n, h, w) = (50, 9, 9);
        let mut images = vec![0.0f32; n * h * w];
        for img in images.chunks_mut(h * w) {
            img[4 * w + 4] = 1.0;
        }
        let out = Transform::RandomShift { max: 2 }
            .applied(&images, h, w, 5)
            .unwrap();
        let mut moved = 0;
        for img in out.chunks(h * w) {
            let lit: Vec<usize> = (0..h * w).filter(|&p| img[p] == 1.0).collect();
            assert_eq!(lit.len(), 1);
            assert_eq!(img.iter().filter(|&&v| v != 0.0).count(), 1);
            let (x, y) = (lit[0] % w, lit[0] / w);
            assert!(
                x.abs_diff(4) <= 2 && y.abs_diff(4) <= 2,
                "moved to ({x}, {y})"
            );
            moved += usize::from((x, y) != (4, 4));
        }
        assert!(moved > 30, "only {moved} of {n} images moved");
        // max = 0 is the identity; an absurd max empties images rather than panicking.
        let t = Transform::RandomShift { max: 0 };
        assert_eq!(t.applied(&images, h, w, 5).unwrap(), images);
        let t = Transform::RandomShift { max: usize::MAX };
        assert!(t.applied(&images, h, w, 5).is_ok());
    }

    #[test]
    fn every_transform_is_deterministic_by_seed() {
        let images = ramp(8, 6, 6);
        let transforms = [
            Transform::GaussianNoise {
                std: 0.2,
                clip: true,
            },
            Transform::SaltAndPepper { amount: 0.3 },
            Transform::RandomShift { max: 2 },
            Transform::RandomHFlip { p: 0.5 },
        ];
        for t in transforms {
            let a = t.applied(&images, 6, 6, 42).unwrap();
            assert_eq!(a, t.applied(&images, 6, 6, 42).unwrap(), "{t}");
            assert_ne!(a, t.applied(&images, 6, 6, 43).unwrap(), "{t}");
            // Each image's seed depends only on its index, so a prefix of the batch comes out
            // exactly as it does within the whole batch.
            let prefix = t.applied(&images[..3 * 36], 6, 6, 42).unwrap();
            assert_eq!(prefix, a[..3 * 36], "{t}");
        }
        let mut x = images.clone();
        apply_all(&transforms, &mut x, 6, 6, 1).unwrap();
        let mut y = images.clone();
        apply_all(&transforms, &mut y, 6, 6, 1).unwrap();
        assert_eq!(x, y);
        assert_ne!(derive_seed(0, 1), derive_seed(1, 0));
    }

    #[test]
    fn bad_parameters_are_errors() {
        let mut images = ramp(2, 3, 3);
        let bad = [
            Transform::GaussianNoise {
                std: -1.0,
                clip: false,
            },
            Transform::GaussianNoise {
                std: f32::NAN,
                clip: false,
            },
            Transform::SaltAndPepper { amount: 1.5 },
            Transform::RandomHFlip { p: f32::NAN },
        ];
        for t in bad {
            assert!(t.apply(&mut images, 3, 3, 0).is_err(), "{t}");
        }
        let ok = Transform::RandomHFlip { p: 0.5 };
        let msg = ok.apply(&mut images, 4, 4, 0).unwrap_err().to_string();
        assert!(msg.contains("18 values"), "{msg}");
        assert!(ok.apply(&mut images, 0, 3, 0).is_err());
        assert!(ok.apply(&mut [], 3, 3, 0).is_ok());
    }

    #[test]
    fn affine_without_rotation_or_scale_is_the_identity_and_rotation_moves_mass() {
        let mut img = vec![0f32; 25];
        img[7] = 1.0; // row 1, column 2
        let mut same = img.clone();
        random_affine(&mut same, 5, 5, 0.0, 0.0, 3).unwrap();
        for (a, b) in same.iter().zip(&img) {
            assert!((a - b).abs() < 1e-6);
        }
        // Up to 90 degrees: the seeds turn the dot away from where it was.
        let moved_away = (0..8).filter(|&seed| {
            let mut m = img.clone();
            random_affine(&mut m, 5, 5, 90.0, 0.0, seed).unwrap();
            m[7] < 0.5
        });
        assert!(moved_away.count() >= 4);
        let mut moved = img.clone();
        assert!(random_affine(&mut moved, 5, 5, 200.0, 0.0, 1).is_err());
        assert!(random_affine(&mut moved, 5, 5, 10.0, 1.5, 1).is_err());
    }
}
