//! The forward pass: each layer applied in turn on the device's kernels, skip tensors kept
//! for `concat`/`add`/`branch`, named outputs collected, batch-norm statistics updated in
//! training mode.

use std::collections::HashMap;

use dfdx::prelude::*;

use super::{dev_err, Act, Heads, Network, NnError, Op};
use crate::nn::backend::Backend;
use crate::nn::ops::{portable, BnParams, ConvGeom, Flat, Img, PoolGeom};
use crate::nn::shape::{conv2d_out, conv_transpose2d_out, pool2d_out};
use crate::nn::spec::{ConvSpec, PoolSpec, DEFAULT_OUTPUT};

type FlatT<D> = Tensor<Flat, f32, D>;

/// What runs after a convolution in the same op.
#[derive(Debug, Clone, PartialEq)]
enum After {
    Nothing,
    Relu,
    /// A ReLU, then this max pooling.
    ReluMaxPool(PoolSpec),
}

impl<D: Backend> Network<D> {
    /// The forward pass over all layers: every named output (head) in order, or the last
    /// activation as the one output [`DEFAULT_OUTPUT`] when the network names none.
    pub(super) fn run<T: Tape<f32, D> + Merge<NoneTape>>(
        &mut self,
        x: Act<D, T>,
        need_input_grad: bool,
    ) -> Result<Heads<D, T>, NnError> {
        let mut saved: HashMap<String, Act<D, T>> = HashMap::new();
        let mut outputs: Heads<D, T> = Vec::new();
        let mut x = x;
        let mut i = 0;
        // Until the first layer with parameters, activations depend on the data alone and
        // nobody needs their gradient (unless asked for): those layers skip computing it.
        let mut data_only = !need_input_grad;
        while i < self.ops.len() {
            let op = self.ops[i].clone();
            let train = self.train && !self.eval_layers[i];
            let skip_dx = data_only;
            data_only &= !matches!(
                op,
                Op::Conv { .. } | Op::Linear { .. } | Op::BatchNorm { .. }
            );
            // relu followed by max pooling runs as one fused CPU kernel (ReLU commutes with max).
            let fuse = !self.portable
                && matches!(op, Op::Relu)
                && matches!(self.ops.get(i + 1), Some(Op::MaxPool(_)));
            // So does batch norm followed by relu (unless the relu goes to a max pooling).
            let fuse_bn = !self.portable
                && matches!(op, Op::BatchNorm { .. })
                && matches!(self.ops.get(i + 1), Some(Op::Relu))
                && !matches!(self.ops.get(i + 2), Some(Op::MaxPool(_)));
            // A convolution, a relu and a max pooling run as one op: the convolution's
            // full-size output never becomes a tensor.
            let plain_conv = matches!(
                op,
                Op::Conv {
                    transposed: false,
                    ..
                }
            );
            let fuse_conv_pool = !self.portable
                && plain_conv
                && matches!(self.ops.get(i + 1), Some(Op::Relu))
                && matches!(self.ops.get(i + 2), Some(Op::MaxPool(_)));
            // So does a convolution followed by relu (unless the relu goes to a max pooling).
            let fuse_conv = !self.portable
                && plain_conv
                && matches!(self.ops.get(i + 1), Some(Op::Relu))
                && !matches!(self.ops.get(i + 2), Some(Op::MaxPool(_)));
            x = if let Op::Output(name) = &op {
                // The head keeps the tape; what follows (a branch) starts from an empty one,
                // and the tapes meet again when the loss terms are added up.
                let rest = x.with_empty_tape();
                outputs.push((name.clone(), x));
                rest
            } else if fuse_conv_pool {
                let Op::MaxPool(p) = self.ops[i + 2].clone() else {
                    unreachable!()
                };
                i += 2;
                self.conv(&op, x, After::ReluMaxPool(p), skip_dx)?
            } else if fuse {
                let Op::MaxPool(p) = self.ops[i + 1].clone() else {
                    unreachable!()
                };
                i += 1;
                let t = img(x, "maxpool2d")?;
                let g = pool_geom(&t, &p)?;
                Act::I(D::maxpool2d(t, &g, true).map_err(dev_err)?)
            } else if fuse_bn {
                i += 1;
                self.batchnorm(&op, x, train, true, skip_dx)?
            } else if fuse_conv {
                i += 1;
                self.conv(&op, x, After::Relu, skip_dx)?
            } else {
                self.apply(&op, x, train, skip_dx, &mut saved)?
            };
            i += 1;
        }
        if outputs.is_empty() {
            outputs.push((DEFAULT_OUTPUT.to_string(), x));
        }
        Ok(outputs)
    }

    pub(super) fn apply<T: Tape<f32, D> + Merge<NoneTape>>(
        &mut self,
        op: &Op,
        x: Act<D, T>,
        train: bool,
        skip_dx: bool,
        saved: &mut HashMap<String, Act<D, T>>,
    ) -> Result<Act<D, T>, NnError> {
        let e = dev_err;
        Ok(match op {
            Op::Conv { .. } => self.conv(op, x, After::Nothing, skip_dx)?,
            Op::MaxPool(p) => {
                let t = img(x, "maxpool2d")?;
                let g = pool_geom(&t, p)?;
                Act::I(if self.portable {
                    portable::maxpool2d(t, &g).map_err(e)?
                } else {
                    D::maxpool2d(t, &g, false).map_err(e)?
                })
            }
            Op::AvgPool(p) => {
                let t = img(x, "avgpool2d")?;
                let g = pool_geom(&t, p)?;
                Act::I(portable::avgpool2d(t, &g).map_err(e)?)
            }
            Op::GlobalAvgPool => Act::V(D::plane_means(img(x, "global_avgpool")?).map_err(e)?),
            Op::Upsample(s) => Act::I(D::upsample_nearest(img(x, "upsample")?, *s).map_err(e)?),
            Op::BatchNorm { .. } => self.batchnorm(op, x, train, false, skip_dx)?,
            Op::Dropout(p) => {
                if !train || *p == 0.0 {
                    x
                } else {
                    match x {
                        Act::I(t) => Act::I(D::dropout(t, *p).map_err(e)?),
                        Act::V(t) => Act::V(D::dropout(t, *p).map_err(e)?),
                    }
                }
            }
            Op::Flatten => match x {
                Act::I(t) => {
                    let (n, c, h, w) = *t.shape();
                    Act::V(t.try_reshape_like(&(n, c * h * w)).map_err(e)?)
                }
                v => v,
            },
            Op::Linear { out, w, b } => {
                let Act::V(t) = x else {
                    return Err(NnError::Shape("linear needs a flat input".into()));
                };
                let weight = &self.params[*w].t;
                let bias = b.map(|b| &self.params[b].t);
                Act::V(if self.portable {
                    portable::linear(t, weight, bias, *out).map_err(e)?
                } else {
                    D::linear(t, weight, bias, *out, !skip_dx).map_err(e)?
                })
            }
            Op::Relu if !self.portable => map_act(x, D::relu, D::relu)?,
            Op::Relu => map_act(x, |t| t.try_relu(), |t| t.try_relu())?,
            Op::Sigmoid if !self.portable => map_act(x, D::sigmoid, D::sigmoid)?,
            Op::Sigmoid => map_act(x, |t| t.try_sigmoid(), |t| t.try_sigmoid())?,
            Op::Tanh => map_act(x, |t| t.try_tanh(), |t| t.try_tanh())?,
            Op::Softmax => map_act(
                x,
                |t| t.try_softmax::<Axis<1>>(),
                |t| t.try_softmax::<Axis<1>>(),
            )?,
            Op::Save(name) => {
                saved.insert(name.clone(), x.with_empty_tape());
                x
            }
            Op::Concat(name) => {
                let other = saved
                    .remove(name)
                    .ok_or_else(|| NnError::UnknownName(name.clone()))?;
                let keep = other.with_empty_tape();
                saved.insert(name.clone(), keep);
                match (x, other) {
                    (Act::I(a), Act::I(b)) if !self.portable => {
                        Act::I(D::concat_channels(a, b).map_err(e)?)
                    }
                    (Act::I(a), Act::I(b)) => {
                        let out: Tensor<Img, f32, D, T> =
                            (a, b).try_concat_along(Axis::<1>).map_err(e)?;
                        Act::I(out)
                    }
                    (Act::V(a), Act::V(b)) => {
                        let out: Tensor<(usize, usize), f32, D, T> =
                            (a, b).try_concat_along(Axis::<1>).map_err(e)?;
                        Act::V(out)
                    }
                    _ => return Err(NnError::Shape(format!("cannot concat \"{name}\""))),
                }
            }
            Op::Branch(name) => {
                let from = saved
                    .get(name)
                    .ok_or_else(|| NnError::UnknownName(name.clone()))?;
                // The tensor left behind may live on in a saved copy (a residual block's main
                // path, joined again by `add`): its tape holds every backward step recorded so
                // far, so it moves onto the branch instead of being dropped with it.
                let tape = match x {
                    Act::I(t) => t.split_tape().1,
                    Act::V(t) => t.split_tape().1,
                };
                match from {
                    Act::I(t) => Act::I(t.retaped::<NoneTape>().put_tape(tape)),
                    Act::V(t) => Act::V(t.retaped::<NoneTape>().put_tape(tape)),
                }
            }
            Op::Output(_) => unreachable!("outputs are collected in run"),
            Op::Add(name) => {
                let other = saved
                    .remove(name)
                    .ok_or_else(|| NnError::UnknownName(name.clone()))?;
                saved.insert(name.clone(), other.with_empty_tape());
                match (x, other) {
                    (Act::I(a), Act::I(b)) if !self.portable => Act::I(D::add(a, b).map_err(e)?),
                    (Act::V(a), Act::V(b)) if !self.portable => Act::V(D::add(a, b).map_err(e)?),
                    (Act::I(a), Act::I(b)) => Act::I(a.try_add(b).map_err(e)?),
                    (Act::V(a), Act::V(b)) => Act::V(a.try_add(b).map_err(e)?),
                    _ => return Err(NnError::Shape(format!("cannot add \"{name}\""))),
                }
            }
            Op::Scale(name) => {
                let other = saved
                    .remove(name)
                    .ok_or_else(|| NnError::UnknownName(name.clone()))?;
                saved.insert(name.clone(), other.with_empty_tape());
                match (x, other) {
                    // The gate carries the tape; the op records both halves of the backward
                    // (gate and feature map).
                    (Act::V(gate), Act::I(map)) if !self.portable => {
                        Act::I(D::scale_channels(gate, map).map_err(e)?)
                    }
                    // Portably, broadcasting the gate over H and W and multiplying lets dfdx
                    // record both.
                    (Act::V(gate), Act::I(map)) => {
                        let shape = *map.shape();
                        let gate = gate
                            .try_broadcast_like::<_, Axes2<2, 3>>(&shape)
                            .map_err(e)?;
                        Act::I(gate.try_mul(map).map_err(e)?)
                    }
                    _ => return Err(NnError::Shape(format!("cannot scale \"{name}\""))),
                }
            }
        })
    }

    /// A convolution layer, and what follows it in the same op (fused on the CPU).
    fn conv<T: Tape<f32, D> + Merge<NoneTape>>(
        &mut self,
        op: &Op,
        x: Act<D, T>,
        after: After,
        skip_dx: bool,
    ) -> Result<Act<D, T>, NnError> {
        let e = dev_err;
        let Op::Conv {
            c,
            transposed,
            w,
            b,
        } = op
        else {
            unreachable!("conv is called for convolution layers")
        };
        let t = img(x, "conv")?;
        let g = conv_geom(&t, c, *transposed)?;
        let weight = &self.params[*w].t;
        let bias = b.map(|b| &self.params[b].t);
        let pool = match &after {
            After::ReluMaxPool(p) => Some(pool_geom_of((g.n, g.o, g.oh, g.ow), p)?),
            _ => None,
        };
        Ok(Act::I(if self.portable {
            let y = portable::conv2d(t, weight, bias, &g).map_err(e)?;
            match (&after, pool) {
                (After::Nothing, _) => y,
                (_, None) => y.try_relu().map_err(e)?,
                (_, Some(pg)) => portable::maxpool2d(y.try_relu().map_err(e)?, &pg).map_err(e)?,
            }
        } else {
            match pool {
                Some(pg) => D::conv2d_relu_maxpool(t, weight, bias, &g, !skip_dx, &pg),
                None => D::conv2d(t, weight, bias, &g, !skip_dx, after == After::Relu),
            }
            .map_err(e)?
        }))
    }

    /// A batch-norm layer (`op`), followed by a ReLU when `relu`, on the device's kernels (or
    /// the portable ones); in training mode the running statistics are updated after.
    fn batchnorm<T: Tape<f32, D> + Merge<NoneTape>>(
        &mut self,
        op: &Op,
        x: Act<D, T>,
        train: bool,
        relu: bool,
        skip_dx: bool,
    ) -> Result<Act<D, T>, NnError> {
        let e = dev_err;
        let Op::BatchNorm {
            gamma,
            beta,
            mean,
            var,
            eps,
            momentum,
        } = *op
        else {
            unreachable!("batchnorm is called for batch-norm layers")
        };
        let p = BnParams {
            gamma: &self.params[gamma].t,
            beta: &self.params[beta].t,
            running: (!train).then(|| (&self.buffers[mean].t, &self.buffers[var].t)),
            eps,
            relu,
        };
        let (y, stats, count) = match x {
            Act::I(t) => {
                let (n, _, h, w) = *t.shape();
                let (y, stats) = if self.portable {
                    portable::batchnorm::<_, Axes3<0, 2, 3>, _, _>(t, &p)
                } else {
                    D::batchnorm2d(t, &p, !skip_dx)
                }
                .map_err(e)?;
                (Act::I(y), stats, n * h * w)
            }
            Act::V(t) => {
                let n = t.shape().0;
                let (y, stats) = if self.portable {
                    portable::batchnorm::<_, Axis<0>, _, _>(t, &p)
                } else {
                    D::batchnorm1d(t, &p, !skip_dx)
                }
                .map_err(e)?;
                (Act::V(y), stats, n)
            }
        };
        if let Some((batch_mean, batch_var)) = stats {
            self.update_running(batch_mean, batch_var, count, mean, var, momentum);
        }
        Ok(y)
    }

    /// Running statistics update with PyTorch's conventions: `momentum` weights the new batch,
    /// and the running variance is the unbiased one (`batch_var` is the biased variance of
    /// `count` values per channel).
    fn update_running(
        &mut self,
        batch_mean: FlatT<D>,
        batch_var: FlatT<D>,
        count: usize,
        mean: usize,
        var: usize,
        momentum: f64,
    ) {
        let m = momentum as f32;
        let unbias = count as f32 / (count.max(2) - 1) as f32;
        let rm = self.buffers[mean].t.clone();
        let rv = self.buffers[var].t.clone();
        self.buffers[mean].t = (rm * (1.0 - m) + batch_mean * m).retaped();
        self.buffers[var].t = (rv * (1.0 - m) + batch_var * (unbias * m)).retaped();
    }
}

fn map_act<D: Backend, T: Tape<f32, D> + Merge<NoneTape>>(
    x: Act<D, T>,
    fi: impl FnOnce(Tensor<Img, f32, D, T>) -> Result<Tensor<Img, f32, D, T>, D::Err>,
    fv: impl FnOnce(
        Tensor<(usize, usize), f32, D, T>,
    ) -> Result<Tensor<(usize, usize), f32, D, T>, D::Err>,
) -> Result<Act<D, T>, NnError> {
    Ok(match x {
        Act::I(t) => Act::I(fi(t).map_err(dev_err)?),
        Act::V(t) => Act::V(fv(t).map_err(dev_err)?),
    })
}

fn img<D: Backend, T>(x: Act<D, T>, what: &str) -> Result<Tensor<Img, f32, D, T>, NnError> {
    match x {
        Act::I(t) => Ok(t),
        Act::V(_) => Err(NnError::Shape(format!(
            "{what} needs an image-shaped input"
        ))),
    }
}

fn shape_err(e: crate::nn::shape::ShapeError) -> NnError {
    NnError::Shape(e.to_string())
}

fn conv_geom<D: Backend, T>(
    t: &Tensor<Img, f32, D, T>,
    c: &ConvSpec,
    transposed: bool,
) -> Result<ConvGeom, NnError> {
    let (n, ci, h, w) = *t.shape();
    let dims = [h, w];
    let mut out = [0usize; 2];
    for a in 0..2 {
        let (i, k, s, p, d) = (
            dims[a] as i64,
            c.kernel[a] as i64,
            c.stride[a] as i64,
            c.padding[a] as i64,
            c.dilation[a] as i64,
        );
        out[a] = if transposed {
            conv_transpose2d_out(i, k, s, p, d, c.output_padding[a] as i64)
        } else {
            conv2d_out(i, k, s, p, d)
        }
        .map_err(shape_err)? as usize;
    }
    Ok(ConvGeom {
        n,
        c: ci,
        h,
        w,
        o: c.out_channels,
        oh: out[0],
        ow: out[1],
        k: c.kernel,
        s: c.stride,
        p: c.padding,
        d: c.dilation,
        groups: c.groups,
        transposed,
    })
}

fn pool_geom<D: Backend, T>(t: &Tensor<Img, f32, D, T>, p: &PoolSpec) -> Result<PoolGeom, NnError> {
    pool_geom_of(*t.shape(), p)
}

/// The geometry of max pooling `p` over an `(n, c, h, w)` input.
fn pool_geom_of(
    (n, c, h, w): (usize, usize, usize, usize),
    p: &PoolSpec,
) -> Result<PoolGeom, NnError> {
    let oh = pool2d_out(
        h as i64,
        p.kernel[0] as i64,
        p.stride[0] as i64,
        p.padding[0] as i64,
        1,
    )
    .map_err(shape_err)? as usize;
    let ow = pool2d_out(
        w as i64,
        p.kernel[1] as i64,
        p.stride[1] as i64,
        p.padding[1] as i64,
        1,
    )
    .map_err(shape_err)? as usize;
    Ok(PoolGeom {
        n,
        c,
        h,
        w,
        oh,
        ow,
        k: p.kernel,
        s: p.stride,
        p: p.padding,
    })
}
