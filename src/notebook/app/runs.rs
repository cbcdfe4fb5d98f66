//! Run cells and the run queue: picking and changing parameters, queueing runs (one at a
//! time), handing the next [`Job`] to the event loop, cancelling, and applying the worker's
//! [`RunEvent`]s to the cell they belong to. An exercise's run is graded by the answers module
//! when it ends.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use super::{cell_state, App, CellState, Message, Mode, RunResult, RunStatus, Running};
use crate::course::lesson::CellBody;
use crate::experiments::{ParamKind, Value};
use crate::notebook::event::{RunEvent, RunEventKind};
use crate::notebook::worker::Job;

impl App {
    pub(super) fn select_param(&mut self, forward: bool) {
        let CellBody::Run(run) = &self.lessons[self.current].cells[self.focus].body else {
            return;
        };
        let n = run.adjust.len();
        if let (CellState::Run(st), true) = (&mut self.cells[self.focus], n > 0) {
            st.selected = if forward {
                (st.selected + 1) % n
            } else {
                (st.selected + n - 1) % n
            };
        }
    }

    /// `+`/`-` on the selected parameter; quick experiments rerun at once.
    pub(super) fn adjust(&mut self, up: bool) {
        let focus = self.focus;
        let CellBody::Run(run) = &self.lessons[self.current].cells[focus].body else {
            return;
        };
        let CellState::Run(st) = &mut self.cells[focus] else {
            return;
        };
        let Some(name) = run.adjust.get(st.selected) else {
            return;
        };
        let Some(spec) = run.experiment.param(name) else {
            return;
        };
        let Some(v) = st.values.get(name) else {
            return;
        };
        match cell_state::step(spec, v, up) {
            Some(next) => {
                st.values.insert(name.clone(), next);
                if !run.experiment.long {
                    self.enqueue_run(focus);
                }
            }
            None => {
                self.message = Some(Message {
                    text: match spec.kind {
                        ParamKind::Text | ParamKind::Matrix { .. } => {
                            format!("`{name}` cannot be stepped with +/-; i types a value")
                        }
                        _ => format!("`{name}` is at its limit"),
                    },
                    error: false,
                })
            }
        }
    }

    /// Applies the value typed for the focused run cell's selected parameter.
    pub(super) fn apply_edit(&mut self) {
        let focus = self.focus;
        let CellBody::Run(run) = &self.lessons[self.current].cells[focus].body else {
            return;
        };
        let CellState::Run(st) = &mut self.cells[focus] else {
            return;
        };
        let Some((name, spec)) = run
            .adjust
            .get(st.selected)
            .and_then(|n| Some((n.clone(), run.experiment.param(n)?)))
        else {
            return;
        };
        match cell_state::typed_value(spec, st.edit.text()) {
            Ok(v) => {
                st.values.insert(name, v);
                st.edit_error = None;
                self.mode = Mode::Normal;
                if !run.experiment.long {
                    self.enqueue_run(focus);
                }
            }
            Err(e) => st.edit_error = Some(e),
        }
    }

    /// Queues a run of run cell `cell` with its current values (replacing a queued one).
    pub(super) fn enqueue_run(&mut self, cell: usize) {
        let CellBody::Run(run) = &self.lessons[self.current].cells[cell].body else {
            return;
        };
        let CellState::Run(st) = &mut self.cells[cell] else {
            return;
        };
        if self.running.as_ref().is_some_and(|r| r.cell == cell) && run.experiment.long {
            self.message = Some(Message {
                text: "already running (Esc stops it)".into(),
                error: false,
            });
            return;
        }
        let given: BTreeMap<String, Value> = st.values.clone();
        match run.experiment.params_from(&given) {
            Ok(params) => {
                self.queue.retain(|(c, _)| *c != cell);
                self.queue.push_back((cell, params));
                st.result.queue();
            }
            Err(e) => st.result.status = RunStatus::Failed(e.to_string()),
        }
    }

    /// `r`: every run cell, top to bottom.
    pub(super) fn run_all(&mut self) {
        for i in 0..self.cells.len() {
            self.enqueue_run(i);
        }
    }

    /// Asks the running experiment to stop and forgets the queued ones.
    pub(super) fn cancel_all(&mut self) {
        for (cell, _) in std::mem::take(&mut self.queue) {
            if let Some(r) = self.result_mut(cell) {
                r.unqueue();
            }
        }
        if let Some(r) = &self.running {
            r.cancel.store(true, Ordering::Relaxed);
            let cell = r.cell;
            if let Some(res) = self.result_mut(cell) {
                res.status = RunStatus::Cancelling;
            }
        }
    }

    fn result_mut(&mut self, cell: usize) -> Option<&mut RunResult> {
        match self.cells.get_mut(cell)? {
            CellState::Run(r) => Some(&mut r.result),
            CellState::Exercise(e) => Some(&mut e.result),
            _ => None,
        }
    }

    /// The status of the run in progress, if any (the status bar repeats its progress, which
    /// a tall cell may have scrolled out of view).
    pub fn run_status(&self) -> Option<&RunStatus> {
        let cell = self.running.as_ref()?.cell;
        match self.cells.get(cell)? {
            CellState::Run(r) => Some(&r.result.status),
            CellState::Exercise(e) => Some(&e.result.status),
            _ => None,
        }
    }

    /// True while a run is going or waiting.
    pub fn busy(&self) -> bool {
        self.running.is_some() || !self.queue.is_empty()
    }

    /// The next run to hand to the worker, if none is running. The caller must start it.
    pub fn next_job(&mut self) -> Option<Job> {
        if self.running.is_some() {
            return None;
        }
        let (cell, params) = self.queue.pop_front()?;
        let experiment = match &self.lessons[self.current].cells[cell].body {
            CellBody::Run(r) => r.experiment,
            CellBody::Exercise(e) => e.experiment,
            _ => return None,
        };
        let id = self.next_job;
        self.next_job += 1;
        let cancel = Arc::new(AtomicBool::new(false));
        self.running = Some(Running {
            job: id,
            cell,
            cancel: cancel.clone(),
        });
        if let Some(r) = self.result_mut(cell) {
            r.start(params.values.clone());
        }
        self.follow_run = cell == self.focus;
        Some(Job {
            id,
            experiment,
            params,
            cancel,
        })
    }

    /// The worker could not start the job (no thread): report it in the cell.
    pub fn job_failed_to_start(&mut self, job: u64, why: String) {
        self.on_run(RunEvent {
            job,
            kind: RunEventKind::Failed(format!("could not start the run: {why}")),
        });
    }

    pub(super) fn on_run(&mut self, ev: RunEvent) {
        let Some(running) = self.running.clone().filter(|r| r.job == ev.job) else {
            // A run the learner moved away from (another lesson, a cancelled chain).
            return;
        };
        let cell = running.cell;
        let cancelling = running.cancel.load(Ordering::Relaxed);
        let Some(res) = self.result_mut(cell) else {
            return;
        };
        let ended = match ev.kind {
            RunEventKind::Output { key, output } => {
                res.show(key, output);
                false
            }
            RunEventKind::Metric { name, value } => {
                res.metrics.insert(name, value);
                false
            }
            RunEventKind::Progress {
                done,
                total,
                what,
                elapsed,
            } => {
                if !cancelling {
                    res.status = RunStatus::Running {
                        done,
                        total,
                        what,
                        elapsed,
                    };
                }
                false
            }
            RunEventKind::Finished { elapsed } => {
                res.end(RunStatus::Done { elapsed });
                true
            }
            RunEventKind::Cancelled => {
                res.end(RunStatus::Cancelled);
                true
            }
            RunEventKind::Failed(m) => {
                res.end(RunStatus::Failed(m));
                true
            }
        };
        if ended {
            self.running = None;
            let long_run = match &self.lessons[self.current].cells[cell].body {
                CellBody::Run(r) => r.experiment.long,
                _ => false,
            };
            if long_run {
                // Training takes minutes: its outputs outlive the session.
                self.save_runs();
            }
            self.exercise_ended(cell);
            if cell == self.focus {
                self.follow_focus();
            }
        }
    }
}
