//! What a network is made of, apart from its layers: its errors, and its parameters and
//! buffers (flat tensors with a name), shared by the network, its optimizers and checkpoints.

use dfdx::prelude::*;
use thiserror::Error;

use super::backend::Backend;
use super::ops::Flat;
use super::spec::SpecError;

/// Errors from building, running or saving a network.
#[derive(Debug, Error)]
pub enum NnError {
    /// The network description is wrong.
    #[error(transparent)]
    Spec(#[from] SpecError),
    /// A batch or target does not fit the network.
    #[error("{0}")]
    Shape(String),
    /// No layer or parameter has this name.
    #[error("no layer or parameter named \"{0}\"")]
    UnknownName(String),
    /// The tensor library failed (out of memory, device error).
    #[error("tensor device error: {0}")]
    Device(String),
    /// A checkpoint could not be written or read, or does not match the network.
    #[error("{0}")]
    Checkpoint(String),
}

pub(crate) fn dev_err<E: std::fmt::Debug>(e: E) -> NnError {
    NnError::Device(format!("{e:?}"))
}

/// One trainable (or frozen) tensor of a network.
#[derive(Debug, Clone)]
pub struct ParamInfo {
    /// Qualified name: `conv1.weight`.
    pub name: String,
    /// The layer it belongs to.
    pub layer: String,
    /// Shape in PyTorch's convention (conv weight `[O, C/groups, kh, kw]`, linear `[out, in]`).
    pub shape: Vec<usize>,
    /// Number of values.
    pub count: usize,
    /// Whether training updates it.
    pub trainable: bool,
}

pub(crate) struct Param<D: Backend> {
    pub(crate) name: String,
    pub(crate) layer: usize,
    pub(crate) shape: Vec<usize>,
    pub(crate) t: Tensor<Flat, f32, D>,
    pub(crate) frozen: bool,
    /// Factor on the optimizer's learning rate for this parameter (1 unless set).
    pub(crate) lr_scale: f64,
}

pub(crate) struct Buffer<D: Backend> {
    pub(crate) name: String,
    pub(crate) t: Tensor<Flat, f32, D>,
}

/// Values by parameter name.
pub type NamedValues = Vec<(String, Vec<f32>)>;
