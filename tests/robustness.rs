//! Issue 11 (robustness) and issue 12, items 2 and 3: the built binary given bad input, run
//! outside the checkout, signalled, piped into `head`; and the training loop given a learning
//! rate that makes it diverge. Each test names the item it covers.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn tutor_in(dir: &Path, args: &[&str], home: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tutor"));
    c.args(args)
        .current_dir(dir)
        .env("TUTOR_HOME", home)
        .env("TUTOR_LEARNER", "tester")
        .env_remove("TUTOR_LESSONS");
    c
}

fn tutor(dir: &Path, args: &[&str], home: &Path) -> Output {
    tutor_in(dir, args, home).output().expect("the binary runs")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Waits for `child` at most `limit`; kills it and fails when it hangs.
fn wait_at_most(mut child: std::process::Child, limit: Duration) -> Output {
    let t0 = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        if t0.elapsed() > limit {
            let _ = child.kill();
            panic!("the tutor hung for more than {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A copy of the fixture lesson with `edit` applied to its text, alone in a new folder.
fn fixture_pack(edit: impl Fn(String) -> String) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let text =
        std::fs::read_to_string(root().join("tests/fixtures/lessons/good/lesson-1.toml")).unwrap();
    std::fs::write(dir.path().join("lesson-1.toml"), edit(text)).unwrap();
    dir
}

#[test]
fn issue11_item1_a_signal_restores_the_terminal_and_exits_128_plus_n() {
    // `script` gives the notebook a terminal; `exec` makes the tutor its direct child.
    let home = tempfile::tempdir().unwrap();
    let log = home.path().join("typescript");
    let cmd = format!(
        "exec {} --lessons {} run 1",
        env!("CARGO_BIN_EXE_tutor"),
        root().join("tests/fixtures/lessons/good").display()
    );
    let child = Command::new("script")
        .args(["-qfec", &cmd])
        .arg(&log)
        .env("TUTOR_HOME", home.path())
        .env("TUTOR_LEARNER", "tester")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let Ok(child) = child else {
        panic!("this test needs util-linux's `script`");
    };
    let children = format!("/proc/{0}/task/{0}/children", child.id());
    let t0 = Instant::now();
    let pid = loop {
        let kids = std::fs::read_to_string(&children).unwrap_or_default();
        if let Some(pid) = kids.split_whitespace().next() {
            let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
            if comm.trim() == "tutor" {
                break pid.to_string();
            }
        }
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "the tutor did not start"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    // Let it enter raw mode and draw.
    std::thread::sleep(Duration::from_millis(700));
    let killed = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(killed.success());
    let out = wait_at_most(child, Duration::from_secs(10));
    assert_eq!(out.status.code(), Some(128 + 15), "{}", text(&out));
    let screen = out.stdout;
    let find = |seq: &[u8]| screen.windows(seq.len()).rposition(|w| w == seq);
    let entered = find(b"\x1b[?1049h").expect("entered the alternate screen");
    let left = find(b"\x1b[?1049l").expect("left the alternate screen");
    let shown = find(b"\x1b[?25h").expect("showed the cursor");
    assert!(left > entered && shown > entered);
}

#[test]
fn issue11_item2_an_absurd_network_is_refused_before_allocating() {
    let home = tempfile::tempdir().unwrap();
    let net = home.path().join("big.toml");
    let cnn = std::fs::read_to_string(root().join("nets/lesson3_cnn.toml")).unwrap();
    std::fs::write(
        &net,
        cnn.replacen("out_channels = 16", "out_channels = 1000000000", 1),
    )
    .unwrap();
    let o = tutor(&root(), &["inspect", net.to_str().unwrap()], home.path());
    let t = text(&o);
    assert_eq!(o.status.code(), Some(2), "{t}");
    assert!(
        t.contains("layer \"conv1\" (conv2d) would need about"),
        "{t}"
    );
    assert!(t.contains("more than the limit of 4.0 GiB"), "{t}");
    assert!(t.contains("Training memory (batch 64, estimated)"), "{t}");
    // The real networks fit, and say how much they need.
    let o = tutor(&root(), &["inspect", "nets/lesson3_cnn.toml"], home.path());
    assert!(o.status.success(), "{}", text(&o));
}

#[test]
fn issue11_items_4_and_5_absurd_sizes_and_huge_expressions_are_errors() {
    let home = tempfile::tempdir().unwrap();
    let net = home.path().join("pad.toml");
    let cnn = std::fs::read_to_string(root().join("nets/lesson3_cnn.toml")).unwrap();
    std::fs::write(
        &net,
        cnn.replacen("padding = 1", "padding = 9223372036854775807", 1),
    )
    .unwrap();
    let o = tutor(&root(), &["inspect", net.to_str().unwrap()], home.path());
    let t = text(&o);
    assert_eq!(o.status.code(), Some(2), "{t}");
    assert!(t.contains("padding must be at most"), "{t}");

    let long = vec!["1"; 40_000].join(" + ");
    let pack = fixture_pack(|t| {
        t.replacen(
            "[[cells]]\nkind = \"text\"",
            &format!(
                "[[cells]]\nkind = \"quiz\"\nid = \"long\"\ntype = \"integer\"\nquestion = \"?\"\ncompute = \"{long}\"\n\n[[cells]]\nkind = \"text\""
            ),
            1,
        )
    });
    let o = tutor(
        &root(),
        &["check", pack.path().to_str().unwrap()],
        home.path(),
    );
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(t.contains("lesson-1.toml:"), "{t}");
    assert!(t.contains("the calculator takes at most 2000"), "{t}");
}

#[test]
fn issue11_item3_source_labels_that_do_not_fit_the_head_are_an_error() {
    let home = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let pack = work.path().join("pack");
    let pre = work.path().join("data/pretrained");
    std::fs::create_dir_all(&pack).unwrap();
    std::fs::create_dir_all(&pre).unwrap();
    std::fs::copy(
        root().join("lessons/lesson-4.toml"),
        pack.join("lesson-4.toml"),
    )
    .unwrap();
    let meta = std::fs::read_to_string(root().join("data/pretrained/lesson4_backbone.toml"))
        .unwrap()
        .replace(
            "source_labels = [0, 1, 2, 3, 4]",
            "source_labels = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]",
        );
    std::fs::write(pre.join("lesson4_backbone.toml"), meta).unwrap();
    let o = tutor(work.path(), &["check", "pack"], home.path());
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(
        t.contains("field `classes` has 5 names for 10 `source_labels`")
            || t.contains("has 10 labels but the architecture's head gives [5]"),
        "{t}"
    );
    assert!(!t.contains("panicked"), "{t}");
}

#[test]
fn issue11_item8_check_loads_the_files_a_run_loads() {
    let home = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let pack = work.path().join("pack");
    std::fs::create_dir_all(&pack).unwrap();
    std::fs::create_dir_all(work.path().join("nets")).unwrap();
    std::fs::copy(
        root().join("lessons/lesson-3.toml"),
        pack.join("lesson-3.toml"),
    )
    .unwrap();
    // The pack's own copy of a network, mangled: it exists, so `check` used to pass it.
    let cnn = std::fs::read_to_string(root().join("nets/lesson3_cnn.toml")).unwrap();
    std::fs::write(
        work.path().join("nets/lesson3_cnn.toml"),
        cnn.replacen("in_features = 1568", "in_features = 1567", 1),
    )
    .unwrap();
    let o = tutor(work.path(), &["check", "pack"], home.path());
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(t.contains("lesson3_cnn.toml"), "{t}");
    assert!(
        t.contains("expects 1567 input features but receives 1568"),
        "{t}"
    );
}

#[test]
fn issue11_item9_a_diverging_run_stops_and_says_so() {
    use tutor::nn::{NetSpec, Network, Optimizer};
    use tutor::train::{self, Diverged, NetModel, Quiet, Split, TrainConfig};
    let spec = NetSpec::parse(
        "input = [4]\n[[layers]]\ntype = \"linear\"\nname = \"fc\"\nout_features = 3\n",
        "t.toml",
    )
    .unwrap();
    let mut x = Vec::new();
    let mut y = Vec::new();
    for i in 0..256u32 {
        let c = (i % 3) as u8;
        for j in 0..4u32 {
            x.push(f32::from(c) * 2.0 + ((i * 7 + j * 13) % 10) as f32 / 10.0);
        }
        y.push(c);
    }
    let fit = |lr: f64| {
        let mut m = NetModel::new(Network::new(&spec, 1).unwrap(), Optimizer::sgd(lr, 0.0));
        let cfg = TrainConfig {
            epochs: 3,
            batch_size: 16,
            lr,
            ..TrainConfig::default()
        };
        train::fit(
            &mut m,
            Split::new(&x, &y),
            Split::new(&x, &y),
            &cfg,
            &mut Quiet,
        )
    };
    let e = fit(1.0e4).unwrap_err();
    let d = e.downcast_ref::<Diverged>().expect("a Diverged error");
    assert_eq!(d.epoch, 1);
    assert!(d.batch >= 2, "{d:?}");
    let msg = e.to_string();
    assert!(
        msg.starts_with("the loss diverged at epoch 1, batch"),
        "{msg}"
    );
    assert!(msg.contains("try a smaller learning rate"), "{msg}");
    // A sane learning rate trains to the end.
    assert!(fit(0.05).is_ok());
    assert!(train::diverged(f64::NAN, 1.0));
    assert!(!train::diverged(3.0, 2.3));
}

#[test]
fn issue11_item11_a_fifo_is_refused_not_waited_on() {
    let home = tempfile::tempdir().unwrap();
    let pack = fixture_pack(|t| t);
    let fifo = pack.path().join("lesson-2.toml");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    let child = tutor_in(
        &root(),
        &["check", pack.path().to_str().unwrap()],
        home.path(),
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let o = wait_at_most(child, Duration::from_secs(20));
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(t.contains("lesson-2.toml:1:1: cannot read the file"), "{t}");
    assert!(t.contains("not a regular file"), "{t}");
    let child = tutor_in(&root(), &["inspect", fifo.to_str().unwrap()], home.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let o = wait_at_most(child, Duration::from_secs(20));
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
}

#[test]
fn issue11_item12_a_numeric_short_name_is_refused_and_cannot_hijack_a_number() {
    let home = tempfile::tempdir().unwrap();
    let pack = fixture_pack(|t| t.replacen("short = \"fixture\"", "short = \"2\"", 1));
    let o = tutor(
        &root(),
        &["check", pack.path().to_str().unwrap()],
        home.path(),
    );
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(t.contains("`short` is `2`, a number"), "{t}");
}

#[test]
fn issue11_item13_a_closed_pipe_ends_quietly_with_0() {
    let home = tempfile::tempdir().unwrap();
    let (reader, writer) = std::io::pipe().unwrap();
    // The reader is gone before the tutor writes a byte: its first write fails with EPIPE.
    drop(reader);
    let child = tutor_in(
        &root(),
        &["--lessons", "tests/fixtures/lessons/good", "list"],
        home.path(),
    )
    .stdout(writer)
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let o = wait_at_most(child, Duration::from_secs(20));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn issue11_item14_errors_exit_2_findings_exit_1() {
    let home = tempfile::tempdir().unwrap();
    let o = tutor(&root(), &["inspect", "nets/no-such.toml"], home.path());
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let o = tutor(&root(), &["no-such-command"], home.path());
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let o = tutor(
        &root(),
        &["--lessons", "tests/fixtures/lessons/good", "run", "99"],
        home.path(),
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let o = tutor(
        &root(),
        &["check", "tests/fixtures/lessons/broken"],
        home.path(),
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let o = tutor(&root(), &["--help"], home.path());
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}

#[test]
fn issue11_item16_unanswerable_quizzes_are_refused() {
    let home = tempfile::tempdir().unwrap();
    let many: Vec<String> = (0..27).map(|i| format!("\"c{i}\"")).collect();
    let pack = fixture_pack(|t| {
        t.replacen("choices = [\"no\", \"yes\"]", &format!("choices = [{}]", many.join(", ")), 1)
            + "\n[[cells]]\nkind = \"quiz\"\nid = \"nan\"\ntype = \"number\"\nquestion = \"?\"\nanswer = nan\n"
    });
    let o = tutor(
        &root(),
        &["check", pack.path().to_str().unwrap()],
        home.path(),
    );
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(t.contains("at most 26 `choices`"), "{t}");
    assert!(t.contains("`answer` must be a finite number"), "{t}");
}

#[test]
fn issue12_item2_a_pack_outside_the_checkout_finds_the_builtin_files() {
    // Lessons copied away from the checkout, run from yet another folder, with the default
    // network and pretrained paths.
    let home = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let pack = work.path().join("pack");
    std::fs::create_dir_all(&pack).unwrap();
    for n in [2, 3, 4] {
        std::fs::copy(
            root().join(format!("lessons/lesson-{n}.toml")),
            pack.join(format!("lesson-{n}.toml")),
        )
        .unwrap();
    }
    let elsewhere = tempfile::tempdir().unwrap();
    let o = tutor(
        elsewhere.path(),
        &["check", pack.to_str().unwrap()],
        home.path(),
    );
    assert!(o.status.success(), "{}", text(&o));
    // Lesson 2 is quick to run whole; its network summary reads `../nets/lesson3_cnn.toml`.
    let out = work.path().join("out");
    let o = tutor(
        elsewhere.path(),
        &[
            "--lessons",
            pack.to_str().unwrap(),
            "exec",
            "2",
            "--out",
            out.to_str().unwrap(),
        ],
        home.path(),
    );
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(t.contains("conv2"), "{t}");
    let o = tutor(
        elsewhere.path(),
        &["inspect", "nets/lesson4_cnn.toml"],
        home.path(),
    );
    assert!(o.status.success(), "{}", text(&o));
}

#[test]
fn issue12_item3_learners_keep_separate_progress() {
    let home = tempfile::tempdir().unwrap();
    let (mut bob, _) = tutor::course::progress::Store::open(home.path(), "bob").unwrap();
    bob.data.record("lesson-1", "single", false, "b", true);
    bob.save().unwrap();
    let list = |who: &str| {
        let o = tutor_in(
            &root(),
            &[
                "--lessons",
                "tests/fixtures/lessons/good",
                "--learner",
                who,
                "list",
            ],
            home.path(),
        )
        .output()
        .unwrap();
        assert!(o.status.success(), "{}", text(&o));
        text(&o)
    };
    let b = list("bob");
    assert!(b.contains("1/8 solved"), "{b}");
    let a = list("alice");
    assert!(a.contains("0/8 solved"), "{a}");
    assert!(a.contains("alice.json"), "{a}");
}

#[test]
fn issue12_item2_a_pack_adds_to_the_builtin_course() {
    let home = tempfile::tempdir().unwrap();
    let pack = "tests/fixtures/lessons/good";
    let o = tutor(&root(), &["--lessons", pack, "list"], home.path());
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    // The pack's lesson 1 replaces the built-in one; the built-in lesson 2 stays.
    assert!(
        t.contains("Fixture lesson") && !t.contains("Image filters"),
        "{t}"
    );
    assert!(t.contains("conv-size"), "{t}");
    let o = tutor(
        &root(),
        &["--lessons", pack, "--no-builtin", "list"],
        home.path(),
    );
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(
        t.contains("Fixture lesson") && !t.contains("conv-size"),
        "{t}"
    );
}

#[test]
fn issue11_item9_nan_weights_in_a_checkpoint_are_an_error() {
    use tutor::nn::{NetSpec, Network};
    let spec = NetSpec::parse(
        "input = [4]\n[[layers]]\ntype = \"linear\"\nname = \"fc\"\nout_features = 3\n",
        "t.toml",
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w.safetensors");
    let mut net = Network::new(&spec, 1).unwrap();
    net.save(&path).unwrap();
    net.load(&path).unwrap();
    // The file ends with the last tensor's values: make the last one NaN.
    let mut bytes = std::fs::read(&path).unwrap();
    let n = bytes.len();
    bytes[n - 4..].copy_from_slice(&f32::NAN.to_le_bytes());
    std::fs::write(&path, &bytes).unwrap();
    let e = net.load(&path).unwrap_err().to_string();
    assert!(
        e.contains("w.safetensors") && e.contains("holds NaN"),
        "{e}"
    );
}

#[test]
fn issue11_item7_concurrent_saves_lose_no_attempt() {
    // Several tutors on one learner, saving at once: the lock and the merge keep every answer.
    let home = tempfile::tempdir().unwrap();
    let threads: Vec<_> = (0..6)
        .map(|t| {
            let dir = home.path().to_path_buf();
            std::thread::Builder::new()
                .name(format!("tutor-{t}"))
                .spawn(move || {
                    let (mut s, _) = tutor::course::progress::Store::open(&dir, "ana").unwrap();
                    for i in 0..10 {
                        s.data
                            .record("lesson-1", &format!("q{t}"), false, &i.to_string(), i == 9);
                        s.save().unwrap();
                    }
                })
                .unwrap()
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let (s, _) = tutor::course::progress::Store::open(home.path(), "ana").unwrap();
    let l = &s.data.lessons["lesson-1"];
    for t in 0..6 {
        let q = &l.quizzes[&format!("q{t}")];
        assert_eq!(q.attempts.len(), 10, "q{t}");
        assert!(q.solved);
    }
}

#[test]
fn issue11_item8_check_runs_quick_cells_with_their_text_parameters() {
    let home = tempfile::tempdir().unwrap();
    let pack = fixture_pack(|t| {
        t + "\n[[cells]]\nkind = \"run\"\nid = \"typed\"\nexperiment = \"conv.layer\"\nparams = { input = \"3, 32, 32\", layer = \"conv 16 k3 q1\" }\n"
    });
    let o = tutor(
        &root(),
        &["check", pack.path().to_str().unwrap()],
        home.path(),
    );
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(
        t.contains("run `typed` (conv.layer) fails: `q1`: use k (kernel)"),
        "{t}"
    );
}

#[test]
fn issue11_item8_a_cell_id_too_long_for_a_file_name_fails_check() {
    // Found by the mangling campaign: check passed it, exec failed writing `<id>-pictures.png`.
    let home = tempfile::tempdir().unwrap();
    let long = "x".repeat(300);
    let pack = fixture_pack(|t| t.replacen("id = \"explore\"", &format!("id = \"{long}\""), 1));
    let o = tutor(
        &root(),
        &["check", pack.path().to_str().unwrap()],
        home.path(),
    );
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(
        t.contains("cell `id` must be 1 to 64 lowercase letters"),
        "{t}"
    );
}
