//! A seeded generator of scenes for object detection (lesson 6) and semantic segmentation
//! (lesson 7): real MNIST digits and simple filled shapes placed on a dark square canvas, with
//! an exact box for every object and a class per pixel.
//!
//! **What it draws.** A canvas of `size x size` pixels (64 to 96), one channel, background 0.
//! Each scene holds a seeded number of objects in [`SceneConfig::objects`]. An object is either
//! a digit glyph taken from a [`Dataset`] (the embedded MNIST training split for training
//! scenes, the test split for test scenes, see [`mnist_scenes`]) resized bilinearly so its
//! longer side is a seeded length in [`SceneConfig::scale`], or a filled square, disc or
//! triangle of that side drawn analytically with 4x4 supersampled (anti-aliased) edges. Every
//! object gets a seeded brightness in 0.6..=1 so that overlaps stay visible.
//!
//! **Masks and occlusion.** A pixel belongs to an object where the object's own value is above
//! [`MASK_THRESHOLD`]. Objects are drawn in list order and a later object covers earlier ones
//! where it is above the threshold (its faint anti-aliased rim merely brightens what is below,
//! by maximum). So `mask != 0` exactly where the image is above the threshold, and the mask
//! holds the class of the topmost object there. [`Scene::instances`] records which object.
//!
//! **Boxes.** [`SceneBox`] is in pixel indices with half-open ranges: columns `x0..x1`, rows
//! `y0..y1` (so `x1 - x0` is the width, as in torchvision's `xyxy` on pixel edges). Each box is
//! the tightest one around the object's *visible* pixels, as COCO annotates: an object partly
//! covered by a later one gets the box of what remains. A placement is retried (a bounded
//! number of times) unless every object keeps at least [`MIN_VISIBLE`] of its pixels and all
//! pairs of final boxes have IoU at most [`SceneConfig::max_overlap`]; a scene that cannot be
//! completed is an error, never an endless loop.
//!
//! **Classes.** 0 is background. With [`SceneKinds::Digits`], classes `1..=K` are the `K`
//! classes of the source (digit `d` is class `d + 1` for MNIST); with [`SceneKinds::Shapes`],
//! 1 square, 2 disc, 3 triangle; with [`SceneKinds::Both`], digits `1..=K` then the shapes from
//! `K + 1` (MNIST: shapes 11, 12, 13). [`SceneSet::class_names`] is indexed by class.
//!
//! **Seeds.** Scene `i` draws from a generator seeded with `(seed, i)` only, so the same
//! configuration gives byte-identical scenes, and the first `k` scenes of a set of `n` are the
//! set of `k`.

use std::ops::RangeInclusive;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::transforms::derive_seed;
use super::{mnist, DataError, Dataset, Split};

mod draw;

use draw::{glyph, shape, Sprite, SHAPES};

/// Smallest canvas side accepted.
pub const MIN_SIZE: usize = 64;
/// Largest canvas side accepted.
pub const MAX_SIZE: usize = 96;
/// Most objects per scene (masks of instances are `u8`, and more would not fit anyway).
pub const MAX_OBJECTS: usize = 32;
/// Smallest object side accepted: below this a digit is an unreadable smudge.
pub const MIN_SCALE: usize = 8;
/// Most scenes per call, so an absurd count is an error rather than an allocation failure.
pub const MAX_SCENES: usize = 50_000;
/// A pixel belongs to an object where the object's value is above this.
pub const MASK_THRESHOLD: f32 = 0.3;
/// Share of an object's pixels that must stay uncovered by later objects.
pub const MIN_VISIBLE: f32 = 0.5;
/// Names of the shapes, in class order.
pub const SHAPE_NAMES: [&str; 3] = ["square", "disc", "triangle"];

/// An object with fewer pixels above the threshold than this is redrawn (a faint glyph).
const MIN_PIXELS: usize = 8;
/// Placements tried for one object before the scene is started over.
const PLACE_TRIES: usize = 64;
/// Times a scene is started over before giving up with an error.
const SCENE_TRIES: usize = 8;

/// Which objects a scene contains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SceneKinds {
    /// Digit glyphs from the source dataset only.
    Digits,
    /// Squares, discs and triangles only (no source needed).
    Shapes,
    /// Either, with equal odds for each object.
    Both,
}

/// How scenes are generated. [`Default`] gives 64 px scenes of 1 to 3 digits or shapes of 20
/// to 36 px with box IoU at most 0.2.
#[derive(Debug, Clone, PartialEq)]
pub struct SceneConfig {
    /// Canvas side in pixels, [`MIN_SIZE`]..=[`MAX_SIZE`].
    pub size: usize,
    /// Objects per scene, drawn uniformly from this range (at most [`MAX_OBJECTS`]).
    pub objects: RangeInclusive<usize>,
    /// What the objects are.
    pub kinds: SceneKinds,
    /// Side of an object in pixels (a digit's whole 28x28 cell, a shape's frame), drawn
    /// uniformly from this range, [`MIN_SCALE`]..=`size`.
    pub scale: RangeInclusive<usize>,
    /// Largest IoU allowed between any two boxes of a scene, 0..=1 (0: boxes never overlap).
    pub max_overlap: f32,
    /// Seed of the whole set.
    pub seed: u64,
}

impl Default for SceneConfig {
    fn default() -> Self {
        Self {
            size: 64,
            objects: 1..=3,
            kinds: SceneKinds::Both,
            scale: 20..=36,
            max_overlap: 0.2,
            seed: 0,
        }
    }
}

/// The box of one object: columns `x0..x1` and rows `y0..y1`, half-open, in pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SceneBox {
    /// Class of the object (see the module documentation), never 0.
    pub class: usize,
    pub x0: usize,
    pub y0: usize,
    pub x1: usize,
    pub y1: usize,
}

impl SceneBox {
    /// Width in pixels.
    pub fn width(&self) -> usize {
        self.x1 - self.x0
    }

    /// Height in pixels.
    pub fn height(&self) -> usize {
        self.y1 - self.y0
    }

    /// Area in pixels.
    pub fn area(&self) -> usize {
        self.width() * self.height()
    }

    /// Intersection over union with `other`, 0..=1 (0 when either box is empty).
    pub fn iou(&self, other: &SceneBox) -> f32 {
        let iw = self.x1.min(other.x1).saturating_sub(self.x0.max(other.x0));
        let ih = self.y1.min(other.y1).saturating_sub(self.y0.max(other.y0));
        let inter = iw * ih;
        let union = self.area() + other.area() - inter;
        if union == 0 {
            0.0
        } else {
            inter as f32 / union as f32
        }
    }
}

/// One generated scene.
#[derive(Debug, Clone, PartialEq)]
pub struct Scene {
    /// `size * size` pixels, row-major, 0..1.
    pub image: Vec<f32>,
    /// One box per object, in drawing order (later objects on top).
    pub boxes: Vec<SceneBox>,
    /// Class per pixel, 0 for background.
    pub mask: Vec<u8>,
    /// Object per pixel: `k` for `boxes[k - 1]`, 0 for background (for instance segmentation).
    pub instances: Vec<u8>,
}

/// `n` scenes of one configuration, stored flat for training.
#[derive(Debug, Clone, PartialEq)]
pub struct SceneSet {
    size: usize,
    class_names: Vec<String>,
    images: Vec<f32>,
    masks: Vec<u8>,
    instances: Vec<u8>,
    boxes: Vec<Vec<SceneBox>>,
}

impl SceneSet {
    /// Number of scenes.
    pub fn len(&self) -> usize {
        self.boxes.len()
    }

    /// True when there are no scenes.
    pub fn is_empty(&self) -> bool {
        self.boxes.is_empty()
    }

    /// Canvas side in pixels.
    pub fn size(&self) -> usize {
        self.size
    }

    /// Class names indexed by class, starting with "background".
    pub fn class_names(&self) -> &[String] {
        &self.class_names
    }

    /// All images, `len() * size * size` values, scene after scene.
    pub fn images(&self) -> &[f32] {
        &self.images
    }

    /// All masks, laid out like [`SceneSet::images`].
    pub fn masks(&self) -> &[u8] {
        &self.masks
    }

    /// All instance maps, laid out like [`SceneSet::images`].
    pub fn instances(&self) -> &[u8] {
        &self.instances
    }

    /// The boxes of every scene.
    pub fn boxes(&self) -> &[Vec<SceneBox>] {
        &self.boxes
    }

    /// Scene `i` (a copy), or `None` past the end.
    pub fn scene(&self, i: usize) -> Option<Scene> {
        let len = self.size * self.size;
        let range = i * len..(i + 1) * len;
        Some(Scene {
            boxes: self.boxes.get(i)?.clone(),
            image: self.images[range.clone()].to_vec(),
            mask: self.masks[range.clone()].to_vec(),
            instances: self.instances[range].to_vec(),
        })
    }
}

/// `n` scenes drawing digits from the embedded MNIST split `split` (Train for training scenes,
/// Test for test scenes, so no glyph is shared). MNIST is only loaded when digits are drawn.
pub fn mnist_scenes(cfg: &SceneConfig, n: usize, split: Split) -> Result<SceneSet, DataError> {
    let source = match cfg.kinds {
        SceneKinds::Shapes => None,
        SceneKinds::Digits | SceneKinds::Both => Some(mnist(split)?),
    };
    generate(cfg, n, source.as_ref())
}

/// `n` scenes; digits are drawn from `source`, which may be `None` for [`SceneKinds::Shapes`].
pub fn generate(
    cfg: &SceneConfig,
    n: usize,
    source: Option<&Dataset>,
) -> Result<SceneSet, DataError> {
    if n > MAX_SCENES {
        return Err(DataError::Request(format!(
            "asked for {n} scenes; at most {MAX_SCENES} are generated at once"
        )));
    }
    let layout = Layout::new(cfg, source)?;
    let len = cfg.size * cfg.size;
    let mut set = SceneSet {
        size: cfg.size,
        class_names: layout.names.clone(),
        images: Vec::with_capacity(n * len),
        masks: Vec::with_capacity(n * len),
        instances: Vec::with_capacity(n * len),
        boxes: Vec::with_capacity(n),
    };
    for i in 0..n {
        let scene = layout.scene(cfg, i)?;
        set.images.extend_from_slice(&scene.image);
        set.masks.extend_from_slice(&scene.mask);
        set.instances.extend_from_slice(&scene.instances);
        set.boxes.push(scene.boxes);
    }
    Ok(set)
}

/// Scene `index` of the set `generate(cfg, _, source)` alone.
pub fn scene(
    cfg: &SceneConfig,
    index: usize,
    source: Option<&Dataset>,
) -> Result<Scene, DataError> {
    Layout::new(cfg, source)?.scene(cfg, index)
}

/// The class names `generate(cfg, _, source)` uses, indexed by class.
pub fn class_names(cfg: &SceneConfig, source: Option<&Dataset>) -> Result<Vec<String>, DataError> {
    Ok(Layout::new(cfg, source)?.names)
}

/// Class of the first source label: digits come right after the background.
const FIRST_DIGIT: usize = 1;

/// What a valid configuration draws, and its class numbering.
struct Layout<'a> {
    /// Where glyphs come from, when digits are drawn (label `l` is class `FIRST_DIGIT + l`).
    source: Option<&'a Dataset>,
    /// Class of the square, when shapes are drawn.
    shapes: Option<usize>,
    names: Vec<String>,
}

impl<'a> Layout<'a> {
    /// Check `cfg` and `source` and number the classes.
    fn new(cfg: &SceneConfig, source: Option<&'a Dataset>) -> Result<Self, DataError> {
        let bad = |msg: String| Err(DataError::Request(format!("scene configuration: {msg}")));
        if !(MIN_SIZE..=MAX_SIZE).contains(&cfg.size) {
            return bad(format!(
                "canvas size {} is outside {MIN_SIZE}..={MAX_SIZE}",
                cfg.size
            ));
        }
        let (lo, hi) = (*cfg.objects.start(), *cfg.objects.end());
        if lo > hi || hi > MAX_OBJECTS {
            return bad(format!(
                "objects {lo}..={hi} must be a non-empty range within 0..={MAX_OBJECTS}"
            ));
        }
        let (lo, hi) = (*cfg.scale.start(), *cfg.scale.end());
        if lo > hi || lo < MIN_SCALE || hi > cfg.size {
            return bad(format!(
                "scale {lo}..={hi} must be a non-empty range within {MIN_SCALE}..={} (the canvas)",
                cfg.size
            ));
        }
        if !(0.0..=1.0).contains(&cfg.max_overlap) {
            return bad(format!("max_overlap {} must lie in 0..=1", cfg.max_overlap));
        }
        let mut names = vec!["background".to_string()];
        let mut layout = Layout {
            source: None,
            shapes: None,
            names: Vec::new(),
        };
        if cfg.kinds != SceneKinds::Shapes {
            let Some(src) = source else {
                return bad("digits need a source dataset to draw from".into());
            };
            check_source(src)?;
            layout.source = Some(src);
            names.extend(src.classes.iter().cloned());
        }
        if cfg.kinds != SceneKinds::Digits {
            layout.shapes = Some(names.len());
            names.extend(SHAPE_NAMES.iter().map(|s| s.to_string()));
        }
        if names.len() > 256 {
            return bad(format!("{} classes do not fit in a u8 mask", names.len()));
        }
        layout.names = names;
        Ok(layout)
    }

    fn scene(&self, cfg: &SceneConfig, index: usize) -> Result<Scene, DataError> {
        let mut rng = StdRng::seed_from_u64(derive_seed(cfg.seed, index as u64));
        let count = rng.gen_range(cfg.objects.clone());
        for _ in 0..SCENE_TRIES {
            let mut canvas = Canvas::new(cfg.size);
            'objects: while canvas.classes.len() < count {
                for _ in 0..PLACE_TRIES {
                    let sprite = self.sprite(cfg, &mut rng);
                    let x = rng.gen_range(0..=cfg.size - sprite.w);
                    let y = rng.gen_range(0..=cfg.size - sprite.h);
                    let mut candidate = canvas.clone();
                    if candidate.draw(&sprite, x, y) && candidate.acceptable(cfg.max_overlap) {
                        canvas = candidate;
                        continue 'objects;
                    }
                }
                break;
            }
            if canvas.classes.len() == count {
                return Ok(canvas.into_scene());
            }
        }
        Err(DataError::Request(format!(
            "scene {index}: could not place {count} objects of {}..={} px on a {} px canvas \
             with box IoU at most {} and each at least {:.0} % visible; allow fewer or smaller \
             objects or more overlap",
            cfg.scale.start(),
            cfg.scale.end(),
            cfg.size,
            cfg.max_overlap,
            MIN_VISIBLE * 100.0
        )))
    }

    /// A random object, not yet placed.
    fn sprite(&self, cfg: &SceneConfig, rng: &mut StdRng) -> Sprite {
        let side = rng.gen_range(cfg.scale.clone());
        let brightness = rng.gen_range(0.6f32..=1.0);
        let digits = match (self.source, self.shapes) {
            (Some(src), Some(_)) => rng.gen_bool(0.5).then_some(src),
            (source, _) => source,
        };
        let mut sprite = if let Some(src) = digits {
            let i = rng.gen_range(0..src.n);
            let class = FIRST_DIGIT + usize::from(src.labels[i]);
            glyph(src.image(i), src.h, src.w, side, class)
        } else {
            let k = rng.gen_range(0..SHAPES.len());
            shape(SHAPES[k], side, self.shapes.unwrap_or(FIRST_DIGIT) + k)
        };
        for v in &mut sprite.values {
            *v *= brightness;
        }
        sprite
    }
}

/// Check that a source dataset is consistent, since its fields are public.
fn check_source(src: &Dataset) -> Result<(), DataError> {
    let bad = |msg: String| Err(DataError::Request(format!("scene source dataset: {msg}")));
    if src.n == 0 || src.h == 0 || src.w == 0 {
        return bad(format!(
            "{} images of {}x{} pixels cannot be drawn",
            src.n, src.h, src.w
        ));
    }
    if src.images.len() != src.n * src.h * src.w || src.labels.len() != src.n {
        return bad(format!(
            "{} pixels and {} labels do not fit {} images of {}x{}",
            src.images.len(),
            src.labels.len(),
            src.n,
            src.h,
            src.w
        ));
    }
    if let Some(l) = src
        .labels
        .iter()
        .find(|&&l| usize::from(l) >= src.classes.len())
    {
        return bad(format!("label {l} has no class name"));
    }
    Ok(())
}

/// A scene being built: the image, the object owning each pixel, and per object its class and
/// how many pixels it drew above the threshold.
#[derive(Clone)]
struct Canvas {
    size: usize,
    image: Vec<f32>,
    instances: Vec<u8>,
    classes: Vec<usize>,
    drawn: Vec<usize>,
}

impl Canvas {
    fn new(size: usize) -> Self {
        Self {
            size,
            image: vec![0.0; size * size],
            instances: vec![0; size * size],
            classes: Vec::new(),
            drawn: Vec::new(),
        }
    }

    /// Draw `sprite` with its top left at `(x, y)` on top of everything; false when it has
    /// too few pixels above the threshold to be an object.
    fn draw(&mut self, sprite: &Sprite, x: usize, y: usize) -> bool {
        self.classes.push(sprite.class);
        let id = self.classes.len() as u8;
        let mut drawn = 0;
        for (row, values) in sprite.values.chunks_exact(sprite.w).enumerate() {
            let start = (y + row) * self.size + x;
            let pixels = &mut self.image[start..start + sprite.w];
            let owners = &mut self.instances[start..start + sprite.w];
            for ((p, o), &v) in pixels.iter_mut().zip(owners).zip(values) {
                // Solid pixels cover what is below; the rim only brightens it. This keeps
                // "image above threshold" and "some object owns the pixel" the same thing.
                if v > MASK_THRESHOLD {
                    *p = v;
                    *o = id;
                    drawn += 1;
                } else {
                    *p = p.max(v);
                }
            }
        }
        self.drawn.push(drawn);
        drawn >= MIN_PIXELS
    }

    /// Tight box of the visible pixels and their count, per object.
    fn visible(&self) -> (Vec<SceneBox>, Vec<usize>) {
        let mut boxes: Vec<SceneBox> = self
            .classes
            .iter()
            .map(|&class| SceneBox {
                class,
                x0: usize::MAX,
                y0: usize::MAX,
                x1: 0,
                y1: 0,
            })
            .collect();
        let mut counts = vec![0; self.classes.len()];
        for (p, &id) in self.instances.iter().enumerate() {
            if id == 0 {
                continue;
            }
            let k = usize::from(id) - 1;
            let (x, y) = (p % self.size, p / self.size);
            let b = &mut boxes[k];
            b.x0 = b.x0.min(x);
            b.y0 = b.y0.min(y);
            b.x1 = b.x1.max(x + 1);
            b.y1 = b.y1.max(y + 1);
            counts[k] += 1;
        }
        (boxes, counts)
    }

    /// Every object is still visible enough and no two boxes overlap more than allowed.
    fn acceptable(&self, max_overlap: f32) -> bool {
        let (boxes, counts) = self.visible();
        let visible = counts
            .iter()
            .zip(&self.drawn)
            .all(|(&c, &d)| c > 0 && c as f32 >= MIN_VISIBLE * d as f32);
        visible
            && boxes
                .iter()
                .enumerate()
                .all(|(i, a)| boxes[i + 1..].iter().all(|b| a.iou(b) <= max_overlap))
    }

    fn into_scene(self) -> Scene {
        let (boxes, _) = self.visible();
        let mask = self
            .instances
            .iter()
            .map(|&id| match id {
                0 => 0,
                // Layout::new checked that every class fits in a u8.
                k => self.classes[usize::from(k) - 1] as u8,
            })
            .collect();
        Scene {
            image: self.image,
            boxes,
            mask,
            instances: self.instances,
        }
    }
}

#[cfg(test)]
mod tests;
