//! Transfer learning (issue 4): the committed pretrained model loads and scores what its
//! metadata says; the head is replaced for the target's classes while the backbone keeps its
//! weights; partial checkpoint loading, per-layer evaluation mode and per-layer learning rates
//! do what they claim; cached features give the same outputs as the whole network; a small
//! seeded pretraining learns and reloads; the lesson's comparison beats chance.

use std::path::{Path, PathBuf};

use tutor::data::{self, Split as DataSplit};
use tutor::experiments::transfer::pretrain::{self, PretrainConfig, Pretrained};
use tutor::experiments::transfer::{BATCHNORM, COMPARE, LAYERS};
use tutor::experiments::{run_recorded, Value};
use tutor::nn::{Batch, LossKind, NetSpec, Network, Optimizer, Target};
use tutor::output::Output;
use tutor::train::NetModel;
use tutor::train::{self, Quiet, Split};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn meta_path() -> PathBuf {
    root().join("data/pretrained/lesson4_backbone.toml")
}

fn committed() -> Pretrained {
    Pretrained::load(&meta_path()).expect("the committed pretrained model loads")
}

fn meta_param() -> (&'static str, Value) {
    (
        "pretrained",
        Value::Str(meta_path().to_string_lossy().into_owned()),
    )
}

#[test]
fn committed_model_scores_what_its_metadata_says() {
    let pre = committed();
    assert_eq!(pre.meta.source_labels, vec![0, 1, 2, 3, 4]);
    assert_eq!(pre.target(), ("mnist", vec![5, 6, 7, 8, 9]));
    let test = pre
        .norm()
        .applied(&pre.source_data(DataSplit::Test).unwrap());
    let mut model = NetModel::new(pre.source_network().unwrap(), Optimizer::adam(1e-3));
    let (_, acc, _) =
        train::evaluate(&mut model, Split::new(&test.images, &test.labels), 256).unwrap();
    assert!(
        (acc - pre.meta.source_test_accuracy).abs() < 1e-3,
        "measured {acc}, metadata says {}",
        pre.meta.source_test_accuracy
    );
    assert!(acc > 0.97, "a source model worth transferring: {acc}");
}

#[test]
fn new_head_for_the_target_classes_over_the_pretrained_backbone() {
    let pre = committed();
    let source = pre.source_network().unwrap();
    let a = pre.network(5, 1).unwrap();
    let b = pre.network(3, 2).unwrap();
    for name in ["conv1.weight", "bn3.running_var", "conv3.weight"] {
        assert_eq!(
            a.values(name).unwrap(),
            source.values(name).unwrap(),
            "{name}"
        );
        assert_eq!(
            b.values(name).unwrap(),
            source.values(name).unwrap(),
            "{name}"
        );
    }
    let head = |n: &Network| {
        n.params()
            .into_iter()
            .find(|p| p.name == "head.weight")
            .unwrap()
            .shape
    };
    assert_eq!(head(&a), vec![5, 576]);
    assert_eq!(head(&b), vec![3, 576]);
    // A fresh head, not the source task's.
    assert_ne!(
        a.values("head.weight").unwrap(),
        source.values("head.weight").unwrap()
    );
    assert!(pre.in_backbone("features") && !pre.in_backbone("head"));
}

#[test]
fn cached_features_then_head_equal_the_whole_network() {
    let pre = committed();
    let digits = pre.norm().applied(
        &pre.target_data(DataSplit::Test)
            .unwrap()
            .subset(40, 3)
            .unwrap(),
    );
    let mut whole = pre.network(5, 7).unwrap();
    whole.set_train(false);
    let mut head = Network::new(&pre.head_spec(5).unwrap(), 0).unwrap();
    for p in head.params() {
        head.set_values(&p.name, &whole.values(&p.name).unwrap())
            .unwrap();
    }
    head.set_train(false);
    let feats = pretrain::features(&mut pre.backbone().unwrap(), &digits).unwrap();
    assert_eq!((feats.n, feats.w), (40, 576));
    let direct = whole
        .forward(&Batch::new(digits.images.clone(), vec![40, 1, 28, 28]).unwrap())
        .unwrap();
    let via = head
        .forward(&Batch::new(feats.images.clone(), vec![40, 576]).unwrap())
        .unwrap();
    assert_eq!(direct.shape, via.shape);
    for (x, y) in direct.data.iter().zip(&via.data) {
        assert!((x - y).abs() < 1e-4, "{x} vs {y}");
    }
}

const SMALL: &str = r#"
input = [1, 8, 8]
[[layers]]
type = "conv2d"
name = "conv1"
out_channels = 4
kernel = 3
padding = 1
[[layers]]
type = "batchnorm2d"
name = "bn1"
[[layers]]
type = "relu"
[[layers]]
type = "flatten"
name = "features"
[[layers]]
type = "linear"
name = "head"
out_features = OUT
"#;

fn small(out: usize, seed: u64) -> Network {
    let spec = NetSpec::parse(&SMALL.replace("OUT", &out.to_string()), "small.toml").unwrap();
    Network::new(&spec, seed).unwrap()
}

fn batch(n: usize) -> (Batch, Target) {
    let data = (0..n * 64)
        .map(|i| ((i * 37 % 101) as f32 / 50.0) - 1.0)
        .collect();
    (
        Batch::new(data, vec![n, 1, 8, 8]).unwrap(),
        Target::Classes((0..n).map(|i| i % 2).collect()),
    )
}

#[test]
fn partial_load_takes_the_backbone_and_leaves_the_head() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("src.safetensors");
    let source = small(5, 1);
    source.save(&path).unwrap();
    let mut target = small(2, 9);
    let head_before = target.values("head.weight").unwrap();
    // The whole checkpoint does not fit: the head has another shape, and the error says which.
    let err = target.load(&path).unwrap_err().to_string();
    assert!(err.contains("head.weight"), "{err}");
    assert_eq!(target.values("head.weight").unwrap(), head_before);
    // Saving the same weights again gives the same bytes.
    let again = dir.path().join("again.safetensors");
    source.save(&again).unwrap();
    assert_eq!(
        std::fs::read(&path).unwrap(),
        std::fs::read(&again).unwrap()
    );
    let loaded = target.load_layers(&path, |l| l != "head").unwrap();
    assert_eq!(
        loaded,
        vec![
            "conv1.weight",
            "conv1.bias",
            "bn1.weight",
            "bn1.bias",
            "bn1.running_mean",
            "bn1.running_var"
        ]
    );
    assert_eq!(
        target.values("conv1.weight").unwrap(),
        source.values("conv1.weight").unwrap()
    );
    assert_eq!(target.values("head.weight").unwrap(), head_before);
    // Asking for the head too fails on its shape, and changes nothing.
    assert!(target.load_layers(&path, |_| true).is_err());
    assert_eq!(target.values("head.weight").unwrap(), head_before);
}

#[test]
fn a_layer_in_evaluation_mode_keeps_its_running_statistics() {
    let (x, t) = batch(8);
    for eval in [false, true] {
        let mut net = small(2, 3);
        net.freeze_through("features").unwrap();
        net.set_layer_eval("bn1", eval).unwrap();
        assert_eq!(net.layer_trains("bn1").unwrap(), !eval);
        assert!(net.layer_trains("head").unwrap());
        let mean = net.values("bn1.running_mean").unwrap();
        let gamma = net.values("bn1.weight").unwrap();
        let mut opt = Optimizer::adam(1e-2);
        for _ in 0..3 {
            net.step(&x, &t, LossKind::CrossEntropy, &mut opt).unwrap();
        }
        assert_eq!(net.values("bn1.weight").unwrap(), gamma, "frozen γ");
        let moved = net.values("bn1.running_mean").unwrap() != mean;
        assert_eq!(moved, !eval, "eval = {eval}");
    }
    assert!(small(2, 3).set_layer_eval("nope", true).is_err());
}

#[test]
fn per_layer_learning_rate_scales_the_update() {
    let (x, t) = batch(8);
    let step = |scale: f64| {
        let mut net = small(2, 4);
        net.set_lr_scale("conv1", scale).unwrap();
        let before = net.values("conv1.weight").unwrap();
        let head = net.values("head.weight").unwrap();
        let mut opt = Optimizer::sgd(0.1, 0.0);
        net.step(&x, &t, LossKind::CrossEntropy, &mut opt).unwrap();
        let d: Vec<f32> = net
            .values("conv1.weight")
            .unwrap()
            .iter()
            .zip(&before)
            .map(|(a, b)| a - b)
            .collect();
        (d, net.values("head.weight").unwrap() != head)
    };
    let (full, head_moved) = step(1.0);
    let (half, _) = step(0.5);
    let (none, head_moved_0) = step(0.0);
    assert!(head_moved && head_moved_0);
    assert!(full.iter().any(|v| v.abs() > 1e-6));
    for ((f, h), z) in full.iter().zip(&half).zip(&none) {
        assert!((f * 0.5 - h).abs() < 1e-6, "{f} {h}");
        assert_eq!(*z, 0.0);
    }
}

#[test]
fn batchnorm_experiment_shows_the_drift_and_its_cure() {
    let r = run_recorded(&BATCHNORM, &[meta_param(), ("steps", Value::Int(5))]).unwrap();
    assert_eq!(r.metrics["bn_weight_change"], 0.0);
    assert_eq!(r.metrics["bn_stats_change_eval_mode"], 0.0);
    assert!(r.metrics["bn_stats_change_train_mode"] > 1e-3);
    // Issue 12, item 17: both frozen parameters are shown, γ and β.
    let Some(Output::Table(t)) = r.outputs.iter().find(|(k, _)| k == "stats").map(|o| &o.1) else {
        panic!("no table")
    };
    assert!(
        t.header.contains(&"γ (frozen)".to_string()),
        "{:?}",
        t.header
    );
    assert!(
        t.header.contains(&"β (frozen)".to_string()),
        "{:?}",
        t.header
    );
    assert!(
        t.rows.iter().all(|r| r[1] == "0.0000" && r[2] == "0.0000"),
        "{:?}",
        t.rows
    );
}

#[test]
fn layers_experiment_counts_frozen_and_trained_parameters() {
    let spec = NetSpec::load(root().join("nets/lesson4_cnn.toml")).unwrap();
    let total = spec.summary(None).unwrap().total_params;
    let r = run_recorded(&LAYERS, &[meta_param()]).unwrap();
    // Frozen through `features`: only the new 5-class head (576 * 5 + 5) trains.
    assert_eq!(r.metrics["trainable_params"], (576 * 5 + 5) as f64);
    assert_eq!(
        r.metrics["frozen_params"],
        (total - (576 * 5 + 5)) as f64,
        "the backbone is the source network less its 5-output head"
    );
    let r = run_recorded(
        &LAYERS,
        &[meta_param(), ("freeze_through", Value::Str("pool2".into()))],
    )
    .unwrap();
    assert_eq!(
        (r.metrics["frozen_layers"], r.metrics["trainable_layers"]),
        (4.0, 3.0)
    );
    let err = run_recorded(
        &LAYERS,
        &[meta_param(), ("freeze_through", Value::Str("conv9".into()))],
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("conv9") && err.contains("pool2"), "{err}");
}

#[test]
fn short_comparison_beats_chance_and_the_frozen_backbone_learns_faster() {
    let r = run_recorded(
        &COMPARE,
        &[
            meta_param(),
            ("labels_per_class", Value::Int(3)),
            ("draws", Value::Int(1)),
            ("more_labels", Value::Int(0)),
            ("epochs", Value::Int(8)),
            ("head_epochs", Value::Int(4)),
        ],
    )
    .unwrap();
    let m = &r.metrics;
    // Five classes: chance is 20%.
    for k in ["scratch_accuracy", "frozen_accuracy", "finetune_accuracy"] {
        assert!(m[k] > 0.5, "{k} = {}", m[k]);
    }
    // Eight epochs of one mini-batch of 15 images: the head on features that already describe
    // handwriting gets further than random weights.
    assert!(
        m["frozen_accuracy"] > m["scratch_accuracy"] + 0.03,
        "frozen {} vs scratch {}",
        m["frozen_accuracy"],
        m["scratch_accuracy"]
    );
    assert_eq!(m["labels_per_class"], 3.0);
    // Issue 12, item 16: the progress line names the labelled set and the epoch.
    let (_, _, what) = r.last_progress.clone().expect("progress was reported");
    assert!(
        what.starts_with("3/class") && what.contains("epoch 8/8"),
        "{what}"
    );
    assert!(r.outputs.iter().any(|(k, _)| k == "curves"));
    assert!(r.outputs.iter().any(|(k, _)| k == "results"));
}

#[test]
fn a_small_seeded_pretraining_learns_saves_and_reloads() {
    let cfg = PretrainConfig {
        net: root().join("nets/lesson4_cnn.toml"),
        epochs: 1,
        train_images: Some(800),
        ..PretrainConfig::default()
    };
    let (net, meta, history) = pretrain::pretrain(&cfg, &mut Quiet).unwrap();
    assert_eq!(history.epochs.len(), 1);
    assert!(
        meta.source_test_accuracy > 0.6,
        "{}",
        meta.source_test_accuracy
    );
    assert_eq!(meta.classes, vec!["0", "1", "2", "3", "4"]);
    let dir = tempfile::tempdir().unwrap();
    let path = pretrain::save(&net, &meta, dir.path()).unwrap();
    let pre = Pretrained::load(&path).unwrap();
    assert_eq!(pre.meta, meta);
    let reloaded = pre.source_network().unwrap();
    for p in net.params() {
        assert_eq!(
            reloaded.values(&p.name).unwrap(),
            net.values(&p.name).unwrap()
        );
    }
    // Seeded: the same settings give the same weights.
    let (again, _, _) = pretrain::pretrain(&cfg, &mut Quiet).unwrap();
    assert_eq!(
        again.values("conv2.weight").unwrap(),
        net.values("conv2.weight").unwrap()
    );
}

#[test]
fn pretraining_needs_outputs_for_every_source_class() {
    let cfg = PretrainConfig {
        net: root().join("nets/lesson4_cnn.toml"),
        labels: vec![0, 1, 2],
        ..PretrainConfig::default()
    };
    let Err(err) = pretrain::pretrain(&cfg, &mut Quiet) else {
        panic!("a 5-output network cannot pretrain on 3 classes");
    };
    let err = err.to_string();
    assert!(err.contains("5") && err.contains("3 classes"), "{err}");
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn broken_metadata_is_reported_with_file_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let good = std::fs::read_to_string(meta_path()).unwrap();
    // A misspelt field.
    let p = write(
        dir.path(),
        "a.toml",
        &good.replace("source_task =", "source_tsk ="),
    );
    let err = format!("{:#}", Pretrained::load(&p).unwrap_err());
    assert!(
        err.contains("a.toml") && err.contains("source_tsk"),
        "{err}"
    );
    // The weights are missing.
    let p = write(dir.path(), "b.toml", &good);
    let err = format!("{:#}", Pretrained::load(&p).unwrap_err());
    assert!(
        err.contains("lesson4_backbone.safetensors") && err.contains("tutor pretrain"),
        "{err}"
    );
    // A backbone end that the architecture lacks.
    let p = write(
        dir.path(),
        "c.toml",
        &good.replace("backbone_end = \"features\"", "backbone_end = \"nope\""),
    );
    let err = format!("{:#}", Pretrained::load(&p).unwrap_err());
    assert!(
        err.contains("backbone_end") && err.contains("nope"),
        "{err}"
    );
    // Source data cannot be found for an unknown dataset.
    assert!(pretrain::source_dataset("cifar", &[0], DataSplit::Test).is_err());
    assert!(data::mnist(DataSplit::Test).is_ok());
}
