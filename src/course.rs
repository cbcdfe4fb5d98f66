//! The course as content: the lesson format and its loading ([`lesson`]), the content lint
//! `tutor check` runs ([`check`]), quiz checking ([`quiz`]) with its calculator ([`calc`]),
//! exercise checking ([`exercise`]: input to parameters, metrics to goals met), and the
//! learner's saved progress ([`progress`]), and the classroom: a pack's settings ([`pack`]),
//! the student copy ([`release`]), submissions ([`submission`]) and grading ([`grade`]). Lessons name experiments; nothing here trains
//! except an exercise run, which goes through the experiment it names.

pub mod calc;
pub mod check;
pub mod exercise;
pub mod grade;
pub mod lesson;
pub mod pack;
pub mod progress;
pub mod quiz;
pub mod release;
pub mod submission;
