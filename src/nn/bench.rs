//! The speed benchmark behind `tutor bench`: one training step (forward, backward, Adam) of the
//! lesson-3 MLP or CNN at batch 64 on 28x28x1 inputs, timed exactly like
//! `shared/bench/torch_step.py` (a fixed batch, 5 warm-up steps, then the median of the rest), so
//! the two can be compared run against run.

use std::time::Instant;

use super::loss::LossKind;
use super::network::{Batch, Network, NnError};
use super::objective::{Objective, Target};
use super::optim::Optimizer;
use super::spec::NetSpec;

/// The benchmark's CNN, the same layers as `torch_step.py`.
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

/// The benchmark's MLP, 784-400-400-10 as in `torch_step.py` (no dropout there).
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
    /// "mlp" or "cnn".
    pub which: String,
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
            "tutor {} batch=64: step median {:.2} ms (forward {:.2}, backward {:.2}, adam {:.2}) over {} steps",
            self.which, self.median_ms, self.forward_ms, self.backward_ms, self.update_ms, self.steps
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
    let mut net = Network::new(&spec, 0)?;
    let mut opt = Optimizer::adam(1e-3);
    let n = 64;
    // A fixed batch like torch.randn: approximately normal values (sum of uniforms), seeded.
    let mut s = 0x9E37_79B9_7F4A_7C15u64;
    let mut uniform = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        (s >> 40) as f32 / (1u64 << 24) as f32
    };
    let data: Vec<f32> = (0..n * 28 * 28)
        .map(|_| (0..4).map(|_| uniform()).sum::<f32>() - 2.0)
        .collect();
    let x = Batch::new(data, vec![n, 1, 28, 28])?;
    let y = Target::Classes((0..n).map(|i| i * 7 % 10).collect());
    let (mut tot, mut fwd, mut bwd, mut upd) = (vec![], vec![], vec![], vec![]);
    let steps = steps.max(1);
    for i in 0..steps + 5 {
        let t0 = Instant::now();
        let mut split = Some(t0);
        let targets = vec![(String::new(), y.clone())];
        let objective = Objective::single(LossKind::CrossEntropy);
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
