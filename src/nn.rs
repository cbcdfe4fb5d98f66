//! The thin neural-network layer of the tutor: a TOML network format ([`spec`]) with its shape
//! arithmetic ([`shape`]), and over `dfdx` the runtime [`Network`] the lessons train, its
//! optimizers ([`optim`]), checkpoints and speed benchmark.
//!
//! Lessons never call `dfdx` directly: everything they need goes through this module, so the
//! tensor library could be swapped one day without touching a lesson.

pub mod backend;
pub mod bench;
pub mod io;
pub mod loss;
pub mod network;
pub mod ops;
pub mod optim;
pub mod param;
pub mod shape;
pub mod spec;

pub use backend::{AutoDevice, Backend};
pub use bench::{bench_step, BenchResult};
pub use network::{
    accuracy, predictions, probabilities, Batch, Logits, Loss, NamedValues, Network, NnError,
    ParamInfo, Target,
};
pub use optim::{Optimizer, Rule, Schedule};
pub use shape::{
    batchnorm_params, conv2d_out, conv2d_params, conv_transpose2d_out, linear_params, pool2d_out,
    ShapeError,
};
pub use spec::{LayerKind, LayerSpec, Location, NetSpec, SpecError, Summary, SummaryRow};
