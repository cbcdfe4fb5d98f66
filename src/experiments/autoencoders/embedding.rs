//! The embedding space: a trained autoencoder's embeddings of test digits projected to 2-D
//! with PCA and drawn coloured by digit (labels only colour the points; training never saw
//! them), and the decoder run on points along the straight line between two digits'
//! embeddings. The decoder is a second network built from the layers after the `embedding`
//! output, with the trained weights copied in by name.

use std::path::Path;

use super::pca::Pca;
use super::{autoencoder, outputs, train_live, Digits, Job, EMBEDDING, LR, PIXELS, SEED};
use crate::experiments::common::{self, Budget};
use crate::experiments::kit::{self, metrics, params, Ctx, Emit, Experiment};
use crate::nn::spec::LayerKind;
use crate::nn::{Batch, NetSpec, Network};
use crate::output::{Output, Picture, Plot, Series, SeriesStyle};

/// Test digits drawn in the scatter.
const SCATTER: usize = 1000;
/// Points decoded along the line, ends included.
const STEPS: usize = 9;

params! {
    /// Parameters of `ae.embedding`.
    pub struct EmbeddingParams {
        net: String = "nets/lesson5_linear.toml", File, "the autoencoder's network file";
        from: i64 = 1, Int { min: 0, max: 9 }, "the digit the walk starts at";
        to: i64 = 7, Int { min: 0, max: 9 }, "the digit the walk ends at";
        epochs: i64 = 6, Int { min: 1, max: 30 }, "passes over the training images";
        train_size: i64 = 6000, Int { min: 500, max: 12000 },
            "training images used (10% of them validate)";
        lr: f64 = LR;
        seed: i64 = SEED;
    }
}

metrics! {
    /// What `ae.embedding` reports.
    pub enum EmbeddingMetric {
        PcaVariance2d = "pca_variance_2d",
        EmbeddingSize = "embedding_size",
    }
}

/// Embeddings in 2-D and a walk between two digits.
pub static EMBEDDING_SPACE: Experiment = Experiment {
    name: "ae.embedding",
    summary: "Test digits' embeddings projected to 2-D by PCA, coloured by digit, and decoded points on the line between two digits",
    params: EmbeddingParams::SPECS,
    metrics: EmbeddingMetric::NAMES,
    long: true,
    run: |p, ctx| kit::typed(&EMBEDDING_SPACE, p, ctx, embedding),
};

/// The layers after the `embedding` output as a network of their own, with `model`'s weights.
fn decoder(spec: &NetSpec, net: &Network, dim: Vec<usize>) -> anyhow::Result<Network> {
    let at = spec
        .layers
        .iter()
        .position(|l| matches!(&l.kind, LayerKind::Output { as_name } if as_name == EMBEDDING))
        .ok_or_else(|| anyhow::anyhow!("the network has no `{EMBEDDING}` output"))?;
    let dec_spec = NetSpec {
        name: format!("{} (decoder)", spec.name),
        input: dim,
        layers: spec.layers[at + 1..].to_vec(),
        file: spec.file.clone(),
    };
    let mut dec = Network::new(&dec_spec, 0)?;
    for p in dec.params() {
        dec.set_values(&p.name, &net.values(&p.name)?)?;
    }
    for b in dec.buffer_names() {
        dec.set_values(&b, &net.values(&b)?)?;
    }
    dec.set_train(false);
    Ok(dec)
}

fn embedding(p: EmbeddingParams, ctx: &mut Emit<'_, EmbeddingMetric>) -> anyhow::Result<()> {
    let seed = p.seed as u64;
    let epochs = p.epochs as usize;
    let lr = p.lr;
    let path = Path::new(&p.net);
    let d = Digits::load(p.train_size as usize, seed)?;
    let mut model = autoencoder(path, seed, lr)?;
    let job = Job {
        name: "autoencoder",
        x_train: &d.train.images,
        y_train: &d.train.images,
        x_val: &d.val.images,
        y_val: &d.val.images,
        epochs,
        lr,
        seed,
        cost: 1,
    };
    let mut budget = Budget {
        done: 0,
        total: job.batches() * epochs,
    };
    let mut plot = common::loss_plot("Reconstruction loss per epoch", epochs, "MSE");
    train_live(
        ctx,
        &mut model,
        &mut plot,
        "curves",
        &mut budget,
        &job,
        false,
    )?;

    let n = SCATTER.min(d.test.n);
    let emb = outputs(&mut model, &d.test.images[..n * PIXELS], EMBEDDING)?;
    let dim = emb.len() / n.max(1);
    let pca = Pca::fit(&emb, dim, 2);
    let xy = pca.project(&emb);
    let series = (0..10u8)
        .map(|c| Series {
            colour: None,
            name: c.to_string(),
            points: (0..n)
                .filter(|&i| d.test.labels[i] == c)
                .map(|i| (xy[i][0], xy[i][1]))
                .collect(),
            style: SeriesStyle::Points,
        })
        .collect();
    let share: f64 = pca.explained.iter().sum();
    ctx.show(
        "scatter",
        Output::Plot(Plot {
            title: format!(
                "{n} test digits' {dim}-number embeddings on their first two principal components ({:.0}% of the variance)",
                100.0 * share
            ),
            x_label: "principal component 1".into(),
            y_label: "principal component 2".into(),
            x_log: false,
            series,
            marks: Vec::new(),
            x_range: None,
        }),
    );

    // The walk: decode points on the straight line between two test digits' embeddings.
    let (a, b) = (p.from as u8, p.to as u8);
    let first = |c: u8| {
        d.test
            .labels
            .iter()
            .position(|&l| l == c)
            .ok_or_else(|| anyhow::anyhow!("no test image of digit {c}"))
    };
    let (ia, ib) = (first(a)?, first(b)?);
    let ends = outputs(
        &mut model,
        &[d.test.image(ia), d.test.image(ib)].concat(),
        EMBEDDING,
    )?;
    let (ea, eb) = ends.split_at(dim);
    let mut line = Vec::with_capacity(STEPS * dim);
    for s in 0..STEPS {
        let t = s as f32 / (STEPS - 1) as f32;
        line.extend(ea.iter().zip(eb).map(|(x, y)| (1.0 - t) * x + t * y));
    }
    let spec = NetSpec::load(path)?;
    let emb_shape = {
        let mut dims = vec![STEPS];
        dims.extend(embedding_shape(&spec)?);
        dims
    };
    let mut dec = decoder(&spec, &model.net, emb_shape[1..].to_vec())?;
    let decoded = dec.forward(&Batch::new(line, emb_shape)?)?.data;
    let mut strip = vec![Picture {
        caption: format!("test {a}"),
        image: super::gray(d.test.image(ia)),
    }];
    for s in 0..STEPS {
        strip.push(Picture {
            caption: format!("t={:.2}", s as f64 / (STEPS - 1) as f64),
            image: super::gray(&decoded[s * PIXELS..(s + 1) * PIXELS]),
        });
    }
    strip.push(Picture {
        caption: format!("test {b}"),
        image: super::gray(d.test.image(ib)),
    });
    ctx.show("walk", Output::Pictures(strip));
    ctx.emit(EmbeddingMetric::PcaVariance2d, share);
    ctx.emit(EmbeddingMetric::EmbeddingSize, dim as f64);
    Ok(())
}

/// The shape of the `embedding` output, from the network's summary.
fn embedding_shape(spec: &NetSpec) -> anyhow::Result<Vec<usize>> {
    let net = Network::new(spec, 0)?;
    let s = net.summary()?;
    s.outputs
        .iter()
        .find(|(n, _)| n == EMBEDDING)
        .map(|(_, shape)| shape.clone())
        .ok_or_else(|| anyhow::anyhow!("the network has no `{EMBEDDING}` output"))
}
