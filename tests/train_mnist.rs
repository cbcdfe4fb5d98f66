//! Real training on real digits, small and seeded: the loop must learn, early stopping must
//! restore the best weights, and the range test must leave the weights as it found them.

use tutor::data::{self, Normalization, Split as DataSplit};
use tutor::nn::{NetSpec, Network, Optimizer};
use tutor::train::NetModel;
use tutor::train::{self, Model, Quiet, Split, TrainConfig};

const MLP: &str = r#"
input = [1, 28, 28]
[[layers]]
type = "flatten"
[[layers]]
type = "linear"
name = "fc1"
out_features = 64
[[layers]]
type = "relu"
[[layers]]
type = "linear"
name = "fc2"
out_features = 10
"#;

const CNN: &str = r#"
input = [1, 28, 28]
[[layers]]
type = "conv2d"
name = "conv1"
out_channels = 8
kernel = 3
padding = 1
[[layers]]
type = "relu"
[[layers]]
type = "maxpool2d"
kernel = 2
[[layers]]
type = "flatten"
[[layers]]
type = "linear"
name = "fc"
out_features = 10
"#;

fn model(text: &str, seed: u64) -> NetModel {
    let spec = NetSpec::parse(text, "test.toml").unwrap();
    NetModel::new(Network::new(&spec, seed).unwrap(), Optimizer::adam(1e-3))
}

/// 2000 training and 500 validation digits, normalised.
fn digits() -> (data::Dataset, data::Dataset) {
    let all = data::mnist(DataSplit::Train)
        .unwrap()
        .subset(2500, 7)
        .unwrap();
    let (tr, val) = all.train_val_split(500, 7).unwrap();
    let norm = Normalization::fit(&tr);
    (norm.applied(&tr), norm.applied(&val))
}

fn split(d: &data::Dataset) -> Split<'_> {
    Split::new(&d.images, &d.labels)
}

#[test]
fn mlp_and_cnn_learn_digits_far_above_chance() {
    let (tr, val) = digits();
    for (name, text, bar) in [("mlp", MLP, 0.80), ("cnn", CNN, 0.80)] {
        let mut m = model(text, 1);
        let (loss0, acc0, _) = train::evaluate(&mut m, split(&val), 256).unwrap();
        let cfg = TrainConfig {
            epochs: 2,
            seed: 3,
            ..TrainConfig::default()
        };
        let h = train::fit(&mut m, split(&tr), split(&val), &cfg, &mut Quiet).unwrap();
        let (loss1, acc1, _) = train::evaluate(&mut m, split(&val), 256).unwrap();
        // Chance is 10%; an untrained network sits near it.
        assert!(acc0 < 0.3, "{name}: untrained accuracy {acc0}");
        assert!(acc1 > bar, "{name}: accuracy {acc1} after training");
        assert!(loss1 < 0.5 * loss0, "{name}: loss {loss0} -> {loss1}");
        assert!(
            h.epochs[1].train_loss < h.epochs[0].train_loss,
            "{name}: {:?}",
            h.epochs
        );
    }
}

#[test]
fn training_is_reproducible_with_a_seed() {
    let (tr, val) = digits();
    let run = || {
        let mut m = model(MLP, 5);
        let cfg = TrainConfig {
            epochs: 1,
            seed: 9,
            ..TrainConfig::default()
        };
        train::fit(&mut m, split(&tr), split(&val), &cfg, &mut Quiet).unwrap();
        m.snapshot().unwrap().0
    };
    assert_eq!(run(), run());
}

#[test]
fn early_stopping_restores_the_best_epoch() {
    let (tr, val) = digits();
    // A learning rate far too high makes validation loss jump around: the model must end with
    // the weights of its best validation epoch, not the last.
    let mut m = model(MLP, 2);
    let cfg = TrainConfig {
        epochs: 4,
        lr: 0.05,
        patience: Some(2),
        seed: 1,
        ..TrainConfig::default()
    };
    let h = train::fit(&mut m, split(&tr), split(&val), &cfg, &mut Quiet).unwrap();
    let best = h.epochs[h.best_epoch - 1].val_loss;
    assert!(h.epochs.iter().all(|e| e.val_loss >= best));
    let (now, _, _) = train::evaluate(&mut m, split(&val), 256).unwrap();
    assert!((now - best).abs() < 1e-6, "restored {now}, best {best}");
}

#[test]
fn range_test_restores_weights_and_suggests_a_sane_rate() {
    let (tr, _) = digits();
    let mut m = model(CNN, 4);
    let before = m.snapshot().unwrap().0;
    let r = train::find_lr(&mut m, split(&tr), 64, (1e-7, 10.0, 100), 0, &mut Quiet).unwrap();
    assert_eq!(m.snapshot().unwrap().0, before);
    // The sweep stops early once the loss explodes.
    assert!(r.lrs.len() < 100, "{}", r.lrs.len());
    let s = r.suggestions.expect("suggestions");
    for lr in [s.valley, s.steep, s.minimum_tenth] {
        assert!((1e-5..1.0).contains(&lr), "{s:?}");
    }
}
