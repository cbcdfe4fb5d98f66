//! `craft.search` and `craft.runs`: a small hyperparameter search (random and grid, on the same
//! budget) whose every run is recorded, as experiment trackers do, in a runs table kept in the
//! learner's folder (`learners/<name>/lesson-8-runs.json` under the tutor's home), so it is
//! still there after quitting and reopening the lesson.
//!
//! The file is a JSON list of [`Run`]s, written atomically after every run; a file that cannot
//! be read is set aside as `lesson-8-runs.json.unreadable` and a fresh table started, with a
//! note to the learner.

use std::path::{Path, PathBuf};
use std::time::Instant;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use super::{mnist, model};
use crate::experiments::common::{self, Budget};
use crate::experiments::kit::{self, metrics, params, Ctx, Emit, Experiment};
use crate::output::{Output, Plot, Series, SeriesStyle, Table};
use crate::train::{self, TrainConfig};
use crate::util::{atomic, home};

/// One recorded training run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Run {
    /// Run number in the table, from 1.
    pub id: usize,
    /// `random` or `grid`.
    pub search: String,
    pub lr: f64,
    pub batch: usize,
    pub epochs: usize,
    pub train_size: usize,
    pub seed: u64,
    pub val_accuracy: f64,
    /// `None` when the run's loss blew up (JSON has no NaN).
    pub val_loss: Option<f64>,
    pub seconds: f64,
    /// Validation loss after each epoch (finite values only).
    pub curve: Vec<f64>,
}

/// The runs file of the current learner.
pub fn runs_path() -> anyhow::Result<PathBuf> {
    Ok(home::learner_dir()?.join("lesson-8-runs.json"))
}

/// The runs kept in `path` (none if it does not exist); a note when an unreadable file was set
/// aside.
pub fn load(path: &Path) -> anyhow::Result<(Vec<Run>, Option<String>)> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((Vec::new(), None)),
        Err(e) => {
            return Err(anyhow::anyhow!(
                "cannot read the runs table {}: {e}",
                path.display()
            ))
        }
    };
    match serde_json::from_slice::<Vec<Run>>(&bytes) {
        Ok(runs) => Ok((runs, None)),
        Err(e) => {
            let aside = path.with_extension("json.unreadable");
            std::fs::rename(path, &aside)?;
            Ok((
                Vec::new(),
                Some(format!(
                    "The runs table {} could not be read ({e}); it was kept as {} and a new one started.",
                    path.display(),
                    aside.display()
                )),
            ))
        }
    }
}

/// Writes `runs` to `path` atomically.
pub fn save(path: &Path, runs: &[Run]) -> anyhow::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    atomic::write_atomic(path, &serde_json::to_vec_pretty(runs)?)?;
    Ok(())
}

/// Progress of a search: the runs share one budget; no curves (the table is the record).
struct Progress<'a> {
    ctx: &'a mut dyn Ctx,
    budget: &'a mut Budget,
    what: &'a str,
}

impl train::Observer for Progress<'_> {
    fn batch(&mut self, _step: usize, _total: usize, _loss: f64) {
        self.budget.done += 1;
        self.ctx
            .progress(self.budget.done, self.budget.total, self.what);
    }
    fn cancelled(&self) -> bool {
        self.ctx.cancelled()
    }
}

/// The columns the table can be sorted by.
pub const SORTS: &[&str] = &["accuracy", "lr", "batch", "time", "run"];

/// `runs` sorted by `by` (best accuracy, fastest, ... first).
pub fn sorted(runs: &[Run], by: &str) -> Vec<Run> {
    let mut v = runs.to_vec();
    match by {
        "accuracy" => v.sort_by(|a, b| b.val_accuracy.total_cmp(&a.val_accuracy)),
        "lr" => v.sort_by(|a, b| a.lr.total_cmp(&b.lr)),
        "batch" => v.sort_by_key(|r| r.batch),
        "time" => v.sort_by(|a, b| a.seconds.total_cmp(&b.seconds)),
        _ => v.sort_by_key(|r| r.id),
    }
    v
}

fn table(runs: &[Run], by: &str) -> Table {
    Table {
        title: Some(format!(
            "Every recorded run ({}), sorted by {by}; kept in your runs table",
            runs.len()
        )),
        header: [
            "run",
            "search",
            "learning rate",
            "batch",
            "epochs",
            "validation accuracy",
            "validation loss",
            "time",
        ]
        .map(String::from)
        .to_vec(),
        rows: sorted(runs, by)
            .iter()
            .map(|r| {
                vec![
                    r.id.to_string(),
                    r.search.clone(),
                    format!("{:.2e}", r.lr),
                    r.batch.to_string(),
                    r.epochs.to_string(),
                    common::pct(r.val_accuracy),
                    r.val_loss.map_or("diverged".into(), |v| format!("{v:.4}")),
                    format!("{:.1} s", r.seconds),
                ]
            })
            .collect(),
    }
}

/// The grid of `n` settings: learning rates 1e-4 to 1e-1 evenly in log space times the batch
/// sizes 32 and 128 (rounded up to cover `n`), cut to `n`.
pub fn grid(n: usize) -> Vec<(f64, usize)> {
    let per = n.div_ceil(2).max(1);
    let lrs: Vec<f64> = (0..per)
        .map(|i| {
            let t = if per == 1 {
                0.5
            } else {
                i as f64 / (per - 1) as f64
            };
            10f64.powf(-4.0 + 3.0 * t)
        })
        .collect();
    let mut out = Vec::new();
    for &b in &[32, 128] {
        for &lr in &lrs {
            out.push((lr, b));
        }
    }
    out.truncate(n);
    out
}

/// `n` random settings: learning rate log-uniform in 1e-4..1e-1, batch size one of 16, 32, 64,
/// 128.
pub fn random(n: usize, seed: u64) -> Vec<(f64, usize)> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..n)
        .map(|_| {
            let lr = 10f64.powf(rng.gen_range(-4.0..-1.0));
            let b = [16, 32, 64, 128][rng.gen_range(0..4)];
            (lr, b)
        })
        .collect()
}

params! {
    /// Parameters of `craft.search`.
    pub struct SearchParams {
        net: String = "nets/lesson8_mlp.toml", File, "the network searched over";
        runs: i64 = 6, Int { min: 1, max: 30 }, "runs per search (random and grid each)";
        epochs: i64 = 2, Int { min: 1, max: 10 }, "passes per run";
        train_size: i64 = 2000, Int { min: 200, max: 20000 }, "training digits";
        sort: String = "accuracy", Choice(SORTS), "the column the runs table is sorted by";
        seed: i64 = 1, Int { min: 0, max: 9999 }, "seed for the settings drawn, data and weights";
    }
}

metrics! {
    /// What `craft.search` reports.
    pub enum SearchMetric {
        Runs = "runs",
        StoredRuns = "stored_runs",
        BestValAccuracyRandom = "best_val_accuracy_random",
        BestValAccuracyGrid = "best_val_accuracy_grid",
    }
}

/// Random search against grid search on one budget, every run recorded.
pub static SEARCH: Experiment = Experiment {
    name: "craft.search",
    summary: "Random vs grid search over learning rate and batch size on one budget; every run kept in a runs table",
    params: SearchParams::SPECS,
    metrics: SearchMetric::NAMES,
    long: true,
    run: |p, ctx| kit::typed(&SEARCH, p, ctx, search),
};

fn search(p: SearchParams, ctx: &mut Emit<'_, SearchMetric>) -> anyhow::Result<()> {
    let seed = p.seed as u64;
    let n = p.runs as usize;
    let epochs = p.epochs as usize;
    let path = runs_path()?;
    let (mut stored, note) = load(&path)?;
    if let Some(note) = note {
        ctx.show("note", Output::Text(note));
    }
    let (data, _) = mnist(p.train_size as usize, seed)?;
    let plans: Vec<(&str, f64, usize)> = random(n, seed)
        .into_iter()
        .map(|(l, b)| ("random", l, b))
        .chain(grid(n).into_iter().map(|(l, b)| ("grid", l, b)))
        .collect();
    let steps: usize = plans
        .iter()
        .map(|(_, _, b)| data.train.n.div_ceil(*b) * epochs)
        .sum();
    let mut budget = Budget {
        done: 0,
        total: steps,
    };
    let mut best = [0.0f64; 2];
    for (k, (search, lr, batch)) in plans.iter().enumerate() {
        let mut m = model(&p.net, seed, *lr)?;
        let cfg = TrainConfig {
            epochs,
            batch_size: *batch,
            lr: *lr,
            seed,
            ..TrainConfig::default()
        };
        let t0 = Instant::now();
        let name = format!("{search} {}", k % n + 1);
        let h = {
            let mut obs = Progress {
                ctx: &mut *ctx,
                budget: &mut budget,
                what: &name,
            };
            train::fit(
                &mut m,
                common::split(&data.train),
                common::split(&data.val),
                &cfg,
                &mut obs,
            )
        };
        // A run whose loss blew up is recorded as such (NaN loss), with what is left of it.
        let h = match h {
            Ok(h) => h,
            Err(e) if e.is::<crate::util::cancel::Cancelled>() => return Err(e),
            Err(_) => {
                let (_, acc, _) = train::evaluate(&mut m, common::split(&data.val), 256)?;
                let mut h = train::History::default();
                h.epochs.push(train::EpochStats {
                    epoch: 1,
                    train_loss: f64::NAN,
                    train_terms: Vec::new(),
                    train_metrics: Vec::new(),
                    val_loss: f64::NAN,
                    val_terms: Vec::new(),
                    val_metrics: vec![("accuracy".into(), acc)],
                    seconds: 0.0,
                });
                h
            }
        };
        let last = h.epochs.last();
        let run = Run {
            id: stored.iter().map(|r| r.id).max().unwrap_or(0) + 1,
            search: search.to_string(),
            lr: *lr,
            batch: *batch,
            epochs,
            train_size: data.train.n,
            seed,
            val_accuracy: last.map_or(0.0, |e| e.val_metric("accuracy")),
            val_loss: last.map(|e| e.val_loss).filter(|v| v.is_finite()),
            seconds: t0.elapsed().as_secs_f64(),
            curve: h
                .epochs
                .iter()
                .map(|e| e.val_loss)
                .filter(|v| v.is_finite())
                .collect(),
        };
        let slot = usize::from(*search == "grid");
        best[slot] = best[slot].max(run.val_accuracy);
        stored.push(run);
        save(&path, &stored)?;
        ctx.show("runs", Output::Table(table(&stored, &p.sort)));
    }
    // Accuracy against learning rate, one series per search.
    let this = &stored[stored.len() - plans.len()..];
    let series = ["random", "grid"]
        .iter()
        .map(|s| Series {
            colour: None,
            name: format!("{s} search"),
            points: this
                .iter()
                .filter(|r| r.search == *s)
                .map(|r| (r.lr, r.val_accuracy))
                .collect(),
            style: SeriesStyle::Points,
        })
        .collect();
    ctx.show(
        "by-lr",
        Output::Plot(Plot {
            title: "Validation accuracy against learning rate (this search)".into(),
            x_label: "learning rate".into(),
            y_label: "validation accuracy".into(),
            x_log: true,
            series,
            marks: Vec::new(),
            x_range: None,
        }),
    );
    ctx.show(
        "summary",
        Output::Text(format!(
            "Best validation accuracy with {n} runs each: random search {}, grid search {}. \
             The grid tries only {} learning rates; the random search tries {n}. Runs are kept in {}.",
            common::pct(best[0]),
            common::pct(best[1]),
            n.div_ceil(2),
            path.display()
        )),
    );
    ctx.emit(SearchMetric::Runs, plans.len() as f64);
    ctx.emit(SearchMetric::StoredRuns, stored.len() as f64);
    ctx.emit(SearchMetric::BestValAccuracyRandom, best[0]);
    ctx.emit(SearchMetric::BestValAccuracyGrid, best[1]);
    Ok(())
}

params! {
    /// Parameters of `craft.runs`.
    pub struct RunsParams {
        sort: String = "accuracy", Choice(SORTS), "the column the runs table is sorted by";
    }
}

metrics! {
    /// What `craft.runs` reports.
    pub enum RunsMetric {
        StoredRuns = "stored_runs",
    }
}

/// The runs table as kept on disk, sorted as asked.
pub static RUNS: Experiment = Experiment {
    name: "craft.runs",
    summary: "Your runs table as kept on disk (every search run so far), sorted by any column",
    params: RunsParams::SPECS,
    metrics: RunsMetric::NAMES,
    long: false,
    run: |p, ctx| kit::typed(&RUNS, p, ctx, runs_shown),
};

fn runs_shown(p: RunsParams, ctx: &mut Emit<'_, RunsMetric>) -> anyhow::Result<()> {
    let path = runs_path()?;
    let (stored, note) = load(&path)?;
    if let Some(note) = note {
        ctx.show("note", Output::Text(note));
    }
    if stored.is_empty() {
        ctx.show(
            "empty",
            Output::Text(format!(
                "No runs recorded yet ({}): run the search above first.",
                path.display()
            )),
        );
    } else {
        ctx.show("runs", Output::Table(table(&stored, &p.sort)));
    }
    ctx.emit(RunsMetric::StoredRuns, stored.len() as f64);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(id: usize, acc: f64, lr: f64) -> Run {
        Run {
            id,
            search: "random".into(),
            lr,
            batch: 32,
            epochs: 1,
            train_size: 10,
            seed: 0,
            val_accuracy: acc,
            val_loss: Some(1.0),
            seconds: id as f64,
            curve: vec![1.0],
        }
    }

    #[test]
    fn runs_survive_a_round_trip_and_a_broken_file_is_set_aside() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join("runs.json");
        assert_eq!(load(&path).unwrap().0, vec![]);
        let runs = vec![run(1, 0.5, 1e-3), run(2, 0.9, 1e-2)];
        save(&path, &runs).unwrap();
        assert_eq!(load(&path).unwrap(), (runs.clone(), None));
        std::fs::write(&path, b"[{\"id\": 1,").unwrap();
        let (fresh, note) = load(&path).unwrap();
        assert!(fresh.is_empty() && note.unwrap().contains("could not be read"));
        assert!(path.with_extension("json.unreadable").exists());
    }

    #[test]
    fn sorting_and_the_two_searches() {
        let runs = vec![run(1, 0.5, 1e-2), run(2, 0.9, 1e-3), run(3, 0.7, 1e-4)];
        let ids = |by: &str| sorted(&runs, by).iter().map(|r| r.id).collect::<Vec<_>>();
        assert_eq!(ids("accuracy"), vec![2, 3, 1]);
        assert_eq!(ids("lr"), vec![3, 2, 1]);
        assert_eq!(ids("run"), vec![1, 2, 3]);
        let g = grid(6);
        assert_eq!(g.len(), 6);
        assert_eq!(g.iter().filter(|x| x.1 == 32).count(), 3);
        assert!((g[0].0 - 1e-4).abs() < 1e-12 && (g[2].0 - 0.1).abs() < 1e-9);
        let r = random(6, 1);
        assert_eq!(r, random(6, 1));
        assert!(r
            .iter()
            .all(|(lr, b)| (1e-4..0.1).contains(lr) && [16, 32, 64, 128].contains(b)));
        // Six random rates are six different values; the grid has three.
        let mut lrs: Vec<u64> = r.iter().map(|x| x.0.to_bits()).collect();
        lrs.dedup();
        assert_eq!(lrs.len(), 6);
    }
}
