//! Network files as a lesson shows them: the layer-by-layer summary `tutor inspect` prints.

use crate::experiments::kit::{self, metrics, params, Ctx, Emit, Experiment};
use crate::nn::receptive::fmt_field;
use crate::nn::spec::NetSpec;
use crate::nn::summary::{fmt_count, fmt_shape, Summary};
use crate::output::{Output, Table};

params! {
    /// Parameters of `nets.inspect`.
    pub struct InspectParams {
        net: String = "nets/lesson3_cnn.toml", File, "the network file (relative to the lesson)";
    }
}

metrics! {
    /// What `nets.inspect` reports.
    pub enum InspectMetric {
        Params = "params",
        OutputSize = "output_size",
    }
}

/// Shows a network's shapes and parameter counts, computed from its file.
pub static INSPECT: Experiment = Experiment {
    name: "nets.inspect",
    summary: "Each layer's output shape and parameter count for a network file",
    params: InspectParams::SPECS,
    metrics: InspectMetric::NAMES,
    long: false,
    run: |p, ctx| kit::typed(&INSPECT, p, ctx, inspect),
};

fn inspect(p: InspectParams, ctx: &mut Emit<'_, InspectMetric>) -> anyhow::Result<()> {
    let spec = NetSpec::load(&p.net)?;
    let s = spec.summary(None)?;
    ctx.show("summary", Output::Table(summary_table(&s)));
    ctx.emit(InspectMetric::Params, s.total_params as f64);
    ctx.emit(
        InspectMetric::OutputSize,
        s.output.iter().product::<usize>() as f64,
    );
    Ok(())
}

/// A network's summary as a table: each layer's output shape, receptive field and parameters.
pub fn summary_table(s: &Summary) -> Table {
    let rows = s
        .rows
        .iter()
        .map(|r| {
            vec![
                format!("{} ({})", r.name, r.kind),
                fmt_shape(&r.out_shape),
                fmt_field(r.receptive),
                if r.params == 0 {
                    "--".to_string()
                } else {
                    fmt_count(r.params)
                },
            ]
        })
        .collect();
    Table {
        title: Some(format!(
            "{}: input {}, {} parameters",
            s.name,
            fmt_shape(&s.input),
            fmt_count(s.total_params)
        )),
        header: vec![
            "layer (type)".into(),
            "output shape".into(),
            "RF".into(),
            "params".into(),
        ],
        rows,
    }
}
