//! The taped losses against hand-computed values, against their `f64` reference (value and
//! central finite differences of the gradient), and against the dfdx/PyTorch identities they
//! must keep.

use dfdx::prelude::*;

use super::*;

/// A deterministic generator of values in [0, 1).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> f32 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 40) as f64 / (1u64 << 24) as f64) as f32
    }
    fn range(&mut self, lo: f32, hi: f32) -> f32 {
        lo + (hi - lo) * self.next()
    }
}

/// Value and gradient of the taped loss at `pred` (rows, cols).
fn taped(
    kind: &LossKind,
    pred: &[f32],
    cols: usize,
    target: &LossTarget<'_>,
    weights: Option<&[f32]>,
    denom: Option<f32>,
) -> (f32, Vec<f32>) {
    let dev = Cpu::default();
    let x = dev.tensor_from_vec(pred.to_vec(), (pred.len() / cols, cols));
    let l = apply(kind, x.leaky_trace(), target, weights, denom).unwrap();
    let v = l.array();
    let g = l.backward();
    (v, g.get(&x).as_vec())
}

/// The same loss evaluated with no tape at all.
fn untaped(
    kind: &LossKind,
    pred: &[f32],
    cols: usize,
    target: &LossTarget<'_>,
    weights: Option<&[f32]>,
    denom: Option<f32>,
) -> f32 {
    let dev = Cpu::default();
    let x = dev.tensor_from_vec(pred.to_vec(), (pred.len() / cols, cols));
    apply(kind, x, target, weights, denom).unwrap().array()
}

fn close(a: f64, b: f64, abs: f64, rel: f64) -> bool {
    (a - b).abs() <= abs + rel * a.abs().max(b.abs())
}

/// Checks value (taped, untaped, reference) and gradient (central differences of the f64
/// reference, eps 1e-2) of one case; ignored elements must get exactly zero gradient.
fn check(
    kind: &LossKind,
    pred: &[f32],
    cols: usize,
    target: &LossTarget<'_>,
    weights: Option<&[f32]>,
    denom: Option<f32>,
) {
    let d64 = denom.map(f64::from);
    let (v, g) = taped(kind, pred, cols, target, weights, denom);
    let r = reference(kind, pred, cols, target, weights, d64).unwrap();
    let u = untaped(kind, pred, cols, target, weights, denom);
    assert!(
        close(v as f64, r, 1e-6, 1e-5),
        "{kind:?}: taped {v} reference {r}"
    );
    assert_eq!(v, u, "{kind:?}: taped and untaped values differ");
    let eps = 1e-2f32;
    for i in 0..pred.len() {
        let (mut p, mut m) = (pred.to_vec(), pred.to_vec());
        p[i] += eps;
        m[i] -= eps;
        let lp = reference(kind, &p, cols, target, weights, d64).unwrap();
        let lm = reference(kind, &m, cols, target, weights, d64).unwrap();
        let num = (lp - lm) / (p[i] as f64 - m[i] as f64);
        let ana = g[i] as f64;
        assert!(
            close(num, ana, 1e-4, 1e-2),
            "{kind:?} d/dx[{i}]: analytic {ana} numeric {num} (weights {weights:?}, denom {denom:?})"
        );
    }
    // An element nothing depends on gets exactly zero gradient.
    let ignored_rows: Vec<usize> = match target {
        LossTarget::Classes(c) => (0..c.len())
            .filter(|&r| c[r] == IGNORE || weights.is_some_and(|w| w[r] == 0.0))
            .collect(),
        LossTarget::Values(_) => {
            weights.map_or(vec![], |w| (0..w.len()).filter(|&i| w[i] == 0.0).collect())
        }
    };
    let width = if kind.needs_classes() { cols } else { 1 };
    for r in ignored_rows {
        for (j, &gj) in g[r * width..(r + 1) * width].iter().enumerate() {
            assert_eq!(gj, 0.0, "{kind:?}: ignored element {r}/{j} has gradient");
        }
    }
}

fn class_kinds() -> Vec<LossKind> {
    vec![
        LossKind::CrossEntropy,
        LossKind::Dice { smooth: 1.0 },
        LossKind::Dice { smooth: 0.0 },
    ]
}

fn value_kinds() -> Vec<LossKind> {
    vec![
        LossKind::BceWithLogits,
        LossKind::Mse,
        LossKind::L1,
        LossKind::SmoothL1 { beta: 0.5 },
        LossKind::Focal {
            alpha: Some(0.25),
            gamma: 2.0,
        },
        LossKind::Focal {
            alpha: None,
            gamma: 0.5,
        },
        LossKind::Focal {
            alpha: Some(0.75),
            gamma: 0.0,
        },
    ]
}

#[test]
fn class_losses_match_reference_and_finite_differences() {
    let (rows, k) = (6, 4);
    for seed in 1..=3 {
        let mut g = Lcg(seed);
        let pred: Vec<f32> = (0..rows * k).map(|_| g.range(-2.0, 2.0)).collect();
        let classes: Vec<usize> = (0..rows).map(|r| (r + seed as usize) % k).collect();
        let mut some_ignored = classes.clone();
        some_ignored[1] = IGNORE;
        some_ignored[4] = IGNORE;
        let w: Vec<f32> = (0..rows)
            .map(|r| if r == 2 { 0.0 } else { g.range(0.5, 2.0) })
            .collect();
        for kind in class_kinds() {
            check(&kind, &pred, k, &LossTarget::Classes(&classes), None, None);
            let t = LossTarget::Classes(&some_ignored);
            check(&kind, &pred, k, &t, None, None);
            check(&kind, &pred, k, &t, Some(&w), None);
        }
        let t = LossTarget::Classes(&some_ignored);
        check(&LossKind::CrossEntropy, &pred, k, &t, Some(&w), Some(2.5));
    }
}

#[test]
fn value_losses_match_reference_and_finite_differences() {
    let n = 12;
    for seed in 1..=3 {
        let mut g = Lcg(seed + 10);
        let pred: Vec<f32> = (0..n).map(|_| g.range(-2.0, 2.0)).collect();
        // Probabilities, hard and soft, for BCE and focal.
        let probs: Vec<f32> = (0..n)
            .map(|i| match i % 3 {
                0 => 0.0,
                1 => 1.0,
                _ => g.next(),
            })
            .collect();
        // Regression targets kept at least 0.1 from the kinks of L1 (d = 0) and smooth L1
        // (|d| = beta = 0.5), where a finite difference would straddle them.
        let values: Vec<f32> = pred
            .iter()
            .enumerate()
            .map(|(i, &x)| {
                let d = if i % 2 == 0 {
                    g.range(0.1, 0.4)
                } else {
                    g.range(0.6, 1.5)
                };
                if i % 4 < 2 {
                    x + d
                } else {
                    x - d
                }
            })
            .collect();
        let w: Vec<f32> = (0..n)
            .map(|i| if i % 5 == 1 { 0.0 } else { g.range(0.5, 2.0) })
            .collect();
        for kind in value_kinds() {
            let t = match kind {
                LossKind::BceWithLogits | LossKind::Focal { .. } => LossTarget::Values(&probs),
                _ => LossTarget::Values(&values),
            };
            check(&kind, &pred, 4, &t, None, None);
            check(&kind, &pred, 4, &t, Some(&w), None);
            check(&kind, &pred, 4, &t, Some(&w), Some(3.0));
        }
    }
}

/// The value of `kind` at `pred` (as one row of `cols`, or flat), through the taped path.
fn value(kind: &LossKind, pred: &[f32], cols: usize, t: LossTarget<'_>, w: Option<&[f32]>) -> f32 {
    let v = untaped(kind, pred, cols, &t, w, None);
    let r = reference(kind, pred, cols, &t, w, None).unwrap();
    assert!(
        close(v as f64, r, 1e-6, 1e-5),
        "{kind:?}: taped {v} reference {r}"
    );
    v
}

fn near(a: f32, b: f64) {
    assert!(close(a as f64, b, 1e-6, 1e-5), "{a} != {b}");
}

#[test]
fn cross_entropy_by_hand() {
    let ce = LossKind::CrossEntropy;
    // Scores [1, 2, 3], class 2: ln(e^1 + e^2 + e^3) - 3 = 0.407606.
    near(
        value(&ce, &[1.0, 2.0, 3.0], 3, LossTarget::Classes(&[2]), None),
        0.407606,
    );
    // Add an ignored row: PyTorch's mean is over the rows kept, so nothing changes.
    let s = [1.0, 2.0, 3.0, 9.0, -9.0, 0.0];
    near(
        value(&ce, &s, 3, LossTarget::Classes(&[2, IGNORE]), None),
        0.407606,
    );
    // Scores [0, 0, 0] give ln 3 = 1.098612 for any class; weights 1 and 3:
    // (1 * 0.407606 + 3 * 1.098612) / 4 = 0.925861.
    let s = [1.0, 2.0, 3.0, 0.0, 0.0, 0.0];
    let v = value(&ce, &s, 3, LossTarget::Classes(&[2, 0]), Some(&[1.0, 3.0]));
    near(v, 0.925861);
}

#[test]
fn value_losses_by_hand() {
    let t = LossTarget::Values;
    // BCE: x = 0, t = 1 gives ln 2 = 0.693147; x = 2, t = 0 gives 2 + ln(1 + e^-2) = 2.126928;
    // mean 1.410038. x = -3, t = 0.25 gives 0 + 0.75 + ln(1 + e^-3) = 0.798587.
    let bce = LossKind::BceWithLogits;
    near(value(&bce, &[0.0, 2.0], 1, t(&[1.0, 0.0]), None), 1.410038);
    near(value(&bce, &[-3.0], 1, t(&[0.25]), None), 0.798587);
    // Predictions [1, 2, 4], targets [1, 0, 1]: differences 0, 2, 3.
    let (p, y) = ([1.0, 2.0, 4.0], [1.0, 0.0, 1.0]);
    // MSE (0 + 4 + 9) / 3 = 4.333333; L1 (0 + 2 + 3) / 3 = 1.666667.
    near(value(&LossKind::Mse, &p, 1, t(&y), None), 13.0 / 3.0);
    near(value(&LossKind::L1, &p, 1, t(&y), None), 5.0 / 3.0);
    // Weights [1, 0, 2]: L1 (0 + 0 + 2 * 3) / 3 = 2.
    near(
        value(&LossKind::L1, &p, 1, t(&y), Some(&[1.0, 0.0, 2.0])),
        2.0,
    );
    // Smooth L1, beta 1, differences 0.5 and 2: 0.5 * 0.25 = 0.125 and 2 - 0.5 = 1.5; mean 0.8125.
    let sl1 = LossKind::SmoothL1 { beta: 1.0 };
    near(value(&sl1, &[0.5, 2.0], 1, t(&[0.0, 0.0]), None), 0.8125);
    // beta 0 is L1, as in PyTorch.
    let sl0 = LossKind::SmoothL1 { beta: 0.0 };
    near(value(&sl0, &p, 1, t(&y), None), 5.0 / 3.0);
    // Focal, gamma 2, alpha 0.25. x = 0, t = 1: p = 0.5, ce = ln 2, 1 - p_t = 0.5,
    // alpha_t = 0.25: ln 2 * 0.25 * 0.25 = 0.043322. x = 2, t = 0: p = sigmoid(2) = 0.880797,
    // ce = 2.126928, 1 - p_t = p, alpha_t = 0.75: 2.126928 * 0.880797^2 * 0.75 = 1.237559.
    // RetinaNet's sum over one foreground anchor: denom 1 gives 1.280880.
    let focal = LossKind::Focal {
        alpha: Some(0.25),
        gamma: 2.0,
    };
    near(
        value(&focal, &[0.0, 2.0], 1, t(&[1.0, 0.0]), None),
        1.280880 / 2.0,
    );
    let dev = Cpu::default();
    let x = dev.tensor_from_vec(vec![0.0, 2.0], (2,));
    let v = sigmoid_focal(x, &[1.0, 0.0], Some(0.25), 2.0, None, Some(1.0)).unwrap();
    near(v.array(), 1.280880);
}

#[test]
fn dice_by_hand() {
    let t = LossTarget::Classes;
    // Two rows of equal scores, classes 0 and 1: every p = 0.5, so per class sum p t = 0.5,
    // sum p = 1, sum t = 1. Smooth 1: dice = (1 + 1) / (1 + 1 + 1) = 2/3, loss 1/3.
    // Smooth 0: dice = 1 / 2, loss 1/2.
    let s = [0.0, 0.0, 0.0, 0.0];
    near(
        value(&LossKind::Dice { smooth: 1.0 }, &s, 2, t(&[0, 1]), None),
        1.0 / 3.0,
    );
    near(
        value(&LossKind::Dice { smooth: 0.0 }, &s, 2, t(&[0, 1]), None),
        0.5,
    );
    // One row [ln 3, 0], class 0 (the second row ignored): p = [0.75, 0.25]. Smooth 1:
    // class 0 (1.5 + 1) / (0.75 + 1 + 1) = 0.909091, class 1 (0 + 1) / (0.25 + 0 + 1) = 0.8;
    // loss 1 - 0.854545 = 0.145455.
    let s = [3f32.ln(), 0.0, 5.0, -5.0];
    let dice = LossKind::Dice { smooth: 1.0 };
    near(value(&dice, &s, 2, t(&[0, IGNORE]), None), 0.145455);
    // The same by weight 0 instead of IGNORE.
    near(value(&dice, &s, 2, t(&[0, 1]), Some(&[1.0, 0.0])), 0.145455);
}

#[test]
fn focal_without_gamma_and_alpha_is_bce_with_logits() {
    let mut g = Lcg(99);
    let n = 10;
    let x: Vec<f32> = (0..n).map(|_| g.range(-4.0, 4.0)).collect();
    let t: Vec<f32> = (0..n)
        .map(|i| if i % 3 == 0 { g.next() } else { (i % 2) as f32 })
        .collect();
    let w: Vec<f32> = (0..n)
        .map(|i| if i == 3 { 0.0 } else { g.range(0.5, 2.0) })
        .collect();
    let focal = LossKind::Focal {
        alpha: None,
        gamma: 0.0,
    };
    for (weights, denom) in [
        (None, None),
        (Some(&w[..]), None),
        (Some(&w[..]), Some(4.0)),
    ] {
        let a = taped(&focal, &x, 1, &LossTarget::Values(&t), weights, denom);
        let b = taped(
            &LossKind::BceWithLogits,
            &x,
            1,
            &LossTarget::Values(&t),
            weights,
            denom,
        );
        assert_eq!(a, b);
    }
}

#[test]
fn cross_entropy_without_ignored_rows_is_dfdx_builtin() {
    let mut g = Lcg(5);
    let (rows, k) = (7, 5);
    let s: Vec<f32> = (0..rows * k).map(|_| g.range(-3.0, 3.0)).collect();
    let classes: Vec<usize> = (0..rows).map(|r| (r * 3) % k).collect();
    let mut onehot = vec![0f32; rows * k];
    for (r, &c) in classes.iter().enumerate() {
        onehot[r * k + c] = 1.0;
    }
    let dev = Cpu::default();
    let x = dev.tensor_from_vec(s, (rows, k));
    let ours = cross_entropy(x.leaky_trace(), &classes, None).unwrap();
    let theirs =
        cross_entropy_with_logits_loss(x.leaky_trace(), dev.tensor_from_vec(onehot, (rows, k)));
    near(ours.array(), theirs.array() as f64);
    let (ga, gb) = (
        ours.backward().get(&x).as_vec(),
        theirs.backward().get(&x).as_vec(),
    );
    for (a, b) in ga.iter().zip(&gb) {
        assert!(
            close(*a as f64, *b as f64, 1e-7, 1e-5),
            "gradient {a} != {b}"
        );
    }
}

/// A loss, its targets, weights and denominator.
type Case<'a> = (LossKind, LossTarget<'a>, Option<&'a [f32]>, Option<f32>);

#[test]
fn nothing_to_average_gives_zero_not_nan() {
    let pred = [0.3f32, -1.0, 2.0, 0.5, 1.5, -0.2];
    let nothing = [IGNORE; 3];
    let zeros = [0.0f32; 6];
    let mut cases: Vec<Case> = vec![];
    for kind in class_kinds() {
        cases.push((kind, LossTarget::Classes(&nothing), None, None));
        cases.push((
            kind,
            LossTarget::Classes(&[0, 1, 0]),
            Some(&zeros[..3]),
            None,
        ));
    }
    cases.push((
        LossKind::CrossEntropy,
        LossTarget::Classes(&[0, 1, 0]),
        None,
        Some(0.0),
    ));
    for kind in value_kinds() {
        cases.push((kind, LossTarget::Values(&pred), Some(&zeros), None));
        cases.push((kind, LossTarget::Values(&pred), None, Some(0.0)));
    }
    for (kind, t, w, d) in &cases {
        let (v, g) = taped(kind, &pred, 2, t, *w, *d);
        assert_eq!(v, 0.0, "{kind:?} {t:?}");
        assert!(
            g.iter().all(|&x| x == 0.0),
            "{kind:?} {t:?}: gradient {g:?}"
        );
        let r = reference(kind, &pred, 2, t, *w, d.map(f64::from)).unwrap();
        assert_eq!(r, 0.0, "{kind:?} {t:?} reference");
    }
}

#[test]
fn bad_inputs_are_errors() {
    let dev = Cpu::default();
    let m = || dev.tensor_from_vec(vec![0f32; 6], (2, 3));
    let f = || dev.tensor_from_vec(vec![0f32; 3], (3,));
    assert!(cross_entropy(m(), &[0, 3], None).is_err());
    assert!(cross_entropy(m(), &[0], None).is_err());
    assert!(cross_entropy(m(), &[0, 1], Some(&[1.0, -1.0])).is_err());
    assert!(cross_entropy(m(), &[0, 1], Some(&[1.0])).is_err());
    assert!(soft_dice(m(), &[0, 1], None, -1.0).is_err());
    assert!(mse(f(), &[0.0, 1.0], None, None).is_err());
    assert!(mse(f(), &[0.0; 3], Some(&[1.0, f32::NAN, 1.0]), None).is_err());
    assert!(l1(f(), &[0.0; 3], None, Some(-1.0)).is_err());
    assert!(smooth_l1(f(), &[0.0; 3], -0.5, None, None).is_err());
    assert!(sigmoid_focal(f(), &[0.0; 3], Some(1.5), 2.0, None, None).is_err());
    assert!(sigmoid_focal(f(), &[0.0; 3], None, -1.0, None, None).is_err());
    let wrong = LossTarget::Values(&[0.0; 6]);
    assert!(apply(&LossKind::CrossEntropy, m(), &wrong, None, None).is_err());
    assert!(apply(
        &LossKind::Mse,
        m(),
        &LossTarget::Classes(&[0, 1]),
        None,
        None
    )
    .is_err());
    let dice = LossKind::Dice { smooth: 1.0 };
    assert!(apply(&dice, m(), &LossTarget::Classes(&[0, 1]), None, Some(1.0)).is_err());
    assert!(reference(&LossKind::Mse, &[0.0; 3], 1, &wrong, None, None).is_err());
}

#[test]
fn kinds_name_themselves() {
    assert_eq!(LossKind::CrossEntropy.name(), "cross-entropy");
    assert_eq!(LossKind::SmoothL1 { beta: 1.0 }.name(), "smooth L1");
    assert!(LossKind::Dice { smooth: 1.0 }.needs_classes());
    assert!(!LossKind::Focal {
        alpha: None,
        gamma: 2.0
    }
    .needs_classes());
}
