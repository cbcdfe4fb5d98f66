//! From a lesson file's text to a typed [`Lesson`], with every problem located.
//!
//! This file reads the text, walks the lesson and its cells, and keeps the diagnostics; the
//! cell kinds that need more than a few lines load in `quiz` and `experiment` (run cells and
//! exercises), and `fields` knows which fields belong in which kind of cell. Those import
//! nothing from one another.

mod fields;
mod questions;
mod runnable;

use std::collections::HashSet;
use std::ops::Range;
use std::path::{Path, PathBuf};

use toml::Spanned;

use super::raw::{RawCell, RawLesson};
use super::*;

pub use runnable::toml_to_value;

/// Reads and loads the lesson at `path`.
pub fn load(path: &Path) -> Result<Lesson, LessonError> {
    let text = read_lesson_text(path).map_err(|e| {
        LessonError(vec![Diagnostic {
            file: path.to_path_buf(),
            line: 1,
            col: 1,
            message: format!("cannot read the file: {e}"),
        }])
    })?;
    load_str(&text, path)
}

/// A lesson file's text: a regular file only (a FIFO would hang the tool), UTF-8.
pub fn read_lesson_text(path: &Path) -> std::io::Result<String> {
    let bytes = crate::util::files::read_regular(path)?;
    String::from_utf8(bytes).map_err(|e| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!(
                "not UTF-8 text (invalid byte at offset {})",
                e.utf8_error().valid_up_to()
            ),
        )
    })
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
        lines: Lines::new(text),
        errors: Vec::new(),
        released: false,
        graded: false,
    };
    let raw: RawLesson = match toml::from_str(text) {
        Ok(r) => r,
        Err(e) => {
            let span = e.span().unwrap_or(0..0);
            // toml's message repeats the location and a source excerpt; keep its first line.
            let msg = e.message().lines().next().unwrap_or("invalid TOML");
            cx.error(span, fields::suggest_field(msg));
            return (None, cx.errors);
        }
    };
    let lesson = cx.lesson(raw);
    (lesson, cx.errors)
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

/// `line_col` for many offsets of one text: the line starts found once, then a binary search
/// per offset (a scan per offset made `check` quadratic in the number of cells).
struct Lines {
    starts: Vec<usize>,
}

impl Lines {
    fn new(text: &str) -> Lines {
        let starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Lines { starts }
    }

    fn line_col(&self, text: &str, offset: usize) -> (usize, usize) {
        let offset = floor_boundary(text, offset.min(text.len()));
        let line = self.starts.partition_point(|&s| s <= offset);
        let start = self.starts[line - 1];
        (line, text[start..offset].chars().count() + 1)
    }
}

fn floor_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

struct Loader<'a> {
    file: PathBuf,
    text: &'a str,
    lines: Lines,
    errors: Vec<Diagnostic>,
    /// The file is a released (student) copy: graded cells hold no answers.
    released: bool,
    /// The cell being loaded is graded (its answer may be held back).
    graded: bool,
}

impl Loader<'_> {
    fn error(&mut self, span: Range<usize>, message: impl Into<String>) {
        let (line, col) = self.lines.line_col(self.text, span.start);
        self.errors.push(Diagnostic {
            file: self.file.clone(),
            line,
            col,
            message: message.into(),
        });
    }

    fn line(&self, span: &Range<usize>) -> usize {
        self.lines.line_col(self.text, span.start).0
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
                    "`id` must be 1 to 64 lowercase letters, digits and dashes (e.g. `lesson-3`)",
                );
            }
        }
        if raw.cells.is_empty() {
            self.error(top, "the lesson has no `[[cells]]`");
        }
        self.released = raw.released.as_ref().is_some_and(|r| *r.get_ref());
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
        if let Some(s) = &raw.short {
            // `tutor run 2` means lesson number 2 (issue 11, item 12).
            if s.get_ref().trim().parse::<u64>().is_ok() {
                self.error(
                    s.span(),
                    format!(
                        "`short` is `{}`, a number: it would be read as a lesson number",
                        s.get_ref()
                    ),
                );
            }
        }
        Some(Lesson {
            path: self.file.clone(),
            id,
            number: number? as u32,
            short,
            title: title?,
            summary,
            cells,
            released: self.released,
        })
    }

    /// Whether answers of the cell being loaded are held back (a graded cell of a released copy).
    fn held_back(&self) -> bool {
        self.released && self.graded
    }

    /// A quiz or exercise's `graded` and `points`.
    fn graded(&mut self, c: &RawCell) -> Option<Graded> {
        let graded = c.graded.as_ref().is_some_and(|g| *g.get_ref());
        let points = match &c.points {
            None => None,
            Some(p) => {
                let value = match p.get_ref() {
                    toml::Value::Integer(i) => Some(*i as f64),
                    toml::Value::Float(x) => Some(*x),
                    _ => None,
                };
                match value {
                    Some(v) if v.is_finite() && v > 0.0 && v <= 1e6 => Some(v),
                    _ => {
                        self.error(
                            p.span(),
                            "`points` must be a number above 0 (e.g. 2 or 0.5)",
                        );
                        return None;
                    }
                }
            }
        };
        match (graded, points) {
            (true, points) => Some(Graded {
                points: points.unwrap_or(1.0),
            }),
            (false, Some(_)) => {
                let at = c.points.as_ref().map_or(0..0, |p| p.span());
                self.error(
                    at,
                    "`points` count only in a graded cell: add `graded = true` (or remove `points`)",
                );
                None
            }
            (false, None) => None,
        }
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
                        "cell `id` must be 1 to 64 lowercase letters, digits and dashes",
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
        let Some(allowed) = fields::allowed_fields(kind_word) else {
            self.error(
                kind.span(),
                format!(
                    "unknown cell kind `{kind_word}` (expected text, code, run, quiz or exercise)"
                ),
            );
            return None;
        };
        for (name, at) in fields::present_fields(c) {
            if !allowed.contains(&name) {
                self.error(
                    at,
                    format!("field `{name}` does not belong in a {kind_word} cell"),
                );
            }
        }
        let graded = if matches!(kind_word, "quiz" | "exercise") {
            self.graded(c)
        } else {
            None
        };
        self.graded = graded.is_some();
        let body = match kind_word {
            "text" => CellBody::Text(self.required(&c.text, span, "text")?),
            "code" => self.code(c, span)?,
            "run" => self.run(c, span)?,
            "quiz" => CellBody::Quiz(self.quiz(c, span)?),
            _ => CellBody::Exercise(self.exercise(c, span)?),
        };
        Some(Cell {
            id,
            line,
            body,
            graded,
        })
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

    fn strings(v: &Option<Vec<Spanned<String>>>) -> Vec<String> {
        v.iter()
            .flatten()
            .map(|s| s.get_ref().clone())
            .collect::<Vec<_>>()
    }
}

/// The longest lesson or cell id.
const MAX_ID: usize = 64;

/// An id: it names exported files (`<cell>-pictures.png`), so it is kept short enough for any
/// file system.
fn is_slug(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_ID
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
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_from_one() {
        let t = "ab\ncd\nef";
        assert_eq!(line_col(t, 0), (1, 1));
        assert_eq!(line_col(t, 4), (2, 2));
        assert_eq!(line_col(t, 100), (3, 3));
        let lines = Lines::new(t);
        for offset in 0..=t.len() + 2 {
            assert_eq!(lines.line_col(t, offset), line_col(t, offset), "{offset}");
        }
    }
}
