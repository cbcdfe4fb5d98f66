//! What lesson 4's experiments share: the pretrained model's location and seed parameters,
//! and the target data (a labelled budget, validation and test digits, fixed by seed).

use std::path::Path;

use super::pretrain::Pretrained;
use crate::data::{self, Dataset};
use crate::experiments::kit::{Default, ParamKind, ParamSpec};

/// Where the lessons find the pretrained model, relative to the lesson file.
pub(super) const META_DEFAULT: &str = "../data/pretrained/lesson4_backbone.toml";
/// Target images held out for validation (drawn before the labelled budget, never in it).
pub(super) const VAL_IMAGES: usize = 500;
/// Mini-batch size for the small target sets.
pub(super) const BATCH: usize = 16;

pub(super) const META_PARAM: ParamSpec = ParamSpec {
    name: "pretrained",
    kind: ParamKind::File,
    default: Default::Str(META_DEFAULT),
    doc: "the pretrained model's metadata file (relative to the lesson)",
};

pub(super) const SEED_PARAM: ParamSpec = ParamSpec {
    name: "seed",
    kind: ParamKind::Int { min: 0, max: 9999 },
    default: Default::Int(1),
    doc: "seed for the labelled images, the new head and the batches",
};

/// The pretrained model the `pretrained` parameter names.
pub(super) fn pretrained(meta: &str) -> anyhow::Result<Pretrained> {
    Pretrained::load(Path::new(meta))
}

/// Target data: a labelled budget, a validation set and the test set, all normalised the way
/// the backbone was trained.
pub(super) struct Target3 {
    pub(super) train: Dataset,
    pub(super) val: Dataset,
    pub(super) test: Dataset,
}

impl Target3 {
    pub(super) fn classes(&self) -> usize {
        self.train.classes.len()
    }
}

/// Target images from the training file kept as the pool labelled budgets are drawn from; the
/// validation set and the extra test images come from the rest.
pub(super) const POOL_IMAGES: usize = 2500;
/// The split of the target images into pool, validation and extra test images is fixed, so
/// every draw and every budget is scored on the same images.
pub(super) const SPLIT_SEED: u64 = 0;

/// The labelled budget (`per_class` images of every target class drawn with `seed`), the
/// validation set, and the test set: the test split's target digits plus the training file's
/// target digits that are in neither the pool nor validation. No model trains on any of them.
pub(super) fn target_data(
    pre: &Pretrained,
    per_class: usize,
    seed: u64,
) -> anyhow::Result<Target3> {
    let all = pre.target_data(data::Split::Train)?;
    let (rest, pool) = all.train_val_split(POOL_IMAGES, SPLIT_SEED)?;
    let (extra, val) = rest.train_val_split(VAL_IMAGES, SPLIT_SEED)?;
    let train = pool.per_class(per_class, seed)?;
    let mut test = pre.target_data(data::Split::Test)?;
    test.images.extend_from_slice(&extra.images);
    test.labels.extend_from_slice(&extra.labels);
    test.n += extra.n;
    let norm = pre.norm();
    Ok(Target3 {
        train: norm.applied(&train),
        val: norm.applied(&val),
        test: norm.applied(&test),
    })
}
