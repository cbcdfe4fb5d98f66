//! A lesson pack's settings: `pack.toml` beside the lesson files, naming the assignment the
//! pack is, its version and its deadline; and the pack's fingerprint, which ties a learner's
//! submission to the exact released copy they answered.
//!
//! ```toml
//! assignment = "cnn-week-1"   # lowercase letters, digits and dashes
//! title = "Week 1: filters and conv arithmetic"
//! version = 1                 # the teacher's own number (or text)
//! deadline = 2026-12-15T23:59:00Z
//! ```

use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use sha2::{Digest, Sha256};
use toml::Spanned;

use super::lesson::load::line_col;
use super::lesson::{Diagnostic, LessonError};

/// The pack's settings file, in the lessons folder.
pub const PACK_FILE: &str = "pack.toml";

/// `pack.toml` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPack {
    assignment: Option<Spanned<String>>,
    title: Option<Spanned<String>>,
    version: Option<Spanned<toml::Value>>,
    deadline: Option<Spanned<toml::value::Datetime>>,
    /// Written by `tutor release`.
    released: Option<Spanned<bool>>,
}

/// A pack's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Pack {
    /// The folder holding `pack.toml` and the lesson files.
    pub dir: PathBuf,
    /// e.g. `cnn-week-1`: submissions name it, and grading refuses those for another one.
    pub assignment: String,
    pub title: String,
    /// The teacher's version, as text (`1` when not given).
    pub version: String,
    /// Seconds since the Unix epoch; answers submitted later are marked late.
    pub deadline: Option<i64>,
    /// A student copy written by `tutor release`.
    pub released: bool,
}

/// Reads `dir/pack.toml`; `Ok(None)` when the folder has none (a plain lesson folder).
pub fn load(dir: &Path) -> Result<Option<Pack>, LessonError> {
    let path = dir.join(PACK_FILE);
    if !path.exists() {
        return Ok(None);
    }
    let fail = |line: usize, col: usize, message: String| {
        LessonError(vec![Diagnostic {
            file: path.clone(),
            line,
            col,
            message,
        }])
    };
    let text = super::lesson::load::read_lesson_text(&path)
        .map_err(|e| fail(1, 1, format!("cannot read the file: {e}")))?;
    load_str(&text, &path).map(Some)
}

/// Reads a `pack.toml` from its text; `path` names it in messages and gives the pack's folder.
pub fn load_str(text: &str, path: &Path) -> Result<Pack, LessonError> {
    let at = |span: Range<usize>, message: String| {
        let (line, col) = line_col(text, span.start);
        LessonError(vec![Diagnostic {
            file: path.to_path_buf(),
            line,
            col,
            message,
        }])
    };
    let raw: RawPack = toml::from_str(text).map_err(|e| {
        let msg = e
            .message()
            .lines()
            .next()
            .unwrap_or("invalid TOML")
            .to_string();
        at(e.span().unwrap_or(0..0), msg)
    })?;
    let Some(assignment) = raw.assignment else {
        return Err(at(
            0..0,
            "missing field `assignment` (the assignment's id, e.g. `cnn-week-1`)".into(),
        ));
    };
    if !is_id(assignment.get_ref()) {
        return Err(at(
            assignment.span(),
            "`assignment` must be 1 to 64 lowercase letters, digits and dashes".into(),
        ));
    }
    let version = match &raw.version {
        None => "1".to_string(),
        Some(v) => match v.get_ref() {
            toml::Value::Integer(i) => i.to_string(),
            toml::Value::String(s) if !s.trim().is_empty() && s.len() <= 64 => s.trim().into(),
            _ => {
                return Err(at(
                    v.span(),
                    "`version` must be a whole number or a short text (e.g. 2 or \"2b\")".into(),
                ))
            }
        },
    };
    let deadline = match &raw.deadline {
        None => None,
        Some(d) => Some(epoch_seconds(d.get_ref()).map_err(|m| at(d.span(), m))?),
    };
    Ok(Pack {
        dir: path.parent().unwrap_or(Path::new(".")).to_path_buf(),
        assignment: assignment.get_ref().clone(),
        title: raw
            .title
            .map(|t| t.get_ref().clone())
            .unwrap_or_else(|| assignment.get_ref().clone()),
        version,
        deadline,
        released: raw.released.is_some_and(|r| *r.get_ref()),
    })
}

fn is_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

/// A TOML date-time with its offset (`2026-12-15T23:59:00Z`, `…+01:00`) as Unix seconds.
fn epoch_seconds(d: &toml::value::Datetime) -> Result<i64, String> {
    const HOW: &str = "write the deadline as a date, time and time zone, e.g. \
                       2026-12-15T23:59:00Z or 2026-12-15T23:59:00+01:00";
    let (Some(date), Some(time)) = (d.date, d.time) else {
        return Err(format!("`deadline` needs a date and a time: {HOW}"));
    };
    let Some(offset) = d.offset else {
        return Err(format!(
            "`deadline` has no time zone, so it would mean different moments on different \
             machines: {HOW}"
        ));
    };
    let minutes = match offset {
        toml::value::Offset::Z => 0,
        toml::value::Offset::Custom { minutes } => i64::from(minutes),
    };
    let days = days_from_civil(
        i64::from(date.year),
        i64::from(date.month),
        i64::from(date.day),
    );
    Ok(days * 86_400
        + i64::from(time.hour) * 3600
        + i64::from(time.minute) * 60
        + i64::from(time.second.unwrap_or(0))
        - minutes * 60)
}

/// Days from 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Unix seconds as `2026-12-15 23:59:00 UTC`, for reports.
pub fn format_time(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rest = secs.rem_euclid(86_400);
    // Hinnant's `civil_from_days`.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        rest / 3600,
        rest / 60 % 60,
        rest % 60
    )
}

/// The fingerprint of a pack's text: SHA-256 over `pack.toml` and every lesson file (name and
/// bytes, in name order), as 16 hex digits. Networks and pictures are not part of it: the
/// grader runs exercises with the teacher's own files.
pub fn fingerprint<'a>(files: impl IntoIterator<Item = (&'a str, &'a [u8])>) -> String {
    let mut files: Vec<(&str, &[u8])> = files.into_iter().collect();
    files.sort_by_key(|(name, _)| *name);
    let mut h = Sha256::new();
    for (name, bytes) in files {
        h.update((name.len() as u64).to_le_bytes());
        h.update(name.as_bytes());
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(bytes);
    }
    h.finalize()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The files [`fingerprint`] covers in a pack folder: `pack.toml` and the `*.toml` lessons at
/// its top level.
pub fn pack_files(dir: &Path) -> std::io::Result<Vec<(String, Vec<u8>)>> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir)? {
        let path = e?.path();
        if path.extension().is_some_and(|x| x == "toml") && path.is_file() {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            out.push((name, crate::util::files::read_regular(&path)?));
        }
    }
    out.sort();
    Ok(out)
}

/// The fingerprint of the pack in `dir` as it is on disk.
pub fn fingerprint_dir(dir: &Path) -> std::io::Result<String> {
    let files = pack_files(dir)?;
    Ok(fingerprint(
        files.iter().map(|(n, b)| (n.as_str(), b.as_slice())),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pack(text: &str) -> Result<Pack, LessonError> {
        load_str(text, Path::new("/p/pack.toml"))
    }

    #[test]
    fn a_pack_with_every_field() {
        let p = pack(
            "assignment = \"week-1\"\ntitle = \"Week 1\"\nversion = 3\n\
             deadline = 2026-12-15T23:59:00+01:00\n",
        )
        .unwrap();
        assert_eq!(p.assignment, "week-1");
        assert_eq!(p.version, "3");
        assert_eq!(p.dir, Path::new("/p"));
        // 2026-12-15 22:59 UTC.
        assert_eq!(format_time(p.deadline.unwrap()), "2026-12-15 22:59:00 UTC");
        assert!(!p.released);
    }

    #[test]
    fn unix_time_matches_known_dates() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(format_time(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(format_time(951_782_400), "2000-02-29 00:00:00 UTC");
        let p = pack("assignment = \"a\"\ndeadline = 2000-02-29T00:00:00Z\n").unwrap();
        assert_eq!(p.deadline, Some(951_782_400));
    }

    #[test]
    fn mistakes_are_located() {
        let e = pack("assignment = \"A B\"\n").unwrap_err().to_string();
        assert!(e.starts_with("/p/pack.toml:1:14: `assignment` must"), "{e}");
        let e = pack("assignment = \"a\"\ndeadline = 2026-12-15T10:00:00\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains(":2:12:") && e.contains("no time zone"), "{e}");
        let e = pack("title = \"x\"\n").unwrap_err().to_string();
        assert!(e.contains("missing field `assignment`"), "{e}");
        let e = pack("assignment = \"a\"\ndeadlin = 1\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains(":2:1:") && e.contains("deadlin"), "{e}");
    }

    #[test]
    fn the_fingerprint_depends_on_names_and_bytes_not_order() {
        let a = fingerprint([("a.toml", &b"x"[..]), ("b.toml", &b"y"[..])]);
        let b = fingerprint([("b.toml", &b"y"[..]), ("a.toml", &b"x"[..])]);
        assert_eq!(a, b);
        assert_eq!(a.len(), 16);
        assert_ne!(
            a,
            fingerprint([("a.toml", &b"x"[..]), ("b.toml", &b"z"[..])])
        );
        assert_ne!(
            a,
            fingerprint([("a.toml", &b"xy"[..]), ("b.toml", &b""[..])])
        );
    }
}
