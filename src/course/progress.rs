//! A learner's saved progress: cells visited, quiz and exercise attempts, per lesson.
//!
//! Kept as one JSON file per learner, `learners/NAME.json`, in the platform's data folder (or
//! `$TUTOR_HOME`), so students sharing a machine never see or overwrite each other's work.
//! Every save takes an advisory lock on the learner's file, re-reads it, merges what another
//! tutor process saved meanwhile (attempts are only ever added), and writes the result through
//! a temporary file and a rename: two notebooks open on one learner lose nothing, and a crash
//! never leaves half a file. A file that cannot be read (bad JSON, not UTF-8) is renamed to a
//! backup and reported, never silently replaced; one written by a newer tutor is kept as it is
//! and not overwritten.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::time::Duration;

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde::{Deserialize, Serialize};

use crate::course::lesson::{CellBody, Lesson};
use crate::util::atomic::{remove_stale_temps, write_atomic};

/// The environment variable that moves the progress folder (classrooms, tests).
pub const HOME_ENV: &str = crate::util::home::HOME_ENV;
/// The environment variable that names the learner (drills are drawn per learner).
pub const LEARNER_ENV: &str = "TUTOR_LEARNER";
/// The file of progress before it was kept per learner; adopted by the learner it names.
const LEGACY_FILE: &str = "progress.json";
/// The folder of the learners' files, inside the progress folder.
const LEARNERS_DIR: &str = "learners";
/// The progress format this tutor writes.
pub const VERSION: u32 = 1;
/// The longest learner name (it becomes a file name).
pub const MAX_LEARNER: usize = 64;
/// How long a save waits for another tutor process to finish its own.
const LOCK_WAIT: Duration = Duration::from_secs(10);

/// Everything saved for one learner.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Progress {
    pub version: u32,
    /// Seeds the learner's drill questions.
    pub learner: String,
    #[serde(default)]
    pub lessons: BTreeMap<String, LessonProgress>,
    /// Assignments handed in with `tutor submit`, by assignment id: their graded answers are
    /// final.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub submitted: BTreeMap<String, Submitted>,
}

/// When an assignment was handed in, and which copy of it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Submitted {
    /// Seconds since the Unix epoch.
    pub at: u64,
    /// The fingerprint of the released pack answered.
    pub fingerprint: String,
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
            submitted: BTreeMap::new(),
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
                // A graded answer counts once given: it is checked by the teacher.
                let done =
                    |q: &QuizProgress| q.solved || (c.graded.is_some() && !q.attempts.is_empty());
                if map.and_then(|m| m.get(&c.id)).is_some_and(done) {
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
    crate::util::clock::now()
}

/// The folder progress is kept in: `$TUTOR_HOME`, else the platform's data folder.
pub fn default_dir() -> anyhow::Result<PathBuf> {
    crate::util::home::state_dir()
}

/// The learner's name: `$TUTOR_LEARNER`, else the login name, else "learner".
pub fn default_learner() -> String {
    crate::util::home::learner()
}

/// A learner's name as a file name: letters, digits, `-` and `_` kept, every other byte as
/// `%XX`, so no name can point outside the folder (`../x`) or clash with another.
pub fn file_stem(learner: &str) -> String {
    let mut out = String::new();
    for b in learner.bytes() {
        if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// What reading a progress file found.
enum Read {
    Missing,
    Found(Progress),
    /// Written by another version: keep it as it is.
    OtherVersion(u64),
    /// Not JSON of progress (or not UTF-8): the reason.
    Unreadable(String),
}

fn read_file(path: &Path) -> anyhow::Result<Read> {
    let bytes = match fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Read::Missing),
        Err(e) => return Err(e).with_context(|| format!("cannot read `{}`", path.display())),
    };
    let Ok(text) = String::from_utf8(bytes) else {
        return Ok(Read::Unreadable("it is not UTF-8 text".to_string()));
    };
    let value: serde_json::Value = match serde_json::from_str(&text) {
        Ok(v) => v,
        Err(e) => return Ok(Read::Unreadable(e.to_string())),
    };
    match value.get("version").and_then(serde_json::Value::as_u64) {
        Some(v) if v == u64::from(VERSION) => {}
        Some(v) => return Ok(Read::OtherVersion(v)),
        None => return Ok(Read::Unreadable("it has no `version`".to_string())),
    }
    Ok(match serde_json::from_value::<Progress>(value) {
        Ok(p) => Read::Found(p),
        Err(e) => Read::Unreadable(e.to_string()),
    })
}

/// Progress tied to its file.
#[derive(Debug)]
pub struct Store {
    path: PathBuf,
    pub data: Progress,
    /// The file on disk belongs to another version of the tutor: never write over it.
    read_only: bool,
}

impl Store {
    /// Opens `learner`'s progress in `dir` (creating nothing until the first save), and clears
    /// temporary files a killed tutor left there. Returns a warning to show the learner when
    /// the old file was unreadable and has been set aside, or is kept because a newer tutor
    /// wrote it.
    pub fn open(dir: &Path, learner: &str) -> anyhow::Result<(Store, Option<String>)> {
        if learner.trim().is_empty() || learner.chars().count() > MAX_LEARNER {
            anyhow::bail!(
                "the learner's name must have 1 to {MAX_LEARNER} characters, got `{learner}`"
            );
        }
        let folder = dir.join(LEARNERS_DIR);
        let name = format!("{}.json", file_stem(learner));
        let path = folder.join(&name);
        remove_stale_temps(&folder, &name);
        remove_stale_temps(dir, LEGACY_FILE);
        let store = |data: Progress, read_only: bool| Store {
            path: path.clone(),
            data,
            read_only,
        };
        let fresh = || Progress::new(learner);
        match read_file(&path)? {
            Read::Found(mut data) => {
                data.learner = learner.to_string();
                Ok((store(data, false), None))
            }
            Read::Missing => {
                // Progress kept before it was per learner goes to the learner it names.
                if let Ok(Read::Found(mut old)) = read_file(&dir.join(LEGACY_FILE)) {
                    if old.learner == learner {
                        old.learner = learner.to_string();
                        return Ok((store(old, false), None));
                    }
                }
                Ok((store(fresh(), false), None))
            }
            Read::OtherVersion(v) => Ok((
                store(fresh(), true),
                Some(format!(
                    "Your progress file `{}` has version {v}, which this tutor (version \
                     {VERSION}) does not read: it is kept as it is, and nothing you do in this \
                     session is saved. Use the newer tutor to keep your progress.",
                    path.display()
                )),
            )),
            Read::Unreadable(why) => {
                let backup = folder.join(format!("{}.corrupt-{}.json", file_stem(learner), now()));
                fs::rename(&path, &backup).with_context(|| {
                    format!("cannot move the unreadable `{}` aside", path.display())
                })?;
                let warning = format!(
                    "Your progress file `{}` could not be read ({why}). It was kept as `{}` and a fresh one started.",
                    path.display(),
                    backup.display()
                );
                Ok((store(fresh(), false), Some(warning)))
            }
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Saves the progress: under an advisory lock, merges what is on disk (another tutor
    /// process may have saved since this one read it), writes the result atomically, and keeps
    /// the merged progress in memory. Does nothing for a file a newer tutor wrote.
    pub fn save(&mut self) -> anyhow::Result<()> {
        if self.read_only {
            return Ok(());
        }
        let dir = self.path.parent().unwrap_or(Path::new("."));
        fs::create_dir_all(dir).with_context(|| format!("cannot create `{}`", dir.display()))?;
        let lock_path = self.path.with_extension("lock");
        let lock = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .with_context(|| format!("cannot open `{}`", lock_path.display()))?;
        let t0 = std::time::Instant::now();
        loop {
            match lock.try_lock() {
                Ok(()) => break,
                Err(fs::TryLockError::WouldBlock) if t0.elapsed() < LOCK_WAIT => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(fs::TryLockError::WouldBlock) => anyhow::bail!(
                    "another tutor has held `{}` for {} s; progress not saved",
                    lock_path.display(),
                    LOCK_WAIT.as_secs()
                ),
                Err(fs::TryLockError::Error(e)) => {
                    return Err(e).with_context(|| format!("cannot lock `{}`", lock_path.display()))
                }
            }
        }
        match read_file(&self.path)? {
            Read::Found(disk) => self.data.merge(&disk),
            Read::OtherVersion(v) => {
                self.read_only = true;
                anyhow::bail!(
                    "`{}` was replaced by a tutor writing version {v}: not overwritten",
                    self.path.display()
                );
            }
            // A file broken since it was opened is kept aside rather than written over.
            Read::Unreadable(_) => {
                let backup = dir.join(format!("{}.corrupt-{}", self.file_name(), now()));
                let _ = fs::rename(&self.path, backup);
            }
            Read::Missing => {}
        }
        let text = serde_json::to_string_pretty(&self.data)?;
        let result = write_atomic(&self.path, text.as_bytes());
        let _ = lock.unlock();
        result
    }

    fn file_name(&self) -> String {
        self.path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }
}

impl Progress {
    /// Adds what `other` (the same learner's progress saved by another process) has and this
    /// one lacks: visited cells, attempts (each kept once), solved flags, the later round. The
    /// place to resume stays this process's.
    pub fn merge(&mut self, other: &Progress) {
        for (id, theirs) in &other.submitted {
            let keep_theirs = self
                .submitted
                .get(id)
                .is_none_or(|ours| theirs.at < ours.at);
            if keep_theirs {
                self.submitted.insert(id.clone(), theirs.clone());
            }
        }
        for (id, theirs) in &other.lessons {
            let ours = self.lesson_mut(id);
            ours.visited.extend(theirs.visited.iter().cloned());
            if ours.last_cell.is_none() {
                ours.last_cell.clone_from(&theirs.last_cell);
            }
            for (mine, from) in [
                (&mut ours.quizzes, &theirs.quizzes),
                (&mut ours.exercises, &theirs.exercises),
            ] {
                for (cell, t) in from {
                    let q = mine.entry(cell.clone()).or_default();
                    for a in &t.attempts {
                        if !q.attempts.contains(a) {
                            q.attempts.push(a.clone());
                        }
                    }
                    q.attempts.sort_by_key(|a| a.at);
                    q.solved |= t.solved;
                    q.round = q.round.max(t.round);
                }
            }
        }
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

    fn backups(dir: &Path) -> Vec<PathBuf> {
        fs::read_dir(dir.join(LEARNERS_DIR))
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().contains(".corrupt-"))
            .map(|e| e.path())
            .collect()
    }

    fn write_learner(dir: &Path, learner: &str, bytes: &[u8]) {
        fs::create_dir_all(dir.join(LEARNERS_DIR)).unwrap();
        fs::write(
            dir.join(LEARNERS_DIR)
                .join(format!("{}.json", file_stem(learner))),
            bytes,
        )
        .unwrap();
    }

    #[test]
    fn corrupt_file_is_kept_and_reported() {
        let dir = tempfile::tempdir().unwrap();
        write_learner(dir.path(), "ana", b"{ not json");
        let (mut s, warn) = Store::open(dir.path(), "ana").unwrap();
        let warn = warn.expect("a warning");
        assert!(warn.contains("could not be read"), "{warn}");
        assert!(s.data.lessons.is_empty());
        let b = backups(dir.path());
        assert_eq!(b.len(), 1);
        assert_eq!(fs::read_to_string(&b[0]).unwrap(), "{ not json");
        // The fresh file is only written on save, and then it loads cleanly.
        s.save().unwrap();
        assert!(Store::open(dir.path(), "ana").unwrap().1.is_none());
    }

    #[test]
    fn a_file_that_is_not_utf8_is_backed_up_not_a_lock_out() {
        // Issue 11, item 6.
        let dir = tempfile::tempdir().unwrap();
        write_learner(dir.path(), "ana", b"{\"version\": 1, \xff\xfe}");
        let (s, warn) = Store::open(dir.path(), "ana").unwrap();
        let warn = warn.expect("a warning");
        assert!(warn.contains("not UTF-8"), "{warn}");
        assert!(s.data.lessons.is_empty());
        let b = backups(dir.path());
        assert_eq!(fs::read(&b[0]).unwrap(), b"{\"version\": 1, \xff\xfe}");
    }

    #[test]
    fn two_processes_on_one_learner_lose_nothing() {
        // Issue 11, item 7: a quiz solved in one notebook was lost when the other saved.
        let dir = tempfile::tempdir().unwrap();
        let (mut a, _) = Store::open(dir.path(), "ana").unwrap();
        let (mut b, _) = Store::open(dir.path(), "ana").unwrap();
        a.data.record("lesson-1", "q1", false, "4", true);
        a.save().unwrap();
        b.data.record("lesson-2", "q2", false, "x", false);
        b.data.visit("lesson-2", "intro");
        b.save().unwrap();
        a.data.record("lesson-1", "q3", true, "k3", true);
        a.save().unwrap();
        let (c, _) = Store::open(dir.path(), "ana").unwrap();
        let l1 = &c.data.lessons["lesson-1"];
        assert!(l1.quizzes["q1"].solved);
        assert!(l1.exercises["q3"].solved);
        let l2 = &c.data.lessons["lesson-2"];
        assert_eq!(l2.quizzes["q2"].attempts.len(), 1);
        assert!(l2.visited.contains("intro"));
        // Saving again adds no duplicate attempts.
        b.save().unwrap();
        let (c, _) = Store::open(dir.path(), "ana").unwrap();
        assert_eq!(c.data.lessons["lesson-1"].quizzes["q1"].attempts.len(), 1);
    }

    #[test]
    fn learners_are_kept_apart() {
        // Issue 12, item 3: `--learner alice` showed another learner's progress.
        let dir = tempfile::tempdir().unwrap();
        let (mut bob, _) = Store::open(dir.path(), "bob").unwrap();
        bob.data.record("lesson-1", "q1", false, "4", true);
        bob.save().unwrap();
        let (alice, _) = Store::open(dir.path(), "alice").unwrap();
        assert!(alice.data.lessons.is_empty());
        assert_ne!(alice.path(), bob.path());
        let (evil, _) = Store::open(dir.path(), "../bob").unwrap();
        assert!(evil.data.lessons.is_empty());
        assert!(evil.path().starts_with(dir.path().join(LEARNERS_DIR)));
        assert!(Store::open(dir.path(), &"x".repeat(65)).is_err());
        // The old shared file goes to the learner it names, and only to them.
        let mut old = Progress::new("carol");
        old.visit("lesson-3", "intro");
        fs::write(
            dir.path().join(LEGACY_FILE),
            serde_json::to_string(&old).unwrap(),
        )
        .unwrap();
        let (carol, _) = Store::open(dir.path(), "carol").unwrap();
        assert!(carol.data.lessons.contains_key("lesson-3"));
        let (dan, _) = Store::open(dir.path(), "dan").unwrap();
        assert!(dan.data.lessons.is_empty());
    }

    #[test]
    fn a_newer_version_is_reported_kept_and_not_overwritten() {
        // Issue 11, item 17.
        let dir = tempfile::tempdir().unwrap();
        let text = br#"{"version": 7, "learner": "ana", "lessons": {"x": 1}}"#;
        write_learner(dir.path(), "ana", text);
        let (mut s, warn) = Store::open(dir.path(), "ana").unwrap();
        assert!(warn.unwrap().contains("version 7"));
        s.data.visit("lesson-1", "intro");
        s.save().unwrap();
        let on_disk = fs::read(dir.path().join(LEARNERS_DIR).join("ana.json")).unwrap();
        assert_eq!(on_disk, text);
    }

    #[test]
    fn temp_files_of_killed_tutors_are_removed_at_start() {
        // Issue 11, item 10: kill -9 during a save left `.NAME.<pid>.tmp` behind.
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().join(LEARNERS_DIR);
        fs::create_dir_all(&folder).unwrap();
        // No process has a pid this large (Linux caps pids at 2^22).
        let stale = folder.join(".ana.json.999999999.tmp");
        let mine = folder.join(format!(".ana.json.{}.tmp", std::process::id()));
        let other = folder.join(".notes.txt");
        for f in [&stale, &mine, &other] {
            fs::write(f, "x").unwrap();
        }
        Store::open(dir.path(), "ana").unwrap();
        assert!(!stale.exists());
        assert!(mine.exists() && other.exists());
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
