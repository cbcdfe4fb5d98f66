//! Lesson 1: classic image filters on real photos, computed with [`crate::imaging`].

use image::{Rgb, RgbImage};

use crate::data;
use crate::experiments::kit::{
    self, metrics, params, Ctx, Default, Emit, Experiment, ParamKind, ParamSpec,
};
use crate::imaging::{self, GrayF, Kernel, Padding, Region, ResponseView};
use crate::output::{Output, Picture, Table};

/// The built-in photos (see `data/README.md`).
pub const PHOTOS: &[&str] = &[
    "camera",
    "coins",
    "chelsea",
    "coffee",
    "astronaut",
    "brick",
    "horse",
];

/// Named kernels a lesson or learner can pick.
pub const KERNELS: &[&str] = &[
    "identity",
    "sobel_x",
    "sobel_y",
    "laplacian4",
    "laplacian8",
    "box3",
    "box5",
    "gaussian5",
    "sharpen",
];

/// The 3x3 ones, for the worked example.
const KERNELS_3X3: &[&str] = &[
    "identity",
    "sobel_x",
    "sobel_y",
    "laplacian4",
    "laplacian8",
    "box3",
    "sharpen",
];

const PADDINGS: &[&str] = &["zero", "valid", "replicate", "reflect"];

const IMAGE: ParamSpec = ParamSpec {
    name: "image",
    kind: ParamKind::Choice(PHOTOS),
    default: Default::Str("camera"),
    doc: "a built-in photo",
};

const IMAGE_FILE: ParamSpec = ParamSpec {
    name: "image_file",
    kind: ParamKind::File,
    default: Default::Str(""),
    doc: "a PNG of your own (relative to the lesson), used instead of `image`",
};

/// The kernel called `name`.
pub fn kernel(name: &str) -> anyhow::Result<Kernel> {
    Ok(match name {
        "identity" => Kernel::identity(),
        "sobel_x" => Kernel::sobel_x(),
        "sobel_y" => Kernel::sobel_y(),
        "laplacian4" => Kernel::laplacian4(),
        "laplacian8" => Kernel::laplacian8(),
        "box3" => Kernel::box_blur(3),
        "box5" => Kernel::box_blur(5),
        "gaussian5" => Kernel::gaussian(5, 1.0),
        "sharpen" => Kernel::sharpen(),
        other => anyhow::bail!("unknown kernel `{other}` (known: {})", KERNELS.join(", ")),
    })
}

fn padding(name: &str) -> anyhow::Result<Padding> {
    Ok(match name {
        "zero" => Padding::Zero,
        "valid" => Padding::Valid,
        "replicate" => Padding::Replicate,
        "reflect" => Padding::Reflect,
        other => anyhow::bail!("unknown padding `{other}`"),
    })
}

/// The photo the parameters name: a file of the teacher's (`image_file`), or a built-in one
/// (`image`).
fn photo(image: &str, image_file: &str) -> anyhow::Result<(String, RgbImage)> {
    if !image_file.is_empty() {
        let img = data::load_image(std::path::Path::new(image_file))?;
        let name = std::path::Path::new(image_file)
            .file_name()
            .map_or(image_file.to_string(), |n| n.to_string_lossy().into_owned());
        return Ok((name, img));
    }
    Ok((image.to_string(), data::photo(image)?))
}

/// How to show a response: signed for kernels that sum to 0 (edges), as-is for the rest.
fn view_for(k: &Kernel) -> ResponseView {
    if k.sum().abs() < 1e-6 {
        ResponseView::Signed
    } else {
        ResponseView::Clamped
    }
}

fn kernel_text(name: &str, k: &Kernel) -> String {
    format!(
        "{name} kernel ({}x{}), weights sum to {:.3}:\n{k}",
        k.rows(),
        k.cols(),
        k.sum()
    )
}

fn gray_picture(g: &GrayF, caption: String) -> Picture {
    Picture {
        caption,
        image: imaging::display_clamped(g),
    }
}

params! {
    /// Parameters of `filters.photo` and `filters.edges`.
    pub struct PhotoParams {
        image: String = IMAGE;
        image_file: String = IMAGE_FILE;
    }
}

metrics! {
    /// What `filters.photo` reports.
    pub enum PhotoMetric {
        Width = "width",
        Height = "height",
    }
}

/// A photo and its grayscale version.
pub static PHOTO: Experiment = Experiment {
    name: "filters.photo",
    summary: "A photo and its grayscale conversion",
    params: PhotoParams::SPECS,
    metrics: PhotoMetric::NAMES,
    long: false,
    run: |p, ctx| kit::typed(&PHOTO, p, ctx, photo_run),
};

fn photo_run(p: PhotoParams, ctx: &mut Emit<'_, PhotoMetric>) -> anyhow::Result<()> {
    let (name, img) = photo(&p.image, &p.image_file)?;
    let gray = GrayF::from_rgb(&img);
    let (w, h) = (img.width(), img.height());
    // The most colourful pixel makes the weighted average worth reading.
    let (px, py, Rgb([r, g, b])) = img
        .enumerate_pixels()
        .max_by_key(|(_, _, Rgb(c))| c.iter().max().unwrap_or(&0) - c.iter().min().unwrap_or(&0))
        .map(|(x, y, c)| (x, y, *c))
        .unwrap_or((0, 0, Rgb([0, 0, 0])));
    let l = imaging::luma(r, g, b);
    ctx.show(
        "pictures",
        Output::Pictures(vec![
            Picture {
                caption: format!("{name} ({w}x{h})"),
                image: img.clone(),
            },
            gray_picture(&gray, "grayscale".into()),
        ]),
    );
    ctx.show(
        "centre",
        Output::Text(format!(
            "The most colourful pixel, at x={px} y={py}, is R={r} G={g} B={b}: grey = 0.299·{r} + 0.587·{g} + 0.114·{b} ≈ {l} (of 255), or {:.3} on a 0..1 scale.",
            f32::from(l) / 255.0
        )),
    );
    ctx.emit(PhotoMetric::Width, f64::from(w));
    ctx.emit(PhotoMetric::Height, f64::from(h));
    Ok(())
}

params! {
    /// Parameters of `filters.worked`.
    pub struct WorkedParams {
        image: String = IMAGE;
        image_file: String = IMAGE_FILE;
        row: i64 = 100, Int { min: 1, max: 4096 }, "the patch's centre row";
        col: i64 = 100, Int { min: 1, max: 4096 }, "the patch's centre column";
        filter: String = "sobel_x", Choice(KERNELS_3X3), "the 3x3 kernel";
    }
}

metrics! {
    /// What `filters.worked` reports.
    pub enum WorkedMetric {
        Output = "output",
    }
}

/// One kernel on one 3x3 patch, step by step.
pub static WORKED: Experiment = Experiment {
    name: "filters.worked",
    summary: "One 3x3 kernel on one 3x3 patch of a photo, every product shown",
    params: WorkedParams::SPECS,
    metrics: WorkedMetric::NAMES,
    long: false,
    run: |p, ctx| kit::typed(&WORKED, p, ctx, worked),
};

fn worked(p: WorkedParams, ctx: &mut Emit<'_, WorkedMetric>) -> anyhow::Result<()> {
    let (name, img) = photo(&p.image, &p.image_file)?;
    let gray = GrayF::from_rgb(&img);
    // The patch lies inside the image so all nine pixels are real; a centre outside says the
    // bounds of this photo rather than moving the patch silently.
    let (rows, cols) = (gray.height(), gray.width());
    let row = p.row as usize;
    let col = p.col as usize;
    anyhow::ensure!(
        (1..=rows - 2).contains(&row),
        "row {row} is off the patch area of {name} ({cols}x{rows} pixels): the centre row is 1 to {}",
        rows - 2
    );
    anyhow::ensure!(
        (1..=cols - 2).contains(&col),
        "column {col} is off the patch area of {name} ({cols}x{rows} pixels): the centre column is 1 to {}",
        cols - 2
    );
    let kname = p.filter.as_str();
    let k = kernel(kname)?;
    let kk = k
        .to_3x3()
        .ok_or_else(|| anyhow::anyhow!("`{kname}` is not a 3x3 kernel"))?;
    let patch = gray
        .patch3(col, row)
        .ok_or_else(|| anyhow::anyhow!("no 3x3 patch at row {row}, column {col}"))?;
    // The pixels as shown, to 3 decimals, so that every product on screen is the product of
    // the numbers on screen (0.42 × 2 = 0.84, not 0.839 from the unrounded 0.4196).
    let patch = patch.map(|r| r.map(|v| (v * 1000.0).round() / 1000.0));
    // Mark the patch on the photo with a red box a little larger than the patch.
    let mut marked = imaging::display_clamped(&gray);
    let red = Rgb([230, 30, 30]);
    let (x0, y0) = (col.saturating_sub(4) as u32, row.saturating_sub(4) as u32);
    let (x1, y1) = (
        (col + 4).min(gray.width() - 1) as u32,
        (row + 4).min(gray.height() - 1) as u32,
    );
    for x in x0..=x1 {
        marked.put_pixel(x, y0, red);
        marked.put_pixel(x, y1, red);
    }
    for y in y0..=y1 {
        marked.put_pixel(x0, y, red);
        marked.put_pixel(x1, y, red);
    }
    let zoom = RgbImage::from_fn(3, 3, |x, y| {
        let v = (patch[y as usize][x as usize].clamp(0.0, 1.0) * 255.0).round() as u8;
        Rgb([v, v, v])
    });
    ctx.show(
        "where",
        Output::Pictures(vec![
            Picture {
                caption: format!("{name}: the patch at row {row}, column {col}"),
                image: marked,
            },
            Picture {
                caption: "the 3x3 patch, enlarged".into(),
                image: zoom,
            },
        ]),
    );
    ctx.show(
        "steps",
        Output::Text(format!(
            "Pixel values on a 0..1 scale, rounded to 3 decimals; kernel {kname}.\n\n{}",
            imaging::worked_example(patch, kk)
        )),
    );
    let out = imaging::filter(&GrayF::new(3, 3, patch.concat()), &k, Padding::Valid);
    ctx.emit(WorkedMetric::Output, f64::from(out.get(0, 0)));
    Ok(())
}

metrics! {
    /// What `filters.edges` reports.
    pub enum EdgesMetric {
        SobelXMean = "sobel_x_mean",
        SobelYMean = "sobel_y_mean",
        MagnitudeMean = "magnitude_mean",
    }
}

/// Sobel x, Sobel y and the gradient magnitude.
pub static EDGES: Experiment = Experiment {
    name: "filters.edges",
    summary: "Sobel x and y responses and the gradient magnitude",
    params: PhotoParams::SPECS,
    metrics: EdgesMetric::NAMES,
    long: false,
    run: |p, ctx| kit::typed(&EDGES, p, ctx, edges),
};

fn edges(p: PhotoParams, ctx: &mut Emit<'_, EdgesMetric>) -> anyhow::Result<()> {
    let (name, img) = photo(&p.image, &p.image_file)?;
    let gray = GrayF::from_rgb(&img);
    let gx = imaging::filter(&gray, &Kernel::sobel_x(), Padding::Replicate);
    let gy = imaging::filter(&gray, &Kernel::sobel_y(), Padding::Replicate);
    let mag = imaging::gradient_magnitude(&gray, Padding::Replicate);
    ctx.show(
        "pictures",
        Output::Pictures(vec![
            gray_picture(&gray, name),
            Picture {
                caption: "Sobel x (grey = 0): vertical edges".into(),
                image: imaging::display_signed(&gx),
            },
            Picture {
                caption: "Sobel y (grey = 0): horizontal edges".into(),
                image: imaging::display_signed(&gy),
            },
            Picture {
                caption: "magnitude √(gx² + gy²)".into(),
                image: imaging::display_abs(&mag),
            },
        ]),
    );
    ctx.show(
        "note",
        Output::Text(
            "In the Sobel pictures mid-grey is 0, white a strong positive and black a strong negative response: the sign tells which side of the edge is brighter.".into(),
        ),
    );
    ctx.emit(EdgesMetric::SobelXMean, f64::from(imaging::mean_abs(&gx)));
    ctx.emit(EdgesMetric::SobelYMean, f64::from(imaging::mean_abs(&gy)));
    ctx.emit(
        EdgesMetric::MagnitudeMean,
        f64::from(imaging::mean_abs(&mag)),
    );
    Ok(())
}

params! {
    /// Parameters of `filters.apply`.
    pub struct ApplyParams {
        image: String = IMAGE;
        image_file: String = IMAGE_FILE;
        filter: String = "gaussian5", Choice(KERNELS), "the kernel";
        padding: String = "zero", Choice(PADDINGS),
            "what lies beyond the border: `zero`, `valid` (crop), `replicate` or `reflect` (mirrored)";
    }
}

metrics! {
    /// What `filters.apply` reports.
    pub enum ApplyMetric {
        KernelSum = "kernel_sum",
        OutWidth = "out_width",
        OutHeight = "out_height",
        MeanAbsResponse = "mean_abs_response",
    }
}

/// Any named filter with any edge handling.
pub static APPLY: Experiment = Experiment {
    name: "filters.apply",
    summary: "Apply a named kernel to a photo with a chosen edge handling",
    params: ApplyParams::SPECS,
    metrics: ApplyMetric::NAMES,
    long: false,
    run: |p, ctx| kit::typed(&APPLY, p, ctx, apply),
};

fn apply(p: ApplyParams, ctx: &mut Emit<'_, ApplyMetric>) -> anyhow::Result<()> {
    let (name, img) = photo(&p.image, &p.image_file)?;
    let gray = GrayF::from_rgb(&img);
    let kname = p.filter.as_str();
    let k = kernel(kname)?;
    let pad_name = p.padding.as_str();
    let out = imaging::filter(&gray, &k, padding(pad_name)?);
    let view = view_for(&k);
    ctx.show(
        "pictures",
        Output::Pictures(vec![
            gray_picture(&gray, format!("{name} {}x{}", gray.width(), gray.height())),
            Picture {
                caption: format!(
                    "{kname}, {pad_name} padding: {}x{}{}",
                    out.width(),
                    out.height(),
                    if view == ResponseView::Signed {
                        " (grey = 0)"
                    } else {
                        ""
                    }
                ),
                image: imaging::to_rgb(&out, view),
            },
        ]),
    );
    ctx.show("kernel", Output::Text(kernel_text(kname, &k)));
    ctx.emit(ApplyMetric::KernelSum, f64::from(k.sum()));
    ctx.emit(ApplyMetric::OutWidth, out.width() as f64);
    ctx.emit(ApplyMetric::OutHeight, out.height() as f64);
    ctx.emit(
        ApplyMetric::MeanAbsResponse,
        f64::from(imaging::mean_abs(&out)),
    );
    Ok(())
}

params! {
    /// Parameters of `filters.borders`.
    pub struct BordersParams {
        image: String = IMAGE;
        image_file: String = IMAGE_FILE;
        size: i64 = 9, Int { min: 3, max: 31 }, "box blur size (odd)";
    }
}

metrics! {
    /// What `filters.borders` reports.
    pub enum BordersMetric {
        ZeroBorderMean = "zero_border_mean",
        ReplicateBorderMean = "replicate_border_mean",
        InputBorderMean = "input_border_mean",
        ValidWidth = "valid_width",
    }
}

/// The same blur with each edge handling.
pub static BORDERS: Experiment = Experiment {
    name: "filters.borders",
    summary: "One box blur with zero padding, cropping and extension: sizes and the dark frame",
    params: BordersParams::SPECS,
    metrics: BordersMetric::NAMES,
    long: false,
    run: |p, ctx| kit::typed(&BORDERS, p, ctx, borders),
};

/// Mean of the frame `width` pixels wide around the image.
fn frame_mean(g: &GrayF, width: usize) -> f64 {
    let (w, h) = (g.width(), g.height());
    let mut sum = 0.0;
    let mut n = 0usize;
    for y in 0..h {
        for x in 0..w {
            if x < width || y < width || x + width >= w || y + width >= h {
                sum += f64::from(g.get(x, y));
                n += 1;
            }
        }
    }
    sum / n.max(1) as f64
}

fn borders(p: BordersParams, ctx: &mut Emit<'_, BordersMetric>) -> anyhow::Result<()> {
    let (name, img) = photo(&p.image, &p.image_file)?;
    let gray = GrayF::from_rgb(&img);
    // An even size has no centre pixel; use the next odd one and say so.
    let size = (p.size as usize) | 1;
    let k = Kernel::box_blur(size);
    let half = size / 2;
    let mut pics = vec![gray_picture(
        &gray,
        format!("{name} {}x{}", gray.width(), gray.height()),
    )];
    let mut rows = Vec::new();
    let mut means = Vec::new();
    // The frame is a few pixels wide: the top-left corners, shown enlarged, make it visible.
    let corner_size = (4 * half).clamp(8, 32).min(gray.width()).min(gray.height());
    let corner = |g: &GrayF| GrayF::from_fn(corner_size, corner_size, |x, y| g.get(x, y));
    let mut corners = vec![gray_picture(
        &corner(&gray),
        format!("the input's top-left {corner_size}x{corner_size} pixels"),
    )];
    for (mode, pad) in [
        ("zero padding", Padding::Zero),
        ("cropping (valid)", Padding::Valid),
        ("extension (replicate)", Padding::Replicate),
    ] {
        let out = imaging::filter(&gray, &k, pad);
        let frame = frame_mean(&out, half);
        if pad != Padding::Valid {
            corners.push(gray_picture(&corner(&out), format!("{mode}, same corner")));
        }
        pics.push(gray_picture(
            &out,
            format!("{mode}: {}x{}", out.width(), out.height()),
        ));
        rows.push(vec![
            mode.to_string(),
            format!("{} x {}", out.width(), out.height()),
            format!("{frame:.3}"),
        ]);
        means.push((out.width(), frame));
    }
    let input_frame = frame_mean(&gray, half);
    rows.push(vec![
        "(the input)".into(),
        format!("{} x {}", gray.width(), gray.height()),
        format!("{input_frame:.3}"),
    ]);
    ctx.show("pictures", Output::Pictures(pics));
    ctx.show("corners", Output::Pictures(corners));
    ctx.show(
        "table",
        Output::Table(Table {
            title: Some(format!(
                "{size}x{size} box blur: output size and mean brightness of the outer {half}-pixel frame"
            )),
            header: vec!["edge handling".into(), "output".into(), "frame brightness".into()],
            rows,
        }),
    );
    ctx.emit(BordersMetric::ZeroBorderMean, means[0].1);
    ctx.emit(BordersMetric::ValidWidth, means[1].0 as f64);
    ctx.emit(BordersMetric::ReplicateBorderMean, means[2].1);
    ctx.emit(BordersMetric::InputBorderMean, input_frame);
    Ok(())
}

params! {
    /// Parameters of `filters.custom`.
    pub struct CustomParams {
        kernel: Matrix = &[&[0.0, 0.0, 0.0], &[0.0, 1.0, 0.0], &[0.0, 0.0, 0.0]],
            Matrix { rows: 3, cols: 3 }, "3x3 weights, rows separated by ;";
        image: String = IMAGE;
        image_file: String = IMAGE_FILE;
    }
}

metrics! {
    /// What `filters.custom` reports.
    pub enum CustomMetric {
        HorizontalEdgeResponse = "horizontal_edge_response",
        VerticalEdgeResponse = "vertical_edge_response",
        FlatResponse = "flat_response",
        KernelSum = "kernel_sum",
    }
}

/// A kernel the learner types, tested on a synthetic image and a photo.
pub static CUSTOM: Experiment = Experiment {
    name: "filters.custom",
    summary: "Your own 3x3 kernel on a test image with one edge of each kind, and on a photo",
    params: CustomParams::SPECS,
    metrics: CustomMetric::NAMES,
    long: false,
    run: |p, ctx| kit::typed(&CUSTOM, p, ctx, custom),
};

/// Regions of [`imaging::corner_edges`]: along its horizontal edge (y = 32, x in the bright
/// half), along its vertical edge, and inside the bright flat quadrant.
const H_EDGE: Region = Region {
    x: 40,
    y: 29,
    width: 20,
    height: 6,
};
const V_EDGE: Region = Region {
    x: 29,
    y: 40,
    width: 6,
    height: 20,
};
const FLAT: Region = Region {
    x: 40,
    y: 40,
    width: 20,
    height: 20,
};

fn custom(p: CustomParams, ctx: &mut Emit<'_, CustomMetric>) -> anyhow::Result<()> {
    let k = Kernel::new(3, 3, p.kernel.iter().flatten().map(|&v| v as f32).collect());
    let test = imaging::corner_edges();
    let resp = imaging::filter(&test, &k, Padding::Replicate);
    let h = imaging::mean_abs_in(&resp, H_EDGE);
    let v = imaging::mean_abs_in(&resp, V_EDGE);
    let flat = imaging::mean_abs_in(&resp, FLAT);
    let (name, img) = photo(&p.image, &p.image_file)?;
    let gray = GrayF::from_rgb(&img);
    let out = imaging::filter(&gray, &k, Padding::Replicate);
    let view = view_for(&k);
    ctx.show(
        "pictures",
        Output::Pictures(vec![
            gray_picture(
                &test,
                "test image: one horizontal and one vertical edge".into(),
            ),
            Picture {
                caption: "your kernel on it".into(),
                image: imaging::to_rgb(&resp, view),
            },
            Picture {
                caption: format!("your kernel on {name}"),
                image: imaging::to_rgb(&out, view),
            },
        ]),
    );
    ctx.show(
        "numbers",
        Output::Text(format!(
            "{}\n\nMean |response| along the horizontal edge: {h:.3}\nMean |response| along the vertical edge:   {v:.3}\nMean |response| on the flat bright area:   {flat:.3}",
            kernel_text("your", &k)
        )),
    );
    ctx.emit(CustomMetric::HorizontalEdgeResponse, f64::from(h));
    ctx.emit(CustomMetric::VerticalEdgeResponse, f64::from(v));
    ctx.emit(CustomMetric::FlatResponse, f64::from(flat));
    ctx.emit(CustomMetric::KernelSum, f64::from(k.sum()));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiments::kit::Value;

    fn run(e: &Experiment, given: &[(&str, Value)]) -> crate::experiments::kit::Recorder {
        crate::experiments::kit::run_recorded(e, given).unwrap()
    }

    #[test]
    fn photo_list_matches_the_data() {
        let mut a: Vec<&str> = PHOTOS.to_vec();
        let mut b = data::photo_names();
        a.sort();
        b.sort();
        assert_eq!(a, b);
        for k in KERNELS {
            kernel(k).unwrap();
        }
    }

    #[test]
    fn sobel_y_solves_the_exercise_and_sobel_x_does_not() {
        let r = run(
            &CUSTOM,
            &[("kernel", Value::Str("-1 -2 -1; 0 0 0; 1 2 1".into()))],
        );
        assert!(r.metrics["horizontal_edge_response"] > 1.0);
        assert!(r.metrics["vertical_edge_response"] < 1e-6);
        assert!(r.metrics["flat_response"] < 1e-6);
        let r = run(
            &CUSTOM,
            &[("kernel", Value::Str("-1 0 1; -2 0 2; -1 0 1".into()))],
        );
        assert!(r.metrics["horizontal_edge_response"] < 1e-6);
        assert!(r.metrics["vertical_edge_response"] > 1.0);
        // The identity kernel answers on the flat bright area.
        let r = run(&CUSTOM, &[]);
        assert!((r.metrics["flat_response"] - 1.0).abs() < 1e-6);
    }

    #[test]
    fn borders_show_the_dark_frame_and_the_cropped_size() {
        let r = run(
            &BORDERS,
            &[
                ("image", Value::Str("camera".into())),
                ("size", Value::Int(9)),
            ],
        );
        // camera.png is 256 wide: cropping a 9x9 kernel leaves 248.
        assert_eq!(r.metrics["valid_width"], 248.0);
        assert!(r.metrics["zero_border_mean"] < r.metrics["replicate_border_mean"] - 0.05);
        assert!((r.metrics["replicate_border_mean"] - r.metrics["input_border_mean"]).abs() < 0.1);
        // Issue 12, item 5: the corners are shown on their own, large enough to see the
        // 4-pixel frame: zero padding's corner pixel is darker than replicate's.
        let Some(Output::Pictures(c)) =
            r.outputs.iter().find(|(k, _)| k == "corners").map(|o| &o.1)
        else {
            panic!("no corners")
        };
        assert_eq!(c.len(), 3);
        assert_eq!(c[0].image.dimensions(), (16, 16));
        assert!(c[1].image.get_pixel(0, 0)[0] < c[2].image.get_pixel(0, 0)[0]);
    }

    #[test]
    fn worked_example_agrees_with_the_filter() {
        let r = run(
            &WORKED,
            &[
                ("row", Value::Int(120)),
                ("col", Value::Int(200)),
                ("filter", Value::Str("sobel_x".into())),
            ],
        );
        let gray = GrayF::from_rgb(&data::photo("camera").unwrap());
        let full = imaging::filter(&gray, &Kernel::sobel_x(), Padding::Zero);
        // The example works on the pixels rounded to 3 decimals: 8 units of weight times at
        // most half a thousandth each.
        assert!((r.metrics["output"] - f64::from(full.get(200, 120))).abs() <= 0.004 + 1e-6);
    }

    /// Issue 12, item 17: each product shown is the product of the factors shown.
    #[test]
    fn worked_example_multiplies_the_numbers_it_shows() {
        let r = run(&WORKED, &[("row", Value::Int(70)), ("col", Value::Int(97))]);
        let Some(Output::Text(t)) = r.outputs.iter().find(|(k, _)| k == "steps").map(|o| &o.1)
        else {
            panic!("no steps");
        };
        let mut checked = 0;
        for term in t.split("   ").filter(|s| s.contains(" × ")) {
            // The first product of a row follows its "row 1:" label.
            let term = term.rsplit(':').next().unwrap().trim();
            let (lhs, rhs) = term.split_once(" = ").unwrap();
            let (a, b) = lhs.split_once(" × ").unwrap();
            let (a, b, p): (f64, f64, f64) =
                (a.parse().unwrap(), b.parse().unwrap(), rhs.parse().unwrap());
            assert!((a * b - p).abs() < 1e-9, "{term}");
            checked += 1;
        }
        assert_eq!(checked, 9, "{t}");
    }

    /// Issue 12, item 8: a patch centre off the photo is refused with the photo's real bounds,
    /// never moved silently.
    #[test]
    fn worked_example_names_the_photos_bounds() {
        let Err(e) = crate::experiments::kit::run_recorded(&WORKED, &[("row", Value::Int(300))])
        else {
            panic!("row 300 is off a 256-row photo");
        };
        let e = format!("{e:#}");
        assert!(e.contains("the centre row is 1 to 254"), "{e}");
        assert!(run(&WORKED, &[("row", Value::Int(254))])
            .metrics
            .contains_key("output"));
    }
}
