//! The events the TUI reacts to: keys and resizes from the terminal, ticks, and what the
//! experiment worker reports.
//!
//! Everything that changes the app's state arrives as one of these, so the state can be driven
//! by synthetic events in tests exactly as the terminal and the worker drive it for real.

use std::time::Duration;

use ratatui::crossterm::event::KeyEvent;

use crate::output::Output;

/// Anything the app reacts to.
#[derive(Debug, Clone)]
pub enum Event {
    Key(KeyEvent),
    /// The terminal changed size (the next frame is laid out for it).
    Resize(u16, u16),
    /// A pause: a wait for input ended with no key, half a second or more after the last one
    /// (the moment to save the visits).
    Tick,
    /// A report from the experiment worker.
    Run(RunEvent),
}

/// A report from one run of an experiment. `job` says which run, so reports from a run the
/// learner has moved away from are recognised and dropped.
#[derive(Debug, Clone)]
pub struct RunEvent {
    pub job: u64,
    pub kind: RunEventKind,
}

/// What a run reports, in the order it happens.
#[derive(Debug, Clone)]
pub enum RunEventKind {
    /// Show (or replace in place) the output under `key`.
    Output {
        key: String,
        output: Output,
    },
    Metric {
        name: String,
        value: f64,
    },
    /// `done` of `total` units, after `elapsed` of work.
    Progress {
        done: usize,
        total: usize,
        what: String,
        elapsed: Duration,
    },
    Finished {
        elapsed: Duration,
    },
    /// The experiment stopped because it was asked to.
    Cancelled,
    /// The experiment returned an error or panicked.
    Failed(String),
}
