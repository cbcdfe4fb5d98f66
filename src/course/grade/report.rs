//! What grading writes: `grades.csv` (one row per learner) and one Markdown feedback file per
//! learner, each written atomically.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::{Key, LearnerGrade, Outcome};
use crate::course::pack::format_time;
use crate::course::progress::file_stem;
use crate::course::quiz::format_number;
use crate::util::atomic::write_atomic;

/// A CSV field (RFC 4180): quoted when it holds a comma, quote, or line break, quotes doubled.
/// A field a spreadsheet would run as a formula (`=`, `+`, `-`, `@` first) gets a leading `'`.
pub fn csv_field(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@']) && s.parse::<f64>().is_err() {
        format!("'{s}")
    } else {
        s.to_string()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

/// `grades.csv`: `learner`, one column per graded cell (`lesson-id/cell-id`), `total`, `late`.
pub fn csv(key: &Key, grades: &[LearnerGrade]) -> String {
    let mut out = String::new();
    let mut header = vec!["learner".to_string()];
    header.extend(key.graded_cells().into_iter().map(|c| key.column(c)));
    header.extend(["total".to_string(), "late".to_string()]);
    let _ = writeln!(out, "{}", join(&header));
    for g in grades {
        let mut row = vec![g.learner.clone()];
        row.extend(g.cells.iter().map(|c| format_number(c.points)));
        row.push(format_number(g.total));
        row.push(if g.late_by.is_some() { "yes" } else { "no" }.to_string());
        let _ = writeln!(out, "{}", join(&row));
    }
    out
}

fn join(fields: &[String]) -> String {
    fields
        .iter()
        .map(|f| csv_field(f))
        .collect::<Vec<_>>()
        .join(",")
}

fn duration(secs: u64) -> String {
    let (d, h, m) = (secs / 86_400, secs / 3600 % 24, secs / 60 % 60);
    match (d, h) {
        (0, 0) => format!("{} min", m.max(1)),
        (0, h) => format!("{h} h {m} min"),
        (d, h) => format!("{d} d {h} h"),
    }
}

/// One learner's feedback in Markdown.
pub fn feedback(key: &Key, g: &LearnerGrade) -> String {
    let mut md = String::new();
    let _ = writeln!(md, "# {}: {}\n", key.pack.title, g.learner);
    let _ = writeln!(
        md,
        "**Total: {} of {} points.** Submitted {}{}.\n",
        format_number(g.total),
        format_number(g.max),
        format_time(i64::try_from(g.submitted_at).unwrap_or(i64::MAX)),
        match g.late_by {
            Some(s) => format!(", {} after the deadline (late)", duration(s)),
            None => String::new(),
        }
    );
    for c in &g.cells {
        let _ = writeln!(
            md,
            "## {} ({} of {} points)\n",
            c.column,
            format_number(c.points),
            format_number(c.max)
        );
        let _ = writeln!(md, "{}\n", c.question.trim());
        match &c.answer {
            Some(a) => {
                let _ = writeln!(md, "Your answer: `{}`  ", a.replace('`', "'"));
            }
            None => {
                let _ = writeln!(md, "Your answer: none  ");
            }
        }
        let _ = writeln!(md, "Result: {}\n", c.verdict);
        if !c.explanation.is_empty() {
            let _ = writeln!(md, "{}\n", c.explanation.trim());
        }
    }
    md
}

/// Writes `out/grades.csv` and `out/feedback/<learner>.md`; returns the paths written.
pub fn write_reports(key: &Key, outcome: &Outcome, out: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    let csv_path = out.join("grades.csv");
    write_atomic(&csv_path, csv(key, &outcome.grades).as_bytes())?;
    written.push(csv_path);
    for g in &outcome.grades {
        let p = out
            .join("feedback")
            .join(format!("{}.md", file_stem(&g.learner)));
        write_atomic(&p, feedback(key, g).as_bytes())?;
        written.push(p);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_as_rfc_4180_says() {
        assert_eq!(csv_field("ana"), "ana");
        assert_eq!(csv_field("Smith, Ana"), "\"Smith, Ana\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("two\nlines"), "\"two\nlines\"");
        assert_eq!(csv_field("=cmd()"), "'=cmd()");
        assert_eq!(csv_field("-1.5"), "-1.5");
        assert_eq!(file_stem("ana b/../x"), "ana%20b%2F%2E%2E%2Fx");
        assert_eq!(duration(59), "1 min");
        assert_eq!(duration(3 * 3600 + 120), "3 h 2 min");
    }
}
