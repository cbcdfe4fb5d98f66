//! The colours cells are drawn in, one name per meaning, so every cell kind agrees.

use ratatui::style::{Color, Style};

pub const DIM: Style = Style::new().fg(Color::DarkGray);
pub const ERROR: Style = Style::new().fg(Color::LightRed);
pub const GOOD: Style = Style::new().fg(Color::Green);
pub const WARN: Style = Style::new().fg(Color::Yellow);
/// The colour of focus: the gutter bar and the focused cell's frame.
pub const ACCENT: Color = Color::Cyan;
/// The focused cell's frame while typing into it.
pub const TYPING: Color = Color::Yellow;
