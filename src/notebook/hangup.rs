//! Noticing that the terminal went away (its window closed, the SSH link dropped) when no
//! SIGHUP says so, e.g. when the shell that started the tutor got it instead.
//!
//! crossterm 0.29 spins at full speed on a hung-up terminal: every read returns 0 bytes and its
//! event loop reads again, forever, inside `poll` or `read`. So the notebook asks the kernel
//! first ([`hung_up`], before every wait for a key), and a watchdog thread ([`watch`]) turns a
//! hang-up into SIGHUP for the loop; should the loop be caught inside crossterm's spin anyway,
//! the watchdog ends the process a few seconds later (answers are saved when given, visits at
//! every pause), so a closed window never leaves a tutor burning a core.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// How long the loop has to end by itself after a hang-up before the watchdog ends it.
const GRACE: Duration = Duration::from_secs(3);

/// Whether standard input is a terminal that has hung up.
#[cfg(target_os = "linux")]
pub fn hung_up() -> bool {
    poll_hangup(Some(Duration::ZERO))
}

#[cfg(not(target_os = "linux"))]
pub fn hung_up() -> bool {
    false
}

/// Waits up to `timeout` (forever with `None`) for standard input to hang up.
#[cfg(target_os = "linux")]
fn poll_hangup(timeout: Option<Duration>) -> bool {
    use rustix::event::{poll, PollFd, PollFlags, Timespec};
    let stdin = std::io::stdin();
    // No events asked for: poll still reports a hang-up or an error on the descriptor.
    let mut fds = [PollFd::new(&stdin, PollFlags::empty())];
    let ts = timeout.map(|t| Timespec {
        tv_sec: t.as_secs() as _,
        tv_nsec: t.subsec_nanos() as _,
    });
    match poll(&mut fds, ts.as_ref()) {
        Ok(n) if n > 0 => fds[0]
            .revents()
            .intersects(PollFlags::HUP | PollFlags::ERR | PollFlags::NVAL),
        _ => false,
    }
}

/// Starts the watchdog: on a hang-up it stores SIGHUP in `signal` (if no signal came first)
/// for the loop to see, and ends the process if the loop has not ended it within a few
/// seconds.
#[cfg(target_os = "linux")]
pub fn watch(signal: Arc<AtomicUsize>) {
    let spawned = std::thread::Builder::new()
        .name("hangup-watch".into())
        .spawn(move || {
            while !poll_hangup(Some(Duration::from_secs(1))) {}
            let _ = signal.compare_exchange(
                0,
                signal_hook::consts::SIGHUP as usize,
                Ordering::SeqCst,
                Ordering::SeqCst,
            );
            std::thread::sleep(GRACE);
            std::process::exit(128 + signal_hook::consts::SIGHUP);
        });
    // Without the watchdog the notebook still works; the loop's own check remains.
    drop(spawned);
}

#[cfg(not(target_os = "linux"))]
pub fn watch(_signal: Arc<AtomicUsize>) {}
