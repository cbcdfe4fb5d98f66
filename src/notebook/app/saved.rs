//! A lesson's runs kept on disk between sessions: the parameter values of every run cell and
//! the outputs of its last finished long run (training takes minutes; quick runs are simply
//! rerun when the lesson opens). One JSON file per learner and lesson, in a `runs` folder
//! beside the progress file, written atomically; a file that cannot be read is ignored (the
//! cells start fresh), never fatal.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::cell_state::{RunResult, RunStatus};
use crate::experiments::Value;
use crate::output::Outputs;

const VERSION: u32 = 1;

/// One run cell's last finished run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SavedRun {
    /// The values the run used.
    pub ran_with: BTreeMap<String, Value>,
    pub outputs: Outputs,
    pub metrics: BTreeMap<String, f64>,
    pub seconds: f64,
}

impl SavedRun {
    /// What a finished run leaves to keep; None for a run that did not finish.
    pub fn of(result: &RunResult) -> Option<SavedRun> {
        let RunStatus::Done { elapsed } = result.status else {
            return None;
        };
        Some(SavedRun {
            ran_with: result.ran_with.clone()?,
            outputs: result.outputs.clone(),
            // JSON has no NaN; a metric that is not a number is not worth keeping.
            metrics: result
                .metrics
                .iter()
                .filter(|(_, v)| v.is_finite())
                .map(|(k, v)| (k.clone(), *v))
                .collect(),
            seconds: elapsed.as_secs_f64(),
        })
    }

    pub fn into_result(self) -> RunResult {
        RunResult::restored(
            self.outputs,
            self.metrics,
            Duration::from_secs_f64(self.seconds.max(0.0)),
            self.ran_with,
        )
    }
}

/// What is kept of one lesson, by cell id.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SavedLesson {
    pub version: u32,
    pub lesson: String,
    /// Every run cell's parameter values as the learner left them.
    pub values: BTreeMap<String, BTreeMap<String, Value>>,
    /// The last finished long run of each run cell.
    pub runs: BTreeMap<String, SavedRun>,
}

/// The file for `learner`'s runs of `lesson`, in the tutor's home that holds the progress file
/// `progress`: `runs/<learner>/<lesson>.json`.
pub fn path(progress: &Path, learner: &str, lesson: &str) -> PathBuf {
    let safe = |s: &str| -> String {
        s.chars()
            .map(|c| {
                if c.is_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect()
    };
    // Progress files sit in `<home>/learners/`; the runs go to `<home>/runs/<learner>/`.
    let mut home = progress.parent().unwrap_or(Path::new("."));
    if home.file_name().is_some_and(|n| n == "learners") {
        home = home.parent().unwrap_or(Path::new("."));
    }
    home.join("runs")
        .join(safe(learner))
        .join(format!("{}.json", safe(lesson)))
}

/// The saved runs at `path`, if there is a readable file of this version for `lesson`.
pub fn load(path: &Path, lesson: &str) -> Option<SavedLesson> {
    let text = std::fs::read_to_string(path).ok()?;
    let saved: SavedLesson = serde_json::from_str(&text).ok()?;
    (saved.version == VERSION && saved.lesson == lesson).then_some(saved)
}

/// Writes `saved` to `path` atomically.
pub fn save(path: &Path, mut saved: SavedLesson) -> anyhow::Result<()> {
    saved.version = VERSION;
    let text = serde_json::to_string(&saved)?;
    crate::util::atomic::write_atomic(path, text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::Output;

    #[test]
    fn a_finished_run_round_trips_and_others_are_not_kept() {
        let dir = tempfile::tempdir().unwrap();
        let file = path(&dir.path().join("progress.json"), "ana b", "lesson-3");
        assert!(file.ends_with("runs/ana_b/lesson-3.json"), "{file:?}");
        let values: BTreeMap<String, Value> = [("epochs".to_string(), Value::Int(2))].into();
        let mut r = RunResult::default();
        r.start(values.clone());
        r.show("t".into(), Output::Text("accuracy 0.97".into()));
        r.metrics.insert("acc".into(), 0.97);
        r.metrics.insert("nan".into(), f64::NAN);
        assert!(SavedRun::of(&r).is_none(), "still running");
        r.end(RunStatus::Done {
            elapsed: Duration::from_secs(19),
        });
        let mut saved = SavedLesson {
            lesson: "lesson-3".into(),
            ..SavedLesson::default()
        };
        saved
            .runs
            .insert("compare".into(), SavedRun::of(&r).unwrap());
        save(&file, saved).unwrap();
        assert!(load(&file, "lesson-4").is_none(), "another lesson's file");
        let back = load(&file, "lesson-3").unwrap().runs["compare"]
            .clone()
            .into_result();
        assert_eq!(back.metrics.len(), 1);
        assert_eq!(
            back.status,
            RunStatus::Done {
                elapsed: Duration::from_secs(19)
            }
        );
        assert!(!back.is_stale(&values));
        assert!(matches!(&back.outputs[0].1, Output::Text(t) if t == "accuracy 0.97"));
        std::fs::write(&file, "{ not json").unwrap();
        assert!(
            load(&file, "lesson-3").is_none(),
            "an unreadable file is ignored"
        );
    }
}
