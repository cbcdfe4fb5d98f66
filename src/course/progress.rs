//! A learner's saved progress: cells visited, quiz and exercise attempts, per lesson.
//!
//! Kept as one JSON file in the platform's data folder (or `$TUTOR_HOME`). Every save writes a
//! temporary file beside it and renames it into place, so a crash never leaves half a file. A
//! file that cannot be read is renamed to a backup and reported, never silently replaced.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use serde::{Deserialize, Serialize};

use crate::course::lesson::{CellBody, Lesson};
use crate::util::atomic::write_atomic;

/// The environment variable that moves the progress folder (classrooms, tests).
pub const HOME_ENV: &str = "TUTOR_HOME";
/// The environment variable that names the learner (drills are drawn per learner).
pub const LEARNER_ENV: &str = "TUTOR_LEARNER";
const FILE_NAME: &str = "progress.json";
const VERSION: u32 = 1;

/// Everything saved for one learner.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Progress {
    pub version: u32,
    /// Seeds the learner's drill questions.
    pub learner: String,
    #[serde(default)]
    pub lessons: BTreeMap<String, LessonProgress>,
}

/// Progress in one lesson.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct LessonProgress {
    /// The cell the learner was last on; `run` resumes there.
    #[serde(default)]
    pub last_cell: Option<String>,
    #[serde(default)]
    pub visited: BTreeSet<String>,
    #[serde(default)]
    pub quizzes: BTreeMap<String, QuizProgress>,
    #[serde(default)]
    pub exercises: BTreeMap<String, QuizProgress>,
}

/// Attempts at one quiz or exercise.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct QuizProgress {
    #[serde(default)]
    pub attempts: Vec<Attempt>,
    #[serde(default)]
    pub solved: bool,
    /// Which drill question the learner is on (a new round draws new numbers).
    #[serde(default)]
    pub round: u32,
}

/// One answer given.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Attempt {
    pub answer: String,
    pub correct: bool,
    /// Seconds since the Unix epoch.
    pub at: u64,
}

impl Progress {
    pub fn new(learner: &str) -> Self {
        Progress {
            version: VERSION,
            learner: learner.to_string(),
            lessons: BTreeMap::new(),
        }
    }

    pub fn lesson(&self, id: &str) -> Option<&LessonProgress> {
        self.lessons.get(id)
    }

    pub fn lesson_mut(&mut self, id: &str) -> &mut LessonProgress {
        self.lessons.entry(id.to_string()).or_default()
    }

    /// Marks a cell visited and remembers it as the place to resume.
    pub fn visit(&mut self, lesson: &str, cell: &str) {
        let l = self.lesson_mut(lesson);
        l.visited.insert(cell.to_string());
        l.last_cell = Some(cell.to_string());
    }

    /// Records an answer to a quiz (or exercise, with `exercise`).
    pub fn record(
        &mut self,
        lesson: &str,
        cell: &str,
        exercise: bool,
        answer: &str,
        correct: bool,
    ) {
        let l = self.lesson_mut(lesson);
        let map = if exercise {
            &mut l.exercises
        } else {
            &mut l.quizzes
        };
        let q = map.entry(cell.to_string()).or_default();
        q.attempts.push(Attempt {
            answer: answer.to_string(),
            correct,
            at: now(),
        });
        q.solved |= correct;
    }

    /// A summary for `tutor list` and the title bar.
    pub fn summary(&self, lesson: &Lesson) -> Summary {
        let lp = self.lesson(&lesson.id);
        let mut s = Summary {
            cells: lesson.cells.len(),
            ..Summary::default()
        };
        for c in &lesson.cells {
            let visited = lp.is_some_and(|l| l.visited.contains(&c.id));
            s.visited += usize::from(visited);
            let (is_task, map) = match &c.body {
                CellBody::Quiz(_) => (true, lp.map(|l| &l.quizzes)),
                CellBody::Exercise(_) => (true, lp.map(|l| &l.exercises)),
                _ => (false, None),
            };
            if is_task {
                s.tasks += 1;
                if map.and_then(|m| m.get(&c.id)).is_some_and(|q| q.solved) {
                    s.solved += 1;
                }
            }
        }
        s
    }
}

/// How far a learner is in a lesson.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    pub cells: usize,
    pub visited: usize,
    /// Quizzes and exercises.
    pub tasks: usize,
    pub solved: usize,
}

impl Summary {
    /// Fraction of the lesson done: cells visited and tasks solved, equally weighted.
    pub fn fraction(&self) -> f64 {
        let total = self.cells + self.tasks;
        if total == 0 {
            return 0.0;
        }
        (self.visited + self.solved) as f64 / total as f64
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The folder progress is kept in: `$TUTOR_HOME`, else the platform's data folder.
pub fn default_dir() -> anyhow::Result<PathBuf> {
    if let Some(dir) = std::env::var_os(HOME_ENV).filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    directories::ProjectDirs::from("", "", "tutor")
        .map(|d| d.data_dir().to_path_buf())
        .ok_or_else(|| anyhow::anyhow!("cannot find a home folder for progress; set {HOME_ENV}"))
}

/// The learner's name: `$TUTOR_LEARNER`, else the login name, else "learner".
pub fn default_learner() -> String {
    ["TUTOR_LEARNER", "USER", "USERNAME"]
        .iter()
        .find_map(|k| std::env::var(k).ok().filter(|v| !v.trim().is_empty()))
        .unwrap_or_else(|| "learner".to_string())
}

/// Progress tied to its file.
#[derive(Debug)]
pub struct Store {
    path: PathBuf,
    pub data: Progress,
}

impl Store {
    /// Opens the progress in `dir` (creating nothing until the first save). Returns a warning
    /// to show the learner when the old file was unreadable and has been set aside.
    pub fn open(dir: &Path, learner: &str) -> anyhow::Result<(Store, Option<String>)> {
        let path = dir.join(FILE_NAME);
        let fresh = || Progress::new(learner);
        let text = match fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok((
                    Store {
                        path,
                        data: fresh(),
                    },
                    None,
                ));
            }
            Err(e) => return Err(e).with_context(|| format!("cannot read `{}`", path.display())),
        };
        match serde_json::from_str::<Progress>(&text) {
            Ok(mut data) => {
                // The learner may be renamed (a shared classroom machine): keep their
                // history, draw drills for the name in use now.
                data.learner = learner.to_string();
                Ok((Store { path, data }, None))
            }
            Err(e) => {
                let backup = dir.join(format!("progress.corrupt-{}.json", now()));
                fs::rename(&path, &backup).with_context(|| {
                    format!("cannot move the unreadable `{}` aside", path.display())
                })?;
                let warning = format!(
                    "Your progress file `{}` could not be read ({e}). It was kept as `{}` and a fresh one started.",
                    path.display(),
                    backup.display()
                );
                Ok((
                    Store {
                        path,
                        data: fresh(),
                    },
                    Some(warning),
                ))
            }
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes the progress atomically.
    pub fn save(&self) -> anyhow::Result<()> {
        let text = serde_json::to_string_pretty(&self.data)?;
        write_atomic(&self.path, text.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let (mut s, warn) = Store::open(dir.path(), "ana").unwrap();
        assert!(warn.is_none());
        s.data.visit("lesson-1", "intro");
        s.data.record("lesson-1", "q1", false, "b", false);
        s.data.record("lesson-1", "q1", false, "c", true);
        s.save().unwrap();
        let (s2, warn) = Store::open(dir.path(), "ana").unwrap();
        assert!(warn.is_none());
        assert_eq!(s2.data, s.data);
        let q = &s2.data.lessons["lesson-1"].quizzes["q1"];
        assert_eq!(q.attempts.len(), 2);
        assert!(q.solved);
        assert_eq!(
            s2.data.lessons["lesson-1"].last_cell.as_deref(),
            Some("intro")
        );
    }

    #[test]
    fn corrupt_file_is_kept_and_reported() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(FILE_NAME), "{ not json").unwrap();
        let (s, warn) = Store::open(dir.path(), "ana").unwrap();
        let warn = warn.expect("a warning");
        assert!(warn.contains("could not be read"), "{warn}");
        assert!(s.data.lessons.is_empty());
        let backups: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| {
                e.file_name()
                    .to_string_lossy()
                    .starts_with("progress.corrupt-")
            })
            .collect();
        assert_eq!(backups.len(), 1);
        assert_eq!(fs::read_to_string(backups[0].path()).unwrap(), "{ not json");
        // The fresh file is only written on save, and then it loads cleanly.
        s.save().unwrap();
        assert!(Store::open(dir.path(), "ana").unwrap().1.is_none());
    }

    #[test]
    fn atomic_write_leaves_no_temp_files() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sub").join("x.json");
        write_atomic(&p, b"1").unwrap();
        write_atomic(&p, b"2").unwrap();
        assert_eq!(fs::read_to_string(&p).unwrap(), "2");
        let n = fs::read_dir(p.parent().unwrap()).unwrap().count();
        assert_eq!(n, 1);
    }
}
