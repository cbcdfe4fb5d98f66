//! The PNG renderings checked through their pixels: sizes, series colours where the data is,
//! heat-map colours in value order, whole-factor upscaling, and no panics on awkward data.

use std::collections::HashMap;

use image::{Rgb, RgbImage};
use tutor::export::png::{matrix_png, pictures_png, plot_png};
use tutor::output::{Mark, Matrix, Picture, Plot, Series, SeriesStyle};

/// The first two series colours (matplotlib's tab10 blue and orange).
const BLUE: Rgb<u8> = Rgb([31, 119, 180]);
const ORANGE: Rgb<u8> = Rgb([255, 127, 14]);

fn line(name: &str, points: Vec<(f64, f64)>) -> Series {
    Series {
        colour: None,
        name: name.into(),
        points,
        style: SeriesStyle::Line,
    }
}

fn loss_plot() -> Plot {
    let curve = |a: f64, b: f64| {
        (1..=10)
            .map(|e| (f64::from(e), a / f64::from(e) + b))
            .collect()
    };
    Plot {
        title: "Loss".into(),
        x_label: "epoch".into(),
        y_label: "loss".into(),
        series: vec![
            line("train", curve(2.0, 0.1)),
            line("validation", curve(1.5, 0.4)),
        ],
        x_range: Some((1.0, 10.0)),
        ..Plot::default()
    }
}

/// Pixels of exactly `color`, as (x, y).
fn pixels_of(img: &RgbImage, color: Rgb<u8>) -> Vec<(u32, u32)> {
    img.enumerate_pixels()
        .filter(|(_, _, p)| **p == color)
        .map(|(x, y, _)| (x, y))
        .collect()
}

fn mean_y(points: &[(u32, u32)]) -> f64 {
    points.iter().map(|p| f64::from(p.1)).sum::<f64>() / points.len() as f64
}

#[test]
fn plot_has_the_requested_size() {
    for (w, h) in [(800, 500), (160, 120), (1600, 900)] {
        let img = plot_png(&loss_plot(), w, h).unwrap();
        assert_eq!(img.dimensions(), (w, h));
    }
}

#[test]
fn two_series_draw_in_their_own_colours_inside_the_plot() {
    let img = plot_png(&loss_plot(), 800, 500).unwrap();
    // Below the title and legend band, left of the right margin: the plot area.
    let in_plot = |&(x, y): &(u32, u32)| y > 100 && y < 440 && x > 60 && x < 790;
    for color in [BLUE, ORANGE] {
        let px: Vec<_> = pixels_of(&img, color).into_iter().filter(in_plot).collect();
        assert!(px.len() > 300, "{color:?}: only {} pixels", px.len());
        // Both curves fall: their left quarter is higher up the image than their right.
        let left: Vec<_> = px.iter().copied().filter(|p| p.0 < 250).collect();
        let right: Vec<_> = px.iter().copied().filter(|p| p.0 > 600).collect();
        assert!(mean_y(&left) < mean_y(&right), "{color:?} does not fall");
    }
    // Validation ends above train (higher loss), so orange sits higher on the right.
    let right_of = |c| -> Vec<(u32, u32)> {
        pixels_of(&img, c)
            .into_iter()
            .filter(in_plot)
            .filter(|p| p.0 > 700)
            .collect()
    };
    assert!(mean_y(&right_of(ORANGE)) < mean_y(&right_of(BLUE)));
}

#[test]
fn a_series_with_its_own_colour_is_drawn_in_it_and_the_others_keep_the_palette() {
    // Lesson 6 colours its precision-recall curves as its pictures colour the classes.
    let red = Rgb([235, 70, 60]);
    let mut plot = loss_plot();
    plot.series[0].colour = Some(red.0);
    let img = plot_png(&plot, 800, 500).unwrap();
    let in_plot = |&(x, y): &(u32, u32)| y > 100 && y < 440 && x > 60 && x < 790;
    let count = |c| pixels_of(&img, c).into_iter().filter(in_plot).count();
    assert!(
        count(red) > 300,
        "only {} pixels of the series' own colour",
        count(red)
    );
    assert!(
        count(BLUE) < 20,
        "{} pixels still in the palette's first colour",
        count(BLUE)
    );
    // The second series has no colour of its own: it keeps its place in the palette.
    assert!(count(ORANGE) > 300);
}

#[test]
fn points_series_are_drawn_as_dots() {
    let plot = Plot {
        series: vec![Series {
            colour: None,
            name: "samples".into(),
            points: vec![(0.0, 0.0), (1.0, 1.0), (2.0, 0.5)],
            style: SeriesStyle::Points,
        }],
        ..Plot::default()
    };
    let img = plot_png(&plot, 400, 300).unwrap();
    let px = pixels_of(&img, BLUE);
    // Three dots and a legend dot, not a line across the plot.
    assert!(px.len() > 40 && px.len() < 600, "{} blue pixels", px.len());
}

#[test]
fn lr_finder_on_a_log_axis_draws() {
    let points = (0..100)
        .map(|i| {
            let lr = 10f64.powf(-7.0 + 8.0 * f64::from(i) / 99.0);
            (lr, 2.3 - 0.2 * lr.log10().abs().min(3.0))
        })
        .collect();
    let plot = Plot {
        title: "LR finder".into(),
        x_label: "learning rate".into(),
        y_label: "loss".into(),
        x_log: true,
        series: vec![line("loss", points)],
        marks: vec![Mark {
            label: "valley 3.2e-3".into(),
            x: 3.2e-3,
        }],
        x_range: None,
    };
    let img = plot_png(&plot, 800, 500).unwrap();
    assert_eq!(img.dimensions(), (800, 500));
    assert!(pixels_of(&img, BLUE).len() > 300);
}

#[test]
fn non_finite_and_unplottable_values_do_not_panic() {
    let nasty = vec![
        (f64::NAN, 1.0),
        (1.0, f64::NAN),
        (2.0, f64::INFINITY),
        (3.0, f64::NEG_INFINITY),
        (f64::INFINITY, 2.0),
        (0.0, 1.0),
        (-1.0, 1.0),
        (4.0, 1e300),
        (5.0, -1e300),
        (5.5, f64::MAX),
        (5.7, -f64::MAX),
        (5.8, f64::MIN_POSITIVE),
        (6.0, 2.0),
    ];
    for x_log in [false, true] {
        for x_range in [
            None,
            Some((1.0, 5.0)),
            Some((f64::NAN, 2.0)),
            Some((3.0, 3.0)),
        ] {
            let plot = Plot {
                title: "nasty".into(),
                x_log,
                series: vec![
                    line("nasty", nasty.clone()),
                    line("empty", vec![]),
                    line("all nan", vec![(f64::NAN, f64::NAN); 3]),
                ],
                marks: vec![
                    Mark {
                        label: "nan".into(),
                        x: f64::NAN,
                    },
                    Mark {
                        label: "zero".into(),
                        x: 0.0,
                    },
                ],
                x_range,
                ..Plot::default()
            };
            let img = plot_png(&plot, 320, 200).unwrap();
            assert_eq!(img.dimensions(), (320, 200));
        }
    }
    // Every point at the very top of the f64 range, and a log axis over 600 decades.
    let extremes = [
        (false, vec![(1.0, f64::MAX), (2.0, f64::MAX)]),
        (true, vec![(1e-300, 1.0), (1e300, 2.0)]),
        (true, vec![(2e-3, 1.0), (2.1e-3, 2.0)]),
        (true, vec![(f64::MAX, 1.0)]),
        (true, vec![(f64::MIN_POSITIVE / 1e10, 1.0)]),
        (false, vec![(f64::MAX, 1.0)]),
        (false, vec![(-f64::MAX, 1.0)]),
    ];
    for (x_log, points) in extremes {
        let plot = Plot {
            x_log,
            series: vec![line("x", points)],
            ..Plot::default()
        };
        plot_png(&plot, 320, 200).unwrap();
    }
}

#[test]
fn a_plot_with_nothing_to_draw_says_so_instead_of_failing() {
    let empty = plot_png(&Plot::default(), 400, 300).unwrap();
    let only_nan = Plot {
        series: vec![line("loss", vec![(1.0, f64::NAN)])],
        ..Plot::default()
    };
    let nan = plot_png(&only_nan, 400, 300).unwrap();
    for img in [empty, nan] {
        // Some dark-grey text, and no axes or series.
        let inked = img.pixels().filter(|p| p.0 != [255, 255, 255]).count();
        assert!(inked > 50 && inked < 3000, "{inked} non-white pixels");
        assert!(pixels_of(&img, BLUE).is_empty());
    }
}

#[test]
fn one_point_and_flat_series_still_draw() {
    for points in [vec![(3.0, 0.5)], vec![(1.0, 0.5), (2.0, 0.5), (3.0, 0.5)]] {
        let plot = Plot {
            series: vec![line("loss", points)],
            ..Plot::default()
        };
        let img = plot_png(&plot, 400, 300).unwrap();
        assert!(pixels_of(&img, BLUE).len() > 20);
    }
}

#[test]
fn tiny_plots_are_refused_not_garbled() {
    assert!(plot_png(&loss_plot(), 40, 30).is_err());
}

#[test]
fn heat_map_cells_darken_as_values_grow() {
    let m = Matrix {
        title: "m".into(),
        row_axis: "true".into(),
        col_axis: "predicted".into(),
        row_labels: vec!["a".into()],
        col_labels: vec!["w".into(), "x".into(), "y".into(), "z".into()],
        values: vec![vec![0.0, 1.0, 2.0, 3.0]],
    };
    let img = matrix_png(&m, 40).unwrap();
    // Each cell's fill is the commonest non-white colour inside it; find the four by count.
    let mut counts: HashMap<[u8; 3], (usize, u64)> = HashMap::new();
    for (x, _, p) in img.enumerate_pixels() {
        let e = counts.entry(p.0).or_default();
        e.0 += 1;
        e.1 += u64::from(x);
    }
    let mut fills: Vec<([u8; 3], f64)> = counts
        .into_iter()
        .filter(|(c, (n, _))| *c != [255, 255, 255] && *n > 800)
        .map(|(c, (n, sx))| (c, sx as f64 / n as f64))
        .collect();
    assert_eq!(fills.len(), 4, "{fills:?}");
    fills.sort_by(|a, b| a.1.total_cmp(&b.1));
    let lum =
        |c: [u8; 3]| 0.2126 * f64::from(c[0]) + 0.7152 * f64::from(c[1]) + 0.0722 * f64::from(c[2]);
    for pair in fills.windows(2) {
        assert!(lum(pair[1].0) < lum(pair[0].0), "{fills:?}");
    }
}

#[test]
fn heat_map_holds_its_grid_and_survives_odd_input() {
    let full = Matrix {
        title: "Confusion matrix".into(),
        row_axis: "true class".into(),
        col_axis: "predicted class".into(),
        row_labels: (0..10).map(|i| i.to_string()).collect(),
        col_labels: (0..10).map(|i| i.to_string()).collect(),
        values: (0..10)
            .map(|i| (0..10).map(|j| if i == j { 95.0 } else { 1.0 }).collect())
            .collect(),
    };
    let (w, h) = matrix_png(&full, 30).unwrap().dimensions();
    assert!((300..500).contains(&w), "width {w}");
    assert!((300..500).contains(&h), "height {h}");

    let odd = Matrix {
        title: "a title far longer than the little matrix it sits on top of, by a lot".into(),
        row_labels: vec!["a very long row label".into()],
        col_labels: vec!["a very long column label".into(), "b".into(), "c".into()],
        values: vec![vec![f64::NAN, 1.5], vec![], vec![f64::INFINITY, -2.0, 1e12]],
        ..Matrix::default()
    };
    matrix_png(&odd, 24).unwrap();
    matrix_png(&Matrix::default(), 24).unwrap();
    assert!(matrix_png(&full, 2).is_err());
}

/// A picture whose top-left pixel alone is red, so its scale shows in the output.
fn marked(w: u32, h: u32, marker: Rgb<u8>) -> RgbImage {
    let mut img = RgbImage::from_pixel(w, h, Rgb([0, 0, 0]));
    img.put_pixel(0, 0, marker);
    img
}

/// The size of the box around every pixel of `color`.
fn extent(img: &RgbImage, color: Rgb<u8>) -> (u32, u32) {
    let px = pixels_of(img, color);
    let (xs, ys): (Vec<u32>, Vec<u32>) = px.into_iter().unzip();
    let span = |v: &[u32]| v.iter().max().unwrap() - v.iter().min().unwrap() + 1;
    (span(&xs), span(&ys))
}

#[test]
fn small_pictures_grow_by_a_whole_factor_and_large_ones_keep_their_size() {
    let red = Rgb([255, 0, 0]);
    let green = Rgb([0, 255, 0]);
    let pics = vec![
        Picture {
            caption: "digit".into(),
            image: marked(28, 28, red),
        },
        Picture {
            caption: "photo".into(),
            image: marked(256, 256, green),
        },
    ];
    let img = pictures_png(&pics, 128).unwrap();
    // 128 / 28 = 4.57: the digit is drawn 4x, so its one red pixel is a 4x4 square.
    assert_eq!(extent(&img, red), (4, 4));
    assert_eq!(extent(&img, green), (1, 1));
    let (w, h) = img.dimensions();
    assert!(w >= 112 + 256 && h >= 256, "{w}x{h}");
    // Everything else black in the pictures is exactly the two images, nothing blurred.
    let black = pixels_of(&img, Rgb([0, 0, 0])).len();
    assert_eq!(black, 112 * 112 - 16 + 256 * 256 - 1);
}

#[test]
fn many_pictures_wrap_into_rows() {
    let pics: Vec<Picture> = (0..20)
        .map(|i| Picture {
            caption: format!("#{i}"),
            image: marked(28, 28, Rgb([255, 0, 0])),
        })
        .collect();
    let img = pictures_png(&pics, 112).unwrap();
    let (w, h) = img.dimensions();
    assert!(w <= 1400, "width {w}");
    assert!(h > 2 * 112, "height {h}: not wrapped");
}

#[test]
fn no_pictures_and_empty_images_do_not_fail() {
    pictures_png(&[], 128).unwrap();
    let odd = vec![
        Picture {
            caption: String::new(),
            image: RgbImage::new(0, 0),
        },
        Picture {
            caption: "a caption so long that it has to wrap over several lines and then be cut short with an ellipsis at the end".into(),
            image: RgbImage::new(1, 1),
        },
    ];
    pictures_png(&odd, 64).unwrap();
}
