//! Answering quizzes and exercises: checking a quiz answer, turning an exercise's input into
//! a queued run (through [`crate::course::exercise`], the path `tutor exec` and `tutor check`
//! share), grading the run when it ends, hints, giving up, and new drill draws. Every counted
//! attempt is recorded in the learner's progress.

use super::{
    cell_state, App, CellState, Feedback, Message, Mode, QuizState, RunStatus, TaskStatus,
};
use crate::course::exercise::{self, InputError};
use crate::course::lesson::{CellBody, QuizKind};
use crate::course::quiz::{self, Verdict};
use crate::course::submission;

impl App {
    /// Checks the focused quiz's answer, or starts the focused exercise's run (a run cell's
    /// typed parameter is applied by [`App::apply_edit`] instead).
    pub(super) fn submit(&mut self) {
        let focus = self.focus;
        let lesson = &self.lessons[self.current];
        let (lid, cid) = (lesson.id.clone(), lesson.cells[focus].id.clone());
        let graded = lesson.cells[focus].graded.is_some();
        if graded {
            if let Some(why) = submission::answers_final(&self.store.data, lesson.dir()) {
                self.message = Some(Message {
                    text: why,
                    error: true,
                });
                self.mode = Mode::Normal;
                return;
            }
        }
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
                    Ok(d) => quiz::check_cell(q, graded, d, lesson.dir(), st.seed, &text),
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
                            "  (Tab: a hint)"
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
                    Verdict::Recorded => {
                        st.feedback = Some(Feedback::Recorded(format!(
                            "recorded: {text}. Graded by your teacher; you can change it until \
                             you submit."
                        )));
                        self.mode = Mode::Normal;
                        Some(false)
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
                    Err(cell_state::EMPTY_INPUT.to_string())
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
            _ => self.mode = Mode::Normal,
        }
    }

    /// Shows the next hint of the focused quiz or exercise.
    pub(super) fn hint(&mut self) {
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
    pub(super) fn give_up(&mut self) {
        let focus = self.focus;
        let lesson = &self.lessons[self.current];
        if lesson.cells[focus].graded.is_some() {
            self.message = Some(Message {
                text: "this cell is graded: its answer is with your teacher".into(),
                error: false,
            });
            return;
        }
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
    pub(super) fn new_drill(&mut self) {
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
        if lesson.cells[focus].graded.is_some() {
            self.message = Some(Message {
                text: "a graded drill keeps its numbers: your teacher grades this draw".into(),
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

    /// Checks a finished exercise run against its goals and records the attempt.
    pub(super) fn exercise_ended(&mut self, cell: usize) {
        let lesson = &self.lessons[self.current];
        let (lid, cid) = (lesson.id.clone(), lesson.cells[cell].id.clone());
        let (CellBody::Exercise(ex), CellState::Exercise(st)) =
            (&lesson.cells[cell].body, &mut self.cells[cell])
        else {
            return;
        };
        let answer = st.submitted.clone().unwrap_or_default();
        match &st.result.status {
            RunStatus::Done { .. } if st.graded.is_some() => {
                st.goals_met = None;
                st.feedback = Some(Feedback::Recorded(format!(
                    "recorded: {answer}. Graded by your teacher; you can change it until you \
                     submit."
                )));
                self.store.data.record(&lid, &cid, true, &answer, false);
                self.save();
            }
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
