//! The state each kind of cell keeps while the lesson is open: a run's outputs and parameter
//! values, a quiz's typed answer, hints and verdict, an exercise's input and goal results.
//! Text and code cells keep nothing.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use super::input::LineInput;
use crate::course::quiz::{self, Draw};
use crate::experiments::{coerce, ParamKind, ParamSpec, Value};
use crate::output::Output;

/// What a cell remembers between frames.
#[derive(Debug, Clone)]
pub enum CellState {
    /// Text and code: nothing to remember.
    Static,
    Run(RunState),
    Quiz(QuizState),
    Exercise(ExerciseState),
}

/// Where a run stands.
#[derive(Debug, Clone, PartialEq)]
pub enum RunStatus {
    /// Never run in this session.
    Idle,
    /// Waiting for the run before it to finish.
    Queued,
    Running {
        done: usize,
        total: usize,
        what: String,
        elapsed: Duration,
    },
    /// The learner pressed Esc; waiting for the experiment to notice.
    Cancelling,
    Done {
        elapsed: Duration,
    },
    Cancelled,
    Failed(String),
}

impl RunStatus {
    /// Still to finish: queued, running or being cancelled.
    pub fn is_active(&self) -> bool {
        matches!(
            self,
            RunStatus::Queued | RunStatus::Running { .. } | RunStatus::Cancelling
        )
    }

    /// Fraction done and the estimated time left, once there is a total to go by.
    pub fn eta(&self) -> Option<(f64, Option<Duration>)> {
        match self {
            RunStatus::Running {
                done,
                total,
                elapsed,
                ..
            } if *total > 0 => {
                let done = (*done).min(*total);
                let ratio = done as f64 / *total as f64;
                // The rate so far is the best guess for the rest; no guess before the first unit.
                let eta = (done > 0).then(|| elapsed.mul_f64((*total - done) as f64 / done as f64));
                Some((ratio, eta))
            }
            _ => None,
        }
    }
}

/// The outputs and metrics of a cell's latest run.
#[derive(Debug, Clone)]
pub struct RunResult {
    pub outputs: Vec<(String, Output)>,
    pub metrics: BTreeMap<String, f64>,
    pub status: RunStatus,
    /// Keys the current run has shown. The previous run's outputs stay on screen until the
    /// new run replaces them (no flicker when a parameter changes); the ones it did not
    /// replace are dropped when it ends.
    fresh: Vec<String>,
    /// The status before the run was queued, shown again if the queue is cancelled.
    before_queue: Option<RunStatus>,
    /// The parameter values of the run the outputs come from: when they differ from the
    /// cell's values now, the outputs are out of date.
    pub ran_with: Option<BTreeMap<String, Value>>,
}

impl Default for RunResult {
    fn default() -> Self {
        RunResult {
            outputs: Vec::new(),
            metrics: BTreeMap::new(),
            status: RunStatus::Idle,
            fresh: Vec::new(),
            before_queue: None,
            ran_with: None,
        }
    }
}

impl RunResult {
    /// A run of this cell is waiting its turn.
    pub fn queue(&mut self) {
        if !self.status.is_active() {
            self.before_queue = Some(std::mem::replace(&mut self.status, RunStatus::Queued));
        }
    }

    /// The waiting run was called off before it started.
    pub fn unqueue(&mut self) {
        if self.status == RunStatus::Queued {
            self.status = self.before_queue.take().unwrap_or(RunStatus::Idle);
        }
    }

    /// The outputs of a finished run, put back (from an earlier session).
    pub fn restored(
        outputs: Vec<(String, Output)>,
        metrics: BTreeMap<String, f64>,
        elapsed: Duration,
        ran_with: BTreeMap<String, Value>,
    ) -> Self {
        RunResult {
            outputs,
            metrics,
            status: RunStatus::Done { elapsed },
            ran_with: Some(ran_with),
            ..RunResult::default()
        }
    }

    /// Whether the outputs on show came from other parameter values than `values`.
    pub fn is_stale(&self, values: &BTreeMap<String, Value>) -> bool {
        !self.status.is_active() && self.ran_with.as_ref().is_some_and(|w| w != values)
    }

    /// The run the learner left (another lesson) ends as cancelled, keeping what it showed.
    pub fn abandon(&mut self) {
        match self.status {
            RunStatus::Queued => self.unqueue(),
            RunStatus::Running { .. } | RunStatus::Cancelling => self.end(RunStatus::Cancelled),
            _ => {}
        }
    }

    /// A run of this cell with `values` has started.
    pub fn start(&mut self, values: BTreeMap<String, Value>) {
        self.ran_with = Some(values);
        self.before_queue = None;
        self.fresh.clear();
        self.metrics.clear();
        self.status = RunStatus::Running {
            done: 0,
            total: 0,
            what: String::new(),
            elapsed: Duration::ZERO,
        };
    }

    pub fn show(&mut self, key: String, output: Output) {
        if !self.fresh.contains(&key) {
            self.fresh.push(key.clone());
        }
        crate::output::set(&mut self.outputs, &key, output);
    }

    /// The run ended with `status`: keep only what it showed.
    pub fn end(&mut self, status: RunStatus) {
        let fresh = std::mem::take(&mut self.fresh);
        self.outputs.retain(|(k, _)| fresh.contains(k));
        self.status = status;
    }
}

/// A run cell: the parameter values in use and the latest result.
#[derive(Debug, Clone)]
pub struct RunState {
    /// Every parameter of the experiment, starting from the lesson's values.
    pub values: BTreeMap<String, Value>,
    /// Index into the cell's `adjust` list of the parameter +/- changes.
    pub selected: usize,
    pub result: RunResult,
    /// The selected parameter's value as the learner types it (`i`), for values +/- cannot
    /// reach quickly or at all (a 227-pixel input, a kernel matrix, a layer spec).
    pub edit: LineInput,
    /// Why the typed value was refused.
    pub edit_error: Option<String>,
}

/// How a quiz or exercise stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskStatus {
    Open,
    Solved,
    /// The learner gave up and was shown the answer.
    Revealed,
}

/// The reaction to the last answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Feedback {
    Correct(String),
    Wrong(String),
    /// Not an answer (empty, not a number, a typo in a matrix): not counted.
    Invalid(String),
    /// A graded answer, kept for the teacher.
    Recorded(String),
}

/// A quiz cell.
#[derive(Debug, Clone)]
pub struct QuizState {
    /// Which drill question (0 for a plain quiz).
    pub round: u32,
    pub seed: u64,
    /// The drill's drawn values, or why none could be drawn.
    pub draw: Result<Draw, String>,
    /// The question with the drawn values filled in.
    pub question: String,
    pub input: LineInput,
    /// Choices ticked in a select-all question.
    pub picked: BTreeSet<usize>,
    /// How many hints are shown.
    pub hints: usize,
    pub feedback: Option<Feedback>,
    pub status: TaskStatus,
    /// Wrong answers given in this session.
    pub wrong: usize,
    /// The right answer in words, once shown.
    pub answer: Option<String>,
    /// The explanation with the computed answer and drawn values filled in.
    pub explanation: String,
    /// The points of a graded question (answers are recorded, not checked).
    pub graded: Option<f64>,
}

impl QuizState {
    pub fn new(
        quiz: &crate::course::lesson::Quiz,
        seed: u64,
        round: u32,
        dir: &std::path::Path,
    ) -> Self {
        let draw = quiz::draw(quiz, seed, dir);
        let (question, explanation) = match &draw {
            Ok(d) => (
                quiz::question_text(quiz, d),
                quiz::explanation_text(quiz, d, dir, seed),
            ),
            Err(_) => (quiz.question.clone(), quiz.explanation.clone()),
        };
        QuizState {
            round,
            seed,
            draw,
            question,
            explanation,
            input: LineInput::default(),
            picked: BTreeSet::new(),
            hints: 0,
            feedback: None,
            status: TaskStatus::Open,
            wrong: 0,
            answer: None,
            graded: None,
        }
    }
}

/// An exercise cell.
#[derive(Debug, Clone)]
pub struct ExerciseState {
    pub input: LineInput,
    pub hints: usize,
    pub feedback: Option<Feedback>,
    pub status: TaskStatus,
    pub result: RunResult,
    /// The input of the run shown (recorded with the attempt when it ends).
    pub submitted: Option<String>,
    /// Whether the last finished run met each goal (None before any run).
    pub goals_met: Option<Vec<bool>>,
    /// The points of a graded exercise (its input is recorded, not checked).
    pub graded: Option<f64>,
}

impl ExerciseState {
    pub fn new() -> Self {
        ExerciseState {
            input: LineInput::default(),
            hints: 0,
            feedback: None,
            status: TaskStatus::Open,
            result: RunResult::default(),
            submitted: None,
            goals_met: None,
            graded: None,
        }
    }
}

impl Default for ExerciseState {
    fn default() -> Self {
        Self::new()
    }
}

/// What a learner is told on submitting an empty input.
pub const EMPTY_INPUT: &str = "type something first";

/// The learner's typed text as a value for `spec`, checked and converted (a typed matrix like
/// `1 0 -1; 2 0 -2; 1 0 -1` is parsed by [`coerce`]).
pub fn typed_value(spec: &ParamSpec, text: &str) -> Result<Value, String> {
    let t = text.trim();
    if t.is_empty() {
        return Err(EMPTY_INPUT.into());
    }
    // `coerce` parses typed text as the parameter's kind asks (numbers, booleans, matrices).
    coerce(spec, Value::Str(t.to_string()))
}

/// A value for display: floats without binary noise.
pub fn show_value(v: &Value) -> String {
    match v {
        Value::Float(x) => quiz::format_number(*x),
        other => other.to_string(),
    }
}

/// The next value of a parameter when the learner presses `+` (`up`) or `-`. None when the
/// parameter cannot be stepped (free text, matrices) or is at its limit.
pub fn step(spec: &ParamSpec, v: &Value, up: bool) -> Option<Value> {
    let next = match (spec.kind, v) {
        (ParamKind::Int { min, max }, Value::Int(i)) => {
            Value::Int(if up { i + 1 } else { i - 1 }.clamp(min, max))
        }
        (ParamKind::Float { min, max }, Value::Float(x)) => {
            Value::Float(step_float(*x, min, max, up))
        }
        (ParamKind::Float { min, max }, Value::Int(i)) => {
            Value::Float(step_float(*i as f64, min, max, up))
        }
        (ParamKind::Bool, Value::Bool(b)) => Value::Bool(!b),
        (ParamKind::Choice(words), Value::Str(s)) if !words.is_empty() => {
            let i = words.iter().position(|w| w == s).unwrap_or(0);
            let n = words.len();
            let j = if up { (i + 1) % n } else { (i + n - 1) % n };
            Value::Str(words[j].to_string())
        }
        _ => return None,
    };
    (next != *v).then_some(next)
}

/// Floats over a wide positive range (learning rates) step along 1-2-5 per decade, so they
/// stay round numbers; narrow ranges step by a twentieth of the range, rounded likewise.
fn step_float(x: f64, min: f64, max: f64, up: bool) -> f64 {
    let y = if min > 0.0 && max / min >= 100.0 {
        let x = x.max(min);
        let d = x.log10().floor() as i32;
        let mut cands = Vec::new();
        for e in d - 1..=d + 1 {
            for m in [1.0, 2.0, 5.0] {
                cands.push(decade(m, e));
            }
        }
        if up {
            cands
                .into_iter()
                .find(|c| *c > x * (1.0 + 1e-9))
                .unwrap_or(max)
        } else {
            cands
                .into_iter()
                .rev()
                .find(|c| *c < x * (1.0 - 1e-9))
                .unwrap_or(min)
        }
    } else {
        let span = if (max - min).is_finite() && max > min {
            max - min
        } else {
            x.abs().max(1.0)
        };
        let raw = span / 20.0;
        let e = raw.log10().floor() as i32;
        let m = raw / decade(1.0, e);
        let step = decade(
            if m < 1.5 {
                1.0
            } else if m < 3.5 {
                2.0
            } else {
                5.0
            },
            e,
        );
        let k = (x / step).round() + if up { 1.0 } else { -1.0 };
        // Through text to shed the binary noise of k * step (0.30000000000000004).
        quiz::format_number(k * step).parse().unwrap_or(k * step)
    };
    y.clamp(min, max)
}

/// m * 10^e computed so that 2e-3 is exactly the double nearest 0.002.
fn decade(m: f64, e: i32) -> f64 {
    if e >= 0 {
        m * 10f64.powi(e)
    } else {
        m / 10f64.powi(-e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiments::Default as D;

    fn spec(kind: ParamKind) -> ParamSpec {
        ParamSpec {
            name: "x",
            kind,
            default: D::Int(0),
            doc: "",
        }
    }

    #[test]
    fn ints_step_by_one_within_range() {
        let s = spec(ParamKind::Int { min: 1, max: 3 });
        assert_eq!(step(&s, &Value::Int(2), true), Some(Value::Int(3)));
        assert_eq!(step(&s, &Value::Int(3), true), None);
        assert_eq!(step(&s, &Value::Int(1), false), None);
    }

    #[test]
    fn wide_floats_step_along_1_2_5() {
        let s = spec(ParamKind::Float {
            min: 1e-5,
            max: 1.0,
        });
        let mut v = Value::Float(0.001);
        let mut seen = Vec::new();
        for _ in 0..4 {
            v = step(&s, &v, true).unwrap();
            seen.push(show_value(&v));
        }
        assert_eq!(seen, ["0.002", "0.005", "0.01", "0.02"]);
        assert_eq!(
            step(&s, &Value::Float(0.003), false),
            Some(Value::Float(0.002))
        );
        assert_eq!(step(&s, &Value::Float(1.0), true), None);
    }

    #[test]
    fn narrow_floats_step_linearly() {
        let s = spec(ParamKind::Float { min: 0.0, max: 1.0 });
        assert_eq!(step(&s, &Value::Float(0.25), true), Some(Value::Float(0.3)));
        assert_eq!(
            step(&s, &Value::Float(0.0), false),
            None,
            "clamped at the minimum"
        );
    }

    #[test]
    fn choices_cycle_and_bools_toggle() {
        let s = spec(ParamKind::Choice(&["sgd", "adam"]));
        assert_eq!(
            step(&s, &Value::Str("adam".into()), true),
            Some(Value::Str("sgd".into()))
        );
        assert_eq!(
            step(&spec(ParamKind::Bool), &Value::Bool(true), false),
            Some(Value::Bool(false))
        );
        assert_eq!(
            step(&spec(ParamKind::Text), &Value::Str("a".into()), true),
            None
        );
    }

    #[test]
    fn typed_values_are_parsed_by_kind() {
        let m = spec(ParamKind::Matrix { rows: 3, cols: 3 });
        assert_eq!(
            typed_value(&m, "1 0 -1; 2 0 -2; 1 0 -1"),
            Ok(Value::Matrix(vec![
                vec![1.0, 0.0, -1.0],
                vec![2.0, 0.0, -2.0],
                vec![1.0, 0.0, -1.0]
            ]))
        );
        let e = typed_value(&m, "1 0; 2 0 -2; 1 0 -1").unwrap_err();
        assert!(e.contains("row 1"), "{e}");
        let i = spec(ParamKind::Int { min: 0, max: 9 });
        assert!(typed_value(&i, "x").unwrap_err().contains("whole number"));
        assert!(typed_value(&i, "12").unwrap_err().contains("outside"));
    }

    #[test]
    fn eta_follows_the_rate_so_far() {
        let s = RunStatus::Running {
            done: 25,
            total: 100,
            what: String::new(),
            elapsed: Duration::from_secs(10),
        };
        let (ratio, eta) = s.eta().unwrap();
        assert_eq!(ratio, 0.25);
        assert_eq!(eta, Some(Duration::from_secs(30)));
    }
}
