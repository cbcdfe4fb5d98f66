//! The terminal notebook (`tutor run`): app state and key handling ([`app`]), the events it
//! reacts to ([`event`]), the one background thread experiments run on ([`worker`]), the
//! terminal's setup and event loop ([`terminal`]) and pure drawing ([`ui`]).

pub mod app;
pub mod event;
pub mod terminal;
pub mod ui;
pub mod worker;
