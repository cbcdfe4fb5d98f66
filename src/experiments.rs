//! The experiments lessons can run: the registry ([`ALL`], [`find`]), the kit every experiment
//! is written with ([`kit`]: declaration, parameters, the context it reports to), shared
//! training helpers ([`common`]) and one module per topic.
//!
//! Adding an experiment takes three things: its module (or a section of its topic's module:
//! a [`kit::params!`] struct, a [`kit::metrics!`] enum, the [`Experiment`] static whose `run` is
//! `|p, ctx| kit::typed(&THIS, p, ctx, body)`, and the body), one line in [`ALL`], and the lesson
//! file that names it. Everything else follows: `lessons/README.md`'s table is generated from
//! here (a test keeps them equal), and the tests below check every experiment's declaration
//! against its body and run every quick one to compare the metrics it emits with the ones it
//! declares.

pub mod architectures;
pub mod autoencoders;
pub mod common;
pub mod conv_size;
pub mod craft;
pub mod detection;
pub mod filters;
pub mod kit;
pub mod mlp_cnn;
pub mod nets;
pub mod segmentation;
pub mod transfer;

pub use kit::{
    check_cancel, coerce, run_recorded, Ctx, Default, Emit, Experiment, Metric, ParamError,
    ParamKind, ParamSet, ParamSpec, Params, Recorder, Value,
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
    &detection::BOXES,
    &detection::localize::LOCALIZE,
    &detection::ANCHORS,
    &detection::detector::DETECT,
    &detection::detector::TUNE,
    &segmentation::TASKS,
    &segmentation::SCENES,
    &segmentation::THRESHOLD,
    &segmentation::COMPARE,
    &craft::AUGMENT,
    &craft::SHIFTED,
    &craft::BATCHNORM,
    &craft::REGULARIZE,
    &craft::SCHEDULES,
    &craft::search::SEARCH,
    &craft::search::RUNS,
    &craft::checkpoint::CHECKPOINT,
    &craft::INIT,
    &architectures::FAMOUS,
    &architectures::STACKS,
    &architectures::RECEPTIVE,
    &architectures::races::RESNET,
    &architectures::BLOCK,
    &architectures::SIZES,
    &architectures::races::GAP,
    &architectures::races::SE,
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
    use std::collections::{BTreeMap, BTreeSet};
    use std::path::Path;

    use super::*;
    use crate::util::cancel::Cancelled;

    #[test]
    fn lessons_readme_lists_every_experiment() {
        let readme = include_str!("../lessons/README.md");
        let table = markdown_table();
        assert!(
            readme.contains(&table),
            "lessons/README.md's experiment table is out of date; replace it with:\n{table}"
        );
    }

    #[test]
    fn every_declaration_matches_its_body() {
        // A cancelled context stops `kit::typed` after it has compared the experiment's
        // `params` and `metrics` with its body's types and read the parameters, before any
        // work: so this covers the long experiments too.
        for e in all() {
            let params = e.params_from(&BTreeMap::new()).unwrap();
            let mut r = Recorder {
                cancel: true,
                ..Recorder::default()
            };
            let err = (e.run)(&params, &mut r).unwrap_err();
            assert!(err.is::<Cancelled>(), "{}: {err:#}", e.name);
        }
    }

    #[test]
    fn every_declaration_is_well_formed() {
        for e in all() {
            let params: BTreeSet<&str> = e.params.iter().map(|p| p.name).collect();
            assert_eq!(
                params.len(),
                e.params.len(),
                "{}: a parameter twice",
                e.name
            );
            let metrics: BTreeSet<&str> = e.metrics.iter().copied().collect();
            assert_eq!(metrics.len(), e.metrics.len(), "{}: a metric twice", e.name);
            for spec in e.params {
                coerce(spec, spec.default.value())
                    .unwrap_or_else(|m| panic!("{}: default of `{}`: {m}", e.name, spec.name));
            }
        }
    }

    #[test]
    fn every_quick_experiment_emits_exactly_what_it_declares() {
        // File defaults are relative to the lesson files (lesson 4's) or to the crate (the
        // network files, which lessons name themselves).
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let resolve = |rel: &str| {
            let in_lessons = root.join("lessons").join(rel);
            let path = if in_lessons.exists() {
                in_lessons
            } else {
                root.join(rel)
            };
            Value::Str(path.to_string_lossy().into_owned())
        };
        for e in all().iter().filter(|e| !e.long) {
            let files: Vec<(&str, Value)> = e
                .params
                .iter()
                .filter_map(|p| match (p.kind, p.default) {
                    (ParamKind::File, Default::Str(rel)) if !rel.is_empty() => {
                        Some((p.name, resolve(rel)))
                    }
                    _ => None,
                })
                .collect();
            let r = run_recorded(e, &files).unwrap_or_else(|err| panic!("{}: {err:#}", e.name));
            let emitted: BTreeSet<&str> = r.metrics.keys().map(String::as_str).collect();
            let declared: BTreeSet<&str> = e.metrics.iter().copied().collect();
            assert_eq!(emitted, declared, "{}", e.name);
        }
    }
}
