//! `tutor submit`: one JSON file per learner and assignment, the only thing a teacher collects.
//!
//! The format (documented for teachers in `lessons/README.md`, "For teachers"):
//!
//! ```json
//! { "format": "tutor-submission", "version": 1,
//!   "learner": "ana", "assignment": "cnn-week-1", "assignment_version": "1",
//!   "fingerprint": "3f2a…", "submitted_at": 1796000000, "tutor": "0.1.0",
//!   "answers": [ { "lesson": "lesson-1", "cell": "stride", "kind": "quiz", "graded": true,
//!                  "answer": "27", "answered_at": 1795999000,
//!                  "attempts": [ { "answer": "26", "at": 1795998000, "correct": null } ] } ] }
//! ```
//!
//! `answer` is the last answer given (an exercise's input); `correct` is what the learner's
//! tutor said for a practice cell and `null` for a graded one. The grader never trusts it: it
//! checks every graded answer again against the teacher's pack.

use serde::{Deserialize, Serialize};

use super::lesson::{CellBody, Lesson};
use super::pack::Pack;
use super::progress::Progress;

/// The `format` field of every submission.
pub const FORMAT: &str = "tutor-submission";
/// The submission format this tutor writes and reads.
pub const VERSION: u32 = 1;
/// The largest submission file read (a class's answers are a few kilobytes).
pub const MAX_BYTES: usize = 16 << 20;
/// The attempt a learner records by giving up (never their answer).
pub const GAVE_UP: &str = "(solution shown)";

/// One learner's hand-in.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Submission {
    pub format: String,
    pub version: u32,
    pub learner: String,
    pub assignment: String,
    pub assignment_version: String,
    /// The fingerprint of the released pack the learner answered (see `course::pack`).
    pub fingerprint: String,
    /// Seconds since the Unix epoch.
    pub submitted_at: u64,
    /// The tutor version that wrote the file.
    pub tutor: String,
    pub answers: Vec<CellAnswer>,
}

/// Everything a learner gave for one quiz or exercise.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CellAnswer {
    pub lesson: String,
    pub cell: String,
    /// `quiz` or `exercise`.
    pub kind: String,
    pub graded: bool,
    /// The last answer (an exercise's input); `null` when none was given.
    pub answer: Option<String>,
    pub answered_at: Option<u64>,
    #[serde(default)]
    pub attempts: Vec<SubmittedAttempt>,
}

/// One attempt, as the learner's tutor recorded it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SubmittedAttempt {
    pub answer: String,
    pub at: u64,
    /// The learner's tutor's verdict for a practice cell; `null` for a graded one.
    pub correct: Option<bool>,
}

impl Submission {
    /// The learner's answers to the pack's `lessons`, from their progress.
    pub fn build(
        pack: &Pack,
        fingerprint: &str,
        lessons: &[Lesson],
        progress: &Progress,
        at: u64,
    ) -> Submission {
        let mut answers = Vec::new();
        for l in lessons {
            let lp = progress.lesson(&l.id);
            for c in &l.cells {
                let (kind, map) = match &c.body {
                    CellBody::Quiz(_) => ("quiz", lp.map(|p| &p.quizzes)),
                    CellBody::Exercise(_) => ("exercise", lp.map(|p| &p.exercises)),
                    _ => continue,
                };
                let graded = c.graded.is_some();
                let attempts: Vec<SubmittedAttempt> = map
                    .and_then(|m| m.get(&c.id))
                    .map(|q| {
                        q.attempts
                            .iter()
                            .map(|a| SubmittedAttempt {
                                answer: a.answer.clone(),
                                at: a.at,
                                correct: (!graded).then_some(a.correct),
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                let last = attempts.iter().rev().find(|a| a.answer != GAVE_UP);
                answers.push(CellAnswer {
                    lesson: l.id.clone(),
                    cell: c.id.clone(),
                    kind: kind.into(),
                    graded,
                    answer: last.map(|a| a.answer.clone()),
                    answered_at: last.map(|a| a.at),
                    attempts,
                });
            }
        }
        Submission {
            format: FORMAT.into(),
            version: VERSION,
            learner: progress.learner.clone(),
            assignment: pack.assignment.clone(),
            assignment_version: pack.version.clone(),
            fingerprint: fingerprint.into(),
            submitted_at: at,
            tutor: env!("CARGO_PKG_VERSION").into(),
            answers,
        }
    }

    /// The learner's last answer to a cell.
    pub fn answer(&self, lesson: &str, cell: &str) -> Option<&CellAnswer> {
        self.answers
            .iter()
            .rev()
            .find(|a| a.lesson == lesson && a.cell == cell)
    }

    /// Reads a submission file's bytes, saying what is wrong (with the line and column of bad
    /// JSON) when it is not one.
    pub fn parse(bytes: &[u8]) -> Result<Submission, String> {
        if bytes.len() > MAX_BYTES {
            return Err(format!(
                "it has {} bytes, more than a submission ever needs ({MAX_BYTES})",
                bytes.len()
            ));
        }
        let text = std::str::from_utf8(bytes).map_err(|_| "it is not UTF-8 text".to_string())?;
        let value: serde_json::Value = serde_json::from_str(text).map_err(|e| {
            if e.is_eof() {
                format!(
                    "it ends too early, at line {} (a truncated file?)",
                    e.line()
                )
            } else {
                format!("it is not JSON: {e}")
            }
        })?;
        match value.get("format").and_then(|f| f.as_str()) {
            Some(FORMAT) => {}
            _ => {
                return Err(format!(
                    "it is not a tutor submission (no `\"format\": \"{FORMAT}\"`)"
                ))
            }
        }
        match value.get("version").and_then(serde_json::Value::as_u64) {
            Some(v) if v == u64::from(VERSION) => {}
            Some(v) => {
                return Err(format!(
                    "it has submission format version {v}; this tutor reads version {VERSION}"
                ))
            }
            None => return Err("it has no `version`".into()),
        }
        let s: Submission = serde_json::from_value(value).map_err(|e| format!("{e}"))?;
        let max = super::progress::MAX_LEARNER;
        if s.learner.trim().is_empty() || s.learner.chars().count() > max {
            return Err(format!("its `learner` must have 1 to {max} characters"));
        }
        if s.learner.chars().any(char::is_control) {
            return Err("its `learner` holds control characters".into());
        }
        Ok(s)
    }
}

/// Why a graded answer to a lesson in `dir` can no longer be changed: the learner handed the
/// lesson's assignment in. `None` while answers are open.
pub fn answers_final(progress: &Progress, dir: &std::path::Path) -> Option<String> {
    let pack = super::pack::load(dir).ok().flatten()?;
    let s = progress.submitted.get(&pack.assignment)?;
    Some(format!(
        "you handed in `{}` on {}: your graded answers are final",
        pack.assignment,
        super::pack::format_time(i64::try_from(s.at).unwrap_or(i64::MAX))
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn minimal(learner: &str) -> String {
        serde_json::json!({
            "format": FORMAT, "version": VERSION, "learner": learner, "assignment": "a",
            "assignment_version": "1", "fingerprint": "f", "submitted_at": 1, "tutor": "x",
            "answers": []
        })
        .to_string()
    }

    #[test]
    fn what_is_not_a_submission_is_named() {
        assert!(Submission::parse(minimal("ana").as_bytes()).is_ok());
        let err = |b: &[u8]| Submission::parse(b).unwrap_err();
        let full = minimal("ana");
        assert!(err(&full.as_bytes()[..full.len() / 2]).contains("truncated"));
        assert!(err(b"[1, 2]").contains("not a tutor submission"));
        assert!(err(b"\xff\xfe").contains("UTF-8"));
        assert!(err(minimal("").as_bytes()).contains("1 to 64"));
        assert!(err(minimal(&"x".repeat(65)).as_bytes()).contains("1 to 64"));
        assert!(err(minimal("a\u{1b}[2J").as_bytes()).contains("control"));
        let extra = full.replacen("\"answers\"", "\"points\": 99, \"answers\"", 1);
        assert!(err(extra.as_bytes()).contains("unknown field `points`"));
        let newer = full.replacen("\"version\":1", "\"version\":2", 1);
        assert!(
            err(newer.as_bytes()).contains("version 2"),
            "{}",
            err(newer.as_bytes())
        );
    }
}
