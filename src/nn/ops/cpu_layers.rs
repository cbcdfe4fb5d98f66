//! Fast CPU versions of the layers between the convolutions: batch norm (training and
//! evaluation, over images or vectors, with a following ReLU fused in when asked), ReLU, the
//! residual add and dropout, nearest upsampling (`upsample.rs`), and the losses' row-wise
//! softmax, binary cross-entropy and power.
//! dfdx runs these as chains of single-threaded elementwise kernels, each pass allocating a
//! zeroed tensor (batch norm in training mode was two thirds of a batch-norm CNN's step); here
//! each is one custom op with a hand-written backward, on both cores through rayon.
//!
//! Determinism: every reduction is per channel, summed in one fixed order (eight f64 lanes
//! across each contiguous run, runs in example order) by one task, so results do not depend on
//! the number of threads. As in [`super::cpu`], backward closures *add* into input gradients and
//! *take* the output gradient.

use dfdx::prelude::*;
use rayon::prelude::*;

use super::cpu::{to_vec, untape};
use super::scratch;
use super::{BnOut, BnParams, Img, Mat};

mod reduce;
mod upsample;

pub use reduce::{mse_mean, pixel_rows, plane_means, weighted_col_sums, weighted_sum};
pub use upsample::upsample_nearest;

/// Values per parallel task in elementwise passes: fewer is not worth waking a thread for.
const MIN_VALUES: usize = 1 << 14;

/// A batch-norm input as `n` examples of `c` channels of `inner` contiguous values (`h*w` for
/// images, 1 for vectors).
#[derive(Debug, Clone, Copy)]
struct Layout {
    n: usize,
    c: usize,
    inner: usize,
}

impl Layout {
    /// Values per channel: what the statistics average over.
    fn count(&self) -> usize {
        self.n * self.inner
    }
    /// One example's values.
    fn row(&self) -> usize {
        (self.c * self.inner).max(1)
    }
    /// Channel `ch`'s run in example `i`.
    fn run<'a>(&self, v: &'a [f32], i: usize, ch: usize) -> &'a [f32] {
        &v[(i * self.c + ch) * self.inner..][..self.inner]
    }
    /// Examples per task in passes over rows.
    fn min_rows(&self) -> usize {
        (MIN_VALUES / self.row().max(1)).max(1)
    }
    /// Channels per task in per-channel reductions.
    fn min_channels(&self) -> usize {
        (MIN_VALUES / self.count().max(1)).max(1)
    }
}

/// `sum(f(v))` over a run in a fixed order: eight f64 lanes, then the lanes, then the tail.
#[inline]
fn lanes(s: &[f32], f: impl Fn(f32) -> f64) -> f64 {
    let mut acc = [0f64; 8];
    let mut it = s.chunks_exact(8);
    for ch in &mut it {
        for (a, &v) in acc.iter_mut().zip(ch) {
            *a += f(v);
        }
    }
    let mut t = acc.iter().sum::<f64>();
    for &v in it.remainder() {
        t += f(v);
    }
    t
}

/// Two sums `(sum(f(a, b).0), sum(f(a, b).1))` over paired runs, in [`lanes`]' order.
#[inline]
fn lanes2(a: &[f32], b: &[f32], f: impl Fn(f32, f32) -> (f64, f64)) -> (f64, f64) {
    let (mut p, mut q) = ([0f64; 8], [0f64; 8]);
    let (mut ia, mut ib) = (a.chunks_exact(8), b.chunks_exact(8));
    for (ca, cb) in (&mut ia).zip(&mut ib) {
        for k in 0..8 {
            let (u, v) = f(ca[k], cb[k]);
            p[k] += u;
            q[k] += v;
        }
    }
    let (mut s, mut t) = (p.iter().sum::<f64>(), q.iter().sum::<f64>());
    for (&u, &v) in ia.remainder().iter().zip(ib.remainder()) {
        let (x, y) = f(u, v);
        s += x;
        t += y;
    }
    (s, t)
}

/// Per channel, the batch mean and biased variance (two passes, f64 sums).
fn batch_stats(xv: &[f32], l: Layout) -> Vec<(f64, f64)> {
    let m = l.count() as f64;
    (0..l.c)
        .into_par_iter()
        .with_min_len(l.min_channels())
        .map(|ch| {
            let s: f64 = (0..l.n).map(|i| lanes(l.run(xv, i, ch), f64::from)).sum();
            let mean = s / m;
            let q: f64 = (0..l.n)
                .map(|i| {
                    lanes(l.run(xv, i, ch), |v| {
                        let d = f64::from(v) - mean;
                        d * d
                    })
                })
                .sum();
            (mean, q / m)
        })
        .collect()
}

/// The normalisation a forward pass applied, kept for the backward pass.
struct Affine {
    /// Mean subtracted, per channel.
    mean: Vec<f32>,
    /// 1/sqrt(var + eps), per channel.
    inv: Vec<f32>,
    /// gamma * inv: `y = x*scale + shift`.
    scale: Vec<f32>,
    /// beta - mean*scale.
    shift: Vec<f32>,
}

impl Affine {
    fn new(mean: Vec<f32>, inv: Vec<f32>, gamma: &[f32], beta: &[f32]) -> Affine {
        let scale: Vec<f32> = gamma.iter().zip(&inv).map(|(g, i)| g * i).collect();
        let shift = beta
            .iter()
            .zip(&mean)
            .zip(&scale)
            .map(|((b, m), s)| b - m * s)
            .collect();
        Affine {
            mean,
            inv,
            scale,
            shift,
        }
    }
}

/// `y = x*scale + shift` (then ReLU) over whole examples: from `src` into `dst`, or in place
/// when `src` is `None`.
fn affine_rows(src: Option<&[f32]>, dst: &mut [f32], l: Layout, a: &Affine, relu: bool) {
    // A channel's scale and shift are read once, outside the loops, and `relu` is held by
    // value (a captured reference is reloaded at every value), so the loops vectorise.
    let one = move |sc: f32, sh: f32, v: f32| {
        let y = v * sc + sh;
        if relu {
            y.max(0.0)
        } else {
            y
        }
    };
    let rows = dst.par_chunks_mut(l.row()).with_min_len(l.min_rows());
    match src {
        Some(src) => rows.zip(src.par_chunks(l.row())).for_each(|(d, s)| {
            for (ch, (d, s)) in d
                .chunks_mut(l.inner.max(1))
                .zip(s.chunks(l.inner.max(1)))
                .enumerate()
            {
                let (sc, sh) = (a.scale[ch], a.shift[ch]);
                for (o, &v) in d.iter_mut().zip(s) {
                    *o = one(sc, sh, v);
                }
            }
        }),
        None => rows.for_each(|d| {
            for (ch, d) in d.chunks_mut(l.inner.max(1)).enumerate() {
                let (sc, sh) = (a.scale[ch], a.shift[ch]);
                for o in d {
                    *o = one(sc, sh, *o);
                }
            }
        }),
    }
}

/// Batch norm over `[N, C, H, W]` per channel; see [`batchnorm`].
pub fn batchnorm2d<T: Tape<f32, Cpu> + Merge<NoneTape>>(
    x: Tensor<Img, f32, Cpu, T>,
    p: &BnParams<'_, Cpu>,
    need_dx: bool,
) -> Result<BnOut<Img, Cpu, T>, CpuError> {
    let (n, c, h, w) = *x.shape();
    batchnorm(x, Layout { n, c, inner: h * w }, p, need_dx)
}

/// Batch norm over `[N, F]` per feature; see [`batchnorm`].
pub fn batchnorm1d<T: Tape<f32, Cpu> + Merge<NoneTape>>(
    x: Tensor<Mat, f32, Cpu, T>,
    p: &BnParams<'_, Cpu>,
    need_dx: bool,
) -> Result<BnOut<Mat, Cpu, T>, CpuError> {
    let (n, c) = *x.shape();
    batchnorm(x, Layout { n, c, inner: 1 }, p, need_dx)
}

/// Batch norm as one op: the statistics per channel in parallel (training mode; evaluation
/// mode takes the running ones), then one pass of `y = x*scale + shift` with the optional ReLU.
/// The backward pass is the closed form, per channel: with `g` the output gradient (zero where
/// the fused ReLU was off) and `xhat` the normalized input, `dbeta = sum(g)`,
/// `dgamma = sum(g*xhat)` and `dx = gamma*inv*(g - dbeta/m - xhat*dgamma/m)` (in evaluation
/// mode the statistics are constants: `dx = gamma*inv*g`). `need_dx = false` skips `dx`.
fn batchnorm<S: Shape, T: Tape<f32, Cpu> + Merge<NoneTape>>(
    x: Tensor<S, f32, Cpu, T>,
    l: Layout,
    p: &BnParams<'_, Cpu>,
    need_dx: bool,
) -> Result<BnOut<S, Cpu, T>, CpuError> {
    let shape = *x.shape();
    let (dev, x, mut tape, mut xv) = untape(x)?;
    let gamma = to_vec(p.gamma);
    let beta = to_vec(p.beta);
    let (affine, stats) = match p.running {
        Some((rm, rv)) => {
            let inv = to_vec(rv)
                .iter()
                .map(|&v| (1.0 / (f64::from(v) + p.eps).sqrt()) as f32)
                .collect();
            (Affine::new(to_vec(rm), inv, &gamma, &beta), None)
        }
        None => {
            let st = batch_stats(&xv, l);
            let mean: Vec<f32> = st.iter().map(|s| s.0 as f32).collect();
            let var: Vec<f32> = st.iter().map(|s| s.1 as f32).collect();
            let inv = st
                .iter()
                .map(|s| (1.0 / (s.1 + p.eps).sqrt()) as f32)
                .collect();
            let stats = (
                dev.try_tensor_from_vec(mean.clone(), (l.c,))?,
                dev.try_tensor_from_vec(var, (l.c,))?,
            );
            (Affine::new(mean, inv, &gamma, &beta), Some(stats))
        }
    };
    let relu = p.relu;
    let out = if T::OWNS_TAPE {
        let mut out = scratch::take(xv.len()); // every value is written
        affine_rows(Some(&xv), &mut out, l, &affine, relu);
        out
    } else {
        // Nothing to keep for a backward pass: normalize the copy in place.
        affine_rows(None, &mut xv, l, &affine, relu);
        std::mem::take(&mut xv)
    };
    let out = dev.try_tensor_from_vec(out, shape)?;
    if T::OWNS_TAPE {
        let (xg, og, gg, bg) = (x.ghost(), out.ghost(), p.gamma.ghost(), p.beta.ghost());
        let batch = p.running.is_none();
        tape.add_backward_op(move |grads| {
            let gout: Vec<f32> = std::mem::take(&mut **grads.get_or_alloc_mut(&og)?);
            let a = &affine;
            // The output gradient where it passes the fused ReLU (the same `x*scale + shift`
            // as the forward pass, so the same mask to the bit), for a channel's scale and
            // shift read once outside the loops and `relu` held by value (so they vectorise).
            let pass = move |sc: f32, sh: f32, v: f32, g: f32| -> f32 {
                if relu && v * sc + sh <= 0.0 {
                    0.0
                } else {
                    g
                }
            };
            let sums: Vec<(f64, f64)> = (0..l.c)
                .into_par_iter()
                .with_min_len(l.min_channels())
                .map(|ch| {
                    let (mu, inv) = (a.mean[ch], a.inv[ch]);
                    let (sc, sh) = (a.scale[ch], a.shift[ch]);
                    (0..l.n)
                        .map(|i| {
                            lanes2(l.run(&gout, i, ch), l.run(&xv, i, ch), |g, v| {
                                let g = pass(sc, sh, v, g);
                                (f64::from(g), f64::from(g * ((v - mu) * inv)))
                            })
                        })
                        .fold((0.0, 0.0), |(s, t), (u, w)| (s + u, t + w))
                })
                .collect();
            for (d, s) in grads.get_or_alloc_mut(&gg)?.iter_mut().zip(&sums) {
                *d += s.1 as f32;
            }
            for (d, s) in grads.get_or_alloc_mut(&bg)?.iter_mut().zip(&sums) {
                *d += s.0 as f32;
            }
            if need_dx {
                let m = l.count() as f64;
                // Per channel: dx = k*g - c0 - c1*xhat, with the batch terms zero in
                // evaluation mode.
                let coef: Vec<(f32, f32, f32)> = sums
                    .iter()
                    .enumerate()
                    .map(|(ch, &(sg, sgx))| {
                        let k = a.scale[ch];
                        if batch {
                            (
                                k,
                                (f64::from(k) * sg / m) as f32,
                                (f64::from(k) * sgx / m) as f32,
                            )
                        } else {
                            (k, 0.0, 0.0)
                        }
                    })
                    .collect();
                let gx = grads.get_or_alloc_mut(&xg)?;
                gx.par_chunks_mut(l.row())
                    .zip(gout.par_chunks(l.row()).zip(xv.par_chunks(l.row())))
                    .with_min_len(l.min_rows())
                    .for_each(|(d, (go, xs))| {
                        for (ch, &(k, c0, c1)) in coef.iter().enumerate() {
                            let (mu, inv) = (a.mean[ch], a.inv[ch]);
                            let (sc, sh) = (a.scale[ch], a.shift[ch]);
                            let r = ch * l.inner..(ch + 1) * l.inner;
                            let (d, go, xs) = (&mut d[r.clone()], &go[r.clone()], &xs[r]);
                            for ((o, &g), &v) in d.iter_mut().zip(go).zip(xs) {
                                let g = pass(sc, sh, v, g);
                                *o += k * g - c0 - c1 * ((v - mu) * inv);
                            }
                        }
                    });
            }
            scratch::give(gout);
            scratch::give(xv);
            Ok(())
        });
    }
    Ok((out.put_tape(tape), stats))
}

/// The logistic sigmoid `1 / (1 + e^-x)`, in parallel; the backward pass is `g * y * (1 - y)`
/// from the kept output.
///
/// The exponential is [`exp_lanes`], inlined here. glibc's (AVX-encoded) `expf`, called from
/// this SSE code after the matrix products' AVX-512 kernels had left the upper register halves
/// dirty, paid a state-transition penalty twice per value (4.6 ms for a 64 x 784 batch; dfdx's
/// sigmoid pays it too); the `libm` crate's, used next, avoided that but is scalar.
pub fn sigmoid<S: Shape, T: Tape<f32, Cpu> + Merge<NoneTape>>(
    x: Tensor<S, f32, Cpu, T>,
) -> Result<Tensor<S, f32, Cpu, T>, CpuError> {
    let shape = *x.shape();
    let (dev, x, mut tape, mut v) = untape(x)?;
    let sig = |a: &mut f32| *a = 1.0 / (1.0 + exp_lanes(-*a));
    // The backward keeps its own copy of the outputs, written in the same pass.
    let kept = if T::OWNS_TAPE {
        let mut k = scratch::take(v.len());
        k.par_chunks_mut(MIN_VALUES)
            .zip(v.par_chunks_mut(MIN_VALUES))
            .for_each(|(k, v)| {
                for (k, a) in k.iter_mut().zip(v) {
                    sig(a);
                    *k = *a;
                }
            });
        k
    } else {
        v.par_chunks_mut(MIN_VALUES)
            .for_each(|c| c.iter_mut().for_each(sig));
        Vec::new()
    };
    let out = dev.try_tensor_from_vec(v, shape)?;
    if T::OWNS_TAPE {
        let (xg, og) = (x.ghost(), out.ghost());
        tape.add_backward_op(move |grads| {
            let gout: Vec<f32> = std::mem::take(&mut **grads.get_or_alloc_mut(&og)?);
            add_elementwise(grads.get_or_alloc_mut(&xg)?, &gout, &kept, |g, y, _| {
                g * y * (1.0 - y)
            });
            scratch::give(gout);
            scratch::give(kept);
            Ok(())
        });
    }
    Ok(out.put_tape(tape))
}

/// `dx[i] += grad(g[i], kept[i], i)` for every value, in parallel: the backward pass of an
/// elementwise op, from the output gradient `g` and what the forward kept per value.
fn add_elementwise<K: Copy + Sync>(
    dx: &mut [f32],
    g: &[f32],
    kept: &[K],
    grad: impl Fn(f32, K, usize) -> f32 + Sync,
) {
    dx.par_chunks_mut(MIN_VALUES)
        .zip(g.par_chunks(MIN_VALUES).zip(kept.par_chunks(MIN_VALUES)))
        .enumerate()
        .for_each(|(c, (d, (g, k)))| {
            for (j, ((d, &g), &k)) in d.iter_mut().zip(g).zip(k).enumerate() {
                *d += grad(g, k, c * MIN_VALUES + j);
            }
        });
}

/// `e^x` with no branch and no call, so that a loop of it is vectorised (the `libm` crate's
/// scalar `expf` was 45% of lesson 5's linear autoencoder step, all in its sigmoid): `x` is
/// split as `k ln 2 + r` with `|r| <= ln 2 / 2` (`k` rounded to nearest by the 1.5 * 2^23
/// trick, `ln 2` in two parts so that `r` is exact), `e^r` is Cephes' degree-6 polynomial for
/// `expf`, and `2^k` is built from its exponent bits. Within 2 ulp of `e^x` on [-87, 88] (see
/// the test); inputs beyond are clamped, where `e^x` is 0 or overflows for a sigmoid anyway.
#[inline(always)]
fn exp_lanes(x: f32) -> f32 {
    const ROUND: f32 = 12_582_912.0;
    let x = x.clamp(-87.0, 88.0);
    let k = (x * std::f32::consts::LOG2_E + ROUND) - ROUND;
    let r = x - k * 0.693_359_4 - k * -2.121_944_4e-4;
    let p = 1.987_569_1e-4;
    let p = p * r + 1.398_2e-3;
    let p = p * r + 8.333_452e-3;
    let p = p * r + 4.166_579_6e-2;
    let p = p * r + 1.666_666_5e-1;
    let p = p * r + 0.5;
    let er = p * r * r + r + 1.0;
    // `k` is in [-126, 127]: a normal power of two.
    er * f32::from_bits(((k as i32 + 127) as u32) << 23)
}

/// Softmax or log-softmax over each row of `(rows, k)` scores, in parallel, with the `libm`
/// crate's `expf` and `logf` (see [`sigmoid`] for why not glibc's: a per-pixel cross-entropy
/// of lesson 7 is 131,072 of each per step). Per row: `m = max`, `s = sum exp(x - m)`,
/// `p = exp(x - m) / s`, `log p = x - m - ln s`. The backward pass, from the kept `p`:
/// `dx = g - p sum(g)` for the log-softmax, `dx = p (g - sum(g p))` for the softmax.
fn softmax_rows<T: Tape<f32, Cpu> + Merge<NoneTape>>(
    x: Tensor<Mat, f32, Cpu, T>,
    log: bool,
) -> Result<Tensor<Mat, f32, Cpu, T>, CpuError> {
    let shape = *x.shape();
    let k = shape.1.max(1);
    let (dev, x, mut tape, mut v) = untape(x)?;
    let mut p = scratch::take(v.len()); // every value is written
    let rows = (MIN_VALUES / k).max(1) * k;
    v.par_chunks_mut(rows)
        .zip(p.par_chunks_mut(rows))
        .for_each(|(v, p)| {
            for (v, p) in v.chunks_mut(k).zip(p.chunks_mut(k)) {
                let m = v.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                let mut s = 0f32;
                for (e, &a) in p.iter_mut().zip(v.iter()) {
                    *e = libm::expf(a - m);
                    s += *e;
                }
                // The logarithm only where it is used.
                let (inv, ls) = (1.0 / s, if log { libm::logf(s) } else { 0.0 });
                for (e, a) in p.iter_mut().zip(v.iter_mut()) {
                    *e *= inv;
                    *a = if log { *a - m - ls } else { *e };
                }
            }
        });
    let out = dev.try_tensor_from_vec(v, shape)?;
    if T::OWNS_TAPE {
        let (xg, og) = (x.ghost(), out.ghost());
        tape.add_backward_op(move |grads| {
            let gout: Vec<f32> = std::mem::take(&mut **grads.get_or_alloc_mut(&og)?);
            let gx = grads.get_or_alloc_mut(&xg)?;
            gx.par_chunks_mut(rows)
                .zip(gout.par_chunks(rows).zip(p.par_chunks(rows)))
                .for_each(|(d, (g, p))| {
                    for ((d, g), p) in d.chunks_mut(k).zip(g.chunks(k)).zip(p.chunks(k)) {
                        if log {
                            let sg: f32 = g.iter().sum();
                            for ((d, &g), &p) in d.iter_mut().zip(g).zip(p) {
                                *d += g - p * sg;
                            }
                        } else {
                            let sgp: f32 = g.iter().zip(p).map(|(&g, &p)| g * p).sum();
                            for ((d, &g), &p) in d.iter_mut().zip(g).zip(p) {
                                *d += p * (g - sgp);
                            }
                        }
                    }
                });
            scratch::give(gout);
            scratch::give(p);
            Ok(())
        });
    } else {
        scratch::give(p);
    }
    Ok(out.put_tape(tape))
}

/// Log-softmax over each row; see [`softmax_rows`].
pub fn log_softmax<T: Tape<f32, Cpu> + Merge<NoneTape>>(
    x: Tensor<Mat, f32, Cpu, T>,
) -> Result<Tensor<Mat, f32, Cpu, T>, CpuError> {
    softmax_rows(x, true)
}

/// Softmax over each row; see [`softmax_rows`].
pub fn softmax<T: Tape<f32, Cpu> + Merge<NoneTape>>(
    x: Tensor<Mat, f32, Cpu, T>,
) -> Result<Tensor<Mat, f32, Cpu, T>, CpuError> {
    softmax_rows(x, false)
}

/// Binary cross-entropy on logits, per value, in its stable form
/// `max(x, 0) - x t + ln(1 + exp(-|x|))` (dfdx's kernel and PyTorch's), in parallel with the
/// `libm` crate's `expf`/`log1pf` (see [`sigmoid`]); the backward pass is `g (sigmoid(x) - t)`.
/// The targets `t` are constants.
pub fn bce_with_logits<T: Tape<f32, Cpu> + Merge<NoneTape>>(
    x: Tensor<(usize,), f32, Cpu, T>,
    targets: &[f32],
) -> Result<Tensor<(usize,), f32, Cpu, T>, CpuError> {
    assert_eq!(targets.len(), x.shape().0, "one target per logit");
    let t = targets.to_vec();
    pointwise(
        x,
        |x, i| x.max(0.0) - x * targets[i] + libm::log1pf(libm::expf(-x.abs())),
        move |x, i| 1.0 / (1.0 + libm::expf(-x)) - t[i],
    )
}

/// A pointwise op in parallel: `y_i = f(x_i, i)`, and the backward pass
/// `dx_i += g_i df(x_i, i)` from the kept input.
fn pointwise<S: Shape, T: Tape<f32, Cpu> + Merge<NoneTape>>(
    x: Tensor<S, f32, Cpu, T>,
    f: impl Fn(f32, usize) -> f32 + Sync,
    df: impl Fn(f32, usize) -> f32 + Send + Sync + 'static,
) -> Result<Tensor<S, f32, Cpu, T>, CpuError> {
    let shape = *x.shape();
    let (dev, x, mut tape, xv) = untape(x)?;
    let mut v = scratch::take(xv.len()); // every value is written
    v.par_chunks_mut(MIN_VALUES)
        .zip(xv.par_chunks(MIN_VALUES))
        .enumerate()
        .for_each(|(c, (y, x))| {
            for (j, (y, &x)) in y.iter_mut().zip(x).enumerate() {
                *y = f(x, c * MIN_VALUES + j);
            }
        });
    let out = dev.try_tensor_from_vec(v, shape)?;
    if T::OWNS_TAPE {
        let (xg, og) = (x.ghost(), out.ghost());
        tape.add_backward_op(move |grads| {
            let gout: Vec<f32> = std::mem::take(&mut **grads.get_or_alloc_mut(&og)?);
            add_elementwise(grads.get_or_alloc_mut(&xg)?, &gout, &xv, |g, x, i| {
                g * df(x, i)
            });
            scratch::give(gout);
            scratch::give(xv);
            Ok(())
        });
    } else {
        scratch::give(xv);
    }
    Ok(out.put_tape(tape))
}

/// `x^e` per value, in parallel, with the `libm` crate's `powf` (see [`sigmoid`]: the focal
/// loss's `(1 - p_t)^gamma` through glibc's `powf` was 11% of lesson 6's detector run); the
/// backward pass is dfdx's, `g e x^(e-1)`.
pub fn powf<S: Shape, T: Tape<f32, Cpu> + Merge<NoneTape>>(
    x: Tensor<S, f32, Cpu, T>,
    e: f32,
) -> Result<Tensor<S, f32, Cpu, T>, CpuError> {
    pointwise(
        x,
        |x, _| libm::powf(x, e),
        move |x, _| e * libm::powf(x, e - 1.0),
    )
}

/// ReLU as one parallel pass; the backward passes the gradient where the input was positive
/// (dfdx's and PyTorch's rule: none at exactly zero).
pub fn relu<S: Shape, T: Tape<f32, Cpu> + Merge<NoneTape>>(
    x: Tensor<S, f32, Cpu, T>,
) -> Result<Tensor<S, f32, Cpu, T>, CpuError> {
    let shape = *x.shape();
    let (dev, x, mut tape, mut v) = untape(x)?;
    let mask: Vec<u8> = if T::OWNS_TAPE {
        v.par_iter()
            .with_min_len(MIN_VALUES)
            .map(|&a| u8::from(a > 0.0))
            .collect()
    } else {
        Vec::new()
    };
    v.par_chunks_mut(MIN_VALUES).for_each(|c| {
        for a in c {
            *a = a.max(0.0);
        }
    });
    let out = dev.try_tensor_from_vec(v, shape)?;
    if T::OWNS_TAPE {
        let (xg, og) = (x.ghost(), out.ghost());
        tape.add_backward_op(move |grads| {
            let gout: Vec<f32> = std::mem::take(&mut **grads.get_or_alloc_mut(&og)?);
            add_elementwise(grads.get_or_alloc_mut(&xg)?, &gout, &mask, |g, m, _| {
                if m != 0 {
                    g
                } else {
                    0.0
                }
            });
            scratch::give(gout);
            Ok(())
        });
    }
    Ok(out.put_tape(tape))
}

/// `a + b` of the same shape (a residual join) as one parallel pass; the backward adds the
/// output gradient into both inputs' (twice into one tensor added to itself).
pub fn add<S: Shape, T: Tape<f32, Cpu> + Merge<NoneTape>>(
    a: Tensor<S, f32, Cpu, T>,
    b: Tensor<S, f32, Cpu, T>,
) -> Result<Tensor<S, f32, Cpu, T>, CpuError> {
    let dev = a.device().clone();
    let shape = *a.shape();
    if b.shape() != &shape {
        return Err(CpuError::WrongNumElements);
    }
    let (a, ta) = a.try_reshape_like(&shape)?.split_tape();
    let (b, tb) = b.try_reshape_like(&shape)?.split_tape();
    let mut tape = ta.merge(tb);
    let mut v = to_vec(&a);
    let w = to_vec(&b);
    v.par_chunks_mut(MIN_VALUES)
        .zip(w.par_chunks(MIN_VALUES))
        .for_each(|(v, w)| {
            for (v, w) in v.iter_mut().zip(w) {
                *v += w;
            }
        });
    scratch::give(w);
    let out = dev.try_tensor_from_vec(v, shape)?;
    if T::OWNS_TAPE {
        let (ag, bg, og) = (a.ghost(), b.ghost(), out.ghost());
        tape.add_backward_op(move |grads| {
            let gout: Vec<f32> = std::mem::take(&mut **grads.get_or_alloc_mut(&og)?);
            for g in [&ag, &bg] {
                grads
                    .get_or_alloc_mut(g)?
                    .par_chunks_mut(MIN_VALUES)
                    .zip(gout.par_chunks(MIN_VALUES))
                    .for_each(|(d, s)| {
                        for (d, s) in d.iter_mut().zip(s) {
                            *d += s;
                        }
                    });
            }
            Ok(())
        });
    }
    Ok(out.put_tape(tape))
}

/// `map[n, c, h, w] * gate[n, c]`, a squeeze-and-excitation block's rescaling, as one parallel
/// pass over the planes (dfdx's broadcast product runs on one core and strides through an
/// index per value). The backward adds `gate * g` to the map's gradient and, per plane,
/// `sum(g * map)` (in order) to the gate's.
pub fn scale_channels<T: Tape<f32, Cpu> + Merge<NoneTape>>(
    gate: Tensor<Mat, f32, Cpu, T>,
    map: Tensor<Img, f32, Cpu, T>,
) -> Result<Tensor<Img, f32, Cpu, T>, CpuError> {
    let dev = map.device().clone();
    let shape = *map.shape();
    let (n, c, h, w) = shape;
    let gshape = *gate.shape();
    if gshape != (n, c) {
        return Err(CpuError::WrongNumElements);
    }
    let (gate, ta) = gate.try_reshape_like(&gshape)?.split_tape();
    let (map, tb) = map.try_reshape_like(&shape)?.split_tape();
    let mut tape = ta.merge(tb);
    let gv = to_vec(&gate);
    let mv = to_vec(&map);
    let hw = (h * w).max(1);
    let min_planes = (MIN_VALUES / hw).max(1);
    let mut out = scratch::take(mv.len()); // every value is written
    out.par_chunks_mut(hw)
        .zip(mv.par_chunks(hw))
        .with_min_len(min_planes)
        .enumerate()
        .for_each(|(p, (o, m))| {
            let k = gv[p];
            for (o, &v) in o.iter_mut().zip(m) {
                *o = k * v;
            }
        });
    let out = dev.try_tensor_from_vec(out, shape)?;
    if T::OWNS_TAPE {
        let (gg, mg, og) = (gate.ghost(), map.ghost(), out.ghost());
        tape.add_backward_op(move |grads| {
            let gout: Vec<f32> = std::mem::take(&mut **grads.get_or_alloc_mut(&og)?);
            let dgate: Vec<f32> = gout
                .par_chunks(hw)
                .zip(mv.par_chunks(hw))
                .with_min_len(min_planes)
                .map(|(g, m)| g.iter().zip(m).fold(0f32, |s, (&g, &m)| s + g * m))
                .collect();
            for (d, s) in grads.get_or_alloc_mut(&gg)?.iter_mut().zip(&dgate) {
                *d += s;
            }
            grads
                .get_or_alloc_mut(&mg)?
                .par_chunks_mut(hw)
                .zip(gout.par_chunks(hw))
                .with_min_len(min_planes)
                .enumerate()
                .for_each(|(p, (d, g))| {
                    let k = gv[p];
                    for (d, &g) in d.iter_mut().zip(g) {
                        *d += k * g;
                    }
                });
            scratch::give(gout);
            scratch::give(mv);
            Ok(())
        });
    } else {
        scratch::give(mv);
    }
    Ok(out.put_tape(tape))
}

/// Whether dropout zeroes value `i`: a splitmix64 hash of the value's index under the run's
/// seed, compared with `p * 2^64`. A counter-based draw needs no stream, so every parallel task
/// draws its own values and the backward redraws the forward's mask instead of keeping it.
fn dropped(seed: u64, i: usize, threshold: u64) -> bool {
    let mut z = seed.wrapping_add(
        (i as u64)
            .wrapping_add(1)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15),
    );
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    (z ^ (z >> 31)) < threshold
}

/// Inverted dropout as one parallel pass: each value is zeroed with probability `p` and the
/// rest are scaled by `1 / (1 - p)` (PyTorch's rule), so the expected value is unchanged. The
/// seed comes from the device's generator, one draw per call as dfdx's own dropout takes, so
/// a seeded run is reproducible and independent of the number of threads. dfdx draws its mask
/// from one ChaCha stream on one core, forward and again backward (a third of lesson 3's MLP
/// step).
pub fn dropout<S: Shape, T: Tape<f32, Cpu> + Merge<NoneTape>>(
    x: Tensor<S, f32, Cpu, T>,
    p: f64,
) -> Result<Tensor<S, f32, Cpu, T>, CpuError> {
    let seed = x.device().random_u64();
    // `p < 1`, so the product is below 2^64; `as` saturates in any case.
    let threshold = (p * 18_446_744_073_709_551_616.0) as u64;
    let scale = (1.0 / (1.0 - p)) as f32;
    // Dropped values get a zero derivative: the gradient is masked as dfdx's is.
    let keep = move |i| !dropped(seed, i, threshold);
    pointwise(
        x,
        move |x, i| if keep(i) { x * scale } else { 0.0 },
        move |_, i| if keep(i) { scale } else { 0.0 },
    )
}

/// Two image batches joined along the channels (a U-Net's skip: `a`'s channels, then `b`'s),
/// each example's block copied on its own task; the backward splits the output gradient back
/// (into one tensor twice when it is joined to itself). dfdx's own concatenation walks every
/// value by index on one core, forward and backward.
pub fn concat_channels<T: Tape<f32, Cpu> + Merge<NoneTape>>(
    a: Tensor<Img, f32, Cpu, T>,
    b: Tensor<Img, f32, Cpu, T>,
) -> Result<Tensor<Img, f32, Cpu, T>, CpuError> {
    let dev = a.device().clone();
    let (n, ca, h, w) = *a.shape();
    let (nb, cb, hb, wb) = *b.shape();
    if (n, h, w) != (nb, hb, wb) {
        return Err(CpuError::WrongNumElements);
    }
    let (la, lb) = (ca * h * w, cb * h * w);
    let (a, ta) = a.try_reshape_like(&(n, ca, h, w))?.split_tape();
    let (b, tb) = b.try_reshape_like(&(n, cb, h, w))?.split_tape();
    let mut tape = ta.merge(tb);
    let (av, bv) = (to_vec(&a), to_vec(&b));
    let mut v = scratch::take(n * (la + lb)); // every value is written
    if la + lb > 0 {
        v.par_chunks_mut(la + lb).enumerate().for_each(|(i, o)| {
            o[..la].copy_from_slice(&av[i * la..(i + 1) * la]);
            o[la..].copy_from_slice(&bv[i * lb..(i + 1) * lb]);
        });
    }
    scratch::give(av);
    scratch::give(bv);
    let out = dev.try_tensor_from_vec(v, (n, ca + cb, h, w))?;
    if T::OWNS_TAPE {
        let (ag, bg, og) = (a.ghost(), b.ghost(), out.ghost());
        tape.add_backward_op(move |grads| {
            let gout: Vec<f32> = std::mem::take(&mut **grads.get_or_alloc_mut(&og)?);
            for (g, len, at) in [(&ag, la, 0), (&bg, lb, la)] {
                if len == 0 {
                    continue;
                }
                grads
                    .get_or_alloc_mut(g)?
                    .par_chunks_mut(len)
                    .zip(gout.par_chunks(la + lb))
                    .for_each(|(d, s)| {
                        for (d, s) in d.iter_mut().zip(&s[at..at + len]) {
                            *d += s;
                        }
                    });
            }
            scratch::give(gout);
            Ok(())
        });
    }
    Ok(out.put_tape(tape))
}

#[cfg(test)]
mod tests {
    use super::super::{portable, Flat};
    use super::*;

    fn close(what: &str, a: &[f32], b: &[f32]) {
        assert_eq!(a.len(), b.len(), "{what}");
        let scale = b.iter().fold(0f32, |m, v| m.max(v.abs())).max(1e-3);
        for (i, (u, v)) in a.iter().zip(b).enumerate() {
            assert!(
                (u - v).abs() <= 1e-5 * (scale + v.abs()) + 1e-6,
                "{what}[{i}]: {u} vs {v}"
            );
        }
    }

    /// Output, batch statistics and gradients (x, gamma, beta) of one batch norm, fast or
    /// portable, with the loss `sum(y * r)` for a random `r` (a plain sum would give a zero
    /// input gradient in training mode). `one_d` runs it over `[N, C]` (`h = w = 1`).
    fn run(
        dims: Img,
        one_d: bool,
        train: bool,
        relu: bool,
        fast: bool,
        seed: u64,
    ) -> Vec<Vec<f32>> {
        let dev = Cpu::seed_from_u64(seed);
        let c = dims.1;
        let x: Tensor<Img, f32, Cpu> = dev.sample_normal_like(&dims);
        // An offset and a spread keep the statistics away from 0 and 1.
        let x = (x * 1.7 + 0.4).retaped::<NoneTape>();
        let r: Tensor<Img, f32, Cpu> = dev.sample_normal_like(&dims);
        let gamma: Tensor<Flat, f32, Cpu> = dev.sample_normal_like(&(c,));
        let beta: Tensor<Flat, f32, Cpu> = dev.sample_normal_like(&(c,));
        let rm: Tensor<Flat, f32, Cpu> = dev.sample_normal_like(&(c,));
        let rv: Tensor<Flat, f32, Cpu> = dev.sample_uniform_like(&(c,)) + 0.5;
        let p = BnParams {
            gamma: &gamma,
            beta: &beta,
            running: (!train).then_some((&rm, &rv)),
            eps: 1e-5,
            relu,
        };
        let xt = x.leaky_trace();
        let (y, stats) = if one_d {
            let xt = xt.reshape_like(&(dims.0, dims.1));
            let (y, s) = if fast {
                batchnorm1d(xt, &p, true).unwrap()
            } else {
                portable::batchnorm::<_, Axis<0>, _, _>(xt, &p).unwrap()
            };
            (y.reshape_like(&dims), s)
        } else if fast {
            batchnorm2d(xt, &p, true).unwrap()
        } else {
            portable::batchnorm::<_, Axes3<0, 2, 3>, _, _>(xt, &p).unwrap()
        };
        let out = y.as_vec();
        let grads = (y * r).sum().backward();
        let mut v = vec![
            out,
            grads.get(&x).as_vec(),
            grads.get(&gamma).as_vec(),
            grads.get(&beta).as_vec(),
        ];
        if let Some((m, var)) = stats {
            v.push(m.as_vec());
            v.push(var.as_vec());
        }
        v
    }

    const NAMES: [&str; 6] = ["y", "dx", "dgamma", "dbeta", "mean", "var"];

    #[test]
    fn batchnorm_matches_dfdx_formulation() {
        for train in [true, false] {
            for relu in [false, true] {
                let cases = [
                    ((6, 5, 7, 9), false),
                    ((2, 3, 1, 1), false),
                    ((3, 2, 16, 4), false),
                    ((8, 5, 1, 1), true),
                    ((64, 300, 1, 1), true),
                    ((2, 1, 1, 1), true),
                ];
                for (seed, (dims, one_d)) in cases.into_iter().enumerate() {
                    let fast = run(dims, one_d, train, relu, true, seed as u64);
                    let slow = run(dims, one_d, train, relu, false, seed as u64);
                    assert_eq!(fast.len(), slow.len());
                    for (k, (a, b)) in fast.iter().zip(&slow).enumerate() {
                        let what = format!("{dims:?} train={train} relu={relu} {}", NAMES[k]);
                        close(&what, a, b);
                    }
                }
            }
        }
    }

    #[test]
    fn batchnorm_without_a_tape_gives_the_taped_values() {
        let dev = Cpu::seed_from_u64(9);
        let x: Tensor<Img, f32, Cpu> = dev.sample_normal_like(&(4, 3, 5, 5));
        let gamma: Tensor<Flat, f32, Cpu> = dev.sample_normal_like(&(3,));
        let beta: Tensor<Flat, f32, Cpu> = dev.sample_normal_like(&(3,));
        let p = BnParams {
            gamma: &gamma,
            beta: &beta,
            running: None,
            eps: 1e-5,
            relu: true,
        };
        let (a, sa) = batchnorm2d(x.clone(), &p, true).unwrap();
        let (b, sb) = batchnorm2d(x.leaky_trace(), &p, true).unwrap();
        assert_eq!(a.as_vec(), b.as_vec());
        let (sa, sb) = (sa.unwrap(), sb.unwrap());
        assert_eq!(sa.0.as_vec(), sb.0.as_vec());
        assert_eq!(sa.1.as_vec(), sb.1.as_vec());
    }

    #[test]
    fn batchnorm_does_not_depend_on_the_thread_count() {
        let go = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| run((16, 8, 12, 12), false, true, true, true, 12))
        };
        assert_eq!(go(1), go(3));
    }

    #[test]
    fn relu_and_add_match_dfdx() {
        let dev = Cpu::seed_from_u64(3);
        let a: Tensor<Img, f32, Cpu> = dev.sample_normal_like(&(3, 4, 50, 70));
        let b: Tensor<Img, f32, Cpu> = dev.sample_normal_like(&(3, 4, 50, 70));
        let r: Tensor<Img, f32, Cpu> = dev.sample_normal_like(&(3, 4, 50, 70));
        let fast = relu(add(a.leaky_trace(), b.leaky_trace()).unwrap()).unwrap();
        let slow = (a.leaky_trace() + b.leaky_trace()).relu();
        assert_eq!(fast.as_vec(), slow.as_vec());
        let gf = (fast * r.clone()).sum().backward();
        let gs = (slow * r.clone()).sum().backward();
        assert_eq!(gf.get(&a).as_vec(), gs.get(&a).as_vec());
        assert_eq!(gf.get(&b).as_vec(), gs.get(&b).as_vec());
        // A tensor added to itself gets the gradient twice.
        let twice = add(a.leaky_trace(), a.leaky_trace()).unwrap();
        let g = (twice * r.clone()).sum().backward();
        let want: Vec<f32> = r.as_vec().iter().map(|v| 2.0 * v).collect();
        assert_eq!(g.get(&a).as_vec(), want);
    }

    #[test]
    fn channel_scaling_matches_dfdx_broadcast_product() {
        let dev = Cpu::seed_from_u64(8);
        // 14x14 planes, as lesson 9's squeeze-and-excitation block; planes span several tasks.
        let shape = (9, 32, 14, 14);
        let gate: Tensor<Mat, f32, Cpu> = dev.sample_normal_like(&(9, 32));
        let map: Tensor<Img, f32, Cpu> = dev.sample_normal_like(&shape);
        let r: Tensor<Img, f32, Cpu> = dev.sample_normal_like(&shape);
        let fast = scale_channels(gate.leaky_trace(), map.leaky_trace()).unwrap();
        let slow = gate.leaky_trace().broadcast_like::<_, Axes2<2, 3>>(&shape) * map.leaky_trace();
        assert_eq!(fast.as_vec(), slow.as_vec());
        let gf = (fast * r.clone()).sum().backward();
        let gs = (slow * r.clone()).sum().backward();
        close("map", &gf.get(&map).as_vec(), &gs.get(&map).as_vec());
        close("gate", &gf.get(&gate).as_vec(), &gs.get(&gate).as_vec());
        // Not trivially: the gate's gradient is a sum over each plane.
        assert!(gf.get(&gate).as_vec().iter().any(|v| v.abs() > 1.0));
    }

    #[test]
    fn vectorised_exp_is_within_two_ulp() {
        // Every 997th float in [-87, 88], and the ends.
        let (lo, hi) = (-87f32, 88f32);
        let mut worst = 0f64;
        let mut check = |x: f32| {
            let want = (x as f64).exp();
            let got = exp_lanes(x) as f64;
            let ulp = (want as f32).abs();
            let ulp = (f32::from_bits(ulp.to_bits() + 1) - ulp) as f64;
            worst = worst.max((got - want).abs() / ulp);
        };
        let mut b = lo.to_bits();
        while f32::from_bits(b) < 0.0 {
            check(f32::from_bits(b));
            b -= 997;
        }
        let mut b = 0f32.to_bits();
        while f32::from_bits(b) < hi {
            check(f32::from_bits(b));
            b += 997;
        }
        check(lo);
        check(hi);
        assert!(worst <= 2.0, "{worst} ulp");
        assert_eq!(exp_lanes(0.0), 1.0);
        assert_eq!(exp_lanes(-200.0), exp_lanes(-87.0));
        assert!(exp_lanes(f32::NAN).is_nan());
    }

    #[test]
    fn sigmoid_matches_dfdx() {
        let dev = Cpu::seed_from_u64(4);
        let a: Tensor<Mat, f32, Cpu> = dev.sample_normal_like(&(37, 300));
        let r: Tensor<Mat, f32, Cpu> = dev.sample_normal_like(&(37, 300));
        let fast = sigmoid(a.leaky_trace() * 4.0).unwrap();
        let slow = (a.leaky_trace() * 4.0).sigmoid();
        close("sigmoid", &fast.as_vec(), &slow.as_vec());
        let gf = (fast * r.clone()).sum().backward();
        let gs = (slow * r.clone()).sum().backward();
        close("sigmoid grad", &gf.get(&a).as_vec(), &gs.get(&a).as_vec());
    }
    #[test]
    fn softmax_and_log_softmax_match_dfdx() {
        let dev = Cpu::seed_from_u64(5);
        // 4 classes per row, as lesson 7's pixels; rows span several parallel tasks.
        let a: Tensor<Mat, f32, Cpu> = dev.sample_normal_like(&(9000, 4));
        let r: Tensor<Mat, f32, Cpu> = dev.sample_normal_like(&(9000, 4));
        let fast = log_softmax(a.leaky_trace() * 6.0).unwrap();
        let slow = (a.leaky_trace() * 6.0).log_softmax::<Axis<1>>();
        close("log_softmax", &fast.as_vec(), &slow.as_vec());
        let gf = (fast * r.clone()).sum().backward();
        let gs = (slow * r.clone()).sum().backward();
        close(
            "log_softmax grad",
            &gf.get(&a).as_vec(),
            &gs.get(&a).as_vec(),
        );
        let fast = softmax(a.leaky_trace() * 6.0).unwrap();
        let slow = (a.leaky_trace() * 6.0).softmax::<Axis<1>>();
        close("softmax", &fast.as_vec(), &slow.as_vec());
        let gf = (fast * r.clone()).sum().backward();
        let gs = (slow * r.clone()).sum().backward();
        close("softmax grad", &gf.get(&a).as_vec(), &gs.get(&a).as_vec());
    }
    #[test]
    fn bce_with_logits_matches_dfdx() {
        let dev = Cpu::seed_from_u64(6);
        let a: Tensor<(usize,), f32, Cpu> = dev.sample_normal_like(&(40_000,));
        let t: Vec<f32> = (0..40_000).map(|i| (i % 7) as f32 / 6.0).collect();
        let r: Tensor<(usize,), f32, Cpu> = dev.sample_normal_like(&(40_000,));
        let fast = bce_with_logits(a.leaky_trace() * 8.0, &t).unwrap();
        let tt = dev.tensor_from_vec(t.clone(), (40_000,));
        let slow = (a.leaky_trace() * 8.0).bce_with_logits(tt);
        close("bce", &fast.as_vec(), &slow.as_vec());
        let gf = (fast * r.clone()).sum().backward();
        let gs = (slow * r.clone()).sum().backward();
        close("bce grad", &gf.get(&a).as_vec(), &gs.get(&a).as_vec());
    }
    #[test]
    fn powf_matches_dfdx() {
        let dev = Cpu::seed_from_u64(9);
        let a: Tensor<(usize,), f32, Cpu> = dev.sample_uniform_like(&(30_000,));
        let r: Tensor<(usize,), f32, Cpu> = dev.sample_normal_like(&(30_000,));
        for e in [2.0f32, 0.5, 1.7] {
            let fast = powf(a.leaky_trace().clamp(1e-20, 1.0), e).unwrap();
            let slow = a.leaky_trace().clamp(1e-20, 1.0).powf(e);
            close("powf", &fast.as_vec(), &slow.as_vec());
            let gf = (fast * r.clone()).sum().backward();
            let gs = (slow * r.clone()).sum().backward();
            close("powf grad", &gf.get(&a).as_vec(), &gs.get(&a).as_vec());
        }
    }

    #[test]
    fn dropout_drops_a_share_p_keeps_the_mean_and_masks_the_gradient_alike() {
        let dev = Cpu::seed_from_u64(11);
        let n = 200_003; // several parallel tasks and a ragged last one
        let a: Tensor<(usize,), f32, Cpu> = dev.sample_uniform_like(&(n,));
        let a = (a + 1.0).retaped::<NoneTape>(); // no zeros before the mask
        let r: Tensor<(usize,), f32, Cpu> = dev.sample_normal_like(&(n,));
        for p in [0.2, 0.5] {
            let y = dropout(a.leaky_trace(), p).unwrap();
            let (yv, av) = (y.as_vec(), a.as_vec());
            let zeros = yv.iter().filter(|v| **v == 0.0).count() as f64 / n as f64;
            // Binomial standard error at n = 200,003 is about 0.001.
            assert!((zeros - p).abs() < 0.005, "p = {p}: dropped {zeros}");
            let scale = (1.0 / (1.0 - p)) as f32;
            for (y, a) in yv.iter().zip(&av) {
                assert!(*y == 0.0 || *y == a * scale, "{y} from {a}");
            }
            let (sy, sa) = (yv.iter().sum::<f32>(), av.iter().sum::<f32>());
            assert!((sy / sa - 1.0).abs() < 0.01, "mean kept: {sy} vs {sa}");
            // The gradient of sum(y * r) is r * scale where the value was kept, 0 elsewhere.
            let g = (y * r.clone()).sum().backward();
            let want: Vec<f32> = yv
                .iter()
                .zip(r.as_vec())
                .map(|(y, r)| if *y == 0.0 { 0.0 } else { r * scale })
                .collect();
            assert_eq!(g.get(&a).as_vec(), want);
        }
        // Seeded: the same device seed gives the same mask; the next call draws another.
        let av = a.as_vec();
        let (d1, d2) = (Cpu::seed_from_u64(5), Cpu::seed_from_u64(5));
        let y1 = dropout(d1.tensor_from_vec(av.clone(), (n,)), 0.3).unwrap();
        let y2 = dropout(d2.tensor_from_vec(av.clone(), (n,)), 0.3).unwrap();
        assert_eq!(y1.as_vec(), y2.as_vec());
        let y3 = dropout(d1.tensor_from_vec(av, (n,)), 0.3).unwrap();
        assert_ne!(y1.as_vec(), y3.as_vec());
    }

    #[test]
    fn concat_channels_matches_dfdx() {
        let dev = Cpu::seed_from_u64(12);
        let a: Tensor<Img, f32, Cpu> = dev.sample_normal_like(&(3, 4, 9, 11));
        let b: Tensor<Img, f32, Cpu> = dev.sample_normal_like(&(3, 6, 9, 11));
        let r: Tensor<Img, f32, Cpu> = dev.sample_normal_like(&(3, 10, 9, 11));
        let fast = concat_channels(a.leaky_trace(), b.leaky_trace()).unwrap();
        let slow: Tensor<Img, f32, Cpu, _> =
            (a.leaky_trace(), b.leaky_trace()).concat_along(Axis::<1>);
        assert_eq!(fast.shape(), slow.shape());
        assert_eq!(fast.as_vec(), slow.as_vec());
        let gf = (fast * r.clone()).sum().backward();
        let gs = (slow * r.clone()).sum().backward();
        assert_eq!(gf.get(&a).as_vec(), gs.get(&a).as_vec());
        assert_eq!(gf.get(&b).as_vec(), gs.get(&b).as_vec());
        // Joined to itself, a tensor gets both halves of the gradient.
        let r8: Tensor<Img, f32, Cpu> = dev.sample_normal_like(&(3, 8, 9, 11));
        let twice = concat_channels(a.leaky_trace(), a.leaky_trace()).unwrap();
        let g = (twice * r8.clone()).sum().backward();
        let rv = r8.as_vec();
        let hw = 9 * 11;
        let want: Vec<f32> = (0..3 * 4 * hw)
            .map(|i| {
                let (ex, rest) = (i / (4 * hw), i % (4 * hw));
                rv[ex * 8 * hw + rest] + rv[ex * 8 * hw + 4 * hw + rest]
            })
            .collect();
        assert_eq!(g.get(&a).as_vec(), want);
        // Examples or maps that differ are an error, not a panic.
        let c: Tensor<Img, f32, Cpu> = dev.sample_normal_like(&(2, 6, 9, 11));
        assert!(concat_channels(a.clone(), c).is_err());
    }
}
