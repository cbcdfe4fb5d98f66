//! The losses' weighted sums as custom ops: `sum(x * w)` over every value, and per column of a
//! matrix, with `w` a constant. dfdx runs them as a product (a zeroed tensor for the weights,
//! one for the product, one for each gradient) and a sum, all on one core; in lesson 7's
//! segmentation losses (131,072 scores a step) they were most of what ran on one core. The
//! sums here add the same products in the same order as dfdx's (value order, or row order
//! within a column), so the bits are dfdx's; the backward, `dx += w * g`, runs on both cores.
//! Global average pooling likewise, and the mean squared error (dfdx's is four ops), whose
//! total is taken in parallel chunks (its gradient keeps dfdx's bits). Also
//! the permutation of an image-shaped output into one row per pixel, as a parallel copy.

use dfdx::prelude::*;
use rayon::prelude::*;

use super::super::cpu::untape;
use super::super::scratch;
use super::super::{Flat, Img, Mat};
use super::MIN_VALUES;

/// `sum_i x_i w_i`, added in value order, as dfdx's `x * w` then `sum` (a product rounded to
/// f32, then one running f32 total).
pub fn weighted_sum<S: Shape, T: Tape<f32, Cpu> + Merge<NoneTape>>(
    x: Tensor<S, f32, Cpu, T>,
    w: Vec<f32>,
) -> Result<Tensor<Rank0, f32, Cpu, T>, CpuError> {
    if w.len() != x.shape().num_elements() {
        return Err(CpuError::WrongNumElements);
    }
    let (dev, x, mut tape, v) = untape(x)?;
    let mut total = 0f32;
    for (x, w) in v.iter().zip(&w) {
        total += x * w;
    }
    scratch::give(v);
    let out = dev.try_tensor_from_vec(vec![total], ())?;
    if T::OWNS_TAPE {
        let (xg, og) = (x.ghost(), out.ghost());
        tape.add_backward_op(move |grads| {
            let g = grads.get_or_alloc_mut(&og)?[0];
            grads
                .get_or_alloc_mut(&xg)?
                .par_chunks_mut(MIN_VALUES)
                .zip(w.par_chunks(MIN_VALUES))
                .for_each(|(d, w)| {
                    for (d, w) in d.iter_mut().zip(w) {
                        *d += w * g;
                    }
                });
            Ok(())
        });
    }
    Ok(out.put_tape(tape))
}

/// The mean squared error `mean((p - t)^2)` of predictions `p` against constant targets `t`,
/// as dfdx's `mse_loss` but for the order of the total: the differences, their squares and
/// the squares' totals per chunk of [`MIN_VALUES`] (in parallel, each in [`LANES`] running
/// sums), the chunks' totals in chunk order, times the reciprocal of the count rounded to f32.
/// The chunks are fixed by the count alone, so the value does not depend on the threads.
/// dfdx adds the squares in one running f32 total, a chain of dependent additions that was
/// the largest serial part of lesson 5's linear autoencoder step; the total here is as
/// accurate or more. The backward adds `(2 d) (g / n)` to each prediction's gradient, as
/// dfdx's chain of four ops computes it, so the gradients (and the training) keep dfdx's bits.
pub fn mse_mean<T: Tape<f32, Cpu> + Merge<NoneTape>>(
    p: Tensor<Flat, f32, Cpu, T>,
    t: &[f32],
) -> Result<Tensor<Rank0, f32, Cpu, T>, CpuError> {
    if t.len() != p.shape().0 {
        return Err(CpuError::WrongNumElements);
    }
    let (dev, p, mut tape, mut d) = untape(p)?;
    let totals: Vec<f32> = d
        .par_chunks_mut(MIN_VALUES)
        .zip(t.par_chunks(MIN_VALUES))
        .map(|(d, t)| {
            for (d, t) in d.iter_mut().zip(t) {
                *d -= t;
            }
            squares_total(d)
        })
        .collect();
    let total = totals.iter().fold(0f32, |a, &b| a + b);
    let inv = (1.0 / d.len() as f64) as f32;
    let out = dev.try_tensor_from_vec(vec![total * inv], ())?;
    if T::OWNS_TAPE {
        let (pg, og) = (p.ghost(), out.ghost());
        tape.add_backward_op(move |grads| {
            let g = grads.get_or_alloc_mut(&og)?[0] * inv;
            grads
                .get_or_alloc_mut(&pg)?
                .par_chunks_mut(MIN_VALUES)
                .zip(d.par_chunks(MIN_VALUES))
                .for_each(|(dp, d)| {
                    for (dp, d) in dp.iter_mut().zip(d) {
                        *dp += (d + d) * g;
                    }
                });
            scratch::give(d);
            Ok(())
        });
    } else {
        scratch::give(d);
    }
    Ok(out.put_tape(tape))
}

/// Independent running sums in [`squares_total`]: enough for the additions of neighbouring
/// values not to wait on each other.
const LANES: usize = 8;

/// `sum d_i^2` of a chunk: value `i` goes to running sum `i % LANES`, and the sums are added
/// in lane order, then the values left over after the last full group of lanes.
fn squares_total(d: &[f32]) -> f32 {
    let mut lanes = [0f32; LANES];
    let groups = d.chunks_exact(LANES);
    let rest = groups.remainder();
    for g in groups {
        for (l, v) in lanes.iter_mut().zip(g) {
            *l += v * v;
        }
    }
    let mut total = lanes.iter().fold(0f32, |a, &b| a + b);
    for v in rest {
        total += v * v;
    }
    total
}

/// Per column `c` of a `(rows, k)` matrix, `sum_r x_rc w_rc` added in row order, as dfdx's
/// `x * w` then `sum` over axis 0.
pub fn weighted_col_sums<T: Tape<f32, Cpu> + Merge<NoneTape>>(
    x: Tensor<Mat, f32, Cpu, T>,
    w: Vec<f32>,
) -> Result<Tensor<Flat, f32, Cpu, T>, CpuError> {
    let (rows, k) = *x.shape();
    if w.len() != rows * k {
        return Err(CpuError::WrongNumElements);
    }
    let (dev, x, mut tape, v) = untape(x)?;
    // Each column's total is one chain; the k chains go side by side through the rows.
    let mut totals = vec![0f32; k];
    if k > 0 {
        for (x, w) in v.chunks(k).zip(w.chunks(k)) {
            for ((t, x), w) in totals.iter_mut().zip(x).zip(w) {
                *t += x * w;
            }
        }
    }
    scratch::give(v);
    let out = dev.try_tensor_from_vec(totals, (k,))?;
    if T::OWNS_TAPE {
        let (xg, og) = (x.ghost(), out.ghost());
        tape.add_backward_op(move |grads| {
            let g: Vec<f32> = grads.get_or_alloc_mut(&og)?.to_vec();
            let chunk = (MIN_VALUES / k.max(1)).max(1) * k.max(1);
            grads
                .get_or_alloc_mut(&xg)?
                .par_chunks_mut(chunk)
                .zip(w.par_chunks(chunk))
                .for_each(|(d, w)| {
                    for (d, w) in d.chunks_mut(k.max(1)).zip(w.chunks(k.max(1))) {
                        for ((d, w), g) in d.iter_mut().zip(w).zip(&g) {
                            *d += w * g;
                        }
                    }
                });
            Ok(())
        });
    }
    Ok(out.put_tape(tape))
}

/// The mean of every plane, `(n, c, h, w) -> (n, c)` (global average pooling), as dfdx's
/// reshape to `(n, c, h * w)` and mean over the last axis: each plane's total in value order
/// times the reciprocal of `h * w` rounded to f32, planes on both cores; the backward adds the
/// output gradient times that reciprocal to every value of the plane.
pub fn plane_means<T: Tape<f32, Cpu> + Merge<NoneTape>>(
    x: Tensor<Img, f32, Cpu, T>,
) -> Result<Tensor<Mat, f32, Cpu, T>, CpuError> {
    let (n, c, h, w) = *x.shape();
    let hw = h * w;
    let inv = (1.0 / hw as f64) as f32;
    let (dev, x, mut tape, v) = untape(x)?;
    let mut means = vec![0f32; n * c];
    let planes = (MIN_VALUES / hw.max(1)).max(1);
    if hw > 0 {
        means
            .par_iter_mut()
            .zip(v.par_chunks(hw))
            .with_min_len(planes)
            .for_each(|(m, p)| {
                let mut total = 0f32;
                for x in p {
                    total += x;
                }
                *m = total * inv;
            });
    } else {
        means.fill(0.0 * inv);
    }
    scratch::give(v);
    let out = dev.try_tensor_from_vec(means, (n, c))?;
    if T::OWNS_TAPE {
        let (xg, og) = (x.ghost(), out.ghost());
        tape.add_backward_op(move |grads| {
            let g: Vec<f32> = grads.get_or_alloc_mut(&og)?.to_vec();
            if hw > 0 {
                grads
                    .get_or_alloc_mut(&xg)?
                    .par_chunks_mut(hw)
                    .zip(g.par_iter())
                    .with_min_len(planes)
                    .for_each(|(d, g)| {
                        let g = g * inv;
                        for d in d {
                            *d += g;
                        }
                    });
            }
            Ok(())
        });
    }
    Ok(out.put_tape(tape))
}

/// An image batch `(n, k, h, w)` as one row of `k` values per pixel, `(n * h * w, k)`, as
/// dfdx's permute to `(n, h, w, k)` and reshape (which copies through an index per value on
/// one core); the backward adds each row value's gradient back to its pixel.
pub fn pixel_rows<T: Tape<f32, Cpu> + Merge<NoneTape>>(
    x: Tensor<Img, f32, Cpu, T>,
) -> Result<Tensor<Mat, f32, Cpu, T>, CpuError> {
    let (n, k, h, w) = *x.shape();
    let hw = h * w;
    let (dev, x, mut tape, v) = untape(x)?;
    let mut out = scratch::take(n * hw * k); // every value is written
    let plane = hw * k;
    if plane > 0 {
        out.par_chunks_mut(plane)
            .zip(v.par_chunks(plane))
            .for_each(|(o, i)| {
                for (p, row) in o.chunks_mut(k).enumerate() {
                    for (c, d) in row.iter_mut().enumerate() {
                        *d = i[c * hw + p];
                    }
                }
            });
    }
    scratch::give(v);
    let out = dev.try_tensor_from_vec(out, (n * hw, k))?;
    if T::OWNS_TAPE {
        let (xg, og) = (x.ghost(), out.ghost());
        tape.add_backward_op(move |grads| {
            let gout: Vec<f32> = std::mem::take(&mut **grads.get_or_alloc_mut(&og)?);
            if plane > 0 {
                grads
                    .get_or_alloc_mut(&xg)?
                    .par_chunks_mut(plane)
                    .zip(gout.par_chunks(plane))
                    .for_each(|(d, g)| {
                        for (c, dc) in d.chunks_mut(hw).enumerate() {
                            for (p, d) in dc.iter_mut().enumerate() {
                                *d += g[p * k + c];
                            }
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
    use super::*;

    /// Values and gradients, to the bit, of dfdx's product-then-sum and permute-then-reshape,
    /// on a segmentation-sized batch and a small odd one.
    #[test]
    fn weighted_sums_and_pixel_rows_give_dfdx_bits() {
        let dev = Cpu::seed_from_u64(31);
        for dims in [(8, 4, 64, 64), (3, 5, 7, 9)] {
            let (n, k, h, wd) = dims;
            let rows = n * h * wd;
            let x: Tensor<Img, f32, Cpu> = dev.sample_normal_like(&dims);
            let wv: Vec<f32> = dev
                .sample_uniform_like(&(rows * k,))
                .as_vec()
                .into_iter()
                .map(|u: f32| (u * 3.0).floor() * 0.5)
                .collect();
            let wt = || dev.tensor_from_vec(wv.clone(), (rows, k));
            let fast = pixel_rows(x.leaky_trace()).unwrap();
            let slow = x
                .leaky_trace()
                .permute::<_, Axes4<0, 2, 3, 1>>()
                .reshape_like(&(rows, k));
            assert_eq!(fast.as_vec(), slow.as_vec(), "{dims:?} rows");
            let ffast = fast.with_empty_tape();
            let fslow = slow.with_empty_tape();
            let total_f = weighted_sum(fast, wv.clone()).unwrap();
            let total_s = (slow * wt()).sum();
            assert_eq!(total_f.array(), total_s.array(), "{dims:?} sum");
            let cols_f = weighted_col_sums(ffast, wv.clone()).unwrap();
            let cols_s: Tensor<Flat, f32, Cpu, _> = (fslow * wt()).sum::<_, Axis<0>>();
            assert_eq!(cols_f.as_vec(), cols_s.as_vec(), "{dims:?} columns");
            let r: Tensor<Flat, f32, Cpu> = dev.sample_normal_like(&(k,));
            let gf = ((cols_f * r.clone()).sum() * 0.7 + total_f * 1.3).backward();
            let gs = ((cols_s * r.clone()).sum() * 0.7 + total_s * 1.3).backward();
            assert_eq!(
                gf.get(&x).as_vec(),
                gs.get(&x).as_vec(),
                "{dims:?} gradient"
            );
        }
        let x = Cpu::default().tensor_from_vec(vec![1.0, 2.0], (2,));
        assert!(weighted_sum(x, vec![1.0]).is_err());
    }

    /// Global average pooling's values and gradient, to the bit, as dfdx's reshape and mean.
    #[test]
    fn plane_means_give_dfdx_bits() {
        let dev = Cpu::seed_from_u64(33);
        for dims in [(64, 32, 7, 7), (3, 5, 13, 11)] {
            let (n, c, h, w) = dims;
            let x: Tensor<Img, f32, Cpu> = dev.sample_normal_like(&dims);
            let r: Tensor<Mat, f32, Cpu> = dev.sample_normal_like(&(n, c));
            let fast = plane_means(x.leaky_trace()).unwrap();
            let slow: Tensor<Mat, f32, Cpu, _> = x
                .leaky_trace()
                .reshape_like(&(n, c, h * w))
                .mean::<_, Axis<2>>();
            assert_eq!(fast.as_vec(), slow.as_vec(), "{dims:?}");
            let gf = ((fast * r.clone()).sum() + x.leaky_trace().sum()).backward();
            let gs = ((slow * r.clone()).sum() + x.leaky_trace().sum()).backward();
            assert_eq!(gf.get(&x).as_vec(), gs.get(&x).as_vec(), "{dims:?}");
        }
    }

    /// The loss of dfdx's `mse_loss` to within f32 rounding (of a total taken in f64), and its
    /// gradient to the bit, through a use after it; and the same total on one thread as on two.
    #[test]
    fn mse_matches_dfdx() {
        let dev = Cpu::seed_from_u64(32);
        for n in [64 * 784, 37, MIN_VALUES * 3 + 5] {
            let p: Tensor<Flat, f32, Cpu> = dev.sample_normal_like(&(n,));
            let t: Tensor<Flat, f32, Cpu> = dev.sample_uniform_like(&(n,));
            let fast = mse_mean(p.leaky_trace(), &t.as_vec()).unwrap();
            let slow = dfdx::losses::mse_loss(p.leaky_trace(), t.clone());
            let exact = p
                .as_vec()
                .iter()
                .zip(t.as_vec())
                .map(|(&a, b)| f64::from(a - b).powi(2))
                .sum::<f64>()
                / n as f64;
            let (f, s) = (f64::from(fast.array()), f64::from(slow.array()));
            assert!((f - exact).abs() <= exact * 1e-6, "{n}: {f} vs {exact}");
            assert!((f - s).abs() <= exact * 1e-5, "{n}: {f} vs dfdx's {s}");
            let one = rayon::ThreadPoolBuilder::new()
                .num_threads(1)
                .build()
                .unwrap()
                .install(|| mse_mean(p.clone(), &t.as_vec()).unwrap().array());
            assert_eq!(one, fast.array(), "{n}");
            let (gf, gs) = ((fast * 0.3).backward(), (slow * 0.3).backward());
            assert_eq!(gf.get(&p).as_vec(), gs.get(&p).as_vec(), "{n}");
        }
        let p = Cpu::default().tensor_from_vec(vec![1.0, 2.0], (2,));
        assert!(mse_mean(p, &[1.0]).is_err());
    }
}
