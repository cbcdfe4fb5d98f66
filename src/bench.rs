//! `tutor bench`: the speed of every model the lessons train, as two figures each: one training
//! step on a fixed batch (`nn::bench`, at the batch size the lesson trains with) and the full
//! default training run, timed by running the lesson's experiment with its default parameters
//! (the experiment's own seconds metric when it trains several models, its wall time
//! otherwise). `bench/` holds the PyTorch twins of both figures and says how to compare.

use std::time::Instant;

use anyhow::Context;

use crate::experiments;
use crate::nn::bench::{bench_net, BenchResult};
use crate::nn::NetSpec;

/// A model a lesson trains, and where its full run is timed.
#[derive(Debug, Clone, Copy)]
pub struct LessonModel {
    pub lesson: u8,
    /// The network file's stem under `nets/`.
    pub net: &'static str,
    /// The batch size the lesson trains it with.
    pub batch: usize,
    /// The experiment whose default run trains it.
    pub experiment: &'static str,
    /// The experiment's metric with this model's training seconds; `None`: the experiment's
    /// wall time (it trains this model alone, or with the others sharing its run).
    pub seconds_metric: Option<&'static str>,
}

const fn m(
    lesson: u8,
    net: &'static str,
    batch: usize,
    experiment: &'static str,
    seconds_metric: Option<&'static str>,
) -> LessonModel {
    LessonModel {
        lesson,
        net,
        batch,
        experiment,
        seconds_metric,
    }
}

/// Every model the lessons train (lesson 9's VGG16 and AlexNet are only inspected).
pub const MODELS: &[LessonModel] = &[
    m(3, "lesson3_mlp", 64, "mnist.compare", Some("mlp_seconds")),
    m(3, "lesson3_cnn", 64, "mnist.compare", Some("cnn_seconds")),
    m(
        4,
        "lesson4_cnn",
        16,
        "transfer.compare",
        Some("scratch_seconds"),
    ),
    m(5, "lesson5_linear", 64, "ae.linear", None),
    m(5, "lesson5_conv", 64, "ae.conv", None),
    m(5, "lesson5_upsample", 64, "ae.conv", None),
    m(6, "lesson6_localizer", 32, "det.localize", None),
    m(
        6,
        "lesson6_detector",
        16,
        "det.detect",
        Some("focal_seconds"),
    ),
    m(7, "lesson7_unet", 8, "seg.compare", Some("unet_seconds")),
    m(
        7,
        "lesson7_noskip",
        8,
        "seg.compare",
        Some("noskip_seconds"),
    ),
    m(8, "lesson8_cnn", 64, "craft.batchnorm", None),
    m(8, "lesson8_cnn_bn", 64, "craft.batchnorm", None),
    m(9, "lesson9_plain", 64, "arch.resnet", Some("plain_seconds")),
    m(
        9,
        "lesson9_resnet",
        64,
        "arch.resnet",
        Some("resnet_seconds"),
    ),
    m(9, "lesson9_se", 64, "arch.se", Some("se_seconds")),
    m(9, "lesson9_nose", 64, "arch.se", Some("no_se_seconds")),
];

/// A full default run of one experiment: its wall time, the cores it kept busy and every
/// metric it reported.
#[derive(Debug, Clone)]
pub struct FullRun {
    pub experiment: String,
    pub wall_seconds: f64,
    /// The process's CPU seconds (every thread, user and system) over the run's wall
    /// seconds: 2.0 is both cores busy throughout. `None` where the OS clock is not read
    /// (outside Linux).
    pub cores: Option<f64>,
    pub metrics: std::collections::BTreeMap<String, f64>,
}

/// CPU seconds used so far by every thread of this process (`None` outside Linux).
fn process_cpu_seconds() -> Option<f64> {
    #[cfg(target_os = "linux")]
    {
        let t = rustix::time::clock_gettime(rustix::time::ClockId::ProcessCPUTime);
        Some(t.tv_sec as f64 + t.tv_nsec as f64 * 1e-9)
    }
    #[cfg(not(target_os = "linux"))]
    {
        None
    }
}

/// Runs experiment `name` with its defaults and times it.
pub fn full_run(name: &str) -> anyhow::Result<FullRun> {
    let e = experiments::find(name).with_context(|| format!("no experiment `{name}`"))?;
    let t0 = Instant::now();
    let cpu0 = process_cpu_seconds();
    let r = experiments::run_recorded(e, &[])
        .with_context(|| format!("Failed to run `{name}` with its defaults"))?;
    let wall_seconds = t0.elapsed().as_secs_f64();
    let cores = cpu0
        .zip(process_cpu_seconds())
        .map(|(a, b)| (b - a) / wall_seconds.max(1e-9));
    Ok(FullRun {
        experiment: name.to_string(),
        wall_seconds,
        cores,
        metrics: r.metrics,
    })
}

/// One model's figures.
#[derive(Debug, Clone)]
pub struct ModelBench {
    pub model: LessonModel,
    pub step: BenchResult,
    /// The full run's seconds for this model, when full runs were asked for.
    pub full_seconds: Option<f64>,
    /// The cores the full run's experiment kept busy (for all the models it trains).
    pub full_cores: Option<f64>,
}

/// Benchmarks the models whose file stem contains `filter` (all with `None`): a step median over
/// `steps` steps each, then (with `full`) each distinct experiment once. `say` hears each
/// figure as it comes.
pub fn run(
    filter: Option<&str>,
    steps: usize,
    full: bool,
    mut say: impl FnMut(&str),
) -> anyhow::Result<Vec<ModelBench>> {
    let chosen: Vec<LessonModel> = MODELS
        .iter()
        .filter(|m| filter.is_none_or(|f| m.net.contains(f)))
        .copied()
        .collect();
    if chosen.is_empty() {
        anyhow::bail!(
            "no lesson model matches `{}` (they are: {})",
            filter.unwrap_or(""),
            MODELS.iter().map(|m| m.net).collect::<Vec<_>>().join(", ")
        );
    }
    let mut out = Vec::new();
    for m in chosen {
        let path = format!("nets/{}.toml", m.net);
        let spec = NetSpec::load(&path).with_context(|| format!("Failed to load `{path}`"))?;
        let step = bench_net(&spec, m.net, m.batch, steps)?;
        say(&format!("lesson {}: {step}", m.lesson));
        out.push(ModelBench {
            model: m,
            step,
            full_seconds: None,
            full_cores: None,
        });
    }
    if full {
        let mut runs: Vec<FullRun> = Vec::new();
        for b in &mut out {
            let name = b.model.experiment;
            if !runs.iter().any(|r| r.experiment == name) {
                let r = full_run(name)?;
                let cores = r
                    .cores
                    .map_or(String::new(), |c| format!(", {c:.2} cores busy"));
                say(&format!(
                    "{name} with defaults: {:.1} s wall{cores}",
                    r.wall_seconds
                ));
                runs.push(r);
            }
            let r = runs
                .iter()
                .find(|r| r.experiment == name)
                .context("the run was just made")?;
            let secs = match b.model.seconds_metric {
                Some(metric) => *r
                    .metrics
                    .get(metric)
                    .with_context(|| format!("`{name}` reported no `{metric}`"))?,
                None => r.wall_seconds,
            };
            say(&format!(
                "lesson {}: {} full default run {secs:.1} s",
                b.model.lesson, b.model.net
            ));
            b.full_seconds = Some(secs);
            b.full_cores = r.cores;
        }
    }
    Ok(out)
}

/// The figures as the JSON `tutor bench --json` prints.
pub fn to_json(results: &[ModelBench], steps: usize) -> serde_json::Value {
    let models: Vec<serde_json::Value> = results
        .iter()
        .map(|r| {
            serde_json::json!({
                "lesson": r.model.lesson,
                "model": r.model.net,
                "batch": r.step.batch,
                "step_ms": r.step.median_ms,
                "forward_ms": r.step.forward_ms,
                "backward_ms": r.step.backward_ms,
                "update_ms": r.step.update_ms,
                "full_run_experiment": r.model.experiment,
                "full_run_seconds": r.full_seconds,
                "full_run_cores": r.full_cores,
            })
        })
        .collect();
    serde_json::json!({
        "steps": steps,
        "threads": std::thread::available_parallelism().map_or(1, |n| n.get()),
        "models": models,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_lesson_model_is_a_known_network_and_experiment() {
        for m in MODELS {
            let path = format!("nets/{}.toml", m.net);
            assert!(NetSpec::load(&path).is_ok(), "{path}");
            assert!(
                experiments::find(m.experiment).is_some(),
                "{}",
                m.experiment
            );
        }
    }

    #[test]
    fn a_step_bench_covers_each_kind_of_objective() {
        // A classifier, an autoencoder and a two-headed detector, one step each.
        for net in ["lesson3_cnn", "lesson5_linear", "lesson6_localizer"] {
            let r = run(Some(net), 1, false, |_| {}).unwrap();
            assert_eq!(r.len(), 1);
            assert!(r[0].step.median_ms > 0.0);
            assert!(r[0].full_seconds.is_none());
        }
        assert!(run(Some("no such net"), 1, false, |_| {}).is_err());
    }

    #[test]
    fn a_full_run_reports_the_cores_it_kept_busy() {
        // Lesson 5's linear autoencoder: its default run takes about a second.
        let r = full_run("ae.linear").unwrap();
        assert!(r.wall_seconds > 0.0);
        assert!(
            r.metrics.contains_key("recon_mse_linear"),
            "{:?}",
            r.metrics.keys()
        );
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
        match r.cores {
            // The training runs on the pool's threads: more than a tenth of a core, and never
            // more cores than the machine has (a little over for clock granularity).
            Some(c) => assert!(c > 0.1 && c <= threads + 0.25, "{c} cores of {threads}"),
            None if cfg!(target_os = "linux") => panic!("Linux reads the CPU clock"),
            None => {}
        }
    }
}
