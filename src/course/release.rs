//! `tutor release`: the student copy of a lesson pack.
//!
//! Every lesson file is read as TOML and written again with `released = true`; in each graded
//! cell the answer (`answer`, `compute`), the `explanation` and an exercise's `solution` are
//! taken out, and a match question's right-hand items are put in a stand-in order (sorted, and
//! never their true order), since the file's pairs would otherwise be the answer. Questions,
//! choices, hints, drill variables, parameters and goals stay; practice cells stay whole, so
//! they keep their immediate feedback. Comments are not copied (a teacher's note beside an
//! answer would give it away). The same pack always releases to the same bytes, so the grader
//! can rebuild the student copy from the teacher's and compare fingerprints.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _};

use super::pack::{self, Pack, PACK_FILE};

/// The fields a graded cell loses in the student copy.
pub const HELD_BACK: &[&str] = &["answer", "compute", "explanation", "solution"];

/// A released pack, in memory.
#[derive(Debug, Clone)]
pub struct Released {
    pub pack: Pack,
    /// Paths relative to the pack folder, with their contents.
    pub files: Vec<(PathBuf, Vec<u8>)>,
    /// The fingerprint of the released `pack.toml` and lesson files.
    pub fingerprint: String,
    /// How many graded cells had their answers held back.
    pub graded: usize,
}

impl Released {
    /// The released text of a top-level file (`lesson-1.toml`, `pack.toml`).
    pub fn text(&self, name: &str) -> Option<&str> {
        self.files
            .iter()
            .find(|(p, _)| p == Path::new(name))
            .and_then(|(_, b)| std::str::from_utf8(b).ok())
    }

    /// Writes the copy into `out`, which must not be the pack itself; each file atomically.
    pub fn write(&self, out: &Path) -> anyhow::Result<()> {
        if let (Ok(a), Ok(b)) = (out.canonicalize(), self.pack.dir.canonicalize()) {
            if a == b || a.starts_with(&b) {
                bail!(
                    "`{}` is inside the teacher's pack: release into another folder",
                    out.display()
                );
            }
        }
        for (rel, bytes) in &self.files {
            crate::util::atomic::write_atomic(&out.join(rel), bytes)?;
        }
        Ok(())
    }
}

/// Builds the student copy of the pack in `dir`. Refuses a pack that does not load cleanly or
/// that is itself a released copy.
pub fn release(dir: &Path) -> anyhow::Result<Released> {
    let pack = match pack::load(dir) {
        Ok(Some(p)) => p,
        Ok(None) => bail!(
            "`{}` has no {PACK_FILE}: a pack to release names its assignment there \
             (see lessons/README.md, \"For teachers\")",
            dir.display()
        ),
        Err(e) => return Err(anyhow::anyhow!("{e}")),
    };
    if pack.released {
        bail!(
            "`{}` is already a released copy: release the teacher's pack",
            dir.display()
        );
    }
    let mut files = Vec::new();
    let mut graded = 0;
    for (name, bytes) in pack::pack_files(dir)
        .with_context(|| format!("cannot read the pack `{}`", dir.display()))?
    {
        let path = dir.join(&name);
        let text = String::from_utf8(bytes)
            .map_err(|_| anyhow::anyhow!("`{}` is not UTF-8 text", path.display()))?;
        let (out, n) = if name == PACK_FILE {
            (mark_released(&text, &path)?, 0)
        } else {
            // Only lessons that load without a problem are released.
            super::lesson::load_str(&text, &path).map_err(|e| anyhow::anyhow!("{e}"))?;
            release_lesson(&text, &path)?
        };
        graded += n;
        files.push((PathBuf::from(&name), out.into_bytes()));
    }
    let fingerprint = pack::fingerprint(
        files
            .iter()
            .map(|(p, b)| (p.to_str().unwrap_or_default(), b.as_slice())),
    );
    copy_rest(dir, Path::new(""), &mut files)?;
    Ok(Released {
        pack,
        files,
        fingerprint,
        graded,
    })
}

fn parse(text: &str, path: &Path) -> anyhow::Result<toml::Table> {
    toml::from_str(text).map_err(|e| anyhow::anyhow!("`{}`: {}", path.display(), e.message()))
}

fn mark_released(text: &str, path: &Path) -> anyhow::Result<String> {
    let mut t = parse(text, path)?;
    t.insert("released".into(), toml::Value::Boolean(true));
    Ok(toml::to_string_pretty(&t)?)
}

/// One lesson's student copy and the number of graded cells in it.
pub fn release_lesson(text: &str, path: &Path) -> anyhow::Result<(String, usize)> {
    let mut t = parse(text, path)?;
    t.insert("released".into(), toml::Value::Boolean(true));
    let mut graded = 0;
    if let Some(toml::Value::Array(cells)) = t.get_mut("cells") {
        for cell in cells.iter_mut().filter_map(toml::Value::as_table_mut) {
            if cell.get("graded").and_then(toml::Value::as_bool) != Some(true) {
                continue;
            }
            graded += 1;
            for f in HELD_BACK {
                cell.remove(*f);
            }
            if let Some(toml::Value::Array(pairs)) = cell.get_mut("pairs") {
                stand_in_pairs(pairs);
            }
        }
    }
    Ok((toml::to_string_pretty(&t)?, graded))
}

/// Puts the right-hand items of `[left, right]` pairs in sorted order, or rotated by one when
/// sorting leaves them where they were.
fn stand_in_pairs(pairs: &mut [toml::Value]) {
    let right = |p: &toml::Value| {
        p.as_array()
            .and_then(|a| a.get(1))
            .and_then(toml::Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let original: Vec<String> = pairs.iter().map(right).collect();
    let mut shown = original.clone();
    shown.sort();
    if shown == original {
        shown.rotate_left(1);
    }
    for (p, r) in pairs.iter_mut().zip(shown) {
        if let Some(a) = p.as_array_mut() {
            if a.len() == 2 {
                a[1] = toml::Value::String(r);
            }
        }
    }
}

/// Copies every other file of the pack (networks, pictures), leaving out hidden ones and the
/// top-level TOML files already released.
fn copy_rest(root: &Path, rel: &Path, files: &mut Vec<(PathBuf, Vec<u8>)>) -> anyhow::Result<()> {
    let dir = root.join(rel);
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .with_context(|| format!("cannot read `{}`", dir.display()))?
        .filter_map(Result::ok)
        .collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let name = e.file_name();
        if name.to_string_lossy().starts_with('.') {
            continue;
        }
        let sub = rel.join(&name);
        let kind = e.file_type()?;
        if kind.is_dir() {
            copy_rest(root, &sub, files)?;
        } else if kind.is_file() {
            let top_toml = rel.as_os_str().is_empty()
                && Path::new(&name).extension().is_some_and(|x| x == "toml");
            if !top_toml {
                let bytes = crate::util::files::read_regular(&root.join(&sub))
                    .with_context(|| format!("cannot read `{}`", root.join(&sub).display()))?;
                files.push((sub, bytes));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const LESSON: &str = r#"
format_version = 1
id = "lesson-1"
number = 1
title = "T"

# the answer is b
[[cells]]
kind = "quiz"
id = "pick"
graded = true
points = 2
question = "Which?"
type = "single"
choices = ["x", "y"]
answer = "b"
explanation = "Because y."

[[cells]]
kind = "quiz"
id = "pairs"
graded = true
question = "Match"
type = "match"
pairs = [["a", "alpha"], ["b", "beta"], ["c", "gamma"]]

[[cells]]
kind = "quiz"
id = "practice"
question = "Practice?"
type = "integer"
answer = 7
explanation = "Seven."
"#;

    #[test]
    fn graded_answers_are_held_back_and_practice_stays() {
        let path = Path::new("/p/lesson-1.toml");
        let (text, n) = release_lesson(LESSON, path).unwrap();
        assert_eq!(n, 2);
        let l = crate::course::lesson::load_str(&text, path).unwrap();
        assert!(l.released);
        let t: toml::Table = toml::from_str(&text).unwrap();
        let cells = t["cells"].as_array().unwrap();
        for f in HELD_BACK {
            assert!(cells[0].get(*f).is_none(), "{f} left in");
        }
        assert!(!text.contains("Because y") && !text.contains("the answer is"));
        // The stand-in pairs are never the true ones.
        let pairs = cells[1]["pairs"].as_array().unwrap();
        let rights: Vec<&str> = pairs.iter().map(|p| p[1].as_str().unwrap()).collect();
        assert_eq!(rights, ["beta", "gamma", "alpha"]);
        // The practice question keeps its answer and explanation.
        assert_eq!(cells[2]["answer"].as_integer(), Some(7));
        assert!(text.contains("Seven."));
        // Releasing is deterministic.
        assert_eq!(release_lesson(LESSON, path).unwrap().0, text);
        // The loaded copy knows which questions are held back.
        let crate::course::lesson::CellBody::Quiz(q) = &l.cells[0].body else {
            panic!()
        };
        assert!(q.held_back && q.explanation.is_empty());
        assert_eq!(l.cells[0].graded.map(|g| g.points), Some(2.0));
        let crate::course::lesson::CellBody::Quiz(q) = &l.cells[2].body else {
            panic!()
        };
        assert!(!q.held_back);
    }
}
