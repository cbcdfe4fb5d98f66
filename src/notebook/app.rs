//! The TUI's state and how events change it. Never draws: [`crate::notebook::ui`] renders an `&App`.
//!
//! Keys, ticks and the worker's reports all arrive as [`Event`]s through [`App::on_event`], so
//! every state change can be driven by synthetic events in tests. Runs are not started here:
//! the app queues them and the event loop ([`crate::notebook::terminal`]) hands the next [`Job`] to the worker
//! when it is free, one run at a time.

pub mod cells;
pub mod input;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use crate::course::exercise::{self, InputError};
use crate::course::lesson::{CellBody, Lesson, QuizKind};
use crate::course::progress::Store;
use crate::course::quiz::{self, Verdict};
use crate::experiments::{Params, Value};
use crate::notebook::event::{Event, RunEvent, RunEventKind};
use crate::notebook::worker::Job;

pub use cells::{
    CellState, ExerciseState, Feedback, QuizState, RunResult, RunState, RunStatus, TaskStatus,
};

/// How pictures are coloured: 24-bit where the terminal says it can, else xterm's 256 colours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColorMode {
    TrueColor,
    Palette256,
}

impl ColorMode {
    /// What `COLORTERM` says the terminal can do.
    pub fn detect() -> Self {
        match std::env::var("COLORTERM") {
            Ok(v) if v.eq_ignore_ascii_case("truecolor") || v.eq_ignore_ascii_case("24bit") => {
                ColorMode::TrueColor
            }
            _ => ColorMode::Palette256,
        }
    }
}

/// Whether keys go to an answer box or are shortcuts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Normal,
    /// Keys type into the focused quiz or exercise (Esc leaves).
    Typing,
}

/// A one-line note in the status bar until the next key.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub text: String,
    pub error: bool,
}

/// Where each cell sits in the scrolled notebook, in lines; computed by the renderer for the
/// current width and handed back through [`App::settle`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NotebookLayout {
    pub tops: Vec<usize>,
    pub heights: Vec<usize>,
    pub total: usize,
}

/// The run the worker is doing for us.
#[derive(Debug, Clone)]
struct Running {
    job: u64,
    cell: usize,
    cancel: Arc<AtomicBool>,
}

/// Everything the screen shows.
#[derive(Debug)]
pub struct App {
    pub lessons: Vec<Lesson>,
    /// Index of the open lesson.
    pub current: usize,
    /// One per cell of the open lesson.
    pub cells: Vec<CellState>,
    pub focus: usize,
    /// First notebook line shown.
    pub scroll: usize,
    /// Lines of notebook on screen at the last frame (for paging).
    pub viewport: usize,
    pub mode: Mode,
    pub help: bool,
    pub store: Store,
    /// A warning shown until dismissed (an unreadable progress file, say).
    pub warning: Option<String>,
    pub message: Option<Message>,
    pub colors: ColorMode,
    pub quit: bool,
    /// Bring the focused cell into view at the next frame.
    reveal: bool,
    /// The learner scrolled: refocus a visible cell at the next frame if needed.
    scrolled: bool,
    /// Keep the bottom of the focused running cell in view, so its growing outputs (a loss
    /// curve) stay visible; off once the learner scrolls or moves.
    follow_run: bool,
    queue: VecDeque<(usize, Params)>,
    running: Option<Running>,
    next_job: u64,
}

impl App {
    /// Opens lesson `start` (clamped), resuming at the learner's last cell. `lessons` must not
    /// be empty.
    pub fn new(lessons: Vec<Lesson>, start: usize, store: Store, warning: Option<String>) -> Self {
        let mut app = App {
            current: start.min(lessons.len().saturating_sub(1)),
            lessons,
            cells: Vec::new(),
            focus: 0,
            scroll: 0,
            viewport: 20,
            mode: Mode::Normal,
            help: false,
            store,
            warning,
            message: None,
            colors: ColorMode::Palette256,
            quit: false,
            reveal: true,
            scrolled: false,
            follow_run: false,
            queue: VecDeque::new(),
            running: None,
            next_job: 1,
        };
        app.open(app.current);
        app
    }

    /// The open lesson.
    pub fn lesson(&self) -> &Lesson {
        &self.lessons[self.current]
    }

    /// Opens lesson `index`: fresh cell states, focus at the last cell visited, and the quick
    /// experiments queued so their outputs are there when the learner reaches them.
    fn open(&mut self, index: usize) {
        self.cancel_all();
        // Stop listening to the old lesson's run: its reports name cells of that lesson. The
        // event loop still waits for its thread to end before starting another.
        self.running = None;
        self.current = index;
        self.mode = Mode::Normal;
        self.scroll = 0;
        self.reveal = true;
        let learner = self.store.data.learner.clone();
        let lesson = &self.lessons[index];
        let lp = self
            .store
            .data
            .lesson(&lesson.id)
            .cloned()
            .unwrap_or_default();
        self.cells = lesson
            .cells
            .iter()
            .map(|c| match &c.body {
                CellBody::Text(_) | CellBody::Code { .. } => CellState::Static,
                CellBody::Run(run) => {
                    let values = run
                        .experiment
                        .params_from(&run.params)
                        .map(|p| p.values)
                        .unwrap_or_default();
                    CellState::Run(RunState {
                        values,
                        selected: 0,
                        result: RunResult::default(),
                        edit: Default::default(),
                        edit_error: None,
                    })
                }
                CellBody::Quiz(q) => {
                    let saved = lp.quizzes.get(&c.id);
                    let round = saved.map_or(0, |s| s.round);
                    let seed = quiz::seed(&learner, &lesson.id, &c.id, round);
                    let mut st = QuizState::new(q, seed, round, lesson.dir());
                    if saved.is_some_and(|s| s.solved) {
                        st.status = TaskStatus::Solved;
                    }
                    CellState::Quiz(st)
                }
                CellBody::Exercise(_) => {
                    let mut st = ExerciseState::new();
                    if lp.exercises.get(&c.id).is_some_and(|s| s.solved) {
                        st.status = TaskStatus::Solved;
                    }
                    CellState::Exercise(st)
                }
            })
            .collect();
        self.focus = lp
            .last_cell
            .as_deref()
            .and_then(|id| lesson.cell_index(id))
            .unwrap_or(0);
        let quick: Vec<usize> = lesson
            .cells
            .iter()
            .enumerate()
            .filter(|(_, c)| matches!(&c.body, CellBody::Run(r) if !r.experiment.long))
            .map(|(i, _)| i)
            .collect();
        for i in quick {
            self.enqueue_run(i);
        }
        self.visit();
    }

    /// Handles one event.
    pub fn on_event(&mut self, ev: Event) {
        match ev {
            Event::Key(k) => self.on_key(k),
            Event::Run(r) => self.on_run(r),
            Event::Resize(..) => self.reveal = true,
            Event::Tick => {}
        }
    }

    // ----- keys -----

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

    /// After anything but a scroll, keep the focused cell in view: an answer, a hint or a
    /// run's result can make it grow past the bottom of the screen.
    fn follow_focus(&mut self) {
        if !self.scrolled {
            self.reveal = true;
        }
    }

    fn quit(&mut self) {
        self.cancel_all();
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
            KeyCode::Enter => self.submit(),
            KeyCode::Char(c) if !key.modifiers.contains(KeyModifiers::CONTROL) => input.insert(c),
            KeyCode::Backspace => input.backspace(),
            KeyCode::Delete => input.delete(),
            KeyCode::Left => input.left(),
            KeyCode::Right => input.right(),
            KeyCode::Home => input.home(),
            KeyCode::End => input.end(),
            _ => {}
        }
    }

    // ----- focus and scrolling -----

    fn move_focus(&mut self, by: isize) {
        let n = self.cells.len();
        if n == 0 {
            return;
        }
        let to = (self.focus as isize + by).clamp(0, n as isize - 1) as usize;
        self.set_focus(to);
    }

    /// Focuses cell `i`, brings it into view and records the visit.
    pub fn set_focus(&mut self, i: usize) {
        let to = i.min(self.cells.len().saturating_sub(1));
        if to != self.focus {
            self.follow_run = false;
        }
        self.focus = to;
        self.mode = Mode::Normal;
        self.reveal = true;
        self.visit();
    }

    fn scroll_by(&mut self, by: isize) {
        self.scroll = self.scroll.saturating_add_signed(by);
        self.scrolled = true;
        self.follow_run = false;
    }

    /// Applies the layout of the coming frame: clamps the scroll, brings the focused cell into
    /// view after a focus move, and after a scroll moves the focus to a visible cell if it left
    /// the screen.
    pub fn settle(&mut self, layout: &NotebookLayout, viewport: usize) {
        self.viewport = viewport.max(1);
        let max_scroll = layout.total.saturating_sub(self.viewport);
        if self.reveal {
            if let (Some(&top), Some(&h)) =
                (layout.tops.get(self.focus), layout.heights.get(self.focus))
            {
                if top < self.scroll {
                    self.scroll = top;
                } else if top + h > self.scroll + self.viewport {
                    // Bottom into view, but never push the top out.
                    self.scroll = (top + h).saturating_sub(self.viewport).min(top);
                }
            }
        }
        let running_focus = self.running.as_ref().is_some_and(|r| r.cell == self.focus);
        if self.follow_run && running_focus && !self.scrolled {
            if let (Some(&top), Some(&h)) =
                (layout.tops.get(self.focus), layout.heights.get(self.focus))
            {
                // The newest output grows at the bottom: keep it on screen.
                self.scroll = self.scroll.max((top + h).saturating_sub(self.viewport));
            }
        }
        self.scroll = self.scroll.min(max_scroll);
        if self.scrolled && !self.reveal {
            let (s, e) = (self.scroll, self.scroll + self.viewport);
            let visible = |i: usize| {
                let (t, h) = (layout.tops[i], layout.heights[i]);
                t < e && t + h > s
            };
            if self.focus < layout.tops.len() && !visible(self.focus) {
                let first = (0..layout.tops.len()).find(|&i| visible(i) && layout.tops[i] >= s);
                let any = (0..layout.tops.len()).find(|&i| visible(i));
                if let Some(i) = first.or(any) {
                    self.focus = i;
                    self.mode = Mode::Normal;
                    self.visit();
                }
            }
        }
        self.reveal = false;
        self.scrolled = false;
    }

    /// Records the focused cell as visited and the place to resume; saves when that changed.
    fn visit(&mut self) {
        let Some(cell) = self.lessons[self.current].cells.get(self.focus) else {
            return;
        };
        let (lid, cid) = (self.lessons[self.current].id.clone(), cell.id.clone());
        let lp = self.store.data.lesson(&lid);
        let unchanged = lp.is_some_and(|l| {
            l.last_cell.as_deref() == Some(cid.as_str()) && l.visited.contains(&cid)
        });
        if !unchanged {
            self.store.data.visit(&lid, &cid);
            self.save();
        }
    }

    fn save(&mut self) {
        if let Err(e) = self.store.save() {
            self.message = Some(Message {
                text: format!("progress not saved: {e:#}"),
                error: true,
            });
        }
    }

    fn switch_lesson(&mut self, by: isize) {
        let n = self.lessons.len() as isize;
        let to = self.current as isize + by;
        if to < 0 || to >= n {
            self.message = Some(Message {
                text: if to < 0 {
                    "this is the first lesson".into()
                } else {
                    "this is the last lesson".into()
                },
                error: false,
            });
            return;
        }
        self.open(to as usize);
    }

    // ----- answering -----

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
                let current = st.values.get(name).map(cells::show_value);
                st.edit.set(&current.unwrap_or_default());
                st.edit_error = None;
                self.mode = Mode::Typing;
            }
            _ => {}
        }
    }

    /// Applies the value typed for the focused run cell's selected parameter.
    fn apply_edit(&mut self) {
        let focus = self.focus;
        let CellBody::Run(run) = &self.lessons[self.current].cells[focus].body else {
            return;
        };
        let CellState::Run(st) = &mut self.cells[focus] else {
            return;
        };
        let Some((name, spec)) = run
            .adjust
            .get(st.selected)
            .and_then(|n| Some((n.clone(), run.experiment.param(n)?)))
        else {
            return;
        };
        match cells::typed_value(spec, st.edit.text()) {
            Ok(v) => {
                st.values.insert(name, v);
                st.edit_error = None;
                self.mode = Mode::Normal;
                if !run.experiment.long {
                    self.enqueue_run(focus);
                }
            }
            Err(e) => st.edit_error = Some(e),
        }
    }

    /// Checks the focused quiz's answer, or starts the focused exercise's run.
    fn submit(&mut self) {
        let focus = self.focus;
        let lesson = &self.lessons[self.current];
        let (lid, cid) = (lesson.id.clone(), lesson.cells[focus].id.clone());
        match (&lesson.cells[focus].body, &mut self.cells[focus]) {
            (CellBody::Quiz(q), CellState::Quiz(st)) => {
                let text = match &q.kind {
                    QuizKind::Single { .. } | QuizKind::Multi { .. } => st
                        .picked
                        .iter()
                        .map(|&i| ((b'a' + i as u8) as char).to_string())
                        .collect::<Vec<_>>()
                        .join(" "),
                    _ => st.input.text().to_string(),
                };
                let verdict = match &st.draw {
                    Ok(d) => quiz::check(q, d, lesson.dir(), st.seed, &text),
                    Err(e) => Verdict::Invalid(format!("this question is broken: {e}")),
                };
                let counted = st.status != TaskStatus::Revealed;
                let record = match verdict {
                    Verdict::Correct => {
                        st.feedback = Some(Feedback::Correct(if counted {
                            "Correct!".into()
                        } else {
                            "Correct (not counted: the answer was shown).".into()
                        }));
                        if counted {
                            st.status = TaskStatus::Solved;
                        }
                        self.mode = Mode::Normal;
                        Some(true)
                    }
                    Verdict::Wrong(m) => {
                        st.wrong += 1;
                        let more = if st.hints < q.hints.len() {
                            "  (Esc, then h: a hint)"
                        } else {
                            ""
                        };
                        st.feedback = Some(Feedback::Wrong(format!("{m}{more}")));
                        Some(false)
                    }
                    Verdict::Invalid(m) => {
                        st.feedback = Some(Feedback::Invalid(m));
                        None
                    }
                };
                if let (Some(correct), true) = (record, counted) {
                    self.store.data.record(&lid, &cid, false, &text, correct);
                    self.save();
                }
            }
            (CellBody::Exercise(ex), CellState::Exercise(st)) => {
                let text = st.input.text().to_string();
                let resolved = if text.trim().is_empty() {
                    Err(cells::EMPTY_INPUT.to_string())
                } else {
                    exercise::params(ex, text.trim()).map_err(|e| match e {
                        InputError::NoParameter(_) => format!("internal: {e}"),
                        e => e.to_string(),
                    })
                };
                match resolved {
                    Err(m) => st.feedback = Some(Feedback::Invalid(m)),
                    Ok(params) => {
                        st.feedback = None;
                        st.submitted = Some(text);
                        st.result.queue();
                        self.queue.retain(|(c, _)| *c != focus);
                        self.queue.push_back((focus, params));
                    }
                }
            }
            (CellBody::Run(_), CellState::Run(_)) => self.apply_edit(),
            _ => self.mode = Mode::Normal,
        }
    }

    /// Shows the next hint of the focused quiz or exercise.
    fn hint(&mut self) {
        let total = match &self.lesson().cells[self.focus].body {
            CellBody::Quiz(q) => q.hints.len(),
            CellBody::Exercise(e) => e.hints.len(),
            _ => return,
        };
        let shown = match &mut self.cells[self.focus] {
            CellState::Quiz(q) => &mut q.hints,
            CellState::Exercise(e) => &mut e.hints,
            _ => return,
        };
        if *shown < total {
            *shown += 1;
        } else {
            self.message = Some(Message {
                text: if total == 0 {
                    "this one has no hints".into()
                } else {
                    "no more hints (s shows the solution)".into()
                },
                error: false,
            });
        }
    }

    /// Gives up on the focused quiz or exercise: shows the answer; it does not count as solved.
    fn give_up(&mut self) {
        let focus = self.focus;
        let lesson = &self.lessons[self.current];
        let (lid, cid) = (lesson.id.clone(), lesson.cells[focus].id.clone());
        let exercise = match (&lesson.cells[focus].body, &mut self.cells[focus]) {
            (CellBody::Quiz(q), CellState::Quiz(st)) if st.status == TaskStatus::Open => {
                st.answer = Some(match &st.draw {
                    Ok(d) => quiz::answer_text(q, d, lesson.dir(), st.seed),
                    Err(e) => format!("(cannot compute: {e})"),
                });
                st.status = TaskStatus::Revealed;
                false
            }
            (CellBody::Exercise(_), CellState::Exercise(st)) if st.status == TaskStatus::Open => {
                st.status = TaskStatus::Revealed;
                true
            }
            _ => return,
        };
        self.mode = Mode::Normal;
        self.store
            .data
            .record(&lid, &cid, exercise, "(solution shown)", false);
        self.save();
    }

    /// Draws a new question for the focused drill (the round is saved, so it stays new).
    fn new_drill(&mut self) {
        let focus = self.focus;
        let learner = self.store.data.learner.clone();
        let lesson = &self.lessons[self.current];
        let (CellBody::Quiz(q), CellState::Quiz(st)) =
            (&lesson.cells[focus].body, &self.cells[focus])
        else {
            return;
        };
        if q.vars.is_empty() {
            self.message = Some(Message {
                text: "N draws new numbers for drills; this question has none".into(),
                error: false,
            });
            return;
        }
        let round = st.round + 1;
        let (lid, cid) = (lesson.id.clone(), lesson.cells[focus].id.clone());
        let seed = quiz::seed(&learner, &lid, &cid, round);
        self.cells[focus] = CellState::Quiz(QuizState::new(q, seed, round, lesson.dir()));
        self.store
            .data
            .lesson_mut(&lid)
            .quizzes
            .entry(cid)
            .or_default()
            .round = round;
        self.mode = Mode::Normal;
        self.save();
    }

    // ----- runs -----

    fn select_param(&mut self, forward: bool) {
        let CellBody::Run(run) = &self.lessons[self.current].cells[self.focus].body else {
            return;
        };
        let n = run.adjust.len();
        if let (CellState::Run(st), true) = (&mut self.cells[self.focus], n > 0) {
            st.selected = if forward {
                (st.selected + 1) % n
            } else {
                (st.selected + n - 1) % n
            };
        }
    }

    /// `+`/`-` on the selected parameter; quick experiments rerun at once.
    fn adjust(&mut self, up: bool) {
        let focus = self.focus;
        let CellBody::Run(run) = &self.lessons[self.current].cells[focus].body else {
            return;
        };
        let CellState::Run(st) = &mut self.cells[focus] else {
            return;
        };
        let Some(name) = run.adjust.get(st.selected) else {
            return;
        };
        let Some(spec) = run.experiment.param(name) else {
            return;
        };
        let Some(v) = st.values.get(name) else {
            return;
        };
        match cells::step(spec, v, up) {
            Some(next) => {
                st.values.insert(name.clone(), next);
                if !run.experiment.long {
                    self.enqueue_run(focus);
                }
            }
            None => {
                self.message = Some(Message {
                    text: match spec.kind {
                        crate::experiments::ParamKind::Text
                        | crate::experiments::ParamKind::Matrix { .. } => {
                            format!("`{name}` cannot be stepped with +/-; i types a value")
                        }
                        _ => format!("`{name}` is at its limit"),
                    },
                    error: false,
                })
            }
        }
    }

    /// Queues a run of run cell `cell` with its current values (replacing a queued one).
    fn enqueue_run(&mut self, cell: usize) {
        let CellBody::Run(run) = &self.lessons[self.current].cells[cell].body else {
            return;
        };
        let CellState::Run(st) = &mut self.cells[cell] else {
            return;
        };
        if self.running.as_ref().is_some_and(|r| r.cell == cell) && run.experiment.long {
            self.message = Some(Message {
                text: "already running (Esc stops it)".into(),
                error: false,
            });
            return;
        }
        let given: std::collections::BTreeMap<String, Value> = st.values.clone();
        match run.experiment.params_from(&given) {
            Ok(params) => {
                self.queue.retain(|(c, _)| *c != cell);
                self.queue.push_back((cell, params));
                st.result.queue();
            }
            Err(e) => st.result.status = RunStatus::Failed(e.to_string()),
        }
    }

    /// `r`: every run cell, top to bottom.
    fn run_all(&mut self) {
        for i in 0..self.cells.len() {
            self.enqueue_run(i);
        }
    }

    /// Asks the running experiment to stop and forgets the queued ones.
    fn cancel_all(&mut self) {
        for (cell, _) in std::mem::take(&mut self.queue) {
            if let Some(r) = self.result_mut(cell) {
                r.unqueue();
            }
        }
        if let Some(r) = &self.running {
            r.cancel.store(true, Ordering::Relaxed);
            let cell = r.cell;
            if let Some(res) = self.result_mut(cell) {
                res.status = RunStatus::Cancelling;
            }
        }
    }

    fn result_mut(&mut self, cell: usize) -> Option<&mut RunResult> {
        match self.cells.get_mut(cell)? {
            CellState::Run(r) => Some(&mut r.result),
            CellState::Exercise(e) => Some(&mut e.result),
            _ => None,
        }
    }

    /// The status of the run in progress, if any (the status bar repeats its progress, which
    /// a tall cell may have scrolled out of view).
    pub fn run_status(&self) -> Option<&RunStatus> {
        let cell = self.running.as_ref()?.cell;
        match self.cells.get(cell)? {
            CellState::Run(r) => Some(&r.result.status),
            CellState::Exercise(e) => Some(&e.result.status),
            _ => None,
        }
    }

    /// True while a run is going or waiting.
    pub fn busy(&self) -> bool {
        self.running.is_some() || !self.queue.is_empty()
    }

    /// The next run to hand to the worker, if none is running. The caller must start it.
    pub fn next_job(&mut self) -> Option<Job> {
        if self.running.is_some() {
            return None;
        }
        let (cell, params) = self.queue.pop_front()?;
        let experiment = match &self.lessons[self.current].cells[cell].body {
            CellBody::Run(r) => r.experiment,
            CellBody::Exercise(e) => e.experiment,
            _ => return None,
        };
        let id = self.next_job;
        self.next_job += 1;
        let cancel = Arc::new(AtomicBool::new(false));
        self.running = Some(Running {
            job: id,
            cell,
            cancel: cancel.clone(),
        });
        if let Some(r) = self.result_mut(cell) {
            r.start();
        }
        self.follow_run = cell == self.focus;
        Some(Job {
            id,
            experiment,
            params,
            cancel,
        })
    }

    /// The worker could not start the job (no thread): report it in the cell.
    pub fn job_failed_to_start(&mut self, job: u64, why: String) {
        self.on_run(RunEvent {
            job,
            kind: RunEventKind::Failed(format!("could not start the run: {why}")),
        });
    }

    fn on_run(&mut self, ev: RunEvent) {
        let Some(running) = self.running.clone().filter(|r| r.job == ev.job) else {
            // A run the learner moved away from (another lesson, a cancelled chain).
            return;
        };
        let cell = running.cell;
        let cancelling = running.cancel.load(Ordering::Relaxed);
        let Some(res) = self.result_mut(cell) else {
            return;
        };
        let ended = match ev.kind {
            RunEventKind::Output { key, output } => {
                res.show(key, output);
                false
            }
            RunEventKind::Metric { name, value } => {
                res.metrics.insert(name, value);
                false
            }
            RunEventKind::Progress {
                done,
                total,
                what,
                elapsed,
            } => {
                if !cancelling {
                    res.status = RunStatus::Running {
                        done,
                        total,
                        what,
                        elapsed,
                    };
                }
                false
            }
            RunEventKind::Finished { elapsed } => {
                res.end(RunStatus::Done { elapsed });
                true
            }
            RunEventKind::Cancelled => {
                res.end(RunStatus::Cancelled);
                true
            }
            RunEventKind::Failed(m) => {
                res.end(RunStatus::Failed(m));
                true
            }
        };
        if ended {
            self.running = None;
            self.exercise_ended(cell);
            if cell == self.focus {
                self.follow_focus();
            }
        }
    }

    /// Checks a finished exercise run against its goals and records the attempt.
    fn exercise_ended(&mut self, cell: usize) {
        let lesson = &self.lessons[self.current];
        let (lid, cid) = (lesson.id.clone(), lesson.cells[cell].id.clone());
        let (CellBody::Exercise(ex), CellState::Exercise(st)) =
            (&lesson.cells[cell].body, &mut self.cells[cell])
        else {
            return;
        };
        let answer = st.submitted.clone().unwrap_or_default();
        match &st.result.status {
            RunStatus::Done { .. } => {
                let checks = exercise::check_goals(&ex.goals, &st.result.metrics);
                let all = exercise::all_met(&checks);
                st.goals_met = Some(checks.iter().map(|c| c.met).collect());
                let counted = st.status != TaskStatus::Revealed;
                st.feedback = Some(if all {
                    Feedback::Correct(if counted {
                        "Every goal is met: solved!".into()
                    } else {
                        "Every goal is met (not counted: the solution was shown).".into()
                    })
                } else {
                    Feedback::Wrong("Not every goal is met yet.".into())
                });
                if all && counted {
                    st.status = TaskStatus::Solved;
                    if self.focus == cell {
                        self.mode = Mode::Normal;
                    }
                }
                if counted {
                    self.store.data.record(&lid, &cid, true, &answer, all);
                    self.save();
                }
            }
            RunStatus::Failed(m) => {
                // A mistyped input the experiment rejects is not an attempt: say why, inline.
                st.feedback = Some(Feedback::Invalid(m.clone()));
            }
            _ => {}
        }
    }
}
