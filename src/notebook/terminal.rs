//! The terminal side: enter raw mode and the alternate screen, run the event loop, and always
//! put the terminal back — on a normal exit, an error return, a panic, and a signal (SIGTERM,
//! SIGHUP, SIGINT, SIGQUIT: the loop notices it within a tick, stops the run and returns the
//! signal, and `main` exits with 128 + its number, the shell's convention).
//!
//! The loop is the only place where the app meets the outside world: it hands queued runs to
//! the [`Worker`], feeds the worker's reports and the terminal's keys to [`App::on_event`] and
//! draws a frame with [`draw`] (the same function the screen tests call).

use std::io::stdout;
use std::panic::PanicHookInfo;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use ratatui::backend::{Backend, CrosstermBackend};
use ratatui::crossterm::event::{self as term, Event as TermEvent, KeyEventKind};
use ratatui::crossterm::execute;
use ratatui::crossterm::terminal::{
    disable_raw_mode, enable_raw_mode, EnterAlternateScreen, LeaveAlternateScreen,
};
use ratatui::Terminal;

use crate::course::lesson::Lesson;
use crate::course::progress::Store;
use crate::notebook::app::{App, ColorMode};
use crate::notebook::event::Event;
use crate::notebook::hangup;
use crate::notebook::trace::FrameTrace;
use crate::notebook::ui;
use crate::notebook::worker::{self, Worker};

/// How long after the last key a wait with no key counts as a pause ([`Event::Tick`]).
const PAUSE: Duration = Duration::from_millis(500);

/// How the notebook ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// The learner quit.
    Quit,
    /// The process was sent this signal (its number); the terminal has been put back.
    Signal(i32),
}

/// The signals that end the notebook cleanly.
pub const SIGNALS: [i32; 4] = [
    signal_hook::consts::SIGTERM,
    signal_hook::consts::SIGHUP,
    signal_hook::consts::SIGINT,
    signal_hook::consts::SIGQUIT,
];

/// Shows `lessons` in the notebook TUI, starting at `lessons[start]`, until the learner quits
/// or a signal arrives. `warning` (an unreadable progress file, say) is shown until dismissed.
pub fn run(
    lessons: Vec<Lesson>,
    start: usize,
    store: Store,
    warning: Option<String>,
) -> anyhow::Result<Ended> {
    anyhow::ensure!(!lessons.is_empty(), "there are no lessons to show");
    let mut app = App::new(lessons, start, store, warning);
    app.colors = ColorMode::detect();
    let signal = catch_signals()?;
    let guard = TerminalGuard::enter()?;
    hangup::watch(signal.clone());
    let mut terminal = Terminal::new(CrosstermBackend::new(stdout()))?;
    let mut trace = FrameTrace::from_env();
    let result = event_loop(&mut terminal, &mut app, &signal, trace.as_mut());
    drop(guard);
    if let Some(trace) = &trace {
        // The screen is back: a failure to write the trace can be said on stderr.
        if let Err(e) = trace.write() {
            eprintln!("warning: frame trace not written: {e:#}");
        }
    }
    result
}

/// Registers the handlers: the first of [`SIGNALS`] to arrive is stored (by number) for the
/// loop to see; a second one while the first is handled gets the default action, so a stuck
/// notebook can still be killed.
fn catch_signals() -> anyhow::Result<Arc<AtomicUsize>> {
    let got = Arc::new(AtomicUsize::new(0));
    for sig in SIGNALS {
        let flag = Arc::new(AtomicBool::new(false));
        signal_hook::flag::register_conditional_default(sig, flag.clone())?;
        signal_hook::flag::register(sig, flag.clone())?;
        let got = got.clone();
        signal_hook::flag::register_usize(sig, got, sig as usize)?;
    }
    Ok(got)
}

fn event_loop<B: Backend>(
    terminal: &mut Terminal<B>,
    app: &mut App,
    signal: &AtomicUsize,
    mut trace: Option<&mut FrameTrace>,
) -> anyhow::Result<Ended>
where
    B::Error: Send + Sync + 'static,
{
    let (tx, rx) = mpsc::channel::<Event>();
    let mut worker = Worker::default();
    let mut last_key = Instant::now();
    loop {
        let sig = signal.load(Ordering::SeqCst);
        if sig != 0 {
            app.quit_on_signal();
            worker.wait(Duration::from_secs(1));
            return Ok(Ended::Signal(sig as i32));
        }
        let drawing = Instant::now();
        draw(terminal, app)?;
        if let Some(t) = trace.as_deref_mut() {
            t.frame_drawn(drawing, Instant::now(), app.busy() || worker.busy());
        }
        if app.quit {
            // Quitting has asked the run to stop; give it a moment to do so cleanly.
            worker.wait(Duration::from_secs(1));
            return Ok(Ended::Quit);
        }
        // Runs start after the frame, so the first frame (and a frame after a key) never
        // waits for a thread to be made; the cell shows it running at the next frame, at once.
        let mut got = false;
        if !worker.busy() {
            if let Some(job) = app.next_job() {
                let id = job.id;
                if let Err(e) = worker.start(job, tx.clone()) {
                    app.job_failed_to_start(id, e.to_string());
                }
                got = true;
            }
        }
        while let Ok(ev) = rx.try_recv() {
            app.on_event(ev);
            got = true;
        }
        // While a run goes, wake often enough for its progress to look live.
        let wait = if got {
            Duration::ZERO
        } else if app.busy() || worker.busy() {
            Duration::from_millis(50)
        } else {
            Duration::from_millis(250)
        };
        if hangup::hung_up() {
            // The terminal is gone: leave as on SIGHUP (crossterm would spin on it).
            let _ = signal.compare_exchange(
                0,
                signal_hook::consts::SIGHUP as usize,
                Ordering::SeqCst,
                Ordering::SeqCst,
            );
            continue;
        }
        let waited = Instant::now();
        if term::poll(wait)? {
            // Take every key already typed before drawing again (fast typing, pastes).
            loop {
                match term::read()? {
                    TermEvent::Key(k) if k.kind != KeyEventKind::Release => {
                        last_key = Instant::now();
                        if let Some(t) = trace.as_deref_mut() {
                            t.key_read(last_key);
                        }
                        app.on_event(Event::Key(k))
                    }
                    TermEvent::Resize(w, h) => app.on_event(Event::Resize(w, h)),
                    _ => {}
                }
                if app.quit || !term::poll(Duration::ZERO)? {
                    break;
                }
            }
        } else if !wait.is_zero() {
            if let Some(t) = trace.as_deref_mut() {
                t.woke(wait, waited.elapsed(), app.busy() || worker.busy());
            }
            // A pause in the typing (reports arriving do not count): long enough that the
            // next key is unlikely to come while the tick saves.
            if last_key.elapsed() >= PAUSE {
                app.on_event(Event::Tick);
            }
        }
    }
}

/// Draws one frame: measures the notebook for the terminal's size, lets the app settle its
/// scroll and focus, then renders it with that layout (measured again only if settling moved
/// the focus, which can change the focused cell's height).
pub fn draw<B: Backend>(terminal: &mut Terminal<B>, app: &mut App) -> Result<(), B::Error> {
    let size = terminal.size()?;
    let area = ratatui::layout::Rect::new(0, 0, size.width, size.height);
    let mut layout = None;
    if ui::fits(area) {
        let nb = ui::areas(app, area).notebook;
        let before = (app.focus, app.mode);
        let mut l = ui::layout(app, nb);
        app.settle(&l, usize::from(nb.height));
        if (app.focus, app.mode) != before {
            l = ui::layout(app, nb);
        }
        layout = Some(l);
    }
    terminal.draw(|f| {
        if f.area() == area {
            ui::render(app, layout.as_ref(), area, f.buffer_mut());
        } else {
            // The terminal was resized in between: lay out for the size being drawn.
            f.render_widget(&*app, f.area());
        }
    })?;
    Ok(())
}

type Hook = Box<dyn Fn(&PanicHookInfo<'_>) + Sync + Send + 'static>;

/// Raw mode and the alternate screen for as long as it lives, plus a panic hook that restores
/// the terminal before the panic message prints.
struct TerminalGuard {
    previous: Arc<Hook>,
}

impl TerminalGuard {
    fn enter() -> anyhow::Result<Self> {
        let previous: Arc<Hook> = Arc::new(std::panic::take_hook());
        let prev = previous.clone();
        std::panic::set_hook(Box::new(move |info| {
            // A panic inside an experiment is caught on the worker thread and shown in its
            // cell; restoring the terminal (or printing over the screen) would break the app.
            if worker::on_run_thread() {
                return;
            }
            restore();
            prev(info);
        }));
        let guard = TerminalGuard { previous };
        // Set first, so that a failure half way is still undone by the guard.
        ACTIVE.store(true, Ordering::SeqCst);
        enable_raw_mode()?;
        execute!(stdout(), EnterAlternateScreen)?;
        Ok(guard)
    }
}

/// True while the terminal is in raw mode on the alternate screen.
static ACTIVE: AtomicBool = AtomicBool::new(false);

/// Puts the terminal back, once: leaving the alternate screen a second time (the panic hook,
/// then the guard while unwinding) would move the cursor back over the panic message.
fn restore() {
    if ACTIVE.swap(false, Ordering::SeqCst) {
        let _ = disable_raw_mode();
        let _ = execute!(
            stdout(),
            LeaveAlternateScreen,
            ratatui::crossterm::cursor::Show
        );
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore();
        // Setting a hook while unwinding from a panic would abort; ours stays and is harmless
        // then (the terminal is already restored).
        if !std::thread::panicking() {
            let prev = self.previous.clone();
            // Hand panics back to whoever handled them before us.
            std::panic::set_hook(Box::new(move |info| prev(info)));
        }
    }
}
