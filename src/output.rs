//! What an experiment shows the learner: text, tables, pictures, plots and matrices.
//!
//! These are plain data. The TUI renders them in a cell (`ui`), the headless runner writes
//! them as text and PNG files (`headless`, `render`); experiments never know which. They
//! serialize (the notebook keeps a lesson's last long runs on disk): pictures and file bytes
//! as hex, numbers that are not finite as `null`.

use image::RgbImage;
use serde::{Deserialize, Serialize};

/// One thing an experiment shows. A run's outputs are an ordered list of these, each under a
/// key, so a long run can replace a plot in place as it grows (see the experiments' `Ctx`).
#[derive(Debug, Clone, Serialize, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataFile {
    /// Relative path with `/` separators, e.g. `anomaly-scores.csv` or
    /// `segmentation/pred-007.png`; no `..`, no leading `/`.
    pub path: String,
    /// One line for the learner: what it holds.
    pub summary: String,
    #[serde(with = "hex_bytes")]
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
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Table {
    pub title: Option<String>,
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

/// An image with its caption.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Picture {
    pub caption: String,
    #[serde(with = "rgb_image")]
    pub image: RgbImage,
}

/// How a series is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SeriesStyle {
    Line,
    Points,
}

/// One named series of (x, y) points.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Series {
    pub name: String,
    #[serde(with = "nan_pairs")]
    pub points: Vec<(f64, f64)>,
    pub style: SeriesStyle,
    /// The series' own colour (RGB), when it stands for something the lesson draws in that
    /// colour elsewhere (a class in the pictures, say); otherwise the renderer's palette gives
    /// one by position.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub colour: Option<[u8; 3]>,
}

/// A vertical marker at `x` with a label (a suggested learning rate, say).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Mark {
    pub label: String,
    #[serde(with = "nan_f64")]
    pub x: f64,
}

/// A plot. With `x_log` the x values are positive and drawn on a log10 axis.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
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
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Matrix {
    pub title: String,
    /// What the rows are (e.g. "true class").
    pub row_axis: String,
    /// What the columns are (e.g. "predicted class").
    pub col_axis: String,
    pub row_labels: Vec<String>,
    pub col_labels: Vec<String>,
    #[serde(with = "nan_rows")]
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

/// Bytes as one hex string (a third the size of a JSON array of numbers).
pub mod hex_bytes {
    use serde::{de::Error as _, Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        let mut hex = String::with_capacity(bytes.len() * 2);
        for b in bytes {
            hex.push_str(&format!("{b:02x}"));
        }
        s.serialize_str(&hex)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let hex = String::deserialize(d)?;
        if hex.len() % 2 != 0 || !hex.is_ascii() {
            return Err(D::Error::custom("not a hex string"));
        }
        (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).map_err(D::Error::custom))
            .collect()
    }
}

/// An RGB image as its size and hex pixels.
mod rgb_image {
    use image::RgbImage;
    use serde::{de::Error as _, Deserialize, Deserializer, Serialize, Serializer};

    #[derive(Serialize, Deserialize)]
    struct Raw {
        width: u32,
        height: u32,
        #[serde(with = "super::hex_bytes")]
        pixels: Vec<u8>,
    }

    pub fn serialize<S: Serializer>(img: &RgbImage, s: S) -> Result<S::Ok, S::Error> {
        Raw {
            width: img.width(),
            height: img.height(),
            pixels: img.as_raw().clone(),
        }
        .serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<RgbImage, D::Error> {
        let raw = Raw::deserialize(d)?;
        RgbImage::from_raw(raw.width, raw.height, raw.pixels)
            .ok_or_else(|| D::Error::custom("the pixels do not fill the image"))
    }
}

/// A number that may be NaN or infinite (saved as `null`, read back as NaN).
mod nan_f64 {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(x: &f64, s: S) -> Result<S::Ok, S::Error> {
        if x.is_finite() {
            s.serialize_some(x)
        } else {
            s.serialize_none()
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
    }
}

/// Points of a series; the non-finite ones are never drawn and are not saved.
mod nan_pairs {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(pts: &[(f64, f64)], s: S) -> Result<S::Ok, S::Error> {
        let finite: Vec<(f64, f64)> = pts
            .iter()
            .copied()
            .filter(|(x, y)| x.is_finite() && y.is_finite())
            .collect();
        finite.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<(f64, f64)>, D::Error> {
        Vec::deserialize(d)
    }
}

/// Matrix rows whose cells may be NaN (saved as `null`).
mod nan_rows {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(rows: &[Vec<f64>], s: S) -> Result<S::Ok, S::Error> {
        let rows: Vec<Vec<Option<f64>>> = rows
            .iter()
            .map(|r| r.iter().map(|x| x.is_finite().then_some(*x)).collect())
            .collect();
        rows.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Vec<f64>>, D::Error> {
        let rows = Vec::<Vec<Option<f64>>>::deserialize(d)?;
        Ok(rows
            .into_iter()
            .map(|r| r.into_iter().map(|x| x.unwrap_or(f64::NAN)).collect())
            .collect())
    }
}

#[cfg(test)]
mod serde_tests {
    use super::*;

    #[test]
    fn outputs_survive_a_round_trip_through_json() {
        let outputs: Outputs = vec![
            (
                "pic".into(),
                Output::Pictures(vec![Picture {
                    caption: "two pixels".into(),
                    image: RgbImage::from_raw(2, 1, vec![0, 127, 255, 1, 2, 3]).unwrap(),
                }]),
            ),
            (
                "plot".into(),
                Output::Plot(Plot {
                    title: "loss".into(),
                    series: vec![Series {
                        colour: None,
                        name: "train".into(),
                        points: vec![(1.0, 0.5), (2.0, f64::NAN)],
                        style: SeriesStyle::Line,
                    }],
                    marks: vec![Mark {
                        label: "none".into(),
                        x: f64::NAN,
                    }],
                    ..Plot::default()
                }),
            ),
            (
                "m".into(),
                Output::Matrix(Matrix {
                    values: vec![vec![1.0, f64::NAN]],
                    ..Matrix::default()
                }),
            ),
        ];
        let json = serde_json::to_string(&outputs).unwrap();
        assert!(json.contains("\"007fff010203\""), "{json}");
        let back: Outputs = serde_json::from_str(&json).unwrap();
        let Output::Pictures(p) = &back[0].1 else {
            panic!()
        };
        assert_eq!(p[0].image.as_raw(), &[0, 127, 255, 1, 2, 3]);
        let Output::Plot(plot) = &back[1].1 else {
            panic!()
        };
        assert_eq!(plot.series[0].points, [(1.0, 0.5)]);
        assert!(plot.marks[0].x.is_nan());
        let Output::Matrix(m) = &back[2].1 else {
            panic!()
        };
        assert_eq!(m.values[0][0], 1.0);
        assert!(m.values[0][1].is_nan());
    }
}
