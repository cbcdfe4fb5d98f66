//! Small leaf helpers everything may use: cancellation, atomic file writing, the clock, reading files
//! (regular files only, and the built-in networks and weights), the tutor's home folder,
//! parsing of numbers typed by people, control characters out of printed text. They import
//! nothing else of the crate, so any layer can use them.

pub mod atomic;
pub mod cancel;
pub mod clock;
pub mod controls;
pub mod files;
pub mod home;
pub mod parse;
