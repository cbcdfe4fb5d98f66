//! Convolution, pooling and upsampling from dfdx's stable primitives only, so they run on any dfdx
//! device (the CUDA build uses these). Every op is a `gather` from the flattened input with one
//! extra element appended (zero, or -inf for max pooling) that padded positions point at, followed
//! by a `matmul` or a reduction. dfdx differentiates all of it, so there is no hand-written
//! backward here: these are also the reference the fast CPU kernels are tested against.
//!
//! Index tensors are rebuilt on every call: simple, and cheap next to the arithmetic.

use dfdx::prelude::*;

use super::{BnOut, BnParams, ConvGeom, Flat, Img, Mat, PoolGeom};

/// The input flattened with one `fill` element appended at index `len`.
fn flat_with_slot<D: Device<f32>, T: Tape<f32, D> + Merge<NoneTape>>(
    x: Tensor<Img, f32, D, T>,
    fill: f32,
) -> Result<Tensor<Flat, f32, D, T>, D::Err> {
    let len = x.shape().num_elements();
    let dev = x.device().clone();
    let xf = x.try_reshape_like(&(len,))?;
    let slot = dev.try_tensor_from_vec(vec![fill], (1usize,))?;
    let out: Tensor<(usize,), f32, D, T> = (xf, slot).try_concat_along(Axis::<0>)?;
    Ok(out)
}

/// 2-d convolution (plain or transposed, any stride, padding, dilation and groups) as an
/// im2col `gather` followed by one batched `matmul` per group.
pub fn conv2d<D: Device<f32>, T: Tape<f32, D> + Merge<NoneTape>>(
    x: Tensor<Img, f32, D, T>,
    weight: &Tensor<Flat, f32, D>,
    bias: Option<&Tensor<Flat, f32, D>>,
    g: &ConvGeom,
) -> Result<Tensor<Img, f32, D, T>, D::Err> {
    let dev = x.device().clone();
    let (cg, og, kk, ohw) = (g.cg(), g.og(), g.kk(), g.ohw());
    let groups = g.groups;
    let m = g.n * ohw;
    let zero = g.n * g.c * g.h * g.w;
    // Rows are output pixels (n, oy, ox), columns kernel taps (channel-in-group, ky, kx).
    let mut idx = Vec::with_capacity(groups * m * cg * kk);
    for gi in 0..groups {
        for n in 0..g.n {
            for oy in 0..g.oh {
                for ox in 0..g.ow {
                    for cl in 0..cg {
                        let plane = (n * g.c + gi * cg + cl) * g.h * g.w;
                        for ky in 0..g.k[0] {
                            let sy = g.src_y(oy, ky);
                            for kx in 0..g.k[1] {
                                idx.push(match (sy, g.src_x(ox, kx)) {
                                    (Some(y), Some(xx)) => plane + y * g.w + xx,
                                    _ => zero,
                                });
                            }
                        }
                    }
                }
            }
        }
    }
    let idx_len = idx.len();
    let idx = dev.try_tensor_from_vec(idx, (idx_len,))?;
    let cols: Tensor<Flat, f32, D, T> = flat_with_slot(x, 0.0)?.try_gather(idx)?;
    let cols = cols.try_reshape_like(&(groups, m, cg * kk))?;
    // Weights as (groups, cg*kk, og) matrices. The transposed layout needs a copying reshape;
    // parameters carry no tape, so the tape moves onto the weight for it (otherwise the copy's
    // backward would not be recorded and the weight would get no gradient), then back.
    let (cols, wmat) = if g.transposed {
        let (cols, tape) = cols.split_tape();
        let wmat = weight
            .clone()
            .put_tape(tape)
            .try_reshape_like(&(groups, cg, og, kk))?
            .try_permute::<_, Axes4<0, 1, 3, 2>>()?
            .try_reshape_like(&(groups, cg * kk, og))?;
        let (wmat, tape) = wmat.split_tape();
        (cols.put_tape(tape), wmat)
    } else {
        let wmat = weight
            .clone()
            .try_reshape_like(&(groups, og, cg * kk))?
            .try_permute::<_, Axes3<0, 2, 1>>()?;
        (cols, wmat)
    };
    let out = cols.try_matmul(wmat)?; // (groups, n*ohw, og)
    let out = out
        .try_reshape_like(&(groups, g.n, ohw, og))?
        .try_permute::<_, Axes4<1, 0, 3, 2>>()? // (n, groups, og, ohw)
        .try_reshape_like(&(g.n, g.o, g.oh, g.ow))?;
    match bias {
        Some(b) => {
            let shape = *out.shape();
            out.try_add(b.clone().try_broadcast_like::<_, Axes3<0, 2, 3>>(&shape)?)
        }
        None => Ok(out),
    }
}

fn pool_windows<D: Device<f32>, T: Tape<f32, D> + Merge<NoneTape>>(
    x: Tensor<Img, f32, D, T>,
    g: &PoolGeom,
    fill: f32,
) -> Result<Tensor<Mat, f32, D, T>, D::Err> {
    let dev = x.device().clone();
    let kk = g.k[0] * g.k[1];
    let slot = g.n * g.c * g.h * g.w;
    let mut idx = Vec::with_capacity(g.n * g.c * g.oh * g.ow * kk);
    for plane in 0..g.n * g.c {
        for oy in 0..g.oh {
            for ox in 0..g.ow {
                for ky in 0..g.k[0] {
                    for kx in 0..g.k[1] {
                        idx.push(match g.src(oy, ox, ky, kx) {
                            Some((y, xx)) => plane * g.h * g.w + y * g.w + xx,
                            None => slot,
                        });
                    }
                }
            }
        }
    }
    let len = idx.len();
    let idx = dev.try_tensor_from_vec(idx, (len,))?;
    let win: Tensor<Flat, f32, D, T> = flat_with_slot(x, fill)?.try_gather(idx)?;
    win.try_reshape_like(&(len / kk, kk))
}

/// Max pooling; padding counts as -inf. dfdx's `max` sends the gradient to every tied maximum
/// (PyTorch picks the first); ties are rare with real data, and the CPU kernel follows PyTorch.
pub fn maxpool2d<D: Device<f32>, T: Tape<f32, D> + Merge<NoneTape>>(
    x: Tensor<Img, f32, D, T>,
    g: &PoolGeom,
) -> Result<Tensor<Img, f32, D, T>, D::Err> {
    let win = pool_windows(x, g, f32::NEG_INFINITY)?;
    let out: Tensor<Flat, f32, D, T> = win.try_max::<_, Axis<1>>()?;
    out.try_reshape_like(&(g.n, g.c, g.oh, g.ow))
}

/// Average pooling; padding counts as zeros in the average (PyTorch's `count_include_pad`).
pub fn avgpool2d<D: Device<f32>, T: Tape<f32, D> + Merge<NoneTape>>(
    x: Tensor<Img, f32, D, T>,
    g: &PoolGeom,
) -> Result<Tensor<Img, f32, D, T>, D::Err> {
    let win = pool_windows(x, g, 0.0)?;
    let out: Tensor<Flat, f32, D, T> = win.try_mean::<_, Axis<1>>()?;
    out.try_reshape_like(&(g.n, g.c, g.oh, g.ow))
}

/// Nearest-neighbour upsampling by an integer factor.
pub fn upsample_nearest<D: Device<f32>, T: Tape<f32, D> + Merge<NoneTape>>(
    x: Tensor<Img, f32, D, T>,
    scale: usize,
) -> Result<Tensor<Img, f32, D, T>, D::Err> {
    let (n, c, h, w) = *x.shape();
    let dev = x.device().clone();
    let (oh, ow) = (h * scale, w * scale);
    let mut idx = Vec::with_capacity(n * c * oh * ow);
    for plane in 0..n * c {
        for oy in 0..oh {
            for ox in 0..ow {
                idx.push(plane * h * w + (oy / scale) * w + ox / scale);
            }
        }
    }
    let len = idx.len();
    let idx = dev.try_tensor_from_vec(idx, (len,))?;
    let xf = x.try_reshape_like(&(n * c * h * w,))?;
    let out: Tensor<Flat, f32, D, T> = xf.try_gather(idx)?;
    out.try_reshape_like(&(n, c, oh, ow))
}

/// A fully connected layer, `x @ W^T + b` with PyTorch's `[out, in]` weight.
pub fn linear<D: Device<f32>, T: Tape<f32, D> + Merge<NoneTape>>(
    x: Tensor<Mat, f32, D, T>,
    weight: &Tensor<Flat, f32, D>,
    bias: Option<&Tensor<Flat, f32, D>>,
    out: usize,
) -> Result<Tensor<Mat, f32, D, T>, D::Err> {
    let (n, f) = *x.shape();
    let wt = weight
        .clone()
        .try_reshape_like(&(out, f))?
        .try_permute::<_, Axes2<1, 0>>()?;
    let y = x.try_matmul(wt)?;
    match bias {
        Some(b) => y.try_add(b.clone().try_broadcast_like::<_, Axis<0>>(&(n, out))?),
        None => Ok(y),
    }
}

/// Batch norm over the axes `Ax` (batch and pixels for images, batch for vectors), then the
/// scale and shift, then a ReLU when `p.relu`: in training mode with the batch's statistics
/// (returned for the running update), in evaluation mode with the running ones.
pub fn batchnorm<S, Ax, D, T>(
    x: Tensor<S, f32, D, T>,
    p: &BnParams<'_, D>,
) -> Result<BnOut<S, D, T>, D::Err>
where
    S: Shape + ReduceShape<Ax> + ReduceShapeTo<Flat, Ax> + HasAxes<Ax>,
    Flat: BroadcastShapeTo<S, Ax>,
    Ax: Axes,
    D: Device<f32>,
    T: Tape<f32, D> + Merge<NoneTape>,
{
    let shape = *x.shape();
    let (normed, stats) = match p.running {
        None => {
            let s = x.retaped::<NoneTape>();
            let mean: Tensor<Flat, f32, D> = s.clone().try_mean::<Flat, Ax>()?;
            let var: Tensor<Flat, f32, D> = s.try_var::<Flat, Ax>()?;
            (x.try_normalize::<Ax>(p.eps)?, Some((mean, var)))
        }
        Some((mean, var)) => {
            let inv = (var.clone() + p.eps as f32).try_sqrt()?.try_recip()?;
            let normed = x
                .try_sub(mean.clone().try_broadcast_like::<_, Ax>(&shape)?)?
                .try_mul(inv.try_broadcast_like::<_, Ax>(&shape)?)?;
            (normed, None)
        }
    };
    let g = p.gamma.clone().try_broadcast_like::<_, Ax>(&shape)?;
    let b = p.beta.clone().try_broadcast_like::<_, Ax>(&shape)?;
    let y = normed.try_mul(g)?.try_add(b)?;
    Ok((if p.relu { y.try_relu()? } else { y }, stats))
}
