//! A runtime network built from a [`NetSpec`]: parameters, forward pass, losses and training
//! steps. This is the only door lessons have to dfdx: batches go in as plain `Vec<f32>` with a
//! shape, outputs come back the same way, and parameters are named `<layer>.weight` etc.
//!
//! Parameters live flat (`Tensor<(usize,), f32, D>`, PyTorch's element order) and are reshaped
//! into views per op; a contiguous reshape keeps the tensor id, so gradients land on the flat
//! parameter. They carry no tape: the tape starts on the input and every op that reads a
//! parameter records a backward that writes the parameter's gradient too.

use dfdx::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

mod backward;
mod forward;

pub use backward::TermValues;

use super::backend::{AutoDevice, Backend};
use super::ops::{Flat, Img};
pub(crate) use super::param::{dev_err, Buffer, Param};
pub use super::param::{NamedValues, NnError, ParamInfo};
use super::spec::{ConvSpec, LayerKind, NetSpec, PoolSpec};
use super::summary::{fmt_shape, Summary};

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
    Scale(String),
    Output(String),
    Branch(String),
}

type FlatT<D> = Tensor<Flat, f32, D>;

/// The loss, the gradients and (when asked for) the input as a flat tensor to read its gradient.
pub(crate) type Backprop<D> = (f32, Gradients<f32, D>, Option<FlatT<D>>);

/// The named outputs of a forward pass, in the network's order.
type Heads<D, T> = Vec<(String, Act<D, T>)>;

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
        // Refuse before allocating: an absurd layer would otherwise abort the process.
        summary.check_memory(1)?;
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
                LayerKind::Scale { with } => Op::Scale(with.clone()),
                LayerKind::Output { as_name } => Op::Output(as_name.clone()),
                LayerKind::Branch { from } => Op::Branch(from.clone()),
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
}
