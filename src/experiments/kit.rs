//! Experiments: named, parameterised pieces of work that a lesson's run and exercise cells call.
//!
//! An experiment is a plain function from [`Params`] to outputs and metrics, reported through a
//! [`Ctx`]. The TUI runs it on a worker thread with a context that forwards to the screen; the
//! headless runner and the tests use their own contexts. The registry ([`all`], [`find`]) is what
//! `tutor check` validates lesson files against.
//!
//! # Declared once
//!
//! [`ParamSpec`], [`Params`] and [`Experiment::metrics`] are the runtime form the lesson loader,
//! the TUI and the lint read. Experiments do not write them by hand:
//!
//! - [`params!`] declares a struct of typed parameters. Each field is one line,
//!   `name: type = default, Kind { .. }, "doc";` (types `i64`, `f64`, `bool`, `String`, `Matrix`;
//!   kinds as in [`ParamKind`]), or `name: type = SHARED;` for a [`ParamSpec`] const several
//!   experiments share. It generates the struct, its `SPECS` (the runtime form, in field order)
//!   and `from_params`, and checks at compile time that each kind and default fit the field's
//!   type and that a shared spec's name is the field's.
//! - [`metrics!`] declares an enum of the metrics an experiment reports, each variant with its
//!   snake_case name; `NAMES` is the list for [`Experiment::metrics`].
//! - [`typed`] is what an experiment's `run` calls: it checks that the experiment's `params` and
//!   `metrics` are the ones its body's types declare, builds the parameter struct and hands the
//!   body an [`Emit`] context. The body records metrics only as [`Emit::emit`]`(Metric::X, v)`,
//!   so it cannot name an undeclared one; a metric name reaching [`Emit`] as a string (through a
//!   helper that only knows `&mut dyn Ctx`) is checked too, and an undeclared one fails the run.
//!   The registry's tests run every quick experiment and compare what it emits with what it
//!   declares, and check every long one's declaration without training.

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
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
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
    /// Runs the experiment on a thread pool of its own (as many threads as rayon's global
    /// pool), with the run itself on one of the pool's threads: every parallel kernel then
    /// hands work to the other thread through its own queue, where a thread outside the pool
    /// would wake a sleeping worker and sleep itself, per kernel (a few hundred times per
    /// training step; lesson 9's step was 12% faster for it). A pool per run, rather than a
    /// long run holding a thread of the shared one, keeps runs that go on side by side (tests,
    /// a grader's runs left behind past their limit) from waiting for each other. The pool's
    /// threads are started by the calling thread, so on Linux they inherit its nice value.
    /// Every run of an experiment goes through here.
    pub fn call(&self, params: &Params, ctx: &mut (dyn Ctx + Send)) -> anyhow::Result<()> {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(rayon::current_num_threads())
            .thread_name(|i| format!("tutor-run-pool-{i}"))
            .build();
        match pool {
            Ok(pool) => pool.install(|| (self.run)(params, ctx)),
            // No threads to be had: run here, on the shared pool.
            Err(_) => (self.run)(params, ctx),
        }
    }

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

/// A parameter struct made by [`params!`]: the typed form of an experiment's [`Params`].
pub trait ParamSet: Sized {
    /// The parameters' runtime form, in declaration order.
    const SPECS: &'static [ParamSpec];
    /// Reads every field from resolved values (which [`Experiment::params_from`] checked).
    fn from_params(p: &Params) -> anyhow::Result<Self>;
}

/// A metric enum made by [`metrics!`].
pub trait Metric: Copy + 'static {
    /// Every metric's name, in declaration order.
    const NAMES: &'static [&'static str];
    fn name(self) -> &'static str;
}

/// The Rust type a parameter field has, as [`params!`] checks its kind and default against.
#[doc(hidden)]
#[derive(Debug, Clone, Copy)]
pub enum FieldType {
    Int,
    Float,
    Bool,
    Str,
    Matrix,
}

/// The matrix type of a `Matrix` parameter field.
pub type Matrix = Vec<Vec<f64>>;

/// True when a field of type `t` can hold a parameter of `spec`'s kind and default.
#[doc(hidden)]
pub const fn fits(t: FieldType, spec: &ParamSpec) -> bool {
    let kind = matches!(
        (t, spec.kind),
        (FieldType::Int, ParamKind::Int { .. })
            | (FieldType::Float, ParamKind::Float { .. })
            | (FieldType::Bool, ParamKind::Bool)
            | (
                FieldType::Str,
                ParamKind::Choice(_) | ParamKind::Text | ParamKind::File
            )
            | (FieldType::Matrix, ParamKind::Matrix { .. })
    );
    let default = matches!(
        (t, spec.default),
        (FieldType::Int, Default::Int(_))
            | (FieldType::Float, Default::Float(_))
            | (FieldType::Bool, Default::Bool(_))
            | (FieldType::Str, Default::Str(_))
            | (FieldType::Matrix, Default::Matrix(_))
    );
    kind && default
}

/// `a == b`, in a const.
#[doc(hidden)]
pub const fn same_name(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// Declares an experiment's parameters once: a struct with a typed field per parameter, its
/// `SPECS` and `from_params` (see the module docs).
///
/// ```ignore
/// params! {
///     /// Parameters of `mnist.compare`.
///     pub struct CompareParams {
///         epochs: i64 = 5, Int { min: 1, max: 30 }, "passes over the training images";
///         net: String = "nets/lesson3_cnn.toml", File, "the network file";
///         /// Shared with the other experiments of the lesson.
///         seed: i64 = SEED_PARAM;
///     }
/// }
/// ```
macro_rules! params {
    // Munching: one declared parameter.
    (@munch [$($head:tt)*] $Name:ident [$($fields:tt)*] [$($specs:tt)*] [$($reads:tt)*]
        $(#[$fm:meta])* $f:ident : $t:ident = $d:expr,
        $k:ident $({ $($kb:tt)* })? $(( $($ka:tt)* ))?, $doc:literal;
        $($rest:tt)*
    ) => {
        $crate::experiments::kit::params!(@munch [$($head)*] $Name
            [$($fields)* $(#[$fm])* #[doc = $doc] pub $f: $crate::experiments::kit::params!(@type $t),]
            [$($specs)* ($t, $crate::experiments::kit::ParamSpec {
                name: stringify!($f),
                kind: $crate::experiments::kit::ParamKind::$k $({ $($kb)* })? $(( $($ka)* ))?,
                default: $crate::experiments::kit::params!(@default $t $d),
                doc: $doc,
            }),]
            [$($reads)* ($f, $t, stringify!($f)),]
            $($rest)*
        );
    };
    // Munching: a parameter declared elsewhere as a `ParamSpec` const.
    (@munch [$($head:tt)*] $Name:ident [$($fields:tt)*] [$($specs:tt)*] [$($reads:tt)*]
        $(#[$fm:meta])* $f:ident : $t:ident = $shared:path;
        $($rest:tt)*
    ) => {
        const _: () = assert!(
            $crate::experiments::kit::same_name($shared.name, stringify!($f)),
            concat!("the shared parameter of field `", stringify!($f), "` has another name")
        );
        $crate::experiments::kit::params!(@munch [$($head)*] $Name
            [$($fields)* $(#[$fm])* pub $f: $crate::experiments::kit::params!(@type $t),]
            [$($specs)* ($t, $shared),]
            [$($reads)* ($f, $t, $shared.name),]
            $($rest)*
        );
    };
    // Done: the struct, its specs, and the checks that every kind and default fit their field.
    (@munch [$($head:tt)*] $Name:ident [$($fields:tt)*] [$(($t:ident, $spec:expr),)*] [$(($rf:ident, $rt:ident, $rname:expr),)*]) => {
        #[derive(Debug, Clone, PartialEq)]
        $($head)* { $($fields)* }

        impl $Name {
            /// The parameters' runtime form, in declaration order.
            pub const SPECS: &'static [$crate::experiments::kit::ParamSpec] = &[$($spec),*];

            /// Reads every field from resolved values.
            pub fn from_params(p: &$crate::experiments::kit::Params) -> anyhow::Result<Self> {
                Ok(Self {
                    $($rf: $crate::experiments::kit::params!(@read $rt p $rname),)*
                })
            }
        }

        impl $crate::experiments::kit::ParamSet for $Name {
            const SPECS: &'static [$crate::experiments::kit::ParamSpec] = $Name::SPECS;
            fn from_params(p: &$crate::experiments::kit::Params) -> anyhow::Result<Self> {
                $Name::from_params(p)
            }
        }

        const _: () = {
            let types = [$($crate::experiments::kit::params!(@field_type $t)),*];
            let mut i = 0;
            while i < types.len() {
                assert!(
                    $crate::experiments::kit::fits(types[i], &$Name::SPECS[i]),
                    concat!("a parameter of `", stringify!($Name), "` has a kind or default its field's type cannot hold")
                );
                i += 1;
            }
        };
    };
    (@type i64) => { i64 };
    (@type f64) => { f64 };
    (@type bool) => { bool };
    (@type String) => { ::std::string::String };
    (@type Matrix) => { $crate::experiments::kit::Matrix };
    (@field_type i64) => { $crate::experiments::kit::FieldType::Int };
    (@field_type f64) => { $crate::experiments::kit::FieldType::Float };
    (@field_type bool) => { $crate::experiments::kit::FieldType::Bool };
    (@field_type String) => { $crate::experiments::kit::FieldType::Str };
    (@field_type Matrix) => { $crate::experiments::kit::FieldType::Matrix };
    (@default i64 $d:expr) => { $crate::experiments::kit::Default::Int($d) };
    (@default f64 $d:expr) => { $crate::experiments::kit::Default::Float($d) };
    (@default bool $d:expr) => { $crate::experiments::kit::Default::Bool($d) };
    (@default String $d:expr) => { $crate::experiments::kit::Default::Str($d) };
    (@default Matrix $d:expr) => { $crate::experiments::kit::Default::Matrix($d) };
    (@read i64 $p:ident $name:expr) => { $p.int($name)? };
    (@read f64 $p:ident $name:expr) => { $p.float($name)? };
    (@read bool $p:ident $name:expr) => { $p.bool($name)? };
    (@read String $p:ident $name:expr) => { $p.str($name)?.to_string() };
    (@read Matrix $p:ident $name:expr) => { $p.matrix($name)?.to_vec() };
    // The entry point.
    ($(#[$m:meta])* $vis:vis struct $Name:ident { $($body:tt)* }) => {
        $crate::experiments::kit::params!(@munch [$(#[$m])* $vis struct $Name] $Name [] [] [] $($body)*);
    };
}
pub(crate) use params;

/// Declares the metrics an experiment reports once: an enum whose variants carry their
/// snake_case names, and `NAMES` for [`Experiment::metrics`].
///
/// ```ignore
/// metrics! {
///     /// What `conv.layer` reports.
///     pub enum LayerMetric {
///         OutChannels = "out_channels",
///         OutSize = "out_size",
///     }
/// }
/// ```
macro_rules! metrics {
    ($(#[$m:meta])* $vis:vis enum $Name:ident { $($(#[$vm:meta])* $V:ident = $s:literal),* $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        $vis enum $Name {
            $($(#[$vm])* #[doc = concat!("`", $s, "`")] $V),*
        }

        impl $Name {
            /// Every metric's name, in declaration order.
            pub const NAMES: &'static [&'static str] = &[$($s),*];
        }

        impl $crate::experiments::kit::Metric for $Name {
            const NAMES: &'static [&'static str] = $Name::NAMES;
            fn name(self) -> &'static str {
                match self {
                    $($Name::$V => $s),*
                }
            }
        }
    };
}
pub(crate) use metrics;

/// True when `declared` has `name`, or `name` is a declared metric measured again at another
/// setting and recorded as `name_N` (see [`Emit::emit_at`]).
pub fn declares(declared: &[&str], name: &str) -> bool {
    declared.contains(&name)
        || name.rsplit_once('_').is_some_and(|(base, n)| {
            !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) && declared.contains(&base)
        })
}

/// The context an experiment's body reports to: forwards to the runner's context, and records
/// only the metrics of `M`.
pub struct Emit<'a, M> {
    inner: &'a mut dyn Ctx,
    undeclared: Vec<String>,
    metric: std::marker::PhantomData<M>,
}

impl<M: Metric> Emit<'_, M> {
    /// Records metric `m`.
    pub fn emit(&mut self, m: M, value: f64) {
        self.inner.metric(m.name(), value);
    }

    /// Records metric `m` measured again at another setting `n` (a second label budget, say),
    /// as `name_n`. Only the base name is declared, so an exercise goal cannot name it.
    pub fn emit_at(&mut self, m: M, n: usize, value: f64) {
        self.inner.metric(&format!("{}_{n}", m.name()), value);
    }
}

impl<M: Metric> Ctx for Emit<'_, M> {
    fn show(&mut self, key: &str, output: Output) {
        self.inner.show(key, output);
    }
    /// A name from a helper that only knows `&mut dyn Ctx`: recorded when `M` declares it,
    /// otherwise kept back and reported by [`typed`] as a failed run.
    fn metric(&mut self, name: &str, value: f64) {
        if declares(M::NAMES, name) {
            self.inner.metric(name, value);
        } else {
            self.undeclared.push(name.to_string());
        }
    }
    fn progress(&mut self, done: usize, total: usize, what: &str) {
        self.inner.progress(done, total, what);
    }
    fn cancelled(&self) -> bool {
        self.inner.cancelled()
    }
}

/// Runs an experiment's typed body: what every [`Experiment::run`] calls, as
/// `run: |p, ctx| kit::typed(&THIS, p, ctx, body)`.
///
/// Fails before the body when `exp` does not declare exactly the parameters of `P` and the
/// metrics of `M` (so its `params` and `metrics` fields cannot drift from the types), and
/// returns [`Cancelled`] without running it when the context is already cancelled (so a test
/// can check a long experiment's declaration without training). Fails after the body when it
/// emitted a metric `M` does not declare.
pub fn typed<P: ParamSet, M: Metric>(
    exp: &Experiment,
    params: &Params,
    ctx: &mut dyn Ctx,
    body: impl FnOnce(P, &mut Emit<'_, M>) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let names = |specs: &[ParamSpec]| specs.iter().map(|s| s.name).collect::<Vec<_>>();
    anyhow::ensure!(
        names(exp.params) == names(P::SPECS) && exp.metrics == M::NAMES,
        "internal: `{}` declares parameters {:?} and metrics {:?}, but its body takes {:?} and reports {:?}",
        exp.name,
        names(exp.params),
        exp.metrics,
        names(P::SPECS),
        M::NAMES
    );
    let p = P::from_params(params)?;
    check_cancel(ctx)?;
    let mut emit = Emit {
        inner: ctx,
        undeclared: Vec::new(),
        metric: std::marker::PhantomData,
    };
    body(p, &mut emit)?;
    anyhow::ensure!(
        emit.undeclared.is_empty(),
        "internal: `{}` reported metrics it does not declare: {}",
        exp.name,
        emit.undeclared.join(", ")
    );
    Ok(())
}

/// Runs `e` with the given values (the rest at their defaults) and keeps what it reports:
/// for tests of experiments.
pub fn run_recorded(e: &Experiment, given: &[(&str, Value)]) -> anyhow::Result<Recorder> {
    let given: BTreeMap<String, Value> = given
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    let mut r = Recorder::default();
    e.call(&e.params_from(&given)?, &mut r)?;
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
mod tests;
