//! The classroom commands: `tutor release`, `answer`, `submit` and `grade`, the glue between
//! the command line and `course` (packs, quiz checking, submissions, grading). Each returns
//! the exit code: 0 when all went well, 1 for a wrong answer or submissions that could not be
//! graded, and an error (exit 2) for input that is not an answer or files that cannot be read.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};

use crate::course::lesson::{CellBody, Lesson, Quiz, QuizKind};
use crate::course::progress::{Store, Submitted};
use crate::course::quiz::{self, Verdict};
use crate::course::submission::{self, Submission};
use crate::course::{exercise, grade, pack, release};

/// `println!` that returns an error when stdout is closed.
macro_rules! say {
    ($($arg:tt)*) => {
        writeln!(std::io::stdout(), $($arg)*)?
    };
}

/// `tutor release PACK --out DIR`.
pub fn release(pack_dir: &Path, out: &Path, force: bool) -> anyhow::Result<u8> {
    let t0 = Instant::now();
    let r = release::release(pack_dir)?;
    let not_empty = std::fs::read_dir(out).is_ok_and(|mut d| d.next().is_some());
    if not_empty && !force {
        bail!(
            "`{}` is not empty: pass --force to write over it, or --out a new folder",
            out.display()
        );
    }
    r.write(out)?;
    say!(
        "Released `{}` (assignment `{}`, version {}) to `{}`: {} files, {} graded cell(s) with \
         their answers held back ({:.1} s).",
        r.pack.title,
        r.pack.assignment,
        r.pack.version,
        out.display(),
        r.files.len(),
        r.graded,
        t0.elapsed().as_secs_f64()
    );
    for (p, _) in &r.files {
        say!("  {}", p.display());
    }
    say!(
        "fingerprint {}: students' submissions carry it.",
        r.fingerprint
    );
    Ok(0)
}

/// The cell `id` of `lesson`, or an error naming the ones there are.
fn find_cell<'a>(lesson: &'a Lesson, id: &str) -> anyhow::Result<&'a crate::course::lesson::Cell> {
    lesson.cells.iter().find(|c| c.id == id).with_context(|| {
        let ids: Vec<&str> = lesson
            .cells
            .iter()
            .filter(|c| matches!(c.body, CellBody::Quiz(_) | CellBody::Exercise(_)))
            .map(|c| c.id.as_str())
            .collect();
        format!(
            "lesson `{}` has no cell `{id}`; its questions and exercises are: {}",
            lesson.id,
            ids.join(", ")
        )
    })
}

/// `tutor answer LESSON CELL [VALUE]`: without a value, prints the question as the learner's
/// notebook would show it.
pub fn answer(
    lesson: &Lesson,
    cell_id: &str,
    value: Option<&str>,
    store: &mut Store,
) -> anyhow::Result<u8> {
    let cell = find_cell(lesson, cell_id)?;
    let graded = cell.graded.is_some();
    let learner = store.data.learner.clone();
    let saved = store
        .data
        .lesson(&lesson.id)
        .and_then(|l| match &cell.body {
            CellBody::Quiz(_) => l.quizzes.get(&cell.id),
            _ => l.exercises.get(&cell.id),
        });
    let gave_up = saved.is_some_and(|s| s.attempts.iter().any(|a| a.answer == submission::GAVE_UP));
    let round = if graded {
        0
    } else {
        saved.map_or(0, |s| s.round)
    };
    if let (true, Some(_), Some(why)) = (
        graded,
        value,
        submission::answers_final(&store.data, lesson.dir()),
    ) {
        bail!("{why}");
    }
    let points = cell.graded.map(|g| {
        format!(
            " (graded: {} point(s), checked by your teacher)",
            quiz::format_number(g.points)
        )
    });
    match &cell.body {
        CellBody::Quiz(q) => {
            let seed = quiz::seed(&learner, &lesson.id, &cell.id, round);
            let d = quiz::draw(q, seed, lesson.dir())
                .map_err(|e| anyhow::anyhow!("this question is broken: {e}"))?;
            let Some(value) = value else {
                say!(
                    "{}{}",
                    quiz::question_text(q, &d),
                    points.unwrap_or_default()
                );
                for line in options(q, seed) {
                    say!("  {line}");
                }
                say!(
                    "answer with: tutor answer {} {} VALUE",
                    lesson.number,
                    cell.id
                );
                return Ok(0);
            };
            match quiz::check_cell(q, graded, &d, lesson.dir(), seed, value) {
                Verdict::Invalid(m) => bail!("not an answer: {m}"),
                Verdict::Recorded => {
                    store
                        .data
                        .record(&lesson.id, &cell.id, false, value.trim(), false);
                    store.save()?;
                    say!(
                        "recorded: {}. Graded by your teacher; you can change it until you submit.",
                        value.trim()
                    );
                    Ok(0)
                }
                Verdict::Correct => {
                    if gave_up {
                        say!("✓ Correct (not counted: the answer was shown).");
                    } else {
                        store
                            .data
                            .record(&lesson.id, &cell.id, false, value.trim(), true);
                        store.save()?;
                        say!("✓ Correct!");
                    }
                    let why = quiz::explanation_text(q, &d, lesson.dir(), seed);
                    if !why.is_empty() {
                        say!("{why}");
                    }
                    Ok(0)
                }
                Verdict::Wrong(m) => {
                    if !gave_up {
                        store
                            .data
                            .record(&lesson.id, &cell.id, false, value.trim(), false);
                        store.save()?;
                    }
                    say!("✗ {m}");
                    if !q.hints.is_empty() {
                        say!("Hint 1: {}", q.hints[0]);
                    }
                    Ok(1)
                }
            }
        }
        CellBody::Exercise(ex) => {
            let Some(value) = value else {
                say!("{}{}", ex.prompt.trim(), points.unwrap_or_default());
                for g in &ex.goals {
                    say!("  goal: {} ({g})", g.text);
                }
                say!(
                    "answer with: tutor answer {} {} VALUE   (a value for `{}`, e.g. `{}`)",
                    lesson.number,
                    cell.id,
                    ex.input,
                    ex.placeholder
                );
                return Ok(0);
            };
            let input = value.trim();
            if input.is_empty() {
                bail!("not an answer: type a value for `{}`", ex.input);
            }
            exercise::params(ex, input).map_err(|e| anyhow::anyhow!("not an answer: {e}"))?;
            let mut ctx = crate::export::HeadlessCtx::new(&cell.id);
            exercise::run(ex, input, &mut ctx)
                .map_err(|e| anyhow::anyhow!("not an answer: {e:#}"))?;
            if graded {
                store.data.record(&lesson.id, &cell.id, true, input, false);
                store.save()?;
                say!("recorded: {input}. Graded by your teacher; you can change it until you submit.");
                return Ok(0);
            }
            let checks = exercise::check_goals(&ex.goals, ctx.metrics());
            for c in &checks {
                say!("  {} {}", if c.met { "✓" } else { "✗" }, c.message());
            }
            let all = exercise::all_met(&checks);
            if !gave_up {
                store.data.record(&lesson.id, &cell.id, true, input, all);
                store.save()?;
            }
            if all {
                say!("✓ Every goal is met: solved!");
                if !ex.explanation.is_empty() {
                    say!("{}", ex.explanation.trim());
                }
                Ok(0)
            } else {
                say!("✗ Not every goal is met yet.");
                Ok(1)
            }
        }
        _ => bail!(
            "`{}` is a {} cell: only questions and exercises take answers",
            cell.id,
            cell.body.kind()
        ),
    }
}

/// The lines that show a question's choices or items (as the notebook lists them).
fn options(q: &Quiz, seed: u64) -> Vec<String> {
    let letter = |i: usize| (b'a' + i as u8) as char;
    match &q.kind {
        QuizKind::Single { choices, .. } | QuizKind::Multi { choices, .. } => choices
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{}) {c}", letter(i)))
            .collect(),
        QuizKind::Match { pairs } => {
            let order = quiz::shown_order(q, seed);
            let mut v: Vec<String> = pairs
                .iter()
                .enumerate()
                .map(|(i, (l, _))| format!("{}. {l}", i + 1))
                .collect();
            v.extend(
                order
                    .iter()
                    .enumerate()
                    .map(|(j, &o)| format!("   {}) {}", letter(j), pairs[o].1)),
            );
            v
        }
        _ => Vec::new(),
    }
}

/// `tutor submit LESSON|PACK --out FILE`. `pack_dir` is the pack's folder (the lesson's).
pub fn submit(pack_dir: &Path, out: &Path, store: &mut Store) -> anyhow::Result<u8> {
    let Some(pack) = pack::load(pack_dir).map_err(|e| anyhow::anyhow!("{e}"))? else {
        bail!(
            "`{}` is not an assignment: its folder has no {}",
            pack_dir.display(),
            pack::PACK_FILE
        );
    };
    let (mut lessons, errors) = crate::course::lesson::load_dir(pack_dir)?;
    if let Some(e) = errors.first() {
        bail!("the pack has a lesson that does not load:\n{e}");
    }
    lessons.sort_by_key(|l| l.number);
    if !pack.released {
        eprintln!(
            "warning: `{}` is not a released copy (no `released = true` in {}); a grader only \
             accepts answers to the copy your teacher released",
            pack_dir.display(),
            pack::PACK_FILE
        );
    }
    let fingerprint = pack::fingerprint_dir(pack_dir)
        .with_context(|| format!("cannot read the pack `{}`", pack_dir.display()))?;
    // Handing in again writes the same answers with the first hand-in's time.
    let at = match store.data.submitted.get(&pack.assignment) {
        Some(s) => s.at,
        None => crate::util::clock::now(),
    };
    let sub = Submission::build(&pack, &fingerprint, &lessons, &store.data, at);
    let folder = out.is_dir() || out.as_os_str().to_string_lossy().ends_with(['/', '\\']);
    let path = if folder {
        out.join(format!(
            "{}-{}.json",
            pack.assignment,
            safe_name(&sub.learner)
        ))
    } else {
        out.to_path_buf()
    };
    let text = serde_json::to_string_pretty(&sub)? + "\n";
    crate::util::atomic::write_atomic(&path, text.as_bytes())?;
    store.data.submitted.insert(
        pack.assignment.clone(),
        Submitted {
            at,
            fingerprint: fingerprint.clone(),
        },
    );
    store.save()?;
    let graded: Vec<_> = sub.answers.iter().filter(|a| a.graded).collect();
    let missing: Vec<String> = graded
        .iter()
        .filter(|a| a.answer.is_none())
        .map(|a| format!("{}/{}", a.lesson, a.cell))
        .collect();
    say!(
        "Handed in `{}` as {}: {} of {} graded answers, submitted {}{}.",
        pack.assignment,
        sub.learner,
        graded.len() - missing.len(),
        graded.len(),
        pack::format_time(i64::try_from(at).unwrap_or(i64::MAX)),
        match pack.deadline {
            Some(d) if i64::try_from(at).unwrap_or(i64::MAX) > d => " (after the deadline)",
            _ => "",
        }
    );
    if !missing.is_empty() {
        say!("No answer to: {}", missing.join(", "));
    }
    say!(
        "Give your teacher `{}`. Your graded answers are now final.",
        path.display()
    );
    Ok(0)
}

fn safe_name(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// `tutor grade --key PACK --out DIR SUBMISSION...`.
pub fn grade(key: &Path, out: &Path, inputs: &[PathBuf], time_limit: u64) -> anyhow::Result<u8> {
    let t0 = Instant::now();
    let key = grade::Key::load(key)?;
    let files = grade::collect_inputs(inputs)?;
    if files.is_empty() {
        bail!("no submissions: the folders given hold no *.json files");
    }
    let outcome = grade::grade(
        &key,
        &files,
        &grade::Options {
            time_limit: Duration::from_secs(time_limit.max(1)),
        },
    );
    let written = grade::write_reports(&key, &outcome, out)?;
    for (f, why) in &outcome.problems {
        eprintln!("not graded: `{}`: {why}", f.display());
    }
    let late = outcome
        .grades
        .iter()
        .filter(|g| g.late_by.is_some())
        .count();
    say!(
        "Graded {} submission(s) of `{}` ({} late) in {:.1} s: {}",
        outcome.grades.len(),
        key.pack.assignment,
        late,
        t0.elapsed().as_secs_f64(),
        written
            .first()
            .map_or(String::new(), |p| p.display().to_string())
    );
    say!(
        "Feedback for each learner in `{}`.",
        out.join("feedback").display()
    );
    if !outcome.problems.is_empty() {
        say!(
            "{} file(s) could not be graded (listed above).",
            outcome.problems.len()
        );
        return Ok(1);
    }
    Ok(0)
}
