//! The thin neural-network layer of the tutor: a TOML network format ([`spec`]) with its shape
//! arithmetic ([`shape`]), and over `dfdx` the runtime [`Network`] the lessons train, its
//! optimizers ([`optim`]), losses ([`loss`]) combined into objectives over named outputs
//! ([`objective`]), checkpoints and speed benchmark.
//!
//! Lessons never call `dfdx` directly: everything they need goes through this module, so the
//! tensor library could be swapped one day without touching a lesson.

pub mod backend;
pub mod bench;
pub mod io;
pub mod loss;
pub mod network;
pub mod objective;
pub mod ops;
pub mod optim;
pub mod param;
pub mod receptive;
pub mod scores;
pub mod shape;
pub mod spec;
pub mod summary;

pub use backend::{AutoDevice, Backend};
pub use bench::{bench_step, BenchResult};
pub use loss::{LossKind, LossTerm, IGNORE};
pub use network::{Batch, Logits, NamedValues, Network, NnError, ParamInfo, TermValues};
pub use objective::{Objective, Target, Targets};
pub use optim::{Optimizer, Rule, Schedule};
pub use scores::{accuracy, predictions, probabilities};
pub use shape::{
    batchnorm_params, conv2d_out, conv2d_params, conv_transpose2d_out, linear_params, pool2d_out,
    ShapeError,
};
pub use spec::{LayerKind, LayerSpec, Location, NetSpec, SpecError, DEFAULT_OUTPUT};
pub use summary::{fmt_count, fmt_shape, Summary, SummaryRow};
