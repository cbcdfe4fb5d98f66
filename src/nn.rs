//! The thin neural-network layer of the tutor: a TOML network format ([`spec`]), its shape
//! arithmetic ([`shape`]), and (over `dfdx`) the runtime networks the lessons train.
//!
//! Lessons never call `dfdx` directly: everything they need goes through this module, so the
//! tensor library could be swapped one day without touching a lesson.

pub mod shape;
pub mod spec;

pub use shape::{
    batchnorm_params, conv2d_out, conv2d_params, conv_transpose2d_out, linear_params, pool2d_out,
    ShapeError,
};
pub use spec::{LayerKind, LayerSpec, Location, NetSpec, SpecError, Summary, SummaryRow};
