//! What an experiment shows the learner: text, tables, pictures, plots and matrices.
//!
//! These are plain data. The TUI renders them in a cell (`ui`), the headless runner writes
//! them as text and PNG files (`headless`, `render`); experiments never know which.

use image::RgbImage;

/// One thing an experiment shows. A run's outputs are an ordered list of these, each under a
/// key, so a long run can replace a plot in place as it grows (see the experiments' `Ctx`).
#[derive(Debug, Clone)]
pub enum Output {
    /// Preformatted text, shown in a monospace block.
    Text(String),
    /// A table with a header row.
    Table(Table),
    /// Pictures shown side by side, each with a caption.
    Pictures(Vec<Picture>),
    /// A line or point plot.
    Plot(Plot),
    /// A labelled matrix of numbers shown as a heat map (a confusion matrix, say).
    Matrix(Matrix),
    /// Data for people who want to recompute a figure with their own tools (a CSV of scores,
    /// masks as 8-bit PNGs): `tutor exec` writes it under its output folder, the notebook
    /// names it.
    File(DataFile),
}

/// A file a run produces, written by `tutor exec` at `path` inside its output folder.
#[derive(Debug, Clone, PartialEq)]
pub struct DataFile {
    /// Relative path with `/` separators, e.g. `anomaly-scores.csv` or
    /// `segmentation/pred-007.png`; no `..`, no leading `/`.
    pub path: String,
    /// One line for the learner: what it holds.
    pub summary: String,
    pub bytes: Vec<u8>,
}

impl DataFile {
    /// Whether `path` stays inside the output folder: relative, no `..`, no empty parts.
    pub fn path_is_safe(&self) -> bool {
        !self.path.is_empty()
            && !self.path.starts_with('/')
            && !self.path.contains('\\')
            && self
                .path
                .split('/')
                .all(|part| !part.is_empty() && part != "." && part != "..")
    }
}

/// A table with an optional title.
#[derive(Debug, Clone, Default)]
pub struct Table {
    pub title: Option<String>,
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

/// An image with its caption.
#[derive(Debug, Clone)]
pub struct Picture {
    pub caption: String,
    pub image: RgbImage,
}

/// How a series is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeriesStyle {
    Line,
    Points,
}

/// One named series of (x, y) points.
#[derive(Debug, Clone)]
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
    pub style: SeriesStyle,
}

/// A vertical marker at `x` with a label (a suggested learning rate, say).
#[derive(Debug, Clone)]
pub struct Mark {
    pub label: String,
    pub x: f64,
}

/// A plot. With `x_log` the x values are positive and drawn on a log10 axis.
#[derive(Debug, Clone, Default)]
pub struct Plot {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub x_log: bool,
    pub series: Vec<Series>,
    pub marks: Vec<Mark>,
    /// Fixed x range, when the plot should not rescale as it grows (epochs 1..=N, say).
    pub x_range: Option<(f64, f64)>,
}

/// A matrix with row and column labels, drawn as a heat map with the numbers in it.
#[derive(Debug, Clone, Default)]
pub struct Matrix {
    pub title: String,
    /// What the rows are (e.g. "true class").
    pub row_axis: String,
    /// What the columns are (e.g. "predicted class").
    pub col_axis: String,
    pub row_labels: Vec<String>,
    pub col_labels: Vec<String>,
    pub values: Vec<Vec<f64>>,
}

impl Plot {
    /// The (min, max) of x and y over every series, or None when there are no points.
    pub fn bounds(&self) -> Option<((f64, f64), (f64, f64))> {
        let mut pts = self
            .series
            .iter()
            .flat_map(|s| s.points.iter())
            .filter(|(x, y)| x.is_finite() && y.is_finite());
        let &(x0, y0) = pts.next()?;
        let (mut xr, mut yr) = ((x0, x0), (y0, y0));
        for &(x, y) in pts {
            xr = (xr.0.min(x), xr.1.max(x));
            yr = (yr.0.min(y), yr.1.max(y));
        }
        for m in &self.marks {
            if m.x.is_finite() {
                xr = (xr.0.min(m.x), xr.1.max(m.x));
            }
        }
        if let Some(r) = self.x_range {
            xr = r;
        }
        Some((xr, yr))
    }
}

/// Outputs in the order their keys first appeared; showing a key again replaces its output.
pub type Outputs = Vec<(String, Output)>;

/// Sets `key` to `output` in `outputs`: in place when the key exists (a growing curve), else
/// appended.
pub fn set(outputs: &mut Outputs, key: &str, output: Output) {
    match outputs.iter_mut().find(|(k, _)| k == key) {
        Some(slot) => slot.1 = output,
        None => outputs.push((key.to_string(), output)),
    }
}

impl Output {
    /// A short one-line description, for logs and the report's alt text.
    pub fn describe(&self) -> String {
        match self {
            Output::Text(t) => format!("text ({} lines)", t.lines().count()),
            Output::Table(t) => format!("table ({} rows)", t.rows.len()),
            Output::Pictures(p) => format!("{} picture(s)", p.len()),
            Output::Plot(p) => format!("plot: {}", p.title),
            Output::Matrix(m) => format!("matrix: {}", m.title),
            Output::File(f) => format!("file {} ({} bytes)", f.path, f.bytes.len()),
        }
    }
}
