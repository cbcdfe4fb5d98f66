use super::*;

#[test]
fn matrix_parsing_accepts_common_forms() {
    assert_eq!(
        parse_matrix("1 0 -1; 2, 0, −2\n[1 0 -1]").unwrap(),
        vec![
            vec![1.0, 0.0, -1.0],
            vec![2.0, 0.0, -2.0],
            vec![1.0, 0.0, -1.0]
        ]
    );
    assert_eq!(parse_matrix("1/9 1/9").unwrap(), vec![vec![1.0 / 9.0; 2]]);
    assert!(parse_matrix("  ").is_err());
    let e = parse_matrix("1 2 3; 4 x 6").unwrap_err();
    assert!(e.contains("row 2, column 2"), "{e}");
}

#[test]
fn coerce_checks_kind_and_range() {
    let spec = ParamSpec {
        name: "k",
        kind: ParamKind::Int { min: 1, max: 9 },
        default: Default::Int(3),
        doc: "",
    };
    assert_eq!(coerce(&spec, Value::Int(5)), Ok(Value::Int(5)));
    assert!(coerce(&spec, Value::Int(10))
        .unwrap_err()
        .contains("outside"));
    assert!(coerce(&spec, Value::Str("x".into())).is_err());
    let m = ParamSpec {
        name: "kernel",
        kind: ParamKind::Matrix { rows: 3, cols: 3 },
        default: Default::Matrix(&[&[0.0; 3], &[0.0; 3], &[0.0; 3]]),
        doc: "",
    };
    let e = coerce(&m, Value::Str("1 2 3; 4 5; 7 8 9".into())).unwrap_err();
    assert_eq!(e, "row 2 has 2 numbers, expected 3");
}

params! {
    /// A test's parameters.
    struct TestParams {
        n: i64 = 2, Int { min: 0, max: 9 }, "a count";
        x: f64 = 0.5, Float { min: 0.0, max: 1.0 }, "a share";
        on: bool = true, Bool, "a switch";
        k: Matrix = &[&[1.0, 2.0]], Matrix { rows: 1, cols: 2 }, "weights";
        word: String = SHARED;
    }
}

const SHARED: ParamSpec = ParamSpec {
    name: "word",
    kind: ParamKind::Choice(&["a", "b"]),
    default: Default::Str("b"),
    doc: "a word",
};

metrics! {
    /// A test's metrics.
    enum TestMetric {
        Sum = "sum",
        Share = "share",
    }
}

fn body(p: TestParams, ctx: &mut Emit<'_, TestMetric>) -> anyhow::Result<()> {
    ctx.emit(TestMetric::Sum, p.n as f64 + p.k[0].iter().sum::<f64>());
    ctx.emit_at(TestMetric::Share, 7, if p.on { p.x } else { 0.0 });
    // A helper that only knows `&mut dyn Ctx`.
    let helper: &mut dyn Ctx = ctx;
    helper.metric(if p.word == "a" { "share" } else { "typo" }, 1.0);
    Ok(())
}

static GOOD: Experiment = Experiment {
    name: "test.good",
    summary: "",
    params: TestParams::SPECS,
    metrics: TestMetric::NAMES,
    long: false,
    run: |p, ctx| typed(&GOOD, p, ctx, body),
};

static DRIFTED: Experiment = Experiment {
    name: "test.drifted",
    summary: "",
    params: TestParams::SPECS,
    metrics: &["sum"],
    long: false,
    run: |p, ctx| typed(&DRIFTED, p, ctx, body),
};

#[test]
fn params_are_declared_once_and_read_typed() {
    let names: Vec<&str> = TestParams::SPECS.iter().map(|s| s.name).collect();
    assert_eq!(names, ["n", "x", "on", "k", "word"]);
    assert_eq!(TestParams::SPECS[0].doc, "a count");
    assert!(matches!(TestParams::SPECS[4].kind, ParamKind::Choice(_)));
    let p = GOOD
        .params_from(&BTreeMap::from([("x".to_string(), Value::Int(1))]))
        .unwrap();
    assert_eq!(
        TestParams::from_params(&p).unwrap(),
        TestParams {
            n: 2,
            x: 1.0,
            on: true,
            k: vec![vec![1.0, 2.0]],
            word: "b".into()
        }
    );
}

#[test]
fn typed_runs_check_what_is_declared_and_emitted() {
    let r = run_recorded(&GOOD, &[("word", Value::Str("a".into()))]).unwrap();
    let emitted: Vec<(&str, f64)> = r.metrics.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    assert_eq!(emitted, [("share", 1.0), ("share_7", 0.5), ("sum", 5.0)]);
    let e = run_recorded(&GOOD, &[]).unwrap_err().to_string();
    assert!(e.contains("does not declare: typo"), "{e}");
    let e = run_recorded(&DRIFTED, &[]).unwrap_err().to_string();
    assert!(e.contains("`test.drifted` declares"), "{e}");
    assert!(declares(&["a_b"], "a_b_12") && !declares(&["a"], "a_") && !declares(&["a"], "b_1"));
}
