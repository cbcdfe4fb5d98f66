//! A one-line text input with a cursor: what the learner types answers and exercise inputs
//! into. Positions are in characters, so accented letters and `×` edit as one.

/// The text typed so far and where the cursor is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LineInput {
    text: String,
    /// Cursor position in characters (0 = before the first).
    cursor: usize,
}

impl LineInput {
    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn cursor(&self) -> usize {
        self.cursor
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
        let at = self.byte_at(self.cursor);
        self.text.insert(at, c);
        self.cursor += 1;
    }

    /// Deletes the character before the cursor.
    pub fn backspace(&mut self) {
        if self.cursor > 0 {
            self.cursor -= 1;
            let at = self.byte_at(self.cursor);
            self.text.remove(at);
        }
    }

    /// Deletes the character under the cursor.
    pub fn delete(&mut self) {
        if self.cursor < self.len() {
            let at = self.byte_at(self.cursor);
            self.text.remove(at);
        }
    }

    pub fn left(&mut self) {
        self.cursor = self.cursor.saturating_sub(1);
    }

    pub fn right(&mut self) {
        self.cursor = (self.cursor + 1).min(self.len());
    }

    pub fn home(&mut self) {
        self.cursor = 0;
    }

    pub fn end(&mut self) {
        self.cursor = self.len();
    }

    pub fn clear(&mut self) {
        self.text.clear();
        self.cursor = 0;
    }

    pub fn set(&mut self, text: &str) {
        self.text = text.to_string();
        self.cursor = self.len();
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
