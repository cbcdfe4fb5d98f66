//! `tutor grade`: a whole class's submissions scored against the teacher's pack.
//!
//! Nothing a submission says about correctness is used: every graded answer is checked again
//! here. A drill is drawn again from the learner's name (from the released question, exactly as
//! their tutor drew it) and its answer computed from the teacher's; an exercise's input is run
//! again with a time limit, and a run that fails or times out costs only that cell. A file
//! that is not a submission, is for another assignment or another copy of the pack, or repeats
//! a learner, is reported by name and the rest are graded. Submissions are graded on every
//! core; identical exercise inputs run once.

mod report;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use rayon::prelude::*;

use super::exercise;
use super::lesson::{self, CellBody, Exercise, Lesson};
use super::pack::Pack;
use super::quiz::{self, score};
use super::release::{self, Released};
use super::submission::Submission;
use crate::experiments::{Ctx, Recorder};
use crate::output::Output;

pub use report::{csv_field, write_reports};

/// The key: the teacher's pack and the student copy rebuilt from it.
pub struct Key {
    pub pack: Pack,
    /// The teacher's lessons, with answers.
    pub lessons: Vec<Lesson>,
    /// The same lessons as released (what learners saw), in the same order.
    pub shown: Vec<Lesson>,
    pub released: Released,
}

impl Key {
    /// Loads the teacher's pack in `dir` and releases it in memory.
    pub fn load(dir: &Path) -> anyhow::Result<Key> {
        let released = release::release(dir)?;
        let (mut lessons, errors) = lesson::load_dir(dir)?;
        if let Some(e) = errors.first() {
            bail!("the key has problems:\n{e}");
        }
        lessons.sort_by_key(|l| l.number);
        let mut shown = Vec::new();
        for l in &lessons {
            let name = l
                .path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let text = released
                .text(&name)
                .with_context(|| format!("internal: `{name}` was not released"))?;
            // Relative files (networks) resolve in the teacher's folder.
            shown.push(lesson::load_str(text, &l.path).map_err(|e| anyhow::anyhow!("{e}"))?);
        }
        Ok(Key {
            pack: released.pack.clone(),
            lessons,
            shown,
            released,
        })
    }

    /// The graded cells, in lesson then cell order: (lesson index, cell index).
    pub fn graded_cells(&self) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        for (li, l) in self.lessons.iter().enumerate() {
            for (ci, c) in l.cells.iter().enumerate() {
                if c.graded.is_some() {
                    out.push((li, ci));
                }
            }
        }
        out
    }

    /// The column name of a graded cell: `lesson-id/cell-id`.
    pub fn column(&self, (li, ci): (usize, usize)) -> String {
        format!("{}/{}", self.lessons[li].id, self.lessons[li].cells[ci].id)
    }
}

/// How grading runs.
#[derive(Debug, Clone)]
pub struct Options {
    /// The longest an exercise's run may take before the cell is marked timed out.
    pub time_limit: Duration,
}

/// One graded cell of one learner.
#[derive(Debug, Clone, PartialEq)]
pub struct CellGrade {
    pub column: String,
    pub question: String,
    pub answer: Option<String>,
    pub points: f64,
    pub max: f64,
    /// "right", "wrong: Too small.", "no answer", "timed out after 60 s"...
    pub verdict: String,
    /// The teacher's explanation and right answer, for the feedback file.
    pub explanation: String,
}

/// One learner's grade.
#[derive(Debug, Clone, PartialEq)]
pub struct LearnerGrade {
    pub learner: String,
    pub file: PathBuf,
    pub cells: Vec<CellGrade>,
    pub total: f64,
    pub max: f64,
    /// Seconds after the deadline the submission was made, when it was late.
    pub late_by: Option<u64>,
    pub submitted_at: u64,
}

/// A class graded: the learners (by name) and the files that could not be graded.
#[derive(Debug, Default)]
pub struct Outcome {
    pub grades: Vec<LearnerGrade>,
    /// `(file, why)` for every submission reported instead of graded.
    pub problems: Vec<(PathBuf, String)>,
}

/// The submission files among `inputs`: files as given, and the `*.json` files of folders.
pub fn collect_inputs(inputs: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for p in inputs {
        if p.is_dir() {
            let mut v: Vec<PathBuf> = std::fs::read_dir(p)
                .with_context(|| format!("cannot read the folder `{}`", p.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| f.extension().is_some_and(|x| x == "json") && f.is_file())
                .collect();
            v.sort();
            files.extend(v);
        } else if p.exists() {
            files.push(p.clone());
        } else {
            bail!("no submission file or folder `{}`", p.display());
        }
    }
    Ok(files)
}

/// Grades every file in `files` against `key`.
pub fn grade(key: &Key, files: &[PathBuf], opts: &Options) -> Outcome {
    let mut out = Outcome::default();
    // Read and vet every file first (cheap), then grade the good ones on every core.
    let mut good: Vec<(PathBuf, Submission)> = Vec::new();
    for f in files {
        match read_submission(f, key) {
            Ok(s) => good.push((f.clone(), s)),
            Err(why) => out.problems.push((f.clone(), why)),
        }
    }
    // One submission per learner: the latest counts, the others are reported.
    good.sort_by(|a, b| {
        (&a.1.learner, b.1.submitted_at, &a.0).cmp(&(&b.1.learner, a.1.submitted_at, &b.0))
    });
    let mut kept: Vec<(PathBuf, Submission)> = Vec::new();
    for (f, s) in good {
        match kept.last() {
            Some((kf, k)) if k.learner == s.learner => out.problems.push((
                f,
                format!(
                    "a second submission of learner `{}`: `{}`, submitted later, is graded instead",
                    s.learner,
                    kf.display()
                ),
            )),
            _ => kept.push((f, s)),
        }
    }
    let cache = Mutex::new(HashMap::new());
    out.grades = kept
        .par_iter()
        .map(|(f, s)| grade_one(key, f, s, opts, &cache))
        .collect();
    out.problems.sort();
    out
}

fn read_submission(f: &Path, key: &Key) -> Result<Submission, String> {
    let bytes = crate::util::files::read_regular(f).map_err(|e| format!("cannot read it: {e}"))?;
    let s = Submission::parse(&bytes)?;
    if s.assignment != key.pack.assignment {
        return Err(format!(
            "it is for assignment `{}`, not `{}`",
            s.assignment, key.pack.assignment
        ));
    }
    if s.assignment_version != key.pack.version || s.fingerprint != key.released.fingerprint {
        return Err(format!(
            "it answers another copy of the pack (version {}, fingerprint {}); this key releases \
             version {} with fingerprint {}",
            s.assignment_version, s.fingerprint, key.pack.version, key.released.fingerprint
        ));
    }
    Ok(s)
}

/// An exercise run's result, cached by (lesson, cell, input).
#[derive(Debug, Clone)]
enum Run {
    Goals(Vec<(bool, String)>),
    Failed(String),
    TimedOut,
}

type Cache = Mutex<HashMap<(usize, usize, String), Run>>;

fn grade_one(
    key: &Key,
    file: &Path,
    s: &Submission,
    opts: &Options,
    cache: &Cache,
) -> LearnerGrade {
    let mut cells = Vec::new();
    for (li, ci) in key.graded_cells() {
        let (l, c) = (&key.lessons[li], &key.lessons[li].cells[ci]);
        let shown = &key.shown[li].cells[ci];
        let max = c.graded.map_or(0.0, |g| g.points);
        let answer = s
            .answer(&l.id, &c.id)
            .and_then(|a| a.answer.clone())
            .filter(|a| !a.trim().is_empty());
        let (question, fraction, verdict, explanation) = match (&c.body, &shown.body) {
            (CellBody::Quiz(q), CellBody::Quiz(sq)) => {
                let seed = quiz::seed(&s.learner, &l.id, &c.id, 0);
                match quiz::draw(sq, seed, l.dir()) {
                    Err(e) => (
                        q.question.clone(),
                        0.0,
                        format!("cannot draw: {e}"),
                        String::new(),
                    ),
                    Ok(d) => {
                        let (fraction, verdict) = match &answer {
                            None => (0.0, "no answer".to_string()),
                            Some(a) => {
                                let sc = score::score(q, sq, &d, l.dir(), seed, a);
                                (sc.fraction, sc.verdict)
                            }
                        };
                        let right = quiz::answer_text(q, &d, l.dir(), seed);
                        let why = quiz::explanation_text(q, &d, l.dir(), seed);
                        (
                            quiz::question_text(q, &d),
                            fraction,
                            verdict,
                            format!("The answer: {right}. {why}").trim().to_string(),
                        )
                    }
                }
            }
            (CellBody::Exercise(ex), _) => {
                let (fraction, verdict) = match &answer {
                    None => (0.0, "no answer".to_string()),
                    Some(a) => exercise_score(ex, (li, ci), a.trim(), opts, cache),
                };
                let sol = ex
                    .solution
                    .as_ref()
                    .map(|x| format!("One solution: `{x}`. "))
                    .unwrap_or_default();
                (
                    ex.prompt.clone(),
                    fraction,
                    verdict,
                    format!("{sol}{}", ex.explanation).trim().to_string(),
                )
            }
            _ => (
                String::new(),
                0.0,
                "internal: cell kinds differ".into(),
                String::new(),
            ),
        };
        cells.push(CellGrade {
            column: key.column((li, ci)),
            question,
            answer,
            points: fraction * max,
            max,
            verdict,
            explanation,
        });
    }
    let total = cells.iter().map(|c| c.points).sum();
    let max = cells.iter().map(|c| c.max).sum();
    let late_by = key
        .pack
        .deadline
        .and_then(|d| u64::try_from(i64::try_from(s.submitted_at).ok()? - d).ok())
        .filter(|&x| x > 0);
    LearnerGrade {
        learner: s.learner.clone(),
        file: file.to_path_buf(),
        cells,
        total,
        max,
        late_by,
        submitted_at: s.submitted_at,
    }
}

fn exercise_score(
    ex: &Exercise,
    at: (usize, usize),
    input: &str,
    opts: &Options,
    cache: &Cache,
) -> (f64, String) {
    let k = (at.0, at.1, input.to_string());
    let cached = cache.lock().ok().and_then(|c| c.get(&k).cloned());
    let run = cached.unwrap_or_else(|| {
        let r = run_timed(ex, input, opts.time_limit);
        if let Ok(mut c) = cache.lock() {
            c.insert(k, r.clone());
        }
        r
    });
    match run {
        Run::Goals(goals) => {
            let met = goals.iter().all(|(m, _)| *m);
            let text: Vec<String> = goals
                .iter()
                .map(|(m, g)| format!("{} {g}", if *m { "met:" } else { "not met:" }))
                .collect();
            (
                if met { 1.0 } else { 0.0 },
                format!(
                    "{}: {}",
                    if met { "right" } else { "wrong" },
                    text.join("; ")
                ),
            )
        }
        Run::Failed(m) => (0.0, format!("the run failed: {m}")),
        Run::TimedOut => (
            0.0,
            format!("timed out after {} s", opts.time_limit.as_secs_f64()),
        ),
    }
}

/// A recorder that says "stop" once its time is up.
struct Timed {
    rec: Recorder,
    until: Instant,
}

impl Ctx for Timed {
    fn show(&mut self, _key: &str, _output: Output) {}
    fn metric(&mut self, name: &str, value: f64) {
        self.rec.metric(name, value);
    }
    fn progress(&mut self, _done: usize, _total: usize, _what: &str) {}
    fn cancelled(&self) -> bool {
        Instant::now() >= self.until
    }
}

/// Runs an exercise's input on its own thread; a run still going a little after the limit
/// (one that does not check for cancelling) is left behind and the cell marked timed out.
fn run_timed(ex: &Exercise, input: &str, limit: Duration) -> Run {
    let (tx, rx) = std::sync::mpsc::channel();
    let (ex2, input2) = (ex.clone(), input.to_string());
    let spawned = std::thread::Builder::new()
        .name("grade-exercise".into())
        .spawn(move || {
            let mut ctx = Timed {
                rec: Recorder::default(),
                until: Instant::now() + limit,
            };
            let result = exercise::run(&ex2, &input2, &mut ctx);
            let out = match result {
                Ok(()) => Run::Goals(
                    exercise::check_goals(&ex2.goals, &ctx.rec.metrics)
                        .iter()
                        .map(|g| (g.met, g.message()))
                        .collect(),
                ),
                Err(_) if ctx.cancelled() => Run::TimedOut,
                Err(e) => Run::Failed(format!("{e:#}")),
            };
            let _ = tx.send(out);
        });
    if let Err(e) = spawned {
        return Run::Failed(format!("cannot start the run: {e}"));
    }
    match rx.recv_timeout(limit + Duration::from_secs(2)) {
        Ok(r) => r,
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => Run::TimedOut,
        // The thread ended without an answer: it panicked.
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
            Run::Failed("the experiment stopped unexpectedly".into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lesson 5's exercise trains an autoencoder; a limit far too short for it stops the run
    /// at its next batch and marks the cell timed out, and a bad input marks it failed.
    #[test]
    fn an_exercise_past_its_limit_times_out_and_a_bad_input_fails() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("lessons/lesson-5.toml");
        let l = lesson::load(&path).unwrap();
        let CellBody::Exercise(ex) = &l.cells[l.cell_index("set-threshold").unwrap()].body else {
            panic!()
        };
        assert!(matches!(
            run_timed(ex, "0.032", Duration::from_millis(1)),
            Run::TimedOut
        ));
        match run_timed(ex, "not a number", Duration::from_secs(5)) {
            Run::Failed(m) => assert!(m.contains("not a number"), "{m}"),
            other => panic!("{other:?}"),
        }
    }
}
