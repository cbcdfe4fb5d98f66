//! Fast CPU versions of convolution, fully connected layers and max pooling: custom dfdx
//! operations with hand-written backward passes recorded on the tape (`split_tape` /
//! `add_backward_op` / `put_tape`).
//!
//! Convolution is, per example, an im2col and one matrix product per group written straight into
//! the example's output planes ([`super::gemm`], on plain slices), with the examples spread over
//! both cores; the backward pass splits the batch into fixed parts, each adding its examples'
//! weight gradients into a partial sum and writing their input gradients. Max pooling records the
//! argmax with PyTorch's tie rule (the first maximum in the window wins) and can fuse a following
//! ReLU, which commutes with max.
//!
//! Backward closures *add* into the input gradients (dfdx accumulates: a tensor read by several
//! ops receives the sum), and *take* the output gradient without copying it: every consumer of an
//! op's output runs its backward before the op's own, so nobody reads that gradient afterwards.

mod shifted;

use dfdx::prelude::*;
use rayon::prelude::*;

use super::gemm::{gemm, gemm_rows, Operand};
use super::scratch::{self, Scratch};
use super::{ConvGeom, Flat, Img, Mat, PoolGeom};

/// Image planes per parallel task: a plane is a few hundred values, too little work to be worth
/// a task of its own.
const MIN_PLANES: usize = 64;

/// The values of a contiguous tensor by one memcpy (`as_vec` walks strides element by element,
/// which showed up at 14% of a CNN step).
pub(super) fn to_vec<S: Shape, T>(t: &Tensor<S, f32, Cpu, T>) -> Vec<f32> {
    let mut v = scratch::take(t.shape().num_elements());
    t.copy_into(&mut v);
    v
}

/// An op's input taken off the tape: its device, the tensor without the tape (a same-shape
/// reshape makes a strided input contiguous, free when it already is, which [`to_vec`]'s raw
/// copy relies on), the tape, and the values.
pub(super) type Untaped<S, T> = (Cpu, Tensor<S, f32, Cpu>, T, Vec<f32>);

/// See [`Untaped`].
pub(super) fn untape<S: Shape, T: Tape<f32, Cpu>>(
    x: Tensor<S, f32, Cpu, T>,
) -> Result<Untaped<S, T>, CpuError> {
    let dev = x.device().clone();
    let shape = *x.shape();
    let (x, tape) = x.try_reshape_like(&shape)?.split_tape();
    let v = to_vec(&x);
    Ok((dev, x, tape, v))
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

/// As [`x_run`] for kernel row `ky`: output rows `lo..hi` read input rows `lo+shift..hi+shift`.
fn y_run(g: &ConvGeom, ky: usize) -> Option<(usize, usize, isize)> {
    if g.transposed || g.s[0] != 1 {
        return None;
    }
    let shift = (ky * g.d[0]) as isize - g.p[0] as isize;
    let lo = (-shift).clamp(0, g.oh as isize) as usize;
    let hi = (g.h as isize - shift).clamp(lo as isize, g.oh as isize) as usize;
    Some((lo, hi, shift))
}

/// Per output column, the source column for kernel column `kx` (`usize::MAX` in the padding).
fn x_table(g: &ConvGeom, kx: usize) -> Vec<usize> {
    (0..g.ow)
        .map(|ox| g.src_x(ox, kx).unwrap_or(usize::MAX))
        .collect()
}

/// Multiply-adds a parallel task should hold at least: smaller tasks cost more to hand to a
/// thread than they save.
const TASK_WORK: usize = 1 << 18;

/// Parts the batch is cut into for the weight gradient's partial sums (fewer for smaller
/// batches). Fixed, so that the sums, and the bits of the result, do not depend on the number
/// of threads.
const PARTS: usize = 8;

/// A 1x1, stride-1, unpadded plain convolution reads each example's input planes as its column
/// matrix, with no im2col.
fn direct(g: &ConvGeom) -> bool {
    !g.transposed && g.k == [1, 1] && g.s == [1, 1] && g.p == [0, 0]
}

/// Per kernel column, the contiguous run of a stride-1 row (see [`x_run`]) and the source
/// column of every output column.
struct Taps {
    runs: Vec<Option<(usize, usize, isize)>>,
    yruns: Vec<Option<(usize, usize, isize)>>,
    tables: Vec<Vec<usize>>,
    /// For a strided plain convolution, per kernel tap, the source of every output position in
    /// the plane (`u32::MAX` in the padding): its im2col row is one gather. Empty otherwise.
    gather: Vec<Vec<u32>>,
}

impl Taps {
    fn new(g: &ConvGeom) -> Self {
        let strided = !g.transposed && g.s != [1, 1] && g.h * g.w < u32::MAX as usize;
        let gather = if strided {
            (0..g.kk())
                .map(|t| {
                    let (ky, kx) = (t / g.k[1], t % g.k[1]);
                    (0..g.ohw())
                        .map(|q| match (g.src_y(q / g.ow, ky), g.src_x(q % g.ow, kx)) {
                            (Some(y), Some(x)) => (y * g.w + x) as u32,
                            _ => u32::MAX,
                        })
                        .collect()
                })
                .collect()
        } else {
            Vec::new()
        };
        Taps {
            runs: (0..g.k[1]).map(|kx| x_run(g, kx)).collect(),
            yruns: (0..g.k[0]).map(|ky| y_run(g, ky)).collect(),
            tables: (0..g.k[1]).map(|kx| x_table(g, kx)).collect(),
            gather,
        }
    }
}

/// `d.copy_from_slice(s)` for the short runs of small maps (a 7x7 plane's rows are 7 values):
/// fixed-size moves inline instead of a `memcpy` call per run, whose cost was most of an
/// im2col on 7x7 maps.
#[inline(always)]
pub(super) fn copy_run(d: &mut [f32], s: &[f32]) {
    let n = d.len();
    if n > 16 {
        d.copy_from_slice(s);
        return;
    }
    let s = &s[..n];
    let mut i = 0;
    while i + 4 <= n {
        let (dd, ss): (&mut [f32; 4], &[f32; 4]) = (
            (&mut d[i..i + 4]).try_into().expect("four values"),
            (&s[i..i + 4]).try_into().expect("four values"),
        );
        *dd = *ss;
        i += 4;
    }
    if i < n {
        d[i] = s[i];
    }
    if i + 1 < n {
        d[i + 1] = s[i + 1];
    }
    if i + 2 < n {
        d[i + 2] = s[i + 2];
    }
}

/// `d += s` value by value for the short rows of small maps, in fixed-size blocks of four (a
/// 7-value row otherwise runs entirely in the scalar tail of the vectorised loop).
#[inline(always)]
pub(super) fn add_run(d: &mut [f32], s: &[f32]) {
    let s = &s[..d.len()];
    let mut dc = d.chunks_exact_mut(4);
    let mut sc = s.chunks_exact(4);
    for (dd, ss) in (&mut dc).zip(&mut sc) {
        let (dd, ss): (&mut [f32; 4], &[f32; 4]) = (
            dd.try_into().expect("four values"),
            ss.try_into().expect("four values"),
        );
        for k in 0..4 {
            dd[k] += ss[k];
        }
    }
    for (dd, ss) in dc.into_remainder().iter_mut().zip(sc.remainder()) {
        *dd += ss;
    }
}

/// im2col of one example (`x`: its `C x H x W` values) for group `gi`, into `dst`: rows
/// (channel-in-group, ky, kx), columns (oy, ox).
fn im2col(x: &[f32], g: &ConvGeom, gi: usize, dst: &mut [f32], taps: &Taps) {
    let (cg, kk, ohw, hw) = (g.cg(), g.kk(), g.ohw(), g.h * g.w);
    if !taps.gather.is_empty() {
        // Strided: each row is one gather over the whole output (on 7x7 outputs a loop per
        // row of 7 values cost more than the values).
        for (row, drow) in dst.chunks_mut(ohw).enumerate() {
            let plane = &x[(gi * cg + row / kk) * hw..][..hw];
            for (o, &i) in drow.iter_mut().zip(&taps.gather[row % kk]) {
                *o = plane.get(i as usize).copied().unwrap_or(0.0);
            }
        }
        return;
    }
    for (row, drow) in dst.chunks_mut(ohw).enumerate() {
        let cl = row / kk;
        let ky = (row % kk) / g.k[1];
        let kx = row % g.k[1];
        let plane = &x[(gi * cg + cl) * hw..][..hw];
        if let (Some((ylo, yhi, ys)), Some((lo, hi, xs))) = (taps.yruns[ky], taps.runs[kx]) {
            // Stride 1 both ways: padding rows, then runs of each row.
            let ow = g.ow;
            drow[..ylo * ow].fill(0.0);
            drow[yhi * ow..].fill(0.0);
            let sy0 = (ylo as isize + ys) as usize;
            if lo == 0 && hi == ow && xs == 0 && g.w == ow {
                // A centre column tap: the rows are one contiguous block.
                drow[ylo * ow..yhi * ow].copy_from_slice(&plane[sy0 * g.w..][..(yhi - ylo) * ow]);
                continue;
            }
            if g.w == ow {
                // A shifted tap on maps as wide as the output: the block is the plane's rows
                // shifted by `xs` as one run, one copy; then the columns that the shift
                // carried over an edge are zeroed (on 7x7 maps, one copy instead of seven).
                let block = &mut drow[ylo * ow..yhi * ow];
                let sb = (sy0 * g.w) as isize + xs;
                let j0 = (-sb).max(0) as usize;
                let j1 = (hw as isize - sb).clamp(j0 as isize, block.len() as isize) as usize;
                block[..j0].fill(0.0);
                let from = (sb + j0 as isize) as usize;
                block[j0..j1].copy_from_slice(&plane[from..from + (j1 - j0)]);
                block[j1..].fill(0.0);
                for r in block.chunks_mut(ow) {
                    for v in &mut r[..lo] {
                        *v = 0.0;
                    }
                    for v in &mut r[hi..] {
                        *v = 0.0;
                    }
                }
                continue;
            }
            let a = (lo as isize + xs) as usize;
            for (i, d) in drow[ylo * ow..yhi * ow].chunks_mut(ow).enumerate() {
                d[..lo].fill(0.0);
                copy_run(&mut d[lo..hi], &plane[(sy0 + i) * g.w + a..][..hi - lo]);
                d[hi..].fill(0.0);
            }
            continue;
        }
        for oy in 0..g.oh {
            let d = &mut drow[oy * g.ow..][..g.ow];
            let Some(sy) = g.src_y(oy, ky) else {
                d.fill(0.0);
                continue;
            };
            let src = &plane[sy * g.w..][..g.w];
            match taps.runs[kx] {
                Some((lo, hi, shift)) => {
                    d[..lo].fill(0.0);
                    let a = (lo as isize + shift) as usize;
                    copy_run(&mut d[lo..hi], &src[a..a + hi - lo]);
                    d[hi..].fill(0.0);
                }
                None => {
                    for (o, &sx) in d.iter_mut().zip(&taps.tables[kx]) {
                        *o = if sx == usize::MAX { 0.0 } else { src[sx] };
                    }
                }
            }
        }
    }
}

/// col2im of one example: adds group `gi`'s column gradients `dcols` into `gx`, the example's
/// input gradient (`C x H x W`).
fn col2im_add(dcols: &[f32], gx: &mut [f32], g: &ConvGeom, gi: usize, taps: &Taps) {
    let (cg, kk, ohw, hw) = (g.cg(), g.kk(), g.ohw(), g.h * g.w);
    if !taps.gather.is_empty() {
        // The strided gather's scatter, in the same order as the loops below.
        for (row, srow) in dcols.chunks(ohw).enumerate() {
            let plane = &mut gx[(gi * cg + row / kk) * hw..][..hw];
            for (&v, &i) in srow.iter().zip(&taps.gather[row % kk]) {
                if let Some(d) = plane.get_mut(i as usize) {
                    *d += v;
                }
            }
        }
        return;
    }
    for (row, srow_all) in dcols.chunks(ohw).enumerate() {
        let cl = row / kk;
        let ky = (row % kk) / g.k[1];
        let kx = row % g.k[1];
        let plane = &mut gx[(gi * cg + cl) * hw..][..hw];
        if let (Some((ylo, yhi, ys)), Some((lo, hi, xs))) = (taps.yruns[ky], taps.runs[kx]) {
            let ow = g.ow;
            let sy0 = (ylo as isize + ys) as usize;
            let a = (lo as isize + xs) as usize;
            for (i, srow) in srow_all[ylo * ow..yhi * ow].chunks(ow).enumerate() {
                let dst = &mut plane[(sy0 + i) * g.w + a..][..hi - lo];
                for (d, v) in dst.iter_mut().zip(&srow[lo..hi]) {
                    *d += v;
                }
            }
            continue;
        }
        for oy in 0..g.oh {
            let Some(sy) = g.src_y(oy, ky) else { continue };
            let dst = &mut plane[sy * g.w..][..g.w];
            let srow = &srow_all[oy * g.ow..][..g.ow];
            match taps.runs[kx] {
                Some((lo, hi, shift)) => {
                    let a = (lo as isize + shift) as usize;
                    for (d, v) in dst[a..a + hi - lo].iter_mut().zip(&srow[lo..hi]) {
                        *d += v;
                    }
                }
                None => {
                    for (&v, &sx) in srow.iter().zip(&taps.tables[kx]) {
                        if sx != usize::MAX {
                            dst[sx] += v;
                        }
                    }
                }
            }
        }
    }
}

/// Examples per parallel task, for `work` multiply-adds per example.
fn min_len(n: usize, work: usize) -> usize {
    (TASK_WORK / work.max(1)).clamp(1, (n / 4).max(1))
}

/// The plain convolution whose col2im is a transposed convolution's forward pass: it reads the
/// transposed one's output as its input and writes the transposed one's input as its output
/// (input pixel `i` meets output pixel `i*s - p + k*d` in both).
fn dual(g: &ConvGeom) -> ConvGeom {
    ConvGeom {
        c: g.o,
        h: g.oh,
        w: g.ow,
        o: g.c,
        oh: g.h,
        ow: g.w,
        transposed: false,
        ..*g
    }
}

/// Transposed convolution by scattering, as PyTorch does: per example and group, the products
/// of every input pixel with every kernel tap, `cols (og*kk, h*w) = W^T @ x`, are added into
/// the output by the [`dual`] convolution's col2im. No multiply meets a zero of a strided
/// gather. The backward pass gathers the output gradient with the dual's im2col: the input
/// gradient is `W @ cols(dy)`, the weight gradient `x @ cols(dy)^T`.
fn conv_transpose2d<T: Tape<f32, Cpu> + Merge<NoneTape>>(
    x: Tensor<Img, f32, Cpu, T>,
    weight: &Tensor<Flat, f32, Cpu>,
    bias: Option<&Tensor<Flat, f32, Cpu>>,
    g: &ConvGeom,
    need_dx: bool,
) -> Result<Tensor<Img, f32, Cpu, T>, CpuError> {
    let (dev, x, mut tape, xv) = untape(x)?;
    let g = *g;
    let dg = dual(&g);
    let (cg, rows) = (g.cg(), g.og() * g.kk());
    let (hw, ohw) = (g.h * g.w, g.ohw());
    let (chw, ochw) = (g.c * hw, g.o * ohw);
    // Stored [C, og, kk]: group gi's weights are a (cg, og*kk) matrix.
    let wv = to_vec(weight);
    let bv = bias.map(to_vec);
    let taps = Taps::new(&dg);
    let mut out = scratch::take(g.n * ochw); // every value is written
    let per_task = min_len(g.n, g.c * rows * hw);
    if g.n > 0 && ochw > 0 {
        out.par_chunks_mut(ochw)
            .enumerate()
            .with_min_len(per_task)
            .for_each_init(
                || Scratch::new(rows * hw),
                |cols, (ni, d)| {
                    for (ch, plane) in d.chunks_mut(ohw).enumerate() {
                        plane.fill(bv.as_ref().map_or(0.0, |b| b[ch]));
                    }
                    let xe = &xv[ni * chw..][..chw];
                    for gi in 0..g.groups {
                        let wt = Operand::transposed(&wv[gi * cg * rows..][..cg * rows]);
                        let xg = Operand::plain(&xe[gi * cg * hw..][..cg * hw]);
                        gemm(&mut cols.0, rows, hw, cg, wt, xg, false);
                        col2im_add(&cols.0, d, &dg, gi, &taps);
                    }
                },
            );
    }
    let out = dev.try_tensor_from_vec(out, (g.n, g.o, g.oh, g.ow))?;
    if T::OWNS_TAPE {
        let (xg, og_, wg) = (x.ghost(), out.ghost(), weight.ghost());
        let bg = bias.map(|b| b.ghost());
        tape.add_backward_op(move |grads| {
            let gout: Vec<f32> = std::mem::take(&mut **grads.get_or_alloc_mut(&og_)?);
            let per_part = g.n.div_ceil(g.n.clamp(1, PARTS));
            let part = |n0: usize, mut gx: Option<&mut [f32]>| -> (Vec<f32>, Vec<f32>) {
                let mut dw = vec![0f32; g.weight_len()];
                let mut db = vec![0f32; g.o];
                let mut gcols = Scratch::new(rows * hw);
                for ni in n0..(n0 + per_part).min(g.n) {
                    let goe = &gout[ni * ochw..][..ochw];
                    let xe = &xv[ni * chw..][..chw];
                    for (ch, plane) in goe.chunks(ohw).enumerate() {
                        db[ch] += sum(plane);
                    }
                    for gi in 0..g.groups {
                        im2col(goe, &dg, gi, &mut gcols.0, &taps);
                        let gc = &gcols.0;
                        // dW (cg, og*kk) += x (cg, hw) @ cols(dy)^T.
                        let xgm = Operand::plain(&xe[gi * cg * hw..][..cg * hw]);
                        let dwg = &mut dw[gi * cg * rows..][..cg * rows];
                        gemm(dwg, cg, rows, hw, xgm, Operand::transposed(gc), true);
                        if let Some(gx) = gx.as_deref_mut() {
                            // dx (cg, hw) += W (cg, og*kk) @ cols(dy).
                            let d = &mut gx[(ni - n0) * chw + gi * cg * hw..][..cg * hw];
                            let wgm = Operand::plain(&wv[gi * cg * rows..][..cg * rows]);
                            gemm(d, cg, hw, rows, wgm, Operand::plain(gc), true);
                        }
                    }
                }
                (dw, db)
            };
            let gx = if need_dx {
                Some(&mut grads.get_or_alloc_mut(&xg)?[..])
            } else {
                None
            };
            let (gw, gb) = summed_parts(gx, &g, per_part, part);
            add_into(grads.get_or_alloc_mut(&wg)?, &gw);
            if let Some(bg) = bg {
                add_into(grads.get_or_alloc_mut(&bg)?, &gb);
            }
            for v in [gout, xv] {
                scratch::give(v);
            }
            Ok(())
        });
    } else {
        scratch::give(xv);
    }
    Ok(out.put_tape(tape))
}

/// A convolution's partial weight and bias gradients: `part` runs on the batch's fixed parts in
/// parallel (each from its first example, with its examples' slice of the input gradient when
/// there is one), and the parts' results are added up in order, so the bits do not depend on
/// the number of threads.
fn summed_parts(
    gx: Option<&mut [f32]>,
    g: &ConvGeom,
    per_part: usize,
    part: impl Fn(usize, Option<&mut [f32]>) -> (Vec<f32>, Vec<f32>) + Sync,
) -> (Vec<f32>, Vec<f32>) {
    let (n, per_example) = (g.n, g.c * g.h * g.w);
    let partials: Vec<_> = match gx {
        Some(gx) if per_example > 0 => gx[..n * per_example]
            .par_chunks_mut(per_part * per_example)
            .enumerate()
            .map(|(p, gxp)| part(p * per_part, Some(gxp)))
            .collect(),
        _ => (0..n.div_ceil(per_part.max(1)))
            .into_par_iter()
            .map(|p| part(p * per_part, None))
            .collect(),
    };
    let mut it = partials.into_iter();
    let (mut gw, mut gb) = it
        .next()
        .unwrap_or_else(|| (vec![0f32; g.weight_len()], vec![0f32; g.o]));
    for (dw, db) in it {
        add_into(&mut gw, &dw);
        add_into(&mut gb, &db);
    }
    (gw, gb)
}

/// The sum of `v` in eight running sums (a single one is a chain of dependent adds, which
/// was most of a bias gradient's time): the same bits on every run.
fn sum(v: &[f32]) -> f32 {
    let mut acc = [0f32; 8];
    let mut chunks = v.chunks_exact(8);
    for c in &mut chunks {
        for (a, x) in acc.iter_mut().zip(c) {
            *a += x;
        }
    }
    let rest: f32 = chunks.remainder().iter().sum();
    acc.iter().sum::<f32>() + rest
}

/// `dst += src`, value by value.
fn add_into(dst: &mut [f32], src: &[f32]) {
    for (d, s) in dst.iter_mut().zip(src) {
        *d += s;
    }
}

/// 2-d convolution (plain or transposed) with a hand-written backward. `need_dx = false` skips
/// the input gradient (the first layer's input is data, nobody reads its gradient). `relu`
/// applies a ReLU after: the shifted-tap kernel applies it as it writes its output and masks
/// the output gradient once before its backward, which saves the ReLU's own passes (a copy,
/// the mask, the gradient), with the same values and bits as the two layers apart; other
/// convolutions run the ReLU after.
///
/// Each example is one im2col and one matrix product per group, written straight into its
/// slice of the NCHW output; examples run in parallel. The backward pass works through the
/// batch in [`PARTS`] fixed parts at once: per example, the weight gradient's product adds into
/// its part's partial sum, and the input gradient is one product and a col2im into the
/// example's own planes. The partial sums are added in order at the end.
pub fn conv2d<T: Tape<f32, Cpu> + Merge<NoneTape>>(
    x: Tensor<Img, f32, Cpu, T>,
    weight: &Tensor<Flat, f32, Cpu>,
    bias: Option<&Tensor<Flat, f32, Cpu>>,
    g: &ConvGeom,
    need_dx: bool,
    relu: bool,
) -> Result<Tensor<Img, f32, Cpu, T>, CpuError> {
    conv2d_then(x, weight, bias, g, need_dx, relu, None)
}

/// A convolution, a ReLU and the max pooling `pg`, in that order, as one op: the pooling reads
/// the convolution's output where the kernel wrote it, and its backward scatters into the
/// buffer the convolution's backward reads. The same values and bits as the three layers apart.
pub fn conv2d_relu_maxpool<T: Tape<f32, Cpu> + Merge<NoneTape>>(
    x: Tensor<Img, f32, Cpu, T>,
    weight: &Tensor<Flat, f32, Cpu>,
    bias: Option<&Tensor<Flat, f32, Cpu>>,
    g: &ConvGeom,
    need_dx: bool,
    pg: &PoolGeom,
) -> Result<Tensor<Img, f32, Cpu, T>, CpuError> {
    conv2d_then(x, weight, bias, g, need_dx, false, Some(pg))
}

/// [`conv2d`], then the ReLU and max pooling `pool` when set (see [`conv2d_relu_maxpool`]).
fn conv2d_then<T: Tape<f32, Cpu> + Merge<NoneTape>>(
    x: Tensor<Img, f32, Cpu, T>,
    weight: &Tensor<Flat, f32, Cpu>,
    bias: Option<&Tensor<Flat, f32, Cpu>>,
    g: &ConvGeom,
    need_dx: bool,
    relu: bool,
    pool: Option<&PoolGeom>,
) -> Result<Tensor<Img, f32, Cpu, T>, CpuError> {
    if shifted::applies(g) {
        return shifted::conv2d(x, weight, bias, g, need_dx, relu && pool.is_none(), pool);
    }
    if relu && pool.is_none() {
        return super::cpu_layers::relu(conv2d(x, weight, bias, g, need_dx, false)?);
    }
    if g.transposed {
        let y = conv_transpose2d(x, weight, bias, g, need_dx)?;
        return match pool {
            Some(pg) => maxpool2d(y, pg, true),
            None => Ok(y),
        };
    }
    let (dev, x, mut tape, xv) = untape(x)?;
    let g = *g;
    let (og, kdim, ohw) = (g.og(), g.cg() * g.kk(), g.ohw());
    let chw = g.c * g.h * g.w;
    let per_ex = g.groups * kdim * ohw;
    // Stored [O, cg, kk]: group gi's weights are an (og, cg*kk) matrix.
    let wm = to_vec(weight);
    let bv = bias.map(to_vec);
    let taps = Taps::new(&g);
    let direct = direct(&g);
    // Every value is written below.
    let mut out = scratch::take(g.n * g.o * ohw);
    let per_task = min_len(g.n, g.o * kdim * ohw);
    let forward = |ni: usize, dst: &mut [f32], cols: &mut [f32]| {
        let xe = &xv[ni * chw..][..chw];
        for gi in 0..g.groups {
            let c: &[f32] = if direct {
                &xe[gi * kdim * ohw..][..kdim * ohw]
            } else {
                let c = &mut cols[gi * kdim * ohw..][..kdim * ohw];
                im2col(xe, &g, gi, c, &taps);
                c
            };
            let d = &mut dst[gi * og * ohw..][..og * ohw];
            let wg = Operand::plain(&wm[gi * og * kdim..][..og * kdim]);
            gemm(d, og, ohw, kdim, wg, Operand::plain(c), false);
            if let Some(b) = &bv {
                for (j, row) in d.chunks_mut(ohw).enumerate() {
                    let bj = b[gi * og + j];
                    for v in row {
                        *v += bj;
                    }
                }
            }
        }
    };
    if g.n > 0 && g.o * ohw > 0 {
        // One example's column matrices at a time, in a task's own scratch: they stay in
        // the cache for the product, and the backward pass builds them again.
        let scratch = if direct { 0 } else { per_ex };
        out.par_chunks_mut(g.o * ohw)
            .enumerate()
            .with_min_len(per_task)
            .for_each_init(
                || Scratch::new(scratch),
                |c, (ni, d)| forward(ni, d, &mut c.0),
            );
    }
    let dims = [g.n, g.o, g.oh, g.ow];
    let (out, take_gout) = output(&dev, out, dims, pool, T::OWNS_TAPE)?;
    if T::OWNS_TAPE {
        let (xg, wg) = (x.ghost(), weight.ghost());
        let bg = bias.map(|b| b.ghost());
        tape.add_backward_op(move |grads| {
            let gout = take_gout(grads)?;
            let per_part = g.n.div_ceil(g.n.clamp(1, PARTS));
            let wlen = g.groups * og * kdim;
            // One part's examples (from `n0`): its partial weight and bias gradients, and the
            // input gradient added into `gx`, the part's own planes.
            let part = |n0: usize, mut gx: Option<&mut [f32]>| -> (Vec<f32>, Vec<f32>) {
                let mut dw = vec![0f32; wlen];
                let mut db = vec![0f32; g.o];
                let mut cols = Scratch::new(if direct { 0 } else { kdim * ohw });
                let mut dcols = Scratch::new(if need_dx && !direct { kdim * ohw } else { 0 });
                for ni in n0..(n0 + per_part).min(g.n) {
                    let goe = &gout[ni * g.o * ohw..][..g.o * ohw];
                    let xe = &xv[ni * chw..][..chw];
                    for gi in 0..g.groups {
                        let gog = &goe[gi * og * ohw..][..og * ohw];
                        for (j, row) in gog.chunks(ohw).enumerate() {
                            db[gi * og + j] += sum(row);
                        }
                        let c: &[f32] = if direct {
                            &xe[gi * kdim * ohw..][..kdim * ohw]
                        } else {
                            im2col(xe, &g, gi, &mut cols.0, &taps);
                            &cols.0
                        };
                        // dW (og x kdim) += go (og x ohw) @ cols^T.
                        let dwg = &mut dw[gi * og * kdim..][..og * kdim];
                        gemm(
                            dwg,
                            og,
                            kdim,
                            ohw,
                            Operand::plain(gog),
                            Operand::transposed(c),
                            true,
                        );
                        if let Some(gx) = gx.as_deref_mut() {
                            // dcols (kdim x ohw) = W^T @ go, then col2im.
                            let gxe = &mut gx[(ni - n0) * chw..][..chw];
                            let wt = Operand::transposed(&wm[gi * og * kdim..][..og * kdim]);
                            let gog = Operand::plain(gog);
                            if direct {
                                let d = &mut gxe[gi * kdim * ohw..][..kdim * ohw];
                                gemm(d, kdim, ohw, og, wt, gog, true);
                            } else {
                                gemm(&mut dcols.0, kdim, ohw, og, wt, gog, false);
                                col2im_add(&dcols.0, gxe, &g, gi, &taps);
                            }
                        }
                    }
                }
                (dw, db)
            };
            let gx = if need_dx {
                Some(&mut grads.get_or_alloc_mut(&xg)?[..])
            } else {
                None
            };
            let (gw, gb) = summed_parts(gx, &g, per_part, part);
            add_into(grads.get_or_alloc_mut(&wg)?, &gw);
            if let Some(bg) = bg {
                add_into(grads.get_or_alloc_mut(&bg)?, &gb);
            }
            for v in [gout, xv] {
                scratch::give(v);
            }
            Ok(())
        });
    } else {
        scratch::give(xv);
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
    let (dev, x, mut tape, xv) = untape(x)?;
    let g = *g;
    let (out, arg) = pool_planes(&xv, &g, relu, T::OWNS_TAPE);
    scratch::give(xv);
    let out_t = dev.try_tensor_from_vec(out, (g.n, g.c, g.oh, g.ow))?;
    if T::OWNS_TAPE {
        let (xg, og) = (x.ghost(), out_t.ghost());
        tape.add_backward_op(move |grads| {
            let gout: Vec<f32> = std::mem::take(&mut **grads.get_or_alloc_mut(&og)?);
            unpool(&gout, &arg, &g, grads.get_or_alloc_mut(&xg)?, false);
            scratch::give(gout);
            Ok(())
        });
    }
    Ok(out_t.put_tape(tape))
}

/// Max pooling of the planes of `xv` (`n*c` planes of `h x w`): the maxima, and with `keep_arg`
/// the position of each in `xv` (all bits set where the fused ReLU passes no gradient).
fn pool_planes(xv: &[f32], g: &PoolGeom, relu: bool, keep_arg: bool) -> (Vec<f32>, Vec<u32>) {
    let g = *g;
    let (hw, ohw) = (g.h * g.w, g.oh * g.ow);
    let mut out = scratch::take(g.n * g.c * ohw); // every value is written
    if ohw == 0 {
        return (out, Vec::new());
    }
    let unpadded = g.p == [0, 0];
    // One plane: its maxima into `o`, their positions into `a`. A `move` closure: `relu` and
    // the geometry are held by value, not reloaded through a reference at every value.
    let pool_plane = move |pi: usize, o: &mut [f32], a: &mut [u32]| {
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
                    let idx =
                        i0 + np * (1 - nq) + np * nq * (1 - nr) * g.w + np * nq * nr * (g.w + 1);
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
    };
    // Without a tape nobody reads the positions: each task writes them into a small buffer of
    // its own instead of a batch-sized one.
    let arg = if keep_arg {
        let mut arg = vec![0u32; g.n * g.c * ohw];
        out.par_chunks_mut(ohw)
            .zip(arg.par_chunks_mut(ohw))
            .enumerate()
            .with_min_len(MIN_PLANES)
            .for_each(|(pi, (o, a))| pool_plane(pi, o, a));
        arg
    } else {
        out.par_chunks_mut(ohw)
            .enumerate()
            .with_min_len(MIN_PLANES)
            .for_each_init(|| vec![0u32; ohw], |a, (pi, o)| pool_plane(pi, o, a));
        Vec::new()
    };
    (out, arg)
}

/// Max pooling's backward: adds each output gradient in `gout` to the input position
/// [`pool_planes`] recorded for it in `arg`, into `gx` (the input's gradient, `n*c` planes of
/// `h x w`); with `fresh`, each plane of `gx` is zeroed first (its old values are ignored).
fn unpool(gout: &[f32], arg: &[u32], g: &PoolGeom, gx: &mut [f32], fresh: bool) {
    let (hw, ohw) = (g.h * g.w, g.oh * g.ow);
    if hw == 0 {
        return;
    }
    // Output plane `pi` only scatters into input plane `pi`: planes are independent.
    gx.par_chunks_mut(hw)
        .enumerate()
        .with_min_len(MIN_PLANES)
        .for_each(|(pi, dst)| {
            if fresh {
                dst.fill(0.0);
            }
            let base = pi * hw;
            for k in pi * ohw..(pi + 1) * ohw {
                if arg[k] != u32::MAX {
                    dst[arg[k] as usize - base] += gout[k];
                }
            }
        });
}

/// Takes the gradient of a convolution kernel's output off the tape when its backward runs.
pub(super) type TakeGrad = Box<dyn FnOnce(&mut Gradients<f32, Cpu>) -> Result<Vec<f32>, CpuError>>;

/// A convolution kernel's output `out` (`n x o x oh x ow`) made the op's output tensor, or,
/// with `pool`, max-pooled first (with a ReLU after): the full-size output then never becomes a
/// tensor, which saves copying it out of one and dfdx's zeroed allocation of its gradient. The
/// returned function gives the backward the gradient of `out` (in the pooled case a scratch
/// buffer the pooled gradient is scattered into).
pub(super) fn output(
    dev: &Cpu,
    out: Vec<f32>,
    dims: [usize; 4],
    pool: Option<&PoolGeom>,
    owns_tape: bool,
) -> Result<(Tensor<Img, f32, Cpu>, TakeGrad), CpuError> {
    let [n, o, oh, ow] = dims;
    match pool {
        None => {
            let t = dev.try_tensor_from_vec(out, (n, o, oh, ow))?;
            let og = t.ghost();
            let take: TakeGrad =
                Box::new(move |grads| Ok(std::mem::take(&mut **grads.get_or_alloc_mut(&og)?)));
            Ok((t, take))
        }
        Some(pg) => {
            let pg = *pg;
            debug_assert_eq!((pg.n, pg.c, pg.h, pg.w), (n, o, oh, ow));
            let (pooled, arg) = pool_planes(&out, &pg, true, owns_tape);
            scratch::give(out);
            let t = dev.try_tensor_from_vec(pooled, (pg.n, pg.c, pg.oh, pg.ow))?;
            let og = t.ghost();
            let take: TakeGrad = Box::new(move |grads| {
                let gp: Vec<f32> = std::mem::take(&mut **grads.get_or_alloc_mut(&og)?);
                let mut full = scratch::take(n * o * oh * ow);
                unpool(&gp, &arg, &pg, &mut full, true);
                scratch::give(gp);
                Ok(full)
            });
            Ok((t, take))
        }
    }
}

/// A fully connected layer with a hand-written backward, so that the first layer can skip the
/// input gradient (`need_dx = false`), a third of an MLP's backward matmuls. The products write
/// into their buffers directly, blocks of rows in parallel.
pub fn linear<T: Tape<f32, Cpu> + Merge<NoneTape>>(
    x: Tensor<Mat, f32, Cpu, T>,
    weight: &Tensor<Flat, f32, Cpu>,
    bias: Option<&Tensor<Flat, f32, Cpu>>,
    out: usize,
    need_dx: bool,
) -> Result<Tensor<Mat, f32, Cpu, T>, CpuError> {
    let dev = x.device().clone();
    let (n, f) = *x.shape();
    let (x, mut tape) = x.try_reshape_like(&(n, f))?.split_tape();
    let xv = to_vec(&x);
    let wv = to_vec(weight);
    let mut y = scratch::take(n * out); // every value is written
                                        // y (n, out) = x @ W^T.
    gemm_rows(
        &mut y,
        n,
        out,
        f,
        Operand::plain(&xv),
        Operand::transposed(&wv),
        false,
    );
    if let Some(b) = bias {
        let bv = to_vec(b);
        for row in y.chunks_mut(out.max(1)) {
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
            let gy: Vec<f32> = std::mem::take(&mut **grads.get_or_alloc_mut(&yg)?);
            if let Some(bg) = bg {
                let gb = grads.get_or_alloc_mut(&bg)?;
                for row in gy.chunks(out.max(1)) {
                    for (d, s) in gb.iter_mut().zip(row) {
                        *d += s;
                    }
                }
            }
            // dW (out, f) += gy^T @ x.
            let gw = grads.get_or_alloc_mut(&wg)?;
            let gyt = Operand::transposed(&gy);
            gemm_rows(gw, out, f, n, gyt, Operand::plain(&xv), true);
            if need_dx {
                // dx (n, f) += gy @ W.
                let gx = grads.get_or_alloc_mut(&xg)?;
                gemm_rows(
                    gx,
                    n,
                    f,
                    out,
                    Operand::plain(&gy),
                    Operand::plain(&wv),
                    true,
                );
            }
            for v in [gy, xv, wv] {
                scratch::give(v);
            }
            Ok(())
        });
    } else {
        scratch::give(xv);
        scratch::give(wv);
    }
    Ok(y.put_tape(tape))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs a convolution of geometry `g` (the fast kernel, or the portable one) and returns
    /// its output and all three gradients.
    fn run(fast: bool, g: &ConvGeom) -> Vec<Vec<f32>> {
        let dev = Cpu::seed_from_u64(1);
        let x: Tensor<Img, f32, Cpu> = dev.sample_normal_like(&(g.n, g.c, g.h, g.w));
        let wt: Tensor<Flat, f32, Cpu> = dev.sample_normal_like(&(g.weight_len(),));
        let b: Tensor<Flat, f32, Cpu> = dev.sample_normal_like(&(g.o,));
        let y = if fast {
            conv2d(x.leaky_trace(), &wt, Some(&b), g, true, false).unwrap()
        } else {
            super::super::portable::conv2d(x.leaky_trace(), &wt, Some(&b), g).unwrap()
        };
        let out = y.as_vec();
        let grads = (y.square()).sum().backward();
        vec![
            out,
            grads.get(&x).as_vec(),
            grads.get(&wt).as_vec(),
            grads.get(&b).as_vec(),
        ]
    }

    /// Grouped convolutions on 13 examples, which do not divide into the backward pass's parts
    /// evenly: strided, transposed, and stride-1 same-size ones (grouped, which im2col's
    /// one-copy path computes, then two ungrouped ones, which the shifted-tap kernel computes,
    /// one of them dilated).
    fn geometries() -> Vec<ConvGeom> {
        let base = ConvGeom {
            n: 13,
            c: 4,
            h: 7,
            w: 6,
            o: 6,
            oh: 4,
            ow: 3,
            k: [3, 2],
            s: [2, 2],
            p: [1, 0],
            d: [1, 1],
            groups: 2,
            transposed: false,
        };
        let same = ConvGeom {
            oh: 7,
            ow: 6,
            k: [3, 5],
            s: [1, 1],
            p: [1, 2],
            ..base
        };
        vec![
            base,
            ConvGeom {
                oh: 13,
                ow: 11,
                k: [3, 3],
                p: [1, 1],
                transposed: true,
                ..base
            },
            same,
            ConvGeom {
                c: 8,
                groups: 1,
                ..same
            },
            ConvGeom {
                c: 8,
                o: 5,
                k: [3, 3],
                p: [2, 2],
                d: [2, 2],
                groups: 1,
                ..same
            },
        ]
    }

    /// A convolution and a ReLU, fused or as two layers: the output and the gradients of the
    /// input, weights and bias, with a loss that gives every output its own gradient.
    fn conv_relu(fused: bool, g: &ConvGeom, bias: bool) -> Vec<Vec<f32>> {
        let dev = Cpu::seed_from_u64(2);
        let x: Tensor<Img, f32, Cpu> = dev.sample_normal_like(&(g.n, g.c, g.h, g.w));
        let wt: Tensor<Flat, f32, Cpu> = dev.sample_normal_like(&(g.weight_len(),));
        let b: Tensor<Flat, f32, Cpu> = dev.sample_normal_like(&(g.o,));
        let b = bias.then_some(&b);
        let y = if fused {
            conv2d(x.leaky_trace(), &wt, b, g, true, true).unwrap()
        } else {
            super::super::cpu_layers::relu(conv2d(x.leaky_trace(), &wt, b, g, true, false).unwrap())
                .unwrap()
        };
        let out = y.as_vec();
        let k: Tensor<Img, f32, Cpu> = dev.sample_normal_like(y.shape());
        let grads = (y * k).sum().backward();
        let mut all = vec![out, grads.get(&x).as_vec(), grads.get(&wt).as_vec()];
        if let Some(b) = b {
            all.push(grads.get(b).as_vec());
        }
        all
    }

    #[test]
    fn fused_convolution_and_relu_give_the_bits_of_the_two_apart() {
        for g in geometries() {
            for bias in [true, false] {
                let fused = conv_relu(true, &g, bias);
                let apart = conv_relu(false, &g, bias);
                // About half the outputs are cut to zero, and their gradients with them.
                let zeros = fused[0].iter().filter(|&&v| v == 0.0).count();
                assert!(zeros > fused[0].len() / 4 && zeros < fused[0].len() * 3 / 4);
                for (a, b) in fused.iter().zip(&apart) {
                    let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
                    assert_eq!(bits(a), bits(b), "{g:?}");
                }
            }
        }
    }

    /// A convolution, a ReLU and max pooling `(k, s, p)`, fused or as three layers: as
    /// [`conv_relu`].
    fn conv_relu_pool(fused: bool, g: &ConvGeom, pool: [usize; 3]) -> Vec<Vec<f32>> {
        let [k, s, p] = pool;
        let pg = PoolGeom {
            n: g.n,
            c: g.o,
            h: g.oh,
            w: g.ow,
            oh: (g.oh + 2 * p - k) / s + 1,
            ow: (g.ow + 2 * p - k) / s + 1,
            k: [k, k],
            s: [s, s],
            p: [p, p],
        };
        let dev = Cpu::seed_from_u64(3);
        let x: Tensor<Img, f32, Cpu> = dev.sample_normal_like(&(g.n, g.c, g.h, g.w));
        let wt: Tensor<Flat, f32, Cpu> = dev.sample_normal_like(&(g.weight_len(),));
        let b: Tensor<Flat, f32, Cpu> = dev.sample_normal_like(&(g.o,));
        let y = if fused {
            conv2d_relu_maxpool(x.leaky_trace(), &wt, Some(&b), g, true, &pg).unwrap()
        } else {
            let y = conv2d(x.leaky_trace(), &wt, Some(&b), g, true, false).unwrap();
            maxpool2d(super::super::cpu_layers::relu(y).unwrap(), &pg, false).unwrap()
        };
        let out = y.as_vec();
        let kt: Tensor<Img, f32, Cpu> = dev.sample_normal_like(y.shape());
        let grads = (y * kt).sum().backward();
        vec![
            out,
            grads.get(&x).as_vec(),
            grads.get(&wt).as_vec(),
            grads.get(&b).as_vec(),
        ]
    }

    #[test]
    fn fused_convolution_relu_and_pooling_give_the_bits_of_the_three_apart() {
        for g in geometries() {
            for pool in [[2, 2, 0], [3, 2, 1]] {
                if g.oh < pool[0] || g.ow < pool[0] {
                    continue;
                }
                let fused = conv_relu_pool(true, &g, pool);
                let apart = conv_relu_pool(false, &g, pool);
                // Some pooled maxima are cut to zero, most are not.
                let zeros = fused[0].iter().filter(|&&v| v == 0.0).count();
                assert!(zeros < fused[0].len() / 2, "{g:?}");
                // The input gradient is not all zero: the pooling passed gradients back.
                assert!(fused[1].iter().any(|&v| v != 0.0));
                for (a, b) in fused.iter().zip(&apart) {
                    let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
                    assert_eq!(bits(a), bits(b), "{g:?} {pool:?}");
                }
            }
        }
    }

    #[test]
    fn fast_convolution_matches_the_portable_one() {
        let gs = geometries();
        assert!(gs.iter().filter(|g| shifted::applies(g)).count() == 2);
        for g in &gs {
            let fast = run(true, g);
            let portable = run(false, g);
            for (a, b) in fast.iter().zip(&portable) {
                assert_eq!(a.len(), b.len());
                for (u, v) in a.iter().zip(b) {
                    assert!((u - v).abs() <= 1e-4 * (1.0 + u.abs()), "{u} vs {v}");
                }
            }
        }
    }
}
