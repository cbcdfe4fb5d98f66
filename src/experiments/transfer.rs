//! Lesson 4: transfer learning from the digits 0-4 (source task) to the digits 5-9 (target
//! task) with a few labels per class: the pretrained model, its layers frozen and thawed, batch norm's
//! special case, a learning-rate range test on the head, and the race of three strategies
//! (from scratch, frozen backbone, fine-tuned) on the same small labelled set.

pub mod pretrain;
pub mod race;
mod setup;

pub use race::COMPARE;

use std::path::Path;

use image::{Rgb, RgbImage};

use super::common::{self, Budget, FinderProgress, LrMetric};
use crate::data;
use crate::experiments::kit::{self, metrics, params, Ctx, Emit, Experiment};
use crate::nn::summary::{fmt_count, fmt_shape};
use crate::nn::{LayerKind, Network, Optimizer};
use crate::output::{Output, Picture, Table};
use crate::train::NetModel;
use crate::train::{self, Model};
use setup::{pretrained, target_data, BATCH, META_PARAM, SEED_PARAM};

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
        .flat_map(|l| ["weight", "running_mean", "running_var", "bias"].map(|t| format!("{l}.{t}")))
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
    // Largest change of tensor `t` (0 weight γ, 1 mean, 2 var, 3 bias β) of layer `l` in
    // mode `m`.
    let change =
        |l: usize, t: usize, m: usize| max_change(&before[4 * l + t], &after[m][4 * l + t]);
    let rows = bn_layers
        .iter()
        .enumerate()
        .map(|(l, name)| {
            vec![
                name.clone(),
                format!("{:.4}", change(l, 0, 0).max(change(l, 0, 1))),
                format!("{:.4}", change(l, 3, 0).max(change(l, 3, 1))),
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
                "β (frozen)".into(),
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
    // γ and β are both frozen: the metric is the larger of their changes.
    let weight_change = [0, 3]
        .iter()
        .map(|&t| over(t, 0).max(over(t, 1)))
        .fold(0.0, f64::max);
    ctx.show(
        "summary",
        Output::Text(format!(
            "Running statistics moved by up to {change_train:.4} in training mode and {change_eval:.4} in evaluation mode; the frozen scales γ and shifts β by {weight_change:.4}."
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
}
