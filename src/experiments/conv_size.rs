//! Lesson 2: how big is a conv layer's output, and how many parameters does it have?
//!
//! The explorer draws the padded input with the kernel at one output position, so sliding the
//! `position` parameter shows the window move; every number comes from the shape arithmetic of
//! [`crate::nn::shape`], the same the quizzes' calculator uses.

use crate::nn::shape;

fn conv_out(i: i64, k: i64, s: i64, p: i64, d: i64) -> Result<i64, String> {
    shape::conv2d_out(i, k, s, p, d).map_err(|e| e.to_string())
}
use crate::experiments::kit::{self, metrics, params, Ctx, Emit, Experiment};
use crate::output::{Mark, Output, Plot, Series, SeriesStyle, Table};

params! {
    /// Parameters of `conv.explorer`.
    pub struct SizeParams {
        i: i64 = 7, Int { min: 1, max: 512 }, "input height and width";
        k: i64 = 3, Int { min: 1, max: 11 }, "kernel size";
        s: i64 = 1, Int { min: 1, max: 8 }, "stride";
        p: i64 = 0, Int { min: 0, max: 8 }, "zero padding on each side";
        d: i64 = 1, Int { min: 1, max: 4 }, "dilation (gap between kernel taps)";
        c_in: i64 = 3, Int { min: 1, max: 2048 }, "input channels";
        c_out: i64 = 16, Int { min: 1, max: 2048 }, "output channels (number of kernels)";
        position: i64 = 0, Int { min: 0, max: 262_143 }, "which output pixel's window to draw (row by row)";
    }
}

metrics! {
    /// What `conv.explorer` reports.
    pub enum SizeMetric {
        OutSize = "out_size",
        Params = "params",
        PaddedSize = "padded_size",
    }
}

/// The interactive conv-size explorer.
pub static EXPLORER: Experiment = Experiment {
    name: "conv.explorer",
    summary:
        "Output size and parameter count of a conv layer, with the kernel drawn on the padded input",
    params: SizeParams::SPECS,
    metrics: SizeMetric::NAMES,
    long: false,
    run: |p, ctx| kit::typed(&EXPLORER, p, ctx, explorer),
};

/// The biggest padded input drawn as a grid; larger ones are described in words.
const MAX_DRAWN: i64 = 24;

fn explorer(p: SizeParams, ctx: &mut Emit<'_, SizeMetric>) -> anyhow::Result<()> {
    let (i, k, s, pad, d) = (p.i, p.k, p.s, p.p, p.d);
    let (c_in, c_out) = (p.c_in, p.c_out);
    let extent = d * (k - 1) + 1;
    let padded = i + 2 * pad;
    let mut text = format!(
        "o = floor((i + 2p - d(k-1) - 1) / s) + 1\n  = floor(({i} + 2·{pad} - {d}·({k}-1) - 1) / {s}) + 1\n"
    );
    let o = match conv_out(i, k, s, pad, d) {
        Ok(o) => o,
        Err(e) => {
            text.push_str(&format!("  = no output: {e}\n"));
            ctx.show("formula", Output::Text(text));
            ctx.emit(SizeMetric::PaddedSize, padded as f64);
            return Ok(());
        }
    };
    let numer = i + 2 * pad - d * (k - 1) - 1;
    text.push_str(&format!("  = floor({numer} / {s}) + 1 = {o}\n"));
    if numer % s != 0 {
        text.push_str(&format!(
            "  ({} column(s) at the far edge are never covered: the stride does not divide evenly)\n",
            numer % s
        ));
    }
    let params = shape::conv2d_params(c_in, c_out, k, 1, true).map_err(|e| anyhow::anyhow!(e))?;
    text.push_str(&format!(
        "\nOutput: {c_out} x {o} x {o}.  Parameters: c_out·(c_in·k·k + 1) = {c_out}·({c_in}·{k}·{k} + 1) = {params}\n"
    ));
    ctx.show("formula", Output::Text(text));

    let pos = p.position.min(o * o - 1);
    let (orow, ocol) = (pos / o, pos % o);
    if padded <= MAX_DRAWN {
        ctx.show("grid", Output::Text(draw(i, pad, k, s, d, orow, ocol, o)));
    } else {
        ctx.show(
            "grid",
            Output::Text(format!(
                "(the padded input is {padded}x{padded}: too big to draw; try i ≤ {})",
                MAX_DRAWN - 2 * pad
            )),
        );
    }
    ctx.show("sizes", size_plot(i, k, s, pad, d));
    ctx.show(
        "summary",
        Output::Table(Table {
            title: None,
            header: vec!["quantity".into(), "value".into()],
            rows: vec![
                vec!["padded input".into(), format!("{padded} x {padded}")],
                vec![
                    "kernel extent (with dilation)".into(),
                    format!("{extent} x {extent}"),
                ],
                vec!["output".into(), format!("{o} x {o}")],
                vec![
                    "window drawn".into(),
                    format!("output pixel (row {orow}, col {ocol}) of {o} x {o}"),
                ],
                vec!["parameters".into(), params.to_string()],
            ],
        }),
    );
    ctx.emit(SizeMetric::OutSize, o as f64);
    ctx.emit(SizeMetric::Params, params as f64);
    ctx.emit(SizeMetric::PaddedSize, padded as f64);
    Ok(())
}

/// The padded input as a grid: `·` input pixel, `░` padding, `█`/`▓` kernel taps on input or
/// padding, `+` a pixel inside the window that a dilated kernel skips.
#[allow(clippy::too_many_arguments)]
fn draw(i: i64, pad: i64, k: i64, s: i64, d: i64, orow: i64, ocol: i64, o: i64) -> String {
    let n = i + 2 * pad;
    let (r0, c0) = (orow * s, ocol * s);
    let extent = d * (k - 1) + 1;
    let mut out = String::new();
    for r in 0..n {
        for c in 0..n {
            let is_pad = r < pad || c < pad || r >= pad + i || c >= pad + i;
            let in_window = (r0..r0 + extent).contains(&r) && (c0..c0 + extent).contains(&c);
            let tap = in_window && (r - r0) % d == 0 && (c - c0) % d == 0;
            let ch = match (tap, in_window, is_pad) {
                (true, _, false) => '█',
                (true, _, true) => '▓',
                (false, true, _) => '+',
                (false, false, true) => '░',
                (false, false, false) => '·',
            };
            out.push(ch);
            out.push(' ');
        }
        out.push('\n');
    }
    out.push_str(&format!(
        "· input  ░ padding  █ kernel tap  ▓ tap on padding{}\nwindow for output ({orow}, {ocol}) of {o}x{o}; increase `position` to slide it\n",
        if d > 1 { "  + skipped by dilation" } else { "" }
    ));
    out
}

/// The output size as a function of the input size, with these k, s, p and d: where the
/// floor makes steps, and where the layer stops fitting at all.
fn size_plot(i: i64, k: i64, s: i64, pad: i64, d: i64) -> Output {
    let top = (2 * i).max(32);
    let points = (1..=top)
        .filter_map(|x| conv_out(x, k, s, pad, d).ok().map(|o| (x as f64, o as f64)))
        .collect();
    Output::Plot(Plot {
        title: format!("Output size for k={k}, s={s}, p={pad}, d={d}"),
        x_label: "input size i".into(),
        y_label: "output size o".into(),
        x_log: false,
        series: vec![Series {
            colour: None,
            name: "o(i)".into(),
            points,
            style: SeriesStyle::Points,
        }],
        marks: vec![Mark {
            label: format!("i = {i}"),
            x: i as f64,
        }],
        x_range: Some((0.0, top as f64)),
    })
}

params! {
    /// Parameters of `conv.layer`.
    pub struct LayerParams {
        input: String = "3,32,32", Text, "input shape C,H,W";
        layer: String = "conv 16 k3 s1 p1", Text, "a conv layer: conv OUT kK [sS] [pP] [dD]";
    }
}

metrics! {
    /// What `conv.layer` reports.
    pub enum LayerMetric {
        OutChannels = "out_channels",
        OutSize = "out_size",
        Params = "params",
    }
}

/// One layer's shapes and parameters, for a spec the learner types.
pub static LAYER: Experiment = Experiment {
    name: "conv.layer",
    summary: "Check a conv layer you describe: output shape and parameter count",
    params: LayerParams::SPECS,
    metrics: LayerMetric::NAMES,
    long: false,
    run: |p, ctx| kit::typed(&LAYER, p, ctx, layer),
};

/// A conv layer as a learner types it, `conv OUT kK [sS] [pP] [dD]`: the output channels,
/// kernel, stride, padding and dilation.
pub(crate) fn parse_conv(spec: &str) -> anyhow::Result<[i64; 5]> {
    let mut words = spec.split_whitespace();
    anyhow::ensure!(
        words.next().is_some_and(|w| w.eq_ignore_ascii_case("conv")),
        "a layer starts with `conv`, e.g. `conv 16 k3 s1 p1`"
    );
    let c_out: i64 = words
        .next()
        .and_then(|w| w.parse().ok())
        .filter(|&c| c >= 1)
        .ok_or_else(|| anyhow::anyhow!("after `conv` give the number of output channels"))?;
    let (mut k, mut s, mut pad, mut d) = (None, 1, 0, 1);
    for w in words {
        // The first character, whatever its width (`split_at(1)` panicked on `é3`).
        let first = w.chars().next().map_or(0, char::len_utf8);
        let (key, val) = w.split_at(first);
        let v: i64 = val
            .parse()
            .map_err(|_| anyhow::anyhow!("`{w}`: expected a letter and a number, like k3"))?;
        match key {
            "k" => k = Some(v),
            "s" => s = v,
            "p" => pad = v,
            "d" => d = v,
            _ => anyhow::bail!("`{w}`: use k (kernel), s (stride), p (padding) or d (dilation)"),
        }
    }
    let k = k.ok_or_else(|| anyhow::anyhow!("give the kernel size, e.g. k3"))?;
    Ok([c_out, k, s, pad, d])
}

fn layer(p: LayerParams, ctx: &mut Emit<'_, LayerMetric>) -> anyhow::Result<()> {
    let shape = crate::util::parse::parse_numbers(&p.input)
        .filter(|v| v.len() == 3 && v.iter().all(|x| x.fract() == 0.0 && *x >= 1.0))
        .ok_or_else(|| anyhow::anyhow!("input shape must be C,H,W, e.g. 3,32,32"))?;
    let (c_in, h) = (shape[0] as i64, shape[1] as i64);
    let [c_out, k, s, pad, d] = parse_conv(&p.layer)?;
    let o = conv_out(h, k, s, pad, d).map_err(|e| anyhow::anyhow!(e))?;
    let params = shape::conv2d_params(c_in, c_out, k, 1, true).map_err(|e| anyhow::anyhow!(e))?;
    ctx.show(
        "result",
        Output::Text(format!(
            "input ({c_in}, {h}, {}) -> output ({c_out}, {o}, {o}); parameters {params}",
            shape[2]
        )),
    );
    ctx.emit(LayerMetric::OutChannels, c_out as f64);
    ctx.emit(LayerMetric::OutSize, o as f64);
    ctx.emit(LayerMetric::Params, params as f64);
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
    fn explorer_reports_size_and_params() {
        let r = run(
            &EXPLORER,
            &[
                ("i", Value::Int(5)),
                ("k", Value::Int(3)),
                ("p", Value::Int(1)),
                ("s", Value::Int(2)),
            ],
        );
        assert_eq!(r.metrics["out_size"], 3.0);
        assert_eq!(r.metrics["params"], (16 * (3 * 9 + 1)) as f64);
        let Output::Text(grid) = &r.outputs[1].1 else {
            panic!()
        };
        // 7x7 padded grid: 7 rows of cells plus two legend lines.
        assert_eq!(grid.lines().count(), 9);
        // The window at output (0,0) covers the corner: 5 padding taps and 4 input taps.
        let cells: String = grid.lines().take(7).collect();
        assert_eq!(cells.matches('▓').count(), 5);
        assert_eq!(cells.matches('█').count(), 4);
    }

    #[test]
    fn explorer_explains_impossible_layers() {
        let r = run(&EXPLORER, &[("i", Value::Int(2)), ("k", Value::Int(5))]);
        assert!(!r.metrics.contains_key("out_size"));
        let Output::Text(t) = &r.outputs[0].1 else {
            panic!()
        };
        assert!(t.contains("no output"), "{t}");
    }

    #[test]
    fn layer_parses_a_typed_spec() {
        let r = run(
            &LAYER,
            &[
                ("input", Value::Str("3, 227, 227".into())),
                ("layer", Value::Str("conv 96 k11 s4".into())),
            ],
        );
        assert_eq!(r.metrics["out_size"], 55.0);
        assert_eq!(r.metrics["params"], 34944.0);
    }

    #[test]
    fn layer_refuses_absurd_and_odd_input() {
        // Issue 11, item 4: this answer wrapped around to a correct-looking layer.
        let given = |layer: &str| {
            [
                ("input", Value::Str("3, 32, 32".into())),
                ("layer", Value::Str(layer.into())),
            ]
        };
        for bad in [
            "conv 16 k3 p4611686018427387904 d4611686018427387904",
            "conv 9223372036854775807 k3",
            "conv 16 k3 é3",
            "conv 16 k-3",
        ] {
            let e = crate::experiments::kit::run_recorded(&LAYER, &given(bad))
                .err()
                .unwrap_or_else(|| panic!("`{bad}` was accepted"));
            assert!(!format!("{e:#}").is_empty());
        }
        let e = crate::experiments::kit::run_recorded(
            &LAYER,
            &given("conv 16 k3 p4611686018427387904 d4611686018427387904"),
        )
        .err()
        .unwrap();
        assert!(
            format!("{e:#}").contains("padding must be at most"),
            "{e:#}"
        );
    }
}
