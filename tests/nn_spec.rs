//! The example networks in `nets/` parse and summarise; the broken fixture fails with a
//! positioned message naming the layer and both sizes.

use tutor::nn::{NetSpec, SpecError};

#[test]
fn example_nets_summarise() {
    let mlp = NetSpec::load("nets/lesson3_mlp.toml").unwrap();
    let s = mlp.summary(None).unwrap();
    // 784*400+400 + 400*400+400 + 400*10+10.
    assert_eq!(s.total_params, 314_000 + 160_400 + 4_010);
    assert_eq!(s.output, vec![10]);

    let cnn = NetSpec::load("nets/lesson3_cnn.toml").unwrap();
    let s = cnn.summary(None).unwrap();
    assert_eq!(s.total_params, 160 + 4_640 + 15_690);
    assert_eq!(
        s.rows.iter().find(|r| r.name == "pool2").unwrap().out_shape,
        vec![32, 7, 7]
    );
}

#[test]
fn broken_fixture_reports_layer_line_and_sizes() {
    let spec = NetSpec::load("tests/fixtures/nets/bad_linear.toml").unwrap();
    let err = spec.summary(None).unwrap_err();
    assert!(matches!(err, SpecError::Shape { ref layer, .. } if layer == "fc1"));
    assert_eq!(
        err.to_string(),
        "tests/fixtures/nets/bad_linear.toml:37:1: layer \"fc1\" (linear) expects 1568 input \
         features but receives 3136 (shape [64, 7, 7] flattened)"
    );
}

#[test]
fn summary_can_use_another_input_size() {
    let cnn = NetSpec::load("nets/lesson3_cnn.toml").unwrap();
    // 32x32 inputs flatten to 32*8*8 = 2048, which fc1's declared 1568 rejects.
    let err = cnn.summary(Some(&[1, 32, 32])).unwrap_err().to_string();
    assert!(
        err.contains("receives 2048 (shape [32, 8, 8] flattened)"),
        "{err}"
    );
}

#[test]
fn missing_file_is_an_error() {
    let err = NetSpec::load("nets/does_not_exist.toml").unwrap_err();
    assert!(matches!(err, SpecError::Read { .. }));
}

#[test]
fn summary_table_layout() {
    let s = NetSpec::load("nets/lesson3_cnn.toml")
        .unwrap()
        .summary(None)
        .unwrap();
    let table = s.to_string();
    println!("{table}");
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines[0], "lesson-3 CNN");
    assert!(lines[2].starts_with("Layer (type)"));
    assert!(table.contains("conv1 (conv2d)"));
    assert!(table.contains("[16, 28, 28]"));
    assert!(table.contains("pool2 (maxpool2d)"));
    assert!(table.contains("Total params: 20,490"));
    assert!(table.contains("Non-trainable params: 0"));
}

#[test]
fn every_network_in_nets_is_valid() {
    let mut count = 0;
    for entry in std::fs::read_dir("nets").unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            let spec = NetSpec::load(&path).unwrap_or_else(|e| panic!("{e}"));
            spec.summary(None).unwrap_or_else(|e| panic!("{e}"));
            tutor::nn::Network::new(&spec, 0).unwrap_or_else(|e| panic!("{e}"));
            count += 1;
        }
    }
    assert!(count >= 2);
}

#[test]
fn mangled_files_give_errors_never_panics() {
    // Every single-character deletion and a few replacements of a valid file: parsing and
    // summarising must return (Ok or a positioned error), never panic.
    let text = std::fs::read_to_string("tests/fixtures/nets/bad_linear.toml").unwrap();
    let chars: Vec<char> = text.chars().collect();
    let mut errors = 0;
    for i in 0..chars.len() {
        for replacement in [None, Some('0'), Some('-'), Some('"'), Some('[')] {
            let mut c = chars.clone();
            match replacement {
                None => {
                    c.remove(i);
                }
                Some(r) => c[i] = r,
            }
            let mangled: String = c.into_iter().collect();
            match NetSpec::parse(&mangled, "m.toml") {
                Ok(spec) => {
                    let _ = spec.summary(None);
                }
                Err(e) => {
                    let msg = e.to_string();
                    assert!(msg.starts_with("m.toml:"), "{msg}");
                    errors += 1;
                }
            }
        }
    }
    assert!(errors > 100);
}

#[test]
fn kernel_pairs_and_bad_values() {
    let base = "input = [1, 8, 8]\n[[layers]]\ntype = \"conv2d\"\nout_channels = 2\n";
    let s = NetSpec::parse(
        &format!("{base}kernel = [3, 1]\npadding = [1, 0]\n"),
        "k.toml",
    )
    .unwrap()
    .summary(None)
    .unwrap();
    assert_eq!(s.rows[0].out_shape, vec![2, 8, 8]);
    assert_eq!(s.rows[0].params, 2 * 3 + 2);
    for (bad, want) in [
        ("kernel = [3, 1, 2]\n", "k.toml:5:10:"),
        ("kernel = [3]\n", "k.toml:5:10:"),
        ("kernel = 2.5\n", "k.toml:5:10:"),
        (
            "kernel = -3\n",
            "k.toml:5:10: `kernel` must be at least 1, got -3",
        ),
        (
            "kernel = 3\nstride = 0\n",
            "k.toml:6:10: `stride` must be at least 1, got 0",
        ),
        (
            "kernel = 3\npadding = -1\n",
            "k.toml:6:11: `padding` must be at least 0, got -1",
        ),
    ] {
        let e = NetSpec::parse(&format!("{base}{bad}"), "k.toml")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with(want), "{bad:?}: {e}");
    }
}
