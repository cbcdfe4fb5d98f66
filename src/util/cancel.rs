//! The error a long run returns when it stopped because the learner asked it to (Esc). Training
//! loops and experiments both return it, and whoever ran them tells it apart from a failure.

use std::fmt;

/// The error a run returns when it stopped because it was asked to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cancelled;

impl fmt::Display for Cancelled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("cancelled")
    }
}

impl std::error::Error for Cancelled {}
