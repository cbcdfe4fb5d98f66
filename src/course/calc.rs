//! The tutor's calculator: expressions in lesson files that compute quiz answers.
//!
//! A teacher writes `compute = "conv_out(227, 11, 4, 0)"` instead of typing 55, so the answer
//! a learner is checked against is never a typo. Arithmetic is evalexpr's (integer division
//! truncates, as in Rust); the functions below are the tutor's own shape and parameter
//! arithmetic, in PyTorch's conventions, and can read the lesson's network files.

use std::path::Path;

use evalexpr::{
    ContextWithMutableFunctions, ContextWithMutableVariables, DefaultNumericTypes, EvalexprError,
    Function, HashMapContext, Value,
};

use crate::nn::{shape, spec::NetSpec};

/// The values drawn for a drill's variables (empty for a plain question).
pub type Draw = std::collections::BTreeMap<String, i64>;

type V = Value<DefaultNumericTypes>;
type R = Result<V, EvalexprError<DefaultNumericTypes>>;

/// The functions a lesson may call, with their argument lists (for docs and `tutor check`).
pub const FUNCTIONS: &[(&str, &str)] = &[
    (
        "conv_out",
        "conv_out(i, k, s=1, p=0, d=1): conv output size",
    ),
    (
        "pool_out",
        "pool_out(i, k, s=k, p=0, d=1): pooling output size",
    ),
    (
        "convt_out",
        "convt_out(i, k, s=1, p=0, d=1, op=0): transposed conv output size",
    ),
    (
        "conv_params",
        "conv_params(c_in, c_out, k, groups=1, bias=1): conv parameter count",
    ),
    (
        "linear_params",
        "linear_params(n_in, n_out, bias=1): linear parameter count",
    ),
    (
        "net_params",
        "net_params(\"net.toml\", \"layer\"?): parameters of a network or one layer",
    ),
    (
        "net_shape",
        "net_shape(\"net.toml\", \"layer\"?): output shape after a layer (or the network)",
    ),
    (
        "net_size",
        "net_size(\"net.toml\", \"layer\"?): number of values after a layer (flattened size)",
    ),
    (
        "net_rf",
        "net_rf(\"net.toml\", \"layer\"?): receptive field (height) after a layer, in input pixels",
    ),
    (
        "box_iou",
        "box_iou(x0, y0, x1, y1, x0', y0', x1', y1'): IoU of two corner-format boxes",
    ),
    (
        "anchor_count",
        "anchor_count(image, stride, sizes, ratios): anchors on a square image's grid",
    ),
];

fn ints(
    arg: &V,
    name: &str,
    min: usize,
    max: usize,
) -> Result<Vec<i64>, EvalexprError<DefaultNumericTypes>> {
    let items: Vec<V> = match arg {
        Value::Tuple(t) => t.clone(),
        v => vec![v.clone()],
    };
    if items.len() < min || items.len() > max {
        return Err(EvalexprError::CustomMessage(format!(
            "{name} takes {min} to {max} arguments, got {}",
            items.len()
        )));
    }
    items
        .iter()
        .map(|v| match v {
            Value::Int(i) => Ok(*i),
            // Whole floats within i64's range only: `as` would saturate 1e300 silently.
            Value::Float(f) if f.fract() == 0.0 && f.abs() < 9.0e18 => Ok(*f as i64),
            other => Err(EvalexprError::CustomMessage(format!(
                "{name}: `{other}` is not a whole number"
            ))),
        })
        .collect()
}

fn custom(msg: impl Into<String>) -> EvalexprError<DefaultNumericTypes> {
    EvalexprError::CustomMessage(msg.into())
}

/// The calculator's context. With `no_bias`, `conv_params` and `linear_params` leave the
/// biases out whatever the expression says: the answer of a learner who forgot them.
fn context(draw: &Draw, dir: &Path, no_bias: bool) -> HashMapContext<DefaultNumericTypes> {
    let mut ctx = HashMapContext::<DefaultNumericTypes>::new();
    for (k, v) in draw {
        // Names were checked when the lesson loaded; a clash with a function is harmless.
        let _ = ctx.set_value(k.clone(), Value::Int(*v));
    }
    let f = |name: &str, func: Function<DefaultNumericTypes>, ctx: &mut HashMapContext| {
        let _ = ctx.set_function(name.to_string(), func);
    };
    f(
        "conv_out",
        Function::new(|a: &V| -> R {
            let v = ints(a, "conv_out", 2, 5)?;
            let g = |i: usize, d: i64| v.get(i).copied().unwrap_or(d);
            shape::conv2d_out(v[0], v[1], g(2, 1), g(3, 0), g(4, 1))
                .map(Value::Int)
                .map_err(|e| custom(e.to_string()))
        }),
        &mut ctx,
    );
    f(
        "pool_out",
        Function::new(|a: &V| -> R {
            let v = ints(a, "pool_out", 2, 5)?;
            let g = |i: usize, d: i64| v.get(i).copied().unwrap_or(d);
            shape::pool2d_out(v[0], v[1], g(2, v[1]), g(3, 0), g(4, 1))
                .map(Value::Int)
                .map_err(|e| custom(e.to_string()))
        }),
        &mut ctx,
    );
    f(
        "convt_out",
        Function::new(|a: &V| -> R {
            let v = ints(a, "convt_out", 2, 6)?;
            let g = |i: usize, d: i64| v.get(i).copied().unwrap_or(d);
            shape::conv_transpose2d_out(v[0], v[1], g(2, 1), g(3, 0), g(4, 1), g(5, 0))
                .map(Value::Int)
                .map_err(|e| custom(e.to_string()))
        }),
        &mut ctx,
    );
    f(
        "conv_params",
        Function::new(move |a: &V| -> R {
            let v = ints(a, "conv_params", 3, 5)?;
            let groups = v.get(3).copied().unwrap_or(1);
            let bias = if no_bias {
                0
            } else {
                v.get(4).copied().unwrap_or(1)
            };
            if groups < 1 || v[0] % groups != 0 || v[1] % groups != 0 {
                return Err(custom("groups must divide both channel counts"));
            }
            shape::conv2d_params(v[0], v[1], v[2], groups, bias != 0)
                .map(Value::Int)
                .map_err(|e| custom(format!("conv_params: {e}")))
        }),
        &mut ctx,
    );
    f(
        "linear_params",
        Function::new(move |a: &V| -> R {
            let v = ints(a, "linear_params", 2, 3)?;
            let bias = if no_bias {
                0
            } else {
                v.get(2).copied().unwrap_or(1)
            };
            shape::linear_params(v[0], v[1], bias != 0)
                .map(Value::Int)
                .map_err(|e| custom(format!("linear_params: {e}")))
        }),
        &mut ctx,
    );
    register_nets(&mut ctx, dir);
    register_boxes(&mut ctx);
    register_receptive(&mut ctx, dir);
    ctx
}

/// `net_params`, `net_shape` and `net_size`: read a network file (relative to `dir`) and
/// answer from its summary, so quiz answers follow the network as the teacher edits it.
fn register_nets(ctx: &mut HashMapContext<DefaultNumericTypes>, dir: &Path) {
    fn args(
        a: &V,
        name: &str,
    ) -> Result<(String, Option<String>), EvalexprError<DefaultNumericTypes>> {
        let items: Vec<V> = match a {
            Value::Tuple(t) => t.clone(),
            v => vec![v.clone()],
        };
        let s = |v: &V| match v {
            Value::String(s) => Ok(s.clone()),
            other => Err(custom(format!("{name}: `{other}` is not a quoted name"))),
        };
        match items.as_slice() {
            [file] => Ok((s(file)?, None)),
            [file, layer] => Ok((s(file)?, Some(s(layer)?))),
            _ => Err(custom(format!(
                "{name} takes a network file and optionally a layer name"
            ))),
        }
    }
    type Row = (Vec<usize>, usize);
    fn lookup(
        dir: &Path,
        file: &str,
        layer: Option<&str>,
    ) -> Result<Row, EvalexprError<DefaultNumericTypes>> {
        let spec = NetSpec::load(dir.join(file)).map_err(|e| custom(e.to_string()))?;
        let summary = spec.summary(None).map_err(|e| custom(e.to_string()))?;
        match layer {
            None => Ok((summary.output.clone(), summary.total_params)),
            Some(name) => summary
                .rows
                .iter()
                .find(|r| r.name == name)
                .map(|r| (r.out_shape.clone(), r.params))
                .ok_or_else(|| {
                    let names: Vec<&str> = summary.rows.iter().map(|r| r.name.as_str()).collect();
                    custom(format!(
                        "`{file}` has no layer `{name}` (layers: {})",
                        names.join(", ")
                    ))
                }),
        }
    }
    let d = dir.to_path_buf();
    let _ = ctx.set_function(
        "net_params".into(),
        Function::new(move |a: &V| -> R {
            let (file, layer) = args(a, "net_params")?;
            Ok(Value::Int(lookup(&d, &file, layer.as_deref())?.1 as i64))
        }),
    );
    let d = dir.to_path_buf();
    let _ = ctx.set_function(
        "net_shape".into(),
        Function::new(move |a: &V| -> R {
            let (file, layer) = args(a, "net_shape")?;
            let shape = lookup(&d, &file, layer.as_deref())?.0;
            Ok(Value::Tuple(
                shape.iter().map(|&x| Value::Int(x as i64)).collect(),
            ))
        }),
    );
    let d = dir.to_path_buf();
    let _ = ctx.set_function(
        "net_size".into(),
        Function::new(move |a: &V| -> R {
            let (file, layer) = args(a, "net_size")?;
            let shape = lookup(&d, &file, layer.as_deref())?.0;
            Ok(Value::Int(shape.iter().product::<usize>() as i64))
        }),
    );
}

/// `box_iou` and `anchor_count`: the detection lesson's box arithmetic, computed by the same
/// code the detector is scored and trained with.
fn register_boxes(ctx: &mut HashMapContext<DefaultNumericTypes>) {
    use crate::train::anchors::AnchorConfig;
    use crate::train::detection::{iou, Rect};
    let _ = ctx.set_function(
        "box_iou".into(),
        Function::new(|a: &V| -> R {
            let items: Vec<V> = match a {
                Value::Tuple(t) => t.clone(),
                v => vec![v.clone()],
            };
            let v: Vec<f64> = items
                .iter()
                .map(|x| match x {
                    Value::Int(i) => Ok(*i as f64),
                    Value::Float(f) if f.is_finite() => Ok(*f),
                    other => Err(custom(format!("box_iou: `{other}` is not a number"))),
                })
                .collect::<Result<_, _>>()?;
            if v.len() != 8 {
                return Err(custom(format!(
                    "box_iou takes 8 numbers (two boxes as x0, y0, x1, y1), got {}",
                    v.len()
                )));
            }
            if v[2] < v[0] || v[3] < v[1] || v[6] < v[4] || v[7] < v[5] {
                return Err(custom("box_iou: a box needs x0 <= x1 and y0 <= y1"));
            }
            let r = |o: usize| Rect::new(v[o], v[o + 1], v[o + 2], v[o + 3]);
            Ok(Value::Float(iou(&r(0), &r(4))))
        }),
    );
    let _ = ctx.set_function(
        "anchor_count".into(),
        Function::new(|a: &V| -> R {
            let v = ints(a, "anchor_count", 4, 4)?;
            let (image, stride, sizes, ratios) = (v[0], v[1], v[2], v[3]);
            if !(1..=100_000).contains(&image) || stride < 1 || image % stride != 0 || !(1..=64).contains(&sizes)
                || !(1..=64).contains(&ratios)
            {
                return Err(custom(
                    "anchor_count: the image side must be 1 to 100000 and divisible by the stride, sizes and ratios 1 to 64",
                ));
            }
            let cfg = AnchorConfig {
                image: image as usize,
                grid: (image / stride) as usize,
                sizes: vec![1.0; sizes as usize],
                ratios: vec![1.0; ratios as usize],
            };
            i64::try_from(cfg.count())
                .map(Value::Int)
                .map_err(|_| custom("anchor_count: too many anchors"))
        }),
    );
}

/// The longest expression the calculator takes, in characters.
pub const MAX_LEN: usize = 2000;
/// The deepest nesting of brackets it takes.
pub const MAX_DEPTH: usize = 32;

/// Refuses expressions long or deep enough to exhaust the parser's stack (issue 11, item 5):
/// evalexpr parses recursively, and a `compute` of 40,000 terms crashed the tool.
fn within_limits(expr: &str) -> Result<(), String> {
    let len = expr.chars().count();
    if len > MAX_LEN {
        return Err(format!(
            "the expression is {len} characters long; the calculator takes at most {MAX_LEN}"
        ));
    }
    let mut depth = 0usize;
    let mut deepest = 0usize;
    for c in expr.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            _ => {}
        }
        deepest = deepest.max(depth);
    }
    if deepest > MAX_DEPTH {
        return Err(format!(
            "the expression nests brackets {deepest} deep; the calculator takes at most {MAX_DEPTH}"
        ));
    }
    Ok(())
}

/// `net_rf`: the receptive field after a layer of a network file (relative to `dir`), from
/// [`crate::nn::receptive`], the same figures as `tutor inspect`'s RF column.
fn register_receptive(ctx: &mut HashMapContext<DefaultNumericTypes>, dir: &Path) {
    let d = dir.to_path_buf();
    let _ = ctx.set_function(
        "net_rf".into(),
        Function::new(move |a: &V| -> R {
            let items: Vec<V> = match a {
                Value::Tuple(t) => t.clone(),
                v => vec![v.clone()],
            };
            let names: Vec<String> = items
                .iter()
                .map(|v| match v {
                    Value::String(s) => Ok(s.clone()),
                    other => Err(custom(format!("net_rf: `{other}` is not a quoted name"))),
                })
                .collect::<Result<_, _>>()?;
            let (file, layer) = match names.as_slice() {
                [f] => (f, None),
                [f, l] => (f, Some(l)),
                _ => {
                    return Err(custom(
                        "net_rf takes a network file and optionally a layer name",
                    ))
                }
            };
            let spec = NetSpec::load(d.join(file)).map_err(|e| custom(e.to_string()))?;
            let fields = crate::nn::receptive::fields(&spec);
            let at = match layer {
                None => spec.layers.len().checked_sub(1),
                Some(name) => spec.layers.iter().position(|l| &l.name == name),
            }
            .ok_or_else(|| {
                custom(format!(
                    "net_rf: `{file}` has no layer `{}`",
                    layer.map_or("", |s| s)
                ))
            })?;
            match fields[at] {
                Some([h, _]) => Ok(Value::Int(h as i64)),
                None => Err(custom(format!(
                    "net_rf: after layer `{}` of `{file}` every value sees the whole input",
                    spec.layers[at].name
                ))),
            }
        }),
    );
}

fn eval(expr: &str, draw: &Draw, dir: &Path) -> Result<V, String> {
    within_limits(expr)?;
    eval_in(expr, &context(draw, dir, false))
}

fn eval_in(expr: &str, ctx: &HashMapContext<DefaultNumericTypes>) -> Result<V, String> {
    evalexpr::eval_with_context(expr, ctx).map_err(|e| format!("`{expr}`: {e}"))
}

/// What `expr` gives when `conv_params` and `linear_params` forget their biases (a common
/// mistake the quiz can name), as one number; None when that is no different or no number.
pub fn eval_without_bias(expr: &str, draw: &Draw, dir: &Path) -> Option<f64> {
    if !expr.contains("conv_params") && !expr.contains("linear_params") {
        return None;
    }
    within_limits(expr).ok()?;
    match eval_in(expr, &context(draw, dir, true)).ok()? {
        Value::Int(i) => Some(i as f64),
        Value::Float(f) => Some(f),
        _ => None,
    }
}

/// Evaluates to one number or a tuple of numbers (a shape).
pub fn eval_numbers(expr: &str, draw: &Draw, dir: &Path) -> Result<Vec<f64>, String> {
    fn num(v: &V) -> Option<f64> {
        match v {
            Value::Int(i) => Some(*i as f64),
            Value::Float(f) => Some(*f),
            _ => None,
        }
    }
    let v = eval(expr, draw, dir)?;
    let out = match &v {
        Value::Tuple(t) => t.iter().map(num).collect::<Option<Vec<f64>>>(),
        v => num(v).map(|x| vec![x]),
    };
    out.filter(|o| o.iter().all(|x| x.is_finite()))
        .ok_or_else(|| format!("`{expr}` gives `{v}`, not a number or a shape"))
}

/// Evaluates a condition.
pub fn eval_bool(expr: &str, draw: &Draw, dir: &Path) -> Result<bool, String> {
    match eval(expr, draw, dir)? {
        Value::Boolean(b) => Ok(b),
        v => Err(format!("`{expr}` gives `{v}`, not true or false")),
    }
}

/// `i - k + 1`, computed independently of the calculator, for tests of drills.
#[cfg(test)]
pub fn conv_out_for_test(i: i64, k: i64) -> i64 {
    i - k + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(expr: &str) -> Vec<f64> {
        eval_numbers(expr, &Draw::new(), Path::new(".")).unwrap()
    }

    #[test]
    fn conv_arithmetic_matches_hand_computed_cases() {
        // AlexNet's first layer: 227 input, 11x11 kernel, stride 4 -> 55.
        assert_eq!(n("conv_out(227, 11, 4, 0)"), vec![55.0]);
        // "same" padding for a 3x3 kernel keeps the size.
        assert_eq!(n("conv_out(32, 3, 1, 1)"), vec![32.0]);
        // 28 - 5 + 1 = 24.
        assert_eq!(n("conv_out(28, 5)"), vec![24.0]);
        // Dilation 2 makes a 3x3 kernel span 5 pixels: 28 - 5 + 1 = 24.
        assert_eq!(n("conv_out(28, 3, 1, 0, 2)"), vec![24.0]);
        // Stride 2 with floor: (7 + 2 - 3) / 2 + 1 = 4.
        assert_eq!(n("conv_out(7, 3, 2, 1)"), vec![4.0]);
        assert_eq!(n("pool_out(28, 2)"), vec![14.0]);
        assert_eq!(n("pool_out(7, 2)"), vec![3.0]);
        assert_eq!(n("convt_out(7, 4, 2, 1)"), vec![14.0]);
        assert_eq!(n("convt_out(7, 3, 2, 1, 1, 1)"), vec![14.0]);
        assert_eq!(n("conv_params(3, 64, 3)"), vec![1792.0]);
        assert_eq!(n("conv_params(32, 32, 3, 32)"), vec![320.0]);
        assert_eq!(n("conv_params(3, 64, 3, 1, 0)"), vec![1728.0]);
        assert_eq!(n("linear_params(1568, 10)"), vec![15690.0]);
        assert_eq!(n("(1, 2, 3)"), vec![1.0, 2.0, 3.0]);
    }

    #[test]
    fn bad_calls_are_errors_not_panics() {
        let d = Draw::new();
        let p = Path::new(".");
        assert!(eval_numbers("conv_out(3, 5)", &d, p).is_err());
        assert!(eval_numbers("conv_out(3)", &d, p).is_err());
        assert!(eval_numbers("conv_out(3, 1.5)", &d, p).is_err());
        assert!(eval_numbers("\"text\"", &d, p).is_err());
        assert!(eval_numbers("nope(1)", &d, p).is_err());
        assert!(eval_numbers("1 +", &d, p).is_err());
    }

    #[test]
    fn network_functions_read_the_summary() {
        let d = Draw::new();
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("nets");
        let cnn = "\"lesson3_cnn.toml\"";
        let e = |x: String| eval_numbers(&x, &d, &dir);
        assert_eq!(
            e(format!("net_shape({cnn}, \"pool2\")")),
            Ok(vec![32.0, 7.0, 7.0])
        );
        assert_eq!(e(format!("net_size({cnn}, \"pool2\")")), Ok(vec![1568.0]));
        assert_eq!(e(format!("net_params({cnn}, \"conv1\")")), Ok(vec![160.0]));
        assert_eq!(e(format!("net_params({cnn}, \"fc1\")")), Ok(vec![15690.0]));
        assert!(e(format!("net_params({cnn}, \"nope\")"))
            .unwrap_err()
            .contains("no layer"));
        assert!(e("net_params(\"missing.toml\")".into()).is_err());
        let vgg = "\"lesson9_vgg16.toml\"";
        assert_eq!(e(format!("net_rf({vgg}, \"conv1_2\")")), Ok(vec![5.0]));
        assert_eq!(e(format!("net_rf({vgg}, \"pool5\")")), Ok(vec![212.0]));
        assert!(e(format!("net_rf({vgg}, \"fc6\")")).is_err());
        assert!(e(format!("net_rf({vgg}, \"nope\")")).is_err());
    }

    #[test]
    fn absurd_values_and_huge_expressions_are_errors() {
        // Issue 11, items 4 and 5.
        let d = Draw::new();
        let p = Path::new(".");
        let e = eval_numbers("conv_params(-4, 4, 3)", &d, p).unwrap_err();
        assert!(e.contains("input channels"), "{e}");
        let e = eval_numbers("conv_out(28, 3, 1, 9223372036854775807)", &d, p).unwrap_err();
        assert!(e.contains("padding"), "{e}");
        assert!(eval_numbers("conv_params(2147483648, 2147483648, 2147483648)", &d, p).is_err());
        let long = vec!["1"; 40_000].join(" + ");
        let e = eval_numbers(&long, &d, p).unwrap_err();
        assert!(e.contains("at most 2000"), "{e}");
        let deep = format!("{}1{}", "(".repeat(500), ")".repeat(500));
        let e = eval_numbers(&deep, &d, p).unwrap_err();
        assert!(e.contains("nests brackets 500 deep"), "{e}");
        assert_eq!(eval_numbers("((1 + 2) * 3)", &d, p), Ok(vec![9.0]));
    }

    #[test]
    fn drill_variables_are_visible() {
        let mut d = Draw::new();
        d.insert("i".into(), 64);
        d.insert("k".into(), 3);
        let p = Path::new(".");
        assert_eq!(eval_numbers("conv_out(i, k, 2, 1)", &d, p), Ok(vec![32.0]));
        assert_eq!(eval_bool("conv_out(i, k) >= 1", &d, p), Ok(true));
    }

    #[test]
    fn box_functions() {
        let d = Draw::new();
        let p = Path::new(".");
        // 2x2 squares overlapping in a 1x2 strip: 2 / 6.
        let v = eval_numbers("box_iou(0, 0, 2, 2, 1, 0, 3, 2)", &d, p).unwrap();
        assert!((v[0] - 1.0 / 3.0).abs() < 1e-12);
        // Touching boxes and two empty boxes give 0.
        assert_eq!(
            eval_numbers("box_iou(0, 0, 1, 1, 1, 0, 2, 1)", &d, p),
            Ok(vec![0.0])
        );
        assert_eq!(
            eval_numbers("box_iou(0, 0, 0, 0, 0, 0, 0, 0)", &d, p),
            Ok(vec![0.0])
        );
        assert!(eval_numbers("box_iou(2, 0, 0, 2, 1, 0, 3, 2)", &d, p).is_err());
        assert!(eval_numbers("box_iou(0, 0, 2, 2)", &d, p).is_err());
        // A 96-px image with 8-px cells: 12 x 12 cells, 4 sizes x 3 ratios each.
        assert_eq!(
            eval_numbers("anchor_count(96, 8, 4, 3)", &d, p),
            Ok(vec![1728.0])
        );
        assert!(eval_numbers("anchor_count(96, 7, 4, 3)", &d, p).is_err());
        assert!(eval_numbers("anchor_count(1000000000, 1, 64, 64)", &d, p).is_err());
    }
}
