use super::*;
use crate::nn::summary::fmt_count;

const CNN: &str = r#"
name = "cnn"
input = [1, 28, 28]

[[layers]]
type = "conv2d"
name = "conv1"
out_channels = 16
kernel = 3
padding = 1

[[layers]]
type = "relu"

[[layers]]
type = "maxpool2d"
kernel = 2

[[layers]]
type = "conv2d"
out_channels = 32
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
name = "fc1"
in_features = 1568
out_features = 10
"#;

#[test]
fn parses_and_summarises_the_lesson_cnn() {
    let spec = NetSpec::parse(CNN, "cnn.toml").unwrap();
    assert_eq!(spec.layers.len(), 8);
    assert_eq!(spec.layers[1].name, "relu2");
    assert_eq!(spec.layers[3].name, "conv2d4");
    assert_eq!(spec.layers[0].at.line, 5);
    let s = spec.summary(None).unwrap();
    let shapes: Vec<_> = s.rows.iter().map(|r| r.out_shape.clone()).collect();
    assert_eq!(shapes[0], vec![16, 28, 28]);
    assert_eq!(shapes[2], vec![16, 14, 14]);
    assert_eq!(shapes[5], vec![32, 7, 7]);
    assert_eq!(shapes[6], vec![1568]);
    assert_eq!(s.output, vec![10]);
    // 160 + 4640 + 15690.
    assert_eq!(s.rows[0].params, 160);
    assert_eq!(s.rows[3].params, 4640);
    assert_eq!(s.total_params, 20490);
    assert_eq!(s.trainable_params, 20490);
    let table = s.to_string();
    assert!(table.contains("conv1 (conv2d)"), "{table}");
    assert!(table.contains("Total params: 20,490"), "{table}");
}

#[test]
fn linear_misfit_names_layer_expected_and_actual() {
    let text = CNN.replace("in_features = 1568", "in_features = 3136");
    let spec = NetSpec::parse(&text, "bad.toml").unwrap();
    let err = spec.summary(None).unwrap_err().to_string();
    assert_eq!(
        err,
        "bad.toml:35:1: layer \"fc1\" (linear) expects 3136 input features but receives \
         1568 (shape [32, 7, 7] flattened)"
    );
}

#[test]
fn unknown_type_field_and_wrong_type_have_positions() {
    let e = NetSpec::parse("input = [3]\n[[layers]]\ntype = \"convv\"\n", "a.toml")
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("a.toml:3:8: unknown layer type \"convv\""),
        "{e}"
    );

    let e = NetSpec::parse(
        "input = [3]\n[[layers]]\ntype = \"linear\"\nout_features = 2\nkernl = 3\n",
        "a.toml",
    )
    .unwrap_err()
    .to_string();
    assert!(e.starts_with("a.toml:5:1: unknown field `kernl`"), "{e}");

    let e = NetSpec::parse(
        "input = [3]\n[[layers]]\ntype = \"linear\"\nout_features = \"ten\"\n",
        "a.toml",
    )
    .unwrap_err()
    .to_string();
    assert!(e.starts_with("a.toml:4:16: field `out_features`"), "{e}");

    let e = NetSpec::parse(
        "input = [3]\n[[layers]]\ntype = \"relu\"\nout_features = 3\n",
        "a.toml",
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.starts_with("a.toml:4:16: field `out_features` does not apply to a relu layer"),
        "{e}"
    );

    let e = NetSpec::parse("input = [3\n", "a.toml").unwrap_err();
    assert!(matches!(e, SpecError::Syntax { .. }), "{e}");
}

#[test]
fn semantic_errors_are_reported_not_panicked() {
    let cases = [
        ("input = [1, 2]\n", "a.toml:1:9: `input` must be"),
        (
            "input = [3]\n[[layers]]\ntype = \"linear\"\n",
            "a.toml:2:1: a linear layer needs the field `out_features`",
        ),
        (
            "input = [3]\n[[layers]]\ntype = \"add\"\nwith = \"x\"\n",
            "a.toml:4:8: `with = \"x\"` names no tensor",
        ),
        (
            "input = [1,8,8]\n[[layers]]\ntype = \"conv2d\"\nout_channels = 2\nkernel = 0\n",
            "a.toml:5:10: `kernel` must be at least 1, got 0",
        ),
        (
            "input = [3]\n[[layers]]\ntype = \"relu\"\nname = \"a\"\n[[layers]]\ntype = \"relu\"\nname = \"a\"\n",
            "a.toml:7:8: layer name \"a\" is already used at line 2",
        ),
        (
            "input = [3]\n[[layers]]\ntype = \"dropout\"\np = 1.5\n",
            "a.toml:4:5: dropout `p` must be in [0, 1)",
        ),
    ];
    for (text, want) in cases {
        let e = NetSpec::parse(text, "a.toml").unwrap_err().to_string();
        assert!(e.starts_with(want), "got {e:?}, want {want:?}");
    }
}

#[test]
fn shape_errors_name_layer_and_sizes() {
    let net = |layers: &str| {
        NetSpec::parse(&format!("input = [4, 8, 8]\n{layers}"), "n.toml")
            .unwrap()
            .summary(None)
            .unwrap_err()
            .to_string()
    };
    let e = net("[[layers]]\ntype = \"conv2d\"\nout_channels = 6\nkernel = 3\ngroups = 3\n");
    assert!(e.contains("groups = 3 must divide"), "{e}");
    let e = net("[[layers]]\ntype = \"conv2d\"\nout_channels = 6\nkernel = 9\n");
    assert!(
        e.starts_with("n.toml:2:1: layer \"conv2d1\" (conv2d) cannot produce an output height"),
        "{e}"
    );
    let e = net("[[layers]]\ntype = \"linear\"\nout_features = 6\n");
    assert!(e.contains("add a `flatten` layer"), "{e}");
    let e = net(concat!(
        "[[layers]]\ntype = \"save\"\nas = \"s\"\n",
        "[[layers]]\ntype = \"maxpool2d\"\nkernel = 2\n",
        "[[layers]]\ntype = \"concat\"\nwith = \"s\"\n"
    ));
    assert!(e.contains("cannot join \"s\" of shape [4, 8, 8]"), "{e}");
    let e = net(concat!(
        "[[layers]]\ntype = \"save\"\nas = \"s\"\n",
        "[[layers]]\ntype = \"conv2d\"\nout_channels = 5\nkernel = 1\n",
        "[[layers]]\ntype = \"add\"\nwith = \"s\"\n"
    ));
    assert!(e.contains("cannot add \"s\" of shape [4, 8, 8]"), "{e}");
}

#[test]
fn unet_like_skips_transposed_conv_and_batchnorm() {
    let text = r#"
input = [1, 16, 16]
[[layers]]
type = "conv2d"
out_channels = 8
kernel = [3, 3]
padding = 1
bias = false
[[layers]]
type = "batchnorm2d"
name = "bn1"
[[layers]]
type = "save"
as = "skip"
[[layers]]
type = "maxpool2d"
kernel = 2
[[layers]]
type = "conv_transpose2d"
out_channels = 8
kernel = 2
stride = 2
[[layers]]
type = "concat"
with = "skip"
[[layers]]
type = "upsample"
scale = 2
[[layers]]
type = "global_avgpool"
"#;
    let s = NetSpec::parse(text, "u.toml")
        .unwrap()
        .summary(None)
        .unwrap();
    let shapes: Vec<_> = s.rows.iter().map(|r| r.out_shape.clone()).collect();
    assert_eq!(
        shapes,
        vec![
            vec![8, 16, 16],
            vec![8, 16, 16],
            vec![8, 16, 16],
            vec![8, 8, 8],
            vec![8, 16, 16],
            vec![16, 16, 16],
            vec![16, 32, 32],
            vec![16],
        ]
    );
    // conv 8*9 (no bias), bn 16, convT 8*8*4 + 8.
    assert_eq!(s.total_params, 72 + 16 + 264);
    assert_eq!(s.buffers, 16);
    assert!(s.to_string().contains("Buffers"));
}

#[test]
fn frozen_layers_count_as_non_trainable() {
    let text = "input = [4]\n[[layers]]\ntype = \"linear\"\nout_features = 2\nfrozen = true\n[[layers]]\ntype = \"linear\"\nout_features = 1\n";
    let s = NetSpec::parse(text, "f.toml")
        .unwrap()
        .summary(None)
        .unwrap();
    assert_eq!(s.total_params, 10 + 3);
    assert_eq!(s.trainable_params, 3);
    assert_eq!(s.non_trainable_params(), 10);
}

#[test]
fn counts_are_grouped_by_thousands() {
    assert_eq!(fmt_count(0), "0");
    assert_eq!(fmt_count(999), "999");
    assert_eq!(fmt_count(1000), "1,000");
    assert_eq!(fmt_count(1234567), "1,234,567");
}
