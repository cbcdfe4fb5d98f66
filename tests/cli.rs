//! The built binary, run as a user would, on fixture lessons (no terminal needed).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn tutor(args: &[&str], home: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tutor"))
        .args(args)
        .current_dir(root())
        .env("TUTOR_HOME", home)
        .env("TUTOR_LEARNER", "tester")
        .env_remove("TUTOR_LESSONS")
        .output()
        .expect("the binary runs")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn check_names_file_and_line_of_each_problem() {
    let home = tempfile::tempdir().unwrap();
    let o = tutor(&["check", "tests/fixtures/lessons/broken"], home.path());
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(
        t.contains("lesson-8.toml:9:1: unknown field `tpye`: did you mean `type`?"),
        "{t}"
    );
    assert!(t.contains("lesson-9.toml:15:1: quiz `wrong-number`: the typed answer 25 disagrees with `conv_out(28, 5)`, which the tutor computes as 24"), "{t}");
    assert!(
        t.contains("lesson-9.toml:22:21: experiment `conv.explorer` has no parameter `kernal`"),
        "{t}"
    );
}

#[test]
fn check_passes_the_fixture_and_the_real_lessons() {
    let home = tempfile::tempdir().unwrap();
    let o = tutor(&["check", "tests/fixtures/lessons/good"], home.path());
    assert!(o.status.success(), "{}", text(&o));
    let o = tutor(&["check"], home.path());
    assert!(o.status.success(), "{}", text(&o));
}

#[test]
fn list_shows_lessons_and_where_progress_lives() {
    let home = tempfile::tempdir().unwrap();
    let o = tutor(
        &["--lessons", "tests/fixtures/lessons/good", "list"],
        home.path(),
    );
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(
        t.contains("lesson-1") && t.contains("Fixture lesson"),
        "{t}"
    );
    assert!(t.contains("0/8 solved"), "{t}");
    assert!(
        t.contains(
            &home
                .path()
                .join("learners")
                .join("tester.json")
                .display()
                .to_string()
        ),
        "{t}"
    );
}

#[test]
fn inspect_prints_totals_and_names_the_misfit_layer() {
    let home = tempfile::tempdir().unwrap();
    let o = tutor(&["inspect", "nets/lesson3_cnn.toml"], home.path());
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(t.contains("Total params: 20,490"), "{t}");
    assert!(t.contains("[32, 7, 7]"), "{t}");
    let o = tutor(
        &["inspect", "tests/fixtures/nets/bad_linear.toml"],
        home.path(),
    );
    let t = text(&o);
    // An error exits 2, findings of `check` 1 (issue 11, item 14).
    assert_eq!(o.status.code(), Some(2), "{t}");
    assert!(t.contains("bad_linear.toml:37:1: layer \"fc1\" (linear) expects 1568 input features but receives 3136"), "{t}");
    // Issue 12, item 18: several files at once, each under its name; a broken one is
    // reported without hiding the others.
    let o = tutor(
        &[
            "inspect",
            "nets/lesson3_cnn.toml",
            "tests/fixtures/nets/bad_linear.toml",
            "nets/lesson3_mlp.toml",
        ],
        home.path(),
    );
    let t = text(&o);
    // A file that does not fit is an error, as with one file: exit 2.
    assert_eq!(o.status.code(), Some(2), "{t}");
    assert!(
        t.contains("== nets/lesson3_cnn.toml") && t.contains("== nets/lesson3_mlp.toml"),
        "{t}"
    );
    assert!(t.contains("Total params: 20,490"), "{t}");
    assert!(t.contains("expects 1568 input features"), "{t}");
    let o = tutor(&["inspect", "--help"], home.path());
    assert!(text(&o).contains("nets/README.md"), "{}", text(&o));
    let o = tutor(
        &["inspect", "nets/lesson3_cnn.toml", "--input", "1,0,28"],
        home.path(),
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("--input"), "{}", text(&o));
}

#[test]
fn unknown_lesson_lists_the_real_ones() {
    let home = tempfile::tempdir().unwrap();
    let o = tutor(
        &[
            "--lessons",
            "tests/fixtures/lessons/good",
            "exec",
            "nope",
            "--out",
            "x",
        ],
        home.path(),
    );
    let t = text(&o);
    assert_eq!(o.status.code(), Some(2), "{t}");
    assert!(
        t.contains("no lesson `nope`; there are: 1 (lesson-1, fixture)"),
        "{t}"
    );
}

#[test]
fn exec_writes_report_results_and_pngs() {
    let home = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let out_dir = out.path().join("run");
    let o = tutor(
        &[
            "--lessons",
            "tests/fixtures/lessons/good",
            "exec",
            "fixture",
            "--out",
            out_dir.to_str().unwrap(),
            "--answers",
        ],
        home.path(),
    );
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    // The teacher's key: computed answers and the exercise run with its solution.
    assert!(t.contains("answer: 24"), "{t}");
    assert!(t.contains("every goal met"), "{t}");
    let results: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out_dir.join("results.json")).unwrap())
            .unwrap();
    assert_eq!(results["lesson"], "lesson-1");
    let cells = results["cells"].as_array().unwrap();
    assert_eq!(cells.len(), 11);
    assert!(cells.iter().all(|c| c["ok"] == true));
    let explore = cells.iter().find(|c| c["id"] == "explore").unwrap();
    assert_eq!(explore["metrics"]["out_size"], 3.0);
    let report = std::fs::read_to_string(out_dir.join("report.md")).unwrap();
    assert!(report.contains("![plot: Output size"), "{report}");
    let png = std::fs::read(out_dir.join("explore-sizes.png")).unwrap();
    assert_eq!(&png[1..4], b"PNG");
}

/// Issue 12, item 10 and issue 11, item 15: a handout (`exec` without `--answers`) gives no
/// exercise solution away, and escape codes in lesson text never reach the terminal.
#[test]
fn exec_without_answers_hides_solutions_and_strips_escape_codes() {
    let home = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let lesson = std::fs::read_to_string(root().join("tests/fixtures/lessons/good/lesson-1.toml"))
        .unwrap()
        .replace(
            "text = \"# Hello\\nSome **bold** text.\"",
            "text = \"# Hello\\nSome \\u001b[2J\\u001b[31mred\\u0007 text.\"",
        )
        .replace(
            "title = \"Fixture lesson\"",
            "title = \"Fixture \\u001b]0;pwned\\u0007lesson\"",
        );
    assert!(lesson.contains("u001b[2J"), "the fixture changed");
    std::fs::write(dir.path().join("lesson-1.toml"), lesson).unwrap();
    let out = dir.path().join("out");
    let o = tutor(
        &[
            "--lessons",
            dir.path().to_str().unwrap(),
            "exec",
            "1",
            "--out",
            out.to_str().unwrap(),
        ],
        home.path(),
    );
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    let report = std::fs::read_to_string(out.join("report.md")).unwrap();
    for (what, s) in [("stdout", &t), ("report.md", &report)] {
        assert!(
            !s.contains("conv 8 k2 s2"),
            "{what} gives the solution: {s}"
        );
        assert!(
            !s.contains('\u{1b}') && !s.contains('\u{7}'),
            "{what}: {s:?}"
        );
    }
    assert!(t.contains("Fixture ]0;pwnedlesson"), "{t}");
    assert!(report.contains("Some [2J[31mred text."), "{report}");
    assert!(
        report.contains("**Exercise.**"),
        "the prompt is kept: {report}"
    );
    // The key's input is still run, so a broken solution still fails the run.
    let results = std::fs::read_to_string(out.join("results.json")).unwrap();
    assert!(results.contains("\"out_size\": 16.0"), "{results}");
}

#[test]
fn exec_fails_when_an_exercise_solution_misses_its_goal() {
    let home = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let lesson = std::fs::read_to_string(root().join("tests/fixtures/lessons/good/lesson-1.toml"))
        .unwrap()
        .replace("solution = \"conv 8 k2 s2\"", "solution = \"conv 8 k3\"");
    std::fs::write(dir.path().join("lesson-1.toml"), lesson).unwrap();
    let out = dir.path().join("out");
    let o = tutor(
        &[
            "--lessons",
            dir.path().to_str().unwrap(),
            "exec",
            "1",
            "--out",
            out.to_str().unwrap(),
        ],
        home.path(),
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("solution misses: out_size = 16"),
        "{}",
        text(&o)
    );
}

#[test]
fn the_complete_example_in_lessons_readme_checks_and_runs() {
    let readme = std::fs::read_to_string(root().join("lessons/README.md")).unwrap();
    let start = readme.find("Save this as").expect("the example");
    let body = &readme[start..];
    let toml_start = body.find("```toml\n").unwrap() + "```toml\n".len();
    let toml_end = toml_start + body[toml_start..].find("```").unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("lesson-9.toml"),
        &body[toml_start..toml_end],
    )
    .unwrap();
    let home = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let o = tutor(&["check", d], home.path());
    assert!(o.status.success(), "{}", text(&o));
    let out = dir.path().join("out");
    let o = tutor(
        &[
            "--lessons",
            d,
            "exec",
            "strides",
            "--out",
            out.to_str().unwrap(),
            "--answers",
        ],
        home.path(),
    );
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("answer: 32"), "{}", text(&o));
}

#[test]
fn pretrain_refuses_bad_settings_with_a_clear_message() {
    let home = tempfile::tempdir().unwrap();
    let out = home.path().join("pre");
    let out = out.to_str().unwrap();
    for (args, expect) in [
        (
            vec!["pretrain", "--labels", "0,x", "--out", out],
            "--labels: `x` is not a label 0 to 9",
        ),
        (
            vec!["pretrain", "--epochs", "0", "--out", out],
            "--epochs must be at least 1",
        ),
        (
            vec!["pretrain", "--net", "nets/none.toml", "--out", out],
            "cannot read the network file `nets/none.toml`",
        ),
        (
            vec!["pretrain", "--source", "cifar", "--out", out],
            "unknown source dataset `cifar`",
        ),
        // The lesson's own weights are never replaced by accident.
        (
            vec!["pretrain"],
            "lesson4_backbone.toml` exists: pass --force to replace it",
        ),
    ] {
        let o = tutor(&args, home.path());
        let t = text(&o);
        assert_eq!(o.status.code(), Some(2), "{t}");
        assert!(t.contains(expect), "{args:?}: {t}");
        assert!(!t.contains("panicked"), "{t}");
    }
    assert!(!Path::new(out).exists(), "nothing written on a refused run");
}
