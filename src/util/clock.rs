//! The time attempts and submissions are stamped with: the system clock, or `$TUTOR_CLOCK`
//! (seconds since the Unix epoch) for scripted classes and tests. A serverless tutor can only
//! trust the learner's clock; a teacher who needs more collects files by a deadline.

use std::time::{SystemTime, UNIX_EPOCH};

/// The variable that sets the clock (whole seconds since 1970-01-01 UTC).
pub const CLOCK_ENV: &str = "TUTOR_CLOCK";

/// Seconds since the Unix epoch.
pub fn now() -> u64 {
    if let Some(t) = std::env::var(CLOCK_ENV)
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
    {
        return t;
    }
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
