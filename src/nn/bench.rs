//! The step benchmark behind `tutor bench`: one training step (forward, backward, Adam) of any
//! network on a fixed batch, timed exactly like `bench/torch_models.py` times its PyTorch twin (5
//! warm-up steps, then the median of the rest), so the two can be compared run against run. The
//! lesson-3 MLP and CNN are also built in ([`bench_step`]); the lessons' networks come from their
//! files (see `crate::bench`, which also times whole training runs).

use std::time::Instant;

use super::loss::LossKind;
use super::network::{Batch, Network, NnError};
use super::objective::{Objective, Target, Targets};
use super::optim::Optimizer;
use super::spec::NetSpec;

/// The benchmark's CNN, the same layers as `nets/lesson3_cnn.toml`.
pub const BENCH_CNN: &str = r#"
name = "bench CNN"
input = [1, 28, 28]
[[layers]]
type = "conv2d"
out_channels = 16
kernel = 3
padding = 1
[[layers]]
type = "relu"
[[layers]]
type = "maxpool2d"
kernel = 2
[[layers]]
type = "conv2d"
out_channels = 32
kernel = 3
padding = 1
[[layers]]
type = "relu"
[[layers]]
type = "maxpool2d"
kernel = 2
[[layers]]
type = "flatten"
[[layers]]
type = "linear"
out_features = 10
"#;

/// The benchmark's MLP, 784-400-400-10: lesson 3's without its dropout.
pub const BENCH_MLP: &str = r#"
name = "bench MLP"
input = [1, 28, 28]
[[layers]]
type = "flatten"
[[layers]]
type = "linear"
out_features = 400
[[layers]]
type = "relu"
[[layers]]
type = "linear"
out_features = 400
[[layers]]
type = "relu"
[[layers]]
type = "linear"
out_features = 10
"#;

/// Medians over the timed steps, in milliseconds.
#[derive(Debug, Clone, PartialEq)]
pub struct BenchResult {
    /// The network benchmarked ("mlp", "cnn", or a lesson network's file stem).
    pub which: String,
    /// Examples per step.
    pub batch: usize,
    /// Timed steps (after 5 warm-up steps).
    pub steps: usize,
    /// Whole step.
    pub median_ms: f64,
    /// Forward pass and loss.
    pub forward_ms: f64,
    /// Backward pass.
    pub backward_ms: f64,
    /// Adam update.
    pub update_ms: f64,
}

impl std::fmt::Display for BenchResult {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "tutor {} batch={}: step median {:.2} ms (forward {:.2}, backward {:.2}, adam {:.2}) over {} steps",
            self.which, self.batch, self.median_ms, self.forward_ms, self.backward_ms, self.update_ms, self.steps
        )
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        0.0
    } else if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Times `steps` training steps (at least 1) of the "mlp" or "cnn" benchmark network after 5
/// warm-up steps. Build in release mode for meaningful numbers.
pub fn bench_step(which: &str, steps: usize) -> Result<BenchResult, NnError> {
    let text = match which {
        "mlp" => BENCH_MLP,
        "cnn" => BENCH_CNN,
        other => {
            return Err(NnError::UnknownName(format!(
                "{other} (the benchmarks are \"mlp\" and \"cnn\")"
            )))
        }
    };
    let spec = NetSpec::parse(text, which)?;
    bench_net(&spec, which, 64, steps)
}

/// A fixed batch like `torch.randn`: approximately normal values (a sum of four uniforms), seeded.
fn fixed_inputs(len: usize) -> Vec<f32> {
    let mut s = 0x9E37_79B9_7F4A_7C15u64;
    let mut uniform = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        (s >> 40) as f32 / (1u64 << 24) as f32
    };
    (0..len)
        .map(|_| (0..4).map(|_| uniform()).sum::<f32>() - 2.0)
        .collect()
}

/// The objective a benchmark trains any network with, chosen from its outputs as
/// `bench/torch_models.py` chooses it: an output with as many values per example as the input
/// is a reconstruction (MSE against the input, and then the only term: an autoencoder's
/// embedding output is not trained on); otherwise every output is trained, a head whose name
/// says `box` with smooth L1 towards zero offsets, the others with cross-entropy on classes
/// `i*7 mod K` (per pixel or anchor for an `[N, K, H, W]` output).
pub fn bench_objective(
    outputs: &[(String, Batch)],
    x: &Batch,
) -> Result<(Objective, Targets), NnError> {
    let n = x.shape[0].max(1);
    let per_input = x.data.len() / n;
    let recon: Vec<&(String, Batch)> = outputs
        .iter()
        .filter(|(_, b)| b.data.len() / n == per_input)
        .collect();
    let mut objective = Objective::new();
    let mut targets = Targets::new();
    if !recon.is_empty() {
        for (name, _) in recon {
            objective = objective.term(name, LossKind::Mse, 1.0);
            targets.push((name.clone(), Target::Values(x.data.clone())));
        }
        return Ok((objective, targets));
    }
    for (name, b) in outputs {
        if name.contains("box") {
            objective = objective.term(name, LossKind::SmoothL1 { beta: 1.0 }, 1.0);
            targets.push((name.clone(), Target::Values(vec![0.0; b.data.len()])));
        } else {
            let k = b.shape.get(1).copied().unwrap_or(1).max(1);
            let count = b.data.len() / k;
            objective = objective.term(name, LossKind::CrossEntropy, 1.0);
            targets.push((
                name.clone(),
                Target::Classes((0..count).map(|i| i * 7 % k).collect()),
            ));
        }
    }
    Ok((objective, targets))
}

/// Times `steps` training steps (at least 1) of network `spec` at batch `batch` on a fixed
/// batch, after 5 warm-up steps, with Adam at 1e-3 and [`bench_objective`]'s loss.
pub fn bench_net(
    spec: &NetSpec,
    which: &str,
    batch: usize,
    steps: usize,
) -> Result<BenchResult, NnError> {
    // On a thread of rayon's pool, as every experiment runs (`Experiment::call`); the network
    // is built there too (a CUDA device's handles cannot cross threads).
    rayon::scope(|_| bench_net_here(spec, which, batch, steps))
}

fn bench_net_here(
    spec: &NetSpec,
    which: &str,
    batch: usize,
    steps: usize,
) -> Result<BenchResult, NnError> {
    let mut net = Network::new(spec, 0)?;
    let mut opt = Optimizer::adam(1e-3);
    let n = batch.max(1);
    let mut shape = vec![n];
    shape.extend(&spec.input);
    let per: usize = spec.input.iter().product();
    let x = Batch::new(fixed_inputs(n * per), shape)?;
    let outputs = net.forward_outputs(&x)?;
    let (objective, targets) = bench_objective(&outputs, &x)?;
    net.set_train(true);
    let (mut tot, mut fwd, mut bwd, mut upd) = (vec![], vec![], vec![], vec![]);
    let steps = steps.max(1);
    for i in 0..steps + 5 {
        let t0 = Instant::now();
        let mut split = Some(t0);
        let ((_, grads, _), _) = net.backward_timed(&x, &targets, &objective, false, &mut split)?;
        let t2 = Instant::now();
        net.update(&mut opt, grads)?;
        let t3 = Instant::now();
        let t1 = split.unwrap_or(t0);
        if i >= 5 {
            tot.push((t3 - t0).as_secs_f64() * 1e3);
            fwd.push((t1 - t0).as_secs_f64() * 1e3);
            bwd.push((t2 - t1).as_secs_f64() * 1e3);
            upd.push((t3 - t2).as_secs_f64() * 1e3);
        }
    }
    Ok(BenchResult {
        which: which.to_string(),
        batch: n,
        steps,
        median_ms: median(tot),
        forward_ms: median(fwd),
        backward_ms: median(bwd),
        update_ms: median(upd),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bench_runs_and_reports_consistent_parts() {
        let r = bench_step("mlp", 1).unwrap();
        assert_eq!(r.steps, 1);
        assert!(r.median_ms > 0.0);
        assert!(r.forward_ms + r.backward_ms + r.update_ms <= r.median_ms * 1.01 + 1e-3);
        assert!(bench_step("resnet", 1).is_err());
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), 2.5);
    }
}
