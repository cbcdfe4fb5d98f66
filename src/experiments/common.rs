//! What every training experiment shares: data preparation, a training observer that draws
//! live loss curves into the context, the learning-rate finder as a plot, and the confusion
//! matrix. Lesson modules compose these; none of them touches `dfdx`.

use std::path::Path;

use crate::data::{Dataset, Normalization};
use crate::experiments::kit::{metrics, Ctx, Emit};
use crate::nn::{NetSpec, Network, Optimizer};
use crate::output::{Mark, Matrix, Output, Plot, Series, SeriesStyle};
use crate::train::net::NetClassifier;
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
pub fn classifier(net: &Path, seed: u64, lr: f64) -> anyhow::Result<NetClassifier> {
    let spec = NetSpec::load(net)?;
    let net = Network::new(&spec, seed)?;
    Ok(NetClassifier::new(net, Optimizer::adam(lr)))
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
            running: (0.0, 0),
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
    }

    fn cancelled(&self) -> bool {
        self.ctx.cancelled()
    }
}

/// An empty loss plot over `epochs` epochs.
pub fn loss_plot(title: &str, epochs: usize) -> Plot {
    Plot {
        title: title.to_string(),
        x_label: "epoch".into(),
        y_label: "cross-entropy loss".into(),
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
    model: &mut NetClassifier,
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
