//! The frame-time trace (`TUTOR_FRAME_TRACE=FILE`): how long the notebook takes from reading a
//! key to having the redrawn frame on the terminal, and from process start to the first frame.
//!
//! The event loop ([`crate::notebook::terminal`]) tells a [`FrameTrace`] when it reads a key
//! ([`FrameTrace::key_read`]) and when a frame has been drawn and flushed
//! ([`FrameTrace::frame_drawn`]); every key read since the previous frame gets one latency
//! sample, tagged with whether a run was going. It also records how late the loop woke from an
//! idle wait ([`FrameTrace::woke`]): a trainer that starved the UI thread would show there
//! even when no key was pressed. At exit the loop writes the file once, atomically
//! ([`FrameTrace::write`]): a summary (percentiles, first frame) then one line per key.
//!
//! Nothing here is read or written unless the variable is set.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The environment variable naming the trace file.
pub const ENV: &str = "TUTOR_FRAME_TRACE";

static PROCESS_START: OnceLock<Instant> = OnceLock::new();

/// Notes the moment the process started; `main` calls it first, and the first call wins. The
/// first-frame figure is measured from here (from the notebook's start if it was never called).
pub fn mark_process_start() -> Instant {
    *PROCESS_START.get_or_init(Instant::now)
}

/// One key's latency: read from the terminal to its frame drawn.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    pub latency: Duration,
    /// Of which drawing the frame (layout, render, writing to the terminal); the rest went on
    /// handling the keys and the worker's reports, or waiting for the CPU.
    pub draw: Duration,
    /// A run was going when the frame was drawn.
    pub training: bool,
}

/// Percentiles of a set of durations (nearest rank: the smallest value with at least p% of the
/// samples at or below it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    pub n: usize,
    pub p50: Duration,
    pub p95: Duration,
    pub p99: Duration,
    pub max: Duration,
}

impl Summary {
    /// The summary of `values`, or `None` when there are none.
    pub fn of(values: impl IntoIterator<Item = Duration>) -> Option<Summary> {
        let mut v: Vec<Duration> = values.into_iter().collect();
        if v.is_empty() {
            return None;
        }
        v.sort_unstable();
        let rank = |p: usize| v[(v.len() * p).div_ceil(100).max(1) - 1];
        Some(Summary {
            n: v.len(),
            p50: rank(50),
            p95: rank(95),
            p99: rank(99),
            max: v[v.len() - 1],
        })
    }
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "n={} p50={} p95={} p99={} max={}",
            self.n,
            ms(self.p50),
            ms(self.p95),
            ms(self.p99),
            ms(self.max)
        )
    }
}

/// Milliseconds with three decimals.
fn ms(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64() * 1e3)
}

/// What one notebook session measured, and where to write it.
#[derive(Debug)]
pub struct FrameTrace {
    path: PathBuf,
    start: Instant,
    /// Process start to the end of the first frame, how long drawing it took, and the
    /// wall-clock time it ended (so a script that noted when it launched the tutor can check
    /// the figure from outside).
    first_frame: Option<(Duration, Duration, SystemTime)>,
    /// Keys read since the last frame.
    unframed: Vec<Instant>,
    keys: Vec<Sample>,
    /// How much later than asked idle waits ended, by whether a run was going.
    late: Vec<Sample>,
    frames: usize,
}

impl FrameTrace {
    /// The trace `TUTOR_FRAME_TRACE` asks for, if it is set (and not empty).
    pub fn from_env() -> Option<FrameTrace> {
        let path = std::env::var_os(ENV).filter(|p| !p.is_empty())?;
        Some(FrameTrace::new(PathBuf::from(path), mark_process_start()))
    }

    /// A trace written to `path`, timing the first frame from `start`.
    pub fn new(path: PathBuf, start: Instant) -> FrameTrace {
        FrameTrace {
            path,
            start,
            first_frame: None,
            unframed: Vec::new(),
            keys: Vec::new(),
            late: Vec::new(),
            frames: 0,
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A key was read from the terminal at `at`.
    pub fn key_read(&mut self, at: Instant) {
        self.unframed.push(at);
    }

    /// A frame begun at `from` was drawn and flushed at `at`; `training` says whether a run
    /// was going.
    pub fn frame_drawn(&mut self, from: Instant, at: Instant, training: bool) {
        self.frames += 1;
        let draw = at.saturating_duration_since(from);
        if self.first_frame.is_none() {
            let since_start = at.saturating_duration_since(self.start);
            self.first_frame = Some((since_start, draw, SystemTime::now()));
        }
        for read in self.unframed.drain(..) {
            self.keys.push(Sample {
                latency: at.saturating_duration_since(read),
                draw,
                training,
            });
        }
    }

    /// A wait for input of `asked` ended with nothing to read after `took`.
    pub fn woke(&mut self, asked: Duration, took: Duration, training: bool) {
        self.late.push(Sample {
            latency: took.saturating_sub(asked),
            draw: Duration::ZERO,
            training,
        });
    }

    /// The latencies of the keys pressed while a run was going (`true`) or not.
    pub fn keys(&self, training: bool) -> Option<Summary> {
        Summary::of(
            self.keys
                .iter()
                .filter(|s| s.training == training)
                .map(|s| s.latency),
        )
    }

    /// How long the frames those keys waited for took to draw.
    pub fn draws(&self, training: bool) -> Option<Summary> {
        Summary::of(
            self.keys
                .iter()
                .filter(|s| s.training == training)
                .map(|s| s.draw),
        )
    }

    /// The text of the trace file.
    pub fn report(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "# tutor frame trace ({ENV}); times in ms");
        match self.first_frame {
            Some((d, draw, wall)) => {
                let _ = writeln!(out, "first_frame {}", ms(d));
                let _ = writeln!(out, "first_frame_draw {}", ms(draw));
                let wall = wall.duration_since(UNIX_EPOCH).unwrap_or_default();
                let _ = writeln!(
                    out,
                    "first_frame_unix {}.{:09}",
                    wall.as_secs(),
                    wall.subsec_nanos()
                );
            }
            None => {
                let _ = writeln!(out, "first_frame none");
            }
        }
        let _ = writeln!(out, "frames {}", self.frames);
        let line = |s: Option<Summary>| s.map_or_else(|| "n=0".to_string(), |s| s.to_string());
        let _ = writeln!(out, "keys_training {}", line(self.keys(true)));
        let _ = writeln!(out, "keys_idle {}", line(self.keys(false)));
        let _ = writeln!(out, "draw_training {}", line(self.draws(true)));
        let _ = writeln!(out, "draw_idle {}", line(self.draws(false)));
        for (name, training) in [("wake_late_training", true), ("wake_late_idle", false)] {
            let s = Summary::of(
                self.late
                    .iter()
                    .filter(|s| s.training == training)
                    .map(|s| s.latency),
            );
            let _ = writeln!(out, "{name} {}", line(s));
        }
        for s in &self.keys {
            let what = if s.training { "training" } else { "idle" };
            let _ = writeln!(out, "key {} draw {} {what}", ms(s.latency), ms(s.draw));
        }
        out
    }

    /// Writes the trace file (replacing an older one).
    pub fn write(&self) -> anyhow::Result<()> {
        crate::util::atomic::write_atomic(&self.path, self.report().as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(ms: u64) -> Duration {
        Duration::from_millis(ms)
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        assert_eq!(Summary::of([]), None);
        let one = Summary::of([d(7)]).unwrap();
        assert_eq!((one.n, one.p50, one.p99, one.max), (1, d(7), d(7), d(7)));
        // 1..=100 ms, shuffled: the p-th percentile is p ms.
        let v: Vec<Duration> = (1..=100).map(|i| d((i * 37) % 100 + 1)).collect();
        let s = Summary::of(v).unwrap();
        assert_eq!(
            s,
            Summary {
                n: 100,
                p50: d(50),
                p95: d(95),
                p99: d(99),
                max: d(100)
            }
        );
        // Ten values: p95 and p99 are the largest, p50 the fifth.
        let s = Summary::of((1..=10).map(d)).unwrap();
        assert_eq!((s.p50, s.p95, s.p99), (d(5), d(10), d(10)));
    }

    #[test]
    fn each_key_is_timed_to_the_frame_after_it() {
        let t0 = Instant::now();
        let mut t = FrameTrace::new(PathBuf::from("unused"), t0);
        t.frame_drawn(t0 + d(30), t0 + d(40), false);
        // Two keys read in one batch, one frame for both.
        t.key_read(t0 + d(100));
        t.key_read(t0 + d(102));
        t.frame_drawn(t0 + d(103), t0 + d(105), true);
        // A frame with no key adds nothing.
        t.frame_drawn(t0 + d(190), t0 + d(200), true);
        t.key_read(t0 + d(300));
        t.frame_drawn(t0 + d(300), t0 + d(301), false);
        let training = t.keys(true).unwrap();
        assert_eq!((training.n, training.p50, training.max), (2, d(3), d(5)));
        let idle = t.keys(false).unwrap();
        assert_eq!((idle.n, idle.max), (1, d(1)));
        t.woke(d(50), d(52), true);
        let report = t.report();
        assert!(
            report.contains("first_frame 40.000\nfirst_frame_draw 10.000\n"),
            "{report}"
        );
        assert!(report.contains("frames 4\n"), "{report}");
        assert!(report.contains("keys_training n=2 p50=3.000"), "{report}");
        assert!(
            report.contains("wake_late_training n=1 p50=2.000"),
            "{report}"
        );
        assert!(report.contains("wake_late_idle n=0\n"), "{report}");
        assert!(report.contains("draw_training n=2 p50=2.000"), "{report}");
        let lines = "key 5.000 draw 2.000 training\nkey 3.000 draw 2.000 training\n\
                     key 1.000 draw 1.000 idle\n";
        assert!(report.contains(lines), "{report}");
    }

    #[test]
    fn the_file_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("trace.txt");
        let t0 = Instant::now();
        let mut t = FrameTrace::new(path.clone(), t0);
        t.frame_drawn(t0 + d(2), t0 + d(12), false);
        t.write().unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("# tutor frame trace"), "{text}");
        assert!(text.contains("first_frame 12.000\n"), "{text}");
    }
}
