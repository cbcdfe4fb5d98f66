//! `tutor`: a terminal notebook course on convolutional neural networks.
//!
//! Data flows one way: lesson file -> loaded lesson -> cells -> (experiment run on a worker
//! thread -> events) -> app state -> pure rendering. Training code never knows a screen exists.

pub mod data;
pub mod filters;
