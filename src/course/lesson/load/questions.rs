//! Loading a quiz cell: its kind (choices, a number, a shape, matching pairs), the answer as
//! typed or as an expression the tutor computes, and the ranges of a drill's variables.

use std::ops::Range;

use super::super::raw::RawCell;
use super::super::{Answer, Quiz, QuizKind, VarRange};
use super::Loader;
use crate::util::parse::letter_index;

/// The most choices a question may have: one per letter a to z.
const MAX_CHOICES: usize = 26;

impl Loader<'_> {
    pub(super) fn quiz(&mut self, c: &RawCell, span: Range<usize>) -> Option<Quiz> {
        let question = self.required(&c.question, span.clone(), "question")?;
        let Some(ty) = &c.quiz_type else {
            self.error(
                span,
                "missing field `type` (single, multi, integer, number, shape or match)",
            );
            return None;
        };
        let kind = match ty.get_ref().as_str() {
            "single" | "multi" => {
                let choices: Vec<String> = match &c.choices {
                    Some(ch) if ch.get_ref().len() > MAX_CHOICES => {
                        self.error(
                            ch.span(),
                            format!(
                                "a choice question takes at most {MAX_CHOICES} `choices` (answered \
                                 by the letters a to z), got {}",
                                ch.get_ref().len()
                            ),
                        );
                        return None;
                    }
                    Some(ch) if ch.get_ref().len() >= 2 => {
                        ch.get_ref().iter().map(|s| s.get_ref().clone()).collect()
                    }
                    Some(ch) => {
                        self.error(ch.span(), "a choice question needs at least two `choices`");
                        return None;
                    }
                    None => {
                        self.error(span, "missing field `choices`");
                        return None;
                    }
                };
                if self.held_back() {
                    // The answer stayed with the teacher: a stand-in nobody checks against.
                    let multi = ty.get_ref() == "multi";
                    return self.finish_quiz(
                        c,
                        question,
                        if multi {
                            QuizKind::Multi {
                                choices,
                                answers: Vec::new(),
                            }
                        } else {
                            QuizKind::Single { choices, answer: 0 }
                        },
                    );
                }
                let answer = c.answer.as_ref().or_else(|| {
                    self.error(span.clone(), "missing field `answer`");
                    None
                })?;
                let letters = match answer.get_ref() {
                    toml::Value::String(s) => vec![s.clone()],
                    toml::Value::Array(a) => a
                        .iter()
                        .map(|v| v.as_str().unwrap_or("?").to_string())
                        .collect(),
                    _ => vec!["?".to_string()],
                };
                let mut idx = Vec::new();
                for l in &letters {
                    match letter_index(l) {
                        Some(i) if i < choices.len() => idx.push(i),
                        _ => {
                            self.error(
                                answer.span(),
                                format!(
                                    "`answer` must be a choice letter a..{} (found `{l}`)",
                                    (b'a' + choices.len() as u8 - 1) as char
                                ),
                            );
                            return None;
                        }
                    }
                }
                idx.sort_unstable();
                idx.dedup();
                if ty.get_ref() == "single" {
                    if idx.len() != 1 {
                        self.error(
                            answer.span(),
                            "a single-choice question has exactly one answer letter",
                        );
                        return None;
                    }
                    QuizKind::Single {
                        choices,
                        answer: idx[0],
                    }
                } else {
                    QuizKind::Multi {
                        choices,
                        answers: idx,
                    }
                }
            }
            "integer" | "number" | "shape" => {
                let answer = if self.held_back() {
                    Answer {
                        literal: None,
                        compute: None,
                        line: self.line(&span),
                    }
                } else {
                    self.answer(c, span.clone())?
                };
                match ty.get_ref().as_str() {
                    "integer" => QuizKind::Integer { answer },
                    "shape" => QuizKind::Shape { answer },
                    _ => {
                        let tolerance = c.tolerance.as_ref().map_or(0.0, |t| *t.get_ref());
                        if !(tolerance >= 0.0 && tolerance.is_finite()) {
                            let at = c.tolerance.as_ref().map_or(span, |t| t.span());
                            self.error(at, "`tolerance` must be a number ≥ 0");
                            return None;
                        }
                        QuizKind::Number { answer, tolerance }
                    }
                }
            }
            "match" => {
                let Some(pairs) = &c.pairs else {
                    self.error(span, "missing field `pairs` (a list of [left, right])");
                    return None;
                };
                let mut out = Vec::new();
                for p in pairs.get_ref() {
                    match p.get_ref().as_slice() {
                        [a, b] => out.push((a.clone(), b.clone())),
                        _ => self.error(p.span(), "each pair is [left, right]"),
                    }
                }
                if out.len() < 2 {
                    self.error(pairs.span(), "a match question needs at least two pairs");
                    return None;
                }
                QuizKind::Match { pairs: out }
            }
            other => {
                self.error(
                    ty.span(),
                    format!("unknown quiz type `{other}` (expected single, multi, integer, number, shape or match)"),
                );
                return None;
            }
        };
        self.finish_quiz(c, question, kind)
    }

    /// The parts every kind of question has: hints, explanation, drill variables.
    fn finish_quiz(&mut self, c: &RawCell, question: String, kind: QuizKind) -> Option<Quiz> {
        let mut vars = Vec::new();
        for (name, v) in c.vars.iter().flat_map(|v| v.get_ref()) {
            match var_range(v.get_ref()) {
                Ok(r) => vars.push((name.clone(), r)),
                Err(e) => self.error(v.span(), format!("drill variable `{name}`: {e}")),
            }
        }
        Some(Quiz {
            question,
            kind,
            hints: Self::strings(&c.hints),
            explanation: c
                .explanation
                .as_ref()
                .map(|s| s.get_ref().clone())
                .unwrap_or_default(),
            vars,
            require: c.require.as_ref().map(|s| s.get_ref().clone()),
            held_back: self.held_back(),
        })
    }

    fn answer(&mut self, c: &RawCell, span: Range<usize>) -> Option<Answer> {
        let compute = c.compute.as_ref().map(|s| s.get_ref().clone());
        let mut literal = None;
        let mut line = c.compute.as_ref().map(|s| self.line(&s.span()));
        let mut compute = compute;
        if let Some(a) = &c.answer {
            line = Some(self.line(&a.span()));
            match a.get_ref() {
                toml::Value::Integer(i) => literal = Some(vec![*i as f64]),
                toml::Value::Float(x) => literal = Some(vec![*x]),
                toml::Value::Array(items) => {
                    let nums: Option<Vec<f64>> = items
                        .iter()
                        .map(|v| v.as_integer().map(|i| i as f64).or(v.as_float()))
                        .collect();
                    match nums {
                        Some(n) if !n.is_empty() => literal = Some(n),
                        _ => {
                            self.error(a.span(), "`answer` list must hold numbers");
                            return None;
                        }
                    }
                }
                toml::Value::String(s) => match crate::util::parse::parse_numbers(s) {
                    Some(n) => literal = Some(n),
                    None if compute.is_none() => compute = Some(s.clone()),
                    None => {
                        self.error(
                            a.span(),
                            "`answer` is neither numbers nor needed beside `compute`",
                        );
                        return None;
                    }
                },
                _ => {
                    self.error(
                        a.span(),
                        "`answer` must be a number, a list of numbers or an expression",
                    );
                    return None;
                }
            }
        }
        if literal.is_none() && compute.is_none() {
            self.error(span.clone(), "missing field `answer` (or `compute`)");
            return None;
        }
        // No learner can type `nan` or `inf` and be right (issue 11, item 16).
        if let (Some(a), Some(lit)) = (&c.answer, &literal) {
            if lit.iter().any(|x| !x.is_finite()) {
                self.error(a.span(), "`answer` must be a finite number");
                return None;
            }
        }
        Some(Answer {
            literal,
            compute,
            line: line.unwrap_or_else(|| self.line(&span)),
        })
    }
}

fn var_range(v: &toml::Value) -> Result<VarRange, String> {
    match v {
        toml::Value::Array(items) => {
            let nums: Option<Vec<i64>> = items.iter().map(|v| v.as_integer()).collect();
            match nums {
                Some(n) if !n.is_empty() => Ok(VarRange::OneOf(n)),
                _ => Err("give a non-empty list of integers or { min = .., max = .. }".into()),
            }
        }
        toml::Value::Table(t) => {
            let min = t.get("min").and_then(|v| v.as_integer());
            let max = t.get("max").and_then(|v| v.as_integer());
            match (min, max, t.len()) {
                (Some(a), Some(b), 2) if a <= b => Ok(VarRange::Between(a, b)),
                _ => Err("a range is { min = A, max = B } with whole numbers, A ≤ B".into()),
            }
        }
        _ => Err("give a list of integers or { min = .., max = .. }".into()),
    }
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn letters() {
        assert_eq!(letter_index("a"), Some(0));
        assert_eq!(letter_index(" C "), Some(2));
        assert_eq!(letter_index("ab"), None);
        assert_eq!(letter_index(""), None);
    }
}
