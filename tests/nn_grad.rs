//! Every layer type's gradients against central finite differences, through the public
//! `Network` API, for both the fast CPU kernels and the portable ones; plus forward outputs
//! against hand-computed references.

use tutor::nn::{Batch, LossKind, NetSpec, Network, Target};

fn net(layers: &str, input: &str, seed: u64) -> Network {
    let text = format!("input = {input}\n{layers}");
    let spec = NetSpec::parse(&text, "test.toml").unwrap();
    Network::new(&spec, seed).unwrap()
}

fn batch(shape: &[usize], seed: u64) -> Batch {
    // A cheap deterministic generator: no ties, values in about [-1, 1].
    let n: usize = shape.iter().product();
    let mut s = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let data = (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 33) as f64 / (1u64 << 31) as f64 * 2.0 - 1.0) as f32
        })
        .collect();
    Batch::new(data, shape.to_vec()).unwrap()
}

/// Checks every parameter's gradient (and the input's) against central differences.
fn check_grads(mut n: Network, x: &Batch, target: &Target, loss: LossKind, portable: bool) {
    n.set_portable_ops(portable);
    let (_, grads) = n.gradients(x, target, loss).unwrap();
    let h = 1e-3f32;
    for (name, g) in &grads {
        let base = n.values(name).unwrap();
        for i in 0..base.len() {
            let mut v = base.clone();
            v[i] = base[i] + h;
            n.set_values(name, &v).unwrap();
            let lp = n.loss(x, target, loss).unwrap() as f64;
            v[i] = base[i] - h;
            n.set_values(name, &v).unwrap();
            let lm = n.loss(x, target, loss).unwrap() as f64;
            n.set_values(name, &base).unwrap();
            let num = (lp - lm) / (2.0 * h as f64);
            let ana = g[i] as f64;
            assert!(
                (num - ana).abs() <= 3e-3 + 3e-2 * num.abs().max(ana.abs()),
                "{name}[{i}] analytic {ana} numeric {num} (portable={portable})"
            );
        }
    }
    let gx = n.input_gradient(x, target, loss).unwrap();
    for i in 0..x.data.len() {
        let mut xp = x.clone();
        xp.data[i] += h;
        let lp = n.loss(&xp, target, loss).unwrap() as f64;
        xp.data[i] -= 2.0 * h;
        let lm = n.loss(&xp, target, loss).unwrap() as f64;
        let num = (lp - lm) / (2.0 * h as f64);
        let ana = gx.data[i] as f64;
        assert!(
            (num - ana).abs() <= 3e-3 + 3e-2 * num.abs().max(ana.abs()),
            "input[{i}] analytic {ana} numeric {num} (portable={portable})"
        );
    }
}

fn both(layers: &str, input: &str, x_shape: &[usize], target: Target, loss: LossKind) {
    for portable in [false, true] {
        let n = net(layers, input, 7);
        check_grads(n, &batch(x_shape, 3), &target, loss, portable);
    }
}

#[test]
fn conv_with_stride_padding_dilation_groups() {
    both(
        r#"
[[layers]]
type = "conv2d"
out_channels = 4
kernel = [3, 2]
stride = [2, 1]
padding = 1
dilation = [1, 2]
groups = 2
[[layers]]
type = "flatten"
[[layers]]
type = "linear"
out_features = 3
"#,
        "[2, 5, 5]",
        &[2, 2, 5, 5],
        Target::Classes(vec![0, 2]),
        LossKind::CrossEntropy,
    );
}

/// A 1x1, stride-1, unpadded convolution reads its input planes as the column matrix (no
/// im2col) on the CPU; ten examples put more than one in each part of the backward's sums.
#[test]
fn pointwise_grouped_conv_over_a_larger_batch() {
    both(
        r#"
[[layers]]
type = "conv2d"
out_channels = 6
kernel = 1
groups = 2
[[layers]]
type = "relu"
[[layers]]
type = "conv2d"
out_channels = 2
kernel = 1
[[layers]]
type = "flatten"
[[layers]]
type = "linear"
out_features = 3
"#,
        "[4, 3, 3]",
        &[10, 4, 3, 3],
        Target::Classes(vec![0, 2, 1, 1, 0, 2, 2, 1, 0, 0]),
        LossKind::CrossEntropy,
    );
}

#[test]
fn transposed_conv() {
    both(
        r#"
[[layers]]
type = "conv_transpose2d"
out_channels = 2
kernel = 3
stride = 2
padding = 1
output_padding = 1
"#,
        "[2, 3, 3]",
        &[2, 2, 3, 3],
        Target::Values(batch(&[2 * 2 * 6 * 6], 9).data),
        LossKind::Mse,
    );
}

#[test]
fn relu_maxpool_fused_and_plain_with_padding() {
    both(
        r#"
[[layers]]
type = "conv2d"
out_channels = 2
kernel = 3
padding = 1
[[layers]]
type = "relu"
[[layers]]
type = "maxpool2d"
kernel = 2
[[layers]]
type = "maxpool2d"
kernel = 3
stride = 1
padding = 1
[[layers]]
type = "flatten"
[[layers]]
type = "linear"
out_features = 2
"#,
        "[1, 6, 6]",
        &[3, 1, 6, 6],
        Target::Classes(vec![0, 1, 1]),
        LossKind::CrossEntropy,
    );
}

#[test]
fn avgpool_upsample_global_pool_and_activations() {
    both(
        r#"
[[layers]]
type = "avgpool2d"
kernel = 3
stride = 2
padding = 1
[[layers]]
type = "tanh"
[[layers]]
type = "upsample"
scale = 2
[[layers]]
type = "conv2d"
out_channels = 3
kernel = 1
[[layers]]
type = "sigmoid"
[[layers]]
type = "global_avgpool"
[[layers]]
type = "softmax"
"#,
        "[2, 5, 5]",
        &[2, 2, 5, 5],
        Target::Values(vec![0.2, 0.3, 0.5, 0.6, 0.3, 0.1]),
        LossKind::Mse,
    );
}

#[test]
fn batchnorm_in_training_mode() {
    both(
        r#"
[[layers]]
type = "conv2d"
out_channels = 2
kernel = 3
[[layers]]
type = "batchnorm2d"
[[layers]]
type = "flatten"
[[layers]]
type = "linear"
out_features = 3
[[layers]]
type = "batchnorm1d"
"#,
        "[1, 4, 4]",
        &[4, 1, 4, 4],
        Target::Values(batch(&[12], 5).data),
        LossKind::BceWithLogits,
    );
}

#[test]
fn skip_connections_concat_and_add() {
    both(
        r#"
[[layers]]
type = "conv2d"
out_channels = 2
kernel = 3
padding = 1
[[layers]]
type = "save"
as = "a"
[[layers]]
type = "conv2d"
out_channels = 2
kernel = 3
padding = 1
[[layers]]
type = "add"
with = "a"
[[layers]]
type = "concat"
with = "a"
[[layers]]
type = "conv2d"
out_channels = 2
kernel = 1
"#,
        "[1, 4, 4]",
        &[2, 1, 4, 4],
        Target::Classes(vec![
            0, 1, 1, 0, 0, 0, 1, 1, 1, 1, 0, 0, 1, 0, 1, 0, 0, 1, 1, 0, 0, 1, 0, 1, 1, 1, 0, 0, 0,
            0, 1, 1,
        ]),
        LossKind::CrossEntropy,
    );
}

#[test]
fn conv_forward_matches_hand_computation() {
    let mut n = net(
        "[[layers]]\ntype = \"conv2d\"\nname = \"c\"\nout_channels = 1\nkernel = 2\n",
        "[1, 3, 3]",
        0,
    );
    n.set_values("c.weight", &[1.0, 0.0, 0.0, -1.0]).unwrap();
    n.set_values("c.bias", &[0.5]).unwrap();
    let x = Batch::new((1..=9).map(|v| v as f32).collect(), vec![1, 1, 3, 3]).unwrap();
    for portable in [false, true] {
        n.set_portable_ops(portable);
        let y = n.forward(&x).unwrap();
        assert_eq!(y.shape, vec![1, 1, 2, 2]);
        // x[i][j] - x[i+1][j+1] = -4 everywhere, plus the bias.
        assert_eq!(y.data, vec![-3.5; 4]);
    }
}

#[test]
fn transposed_conv_and_pool_forward_match_hand_computation() {
    let mut n = net(
        "[[layers]]\ntype = \"conv_transpose2d\"\nname = \"t\"\nout_channels = 1\nkernel = 2\nstride = 2\nbias = false\n",
        "[1, 2, 2]",
        0,
    );
    n.set_values("t.weight", &[1.0, 2.0, 3.0, 4.0]).unwrap();
    let x = Batch::new(vec![1.0, 10.0, 100.0, 1000.0], vec![1, 1, 2, 2]).unwrap();
    for portable in [false, true] {
        n.set_portable_ops(portable);
        let y = n.forward(&x).unwrap();
        // Each input value stamps the kernel into its own 2x2 block.
        assert_eq!(
            y.data,
            vec![
                1.0, 2.0, 10.0, 20.0, //
                3.0, 4.0, 30.0, 40.0, //
                100.0, 200.0, 1000.0, 2000.0, //
                300.0, 400.0, 3000.0, 4000.0
            ]
        );
    }

    let mut p = net(
        "[[layers]]\ntype = \"maxpool2d\"\nkernel = 2\n[[layers]]\ntype = \"save\"\nas = \"m\"\n",
        "[1, 4, 4]",
        0,
    );
    let x = Batch::new(
        vec![
            1.0, 5.0, 2.0, 0.0, //
            3.0, 4.0, 8.0, 1.0, //
            -1.0, -2.0, 0.0, 0.0, //
            -3.0, -4.0, 7.0, 7.0,
        ],
        vec![1, 1, 4, 4],
    )
    .unwrap();
    for portable in [false, true] {
        p.set_portable_ops(portable);
        assert_eq!(p.forward(&x).unwrap().data, vec![5.0, 8.0, -1.0, 7.0]);
    }
}

#[test]
fn maxpool_ties_follow_pytorch_first_maximum() {
    // All four window values tie: PyTorch sends the whole gradient to the first one.
    let mut n = net(
        "[[layers]]\ntype = \"maxpool2d\"\nkernel = 2\n[[layers]]\ntype = \"flatten\"\n",
        "[1, 2, 2]",
        0,
    );
    let x = Batch::new(vec![3.0; 4], vec![1, 1, 2, 2]).unwrap();
    let g = n
        .input_gradient(&x, &Target::Values(vec![0.0]), LossKind::Mse)
        .unwrap();
    // d/dy (y - 0)^2 = 2y = 6, all on the first element.
    assert_eq!(g.data, vec![6.0, 0.0, 0.0, 0.0]);
}

#[test]
fn fast_and_portable_kernels_agree() {
    let layers = r#"
[[layers]]
type = "conv2d"
out_channels = 4
kernel = 3
padding = 1
[[layers]]
type = "relu"
[[layers]]
type = "maxpool2d"
kernel = 2
[[layers]]
type = "conv_transpose2d"
out_channels = 2
kernel = 3
stride = 2
padding = 1
output_padding = 1
groups = 2
[[layers]]
type = "maxpool2d"
kernel = 3
stride = 2
padding = 1
[[layers]]
type = "flatten"
[[layers]]
type = "linear"
out_features = 3
"#;
    let x = batch(&[3, 2, 8, 8], 11);
    let t = Target::Classes(vec![2, 0, 1]);
    let mut fast = net(layers, "[2, 8, 8]", 5);
    let mut port = net(layers, "[2, 8, 8]", 5);
    port.set_portable_ops(true);
    let yf = fast.forward(&x).unwrap();
    let yp = port.forward(&x).unwrap();
    for (a, b) in yf.data.iter().zip(&yp.data) {
        assert!((a - b).abs() < 1e-5, "forward {a} vs {b}");
    }
    let (lf, gf) = fast.gradients(&x, &t, LossKind::CrossEntropy).unwrap();
    let (lp, gp) = port.gradients(&x, &t, LossKind::CrossEntropy).unwrap();
    assert!((lf - lp).abs() < 1e-5);
    for ((name, a), (_, b)) in gf.iter().zip(&gp) {
        for (i, (u, v)) in a.iter().zip(b).enumerate() {
            assert!(
                (u - v).abs() < 1e-4 * (1.0 + u.abs()),
                "{name}[{i}]: {u} vs {v}"
            );
        }
    }
    let gxf = fast.input_gradient(&x, &t, LossKind::CrossEntropy).unwrap();
    let gxp = port.input_gradient(&x, &t, LossKind::CrossEntropy).unwrap();
    for (u, v) in gxf.data.iter().zip(&gxp.data) {
        assert!(
            (u - v).abs() < 1e-4 * (1.0 + u.abs()),
            "input grad {u} vs {v}"
        );
    }
}

#[test]
fn linear_first_layer_and_dropout_in_eval() {
    // The first linear layer skips its input gradient during training steps; the parameter
    // gradients must not change because of it.
    for portable in [false, true] {
        let mut n = net(
            r#"
[[layers]]
type = "flatten"
[[layers]]
type = "linear"
out_features = 4
[[layers]]
type = "dropout"
p = 0.3
[[layers]]
type = "tanh"
[[layers]]
type = "batchnorm1d"
[[layers]]
type = "linear"
out_features = 2
bias = false
"#,
            "[1, 2, 3]",
            2,
        );
        n.set_train(false);
        check_grads(
            n,
            &batch(&[3, 1, 2, 3], 8),
            &Target::Classes(vec![1, 0, 1]),
            LossKind::CrossEntropy,
            portable,
        );
    }
}

#[test]
fn maxpool_partial_ties_and_fused_relu_dead_windows() {
    // Window 1 ties at positions 1 and 2 (3.0): the first (position 1) takes the gradient.
    // Window 2 is all negative: after the fused ReLU it outputs 0 and passes no gradient.
    let mut n = net(
        "[[layers]]\ntype = \"relu\"\n[[layers]]\ntype = \"maxpool2d\"\nkernel = 2\n[[layers]]\ntype = \"flatten\"\n",
        "[1, 2, 4]",
        0,
    );
    let x = Batch::new(
        vec![1.0, 3.0, -1.0, -2.0, 3.0, 2.0, -3.0, -4.0],
        vec![1, 1, 2, 4],
    )
    .unwrap();
    for portable in [false, true] {
        n.set_portable_ops(portable);
        assert_eq!(n.forward(&x).unwrap().data, vec![3.0, 0.0]);
        let g = n
            .input_gradient(&x, &Target::Values(vec![0.0, 0.0]), LossKind::Mse)
            .unwrap();
        // d/dy mean((y - 0)^2) over 2 outputs = y = 3 for the first window.
        let want = if portable {
            // dfdx's max sends the gradient to every tied maximum.
            vec![0.0, 3.0, 0.0, 0.0, 3.0, 0.0, 0.0, 0.0]
        } else {
            vec![0.0, 3.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]
        };
        assert_eq!(g.data, want, "portable={portable}");
    }
}

#[test]
fn squeeze_and_excitation_scale() {
    // A whole SE block: the gate (pool, two linears, sigmoid) scales the saved map's channels;
    // the gradient reaches the gate's layers, the map and the conv before both.
    both(
        r#"
[[layers]]
type = "conv2d"
out_channels = 3
kernel = 3
padding = 1
[[layers]]
type = "save"
as = "map"
[[layers]]
type = "global_avgpool"
[[layers]]
type = "linear"
out_features = 2
[[layers]]
type = "relu"
[[layers]]
type = "linear"
out_features = 3
[[layers]]
type = "sigmoid"
[[layers]]
type = "scale"
with = "map"
[[layers]]
type = "conv2d"
out_channels = 2
kernel = 1
"#,
        "[1, 3, 3]",
        &[2, 1, 3, 3],
        Target::Classes(vec![0, 1, 1, 0, 1, 0, 0, 1, 1, 1, 0, 1, 0, 0, 1, 0, 1, 1]),
        LossKind::CrossEntropy,
    );
}

#[test]
fn scale_forward_multiplies_each_channel() {
    let mut n = net(
        r#"
[[layers]]
type = "save"
as = "map"
[[layers]]
type = "global_avgpool"
[[layers]]
type = "scale"
with = "map"
"#,
        "[2, 1, 2]",
        1,
    );
    // Channel means 2 and -1: each channel is multiplied by its own mean.
    let x = Batch::new(vec![1.0, 3.0, -2.0, 0.0], vec![1, 2, 1, 2]).unwrap();
    let y = n.forward(&x).unwrap();
    assert_eq!(y.shape, vec![1, 2, 1, 2]);
    assert_eq!(y.data, vec![2.0, 6.0, 2.0, 0.0]);
}

#[test]
fn residual_block_with_a_projection_on_a_branch() {
    // ResNet's downsampling block: the main path halves the size and doubles the channels,
    // a strided 1x1 projection of the saved input (started with `branch`) matches it. Every
    // parameter, on both paths and before the split, gets its gradient.
    both(
        r#"
[[layers]]
type = "conv2d"
out_channels = 2
kernel = 3
padding = 1
[[layers]]
type = "save"
as = "x"
[[layers]]
type = "conv2d"
out_channels = 3
kernel = 3
stride = 2
padding = 1
[[layers]]
type = "relu"
[[layers]]
type = "conv2d"
out_channels = 3
kernel = 3
padding = 1
[[layers]]
type = "save"
as = "f"
[[layers]]
type = "branch"
from = "x"
[[layers]]
type = "conv2d"
out_channels = 3
kernel = 1
stride = 2
[[layers]]
type = "add"
with = "f"
[[layers]]
type = "relu"
"#,
        "[1, 4, 4]",
        &[2, 1, 4, 4],
        Target::Classes(vec![
            0, 1, 2, 0, 2, 1, 1, 0, //
        ]),
        LossKind::CrossEntropy,
    );
}

/// Issue 14: the fast batch norm (with its fused ReLU) trains like dfdx's formulation: a few
/// Adam steps of a lesson-8-like network give the same losses, running statistics and
/// evaluation outputs on both kernel sets. The layers before batch norm have no bias: Adam
/// would turn a bias's gradient, zero up to rounding there, into full-sized steps of either
/// sign, and the running means would follow those.
#[test]
fn fast_batchnorm_trains_like_the_portable_one() {
    let layers = r#"
[[layers]]
type = "conv2d"
out_channels = 4
kernel = 3
padding = 1
bias = false
[[layers]]
type = "batchnorm2d"
name = "bn1"
[[layers]]
type = "relu"
[[layers]]
type = "maxpool2d"
kernel = 2
[[layers]]
type = "conv2d"
out_channels = 4
kernel = 3
padding = 1
bias = false
[[layers]]
type = "batchnorm2d"
name = "bn2"
[[layers]]
type = "relu"
[[layers]]
type = "flatten"
[[layers]]
type = "linear"
out_features = 6
bias = false
[[layers]]
type = "batchnorm1d"
name = "bn3"
[[layers]]
type = "relu"
[[layers]]
type = "linear"
out_features = 3
"#;
    let x = batch(&[8, 1, 8, 8], 21);
    let t = Target::Classes(vec![0, 1, 2, 0, 1, 2, 0, 1]);
    let mut nets = [net(layers, "[1, 8, 8]", 4), net(layers, "[1, 8, 8]", 4)];
    nets[1].set_portable_ops(true);
    let mut opts = [
        tutor::nn::Optimizer::adam(0.01),
        tutor::nn::Optimizer::adam(0.01),
    ];
    for step in 0..5 {
        let l: Vec<f32> = nets
            .iter_mut()
            .zip(&mut opts)
            .map(|(n, o)| n.step(&x, &t, LossKind::CrossEntropy, o).unwrap())
            .collect();
        assert!(
            (l[0] - l[1]).abs() < 1e-4 * (1.0 + l[1].abs()),
            "step {step}: {l:?}"
        );
    }
    for name in nets[0].buffer_names() {
        let (a, b) = (
            nets[0].values(&name).unwrap(),
            nets[1].values(&name).unwrap(),
        );
        for (u, v) in a.iter().zip(&b) {
            assert!((u - v).abs() < 1e-4 * (1.0 + v.abs()), "{name}: {u} vs {v}");
        }
    }
    for n in nets.iter_mut() {
        n.set_train(false);
    }
    let (ya, yb) = (nets[0].forward(&x).unwrap(), nets[1].forward(&x).unwrap());
    for (u, v) in ya.data.iter().zip(&yb.data) {
        assert!((u - v).abs() < 1e-4 * (1.0 + v.abs()), "eval {u} vs {v}");
    }
}
