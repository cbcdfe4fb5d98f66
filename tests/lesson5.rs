//! Lesson 5's experiments on small seeded settings (issue 8): the AUC reported equals the one
//! recomputed from the exported `anomaly-scores.csv` by the Mann-Whitney definition, and a
//! denoising autoencoder beats its noisy input by at least 4 dB, while the same network trained
//! on the noisy target does worse than the one trained on the clean target.

use tutor::experiments::{autoencoders, run_recorded, Value};
use tutor::output::Output;

fn net(name: &str) -> Value {
    Value::Str(format!("{}/nets/{name}", env!("CARGO_MANIFEST_DIR")))
}

/// Every (anomaly, normal) pair: 1 when the anomaly scores higher, 1/2 on a tie.
fn pairwise_auc(rows: &[(bool, f64)]) -> f64 {
    let (mut sum, mut pairs) = (0.0, 0.0);
    for &(a, sa) in rows {
        for &(b, sb) in rows {
            if a && !b {
                pairs += 1.0;
                sum += if sa > sb {
                    1.0
                } else if sa == sb {
                    0.5
                } else {
                    0.0
                };
            }
        }
    }
    sum / pairs
}

/// The small seeded anomaly settings both anomaly tests use, at `threshold`.
fn anomaly_run(threshold: f64) -> tutor::experiments::Recorder {
    run_recorded(
        &autoencoders::anomaly::ANOMALY,
        &[
            ("net", net("lesson5_linear.toml")),
            ("train_size", Value::Int(1500)),
            ("epochs", Value::Int(3)),
            ("threshold", Value::Float(threshold)),
        ],
    )
    .unwrap()
}

/// The only test here that runs `ae.anomaly`, so no other run can replace its cached scores
/// between its two runs.
#[test]
fn reported_auc_equals_the_one_recomputed_from_the_csv_and_moving_the_threshold_does_not_retrain() {
    let trained_before = autoencoders::anomaly::trainings();
    let r = anomaly_run(0.0);
    assert_eq!(autoencoders::anomaly::trainings(), trained_before + 1);
    let csv = r
        .outputs
        .iter()
        .find_map(|(_, o)| match o {
            Output::File(f) if f.path == "anomaly-scores.csv" => Some(f.clone()),
            _ => None,
        })
        .expect("the scores are exported");
    let text = String::from_utf8(csv.bytes).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("index,kind,label,score"));
    let mut by_kind: std::collections::BTreeMap<String, Vec<(bool, f64)>> = Default::default();
    for line in lines {
        let f: Vec<&str> = line.split(',').collect();
        assert_eq!(f.len(), 4, "{line}");
        by_kind
            .entry(f[1].to_string())
            .or_default()
            .push((f[2] == "1", f[3].parse().unwrap()));
    }
    assert_eq!(by_kind.len(), 2, "both cases are exported");
    for (kind, metric) in [
        ("clothing", "anomaly_auc"),
        ("unseen-digit", "anomaly_auc_unseen_digit"),
    ] {
        let rows = &by_kind[kind];
        let recomputed = pairwise_auc(rows);
        let reported = r.metrics[metric];
        assert!(
            (recomputed - reported).abs() < 1e-12,
            "{kind}: reported {reported}, recomputed {recomputed}"
        );
    }
    assert!(
        r.metrics["anomaly_auc"] > 0.8,
        "{}",
        r.metrics["anomaly_auc"]
    );

    // Only the threshold moves: the cached scores are redrawn, nothing is trained again.
    let moved = r.metrics["threshold"] * 0.5;
    let again = anomaly_run(moved);
    assert_eq!(
        autoencoders::anomaly::trainings(),
        trained_before + 1,
        "a run with only the threshold changed trained again"
    );
    assert_eq!(again.metrics["threshold"], moved);
    for m in ["anomaly_auc", "anomaly_auc_unseen_digit"] {
        assert_eq!(again.metrics[m], r.metrics[m], "{m}");
    }
    assert!(
        again.metrics["recall"] >= r.metrics["recall"]
            && again.metrics["specificity"] < r.metrics["specificity"],
        "halving the threshold flags more: {:?} then {:?}",
        r.metrics,
        again.metrics
    );
    let keys = |r: &tutor::experiments::Recorder| {
        r.outputs.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>()
    };
    assert_eq!(keys(&again), keys(&r), "the rerun shows the same outputs");
}

#[test]
fn denoising_beats_the_noisy_input_by_4_db_and_the_noisy_target() {
    let r = run_recorded(
        &autoencoders::denoise::DENOISE,
        &[
            ("net", net("lesson5_linear.toml")),
            ("train_size", Value::Int(6000)),
            ("epochs", Value::Int(6)),
        ],
    )
    .unwrap();
    let (noisy, out, wrong) = (
        r.metrics["denoise_psnr_noisy"],
        r.metrics["denoise_psnr_out"],
        r.metrics["denoise_psnr_wrong_target"],
    );
    assert!(
        out >= noisy + 4.0,
        "noisy {noisy:.2} dB, denoised {out:.2} dB"
    );
    assert!(
        wrong < out,
        "wrong target {wrong:.2} dB, clean target {out:.2} dB"
    );
}
