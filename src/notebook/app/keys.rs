//! Keys to actions: the one `match` over key presses in normal mode, the answer box while
//! typing, and the switches between the two. The actions themselves live in the sibling
//! modules (focus and scrolling, answers, runs).

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::{cell_state, App, CellState, Message, Mode};
use crate::course::lesson::{CellBody, QuizKind};

impl App {
    /// Handles a key press or repeat (releases are ignored).
    pub fn on_key(&mut self, key: KeyEvent) {
        if key.kind == KeyEventKind::Release {
            return;
        }
        self.message = None;
        // Raw mode delivers Ctrl-C as a key: it always quits, even while typing.
        if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c') {
            self.quit();
            return;
        }
        if let Some((cell, at)) = self.viewer {
            // The full-screen picture: page through the cell's pictures, anything else closes.
            let n = self.pictures(cell).len();
            match key.code {
                _ if n == 0 => self.viewer = None,
                KeyCode::Right | KeyCode::Char('l' | ' ') | KeyCode::Tab => {
                    self.viewer = Some((cell, (at + 1) % n))
                }
                KeyCode::Left | KeyCode::Char('h') | KeyCode::BackTab => {
                    self.viewer = Some((cell, (at + n - 1) % n))
                }
                KeyCode::Char('q') => self.quit(),
                _ => self.viewer = None,
            }
            return;
        }
        if self.help {
            match key.code {
                KeyCode::Esc | KeyCode::Char('?') | KeyCode::Enter => self.help = false,
                KeyCode::Char('q') => self.quit(),
                _ => {}
            }
            return;
        }
        if self.mode == Mode::Typing {
            if key.modifiers.contains(KeyModifiers::ALT) {
                // Esc typed quickly before a key reaches us as Alt+key: leave typing and
                // treat the key as a shortcut, as the learner meant.
                self.mode = Mode::Normal;
                self.on_key(KeyEvent::new(key.code, key.modifiers - KeyModifiers::ALT));
                return;
            }
            self.typing_key(key);
            self.follow_focus();
            return;
        }
        if self.cells.is_empty()
            && !matches!(
                key.code,
                KeyCode::Char('q' | '?' | 'n' | 'p') | KeyCode::Esc
            )
        {
            return;
        }
        let shift_tab = key.code == KeyCode::BackTab
            || (key.code == KeyCode::Tab && key.modifiers.contains(KeyModifiers::SHIFT));
        match key.code {
            _ if shift_tab => self.select_param(false),
            KeyCode::Char('q') => self.quit(),
            KeyCode::Char('?') => self.help = true,
            KeyCode::Esc => self.escape(),
            KeyCode::Char('j') | KeyCode::Down => self.move_focus(1),
            KeyCode::Char('k') | KeyCode::Up => self.move_focus(-1),
            KeyCode::Char('J') => self.scroll_by(1),
            KeyCode::Char('K') => self.scroll_by(-1),
            KeyCode::Char('e') if key.modifiers.contains(KeyModifiers::CONTROL) => {
                self.scroll_by(1)
            }
            KeyCode::Char('y') if key.modifiers.contains(KeyModifiers::CONTROL) => {
                self.scroll_by(-1)
            }
            KeyCode::PageDown | KeyCode::Char(' ') => {
                self.scroll_by(self.viewport.saturating_sub(2).max(1) as isize)
            }
            KeyCode::PageUp => self.scroll_by(-(self.viewport.saturating_sub(2).max(1) as isize)),
            KeyCode::Char('g') | KeyCode::Home => {
                self.scroll = 0;
                self.set_focus(0);
            }
            KeyCode::Char('G') | KeyCode::End => {
                self.set_focus(self.cells.len().saturating_sub(1));
                // Show the very end rather than the last cell's top.
                self.scroll = usize::MAX / 2;
                self.reveal = false;
                self.scrolled = true;
                self.follow_run = false;
            }
            KeyCode::Enter => self.enter(),
            KeyCode::Char('i') => self.start_typing(),
            KeyCode::Char('h') => self.hint(),
            KeyCode::Char('s') => self.give_up(),
            KeyCode::Char('N') => self.new_drill(),
            KeyCode::Char('v') => {
                if self.pictures(self.focus).is_empty() {
                    self.message = Some(Message {
                        text: "this cell shows no pictures to view".into(),
                        error: false,
                    });
                } else {
                    self.viewer = Some((self.focus, 0));
                }
            }
            KeyCode::Char('r') => self.run_all(),
            KeyCode::Char('n') => self.switch_lesson(1),
            KeyCode::Char('p') => self.switch_lesson(-1),
            KeyCode::Tab => self.select_param(true),
            KeyCode::Char('+') | KeyCode::Char('=') | KeyCode::Right => self.adjust(true),
            KeyCode::Char('-') | KeyCode::Char('_') | KeyCode::Left => self.adjust(false),
            // On a question, a choice letter or the start of a number begins the answer, as
            // the help promises ("a b c … pick a choice"); keys bound above keep their meaning.
            KeyCode::Char(c)
                if key.modifiers.difference(KeyModifiers::SHIFT).is_empty()
                    && (c.is_ascii_digit() || matches!(c, 'a'..='f' | '.' | '(' | '['))
                    && matches!(self.cells.get(self.focus), Some(CellState::Quiz(_))) =>
            {
                self.start_typing();
                self.typing_key(key);
            }
            _ => {}
        }
        self.follow_focus();
    }

    /// The process was sent a signal: stop the run, save and leave.
    pub fn quit_on_signal(&mut self) {
        self.quit();
    }

    fn quit(&mut self) {
        self.cancel_all();
        self.keep_cells();
        self.save_visits();
        self.quit = true;
    }

    /// Esc: close what is open, else stop the run, else dismiss the warning.
    fn escape(&mut self) {
        if self.running.is_some() || !self.queue.is_empty() {
            self.cancel_all();
        } else if self.warning.is_some() {
            self.warning = None;
        }
    }

    fn typing_key(&mut self, key: KeyEvent) {
        let focus = self.focus;
        if key.code == KeyCode::Esc {
            self.mode = Mode::Normal;
            return;
        }
        // A hint without leaving the answer box: Tab, or h where no answer can hold an h.
        let numeric = matches!(
            &self.lesson().cells[focus].body,
            CellBody::Quiz(q) if matches!(
                q.kind,
                QuizKind::Integer { .. } | QuizKind::Number { .. } | QuizKind::Shape { .. }
            )
        );
        let answers = matches!(
            self.cells[focus],
            CellState::Quiz(_) | CellState::Exercise(_)
        );
        let plain = key.modifiers.difference(KeyModifiers::SHIFT).is_empty();
        if answers
            && (key.code == KeyCode::Tab || (numeric && plain && key.code == KeyCode::Char('h')))
        {
            self.hint();
            return;
        }
        let choices = match (&self.lesson().cells[focus].body, &self.cells[focus]) {
            (CellBody::Quiz(q), CellState::Quiz(_)) => match &q.kind {
                QuizKind::Single { choices, .. } => Some((choices.len(), false)),
                QuizKind::Multi { choices, .. } => Some((choices.len(), true)),
                _ => None,
            },
            _ => None,
        };
        if let Some((n, multi)) = choices {
            match key.code {
                KeyCode::Enter => self.submit(),
                KeyCode::Char(c) => {
                    let Some(i) = crate::util::parse::letter_index(&c.to_string()) else {
                        return;
                    };
                    if i >= n {
                        return;
                    }
                    if let CellState::Quiz(st) = &mut self.cells[focus] {
                        if multi {
                            if !st.picked.remove(&i) {
                                st.picked.insert(i);
                            }
                            st.feedback = None;
                        } else {
                            st.picked = [i].into();
                        }
                    }
                    if !multi {
                        self.submit();
                    }
                }
                _ => {}
            }
            return;
        }
        let is_run = matches!(self.cells[focus], CellState::Run(_));
        let input = match &mut self.cells[focus] {
            CellState::Quiz(q) => &mut q.input,
            CellState::Exercise(e) => &mut e.input,
            CellState::Run(r) => &mut r.edit,
            _ => {
                self.mode = Mode::Normal;
                return;
            }
        };
        match key.code {
            // On a run cell the box edits a parameter; elsewhere it holds an answer.
            KeyCode::Enter if is_run => self.apply_edit(),
            KeyCode::Enter => self.submit(),
            KeyCode::Char(c) if key.modifiers.contains(KeyModifiers::CONTROL) => match c {
                'a' => input.home(),
                'e' => input.end(),
                'u' => input.kill_before(),
                'k' => input.kill_after(),
                'w' => input.kill_word(),
                'h' => input.backspace(),
                _ => {}
            },
            KeyCode::Char(c) => input.insert(c),
            KeyCode::Backspace => input.backspace(),
            KeyCode::Delete => input.delete(),
            KeyCode::Left => input.left(),
            KeyCode::Right => input.right(),
            KeyCode::Home => input.home(),
            KeyCode::End => input.end(),
            _ => {}
        }
    }

    /// Enter: run a run cell, start answering a quiz or exercise, or read on past prose.
    fn enter(&mut self) {
        match &self.cells[self.focus] {
            CellState::Run(_) => self.enqueue_run(self.focus),
            CellState::Quiz(_) | CellState::Exercise(_) => self.start_typing(),
            CellState::Static => self.move_focus(1),
        }
    }

    /// `i` (or Enter on a quiz or exercise): type into the focused cell. On a run cell this
    /// edits the selected parameter, starting from its current value.
    fn start_typing(&mut self) {
        let focus = self.focus;
        match (
            &self.lessons[self.current].cells[focus].body,
            &mut self.cells[focus],
        ) {
            (_, CellState::Quiz(_) | CellState::Exercise(_)) => self.mode = Mode::Typing,
            (CellBody::Run(run), CellState::Run(st)) => {
                let Some(name) = run.adjust.get(st.selected) else {
                    self.message = Some(Message {
                        text: "this experiment has no parameters to change".into(),
                        error: false,
                    });
                    return;
                };
                let current = st.values.get(name).map(cell_state::show_value);
                // Selected: typing replaces the value, an arrow key edits it.
                st.edit.set_selected(&current.unwrap_or_default());
                st.edit_error = None;
                self.mode = Mode::Typing;
            }
            _ => {}
        }
    }
}
