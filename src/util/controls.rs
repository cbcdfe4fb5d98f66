//! Control characters out of text bound for a terminal. Lesson text is written by teachers and
//! may carry escape sequences (pasted colour codes, a stray `\x1b[2J`); the notebook never
//! draws them (ratatui skips control characters), and `tutor exec` removes them the same way
//! before printing, so a lesson cannot clear or recolour the learner's terminal.

use std::borrow::Cow;
use std::io;

/// Whether `c` is kept: printable characters, newlines and tabs.
fn keep(c: char) -> bool {
    !c.is_control() || c == '\n' || c == '\t'
}

/// `text` without its control characters (ESC, BEL, C1 codes...), newlines and tabs kept.
pub fn strip(text: &str) -> Cow<'_, str> {
    if text.chars().all(keep) {
        Cow::Borrowed(text)
    } else {
        Cow::Owned(text.chars().filter(|&c| keep(c)).collect())
    }
}

/// A writer that drops control characters from what passes through it.
pub struct Stripped<W: io::Write>(pub W);

impl<W: io::Write> io::Write for Stripped<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match std::str::from_utf8(buf) {
            Ok(s) => self.0.write_all(strip(s).as_bytes())?,
            // Not text: keep the printable bytes only.
            Err(_) => {
                let kept: Vec<u8> = buf
                    .iter()
                    .copied()
                    .filter(|&b| b >= 0x20 && b != 0x7f || b == b'\n' || b == b'\t')
                    .collect();
                self.0.write_all(&kept)?;
            }
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;

    /// Issue 11, item 15: escape codes in lesson text never reach the terminal.
    #[test]
    fn escape_codes_are_removed_and_text_kept() {
        assert_eq!(strip("plain\ttext\n"), "plain\ttext\n");
        assert!(matches!(strip("plain"), Cow::Borrowed(_)));
        assert_eq!(strip("a\x1b[2Jb\x07c\u{9b}31md"), "a[2Jbc31md");
        let mut w = Stripped(Vec::new());
        writeln!(w, "title \x1b]0;owned\x07 end").unwrap();
        assert_eq!(String::from_utf8(w.0).unwrap(), "title ]0;owned end\n");
    }
}
