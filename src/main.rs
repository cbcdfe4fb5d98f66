//! The `tutor` binary: parse the command line, dispatch, map errors to an exit code.
//!
//! Exit codes follow ripgrep: 0 when all went well, 1 when `check` found problems or a cell of
//! `exec` failed, 2 on an error (bad arguments, a file that cannot be read), 128 + N when the
//! notebook was ended by signal N. A closed pipe (`tutor list | head -1`) ends quietly with 0.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context as _};
use clap::Parser;

use tutor::cli::{Cli, Command};
use tutor::course::lesson::{self, Lesson};
use tutor::course::progress::{self, Store};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `println!` that returns an error instead of panicking when stdout is closed.
macro_rules! say {
    ($($arg:tt)*) => {
        writeln!(std::io::stdout(), $($arg)*)?
    };
}

/// The exit code of an error (ripgrep's convention).
const ERROR: u8 = 2;
/// The exit code of "`check` found problems" or "a cell failed".
const FINDINGS: u8 = 1;

/// Whether `e` comes from writing to a pipe whose reader has gone.
fn broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

fn main() -> ExitCode {
    // `TUTOR_FRAME_TRACE`'s first-frame time counts from here.
    tutor::notebook::trace::mark_process_start();
    // No allocator options are set here: mimalloc 3 reads them when the process loads, before
    // `main`. Its default already keeps freed pages for a second, so each training step reuses
    // the last one's (`MIMALLOC_PURGE_DELAY=-1` set from outside cuts the page faults of 80
    // U-Net steps from 3,352 to 331 and leaves the step time as it was).
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // Help and version go to stdout with 0; a bad command line is an error.
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(ERROR)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    // Lessons keep per-learner files (a runs table, a checkpoint) under the learner's name.
    if let Some(name) = &cli.learner {
        std::env::set_var(tutor::util::home::LEARNER_ENV, name);
    }
    match run(cli) {
        Ok(code) => code,
        Err(e) if broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(ERROR)
        }
    }
}

/// The lessons folder: `--lessons`/`$TUTOR_LESSONS`, else `./lessons`, else the one beside the
/// sources this binary was built from.
fn lessons_dir(cli: &Cli) -> anyhow::Result<PathBuf> {
    if let Some(d) = &cli.lessons {
        if !d.is_dir() {
            bail!("the lessons folder `{}` does not exist", d.display());
        }
        return Ok(d.clone());
    }
    let candidates = [
        PathBuf::from("lessons"),
        Path::new(env!("CARGO_MANIFEST_DIR")).join("lessons"),
    ];
    candidates
        .into_iter()
        .find(|d| d.join("lesson-1.toml").is_file() || d.is_dir())
        .context("no lessons folder found: pass --lessons DIR or set TUTOR_LESSONS")
}

/// The built-in course's folder: `./lessons`, else the one beside the sources.
fn builtin_dir() -> Option<PathBuf> {
    [
        PathBuf::from("lessons"),
        Path::new(env!("CARGO_MANIFEST_DIR")).join("lessons"),
    ]
    .into_iter()
    .find(|d| d.is_dir())
}

/// The lessons to show: the pack's (`--lessons`) added to the built-in course, a pack lesson
/// replacing the built-in one with its number or id; the pack alone with `--no-builtin`; the
/// built-in course when there is no pack.
fn course(cli: &Cli) -> anyhow::Result<Vec<Lesson>> {
    let dir = lessons_dir(cli)?;
    let mut lessons = load_lessons(&dir)?;
    if cli.lessons.is_none() || cli.no_builtin {
        return Ok(lessons);
    }
    let Some(builtin) = builtin_dir() else {
        return Ok(lessons);
    };
    let same = |a: &Path, b: &Path| matches!((a.canonicalize(), b.canonicalize()), (Ok(a), Ok(b)) if a == b);
    if same(&builtin, &dir) {
        return Ok(lessons);
    }
    // The built-in course is not the user's to fix: its problems are `check`'s business.
    let (more, _) = lesson::load_dir(&builtin)?;
    for l in more {
        if !lessons.iter().any(|p| p.number == l.number || p.id == l.id) {
            lessons.push(l);
        }
    }
    lessons.sort_by_key(|l| l.number);
    Ok(lessons)
}

/// Loads every lesson. A broken file is reported on stderr and left out, so one lesson with a
/// typo does not lock a class out of the others (`tutor check` lists every problem).
fn load_lessons(dir: &Path) -> anyhow::Result<Vec<Lesson>> {
    let (lessons, errors) = lesson::load_dir(dir)?;
    for e in &errors {
        let file =
            e.0.first()
                .map(|d| d.file.display().to_string())
                .unwrap_or_default();
        eprintln!(
            "warning: left out `{file}`, which has problems:\n{e}\n(run `tutor check` for details)"
        );
    }
    if lessons.is_empty() {
        bail!("no usable lesson files (*.toml) in `{}`", dir.display());
    }
    Ok(lessons)
}

fn pick<'a>(lessons: &'a [Lesson], key: &str) -> anyhow::Result<&'a Lesson> {
    lesson::find(lessons, key).with_context(|| {
        let names: Vec<String> = lessons
            .iter()
            .map(|l| format!("{} ({}, {})", l.number, l.id, l.short))
            .collect();
        format!("no lesson `{key}`; there are: {}", names.join(", "))
    })
}

fn open_store(cli: &Cli) -> anyhow::Result<(Store, Option<String>)> {
    let learner = cli
        .learner
        .clone()
        .unwrap_or_else(progress::default_learner);
    Store::open(&progress::default_dir()?, &learner)
}

/// Prints training progress as plain lines (no terminal needed): about every 5% of the
/// steps, with the time left, and every epoch's figures.
struct Printer {
    start: std::time::Instant,
    last: usize,
}

impl Printer {
    fn new() -> Self {
        Printer {
            start: std::time::Instant::now(),
            last: 0,
        }
    }
}

impl tutor::train::Observer for Printer {
    fn batch(&mut self, step: usize, total: usize, loss: f64) {
        let every = (total / 20).max(1);
        if step / every > self.last / every && step < total {
            let spent = self.start.elapsed().as_secs_f64();
            let left = spent / step as f64 * (total - step) as f64;
            let _ = writeln!(
                std::io::stdout(),
                "  step {step:>5}/{total} ({:>3.0}%)  loss {loss:.3}  about {left:.0} s left",
                100.0 * step as f64 / total as f64
            );
        }
        self.last = step;
    }

    fn epoch(&mut self, s: &tutor::train::EpochStats) {
        let _ = writeln!(
            std::io::stdout(),
            "epoch {:>2}: train loss {:.4}, validation loss {:.4}, validation accuracy {:.2}% ({:.1} s)",
            s.epoch,
            s.train_loss,
            s.val_loss,
            100.0 * s.val_metric("accuracy"),
            s.seconds
        );
    }
}

/// `1,28,28` (spaces, `x` and brackets allowed) as sizes.
fn parse_shape(text: &str) -> anyhow::Result<Vec<usize>> {
    let nums = tutor::util::parse::parse_numbers(text).context("not a list of sizes")?;
    nums.iter()
        .map(|&x| {
            if x >= 1.0 && x.fract() == 0.0 {
                Ok(x as usize)
            } else {
                bail!("`{x}` is not a positive whole number")
            }
        })
        .collect()
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match &cli.command {
        Command::List => {
            let lessons = course(&cli)?;
            let (store, warning) = open_store(&cli)?;
            if let Some(w) = warning {
                eprintln!("warning: {w}");
            }
            for l in &lessons {
                let s = store.data.summary(l);
                say!(
                    "{:>2}  {:<10} {:<16} {:<44} {:>3}%  {}/{} solved",
                    l.number,
                    l.id,
                    l.short,
                    l.title,
                    (s.fraction() * 100.0).round(),
                    s.solved,
                    s.tasks
                );
                say!("    {}", l.summary);
            }
            say!("\nprogress: {}", store.path().display());
            Ok(ExitCode::SUCCESS)
        }
        Command::Check { paths } => {
            let paths = if paths.is_empty() {
                vec![lessons_dir(&cli)?]
            } else {
                paths.clone()
            };
            let diags = tutor::course::check::check_paths(&paths);
            for d in &diags {
                say!("{d}");
            }
            if diags.is_empty() {
                say!("ok: no problems found");
                Ok(ExitCode::SUCCESS)
            } else {
                say!("{} problem(s)", diags.len());
                Ok(ExitCode::from(FINDINGS))
            }
        }
        Command::Exec {
            lesson,
            out,
            answers,
        } => {
            let lessons = course(&cli)?;
            let lesson = pick(&lessons, lesson)?;
            let opts = tutor::export::ExecOptions {
                out: out.clone(),
                answers: *answers,
                learner: cli
                    .learner
                    .clone()
                    .unwrap_or_else(progress::default_learner),
            };
            let results = tutor::export::exec(lesson, &opts)?;
            Ok(if results.cells.iter().all(|c| c.ok) {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(FINDINGS)
            })
        }
        Command::Run { lesson } => {
            let lessons = course(&cli)?;
            let start = pick(&lessons, lesson)?.number;
            let start = lessons.iter().position(|l| l.number == start).unwrap_or(0);
            let (store, warning) = open_store(&cli)?;
            match tutor::notebook::terminal::run(lessons, start, store, warning)? {
                tutor::notebook::terminal::Ended::Quit => Ok(ExitCode::SUCCESS),
                // The shell's convention for "ended by signal N".
                tutor::notebook::terminal::Ended::Signal(n) => {
                    Ok(ExitCode::from(u8::try_from(128 + n).unwrap_or(255)))
                }
            }
        }
        Command::Release { pack, out, force } => Ok(ExitCode::from(tutor::classroom::release(
            pack, out, *force,
        )?)),
        Command::Answer {
            lesson,
            cell,
            value,
        } => {
            let lessons = course(&cli)?;
            let lesson = pick(&lessons, lesson)?;
            let (mut store, warning) = open_store(&cli)?;
            if let Some(w) = warning {
                eprintln!("warning: {w}");
            }
            let code = tutor::classroom::answer(lesson, cell, value.as_deref(), &mut store)?;
            Ok(ExitCode::from(code))
        }
        Command::Submit { target, out } => {
            let dir = Path::new(target);
            let dir = if dir.is_dir() {
                dir.to_path_buf()
            } else {
                let lessons = course(&cli)?;
                pick(&lessons, target)?.dir().to_path_buf()
            };
            let (mut store, warning) = open_store(&cli)?;
            if let Some(w) = warning {
                eprintln!("warning: {w}");
            }
            Ok(ExitCode::from(tutor::classroom::submit(
                &dir, out, &mut store,
            )?))
        }
        Command::Grade {
            key,
            out,
            submissions,
            time_limit,
        } => Ok(ExitCode::from(tutor::classroom::grade(
            key,
            out,
            submissions,
            *time_limit,
        )?)),
        Command::Pretrain {
            net,
            out,
            source,
            labels,
            epochs,
            seed,
            lr,
            force,
        } => {
            for f in [
                tutor::experiments::transfer::pretrain::META_FILE,
                tutor::experiments::transfer::pretrain::WEIGHTS_FILE,
            ] {
                let path = out.join(f);
                if path.exists() && !*force {
                    bail!(
                        "`{}` exists: pass --force to replace it, or --out DIR to write elsewhere",
                        path.display()
                    );
                }
            }
            if *epochs == 0 {
                bail!("--epochs must be at least 1");
            }
            if !(*lr > 0.0 && *lr < 1.0) {
                bail!("--lr must be between 0 and 1, got {lr}");
            }
            let labels = labels
                .split(',')
                .map(|l| {
                    l.trim()
                        .parse::<u8>()
                        .ok()
                        .filter(|&l| l < 10)
                        .with_context(|| format!("--labels: `{l}` is not a label 0 to 9"))
                })
                .collect::<anyhow::Result<Vec<u8>>>()?;
            let cfg = tutor::experiments::transfer::pretrain::PretrainConfig {
                net: net.clone(),
                epochs: *epochs,
                seed: *seed,
                lr: *lr,
                source: source.clone(),
                labels,
                train_images: None,
            };
            say!(
                "Pretraining `{}` on {source} (labels {}): {epochs} epochs, seed {seed}, Adam lr {lr:e} (cosine).",
                net.display(),
                cfg.labels.iter().map(|l| l.to_string()).collect::<Vec<_>>().join(",")
            );
            let mut printer = Printer::new();
            let (trained, meta, _) =
                tutor::experiments::transfer::pretrain::pretrain(&cfg, &mut printer)?;
            let path = tutor::experiments::transfer::pretrain::save(&trained, &meta, out)?;
            say!(
                "source test accuracy {:.2}% (best epoch {} of {}, validation {:.2}%), {:.1} s",
                100.0 * meta.source_test_accuracy,
                meta.best_epoch,
                meta.epochs,
                100.0 * meta.source_val_accuracy,
                meta.train_seconds
            );
            say!(
                "wrote {} and {}",
                path.display(),
                out.join(&meta.weights).display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench {
            json,
            steps,
            model,
            no_full,
        } => {
            let steps = (*steps).max(1);
            let results = tutor::bench::run(model.as_deref(), steps, !*no_full, |line| {
                if !*json {
                    // A closed pipe shows up again, as an error, at the next `say!`.
                    let _ = writeln!(std::io::stdout(), "{line}");
                }
            })?;
            if *json {
                say!("{}", tutor::bench::to_json(&results, steps));
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Inspect { net, input } => {
            let input =
                match input {
                    None => None,
                    Some(text) => Some(parse_shape(text).with_context(|| {
                        format!("--input `{text}`: expected sizes like 1,28,28")
                    })?),
                };
            // Several files (`tutor inspect nets/*.toml`): each under its name; one that does
            // not load, fit or fit in memory is reported and the rest still shown.
            let mut failed = false;
            for (i, file) in net.iter().enumerate() {
                if net.len() > 1 {
                    say!("{}== {}", if i > 0 { "\n" } else { "" }, file.display());
                }
                let summary = tutor::nn::spec::NetSpec::load(file)
                    .map_err(anyhow::Error::from)
                    .and_then(|spec| Ok(spec.summary(input.as_deref())?));
                let checked = summary.and_then(|s| {
                    say!("{}", s.to_string().trim_end());
                    Ok(s.check_memory(tutor::nn::summary::DEFAULT_BATCH)?)
                });
                match checked {
                    Ok(_) => {}
                    Err(e) if net.len() == 1 => return Err(e),
                    Err(e) => {
                        eprintln!("error: {e:#}");
                        failed = true;
                    }
                }
            }
            Ok(if failed {
                ExitCode::from(ERROR)
            } else {
                ExitCode::SUCCESS
            })
        }
    }
}
