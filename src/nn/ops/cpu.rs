//! Fast CPU versions of convolution and max pooling: custom dfdx operations with hand-written
//! backward passes recorded on the tape (`split_tape` / `add_backward_op` / `put_tape`).
//!
//! Convolution is im2col into a `[taps, batch*pixels]` matrix (both cores, via rayon) and one
//! multithreaded dfdx matmul per group for the whole batch; the backward pass is two more matmuls
//! and a parallel col2im, the input gradient's half in two halves of the batch at once (dfdx's
//! matmul returns a tensor that must be copied out, and those copies run on one core each). Max pooling records the argmax with PyTorch's tie rule (the first
//! maximum in the window wins) and can fuse a following ReLU, which commutes with max.
//!
//! Backward closures *add* into the input gradients (dfdx accumulates: a tensor read by several
//! ops receives the sum), and *take* the output gradient without copying it: every consumer of an
//! op's output runs its backward before the op's own, so nobody reads that gradient afterwards.

use std::ops::Range;

use dfdx::prelude::*;
use rayon::prelude::*;

use super::{ConvGeom, Flat, Img, Mat, PoolGeom};

/// Image planes per parallel task: a plane is a few hundred values, too little work to be worth
/// a task of its own.
const MIN_PLANES: usize = 64;

/// `a (m x k) @ b (k x n)` on dfdx's multithreaded matmul; `a_t`/`b_t` say the stored matrix is
/// the transpose (`k x m`, `n x k`) and is read through a permuted view without copying.
fn matmul(
    dev: &Cpu,
    a: &Tensor<Mat, f32, Cpu>,
    a_t: bool,
    b: &Tensor<Mat, f32, Cpu>,
    b_t: bool,
) -> Result<Vec<f32>, CpuError> {
    let a = if a_t {
        a.clone().try_permute::<_, Axes2<1, 0>>()?
    } else {
        a.clone()
    };
    let b = if b_t {
        b.clone().try_permute::<_, Axes2<1, 0>>()?
    } else {
        b.clone()
    };
    let _ = dev;
    let out = a.try_matmul(b)?;
    Ok(to_vec(&out))
}

/// The values of a contiguous tensor by one memcpy (`as_vec` walks strides element by element,
/// which showed up at 14% of a CNN step).
fn to_vec<S: Shape, T>(t: &Tensor<S, f32, Cpu, T>) -> Vec<f32> {
    let mut v = vec![0f32; t.shape().num_elements()];
    t.copy_into(&mut v);
    v
}

/// For a stride-1 plain convolution, kernel column `kx` reads a contiguous run: output columns
/// `lo..hi` come from input columns `lo+shift..hi+shift` and the rest is padding.
fn x_run(g: &ConvGeom, kx: usize) -> Option<(usize, usize, isize)> {
    if g.transposed || g.s[1] != 1 {
        return None;
    }
    let shift = (kx * g.d[1]) as isize - g.p[1] as isize;
    let lo = (-shift).clamp(0, g.ow as isize) as usize;
    let hi = (g.w as isize - shift).clamp(lo as isize, g.ow as isize) as usize;
    Some((lo, hi, shift))
}

/// Per output column, the source column for kernel column `kx` (`usize::MAX` in the padding).
fn x_table(g: &ConvGeom, kx: usize) -> Vec<usize> {
    (0..g.ow)
        .map(|ox| g.src_x(ox, kx).unwrap_or(usize::MAX))
        .collect()
}

/// im2col for group `gi` and examples `ns`: rows (channel-in-group, ky, kx), columns
/// (example in `ns`, oy, ox).
fn im2col(x: &[f32], g: &ConvGeom, gi: usize, ns: Range<usize>) -> Vec<f32> {
    let (cg, kk, ohw) = (g.cg(), g.kk(), g.ohw());
    let m = ns.len() * ohw;
    let mut cols = vec![0f32; cg * kk * m];
    let tables: Vec<Vec<usize>> = (0..g.k[1]).map(|kx| x_table(g, kx)).collect();
    let runs: Vec<_> = (0..g.k[1]).map(|kx| x_run(g, kx)).collect();
    cols.par_chunks_mut(m).enumerate().for_each(|(row, dst)| {
        let cl = row / kk;
        let ky = (row % kk) / g.k[1];
        let kx = row % g.k[1];
        let tab = &tables[kx];
        for (ni, n) in ns.clone().enumerate() {
            let plane = &x[(n * g.c + gi * cg + cl) * g.h * g.w..][..g.h * g.w];
            for oy in 0..g.oh {
                let d = &mut dst[ni * ohw + oy * g.ow..][..g.ow];
                let Some(sy) = g.src_y(oy, ky) else {
                    d.fill(0.0);
                    continue;
                };
                let src = &plane[sy * g.w..][..g.w];
                match runs[kx] {
                    Some((lo, hi, shift)) => {
                        d[..lo].fill(0.0);
                        let a = (lo as isize + shift) as usize;
                        d[lo..hi].copy_from_slice(&src[a..a + hi - lo]);
                        d[hi..].fill(0.0);
                    }
                    None => {
                        for (o, &sx) in d.iter_mut().zip(tab) {
                            *o = if sx == usize::MAX { 0.0 } else { src[sx] };
                        }
                    }
                }
            }
        }
    });
    cols
}

/// col2im: adds group `gi`'s column gradients for `count` examples into `gx`, the input
/// gradient of those examples (NCHW).
fn col2im_add(dcols: &[f32], gx: &mut [f32], g: &ConvGeom, gi: usize, count: usize) {
    let (cg, kk, ohw) = (g.cg(), g.kk(), g.ohw());
    let m = count * ohw;
    let hw = g.h * g.w;
    let tables: Vec<Vec<usize>> = (0..g.k[1]).map(|kx| x_table(g, kx)).collect();
    // Planes (n, channel) of these examples; only this group's channels receive anything.
    gx[..count * g.c * hw]
        .par_chunks_mut(hw)
        .enumerate()
        .with_min_len(MIN_PLANES / 4)
        .for_each(|(pi, plane)| {
            let (ni, ch) = (pi / g.c, pi % g.c);
            if ch / cg != gi {
                return;
            }
            let cl = ch % cg;
            for ky in 0..g.k[0] {
                for (kx, tab) in tables.iter().enumerate() {
                    let row = cl * kk + ky * g.k[1] + kx;
                    let src = &dcols[row * m + ni * ohw..][..ohw];
                    let run = x_run(g, kx);
                    for oy in 0..g.oh {
                        let Some(sy) = g.src_y(oy, ky) else { continue };
                        let dst = &mut plane[sy * g.w..][..g.w];
                        let srow = &src[oy * g.ow..][..g.ow];
                        match run {
                            Some((lo, hi, shift)) => {
                                let a = (lo as isize + shift) as usize;
                                for (d, v) in dst[a..a + hi - lo].iter_mut().zip(&srow[lo..hi]) {
                                    *d += v;
                                }
                            }
                            None => {
                                for (&v, &sx) in srow.iter().zip(tab) {
                                    if sx != usize::MAX {
                                        dst[sx] += v;
                                    }
                                }
                            }
                        }
                    }
                }
            }
        });
}

/// The input gradient of group `gi` for examples `ns`, added into `gx` (their planes): the
/// output gradient gathered as an `(og, examples*ohw)` matrix, `dcols = W^T @ go`, col2im.
fn input_grad_add(
    dev: &Cpu,
    wm: &Tensor<Mat, f32, Cpu>,
    gout: &[f32],
    g: &ConvGeom,
    gi: usize,
    ns: Range<usize>,
    gx: &mut [f32],
) -> Result<(), CpuError> {
    if ns.is_empty() {
        return Ok(());
    }
    let (og, ohw) = (g.og(), g.ohw());
    let m = ns.len() * ohw;
    let mut go = Vec::with_capacity(og * m);
    for j in 0..og {
        for n in ns.clone() {
            go.extend_from_slice(&gout[(n * g.o + gi * og + j) * ohw..][..ohw]);
        }
    }
    let go = dev.try_tensor_from_vec(go, (og, m))?;
    let dcols = matmul(dev, wm, true, &go, false)?; // (kdim, examples*ohw)
    col2im_add(&dcols, gx, g, gi, ns.len());
    Ok(())
}

/// Examples per chunk: bounds the column matrix to 16 MB however large the images. Smaller,
/// cache-sized chunks were tried: each chunk is another round of parallel sections, and waking
/// threads that often cost more than the cache saved on this 2-core machine.
const CHUNK_VALUES: usize = 1 << 22;

fn chunk_len(g: &ConvGeom, chunk_values: usize) -> usize {
    let per_example = (g.cg() * g.kk() * g.ohw()).max(1);
    (chunk_values / per_example).clamp(1, g.n.max(1))
}

fn chunks(n: usize, len: usize) -> impl Iterator<Item = Range<usize>> {
    (0..n).step_by(len).map(move |s| s..(s + len).min(n))
}

/// Group `gi`'s weights as an `(og, cg*kk)` matrix.
fn weight_matrix(w: &[f32], g: &ConvGeom, gi: usize) -> Vec<f32> {
    let (cg, og, kk) = (g.cg(), g.og(), g.kk());
    if g.transposed {
        // Stored [C, og, kk]: row j, column (cl, t) is w[(gi*cg + cl), j, t].
        let mut out = vec![0f32; og * cg * kk];
        for j in 0..og {
            for cl in 0..cg {
                for t in 0..kk {
                    out[j * cg * kk + cl * kk + t] = w[((gi * cg + cl) * og + j) * kk + t];
                }
            }
        }
        out
    } else {
        w[gi * og * cg * kk..][..og * cg * kk].to_vec()
    }
}

/// Adds an `(og, cg*kk)` weight-gradient matrix of group `gi` into the flat weight gradient.
fn weight_grad_add(gw: &mut [f32], m: &[f32], g: &ConvGeom, gi: usize) {
    let (cg, og, kk) = (g.cg(), g.og(), g.kk());
    if g.transposed {
        for j in 0..og {
            for cl in 0..cg {
                for t in 0..kk {
                    gw[((gi * cg + cl) * og + j) * kk + t] += m[j * cg * kk + cl * kk + t];
                }
            }
        }
    } else {
        for (d, s) in gw[gi * og * cg * kk..][..og * cg * kk].iter_mut().zip(m) {
            *d += s;
        }
    }
}

/// 2-d convolution (plain or transposed) with a hand-written backward. `need_dx = false` skips
/// the input gradient (the first layer's input is data, nobody reads its gradient).
///
/// Works through the batch in chunks of examples when the column matrix would be large; with a
/// single chunk the backward pass reuses the forward's columns, otherwise it recomputes each
/// chunk's (so memory stays bounded).
pub fn conv2d<T: Tape<f32, Cpu> + Merge<NoneTape>>(
    x: Tensor<Img, f32, Cpu, T>,
    weight: &Tensor<Flat, f32, Cpu>,
    bias: Option<&Tensor<Flat, f32, Cpu>>,
    g: &ConvGeom,
    need_dx: bool,
) -> Result<Tensor<Img, f32, Cpu, T>, CpuError> {
    conv2d_chunked(x, weight, bias, g, need_dx, CHUNK_VALUES)
}

fn conv2d_chunked<T: Tape<f32, Cpu> + Merge<NoneTape>>(
    x: Tensor<Img, f32, Cpu, T>,
    weight: &Tensor<Flat, f32, Cpu>,
    bias: Option<&Tensor<Flat, f32, Cpu>>,
    g: &ConvGeom,
    need_dx: bool,
    chunk_values: usize,
) -> Result<Tensor<Img, f32, Cpu, T>, CpuError> {
    let dev = x.device().clone();
    // A reshape to the same shape is free when contiguous and makes it so otherwise, which
    // `to_vec`'s raw copy relies on.
    let shape = *x.shape();
    let (x, mut tape) = x.try_reshape_like(&shape)?.split_tape();
    let g = *g;
    let (og, kdim, ohw) = (g.og(), g.cg() * g.kk(), g.ohw());
    let xv = to_vec(&x);
    let wv = to_vec(weight);
    let bv = bias.map(to_vec);
    let wmats = (0..g.groups)
        .map(|gi| dev.try_tensor_from_vec(weight_matrix(&wv, &g, gi), (og, kdim)))
        .collect::<Result<Vec<_>, _>>()?;
    let nb = chunk_len(&g, chunk_values);
    let keep_cols = T::OWNS_TAPE && nb >= g.n;
    let mut kept = Vec::new();
    let mut out = vec![0f32; g.n * g.o * ohw];
    for ns in chunks(g.n, nb) {
        let m = ns.len() * ohw;
        for (gi, wm) in wmats.iter().enumerate() {
            let cols = dev.try_tensor_from_vec(im2col(&xv, &g, gi, ns.clone()), (kdim, m))?;
            let res = matmul(&dev, wm, false, &cols, false)?; // (og, chunk*ohw)
            if keep_cols {
                kept.push(cols);
            }
            // (og, chunk, ohw) -> out[n, gi*og + j, :], adding the bias: one output plane per
            // task (this copy ran on one core, 8% of a CNN step).
            out[ns.start * g.o * ohw..ns.end * g.o * ohw]
                .par_chunks_mut(ohw)
                .enumerate()
                .with_min_len(MIN_PLANES)
                .for_each(|(pi, dst)| {
                    let (ni, ch) = (pi / g.o, pi % g.o);
                    if ch / og != gi {
                        return;
                    }
                    let j = ch % og;
                    let src = &res[j * m + ni * ohw..][..ohw];
                    let b = bv.as_ref().map_or(0.0, |b| b[ch]);
                    for (d, v) in dst.iter_mut().zip(src) {
                        *d = v + b;
                    }
                });
        }
    }
    let out = dev.try_tensor_from_vec(out, (g.n, g.o, g.oh, g.ow))?;
    if T::OWNS_TAPE {
        let (xg, og_, wg) = (x.ghost(), out.ghost(), weight.ghost());
        let bg = bias.map(|b| b.ghost());
        tape.add_backward_op(move |grads| {
            let gout: Vec<f32> = std::mem::take(&mut **grads.get_or_alloc_mut(&og_)?);
            let mut gw_local = vec![0f32; g.weight_len()];
            let mut gb_local = vec![0f32; g.o];
            let mut gx = if need_dx {
                Some(grads.get_or_alloc_mut(&xg)?)
            } else {
                None
            };
            for ns in chunks(g.n, nb) {
                let m = ns.len() * ohw;
                for (gi, wm) in wmats.iter().enumerate() {
                    // This chunk's output gradient for the group as an (og, chunk*ohw) matrix.
                    // One row per task; each row's bias sum runs in the same order as before.
                    let mut go = vec![0f32; og * m];
                    let sums: Vec<f32> = go
                        .par_chunks_mut(m)
                        .enumerate()
                        .map(|(j, row)| {
                            for (ni, n) in ns.clone().enumerate() {
                                row[ni * ohw..][..ohw]
                                    .copy_from_slice(&gout[(n * g.o + gi * og + j) * ohw..][..ohw]);
                            }
                            row.iter().sum::<f32>()
                        })
                        .collect();
                    for (j, s) in sums.into_iter().enumerate() {
                        gb_local[gi * og + j] += s;
                    }
                    let go = dev.try_tensor_from_vec(go, (og, m))?;
                    let cols = match kept.get(gi) {
                        Some(c) => c.clone(),
                        None => {
                            dev.try_tensor_from_vec(im2col(&xv, &g, gi, ns.clone()), (kdim, m))?
                        }
                    };
                    // dW^T = cols @ go^T: gemm blocks this shape about a third faster than
                    // go @ cols^T (a 32 x 144 output over a 12544-long sum, measured).
                    let gwt = matmul(&dev, &cols, false, &go, true)?; // (kdim, og)
                    let mut gwm = vec![0f32; og * kdim];
                    for (r, row) in gwt.chunks(og).enumerate() {
                        for (j, v) in row.iter().enumerate() {
                            gwm[j * kdim + r] = *v;
                        }
                    }
                    weight_grad_add(&mut gw_local, &gwm, &g, gi);
                    if let Some(gx) = gx.as_deref_mut() {
                        // Two halves of the examples at once, so that the copies around each
                        // matmul (single-threaded in dfdx) run on both cores. Each value of
                        // `dcols` is one sum over `og` whichever columns are computed
                        // together: the result is the same to the bit.
                        let hw = g.h * g.w;
                        let mid = ns.start + ns.len().div_ceil(2);
                        let (lo, hi) = gx[ns.start * g.c * hw..ns.end * g.c * hw]
                            .split_at_mut((mid - ns.start) * g.c * hw);
                        let (a, b) = rayon::join(
                            || input_grad_add(&dev, wm, &gout, &g, gi, ns.start..mid, lo),
                            || input_grad_add(&dev, wm, &gout, &g, gi, mid..ns.end, hi),
                        );
                        a?;
                        b?;
                    }
                }
            }
            for (d, s) in grads.get_or_alloc_mut(&wg)?.iter_mut().zip(&gw_local) {
                *d += s;
            }
            if let Some(bg) = bg {
                for (d, s) in grads.get_or_alloc_mut(&bg)?.iter_mut().zip(&gb_local) {
                    *d += s;
                }
            }
            Ok(())
        });
    }
    Ok(out.put_tape(tape))
}

/// Max pooling with the argmax recorded (PyTorch's tie rule: the first maximum in the window);
/// `relu` fuses a ReLU applied after (equal to one applied before, since ReLU commutes with max).
pub fn maxpool2d<T: Tape<f32, Cpu> + Merge<NoneTape>>(
    x: Tensor<Img, f32, Cpu, T>,
    g: &PoolGeom,
    relu: bool,
) -> Result<Tensor<Img, f32, Cpu, T>, CpuError> {
    let dev = x.device().clone();
    let shape = *x.shape();
    let (x, mut tape) = x.try_reshape_like(&shape)?.split_tape();
    let g = *g;
    let xv = to_vec(&x);
    let (hw, ohw) = (g.h * g.w, g.oh * g.ow);
    let mut out = vec![0f32; g.n * g.c * ohw];
    let mut arg = vec![0u32; g.n * g.c * ohw];
    let unpadded = g.p == [0, 0];
    out.par_chunks_mut(ohw)
        .zip(arg.par_chunks_mut(ohw))
        .enumerate()
        .with_min_len(MIN_PLANES)
        .for_each(|(pi, (o, a))| {
            let plane = &xv[pi * hw..][..hw];
            if g.k == [2, 2] && g.s == [2, 2] && unpadded {
                // The common 2x2 pooling, unrolled: same rule as below (first maximum wins).
                for oy in 0..g.oh {
                    let r0 = &plane[2 * oy * g.w..][..2 * g.ow];
                    let r1 = &plane[(2 * oy + 1) * g.w..][..2 * g.ow];
                    let orow = &mut o[oy * g.ow..][..g.ow];
                    let arow = &mut a[oy * g.ow..][..g.ow];
                    for ox in 0..g.ow {
                        let (p, q) = (r0[2 * ox], r0[2 * ox + 1]);
                        let (r, t) = (r1[2 * ox], r1[2 * ox + 1]);
                        let m = p.max(q).max(r.max(t));
                        let i0 = 2 * oy * g.w + 2 * ox;
                        // First tap equal to the maximum, by arithmetic (no branches).
                        let (np, nq, nr) = (
                            usize::from(p != m),
                            usize::from(q != m),
                            usize::from(r != m),
                        );
                        let idx = i0
                            + np * (1 - nq)
                            + np * nq * (1 - nr) * g.w
                            + np * nq * nr * (g.w + 1);
                        let dead = u32::from(relu && (m <= 0.0 || m.is_nan()));
                        orow[ox] = if relu { m.max(0.0) } else { m };
                        arow[ox] = (pi * hw + idx) as u32 | 0u32.wrapping_sub(dead);
                    }
                }
                return;
            }
            for oy in 0..g.oh {
                for ox in 0..g.ow {
                    let mut best = f32::NEG_INFINITY;
                    let mut best_i = usize::MAX;
                    if unpadded {
                        // Every tap is inside the image: no bounds logic. Which tap wins is
                        // data-dependent, so branches mispredict: take the maximum with `max`,
                        // then the first tap equal to it by a reverse scan of arithmetic selects.
                        // (A NaN is skipped here, where PyTorch would propagate it.)
                        let base = oy * g.s[0] * g.w + ox * g.s[1];
                        best = plane[base];
                        for ky in 0..g.k[0] {
                            for &v in &plane[base + ky * g.w..][..g.k[1]] {
                                best = best.max(v);
                            }
                        }
                        best_i = base;
                        for ky in (0..g.k[0]).rev() {
                            for kx in (0..g.k[1]).rev() {
                                let i = base + ky * g.w + kx;
                                let eq = usize::from(plane[i] == best);
                                best_i = eq * i + (1 - eq) * best_i;
                            }
                        }
                    } else {
                        for ky in 0..g.k[0] {
                            for kx in 0..g.k[1] {
                                if let Some((y, xx)) = g.src(oy, ox, ky, kx) {
                                    let i = y * g.w + xx;
                                    let v = plane[i];
                                    if best_i == usize::MAX || v > best || v.is_nan() {
                                        best = v;
                                        best_i = i;
                                    }
                                }
                            }
                        }
                    }
                    let k = oy * g.ow + ox;
                    // With the fused ReLU a non-positive maximum passes no gradient: mark it
                    // (all bits set), without a branch on the data.
                    let dead = u32::from(relu && (best <= 0.0 || best.is_nan()));
                    o[k] = if relu { best.max(0.0) } else { best };
                    a[k] = (pi * hw + best_i) as u32 | 0u32.wrapping_sub(dead);
                }
            }
        });
    let out_t = dev.try_tensor_from_vec(out, (g.n, g.c, g.oh, g.ow))?;
    if T::OWNS_TAPE {
        let (xg, og) = (x.ghost(), out_t.ghost());
        tape.add_backward_op(move |grads| {
            let gout: Vec<f32> = std::mem::take(&mut **grads.get_or_alloc_mut(&og)?);
            let gx = grads.get_or_alloc_mut(&xg)?;
            // Output plane `pi` only scatters into input plane `pi`: planes are independent.
            gx.par_chunks_mut(hw)
                .enumerate()
                .with_min_len(MIN_PLANES)
                .for_each(|(pi, dst)| {
                    let base = pi * hw;
                    for k in pi * ohw..(pi + 1) * ohw {
                        if arg[k] != u32::MAX {
                            dst[arg[k] as usize - base] += gout[k];
                        }
                    }
                });
            Ok(())
        });
    }
    Ok(out_t.put_tape(tape))
}

/// A fully connected layer with a hand-written backward, so that the first layer can skip the
/// input gradient (`need_dx = false`), a third of an MLP's backward matmuls.
pub fn linear<T: Tape<f32, Cpu> + Merge<NoneTape>>(
    x: Tensor<Mat, f32, Cpu, T>,
    weight: &Tensor<Flat, f32, Cpu>,
    bias: Option<&Tensor<Flat, f32, Cpu>>,
    out: usize,
    need_dx: bool,
) -> Result<Tensor<Mat, f32, Cpu, T>, CpuError> {
    let dev = x.device().clone();
    let (n, f) = *x.shape();
    let (x, mut tape) = x.split_tape();
    let w = weight.clone().try_reshape_like(&(out, f))?;
    let mut y = to_vec(
        &x.clone()
            .try_matmul(w.clone().try_permute::<_, Axes2<1, 0>>()?)?,
    );
    if let Some(b) = bias {
        let bv = to_vec(b);
        for row in y.chunks_mut(out) {
            for (v, b) in row.iter_mut().zip(&bv) {
                *v += b;
            }
        }
    }
    let y = dev.try_tensor_from_vec(y, (n, out))?;
    if T::OWNS_TAPE {
        let (xg, yg, wg) = (x.ghost(), y.ghost(), weight.ghost());
        let bg = bias.map(|b| b.ghost());
        tape.add_backward_op(move |grads| {
            let gy_vec: Vec<f32> = std::mem::take(&mut **grads.get_or_alloc_mut(&yg)?);
            if let Some(bg) = bg {
                let gb = grads.get_or_alloc_mut(&bg)?;
                for row in gy_vec.chunks(out) {
                    for (d, s) in gb.iter_mut().zip(row) {
                        *d += s;
                    }
                }
            }
            let gy = dev.try_tensor_from_vec(gy_vec, (n, out))?;
            // dW (out, f) = gy^T @ x.
            let gw = matmul(&dev, &gy, true, &x, false)?;
            for (d, s) in grads.get_or_alloc_mut(&wg)?.iter_mut().zip(&gw) {
                *d += s;
            }
            if need_dx {
                // dx (n, f) = gy @ W.
                let gx = to_vec(&gy.try_matmul(w)?);
                for (d, s) in grads.get_or_alloc_mut(&xg)?.iter_mut().zip(&gx) {
                    *d += s;
                }
            }
            Ok(())
        });
    }
    Ok(y.put_tape(tape))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs a grouped, strided convolution and returns its output and all three gradients.
    fn run(chunk_values: usize, transposed: bool) -> Vec<Vec<f32>> {
        let dev = Cpu::seed_from_u64(1);
        let (n, c, h, w, o) = (5, 4, 7, 6, 6);
        let g = if transposed {
            ConvGeom {
                n,
                c,
                h,
                w,
                o,
                oh: 13,
                ow: 11,
                k: [3, 3],
                s: [2, 2],
                p: [1, 1],
                d: [1, 1],
                groups: 2,
                transposed,
            }
        } else {
            ConvGeom {
                n,
                c,
                h,
                w,
                o,
                oh: 4,
                ow: 3,
                k: [3, 2],
                s: [2, 2],
                p: [1, 0],
                d: [1, 1],
                groups: 2,
                transposed,
            }
        };
        let x: Tensor<Img, f32, Cpu> = dev.sample_normal_like(&(n, c, h, w));
        let wt: Tensor<Flat, f32, Cpu> = dev.sample_normal_like(&(g.weight_len(),));
        let b: Tensor<Flat, f32, Cpu> = dev.sample_normal_like(&(o,));
        let y = conv2d_chunked(x.leaky_trace(), &wt, Some(&b), &g, true, chunk_values).unwrap();
        let out = y.as_vec();
        let grads = (y.square()).sum().backward();
        vec![
            out,
            grads.get(&x).as_vec(),
            grads.get(&wt).as_vec(),
            grads.get(&b).as_vec(),
        ]
    }

    #[test]
    fn chunked_convolution_matches_whole_batch() {
        for transposed in [false, true] {
            // One value per chunk forces one example per chunk (and recomputed columns).
            let whole = run(usize::MAX / 2, transposed);
            let chunked = run(1, transposed);
            for (a, b) in whole.iter().zip(&chunked) {
                assert_eq!(a.len(), b.len());
                for (u, v) in a.iter().zip(b) {
                    assert!((u - v).abs() <= 1e-4 * (1.0 + u.abs()), "{u} vs {v}");
                }
            }
        }
    }
}
