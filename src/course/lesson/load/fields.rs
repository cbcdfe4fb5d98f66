//! Which fields belong in which cell kind, which ones a raw cell sets (with their positions),
//! and a "did you mean" for a misspelt field name in serde's message.

use std::ops::Range;

use toml::Spanned;

use super::super::raw::RawCell;

/// The fields a cell of `kind` may set; `None` for an unknown kind.
pub(super) fn allowed_fields(kind: &str) -> Option<&'static [&'static str]> {
    Some(match kind {
        "text" => &["text"],
        "code" => &["caption", "code", "lang", "panes"],
        "run" => &["caption", "experiment", "params", "adjust"],
        "quiz" => &[
            "question",
            "type",
            "choices",
            "answer",
            "compute",
            "tolerance",
            "pairs",
            "vars",
            "require",
            "hints",
            "explanation",
            "graded",
            "points",
        ],
        "exercise" => &[
            "prompt",
            "experiment",
            "params",
            "input",
            "placeholder",
            "goal",
            "hints",
            "explanation",
            "solution",
            "graded",
            "points",
        ],
        _ => return None,
    })
}

/// Names and positions of the fields set in a raw cell, for the "does not belong" check.
pub(super) fn present_fields(c: &RawCell) -> Vec<(&'static str, Range<usize>)> {
    fn at<T>(v: &Option<Spanned<T>>) -> Option<Range<usize>> {
        v.as_ref().map(|s| s.span())
    }
    let first = |v: &Option<Vec<Spanned<_>>>| -> Option<Range<usize>> {
        v.as_ref()
            .and_then(|x: &Vec<Spanned<_>>| x.first().map(|s| s.span()))
    };
    let goal_at = c.goal.as_ref().and_then(|g| g.first().map(|s| s.span()));
    let panes_at = c.panes.as_ref().and_then(|g| g.first().map(|s| s.span()));
    let list = [
        ("text", at(&c.text)),
        ("caption", at(&c.caption)),
        ("code", at(&c.code)),
        ("lang", at(&c.lang)),
        ("panes", panes_at),
        ("experiment", at(&c.experiment)),
        ("params", at(&c.params)),
        ("adjust", at(&c.adjust)),
        ("question", at(&c.question)),
        ("type", at(&c.quiz_type)),
        ("choices", at(&c.choices)),
        ("answer", at(&c.answer)),
        ("compute", at(&c.compute)),
        ("tolerance", at(&c.tolerance)),
        ("pairs", at(&c.pairs)),
        ("vars", at(&c.vars)),
        ("require", at(&c.require)),
        ("hints", first(&c.hints)),
        ("explanation", at(&c.explanation)),
        ("prompt", at(&c.prompt)),
        ("input", at(&c.input)),
        ("placeholder", at(&c.placeholder)),
        ("goal", goal_at),
        ("solution", at(&c.solution)),
        ("graded", at(&c.graded)),
        ("points", at(&c.points)),
    ];
    list.into_iter()
        .filter_map(|(n, s)| s.map(|s| (n, s)))
        .collect()
}

/// Shortens serde's "unknown field `tpye`, expected one of `kind`, ..." to the closest name.
pub(super) fn suggest_field(msg: &str) -> String {
    let Some(rest) = msg.strip_prefix("unknown field `") else {
        return msg.to_string();
    };
    let Some((field, expected)) = rest.split_once("`, expected one of ") else {
        return msg.to_string();
    };
    let names: Vec<&str> = expected.split(", ").map(|n| n.trim_matches('`')).collect();
    let best = names
        .iter()
        .map(|n| (edit_distance(field, n), *n))
        .min()
        .filter(|(d, _)| *d <= 2);
    match best {
        Some((_, n)) => format!("unknown field `{field}`: did you mean `{n}`?"),
        None => format!(
            "unknown field `{field}` (known fields: {})",
            names.join(", ")
        ),
    }
}

/// Levenshtein distance, for "did you mean".
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != *cb))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_fields_get_a_suggestion() {
        let m = suggest_field("unknown field `tpye`, expected one of `kind`, `type`, `text`");
        assert_eq!(m, "unknown field `tpye`: did you mean `type`?");
        let m = suggest_field("unknown field `zzzzzz`, expected one of `kind`, `type`");
        assert_eq!(m, "unknown field `zzzzzz` (known fields: kind, type)");
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }
}
