//! Writes sample PNGs of every kind of output to look at by eye after changing `render`:
//! `cargo test --test render_samples -- --ignored`, then open the files in
//! `$TMPDIR/tutor-render-samples/`. Ignored by default: it checks nothing a machine can judge.

use std::path::PathBuf;

use image::{Rgb, RgbImage};
use tutor::export::png::{matrix_png, pictures_png, plot_png, save_png};
use tutor::output::{Mark, Matrix, Picture, Plot, Series, SeriesStyle};

fn out_dir() -> PathBuf {
    let dir = std::env::temp_dir().join("tutor-render-samples");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Train and validation loss over 10 epochs, validation flattening out as it overfits.
pub fn loss_curves() -> Plot {
    let train = (1..=10)
        .map(|e| (f64::from(e), 2.3 * (-0.35 * f64::from(e)).exp() + 0.05))
        .collect();
    let val = (1..=10)
        .map(|e| {
            let e = f64::from(e);
            (
                e,
                2.2 * (-0.4 * e).exp() + 0.18 + 0.012 * (e - 5.0).max(0.0).powi(2),
            )
        })
        .collect();
    Plot {
        title: "Loss per epoch".into(),
        x_label: "epoch".into(),
        y_label: "cross-entropy loss".into(),
        x_log: false,
        series: vec![
            Series {
                colour: None,
                name: "train".into(),
                points: train,
                style: SeriesStyle::Line,
            },
            Series {
                colour: None,
                name: "validation".into(),
                points: val,
                style: SeriesStyle::Line,
            },
        ],
        marks: vec![],
        x_range: Some((1.0, 10.0)),
    }
}

/// A learning-rate finder sweep: flat, a dip, then the loss blowing up (clipped by the caller).
pub fn lr_finder() -> Plot {
    let points: Vec<(f64, f64)> = (0..100)
        .map(|i| {
            let lr = 10f64.powf(-7.0 + 8.0 * f64::from(i) / 99.0);
            let l = lr.log10();
            let loss = 2.3 - 1.4 / (1.0 + (-(l + 3.5) * 2.0).exp())
                + 0.08 * (l * 7.0).sin().abs()
                + (l + 1.0).max(0.0).powi(2) * 1.5;
            (lr, loss.min(4.6))
        })
        .collect();
    Plot {
        title: "Learning-rate finder".into(),
        x_label: "learning rate".into(),
        y_label: "loss".into(),
        x_log: true,
        series: vec![Series {
            colour: None,
            name: "loss".into(),
            points,
            style: SeriesStyle::Line,
        }],
        marks: vec![Mark {
            label: "valley 3.2e-3".into(),
            x: 3.2e-3,
        }],
        x_range: None,
    }
}

pub fn confusion() -> Matrix {
    let names = [
        "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
    ];
    let values = (0..10)
        .map(|i| {
            (0..10)
                .map(|j| {
                    if i == j {
                        f64::from(900 + (i * 37 % 90) as u32)
                    } else {
                        f64::from(((i * 7 + j * 13) % 23) as u32 / 3)
                    }
                })
                .collect()
        })
        .collect();
    Matrix {
        title: "Confusion matrix (test set)".into(),
        row_axis: "true class".into(),
        col_axis: "predicted class".into(),
        row_labels: names.iter().map(|s| s.to_string()).collect(),
        col_labels: names.iter().map(|s| s.to_string()).collect(),
        values,
    }
}

/// A 28x28 digit-like picture: a ring or a bar, white on black.
pub fn digit(kind: u32) -> RgbImage {
    RgbImage::from_fn(28, 28, |x, y| {
        let (dx, dy) = (x as f64 - 13.5, y as f64 - 13.5);
        let r = (dx * dx + dy * dy).sqrt();
        let on = match kind {
            0 => (7.0..10.5).contains(&r),
            1 => (12..16).contains(&x) && (4..24).contains(&y),
            _ => (y as i32 - (27 - x as i32)).abs() < 3 && (4..24).contains(&y),
        };
        let v = if on { 255 } else { 0 };
        Rgb([v, v, v])
    })
}

/// A 256x256 colourful gradient picture.
pub fn photo(seed: u32) -> RgbImage {
    RgbImage::from_fn(256, 256, |x, y| {
        Rgb([
            (x + seed * 40) as u8,
            (y + seed * 80) as u8,
            ((x ^ y) + seed * 20) as u8,
        ])
    })
}

/// Points, NaN gaps, a fixed x range narrower than the data, negative values, three marks.
pub fn awkward() -> Plot {
    let wave: Vec<(f64, f64)> = (0..60)
        .map(|i| {
            let x = f64::from(i) / 4.0 - 2.0;
            (
                x,
                if i % 17 == 5 {
                    f64::NAN
                } else {
                    x.sin() * 3.0 - 1.0
                },
            )
        })
        .collect();
    let dots: Vec<(f64, f64)> = (0..12)
        .map(|i| (f64::from(i), f64::from(i % 5) - 2.0))
        .collect();
    Plot {
        title: "A rather long title that goes on and on to see whether it is clipped or shrunk to fit the image".into(),
        x_label: "x".into(),
        y_label: "value".into(),
        x_log: false,
        series: (0..6)
            .map(|k| Series {
                colour: None,
                name: format!("series number {k}"),
                points: if k == 1 { dots.clone() } else { wave.iter().map(|&(x, y)| (x, y + f64::from(k))).collect() },
                style: if k == 1 { SeriesStyle::Points } else { SeriesStyle::Line },
            })
            .collect(),
        marks: vec![
            Mark { label: "start".into(), x: 0.0 },
            Mark { label: "close by".into(), x: 0.3 },
            Mark { label: "at the right edge".into(), x: 9.9 },
        ],
        x_range: Some((-1.0, 10.0)),
    }
}

#[test]
#[ignore = "writes sample images to look at; run by hand"]
fn write_samples() {
    let dir = out_dir();
    save_png(
        &plot_png(&loss_curves(), 800, 500).unwrap(),
        &dir.join("loss.png"),
    )
    .unwrap();
    save_png(
        &plot_png(&lr_finder(), 800, 500).unwrap(),
        &dir.join("lr_finder.png"),
    )
    .unwrap();
    save_png(
        &plot_png(&lr_finder(), 400, 260).unwrap(),
        &dir.join("lr_finder_small.png"),
    )
    .unwrap();
    save_png(
        &plot_png(&Plot::default(), 640, 400).unwrap(),
        &dir.join("empty.png"),
    )
    .unwrap();
    save_png(
        &matrix_png(&confusion(), 48).unwrap(),
        &dir.join("confusion.png"),
    )
    .unwrap();
    let digits: Vec<Picture> = (0..3)
        .map(|k| Picture {
            caption: format!("label {k}, predicted {k}"),
            image: digit(k),
        })
        .collect();
    save_png(
        &pictures_png(&digits, 128).unwrap(),
        &dir.join("digits.png"),
    )
    .unwrap();
    let photos: Vec<Picture> = (0..3)
        .map(|k| Picture {
            caption: format!("photo {k}: a rather long caption that has to wrap"),
            image: photo(k),
        })
        .collect();
    save_png(
        &pictures_png(&photos, 128).unwrap(),
        &dir.join("photos.png"),
    )
    .unwrap();
    save_png(
        &plot_png(&awkward(), 640, 400).unwrap(),
        &dir.join("awkward.png"),
    )
    .unwrap();
    let odd = Matrix {
        title: "a title far longer than the little matrix it sits on top of, by a lot".into(),
        row_axis: "true".into(),
        col_axis: "predicted".into(),
        row_labels: vec!["a very long row label".into()],
        col_labels: vec!["airplane".into(), "automobile".into(), "c".into()],
        values: vec![vec![f64::NAN, 0.25], vec![], vec![f64::INFINITY, -2.0, 0.9]],
    };
    save_png(&matrix_png(&odd, 40).unwrap(), &dir.join("odd_matrix.png")).unwrap();
    save_png(
        &plot_png(&loss_curves(), 1600, 900).unwrap(),
        &dir.join("loss_large.png"),
    )
    .unwrap();
    let many: Vec<Picture> = (0..20)
        .map(|k| Picture {
            caption: format!("#{k}: {}", k % 3),
            image: digit(k % 3),
        })
        .collect();
    save_png(
        &pictures_png(&many, 96).unwrap(),
        &dir.join("digits_many.png"),
    )
    .unwrap();
    eprintln!("samples in {}", dir.display());
}
