//! `tutor`: a terminal notebook course on convolutional neural networks.
//!
//! Data flows one way: lesson file -> loaded lesson -> cells -> (experiment run on a worker
//! thread -> events) -> app state -> pure rendering. Training code never knows a screen exists.

pub mod app;
pub mod calc;
pub mod cli;
pub mod data;
pub mod event;
pub mod experiment;
pub mod experiments;
pub mod filters;
pub mod headless;
pub mod lesson;
pub mod nn;
pub mod output;
pub mod progress;
pub mod quiz;
pub mod render;
pub mod train;
pub mod transfer;
pub mod tui;
pub mod ui;
pub mod worker;
