//! Lesson 9: the architectures that shaped CNNs. Computed from network files, no training:
//! where AlexNet's and VGG16's parameters sit, what a stack of 3x3 convolutions buys over one
//! large kernel, receptive fields drawn on a digit, a global-average-pooling head taking two
//! input sizes, and the residual block the learner makes fit. The trained comparisons (plain
//! vs ResNet, flatten vs GAP head, with and without squeeze-and-excitation) are in [`races`].

pub mod races;

use image::{Rgb, RgbImage};

use super::conv_size::parse_conv;
use super::nets::summary_table;
use crate::data;
use crate::experiments::kit::{self, metrics, params, Ctx, Emit, Experiment};
use crate::nn::receptive::{fmt_field, windows};
use crate::nn::spec::{LayerKind, NetSpec};
use crate::nn::summary::{fmt_count, fmt_shape, Summary};
use crate::output::{Output, Picture, Table};

params! {
    /// Parameters of `arch.famous`.
    pub struct FamousParams {
        vgg: String = "nets/lesson9_vgg16.toml", File, "VGG16's network file";
        alexnet: String = "nets/lesson9_alexnet.toml", File, "AlexNet's network file";
    }
}

metrics! {
    /// What `arch.famous` reports.
    pub enum FamousMetric {
        Vgg16Params = "vgg16_params",
        AlexnetParams = "alexnet_params",
        Vgg16FirstLinearShare = "vgg16_first_linear_share",
        AlexnetFirstLinearShare = "alexnet_first_linear_share",
    }
}

/// AlexNet and VGG16 side by side: where their parameters are.
pub static FAMOUS: Experiment = Experiment {
    name: "arch.famous",
    summary: "AlexNet and VGG16 at 224x224: parameters in the convolutions, in the linear \
              layers, and in the first linear layer alone",
    params: FamousParams::SPECS,
    metrics: FamousMetric::NAMES,
    long: false,
    run: |p, ctx| kit::typed(&FAMOUS, p, ctx, famous),
};

/// Parameters in convolutions, in linear layers, and in the first linear layer (with its name).
fn split_params(s: &Summary) -> (usize, usize, usize, String) {
    let of = |kind: &str| -> usize {
        s.rows
            .iter()
            .filter(|r| r.kind == kind)
            .map(|r| r.params)
            .sum()
    };
    let first = s.rows.iter().find(|r| r.kind == "linear");
    (
        of("conv2d"),
        of("linear"),
        first.map_or(0, |r| r.params),
        first.map_or(String::new(), |r| r.name.clone()),
    )
}

fn famous(p: FamousParams, ctx: &mut Emit<'_, FamousMetric>) -> anyhow::Result<()> {
    let mut rows = Vec::new();
    let mut shares = Vec::new();
    let mut totals = Vec::new();
    for file in [&p.alexnet, &p.vgg] {
        let s = NetSpec::load(file)?.summary(None)?;
        let (conv, linear, first, first_name) = split_params(&s);
        let share = first as f64 / s.total_params.max(1) as f64;
        let convs = s.rows.iter().filter(|r| r.kind == "conv2d").count();
        let flat_in = s
            .rows
            .iter()
            .take_while(|r| r.kind != "linear")
            .last()
            .map_or(0, |r| r.out_shape.iter().product::<usize>());
        rows.push(vec![
            s.name.clone(),
            format!("{convs}"),
            fmt_count(conv),
            fmt_count(linear),
            format!("{first_name} ({flat_in} in)"),
            fmt_count(first),
            format!("{:.1}%", 100.0 * share),
            fmt_count(s.total_params),
        ]);
        shares.push(share);
        totals.push(s.total_params);
    }
    // One column per network, so the table fits a narrow terminal.
    let labels = [
        "",
        "convolutions",
        "conv parameters",
        "linear parameters",
        "first linear layer",
        "its parameters",
        "its share",
        "total",
    ];
    let table: Vec<Vec<String>> = (1..labels.len())
        .map(|i| {
            let mut r = vec![labels[i].to_string()];
            r.extend(rows.iter().map(|net: &Vec<String>| net[i].clone()));
            r
        })
        .collect();
    let mut header = vec![labels[0].to_string()];
    header.extend(rows.iter().map(|net| net[0].clone()));
    ctx.show(
        "params",
        Output::Table(Table {
            title: Some("Where the parameters are, at 224x224 (from the network files)".into()),
            header,
            rows: table,
        }),
    );
    use FamousMetric as M;
    ctx.emit(M::AlexnetParams, totals[0] as f64);
    ctx.emit(M::Vgg16Params, totals[1] as f64);
    ctx.emit(M::AlexnetFirstLinearShare, shares[0]);
    ctx.emit(M::Vgg16FirstLinearShare, shares[1]);
    Ok(())
}

params! {
    /// Parameters of `arch.stacks`.
    pub struct StacksParams {
        depth: i64 = 2, Int { min: 1, max: 6 }, "how many 3x3 convolutions are stacked";
        channels: i64 = 64, Int { min: 1, max: 1024 }, "input and output channels of every layer";
    }
}

metrics! {
    /// What `arch.stacks` reports.
    pub enum StacksMetric {
        StackParams = "stack_params",
        SingleParams = "single_params",
        ReceptiveField = "receptive_field",
    }
}

/// A stack of 3x3 convolutions against one convolution with the same receptive field.
pub static STACKS: Experiment = Experiment {
    name: "arch.stacks",
    summary: "Stacked 3x3 convolutions against one large kernel with the same receptive \
              field: parameters and receptive field, from the tutor's summary",
    params: StacksParams::SPECS,
    metrics: StacksMetric::NAMES,
    long: false,
    run: |p, ctx| kit::typed(&STACKS, p, ctx, stacks),
};

/// A network of `convs` (kernel, count) convolutions, channels kept, padding "same".
fn conv_stack(channels: i64, kernel: i64, count: i64) -> anyhow::Result<NetSpec> {
    let mut text = format!("input = [{channels}, 32, 32]\n");
    for i in 1..=count {
        text.push_str(&format!(
            "[[layers]]\ntype = \"conv2d\"\nname = \"conv{i}\"\nout_channels = {channels}\n\
             kernel = {kernel}\npadding = {}\nbias = false\n",
            kernel / 2
        ));
    }
    Ok(NetSpec::parse(
        &text,
        &format!("{count} x {kernel}x{kernel}"),
    )?)
}

fn stacks(p: StacksParams, ctx: &mut Emit<'_, StacksMetric>) -> anyhow::Result<()> {
    let (n, c) = (p.depth, p.channels);
    let stack = conv_stack(c, 3, n)?.summary(None)?;
    let k = 2 * n + 1;
    let single = conv_stack(c, k, 1)?.summary(None)?;
    let rf = |s: &Summary| s.rows.last().and_then(|r| r.receptive).map_or(0, |f| f[0]);
    let row = |name: String, s: &Summary| {
        vec![
            name,
            fmt_field(s.rows.last().and_then(|r| r.receptive)),
            fmt_count(s.total_params),
            format!("{}", s.rows.len()),
        ]
    };
    ctx.show(
        "compare",
        Output::Table(Table {
            title: Some(format!(
                "{c} channels in and out, no bias: {n} stacked 3x3 convolutions against one \
                 {k}x{k}"
            )),
            header: [
                "layers",
                "receptive field",
                "weights",
                "ReLUs (one per layer)",
            ]
            .map(String::from)
            .to_vec(),
            rows: vec![
                row(format!("{n} x 3x3"), &stack),
                row(format!("1 x {k}x{k}"), &single),
            ],
        }),
    );
    ctx.show(
        "ratio",
        Output::Text(format!(
            "The stack sees the same {}x{} pixels with {:.0}% of the weights: {n}·9·{c}² = {} \
             against {k}²·{c}² = {}.",
            rf(&stack),
            rf(&stack),
            100.0 * stack.total_params as f64 / single.total_params.max(1) as f64,
            fmt_count(stack.total_params),
            fmt_count(single.total_params)
        )),
    );
    ctx.emit(StacksMetric::StackParams, stack.total_params as f64);
    ctx.emit(StacksMetric::SingleParams, single.total_params as f64);
    ctx.emit(StacksMetric::ReceptiveField, rf(&stack) as f64);
    Ok(())
}

params! {
    /// Parameters of `arch.receptive`.
    pub struct ReceptiveParams {
        net: String = "nets/lesson9_resnet.toml", File, "the network file";
        y: i64 = 14, Int { min: 0, max: 27 }, "input row the drawn fields are centred near";
        x: i64 = 14, Int { min: 0, max: 27 }, "input column the drawn fields are centred near";
        digit: i64 = 0, Int { min: 0, max: 9999 }, "which test digit to draw on";
    }
}

metrics! {
    /// What `arch.receptive` reports.
    pub enum ReceptiveMetric {
        ReceptiveField = "receptive_field",
        LayersToCover = "layers_to_cover",
    }
}

/// Receptive fields drawn on a digit, layer by layer.
pub static RECEPTIVE: Experiment = Experiment {
    name: "arch.receptive",
    summary: "The receptive field of one position after each conv and pooling layer, drawn \
              on a digit",
    params: ReceptiveParams::SPECS,
    metrics: ReceptiveMetric::NAMES,
    long: false,
    run: |p, ctx| kit::typed(&RECEPTIVE, p, ctx, receptive),
};

/// Pixels per input pixel in the pictures (the notebook draws each pixel as half a cell; the
/// PNG export enlarges small pictures itself).
const ZOOM: u32 = 1;

fn receptive(p: ReceptiveParams, ctx: &mut Emit<'_, ReceptiveMetric>) -> anyhow::Result<()> {
    let spec = NetSpec::load(&p.net)?;
    let summary = spec.summary(None)?;
    anyhow::ensure!(
        spec.input.len() == 3,
        "{}: the network takes vectors, so it has no receptive field to draw",
        spec.file
    );
    let test = data::mnist(data::Split::Test)?;
    anyhow::ensure!(
        spec.input[1..] == [test.h, test.w],
        "{}: the network takes {}x{} inputs, the digits are {}x{}",
        spec.file,
        spec.input[1],
        spec.input[2],
        test.h,
        test.w
    );
    let digit = super::mlp_cnn::digit_picture(&test, p.digit as usize % test.n);
    let (h, w) = (test.h as f64, test.w as f64);
    let mut pics = Vec::new();
    let mut table = Vec::new();
    let mut covered: Option<usize> = None;
    let mut weighted = 0usize;
    let mut last_rf = 0usize;
    for ((layer, row), win) in spec.layers.iter().zip(&summary.rows).zip(windows(&spec)) {
        let drawn = matches!(
            layer.kind,
            LayerKind::Conv2d(_) | LayerKind::MaxPool2d(_) | LayerKind::AvgPool2d(_)
        );
        weighted += usize::from(matches!(layer.kind, LayerKind::Conv2d(_)));
        let (Some(win), true, [_, oh, ow]) = (win, drawn, row.out_shape.as_slice()) else {
            continue;
        };
        // The output position whose centre is nearest the chosen pixel.
        let pick = |v: i64, start: f64, jump: f64, n: usize| {
            (((v as f64 - start) / jump).round().max(0.0) as usize).min(n - 1)
        };
        let (r, c) = (
            pick(p.y, win.start[0], win.jump[0], *oh),
            pick(p.x, win.start[1], win.jump[1], *ow),
        );
        let rect = win.rect(r, c);
        last_rf = win.size[0];
        let whole = rect[0] <= 0.0 && rect[1] <= 0.0 && rect[2] >= h - 1.0 && rect[3] >= w - 1.0;
        // Pictures up to the first field that covers the whole digit; the table goes on.
        if covered.is_none() {
            pics.push(Picture {
                caption: format!("{}: {}", row.name, fmt_field(Some(win.size))),
                image: draw_field(&digit, rect),
            });
        }
        if whole && covered.is_none() {
            covered = Some(weighted);
        }
        table.push(vec![
            format!("{} ({})", row.name, row.kind),
            fmt_shape(&row.out_shape),
            format!("({r}, {c})"),
            fmt_field(Some(win.size)),
            format!("{}", win.jump[0]),
            format!(
                "rows {:.0}..{:.0}, columns {:.0}..{:.0}",
                rect[0], rect[2], rect[1], rect[3]
            ),
        ]);
    }
    ctx.show("fields", Output::Pictures(pics));
    ctx.show(
        "table",
        Output::Table(Table {
            title: Some(format!(
                "{}: the field of the position nearest pixel ({}, {}), per layer (it may reach \
                 into the padding, outside the {}x{} image)",
                spec.name, p.y, p.x, test.h, test.w
            )),
            header: [
                "layer",
                "output",
                "position",
                "field",
                "jump",
                "input pixels",
            ]
            .map(String::from)
            .to_vec(),
            rows: table,
        }),
    );
    ctx.emit(ReceptiveMetric::ReceptiveField, last_rf as f64);
    ctx.emit(
        ReceptiveMetric::LayersToCover,
        covered.map_or(0.0, |n| n as f64),
    );
    Ok(())
}

/// The digit enlarged, with the field's rectangle drawn (clipped to the image) and the
/// pixels outside it dimmed.
fn draw_field(digit: &RgbImage, rect: [f64; 4]) -> RgbImage {
    let (w, h) = digit.dimensions();
    let [top, left, bottom, right] = rect;
    let inside = |x: u32, y: u32| {
        let (x, y) = (f64::from(x), f64::from(y));
        y >= top && y <= bottom && x >= left && x <= right
    };
    let mut out = RgbImage::new(w * ZOOM, h * ZOOM);
    for (x, y, px) in out.enumerate_pixels_mut() {
        let (sx, sy) = (x / ZOOM, y / ZOOM);
        let v = digit.get_pixel(sx, sy)[0];
        *px = if inside(sx, sy) {
            Rgb([v / 2 + 60, v / 2 + 60, v])
        } else {
            Rgb([v / 4, v / 4, v / 4])
        };
    }
    // The border, in zoomed pixels, clipped to the picture.
    let clip = |v: f64, max: u32| (v.max(0.0) as u32).min(max - 1);
    let (x0, x1) = (
        clip(left * f64::from(ZOOM), w * ZOOM),
        clip((right + 1.0) * f64::from(ZOOM) - 1.0, w * ZOOM),
    );
    let (y0, y1) = (
        clip(top * f64::from(ZOOM), h * ZOOM),
        clip((bottom + 1.0) * f64::from(ZOOM) - 1.0, h * ZOOM),
    );
    let red = Rgb([230, 60, 40]);
    for x in x0..=x1 {
        out.put_pixel(x, y0, red);
        out.put_pixel(x, y1, red);
    }
    for y in y0..=y1 {
        out.put_pixel(x0, y, red);
        out.put_pixel(x1, y, red);
    }
    out
}

params! {
    /// Parameters of `arch.sizes`.
    pub struct SizesParams {
        gap: String = "nets/lesson9_gap.toml", File, "the network with a global-average-pooling head";
        flat: String = "nets/lesson9_flat.toml", File, "the network with a flatten + linear head";
        size: i64 = 56, Int { min: 4, max: 512 }, "the other input size (height and width)";
    }
}

metrics! {
    /// What `arch.sizes` reports.
    pub enum SizesMetric {
        GapOutputs = "gap_outputs",
        GapOutputsOther = "gap_outputs_other",
        FlatFitsOther = "flat_fits_other",
    }
}

/// A GAP head at two input sizes, and the flatten head refusing the second.
pub static SIZES: Experiment = Experiment {
    name: "arch.sizes",
    summary: "The global-average-pooling network at its own input size and another; the \
              flatten-head network at the other size",
    params: SizesParams::SPECS,
    metrics: SizesMetric::NAMES,
    long: false,
    run: |p, ctx| kit::typed(&SIZES, p, ctx, sizes),
};

fn sizes(p: SizesParams, ctx: &mut Emit<'_, SizesMetric>) -> anyhow::Result<()> {
    let gap = NetSpec::load(&p.gap)?;
    let flat = NetSpec::load(&p.flat)?;
    let n = p.size as usize;
    let other = vec![gap.input[0], n, n];
    let own = gap.summary(None)?;
    ctx.show("gap-own", Output::Table(summary_table(&own)));
    let outs = |s: &Summary| s.output.iter().product::<usize>() as f64;
    match gap.summary(Some(&other)) {
        Ok(s) => {
            ctx.show("gap-other", Output::Table(summary_table(&s)));
            ctx.emit(SizesMetric::GapOutputsOther, outs(&s));
        }
        Err(e) => ctx.show(
            "gap-other",
            Output::Text(format!("At {}: {e}", fmt_shape(&other))),
        ),
    }
    let fits = match flat.summary(Some(&other)) {
        Ok(_) => {
            ctx.show(
                "flat-other",
                Output::Text(format!(
                    "{} accepts {} as well.",
                    flat.name,
                    fmt_shape(&other)
                )),
            );
            1.0
        }
        Err(e) => {
            ctx.show(
                "flat-other",
                Output::Text(format!(
                    "{} at {}: the tutor refuses it, as PyTorch would: {e}",
                    flat.name,
                    fmt_shape(&other)
                )),
            );
            0.0
        }
    };
    ctx.emit(SizesMetric::GapOutputs, outs(&own));
    ctx.emit(SizesMetric::FlatFitsOther, fits);
    Ok(())
}

params! {
    /// Parameters of `arch.block`.
    pub struct BlockParams {
        block: String = "nets/lesson9_block.toml", File,
            "the block's network file (its layer `projection` is replaced)";
        projection: String = "conv 16 k1 s1", Text,
            "the layer on the skip path: conv OUT kK [sS] [pP] [dD]";
    }
}

metrics! {
    /// What `arch.block` reports.
    pub enum BlockMetric {
        Fits = "fits",
        ProjectionParams = "projection_params",
    }
}

/// The learner's projection on a downsampling residual block's skip path.
pub static BLOCK: Experiment = Experiment {
    name: "arch.block",
    summary: "A residual block that halves the size and doubles the channels: does the layer \
              you put on its skip path make the add fit?",
    params: BlockParams::SPECS,
    metrics: BlockMetric::NAMES,
    long: false,
    run: |p, ctx| kit::typed(&BLOCK, p, ctx, block),
};

/// The block's network file with the learner's `projection` (a conv) on its skip path, in
/// place of the layer called `projection`.
fn block_spec(file: &str, projection: &str) -> anyhow::Result<NetSpec> {
    let [out, k, s, pad, d] = parse_conv(projection)?;
    let positive = |v: i64, what: &str, min: i64| {
        usize::try_from(v)
            .ok()
            .filter(|&v| v as i64 >= min)
            .ok_or_else(|| anyhow::anyhow!("the {what} must be at least {min}, got {v}"))
    };
    let mut spec = NetSpec::load(file)?;
    let layer = spec
        .layers
        .iter_mut()
        .find(|l| l.name == "projection")
        .ok_or_else(|| anyhow::anyhow!("{file}: no layer called `projection`"))?;
    let LayerKind::Conv2d(c) = &mut layer.kind else {
        anyhow::bail!("{file}: the layer `projection` must be a conv2d");
    };
    c.in_channels = None;
    c.out_channels = positive(out, "number of output channels", 1)?;
    c.kernel = [positive(k, "kernel", 1)?; 2];
    c.stride = [positive(s, "stride", 1)?; 2];
    c.padding = [positive(pad, "padding", 0)?; 2];
    c.dilation = [positive(d, "dilation", 1)?; 2];
    Ok(spec)
}

fn block(p: BlockParams, ctx: &mut Emit<'_, BlockMetric>) -> anyhow::Result<()> {
    let spec = block_spec(&p.block, &p.projection)?;
    match spec.summary(None) {
        Ok(s) => {
            let proj = s
                .rows
                .iter()
                .find(|r| r.name == "projection")
                .map_or(0, |r| r.params);
            ctx.show("block", Output::Table(summary_table(&s)));
            ctx.show(
                "verdict",
                Output::Text(format!(
                    "It fits: F(x) and the projected x are both {}, so they add. The \
                     projection costs {} parameters.",
                    fmt_shape(&s.output),
                    fmt_count(proj)
                )),
            );
            ctx.emit(BlockMetric::Fits, 1.0);
            ctx.emit(BlockMetric::ProjectionParams, proj as f64);
        }
        Err(e) => {
            // The projection's own cost, from the block cut after it (when that much fits).
            let mut head = spec.clone();
            if let Some(at) = head.layers.iter().position(|l| l.name == "projection") {
                head.layers.truncate(at + 1);
                if let Ok(s) = head.summary(None) {
                    let proj = s.rows.last().map_or(0, |r| r.params);
                    ctx.emit(BlockMetric::ProjectionParams, proj as f64);
                }
            }
            ctx.show(
                "verdict",
                Output::Text(format!("It does not fit. The tutor says: {e}")),
            );
            ctx.emit(BlockMetric::Fits, 0.0);
        }
    }
    Ok(())
}

/// The experiments' network file defaults exist and describe what the lesson says.
#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::experiments::kit::{run_recorded, Value};

    fn net(name: &str) -> Value {
        Value::Str(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("nets")
                .join(name)
                .to_string_lossy()
                .into_owned(),
        )
    }

    #[test]
    fn famous_networks_have_torchvisions_parameter_counts() {
        let r = run_recorded(
            &FAMOUS,
            &[
                ("vgg", net("lesson9_vgg16.toml")),
                ("alexnet", net("lesson9_alexnet.toml")),
            ],
        )
        .unwrap();
        // torchvision.models.vgg16() and alexnet(): sum(p.numel() for p in m.parameters()).
        assert_eq!(r.metrics["vgg16_params"], 138_357_544.0);
        assert_eq!(r.metrics["alexnet_params"], 61_100_840.0);
        assert!(r.metrics["vgg16_first_linear_share"] > 0.7);
    }

    #[test]
    fn two_3x3_see_5x5_with_fewer_weights() {
        let r = run_recorded(
            &STACKS,
            &[("depth", Value::Int(2)), ("channels", Value::Int(8))],
        )
        .unwrap();
        assert_eq!(r.metrics["receptive_field"], 5.0);
        assert_eq!(r.metrics["stack_params"], (2 * 9 * 64) as f64);
        assert_eq!(r.metrics["single_params"], (25 * 64) as f64);
    }

    #[test]
    fn the_block_fits_only_with_a_matching_projection() {
        let run = |proj: &str| {
            run_recorded(
                &BLOCK,
                &[
                    ("block", net("lesson9_block.toml")),
                    ("projection", Value::Str(proj.into())),
                ],
            )
        };
        let fits = |proj: &str| run(proj).unwrap();
        let good = fits("conv 32 k1 s2");
        assert_eq!(good.metrics["fits"], 1.0);
        assert_eq!(good.metrics["projection_params"], (16 * 32 + 32) as f64);
        assert_eq!(fits("conv 32 k1 s1").metrics["fits"], 0.0);
        assert_eq!(fits("conv 16 k1 s2").metrics["fits"], 0.0);
        assert!(run("conv").is_err());
        assert!(run("conv 32 k0").is_err());
        assert!(run("conv 32 k1 s-2").is_err());
    }

    #[test]
    fn gap_takes_two_sizes_and_flatten_one() {
        let r = run_recorded(
            &SIZES,
            &[
                ("gap", net("lesson9_gap.toml")),
                ("flat", net("lesson9_flat.toml")),
            ],
        )
        .unwrap();
        assert_eq!(r.metrics["gap_outputs"], 10.0);
        assert_eq!(r.metrics["gap_outputs_other"], 10.0);
        assert_eq!(r.metrics["flat_fits_other"], 0.0);
    }

    #[test]
    fn receptive_fields_grow_to_cover_the_digit() {
        let r = run_recorded(&RECEPTIVE, &[("net", net("lesson9_resnet.toml"))]).unwrap();
        // stem 3, 7; then 8 more per conv at jump 4: the twelfth conv sees 103x103.
        assert_eq!(r.metrics["receptive_field"], 103.0);
        assert!(r.metrics["layers_to_cover"] >= 3.0);
    }
}
