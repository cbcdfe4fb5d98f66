//! `tutor check`: content checks beyond the file's form.
//!
//! Loading already rejects unknown fields, experiments and parameters. Here every quiz answer
//! is computed (for drills, over many draws), typed answers are compared with the tutor's own
//! computation, placeholders are matched to variables, exercise solutions are run against their
//! goals, every run cell that does not train is run, and ids and numbers are checked to be
//! unique across the folder. Every file a run
//! would load (the networks, the pretrained model's metadata and weights, pictures), whether
//! the lesson names it or the experiment's default does, is loaded as the run would load it,
//! without training: shapes, memory, weights and all.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::exercise;
use super::lesson::{Cell, CellBody, Diagnostic, Lesson, QuizKind};
use super::quiz;
use crate::experiments::Recorder;

/// How many drill draws are tried per quiz.
const DRILL_SAMPLES: u32 = 25;

/// Loads and checks every lesson file among `paths` (files, or folders of `*.toml`).
pub fn check_paths(paths: &[PathBuf]) -> Vec<Diagnostic> {
    let mut files = Vec::new();
    let mut diags = Vec::new();
    for p in paths {
        if p.is_dir() {
            match std::fs::read_dir(p) {
                Ok(rd) => {
                    let mut v: Vec<PathBuf> = rd
                        .filter_map(|e| e.ok().map(|e| e.path()))
                        .filter(|f| f.extension().is_some_and(|x| x == "toml"))
                        .collect();
                    v.sort();
                    files.extend(v);
                    if let Err(e) = super::pack::load(p) {
                        diags.extend(e.0);
                    }
                }
                Err(e) => diags.push(at(p, 1, format!("cannot read folder: {e}"))),
            }
        } else {
            files.push(p.clone());
        }
    }
    let mut lessons = Vec::new();
    for f in &files {
        if f.ends_with(super::pack::PACK_FILE) {
            // Read above, with the folder (or alone below).
            if !f.parent().is_some_and(|d| paths.iter().any(|p| p == d)) {
                if let Err(e) = super::pack::load(f.parent().unwrap_or(Path::new("."))) {
                    diags.extend(e.0);
                }
            }
            continue;
        }
        match super::lesson::load::read_lesson_text(f) {
            Ok(text) => {
                let (lesson, errors) = super::lesson::load_lenient(&text, f);
                diags.extend(errors);
                lessons.extend(lesson);
            }
            Err(e) => diags.push(at(f, 1, format!("cannot read the file: {e}"))),
        }
    }
    diags.extend(check_unique(&lessons));
    for l in &lessons {
        diags.extend(check_lesson(l));
        diags.extend(check_graded_in_pack(l));
    }
    diags.sort_by(|a, b| (&a.file, a.line, a.col).cmp(&(&b.file, b.line, b.col)));
    diags
}

fn at(file: &Path, line: usize, message: String) -> Diagnostic {
    Diagnostic {
        file: file.to_path_buf(),
        line,
        col: 1,
        message,
    }
}

fn check_unique(lessons: &[Lesson]) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let mut ids: HashMap<String, &Lesson> = HashMap::new();
    let mut numbers: HashMap<u32, &Lesson> = HashMap::new();
    for l in lessons {
        for key in [&l.id, &l.short] {
            let key = &key.to_ascii_lowercase();
            if let Some(other) = ids.get(key) {
                if !std::ptr::eq(*other, l) {
                    out.push(at(
                        &l.path,
                        1,
                        format!(
                            "id or short name `{key}` is also used by {}",
                            other.path.display()
                        ),
                    ));
                }
            } else {
                ids.insert(key.clone(), l);
            }
        }
        if let Some(other) = numbers.insert(l.number, l) {
            out.push(at(
                &l.path,
                1,
                format!(
                    "lesson number {} is also used by {}",
                    l.number,
                    other.path.display()
                ),
            ));
        }
    }
    out
}

/// A graded cell needs an assignment to be handed in to: a `pack.toml` beside the lesson.
fn check_graded_in_pack(l: &Lesson) -> Vec<Diagnostic> {
    let Some(first) = l.cells.iter().find(|c| c.graded.is_some()) else {
        return Vec::new();
    };
    match super::pack::load(l.dir()) {
        Ok(None) => vec![at(
            &l.path,
            first.line,
            format!(
                "cell `{}` is graded, but the lesson's folder has no {} naming the assignment, \
                 so it could never be handed in (see lessons/README.md, \"For teachers\")",
                first.id,
                super::pack::PACK_FILE
            ),
        )],
        // A broken pack.toml is reported with the folder.
        _ => Vec::new(),
    }
}

/// Checks one loaded lesson's content.
pub fn check_lesson(l: &Lesson) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for c in &l.cells {
        match &c.body {
            CellBody::Quiz(q) => check_quiz(l, c, q, &mut out),
            CellBody::Exercise(ex) => {
                check_files(l, c, ex.experiment, &ex.params, &mut out);
                check_exercise(l, c, &mut out);
            }
            CellBody::Run(r) => {
                check_files(l, c, r.experiment, &r.params, &mut out);
                check_quick_run(l, c, r, &mut out);
            }
            _ => {}
        }
    }
    out
}

/// Loads every file parameter of a run as the run will (the lesson's value, else the
/// experiment's default), so `check` fails what `exec` would (issue 11, item 8).
fn check_files(
    l: &Lesson,
    c: &Cell,
    exp: &crate::experiments::Experiment,
    params: &std::collections::BTreeMap<String, crate::experiments::Value>,
    out: &mut Vec<Diagnostic>,
) {
    use crate::experiments::{Default, ParamKind, Value};
    // Only experiments that train (the long ones) need the training memory; a network that is
    // only inspected (VGG16 in lesson 9) may be far too big to train here.
    let batch = match params.get("batch") {
        _ if !exp.long => None,
        Some(Value::Int(b)) if *b > 0 => Some(*b as usize),
        _ => Some(crate::nn::summary::DEFAULT_BATCH),
    };
    for p in exp
        .params
        .iter()
        .filter(|p| matches!(p.kind, ParamKind::File))
    {
        let path = match (params.get(p.name), p.default) {
            (Some(Value::Str(s)), _) => PathBuf::from(s),
            (None, Default::Str(d)) if !d.is_empty() => PathBuf::from(d),
            _ => continue,
        };
        if let Err(e) = load_like_a_run(&path, batch) {
            out.push(at(
                &l.path,
                c.line,
                format!(
                    "cell `{}`: parameter `{}` (`{}`): {e:#}",
                    c.id,
                    p.name,
                    path.display()
                ),
            ));
        }
    }
}

/// Runs a quick (non-training) run cell as `exec` will, so a text parameter it cannot use
/// fails `check` rather than the run (issue 11, item 8). Training runs are not started.
fn check_quick_run(l: &Lesson, c: &Cell, r: &super::lesson::Run, out: &mut Vec<Diagnostic>) {
    if r.experiment.long {
        return;
    }
    let mut rec = Recorder::default();
    let result = r
        .experiment
        .params_from(&r.params)
        .map_err(anyhow::Error::from)
        .and_then(|p| r.experiment.call(&p, &mut rec));
    if let Err(e) = result {
        out.push(at(
            &l.path,
            c.line,
            format!("run `{}` ({}) fails: {e:#}", c.id, r.experiment.name),
        ));
    }
}

/// Loads `path` the way the experiment that names it will: a network (parsed, shapes and, when
/// `batch` is given, training memory checked), a pretrained model (metadata checked against the
/// architecture, weights loaded and checked), or a picture.
fn load_like_a_run(path: &Path, batch: Option<usize>) -> anyhow::Result<()> {
    use crate::util::files;
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    match ext {
        "toml" => {
            let text = files::read_to_string(path)?;
            if text.contains(crate::experiments::transfer::pretrain::META_FORMAT) {
                let pre = crate::experiments::transfer::pretrain::Pretrained::load(path)?;
                if let Some(b) = batch {
                    pre.spec.summary(None)?.check_memory(b)?;
                }
                pre.source_network()?;
            } else {
                let spec = crate::nn::NetSpec::parse(&text, &path.display().to_string())?;
                let summary = spec.summary(None)?;
                if let Some(b) = batch {
                    summary.check_memory(b)?;
                }
            }
        }
        "png" => {
            crate::data::photos::load_image(path)?;
        }
        _ => {
            files::read(path)?;
        }
    }
    Ok(())
}

fn check_quiz(l: &Lesson, c: &Cell, q: &super::lesson::Quiz, out: &mut Vec<Diagnostic>) {
    let line = match &q.kind {
        QuizKind::Integer { answer }
        | QuizKind::Number { answer, .. }
        | QuizKind::Shape { answer } => answer.line,
        _ => c.line,
    };
    // Placeholders must name variables (the explanation may also say `{answer}`).
    let texts = [q.question.as_str(), q.explanation.as_str()];
    for name in texts.iter().flat_map(|t| placeholders(t)) {
        if name != "answer" && !q.vars.iter().any(|(v, _)| *v == name) {
            out.push(at(
                &l.path,
                c.line,
                format!(
                    "quiz `{}`: `{{{name}}}` in the question is not a variable in `vars`",
                    c.id
                ),
            ));
        }
    }
    if q.held_back {
        // A released copy: the answer is with the teacher, whose copy `check` verifies.
        if let Err(e) = quiz::draw(q, quiz::seed("check", &l.id, &c.id, 0), l.dir()) {
            out.push(at(&l.path, c.line, format!("quiz `{}`: {e}", c.id)));
        }
        return;
    }
    let rounds = if q.vars.is_empty() { 1 } else { DRILL_SAMPLES };
    for round in 0..rounds {
        let seed = quiz::seed("check", &l.id, &c.id, round);
        let draw = match quiz::draw(q, seed, l.dir()) {
            Ok(d) => d,
            Err(e) => {
                out.push(at(&l.path, c.line, format!("quiz `{}`: {e}", c.id)));
                return;
            }
        };
        match quiz::expected(q, &draw, l.dir(), seed) {
            Err(e) => {
                out.push(at(&l.path, line, format!("quiz `{}`: {e}", c.id)));
                return;
            }
            Ok(expected) => {
                if let Some(msg) = literal_disagrees(q, &draw, l.dir(), &expected) {
                    out.push(at(&l.path, line, format!("quiz `{}`: {msg}", c.id)));
                    return;
                }
            }
        }
    }
}

/// When a quiz has both a typed answer and a computation, they must agree.
fn literal_disagrees(
    q: &super::lesson::Quiz,
    draw: &quiz::Draw,
    dir: &Path,
    expected: &quiz::Expected,
) -> Option<String> {
    let (answer, tol) = match &q.kind {
        QuizKind::Integer { answer } | QuizKind::Shape { answer } => (answer, 0.0),
        QuizKind::Number { answer, tolerance } => (answer, *tolerance),
        _ => return None,
    };
    let (Some(lit), Some(expr)) = (&answer.literal, &answer.compute) else {
        return None;
    };
    let computed = crate::course::calc::eval_numbers(expr, draw, dir).ok()?;
    let agree = lit.len() == computed.len()
        && lit
            .iter()
            .zip(&computed)
            .all(|(a, b)| (a - b).abs() <= tol.max(1e-9 * b.abs()));
    let _ = expected;
    (!agree).then(|| {
        format!(
            "the typed answer {} disagrees with `{expr}`, which the tutor computes as {}",
            fmt_list(lit),
            fmt_list(&computed)
        )
    })
}

fn fmt_list(v: &[f64]) -> String {
    let parts: Vec<String> = v.iter().map(|x| quiz::format_number(*x)).collect();
    if parts.len() == 1 {
        parts[0].clone()
    } else {
        format!("({})", parts.join(", "))
    }
}

/// The `{name}` placeholders in a text.
pub fn placeholders(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find('{') {
        let after = &rest[start + 1..];
        match after.find('}') {
            Some(end) => {
                let name = &after[..end];
                if !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                    out.push(name.to_string());
                }
                rest = &after[end + 1..];
            }
            None => break,
        }
    }
    out
}

/// Runs an exercise's solution (quick experiments only) and checks it meets every goal; and,
/// as rustlings does, that the starting state (the input shown in the empty box) does not.
fn check_exercise(l: &Lesson, c: &Cell, out: &mut Vec<Diagnostic>) {
    let CellBody::Exercise(ex) = &c.body else {
        return;
    };
    if !ex.experiment.long && !ex.placeholder.trim().is_empty() {
        let mut rec = Recorder::default();
        let start = ex.placeholder.trim();
        if exercise::run(ex, start, &mut rec).is_ok()
            && exercise::all_met(&exercise::check_goals(&ex.goals, &rec.metrics))
        {
            out.push(at(
                &l.path,
                c.line,
                format!(
                    "exercise `{}`: the starting input `{start}` (its `placeholder`) already \
                     meets every goal, so there is nothing to do",
                    c.id
                ),
            ));
        }
    }
    let Some(solution) = &ex.solution else {
        return;
    };
    if ex.experiment.long {
        return;
    }
    let mut rec = Recorder::default();
    match exercise::run(ex, solution, &mut rec) {
        Ok(()) => {
            let failed: Vec<String> = exercise::check_goals(&ex.goals, &rec.metrics)
                .iter()
                .filter(|g| !g.met)
                .map(|g| g.message())
                .collect();
            if !failed.is_empty() {
                out.push(at(
                    &l.path,
                    c.line,
                    format!(
                        "exercise `{}`: the solution does not meet: {}",
                        c.id,
                        failed.join("; ")
                    ),
                ));
            }
        }
        Err(e) => out.push(at(
            &l.path,
            c.line,
            format!("exercise `{}`: the solution fails: {e:#}", c.id),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_placeholders() {
        assert_eq!(
            placeholders("a {i}x{i} input, k={k_2} {}"),
            vec!["i", "i", "k_2"]
        );
        assert!(placeholders("no braces").is_empty());
    }
}
