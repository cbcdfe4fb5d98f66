//! Seeded training behaviour through the public API: the loss falls, modes behave, freezing
//! works, checkpoints round-trip.

use tutor::nn::{accuracy, Batch, LossKind, NetSpec, Network, Optimizer, Target};

fn spec(text: &str) -> NetSpec {
    NetSpec::parse(text, "t.toml").unwrap()
}

/// Two Gaussian-ish blobs in 2-d, deterministic.
fn blobs(n: usize) -> (Batch, Vec<usize>) {
    let mut data = Vec::with_capacity(n * 2);
    let mut labels = Vec::with_capacity(n);
    for i in 0..n {
        let c = i % 2;
        let a = (i as f32 * 2.399).sin() * 0.6;
        let b = (i as f32 * 1.731).cos() * 0.6;
        let (cx, cy) = if c == 0 { (-1.0, -0.5) } else { (1.0, 0.5) };
        data.extend([cx + a, cy + b]);
        labels.push(c);
    }
    (Batch::new(data, vec![n, 2]).unwrap(), labels)
}

const MLP: &str = r#"
input = [2]
[[layers]]
type = "linear"
name = "fc1"
out_features = 16
[[layers]]
type = "relu"
[[layers]]
type = "linear"
name = "fc2"
out_features = 2
"#;

#[test]
fn adam_and_sgd_reduce_the_loss_on_a_toy_problem() {
    let (x, y) = blobs(64);
    let t = Target::Classes(y.clone());
    for mut opt in [
        Optimizer::adam(0.01),
        Optimizer::adamw(0.01, 0.01),
        Optimizer::sgd(0.1, 0.9).nesterov().weight_decay(1e-4),
    ] {
        let mut net = Network::new(&spec(MLP), 1).unwrap();
        let first = net.loss(&x, &t, LossKind::CrossEntropy).unwrap();
        for _ in 0..60 {
            net.step(&x, &t, LossKind::CrossEntropy, &mut opt).unwrap();
        }
        let last = net.loss(&x, &t, LossKind::CrossEntropy).unwrap();
        assert!(last < first * 0.5, "{:?}: {first} -> {last}", opt.rule);
        net.set_train(false);
        assert!(accuracy(&net.forward(&x).unwrap(), &y) > 0.9);
    }
}

#[test]
fn same_seed_same_network_and_training() {
    let (x, y) = blobs(16);
    let t = Target::Classes(y);
    let run = || {
        let mut net = Network::new(&spec(MLP), 42).unwrap();
        let mut opt = Optimizer::adam(0.01);
        (0..5)
            .map(|_| net.step(&x, &t, LossKind::CrossEntropy, &mut opt).unwrap())
            .collect::<Vec<_>>()
    };
    assert_eq!(run(), run());
    let a = Network::new(&spec(MLP), 1)
        .unwrap()
        .values("fc1.weight")
        .unwrap();
    let b = Network::new(&spec(MLP), 2)
        .unwrap()
        .values("fc1.weight")
        .unwrap();
    assert_ne!(a, b);
    // PyTorch's default init: uniform within 1/sqrt(fan_in) = 1/sqrt(2).
    assert!(a.iter().all(|v| v.abs() <= 1.0 / 2f32.sqrt()));
}

#[test]
fn frozen_layers_do_not_change() {
    let (x, y) = blobs(32);
    let t = Target::Classes(y);
    let mut net = Network::new(&spec(MLP), 3).unwrap();
    net.set_frozen("fc1", true).unwrap();
    let before = net.values("fc1.weight").unwrap();
    let head = net.values("fc2.weight").unwrap();
    let mut opt = Optimizer::adam(0.01);
    for _ in 0..3 {
        net.step(&x, &t, LossKind::CrossEntropy, &mut opt).unwrap();
    }
    assert_eq!(net.values("fc1.weight").unwrap(), before);
    assert_ne!(net.values("fc2.weight").unwrap(), head);
    assert_eq!(net.param_counts(), (2 * 16 + 16 + 16 * 2 + 2, 16 * 2 + 2));
    assert!(net.set_frozen("nope", true).is_err());
}

#[test]
fn dropout_only_in_training_mode() {
    let text = "input = [100]\n[[layers]]\ntype = \"dropout\"\np = 0.5\n";
    let mut net = Network::new(&spec(text), 0).unwrap();
    let x = Batch::new(vec![1.0; 200], vec![2, 100]).unwrap();
    net.set_train(false);
    assert_eq!(net.forward(&x).unwrap().data, x.data);
    net.set_train(true);
    let y = net.forward(&x).unwrap().data;
    let zeros = y.iter().filter(|v| **v == 0.0).count();
    assert!((60..140).contains(&zeros), "{zeros} of 200 dropped");
    // Survivors are scaled by 1/(1-p) so the expectation is unchanged.
    assert!(y.iter().all(|v| *v == 0.0 || (*v - 2.0).abs() < 1e-6));
}

#[test]
fn batchnorm_uses_batch_stats_in_training_and_running_stats_in_eval() {
    let text = "input = [2]\n[[layers]]\ntype = \"batchnorm1d\"\nname = \"bn\"\n";
    let mut net = Network::new(&spec(text), 0).unwrap();
    let x = Batch::new(vec![1.0, 10.0, 3.0, 20.0, 5.0, 30.0], vec![3, 2]).unwrap();
    let y = net.forward(&x).unwrap().data;
    // Feature 0: mean 3, biased var 8/3: (1-3)/sqrt(8/3 + 1e-5) = -1.2247.
    assert!((y[0] + 1.2247).abs() < 1e-3, "{y:?}");
    assert!((y[2]).abs() < 1e-6);
    // Running stats after one batch with momentum 0.1: mean 0.1*3, var 0.9 + 0.1*4 (unbiased).
    let rm = net.values("bn.running_mean").unwrap();
    let rv = net.values("bn.running_var").unwrap();
    assert!(
        (rm[0] - 0.3).abs() < 1e-6 && (rm[1] - 2.0).abs() < 1e-5,
        "{rm:?}"
    );
    assert!(
        (rv[0] - 1.3).abs() < 1e-5 && (rv[1] - 10.9).abs() < 1e-4,
        "{rv:?}"
    );
    net.set_train(false);
    let y = net.forward(&x).unwrap().data;
    // Eval: (1 - 0.3) / sqrt(1.3 + 1e-5).
    assert!((y[0] - 0.7 / (1.3f32 + 1e-5).sqrt()).abs() < 1e-5, "{y:?}");
    // Eval does not touch the running statistics.
    assert_eq!(net.values("bn.running_mean").unwrap(), rm);
}

#[test]
fn checkpoint_round_trip_gives_identical_outputs() {
    let text = r#"
input = [1, 6, 6]
[[layers]]
type = "conv2d"
name = "conv1"
out_channels = 3
kernel = 3
[[layers]]
type = "batchnorm2d"
name = "bn1"
[[layers]]
type = "flatten"
[[layers]]
type = "linear"
name = "fc"
out_features = 2
"#;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.safetensors");
    let x = Batch::new(
        (0..72).map(|i| (i as f32 * 0.37).sin()).collect(),
        vec![2, 1, 6, 6],
    )
    .unwrap();
    let mut a = Network::new(&spec(text), 5).unwrap();
    let mut opt = Optimizer::adam(0.01);
    a.step(
        &x,
        &Target::Classes(vec![0, 1]),
        LossKind::CrossEntropy,
        &mut opt,
    )
    .unwrap();
    a.save(&path).unwrap();
    let mut b = Network::new(&spec(text), 99).unwrap();
    b.load(&path).unwrap();
    a.set_train(false);
    b.set_train(false);
    assert_eq!(a.forward(&x).unwrap(), b.forward(&x).unwrap());
    assert_eq!(
        a.values("bn1.running_var").unwrap(),
        b.values("bn1.running_var").unwrap()
    );

    // A different architecture is refused with the tensor's name and both shapes.
    let other = text.replace("out_channels = 3", "out_channels = 4");
    let mut c = Network::new(&spec(&other), 0).unwrap();
    let err = c.load(&path).unwrap_err().to_string();
    assert!(
        err.contains(
            "\"conv1.weight\" has shape [3, 1, 3, 3] but the network expects [4, 1, 3, 3]"
        ),
        "{err}"
    );
    assert!(c.load(dir.path().join("missing")).is_err());
}

#[test]
fn first_sgd_and_adam_steps_match_hand_computation() {
    let (x, y) = blobs(8);
    let t = Target::Classes(y);
    // SGD with momentum: the first velocity is the gradient, so p' = p - lr * g.
    let mut net = Network::new(&spec(MLP), 4).unwrap();
    let p0 = net.values("fc1.weight").unwrap();
    let (_, grads) = net.gradients(&x, &t, LossKind::CrossEntropy).unwrap();
    let g = &grads.iter().find(|(n, _)| n == "fc1.weight").unwrap().1;
    let mut opt = Optimizer::sgd(0.5, 0.9);
    net.step(&x, &t, LossKind::CrossEntropy, &mut opt).unwrap();
    let p1 = net.values("fc1.weight").unwrap();
    for ((a, b), g) in p0.iter().zip(&p1).zip(g) {
        assert!((b - (a - 0.5 * g)).abs() < 1e-6);
    }
    // Adam's first step is lr * g / (|g| + eps): a move of lr against the gradient's sign.
    let mut net = Network::new(&spec(MLP), 4).unwrap();
    let mut opt = Optimizer::adam(0.01);
    net.step(&x, &t, LossKind::CrossEntropy, &mut opt).unwrap();
    let p1 = net.values("fc1.weight").unwrap();
    for ((a, b), g) in p0.iter().zip(&p1).zip(g) {
        if g.abs() > 1e-4 {
            assert!((b - (a - 0.01 * g.signum())).abs() < 1e-4, "{a} {b} {g}");
        }
    }
    assert_eq!(opt.steps(), 1);
}

// dfdx's CUDA device is not `Send`: with `cuda`, build the network on the worker thread.
#[cfg(not(feature = "cuda"))]
#[test]
fn networks_and_optimizers_can_move_to_a_worker_thread() {
    fn assert_send<T: Send>() {}
    assert_send::<Network>();
    assert_send::<Optimizer>();
    let net = Network::new(&spec(MLP), 0).unwrap();
    let handle = std::thread::Builder::new()
        .name("trainer".into())
        .spawn(move || net.param_counts())
        .unwrap();
    assert_eq!(handle.join().unwrap().0, 2 * 16 + 16 + 16 * 2 + 2);
}

#[test]
fn summary_reflects_runtime_freezing() {
    let mut net = Network::new(&spec(MLP), 0).unwrap();
    net.freeze_through("fc1").unwrap();
    let s = net.summary().unwrap();
    assert_eq!(s.trainable_params, 16 * 2 + 2);
    assert_eq!(s.non_trainable_params(), 2 * 16 + 16);
    assert!(s.to_string().contains("(48)"), "{s}");
    let names: Vec<_> = net
        .params()
        .into_iter()
        .map(|p| (p.name, p.count, p.trainable))
        .collect();
    assert_eq!(
        names,
        vec![
            ("fc1.weight".to_string(), 32, false),
            ("fc1.bias".to_string(), 16, false),
            ("fc2.weight".to_string(), 32, true),
            ("fc2.bias".to_string(), 2, true),
        ]
    );
}

#[test]
fn wrong_batches_and_targets_are_errors_not_panics() {
    let mut net = Network::new(&spec(MLP), 0).unwrap();
    let bad_shape = Batch::new(vec![0.0; 6], vec![2, 3]).unwrap();
    assert!(net
        .forward(&bad_shape)
        .unwrap_err()
        .to_string()
        .contains("[2] but the batch has shape [2, 3]"));
    let empty = Batch::new(vec![], vec![0, 2]).unwrap();
    assert!(net.forward(&empty).is_err());
    assert!(Batch::new(vec![0.0; 3], vec![2, 2]).is_err());
    let x = Batch::new(vec![0.0; 4], vec![2, 2]).unwrap();
    assert!(net
        .loss(&x, &Target::Classes(vec![0]), LossKind::CrossEntropy)
        .is_err());
    assert!(net
        .loss(&x, &Target::Classes(vec![0, 5]), LossKind::CrossEntropy)
        .is_err());
    assert!(net
        .loss(&x, &Target::Values(vec![0.0; 3]), LossKind::Mse)
        .is_err());
    assert!(net
        .loss(&x, &Target::Values(vec![0.0; 4]), LossKind::CrossEntropy)
        .is_err());
    assert!(net
        .loss(&x, &Target::Values(vec![0.0; 4]), LossKind::Mse)
        .is_ok());
    assert!(net.values("fc9.weight").is_err());
    assert!(net.set_values("fc1.bias", &[1.0]).is_err());
}

#[test]
fn tiny_unet_learns_a_per_pixel_mask() {
    // Pixels brighter than zero are class 1: a per-pixel cross-entropy the U-Net can fit.
    let spec = NetSpec::load("nets/tiny_unet.toml").unwrap();
    let mut net = Network::new(&spec, 0).unwrap();
    let n = 4;
    let data: Vec<f32> = (0..n * 32 * 32)
        .map(|i| ((i as f32 * 0.37).sin() + (i as f32 * 0.011).cos()) * 0.5)
        .collect();
    let classes: Vec<usize> = data.iter().map(|&v| usize::from(v > 0.0)).collect();
    let x = Batch::new(data, vec![n, 1, 32, 32]).unwrap();
    let t = Target::Classes(classes.clone());
    let mut opt = Optimizer::adam(0.01);
    let first = net.step(&x, &t, LossKind::CrossEntropy, &mut opt).unwrap();
    let mut last = first;
    for _ in 0..15 {
        last = net.step(&x, &t, LossKind::CrossEntropy, &mut opt).unwrap();
    }
    assert!(last < first * 0.7, "{first} -> {last}");
    let out = net.forward(&x).unwrap();
    assert_eq!(out.shape, vec![n, 2, 32, 32]);
}

#[test]
fn predictions_probabilities_and_accuracy_by_hand() {
    let logits = Batch::new(
        vec![1.0, 3.0, 2.0, 0.0, 0.0, 0.0, 5.0, -1.0, 5.0],
        vec![3, 3],
    )
    .unwrap();
    assert_eq!(tutor::nn::predictions(&logits), vec![1, 0, 0]);
    assert!((accuracy(&logits, &[1, 2, 0]) - 2.0 / 3.0).abs() < 1e-6);
    let p = tutor::nn::probabilities(&logits);
    assert!((p[3] - 1.0 / 3.0).abs() < 1e-6);
    // e^1, e^3, e^2 normalised.
    let z = 1f32.exp() + 3f32.exp() + 2f32.exp();
    assert!((p[1] - 3f32.exp() / z).abs() < 1e-6);
    assert!(p
        .chunks(3)
        .all(|r| (r.iter().sum::<f32>() - 1.0).abs() < 1e-6));
}
