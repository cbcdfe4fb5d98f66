//! The TUI's state and how events change it. Never draws: [`crate::notebook::ui`] renders an
//! `&App`.
//!
//! Keys, ticks and the worker's reports all arrive as [`Event`]s through [`App::on_event`], so
//! every state change can be driven by synthetic events in tests. Runs are not started here:
//! the app queues them and the event loop ([`crate::notebook::terminal`]) hands the next
//! [`Job`](crate::notebook::worker::Job) to the worker when it is free, one run at a time.
//!
//! This file holds the state and opening a lesson; the methods that change it are split by
//! concern: `keys` (keys to actions) calls into `focus` (focus and scrolling), `answers`
//! (quizzes and exercises) and `runs` (run cells, the queue and the worker's reports, which
//! hands a finished exercise run to `answers` to grade). Calls only go that way.

mod answers;
pub mod cell_state;
mod focus;
pub mod input;
mod keys;
mod runs;
pub mod saved;

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use crate::course::lesson::{CellBody, Lesson};
use crate::course::progress::Store;
use crate::course::quiz;
use crate::experiments::{self, Params};
use crate::notebook::event::Event;

pub use cell_state::{
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
    /// The picture shown full-screen (`v`): the cell and the index among its pictures.
    pub viewer: Option<(usize, usize)>,
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
    /// The focused cell and its top line at the last frame: when cells above it grow (quick
    /// runs finishing after the lesson opens), the view moves with it so it stays on screen.
    anchor: Option<(usize, usize)>,
    /// Keep the bottom of the focused running cell in view, so its growing outputs (a loss
    /// curve) stay visible; off once the learner scrolls or moves.
    follow_run: bool,
    queue: VecDeque<(usize, Params)>,
    running: Option<Running>,
    next_job: u64,
    /// The cells of lessons left in this session, by lesson id: going back shows them as
    /// they were (outputs, parameters, answers).
    kept: HashMap<String, Vec<CellState>>,
    /// A visit is recorded but not yet saved (see [`App::save_visits`]).
    visits_unsaved: bool,
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
            viewer: None,
            store,
            warning,
            message: None,
            colors: ColorMode::Palette256,
            quit: false,
            reveal: true,
            scrolled: false,
            anchor: None,
            follow_run: false,
            queue: VecDeque::new(),
            running: None,
            next_job: 1,
            kept: HashMap::new(),
            visits_unsaved: false,
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
        self.keep_cells();
        // Stop listening to the old lesson's run: its reports name cells of that lesson. The
        // event loop still waits for its thread to end before starting another.
        self.running = None;
        self.current = index;
        self.mode = Mode::Normal;
        self.viewer = None;
        self.scroll = 0;
        self.reveal = true;
        self.anchor = None;
        let learner = self.store.data.learner.clone();
        let lesson = &self.lessons[index];
        let lp = self
            .store
            .data
            .lesson(&lesson.id)
            .cloned()
            .unwrap_or_default();
        let kept = self
            .kept
            .remove(&lesson.id)
            .filter(|k| k.len() == lesson.cells.len());
        let saved = match &kept {
            Some(_) => None,
            None => saved::load(
                &saved::path(self.store.path(), &learner, &lesson.id),
                &lesson.id,
            ),
        };
        let fresh: Vec<CellState> = lesson
            .cells
            .iter()
            .map(|c| match &c.body {
                CellBody::Text(_) | CellBody::Code { .. } => CellState::Static,
                CellBody::Run(run) => {
                    let lesson_values = || {
                        run.experiment
                            .params_from(&run.params)
                            .map(|p| p.values)
                            .unwrap_or_default()
                    };
                    // Values and outputs from an earlier session, if the experiment still
                    // takes those values (the lesson or the tutor may have changed since).
                    let checked = |v: &std::collections::BTreeMap<String, experiments::Value>| {
                        run.experiment.params_from(v).ok().map(|p| p.values)
                    };
                    let saved_values = saved
                        .as_ref()
                        .and_then(|s| s.values.get(&c.id))
                        .and_then(checked);
                    let result = saved
                        .as_ref()
                        .and_then(|s| s.runs.get(&c.id))
                        .filter(|r| run.experiment.long && checked(&r.ran_with).is_some())
                        .map(|r| r.clone().into_result())
                        .unwrap_or_default();
                    CellState::Run(RunState {
                        values: saved_values.unwrap_or_else(lesson_values),
                        selected: 0,
                        result,
                        edit: Default::default(),
                        edit_error: None,
                    })
                }
                CellBody::Quiz(q) => {
                    let saved = lp.quizzes.get(&c.id);
                    // A graded drill is always the first draw: the grader draws the same.
                    let round = match c.graded {
                        Some(_) => 0,
                        None => saved.map_or(0, |s| s.round),
                    };
                    let seed = quiz::seed(&learner, &lesson.id, &c.id, round);
                    let mut st = QuizState::new(q, seed, round, lesson.dir());
                    st.graded = c.graded.map(|g| g.points);
                    if st.graded.is_some() {
                        st.feedback = recorded(saved);
                    } else if saved.is_some_and(|s| s.solved) {
                        st.status = TaskStatus::Solved;
                    }
                    CellState::Quiz(st)
                }
                CellBody::Exercise(_) => {
                    let mut st = ExerciseState::new();
                    let saved = lp.exercises.get(&c.id);
                    st.graded = c.graded.map(|g| g.points);
                    if st.graded.is_some() {
                        st.feedback = recorded(saved);
                    } else if saved.is_some_and(|s| s.solved) {
                        st.status = TaskStatus::Solved;
                    }
                    CellState::Exercise(st)
                }
            })
            .collect();
        self.cells = kept.unwrap_or(fresh);
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

    /// Every picture cell `cell`'s outputs show, in order (what `v` pages through).
    pub fn pictures(&self, cell: usize) -> Vec<&crate::output::Picture> {
        let outputs = match self.cells.get(cell) {
            Some(CellState::Run(r)) => &r.result.outputs,
            Some(CellState::Exercise(e)) => &e.result.outputs,
            _ => return Vec::new(),
        };
        outputs
            .iter()
            .filter_map(|(_, o)| match o {
                crate::output::Output::Pictures(p) => Some(p.iter()),
                _ => None,
            })
            .flatten()
            .collect()
    }

    /// Handles one event.
    pub fn on_event(&mut self, ev: Event) {
        match ev {
            Event::Key(k) => self.on_key(k),
            Event::Run(r) => self.on_run(r),
            Event::Resize(..) => self.reveal = true,
            // A pause in the typing: the moment to save where the learner is.
            Event::Tick => self.save_visits(),
        }
    }

    /// Records the focused cell as visited and the place to resume. Saving waits for
    /// [`App::save_visits`]: a save locks, reads, merges and syncs the progress file (several
    /// ms, tens on a busy disk), too slow to do for every j or k while the learner moves.
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
            self.visits_unsaved = true;
        }
    }

    /// Saves the visits recorded since the last save: on a [`Event::Tick`] (no key for a
    /// moment) and when quitting.
    pub fn save_visits(&mut self) {
        if self.visits_unsaved {
            self.save();
        }
    }

    /// Keeps the open lesson's cells for this session and its runs on disk, before the
    /// lesson is left (another lesson, quitting). Runs still going end as cancelled.
    fn keep_cells(&mut self) {
        let Some(lesson) = self.lessons.get(self.current) else {
            return;
        };
        if self.cells.len() != lesson.cells.len() || self.cells.is_empty() {
            return;
        }
        let id = lesson.id.clone();
        for c in &mut self.cells {
            match c {
                CellState::Run(r) => r.result.abandon(),
                CellState::Exercise(e) => e.result.abandon(),
                _ => {}
            }
        }
        self.save_runs();
        self.kept.insert(id, self.cells.clone());
    }

    /// Writes the open lesson's run cells (values, and the last finished long runs) to disk.
    /// A cell whose latest run did not finish (cancelled, failed, quit mid-run) keeps the
    /// finished run saved before it.
    fn save_runs(&mut self) {
        let lesson = &self.lessons[self.current];
        let path = saved::path(self.store.path(), &self.store.data.learner, &lesson.id);
        let mut before = saved::load(&path, &lesson.id).unwrap_or_default();
        let mut keep = saved::SavedLesson {
            lesson: lesson.id.clone(),
            ..Default::default()
        };
        for (cell, st) in lesson.cells.iter().zip(&self.cells) {
            if let (CellBody::Run(run), CellState::Run(st)) = (&cell.body, st) {
                keep.values.insert(cell.id.clone(), st.values.clone());
                if run.experiment.long {
                    let finished =
                        saved::SavedRun::of(&st.result).or_else(|| before.runs.remove(&cell.id));
                    if let Some(r) = finished {
                        keep.runs.insert(cell.id.clone(), r);
                    }
                }
            }
        }
        if let Err(e) = saved::save(&path, keep) {
            self.message = Some(Message {
                text: format!("runs not saved: {e:#}"),
                error: true,
            });
        }
    }

    fn save(&mut self) {
        // The whole of the progress goes, visits with it.
        self.visits_unsaved = false;
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
}

/// The line a graded cell shows for the answer recorded in an earlier session.
fn recorded(saved: Option<&crate::course::progress::QuizProgress>) -> Option<Feedback> {
    let last = saved?.attempts.last()?;
    Some(Feedback::Recorded(format!(
        "your recorded answer: {} (graded by your teacher; you can change it until you submit)",
        last.answer
    )))
}
