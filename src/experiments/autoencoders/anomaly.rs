//! Anomaly detection by reconstruction error: an autoencoder trained on normal images only
//! rebuilds them well and anything else badly, so its per-image MSE is a score. Two cases:
//! clothing (Fashion-MNIST) mixed among test digits, and a digit class left out of training.
//! Each is shown as two score histograms with the threshold marked, the confusion matrix and
//! rates at that threshold, and the ROC curve with its AUC; the scores go to
//! `anomaly-scores.csv` so anyone can recompute the curve.

use std::fmt::Write as _;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use super::{
    autoencoder, mean, outputs, per_image_mse, pictures, train_live, Digits, Job, IMAGE, LR, SEED,
};
use crate::data::{self, Dataset};
use crate::experiments::common::{self, Budget};
use crate::experiments::kit::{self, metrics, params, Ctx, Emit, Experiment};
use crate::output::{DataFile, Mark, Matrix, Output, Plot, Series, SeriesStyle, Table};
use crate::train::roc::{self, Confusion};

/// How many clothing images are mixed among the 2,000 test digits.
const CLOTHING: usize = 400;
/// The automatic threshold flags this share of the normal validation images.
const AUTO_QUANTILE: f64 = 0.95;
const BINS: usize = 30;

params! {
    /// Parameters of `ae.anomaly`.
    pub struct AnomalyParams {
        net: String = "nets/lesson5_linear.toml", File, "the autoencoder's network file";
        threshold: f64 = 0.0, Float { min: 0.0, max: 1.0 },
            "flag images whose reconstruction MSE is at least this; 0 = the 95th percentile of the normal validation images' scores";
        case: String = "both", Choice(&["both", "clothing", "digit"]),
            "clothing among digits, a digit never seen in training, or both";
        unseen: i64 = 7, Int { min: 0, max: 9 }, "the digit left out of training in the second case";
        epochs: i64 = 5, Int { min: 1, max: 30 }, "passes over the training images";
        train_size: i64 = 5000, Int { min: 500, max: 12000 },
            "training images used (10% of them validate)";
        lr: f64 = LR;
        seed: i64 = SEED;
    }
}

metrics! {
    /// What `ae.anomaly` reports.
    pub enum AnomalyMetric {
        AnomalyAuc = "anomaly_auc",
        AnomalyAucUnseenDigit = "anomaly_auc_unseen_digit",
        Threshold = "threshold",
        Precision = "precision",
        Recall = "recall",
        Specificity = "specificity",
        F1 = "f1",
        Fpr = "fpr",
        PrecisionUnseenDigit = "precision_unseen_digit",
        RecallUnseenDigit = "recall_unseen_digit",
    }
}

/// Anomaly detection with a threshold the learner moves.
pub static ANOMALY: Experiment = Experiment {
    name: "ae.anomaly",
    summary: "Reconstruction error as an anomaly score: histograms, threshold, confusion matrix, ROC and AUC, for clothing among digits and an unseen digit",
    params: AnomalyParams::SPECS,
    metrics: AnomalyMetric::NAMES,
    long: true,
    run: |p, ctx| kit::typed(&ANOMALY, p, ctx, anomaly),
};

/// One case's scored test images, as trained: everything a report needs but the threshold.
struct Case {
    /// `clothing` or `unseen-digit`, as in the CSV.
    kind: &'static str,
    /// What the anomalies are, for titles.
    what: String,
    scores: Vec<f64>,
    labels: Vec<bool>,
    /// The automatic threshold, from the normal validation images' scores.
    auto_threshold: f64,
    /// The scored test images, and the test digits among them (first) for captions.
    images: Vec<f32>,
    digits: Dataset,
}

/// What one training run leaves behind: the loss curves and the scored cases.
struct Trained {
    curves: Plot,
    cases: Vec<Case>,
}

/// What the scores depend on: every parameter but the threshold, and the network file's text
/// (a learner may edit it between runs).
#[derive(PartialEq)]
struct Key {
    params: AnomalyParams,
    net_file: Vec<u8>,
}

impl Key {
    fn of(p: &AnomalyParams) -> Key {
        Key {
            params: AnomalyParams {
                threshold: 0.0,
                ..p.clone()
            },
            net_file: crate::util::files::read(std::path::Path::new(&p.net))
                .map(std::borrow::Cow::into_owned)
                .unwrap_or_default(),
        }
    }
}

/// The last run's scores: moving only the threshold redraws from them without training.
static CACHE: Mutex<Option<(Key, Arc<Trained>)>> = Mutex::new(None);

/// How many times `ae.anomaly` has trained its autoencoders (once per run that found no
/// cached scores): for tests.
static TRAININGS: AtomicUsize = AtomicUsize::new(0);

/// How many runs of [`ANOMALY`] have trained (the others reused the scores of the last run).
pub fn trainings() -> usize {
    TRAININGS.load(Ordering::SeqCst)
}

/// One case's scores with the threshold in force (given or automatic).
struct Scored<'a> {
    case: &'a Case,
    threshold: f64,
}

impl std::ops::Deref for Scored<'_> {
    type Target = Case;
    fn deref(&self) -> &Case {
        self.case
    }
}

fn anomaly(p: AnomalyParams, ctx: &mut Emit<'_, AnomalyMetric>) -> anyhow::Result<()> {
    let key = Key::of(&p);
    let cached = {
        let cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
        cache
            .as_ref()
            .filter(|(k, _)| *k == key)
            .map(|(_, t)| Arc::clone(t))
    };
    let trained = match cached {
        Some(t) => {
            ctx.show("curves", Output::Plot(t.curves.clone()));
            for case in &t.cases {
                report(ctx, &scored(case, p.threshold))?;
            }
            t
        }
        None => {
            // Not kept locked while training: that takes minutes.
            let t = Arc::new(train_cases(&p, ctx)?);
            *CACHE.lock().unwrap_or_else(|e| e.into_inner()) = Some((key, Arc::clone(&t)));
            t
        }
    };
    let mut csv = String::from("index,kind,label,score\n");
    for case in &trained.cases {
        for (i, (sc, &l)) in case.scores.iter().zip(&case.labels).enumerate() {
            let _ = writeln!(csv, "{i},{},{},{sc}", case.kind, u8::from(l));
        }
    }
    ctx.show(
        "csv",
        Output::File(DataFile {
            path: "anomaly-scores.csv".into(),
            summary: "every scored test image: index, kind (which case), label (1 = anomaly), score (reconstruction MSE)".into(),
            bytes: csv.into_bytes(),
        }),
    );
    Ok(())
}

/// `case` at the threshold given, or its automatic one when that is 0.
fn scored(case: &Case, given: f64) -> Scored<'_> {
    Scored {
        case,
        threshold: if given > 0.0 {
            given
        } else {
            case.auto_threshold
        },
    }
}

/// Trains an autoencoder for every case asked for and scores its test images, reporting each
/// case as soon as it is scored.
fn train_cases(p: &AnomalyParams, ctx: &mut Emit<'_, AnomalyMetric>) -> anyhow::Result<Trained> {
    TRAININGS.fetch_add(1, Ordering::SeqCst);
    let seed = p.seed as u64;
    let epochs = p.epochs as usize;
    let train_size = p.train_size as usize;
    let unseen = p.unseen as u8;
    let net = Path::new(&p.net);
    let cases: Vec<&str> = match p.case.as_str() {
        "both" => vec!["clothing", "digit"],
        c => vec![c],
    };
    let mut budget = Budget {
        done: 0,
        total: cases.len() * (train_size * 9 / 10).div_ceil(64) * epochs,
    };
    let mut plot = common::loss_plot(
        "Reconstruction loss per epoch: normal images only",
        epochs,
        "MSE",
    );
    let mut done = Vec::new();
    for c in cases {
        let full = data::mnist(data::Split::Train)?;
        let train_set = if c == "clothing" {
            full
        } else {
            let keep: Vec<u8> = (0..10).filter(|&d| d != unseen).collect();
            full.only_classes(&keep)?
        };
        let d = Digits::from(&train_set, train_size, seed)?;
        let mut model = autoencoder(net, seed, p.lr)?;
        let job = Job {
            name: if c == "clothing" {
                "all digits"
            } else {
                "digits but one"
            },
            x_train: &d.train.images,
            y_train: &d.train.images,
            x_val: &d.val.images,
            y_val: &d.val.images,
            epochs,
            lr: p.lr,
            seed,
            cost: 1,
        };
        train_live(
            ctx,
            &mut model,
            &mut plot,
            "curves",
            &mut budget,
            &job,
            false,
        )?;
        // Normal validation images fix the automatic threshold: no test image is looked at.
        let val_scores = per_image_mse(&outputs(&mut model, &d.val.images, IMAGE)?, &d.val.images);
        let (images, labels, what) = if c == "clothing" {
            let clothes = data::fashion(data::Split::Test)?.subset(CLOTHING, seed)?;
            let mut images = d.test.images.clone();
            images.extend_from_slice(&clothes.images);
            let mut labels = vec![false; d.test.n];
            labels.extend(std::iter::repeat_n(true, clothes.n));
            (images, labels, "clothing among digits".to_string())
        } else {
            let labels = d.test.labels.iter().map(|&l| l == unseen).collect();
            (
                d.test.images.clone(),
                labels,
                format!("the unseen digit {unseen}"),
            )
        };
        let scores = per_image_mse(&outputs(&mut model, &images, IMAGE)?, &images);
        let case = Case {
            kind: if c == "clothing" {
                "clothing"
            } else {
                "unseen-digit"
            },
            what,
            scores,
            labels,
            auto_threshold: quantile(&val_scores, AUTO_QUANTILE),
            images,
            digits: d.test,
        };
        report(ctx, &scored(&case, p.threshold))?;
        done.push(case);
    }
    Ok(Trained {
        curves: plot,
        cases: done,
    })
}

/// The `q` quantile of `v` (linear interpolation between order statistics, NumPy's default).
pub fn quantile(v: &[f64], q: f64) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    if s.is_empty() {
        return f64::NAN;
    }
    let pos = q.clamp(0.0, 1.0) * (s.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    s[lo] + (s[hi] - s[lo]) * (pos - lo as f64)
}

/// Histograms, confusion, rates and ROC for one case, and its metrics.
fn report(ctx: &mut Emit<'_, AnomalyMetric>, s: &Scored) -> anyhow::Result<()> {
    let key = s.kind;
    let clothing = key == "clothing";
    let (images, digits) = (&s.images, &s.digits);
    let auc = roc::auc(&s.scores, &s.labels);
    let c = Confusion::at(&s.scores, &s.labels, s.threshold);
    ctx.show(&format!("{key}-hist"), Output::Plot(histograms(s)));
    ctx.show(
        &format!("{key}-confusion"),
        Output::Matrix(Matrix {
            title: format!("{}: counts at threshold {:.4}", s.what, s.threshold),
            row_axis: "true".into(),
            col_axis: "flagged as".into(),
            row_labels: vec!["normal".into(), "anomaly".into()],
            col_labels: vec!["normal".into(), "anomaly".into()],
            values: vec![
                vec![c.tn as f64, c.fp as f64],
                vec![c.fn_ as f64, c.tp as f64],
            ],
        }),
    );
    let pct = |x: f64| format!("{:.1}%", 100.0 * x);
    ctx.show(
        &format!("{key}-rates"),
        Output::Table(Table {
            title: Some(format!(
                "{}: flagged when the score is at least {:.4}",
                s.what, s.threshold
            )),
            header: vec!["measure".into(), "formula".into(), "value".into()],
            rows: vec![
                vec![
                    "precision".into(),
                    "TP / (TP + FP)".into(),
                    pct(c.precision()),
                ],
                vec![
                    "recall (TPR)".into(),
                    "TP / (TP + FN)".into(),
                    pct(c.recall()),
                ],
                vec![
                    "specificity".into(),
                    "TN / (TN + FP)".into(),
                    pct(c.specificity()),
                ],
                vec!["FPR".into(), "FP / (FP + TN)".into(), pct(c.fpr())],
                vec![
                    "F1".into(),
                    "2TP / (2TP + FP + FN)".into(),
                    format!("{:.3}", c.f1()),
                ],
            ],
        }),
    );
    ctx.show(&format!("{key}-roc"), Output::Plot(roc_plot(s, auc)));
    // The worst-rebuilt normal digits and the best-rebuilt anomalies: where the score errs.
    let mut normal: Vec<usize> = (0..s.scores.len()).filter(|&i| !s.labels[i]).collect();
    normal.sort_by(|&a, &b| s.scores[b].total_cmp(&s.scores[a]));
    let mut odd: Vec<usize> = (0..s.scores.len()).filter(|&i| s.labels[i]).collect();
    odd.sort_by(|&a, &b| s.scores[a].total_cmp(&s.scores[b]));
    let shown: Vec<usize> = normal
        .iter()
        .take(5)
        .chain(odd.iter().take(5))
        .copied()
        .collect();
    ctx.show(
        &format!("{key}-hardest"),
        pictures(images, &shown, |i| {
            let who = if s.labels[i] {
                "anomaly".to_string()
            } else {
                format!("digit {}", digits.class_name(i))
            };
            format!("{who} {:.3}", s.scores[i])
        }),
    );
    use AnomalyMetric as M;
    if clothing {
        ctx.emit(M::AnomalyAuc, auc);
        ctx.emit(M::Precision, c.precision());
        ctx.emit(M::Recall, c.recall());
        ctx.emit(M::Threshold, s.threshold);
        ctx.emit(M::Specificity, c.specificity());
        ctx.emit(M::F1, c.f1());
        ctx.emit(M::Fpr, c.fpr());
    } else {
        ctx.emit(M::AnomalyAucUnseenDigit, auc);
        ctx.emit(M::PrecisionUnseenDigit, c.precision());
        ctx.emit(M::RecallUnseenDigit, c.recall());
    }
    let normal_mean = mean(&normal.iter().map(|&i| s.scores[i]).collect::<Vec<_>>());
    let odd_mean = mean(&odd.iter().map(|&i| s.scores[i]).collect::<Vec<_>>());
    ctx.show(
        &format!("{key}-summary"),
        Output::Text(format!(
            "{}: {} normal and {} anomalous test images; mean score {normal_mean:.4} vs {odd_mean:.4}. \
             AUC {auc:.3}: a random anomaly scores above a random normal image {:.1}% of the time.",
            s.what,
            normal.len(),
            odd.len(),
            100.0 * auc
        )),
    );
    Ok(())
}

/// Both classes' score histograms as step outlines (share of the class per bin), the
/// threshold marked.
fn histograms(s: &Scored) -> Plot {
    let hi = quantile(&s.scores, 0.995).max(s.threshold * 1.2);
    let width = hi / BINS as f64;
    let mut series = Vec::new();
    for (name, want) in [("normal", false), ("anomaly", true)] {
        let mut counts = vec![0usize; BINS];
        let mut total = 0;
        for (&sc, &l) in s.scores.iter().zip(&s.labels) {
            if l == want {
                counts[((sc / width) as usize).min(BINS - 1)] += 1;
                total += 1;
            }
        }
        let mut points = vec![(0.0, 0.0)];
        for (b, &n) in counts.iter().enumerate() {
            let share = n as f64 / total.max(1) as f64;
            points.push((b as f64 * width, share));
            points.push(((b + 1) as f64 * width, share));
        }
        points.push((hi, 0.0));
        series.push(Series {
            colour: None,
            name: format!("{name} ({total})"),
            points,
            style: SeriesStyle::Line,
        });
    }
    Plot {
        title: format!("{}: reconstruction error by class", s.what),
        x_label: "score: reconstruction MSE (last bin holds the rest)".into(),
        y_label: "share of the class".into(),
        x_log: false,
        series,
        marks: vec![Mark {
            label: format!("threshold {:.4}", s.threshold),
            x: s.threshold,
        }],
        x_range: Some((0.0, hi)),
    }
}

fn roc_plot(s: &Scored, auc: f64) -> Plot {
    let curve = roc::roc_curve(&s.scores, &s.labels);
    let c = Confusion::at(&s.scores, &s.labels, s.threshold);
    Plot {
        title: format!("{}: ROC curve, AUC {auc:.3}", s.what),
        x_label: "false-positive rate (1 - specificity)".into(),
        y_label: "true-positive rate (recall)".into(),
        x_log: false,
        series: vec![
            Series {
                colour: None,
                name: "autoencoder".into(),
                points: curve.iter().map(|p| (p.0, p.1)).collect(),
                style: SeriesStyle::Line,
            },
            Series {
                colour: None,
                name: "chance".into(),
                points: vec![(0.0, 0.0), (1.0, 1.0)],
                style: SeriesStyle::Line,
            },
            Series {
                colour: None,
                name: "threshold".into(),
                points: vec![(c.fpr(), c.recall())],
                style: SeriesStyle::Points,
            },
        ],
        marks: Vec::new(),
        x_range: Some((0.0, 1.0)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantile_interpolates_like_numpy() {
        // numpy.quantile([1, 2, 3, 4], 0.5) = 2.5; 0.95 -> 3 + 0.85 = 3.85.
        assert_eq!(quantile(&[4.0, 1.0, 3.0, 2.0], 0.5), 2.5);
        assert!((quantile(&[1.0, 2.0, 3.0, 4.0], 0.95) - 3.85).abs() < 1e-12);
    }
}
