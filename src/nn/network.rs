//! A runtime network built from a [`NetSpec`]: parameters, forward pass, losses and training
//! steps. This is the only door lessons have to dfdx: batches go in as plain `Vec<f32>` with a
//! shape, outputs come back the same way, and parameters are named `<layer>.weight` etc.
//!
//! Parameters live flat (`Tensor<(usize,), f32, D>`, PyTorch's element order) and are reshaped
//! into views per op; a contiguous reshape keeps the tensor id, so gradients land on the flat
//! parameter. They carry no tape: the tape starts on the input and every op that reads a
//! parameter records a backward that writes the parameter's gradient too.

use std::collections::HashMap;

use dfdx::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::backend::{AutoDevice, Backend};
use super::ops::{portable, ConvGeom, Flat, Img, PoolGeom};
use super::optim::Optimizer;
pub(crate) use super::param::{dev_err, Buffer, Param};
pub use super::param::{NamedValues, NnError, ParamInfo};
use super::shape::{conv2d_out, conv_transpose2d_out, pool2d_out};
use super::spec::{fmt_shape, ConvSpec, LayerKind, NetSpec, PoolSpec, Summary};

/// A batch of examples: `shape` is `[N, C, H, W]` or `[N, features]`, `data` row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    /// Values, row-major.
    pub data: Vec<f32>,
    /// Shape with the batch dimension first.
    pub shape: Vec<usize>,
}

impl Batch {
    /// A batch, checking that `data` fills `shape`.
    pub fn new(data: Vec<f32>, shape: Vec<usize>) -> Result<Batch, NnError> {
        if shape.is_empty() || shape.iter().product::<usize>() != data.len() {
            return Err(NnError::Shape(format!(
                "a batch of shape {} needs {} values, got {}",
                fmt_shape(&shape),
                shape.iter().product::<usize>(),
                data.len()
            )));
        }
        Ok(Batch { data, shape })
    }

    /// Number of examples.
    pub fn len(&self) -> usize {
        self.shape.first().copied().unwrap_or(0)
    }

    /// Whether the batch holds no examples.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A network's output for a batch (raw scores: no softmax unless the network has one).
pub type Logits = Batch;

/// What a loss compares the output with.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    /// One class index per example (or per pixel, for an image-shaped output `[N, K, H, W]`).
    Classes(Vec<usize>),
    /// Values of the output's shape (regression, reconstruction, masks).
    Values(Vec<f32>),
}

/// Training objectives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Loss {
    /// Softmax cross-entropy on raw scores, averaged over examples (and pixels).
    CrossEntropy,
    /// Mean squared error over all values.
    Mse,
    /// Sigmoid + binary cross-entropy on raw scores, averaged over all values.
    BceWithLogits,
}

/// A layer resolved against the network's parameter and buffer lists.
#[derive(Debug, Clone)]
enum Op {
    Conv {
        c: ConvSpec,
        transposed: bool,
        w: usize,
        b: Option<usize>,
    },
    MaxPool(PoolSpec),
    AvgPool(PoolSpec),
    GlobalAvgPool,
    Upsample(usize),
    BatchNorm {
        gamma: usize,
        beta: usize,
        mean: usize,
        var: usize,
        eps: f64,
        momentum: f64,
    },
    Dropout(f64),
    Flatten,
    Linear {
        out: usize,
        w: usize,
        b: Option<usize>,
    },
    Relu,
    Sigmoid,
    Tanh,
    Softmax,
    Save(String),
    Concat(String),
    Add(String),
}

type FlatT<D> = Tensor<Flat, f32, D>;

/// The loss, the gradients and (when asked for) the input as a flat tensor to read its gradient.
pub(crate) type Backprop<D> = (f32, Gradients<f32, D>, Option<FlatT<D>>);

/// An activation: image-shaped or a batch of vectors.
enum Act<D: Backend, T> {
    I(Tensor<Img, f32, D, T>),
    V(Tensor<(usize, usize), f32, D, T>),
}

impl<D: Backend, T: Tape<f32, D> + Merge<NoneTape>> Act<D, T> {
    fn shape(&self) -> Vec<usize> {
        match self {
            Act::I(t) => {
                let (n, c, h, w) = *t.shape();
                vec![n, c, h, w]
            }
            Act::V(t) => {
                let (n, f) = *t.shape();
                vec![n, f]
            }
        }
    }
    fn with_empty_tape(&self) -> Self {
        match self {
            Act::I(t) => Act::I(t.with_empty_tape()),
            Act::V(t) => Act::V(t.with_empty_tape()),
        }
    }
    fn to_batch(&self) -> Batch {
        let shape = self.shape();
        let data = match self {
            Act::I(t) => t.as_vec(),
            Act::V(t) => t.as_vec(),
        };
        Batch { data, shape }
    }
}

/// A network built from a [`NetSpec`], on device `D` (the CPU unless built with CUDA).
///
/// On the CPU it is `Send` and may be built on one thread and trained on another; dfdx's CUDA
/// device is not, so build it on the thread that trains it (which works everywhere).
pub struct Network<D: Backend = AutoDevice> {
    spec: NetSpec,
    pub(crate) dev: D,
    ops: Vec<Op>,
    pub(crate) params: Vec<Param<D>>,
    pub(crate) buffers: Vec<Buffer<D>>,
    train: bool,
    /// Layers kept in evaluation mode even while the network trains (PyTorch's `bn.eval()` on
    /// one layer): their batch norm uses and keeps its running statistics, their dropout is off.
    eval_layers: Vec<bool>,
    portable: bool,
}

impl Network<AutoDevice> {
    /// Builds a network with PyTorch's default initialisation, seeded: weights and biases
    /// uniform in ±1/√fan_in (Kaiming-uniform with a = √5), batch-norm scale 1 and shift 0.
    /// Starts in training mode.
    pub fn new(spec: &NetSpec, seed: u64) -> Result<Self, NnError> {
        Network::new_on(spec, seed)
    }
}

impl<D: Backend> Network<D> {
    /// [`Network::new`] on another device type.
    pub fn new_on(spec: &NetSpec, seed: u64) -> Result<Self, NnError> {
        let dev = D::seeded(seed);
        let mut rng = StdRng::seed_from_u64(seed);
        let mut params: Vec<Param<D>> = Vec::new();
        let mut buffers: Vec<Buffer<D>> = Vec::new();
        let mut ops = Vec::with_capacity(spec.layers.len());
        let mut shape = spec.input.clone();
        // Validates the whole shape chain once, so forward can trust the geometry.
        let summary = spec.summary(None)?;
        for (li, (layer, row)) in spec.layers.iter().zip(&summary.rows).enumerate() {
            let mut add_param = |suffix: &str, shape: Vec<usize>, values: Vec<f32>| {
                let len = values.len();
                let t = dev.tensor_from_vec(values, (len,));
                params.push(Param {
                    name: format!("{}.{suffix}", layer.name),
                    layer: li,
                    shape,
                    t,
                    frozen: layer.frozen,
                    lr_scale: 1.0,
                });
                params.len() - 1
            };
            let mut uniform = |len: usize, bound: f32| -> Vec<f32> {
                (0..len).map(|_| rng.gen_range(-bound..=bound)).collect()
            };
            let op = match &layer.kind {
                LayerKind::Conv2d(c) | LayerKind::ConvTranspose2d(c) => {
                    let transposed = matches!(layer.kind, LayerKind::ConvTranspose2d(_));
                    let cin = shape[0];
                    let kk = c.kernel[0] * c.kernel[1];
                    let wshape = if transposed {
                        vec![cin, c.out_channels / c.groups, c.kernel[0], c.kernel[1]]
                    } else {
                        vec![c.out_channels, cin / c.groups, c.kernel[0], c.kernel[1]]
                    };
                    // PyTorch computes fan_in from the weight's dimension 1 for both kinds.
                    let fan_in = wshape[1] * kk;
                    let bound = 1.0 / (fan_in as f32).sqrt();
                    let n: usize = wshape.iter().product();
                    let w = add_param("weight", wshape, uniform(n, bound));
                    let b = c.bias.then(|| {
                        add_param("bias", vec![c.out_channels], uniform(c.out_channels, bound))
                    });
                    Op::Conv {
                        c: *c,
                        transposed,
                        w,
                        b,
                    }
                }
                LayerKind::Linear {
                    out_features, bias, ..
                } => {
                    let fan_in = shape[0];
                    let bound = 1.0 / (fan_in as f32).sqrt();
                    let w = add_param(
                        "weight",
                        vec![*out_features, fan_in],
                        uniform(out_features * fan_in, bound),
                    );
                    let b = bias.then(|| {
                        add_param("bias", vec![*out_features], uniform(*out_features, bound))
                    });
                    Op::Linear {
                        out: *out_features,
                        w,
                        b,
                    }
                }
                LayerKind::BatchNorm1d(b) | LayerKind::BatchNorm2d(b) => {
                    let c = shape[0];
                    let gamma = add_param("weight", vec![c], vec![1.0; c]);
                    let beta = add_param("bias", vec![c], vec![0.0; c]);
                    buffers.push(Buffer {
                        name: format!("{}.running_mean", layer.name),
                        t: dev.tensor_from_vec(vec![0.0; c], (c,)),
                    });
                    buffers.push(Buffer {
                        name: format!("{}.running_var", layer.name),
                        t: dev.tensor_from_vec(vec![1.0; c], (c,)),
                    });
                    Op::BatchNorm {
                        gamma,
                        beta,
                        mean: buffers.len() - 2,
                        var: buffers.len() - 1,
                        eps: b.eps,
                        momentum: b.momentum,
                    }
                }
                LayerKind::MaxPool2d(p) => Op::MaxPool(*p),
                LayerKind::AvgPool2d(p) => Op::AvgPool(*p),
                LayerKind::GlobalAvgPool => Op::GlobalAvgPool,
                LayerKind::Upsample { scale } => Op::Upsample(*scale),
                LayerKind::Dropout { p } => Op::Dropout(*p),
                LayerKind::Flatten => Op::Flatten,
                LayerKind::Relu => Op::Relu,
                LayerKind::Sigmoid => Op::Sigmoid,
                LayerKind::Tanh => Op::Tanh,
                LayerKind::Softmax => Op::Softmax,
                LayerKind::Save { as_name } => Op::Save(as_name.clone()),
                LayerKind::Concat { with } => Op::Concat(with.clone()),
                LayerKind::Add { with } => Op::Add(with.clone()),
            };
            ops.push(op);
            shape = row.out_shape.clone();
        }
        Ok(Network {
            spec: spec.clone(),
            dev,
            eval_layers: vec![false; ops.len()],
            ops,
            params,
            buffers,
            train: true,
            portable: false,
        })
    }

    /// The description the network was built from.
    pub fn spec(&self) -> &NetSpec {
        &self.spec
    }

    /// Training mode (dropout active, batch-norm uses and updates batch statistics) or
    /// evaluation mode.
    pub fn set_train(&mut self, train: bool) {
        self.train = train;
    }

    /// Whether the network is in training mode.
    pub fn is_train(&self) -> bool {
        self.train
    }

    /// Keeps `layer` in evaluation mode (`eval = true`) whatever the network's mode, or lets it
    /// follow the network again. This is how a fine-tuned backbone's batch norm keeps the
    /// statistics it learned on the source data.
    pub fn set_layer_eval(&mut self, layer: &str, eval: bool) -> Result<(), NnError> {
        let li = self.layer_index(layer)?;
        self.eval_layers[li] = eval;
        Ok(())
    }

    /// Whether `layer` runs in training mode in the next forward pass.
    pub fn layer_trains(&self, layer: &str) -> Result<bool, NnError> {
        Ok(self.train && !self.eval_layers[self.layer_index(layer)?])
    }

    /// Uses the portable kernels even on the CPU (slower; for tests and comparisons).
    pub fn set_portable_ops(&mut self, portable: bool) {
        self.portable = portable;
    }

    /// Every parameter, in layer order.
    pub fn params(&self) -> Vec<ParamInfo> {
        self.params
            .iter()
            .map(|p| ParamInfo {
                name: p.name.clone(),
                layer: self.spec.layers[p.layer].name.clone(),
                shape: p.shape.clone(),
                count: p.shape.iter().product(),
                trainable: !p.frozen,
            })
            .collect()
    }

    /// The spec's summary with the current frozen state (see [`Network::set_frozen`]).
    pub fn summary(&self) -> Result<Summary, NnError> {
        let mut s = self.spec.summary(None)?;
        for (li, row) in s.rows.iter_mut().enumerate() {
            let mut ps = self.params.iter().filter(|p| p.layer == li).peekable();
            if ps.peek().is_some() {
                row.trainable = ps.any(|p| !p.frozen);
            }
        }
        s.trainable_params = s
            .rows
            .iter()
            .filter(|r| r.trainable)
            .map(|r| r.params)
            .sum();
        Ok(s)
    }

    /// Total parameters and trainable parameters.
    pub fn param_counts(&self) -> (usize, usize) {
        self.params().into_iter().fold((0, 0), |(a, t), p| {
            (a + p.count, t + if p.trainable { p.count } else { 0 })
        })
    }

    /// Names of batch-norm running statistics.
    pub fn buffer_names(&self) -> Vec<String> {
        self.buffers.iter().map(|b| b.name.clone()).collect()
    }

    fn layer_index(&self, layer: &str) -> Result<usize, NnError> {
        self.spec
            .layers
            .iter()
            .position(|l| l.name == layer)
            .ok_or_else(|| NnError::UnknownName(layer.to_string()))
    }

    /// Freezes (or unfreezes) every parameter of `layer`: the optimizer leaves it alone.
    pub fn set_frozen(&mut self, layer: &str, frozen: bool) -> Result<(), NnError> {
        let li = self.layer_index(layer)?;
        for p in self.params.iter_mut().filter(|p| p.layer == li) {
            p.frozen = frozen;
        }
        Ok(())
    }

    /// Scales the learning rate of `layer`'s parameters by `scale` (discriminative learning
    /// rates: a pretrained backbone fine-tuned more gently than a new head).
    pub fn set_lr_scale(&mut self, layer: &str, scale: f64) -> Result<(), NnError> {
        let li = self.layer_index(layer)?;
        for p in self.params.iter_mut().filter(|p| p.layer == li) {
            p.lr_scale = scale;
        }
        Ok(())
    }

    /// Freezes every layer up to and including `layer` (transfer learning: keep the features,
    /// train the head).
    pub fn freeze_through(&mut self, layer: &str) -> Result<(), NnError> {
        let li = self.layer_index(layer)?;
        for p in self.params.iter_mut() {
            p.frozen = p.layer <= li;
        }
        Ok(())
    }

    fn find_tensor(&self, name: &str) -> Result<&Tensor<Flat, f32, D>, NnError> {
        self.params
            .iter()
            .find(|p| p.name == name)
            .map(|p| &p.t)
            .or_else(|| self.buffers.iter().find(|b| b.name == name).map(|b| &b.t))
            .ok_or_else(|| NnError::UnknownName(name.to_string()))
    }

    /// The values of a parameter or buffer (`conv1.weight`, `bn1.running_mean`).
    pub fn values(&self, name: &str) -> Result<Vec<f32>, NnError> {
        Ok(self.find_tensor(name)?.as_vec())
    }

    /// Overwrites a parameter or buffer.
    pub fn set_values(&mut self, name: &str, values: &[f32]) -> Result<(), NnError> {
        let t = if let Some(p) = self.params.iter_mut().find(|p| p.name == name) {
            &mut p.t
        } else if let Some(b) = self.buffers.iter_mut().find(|b| b.name == name) {
            &mut b.t
        } else {
            return Err(NnError::UnknownName(name.to_string()));
        };
        if t.shape().0 != values.len() {
            return Err(NnError::Shape(format!(
                "\"{name}\" holds {} values, got {}",
                t.shape().0,
                values.len()
            )));
        }
        t.copy_from(values);
        Ok(())
    }

    fn input_tensor(&self, batch: &Batch) -> Result<Act<D, NoneTape>, NnError> {
        let want = &self.spec.input;
        if batch.shape.len() != want.len() + 1 || batch.shape[1..] != want[..] {
            return Err(NnError::Shape(format!(
                "the network takes examples of shape {} but the batch has shape {}",
                fmt_shape(want),
                fmt_shape(&batch.shape)
            )));
        }
        if batch.data.len() != batch.shape.iter().product::<usize>() {
            return Err(NnError::Shape("batch data does not fill its shape".into()));
        }
        if batch.shape[0] == 0 {
            return Err(NnError::Shape("a batch needs at least one example".into()));
        }
        let n = batch.shape[0];
        let data = batch.data.clone();
        Ok(match *batch.shape.as_slice() {
            [_, c, h, w] => Act::I(
                self.dev
                    .try_tensor_from_vec(data, (n, c, h, w))
                    .map_err(dev_err)?,
            ),
            [_, f] => Act::V(
                self.dev
                    .try_tensor_from_vec(data, (n, f))
                    .map_err(dev_err)?,
            ),
            _ => unreachable!("the spec's input is [N] or [C, H, W]"),
        })
    }

    /// The forward pass over all layers; `keep` collects each layer's output when given.
    fn run<T: Tape<f32, D> + Merge<NoneTape>>(
        &mut self,
        x: Act<D, T>,
        need_input_grad: bool,
        mut keep: Option<&mut Vec<(String, Batch)>>,
    ) -> Result<Act<D, T>, NnError> {
        let mut saved: HashMap<String, Act<D, T>> = HashMap::new();
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
                && keep.is_none()
                && matches!(op, Op::Relu)
                && matches!(self.ops.get(i + 1), Some(Op::MaxPool(_)));
            x = if fuse {
                let Op::MaxPool(p) = self.ops[i + 1].clone() else {
                    unreachable!()
                };
                i += 1;
                let t = img(x, "maxpool2d")?;
                let g = pool_geom(&t, &p)?;
                Act::I(D::maxpool2d(t, &g, true).map_err(dev_err)?)
            } else {
                self.apply(&op, x, train, skip_dx, &mut saved)?
            };
            if let Some(k) = keep.as_deref_mut() {
                k.push((self.spec.layers[i].name.clone(), x.to_batch()));
            }
            i += 1;
        }
        Ok(x)
    }

    fn apply<T: Tape<f32, D> + Merge<NoneTape>>(
        &mut self,
        op: &Op,
        x: Act<D, T>,
        train: bool,
        skip_dx: bool,
        saved: &mut HashMap<String, Act<D, T>>,
    ) -> Result<Act<D, T>, NnError> {
        let e = dev_err;
        Ok(match op {
            Op::Conv {
                c,
                transposed,
                w,
                b,
            } => {
                let t = img(x, "conv")?;
                let g = conv_geom(&t, c, *transposed)?;
                let weight = &self.params[*w].t;
                let bias = b.map(|b| &self.params[b].t);
                Act::I(if self.portable {
                    portable::conv2d(t, weight, bias, &g).map_err(e)?
                } else {
                    D::conv2d(t, weight, bias, &g, !skip_dx).map_err(e)?
                })
            }
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
            Op::GlobalAvgPool => {
                let t = img(x, "global_avgpool")?;
                let (n, c, h, w) = *t.shape();
                let t = t.try_reshape_like(&(n, c, h * w)).map_err(e)?;
                Act::V(t.try_mean::<_, Axis<2>>().map_err(e)?)
            }
            Op::Upsample(s) => {
                Act::I(portable::upsample_nearest(img(x, "upsample")?, *s).map_err(e)?)
            }
            Op::BatchNorm {
                gamma,
                beta,
                mean,
                var,
                eps,
                momentum,
            } => {
                let gamma = self.params[*gamma].t.clone();
                let beta = self.params[*beta].t.clone();
                match x {
                    Act::I(t) => {
                        let shape = *t.shape();
                        let normed = if train {
                            let stats = t.retaped::<NoneTape>();
                            let count = shape.0 * shape.2 * shape.3;
                            self.update_running::<_, Axes3<0, 2, 3>>(
                                stats, count, *mean, *var, *momentum,
                            )?;
                            t.try_normalize::<Axes3<0, 2, 3>>(*eps).map_err(e)?
                        } else {
                            let (m, inv) = self.eval_stats(*mean, *var, *eps)?;
                            t.try_sub(
                                m.try_broadcast_like::<_, Axes3<0, 2, 3>>(&shape)
                                    .map_err(e)?,
                            )
                            .map_err(e)?
                            .try_mul(
                                inv.try_broadcast_like::<_, Axes3<0, 2, 3>>(&shape)
                                    .map_err(e)?,
                            )
                            .map_err(e)?
                        };
                        let g = gamma
                            .try_broadcast_like::<_, Axes3<0, 2, 3>>(&shape)
                            .map_err(e)?;
                        let b = beta
                            .try_broadcast_like::<_, Axes3<0, 2, 3>>(&shape)
                            .map_err(e)?;
                        Act::I(normed.try_mul(g).map_err(e)?.try_add(b).map_err(e)?)
                    }
                    Act::V(t) => {
                        let shape = *t.shape();
                        let normed = if train {
                            let stats = t.retaped::<NoneTape>();
                            self.update_running::<_, Axis<0>>(
                                stats, shape.0, *mean, *var, *momentum,
                            )?;
                            t.try_normalize::<Axis<0>>(*eps).map_err(e)?
                        } else {
                            let (m, inv) = self.eval_stats(*mean, *var, *eps)?;
                            t.try_sub(m.try_broadcast_like::<_, Axis<0>>(&shape).map_err(e)?)
                                .map_err(e)?
                                .try_mul(inv.try_broadcast_like::<_, Axis<0>>(&shape).map_err(e)?)
                                .map_err(e)?
                        };
                        let g = gamma.try_broadcast_like::<_, Axis<0>>(&shape).map_err(e)?;
                        let b = beta.try_broadcast_like::<_, Axis<0>>(&shape).map_err(e)?;
                        Act::V(normed.try_mul(g).map_err(e)?.try_add(b).map_err(e)?)
                    }
                }
            }
            Op::Dropout(p) => {
                if !train || *p == 0.0 {
                    x
                } else {
                    match x {
                        Act::I(t) => Act::I(t.try_dropout(*p).map_err(e)?),
                        Act::V(t) => Act::V(t.try_dropout(*p).map_err(e)?),
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
            Op::Relu => map_act(x, |t| t.try_relu(), |t| t.try_relu())?,
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
            Op::Add(name) => {
                let other = saved
                    .remove(name)
                    .ok_or_else(|| NnError::UnknownName(name.clone()))?;
                saved.insert(name.clone(), other.with_empty_tape());
                match (x, other) {
                    (Act::I(a), Act::I(b)) => Act::I(a.try_add(b).map_err(e)?),
                    (Act::V(a), Act::V(b)) => Act::V(a.try_add(b).map_err(e)?),
                    _ => return Err(NnError::Shape(format!("cannot add \"{name}\""))),
                }
            }
        })
    }

    /// Running statistics update with PyTorch's conventions: `momentum` weights the new batch,
    /// and the running variance is the unbiased one.
    fn update_running<S, Ax: Axes>(
        &mut self,
        x: Tensor<S, f32, D>,
        count: usize,
        mean: usize,
        var: usize,
        momentum: f64,
    ) -> Result<(), NnError>
    where
        S: Shape + ReduceShapeTo<Flat, Ax> + HasAxes<Ax>,
    {
        let e = dev_err;
        let m = momentum as f32;
        let batch_mean: Tensor<Flat, f32, D> = x.clone().try_mean::<Flat, Ax>().map_err(e)?;
        let batch_var: Tensor<Flat, f32, D> = x.try_var::<Flat, Ax>().map_err(e)?;
        let unbias = count as f32 / (count.max(2) - 1) as f32;
        let rm = self.buffers[mean].t.clone();
        let rv = self.buffers[var].t.clone();
        self.buffers[mean].t = (rm * (1.0 - m) + batch_mean * m).retaped();
        self.buffers[var].t = (rv * (1.0 - m) + batch_var * (unbias * m)).retaped();
        Ok(())
    }

    /// Running mean and 1/sqrt(running var + eps), for evaluation mode.
    fn eval_stats(
        &self,
        mean: usize,
        var: usize,
        eps: f64,
    ) -> Result<(FlatT<D>, FlatT<D>), NnError> {
        let inv = (self.buffers[var].t.clone() + eps as f32)
            .try_sqrt()
            .map_err(dev_err)?
            .try_recip()
            .map_err(dev_err)?;
        Ok((self.buffers[mean].t.clone(), inv))
    }

    /// The network's output for a batch, without gradients (respects the train/eval mode).
    pub fn forward(&mut self, batch: &Batch) -> Result<Logits, NnError> {
        let x = self.input_tensor(batch)?;
        Ok(self.run(x, false, None)?.to_batch())
    }

    /// Every layer's output for a batch (feature maps), without gradients.
    pub fn forward_trace(&mut self, batch: &Batch) -> Result<Vec<(String, Batch)>, NnError> {
        let x = self.input_tensor(batch)?;
        let mut keep = Vec::new();
        self.run(x, false, Some(&mut keep))?;
        Ok(keep)
    }

    /// The loss for a batch, without gradients.
    pub fn loss(&mut self, batch: &Batch, target: &Target, loss: Loss) -> Result<f32, NnError> {
        let x = self.input_tensor(batch)?;
        let out = self.run(x, false, None)?;
        let l = self.loss_tensor(out, target, loss)?;
        Ok(l.as_vec()[0])
    }

    fn loss_tensor<T: Tape<f32, D> + Merge<NoneTape>>(
        &self,
        out: Act<D, T>,
        target: &Target,
        loss: Loss,
    ) -> Result<Tensor<Rank0, f32, D, T>, NnError> {
        let e = dev_err;
        let shape = out.shape();
        let total: usize = shape.iter().product();
        match (loss, target) {
            (Loss::CrossEntropy, Target::Classes(classes)) => {
                // Scores as (examples or pixels, classes).
                let scores = match out {
                    Act::V(t) => t,
                    Act::I(t) => {
                        let (n, k, h, w) = *t.shape();
                        t.try_permute::<_, Axes4<0, 2, 3, 1>>()
                            .map_err(e)?
                            .try_reshape_like(&(n * h * w, k))
                            .map_err(e)?
                    }
                };
                let (rows, k) = *scores.shape();
                if classes.len() != rows {
                    return Err(NnError::Shape(format!(
                        "{} class labels for {rows} outputs",
                        classes.len()
                    )));
                }
                let mut onehot = vec![0f32; rows * k];
                for (r, &c) in classes.iter().enumerate() {
                    if c >= k {
                        return Err(NnError::Shape(format!(
                            "class label {c} but the network has {k} outputs"
                        )));
                    }
                    onehot[r * k + c] = 1.0;
                }
                let tgt = self.dev.try_tensor_from_vec(onehot, (rows, k)).map_err(e)?;
                Ok(cross_entropy_with_logits_loss(scores, tgt))
            }
            (Loss::Mse | Loss::BceWithLogits, Target::Values(values)) => {
                if values.len() != total {
                    return Err(NnError::Shape(format!(
                        "{} target values for an output of shape {}",
                        values.len(),
                        fmt_shape(&shape)
                    )));
                }
                let flat = match out {
                    Act::V(t) => t.try_reshape_like(&(total,)).map_err(e)?,
                    Act::I(t) => t.try_reshape_like(&(total,)).map_err(e)?,
                };
                let tgt = self
                    .dev
                    .try_tensor_from_vec(values.clone(), (total,))
                    .map_err(e)?;
                Ok(if loss == Loss::Mse {
                    mse_loss(flat, tgt)
                } else {
                    binary_cross_entropy_with_logits_loss(flat, tgt)
                })
            }
            (l, _) => Err(NnError::Shape(format!(
                "{l:?} needs {} targets",
                if l == Loss::CrossEntropy {
                    "class-index"
                } else {
                    "value"
                }
            ))),
        }
    }

    /// Forward in the current mode with a tape, then backward: the loss and the gradients.
    pub(crate) fn backward(
        &mut self,
        batch: &Batch,
        target: &Target,
        loss: Loss,
        need_input_grad: bool,
    ) -> Result<Backprop<D>, NnError> {
        let (l, grads, ghost) =
            self.backward_timed(batch, target, loss, need_input_grad, &mut None)?;
        Ok((l, grads, ghost))
    }

    pub(crate) fn backward_timed(
        &mut self,
        batch: &Batch,
        target: &Target,
        loss: Loss,
        need_input_grad: bool,
        split: &mut Option<std::time::Instant>,
    ) -> Result<Backprop<D>, NnError> {
        let x = self.input_tensor(batch)?;
        // The input's identity, to read its gradient afterwards (saliency maps, tests).
        let input_id_tensor = match &x {
            Act::I(t) => t.clone().try_reshape_like(&(t.shape().num_elements(),)),
            Act::V(t) => t.clone().try_reshape_like(&(t.shape().num_elements(),)),
        }
        .map_err(dev_err)?;
        let x = match x {
            Act::I(t) => Act::I(t.leaky_traced()),
            Act::V(t) => Act::V(t.leaky_traced()),
        };
        let out = self.run(x, need_input_grad, None)?;
        let l = self.loss_tensor(out, target, loss)?;
        let value = l.as_vec()[0];
        if let Some(s) = split.as_mut() {
            *s = std::time::Instant::now();
        }
        let grads = l.backward();
        Ok((value, grads, need_input_grad.then_some(input_id_tensor)))
    }

    /// The loss and the gradient of every parameter (by name), in the current mode; for
    /// inspection and tests (training uses [`Network::step`]).
    pub fn gradients(
        &mut self,
        batch: &Batch,
        target: &Target,
        loss: Loss,
    ) -> Result<(f32, NamedValues), NnError> {
        let (l, mut grads, _) = self.backward(batch, target, loss, false)?;
        let mut out = Vec::with_capacity(self.params.len());
        for p in &self.params {
            grads.get_or_alloc_mut(&p.t).map_err(dev_err)?;
            out.push((p.name.clone(), grads.get(&p.t).as_vec()));
        }
        Ok((l, out))
    }

    /// The gradient of the loss with respect to the input batch (saliency maps).
    pub fn input_gradient(
        &mut self,
        batch: &Batch,
        target: &Target,
        loss: Loss,
    ) -> Result<Batch, NnError> {
        let (_, mut grads, input) = self.backward(batch, target, loss, true)?;
        let input = input.expect("requested");
        grads.get_or_alloc_mut(&input).map_err(dev_err)?;
        Ok(Batch {
            data: grads.get(&input).as_vec(),
            shape: batch.shape.clone(),
        })
    }

    /// Applies the optimizer to the trainable parameters with `grads`.
    pub(crate) fn update(
        &mut self,
        opt: &mut Optimizer<D>,
        grads: Gradients<f32, D>,
    ) -> Result<(), NnError> {
        opt.update(&mut self.params, grads)
    }

    /// One training step: forward (current mode), loss, backward, optimizer update of the
    /// trainable parameters. Returns the loss before the update.
    pub fn step(
        &mut self,
        batch: &Batch,
        target: &Target,
        loss: Loss,
        opt: &mut Optimizer<D>,
    ) -> Result<f32, NnError> {
        let (l, grads, _) = self.backward(batch, target, loss, false)?;
        opt.update(&mut self.params, grads)?;
        Ok(l)
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

fn shape_err(e: super::shape::ShapeError) -> NnError {
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
    let (n, c, h, w) = *t.shape();
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

/// The index of the largest score of each row of `[N, K]` scores.
pub fn predictions(logits: &Logits) -> Vec<usize> {
    let k = logits.shape.get(1).copied().unwrap_or(1).max(1);
    logits
        .data
        .chunks(k)
        .map(|row| {
            row.iter()
                .enumerate()
                .fold((0, f32::NEG_INFINITY), |(bi, bv), (i, &v)| {
                    if v > bv {
                        (i, v)
                    } else {
                        (bi, bv)
                    }
                })
                .0
        })
        .collect()
}

/// Softmax of each row of `[N, K]` scores: class probabilities, rows summing to 1.
pub fn probabilities(logits: &Logits) -> Vec<f32> {
    let k = logits.shape.get(1).copied().unwrap_or(1).max(1);
    let mut out = Vec::with_capacity(logits.data.len());
    for row in logits.data.chunks(k) {
        // Shifting by the maximum keeps exp() from overflowing.
        let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let exps: Vec<f32> = row.iter().map(|v| (v - max).exp()).collect();
        let sum: f32 = exps.iter().sum();
        out.extend(exps.iter().map(|e| e / sum));
    }
    out
}

/// The fraction of rows whose largest score is the labelled class.
pub fn accuracy(logits: &Logits, classes: &[usize]) -> f32 {
    let p = predictions(logits);
    if p.is_empty() {
        return 0.0;
    }
    let right = p.iter().zip(classes).filter(|(a, b)| a == b).count();
    right as f32 / p.len() as f32
}
