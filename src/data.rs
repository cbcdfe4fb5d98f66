//! Datasets the lessons train on: MNIST digits, Fashion-MNIST clothing, the filter photos and
//! the plot font, all embedded in the binary so `tutor` runs without a network.
//!
//! The digit and clothing sets are the first 12,000 training and 2,000 test examples of the
//! official splits, stored as gzip IDX under `data/` (see `data/README.md` for sources,
//! licences and class balance). They load into a [`Dataset`]: pixels as `f32` in 0..1, labels
//! as `u8`, plus class names. The helpers here are what the experiments need around that:
//! a seeded train/validation split, normalisation fitted on the training split, seeded and
//! stratified subsets (10 or 100 labels per class for transfer learning), keeping only some
//! classes (a different label set for a source task), and translating images (for the
//! translation-invariance experiment). Everything random takes a seed, so a class sees the
//! same data and the same numbers.

pub mod idx;
pub mod photos;
pub mod scenes;
pub mod transforms;

use std::path::{Path, PathBuf};

use image::GrayImage;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rayon::prelude::*;

pub use idx::{IdxArray, IdxProblem};
pub use photos::{decode_image, load_image, photo, photo_description, photo_names};
pub use scenes::{Scene, SceneBox, SceneConfig, SceneKinds, SceneSet};
pub use transforms::Transform;

/// Class names of Fashion-MNIST, indexed by label.
pub const FASHION_CLASSES: [&str; 10] = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
];

/// Class names of MNIST, indexed by label.
pub const DIGIT_CLASSES: [&str; 10] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];

const MNIST_TRAIN_IMAGES: &[u8] = include_bytes!("../data/mnist/train-images.idx.gz");
const MNIST_TRAIN_LABELS: &[u8] = include_bytes!("../data/mnist/train-labels.idx.gz");
const MNIST_TEST_IMAGES: &[u8] = include_bytes!("../data/mnist/test-images.idx.gz");
const MNIST_TEST_LABELS: &[u8] = include_bytes!("../data/mnist/test-labels.idx.gz");
const FASHION_TRAIN_IMAGES: &[u8] = include_bytes!("../data/fashion/train-images.idx.gz");
const FASHION_TRAIN_LABELS: &[u8] = include_bytes!("../data/fashion/train-labels.idx.gz");
const FASHION_TEST_IMAGES: &[u8] = include_bytes!("../data/fashion/test-images.idx.gz");
const FASHION_TEST_LABELS: &[u8] = include_bytes!("../data/fashion/test-labels.idx.gz");
const DEJAVU_SANS: &[u8] = include_bytes!("../data/fonts/DejaVuSans.ttf");

/// Everything that can go wrong loading or slicing data. Messages name the file involved.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// A file could not be read from disk.
    #[error("failed to read `{path}`: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// Bytes that should be IDX are not.
    #[error("`{name}` is not a usable IDX file: {problem}")]
    Idx { name: String, problem: IdxProblem },
    /// Bytes that should be an image are not.
    #[error("`{name}` could not be read as an image: {message}")]
    Image { name: String, message: String },
    /// No embedded photo has this name.
    #[error("there is no photo named `{name}` (available: {available})")]
    UnknownPhoto { name: String, available: String },
    /// The image and label files do not fit together.
    #[error("`{images}` and `{labels}` do not fit together: {problem}")]
    Mismatch {
        images: String,
        labels: String,
        problem: String,
    },
    /// A request that the dataset cannot satisfy (too many examples asked for, and so on).
    #[error("{0}")]
    Request(String),
}

/// Which official split to load.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Split {
    /// The first 12,000 examples of the official training set.
    Train,
    /// The first 2,000 examples of the official test set.
    Test,
}

/// Single-channel images with labels.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    /// `n * h * w` pixels, image after image, row-major; 0..1 as loaded (0 is background),
    /// other ranges after [`Normalization::apply`].
    pub images: Vec<f32>,
    /// One label per image, each below `classes.len()`.
    pub labels: Vec<u8>,
    /// Number of images.
    pub n: usize,
    /// Image height in pixels.
    pub h: usize,
    /// Image width in pixels.
    pub w: usize,
    /// Class names, indexed by label.
    pub classes: Vec<String>,
}

/// The 28x28 MNIST digits (embedded subset), classes "0".."9".
pub fn mnist(split: Split) -> Result<Dataset, DataError> {
    let (images, labels, split_name) = match split {
        Split::Train => (MNIST_TRAIN_IMAGES, MNIST_TRAIN_LABELS, "train"),
        Split::Test => (MNIST_TEST_IMAGES, MNIST_TEST_LABELS, "test"),
    };
    embedded("mnist", split_name, images, labels, &DIGIT_CLASSES)
}

/// The 28x28 Fashion-MNIST clothing images (embedded subset), classes [`FASHION_CLASSES`].
pub fn fashion(split: Split) -> Result<Dataset, DataError> {
    let (images, labels, split_name) = match split {
        Split::Train => (FASHION_TRAIN_IMAGES, FASHION_TRAIN_LABELS, "train"),
        Split::Test => (FASHION_TEST_IMAGES, FASHION_TEST_LABELS, "test"),
    };
    embedded("fashion", split_name, images, labels, &FASHION_CLASSES)
}

/// DejaVu Sans (TrueType), for text in plots. Licence in `data/fonts/LICENSE`.
pub fn font_bytes() -> &'static [u8] {
    DEJAVU_SANS
}

/// The indices of [`Dataset::subset`]: `count` of `0..n` drawn (seeded), in order.
fn subset_indices(n: usize, count: usize, seed: u64) -> Result<Vec<usize>, DataError> {
    if count > n {
        return Err(DataError::Request(format!(
            "asked for {count} examples but the dataset has only {n}"
        )));
    }
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(&mut StdRng::seed_from_u64(seed));
    order.truncate(count);
    order.sort_unstable();
    Ok(order)
}

/// The indices of [`Dataset::train_val_split`] of `n` examples: (training, validation), each
/// in order.
fn split_indices(
    n: usize,
    val_count: usize,
    seed: u64,
) -> Result<(Vec<usize>, Vec<usize>), DataError> {
    if val_count >= n {
        return Err(DataError::Request(format!(
            "cannot hold out {val_count} of {n} examples for validation and still train"
        )));
    }
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(&mut StdRng::seed_from_u64(seed));
    let mut train = order.split_off(val_count);
    order.sort_unstable();
    train.sort_unstable();
    Ok((train, order))
}

fn embedded(
    set: &str,
    split: &str,
    images: &[u8],
    labels: &[u8],
    classes: &[&str],
) -> Result<Dataset, DataError> {
    let images_name = format!("data/{set}/{split}-images.idx.gz (embedded)");
    let labels_name = format!("data/{set}/{split}-labels.idx.gz (embedded)");
    Dataset::from_idx(
        idx::decode(images, &images_name)?,
        idx::decode(labels, &labels_name)?,
        classes.iter().map(|c| c.to_string()).collect(),
        (&images_name, &labels_name),
    )
}

impl Dataset {
    /// Build a dataset from an image array (`n x h x w`) and a label array (`n`). `names`
    /// (images, labels) are used in errors.
    pub fn from_idx(
        images: IdxArray,
        labels: IdxArray,
        classes: Vec<String>,
        names: (&str, &str),
    ) -> Result<Self, DataError> {
        let mismatch = |problem: String| DataError::Mismatch {
            images: names.0.to_string(),
            labels: names.1.to_string(),
            problem,
        };
        let [n, h, w] = images.dims[..] else {
            return Err(mismatch(format!(
                "the images must have 3 dimensions (count, rows, columns), found {:?}",
                images.dims
            )));
        };
        if labels.dims.len() != 1 {
            return Err(mismatch(format!(
                "the labels must have 1 dimension, found {:?}",
                labels.dims
            )));
        }
        if labels.dims[0] != n {
            return Err(mismatch(format!(
                "{n} images but {} labels",
                labels.dims[0]
            )));
        }
        if classes.is_empty() || classes.len() > 256 {
            return Err(mismatch(format!(
                "{} class names given; between 1 and 256 are needed",
                classes.len()
            )));
        }
        if let Some((i, &label)) = labels
            .data
            .iter()
            .enumerate()
            .find(|(_, &l)| usize::from(l) >= classes.len())
        {
            return Err(mismatch(format!(
                "label {label} of example {i} is not below the {} classes",
                classes.len()
            )));
        }
        Ok(Self {
            // On both cores: the pages of a large set are touched (and zeroed by the system)
            // in parallel too.
            images: images
                .data
                .par_iter()
                .with_min_len(1 << 16)
                .map(|&p| f32::from(p) / 255.0)
                .collect(),
            labels: labels.data,
            n,
            h,
            w,
            classes,
        })
    }

    /// Load a dataset from two IDX files (plain or `.gz`), for teachers' own lesson packs.
    pub fn from_idx_files(
        images: &Path,
        labels: &Path,
        classes: Vec<String>,
    ) -> Result<Self, DataError> {
        Self::from_idx(
            idx::read(images)?,
            idx::read(labels)?,
            classes,
            (&images.display().to_string(), &labels.display().to_string()),
        )
    }

    /// Number of examples.
    pub fn len(&self) -> usize {
        self.n
    }

    /// True when there are no examples.
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// Pixels per image (`h * w`).
    pub fn image_len(&self) -> usize {
        self.h * self.w
    }

    /// The pixels of example `i`, row-major.
    pub fn image(&self, i: usize) -> &[f32] {
        let len = self.image_len();
        &self.images[i * len..(i + 1) * len]
    }

    /// The class name of example `i`.
    pub fn class_name(&self, i: usize) -> &str {
        &self.classes[usize::from(self.labels[i])]
    }

    /// How many examples each class has, indexed by label.
    pub fn class_counts(&self) -> Vec<usize> {
        let mut counts = vec![0; self.classes.len()];
        for &l in &self.labels {
            counts[usize::from(l)] += 1;
        }
        counts
    }

    /// Example `i` as an 8-bit gray image for display, mapping 0..1 to 0..255 (values outside
    /// are clamped, so show normalised data before normalising it).
    pub fn to_gray_image(&self, i: usize) -> GrayImage {
        let pixels = self
            .image(i)
            .iter()
            .map(|&v| (v.clamp(0.0, 1.0) * 255.0).round() as u8)
            .collect();
        GrayImage::from_raw(self.w as u32, self.h as u32, pixels)
            .expect("h * w pixels make an h x w image")
    }

    /// The examples at `indices`, in that order (indices may repeat).
    pub fn select(&self, indices: &[usize]) -> Dataset {
        let len = self.image_len();
        // Copied on both cores (lesson 3's split copies 12,000 digits, 37 MB): fresh zeroed
        // memory is cheap, its pages are first touched by the copies themselves.
        let mut images = vec![0f32; indices.len() * len];
        if len > 0 {
            images
                .par_chunks_mut(len)
                .zip(indices.par_iter())
                .with_min_len(PAR_IMAGES)
                .for_each(|(d, &i)| d.copy_from_slice(self.image(i)));
        }
        Dataset {
            images,
            labels: indices.iter().map(|&i| self.labels[i]).collect(),
            n: indices.len(),
            h: self.h,
            w: self.w,
            classes: self.classes.clone(),
        }
    }

    /// Split into (train, validation), with `val_count` examples drawn at random (seeded) for
    /// validation. Each part keeps the original order of its examples.
    pub fn train_val_split(
        &self,
        val_count: usize,
        seed: u64,
    ) -> Result<(Dataset, Dataset), DataError> {
        let (train, val) = split_indices(self.n, val_count, seed)?;
        Ok((self.select(&train), self.select(&val)))
    }

    /// `count` examples drawn at random (seeded) without replacement, in their original order.
    pub fn subset(&self, count: usize, seed: u64) -> Result<Dataset, DataError> {
        Ok(self.select(&subset_indices(self.n, count, seed)?))
    }

    /// The two datasets of [`Dataset::subset`]`(count, seed)` then
    /// [`Dataset::train_val_split`]`(val_count, seed)`, with the images copied once instead
    /// of twice.
    pub fn subset_split(
        &self,
        count: usize,
        val_count: usize,
        seed: u64,
    ) -> Result<(Dataset, Dataset), DataError> {
        let picked = subset_indices(self.n, count, seed)?;
        let (train, val) = split_indices(count, val_count, seed)?;
        let at = |part: Vec<usize>| part.into_iter().map(|i| picked[i]).collect::<Vec<_>>();
        Ok((self.select(&at(train)), self.select(&at(val))))
    }

    /// Exactly `per_class` examples of every class, drawn at random (seeded): the "10 labels
    /// per class" regime of transfer learning. The result keeps the original order.
    pub fn per_class(&self, per_class: usize, seed: u64) -> Result<Dataset, DataError> {
        let mut by_class: Vec<Vec<usize>> = vec![Vec::new(); self.classes.len()];
        for (i, &l) in self.labels.iter().enumerate() {
            by_class[usize::from(l)].push(i);
        }
        let mut rng = StdRng::seed_from_u64(seed);
        let mut chosen = Vec::with_capacity(per_class * self.classes.len());
        for (label, mut members) in by_class.into_iter().enumerate() {
            if members.len() < per_class {
                return Err(DataError::Request(format!(
                    "asked for {per_class} examples of class `{}` but there are only {}",
                    self.classes[label],
                    members.len()
                )));
            }
            members.shuffle(&mut rng);
            chosen.extend_from_slice(&members[..per_class]);
        }
        chosen.sort_unstable();
        Ok(self.select(&chosen))
    }

    /// Only the examples of the classes in `keep`, relabelled 0..keep.len() in the order given
    /// (so `keep = [5, 6, 7, 8, 9]` makes digit 5 label 0). This gives a source task with a
    /// different label set from the target task.
    pub fn only_classes(&self, keep: &[u8]) -> Result<Dataset, DataError> {
        let mut relabel = vec![None; self.classes.len()];
        for (new, &old) in keep.iter().enumerate() {
            let slot = relabel.get_mut(usize::from(old)).ok_or_else(|| {
                DataError::Request(format!(
                    "class {old} does not exist (the dataset has {} classes)",
                    self.classes.len()
                ))
            })?;
            if slot.is_some() {
                return Err(DataError::Request(format!("class {old} is listed twice")));
            }
            *slot = Some(new as u8);
        }
        let indices: Vec<usize> = (0..self.n)
            .filter(|&i| relabel[usize::from(self.labels[i])].is_some())
            .collect();
        let mut out = self.select(&indices);
        for l in &mut out.labels {
            *l = relabel[usize::from(*l)].expect("only kept classes were selected");
        }
        out.classes = keep
            .iter()
            .map(|&c| self.classes[usize::from(c)].clone())
            .collect();
        Ok(out)
    }

    /// Every image translated by `dx` pixels right and `dy` down, with zero fill.
    pub fn shifted(&self, dx: i32, dy: i32) -> Dataset {
        Dataset {
            images: shift(&self.images, self.h, self.w, dx, dy),
            ..self.clone()
        }
    }
}

/// Translate each `h x w` image in `images` (any number of them, back to back) by `dx`
/// pixels to the right and `dy` pixels down (negative: left, up). Pixels that move out are
/// lost and the uncovered ones are 0, the background of MNIST-style data, so a classifier sees
/// the same digit in another place (the translation-invariance experiment).
///
/// # Panics
/// If `images.len()` is not a whole number of `h x w` images.
pub fn shift(images: &[f32], h: usize, w: usize, dx: i32, dy: i32) -> Vec<f32> {
    let len = h * w;
    assert!(
        len > 0 && images.len().is_multiple_of(len),
        "shift: {} values are not a whole number of {h}x{w} images",
        images.len()
    );
    let mut out = vec![0.0; images.len()];
    let (dx, dy) = (dx as isize, dy as isize);
    for (src, dst) in images.chunks_exact(len).zip(out.chunks_exact_mut(len)) {
        for y in 0..h {
            let sy = y as isize - dy;
            if sy < 0 || sy >= h as isize {
                continue;
            }
            for x in 0..w {
                let sx = x as isize - dx;
                if sx >= 0 && sx < w as isize {
                    dst[y * w + x] = src[sy as usize * w + sx as usize];
                }
            }
        }
    }
    out
}

/// Images per parallel task when a dataset is copied.
const PAR_IMAGES: usize = 64;

/// Values per block of a parallel pass over a dataset's pixels.
const SUM_BLOCK: usize = 1 << 16;

/// Per-dataset pixel normalisation: `(x - mean) / std`, with mean and std fitted on the
/// training split only, so validation and test data are transformed exactly like training
/// data and nothing leaks from them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Normalization {
    /// Mean pixel value of the data it was fitted on.
    pub mean: f32,
    /// Standard deviation of the pixel values it was fitted on (never 0).
    pub std: f32,
}

impl Normalization {
    /// Fit on all pixels of `train`. A constant dataset gets std 1 rather than a division by 0.
    pub fn fit(train: &Dataset) -> Self {
        let count = train.images.len().max(1) as f64;
        // f64 sums: 9.4 M values in f32 would lose digits. Summed in fixed blocks on both
        // cores, the blocks' sums then added in order: the same bits on any number of threads.
        let sum = |f: &(dyn Fn(f32) -> f64 + Sync)| -> f64 {
            let blocks: Vec<f64> = train
                .images
                .par_chunks(SUM_BLOCK)
                .map(|b| b.iter().map(|&v| f(v)).sum::<f64>())
                .collect();
            blocks.iter().sum()
        };
        let mean = sum(&|v| f64::from(v)) / count;
        let var = sum(&|v| (f64::from(v) - mean).powi(2)) / count;
        let std = var.sqrt();
        Self {
            mean: mean as f32,
            std: if std > 1e-12 { std as f32 } else { 1.0 },
        }
    }

    /// Normalise pixel values in place.
    pub fn apply(&self, pixels: &mut [f32]) {
        let (mean, std) = (self.mean, self.std);
        pixels
            .par_iter_mut()
            .with_min_len(SUM_BLOCK)
            .for_each(|v| *v = (*v - mean) / std);
    }

    /// A normalised copy of a dataset (computed on both cores as it is copied).
    pub fn applied(&self, data: &Dataset) -> Dataset {
        let (mean, std) = (self.mean, self.std);
        Dataset {
            images: data
                .images
                .par_iter()
                .with_min_len(SUM_BLOCK)
                .map(|&v| (v - mean) / std)
                .collect(),
            labels: data.labels.clone(),
            classes: data.classes.clone(),
            ..*data
        }
    }

    /// Undo [`Normalization::apply`] on one value (for showing normalised images).
    pub fn invert(&self, v: f32) -> f32 {
        v * self.std + self.mean
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Six 2x2 images: image i has every pixel equal to 10 * i, label i % 3.
    fn tiny() -> Dataset {
        let images = idx::encode(
            &[6, 2, 2],
            &(0..6u8).flat_map(|i| [10 * i; 4]).collect::<Vec<_>>(),
        );
        let labels = idx::encode(&[6], &[0, 1, 2, 0, 1, 2]);
        Dataset::from_idx(
            idx::parse(&images, "img").unwrap(),
            idx::parse(&labels, "lab").unwrap(),
            vec!["a".into(), "b".into(), "c".into()],
            ("img", "lab"),
        )
        .unwrap()
    }

    fn first_pixels(d: &Dataset) -> Vec<u8> {
        (0..d.n)
            .map(|i| (d.image(i)[0] * 255.0).round() as u8)
            .collect()
    }

    #[test]
    fn pixels_are_scaled_to_0_1() {
        let d = tiny();
        assert_eq!((d.n, d.h, d.w), (6, 2, 2));
        assert_eq!(d.image(5), &[50.0 / 255.0; 4]);
        assert_eq!(d.class_counts(), vec![2, 2, 2]);
        assert_eq!(d.class_name(4), "b");
        assert_eq!(d.to_gray_image(3).get_pixel(1, 1).0, [30]);
    }

    #[test]
    fn mismatched_files_are_named() {
        let images = idx::parse(&idx::encode(&[2, 1, 1], &[0, 0]), "i").unwrap();
        let labels = idx::parse(&idx::encode(&[3], &[0, 0, 0]), "l").unwrap();
        let msg = Dataset::from_idx(
            images.clone(),
            labels,
            vec!["x".into()],
            ("imgs.idx", "labs.idx"),
        )
        .unwrap_err()
        .to_string();
        assert!(
            msg.contains("imgs.idx") && msg.contains("2 images but 3 labels"),
            "{msg}"
        );

        let labels = idx::parse(&idx::encode(&[2], &[0, 7]), "l").unwrap();
        let msg = Dataset::from_idx(images, labels, vec!["x".into(), "y".into()], ("i", "l"))
            .unwrap_err()
            .to_string();
        assert!(msg.contains("label 7 of example 1"), "{msg}");
    }

    #[test]
    fn datasets_load_from_files() {
        let dir = tempfile::tempdir().unwrap();
        let (ip, lp) = (dir.path().join("i.idx"), dir.path().join("l.idx"));
        std::fs::write(&ip, idx::encode(&[1, 1, 2], &[0, 255])).unwrap();
        std::fs::write(&lp, idx::encode(&[1], &[1])).unwrap();
        let d = Dataset::from_idx_files(&ip, &lp, vec!["no".into(), "yes".into()]).unwrap();
        assert_eq!(d.images, vec![0.0, 1.0]);
        assert_eq!(d.class_name(0), "yes");
    }

    #[test]
    fn train_val_split_is_seeded_disjoint_and_complete() {
        let d = tiny();
        let (train, val) = d.train_val_split(2, 7).unwrap();
        assert_eq!((train.n, val.n), (4, 2));
        let mut all = [first_pixels(&train), first_pixels(&val)].concat();
        all.sort_unstable();
        assert_eq!(all, vec![0, 10, 20, 30, 40, 50]);
        assert_eq!(d.train_val_split(2, 7).unwrap(), (train, val));
        assert!(d.train_val_split(6, 7).is_err());
        // Different seeds give different splits for at least one of a few seeds.
        let first = first_pixels(&d.train_val_split(2, 0).unwrap().1);
        assert!((1..10).any(|s| first_pixels(&d.train_val_split(2, s).unwrap().1) != first));
    }

    #[test]
    fn subset_and_per_class_are_seeded_and_stratified() {
        let d = tiny();
        let s = d.subset(3, 1).unwrap();
        assert_eq!(s.n, 3);
        assert_eq!(s, d.subset(3, 1).unwrap());
        assert!(d.subset(7, 1).is_err());
        // Drawing and splitting in one go gives what the two steps give, for every seed.
        for seed in 0..20 {
            let two = d.subset(5, seed).unwrap().train_val_split(2, seed).unwrap();
            assert_eq!(d.subset_split(5, 2, seed).unwrap(), two, "seed {seed}");
        }
        assert!(d.subset_split(7, 2, 1).is_err());
        assert!(d.subset_split(3, 3, 1).is_err());

        let p = d.per_class(1, 3).unwrap();
        assert_eq!(p.class_counts(), vec![1, 1, 1]);
        assert_eq!(p, d.per_class(1, 3).unwrap());
        let msg = d.per_class(3, 3).unwrap_err().to_string();
        assert!(msg.contains("class `a`") && msg.contains("only 2"), "{msg}");
    }

    #[test]
    fn only_classes_relabels_in_the_given_order() {
        let d = tiny().only_classes(&[2, 0]).unwrap();
        assert_eq!(d.classes, vec!["c", "a"]);
        assert_eq!(d.labels, vec![1, 0, 1, 0]);
        assert_eq!(first_pixels(&d), vec![0, 20, 30, 50]);
        assert!(tiny().only_classes(&[3]).is_err());
        assert!(tiny().only_classes(&[1, 1]).is_err());
    }

    #[test]
    fn shift_moves_content_and_fills_with_zero() {
        // One 3x3 image with values 1..9.
        let img: Vec<f32> = (1..=9).map(|v| v as f32).collect();
        #[rustfmt::skip]
        assert_eq!(shift(&img, 3, 3, 1, 0), vec![
            0.0, 1.0, 2.0,
            0.0, 4.0, 5.0,
            0.0, 7.0, 8.0,
        ]);
        #[rustfmt::skip]
        assert_eq!(shift(&img, 3, 3, -1, -1), vec![
            5.0, 6.0, 0.0,
            8.0, 9.0, 0.0,
            0.0, 0.0, 0.0,
        ]);
        assert_eq!(shift(&img, 3, 3, 0, 0), img);
        assert_eq!(shift(&img, 3, 3, 5, 0), vec![0.0; 9]);
        // Several images are shifted independently.
        let two = [img.clone(), img.clone()].concat();
        assert_eq!(shift(&two, 3, 3, 0, 1)[9..12], [0.0, 0.0, 0.0]);
    }

    #[test]
    fn normalization_uses_train_statistics() {
        let d = tiny();
        let norm = Normalization::fit(&d);
        // Pixel values 0,10,..,50 (/255), each four times: mean 25/255.
        assert!((norm.mean - 25.0 / 255.0).abs() < 1e-6);
        let expected_std = (((0..6)
            .map(|i| (10.0 * i as f64 - 25.0).powi(2))
            .sum::<f64>()
            / 6.0)
            .sqrt()
            / 255.0) as f32;
        assert!((norm.std - expected_std).abs() < 1e-6);
        let n = norm.applied(&d);
        let mean: f32 = n.images.iter().sum::<f32>() / n.images.len() as f32;
        assert!(mean.abs() < 1e-5);
        assert!((norm.invert(n.images[23]) - d.images[23]).abs() < 1e-6);

        let flat = Dataset {
            images: vec![0.5; 4],
            ..tiny().select(&[0])
        };
        assert_eq!(Normalization::fit(&flat).std, 1.0);
    }

    #[test]
    fn the_font_is_a_truetype_file() {
        assert_eq!(&font_bytes()[..4], &[0, 1, 0, 0]);
    }
}
