//! The lesson format: one TOML file per lesson, an ordered list of cells.
//!
//! A file is read in two passes. [`raw`] deserializes it as written, keeping the position of
//! every value; [`load`](mod@load) turns that into a typed [`Lesson`], so that every mistake a teacher can
//! make is reported as `file:line:col: message`. Content checks that need to compute something
//! (quiz answers, experiment parameters) live in [`check`](crate::course::check). The format is documented for
//! teachers in `lessons/README.md`.

pub mod load;
pub mod raw;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use crate::experiments::{Experiment, Value};

pub use load::{load, load_lenient, load_str};

/// The lesson format this build reads. Files declare it as `format_version`.
pub const FORMAT_VERSION: i64 = 1;

/// A lesson, loaded and checked for form.
#[derive(Debug, Clone)]
pub struct Lesson {
    /// Where it was read from (for messages, and to find the networks it refers to).
    pub path: PathBuf,
    /// e.g. `lesson-3`.
    pub id: String,
    pub number: u32,
    /// A short name accepted on the command line, e.g. `conv-size`.
    pub short: String,
    pub title: String,
    /// One line for `tutor list`.
    pub summary: String,
    pub cells: Vec<Cell>,
    /// A student copy written by `tutor release`: graded cells have their answers held back.
    pub released: bool,
}

impl Lesson {
    /// The folder that relative paths in the lesson (networks, images) are taken from.
    pub fn dir(&self) -> &Path {
        self.path.parent().unwrap_or(Path::new("."))
    }

    /// The index of the cell with this id.
    pub fn cell_index(&self, id: &str) -> Option<usize> {
        self.cells.iter().position(|c| c.id == id)
    }
}

/// One cell of a lesson.
#[derive(Debug, Clone)]
pub struct Cell {
    /// Unique within the lesson; progress and results are kept by it.
    pub id: String,
    /// The line of the cell's `[[cells]]` header, for messages.
    pub line: usize,
    pub body: CellBody,
    /// Set for a graded quiz or exercise: the learner's answer is recorded, not checked, and
    /// `tutor grade` scores it against the teacher's copy.
    pub graded: Option<Graded>,
}

/// What a graded cell is worth.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Graded {
    /// The most points the cell gives (partial credit gives part of them).
    pub points: f64,
}

/// What a cell is.
#[derive(Debug, Clone)]
pub enum CellBody {
    /// Prose in a Markdown subset.
    Text(String),
    /// Code shown to the learner, one pane or several side by side.
    Code { caption: String, panes: Vec<Pane> },
    /// An experiment run with parameters; its outputs render inline.
    Run(Run),
    /// A self-checking question.
    Quiz(Quiz),
    /// The learner types an input that an experiment runs and checks against a goal.
    Exercise(Exercise),
}

impl CellBody {
    /// The `kind` word used in lesson files.
    pub fn kind(&self) -> &'static str {
        match self {
            CellBody::Text(_) => "text",
            CellBody::Code { .. } => "code",
            CellBody::Run(_) => "run",
            CellBody::Quiz(_) => "quiz",
            CellBody::Exercise(_) => "exercise",
        }
    }
}

/// A block of code with its language.
#[derive(Debug, Clone)]
pub struct Pane {
    /// e.g. "Rust (what the tutor runs)" or "PyTorch".
    pub title: String,
    pub lang: String,
    pub code: String,
}

/// A run cell: an experiment with the lesson's parameter values.
#[derive(Debug, Clone)]
pub struct Run {
    pub experiment: &'static Experiment,
    /// Values the lesson sets; the rest take the experiment's defaults.
    pub params: BTreeMap<String, Value>,
    /// Parameters the learner may change in the TUI before running again.
    pub adjust: Vec<String>,
    /// Text shown above the outputs.
    pub caption: String,
}

/// A self-checking question.
#[derive(Debug, Clone)]
pub struct Quiz {
    /// May contain `{name}` placeholders filled from `vars`.
    pub question: String,
    pub kind: QuizKind,
    /// Revealed one at a time.
    pub hints: Vec<String>,
    /// Shown once the question is answered (right, or after giving up).
    pub explanation: String,
    /// Random variables for drills: each learner draws their own values, reproducibly.
    pub vars: Vec<(String, VarRange)>,
    /// An expression over `vars` that must hold for a draw to be used (e.g. `conv_out(i,k,s,p) >= 1`).
    pub require: Option<String>,
    /// A graded question in a released (student) copy: the answer is not in the file, so
    /// `kind` holds a stand-in and nothing may check against it.
    pub held_back: bool,
}

/// The values a drill variable is drawn from.
#[derive(Debug, Clone, PartialEq)]
pub enum VarRange {
    OneOf(Vec<i64>),
    Between(i64, i64),
}

/// What kind of answer a quiz takes.
#[derive(Debug, Clone)]
pub enum QuizKind {
    /// One right choice (index into `choices`).
    Single { choices: Vec<String>, answer: usize },
    /// Select all that apply (sorted indices).
    Multi {
        choices: Vec<String>,
        answers: Vec<usize>,
    },
    /// A whole number.
    Integer { answer: Answer },
    /// A number, right within an absolute tolerance.
    Number { answer: Answer, tolerance: f64 },
    /// A tensor shape such as `(32, 55, 55)`.
    Shape { answer: Answer },
    /// Match each left item to its right item; `pairs` are the right pairs, shown shuffled.
    Match { pairs: Vec<(String, String)> },
}

impl QuizKind {
    /// The `type` word used in lesson files.
    pub fn name(&self) -> &'static str {
        match self {
            QuizKind::Single { .. } => "single",
            QuizKind::Multi { .. } => "multi",
            QuizKind::Integer { .. } => "integer",
            QuizKind::Number { .. } => "number",
            QuizKind::Shape { .. } => "shape",
            QuizKind::Match { .. } => "match",
        }
    }
}

/// A numeric answer: typed in the file, computed by the tutor, or both (then they must agree,
/// which `tutor check` verifies).
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    /// The numbers as typed (one for a number, several for a shape).
    pub literal: Option<Vec<f64>>,
    /// An expression the tutor evaluates, e.g. `conv_out(227, 11, 4, 0)`.
    pub compute: Option<String>,
    /// Where the answer was written, for messages.
    pub line: usize,
}

/// An exercise: the learner's input fills one parameter of an experiment.
#[derive(Debug, Clone)]
pub struct Exercise {
    pub prompt: String,
    pub experiment: &'static Experiment,
    /// The parameter the learner's input fills.
    pub input: String,
    /// Shown in the empty input box.
    pub placeholder: String,
    pub params: BTreeMap<String, Value>,
    /// All must hold for the exercise to count as solved.
    pub goals: Vec<Goal>,
    pub hints: Vec<String>,
    pub explanation: String,
    /// A correct input (the teacher's key; `exec` runs it).
    pub solution: Option<String>,
    /// A graded exercise in a released copy (its solution and explanation were taken out).
    pub held_back: bool,
}

/// A condition on a metric the experiment reports.
#[derive(Debug, Clone, PartialEq)]
pub struct Goal {
    pub metric: String,
    pub min: Option<f64>,
    pub max: Option<f64>,
    /// What the goal means, for the learner.
    pub text: String,
}

impl Goal {
    pub fn holds(&self, value: f64) -> bool {
        value.is_finite()
            && self.min.is_none_or(|m| value >= m)
            && self.max.is_none_or(|m| value <= m)
    }
}

impl fmt::Display for Goal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.min, self.max) {
            (Some(a), Some(b)) if a == b => write!(f, "{} = {a}", self.metric),
            (Some(a), Some(b)) => write!(f, "{a} ≤ {} ≤ {b}", self.metric),
            (Some(a), None) => write!(f, "{} ≥ {a}", self.metric),
            (None, Some(b)) => write!(f, "{} ≤ {b}", self.metric),
            (None, None) => write!(f, "{} reported", self.metric),
        }
    }
}

/// A problem found in a lesson file, located at a line and column (1-based).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub file: PathBuf,
    pub line: usize,
    pub col: usize,
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file.display(),
            self.line,
            self.col,
            self.message
        )
    }
}

/// One or more diagnostics: why a lesson could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LessonError(pub Vec<Diagnostic>);

impl fmt::Display for LessonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for LessonError {}

/// The lesson files in `dir`, sorted by lesson number. Files that fail to load are returned as
/// errors beside the good ones, so one broken lesson does not hide the others.
pub fn load_dir(dir: &Path) -> anyhow::Result<(Vec<Lesson>, Vec<LessonError>)> {
    use anyhow::Context as _;
    let mut lessons = Vec::new();
    let mut errors = Vec::new();
    let entries = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read the lessons folder `{}`", dir.display()))?;
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .filter(|p| !p.ends_with(crate::course::pack::PACK_FILE))
        .collect();
    paths.sort();
    for p in paths {
        match load(&p) {
            Ok(l) => lessons.push(l),
            Err(e) => errors.push(e),
        }
    }
    lessons.sort_by_key(|l| l.number);
    Ok((lessons, errors))
}

/// Finds a lesson by id (`lesson-2`), number (`2`) or short name (`conv-size`).
pub fn find<'a>(lessons: &'a [Lesson], key: &str) -> Option<&'a Lesson> {
    let key = key.trim();
    // A number, then an id, then a short name: a short name can never hide another lesson.
    let number = key.parse::<u32>().ok();
    lessons
        .iter()
        .find(|l| number == Some(l.number))
        .or_else(|| lessons.iter().find(|l| l.id.eq_ignore_ascii_case(key)))
        .or_else(|| lessons.iter().find(|l| l.short.eq_ignore_ascii_case(key)))
}
