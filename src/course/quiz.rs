//! Checking a learner's answer to a quiz. Pure: no screen, no files but the networks a
//! computed answer may read.
//!
//! Numeric answers come from [`crate::course::calc`] whenever the lesson gives an expression, so the
//! number the learner is checked against is the tutor's own computation. Drill questions draw
//! their variables from a seed made of the learner, the lesson, the cell and the round, so each
//! learner gets their own reproducible questions.

use std::hash::{Hash, Hasher};
use std::path::Path;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::course::calc;
use crate::course::lesson::{Answer, Quiz, QuizKind, VarRange};
use crate::util::parse::letter_index;
use crate::util::parse::parse_numbers;

pub use crate::course::calc::Draw;

pub mod score;

/// The right answer, computed.
#[derive(Debug, Clone, PartialEq)]
pub enum Expected {
    Number(f64),
    Shape(Vec<i64>),
    Choice(usize),
    Choices(Vec<usize>),
    /// For each left item (in order), the letter index of its partner in the shown order.
    Pairs(Vec<usize>),
}

/// The outcome of checking one answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    Correct,
    /// A well-formed answer that is wrong, with a short feedback line.
    Wrong(String),
    /// Input that is not an answer at all (empty, not a number...): not counted as an attempt.
    Invalid(String),
    /// A well-formed answer to a graded question: kept for the teacher, not checked here.
    Recorded,
}

/// A stable seed for a learner's question: the same inputs give the same question on every
/// machine and every run (unlike `std`'s randomly keyed hasher).
pub fn seed(learner: &str, lesson: &str, cell: &str, round: u32) -> u64 {
    // FNV-1a: tiny, stable across Rust versions.
    struct Fnv(u64);
    impl Hasher for Fnv {
        fn finish(&self) -> u64 {
            self.0
        }
        fn write(&mut self, bytes: &[u8]) {
            for b in bytes {
                self.0 ^= u64::from(*b);
                self.0 = self.0.wrapping_mul(0x100_0000_01b3);
            }
        }
    }
    let mut h = Fnv(0xcbf2_9ce4_8422_2325);
    (learner, lesson, cell, round).hash(&mut h);
    h.finish()
}

/// Draws the drill variables for `seed`, honouring the quiz's `require` condition.
pub fn draw(quiz: &Quiz, seed: u64, dir: &Path) -> Result<Draw, String> {
    let mut rng = StdRng::seed_from_u64(seed);
    if quiz.vars.is_empty() {
        return Ok(Draw::new());
    }
    for _ in 0..1000 {
        let mut d = Draw::new();
        for (name, range) in &quiz.vars {
            let v = match range {
                VarRange::OneOf(list) => list[rng.gen_range(0..list.len())],
                VarRange::Between(a, b) => rng.gen_range(*a..=*b),
            };
            d.insert(name.clone(), v);
        }
        let ok = match &quiz.require {
            None => true,
            // A draw whose condition cannot even be evaluated (a layer that does not fit) is
            // simply not a valid question: try another.
            Some(cond) => calc::eval_bool(cond, &d, dir).unwrap_or(false),
        };
        // A held-back question has no answer to compute; the grader draws from the same
        // released question, so both sides get the same numbers.
        if ok && (quiz.held_back || expected(quiz, &d, dir, seed).is_ok()) {
            return Ok(d);
        }
    }
    Err("no drawing of the variables satisfies `require` (tried 1000)".into())
}

/// The question with `{name}` placeholders filled in.
pub fn question_text(quiz: &Quiz, d: &Draw) -> String {
    let mut q = quiz.question.clone();
    for (k, v) in d {
        q = q.replace(&format!("{{{k}}}"), &v.to_string());
    }
    q
}

/// The explanation with `{answer}` replaced by the computed answer and `{name}` by the
/// drill's values, so no number in it is typed by hand.
pub fn explanation_text(quiz: &Quiz, d: &Draw, dir: &Path, seed: u64) -> String {
    let mut e = question_text(
        &Quiz {
            question: quiz.explanation.clone(),
            ..quiz.clone()
        },
        d,
    );
    if e.contains("{answer}") {
        e = e.replace("{answer}", &answer_text(quiz, d, dir, seed));
    }
    e
}

/// The order a match question's right-hand items are shown in (see [`match_order`]). A
/// held-back question shows them as its released file lists them: `tutor release` put them in
/// an order that is never the true one, which a shuffle here could undo.
pub fn shown_order(quiz: &Quiz, seed: u64) -> Vec<usize> {
    let n = match &quiz.kind {
        QuizKind::Match { pairs } => pairs.len(),
        _ => 0,
    };
    if quiz.held_back {
        (0..n).collect()
    } else {
        match_order(n, seed)
    }
}

/// The order the right-hand items of a match question are shown in: `order[j]` is the index
/// of the pair whose right item is shown with letter j.
pub fn match_order(n: usize, seed: u64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    let mut rng = StdRng::seed_from_u64(seed ^ 0x6d61_7463_6821);
    // Fisher-Yates, but never the identity (it would give the answer away).
    for _ in 0..10 {
        for i in (1..n).rev() {
            let j = rng.gen_range(0..=i);
            order.swap(i, j);
        }
        if order.iter().enumerate().any(|(i, &o)| i != o) {
            break;
        }
    }
    order
}

fn answer_value(a: &Answer, d: &Draw, dir: &Path) -> Result<Vec<f64>, String> {
    match (&a.compute, &a.literal) {
        (Some(expr), _) => calc::eval_numbers(expr, d, dir),
        (None, Some(lit)) => Ok(lit.clone()),
        (None, None) => Err("no answer given".into()),
    }
}

/// Computes the right answer for this draw. `seed` fixes the order of match items.
pub fn expected(quiz: &Quiz, d: &Draw, dir: &Path, seed: u64) -> Result<Expected, String> {
    Ok(match &quiz.kind {
        QuizKind::Single { answer, .. } => Expected::Choice(*answer),
        QuizKind::Multi { answers, .. } => Expected::Choices(answers.clone()),
        QuizKind::Integer { answer } => {
            let v = answer_value(answer, d, dir)?;
            match v.as_slice() {
                [x] if x.fract() == 0.0 => Expected::Number(*x),
                [x] => return Err(format!("the answer {x} is not a whole number")),
                _ => return Err(format!("expected one number, computed {v:?}")),
            }
        }
        QuizKind::Number { answer, .. } => {
            let v = answer_value(answer, d, dir)?;
            match v.as_slice() {
                [x] => Expected::Number(*x),
                _ => return Err(format!("expected one number, computed {v:?}")),
            }
        }
        QuizKind::Shape { answer } => {
            let v = answer_value(answer, d, dir)?;
            if v.iter().any(|x| x.fract() != 0.0 || *x < 0.0) {
                return Err(format!("a shape holds whole numbers, computed {v:?}"));
            }
            Expected::Shape(v.iter().map(|x| *x as i64).collect())
        }
        QuizKind::Match { pairs } => {
            let order = match_order(pairs.len(), seed);
            Expected::Pairs(
                (0..pairs.len())
                    .map(|i| order.iter().position(|&o| o == i).unwrap_or(0))
                    .collect(),
            )
        }
    })
}

/// Checks `input` against the quiz's answer for this draw; a graded question (`graded`) only
/// has its form checked, and a well-formed answer is [`Verdict::Recorded`].
pub fn check_cell(
    quiz: &Quiz,
    graded: bool,
    d: &Draw,
    dir: &Path,
    seed: u64,
    input: &str,
) -> Verdict {
    if !graded {
        return check(quiz, d, dir, seed, input);
    }
    match check(&score::stand_in(quiz), d, dir, seed, input) {
        Verdict::Invalid(m) => Verdict::Invalid(m),
        _ => Verdict::Recorded,
    }
}

/// Checks `input` against the quiz's answer for this draw.
pub fn check(quiz: &Quiz, d: &Draw, dir: &Path, seed: u64, input: &str) -> Verdict {
    let input = input.trim();
    if input.is_empty() {
        return Verdict::Invalid("type an answer first".into());
    }
    let expected = match expected(quiz, d, dir, seed) {
        Ok(e) => e,
        Err(e) => return Verdict::Invalid(format!("this question is broken: {e}")),
    };
    match (&quiz.kind, expected) {
        (QuizKind::Single { choices, .. }, Expected::Choice(right)) => {
            match choice_index(input, choices.len()) {
                Some(i) if i == right => Verdict::Correct,
                Some(_) => Verdict::Wrong("Not that one.".into()),
                None => {
                    Verdict::Invalid(format!("answer with a letter a..{}", last(choices.len())))
                }
            }
        }
        (QuizKind::Multi { choices, .. }, Expected::Choices(right)) => {
            let Some(mut picked) = letters(input, choices.len()) else {
                return Verdict::Invalid(format!(
                    "answer with the letters of every right choice, e.g. `a c` (a..{})",
                    last(choices.len())
                ));
            };
            picked.sort_unstable();
            picked.dedup();
            if picked == right {
                Verdict::Correct
            } else {
                let missing = right.iter().filter(|r| !picked.contains(r)).count();
                let extra = picked.iter().filter(|p| !right.contains(p)).count();
                Verdict::Wrong(match (missing, extra) {
                    (0, e) => format!("{e} of your choices should not be there."),
                    (m, 0) => format!("Right so far, but {m} more choice(s) apply."),
                    (m, e) => format!("{e} choice(s) wrong and {m} missing."),
                })
            }
        }
        (QuizKind::Integer { answer }, Expected::Number(right)) => match parse_numbers(input) {
            Some(v) if v.len() == 1 && v[0].fract() == 0.0 => {
                name_mistake(compare(v[0], right, 0.0), answer, d, dir, v[0], right)
            }
            Some(v) if v.len() == 1 => Verdict::Invalid("the answer is a whole number".into()),
            _ => Verdict::Invalid(format!("`{input}` is not a whole number")),
        },
        (QuizKind::Number { tolerance, .. }, Expected::Number(right)) => {
            match parse_numbers(input).filter(|v| v.len() == 1) {
                Some(v) => compare(v[0], right, *tolerance),
                None => match crate::util::parse::parse_number(input) {
                    Some(x) => compare(x, right, *tolerance),
                    None => Verdict::Invalid(format!("`{input}` is not a number")),
                },
            }
        }
        (QuizKind::Shape { .. }, Expected::Shape(right)) => match parse_numbers(input) {
            Some(v) if v.iter().all(|x| x.fract() == 0.0) => {
                let v: Vec<i64> = v.iter().map(|x| *x as i64).collect();
                if v == right {
                    Verdict::Correct
                } else if v.len() != right.len() {
                    Verdict::Wrong(format!(
                        "The shape has {} dimensions, not {}.",
                        right.len(),
                        v.len()
                    ))
                } else if same_numbers(&v, &right) {
                    Verdict::Wrong(
                        "The right numbers in the wrong order: PyTorch writes a feature map's \
                         shape channels first, (C, H, W)."
                            .into(),
                    )
                } else {
                    let wrong: Vec<String> = v
                        .iter()
                        .zip(&right)
                        .enumerate()
                        .filter(|(_, (a, b))| a != b)
                        .map(|(i, _)| (i + 1).to_string())
                        .collect();
                    Verdict::Wrong(format!("Dimension {} is off.", wrong.join(" and ")))
                }
            }
            _ => Verdict::Invalid(format!(
                "`{input}` is not a shape; write it like (32, 55, 55)"
            )),
        },
        (QuizKind::Match { pairs }, Expected::Pairs(right)) => {
            match match_letters(input, pairs.len()) {
                Some(picked) if picked == right => Verdict::Correct,
                Some(picked) => {
                    let wrong = picked.iter().zip(&right).filter(|(a, b)| a != b).count();
                    Verdict::Wrong(format!("{wrong} of {} pairs are wrong.", pairs.len()))
                }
                None => Verdict::Invalid(format!(
                    "give one letter per item in order (e.g. `{}`), or pairs like `1{} 2{}`",
                    (0..pairs.len())
                        .map(|i| (b'a' + i as u8) as char)
                        .rev()
                        .collect::<String>(),
                    'b',
                    'a'
                )),
            }
        }
        _ => Verdict::Invalid("internal: answer kind mismatch".into()),
    }
}

/// A wrong whole number that a known slip explains gets that slip named instead of "Too
/// small": the biases left out of a parameter count, or the `+ 1` of an output size.
fn name_mistake(
    verdict: Verdict,
    answer: &Answer,
    d: &Draw,
    dir: &Path,
    got: f64,
    right: f64,
) -> Verdict {
    let Verdict::Wrong(plain) = verdict else {
        return verdict;
    };
    let Some(expr) = &answer.compute else {
        return Verdict::Wrong(plain);
    };
    if calc::eval_without_bias(expr, d, dir).is_some_and(|x| x == got && x != right) {
        return Verdict::Wrong(format!(
            "{plain} That is the count without the biases: every output channel or unit \
             has one bias too."
        ));
    }
    let size = ["conv_out", "pool_out", "convt_out"]
        .iter()
        .any(|f| expr.contains(f));
    if size && (got - right).abs() == 1.0 {
        return Verdict::Wrong(format!(
            "{plain} Off by one: check the + 1 at the end of the formula, and that the division \
             rounds down."
        ));
    }
    Verdict::Wrong(plain)
}

/// Whether `a` and `b` hold the same numbers in some order.
fn same_numbers(a: &[i64], b: &[i64]) -> bool {
    let (mut a, mut b) = (a.to_vec(), b.to_vec());
    a.sort_unstable();
    b.sort_unstable();
    a == b
}

fn compare(got: f64, right: f64, tol: f64) -> Verdict {
    // A tiny relative slack absorbs decimal rounding of computed answers.
    let slack = tol.max(1e-9 * right.abs());
    if (got - right).abs() <= slack {
        Verdict::Correct
    } else if got < right {
        Verdict::Wrong("Too small.".into())
    } else {
        Verdict::Wrong("Too large.".into())
    }
}

fn last(n: usize) -> char {
    (b'a' + n.saturating_sub(1) as u8) as char
}

fn choice_index(input: &str, n: usize) -> Option<usize> {
    let t = input.trim().trim_end_matches([')', '.']);
    if let Some(i) = letter_index(t) {
        return (i < n).then_some(i);
    }
    t.parse::<usize>()
        .ok()
        .filter(|&k| k >= 1 && k <= n)
        .map(|k| k - 1)
}

pub(crate) fn letters(input: &str, n: usize) -> Option<Vec<usize>> {
    let mut out = Vec::new();
    for c in input.chars() {
        if c.is_whitespace() || c == ',' || c == ';' {
            continue;
        }
        let i = letter_index(&c.to_string())?;
        if i >= n {
            return None;
        }
        out.push(i);
    }
    (!out.is_empty()).then_some(out)
}

/// `cab` (a letter per left item, in order) or `1c 2a 3b` (any order).
pub(crate) fn match_letters(input: &str, n: usize) -> Option<Vec<usize>> {
    let compact: String = input
        .chars()
        .filter(|c| !c.is_whitespace() && *c != ',' && *c != '-')
        .collect();
    if compact.chars().all(|c| c.is_ascii_alphabetic()) {
        let v = letters(&compact, n)?;
        return (v.len() == n).then_some(v);
    }
    let mut out = vec![usize::MAX; n];
    let mut chars = compact.chars().peekable();
    while chars.peek().is_some() {
        let mut num = String::new();
        while let Some(c) = chars.peek().filter(|c| c.is_ascii_digit()) {
            num.push(*c);
            chars.next();
        }
        let letter = chars.next()?;
        let i: usize = num.parse().ok()?;
        let l = letter_index(&letter.to_string())?;
        if i == 0 || i > n || l >= n {
            return None;
        }
        out[i - 1] = l;
    }
    (!out.contains(&usize::MAX)).then_some(out)
}

/// The right answer in words, for the teacher's key and after the learner gives up.
pub fn answer_text(quiz: &Quiz, d: &Draw, dir: &Path, seed: u64) -> String {
    let e = match expected(quiz, d, dir, seed) {
        Ok(e) => e,
        Err(e) => return format!("(cannot compute: {e})"),
    };
    match (&quiz.kind, e) {
        (QuizKind::Single { choices, .. }, Expected::Choice(i)) => {
            format!("{}) {}", (b'a' + i as u8) as char, choices[i])
        }
        (QuizKind::Multi { choices, .. }, Expected::Choices(v)) => v
            .iter()
            .map(|&i| format!("{}) {}", (b'a' + i as u8) as char, choices[i]))
            .collect::<Vec<_>>()
            .join("; "),
        (_, Expected::Number(x)) => format_number(x),
        (_, Expected::Shape(s)) => format!(
            "({})",
            s.iter()
                .map(|x| x.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        (QuizKind::Match { pairs }, Expected::Pairs(_)) => pairs
            .iter()
            .map(|(a, b)| format!("{a} → {b}"))
            .collect::<Vec<_>>()
            .join("; "),
        _ => String::new(),
    }
}

/// A number as a person writes it: no trailing `.0`, at most 6 significant decimals.
pub fn format_number(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        let s = format!("{x:.6}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_shapes_in_many_spellings() {
        for s in [
            "(32, 55, 55)",
            "[32,55,55]",
            "32x55x55",
            " 32 × 55 × 55 ",
            "torch.Size([32, 55, 55])",
        ] {
            assert_eq!(parse_numbers(s), Some(vec![32.0, 55.0, 55.0]), "{s}");
        }
        assert_eq!(parse_numbers("−3"), Some(vec![-3.0]));
        assert_eq!(parse_numbers("abc"), None);
        assert_eq!(parse_numbers("()"), None);
        assert_eq!(parse_numbers("NaN"), None);
    }

    #[test]
    fn match_input_forms() {
        assert_eq!(match_letters("cab", 3), Some(vec![2, 0, 1]));
        assert_eq!(match_letters("1c 2a 3b", 3), Some(vec![2, 0, 1]));
        assert_eq!(match_letters("3b, 1c, 2a", 3), Some(vec![2, 0, 1]));
        assert_eq!(match_letters("ca", 3), None);
        assert_eq!(match_letters("1c 2a", 3), None);
        assert_eq!(match_letters("4a 1b 2c", 3), None);
    }

    #[test]
    fn seeds_are_stable_and_differ_between_learners() {
        assert_eq!(
            seed("ana", "lesson-2", "drill", 0),
            seed("ana", "lesson-2", "drill", 0)
        );
        assert_ne!(
            seed("ana", "lesson-2", "drill", 0),
            seed("ben", "lesson-2", "drill", 0)
        );
        assert_ne!(
            seed("ana", "lesson-2", "drill", 0),
            seed("ana", "lesson-2", "drill", 1)
        );
    }

    #[test]
    fn match_order_is_never_identity() {
        for s in 0..50 {
            let o = match_order(3, s);
            assert_ne!(o, vec![0, 1, 2]);
            let mut sorted = o.clone();
            sorted.sort();
            assert_eq!(sorted, vec![0, 1, 2]);
        }
    }

    #[test]
    fn numbers_format_plainly() {
        assert_eq!(format_number(55.0), "55");
        assert_eq!(format_number(0.5), "0.5");
        assert_eq!(format_number(1.0 / 3.0), "0.333333");
    }
}

#[cfg(test)]
mod check_tests {
    //! Every quiz kind against right, wrong, empty, non-numeric, padded and unicode input.
    use super::*;
    use crate::course::lesson::{CellBody, Lesson};

    fn lesson() -> Lesson {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/lessons/good/lesson-1.toml");
        crate::course::lesson::load(&path).unwrap()
    }

    fn verdict(id: &str, input: &str) -> Verdict {
        let l = lesson();
        let cell = &l.cells[l.cell_index(id).unwrap()];
        let CellBody::Quiz(q) = &cell.body else {
            panic!("{id} is not a quiz")
        };
        let seed = seed("ana", &l.id, id, 0);
        let d = draw(q, seed, l.dir()).unwrap();
        check(q, &d, l.dir(), seed, input)
    }

    fn ok(id: &str, input: &str) {
        assert_eq!(verdict(id, input), Verdict::Correct, "{id}: `{input}`");
    }

    fn wrong(id: &str, input: &str) {
        assert!(
            matches!(verdict(id, input), Verdict::Wrong(_)),
            "{id}: `{input}` -> {:?}",
            verdict(id, input)
        );
    }

    fn invalid(id: &str, input: &str) {
        assert!(
            matches!(verdict(id, input), Verdict::Invalid(_)),
            "{id}: `{input}` -> {:?}",
            verdict(id, input)
        );
    }

    #[test]
    fn single_choice() {
        ok("single", "b");
        ok("single", "  B  ");
        ok("single", "2");
        ok("single", "b)");
        wrong("single", "a");
        invalid("single", "");
        invalid("single", "   ");
        invalid("single", "z");
        invalid("single", "é");
    }

    /// Issue 12, item 14: 1728 for a 3 → 64, 3x3 conv (1792) is the forgot-the-bias slip.
    #[test]
    fn common_mistakes_are_named() {
        let answer = Answer {
            literal: None,
            compute: Some("conv_params(3, 64, 3)".into()),
            line: 1,
        };
        let dir = std::path::Path::new(".");
        let wrong = || Verdict::Wrong("Too small.".into());
        let named = name_mistake(wrong(), &answer, &Draw::new(), dir, 1728.0, 1792.0);
        assert!(
            matches!(&named, Verdict::Wrong(m) if m.contains("without the biases")),
            "{named:?}"
        );
        assert_eq!(
            name_mistake(wrong(), &answer, &Draw::new(), dir, 1700.0, 1792.0),
            wrong()
        );
        let v = verdict("shape", "55 55 32");
        assert!(
            matches!(&v, Verdict::Wrong(m) if m.contains("channels first")),
            "{v:?}"
        );
    }

    #[test]
    fn select_all() {
        ok("multi", "a c");
        ok("multi", "c,a");
        ok("multi", "AC");
        let Verdict::Wrong(msg) = verdict("multi", "a") else {
            panic!()
        };
        assert!(msg.contains("1 more"), "{msg}");
        let Verdict::Wrong(msg) = verdict("multi", "a b c") else {
            panic!()
        };
        assert!(msg.contains("should not be there"), "{msg}");
        invalid("multi", "a d");
        invalid("multi", "");
    }

    #[test]
    fn integer() {
        ok("size", "24");
        ok("size", " 24 ");
        ok("size", "24.0");
        let Verdict::Wrong(m) = verdict("size", "22") else {
            panic!()
        };
        assert_eq!(m, "Too small.");
        let Verdict::Wrong(m) = verdict("size", "26") else {
            panic!()
        };
        assert_eq!(m, "Too large.");
        // One away from an output size: the `+ 1` is named.
        let Verdict::Wrong(m) = verdict("size", "23") else {
            panic!()
        };
        assert!(m.starts_with("Too small. Off by one"), "{m}");
        invalid("size", "24.5");
        invalid("size", "twenty-four");
        invalid("size", "");
        invalid("size", "２４");
        invalid("size", "24 25");
    }

    #[test]
    fn number_with_tolerance() {
        ok("ratio", "0.333");
        ok("ratio", "1/3");
        ok("ratio", ".33");
        wrong("ratio", "0.3");
        wrong("ratio", "−0.333");
        invalid("ratio", "a third");
        invalid("ratio", "");
    }

    #[test]
    fn shape() {
        ok("shape", "(32, 55, 55)");
        ok("shape", "32x55x55");
        ok("shape", "  [32,55,55] ");
        ok("shape", "32 × 55 × 55");
        let Verdict::Wrong(m) = verdict("shape", "(32, 55)") else {
            panic!()
        };
        assert!(m.contains("3 dimensions"), "{m}");
        let Verdict::Wrong(m) = verdict("shape", "(32, 54, 55)") else {
            panic!()
        };
        assert!(m.contains("Dimension 2"), "{m}");
        invalid("shape", "(32, a, 55)");
        invalid("shape", "");
    }

    #[test]
    fn matching() {
        let l = lesson();
        let id = "pairs";
        let CellBody::Quiz(q) = &l.cells[l.cell_index(id).unwrap()].body else {
            panic!()
        };
        let s = seed("ana", &l.id, id, 0);
        let Expected::Pairs(right) = expected(q, &Draw::new(), l.dir(), s).unwrap() else {
            panic!()
        };
        let letters: String = right.iter().map(|&i| (b'a' + i as u8) as char).collect();
        ok(id, &letters);
        ok(id, &letters.to_uppercase());
        let pairs: Vec<String> = right
            .iter()
            .enumerate()
            .map(|(i, &j)| format!("{}{}", i + 1, (b'a' + j as u8) as char))
            .rev()
            .collect();
        ok(id, &pairs.join(" "));
        let mut swapped = right.clone();
        swapped.swap(0, 1);
        let bad: String = swapped.iter().map(|&i| (b'a' + i as u8) as char).collect();
        wrong(id, &bad);
        invalid(id, "ab");
        invalid(id, "");
    }

    #[test]
    fn drills_differ_between_learners_and_check_against_the_draw() {
        let l = lesson();
        let id = "drill";
        let CellBody::Quiz(q) = &l.cells[l.cell_index(id).unwrap()].body else {
            panic!()
        };
        let draws: Vec<Draw> = ["ana", "ben", "cai", "dee"]
            .iter()
            .map(|who| draw(q, seed(who, &l.id, id, 0), l.dir()).unwrap())
            .collect();
        assert!(draws.windows(2).any(|w| w[0] != w[1]), "{draws:?}");
        for (who, d) in ["ana", "ben", "cai", "dee"].iter().zip(&draws) {
            let s = seed(who, &l.id, id, 0);
            let right = crate::course::calc::conv_out_for_test(d["i"], d["k"]);
            assert_eq!(
                check(q, d, l.dir(), s, &right.to_string()),
                Verdict::Correct
            );
            assert!(question_text(q, d).contains(&d["i"].to_string()));
        }
    }
}
