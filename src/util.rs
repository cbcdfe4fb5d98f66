//! Small leaf helpers everything may use: cancellation, atomic file writing, parsing of
//! numbers typed by people. They import nothing else of the crate, so any layer can use them.

pub mod atomic;
pub mod cancel;
pub mod home;
pub mod parse;
