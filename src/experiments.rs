//! The experiments lessons can run, one module per topic. Each module exposes `Experiment`
//! statics; [`ALL`] lists them for the registry in [`crate::experiment`].

pub mod conv_size;
pub mod nets;

use crate::experiment::Experiment;

/// Every experiment, in lesson order.
pub static ALL: &[&Experiment] = &[&conv_size::EXPLORER, &conv_size::LAYER, &nets::INSPECT];
