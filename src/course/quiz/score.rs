//! Scoring one answer to a graded question, for `tutor grade`.
//!
//! The rule, documented for teachers in `lessons/README.md` ("For teachers"):
//! - single choice, whole number, number and shape: all the points or none;
//! - select all that apply: (right letters picked − wrong letters picked) / right letters,
//!   floored at 0, times the points (so ticking every box earns nothing);
//! - matching: the share of left items matched to their partner, times the points.
//!
//! The learner answered the question as shown in their released copy (`shown`), whose choices
//! and matching items are in the same order as the teacher's (`key`); for a match question
//! the right-hand items there are a stand-in order, so letters are turned back into the items'
//! text before they are compared with the key.

use std::path::Path;

use super::{check, letters, match_letters, shown_order, Draw, Verdict};
use crate::course::lesson::{Answer, Quiz, QuizKind};

/// What one answer earned.
#[derive(Debug, Clone, PartialEq)]
pub struct Score {
    /// Share of the cell's points, 0 to 1.
    pub fraction: f64,
    /// For the learner's feedback: "right", "wrong: Too small.", "2 of 3 pairs right"...
    pub verdict: String,
}

impl Score {
    fn all_or_nothing(right: bool, why: &str) -> Score {
        Score {
            fraction: if right { 1.0 } else { 0.0 },
            verdict: if right {
                "right".into()
            } else if why.is_empty() {
                "wrong".into()
            } else {
                format!("wrong: {why}")
            },
        }
    }
}

/// The question with a placeholder answer where a held-back one is missing, so that the form
/// of an answer can be checked without knowing the right one.
pub fn stand_in(quiz: &Quiz) -> Quiz {
    let mut q = quiz.clone();
    let zero = |a: &Answer| Answer {
        literal: Some(vec![0.0]),
        compute: None,
        line: a.line,
    };
    match &mut q.kind {
        QuizKind::Integer { answer } | QuizKind::Number { answer, .. } => *answer = zero(answer),
        QuizKind::Shape { answer } => *answer = zero(answer),
        QuizKind::Single { .. } | QuizKind::Multi { .. } | QuizKind::Match { .. } => {}
    }
    q.held_back = false;
    q
}

/// Scores `input` against the teacher's question `key`, for the learner's draw `d` (drawn from
/// `shown`, the question they saw) and seed.
pub fn score(key: &Quiz, shown: &Quiz, d: &Draw, dir: &Path, seed: u64, input: &str) -> Score {
    if let Verdict::Invalid(m) = check(&stand_in(shown), d, dir, seed, input) {
        return Score {
            fraction: 0.0,
            verdict: format!("not an answer: {m}"),
        };
    }
    let input = input.trim();
    match (&key.kind, &shown.kind) {
        (QuizKind::Multi { answers, .. }, QuizKind::Multi { choices, .. }) => {
            let mut picked = letters(input, choices.len()).unwrap_or_default();
            picked.sort_unstable();
            picked.dedup();
            let hits = picked.iter().filter(|p| answers.contains(p)).count();
            let wrong = picked.len() - hits;
            let fraction = (hits as f64 - wrong as f64).max(0.0) / answers.len().max(1) as f64;
            Score {
                fraction,
                verdict: if hits == answers.len() && wrong == 0 {
                    "right".into()
                } else {
                    format!(
                        "{hits} of {} right choices picked, {wrong} wrong one(s)",
                        answers.len()
                    )
                },
            }
        }
        (QuizKind::Match { pairs: right }, QuizKind::Match { pairs: shown_pairs }) => {
            let n = shown_pairs.len();
            let picked = match_letters(input, n).unwrap_or_default();
            let order = shown_order(shown, seed);
            let good = picked
                .iter()
                .enumerate()
                .filter(|&(i, &letter)| {
                    let item = order.get(letter).and_then(|&o| shown_pairs.get(o));
                    match (item, right.get(i)) {
                        (Some((_, text)), Some((_, want))) => text == want,
                        _ => false,
                    }
                })
                .count();
            Score {
                fraction: good as f64 / right.len().max(1) as f64,
                verdict: if good == right.len() {
                    "right".into()
                } else {
                    format!("{good} of {} pairs right", right.len())
                },
            }
        }
        _ => match check(key, d, dir, seed, input) {
            Verdict::Correct => Score::all_or_nothing(true, ""),
            Verdict::Wrong(m) => Score::all_or_nothing(false, &m),
            Verdict::Invalid(m) => Score {
                fraction: 0.0,
                verdict: format!("not an answer: {m}"),
            },
            Verdict::Recorded => Score::all_or_nothing(false, "not checked"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::course::quiz::Draw;

    fn quiz(kind: QuizKind) -> Quiz {
        Quiz {
            question: "q".into(),
            kind,
            hints: Vec::new(),
            explanation: String::new(),
            vars: Vec::new(),
            require: None,
            held_back: false,
        }
    }

    fn multi(answers: Vec<usize>) -> Quiz {
        quiz(QuizKind::Multi {
            choices: ["a", "b", "c", "d"].map(String::from).to_vec(),
            answers,
        })
    }

    fn run(key: &Quiz, shown: &Quiz, seed: u64, input: &str) -> f64 {
        score(key, shown, &Draw::new(), Path::new("."), seed, input).fraction
    }

    #[test]
    fn select_all_is_right_minus_wrong_floored_at_zero() {
        let key = multi(vec![0, 2]);
        let shown = multi(Vec::new());
        assert_eq!(run(&key, &shown, 1, "a c"), 1.0);
        assert_eq!(run(&key, &shown, 1, "a"), 0.5);
        assert_eq!(run(&key, &shown, 1, "a b"), 0.0);
        assert_eq!(run(&key, &shown, 1, "a c d"), 0.5);
        // Ticking every box earns nothing.
        assert_eq!(run(&key, &shown, 1, "a b c d"), 0.0);
        assert_eq!(run(&key, &shown, 1, "b d"), 0.0);
        // Not an answer at all.
        assert_eq!(run(&key, &shown, 1, "z"), 0.0);
    }

    #[test]
    fn matching_counts_each_left_item_through_the_shown_order() {
        let pairs = |r: [&str; 3]| {
            quiz(QuizKind::Match {
                pairs: ["x", "y", "z"]
                    .iter()
                    .zip(r)
                    .map(|(a, b)| (a.to_string(), b.to_string()))
                    .collect(),
            })
        };
        let key = pairs(["three", "one", "two"]);
        // The released copy lists the right items in another order.
        let shown = pairs(["one", "three", "two"]);
        let seed = 7;
        let order = crate::course::quiz::match_order(3, seed);
        // The letter under which each right item is shown.
        let letter_of = |text: &str| {
            let j = order
                .iter()
                .position(|&o| {
                    let QuizKind::Match { pairs } = &shown.kind else {
                        unreachable!()
                    };
                    pairs[o].1 == text
                })
                .unwrap();
            (b'a' + j as u8) as char
        };
        let right: String = ["three", "one", "two"]
            .iter()
            .map(|t| letter_of(t))
            .collect();
        assert_eq!(run(&key, &shown, seed, &right), 1.0);
        let one_off: String = ["three", "two", "one"]
            .iter()
            .map(|t| letter_of(t))
            .collect();
        assert!((run(&key, &shown, seed, &one_off) - 1.0 / 3.0).abs() < 1e-12);
    }

    #[test]
    fn numbers_are_all_or_nothing_and_the_stand_in_only_checks_form() {
        let answer = |x: f64| Answer {
            literal: Some(vec![x]),
            compute: None,
            line: 1,
        };
        let key = quiz(QuizKind::Integer {
            answer: answer(55.0),
        });
        let mut shown = quiz(QuizKind::Integer {
            answer: Answer {
                literal: None,
                compute: None,
                line: 1,
            },
        });
        shown.held_back = true;
        assert_eq!(run(&key, &shown, 0, "55"), 1.0);
        assert_eq!(run(&key, &shown, 0, "54"), 0.0);
        let s = score(&key, &shown, &Draw::new(), Path::new("."), 0, "5.5");
        assert_eq!(s.fraction, 0.0);
        assert!(s.verdict.starts_with("not an answer"), "{}", s.verdict);
        assert_eq!(
            crate::course::quiz::check_cell(&shown, true, &Draw::new(), Path::new("."), 0, "54"),
            Verdict::Recorded
        );
    }
}
