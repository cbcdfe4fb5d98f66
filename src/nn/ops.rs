//! The tensor operations dfdx 0.13 lacks on stable Rust (convolution, pooling, nearest upsampling),
//! written twice: [`portable`] from dfdx's stable primitives (gather + matmul, so they run on any
//! dfdx device including CUDA) and [`cpu`] as custom operations with hand-written backward passes
//! that use both cores. The geometry shared by both lives here, as plain index arithmetic.
//! The layers between convolutions (batch norm, ReLU, the residual add) have fast CPU versions
//! too, in [`cpu_layers`].

pub mod cpu;
pub mod cpu_layers;
pub mod gemm;
pub mod portable;
pub mod scratch;

use dfdx::prelude::{Device, Tensor};

/// Activation shapes: `[batch, channels, height, width]` and `[batch, features]`.
pub(crate) type Img = (usize, usize, usize, usize);
/// A flat tensor: how parameters and buffers are stored.
pub(crate) type Flat = (usize,);
/// A matrix.
pub(crate) type Mat = (usize, usize);

/// What a batch-norm layer needs besides its input.
pub struct BnParams<'a, D: Device<f32>> {
    /// Per-channel scale (PyTorch's `weight`).
    pub gamma: &'a Tensor<Flat, f32, D>,
    /// Per-channel shift (`bias`).
    pub beta: &'a Tensor<Flat, f32, D>,
    /// Running mean and variance to normalize with (evaluation mode); `None` normalizes with
    /// the batch's own statistics (training mode).
    pub running: Option<(&'a FlatT<D>, &'a FlatT<D>)>,
    /// Added to the variance under the square root.
    pub eps: f64,
    /// A ReLU follows (fused by the CPU kernel).
    pub relu: bool,
}

/// A flat tensor without a tape (parameters, buffers, statistics).
pub(crate) type FlatT<D> = Tensor<Flat, f32, D>;

/// In training mode, the batch's per-channel mean and biased variance, from which the caller
/// updates the running statistics; `None` in evaluation mode.
pub type BatchStats<D> = Option<(FlatT<D>, FlatT<D>)>;

/// A batch norm's output and its [`BatchStats`].
pub type BnOut<S, D, T> = (Tensor<S, f32, D, T>, BatchStats<D>);

/// The geometry of a (transposed) 2-d convolution over a whole batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvGeom {
    /// Batch size.
    pub n: usize,
    /// Input channels.
    pub c: usize,
    /// Input height.
    pub h: usize,
    /// Input width.
    pub w: usize,
    /// Output channels.
    pub o: usize,
    /// Output height.
    pub oh: usize,
    /// Output width.
    pub ow: usize,
    /// Kernel `[height, width]`.
    pub k: [usize; 2],
    /// Stride.
    pub s: [usize; 2],
    /// Padding.
    pub p: [usize; 2],
    /// Dilation.
    pub d: [usize; 2],
    /// Channel groups.
    pub groups: usize,
    /// Transposed convolution (weight `[C, O/groups, kh, kw]`) instead of plain (`[O, C/groups, kh, kw]`).
    pub transposed: bool,
}

impl ConvGeom {
    /// Input channels per group.
    pub fn cg(&self) -> usize {
        self.c / self.groups
    }
    /// Output channels per group.
    pub fn og(&self) -> usize {
        self.o / self.groups
    }
    /// Kernel taps.
    pub fn kk(&self) -> usize {
        self.k[0] * self.k[1]
    }
    /// Output pixels per example.
    pub fn ohw(&self) -> usize {
        self.oh * self.ow
    }
    /// Number of weights.
    pub fn weight_len(&self) -> usize {
        self.o * self.cg() * self.kk()
    }

    /// The input row feeding output row `oy` through kernel row `ky`, if any (zero padding
    /// otherwise). A transposed convolution scatters input `i` to output `i*s - p + k*d`, so
    /// gathering inverts that.
    #[inline]
    pub fn src_y(&self, oy: usize, ky: usize) -> Option<usize> {
        src(
            oy,
            ky,
            self.s[0],
            self.p[0],
            self.d[0],
            self.h,
            self.transposed,
        )
    }
    /// As [`ConvGeom::src_y`] for columns.
    #[inline]
    pub fn src_x(&self, ox: usize, kx: usize) -> Option<usize> {
        src(
            ox,
            kx,
            self.s[1],
            self.p[1],
            self.d[1],
            self.w,
            self.transposed,
        )
    }
}

#[inline]
fn src(
    o: usize,
    k: usize,
    s: usize,
    p: usize,
    d: usize,
    size: usize,
    transposed: bool,
) -> Option<usize> {
    if transposed {
        let t = (o + p).checked_sub(k * d)?;
        if t % s != 0 {
            return None;
        }
        let i = t / s;
        (i < size).then_some(i)
    } else {
        let i = (o * s + k * d).checked_sub(p)?;
        (i < size).then_some(i)
    }
}

/// The geometry of a pooling window over a whole batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolGeom {
    /// Batch size.
    pub n: usize,
    /// Channels.
    pub c: usize,
    /// Input height.
    pub h: usize,
    /// Input width.
    pub w: usize,
    /// Output height.
    pub oh: usize,
    /// Output width.
    pub ow: usize,
    /// Window.
    pub k: [usize; 2],
    /// Stride.
    pub s: [usize; 2],
    /// Padding.
    pub p: [usize; 2],
}

impl PoolGeom {
    /// The input position under window tap `(ky, kx)` of output `(oy, ox)`, or `None` in the
    /// padding.
    #[inline]
    pub fn src(&self, oy: usize, ox: usize, ky: usize, kx: usize) -> Option<(usize, usize)> {
        let y = (oy * self.s[0] + ky).checked_sub(self.p[0])?;
        let x = (ox * self.s[1] + kx).checked_sub(self.p[1])?;
        (y < self.h && x < self.w).then_some((y, x))
    }
}
