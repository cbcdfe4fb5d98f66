//! Same-size, stride-1 convolution without an im2col. The batch's input is laid out once, per
//! channel, as one long "lane" in which every image row is followed by `p` zero columns and
//! every image by `p` zero rows (shared with the next image, so a lane is barely longer than
//! the data). In that layout kernel tap `(ky, kx)` reads the whole batch at one constant
//! offset: its input is the `C x positions` block of the lanes starting there, a strided view
//! with nothing copied, and the convolution is a sum over taps of one matrix product each,
//! `out (O x N) += W_tap (O x C) @ lanes[:, tap..]`. The products are computed at every lane
//! position, padding included (about a third more columns on 7x7 maps, a few percent on
//! 64x64); the padding positions' values are dropped, and their gradients are zero, so they add
//! nothing to the weight or input gradients.
//!
//! The backward pass works through the batch in the im2col kernel's fixed parts (so the bits
//! of a result do not depend on the number of threads). The input gradient is gathered in lanes
//! of the part's own, `lanes[:, tap..] += W_tap^T @ dy`, then cut back to the image planes. For
//! the weight gradient the part's lanes are turned position-major (each position's `C` values
//! side by side): a kernel row's taps (undilated) are then one `positions x kw*C` view whose
//! rows overlap, and its gradient one product, `dW_row += dy @ view`. Each product's long side
//! is then read along its stride-1 axis, which the matrix kernels take without packing.

use dfdx::prelude::*;
use rayon::prelude::*;

use super::super::gemm::{gemm, gemm_ld, Operand};
use super::super::scratch::{self, Scratch};
use super::super::{ConvGeom, Flat, Img, PoolGeom};
use super::{add_into, add_run, copy_run, output, sum, summed_parts, to_vec, untape, PARTS};

/// Input channels per group below which the im2col kernel is used instead: a tap's product
/// sums over the channels only, and with very few the products are too thin to be efficient.
const MIN_CHANNELS: usize = 4;

/// Whether [`conv2d`] computes this convolution: plain, ungrouped, stride 1, output as large
/// as the input (so a tap reaches at most `p` rows and columns out), more than one tap.
pub(super) fn applies(g: &ConvGeom) -> bool {
    !g.transposed
        && g.groups == 1
        && g.s == [1, 1]
        && g.oh == g.h
        && g.ow == g.w
        && g.kk() > 1
        && g.cg() >= MIN_CHANNELS
        && (0..2).all(|i| (g.k[i] - 1) * g.d[i] == 2 * g.p[i])
}

/// The lane layout of `e` images.
#[derive(Clone, Copy)]
struct Lane {
    /// Values per row: the image row and `p` zero columns.
    wp: usize,
    /// Values per image: `h + p` rows.
    block: usize,
    /// Zero values before the first image (and after the last), so that every tap's view
    /// stays inside the lane.
    margin: usize,
}

impl Lane {
    fn new(g: &ConvGeom) -> Self {
        let wp = g.w + g.p[1];
        Lane {
            wp,
            block: (g.h + g.p[0]) * wp,
            margin: g.p[0] * wp + g.p[1],
        }
    }
    /// Positions of a lane holding `e` images.
    fn len(&self, e: usize) -> usize {
        2 * self.margin + e * self.block
    }
    /// Where tap `t` starts reading, relative to the lane's start, for output position 0.
    fn tap(&self, g: &ConvGeom, t: usize) -> usize {
        let (ky, kx) = (t / g.k[1], t % g.k[1]);
        ky * g.d[0] * self.wp + kx * g.d[1]
    }
}

/// The weights `[O, C, kh, kw]` regrouped by kernel row, `[kh, O, kw, C]`: a kernel row's
/// weights are then an `O x kw*C` block, and a tap's an `O x C` block of it.
fn by_row(w: &[f32], g: &ConvGeom) -> Vec<f32> {
    let mut out = vec![0f32; w.len()];
    each_weight(g, |src, dst| out[dst] = w[src]);
    out
}

/// The inverse of [`by_row`], added into `dst`.
fn add_from_rows(dst: &mut [f32], wr: &[f32], g: &ConvGeom) {
    each_weight(g, |d, s| dst[d] += wr[s]);
}

/// Every weight's index in PyTorch's layout and in [`by_row`]'s.
fn each_weight(g: &ConvGeom, mut f: impl FnMut(usize, usize)) {
    let (o, c, [kh, kw]) = (g.o, g.c, g.k);
    for oi in 0..o {
        for ci in 0..c {
            for ky in 0..kh {
                for kx in 0..kw {
                    f(
                        ((oi * c + ci) * kh + ky) * kw + kx,
                        ((ky * o + oi) * kw + kx) * c + ci,
                    );
                }
            }
        }
    }
}

/// The taps one product covers: a whole kernel row when undilated (its taps' blocks are one
/// view), else one tap.
fn spans(g: &ConvGeom) -> Vec<(usize, usize, usize)> {
    if g.d[1] == 1 {
        (0..g.k[0]).map(|ky| (ky, 0, g.k[1])).collect()
    } else {
        (0..g.k[0])
            .flat_map(|ky| (0..g.k[1]).map(move |kx| (ky, kx, 1)))
            .collect()
    }
}

/// The convolution (see the module's comment). `need_dx = false` skips the input gradient;
/// `relu` applies a ReLU to the output (and passes the output gradient only where the
/// convolution's value was positive, as the ReLU's backward would); `pool` max-pools the
/// output, with a ReLU, before it becomes the op's output (see [`super::output`]).
pub(super) fn conv2d<T: Tape<f32, Cpu> + Merge<NoneTape>>(
    x: Tensor<Img, f32, Cpu, T>,
    weight: &Tensor<Flat, f32, Cpu>,
    bias: Option<&Tensor<Flat, f32, Cpu>>,
    g: &ConvGeom,
    need_dx: bool,
    relu: bool,
    pool: Option<&PoolGeom>,
) -> Result<Tensor<Img, f32, Cpu, T>, CpuError> {
    let (dev, x, mut tape, xv) = untape(x)?;
    let g = *g;
    let lane = Lane::new(&g);
    let (c, o, kk) = (g.c, g.o, g.kk());
    let (hw, chw, ohw) = (g.h * g.w, c * g.h * g.w, o * g.h * g.w);
    let len = lane.len(g.n);
    // The whole batch's lanes, one per channel, kept for the backward pass.
    let mut lanes = scratch::take(c * len);
    {
        lanes
            .par_chunks_mut(len.max(1))
            .enumerate()
            .for_each(|(ci, l)| {
                l.fill(0.0);
                for e in 0..g.n {
                    let dst = &mut l[lane.margin + e * lane.block..];
                    let plane = &xv[e * chw + ci * hw..][..hw];
                    for (y, row) in plane.chunks(g.w.max(1)).enumerate() {
                        copy_run(&mut dst[y * lane.wp..][..g.w], row);
                    }
                }
            });
        scratch::give(xv);
    }
    let wr = by_row(&to_vec(weight), &g);
    let bv = bias.map(to_vec);
    let per_part = g.n.div_ceil(g.n.clamp(1, PARTS)).max(1);
    let kc = g.k[1] * c;
    // Tap `t`'s weights, `O x C` with rows `kw*C` apart.
    let wtap = move |t: usize| (t / g.k[1]) * o * kc + (t % g.k[1]) * c;
    let mut out = scratch::take(g.n * ohw); // every value is written

    // With the ReLU and a tape, per part: where the convolution's value was positive.
    let keep_mask = relu && T::OWNS_TAPE;
    let mut masks: Vec<Vec<u8>> = Vec::new();
    if g.n > 0 && ohw > 0 {
        masks = out
            .par_chunks_mut(per_part * ohw)
            .enumerate()
            .map(|(p, dst)| {
                let e0 = p * per_part;
                let cols = dst.len() / ohw * lane.block;
                let mut wide = Scratch::new(o * cols);
                for t in 0..kk {
                    let w = Operand::plain(&wr[wtap(t)..]).rows_apart(kc);
                    let at = lane.tap(&g, t) + e0 * lane.block;
                    let v = Operand::plain(&lanes[at..]).rows_apart(len);
                    gemm(&mut wide.0, o, cols, c, w, v, t > 0);
                }
                for (i, img) in dst.chunks_mut(ohw).enumerate() {
                    for (oi, plane) in img.chunks_mut(hw).enumerate() {
                        let b = bv.as_ref().map_or(0.0, |b| b[oi]);
                        let src = &wide.0[oi * cols + i * lane.block..];
                        for (y, row) in plane.chunks_mut(g.w).enumerate() {
                            let src = &src[y * lane.wp..][..g.w];
                            if relu {
                                for (d, v) in row.iter_mut().zip(src) {
                                    *d = (v + b).max(0.0);
                                }
                            } else {
                                for (d, v) in row.iter_mut().zip(src) {
                                    *d = v + b;
                                }
                            }
                        }
                    }
                }
                if keep_mask {
                    // After the ReLU, positive exactly where the convolution's value was.
                    dst.iter().map(|&v| u8::from(v > 0.0)).collect()
                } else {
                    Vec::new()
                }
            })
            .collect();
    }
    let (out, take_gout) = output(&dev, out, [g.n, o, g.h, g.w], pool, T::OWNS_TAPE)?;
    if T::OWNS_TAPE {
        let (xg, wg) = (x.ghost(), weight.ghost());
        let bg = bias.map(|b| b.ghost());
        let spans = spans(&g);
        tape.add_backward_op(move |grads| {
            let mut gout = take_gout(grads)?;
            if relu {
                // The ReLU's backward: the gradient passes where the value was positive.
                gout.par_chunks_mut(per_part * ohw)
                    .zip(&masks)
                    .for_each(|(gp, mp)| {
                        for (v, &m) in gp.iter_mut().zip(mp) {
                            *v = if m != 0 { *v } else { 0.0 };
                        }
                    });
            }
            // One part's images (from `e0`): its partial weight gradient (by kernel row) and
            // bias gradient, and its input gradient added into `gx`, the part's own planes.
            let part = |e0: usize, gx: Option<&mut [f32]>| -> (Vec<f32>, Vec<f32>) {
                let ne = per_part.min(g.n - e0);
                let cols = ne * lane.block;
                let llen = lane.len(ne);
                let mut dwr = vec![0f32; g.weight_len()];
                let mut db = vec![0f32; o];
                // The output gradient at lane positions (`O x cols`), zero in the padding.
                let mut dy = Scratch::new(o * cols);
                dy.0.fill(0.0);
                for i in 0..ne {
                    let img = &gout[(e0 + i) * ohw..][..ohw];
                    for (oi, plane) in img.chunks(hw).enumerate() {
                        db[oi] += sum(plane);
                        let dst = &mut dy.0[oi * cols + i * lane.block..];
                        for (y, row) in plane.chunks(g.w).enumerate() {
                            copy_run(&mut dst[y * lane.wp..][..g.w], row);
                        }
                    }
                }
                let dyo = Operand::plain(&dy.0);
                // The part's lanes, position-major: `llen x C`.
                let mut pm = Scratch::new(llen * c);
                to_positions(&mut pm.0, &lanes, len, e0 * lane.block, c);
                for &(ky, kx, taps) in &spans {
                    // dW_span (O x taps*C) += dy (O x cols) @ view (cols x taps*C).
                    let at = lane.tap(&g, ky * g.k[1] + kx) * c;
                    let v = Operand::plain(&pm.0[at..]).rows_apart(c);
                    let dw = &mut dwr[ky * o * kc + kx * c..];
                    gemm_ld(dw, kc, o, taps * c, cols, dyo, v, true);
                }
                if let Some(gx) = gx {
                    // lanes[:, tap..] (C x cols) += W_tap^T (C x O) @ dy (O x cols), in lanes
                    // of the part's own, `C x llen`.
                    let mut dl = Scratch::new(c * llen);
                    dl.0.fill(0.0);
                    for t in 0..kk {
                        let w = Operand::transposed(&wr[wtap(t)..]).rows_apart(kc);
                        let d = &mut dl.0[lane.tap(&g, t)..];
                        gemm_ld(d, llen, c, cols, o, w, dyo, true);
                    }
                    for (i, img) in gx.chunks_mut(chw).enumerate() {
                        for (ci, plane) in img.chunks_mut(hw).enumerate() {
                            let src = &dl.0[ci * llen + lane.margin + i * lane.block..];
                            for (y, row) in plane.chunks_mut(g.w).enumerate() {
                                add_run(row, &src[y * lane.wp..][..g.w]);
                            }
                        }
                    }
                }
                (dwr, db)
            };
            let gx = if need_dx {
                Some(&mut grads.get_or_alloc_mut(&xg)?[..])
            } else {
                None
            };
            let (gwr, gb) = summed_parts(gx, &g, per_part, part);
            add_from_rows(grads.get_or_alloc_mut(&wg)?, &gwr, &g);
            if let Some(bg) = bg {
                add_into(grads.get_or_alloc_mut(&bg)?, &gb);
            }
            scratch::give(gout);
            scratch::give(lanes);
            Ok(())
        });
    } else {
        scratch::give(lanes);
    }
    Ok(out.put_tape(tape))
}

/// Positions `from..` of `c` lanes (`len` values apart in `lanes`) into `dst`, position-major:
/// `dst[q*c + ci] = lane_ci[from + q]`, in blocks of positions small enough for the cache.
fn to_positions(dst: &mut [f32], lanes: &[f32], len: usize, from: usize, c: usize) {
    const BLOCK: usize = 64;
    for (b, d) in dst.chunks_mut(BLOCK * c).enumerate() {
        let q0 = from + b * BLOCK;
        let nq = d.len() / c;
        let mut ci = 0;
        // Four lanes at a time, four positions at a time: 4x4 blocks transposed in registers.
        while ci + 4 <= c {
            let l: [&[f32]; 4] = std::array::from_fn(|k| &lanes[(ci + k) * len + q0..][..nq]);
            let mut q = 0;
            while q + 4 <= nq {
                let r: [[f32; 4]; 4] =
                    std::array::from_fn(|k| l[k][q..q + 4].try_into().expect("four values"));
                for j in 0..4 {
                    let o: &mut [f32; 4] = (&mut d[(q + j) * c + ci..][..4])
                        .try_into()
                        .expect("four values");
                    *o = [r[0][j], r[1][j], r[2][j], r[3][j]];
                }
                q += 4;
            }
            for q in q..nq {
                for k in 0..4 {
                    d[q * c + ci + k] = l[k][q];
                }
            }
            ci += 4;
        }
        for ci in ci..c {
            let src = &lanes[ci * len + q0..][..nq];
            for (q, &v) in src.iter().enumerate() {
                d[q * c + ci] = v;
            }
        }
    }
}
