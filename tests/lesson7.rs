//! Lesson 7 (issue 9): the segmentation race run headless by the built binary on a small
//! setting, its scores recomputed from the exported masks by the stated definition and
//! compared with `results.json`; and the lesson's experiments recorded in process.

use std::path::{Path, PathBuf};
use std::process::Command;

use tutor::experiments::{run_recorded, segmentation, Value};
use tutor::output::Output;
use tutor::train::segmentation::scores;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A one-cell lesson running `seg.compare` small enough for a test.
fn fixture_lesson(dir: &Path) {
    let nets = root().join("nets");
    let text = format!(
        r#"format_version = 1
id = "lesson-70"
number = 70
short = "seg-small"
title = "Segmentation, small"
summary = "The race on a few scenes."

[[cells]]
kind = "run"
id = "compare"
experiment = "seg.compare"
params = {{ unet = "{}", noskip = "{}", epochs = 2, train_size = 32, test_size = 6 }}
"#,
        nets.join("lesson7_unet.toml").display(),
        nets.join("lesson7_noskip.toml").display()
    );
    std::fs::write(dir.join("lesson-70.toml"), text).unwrap();
}

fn gray(path: &Path) -> Vec<u8> {
    image::open(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .to_luma8()
        .into_raw()
}

#[test]
fn exported_masks_give_back_the_reported_scores_issue_9() {
    let lessons = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    fixture_lesson(lessons.path());
    let o = Command::new(env!("CARGO_BIN_EXE_tutor"))
        .args(["--lessons"])
        .arg(lessons.path())
        .args(["exec", "70", "--out"])
        .arg(out.path())
        .env("TUTOR_HOME", home.path())
        .env("TUTOR_LEARNER", "tester")
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    let results: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.path().join("results.json")).unwrap()).unwrap();
    let metrics = &results["cells"][0]["metrics"];
    let seg = out.path().join("segmentation");
    let (mut truth, mut pred) = (Vec::new(), Vec::new());
    for i in 0..6 {
        let scene = gray(&seg.join(format!("scene-{i:03}.png")));
        assert_eq!(scene.len(), 64 * 64);
        truth.extend(gray(&seg.join(format!("true-{i:03}.png"))));
        pred.extend(gray(&seg.join(format!("pred-{i:03}.png"))));
    }
    assert!(!seg.join("true-006.png").exists());
    assert!(truth.iter().all(|&c| c < 4) && pred.iter().all(|&c| c < 4));
    let s = scores(&pred, &truth, 64 * 64, 4);
    let bg = scores(&vec![0; truth.len()], &truth, 64 * 64, 4);
    for (name, value) in [
        ("dice_unet", s.dice),
        ("iou_unet", s.iou),
        ("pixel_accuracy_unet", s.pixel_accuracy),
        ("pixel_accuracy_background_only", bg.pixel_accuracy),
        ("dice_background_only", bg.dice),
    ] {
        let reported = metrics[name].as_f64().unwrap_or_else(|| panic!("{name}"));
        assert!(
            (reported - value).abs() < 1e-9,
            "{name}: results.json {reported}, recomputed {value}"
        );
    }
    assert!(s.dice >= s.iou);
    for name in ["dice_noskip", "iou_noskip", "pixel_accuracy_noskip"] {
        assert!(metrics[name].as_f64().is_some(), "{name}");
    }
}

#[test]
fn tasks_and_scenes_draw_legible_overlays_with_a_legend() {
    let r = run_recorded(&segmentation::TASKS, &[]).unwrap();
    let Some((_, Output::Pictures(p))) = r.outputs.iter().find(|(k, _)| k == "tasks") else {
        panic!("the five tasks as pictures");
    };
    assert_eq!(p.len(), 5);
    assert!(r.outputs.iter().any(|(k, _)| k == "legend"));
    let r = run_recorded(&segmentation::SCENES, &[("binary", Value::Bool(true))]).unwrap();
    assert_eq!(r.metrics["classes"], 2.0);
    let bg = r.metrics["background_share"];
    assert!(bg > 0.5 && bg < 1.0, "{bg}");
}

#[test]
fn threshold_dice_falls_on_both_sides_of_the_gap() {
    let dice = |t: f64| {
        run_recorded(&segmentation::THRESHOLD, &[("threshold", Value::Float(t))])
            .unwrap()
            .metrics["dice"]
    };
    let (low, mid, high) = (dice(0.1), dice(0.5), dice(0.95));
    assert!(mid > low && mid > high, "{low} {mid} {high}");
}
