//! The experiments lessons can run, one module per topic. Each module exposes `Experiment`
//! statics; [`ALL`] lists them for the registry in [`crate::experiment`].

pub mod conv_size;
pub mod filters;
pub mod mlp_cnn;
pub mod nets;
pub mod training;
pub mod transfer;

use crate::experiment::Experiment;

/// Every experiment, in lesson order.
pub static ALL: &[&Experiment] = &[
    &filters::PHOTO,
    &filters::WORKED,
    &filters::EDGES,
    &filters::APPLY,
    &filters::BORDERS,
    &filters::CUSTOM,
    &conv_size::EXPLORER,
    &conv_size::LAYER,
    &nets::INSPECT,
    &mlp_cnn::SAMPLES,
    &mlp_cnn::LR_FIND,
    &mlp_cnn::COMPARE,
    &transfer::SOURCE,
    &transfer::LAYERS,
    &transfer::BATCHNORM,
    &transfer::HEAD_LR,
    &transfer::COMPARE,
];
