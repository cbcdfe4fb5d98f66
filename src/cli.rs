//! The command line: `tutor list | run | exec | check | inspect | pretrain | bench`, and the
//! classroom's `release | answer | submit | grade`.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// A terminal notebook course on convolutional neural networks: every model trains live on
/// your machine.
#[derive(Debug, Parser)]
#[command(name = "tutor", version, about, long_about = None)]
pub struct Cli {
    /// The folder of lesson files (a teacher's own pack, say).
    #[arg(long, global = true, env = "TUTOR_LESSONS", value_name = "DIR")]
    pub lessons: Option<PathBuf>,

    /// Show only the `--lessons` folder's lessons; by default they are added to the built-in
    /// course (replacing a built-in lesson with the same number or id).
    #[arg(long, global = true)]
    pub no_builtin: bool,

    /// The learner's name: progress is kept per name and drill questions are drawn for it.
    #[arg(long, global = true, env = "TUTOR_LEARNER", value_name = "NAME")]
    pub learner: Option<String>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List the lessons with your progress.
    List,
    /// Open a lesson in the notebook (by number, id or short name), resuming where you left off.
    Run {
        /// e.g. `3`, `lesson-3` or `mlp-vs-cnn`.
        lesson: String,
    },
    /// Run a lesson top to bottom without a terminal; write PNGs, report.md and results.json.
    Exec {
        lesson: String,
        /// Where to write the outputs (created if missing).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Also print every quiz's answer and explanation (a teacher's key).
        #[arg(long)]
        answers: bool,
    },
    /// Check lesson files: form, ids, experiments and parameters, and every computed answer.
    Check {
        /// Lesson files or folders (default: the lessons folder).
        paths: Vec<PathBuf>,
    },
    /// Print each layer's output shape and parameter count for one or more network files.
    Inspect {
        /// One or more networks in the tutor's network format (see nets/README.md).
        #[arg(required = true, value_name = "NET.toml")]
        net: Vec<PathBuf>,
        /// The input shape C,H,W (default: the file's `input`).
        #[arg(long, value_name = "C,H,W")]
        input: Option<String>,
    },
    /// Train lesson 4's network on its source task and write its weights and metadata.
    Pretrain {
        /// The network to train (its backbone ends at the layer named `features`).
        #[arg(long, default_value = "nets/lesson4_cnn.toml", value_name = "NET.toml")]
        net: PathBuf,
        /// Where to write the weights and metadata.
        #[arg(long, default_value = "data/pretrained", value_name = "DIR")]
        out: PathBuf,
        /// The source dataset: `mnist` (digits) or `fashion` (clothing).
        #[arg(long, default_value = "mnist")]
        source: String,
        /// The source task's classes: labels of that dataset; the target task gets the rest.
        #[arg(long, default_value = "0,1,2,3,4", value_name = "L,L,...")]
        labels: String,
        /// Passes over the source training images.
        #[arg(long, default_value_t = 6)]
        epochs: usize,
        /// Seed of the weights, the split and the batches.
        #[arg(long, default_value_t = 4)]
        seed: u64,
        /// Adam's peak learning rate (a cosine schedule lowers it to a hundredth).
        #[arg(long, default_value_t = 2e-3)]
        lr: f64,
        /// Replace weights already in the output folder.
        #[arg(long)]
        force: bool,
    },
    /// Write the student copy of a lesson pack: graded cells lose their answers.
    Release {
        /// The teacher's pack: a folder with pack.toml and the lesson files.
        pack: PathBuf,
        /// The folder to write the student copy to.
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Write into a folder that is not empty.
        #[arg(long)]
        force: bool,
    },
    /// Answer a question or exercise without the notebook (checked the same way); without
    /// VALUE, show the question.
    Answer {
        /// e.g. `2` or `lesson-2`.
        lesson: String,
        /// The cell's id, e.g. `stride-drill`.
        cell: String,
        /// Your answer: a letter (or letters), a number, a shape, or an exercise's input
        /// (it may start with `-`: `tutor answer 1 kernel "-1 0 1; ..."`).
        #[arg(allow_hyphen_values = true)]
        value: Option<String>,
    },
    /// Hand in an assignment: your answers to a pack in one JSON file for your teacher.
    Submit {
        /// A lesson of the assignment (`1`, `lesson-1`) or the pack's folder.
        target: String,
        /// The file to write (or a folder to write it in).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Grade submissions against the teacher's pack: grades.csv and a feedback file each.
    Grade {
        /// The teacher's pack (with answers), as released.
        #[arg(long, value_name = "PACK")]
        key: PathBuf,
        /// Where to write grades.csv and feedback/.
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Submission files, or folders of them.
        #[arg(required = true, value_name = "SUBMISSION")]
        submissions: Vec<PathBuf>,
        /// Seconds an exercise's run may take before that cell is marked timed out.
        #[arg(long, default_value_t = 60, value_name = "SECONDS")]
        time_limit: u64,
    },
    /// Time every lesson model: a training step (median over many) and its full default
    /// training run (see bench/README.md for the PyTorch twins).
    Bench {
        /// Print the figures as JSON.
        #[arg(long)]
        json: bool,
        /// Timed steps per model (after 5 warm-up steps).
        #[arg(long, default_value_t = 60)]
        steps: usize,
        /// Only the models whose network file name contains this (e.g. `lesson3`).
        #[arg(long, value_name = "TEXT")]
        model: Option<String>,
        /// Time the steps only, not the full training runs (which take minutes).
        #[arg(long)]
        no_full: bool,
    },
}
