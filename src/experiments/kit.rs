//! Experiments: named, parameterised pieces of work that a lesson's run and exercise cells call.
//!
//! An experiment is a plain function from [`Params`] to outputs and metrics, reported through a
//! [`Ctx`]. The TUI runs it on a worker thread with a context that forwards to the screen; the
//! headless runner and the tests use their own contexts. The registry ([`all`], [`find`]) is what
//! `tutor check` validates lesson files against.

use std::collections::BTreeMap;
use std::fmt;

use crate::output::Output;
use crate::util::cancel::Cancelled;
use crate::util::parse::{parse_matrix, parse_number};

/// What an experiment reports to whoever runs it.
pub trait Ctx {
    /// Shows `output` under `key`. Setting a key again replaces that output in place (a loss
    /// curve that grows); new keys are appended in the order they first appear.
    fn show(&mut self, key: &str, output: Output);
    /// Records a figure the learner is shown, under a stable snake_case name (goes into
    /// `results.json` and is what exercise goals are checked against).
    fn metric(&mut self, name: &str, value: f64);
    /// Reports progress: `done` of `total` units of work, with a short note of what is running.
    fn progress(&mut self, done: usize, total: usize, what: &str);
    /// True once the learner asked to stop (Esc). Long loops check it every batch and return
    /// [`Cancelled`] as an error.
    fn cancelled(&self) -> bool;
}

/// Returns `Err(Cancelled)` when the context says stop; call it once per batch or step.
pub fn check_cancel(ctx: &dyn Ctx) -> anyhow::Result<()> {
    if ctx.cancelled() {
        Err(Cancelled.into())
    } else {
        Ok(())
    }
}

/// A parameter value, as written in a lesson file or typed by the learner.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Int(i64),
    Float(f64),
    Bool(bool),
    Str(String),
    /// Rows of numbers (a kernel, say).
    Matrix(Vec<Vec<f64>>),
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Int(i) => write!(f, "{i}"),
            Value::Float(x) => write!(f, "{x}"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Str(s) => f.write_str(s),
            Value::Matrix(rows) => {
                let rows: Vec<String> = rows
                    .iter()
                    .map(|r| {
                        r.iter()
                            .map(|v| format!("{v}"))
                            .collect::<Vec<_>>()
                            .join(" ")
                    })
                    .collect();
                f.write_str(&rows.join("; "))
            }
        }
    }
}

/// The kind of a parameter, with the range a lesson or learner may set it to.
#[derive(Debug, Clone, Copy)]
pub enum ParamKind {
    Int {
        min: i64,
        max: i64,
    },
    Float {
        min: f64,
        max: f64,
    },
    Bool,
    /// One of a fixed list of words.
    Choice(&'static [&'static str]),
    /// Free text (a layer spec, a photo name or path).
    Text,
    /// A matrix of `rows` x `cols` numbers (a kernel).
    Matrix {
        rows: usize,
        cols: usize,
    },
    /// A file path; in a lesson it is relative to the lesson file, and must exist.
    File,
}

/// A parameter's default value.
#[derive(Debug, Clone, Copy)]
pub enum Default {
    Int(i64),
    Float(f64),
    Bool(bool),
    Str(&'static str),
    Matrix(&'static [&'static [f64]]),
}

impl Default {
    pub(crate) fn value(self) -> Value {
        match self {
            Default::Int(i) => Value::Int(i),
            Default::Float(x) => Value::Float(x),
            Default::Bool(b) => Value::Bool(b),
            Default::Str(s) => Value::Str(s.to_string()),
            Default::Matrix(m) => Value::Matrix(m.iter().map(|r| r.to_vec()).collect()),
        }
    }
}

/// One parameter an experiment takes.
#[derive(Debug, Clone, Copy)]
pub struct ParamSpec {
    pub name: &'static str,
    pub kind: ParamKind,
    pub default: Default,
    /// One line for the learner: what the parameter changes.
    pub doc: &'static str,
}

/// A named experiment.
pub struct Experiment {
    /// Dotted name used in lesson files, e.g. `filters.sobel`.
    pub name: &'static str,
    /// One line: what it shows.
    pub summary: &'static str,
    pub params: &'static [ParamSpec],
    /// The metrics it reports (checked against exercise goals by `tutor check`).
    pub metrics: &'static [&'static str],
    /// True when it takes more than a second or two: the TUI shows progress and never reruns
    /// it on its own when a parameter changes.
    pub long: bool,
    pub run: fn(&Params, &mut dyn Ctx) -> anyhow::Result<()>,
}

impl fmt::Debug for Experiment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Experiment")
            .field("name", &self.name)
            .finish()
    }
}

/// Why a value does not fit a parameter.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ParamError {
    #[error("unknown parameter `{name}` (this experiment takes: {known})")]
    Unknown { name: String, known: String },
    #[error("parameter `{name}`: {message}")]
    Invalid { name: String, message: String },
}

impl Experiment {
    /// The spec of parameter `name`.
    pub fn param(&self, name: &str) -> Option<&ParamSpec> {
        self.params.iter().find(|p| p.name == name)
    }

    /// Resolves the given values against the defaults, checking names, kinds and ranges.
    pub fn params_from(&self, given: &BTreeMap<String, Value>) -> Result<Params, ParamError> {
        let mut values = BTreeMap::new();
        for spec in self.params {
            values.insert(spec.name.to_string(), spec.default.value());
        }
        for (name, v) in given {
            let spec = self.param(name).ok_or_else(|| ParamError::Unknown {
                name: name.clone(),
                known: self
                    .params
                    .iter()
                    .map(|p| p.name)
                    .collect::<Vec<_>>()
                    .join(", "),
            })?;
            let v = coerce(spec, v.clone()).map_err(|message| ParamError::Invalid {
                name: name.clone(),
                message,
            })?;
            values.insert(name.clone(), v);
        }
        Ok(Params { values })
    }
}

/// Checks `v` against `spec`, converting where that is lossless (an integer given for a float).
pub fn coerce(spec: &ParamSpec, v: Value) -> Result<Value, String> {
    match (spec.kind, v) {
        (ParamKind::Int { min, max }, Value::Int(i)) => {
            if i < min || i > max {
                Err(format!("{i} is outside {min}..={max}"))
            } else {
                Ok(Value::Int(i))
            }
        }
        (ParamKind::Float { .. }, Value::Int(i)) => coerce(spec, Value::Float(i as f64)),
        (ParamKind::Float { min, max }, Value::Float(x)) => {
            if !x.is_finite() || x < min || x > max {
                Err(format!("{x} is outside {min}..={max}"))
            } else {
                Ok(Value::Float(x))
            }
        }
        (ParamKind::Bool, Value::Bool(b)) => Ok(Value::Bool(b)),
        (ParamKind::Choice(words), Value::Str(s)) => {
            if words.contains(&s.as_str()) {
                Ok(Value::Str(s))
            } else {
                Err(format!("`{s}` is not one of: {}", words.join(", ")))
            }
        }
        (ParamKind::Text | ParamKind::File, Value::Str(s)) => Ok(Value::Str(s)),
        (ParamKind::Matrix { rows, cols }, Value::Matrix(m)) => {
            if m.len() != rows {
                return Err(format!("expected {rows} rows, found {}", m.len()));
            }
            for (r, row) in m.iter().enumerate() {
                if row.len() != cols {
                    return Err(format!(
                        "row {} has {} numbers, expected {cols}",
                        r + 1,
                        row.len()
                    ));
                }
                if row.iter().any(|x| !x.is_finite()) {
                    return Err(format!("row {} has a number that is not finite", r + 1));
                }
            }
            Ok(Value::Matrix(m))
        }
        // Text typed by a learner: parse it as the kind asks.
        (ParamKind::Int { .. }, Value::Str(s)) => match s.trim().replace('\u{2212}', "-").parse() {
            Ok(i) => coerce(spec, Value::Int(i)),
            Err(_) => Err(format!("`{}` is not a whole number", s.trim())),
        },
        (ParamKind::Float { .. }, Value::Str(s)) => {
            match parse_number(&s.replace('\u{2212}', "-")) {
                Some(x) => coerce(spec, Value::Float(x)),
                None => Err(format!("`{}` is not a number", s.trim())),
            }
        }
        (ParamKind::Bool, Value::Str(s)) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "yes" | "on" | "1" => Ok(Value::Bool(true)),
            "false" | "no" | "off" | "0" => Ok(Value::Bool(false)),
            _ => Err(format!("`{}` is not true or false", s.trim())),
        },
        (ParamKind::Matrix { .. }, Value::Str(s)) => {
            let m = parse_matrix(&s)?;
            coerce(spec, Value::Matrix(m))
        }
        (kind, v) => Err(format!("expected {}, found `{v}`", kind_name(kind))),
    }
}

fn kind_name(kind: ParamKind) -> String {
    match kind {
        ParamKind::Int { .. } => "an integer".into(),
        ParamKind::Float { .. } => "a number".into(),
        ParamKind::Bool => "true or false".into(),
        ParamKind::Choice(w) => format!("one of {}", w.join(", ")),
        ParamKind::Text => "text".into(),
        ParamKind::File => "a file path".into(),
        ParamKind::Matrix { rows, cols } => format!("a {rows}x{cols} matrix"),
    }
}

/// Resolved parameter values for one run; every parameter of the experiment is present.
#[derive(Debug, Clone, PartialEq, std::default::Default)]
pub struct Params {
    pub values: BTreeMap<String, Value>,
}

impl Params {
    fn get(&self, name: &str) -> anyhow::Result<&Value> {
        self.values
            .get(name)
            .ok_or_else(|| anyhow::anyhow!("internal: parameter `{name}` missing"))
    }

    pub fn int(&self, name: &str) -> anyhow::Result<i64> {
        match self.get(name)? {
            Value::Int(i) => Ok(*i),
            v => anyhow::bail!("parameter `{name}` is `{v}`, not an integer"),
        }
    }

    pub fn float(&self, name: &str) -> anyhow::Result<f64> {
        match self.get(name)? {
            Value::Float(x) => Ok(*x),
            Value::Int(i) => Ok(*i as f64),
            v => anyhow::bail!("parameter `{name}` is `{v}`, not a number"),
        }
    }

    pub fn bool(&self, name: &str) -> anyhow::Result<bool> {
        match self.get(name)? {
            Value::Bool(b) => Ok(*b),
            v => anyhow::bail!("parameter `{name}` is `{v}`, not true/false"),
        }
    }

    pub fn str(&self, name: &str) -> anyhow::Result<&str> {
        match self.get(name)? {
            Value::Str(s) => Ok(s),
            v => anyhow::bail!("parameter `{name}` is `{v}`, not text"),
        }
    }

    pub fn matrix(&self, name: &str) -> anyhow::Result<&[Vec<f64>]> {
        match self.get(name)? {
            Value::Matrix(m) => Ok(m),
            v => anyhow::bail!("parameter `{name}` is `{v}`, not a matrix"),
        }
    }
}

/// Runs `e` with the given values (the rest at their defaults) and keeps what it reports:
/// for tests of experiments.
pub fn run_recorded(e: &Experiment, given: &[(&str, Value)]) -> anyhow::Result<Recorder> {
    let given: BTreeMap<String, Value> = given
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    let mut r = Recorder::default();
    (e.run)(&e.params_from(&given)?, &mut r)?;
    Ok(r)
}

/// A context that keeps everything in memory: for tests and for exercise checking.
#[derive(Debug, Default)]
pub struct Recorder {
    pub outputs: Vec<(String, Output)>,
    pub metrics: BTreeMap<String, f64>,
    pub last_progress: Option<(usize, usize, String)>,
    pub cancel: bool,
}

impl Ctx for Recorder {
    fn show(&mut self, key: &str, output: Output) {
        crate::output::set(&mut self.outputs, key, output);
    }
    fn metric(&mut self, name: &str, value: f64) {
        self.metrics.insert(name.to_string(), value);
    }
    fn progress(&mut self, done: usize, total: usize, what: &str) {
        self.last_progress = Some((done, total, what.to_string()));
    }
    fn cancelled(&self) -> bool {
        self.cancel
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matrix_parsing_accepts_common_forms() {
        assert_eq!(
            parse_matrix("1 0 -1; 2, 0, −2\n[1 0 -1]").unwrap(),
            vec![
                vec![1.0, 0.0, -1.0],
                vec![2.0, 0.0, -2.0],
                vec![1.0, 0.0, -1.0]
            ]
        );
        assert_eq!(parse_matrix("1/9 1/9").unwrap(), vec![vec![1.0 / 9.0; 2]]);
        assert!(parse_matrix("  ").is_err());
        let e = parse_matrix("1 2 3; 4 x 6").unwrap_err();
        assert!(e.contains("row 2, column 2"), "{e}");
    }

    #[test]
    fn coerce_checks_kind_and_range() {
        let spec = ParamSpec {
            name: "k",
            kind: ParamKind::Int { min: 1, max: 9 },
            default: Default::Int(3),
            doc: "",
        };
        assert_eq!(coerce(&spec, Value::Int(5)), Ok(Value::Int(5)));
        assert!(coerce(&spec, Value::Int(10))
            .unwrap_err()
            .contains("outside"));
        assert!(coerce(&spec, Value::Str("x".into())).is_err());
        let m = ParamSpec {
            name: "kernel",
            kind: ParamKind::Matrix { rows: 3, cols: 3 },
            default: Default::Matrix(&[&[0.0; 3], &[0.0; 3], &[0.0; 3]]),
            doc: "",
        };
        let e = coerce(&m, Value::Str("1 2 3; 4 5; 7 8 9".into())).unwrap_err();
        assert_eq!(e, "row 2 has 2 numbers, expected 3");
    }
}
