//! `tutor`: a terminal notebook course on convolutional neural networks.
//!
//! The layers, from the top down (arrows only point down; see `ARCHITECTURE.md`):
//! [`notebook`] (the TUI) and [`export`] (headless runs and files) use [`course`] (lessons,
//! quizzes, progress), which uses [`experiments`] (what a lesson cell runs), which use
//! [`train`] (the training loop), [`nn`] (networks over dfdx), [`data`] and [`imaging`].
//! [`bench`] (`tutor bench`) uses [`experiments`] and [`nn`].
//! [`output`] and [`util`] are leaves everything may use.

pub mod bench;
pub mod classroom;
pub mod cli;
pub mod course;
pub mod data;
pub mod experiments;
pub mod export;
pub mod imaging;
pub mod nn;
pub mod notebook;
pub mod output;
pub mod train;
pub mod util;
