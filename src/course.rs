//! The course as content: the lesson format and its loading ([`lesson`]), the content lint
//! `tutor check` runs ([`check`]), quiz checking ([`quiz`]) with its calculator ([`calc`]), and
//! the learner's saved progress ([`progress`]). Lessons name experiments; nothing here trains.

pub mod calc;
pub mod check;
pub mod lesson;
pub mod progress;
pub mod quiz;
