//! From a lesson file's text to a typed [`Lesson`], with every problem located.

use std::collections::{BTreeMap, HashSet};
use std::ops::Range;
use std::path::{Path, PathBuf};

use toml::Spanned;

use super::raw::{RawCell, RawLesson};
use super::*;
use crate::experiments::{self, Value};
use crate::util::parse::letter_index;

/// Reads and loads the lesson at `path`.
pub fn load(path: &Path) -> Result<Lesson, LessonError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        LessonError(vec![Diagnostic {
            file: path.to_path_buf(),
            line: 1,
            col: 1,
            message: format!("cannot read the file: {e}"),
        }])
    })?;
    load_str(&text, path)
}

/// Loads a lesson from its text; `path` is used for messages and relative paths.
pub fn load_str(text: &str, path: &Path) -> Result<Lesson, LessonError> {
    match load_lenient(text, path) {
        (Some(l), errors) if errors.is_empty() => Ok(l),
        (_, errors) => Err(LessonError(errors)),
    }
}

/// Loads as much of a lesson as makes sense, with every problem found: `tutor check` uses
/// this to go on checking answers in a file that also has a typo elsewhere.
pub fn load_lenient(text: &str, path: &Path) -> (Option<Lesson>, Vec<Diagnostic>) {
    let mut cx = Loader {
        file: path.to_path_buf(),
        text,
        errors: Vec::new(),
    };
    let raw: RawLesson = match toml::from_str(text) {
        Ok(r) => r,
        Err(e) => {
            let span = e.span().unwrap_or(0..0);
            // toml's message repeats the location and a source excerpt; keep its first line.
            let msg = e.message().lines().next().unwrap_or("invalid TOML");
            cx.error(span, suggest_field(msg));
            return (None, cx.errors);
        }
    };
    let lesson = cx.lesson(raw);
    (lesson, cx.errors)
}

/// Shortens serde's "unknown field `tpye`, expected one of `kind`, ..." to the closest name.
fn suggest_field(msg: &str) -> String {
    let Some(rest) = msg.strip_prefix("unknown field `") else {
        return msg.to_string();
    };
    let Some((field, expected)) = rest.split_once("`, expected one of ") else {
        return msg.to_string();
    };
    let names: Vec<&str> = expected.split(", ").map(|n| n.trim_matches('`')).collect();
    let best = names
        .iter()
        .map(|n| (edit_distance(field, n), *n))
        .min()
        .filter(|(d, _)| *d <= 2);
    match best {
        Some((_, n)) => format!("unknown field `{field}`: did you mean `{n}`?"),
        None => format!(
            "unknown field `{field}` (known fields: {})",
            names.join(", ")
        ),
    }
}

/// Levenshtein distance, for "did you mean".
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != *cb))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// 1-based line and column of a byte offset.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let col = before
        .rfind('\n')
        .map_or(before.chars().count(), |i| before[i + 1..].chars().count())
        + 1;
    (line, col)
}

struct Loader<'a> {
    file: PathBuf,
    text: &'a str,
    errors: Vec<Diagnostic>,
}

impl Loader<'_> {
    fn error(&mut self, span: Range<usize>, message: impl Into<String>) {
        let (line, col) = line_col(self.text, span.start);
        self.errors.push(Diagnostic {
            file: self.file.clone(),
            line,
            col,
            message: message.into(),
        });
    }

    fn line(&self, span: &Range<usize>) -> usize {
        line_col(self.text, span.start).0
    }

    fn required<T: Clone>(
        &mut self,
        v: &Option<Spanned<T>>,
        at: Range<usize>,
        what: &str,
    ) -> Option<T> {
        match v {
            Some(s) => Some(s.get_ref().clone()),
            None => {
                self.error(at, format!("missing field `{what}`"));
                None
            }
        }
    }

    fn lesson(&mut self, raw: RawLesson) -> Option<Lesson> {
        let top = 0..0;
        match &raw.format_version {
            None => self.error(top.clone(), "missing field `format_version`"),
            Some(v) if *v.get_ref() != FORMAT_VERSION => self.error(
                v.span(),
                format!(
                    "`format_version` is {}, but this tutor reads version {FORMAT_VERSION}",
                    v.get_ref()
                ),
            ),
            _ => {}
        }
        let id = self.required(&raw.id, top.clone(), "id");
        let number = self.required(&raw.number, top.clone(), "number");
        let title = self.required(&raw.title, top.clone(), "title");
        let summary = raw
            .summary
            .as_ref()
            .map(|s| s.get_ref().clone())
            .unwrap_or_default();
        if let Some(n) = &raw.number {
            if !(1..=999).contains(n.get_ref()) {
                self.error(n.span(), "`number` must be between 1 and 999");
            }
        }
        if let Some(i) = &raw.id {
            if !is_slug(i.get_ref()) {
                self.error(
                    i.span(),
                    "`id` must be lowercase letters, digits and dashes (e.g. `lesson-3`)",
                );
            }
        }
        if raw.cells.is_empty() {
            self.error(top, "the lesson has no `[[cells]]`");
        }
        let mut cells = Vec::new();
        let mut seen = HashSet::new();
        for (i, rc) in raw.cells.iter().enumerate() {
            let span = rc.span();
            if let Some(cell) = self.cell(rc.get_ref(), span.clone(), i) {
                if !seen.insert(cell.id.clone()) {
                    let at = rc.get_ref().id.as_ref().map_or(span, |s| s.span());
                    self.error(at, format!("duplicate cell id `{}`", cell.id));
                }
                cells.push(cell);
            }
        }
        let id = id?;
        let short = raw
            .short
            .as_ref()
            .map(|s| s.get_ref().clone())
            .unwrap_or_else(|| id.clone());
        Some(Lesson {
            path: self.file.clone(),
            id,
            number: number? as u32,
            short,
            title: title?,
            summary,
            cells,
        })
    }

    fn cell(&mut self, c: &RawCell, span: Range<usize>, index: usize) -> Option<Cell> {
        let line = self.line(&span);
        let Some(kind) = &c.kind else {
            self.error(
                span,
                "cell without `kind` (text, code, run, quiz or exercise)",
            );
            return None;
        };
        let kind_word = kind.get_ref().as_str();
        let id = match &c.id {
            Some(id) => {
                if !is_slug(id.get_ref()) {
                    self.error(
                        id.span(),
                        "cell `id` must be lowercase letters, digits and dashes",
                    );
                }
                id.get_ref().clone()
            }
            None if matches!(kind_word, "text" | "code") => format!("{kind_word}-{}", index + 1),
            None => {
                self.error(span.clone(), format!("a {kind_word} cell needs an `id`"));
                format!("{kind_word}-{}", index + 1)
            }
        };
        let allowed: &[&str] = match kind_word {
            "text" => &["text"],
            "code" => &["caption", "code", "lang", "panes"],
            "run" => &["caption", "experiment", "params", "adjust"],
            "quiz" => &[
                "question",
                "type",
                "choices",
                "answer",
                "compute",
                "tolerance",
                "pairs",
                "vars",
                "require",
                "hints",
                "explanation",
            ],
            "exercise" => &[
                "prompt",
                "experiment",
                "params",
                "input",
                "placeholder",
                "goal",
                "hints",
                "explanation",
                "solution",
            ],
            other => {
                self.error(
                    kind.span(),
                    format!(
                        "unknown cell kind `{other}` (expected text, code, run, quiz or exercise)"
                    ),
                );
                return None;
            }
        };
        for (name, at) in present_fields(c) {
            if !allowed.contains(&name) {
                self.error(
                    at,
                    format!("field `{name}` does not belong in a {kind_word} cell"),
                );
            }
        }
        let body = match kind_word {
            "text" => CellBody::Text(self.required(&c.text, span, "text")?),
            "code" => self.code(c, span)?,
            "run" => self.run(c, span)?,
            "quiz" => CellBody::Quiz(self.quiz(c, span)?),
            _ => CellBody::Exercise(self.exercise(c, span)?),
        };
        Some(Cell { id, line, body })
    }

    fn code(&mut self, c: &RawCell, span: Range<usize>) -> Option<CellBody> {
        let caption = c
            .caption
            .as_ref()
            .map(|s| s.get_ref().clone())
            .unwrap_or_default();
        let mut panes = Vec::new();
        if let Some(code) = &c.code {
            let lang = c
                .lang
                .as_ref()
                .map(|s| s.get_ref().clone())
                .unwrap_or_default();
            panes.push(Pane {
                title: lang_title(&lang),
                lang,
                code: code.get_ref().clone(),
            });
        }
        for p in c.panes.iter().flatten() {
            let p = p.get_ref();
            let lang = p.lang.clone().unwrap_or_default();
            panes.push(Pane {
                title: p.title.clone().unwrap_or_else(|| lang_title(&lang)),
                lang,
                code: p.code.clone(),
            });
        }
        if panes.is_empty() {
            self.error(span, "a code cell needs `code` or `panes`");
            return None;
        }
        Some(CellBody::Code { caption, panes })
    }

    fn experiment(
        &mut self,
        c: &RawCell,
        span: Range<usize>,
    ) -> Option<&'static experiments::Experiment> {
        let name = c.experiment.as_ref().or_else(|| {
            self.error(span.clone(), "missing field `experiment`");
            None
        })?;
        let found = experiments::find(name.get_ref());
        if found.is_none() {
            let known: Vec<&str> = experiments::all().iter().map(|e| e.name).collect();
            self.error(
                name.span(),
                format!(
                    "unknown experiment `{}` (known: {})",
                    name.get_ref(),
                    known.join(", ")
                ),
            );
        }
        found
    }

    fn params(
        &mut self,
        c: &RawCell,
        exp: &'static experiments::Experiment,
    ) -> BTreeMap<String, Value> {
        let mut out = BTreeMap::new();
        let Some(params) = &c.params else {
            return out;
        };
        for (name, v) in params.get_ref() {
            let Some(spec) = exp.param(name) else {
                let known: Vec<&str> = exp.params.iter().map(|p| p.name).collect();
                self.error(
                    v.span(),
                    format!(
                        "experiment `{}` has no parameter `{name}` (it takes: {})",
                        exp.name,
                        if known.is_empty() {
                            "none".to_string()
                        } else {
                            known.join(", ")
                        }
                    ),
                );
                continue;
            };
            let value = match toml_to_value(v.get_ref()) {
                Ok(value) => value,
                Err(e) => {
                    self.error(v.span(), format!("parameter `{name}`: {e}"));
                    continue;
                }
            };
            match experiments::coerce(spec, value) {
                Ok(Value::Str(rel)) if matches!(spec.kind, experiments::ParamKind::File) => {
                    let dir = self.file.parent().unwrap_or(Path::new("."));
                    let path = dir.join(&rel);
                    if path.is_file() {
                        out.insert(
                            name.clone(),
                            Value::Str(path.to_string_lossy().into_owned()),
                        );
                    } else {
                        self.error(
                            v.span(),
                            format!("parameter `{name}`: no file `{}`", path.display()),
                        );
                    }
                }
                Ok(value) => {
                    out.insert(name.clone(), value);
                }
                Err(e) => self.error(v.span(), format!("parameter `{name}`: {e}")),
            }
        }
        out
    }

    fn run(&mut self, c: &RawCell, span: Range<usize>) -> Option<CellBody> {
        let exp = self.experiment(c, span)?;
        let params = self.params(c, exp);
        let mut adjust = Vec::new();
        for a in c.adjust.iter().flat_map(|a| a.get_ref()) {
            match exp.param(a.get_ref()) {
                Some(_) => adjust.push(a.get_ref().clone()),
                None => self.error(
                    a.span(),
                    format!(
                        "`adjust` names `{}`, which experiment `{}` does not take",
                        a.get_ref(),
                        exp.name
                    ),
                ),
            }
        }
        Some(CellBody::Run(Run {
            experiment: exp,
            params,
            adjust,
            caption: c
                .caption
                .as_ref()
                .map(|s| s.get_ref().clone())
                .unwrap_or_default(),
        }))
    }

    fn strings(v: &Option<Vec<Spanned<String>>>) -> Vec<String> {
        v.iter()
            .flatten()
            .map(|s| s.get_ref().clone())
            .collect::<Vec<_>>()
    }

    fn quiz(&mut self, c: &RawCell, span: Range<usize>) -> Option<Quiz> {
        let question = self.required(&c.question, span.clone(), "question")?;
        let Some(ty) = &c.quiz_type else {
            self.error(
                span,
                "missing field `type` (single, multi, integer, number, shape or match)",
            );
            return None;
        };
        let kind = match ty.get_ref().as_str() {
            "single" | "multi" => {
                let choices: Vec<String> = match &c.choices {
                    Some(ch) if ch.get_ref().len() >= 2 => {
                        ch.get_ref().iter().map(|s| s.get_ref().clone()).collect()
                    }
                    Some(ch) => {
                        self.error(ch.span(), "a choice question needs at least two `choices`");
                        return None;
                    }
                    None => {
                        self.error(span, "missing field `choices`");
                        return None;
                    }
                };
                let answer = c.answer.as_ref().or_else(|| {
                    self.error(span.clone(), "missing field `answer`");
                    None
                })?;
                let letters = match answer.get_ref() {
                    toml::Value::String(s) => vec![s.clone()],
                    toml::Value::Array(a) => a
                        .iter()
                        .map(|v| v.as_str().unwrap_or("?").to_string())
                        .collect(),
                    _ => vec!["?".to_string()],
                };
                let mut idx = Vec::new();
                for l in &letters {
                    match letter_index(l) {
                        Some(i) if i < choices.len() => idx.push(i),
                        _ => {
                            self.error(
                                answer.span(),
                                format!(
                                    "`answer` must be a choice letter a..{} (found `{l}`)",
                                    (b'a' + choices.len() as u8 - 1) as char
                                ),
                            );
                            return None;
                        }
                    }
                }
                idx.sort_unstable();
                idx.dedup();
                if ty.get_ref() == "single" {
                    if idx.len() != 1 {
                        self.error(
                            answer.span(),
                            "a single-choice question has exactly one answer letter",
                        );
                        return None;
                    }
                    QuizKind::Single {
                        choices,
                        answer: idx[0],
                    }
                } else {
                    QuizKind::Multi {
                        choices,
                        answers: idx,
                    }
                }
            }
            "integer" | "number" | "shape" => {
                let answer = self.answer(c, span.clone())?;
                match ty.get_ref().as_str() {
                    "integer" => QuizKind::Integer { answer },
                    "shape" => QuizKind::Shape { answer },
                    _ => {
                        let tolerance = c.tolerance.as_ref().map_or(0.0, |t| *t.get_ref());
                        if !(tolerance >= 0.0 && tolerance.is_finite()) {
                            let at = c.tolerance.as_ref().map_or(span, |t| t.span());
                            self.error(at, "`tolerance` must be a number ≥ 0");
                            return None;
                        }
                        QuizKind::Number { answer, tolerance }
                    }
                }
            }
            "match" => {
                let Some(pairs) = &c.pairs else {
                    self.error(span, "missing field `pairs` (a list of [left, right])");
                    return None;
                };
                let mut out = Vec::new();
                for p in pairs.get_ref() {
                    match p.get_ref().as_slice() {
                        [a, b] => out.push((a.clone(), b.clone())),
                        _ => self.error(p.span(), "each pair is [left, right]"),
                    }
                }
                if out.len() < 2 {
                    self.error(pairs.span(), "a match question needs at least two pairs");
                    return None;
                }
                QuizKind::Match { pairs: out }
            }
            other => {
                self.error(
                    ty.span(),
                    format!("unknown quiz type `{other}` (expected single, multi, integer, number, shape or match)"),
                );
                return None;
            }
        };
        let mut vars = Vec::new();
        for (name, v) in c.vars.iter().flat_map(|v| v.get_ref()) {
            match var_range(v.get_ref()) {
                Ok(r) => vars.push((name.clone(), r)),
                Err(e) => self.error(v.span(), format!("drill variable `{name}`: {e}")),
            }
        }
        Some(Quiz {
            question,
            kind,
            hints: Self::strings(&c.hints),
            explanation: c
                .explanation
                .as_ref()
                .map(|s| s.get_ref().clone())
                .unwrap_or_default(),
            vars,
            require: c.require.as_ref().map(|s| s.get_ref().clone()),
        })
    }

    fn answer(&mut self, c: &RawCell, span: Range<usize>) -> Option<Answer> {
        let compute = c.compute.as_ref().map(|s| s.get_ref().clone());
        let mut literal = None;
        let mut line = c.compute.as_ref().map(|s| self.line(&s.span()));
        let mut compute = compute;
        if let Some(a) = &c.answer {
            line = Some(self.line(&a.span()));
            match a.get_ref() {
                toml::Value::Integer(i) => literal = Some(vec![*i as f64]),
                toml::Value::Float(x) => literal = Some(vec![*x]),
                toml::Value::Array(items) => {
                    let nums: Option<Vec<f64>> = items
                        .iter()
                        .map(|v| v.as_integer().map(|i| i as f64).or(v.as_float()))
                        .collect();
                    match nums {
                        Some(n) if !n.is_empty() => literal = Some(n),
                        _ => {
                            self.error(a.span(), "`answer` list must hold numbers");
                            return None;
                        }
                    }
                }
                toml::Value::String(s) => match crate::util::parse::parse_numbers(s) {
                    Some(n) => literal = Some(n),
                    None if compute.is_none() => compute = Some(s.clone()),
                    None => {
                        self.error(
                            a.span(),
                            "`answer` is neither numbers nor needed beside `compute`",
                        );
                        return None;
                    }
                },
                _ => {
                    self.error(
                        a.span(),
                        "`answer` must be a number, a list of numbers or an expression",
                    );
                    return None;
                }
            }
        }
        if literal.is_none() && compute.is_none() {
            self.error(span.clone(), "missing field `answer` (or `compute`)");
            return None;
        }
        Some(Answer {
            literal,
            compute,
            line: line.unwrap_or_else(|| self.line(&span)),
        })
    }

    fn exercise(&mut self, c: &RawCell, span: Range<usize>) -> Option<Exercise> {
        let prompt = self.required(&c.prompt, span.clone(), "prompt")?;
        let exp = self.experiment(c, span.clone())?;
        let params = self.params(c, exp);
        let input = self.required(&c.input, span.clone(), "input")?;
        if exp.param(&input).is_none() {
            let at = c.input.as_ref().map_or(span.clone(), |s| s.span());
            self.error(
                at,
                format!(
                    "`input` names `{input}`, which experiment `{}` does not take",
                    exp.name
                ),
            );
        }
        let mut goals = Vec::new();
        for g in c.goal.iter().flatten() {
            let raw = g.get_ref();
            if !exp.metrics.contains(&raw.metric.as_str()) {
                self.error(
                    g.span(),
                    format!(
                        "goal metric `{}` is not reported by `{}` (it reports: {})",
                        raw.metric,
                        exp.name,
                        exp.metrics.join(", ")
                    ),
                );
            }
            if raw.min.is_none() && raw.max.is_none() {
                self.error(g.span(), "a goal needs `min`, `max` or both");
            }
            goals.push(Goal {
                metric: raw.metric.clone(),
                min: raw.min,
                max: raw.max,
                text: raw.text.clone().unwrap_or_default(),
            });
        }
        if goals.is_empty() {
            self.error(span, "an exercise needs at least one `[[cells.goal]]`");
        }
        Some(Exercise {
            prompt,
            experiment: exp,
            input,
            placeholder: c
                .placeholder
                .as_ref()
                .map(|s| s.get_ref().clone())
                .unwrap_or_default(),
            params,
            goals,
            hints: Self::strings(&c.hints),
            explanation: c
                .explanation
                .as_ref()
                .map(|s| s.get_ref().clone())
                .unwrap_or_default(),
            solution: c.solution.as_ref().map(|s| s.get_ref().clone()),
        })
    }
}

/// Names and positions of the fields set in a raw cell, for the "does not belong" check.
fn present_fields(c: &RawCell) -> Vec<(&'static str, Range<usize>)> {
    fn at<T>(v: &Option<Spanned<T>>) -> Option<Range<usize>> {
        v.as_ref().map(|s| s.span())
    }
    let first = |v: &Option<Vec<Spanned<_>>>| -> Option<Range<usize>> {
        v.as_ref()
            .and_then(|x: &Vec<Spanned<_>>| x.first().map(|s| s.span()))
    };
    let goal_at = c.goal.as_ref().and_then(|g| g.first().map(|s| s.span()));
    let panes_at = c.panes.as_ref().and_then(|g| g.first().map(|s| s.span()));
    let list = [
        ("text", at(&c.text)),
        ("caption", at(&c.caption)),
        ("code", at(&c.code)),
        ("lang", at(&c.lang)),
        ("panes", panes_at),
        ("experiment", at(&c.experiment)),
        ("params", at(&c.params)),
        ("adjust", at(&c.adjust)),
        ("question", at(&c.question)),
        ("type", at(&c.quiz_type)),
        ("choices", at(&c.choices)),
        ("answer", at(&c.answer)),
        ("compute", at(&c.compute)),
        ("tolerance", at(&c.tolerance)),
        ("pairs", at(&c.pairs)),
        ("vars", at(&c.vars)),
        ("require", at(&c.require)),
        ("hints", first(&c.hints)),
        ("explanation", at(&c.explanation)),
        ("prompt", at(&c.prompt)),
        ("input", at(&c.input)),
        ("placeholder", at(&c.placeholder)),
        ("goal", goal_at),
        ("solution", at(&c.solution)),
    ];
    list.into_iter()
        .filter_map(|(n, s)| s.map(|s| (n, s)))
        .collect()
}

fn is_slug(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

fn lang_title(lang: &str) -> String {
    match lang {
        "rust" => "Rust".into(),
        "python" => "PyTorch".into(),
        "" => "Code".into(),
        other => other.to_string(),
    }
}

/// A TOML value as a parameter value.
pub fn toml_to_value(v: &toml::Value) -> Result<Value, String> {
    Ok(match v {
        toml::Value::Integer(i) => Value::Int(*i),
        toml::Value::Float(x) => Value::Float(*x),
        toml::Value::Boolean(b) => Value::Bool(*b),
        toml::Value::String(s) => Value::Str(s.clone()),
        toml::Value::Array(rows) => {
            let mut m = Vec::new();
            for r in rows {
                let row = r
                    .as_array()
                    .ok_or("a matrix is a list of rows, e.g. [[1, 0], [0, 1]]")?;
                let nums: Option<Vec<f64>> = row
                    .iter()
                    .map(|v| v.as_integer().map(|i| i as f64).or(v.as_float()))
                    .collect();
                m.push(nums.ok_or("matrix entries must be numbers")?);
            }
            Value::Matrix(m)
        }
        _ => return Err("unsupported value (use a number, true/false, text or a matrix)".into()),
    })
}

fn var_range(v: &toml::Value) -> Result<VarRange, String> {
    match v {
        toml::Value::Array(items) => {
            let nums: Option<Vec<i64>> = items.iter().map(|v| v.as_integer()).collect();
            match nums {
                Some(n) if !n.is_empty() => Ok(VarRange::OneOf(n)),
                _ => Err("give a non-empty list of integers or { min = .., max = .. }".into()),
            }
        }
        toml::Value::Table(t) => {
            let min = t.get("min").and_then(|v| v.as_integer());
            let max = t.get("max").and_then(|v| v.as_integer());
            match (min, max, t.len()) {
                (Some(a), Some(b), 2) if a <= b => Ok(VarRange::Between(a, b)),
                _ => Err("a range is { min = A, max = B } with whole numbers, A ≤ B".into()),
            }
        }
        _ => Err("give a list of integers or { min = .., max = .. }".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_from_one() {
        let t = "ab\ncd\nef";
        assert_eq!(line_col(t, 0), (1, 1));
        assert_eq!(line_col(t, 4), (2, 2));
        assert_eq!(line_col(t, 100), (3, 3));
    }

    #[test]
    fn unknown_fields_get_a_suggestion() {
        let m = suggest_field("unknown field `tpye`, expected one of `kind`, `type`, `text`");
        assert_eq!(m, "unknown field `tpye`: did you mean `type`?");
        let m = suggest_field("unknown field `zzzzzz`, expected one of `kind`, `type`");
        assert_eq!(m, "unknown field `zzzzzz` (known fields: kind, type)");
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn letters() {
        assert_eq!(letter_index("a"), Some(0));
        assert_eq!(letter_index(" C "), Some(2));
        assert_eq!(letter_index("ab"), None);
        assert_eq!(letter_index(""), None);
    }
}
