//! The notebook TUI driven by synthetic keys and worker events, with no real terminal:
//! screens rendered into a `TestBackend` (insta snapshots at 120x40 and 60x20) and state
//! transitions checked directly.

use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use tempfile::TempDir;

use tutor::course::lesson::{self, Lesson};
use tutor::course::progress::Store;
use tutor::course::quiz;
use tutor::notebook::app::{App, CellState, ColorMode, Feedback, Mode, RunStatus, TaskStatus};
use tutor::notebook::event::{Event, RunEvent, RunEventKind};
use tutor::notebook::terminal as tui;
use tutor::notebook::worker;

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/tui-lesson.toml"
);

// Cell indices in the fixture.
const RUN: usize = 2;
const SINGLE: usize = 3;
const MULTI: usize = 4;
const INT: usize = 5;
const SHAPE: usize = 7;
const MATCH: usize = 8;
const DRILL: usize = 9;
const EXERCISE: usize = 10;

fn fixture() -> Lesson {
    lesson::load(Path::new(FIXTURE)).unwrap_or_else(|e| panic!("{e}"))
}

fn two_lessons() -> Vec<Lesson> {
    let a = fixture();
    let mut b = a.clone();
    b.id = "lesson-3".into();
    b.number = 3;
    b.title = "Pooling".into();
    vec![a, b]
}

fn app_with(lessons: Vec<Lesson>, warning: Option<String>) -> (App, TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = Store::open(dir.path(), "ana").unwrap();
    let mut app = App::new(lessons, 0, store, warning);
    app.colors = ColorMode::TrueColor;
    (app, dir)
}

fn app() -> (App, TempDir) {
    app_with(vec![fixture()], None)
}

/// Runs every queued job to completion on this thread, feeding its events to the app as the
/// event loop would.
fn pump(app: &mut App) {
    while let Some(job) = app.next_job() {
        let (tx, rx) = mpsc::channel();
        worker::run_job(&job, &tx);
        for ev in rx.try_iter() {
            app.on_event(ev);
        }
    }
}

fn press(app: &mut App, code: KeyCode) {
    app.on_event(Event::Key(KeyEvent::new(code, KeyModifiers::NONE)));
}

fn chars(app: &mut App, text: &str) {
    for c in text.chars() {
        press(app, KeyCode::Char(c));
    }
}

fn focus(app: &mut App, cell: usize) {
    press(app, KeyCode::Char('g'));
    for _ in 0..cell {
        press(app, KeyCode::Char('j'));
    }
    assert_eq!(app.focus, cell);
}

/// Loads the lesson, runs the fixture's run cell with Enter and returns the job handed to the
/// worker (the test plays the worker's part).
fn start_run(app: &mut App) -> worker::Job {
    pump(app);
    focus(app, RUN);
    press(app, KeyCode::Enter);
    app.next_job().expect("a job")
}

fn screen(app: &mut App, w: u16, h: u16) -> String {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    tui::draw(&mut t, app).unwrap();
    let buf = t.backend().buffer();
    let mut out = String::new();
    for y in 0..h {
        let row: String = (0..w).map(|x| buf[(x, y)].symbol().to_string()).collect();
        out.push_str(row.trim_end());
        out.push('\n');
    }
    out
}

fn quiz_state(app: &App, cell: usize) -> &tutor::notebook::app::QuizState {
    match &app.cells[cell] {
        CellState::Quiz(q) => q,
        other => panic!("cell {cell} is {other:?}"),
    }
}

fn reopen(dir: &TempDir) -> Store {
    Store::open(dir.path(), "ana").unwrap().0
}

// ----- screens -----

#[test]
fn notebook_120x40() {
    let (mut app, _d) = app();
    pump(&mut app);
    let s = screen(&mut app, 120, 40);
    assert!(s.contains("Lesson 2 · How big is a conv layer?"), "{s}");
    insta::assert_snapshot!("notebook_120x40", s);
}

#[test]
fn notebook_60x20_shows_the_run_cell() {
    let (mut app, _d) = app();
    pump(&mut app);
    focus(&mut app, RUN);
    let s = screen(&mut app, 60, 20);
    assert!(s.contains("conv.explorer"), "{s}");
    insta::assert_snapshot!("notebook_60x20_run", s);
}

#[test]
fn numeric_quiz_wrong_then_right() {
    let (mut app, dir) = app();
    pump(&mut app);
    focus(&mut app, INT);
    press(&mut app, KeyCode::Enter);
    assert_eq!(app.mode, Mode::Typing);
    chars(&mut app, "27");
    press(&mut app, KeyCode::Enter);
    let s = screen(&mut app, 120, 40);
    assert!(s.contains("✗ Too small."), "{s}");
    insta::assert_snapshot!("quiz_wrong", s);
    assert_eq!(app.mode, Mode::Typing, "a wrong answer keeps the box open");
    press(&mut app, KeyCode::Backspace);
    chars(&mut app, "8");
    press(&mut app, KeyCode::Enter);
    let s = screen(&mut app, 120, 40);
    assert!(s.contains("✓ Correct!"), "{s}");
    assert!(s.contains("(32 - 5)/1 + 1 = 28."), "explanation shown: {s}");
    insta::assert_snapshot!("quiz_right", s);
    assert_eq!(app.mode, Mode::Normal);
    let q = &reopen(&dir).data.lessons["lesson-2"].quizzes["q-int"];
    let answers: Vec<(&str, bool)> = q
        .attempts
        .iter()
        .map(|a| (a.answer.as_str(), a.correct))
        .collect();
    assert_eq!(answers, [("27", false), ("28", true)]);
    assert!(q.solved);
}

#[test]
fn hint_revealed_one_at_a_time() {
    let (mut app, _d) = app();
    pump(&mut app);
    focus(&mut app, INT);
    press(&mut app, KeyCode::Char('h'));
    let s = screen(&mut app, 120, 40);
    assert!(s.contains("Hint 1: o = (i - k)/s + 1"), "{s}");
    assert!(!s.contains("Hint 2"), "{s}");
    insta::assert_snapshot!("quiz_hint", s);
    press(&mut app, KeyCode::Char('h'));
    press(&mut app, KeyCode::Char('h'));
    assert_eq!(quiz_state(&app, INT).hints, 2);
    assert!(app.message.as_ref().unwrap().text.contains("no more hints"));
}

/// Issue 12, item 5: `v` shows a cell's pictures one at a time over the whole screen, at the
/// largest whole-number scale, with the whole caption.
#[test]
fn pictures_open_full_screen_and_page() {
    use tutor::output::{Output, Picture};
    let (mut app, _d) = app();
    let job = start_run(&mut app);
    let ev = |kind| Event::Run(RunEvent { job: job.id, kind });
    let pic = |caption: &str, w, h| Picture {
        caption: caption.into(),
        image: image::RgbImage::from_pixel(w, h, image::Rgb([200, 10, 10])),
    };
    app.on_event(ev(RunEventKind::Output {
        key: "where".into(),
        output: Output::Pictures(vec![
            pic(
                "camera: the patch at row 70, column 97, marked in red",
                256,
                256,
            ),
            pic("the 3x3 patch, enlarged", 3, 3),
        ]),
    }));
    app.on_event(ev(RunEventKind::Finished {
        elapsed: Duration::from_secs(1),
    }));
    let s = screen(&mut app, 120, 40);
    assert!(s.contains("v: pictures full-screen"), "{s}");
    press(&mut app, KeyCode::Char('v'));
    let s = screen(&mut app, 120, 40);
    assert!(
        s.contains("Picture 1 of 2 · camera: the patch at row 70, column 97, marked in red"),
        "{s}"
    );
    // 39 rows under the title, 3 of them text: 72 pixel rows, so 256 pixels shrink 4 times.
    assert!(s.contains("256x256 pixels, shrunk 4x"), "{s}");
    press(&mut app, KeyCode::Right);
    let s = screen(&mut app, 120, 40);
    assert!(
        s.contains("Picture 2 of 2") && s.contains("enlarged 24x"),
        "{s}"
    );
    // The 3x3 patch fills the height: 36 rows of 72 half blocks.
    assert_eq!(s.matches('▀').count(), 72 * 36, "{s}");
    let _ = screen(&mut app, 60, 20);
    press(&mut app, KeyCode::Esc);
    assert_eq!(app.viewer, None);
    assert!(
        screen(&mut app, 120, 40).contains("Parameters:"),
        "back in the notebook"
    );
}

/// Issue 12, item 14: a hint while typing an answer, without leaving the answer box.
#[test]
fn hints_come_from_the_answer_box() {
    let (mut app, _d) = app();
    pump(&mut app);
    focus(&mut app, INT);
    chars(&mut app, "2");
    assert_eq!(app.mode, Mode::Typing);
    let s = screen(&mut app, 120, 40);
    assert!(
        s.contains("h or Tab: hint (2 left)"),
        "the key is named: {s}"
    );
    press(&mut app, KeyCode::Char('h'));
    assert_eq!(quiz_state(&app, INT).hints, 1);
    assert_eq!(app.mode, Mode::Typing, "still answering");
    assert_eq!(quiz_state(&app, INT).input.text(), "2", "h is not typed");
    press(&mut app, KeyCode::Tab);
    assert_eq!(quiz_state(&app, INT).hints, 2);
    // The exercise's box takes Tab too (its answers may hold an h).
    press(&mut app, KeyCode::Esc);
    focus(&mut app, EXERCISE);
    press(&mut app, KeyCode::Enter);
    chars(&mut app, "h");
    press(&mut app, KeyCode::Tab);
    let CellState::Exercise(e) = &app.cells[EXERCISE] else {
        panic!()
    };
    assert_eq!((e.input.text(), e.hints), ("h", 1));
}

/// Issue 12, item 9: the title bar keeps the solved count at 80 and 60 columns.
#[test]
fn the_title_bar_keeps_the_solved_count_when_narrow() {
    let (mut app, _d) = app();
    let s = app.store.data.summary(app.lesson());
    let count = format!("{}/{}", s.solved, s.tasks);
    let top = |app: &mut App, w, h| screen(app, w, h).lines().next().unwrap().to_string();
    assert!(top(&mut app, 80, 24).contains(&format!("{count} solved")));
    assert!(top(&mut app, 60, 20).contains(&count));
}

#[test]
fn help_overlay_lists_keys_and_closes_with_esc() {
    let (mut app, _d) = app();
    pump(&mut app);
    press(&mut app, KeyCode::Char('?'));
    let s = screen(&mut app, 120, 40);
    for (k, _) in tutor::notebook::ui::KEYS {
        assert!(s.contains(k), "help lists {k}");
    }
    insta::assert_snapshot!("help", s);
    // Fits the smallest supported terminal too.
    let small = screen(&mut app, 60, 20);
    assert!(small.contains("Esc or ? closes"), "{small}");
    insta::assert_snapshot!("help_60x20", small);
    press(&mut app, KeyCode::Esc);
    assert!(!app.help);
    assert!(!app.quit);
}

#[test]
fn too_small_terminal_says_so() {
    let (mut app, _d) = app();
    pump(&mut app);
    let s = screen(&mut app, 50, 15);
    assert!(s.contains("terminal too small"), "{s}");
    assert!(s.contains("need 60x20"), "{s}");
    insta::assert_snapshot!("too_small", s);
}

#[test]
fn never_panics_at_any_size() {
    let (mut app, _d) = app();
    pump(&mut app);
    for (w, h) in [
        (1, 1),
        (0, 0),
        (59, 20),
        (60, 19),
        (60, 20),
        (61, 21),
        (200, 60),
        (80, 24),
    ] {
        for cell in 0..app.cells.len() {
            app.set_focus(cell);
            screen(&mut app, w, h);
        }
    }
    press(&mut app, KeyCode::Char('?'));
    screen(&mut app, 60, 20);
    screen(&mut app, 10, 5);
}

// ----- keys and state -----

#[test]
fn focus_moves_by_cell_and_visits_are_saved() {
    let (mut app, dir) = app();
    assert_eq!(app.focus, 0);
    press(&mut app, KeyCode::Char('j'));
    press(&mut app, KeyCode::Down);
    assert_eq!(app.focus, 2);
    press(&mut app, KeyCode::Up);
    assert_eq!(app.focus, 1);
    // Issue 14: moving does not save (a save costs several ms); the pause after it does.
    let before = reopen(&dir).data;
    assert!(before
        .lessons
        .get("lesson-2")
        .is_none_or(|l| l.last_cell.as_deref() != Some("code-2")));
    app.on_event(Event::Tick);
    let p = reopen(&dir).data;
    let lp = &p.lessons["lesson-2"];
    assert_eq!(lp.last_cell.as_deref(), Some("code-2"));
    assert!(lp.visited.contains("explorer"));
    press(&mut app, KeyCode::Char('G'));
    assert_eq!(app.focus, EXERCISE);
    press(&mut app, KeyCode::Char('g'));
    assert_eq!(app.focus, 0);
}

#[test]
fn resumes_at_the_last_cell() {
    let dir = tempfile::tempdir().unwrap();
    let (mut store, _) = Store::open(dir.path(), "ana").unwrap();
    store.data.visit("lesson-2", "q-shape");
    store.save().unwrap();
    let app = App::new(vec![fixture()], 0, reopen(&dir), None);
    assert_eq!(app.focus, SHAPE);
}

#[test]
fn paging_scrolls_and_moves_focus_into_view() {
    let (mut app, _d) = app();
    pump(&mut app);
    screen(&mut app, 120, 40);
    assert_eq!(app.scroll, 0);
    press(&mut app, KeyCode::PageDown);
    screen(&mut app, 120, 40);
    assert!(app.scroll > 0);
    assert!(app.focus > 0, "focus followed the page");
    let before = app.scroll;
    press(&mut app, KeyCode::Char('K'));
    screen(&mut app, 120, 40);
    assert_eq!(app.scroll, before - 1);
    press(&mut app, KeyCode::Char('G'));
    let s = screen(&mut app, 120, 40);
    assert!(s.contains("Exercise"), "{s}");
}

#[test]
fn typing_does_not_trigger_shortcuts() {
    let (mut app, _d) = app();
    focus(&mut app, SHAPE);
    press(&mut app, KeyCode::Char('i'));
    // (h is the one letter a number or shape answer box takes as a key: the next hint.)
    chars(&mut app, "q?gjn");
    assert!(!app.quit && !app.help);
    assert_eq!(app.focus, SHAPE);
    assert_eq!(quiz_state(&app, SHAPE).input.text(), "q?gjn");
    press(&mut app, KeyCode::Home);
    press(&mut app, KeyCode::Delete);
    press(&mut app, KeyCode::End);
    press(&mut app, KeyCode::Left);
    press(&mut app, KeyCode::Backspace);
    assert_eq!(quiz_state(&app, SHAPE).input.text(), "?gn");
    press(&mut app, KeyCode::Esc);
    assert_eq!(app.mode, Mode::Normal);
    press(&mut app, KeyCode::Char('q'));
    assert!(app.quit);
}

#[test]
fn ctrl_c_quits_even_while_typing() {
    let (mut app, _d) = app();
    focus(&mut app, INT);
    press(&mut app, KeyCode::Enter);
    app.on_event(Event::Key(KeyEvent::new(
        KeyCode::Char('c'),
        KeyModifiers::CONTROL,
    )));
    assert!(app.quit);
}

#[test]
fn single_choice_answers_with_a_letter() {
    let (mut app, dir) = app();
    focus(&mut app, SINGLE);
    press(&mut app, KeyCode::Enter);
    press(&mut app, KeyCode::Char('a'));
    assert!(matches!(
        quiz_state(&app, SINGLE).feedback,
        Some(Feedback::Wrong(_))
    ));
    // Letters beyond the choices are ignored.
    press(&mut app, KeyCode::Char('z'));
    press(&mut app, KeyCode::Char('b'));
    assert_eq!(quiz_state(&app, SINGLE).status, TaskStatus::Solved);
    assert_eq!(app.mode, Mode::Normal);
    let q = &reopen(&dir).data.lessons["lesson-2"].quizzes["q-single"];
    assert_eq!(q.attempts.len(), 2);
    assert!(q.solved);
}

#[test]
fn multi_choice_toggles_then_submits() {
    let (mut app, _d) = app();
    focus(&mut app, MULTI);
    press(&mut app, KeyCode::Enter);
    chars(&mut app, "abb");
    press(&mut app, KeyCode::Enter);
    match &quiz_state(&app, MULTI).feedback {
        Some(Feedback::Wrong(m)) => assert!(m.contains("more choice"), "{m}"),
        f => panic!("{f:?}"),
    }
    chars(&mut app, "c");
    press(&mut app, KeyCode::Enter);
    assert_eq!(quiz_state(&app, MULTI).status, TaskStatus::Solved);
    let s = screen(&mut app, 120, 40);
    assert!(s.contains("[x] c) a larger stride"), "{s}");
}

#[test]
fn match_and_shape_questions() {
    let (mut app, _d) = app();
    let seed = quiz_state(&app, MATCH).seed;
    let order = quiz::match_order(3, seed);
    let letters: String = (0..3)
        .map(|i| (b'a' + order.iter().position(|&o| o == i).unwrap() as u8) as char)
        .collect();
    focus(&mut app, MATCH);
    press(&mut app, KeyCode::Enter);
    chars(&mut app, &letters);
    press(&mut app, KeyCode::Enter);
    assert_eq!(quiz_state(&app, MATCH).status, TaskStatus::Solved);

    focus(&mut app, SHAPE);
    press(&mut app, KeyCode::Enter);
    chars(&mut app, "(96, 54, 55)");
    press(&mut app, KeyCode::Enter);
    match &quiz_state(&app, SHAPE).feedback {
        Some(Feedback::Wrong(m)) => assert!(m.contains("Dimension 2"), "{m}"),
        f => panic!("{f:?}"),
    }
    for _ in 0..12 {
        press(&mut app, KeyCode::Backspace);
    }
    chars(&mut app, "96x55x55");
    press(&mut app, KeyCode::Enter);
    assert_eq!(quiz_state(&app, SHAPE).status, TaskStatus::Solved);
}

#[test]
fn invalid_answers_are_not_attempts() {
    let (mut app, dir) = app();
    focus(&mut app, INT);
    press(&mut app, KeyCode::Enter);
    chars(&mut app, "lots");
    press(&mut app, KeyCode::Enter);
    assert!(matches!(
        quiz_state(&app, INT).feedback,
        Some(Feedback::Invalid(_))
    ));
    // A pause saves the visits, so the lesson is in the file (without the quiz).
    app.on_event(Event::Tick);
    let p = reopen(&dir).data;
    assert!(!p.lessons["lesson-2"].quizzes.contains_key("q-int"));
}

#[test]
fn giving_up_shows_the_answer_and_is_not_solved() {
    let (mut app, dir) = app();
    pump(&mut app);
    focus(&mut app, INT);
    press(&mut app, KeyCode::Char('s'));
    let s = screen(&mut app, 120, 40);
    assert!(s.contains("Answer: 28"), "{s}");
    assert!(s.contains("answer shown"), "{s}");
    press(&mut app, KeyCode::Enter);
    chars(&mut app, "28");
    press(&mut app, KeyCode::Enter);
    let st = quiz_state(&app, INT);
    assert_eq!(st.status, TaskStatus::Revealed);
    assert!(matches!(&st.feedback, Some(Feedback::Correct(m)) if m.contains("not counted")));
    let q = &reopen(&dir).data.lessons["lesson-2"].quizzes["q-int"];
    assert!(!q.solved);
    assert_eq!(q.attempts.len(), 1);
    assert_eq!(q.attempts[0].answer, "(solution shown)");
}

#[test]
fn drills_draw_per_learner_and_n_draws_a_new_round() {
    let (mut app, dir) = app();
    let st = quiz_state(&app, DRILL);
    assert_eq!(st.round, 0);
    assert_eq!(st.seed, quiz::seed("ana", "lesson-2", "drill", 0));
    assert!(!st.question.contains('{'), "{}", st.question);
    let first = st.question.clone();
    focus(&mut app, DRILL);
    // The right answer for this learner's numbers, computed as the quiz does.
    let lesson = fixture();
    let tutor::course::lesson::CellBody::Quiz(q) = &lesson.cells[DRILL].body else {
        panic!()
    };
    let d = quiz_state(&app, DRILL).draw.clone().unwrap();
    let answer = quiz::answer_text(q, &d, lesson.dir(), quiz_state(&app, DRILL).seed);
    press(&mut app, KeyCode::Enter);
    chars(&mut app, &answer);
    press(&mut app, KeyCode::Enter);
    assert_eq!(quiz_state(&app, DRILL).status, TaskStatus::Solved);
    press(&mut app, KeyCode::Char('N'));
    let st = quiz_state(&app, DRILL);
    assert_eq!(st.round, 1);
    assert_eq!(st.status, TaskStatus::Open);
    assert_eq!(st.seed, quiz::seed("ana", "lesson-2", "drill", 1));
    assert!(st.feedback.is_none());
    let _ = first;
    assert_eq!(
        reopen(&dir).data.lessons["lesson-2"].quizzes["drill"].round,
        1
    );
    // Reopening keeps the round.
    let app2 = App::new(vec![fixture()], 0, reopen(&dir), None);
    assert_eq!(quiz_state(&app2, DRILL).round, 1);
}

#[test]
fn exercise_runs_the_experiment_and_checks_goals() {
    let (mut app, dir) = app();
    pump(&mut app);
    focus(&mut app, EXERCISE);
    press(&mut app, KeyCode::Enter);
    chars(&mut app, "conv 16 kx");
    press(&mut app, KeyCode::Enter);
    pump(&mut app);
    let s = screen(&mut app, 120, 40);
    assert!(s.contains("expected a letter and a number"), "{s}");
    for _ in 0..2 {
        press(&mut app, KeyCode::Backspace);
    }
    chars(&mut app, "k3 s1 p1");
    press(&mut app, KeyCode::Enter);
    pump(&mut app);
    let s = screen(&mut app, 120, 40);
    assert!(s.contains("Not every goal is met"), "{s}");
    assert!(s.contains("(got 32)"), "{s}");
    assert!(s.contains("output (16, 32, 32)"), "{s}");
    for _ in 0..4 {
        press(&mut app, KeyCode::Backspace);
    }
    chars(&mut app, "2 p1");
    press(&mut app, KeyCode::Enter);
    pump(&mut app);
    let CellState::Exercise(st) = &app.cells[EXERCISE] else {
        panic!()
    };
    assert_eq!(st.status, TaskStatus::Solved, "{:?}", st.feedback);
    assert_eq!(app.mode, Mode::Normal);
    let e = &reopen(&dir).data.lessons["lesson-2"].exercises["ex-layer"];
    let answers: Vec<(&str, bool)> = e
        .attempts
        .iter()
        .map(|a| (a.answer.as_str(), a.correct))
        .collect();
    // The mistyped layer was not an attempt.
    assert_eq!(
        answers,
        [("conv 16 k3 s1 p1", false), ("conv 16 k3 s2 p1", true)]
    );
    let s = screen(&mut app, 120, 40);
    assert!(s.contains("Every goal is met: solved!"), "{s}");
}

#[test]
fn adjusting_a_quick_experiment_reruns_it() {
    let (mut app, _d) = app();
    pump(&mut app);
    focus(&mut app, RUN);
    press(&mut app, KeyCode::Tab);
    press(&mut app, KeyCode::Char('+'));
    assert!(app.busy(), "a rerun was queued");
    pump(&mut app);
    let CellState::Run(st) = &app.cells[RUN] else {
        panic!()
    };
    assert_eq!(st.values["k"], tutor::experiments::Value::Int(4));
    let s = screen(&mut app, 120, 40);
    assert!(s.contains("k = 4"), "{s}");
    assert!(
        s.contains("= floor((5 + 2·1 - 1·(4-1) - 1) / 2) + 1"),
        "{s}"
    );
    // Shift-Tab goes back to `i`; `-` steps it down.
    press(&mut app, KeyCode::BackTab);
    press(&mut app, KeyCode::Char('-'));
    pump(&mut app);
    let CellState::Run(st) = &app.cells[RUN] else {
        panic!()
    };
    assert_eq!(st.values["i"], tutor::experiments::Value::Int(4));
}

#[test]
fn progress_eta_cancel_and_errors_from_worker_events() {
    let (mut app, _d) = app();
    let job = start_run(&mut app);
    let ev = |kind| Event::Run(RunEvent { job: job.id, kind });
    app.on_event(ev(RunEventKind::Progress {
        done: 25,
        total: 100,
        what: "epoch 1/4".into(),
        elapsed: Duration::from_secs(10),
    }));
    let s = screen(&mut app, 120, 40);
    assert!(s.contains(" 25% · ETA 30s · epoch 1/4"), "{s}");
    // Esc asks the experiment to stop through the shared flag.
    press(&mut app, KeyCode::Esc);
    assert!(job.cancel.load(std::sync::atomic::Ordering::Relaxed));
    let s = screen(&mut app, 120, 40);
    assert!(s.contains("Stopping…"), "{s}");
    // A report from some other run changes nothing.
    app.on_event(Event::Run(RunEvent {
        job: job.id + 100,
        kind: RunEventKind::Finished {
            elapsed: Duration::ZERO,
        },
    }));
    assert!(app.busy());
    app.on_event(ev(RunEventKind::Cancelled));
    assert!(!app.busy());
    let s = screen(&mut app, 120, 40);
    assert!(s.contains("Cancelled."), "{s}");

    press(&mut app, KeyCode::Enter);
    let job = app.next_job().expect("a job");
    app.on_event(Event::Run(RunEvent {
        job: job.id,
        kind: RunEventKind::Failed("out of memory".into()),
    }));
    let CellState::Run(st) = &app.cells[RUN] else {
        panic!()
    };
    assert_eq!(st.result.status, RunStatus::Failed("out of memory".into()));
    let s = screen(&mut app, 120, 40);
    assert!(s.contains("Error: out of memory"), "{s}");
}

#[test]
fn run_all_queues_every_run_cell_in_order() {
    let (mut app, _d) = app();
    pump(&mut app);
    press(&mut app, KeyCode::Char('r'));
    assert!(app.busy());
    pump(&mut app);
    let CellState::Run(st) = &app.cells[RUN] else {
        panic!()
    };
    assert!(matches!(st.result.status, RunStatus::Done { .. }));
    assert_eq!(st.result.outputs.len(), 4);
}

#[test]
fn lessons_switch_with_n_and_p() {
    let (mut app, _d) = app_with(two_lessons(), None);
    press(&mut app, KeyCode::Char('n'));
    assert_eq!(app.current, 1);
    assert_eq!(app.lesson().title, "Pooling");
    press(&mut app, KeyCode::Char('n'));
    assert_eq!(app.current, 1);
    assert!(app.message.as_ref().unwrap().text.contains("last lesson"));
    press(&mut app, KeyCode::Char('p'));
    assert_eq!(app.current, 0);
}

#[test]
fn warning_shows_until_dismissed() {
    let (mut app, _d) = app_with(
        vec![fixture()],
        Some("Your progress file could not be read.".into()),
    );
    pump(&mut app);
    let s = screen(&mut app, 120, 40);
    assert!(s.contains("⚠ Your progress file could not be read."), "{s}");
    press(&mut app, KeyCode::Esc);
    let s = screen(&mut app, 120, 40);
    assert!(!s.contains("could not be read"), "{s}");
}

#[test]
fn title_bar_progress_grows_as_tasks_are_solved() {
    let (mut app, _d) = app();
    pump(&mut app);
    let before = app.store.data.summary(app.lesson()).fraction();
    focus(&mut app, SINGLE);
    press(&mut app, KeyCode::Enter);
    press(&mut app, KeyCode::Char('b'));
    let after = app.store.data.summary(app.lesson()).fraction();
    assert!(after > before);
    let s = screen(&mut app, 120, 40);
    let pct = format!("{:>3.0}%", after * 100.0);
    assert!(s.lines().next().unwrap().contains(&pct), "{s}");
    assert!(s.lines().next().unwrap().contains("1/8 solved"), "{s}");
}

#[test]
fn live_outputs_replace_in_place_and_render() {
    use tutor::output::{Matrix, Output, Picture, Plot, Series, SeriesStyle};
    let (mut app, _d) = app();
    let job = start_run(&mut app);
    let send = |app: &mut App, kind| app.on_event(Event::Run(RunEvent { job: job.id, kind }));
    let curve = |n: usize| {
        Output::Plot(Plot {
            title: "Training loss".into(),
            x_label: "epoch".into(),
            y_label: "loss".into(),
            series: vec![Series {
                colour: None,
                name: "train".into(),
                points: (0..n).map(|i| (i as f64, 2.0 / (1.0 + i as f64))).collect(),
                style: SeriesStyle::Line,
            }],
            x_range: Some((0.0, 10.0)),
            ..Plot::default()
        })
    };
    for n in [2, 5, 8] {
        send(
            &mut app,
            RunEventKind::Output {
                key: "loss".into(),
                output: curve(n),
            },
        );
    }
    let mut img = image::RgbImage::new(8, 8);
    for (x, y, p) in img.enumerate_pixels_mut() {
        *p = image::Rgb([(x * 32) as u8, (y * 32) as u8, 128]);
    }
    send(
        &mut app,
        RunEventKind::Output {
            key: "filters".into(),
            output: Output::Pictures(vec![
                Picture {
                    caption: "kernel 1".into(),
                    image: img.clone(),
                },
                Picture {
                    caption: "kernel 2".into(),
                    image: img,
                },
            ]),
        },
    );
    send(
        &mut app,
        RunEventKind::Output {
            key: "confusion".into(),
            output: Output::Matrix(Matrix {
                title: "Confusion".into(),
                row_axis: "true".into(),
                col_axis: "predicted".into(),
                row_labels: vec!["cat".into(), "dog".into()],
                col_labels: vec!["cat".into(), "dog".into()],
                values: vec![vec![9.0, 1.0], vec![2.0, 8.0]],
            }),
        },
    );
    send(
        &mut app,
        RunEventKind::Progress {
            done: 8,
            total: 10,
            what: "epoch 8/10".into(),
            elapsed: Duration::from_secs(40),
        },
    );
    let CellState::Run(st) = &app.cells[RUN] else {
        panic!()
    };
    let keys: Vec<&str> = st.result.outputs.iter().map(|(k, _)| k.as_str()).collect();
    // The explorer's old outputs stay until the run ends; the curve was replaced, not added.
    assert_eq!(
        keys,
        [
            "formula",
            "grid",
            "sizes",
            "summary",
            "loss",
            "filters",
            "confusion"
        ]
    );
    send(
        &mut app,
        RunEventKind::Finished {
            elapsed: Duration::from_secs(50),
        },
    );
    let CellState::Run(st) = &app.cells[RUN] else {
        panic!()
    };
    let keys: Vec<&str> = st.result.outputs.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        keys,
        ["loss", "filters", "confusion"],
        "stale outputs dropped"
    );
    let s = screen(&mut app, 120, 40);
    assert!(s.contains("Training loss"), "{s}");
    assert!(s.contains("kernel 1") && s.contains("kernel 2"), "{s}");
    assert!(s.contains("Confusion"), "{s}");
    insta::assert_snapshot!("live_outputs", s);
}

#[test]
fn switching_lessons_mid_run_drops_the_old_runs_reports() {
    let (mut app, _d) = app_with(two_lessons(), None);
    let job = start_run(&mut app);
    press(&mut app, KeyCode::Char('n'));
    assert!(job.cancel.load(std::sync::atomic::Ordering::Relaxed));
    // The old run's output arrives after the switch: it must not land in the new lesson.
    app.on_event(Event::Run(RunEvent {
        job: job.id,
        kind: RunEventKind::Output {
            key: "stale".into(),
            output: tutor::output::Output::Text("from lesson 2".into()),
        },
    }));
    pump(&mut app);
    let CellState::Run(st) = &app.cells[RUN] else {
        panic!()
    };
    assert!(st.result.outputs.iter().all(|(k, _)| k != "stale"));
    assert!(matches!(st.result.status, RunStatus::Done { .. }));
}

#[test]
fn a_lesson_without_cells_does_not_panic() {
    let mut l = fixture();
    l.cells.clear();
    let (mut app, _d) = app_with(vec![l], None);
    for c in "jkJKgGhsNri+-\t".chars() {
        press(&mut app, KeyCode::Char(c));
    }
    press(&mut app, KeyCode::Enter);
    press(&mut app, KeyCode::PageDown);
    screen(&mut app, 80, 24);
    press(&mut app, KeyCode::Char('q'));
    assert!(app.quit);
}

#[test]
fn esc_typed_fast_before_a_key_still_leaves_typing() {
    let (mut app, _d) = app();
    focus(&mut app, INT);
    press(&mut app, KeyCode::Enter);
    chars(&mut app, "2");
    // Terminals deliver Esc followed at once by `?` as Alt+?.
    app.on_event(Event::Key(KeyEvent::new(
        KeyCode::Char('?'),
        KeyModifiers::ALT,
    )));
    assert_eq!(app.mode, Mode::Normal);
    assert!(app.help);
    assert_eq!(quiz_state(&app, INT).input.text(), "2");
}

#[test]
fn esc_calls_off_queued_runs_and_keeps_their_last_result() {
    let (mut app, _d) = app();
    pump(&mut app);
    focus(&mut app, RUN);
    // A run in progress elsewhere (the exercise), then a rerun of the explorer waiting.
    focus(&mut app, EXERCISE);
    press(&mut app, KeyCode::Enter);
    chars(&mut app, "conv 8 k3");
    press(&mut app, KeyCode::Enter);
    press(&mut app, KeyCode::Esc);
    let job = app.next_job().expect("the exercise run");
    focus(&mut app, RUN);
    press(&mut app, KeyCode::Enter);
    let CellState::Run(st) = &app.cells[RUN] else {
        panic!()
    };
    assert_eq!(st.result.status, RunStatus::Queued);
    press(&mut app, KeyCode::Esc);
    assert!(job.cancel.load(std::sync::atomic::Ordering::Relaxed));
    let CellState::Run(st) = &app.cells[RUN] else {
        panic!()
    };
    assert!(
        matches!(st.result.status, RunStatus::Done { .. }),
        "{:?}",
        st.result.status
    );
    assert_eq!(st.result.outputs.len(), 4);
}

#[test]
fn settle_keeps_focus_in_view_and_follows_scrolling() {
    use tutor::notebook::app::NotebookLayout;
    let (mut app, _d) = app();
    // Cells of 10 lines with a blank line between, the third one tall.
    let heights = vec![10, 10, 50, 10, 10, 10, 10, 10, 10, 10, 10];
    let mut tops = Vec::new();
    let mut y = 0;
    for h in &heights {
        tops.push(y);
        y += h + 1;
    }
    let l = NotebookLayout {
        tops,
        heights,
        total: y - 1,
    };
    app.settle(&l, 20);
    assert_eq!(app.scroll, 0);
    // Moving onto the tall cell shows its top, never its middle.
    press(&mut app, KeyCode::Char('j'));
    press(&mut app, KeyCode::Char('j'));
    app.settle(&l, 20);
    assert_eq!(app.scroll, 22);
    // Scrolling within the tall cell keeps it focused.
    press(&mut app, KeyCode::PageDown);
    app.settle(&l, 20);
    assert_eq!((app.scroll, app.focus), (40, 2));
    // Scrolling past it moves the focus to the first cell whose top is in view.
    press(&mut app, KeyCode::PageDown);
    press(&mut app, KeyCode::PageDown);
    app.settle(&l, 20);
    assert_eq!(app.scroll, 76);
    assert_eq!(app.focus, 4, "cell 4 starts at line 84");
    // The scroll never passes the end.
    for _ in 0..20 {
        press(&mut app, KeyCode::PageDown);
    }
    app.settle(&l, 20);
    assert_eq!(app.scroll, l.total - 20);
    assert_eq!(app.focus, 10);
}

/// Issue 12, item 4: on resume the focused cell stays on screen while the quick runs above it
/// finish and make their cells taller.
#[test]
fn the_focused_cell_stays_in_view_while_cells_above_it_grow() {
    use tutor::notebook::app::NotebookLayout;
    let (mut app, _d) = app();
    let layout = |grown: usize| {
        let heights: Vec<usize> = (0..11)
            .map(|i| if i == 2 { 10 + grown } else { 10 })
            .collect();
        let mut tops = Vec::new();
        let mut y = 0;
        for h in &heights {
            tops.push(y);
            y += h + 1;
        }
        NotebookLayout {
            tops,
            heights,
            total: y - 1,
        }
    };
    focus(&mut app, 6);
    app.settle(&layout(0), 20);
    let before = app.scroll;
    assert!(
        before <= 66 && 66 < before + 20,
        "cell 6 (top 66) on screen"
    );
    // The run in cell 2 ends with 40 more lines of outputs; no key is pressed.
    app.settle(&layout(40), 20);
    assert_eq!(
        app.scroll,
        before + 40,
        "the view moved with the focused cell"
    );
    assert_eq!(app.focus, 6);
    // A scroll by hand is left alone.
    press(&mut app, KeyCode::Char('K'));
    app.settle(&layout(40), 20);
    assert_eq!(app.scroll, before + 39);
}

/// The fixture with its run cell turned into a long training experiment (driven by synthetic
/// worker events: nothing is trained).
fn long_run_lessons() -> Vec<Lesson> {
    let mut a = fixture();
    let lesson::CellBody::Run(run) = &mut a.cells[RUN].body else {
        panic!("the fixture's run cell moved")
    };
    run.experiment = tutor::experiments::find("mnist.compare").unwrap();
    run.params.clear();
    run.adjust = vec!["epochs".into()];
    let mut b = a.clone();
    b.id = "lesson-3".into();
    b.number = 3;
    vec![a, b]
}

/// Issue 12, items 6 and 7: a long run's outputs and changed parameters outlive leaving the
/// lesson and the session, and are marked out of date once a parameter changes.
#[test]
fn long_run_results_are_kept_marked_stale_and_restored() {
    use tutor::output::Output;
    let (mut app, dir) = app_with(long_run_lessons(), None);
    pump(&mut app);
    focus(&mut app, RUN);
    press(&mut app, KeyCode::Enter);
    let job = app.next_job().expect("a job");
    let ev = |kind| Event::Run(RunEvent { job: job.id, kind });
    app.on_event(ev(RunEventKind::Output {
        key: "acc".into(),
        output: Output::Text("CNN test accuracy 0.9735".into()),
    }));
    app.on_event(ev(RunEventKind::Finished {
        elapsed: Duration::from_secs(19),
    }));
    let s = screen(&mut app, 120, 40);
    assert!(s.contains("Done in 19s.") && s.contains("0.9735"), "{s}");
    assert!(!s.contains("Out of date"), "{s}");
    // A parameter changes: the old outputs stay, marked.
    press(&mut app, KeyCode::Char('+'));
    let s = screen(&mut app, 120, 40);
    assert!(s.contains("epochs = 6"), "{s}");
    assert!(
        s.contains("⚠ Out of date: the outputs below are from the run with epochs = 5."),
        "{s}"
    );
    assert!(s.contains("0.9735"), "{s}");
    // Another lesson and back: outputs and the changed value are still there.
    press(&mut app, KeyCode::Char('n'));
    assert_eq!(app.current, 1);
    press(&mut app, KeyCode::Char('p'));
    pump(&mut app);
    focus(&mut app, RUN);
    let s = screen(&mut app, 120, 40);
    assert!(s.contains("0.9735") && s.contains("epochs = 6"), "{s}");
    // A new session opens the lesson with its last run's outputs.
    press(&mut app, KeyCode::Char('q'));
    assert!(
        dir.path().join("runs/ana/lesson-2.json").exists() || {
            let files: Vec<_> = walk(dir.path());
            panic!("no saved runs: {files:?}")
        }
    );
    let mut again = App::new(long_run_lessons(), 0, reopen(&dir), None);
    pump(&mut again);
    focus(&mut again, RUN);
    let s = screen(&mut again, 120, 40);
    assert!(s.contains("Done in 19s.") && s.contains("0.9735"), "{s}");
    assert!(s.contains("epochs = 6") && s.contains("Out of date"), "{s}");
    // Quitting in the middle of another run keeps the finished one on disk.
    press(&mut again, KeyCode::Enter);
    let job = again.next_job().expect("a job");
    again.on_event(Event::Run(RunEvent {
        job: job.id,
        kind: RunEventKind::Output {
            key: "acc".into(),
            output: Output::Text("half-way".into()),
        },
    }));
    press(&mut again, KeyCode::Char('q'));
    let mut third = App::new(long_run_lessons(), 0, reopen(&dir), None);
    pump(&mut third);
    focus(&mut third, RUN);
    let s = screen(&mut third, 120, 40);
    assert!(s.contains("0.9735") && !s.contains("half-way"), "{s}");
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn a_parameter_value_can_be_typed() {
    let (mut app, _d) = app();
    pump(&mut app);
    focus(&mut app, RUN);
    press(&mut app, KeyCode::Char('i'));
    assert_eq!(app.mode, Mode::Typing);
    let s = screen(&mut app, 120, 40);
    assert!(s.contains("i › 5"), "the current value to edit: {s}");
    press(&mut app, KeyCode::Backspace);
    chars(&mut app, "999");
    press(&mut app, KeyCode::Enter);
    assert_eq!(app.mode, Mode::Typing, "refused: out of range");
    let s = screen(&mut app, 120, 40);
    assert!(s.contains("⚠ 999 is outside 1..=512"), "{s}");
    for _ in 0..3 {
        press(&mut app, KeyCode::Backspace);
    }
    chars(&mut app, "227");
    press(&mut app, KeyCode::Enter);
    assert_eq!(app.mode, Mode::Normal);
    pump(&mut app);
    let s = screen(&mut app, 120, 40);
    assert!(s.contains("i = 227"), "{s}");
    assert!(s.contains("= floor(226 / 2) + 1 = 114"), "{s}");
    // Esc keeps the old value.
    press(&mut app, KeyCode::Char('i'));
    chars(&mut app, "0");
    press(&mut app, KeyCode::Esc);
    let CellState::Run(st) = &app.cells[RUN] else {
        panic!()
    };
    assert_eq!(st.values["i"], tutor::experiments::Value::Int(227));
    // Issue 12, item 8: the old value starts selected, so typing replaces it.
    press(&mut app, KeyCode::Char('i'));
    chars(&mut app, "120");
    let s = screen(&mut app, 120, 40);
    assert!(s.contains("i › 120"), "{s}");
    assert!(!s.contains("227120"), "{s}");
    // Ctrl-U clears what is before the cursor.
    app.on_event(Event::Key(KeyEvent::new(
        KeyCode::Char('u'),
        KeyModifiers::CONTROL,
    )));
    chars(&mut app, "64");
    press(&mut app, KeyCode::Enter);
    let CellState::Run(st) = &app.cells[RUN] else {
        panic!()
    };
    assert_eq!(st.values["i"], tutor::experiments::Value::Int(64));
}

#[test]
fn typing_a_digit_or_a_choice_letter_on_a_question_starts_the_answer() {
    let (mut app, _d) = app();
    pump(&mut app);
    // A number quiz: the digit is the first character of the answer.
    focus(&mut app, INT);
    assert_eq!(app.mode, Mode::Normal);
    chars(&mut app, "2");
    assert_eq!(app.mode, Mode::Typing);
    chars(&mut app, "8");
    press(&mut app, KeyCode::Enter);
    let s = screen(&mut app, 120, 40);
    assert!(s.contains("✓ Correct!"), "{s}");
    // A single-choice quiz: the letter picks the choice.
    press(&mut app, KeyCode::Esc);
    focus(&mut app, SINGLE);
    chars(&mut app, "a");
    assert!(
        quiz_state(&app, SINGLE).feedback.is_some(),
        "the letter was taken as an answer"
    );
    // Keys bound in the notebook keep their meaning: j still moves on.
    press(&mut app, KeyCode::Esc);
    focus(&mut app, INT);
    chars(&mut app, "j");
    assert_eq!(app.mode, Mode::Normal);
}

#[test]
fn a_running_cell_keeps_its_newest_output_in_view_until_the_learner_scrolls() {
    use tutor::output::Output;
    let (mut app, _d) = app();
    let job = start_run(&mut app);
    let ev = |kind| Event::Run(RunEvent { job: job.id, kind });
    let long: String = (1..=80).map(|i| format!("line {i}\n")).collect();
    app.on_event(ev(RunEventKind::Output {
        key: "log".into(),
        output: Output::Text(long + "the newest line"),
    }));
    app.on_event(ev(RunEventKind::Progress {
        done: 1,
        total: 4,
        what: "step 1".into(),
        elapsed: Duration::from_secs(3),
    }));
    let s = screen(&mut app, 120, 40);
    assert!(s.contains("the newest line"), "{s}");
    // The progress line has scrolled away with the top of the cell: the status bar repeats it.
    assert!(s.contains(" 25% · ETA 9.0s · step 1 · Esc stop run"), "{s}");
    // Scrolling by hand stops the following.
    press(&mut app, KeyCode::PageUp);
    app.on_event(ev(RunEventKind::Output {
        key: "log".into(),
        output: Output::Text((1..=90).map(|i| format!("line {i}\n")).collect::<String>() + "later"),
    }));
    let s = screen(&mut app, 120, 40);
    assert!(!s.contains("later"), "{s}");
}
