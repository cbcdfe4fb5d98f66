//! The experiments lessons can run: the registry ([`ALL`], [`find`]), the kit every experiment
//! is written with ([`kit`]: declaration, parameters, the context it reports to), shared
//! training helpers ([`common`]) and one module per topic.
//!
//! Adding an experiment: write it in its topic's module, add one line to [`ALL`], name it in a
//! lesson file; `lessons/README.md`'s table is generated from here (a test keeps them equal).

pub mod autoencoders;
pub mod common;
pub mod conv_size;
pub mod filters;
pub mod kit;
pub mod mlp_cnn;
pub mod nets;
pub mod transfer;

pub use kit::{
    check_cancel, coerce, run_recorded, Ctx, Default, Experiment, ParamError, ParamKind, ParamSpec,
    Params, Recorder, Value,
};

/// Every experiment, in lesson order.
pub static ALL: &[&Experiment] = &[
    &filters::PHOTO,
    &filters::WORKED,
    &filters::EDGES,
    &filters::APPLY,
    &filters::BORDERS,
    &filters::CUSTOM,
    &conv_size::EXPLORER,
    &conv_size::LAYER,
    &nets::INSPECT,
    &mlp_cnn::SAMPLES,
    &mlp_cnn::LR_FIND,
    &mlp_cnn::COMPARE,
    &transfer::SOURCE,
    &transfer::LAYERS,
    &transfer::BATCHNORM,
    &transfer::HEAD_LR,
    &transfer::COMPARE,
    &autoencoders::LINEAR,
    &autoencoders::anomaly::ANOMALY,
    &autoencoders::CONV,
    &autoencoders::denoise::DENOISE,
    &autoencoders::embedding::EMBEDDING_SPACE,
];

/// Every experiment the tutor knows, in lesson order.
pub fn all() -> &'static [&'static Experiment] {
    ALL
}

/// The experiment called `name`.
pub fn find(name: &str) -> Option<&'static Experiment> {
    all().iter().copied().find(|e| e.name == name)
}

/// The experiments as a Markdown table for `lessons/README.md` (a test keeps the two equal).
pub fn markdown_table() -> String {
    let mut out = String::from(
        "| experiment | what it shows | parameters (default) | metrics |\n|---|---|---|---|\n",
    );
    for e in all() {
        let params: Vec<String> = e
            .params
            .iter()
            .map(|p| format!("`{}` ({}): {}", p.name, default_text(p.default), p.doc))
            .collect();
        out.push_str(&format!(
            "| `{}` | {} | {} | {} |\n",
            e.name,
            e.summary,
            if params.is_empty() {
                "none".into()
            } else {
                params.join("<br>")
            },
            e.metrics
                .iter()
                .map(|m| format!("`{m}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    out
}

fn default_text(d: Default) -> String {
    match d.value() {
        Value::Str(s) if s.is_empty() => "none".into(),
        Value::Str(s) => format!("`{s}`"),
        v => format!("`{v}`"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lessons_readme_lists_every_experiment() {
        let readme = include_str!("../lessons/README.md");
        let table = markdown_table();
        assert!(
            readme.contains(&table),
            "lessons/README.md's experiment table is out of date; replace it with:\n{table}"
        );
    }
}
