//! Lesson 4's race: from scratch, frozen backbone and fine-tuned, trained side by side an epoch
//! at a time on the same few labelled target digits, averaged over draws, at two budgets.

use std::time::Instant;

use super::pretrain::{self, Pretrained};
use super::setup::{pretrained, target_data, Target3, BATCH, META_PARAM, SEED_PARAM, VAL_IMAGES};
use crate::data::Dataset;
use crate::experiments::common::{self, Budget};
use crate::experiments::kit::{self, metrics, params, Ctx, Emit, Experiment};
use crate::nn::summary::fmt_count;
use crate::nn::{LayerKind, Network, Optimizer};
use crate::output::{Output, Plot, Series, SeriesStyle, Table};
use crate::train::NetModel;
use crate::train::{self, EpochStats, Model, Observer, Snapshot, TrainConfig};

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

    /// Trains epoch `epoch` (from 1, of `epochs`) and draws its validation accuracy.
    #[allow(clippy::too_many_arguments)]
    fn epoch(
        &mut self,
        epoch: usize,
        epochs: usize,
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
                what: format!("{}, epoch {epoch}/{epochs}", self.what),
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
#[allow(clippy::too_many_arguments)]
fn run_budget(
    pre: &Pretrained,
    per_class: usize,
    label: &str,
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
            colour: None,
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
        format!("{label}: from scratch"),
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
        format!("{label}: new head on the frozen backbone"),
        lr,
    );
    let trained_head = head.model.net.param_counts().1;
    let mut finetune: Option<Track> = None;
    let mut shared = (0.0, 0.0);

    for epoch in 1..=epochs {
        crate::experiments::kit::check_cancel(ctx)?;
        scratch.epoch(epoch, epochs, seed, ctx, plot, budget)?;
        if epoch <= head_epochs {
            head.epoch(epoch, epochs, seed, ctx, plot, budget)?;
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
                format!("{label}: all three; fine-tuning every layer"),
                lr,
            );
            ft.start_here()?;
            head.start_here()?;
            head.improved = false;
            head.what = format!("{label}: all three; frozen backbone, head only");
            finetune = Some(ft);
        }
        head.epoch(epoch, epochs, seed, ctx, plot, budget)?;
        if let Some(ft) = finetune.as_mut() {
            ft.epoch(epoch, epochs, seed, ctx, plot, budget)?;
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
            // The progress line says which labelled set is training (and, per strategy, the
            // epoch), so a long run shows where it is.
            let label = if draws > 1 {
                format!("{k}/class, draw {} of {draws}", d + 1)
            } else {
                format!("{k}/class")
            };
            outcomes.push(run_budget(
                &pre,
                k,
                &label,
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
    fn mean_plot_averages_pointwise_and_spread_finds_the_range() {
        let plot = |ys: &[f64]| Plot {
            series: vec![Series {
                colour: None,
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
