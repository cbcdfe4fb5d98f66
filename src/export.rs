//! `tutor exec`: run a lesson top to bottom without a terminal.
//!
//! Every run cell is executed with a context that prints text outputs to stdout, reports
//! progress on stderr, and keeps the outputs; pictures, plots and matrices become PNG files.
//! At the end `report.md` (the lesson's prose, outputs and links to the PNGs, like
//! `nbconvert --execute`) and `results.json` (per-cell status, time and metrics) are written.

pub mod png;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use serde::Serialize;

use crate::course::exercise;
use crate::course::lesson::{CellBody, Lesson};
use crate::course::quiz;
use crate::experiments::{Ctx, Value};
use crate::output::Output;

/// Options for one headless run.
#[derive(Debug, Clone)]
pub struct ExecOptions {
    pub out: PathBuf,
    /// Print and report every quiz's answer and explanation.
    pub answers: bool,
    /// Seeds drill questions (as in the TUI).
    pub learner: String,
}

/// `results.json`.
#[derive(Debug, Serialize)]
pub struct Results {
    pub lesson: String,
    pub seconds: f64,
    pub cells: Vec<CellResult>,
}

/// One cell's entry in `results.json`.
#[derive(Debug, Serialize)]
pub struct CellResult {
    pub id: String,
    pub kind: String,
    pub ok: bool,
    pub seconds: f64,
    pub metrics: BTreeMap<String, f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The context a headless run reports through: progress lines on stderr, with the time left.
pub struct HeadlessCtx {
    outputs: Vec<(String, Output)>,
    metrics: BTreeMap<String, f64>,
    last_progress: Option<Instant>,
    /// The first progress report (time, units done): the rate is measured from it, so the
    /// set-up before training (loading data, a range test) does not inflate the ETA.
    first_progress: Option<(Instant, usize)>,
    label: String,
}

impl HeadlessCtx {
    /// A context whose progress lines start with `[label]`.
    pub fn new(label: &str) -> Self {
        HeadlessCtx {
            outputs: Vec::new(),
            metrics: BTreeMap::new(),
            last_progress: None,
            first_progress: None,
            label: label.to_string(),
        }
    }

    /// The metrics the run reported.
    pub fn metrics(&self) -> &BTreeMap<String, f64> {
        &self.metrics
    }
}

impl Ctx for HeadlessCtx {
    fn show(&mut self, key: &str, output: Output) {
        crate::output::set(&mut self.outputs, key, output);
    }

    fn metric(&mut self, name: &str, value: f64) {
        self.metrics.insert(name.to_string(), value);
    }

    fn progress(&mut self, done: usize, total: usize, what: &str) {
        // One line every two seconds at most: enough to see a run is alive in CI logs.
        let now = Instant::now();
        if self
            .last_progress
            .is_some_and(|t| now - t < Duration::from_secs(2))
            && done < total
        {
            return;
        }
        self.last_progress = Some(now);
        let (t0, done0) = *self.first_progress.get_or_insert((now, done));
        let eta = match eta_seconds(now - t0, done - done0.min(done), total - done.min(total)) {
            Some(s) => format!(", about {s:.0} s left"),
            None => String::new(),
        };
        eprintln!(
            "  [{}] {what}: {done}/{total} ({:.0}%){eta}",
            self.label,
            100.0 * done as f64 / total.max(1) as f64
        );
    }

    fn cancelled(&self) -> bool {
        false
    }
}

/// Seconds left at the rate `done` units took `elapsed`; None before any unit was timed or
/// when nothing is left.
fn eta_seconds(elapsed: Duration, done: usize, left: usize) -> Option<f64> {
    (done > 0 && left > 0).then(|| elapsed.as_secs_f64() / done as f64 * left as f64)
}

/// Runs `lesson` headless. Returns the results; `Results::cells[..].ok` tells if all passed.
pub fn exec(lesson: &Lesson, opts: &ExecOptions) -> anyhow::Result<Results> {
    std::fs::create_dir_all(&opts.out)
        .with_context(|| format!("cannot create `{}`", opts.out.display()))?;
    let t0 = Instant::now();
    let mut report = format!("# {} {}: {}\n\n", "Lesson", lesson.number, lesson.title);
    let _ = writeln!(report, "_{}_\n", lesson.summary);
    let mut cells = Vec::new();
    // Lesson text may hold escape codes; the terminal gets none of them (the TUI draws none).
    let mut stdout = crate::util::controls::Stripped(std::io::stdout().lock());
    let _ = writeln!(stdout, "# Lesson {}: {}", lesson.number, lesson.title);
    for cell in &lesson.cells {
        let c0 = Instant::now();
        let mut result = CellResult {
            id: cell.id.clone(),
            kind: cell.body.kind().to_string(),
            ok: true,
            seconds: 0.0,
            metrics: BTreeMap::new(),
            error: None,
        };
        match &cell.body {
            CellBody::Text(t) => {
                report.push_str(t.trim());
                report.push_str("\n\n");
            }
            CellBody::Code { caption, panes } => {
                if !caption.is_empty() {
                    let _ = writeln!(report, "**{caption}**\n");
                }
                for p in panes {
                    let _ = writeln!(
                        report,
                        "_{}_\n\n```{}\n{}\n```\n",
                        p.title,
                        p.lang,
                        p.code.trim_end()
                    );
                }
            }
            CellBody::Run(run) => {
                let _ = writeln!(stdout, "\n== run `{}` ({})", cell.id, run.experiment.name);
                if !run.caption.is_empty() {
                    let _ = writeln!(report, "**{}**\n", run.caption);
                }
                let outcome = run_experiment(run.experiment, &run.params, &cell.id);
                finish_run(
                    outcome,
                    &cell.id,
                    opts,
                    &mut report,
                    &mut stdout,
                    &mut result,
                )?;
            }
            CellBody::Quiz(q) => {
                let lp_round = 0;
                let seed = quiz::seed(&opts.learner, &lesson.id, &cell.id, lp_round);
                match quiz::draw(q, seed, lesson.dir()) {
                    Ok(draw) => {
                        let text = quiz::question_text(q, &draw);
                        let _ = writeln!(report, "> **Question ({}).** {text}\n>", q.kind.name());
                        for line in quiz::option_lines(q, seed) {
                            let _ = writeln!(report, "> - {}", line.trim_start());
                        }
                        report.push('\n');
                        if opts.answers && q.held_back {
                            let _ = writeln!(
                                stdout,
                                "\n== quiz `{}`: {text}\n   answer: held back (graded by your teacher)",
                                cell.id
                            );
                        } else if opts.answers {
                            let ans = quiz::answer_text(q, &draw, lesson.dir(), seed);
                            let _ = writeln!(
                                stdout,
                                "\n== quiz `{}`: {text}\n   answer: {ans}",
                                cell.id
                            );
                            let why = quiz::explanation_text(q, &draw, lesson.dir(), seed);
                            if !why.is_empty() {
                                let _ = writeln!(stdout, "   why: {why}");
                            }
                            let _ = writeln!(report, "**Answer:** {ans}\n");
                            if !why.is_empty() {
                                let _ = writeln!(report, "{why}\n");
                            }
                        }
                        if let Ok(quiz::Expected::Number(x)) =
                            quiz::expected(q, &draw, lesson.dir(), seed)
                        {
                            // A computed answer is a figure the lesson states: keep it.
                            if opts.answers {
                                result.metrics.insert("answer".into(), x);
                            }
                        }
                    }
                    Err(e) => {
                        result.ok = false;
                        result.error = Some(e.clone());
                        let _ = writeln!(stdout, "\n== quiz `{}` FAILED: {e}", cell.id);
                    }
                }
            }
            CellBody::Exercise(ex) => {
                let _ = writeln!(report, "> **Exercise.** {}\n", ex.prompt);
                for g in &ex.goals {
                    let _ = writeln!(report, "> - goal: {} ({g})", g.text);
                }
                report.push('\n');
                match &ex.solution {
                    None => {
                        let why = if ex.held_back {
                            "held back (graded by your teacher)"
                        } else {
                            "no solution given"
                        };
                        let _ = writeln!(stdout, "\n== exercise `{}`: {why}, not run", cell.id);
                    }
                    Some(sol) => {
                        let mut ctx = HeadlessCtx::new(&cell.id);
                        let outcome = exercise::run(ex, sol, &mut ctx).map(|()| ctx);
                        if opts.answers {
                            let _ = writeln!(
                                stdout,
                                "\n== exercise `{}` with the key's input `{sol}`",
                                cell.id
                            );
                            let _ = writeln!(report, "Run with the solution `{sol}`:\n");
                            finish_run(
                                outcome,
                                &cell.id,
                                opts,
                                &mut report,
                                &mut stdout,
                                &mut result,
                            )?;
                        } else {
                            // A handout: the key's input is run (the lesson is checked) but
                            // neither it nor what it produces is shown.
                            let _ = writeln!(
                                stdout,
                                "\n== exercise `{}`: the key's solution is run but not shown \
                                 (--answers shows it)",
                                cell.id
                            );
                            keep_metrics(outcome, &mut stdout, &mut result);
                        }
                        if result.ok {
                            let failed: Vec<String> =
                                exercise::check_goals(&ex.goals, &result.metrics)
                                    .iter()
                                    .filter(|g| !g.met)
                                    .map(|g| g.goal.to_string())
                                    .collect();
                            if !failed.is_empty() {
                                result.ok = false;
                                let msg = format!("solution misses: {}", failed.join("; "));
                                let _ = writeln!(stdout, "   FAILED: {msg}");
                                result.error = Some(msg);
                            } else {
                                let _ = writeln!(stdout, "   every goal met");
                                let _ = writeln!(report, "Every goal is met.\n");
                            }
                        }
                    }
                }
            }
        }
        result.seconds = c0.elapsed().as_secs_f64();
        cells.push(result);
    }
    let results = Results {
        lesson: lesson.id.clone(),
        seconds: t0.elapsed().as_secs_f64(),
        cells,
    };
    let failed = results.cells.iter().filter(|c| !c.ok).count();
    let _ = writeln!(
        report,
        "---\n_Run by `tutor exec` in {:.1} s; {} cell(s), {failed} failed._",
        results.seconds,
        results.cells.len()
    );
    let report = crate::util::controls::strip(&report);
    crate::util::atomic::write_atomic(&opts.out.join("report.md"), report.as_bytes())?;
    let json = serde_json::to_string_pretty(&results)?;
    crate::util::atomic::write_atomic(&opts.out.join("results.json"), json.as_bytes())?;
    let _ = writeln!(
        stdout,
        "\n{} cells, {failed} failed, {:.1} s; wrote {}",
        results.cells.len(),
        results.seconds,
        opts.out.join("report.md").display()
    );
    Ok(results)
}

type Outcome = anyhow::Result<HeadlessCtx>;

fn run_experiment(
    exp: &'static crate::experiments::Experiment,
    given: &BTreeMap<String, Value>,
    label: &str,
) -> Outcome {
    let params = exp.params_from(given)?;
    let mut ctx = HeadlessCtx::new(label);
    exp.call(&params, &mut ctx)?;
    Ok(ctx)
}

/// Prints and reports a run's outputs, writes its PNGs and fills the cell's result.
fn finish_run(
    outcome: Outcome,
    cell_id: &str,
    opts: &ExecOptions,
    report: &mut String,
    stdout: &mut impl std::io::Write,
    result: &mut CellResult,
) -> anyhow::Result<()> {
    let ctx = match outcome {
        Ok(ctx) => ctx,
        Err(e) => {
            result.ok = false;
            result.error = Some(format!("{e:#}"));
            let _ = writeln!(stdout, "   FAILED: {e:#}");
            let _ = writeln!(report, "**This cell failed:** {e:#}\n");
            return Ok(());
        }
    };
    for (key, out) in &ctx.outputs {
        match out {
            Output::Text(t) => {
                let _ = writeln!(stdout, "{}", t.trim_end());
                let _ = writeln!(report, "```text\n{}\n```\n", t.trim_end());
            }
            Output::Table(t) => {
                let _ = writeln!(stdout, "{}", png::table_text(t).trim_end());
                let _ = writeln!(report, "{}\n", png::table_markdown(t).trim_end());
            }
            Output::Pictures(_) | Output::Plot(_) | Output::Matrix(_) => {
                let file = format!("{cell_id}-{}.png", slug(key));
                let img = match out {
                    Output::Pictures(p) => png::pictures_png(p, 160)?,
                    Output::Plot(p) => png::plot_png(p, 900, 560)?,
                    Output::Matrix(m) => png::matrix_png(m, 44)?,
                    _ => unreachable!("matched above"),
                };
                let path = opts.out.join(&file);
                png::save_png(&img, &path)?;
                let _ = writeln!(stdout, "[{}] -> {}", out.describe(), path.display());
                let _ = writeln!(report, "![{}]({file})\n", out.describe());
            }
            Output::File(f) => {
                anyhow::ensure!(
                    f.path_is_safe(),
                    "the file `{}` would be written outside the output folder",
                    f.path
                );
                let path = opts.out.join(&f.path);
                crate::util::atomic::write_atomic(&path, &f.bytes)?;
                let _ = writeln!(stdout, "[{}] -> {}", out.describe(), path.display());
                let _ = writeln!(report, "[{}]({}): {}\n", f.path, f.path, f.summary);
            }
        }
    }
    if !ctx.metrics.is_empty() {
        let line: Vec<String> = ctx
            .metrics
            .iter()
            .map(|(k, v)| format!("{k} = {}", quiz::format_number(*v)))
            .collect();
        let _ = writeln!(stdout, "   metrics: {}", line.join(", "));
    }
    result.metrics = ctx.metrics;
    Ok(())
}

/// Fills the cell's result from a run whose outputs are not shown.
fn keep_metrics(outcome: Outcome, stdout: &mut impl std::io::Write, result: &mut CellResult) {
    match outcome {
        Ok(ctx) => result.metrics = ctx.metrics,
        Err(e) => {
            result.ok = false;
            result.error = Some(format!("{e:#}"));
            let _ = writeln!(stdout, "   FAILED: {e:#}");
        }
    }
}

/// A file-name-safe version of an output key.
fn slug(key: &str) -> String {
    key.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 12, item 16: the ETA is measured from the first progress report, not from the
    /// start of the cell, and is not guessed before a unit has been timed.
    #[test]
    fn eta_needs_a_timed_unit() {
        assert_eq!(eta_seconds(Duration::from_secs(9), 0, 10), None);
        assert_eq!(eta_seconds(Duration::from_secs(4), 2, 0), None);
        assert_eq!(eta_seconds(Duration::from_secs(4), 2, 8), Some(16.0));
    }
}
