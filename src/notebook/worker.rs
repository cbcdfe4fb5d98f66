//! Runs experiments off the UI thread: one named thread per run, one run at a time.
//!
//! The worker's [`Ctx`] forwards everything an experiment reports as [`RunEvent`]s over the
//! app's one channel, with progress throttled so a fast loop cannot flood the screen. Stopping
//! is cooperative: Esc sets the job's shared flag, which experiments poll through
//! [`crate::experiments::check_cancel`]. A failing or panicking experiment becomes a
//! `Failed` event shown in its cell; it never takes the TUI down.
//!
//! The run's thread and rayon's pool, which does the heavy lifting, are lowered to
//! [`BACKGROUND_NICE`] on Linux: with every core busy training, the UI thread still gets a core
//! the moment a key arrives instead of waiting for a time slice (issue 14: a trainer must never
//! starve the UI). On an otherwise idle machine the run loses nothing: priority only decides
//! who waits when threads compete.

use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::experiments::{Ctx, Experiment, Params};
use crate::notebook::event::{Event, RunEvent, RunEventKind};
use crate::output::Output;
use crate::util::cancel::Cancelled;

/// The name of the worker thread; the panic hook uses it to keep a caught experiment panic
/// from restoring the terminal under the running app.
pub const THREAD_NAME: &str = "tutor-run";

/// True on a thread that runs experiments: the worker thread, or a thread of rayon's pool,
/// where [`Worker::start`]'s runs go on (`Experiment::call`) and the kernels' parallel parts
/// run. A panic there is caught and shown in the run's cell (rayon carries a pool thread's
/// panic back to the thread that waits for it), so the panic hook leaves the screen alone.
pub fn on_run_thread() -> bool {
    std::thread::current().name() == Some(THREAD_NAME) || rayon::current_thread_index().is_some()
}

/// The nice value of the threads a run computes on (0 is normal, 19 the lowest).
pub const BACKGROUND_NICE: i32 = 10;

/// How often progress and changed outputs are forwarded at most.
const PROGRESS_EVERY: Duration = Duration::from_millis(100);

/// One run to do.
#[derive(Debug, Clone)]
pub struct Job {
    pub id: u64,
    pub experiment: &'static Experiment,
    pub params: Params,
    /// Set to ask the run to stop.
    pub cancel: Arc<AtomicBool>,
}

/// The context an experiment reports through when run by the TUI.
struct ChannelCtx<'a> {
    job: u64,
    tx: &'a Sender<Event>,
    cancel: &'a AtomicBool,
    started: Instant,
    last_progress: Option<Instant>,
    last_flush: Option<Instant>,
    /// Outputs shown since the last flush, latest per key, in the order keys first came.
    pending: Vec<(String, Output)>,
}

impl ChannelCtx<'_> {
    /// Sends the pending outputs if it is time (or `force`): an experiment that redraws its
    /// loss curve every batch costs one clone per 100 ms on the screen side, not one per batch.
    fn flush(&mut self, force: bool) {
        let now = Instant::now();
        let due = self
            .last_flush
            .is_none_or(|t| now.duration_since(t) >= PROGRESS_EVERY);
        if self.pending.is_empty() || !(due || force) {
            return;
        }
        self.last_flush = Some(now);
        for (key, output) in std::mem::take(&mut self.pending) {
            self.send(RunEventKind::Output { key, output });
        }
    }

    fn send(&self, kind: RunEventKind) {
        // The app may already be gone (the learner quit mid-run): nothing left to tell.
        let _ = self.tx.send(Event::Run(RunEvent {
            job: self.job,
            kind,
        }));
    }
}

impl Ctx for ChannelCtx<'_> {
    fn show(&mut self, key: &str, output: Output) {
        crate::output::set(&mut self.pending, key, output);
        self.flush(false);
    }

    fn metric(&mut self, name: &str, value: f64) {
        self.send(RunEventKind::Metric {
            name: name.to_string(),
            value,
        });
    }

    fn progress(&mut self, done: usize, total: usize, what: &str) {
        let now = Instant::now();
        let due = self
            .last_progress
            .is_none_or(|t| now.duration_since(t) >= PROGRESS_EVERY);
        self.flush(false);
        // The last step always goes through, so the bar never stops short of 100%.
        if due || done >= total {
            self.last_progress = Some(now);
            self.send(RunEventKind::Progress {
                done,
                total,
                what: what.to_string(),
                elapsed: now.duration_since(self.started),
            });
        }
    }

    fn cancelled(&self) -> bool {
        self.cancel.load(Ordering::Relaxed)
    }
}

/// Runs `job` on the calling thread, reporting over `tx`, and ends with exactly one of
/// `Finished`, `Cancelled` or `Failed`. The thread body of [`Worker::start`]; tests call it
/// directly to get the same events without a thread.
pub fn run_job(job: &Job, tx: &Sender<Event>) {
    let mut ctx = ChannelCtx {
        job: job.id,
        tx,
        cancel: &job.cancel,
        started: Instant::now(),
        last_progress: None,
        last_flush: None,
        pending: Vec::new(),
    };
    let result = panic::catch_unwind(AssertUnwindSafe(|| {
        job.experiment.call(&job.params, &mut ctx)
    }));
    // Whatever the run showed last is on screen before it is reported finished.
    ctx.flush(true);
    let kind = match result {
        Ok(Ok(())) => RunEventKind::Finished {
            elapsed: ctx.started.elapsed(),
        },
        Ok(Err(e)) if e.downcast_ref::<Cancelled>().is_some() => RunEventKind::Cancelled,
        Ok(Err(e)) => RunEventKind::Failed(format!("{e:#}")),
        Err(payload) => {
            let msg = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_string());
            RunEventKind::Failed(format!(
                "the experiment `{}` crashed: {msg}",
                job.experiment.name
            ))
        }
    };
    ctx.send(kind);
}

/// The worker thread, when one is running.
#[derive(Debug, Default)]
pub struct Worker {
    handle: Option<JoinHandle<()>>,
}

impl Worker {
    /// True while a run's thread is still alive (even one the app has stopped listening to),
    /// so a new run never starts beside it.
    pub fn busy(&self) -> bool {
        self.handle.as_ref().is_some_and(|h| !h.is_finished())
    }

    /// Waits up to `limit` for a cancelled run to notice and end, so quitting does not cut an
    /// experiment off mid-step when it would stop by itself a moment later.
    pub fn wait(&mut self, limit: Duration) {
        let start = Instant::now();
        while self.busy() && start.elapsed() < limit {
            std::thread::sleep(Duration::from_millis(10));
        }
        if let Some(h) = self.handle.take_if(|h| h.is_finished()) {
            let _ = h.join();
        }
    }

    /// Starts `job` on a new named thread.
    pub fn start(&mut self, job: Job, tx: Sender<Event>) -> std::io::Result<()> {
        if let Some(h) = self.handle.take() {
            // Finished (we only start when not busy): reap it.
            let _ = h.join();
        }
        let handle = std::thread::Builder::new()
            .name(THREAD_NAME.to_string())
            .spawn(move || {
                to_background();
                run_job(&job, &tx)
            })?;
        self.handle = Some(handle);
        Ok(())
    }
}

/// Lowers the calling thread and every thread of rayon's global pool (built now if it is not
/// yet) to [`BACKGROUND_NICE`]. The pool is shared by every run and the nice value of a thread
/// never goes back up, so later runs find it lowered already; the UI thread is not in the pool.
fn to_background() {
    lower_this_thread();
    rayon::broadcast(|_| lower_this_thread());
}

/// On Linux a nice value set for a thread id applies to that thread alone. Failing (a sandbox
/// that forbids it) only costs responsiveness, so it is ignored.
#[cfg(target_os = "linux")]
fn lower_this_thread() {
    let tid = rustix::thread::gettid();
    let now = rustix::process::getpriority_process(Some(tid)).unwrap_or(0);
    if now < BACKGROUND_NICE {
        let _ = rustix::process::setpriority_process(Some(tid), BACKGROUND_NICE);
    }
}

/// Elsewhere the same call would lower the whole process, the UI with it: leave it.
#[cfg(not(target_os = "linux"))]
fn lower_this_thread() {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiments::{Default as D, ParamKind, ParamSpec};
    use std::sync::mpsc;

    fn slow(p: &Params, ctx: &mut dyn Ctx) -> anyhow::Result<()> {
        let n = p.int("n")? as usize;
        for i in 0..n {
            crate::experiments::check_cancel(ctx)?;
            ctx.progress(i + 1, n, "step");
        }
        ctx.metric("steps", n as f64);
        Ok(())
    }

    fn chatty(_: &Params, ctx: &mut dyn Ctx) -> anyhow::Result<()> {
        ctx.show("title", Output::Text("curve".into()));
        for i in 0..1000 {
            ctx.show("curve", Output::Text(i.to_string()));
        }
        Ok(())
    }

    fn where_am_i(_: &Params, ctx: &mut dyn Ctx) -> anyhow::Result<()> {
        let named = on_run_thread();
        ctx.metric("on_worker_thread", f64::from(u8::from(named)));
        Ok(())
    }

    fn boom(_: &Params, _: &mut dyn Ctx) -> anyhow::Result<()> {
        panic!("kaboom")
    }

    static SLOW: Experiment = Experiment {
        name: "test.slow",
        summary: "",
        params: &[ParamSpec {
            name: "n",
            kind: ParamKind::Int { min: 0, max: 1000 },
            default: D::Int(1000),
            doc: "",
        }],
        metrics: &["steps"],
        long: true,
        run: slow,
    };
    static CHATTY: Experiment = Experiment {
        name: "test.chatty",
        summary: "",
        params: &[],
        metrics: &[],
        long: false,
        run: chatty,
    };
    static WHERE: Experiment = Experiment {
        name: "test.where",
        summary: "",
        params: &[],
        metrics: &["on_worker_thread"],
        long: false,
        run: where_am_i,
    };
    static BOOM: Experiment = Experiment {
        name: "test.boom",
        summary: "",
        params: &[],
        metrics: &[],
        long: false,
        run: boom,
    };

    fn job(e: &'static Experiment, cancel: bool) -> Job {
        Job {
            id: 7,
            experiment: e,
            params: e.params_from(&Default::default()).unwrap(),
            cancel: Arc::new(AtomicBool::new(cancel)),
        }
    }

    fn kinds(rx: &mpsc::Receiver<Event>) -> Vec<RunEventKind> {
        rx.try_iter()
            .map(|e| match e {
                Event::Run(r) => {
                    assert_eq!(r.job, 7);
                    r.kind
                }
                other => panic!("unexpected {other:?}"),
            })
            .collect()
    }

    #[test]
    fn progress_is_throttled_but_ends_at_total() {
        let (tx, rx) = mpsc::channel();
        run_job(&job(&SLOW, false), &tx);
        let k = kinds(&rx);
        let progress: Vec<_> = k
            .iter()
            .filter_map(|k| match k {
                RunEventKind::Progress { done, .. } => Some(*done),
                _ => None,
            })
            .collect();
        // 1000 steps in far less than 100 ms: the first and the last get through.
        assert!(progress.len() < 10, "{progress:?}");
        assert_eq!(progress.last(), Some(&1000));
        assert!(matches!(k.last(), Some(RunEventKind::Finished { .. })));
    }

    #[test]
    fn outputs_are_coalesced_and_the_last_one_arrives() {
        let (tx, rx) = mpsc::channel();
        run_job(&job(&CHATTY, false), &tx);
        let shown: Vec<(String, String)> = kinds(&rx)
            .into_iter()
            .filter_map(|k| match k {
                RunEventKind::Output {
                    key,
                    output: Output::Text(t),
                } => Some((key, t)),
                _ => None,
            })
            .collect();
        assert!(shown.len() < 10, "{} outputs sent", shown.len());
        assert_eq!(shown[0], ("title".to_string(), "curve".to_string()));
        assert_eq!(
            shown.last(),
            Some(&("curve".to_string(), "999".to_string()))
        );
    }

    #[test]
    fn cancel_flag_ends_the_run_as_cancelled() {
        let (tx, rx) = mpsc::channel();
        run_job(&job(&SLOW, true), &tx);
        let k = kinds(&rx);
        assert!(matches!(k.as_slice(), [RunEventKind::Cancelled]), "{k:?}");
    }

    #[test]
    fn a_panic_is_reported_as_failure() {
        let (tx, rx) = mpsc::channel();
        // The thread named like the worker's keeps the test output free of the panic message
        // only under the TUI's hook; here we just check the event.
        run_job(&job(&BOOM, false), &tx);
        let k = kinds(&rx);
        match k.as_slice() {
            [RunEventKind::Failed(m)] => assert!(m.contains("kaboom"), "{m}"),
            other => panic!("{other:?}"),
        }
    }

    /// Every event a worker thread sends, until it ends and drops the sender.
    fn drain(rx: &mpsc::Receiver<Event>) -> Vec<RunEventKind> {
        let mut out = Vec::new();
        loop {
            match rx.recv_timeout(Duration::from_secs(10)) {
                Ok(Event::Run(r)) => {
                    assert_eq!(r.job, 7);
                    out.push(r.kind);
                }
                Ok(other) => panic!("unexpected {other:?}"),
                Err(mpsc::RecvTimeoutError::Disconnected) => return out,
                Err(mpsc::RecvTimeoutError::Timeout) => panic!("no event for 10 s: {out:?}"),
            }
        }
    }

    fn is_end(k: &RunEventKind) -> bool {
        matches!(
            k,
            RunEventKind::Finished { .. } | RunEventKind::Cancelled | RunEventKind::Failed(_)
        )
    }

    #[test]
    fn worker_thread_runs_one_job() {
        let mut w = Worker::default();
        let (tx, rx) = mpsc::channel();
        w.start(job(&SLOW, false), tx).unwrap();
        let k = drain(&rx);
        // The run's metric arrives, then exactly one end event, last.
        assert!(
            k.iter().any(|k| matches!(
                k,
                RunEventKind::Metric { name, value } if name == "steps" && *value == 1000.0
            )),
            "{k:?}"
        );
        assert!(
            matches!(k.last(), Some(RunEventKind::Finished { .. })),
            "{k:?}"
        );
        assert_eq!(k.iter().filter(|k| is_end(k)).count(), 1, "{k:?}");
        w.wait(Duration::from_secs(10));
        assert!(!w.busy());

        // The same worker takes the next job, on a thread with the name the panic hook knows.
        let (tx, rx) = mpsc::channel();
        w.start(job(&WHERE, false), tx).unwrap();
        let k = drain(&rx);
        assert!(
            matches!(
                k.as_slice(),
                [RunEventKind::Metric { name, value }, RunEventKind::Finished { .. }]
                    if name == "on_worker_thread" && *value == 1.0
            ),
            "{k:?}"
        );
    }
}
