//! Lesson 4: transfer learning from the digits 0-4 (source task) to the digits 5-9 (target
//! task) with a few labels per class: the pretrained model, its layers frozen and thawed, batch norm's
//! special case, a learning-rate range test on the head, and the race of three strategies
//! (from scratch, frozen backbone, fine-tuned) on the same small labelled set.

pub mod pretrain;

use std::path::Path;
use std::time::Instant;

use image::{Rgb, RgbImage};

use super::common::{self, Budget, FinderProgress, LrMetric};
use crate::data::{self, Dataset};
use crate::experiments::kit::{
    self, metrics, params, Ctx, Default, Emit, Experiment, ParamKind, ParamSpec,
};
use crate::nn::summary::{fmt_count, fmt_shape};
use crate::nn::{LayerKind, Network, Optimizer};
use crate::output::{Output, Picture, Plot, Series, SeriesStyle, Table};
use crate::train::net::NetModel;
use crate::train::{self, EpochStats, Model, Observer, Snapshot, TrainConfig};
use pretrain::Pretrained;

/// Where the lessons find the pretrained model, relative to the lesson file.
const META_DEFAULT: &str = "../data/pretrained/lesson4_backbone.toml";
/// Target images held out for validation (drawn before the labelled budget, never in it).
const VAL_IMAGES: usize = 500;
/// Mini-batch size for the small target sets.
const BATCH: usize = 16;

const META_PARAM: ParamSpec = ParamSpec {
    name: "pretrained",
    kind: ParamKind::File,
    default: Default::Str(META_DEFAULT),
    doc: "the pretrained model's metadata file (relative to the lesson)",
};

const SEED_PARAM: ParamSpec = ParamSpec {
    name: "seed",
    kind: ParamKind::Int { min: 0, max: 9999 },
    default: Default::Int(1),
    doc: "seed for the labelled images, the new head and the batches",
};

/// The pretrained model the `pretrained` parameter names.
fn pretrained(meta: &str) -> anyhow::Result<Pretrained> {
    Pretrained::load(Path::new(meta))
}

params! {
    /// Parameters of `transfer.source`.
    pub struct SourceParams {
        pretrained: String = META_PARAM;
    }
}

metrics! {
    /// What `transfer.source` reports.
    pub enum SourceMetric {
        SourceAccuracy = "source_accuracy",
        SourceRecordedAccuracy = "source_recorded_accuracy",
    }
}

/// The pretrained model: what it was trained on, its accuracy measured again now, and the
/// first layer's kernels.
pub static SOURCE: Experiment = Experiment {
    name: "transfer.source",
    summary:
        "The pretrained model: source data and task, its accuracy measured now, first-layer kernels",
    params: SourceParams::SPECS,
    metrics: SourceMetric::NAMES,
    long: false,
    run: |p, ctx| kit::typed(&SOURCE, p, ctx, source),
};

fn source(p: SourceParams, ctx: &mut Emit<'_, SourceMetric>) -> anyhow::Result<()> {
    let pre = pretrained(&p.pretrained)?;
    let m = &pre.meta;
    let test = pre.norm().applied(&pre.source_data(data::Split::Test)?);
    let mut model = NetModel::new(pre.source_network()?, Optimizer::adam(1e-3));
    let (_, acc, _) = train::evaluate(&mut model, common::split(&test), 256)?;
    let rows = [
        ("source domain", m.source_domain.clone()),
        ("source task", m.source_task.clone()),
        ("source data", m.source_data.clone()),
        (
            "training",
            format!(
                "{} epochs (kept epoch {}), Adam lr {:e} with a cosine schedule, batch {}, seed {}",
                m.epochs, m.best_epoch, m.lr, m.batch_size, m.seed
            ),
        ),
        (
            "input normalisation",
            format!("(pixel - {:.4}) / {:.4}", m.norm_mean, m.norm_std),
        ),
        (
            "test accuracy",
            format!(
                "{} when made; {} measured now on {} source test images",
                common::pct(m.source_test_accuracy),
                common::pct(acc),
                test.n
            ),
        ),
        ("made by", m.command.clone()),
    ];
    let mut text = format!("The pretrained model, {}:\n", file_name(&pre.weights));
    for (what, value) in rows {
        for (i, line) in wrap_words(&value, 88).iter().enumerate() {
            let label = if i == 0 { what } else { "" };
            text.push_str(&format!("  {label:<20} {line}\n"));
        }
    }
    ctx.show("about", Output::Text(text));
    ctx.show("kernels", Output::Pictures(first_kernels(&model.net)?));
    ctx.emit(SourceMetric::SourceAccuracy, acc);
    ctx.emit(SourceMetric::SourceRecordedAccuracy, m.source_test_accuracy);
    Ok(())
}

/// `text` in lines of at most `width` characters, broken at spaces (a longer word keeps its
/// own line).
fn wrap_words(text: &str, width: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    for word in text.split_whitespace() {
        match lines.last_mut() {
            Some(l) if l.chars().count() + 1 + word.chars().count() <= width => {
                l.push(' ');
                l.push_str(word);
            }
            _ => lines.push(word.to_string()),
        }
    }
    lines
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map_or_else(|| p.display().to_string(), |n| n.to_string_lossy().into())
}

/// The first conv layer's 3x3 kernels, each scaled to its own range (blue negative, red
/// positive) and enlarged so a pixel is visible.
fn first_kernels(net: &Network) -> anyhow::Result<Vec<Picture>> {
    let info = net
        .params()
        .into_iter()
        .find(|p| p.shape.len() == 4)
        .ok_or_else(|| anyhow::anyhow!("the network has no convolution"))?;
    let w = net.values(&info.name)?;
    let (o, kh, kw) = (info.shape[0], info.shape[2], info.shape[3]);
    let per = info.shape[1] * kh * kw;
    const SCALE: u32 = 2;
    Ok((0..o)
        .map(|k| {
            let vals = &w[k * per..k * per + kh * kw];
            let m = vals.iter().fold(1e-12f32, |a, v| a.max(v.abs()));
            let img = RgbImage::from_fn(kw as u32 * SCALE, kh as u32 * SCALE, |x, y| {
                let v = vals[(y / SCALE) as usize * kw + (x / SCALE) as usize] / m;
                let c = (255.0 * (1.0 - v.abs())) as u8;
                if v >= 0.0 {
                    Rgb([255, c, c])
                } else {
                    Rgb([c, c, 255])
                }
            });
            Picture {
                caption: format!("{}", k + 1),
                image: img,
            }
        })
        .collect())
}

params! {
    /// Parameters of `transfer.layers`.
    pub struct LayersParams {
        pretrained: String = META_PARAM;
        freeze_through: String = "features", Text,
            "freeze every layer up to this one; `none` trains everything";
    }
}

metrics! {
    /// What `transfer.layers` reports.
    pub enum LayersMetric {
        TrainableParams = "trainable_params",
        FrozenParams = "frozen_params",
        TrainableLayers = "trainable_layers",
        FrozenLayers = "frozen_layers",
    }
}

/// The layers of the pretrained network with a new head, frozen as asked.
pub static LAYERS: Experiment = Experiment {
    name: "transfer.layers",
    summary: "The network's layers with parameter counts and which are frozen",
    params: LayersParams::SPECS,
    metrics: LayersMetric::NAMES,
    long: false,
    run: |p, ctx| kit::typed(&LAYERS, p, ctx, layers),
};

fn layers(p: LayersParams, ctx: &mut Emit<'_, LayersMetric>) -> anyhow::Result<()> {
    let pre = pretrained(&p.pretrained)?;
    let mut net = pre.network(pre.target().1.len(), 0)?;
    let through = p.freeze_through.trim();
    if through != "none" {
        net.freeze_through(through).map_err(|_| {
            let names: Vec<&str> = pre.spec.layers.iter().map(|l| l.name.as_str()).collect();
            anyhow::anyhow!(
                "`freeze_through`: no layer \"{through}\"; the layers are {} (or `none`)",
                names.join(", ")
            )
        })?;
    }
    let s = net.summary()?;
    let rows = s
        .rows
        .iter()
        .map(|r| {
            let from = if pre.in_backbone(&r.name) {
                "pretrained"
            } else {
                "new (random)"
            };
            vec![
                format!("{} ({})", r.name, r.kind),
                fmt_shape(&r.out_shape),
                if r.params == 0 {
                    "--".into()
                } else {
                    fmt_count(r.params)
                },
                if r.params == 0 {
                    "".into()
                } else if r.trainable {
                    "trained".into()
                } else {
                    "FROZEN".into()
                },
                if r.params == 0 {
                    "".into()
                } else {
                    from.into()
                },
            ]
        })
        .collect();
    ctx.show(
        "layers",
        Output::Table(Table {
            title: Some(format!(
                "{}: {} parameters, {} trained, {} frozen",
                s.name,
                fmt_count(s.total_params),
                fmt_count(s.trainable_params),
                fmt_count(s.non_trainable_params())
            )),
            header: vec![
                "layer (type)".into(),
                "output shape".into(),
                "params".into(),
                "training".into(),
                "weights".into(),
            ],
            rows,
        }),
    );
    let with_params = s.rows.iter().filter(|r| r.params > 0);
    let trained_layers = with_params.clone().filter(|r| r.trainable).count();
    ctx.emit(LayersMetric::TrainableParams, s.trainable_params as f64);
    ctx.emit(LayersMetric::FrozenParams, s.non_trainable_params() as f64);
    ctx.emit(LayersMetric::TrainableLayers, trained_layers as f64);
    ctx.emit(
        LayersMetric::FrozenLayers,
        (with_params.count() - trained_layers) as f64,
    );
    Ok(())
}

/// Target data: a labelled budget, a validation set and the test set, all normalised the way
/// the backbone was trained.
struct Target3 {
    train: Dataset,
    val: Dataset,
    test: Dataset,
}

impl Target3 {
    fn classes(&self) -> usize {
        self.train.classes.len()
    }
}

/// Target images from the training file kept as the pool labelled budgets are drawn from; the
/// validation set and the extra test images come from the rest.
const POOL_IMAGES: usize = 2500;
/// The split of the target images into pool, validation and extra test images is fixed, so
/// every draw and every budget is scored on the same images.
const SPLIT_SEED: u64 = 0;

/// The labelled budget (`per_class` images of every target class drawn with `seed`), the
/// validation set, and the test set: the test split's target digits plus the training file's
/// target digits that are in neither the pool nor validation. No model trains on any of them.
fn target_data(pre: &Pretrained, per_class: usize, seed: u64) -> anyhow::Result<Target3> {
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

params! {
    /// Parameters of `transfer.batchnorm`.
    pub struct BatchnormParams {
        pretrained: String = META_PARAM;
        steps: i64 = 20, Int { min: 1, max: 200 }, "training steps on digits";
        seed: i64 = SEED_PARAM;
    }
}

metrics! {
    /// What `transfer.batchnorm` reports.
    pub enum BatchnormMetric {
        BnWeightChange = "bn_weight_change",
        BnStatsChangeTrainMode = "bn_stats_change_train_mode",
        BnStatsChangeEvalMode = "bn_stats_change_eval_mode",
    }
}

/// Batch norm's running statistics while the backbone is frozen: updated in training mode,
/// kept in evaluation mode.
pub static BATCHNORM: Experiment = Experiment {
    name: "transfer.batchnorm",
    summary: "A frozen backbone's batch-norm statistics: training mode moves them, evaluation mode keeps them",
    params: BatchnormParams::SPECS,
    metrics: BatchnormMetric::NAMES,
    long: false,
    run: |p, ctx| kit::typed(&BATCHNORM, p, ctx, batchnorm),
};

fn batchnorm(p: BatchnormParams, ctx: &mut Emit<'_, BatchnormMetric>) -> anyhow::Result<()> {
    let pre = pretrained(&p.pretrained)?;
    let seed = p.seed as u64;
    let steps = p.steps as usize;
    let data = target_data(&pre, 10, seed)?;
    let bn_layers: Vec<String> = pre
        .spec
        .layers
        .iter()
        .filter(|l| {
            matches!(
                l.kind,
                LayerKind::BatchNorm1d(_) | LayerKind::BatchNorm2d(_)
            )
        })
        .map(|l| l.name.clone())
        .collect();
    if bn_layers.is_empty() {
        anyhow::bail!("the pretrained network has no batch norm");
    }
    // Every batch-norm tensor of the backbone: before, after training mode, after eval mode.
    let names: Vec<String> = bn_layers
        .iter()
        .flat_map(|l| ["weight", "running_mean", "running_var"].map(|t| format!("{l}.{t}")))
        .collect();
    let read = |net: &Network| -> anyhow::Result<Vec<Vec<f32>>> {
        names.iter().map(|n| Ok(net.values(n)?)).collect()
    };
    let before = read(&pre.network(data.classes(), seed)?)?;
    let mut after = Vec::new();
    for bn_eval in [false, true] {
        let mut net = pre.network(data.classes(), seed)?;
        net.freeze_through(&pre.meta.backbone_end)?;
        for l in &bn_layers {
            net.set_layer_eval(l, bn_eval)?;
        }
        let mut model = NetModel::new(net, Optimizer::adam(1e-3));
        let split = common::split(&data.train);
        for s in 0..steps {
            crate::experiments::kit::check_cancel(ctx)?;
            let start = (s * BATCH) % data.train.n;
            let end = (start + BATCH).min(data.train.n);
            let idx: Vec<usize> = (start..end).collect();
            let mut xb = Vec::new();
            let targets = split.gather(&idx, &mut xb);
            model.train_step(&xb, idx.len(), &targets, 1e-3)?;
        }
        after.push(read(&model.net)?);
    }
    let max_change = |a: &[f32], b: &[f32]| {
        a.iter()
            .zip(b)
            .map(|(x, y)| f64::from((x - y).abs()))
            .fold(0.0, f64::max)
    };
    // Largest change of tensor `t` (0 weight, 1 mean, 2 var) of layer `l` in mode `m`.
    let change =
        |l: usize, t: usize, m: usize| max_change(&before[3 * l + t], &after[m][3 * l + t]);
    let rows = bn_layers
        .iter()
        .enumerate()
        .map(|(l, name)| {
            vec![
                name.clone(),
                format!("{:.4}", change(l, 0, 0).max(change(l, 0, 1))),
                format!("{:.4}", change(l, 1, 0)),
                format!("{:.4}", change(l, 2, 0)),
                format!("{:.4}", change(l, 1, 1)),
                format!("{:.4}", change(l, 2, 1)),
            ]
        })
        .collect();
    ctx.show(
        "stats",
        Output::Table(Table {
            title: Some(format!(
                "Largest change per channel after {steps} steps on digits 5-9, backbone frozen"
            )),
            header: vec![
                "layer".into(),
                "γ (frozen)".into(),
                "mean, training mode".into(),
                "variance, training mode".into(),
                "mean, eval mode".into(),
                "variance, eval mode".into(),
            ],
            rows,
        }),
    );
    let over = |t: usize, m: usize| {
        (0..bn_layers.len())
            .map(|l| change(l, t, m))
            .fold(0.0, f64::max)
    };
    let change_train = over(1, 0).max(over(2, 0));
    let change_eval = over(1, 1).max(over(2, 1));
    let weight_change = over(0, 0).max(over(0, 1));
    ctx.show(
        "summary",
        Output::Text(format!(
            "Running statistics moved by up to {change_train:.4} in training mode and {change_eval:.4} in evaluation mode; the frozen scales γ by {weight_change:.4}."
        )),
    );
    ctx.emit(BatchnormMetric::BnWeightChange, weight_change);
    ctx.emit(BatchnormMetric::BnStatsChangeTrainMode, change_train);
    ctx.emit(BatchnormMetric::BnStatsChangeEvalMode, change_eval);
    Ok(())
}

params! {
    /// Parameters of `transfer.head_lr`.
    pub struct HeadLrParams {
        pretrained: String = META_PARAM;
        labels_per_class: i64 = 3, Int { min: 1, max: 500 }, "labelled digits per class";
        seed: i64 = SEED_PARAM;
    }
}

/// The range test on the new head, over the frozen backbone's cached features.
pub static HEAD_LR: Experiment = Experiment {
    name: "transfer.head_lr",
    summary: "Learning-rate range test on the new head (frozen backbone, cached features)",
    params: HeadLrParams::SPECS,
    metrics: LrMetric::NAMES,
    long: true,
    run: |p, ctx| kit::typed(&HEAD_LR, p, ctx, head_lr),
};

fn head_lr(p: HeadLrParams, ctx: &mut Emit<'_, LrMetric>) -> anyhow::Result<()> {
    let pre = pretrained(&p.pretrained)?;
    let seed = p.seed as u64;
    let data = target_data(&pre, p.labels_per_class as usize, seed)?;
    let feats = pretrain::features(&mut pre.backbone()?, &data.train)?;
    let mut head = NetModel::new(
        Network::new(&pre.head_spec(data.classes())?, seed)?,
        Optimizer::adam(1e-3),
    );
    let mut budget = Budget {
        done: 0,
        total: train::lr_find::NUM_IT,
    };
    let mut obs = FinderProgress {
        ctx,
        budget: &mut budget,
        cost: 1,
    };
    let r = train::find_lr(
        &mut head,
        common::split(&feats),
        BATCH,
        (
            train::lr_find::START_LR,
            train::lr_find::END_LR,
            train::lr_find::NUM_IT,
        ),
        seed,
        &mut obs,
    )?;
    ctx.show(
        "plot",
        Output::Plot(common::lr_plot(
            "Range test on the new head (Adam, frozen backbone)",
            &r,
        )),
    );
    common::report_lr(
        ctx,
        &r,
        "To use one, set `lr` of the comparison below (Tab to it, then i to type a value).",
    )
}

params! {
    /// Parameters of `transfer.compare`.
    pub struct CompareParams {
        pretrained: String = META_PARAM;
        labels_per_class: i64 = 3, Int { min: 1, max: 400 },
            "labelled digits per class: the headline budget";
        draws: i64 = 3, Int { min: 1, max: 5 },
            "labelled sets drawn at the headline budget (results averaged)";
        more_labels: i64 = 100, Int { min: 0, max: 400 },
            "a second budget run after the first (0: none)";
        epochs: i64 = 20, Int { min: 2, max: 100 }, "epochs for every strategy";
        head_epochs: i64 = 10, Int { min: 1, max: 99 },
            "of those, the epochs a new head trains on the frozen backbone before the frozen and the fine-tuned model part ways";
        lr: f64 = 3e-3, Float { min: 1e-5, max: 0.1 },
            "Adam learning rate from scratch and for the head";
        finetune_divisor: f64 = 10.0, Float { min: 1.0, max: 100.0 },
            "when fine-tuning, the backbone learns at lr divided by this";
        bn_eval: bool = true, Bool,
            "keep the backbone's batch norm in evaluation mode while fine-tuning";
        seed: i64 = SEED_PARAM;
    }
}

metrics! {
    /// What `transfer.compare` reports. The strategies' accuracy and seconds at the second
    /// label budget (`more_labels`) are recorded with [`Emit::emit_at`], e.g.
    /// `finetune_accuracy_100`.
    pub enum CompareMetric {
        SourceAccuracy = "source_accuracy",
        LabelsPerClass = "labels_per_class",
        ScratchAccuracy = "scratch_accuracy",
        FrozenAccuracy = "frozen_accuracy",
        FinetuneAccuracy = "finetune_accuracy",
        ScratchSeconds = "scratch_seconds",
        FrozenSeconds = "frozen_seconds",
        FinetuneSeconds = "finetune_seconds",
    }
}

/// The centre of the lesson: three strategies on the same labelled digits.
pub static COMPARE: Experiment = Experiment {
    name: "transfer.compare",
    summary: "From scratch vs frozen pretrained backbone vs fine-tuned, on a few labels per class",
    params: CompareParams::SPECS,
    metrics: CompareMetric::NAMES,
    long: true,
    run: |p, ctx| kit::typed(&COMPARE, p, ctx, compare),
};

/// Collects one strategy's validation accuracy per epoch into the shared plot.
struct Curve<'a> {
    ctx: &'a mut dyn Ctx,
    plot: &'a mut Plot,
    series: usize,
    /// Epochs already drawn by an earlier phase of the same strategy.
    offset: usize,
    budget: &'a mut Budget,
    cost: Cost,
    what: String,
}

impl Observer for Curve<'_> {
    fn batch(&mut self, _step: usize, _total: usize, _loss: f64) {
        self.budget.done += self.cost.step;
        self.ctx
            .progress(self.budget.done, self.budget.total, &self.what);
    }
    fn epoch(&mut self, s: &EpochStats) {
        self.budget.done += self.cost.epoch;
        self.plot.series[self.series].points.push((
            (s.epoch + self.offset) as f64,
            100.0 * s.val_metric("accuracy"),
        ));
        self.ctx.show("curves", Output::Plot(self.plot.clone()));
    }
    fn cancelled(&self) -> bool {
        self.ctx.cancelled()
    }
}

/// One strategy's outcome.
struct Outcome {
    name: &'static str,
    /// Its metrics: accuracy and seconds.
    metric: (CompareMetric, CompareMetric),
    test: f64,
    val: f64,
    trained: usize,
    seconds: f64,
    note: String,
    /// Fine-tuning only: no epoch of it beat the head-only weights, which were kept.
    kept_head: bool,
}

/// Progress is counted in images passed through the CNN (forward and backward count three),
/// so that the ETA covers evaluation, which dominates when the labelled set is tiny. A head on
/// cached features costs a small fraction of that.
#[derive(Debug, Clone, Copy)]
struct Cost {
    step: usize,
    epoch: usize,
}

const HEAD_SHARE: usize = 50;

/// Images evaluated after every epoch: the validation set and the training-accuracy probe.
fn epoch_images(train: usize) -> usize {
    VAL_IMAGES + train.min(2000)
}

fn cnn_cost(train: usize) -> Cost {
    Cost {
        step: 3 * BATCH,
        epoch: epoch_images(train),
    }
}

fn head_cost(train: usize) -> Cost {
    Cost {
        step: 3 * BATCH / HEAD_SHARE,
        epoch: epoch_images(train) / HEAD_SHARE,
    }
}

/// The progress units of one draw at `train` labelled images with `test` test images.
fn draw_units(train: usize, test: usize, epochs: usize, head_epochs: usize) -> usize {
    let steps = train.div_ceil(BATCH);
    let per_epoch = |c: Cost| steps * c.step + c.epoch;
    let (cnn, head) = (cnn_cost(train), head_cost(train));
    epochs * per_epoch(cnn)
        + epochs * per_epoch(head)
        + (epochs - head_epochs) * per_epoch(cnn)
        // caching the features, and testing the two CNNs
        + (train + VAL_IMAGES + test)
        + 2 * test
}

/// One strategy trained an epoch at a time, so that all the strategies' curves grow side by
/// side in the chart. It keeps the weights of its best validation epoch (early stopping).
struct Track<'d> {
    model: NetModel,
    train: &'d Dataset,
    val: &'d Dataset,
    series: usize,
    cost: Cost,
    what: String,
    lr: f64,
    /// Validation loss and weights of the best epoch so far (or of the start).
    best: Option<(f64, Snapshot)>,
    best_val_accuracy: f64,
    /// Whether an epoch beat the starting point.
    improved: bool,
    seconds: f64,
}

impl<'d> Track<'d> {
    #[allow(clippy::too_many_arguments)]
    fn new(
        model: NetModel,
        train: &'d Dataset,
        val: &'d Dataset,
        series: usize,
        cost: Cost,
        what: String,
        lr: f64,
    ) -> Self {
        Track {
            model,
            train,
            val,
            series,
            cost,
            what,
            lr,
            best: None,
            best_val_accuracy: 0.0,
            improved: false,
            seconds: 0.0,
        }
    }

    /// Counts the current weights as the point to beat (a phase that continues another).
    fn start_here(&mut self) -> anyhow::Result<()> {
        let (loss, acc, _) = train::evaluate(&mut self.model, common::split(self.val), 256)?;
        self.best = Some((loss, self.model.snapshot()?));
        self.best_val_accuracy = acc;
        Ok(())
    }

    /// Trains epoch `epoch` (from 1) and draws its validation accuracy.
    fn epoch(
        &mut self,
        epoch: usize,
        seed: u64,
        ctx: &mut dyn Ctx,
        plot: &mut Plot,
        budget: &mut Budget,
    ) -> anyhow::Result<()> {
        let t0 = Instant::now();
        let cfg = TrainConfig {
            epochs: 1,
            batch_size: BATCH,
            lr: self.lr,
            // A new order of the examples every epoch.
            seed: seed.wrapping_mul(1000).wrapping_add(epoch as u64),
            ..TrainConfig::default()
        };
        let h = {
            let mut obs = Curve {
                ctx,
                plot,
                series: self.series,
                offset: epoch - 1,
                budget,
                cost: self.cost,
                what: self.what.clone(),
            };
            train::fit(
                &mut self.model,
                common::split(self.train),
                common::split(self.val),
                &cfg,
                &mut obs,
            )?
        };
        let s = &h.epochs[0];
        if self.best.as_ref().is_none_or(|(b, _)| s.val_loss < *b) {
            self.best = Some((s.val_loss, self.model.snapshot()?));
            self.best_val_accuracy = s.val_metric("accuracy");
            self.improved = true;
        }
        self.seconds += t0.elapsed().as_secs_f64();
        Ok(())
    }

    /// Puts back the weights of the best epoch.
    fn finish(&mut self) -> anyhow::Result<()> {
        if let Some((_, snap)) = &self.best {
            self.model.restore(snap)?;
        }
        Ok(())
    }
}

/// The three strategies on one labelled set (`per_class` images per class drawn with `seed`),
/// trained side by side an epoch at a time for `epochs` epochs each. The frozen and the
/// fine-tuned model share their first `head_epochs`: a new head on the frozen backbone. Then
/// the frozen model goes on training only its head, and the fine-tuned one trains every layer,
/// the backbone at a smaller rate. Each keeps its best validation epoch.
fn run_budget(
    pre: &Pretrained,
    per_class: usize,
    seed: u64,
    p: &CompareParams,
    ctx: &mut dyn Ctx,
    budget: &mut Budget,
    plot: &mut Plot,
) -> anyhow::Result<Vec<Outcome>> {
    let epochs = p.epochs as usize;
    let head_epochs = (p.head_epochs as usize).min(epochs - 1);
    let lr = p.lr;
    let divisor = p.finetune_divisor;
    let bn_eval = p.bn_eval;
    let data = target_data(pre, per_class, seed)?;
    let series = |plot: &mut Plot, name: &str| {
        plot.series.push(Series {
            name: name.to_string(),
            points: Vec::new(),
            style: SeriesStyle::Line,
        });
        plot.series.len() - 1
    };
    let scratch_series = series(plot, "from scratch");
    let frozen_series = series(plot, "frozen backbone");
    let ft_series = series(plot, "fine-tuned");

    // 1. The same architecture from random weights: every layer learns from the budget alone.
    let mut scratch = Track::new(
        NetModel::new(
            Network::new(&pre.target_spec(data.classes())?, seed)?,
            Optimizer::adam(lr),
        ),
        &data.train,
        &data.val,
        scratch_series,
        cnn_cost(data.train.n),
        format!("{per_class}/class: from scratch"),
        lr,
    );

    // 2. A new head on the frozen backbone. The backbone's features never change, so they are
    // computed once and the head trains on them: the same numbers as running the frozen
    // layers every step, many times faster.
    let t0 = Instant::now();
    let mut backbone = pre.backbone()?;
    let feats = Target3 {
        train: pretrain::features(&mut backbone, &data.train)?,
        val: pretrain::features(&mut backbone, &data.val)?,
        test: pretrain::features(&mut backbone, &data.test)?,
    };
    let cache_seconds = t0.elapsed().as_secs_f64();
    budget.done += data.train.n + data.val.n + data.test.n;
    let mut head = Track::new(
        NetModel::new(
            Network::new(&pre.head_spec(data.classes())?, seed)?,
            Optimizer::adam(lr),
        ),
        &feats.train,
        &feats.val,
        frozen_series,
        head_cost(data.train.n),
        format!("{per_class}/class: new head on the frozen backbone"),
        lr,
    );
    let trained_head = head.model.net.param_counts().1;
    let mut finetune: Option<Track> = None;
    let mut shared = (0.0, 0.0);

    for epoch in 1..=epochs {
        crate::experiments::kit::check_cancel(ctx)?;
        scratch.epoch(epoch, seed, ctx, plot, budget)?;
        if epoch <= head_epochs {
            head.epoch(epoch, seed, ctx, plot, budget)?;
            // Both pretrained strategies share this phase.
            plot.series[ft_series].points = plot.series[frozen_series].points.clone();
            continue;
        }
        if finetune.is_none() {
            // The fork: both go on from the best head so far.
            head.finish()?;
            shared = (head.seconds + cache_seconds, head.best_val_accuracy);
            let mut net = pre.network(data.classes(), seed)?;
            for info in head.model.net.params() {
                net.set_values(&info.name, &head.model.net.values(&info.name)?)?;
            }
            for l in &pre.spec.layers[..=pre.end] {
                net.set_lr_scale(&l.name, 1.0 / divisor)?;
                if bn_eval
                    && matches!(
                        l.kind,
                        LayerKind::BatchNorm1d(_) | LayerKind::BatchNorm2d(_)
                    )
                {
                    net.set_layer_eval(&l.name, true)?;
                }
            }
            // 3. Fine-tuning: the whole network from the pretrained backbone and that head,
            // the backbone at a smaller learning rate so it adapts without forgetting.
            let mut ft = Track::new(
                NetModel::new(net, Optimizer::adam(lr)),
                &data.train,
                &data.val,
                ft_series,
                cnn_cost(data.train.n),
                format!("{per_class}/class: all three; fine-tuning every layer"),
                lr,
            );
            ft.start_here()?;
            head.start_here()?;
            head.improved = false;
            head.what = format!("{per_class}/class: all three; frozen backbone, head only");
            finetune = Some(ft);
        }
        head.epoch(epoch, seed, ctx, plot, budget)?;
        if let Some(ft) = finetune.as_mut() {
            ft.epoch(epoch, seed, ctx, plot, budget)?;
        }
    }

    let mut out = Vec::new();
    scratch.finish()?;
    let trained = scratch.model.net.param_counts().1;
    let (_, test, _) = train::evaluate(&mut scratch.model, common::split(&data.test), 256)?;
    budget.done += data.test.n;
    out.push(Outcome {
        name: "from scratch",
        metric: (
            CompareMetric::ScratchAccuracy,
            CompareMetric::ScratchSeconds,
        ),
        kept_head: false,
        test,
        val: scratch.best_val_accuracy,
        trained,
        seconds: scratch.seconds,
        note: format!("every layer, lr {lr:.0e}"),
    });

    head.finish()?;
    let (_, test, _) = train::evaluate(&mut head.model, common::split(&feats.test), 256)?;
    out.push(Outcome {
        name: "frozen backbone",
        metric: (CompareMetric::FrozenAccuracy, CompareMetric::FrozenSeconds),
        kept_head: false,
        test,
        val: head.best_val_accuracy,
        trained: trained_head,
        seconds: head.seconds + cache_seconds,
        note: format!("head only, lr {lr:.0e}; features cached ({cache_seconds:.1} s)"),
    });

    let mut ft =
        finetune.ok_or_else(|| anyhow::anyhow!("fine-tuning needs head_epochs < epochs"))?;
    ft.finish()?;
    let (_, test, _) = train::evaluate(&mut ft.model, common::split(&data.test), 256)?;
    budget.done += data.test.n;
    out.push(Outcome {
        name: "fine-tuned",
        metric: (
            CompareMetric::FinetuneAccuracy,
            CompareMetric::FinetuneSeconds,
        ),
        kept_head: !ft.improved,
        test,
        val: ft.best_val_accuracy.max(shared.1),
        trained: ft.model.net.param_counts().1,
        seconds: shared.0 + ft.seconds,
        note: format!(
            "head {head_epochs} epochs, then every layer, backbone at lr {:.0e}{}",
            lr / divisor,
            if bn_eval {
                ", batch norm in eval mode"
            } else {
                ""
            }
        ),
    });
    Ok(out)
}

/// Mean of `xs`, and their smallest and largest value.
fn spread(xs: &[f64]) -> (f64, f64, f64) {
    let mean = xs.iter().sum::<f64>() / xs.len().max(1) as f64;
    let lo = xs.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = xs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (mean, lo, hi)
}

/// The pointwise mean of the same series over several plots (draws of the labelled set).
fn mean_plot(plots: &[Plot], title: String) -> Plot {
    let mut out = Plot {
        title,
        ..plots[0].clone()
    };
    for (i, s) in out.series.iter_mut().enumerate() {
        for (j, point) in s.points.iter_mut().enumerate() {
            let ys: Vec<f64> = plots
                .iter()
                .filter_map(|p| p.series.get(i)?.points.get(j).map(|q| q.1))
                .collect();
            point.1 = ys.iter().sum::<f64>() / ys.len().max(1) as f64;
        }
    }
    out
}

fn compare(p: CompareParams, ctx: &mut Emit<'_, CompareMetric>) -> anyhow::Result<()> {
    let pre = pretrained(&p.pretrained)?;
    let seed = p.seed as u64;
    let epochs = p.epochs as usize;
    let head_epochs = (p.head_epochs as usize).min(epochs - 1);
    let first = p.labels_per_class as usize;
    let draws = p.draws as usize;
    let more = p.more_labels as usize;
    // (labels per class, draws)
    let mut budgets = vec![(first, draws)];
    if more > 0 && more != first {
        budgets.push((more, 1));
    }
    let classes = pre.target().1;
    let probe = target_data(&pre, first, seed)?;
    let mut budget = Budget {
        done: 0,
        total: budgets
            .iter()
            .map(|&(k, d)| d * draw_units(classes.len() * k, probe.test.n, epochs, head_epochs))
            .sum(),
    };
    ctx.show(
        "data",
        Output::Text(format!(
            "Target task: tell the digits {} apart. Labelled training images: {first} per class, drawn {draws} times{}. Validation: {} other digits, for the curves and for keeping the best epoch. Test: {} digits no model trains on. Inputs normalised as the backbone was trained: (pixel - {:.3}) / {:.3}.",
            classes.iter().map(|k| k.to_string()).collect::<Vec<_>>().join(", "),
            if budgets.len() > 1 {
                format!(", then {more} per class")
            } else {
                String::new()
            },
            probe.val.n,
            probe.test.n,
            pre.meta.norm_mean,
            pre.meta.norm_std
        )),
    );
    let mut rows = Vec::new();
    let mut notes = Vec::new();
    for (i, &(k, draws)) in budgets.iter().enumerate() {
        let key = if i == 0 {
            "curves".to_string()
        } else {
            format!("curves-{k}")
        };
        let mut plots = Vec::new();
        let mut outcomes: Vec<Vec<Outcome>> = Vec::new();
        for d in 0..draws {
            let mut plot = Plot {
                title: if draws > 1 {
                    format!(
                        "Validation accuracy, {k} labelled digits per class (draw {} of {draws})",
                        d + 1
                    )
                } else {
                    format!("Validation accuracy, {k} labelled digits per class")
                },
                x_label: "epoch".into(),
                y_label: "validation accuracy (%)".into(),
                x_range: Some((0.0, epochs as f64)),
                ..Plot::default()
            };
            let mut keyed = Rekey {
                inner: &mut *ctx,
                from: "curves",
                to: &key,
            };
            outcomes.push(run_budget(
                &pre,
                k,
                seed + d as u64,
                &p,
                &mut keyed,
                &mut budget,
                &mut plot,
            )?);
            plots.push(plot);
        }
        if draws > 1 {
            ctx.show(
                &key,
                Output::Plot(mean_plot(
                    &plots,
                    format!("Validation accuracy, {k} labelled digits per class (mean of {draws} draws)"),
                )),
            );
        }
        for (s, first_draw) in outcomes[0].iter().enumerate() {
            let tests: Vec<f64> = outcomes.iter().map(|o| o[s].test).collect();
            let vals: Vec<f64> = outcomes.iter().map(|o| o[s].val).collect();
            let secs: Vec<f64> = outcomes.iter().map(|o| o[s].seconds).collect();
            let (test, lo, hi) = spread(&tests);
            let (accuracy, seconds) = first_draw.metric;
            // The second budget's figures are the same metrics at another setting.
            for (m, v) in [(accuracy, test), (seconds, spread(&secs).0)] {
                if i == 0 {
                    ctx.emit(m, v);
                } else {
                    ctx.emit_at(m, k, v);
                }
            }
            let kept = outcomes.iter().filter(|o| o[s].kept_head).count();
            rows.push(vec![
                k.to_string(),
                first_draw.name.to_string(),
                fmt_count(first_draw.trained),
                common::pct(spread(&vals).0),
                if draws > 1 {
                    format!(
                        "{} ({}-{})",
                        common::pct(test),
                        common::pct(lo),
                        common::pct(hi)
                    )
                } else {
                    common::pct(test)
                },
                format!("{:.1} s", spread(&secs).0),
            ]);
            if i == 0 {
                notes.push(format!("{:<16} {}", first_draw.name, first_draw.note));
            }
            if kept > 0 {
                notes.push(format!(
                    "{:<16} at {k} labels per class, in {kept} of {draws} draws no fine-tuning epoch beat the head alone, so the head-only weights were kept",
                    ""
                ));
            }
        }
    }
    ctx.show(
        "results",
        Output::Table(Table {
            title: Some(format!(
                "Test accuracy on {} digits, {epochs} epochs per strategy{}",
                probe.test.n,
                if draws > 1 {
                    format!(
                        "; at {first} labels per class the mean (lowest-highest) of {draws} draws"
                    )
                } else {
                    String::new()
                }
            )),
            header: vec![
                "labels/class".into(),
                "strategy".into(),
                "trained params".into(),
                "validation".into(),
                "test".into(),
                "time".into(),
            ],
            rows,
        }),
    );
    ctx.show("how", Output::Text(notes.join("\n")));
    ctx.emit(CompareMetric::LabelsPerClass, first as f64);
    ctx.emit(CompareMetric::SourceAccuracy, pre.meta.source_test_accuracy);
    Ok(())
}

/// Passes everything through to `inner`, showing the output keyed `from` under `to`: one
/// strategy runner draws into a chart per label budget.
struct Rekey<'a> {
    inner: &'a mut dyn Ctx,
    from: &'a str,
    to: &'a str,
}

impl Ctx for Rekey<'_> {
    fn show(&mut self, key: &str, output: Output) {
        let key = if key == self.from { self.to } else { key };
        self.inner.show(key, output);
    }
    fn metric(&mut self, name: &str, value: f64) {
        self.inner.metric(name, value);
    }
    fn progress(&mut self, done: usize, total: usize, what: &str) {
        self.inner.progress(done, total, what);
    }
    fn cancelled(&self) -> bool {
        self.inner.cancelled()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_wrap_at_spaces_within_the_width() {
        assert_eq!(
            wrap_words("tutor pretrain --net nets/x.toml --seed 4", 16),
            vec!["tutor pretrain", "--net", "nets/x.toml", "--seed 4"]
        );
        assert_eq!(
            wrap_words("a-very-long-word b", 4),
            vec!["a-very-long-word", "b"]
        );
        assert!(wrap_words("   ", 10).is_empty());
    }

    #[test]
    fn mean_plot_averages_pointwise_and_spread_finds_the_range() {
        let plot = |ys: &[f64]| Plot {
            series: vec![Series {
                name: "s".into(),
                points: ys.iter().enumerate().map(|(i, &y)| (i as f64, y)).collect(),
                style: SeriesStyle::Line,
            }],
            ..Plot::default()
        };
        let m = mean_plot(&[plot(&[1.0, 2.0]), plot(&[3.0, 6.0])], "m".into());
        assert_eq!(m.series[0].points, vec![(0.0, 2.0), (1.0, 4.0)]);
        let (mean, lo, hi) = spread(&[0.5, 0.9, 0.7]);
        assert!((mean - 0.7).abs() < 1e-12);
        assert_eq!((lo, hi), (0.5, 0.9));
    }
}
