//! Transfer learning: a CNN pretrained by the tutor itself on a source task, stored as a
//! safetensors checkpoint with a metadata file, and the pieces lesson 4 builds from it (the
//! backbone alone, a fresh head, the whole network with the backbone loaded, cached features).
//!
//! The tutor cannot download weights, so `tutor pretrain` ([`pretrain`]) trains the lesson-4
//! network on a source task (by default the MNIST digits 0-4; `--source fashion` for clothing)
//! and writes `data/pretrained/`. The lesson reuses everything up to the metadata's
//! `backbone_end` layer for the target task: the classes the source task left out (digits 5-9),
//! or, when the source used every class, the other dataset. The metadata keeps the
//! architecture in the network format, the source data, seed, epochs and accuracy, and the
//! normalisation the backbone was trained with, which the target data must use too.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context as _};
use serde::{Deserialize, Serialize};

use crate::data::{self, Dataset, Normalization};
use crate::nn::summary::fmt_shape;
use crate::nn::{Batch, LayerKind, NetSpec, Network, Optimizer, Schedule};
use crate::train::NetModel;
use crate::train::{self, History, Observer, Split, TrainConfig};

/// The `format` field of a metadata file this version reads.
pub const META_FORMAT: &str = "tutor-pretrained-1";
/// File names `tutor pretrain` writes into its output folder.
pub const META_FILE: &str = "lesson4_backbone.toml";
pub const WEIGHTS_FILE: &str = "lesson4_backbone.safetensors";

/// What a pretrained checkpoint is: written next to the weights by [`save`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PretrainMeta {
    /// Always [`META_FORMAT`].
    pub format: String,
    /// The safetensors file, relative to this file.
    pub weights: String,
    /// The source domain, in words.
    pub source_domain: String,
    /// The source task, in words.
    pub source_task: String,
    /// Which images trained it, validated it and tested it.
    pub source_data: String,
    /// `mnist` or `fashion`: the embedded dataset the source images come from.
    pub source_dataset: String,
    /// The dataset's labels the source task uses (relabelled 0.. in this order).
    pub source_labels: Vec<u8>,
    /// The source task's class names, by new label.
    pub classes: Vec<String>,
    /// The last layer of the backbone; the layers after it are the head.
    pub backbone_end: String,
    /// Epochs trained, and the one whose weights were kept (best validation loss).
    pub epochs: usize,
    pub best_epoch: usize,
    pub seed: u64,
    /// Peak learning rate of Adam (cosine schedule down to a hundredth of it).
    pub lr: f64,
    pub batch_size: usize,
    /// The input normalisation the backbone learned with: `(pixel - mean) / std`, pixels in 0..1.
    pub norm_mean: f32,
    pub norm_std: f32,
    pub source_val_accuracy: f64,
    pub source_test_accuracy: f64,
    /// Wall time of the training, on the machine that ran it.
    pub train_seconds: f64,
    /// The command that made these files.
    pub command: String,
    /// The network, in the tutor's network format.
    pub architecture: String,
}

/// A pretrained checkpoint, loaded and checked.
#[derive(Debug, Clone)]
pub struct Pretrained {
    pub meta: PretrainMeta,
    pub spec: NetSpec,
    pub weights: PathBuf,
    /// Index of the backbone's last layer in `spec.layers`.
    pub end: usize,
}

impl Pretrained {
    /// Reads a metadata file and checks that its architecture parses and names its backbone's
    /// last layer, and that the weights file exists.
    pub fn load(meta_path: &Path) -> anyhow::Result<Pretrained> {
        let shown = meta_path.display();
        let text = crate::util::files::read_to_string(meta_path)
            .with_context(|| format!("cannot read the pretrained model's metadata `{shown}`"))?;
        let meta: PretrainMeta = toml::from_str(&text)
            .map_err(|e| anyhow::anyhow!("{shown}: {}", e.to_string().trim()))?;
        if meta.format != META_FORMAT {
            bail!(
                "{shown}: field `format` is \"{}\"; this tutor reads \"{META_FORMAT}\"",
                meta.format
            );
        }
        let spec = NetSpec::parse(&meta.architecture, &format!("{shown} (architecture)"))?;
        let end = spec
            .layers
            .iter()
            .position(|l| l.name == meta.backbone_end)
            .with_context(|| {
                format!(
                    "{shown}: field `backbone_end` names layer \"{}\", which the architecture does not have",
                    meta.backbone_end
                )
            })?;
        if end + 1 >= spec.layers.len() {
            bail!("{shown}: `backbone_end` leaves no layer for the head");
        }
        validate_meta(&meta, &spec, &shown.to_string())?;
        let weights = meta_path
            .parent()
            .unwrap_or(Path::new("."))
            .join(&meta.weights);
        if !crate::util::files::exists(&weights) {
            bail!(
                "{shown}: the weights file `{}` is missing (run `tutor pretrain` to make it)",
                weights.display()
            );
        }
        Ok(Pretrained {
            meta,
            spec,
            weights,
            end,
        })
    }

    /// The normalisation the backbone expects.
    pub fn norm(&self) -> Normalization {
        Normalization {
            mean: self.meta.norm_mean,
            std: self.meta.norm_std,
        }
    }

    /// Whether `layer` belongs to the backbone.
    pub fn in_backbone(&self, layer: &str) -> bool {
        self.spec.layers[..=self.end]
            .iter()
            .any(|l| l.name == layer)
    }

    /// The whole network with its last linear layer sized for `classes` outputs: the head
    /// replaced for the target task.
    pub fn target_spec(&self, classes: usize) -> anyhow::Result<NetSpec> {
        let mut spec = self.spec.clone();
        let last = spec
            .layers
            .iter_mut()
            .rev()
            .find(|l| matches!(l.kind, LayerKind::Linear { .. }))
            .context("the pretrained network has no linear layer to serve as its head")?;
        if let LayerKind::Linear { out_features, .. } = &mut last.kind {
            *out_features = classes;
        }
        spec.summary(None)?;
        Ok(spec)
    }

    /// The backbone's layers as a network description of their own.
    pub fn backbone_spec(&self) -> NetSpec {
        NetSpec {
            name: format!("{} backbone", self.spec.name),
            layers: self.spec.layers[..=self.end].to_vec(),
            ..self.spec.clone()
        }
    }

    /// A new head for `classes` outputs, taking the backbone's features as input.
    pub fn head_spec(&self, classes: usize) -> anyhow::Result<NetSpec> {
        let spec = self.target_spec(classes)?;
        let summary = spec.summary(None)?;
        Ok(NetSpec {
            name: format!("{} head", self.spec.name),
            input: summary.rows[self.end].out_shape.clone(),
            layers: spec.layers[self.end + 1..].to_vec(),
            ..spec
        })
    }

    /// The pretrained backbone alone, in evaluation mode (a feature extractor).
    pub fn backbone(&self) -> anyhow::Result<Network> {
        let mut net = Network::new(&self.backbone_spec(), 0)?;
        net.load_layers(&self.weights, |_| true)?;
        net.set_train(false);
        Ok(net)
    }

    /// The whole network with the pretrained backbone and a new head for `classes` outputs,
    /// initialised from `seed`: the source task's head means nothing for the target classes.
    pub fn network(&self, classes: usize, seed: u64) -> anyhow::Result<Network> {
        let mut net = Network::new(&self.target_spec(classes)?, seed)?;
        net.load_layers(&self.weights, |l| self.in_backbone(l))?;
        Ok(net)
    }

    /// The source images of `split`, as the source task labels them (0..).
    pub fn source_data(&self, split: data::Split) -> anyhow::Result<Dataset> {
        let (_, d) = source_dataset(&self.meta.source_dataset, &self.meta.source_labels, split)?;
        Ok(d)
    }

    /// The target task's dataset and labels: the classes of the source dataset that the
    /// source task left out, or, when it used them all, every class of the other dataset.
    pub fn target(&self) -> (&'static str, Vec<u8>) {
        let others: Vec<u8> = (0..10u8)
            .filter(|l| !self.meta.source_labels.contains(l))
            .collect();
        let same = if self.meta.source_dataset == "mnist" {
            "mnist"
        } else {
            "fashion"
        };
        if others.is_empty() {
            (
                if same == "mnist" { "fashion" } else { "mnist" },
                (0..10).collect(),
            )
        } else {
            (same, others)
        }
    }

    /// The target task's images of `split`, relabelled 0.. in order.
    pub fn target_data(&self, split: data::Split) -> anyhow::Result<Dataset> {
        let (name, labels) = self.target();
        Ok(source_dataset(name, &labels, split)?.1)
    }

    /// The whole network exactly as pretrained, source head included.
    pub fn source_network(&self) -> anyhow::Result<Network> {
        let mut net = Network::new(&self.spec, 0)?;
        net.load(&self.weights)?;
        net.set_train(false);
        Ok(net)
    }
}

/// Checks the metadata against itself and its architecture, so that nothing later indexes
/// past what the weights hold (issue 11, item 3: ten source labels for a head of five outputs
/// panicked in `tutor exec 4`).
fn validate_meta(meta: &PretrainMeta, spec: &NetSpec, shown: &str) -> anyhow::Result<()> {
    if !["mnist", "fashion"].contains(&meta.source_dataset.as_str()) {
        bail!(
            "{shown}: field `source_dataset` is \"{}\"; it must be \"mnist\" or \"fashion\"",
            meta.source_dataset
        );
    }
    let labels = &meta.source_labels;
    if labels.is_empty() {
        bail!("{shown}: field `source_labels` is empty");
    }
    if let Some(l) = labels.iter().find(|&&l| l >= 10) {
        bail!("{shown}: field `source_labels` has {l}; labels go from 0 to 9");
    }
    let mut seen = labels.clone();
    seen.sort_unstable();
    seen.dedup();
    if seen.len() != labels.len() {
        bail!("{shown}: field `source_labels` names a label twice");
    }
    if meta.classes.len() != labels.len() {
        bail!(
            "{shown}: field `classes` has {} names for {} `source_labels`",
            meta.classes.len(),
            labels.len()
        );
    }
    let out = spec.summary(None)?.output;
    if out != [labels.len()] {
        bail!(
            "{shown}: field `source_labels` has {} labels but the architecture's head gives {} \
             (the weights were trained for that many classes)",
            labels.len(),
            fmt_shape(&out)
        );
    }
    if !(meta.norm_mean.is_finite() && meta.norm_std.is_finite() && meta.norm_std > 0.0) {
        bail!(
            "{shown}: fields `norm_mean` and `norm_std` must be finite and `norm_std` positive, \
             got {} and {}",
            meta.norm_mean,
            meta.norm_std
        );
    }
    Ok(())
}

/// The backbone's output for every image of `data` (already normalised), in evaluation mode:
/// the features a frozen backbone gives the head, computed once instead of every epoch.
pub fn features(backbone: &mut Network, data: &Dataset) -> anyhow::Result<Dataset> {
    backbone.set_train(false);
    let len = data.image_len();
    let mut out = Vec::new();
    let mut width = 0;
    for chunk in data.images.chunks(256 * len) {
        let n = chunk.len() / len;
        let f = backbone.forward(&Batch::new(chunk.to_vec(), vec![n, 1, data.h, data.w])?)?;
        width = f.shape[1..].iter().product();
        out.extend(f.data);
    }
    Ok(Dataset {
        images: out,
        labels: data.labels.clone(),
        n: data.n,
        h: 1,
        w: width,
        classes: data.classes.clone(),
    })
}

/// Settings of [`pretrain`].
#[derive(Debug, Clone)]
pub struct PretrainConfig {
    /// The network file (its text goes into the metadata).
    pub net: PathBuf,
    pub epochs: usize,
    pub seed: u64,
    pub lr: f64,
    /// `mnist` or `fashion`.
    pub source: String,
    /// The labels of that dataset the source task keeps.
    pub labels: Vec<u8>,
    /// Use only this many of the source training images (for quick tests).
    pub train_images: Option<usize>,
}

impl Default for PretrainConfig {
    fn default() -> Self {
        PretrainConfig {
            net: PathBuf::from("nets/lesson4_cnn.toml"),
            epochs: 6,
            seed: 4,
            lr: 2e-3,
            source: "mnist".into(),
            labels: vec![0, 1, 2, 3, 4],
            train_images: None,
        }
    }
}

/// Share of the source training images held out for validation.
const SOURCE_VAL_FRACTION: f64 = 0.1;
const SOURCE_BATCH: usize = 64;
/// Name of the backbone's last layer in the lesson-4 network.
const BACKBONE_END: &str = "features";

/// The images of `labels` (relabelled 0..) from an embedded dataset, with a description.
pub fn source_dataset(
    name: &str,
    labels: &[u8],
    split: data::Split,
) -> anyhow::Result<(&'static str, Dataset)> {
    let (what, d) = match name {
        "mnist" => ("MNIST handwritten digits", data::mnist(split)?),
        "fashion" => ("Fashion-MNIST clothing", data::fashion(split)?),
        other => bail!("unknown source dataset `{other}` (known: mnist, fashion)"),
    };
    let all: Vec<u8> = (0..d.classes.len() as u8).collect();
    let d = if labels == all.as_slice() {
        d
    } else {
        d.only_classes(labels)?
    };
    Ok((what, d))
}

/// Trains the network of `cfg.net` on the source task (seeded; Adam with a cosine schedule,
/// early stopping keeps the best validation epoch) and measures it on the source test set.
pub fn pretrain(
    cfg: &PretrainConfig,
    obs: &mut dyn Observer,
) -> anyhow::Result<(Network, PretrainMeta, History)> {
    let architecture = crate::util::files::read_to_string(&cfg.net)
        .with_context(|| format!("cannot read the network file `{}`", cfg.net.display()))?;
    let spec = NetSpec::parse(&architecture, &cfg.net.display().to_string())?;
    if spec.layer(BACKBONE_END).is_none() {
        bail!(
            "{}: the network needs a layer named \"{BACKBONE_END}\" where the backbone ends",
            cfg.net.display()
        );
    }
    let (what, full) = source_dataset(&cfg.source, &cfg.labels, data::Split::Train)?;
    let outputs = spec.summary(None)?.output;
    if outputs != [full.classes.len()] {
        bail!(
            "{}: the network ends in {} outputs but the source task has {} classes",
            cfg.net.display(),
            fmt_shape(&outputs),
            full.classes.len()
        );
    }
    let source = match cfg.train_images {
        Some(n) if n < full.n => full.subset(n, cfg.seed)?,
        _ => full,
    };
    let val_count = (source.n as f64 * SOURCE_VAL_FRACTION).round() as usize;
    let (tr, val) = source.train_val_split(val_count, cfg.seed)?;
    let norm = Normalization::fit(&tr);
    let (tr, val) = (norm.applied(&tr), norm.applied(&val));
    let (_, test) = source_dataset(&cfg.source, &cfg.labels, data::Split::Test)?;
    let test = norm.applied(&test);

    let steps = tr.n.div_ceil(SOURCE_BATCH) * cfg.epochs;
    let net = Network::new(&spec, cfg.seed)?;
    let mut model = NetModel::new(net, Optimizer::adam(cfg.lr));
    let t0 = Instant::now();
    let history = train::fit(
        &mut model,
        Split::new(&tr.images, &tr.labels),
        Split::new(&val.images, &val.labels),
        &TrainConfig {
            epochs: cfg.epochs,
            batch_size: SOURCE_BATCH,
            lr: cfg.lr,
            schedule: Schedule::Cosine {
                total: steps,
                min_lr: cfg.lr / 100.0,
            },
            patience: None,
            seed: cfg.seed,
            ..TrainConfig::default()
        },
        obs,
    )?;
    let seconds = t0.elapsed().as_secs_f64();
    let (_, test_acc, _) =
        train::evaluate(&mut model, Split::new(&test.images, &test.labels), 256)?;
    let best = history
        .epochs
        .get(history.best_epoch.saturating_sub(1))
        .cloned()
        .context("training ran no epoch")?;
    let names = source.classes.join(", ");
    let meta = PretrainMeta {
        format: META_FORMAT.into(),
        weights: WEIGHTS_FILE.into(),
        source_domain: format!("{what}, 28x28 grayscale"),
        source_task: format!("tell {} classes apart: {names}", source.classes.len()),
        source_data: format!(
            "{} training images of those classes from data/{} ({} trained, {} validated, seeded split), tested on its {} test images of them",
            tr.n + val.n,
            cfg.source,
            tr.n,
            val.n,
            test.n
        ),
        source_dataset: cfg.source.clone(),
        source_labels: cfg.labels.clone(),
        classes: source.classes.clone(),
        backbone_end: BACKBONE_END.into(),
        epochs: cfg.epochs,
        best_epoch: history.best_epoch,
        seed: cfg.seed,
        lr: cfg.lr,
        batch_size: SOURCE_BATCH,
        norm_mean: norm.mean,
        norm_std: norm.std,
        source_val_accuracy: round4(best.val_metric("accuracy")),
        source_test_accuracy: round4(test_acc),
        train_seconds: (seconds * 10.0).round() / 10.0,
        command: format!(
            "tutor pretrain --net {} --source {} --labels {} --epochs {} --seed {} --lr {}",
            cfg.net.display(),
            cfg.source,
            cfg.labels
                .iter()
                .map(|l| l.to_string())
                .collect::<Vec<_>>()
                .join(","),
            cfg.epochs,
            cfg.seed,
            cfg.lr
        ),
        architecture,
    };
    Ok((model.net, meta, history))
}

fn round4(x: f64) -> f64 {
    (x * 1e4).round() / 1e4
}

/// Writes the weights and the metadata into `dir` (each file atomically). Returns the
/// metadata file's path.
pub fn save(net: &Network, meta: &PretrainMeta, dir: &Path) -> anyhow::Result<PathBuf> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create `{}`", dir.display()))?;
    net.save(dir.join(&meta.weights))?;
    let text = format!(
        "# Made by `{}`: a CNN pretrained on the source task of lesson 4.\n# The weights are in {}; see data/README.md.\n{}",
        meta.command,
        meta.weights,
        toml::to_string(meta).context("cannot write the metadata as TOML")?
    );
    let path = dir.join(META_FILE);
    crate::util::atomic::write_atomic(&path, text.as_bytes())?;
    Ok(path)
}
