//! Where the tutor keeps what a learner builds up: `$TUTOR_HOME`, else the platform's data
//! folder, and in it one folder per learner for what lessons keep between sessions (a runs
//! table, a checkpoint).

use std::path::PathBuf;

/// The variable that moves the tutor's home folder.
pub const HOME_ENV: &str = "TUTOR_HOME";
/// The variable that names the learner (`--learner` sets it for the process).
pub const LEARNER_ENV: &str = "TUTOR_LEARNER";

/// `$TUTOR_HOME`, else the platform's data folder for the tutor.
pub fn state_dir() -> anyhow::Result<PathBuf> {
    if let Some(dir) = std::env::var_os(HOME_ENV).filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    directories::ProjectDirs::from("", "", "tutor")
        .map(|d| d.data_dir().to_path_buf())
        .ok_or_else(|| anyhow::anyhow!("cannot find a home folder; set {HOME_ENV}"))
}

/// The learner's name: `$TUTOR_LEARNER`, else the login name, else "learner".
pub fn learner() -> String {
    [LEARNER_ENV, "USER", "USERNAME"]
        .iter()
        .find_map(|k| std::env::var(k).ok().filter(|v| !v.trim().is_empty()))
        .unwrap_or_else(|| "learner".to_string())
}

/// The learner's own folder under [`state_dir`]: `learners/<name>`, the name reduced to
/// letters, digits, `-`, `_` and `.` (anything else becomes `_`) so it is one safe path part.
pub fn learner_dir() -> anyhow::Result<PathBuf> {
    Ok(state_dir()?.join("learners").join(path_part(&learner())))
}

/// A name as one safe path part: letters, digits, `-`, `_` and `.` kept, anything else `_`;
/// an empty name or one of dots only becomes `learner`.
pub fn path_part(name: &str) -> String {
    let part: String = name
        .trim()
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if part.is_empty() || part.chars().all(|c| c == '.') {
        "learner".to_string()
    } else {
        part
    }
}
