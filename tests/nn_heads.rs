//! Networks with several named outputs: the format parses and summarises them, and the
//! gradient of a weighted objective over two heads on a shared trunk matches finite
//! differences, including when a term leaves a head unused.

use tutor::nn::{Batch, LossKind, NetSpec, Network, Objective, Target, Targets};

const NET: &str = r#"
input = [4]
[[layers]]
type = "linear"
name = "trunk"
out_features = 5
[[layers]]
type = "tanh"
[[layers]]
type = "save"
as = "features"
[[layers]]
type = "linear"
name = "a"
out_features = 3
[[layers]]
type = "output"
as = "class"
[[layers]]
type = "branch"
from = "features"
[[layers]]
type = "linear"
name = "b"
out_features = 2
[[layers]]
type = "output"
as = "box"
"#;

fn batch() -> Batch {
    let x: Vec<f32> = (0..12).map(|i| ((i * 7 % 11) as f32 - 5.0) / 4.0).collect();
    Batch::new(x, vec![3, 4]).unwrap()
}

fn targets() -> Targets {
    vec![
        ("class".into(), Target::Classes(vec![0, 2, 1])),
        (
            "box".into(),
            Target::Weighted {
                values: vec![0.5, -0.25, 1.0, 0.0, -0.5, 0.75],
                weights: vec![1.0, 1.0, 0.0, 0.0, 1.0, 1.0],
                denom: None,
            },
        ),
    ]
}

fn check(objective: &Objective) {
    let spec = NetSpec::parse(NET, "heads.toml").unwrap();
    let mut net = Network::new(&spec, 4).unwrap();
    net.set_portable_ops(true);
    let (x, t) = (batch(), targets());
    let (_, grads) = net.objective_gradients(&x, &t, objective).unwrap();
    let eps = 1e-2f32;
    for (name, g) in &grads {
        let base = net.values(name).unwrap();
        for i in 0..base.len() {
            let mut v = base.clone();
            v[i] = base[i] + eps;
            net.set_values(name, &v).unwrap();
            let up = net.objective_loss(&x, &t, objective).unwrap().0 as f64;
            v[i] = base[i] - eps;
            net.set_values(name, &v).unwrap();
            let down = net.objective_loss(&x, &t, objective).unwrap().0 as f64;
            net.set_values(name, &base).unwrap();
            let fd = (up - down) / (2.0 * eps as f64);
            let err = (fd - g[i] as f64).abs();
            assert!(
                err <= 1e-2 * fd.abs().max(g[i].abs() as f64) + 2e-3,
                "{name}[{i}]: finite difference {fd}, gradient {}",
                g[i]
            );
        }
    }
}

#[test]
fn two_head_objective_gradients_match_finite_differences() {
    check(
        &Objective::new()
            .term("class", LossKind::CrossEntropy, 1.0)
            .term("box", LossKind::SmoothL1 { beta: 0.5 }, 2.0),
    );
}

#[test]
fn one_head_unused_still_trains_the_trunk() {
    let only_box = Objective::new().term("box", LossKind::Mse, 1.0);
    check(&only_box);
    let spec = NetSpec::parse(NET, "heads.toml").unwrap();
    let mut net = Network::new(&spec, 4).unwrap();
    let (_, grads) = net
        .objective_gradients(&batch(), &targets(), &only_box)
        .unwrap();
    let trunk = &grads.iter().find(|(n, _)| n == "trunk.weight").unwrap().1;
    let class = &grads.iter().find(|(n, _)| n == "a.weight").unwrap().1;
    assert!(trunk.iter().any(|g| g.abs() > 1e-6));
    assert!(class.iter().all(|g| *g == 0.0));
}

#[test]
fn heads_parse_summarise_and_run() {
    let spec = NetSpec::parse(NET, "heads.toml").unwrap();
    assert_eq!(spec.output_names(), ["class", "box"]);
    let s = spec.summary(None).unwrap();
    assert_eq!(
        s.outputs,
        vec![("class".to_string(), vec![3]), ("box".to_string(), vec![2])]
    );
    assert!(s.to_string().contains("Outputs: class [3], box [2]"));
    let mut net = Network::new(&spec, 1).unwrap();
    let outs = net.forward_outputs(&batch()).unwrap();
    assert_eq!(outs[0].1.shape, [3, 3]);
    assert_eq!(outs[1].1.shape, [3, 2]);
    // One output is ambiguous here: forward says so rather than picking one.
    let err = net.forward(&batch()).unwrap_err().to_string();
    assert!(err.contains("2 outputs (class, box)"), "{err}");
    let err = net
        .objective_loss(
            &batch(),
            &targets(),
            &Objective::single(LossKind::CrossEntropy),
        )
        .unwrap_err()
        .to_string();
    assert!(err.contains("name the one each loss term is on"), "{err}");
}

#[test]
fn bad_heads_are_errors_with_places() {
    let after = format!("{NET}\n[[layers]]\ntype = \"relu\"\n");
    let e = NetSpec::parse(&after, "h.toml").unwrap_err().to_string();
    assert!(e.contains("after the last `output`"), "{e}");
    let missing = NET.replace("from = \"features\"", "from = \"nothing\"");
    let e = NetSpec::parse(&missing, "h.toml").unwrap_err().to_string();
    assert!(
        e.starts_with("h.toml:") && e.contains("names no tensor saved"),
        "{e}"
    );
    let twice = NET.replace("as = \"box\"", "as = \"class\"");
    let e = NetSpec::parse(&twice, "h.toml").unwrap_err().to_string();
    assert!(e.contains("already named"), "{e}");
}

#[test]
fn the_two_head_example_file_lists_both_heads() {
    let spec = NetSpec::load("nets/two_heads.toml").unwrap();
    let s = spec.summary(None).unwrap();
    assert_eq!(
        s.outputs,
        vec![("class".to_string(), vec![2]), ("box".to_string(), vec![4])]
    );
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tutor"))
        .args(["inspect", "nets/two_heads.toml"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("Outputs: class [2], box [4]"));
}
