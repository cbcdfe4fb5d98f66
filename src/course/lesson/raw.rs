//! A lesson file as written: every field optional and spanned, so that the typed pass in
//! [`load`](mod@super::load) can say exactly which line is wrong. Unknown fields are rejected here.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

/// Top level of a lesson file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLesson {
    /// Must equal [`super::FORMAT_VERSION`].
    pub format_version: Option<Spanned<i64>>,
    /// e.g. `lesson-3`; unique across the lessons folder.
    pub id: Option<Spanned<String>>,
    /// Position in the course (1, 2, ...); unique.
    pub number: Option<Spanned<i64>>,
    /// Short name for the command line, e.g. `mlp-vs-cnn`.
    pub short: Option<Spanned<String>>,
    pub title: Option<Spanned<String>>,
    pub summary: Option<Spanned<String>>,
    /// Written by `tutor release` into the student copy: graded answers are held back.
    pub released: Option<Spanned<bool>>,
    #[serde(default)]
    pub cells: Vec<Spanned<RawCell>>,
}

/// One `[[cells]]` table. Which fields apply depends on `kind`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCell {
    /// text, code, run, quiz or exercise.
    pub kind: Option<Spanned<String>>,
    /// Unique within the lesson. Optional for text and code cells.
    pub id: Option<Spanned<String>>,
    /// text: the prose (Markdown subset).
    pub text: Option<Spanned<String>>,
    /// code and run: a caption shown above.
    pub caption: Option<Spanned<String>>,
    /// code: one pane (with `lang`), or use `panes`.
    pub code: Option<Spanned<String>>,
    pub lang: Option<Spanned<String>>,
    pub panes: Option<Vec<Spanned<RawPane>>>,
    /// run and exercise: the experiment's name.
    pub experiment: Option<Spanned<String>>,
    /// run and exercise: parameter values.
    pub params: Option<Spanned<BTreeMap<String, Spanned<toml::Value>>>>,
    /// run: parameters the learner may change.
    pub adjust: Option<Spanned<Vec<Spanned<String>>>>,
    /// quiz: the question.
    pub question: Option<Spanned<String>>,
    /// quiz: single, multi, integer, number, shape or match.
    #[serde(rename = "type")]
    pub quiz_type: Option<Spanned<String>>,
    /// quiz (single, multi): the choices.
    pub choices: Option<Spanned<Vec<Spanned<String>>>>,
    /// quiz: the answer (a letter, letters, a number, a shape, or an expression string).
    pub answer: Option<Spanned<toml::Value>>,
    /// quiz: an expression the tutor computes the answer with.
    pub compute: Option<Spanned<String>>,
    /// quiz (number): absolute tolerance.
    pub tolerance: Option<Spanned<f64>>,
    /// quiz (match): the right pairs.
    pub pairs: Option<Spanned<Vec<Spanned<Vec<String>>>>>,
    /// quiz: drill variables.
    pub vars: Option<Spanned<BTreeMap<String, Spanned<toml::Value>>>>,
    /// quiz: a condition on the drawn variables.
    pub require: Option<Spanned<String>>,
    /// quiz and exercise.
    pub hints: Option<Vec<Spanned<String>>>,
    pub explanation: Option<Spanned<String>>,
    /// exercise: the task.
    pub prompt: Option<Spanned<String>>,
    /// exercise: which experiment parameter the learner's input fills.
    pub input: Option<Spanned<String>>,
    pub placeholder: Option<Spanned<String>>,
    /// exercise: conditions on metrics.
    pub goal: Option<Vec<Spanned<RawGoal>>>,
    /// exercise: a correct input.
    pub solution: Option<Spanned<String>>,
    /// quiz and exercise: scored by `tutor grade` instead of checked on the spot.
    pub graded: Option<Spanned<bool>>,
    /// quiz and exercise (graded): what the cell is worth.
    pub points: Option<Spanned<toml::Value>>,
}

/// One pane of a code cell.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPane {
    pub title: Option<String>,
    pub lang: Option<String>,
    pub code: String,
}

/// One goal of an exercise.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawGoal {
    pub metric: String,
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub text: Option<String>,
}
