//! The terminal notebook (`tutor run`): app state and key handling ([`app`]), the events it
//! reacts to ([`event`]), the one background thread experiments run on ([`worker`]), the
//! terminal's setup and event loop ([`terminal`]), its optional frame-time trace ([`trace`])
//! and pure drawing ([`ui`]).

pub mod app;
pub mod event;
pub mod hangup;
pub mod terminal;
pub mod trace;
pub mod ui;
pub mod worker;
