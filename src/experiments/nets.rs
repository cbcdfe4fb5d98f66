//! Network files as a lesson shows them: the layer-by-layer summary `tutor inspect` prints.

use crate::experiments::kit::{Ctx, Default, Experiment, ParamKind, ParamSpec, Params};
use crate::nn::spec::NetSpec;
use crate::output::{Output, Table};

/// Shows a network's shapes and parameter counts, computed from its file.
pub static INSPECT: Experiment = Experiment {
    name: "nets.inspect",
    summary: "Each layer's output shape and parameter count for a network file",
    params: &[ParamSpec {
        name: "net",
        kind: ParamKind::File,
        default: Default::Str("nets/lesson3_cnn.toml"),
        doc: "the network file (relative to the lesson)",
    }],
    metrics: &["params", "output_size"],
    long: false,
    run: inspect,
};

fn inspect(p: &Params, ctx: &mut dyn Ctx) -> anyhow::Result<()> {
    let spec = NetSpec::load(p.str("net")?)?;
    let s = spec.summary(None)?;
    let rows = s
        .rows
        .iter()
        .map(|r| {
            vec![
                format!("{} ({})", r.name, r.kind),
                crate::nn::summary::fmt_shape(&r.out_shape),
                if r.params == 0 {
                    "--".to_string()
                } else {
                    crate::nn::summary::fmt_count(r.params)
                },
            ]
        })
        .collect();
    ctx.show(
        "summary",
        Output::Table(Table {
            title: Some(format!(
                "{}: input {}, {} parameters",
                s.name,
                crate::nn::summary::fmt_shape(&s.input),
                crate::nn::summary::fmt_count(s.total_params)
            )),
            header: vec![
                "layer (type)".into(),
                "output shape".into(),
                "params".into(),
            ],
            rows,
        }),
    );
    ctx.metric("params", s.total_params as f64);
    ctx.metric("output_size", s.output.iter().product::<usize>() as f64);
    Ok(())
}
