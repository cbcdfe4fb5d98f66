//! The device a network runs on, and which kernels it gets there: the CPU uses the fast custom
//! kernels of [`super::ops::cpu`]; any other dfdx device (CUDA) the portable ones of
//! [`super::ops::portable`]. The choice is made at compile time by `dfdx::tensor::AutoDevice`.
//! The layers between convolutions (batch norm, ReLU, add) and the losses' softmax get [`super::ops::cpu_layers`] on the
//! CPU and dfdx's own ops elsewhere.

use dfdx::prelude::*;

use super::ops::{cpu, cpu_layers, portable, BnOut, BnParams, ConvGeom, Flat, Img, Mat, PoolGeom};

/// The device type lessons use: the CPU, or CUDA when built with the `cuda` feature.
pub type AutoDevice = dfdx::tensor::AutoDevice;

/// One parameter's optimizer step: the parameter, its learning rate, its gradient and its
/// moment buffers (the second only for Adam).
pub(crate) struct ParamJob<'a, D: Backend> {
    pub(crate) t: &'a mut Tensor<Flat, f32, D>,
    pub(crate) lr: f64,
    pub(crate) g: &'a <D as Storage<f32>>::Vec,
    pub(crate) m1: &'a mut <D as Storage<f32>>::Vec,
    pub(crate) m2: Option<&'a mut <D as Storage<f32>>::Vec>,
}

/// An optimizer step of one parameter.
pub(crate) type ParamStep<'s, D> =
    dyn for<'a, 'b> Fn(&'b mut ParamJob<'a, D>) -> Result<(), <D as HasErr>::Err> + Sync + 's;

/// A dfdx device the networks can run on, with its choice of convolution and pooling kernels.
pub trait Backend: Device<f32> + Clone + 'static {
    /// Whether [`Backend::each_param`] runs steps side by side (then the optimizer takes every
    /// parameter's buffers out of their maps at once for it).
    const PARALLEL_STEPS: bool = false;

    /// Runs `step` on every job, one after another unless the device runs them side by side.
    #[doc(hidden)]
    #[allow(private_interfaces)]
    fn each_param(
        jobs: &mut [ParamJob<'_, Self>],
        step: &ParamStep<'_, Self>,
    ) -> Result<(), Self::Err> {
        jobs.iter_mut().try_for_each(step)
    }

    /// A device whose random numbers (dropout) start from `seed`.
    fn seeded(seed: u64) -> Self;

    /// 2-d convolution; see [`portable::conv2d`]. `need_dx` may skip the input gradient;
    /// `relu` applies a ReLU after (one kernel where the device has one).
    fn conv2d<T: Tape<f32, Self> + Merge<NoneTape>>(
        x: Tensor<Img, f32, Self, T>,
        weight: &Tensor<Flat, f32, Self>,
        bias: Option<&Tensor<Flat, f32, Self>>,
        g: &ConvGeom,
        need_dx: bool,
        relu: bool,
    ) -> Result<Tensor<Img, f32, Self, T>, Self::Err> {
        let _ = need_dx;
        let y = portable::conv2d(x, weight, bias, g)?;
        if relu {
            Self::relu(y)
        } else {
            Ok(y)
        }
    }

    /// A convolution (as [`Backend::conv2d`]), a ReLU and the max pooling `pg`, in that order;
    /// one kernel where the device has one.
    fn conv2d_relu_maxpool<T: Tape<f32, Self> + Merge<NoneTape>>(
        x: Tensor<Img, f32, Self, T>,
        weight: &Tensor<Flat, f32, Self>,
        bias: Option<&Tensor<Flat, f32, Self>>,
        g: &ConvGeom,
        need_dx: bool,
        pg: &PoolGeom,
    ) -> Result<Tensor<Img, f32, Self, T>, Self::Err> {
        let y = Self::conv2d(x, weight, bias, g, need_dx, false)?;
        Self::maxpool2d(y, pg, true)
    }

    /// A fully connected layer; `need_dx` may skip the input gradient.
    fn linear<T: Tape<f32, Self> + Merge<NoneTape>>(
        x: Tensor<Mat, f32, Self, T>,
        weight: &Tensor<Flat, f32, Self>,
        bias: Option<&Tensor<Flat, f32, Self>>,
        out: usize,
        need_dx: bool,
    ) -> Result<Tensor<Mat, f32, Self, T>, Self::Err> {
        let _ = need_dx;
        portable::linear(x, weight, bias, out)
    }

    /// Max pooling, followed by a ReLU when `relu` is set.
    fn maxpool2d<T: Tape<f32, Self> + Merge<NoneTape>>(
        x: Tensor<Img, f32, Self, T>,
        g: &PoolGeom,
        relu: bool,
    ) -> Result<Tensor<Img, f32, Self, T>, Self::Err> {
        let out = portable::maxpool2d(x, g)?;
        if relu {
            out.try_relu()
        } else {
            Ok(out)
        }
    }

    /// Batch norm over `[N, C, H, W]` per channel (see [`portable::batchnorm`]); `need_dx` may
    /// skip the input gradient.
    fn batchnorm2d<T: Tape<f32, Self> + Merge<NoneTape>>(
        x: Tensor<Img, f32, Self, T>,
        p: &BnParams<'_, Self>,
        need_dx: bool,
    ) -> Result<BnOut<Img, Self, T>, Self::Err> {
        let _ = need_dx;
        portable::batchnorm::<_, Axes3<0, 2, 3>, _, _>(x, p)
    }

    /// Batch norm over `[N, F]` per feature; `need_dx` may skip the input gradient.
    fn batchnorm1d<T: Tape<f32, Self> + Merge<NoneTape>>(
        x: Tensor<Mat, f32, Self, T>,
        p: &BnParams<'_, Self>,
        need_dx: bool,
    ) -> Result<BnOut<Mat, Self, T>, Self::Err> {
        let _ = need_dx;
        portable::batchnorm::<_, Axis<0>, _, _>(x, p)
    }

    /// ReLU.
    fn relu<S: Shape, T: Tape<f32, Self> + Merge<NoneTape>>(
        x: Tensor<S, f32, Self, T>,
    ) -> Result<Tensor<S, f32, Self, T>, Self::Err> {
        x.try_relu()
    }

    /// The logistic sigmoid.
    fn sigmoid<S: Shape, T: Tape<f32, Self> + Merge<NoneTape>>(
        x: Tensor<S, f32, Self, T>,
    ) -> Result<Tensor<S, f32, Self, T>, Self::Err> {
        x.try_sigmoid()
    }

    /// `a + b`, same shapes (a residual join).
    fn add<S: Shape, T: Tape<f32, Self> + Merge<NoneTape>>(
        a: Tensor<S, f32, Self, T>,
        b: Tensor<S, f32, Self, T>,
    ) -> Result<Tensor<S, f32, Self, T>, Self::Err> {
        a.try_add(b)
    }

    /// `map[n, c, h, w] * gate[n, c]` (a squeeze-and-excitation block's rescaling).
    fn scale_channels<T: Tape<f32, Self> + Merge<NoneTape>>(
        gate: Tensor<Mat, f32, Self, T>,
        map: Tensor<Img, f32, Self, T>,
    ) -> Result<Tensor<Img, f32, Self, T>, Self::Err> {
        let shape = *map.shape();
        gate.try_broadcast_like::<_, Axes2<2, 3>>(&shape)?
            .try_mul(map)
    }

    /// Log-softmax over each row (the cross-entropy's).
    fn log_softmax<T: Tape<f32, Self> + Merge<NoneTape>>(
        x: Tensor<Mat, f32, Self, T>,
    ) -> Result<Tensor<Mat, f32, Self, T>, Self::Err> {
        x.try_log_softmax::<Axis<1>>()
    }

    /// Softmax over each row (the Dice loss's).
    fn softmax<T: Tape<f32, Self> + Merge<NoneTape>>(
        x: Tensor<Mat, f32, Self, T>,
    ) -> Result<Tensor<Mat, f32, Self, T>, Self::Err> {
        x.try_softmax::<Axis<1>>()
    }

    /// Inverted dropout in training: each value zeroed with probability `p`, the rest scaled
    /// by `1 / (1 - p)`.
    fn dropout<S: Shape, T: Tape<f32, Self> + Merge<NoneTape>>(
        x: Tensor<S, f32, Self, T>,
        p: f64,
    ) -> Result<Tensor<S, f32, Self, T>, Self::Err> {
        x.try_dropout(p)
    }

    /// `x^e` per value (the focal loss's modulating factor).
    fn powf<S: Shape, T: Tape<f32, Self> + Merge<NoneTape>>(
        x: Tensor<S, f32, Self, T>,
        e: f32,
    ) -> Result<Tensor<S, f32, Self, T>, Self::Err> {
        x.try_powf(e)
    }

    /// `sum(x * w)` over every value, `w` a constant of `x`'s size (a loss's weighted total).
    fn weighted_sum<S: Shape, T: Tape<f32, Self> + Merge<NoneTape>>(
        x: Tensor<S, f32, Self, T>,
        w: Vec<f32>,
    ) -> Result<Tensor<Rank0, f32, Self, T>, Self::Err> {
        let shape = *x.shape();
        let w = x.device().try_tensor_from_vec(w, shape)?;
        x.try_mul(w)?.try_sum()
    }

    /// The mean squared error of predictions against constant targets, as dfdx's `mse_loss`.
    fn mse_mean<T: Tape<f32, Self> + Merge<NoneTape>>(
        p: Tensor<Flat, f32, Self, T>,
        targets: &[f32],
    ) -> Result<Tensor<Rank0, f32, Self, T>, Self::Err> {
        let t = p
            .device()
            .try_tensor_from_vec(targets.to_vec(), (targets.len(),))?;
        Ok(dfdx::losses::mse_loss(p, t))
    }

    /// Per column, `sum over rows of x * w`, `w` a constant of `x`'s size (the Dice loss's).
    fn weighted_col_sums<T: Tape<f32, Self> + Merge<NoneTape>>(
        x: Tensor<Mat, f32, Self, T>,
        w: Vec<f32>,
    ) -> Result<Tensor<Flat, f32, Self, T>, Self::Err> {
        let shape = *x.shape();
        let w = x.device().try_tensor_from_vec(w, shape)?;
        x.try_mul(w)?.try_sum::<_, Axis<0>>()
    }

    /// The mean of every plane, `(n, c, h, w) -> (n, c)` (global average pooling).
    fn plane_means<T: Tape<f32, Self> + Merge<NoneTape>>(
        x: Tensor<Img, f32, Self, T>,
    ) -> Result<Tensor<Mat, f32, Self, T>, Self::Err> {
        let (n, c, h, w) = *x.shape();
        x.try_reshape_like(&(n, c, h * w))?.try_mean::<_, Axis<2>>()
    }

    /// An image batch `(n, k, h, w)` as one row of `k` scores per pixel, `(n * h * w, k)`.
    fn pixel_rows<T: Tape<f32, Self> + Merge<NoneTape>>(
        x: Tensor<Img, f32, Self, T>,
    ) -> Result<Tensor<Mat, f32, Self, T>, Self::Err> {
        let (n, k, h, w) = *x.shape();
        x.try_permute::<_, Axes4<0, 2, 3, 1>>()?
            .try_reshape_like(&(n * h * w, k))
    }

    /// Nearest-neighbour upsampling by an integer factor.
    fn upsample_nearest<T: Tape<f32, Self> + Merge<NoneTape>>(
        x: Tensor<Img, f32, Self, T>,
        scale: usize,
    ) -> Result<Tensor<Img, f32, Self, T>, Self::Err> {
        portable::upsample_nearest(x, scale)
    }

    /// Two image batches joined along the channels (`a`'s first).
    fn concat_channels<T: Tape<f32, Self> + Merge<NoneTape>>(
        a: Tensor<Img, f32, Self, T>,
        b: Tensor<Img, f32, Self, T>,
    ) -> Result<Tensor<Img, f32, Self, T>, Self::Err> {
        (a, b).try_concat_along(Axis::<1>)
    }

    /// Binary cross-entropy of each logit against its target probability (one per logit).
    fn bce_with_logits<T: Tape<f32, Self> + Merge<NoneTape>>(
        x: Tensor<Flat, f32, Self, T>,
        targets: &[f32],
    ) -> Result<Tensor<Flat, f32, Self, T>, Self::Err> {
        let t = x
            .device()
            .try_tensor_from_vec(targets.to_vec(), (targets.len(),))?;
        x.try_bce_with_logits(t)
    }
}

impl Backend for Cpu {
    fn seeded(seed: u64) -> Self {
        Cpu::seed_from_u64(seed)
    }

    const PARALLEL_STEPS: bool = true;

    /// Parameters side by side on rayon's pool, the largest first, each its own task (each is
    /// still dfdx's own kernel on one core, so the values are the same bits as in order).
    #[allow(private_interfaces)]
    fn each_param(
        jobs: &mut [ParamJob<'_, Self>],
        step: &ParamStep<'_, Self>,
    ) -> Result<(), Self::Err> {
        use rayon::prelude::*;
        // Below this many values in all, waking the second thread costs more than it saves
        // (lesson 5's linear autoencoder: 0.03 ms in order, 0.06 side by side).
        const MIN_VALUES: usize = 1 << 16;
        if jobs.iter().map(|j| j.g.len()).sum::<usize>() < MIN_VALUES {
            return jobs.iter_mut().try_for_each(step);
        }
        jobs.sort_by_key(|j| std::cmp::Reverse(j.g.len()));
        // One task per parameter: rayon's halving would put the small ones together.
        jobs.par_iter_mut().with_max_len(1).try_for_each(step)
    }

    fn conv2d<T: Tape<f32, Self> + Merge<NoneTape>>(
        x: Tensor<Img, f32, Self, T>,
        weight: &Tensor<Flat, f32, Self>,
        bias: Option<&Tensor<Flat, f32, Self>>,
        g: &ConvGeom,
        need_dx: bool,
        relu: bool,
    ) -> Result<Tensor<Img, f32, Self, T>, Self::Err> {
        cpu::conv2d(x, weight, bias, g, need_dx, relu)
    }

    fn conv2d_relu_maxpool<T: Tape<f32, Self> + Merge<NoneTape>>(
        x: Tensor<Img, f32, Self, T>,
        weight: &Tensor<Flat, f32, Self>,
        bias: Option<&Tensor<Flat, f32, Self>>,
        g: &ConvGeom,
        need_dx: bool,
        pg: &PoolGeom,
    ) -> Result<Tensor<Img, f32, Self, T>, Self::Err> {
        cpu::conv2d_relu_maxpool(x, weight, bias, g, need_dx, pg)
    }

    fn linear<T: Tape<f32, Self> + Merge<NoneTape>>(
        x: Tensor<Mat, f32, Self, T>,
        weight: &Tensor<Flat, f32, Self>,
        bias: Option<&Tensor<Flat, f32, Self>>,
        out: usize,
        need_dx: bool,
    ) -> Result<Tensor<Mat, f32, Self, T>, Self::Err> {
        cpu::linear(x, weight, bias, out, need_dx)
    }

    fn maxpool2d<T: Tape<f32, Self> + Merge<NoneTape>>(
        x: Tensor<Img, f32, Self, T>,
        g: &PoolGeom,
        relu: bool,
    ) -> Result<Tensor<Img, f32, Self, T>, Self::Err> {
        cpu::maxpool2d(x, g, relu)
    }

    fn batchnorm2d<T: Tape<f32, Self> + Merge<NoneTape>>(
        x: Tensor<Img, f32, Self, T>,
        p: &BnParams<'_, Self>,
        need_dx: bool,
    ) -> Result<BnOut<Img, Self, T>, Self::Err> {
        cpu_layers::batchnorm2d(x, p, need_dx)
    }

    fn batchnorm1d<T: Tape<f32, Self> + Merge<NoneTape>>(
        x: Tensor<Mat, f32, Self, T>,
        p: &BnParams<'_, Self>,
        need_dx: bool,
    ) -> Result<BnOut<Mat, Self, T>, Self::Err> {
        cpu_layers::batchnorm1d(x, p, need_dx)
    }

    fn relu<S: Shape, T: Tape<f32, Self> + Merge<NoneTape>>(
        x: Tensor<S, f32, Self, T>,
    ) -> Result<Tensor<S, f32, Self, T>, Self::Err> {
        cpu_layers::relu(x)
    }

    fn add<S: Shape, T: Tape<f32, Self> + Merge<NoneTape>>(
        a: Tensor<S, f32, Self, T>,
        b: Tensor<S, f32, Self, T>,
    ) -> Result<Tensor<S, f32, Self, T>, Self::Err> {
        cpu_layers::add(a, b)
    }

    fn scale_channels<T: Tape<f32, Self> + Merge<NoneTape>>(
        gate: Tensor<Mat, f32, Self, T>,
        map: Tensor<Img, f32, Self, T>,
    ) -> Result<Tensor<Img, f32, Self, T>, Self::Err> {
        cpu_layers::scale_channels(gate, map)
    }

    fn sigmoid<S: Shape, T: Tape<f32, Self> + Merge<NoneTape>>(
        x: Tensor<S, f32, Self, T>,
    ) -> Result<Tensor<S, f32, Self, T>, Self::Err> {
        cpu_layers::sigmoid(x)
    }

    fn log_softmax<T: Tape<f32, Self> + Merge<NoneTape>>(
        x: Tensor<Mat, f32, Self, T>,
    ) -> Result<Tensor<Mat, f32, Self, T>, Self::Err> {
        cpu_layers::log_softmax(x)
    }

    fn softmax<T: Tape<f32, Self> + Merge<NoneTape>>(
        x: Tensor<Mat, f32, Self, T>,
    ) -> Result<Tensor<Mat, f32, Self, T>, Self::Err> {
        cpu_layers::softmax(x)
    }

    fn bce_with_logits<T: Tape<f32, Self> + Merge<NoneTape>>(
        x: Tensor<Flat, f32, Self, T>,
        targets: &[f32],
    ) -> Result<Tensor<Flat, f32, Self, T>, Self::Err> {
        cpu_layers::bce_with_logits(x, targets)
    }

    fn powf<S: Shape, T: Tape<f32, Self> + Merge<NoneTape>>(
        x: Tensor<S, f32, Self, T>,
        e: f32,
    ) -> Result<Tensor<S, f32, Self, T>, Self::Err> {
        cpu_layers::powf(x, e)
    }

    fn dropout<S: Shape, T: Tape<f32, Self> + Merge<NoneTape>>(
        x: Tensor<S, f32, Self, T>,
        p: f64,
    ) -> Result<Tensor<S, f32, Self, T>, Self::Err> {
        cpu_layers::dropout(x, p)
    }

    fn concat_channels<T: Tape<f32, Self> + Merge<NoneTape>>(
        a: Tensor<Img, f32, Self, T>,
        b: Tensor<Img, f32, Self, T>,
    ) -> Result<Tensor<Img, f32, Self, T>, Self::Err> {
        cpu_layers::concat_channels(a, b)
    }

    fn upsample_nearest<T: Tape<f32, Self> + Merge<NoneTape>>(
        x: Tensor<Img, f32, Self, T>,
        scale: usize,
    ) -> Result<Tensor<Img, f32, Self, T>, Self::Err> {
        cpu_layers::upsample_nearest(x, scale)
    }

    fn weighted_sum<S: Shape, T: Tape<f32, Self> + Merge<NoneTape>>(
        x: Tensor<S, f32, Self, T>,
        w: Vec<f32>,
    ) -> Result<Tensor<Rank0, f32, Self, T>, Self::Err> {
        cpu_layers::weighted_sum(x, w)
    }

    fn weighted_col_sums<T: Tape<f32, Self> + Merge<NoneTape>>(
        x: Tensor<Mat, f32, Self, T>,
        w: Vec<f32>,
    ) -> Result<Tensor<Flat, f32, Self, T>, Self::Err> {
        cpu_layers::weighted_col_sums(x, w)
    }

    fn mse_mean<T: Tape<f32, Self> + Merge<NoneTape>>(
        p: Tensor<Flat, f32, Self, T>,
        targets: &[f32],
    ) -> Result<Tensor<Rank0, f32, Self, T>, Self::Err> {
        cpu_layers::mse_mean(p, targets)
    }

    fn pixel_rows<T: Tape<f32, Self> + Merge<NoneTape>>(
        x: Tensor<Img, f32, Self, T>,
    ) -> Result<Tensor<Mat, f32, Self, T>, Self::Err> {
        cpu_layers::pixel_rows(x)
    }

    fn plane_means<T: Tape<f32, Self> + Merge<NoneTape>>(
        x: Tensor<Img, f32, Self, T>,
    ) -> Result<Tensor<Mat, f32, Self, T>, Self::Err> {
        cpu_layers::plane_means(x)
    }
}

#[cfg(feature = "cuda")]
impl Backend for Cuda {
    fn seeded(seed: u64) -> Self {
        Cuda::seed_from_u64(seed)
    }
}
