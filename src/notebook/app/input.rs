//! A one-line text input with a cursor: what the learner types answers and exercise inputs
//! into. Positions are in characters, so accented letters and `×` edit as one. The usual
//! line-editing keys of a shell work (Ctrl-A/E, Ctrl-U/K, Ctrl-W), and a value put in to be
//! edited starts selected, so typing replaces it and an arrow key keeps it.

/// The text typed so far and where the cursor is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LineInput {
    text: String,
    /// Cursor position in characters (0 = before the first).
    cursor: usize,
    /// The whole text is selected: the next character replaces it, Backspace clears it.
    selected: bool,
}

impl LineInput {
    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn cursor(&self) -> usize {
        self.cursor
    }

    pub fn is_selected(&self) -> bool {
        self.selected && !self.text.is_empty()
    }

    pub fn is_empty(&self) -> bool {
        self.text.is_empty()
    }

    fn byte_at(&self, chars: usize) -> usize {
        self.text
            .char_indices()
            .nth(chars)
            .map_or(self.text.len(), |(i, _)| i)
    }

    fn len(&self) -> usize {
        self.text.chars().count()
    }

    pub fn insert(&mut self, c: char) {
        if std::mem::take(&mut self.selected) {
            self.clear();
        }
        let at = self.byte_at(self.cursor);
        self.text.insert(at, c);
        self.cursor += 1;
    }

    /// Deletes the character before the cursor (or the selection).
    pub fn backspace(&mut self) {
        if std::mem::take(&mut self.selected) {
            self.clear();
        } else if self.cursor > 0 {
            self.cursor -= 1;
            let at = self.byte_at(self.cursor);
            self.text.remove(at);
        }
    }

    /// Deletes the character under the cursor (or the selection).
    pub fn delete(&mut self) {
        if std::mem::take(&mut self.selected) {
            self.clear();
        } else if self.cursor < self.len() {
            let at = self.byte_at(self.cursor);
            self.text.remove(at);
        }
    }

    /// Moving the cursor ends a selection, keeping the text.
    pub fn left(&mut self) {
        if !std::mem::take(&mut self.selected) {
            self.cursor = self.cursor.saturating_sub(1);
        }
    }

    pub fn right(&mut self) {
        if !std::mem::take(&mut self.selected) {
            self.cursor = (self.cursor + 1).min(self.len());
        }
    }

    pub fn home(&mut self) {
        self.selected = false;
        self.cursor = 0;
    }

    pub fn end(&mut self) {
        self.selected = false;
        self.cursor = self.len();
    }

    /// Ctrl-U: deletes everything before the cursor.
    pub fn kill_before(&mut self) {
        if std::mem::take(&mut self.selected) {
            self.clear();
            return;
        }
        let at = self.byte_at(self.cursor);
        self.text.replace_range(..at, "");
        self.cursor = 0;
    }

    /// Ctrl-K: deletes everything from the cursor on.
    pub fn kill_after(&mut self) {
        if std::mem::take(&mut self.selected) {
            self.clear();
            return;
        }
        let at = self.byte_at(self.cursor);
        self.text.truncate(at);
    }

    /// Ctrl-W: deletes the word before the cursor (and the spaces after it).
    pub fn kill_word(&mut self) {
        if std::mem::take(&mut self.selected) {
            self.clear();
            return;
        }
        let chars: Vec<char> = self.text.chars().collect();
        let mut from = self.cursor;
        while from > 0 && chars[from - 1].is_whitespace() {
            from -= 1;
        }
        while from > 0 && !chars[from - 1].is_whitespace() {
            from -= 1;
        }
        let (a, b) = (self.byte_at(from), self.byte_at(self.cursor));
        self.text.replace_range(a..b, "");
        self.cursor = from;
    }

    pub fn clear(&mut self) {
        self.text.clear();
        self.cursor = 0;
        self.selected = false;
    }

    /// Puts `text` in with the cursor at its end.
    pub fn set(&mut self, text: &str) {
        self.text = text.to_string();
        self.cursor = self.len();
        self.selected = false;
    }

    /// Puts `text` in selected, to be replaced by what is typed or edited after an arrow key.
    pub fn set_selected(&mut self, text: &str) {
        self.set(text);
        self.selected = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edits_at_the_cursor() {
        let mut i = LineInput::default();
        for c in "3255".chars() {
            i.insert(c);
        }
        i.home();
        i.insert('(');
        i.end();
        i.insert(')');
        assert_eq!(i.text(), "(3255)");
        i.left();
        i.left();
        i.backspace();
        assert_eq!(i.text(), "(325)");
        assert_eq!(i.cursor(), 3);
        i.delete();
        assert_eq!(i.text(), "(32)");
        i.right();
        i.right();
        i.right();
        assert_eq!(i.cursor(), 4);
        i.backspace();
        i.backspace();
        i.backspace();
        i.backspace();
        i.backspace();
        assert_eq!(i.text(), "");
        assert_eq!(i.cursor(), 0);
    }

    /// Issue 12, item 8: a value put in to edit is replaced by typing, not appended to.
    #[test]
    fn a_selected_value_is_replaced_by_typing_and_kept_by_arrows() {
        let mut i = LineInput::default();
        i.set_selected("70");
        assert!(i.is_selected());
        i.insert('1');
        i.insert('2');
        assert_eq!(i.text(), "12");
        assert!(!i.is_selected());
        i.set_selected("70");
        i.left();
        assert!(!i.is_selected());
        assert_eq!(i.cursor(), 2, "the first arrow only ends the selection");
        i.insert('5');
        assert_eq!(i.text(), "705");
        i.set_selected("70");
        i.backspace();
        assert_eq!(i.text(), "");
    }

    #[test]
    fn shell_line_editing_keys() {
        let mut i = LineInput::default();
        i.set("conv 16 k3 s2");
        i.kill_word();
        assert_eq!(i.text(), "conv 16 k3 ");
        i.kill_word();
        assert_eq!(i.text(), "conv 16 ");
        i.left();
        i.left();
        i.left();
        i.kill_after();
        assert_eq!(i.text(), "conv ");
        i.insert('8');
        i.home();
        i.right();
        i.kill_before();
        assert_eq!((i.text(), i.cursor()), ("onv 8", 0));
    }

    #[test]
    fn multibyte_characters_edit_as_one() {
        let mut i = LineInput::default();
        i.set("3×5");
        i.left();
        i.backspace();
        assert_eq!(i.text(), "35");
        i.insert('x');
        assert_eq!(i.text(), "3x5");
    }
}
