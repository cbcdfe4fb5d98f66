//! What every training experiment shares: data preparation, a training observer that draws
//! live loss curves into the context, the learning-rate finder as a plot, and the confusion
//! matrix. Lesson modules compose these; none of them touches `dfdx`.

use std::path::Path;

use crate::data::{Dataset, Normalization};
use crate::experiments::kit::{metrics, Ctx, Emit};
use crate::nn::{NetSpec, Network, Optimizer};
use crate::output::{Mark, Matrix, Output, Plot, Series, SeriesStyle};
use crate::train::NetModel;
use crate::train::{self, EpochStats, LrFind, Observer, Split};

/// Training, validation and test sets, normalised with the training set's statistics.
pub struct Prepared {
    pub train: Dataset,
    pub val: Dataset,
    pub test: Dataset,
    pub norm: Normalization,
}

impl Prepared {
    /// Holds out `val_fraction` of `train` (seeded) and normalises all three sets.
    pub fn new(
        train: &Dataset,
        test: &Dataset,
        val_fraction: f64,
        seed: u64,
    ) -> anyhow::Result<Self> {
        let val_count = ((train.n as f64) * val_fraction).round() as usize;
        let (tr, val) = train.train_val_split(val_count, seed)?;
        let norm = Normalization::fit(&tr);
        Ok(Prepared {
            train: norm.applied(&tr),
            val: norm.applied(&val),
            test: norm.applied(test),
            norm,
        })
    }
}

/// A dataset as the loop's split.
pub fn split(d: &Dataset) -> Split<'_> {
    Split::new(&d.images, &d.labels)
}

/// Builds a network from its file with Adam at `lr`.
pub fn classifier(net: &Path, seed: u64, lr: f64) -> anyhow::Result<NetModel> {
    let spec = NetSpec::load(net)?;
    let net = Network::new(&spec, seed)?;
    Ok(NetModel::new(net, Optimizer::adam(lr)))
}

/// Progress in units shared by several phases of one experiment, so the ETA the learner sees
/// covers the whole run: each phase adds its own units at its own cost per step.
#[derive(Debug, Clone)]
pub struct Budget {
    pub done: usize,
    pub total: usize,
}

/// Draws live curves for one model into a shared plot and reports progress.
pub struct Live<'a> {
    pub ctx: &'a mut dyn Ctx,
    pub plot: &'a mut Plot,
    pub plot_key: &'a str,
    /// Prefix of the series names, e.g. "CNN".
    pub name: &'a str,
    pub budget: &'a mut Budget,
    /// Progress units per batch.
    pub cost: usize,
    pub batches_per_epoch: usize,
    pub epochs: usize,
    /// When set, every per-epoch validation metric is drawn too, each in its own plot (under
    /// `<plot_key>-<metric>`, its axis titled with the metric's name).
    pub draw_metrics: bool,
    metric_plots: Vec<(String, Plot)>,
    running: (f64, usize),
}

impl<'a> Live<'a> {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        ctx: &'a mut dyn Ctx,
        plot: &'a mut Plot,
        plot_key: &'a str,
        name: &'a str,
        budget: &'a mut Budget,
        cost: usize,
        batches_per_epoch: usize,
        epochs: usize,
    ) -> Self {
        for suffix in ["train", "validation"] {
            plot.series.push(Series {
                colour: None,
                name: format!("{name} {suffix}"),
                points: Vec::new(),
                style: if suffix == "train" {
                    SeriesStyle::Line
                } else {
                    SeriesStyle::Points
                },
            });
        }
        Live {
            ctx,
            plot,
            plot_key,
            name,
            budget,
            cost,
            batches_per_epoch,
            epochs,
            draw_metrics: false,
            metric_plots: Vec::new(),
            running: (0.0, 0),
        }
    }

    /// Adds the epoch's validation metrics to their plots and shows them.
    fn draw_metric_curves(&mut self, s: &EpochStats) {
        for (metric, value) in &s.val_metrics {
            let key = format!("{}-{}", self.plot_key, slug(metric));
            let i = match self.metric_plots.iter().position(|(k, _)| *k == key) {
                Some(i) => i,
                None => {
                    let plot = Plot {
                        title: format!("Validation {metric} per epoch"),
                        x_label: "epoch".into(),
                        y_label: metric.clone(),
                        x_log: false,
                        series: vec![Series {
                            colour: None,
                            name: format!("{} validation", self.name),
                            points: Vec::new(),
                            style: SeriesStyle::Line,
                        }],
                        marks: Vec::new(),
                        x_range: Some((0.0, self.epochs as f64)),
                    };
                    self.metric_plots.push((key.clone(), plot));
                    self.metric_plots.len() - 1
                }
            };
            let plot = &mut self.metric_plots[i].1;
            plot.series[0].points.push((s.epoch as f64, *value));
            self.ctx.show(&key, Output::Plot(plot.clone()));
        }
    }

    fn series(&mut self, suffix: &str) -> &mut Series {
        let name = format!("{} {suffix}", self.name);
        let i = self
            .plot
            .series
            .iter()
            .position(|s| s.name == name)
            .unwrap_or(0);
        &mut self.plot.series[i]
    }
}

/// How many points a train curve gets per epoch.
const POINTS_PER_EPOCH: usize = 8;

impl Observer for Live<'_> {
    fn batch(&mut self, step: usize, _total: usize, loss: f64) {
        self.budget.done += self.cost;
        self.running.0 += loss;
        self.running.1 += 1;
        let every = (self.batches_per_epoch / POINTS_PER_EPOCH).max(1);
        if step.is_multiple_of(every) {
            let x = step as f64 / self.batches_per_epoch as f64;
            let mean = self.running.0 / self.running.1 as f64;
            self.running = (0.0, 0);
            self.series("train").points.push((x, mean));
            self.ctx
                .show(self.plot_key, Output::Plot(self.plot.clone()));
        }
        let epoch = (step - 1) / self.batches_per_epoch.max(1) + 1;
        self.ctx.progress(
            self.budget.done,
            self.budget.total,
            &format!("{} epoch {epoch}/{}", self.name, self.epochs),
        );
    }

    fn epoch(&mut self, s: &EpochStats) {
        self.series("validation")
            .points
            .push((s.epoch as f64, s.val_loss));
        self.ctx
            .show(self.plot_key, Output::Plot(self.plot.clone()));
        if self.draw_metrics {
            self.draw_metric_curves(s);
        }
    }

    fn cancelled(&self) -> bool {
        self.ctx.cancelled()
    }
}

/// `PSNR (dB)` as `psnr-db`: a metric name as part of an output key.
fn slug(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    out.trim_end_matches('-').to_string()
}

/// An empty loss plot over `epochs` epochs; `loss` names what is minimised (the axis title,
/// e.g. an objective's [`crate::nn::Objective::describe`]).
pub fn loss_plot(title: &str, epochs: usize, loss: &str) -> Plot {
    Plot {
        title: title.to_string(),
        x_label: "epoch".into(),
        y_label: format!("{loss} loss"),
        x_log: false,
        series: Vec::new(),
        marks: Vec::new(),
        x_range: Some((0.0, epochs as f64)),
    }
}

/// Reports LR-finder progress into the shared budget.
pub struct FinderProgress<'a> {
    pub ctx: &'a mut dyn Ctx,
    pub budget: &'a mut Budget,
    pub cost: usize,
}

impl Observer for FinderProgress<'_> {
    fn batch(&mut self, step: usize, total: usize, _loss: f64) {
        self.budget.done += self.cost;
        self.ctx.progress(
            self.budget.done,
            self.budget.total,
            &format!("learning-rate finder {step}/{total}"),
        );
    }
    fn cancelled(&self) -> bool {
        self.ctx.cancelled()
    }
}

/// The range test as a plot: smoothed loss against the learning rate (log axis), with the
/// suggestions marked. Losses past three times the starting loss are left out so the
/// interesting part is not squashed by the explosion at the end.
pub fn lr_plot(title: &str, r: &LrFind) -> Plot {
    let first = r.losses.first().copied().unwrap_or(1.0);
    let points = r
        .lrs
        .iter()
        .zip(&r.losses)
        .filter(|(_, l)| l.is_finite() && **l <= 3.0 * first)
        .map(|(a, b)| (*a, *b))
        .collect();
    let mut marks = Vec::new();
    if let Some(s) = r.suggestions {
        marks.push(Mark {
            label: format!("valley {:.1e}", s.valley),
            x: s.valley,
        });
        marks.push(Mark {
            label: format!("steep {:.1e}", s.steep),
            x: s.steep,
        });
        marks.push(Mark {
            label: format!("min/10 {:.1e}", s.minimum_tenth),
            x: s.minimum_tenth,
        });
    }
    Plot {
        title: title.to_string(),
        x_label: "learning rate (log scale)".into(),
        y_label: "smoothed loss".into(),
        x_log: true,
        series: vec![Series {
            colour: None,
            name: "loss".into(),
            points,
            style: SeriesStyle::Line,
        }],
        marks,
        x_range: None,
    }
}

/// Runs the range test on `model` over `data` (weights restored afterwards).
pub fn find_lr(
    model: &mut NetModel,
    data: &Dataset,
    seed: u64,
    ctx: &mut dyn Ctx,
    budget: &mut Budget,
    cost: usize,
) -> anyhow::Result<LrFind> {
    let mut obs = FinderProgress { ctx, budget, cost };
    train::find_lr(
        model,
        split(data),
        64,
        (
            train::lr_find::START_LR,
            train::lr_find::END_LR,
            train::lr_find::NUM_IT,
        ),
        seed,
        &mut obs,
    )
}

metrics! {
    /// What a learning-rate range test reports: its three suggestions.
    pub enum LrMetric {
        LrValley = "lr_valley",
        LrSteep = "lr_steep",
        LrMinimumTenth = "lr_minimum_tenth",
    }
}

/// Shows the range test's three suggestions (with `note` on a second line) under
/// `suggestions` and records them as [`LrMetric`]s.
pub fn report_lr(ctx: &mut Emit<'_, LrMetric>, r: &LrFind, note: &str) -> anyhow::Result<()> {
    let s = r
        .suggestions
        .ok_or_else(|| anyhow::anyhow!("the sweep was too short to suggest a learning rate"))?;
    ctx.show(
        "suggestions",
        Output::Text(format!(
            "valley {:.2e} (the default)   steep {:.2e}   minimum/10 {:.2e}\n{note}",
            s.valley, s.steep, s.minimum_tenth
        )),
    );
    ctx.emit(LrMetric::LrValley, s.valley);
    ctx.emit(LrMetric::LrSteep, s.steep);
    ctx.emit(LrMetric::LrMinimumTenth, s.minimum_tenth);
    Ok(())
}

/// The confusion matrix of `preds` against `data`'s labels, in percent of each true class.
pub fn confusion(title: &str, data: &Dataset, preds: &[u8]) -> Matrix {
    let k = data.classes.len();
    let mut counts = vec![vec![0.0; k]; k];
    for (&y, &p) in data.labels.iter().zip(preds) {
        counts[y as usize][(p as usize).min(k - 1)] += 1.0;
    }
    Matrix {
        title: title.to_string(),
        row_axis: "true class".into(),
        col_axis: "predicted class".into(),
        row_labels: data.classes.clone(),
        col_labels: data.classes.clone(),
        values: counts,
    }
}

/// Accuracy of `preds` against `labels`.
pub fn accuracy(preds: &[u8], labels: &[u8]) -> f64 {
    let right = preds.iter().zip(labels).filter(|(p, y)| p == y).count();
    right as f64 / labels.len().max(1) as f64
}

/// Percent with one decimal.
pub fn pct(x: f64) -> String {
    format!("{:.1}%", 100.0 * x)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiments::kit::Recorder;

    #[test]
    fn live_draws_each_metric_under_its_own_axis_title() {
        let mut ctx = Recorder::default();
        let mut plot = loss_plot("Loss", 2, "MSE");
        let mut budget = Budget { done: 0, total: 4 };
        let mut live = Live::new(&mut ctx, &mut plot, "loss", "AE", &mut budget, 1, 2, 2);
        live.draw_metrics = true;
        for epoch in 1..=2 {
            live.epoch(&EpochStats {
                epoch,
                train_loss: 1.0,
                train_terms: vec![1.0],
                train_metrics: vec![],
                val_loss: 0.5,
                val_terms: vec![0.5],
                val_metrics: vec![("PSNR (dB)".into(), 10.0 * epoch as f64)],
                seconds: 0.1,
            });
        }
        let (key, out) = &ctx.outputs[1];
        assert_eq!(key, "loss-psnr-db");
        let Output::Plot(p) = out else {
            panic!("a plot")
        };
        assert_eq!(p.y_label, "PSNR (dB)");
        assert_eq!(p.series[0].points, vec![(1.0, 10.0), (2.0, 20.0)]);
        assert_eq!(plot.y_label, "MSE loss");
    }
}
