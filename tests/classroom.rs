//! A scripted class, end to end through the real binary: the teacher releases a pack, thirty
//! learners answer with `tutor answer` (some right, some wrong, one late, one who hand-edits
//! their submission to claim every answer correct, one whose file is truncated), each runs
//! `tutor submit`, and `tutor grade` must give exactly the totals worked out here.
//!
//! The right answers are computed with the tutor's own library from the teacher's pack (a
//! drill is different for every learner); the expected points follow the documented rule:
//! all or nothing, except select-all (right − wrong, floored at 0) and matching (share of
//! pairs).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use tutor::course::lesson::{self, CellBody, Lesson, Quiz, QuizKind};
use tutor::course::quiz;

const BIN: &str = env!("CARGO_BIN_EXE_tutor");

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/class")
}

/// Runs the tutor as `learner` with its own home, at `clock` (Unix seconds) when given.
fn tutor(home: &Path, learner: &str, clock: Option<u64>, args: &[&str]) -> Output {
    let mut c = Command::new(BIN);
    c.env("TUTOR_HOME", home)
        .env("TUTOR_LEARNER", learner)
        .env_remove("TUTOR_LESSONS")
        .args(args);
    match clock {
        Some(t) => c.env("TUTOR_CLOCK", t.to_string()),
        None => c.env_remove("TUTOR_CLOCK"),
    };
    c.output().expect("the tutor runs")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

fn quiz_of<'a>(l: &'a Lesson, id: &str) -> &'a Quiz {
    match &l.cells[l.cell_index(id).unwrap()].body {
        CellBody::Quiz(q) => q,
        _ => panic!("{id} is not a quiz"),
    }
}

/// The right answer to a question as a learner types it, for `learner`'s draw.
fn right_answer(key: &Lesson, shown: &Lesson, learner: &str, cell: &str) -> String {
    let (q, sq) = (quiz_of(key, cell), quiz_of(shown, cell));
    let seed = quiz::seed(learner, &key.id, cell, 0);
    let d = quiz::draw(sq, seed, shown.dir()).unwrap();
    let letter = |i: usize| ((b'a' + i as u8) as char).to_string();
    match (&q.kind, &sq.kind) {
        (QuizKind::Single { answer, .. }, _) => letter(*answer),
        (QuizKind::Multi { answers, .. }, _) => answers
            .iter()
            .map(|&i| letter(i))
            .collect::<Vec<_>>()
            .join(" "),
        (QuizKind::Match { pairs }, QuizKind::Match { pairs: shown_pairs }) => {
            let order = quiz::shown_order(sq, seed);
            pairs
                .iter()
                .map(|(_, right)| {
                    let j = order
                        .iter()
                        .position(|&o| &shown_pairs[o].1 == right)
                        .unwrap();
                    letter(j)
                })
                .collect()
        }
        _ => match quiz::expected(q, &d, key.dir(), seed).unwrap() {
            quiz::Expected::Number(x) => quiz::format_number(x),
            quiz::Expected::Shape(s) => format!("{s:?}"),
            e => panic!("unexpected {e:?}"),
        },
    }
}

/// `tutor release TEACHER --out STUDENT`, which must succeed.
fn release_pack(home: &Path, teacher: &Path, student: &Path) {
    let o = tutor(
        home,
        "teacher",
        None,
        &[
            "release",
            teacher.to_str().unwrap(),
            "--out",
            student.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
}

struct Class {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    teacher: PathBuf,
    student: PathBuf,
    key: Lesson,
    shown: Lesson,
}

fn release() -> Class {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().to_path_buf();
    let teacher = root.join("teacher");
    let student = root.join("student");
    copy_dir(&fixture(), &teacher);
    let o = tutor(
        &root.join("t-home"),
        "teacher",
        None,
        &["check", teacher.to_str().unwrap()],
    );
    assert!(o.status.success(), "{}", text(&o));
    release_pack(&root.join("t-home"), &teacher, &student);
    let key = lesson::load(&teacher.join("lesson-1.toml")).unwrap();
    let shown = lesson::load(&student.join("lesson-1.toml")).unwrap();
    Class {
        _tmp: tmp,
        root,
        teacher,
        student,
        key,
        shown,
    }
}

#[test]
fn the_released_pack_holds_no_graded_answer() {
    let c = release();
    let released = std::fs::read_to_string(c.student.join("lesson-1.toml")).unwrap();
    let table: toml::Table = toml::from_str(&released).unwrap();
    let mut graded = 0;
    for cell in table["cells"].as_array().unwrap() {
        let cell = cell.as_table().unwrap();
        if cell.get("graded").and_then(|g| g.as_bool()) == Some(true) {
            graded += 1;
            for f in tutor::course::release::HELD_BACK {
                assert!(!cell.contains_key(*f), "`{f}` left in {cell:?}");
            }
        }
    }
    assert_eq!(graded, 5);
    // Nothing of the key's answers, explanations or solution is in the text.
    for secret in [
        "conv_out(227, 11, 4, 0)",
        "conv 16 k3 s2 p1",
        "floor((227 - 11) / 4)",
        "Pooling and ReLU compute fixed functions",
        "k3 s2 p1 halves the size",
        "conv_out(i, k, s, p)\"",
    ] {
        assert!(
            !released.contains(secret),
            "`{secret}` is in the released copy"
        );
    }
    // The match question's right-hand items are listed sorted (an order that says nothing of
    // the pairing), never in their true order.
    let (QuizKind::Match { pairs: key }, QuizKind::Match { pairs: shown }) = (
        &quiz_of(&c.key, "pairs").kind,
        &quiz_of(&c.shown, "pairs").kind,
    ) else {
        panic!()
    };
    assert!(key.iter().zip(shown).all(|(k, s)| k.0 == s.0));
    assert_ne!(key, shown);
    let rights: Vec<&String> = shown.iter().map(|p| &p.1).collect();
    assert!(rights.is_sorted());
    // The practice question keeps its answer.
    assert!(released.contains("conv_params(3, 64, 3)"));

    // `exec --answers` on the student copy shows no held-back answer.
    let o = tutor(
        &c.root.join("home"),
        "ana",
        None,
        &[
            "--lessons",
            c.student.to_str().unwrap(),
            "--no-builtin",
            "exec",
            "1",
            "--out",
            c.root.join("exec").to_str().unwrap(),
            "--answers",
        ],
    );
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    assert_eq!(
        out.matches("held back (graded by your teacher)").count(),
        5,
        "{out}"
    );
    assert!(!out.contains("answer: 55"), "{out}");
    assert!(
        out.contains("answer: 1792"),
        "the practice answer is shown: {out}"
    );
}

/// What one learner does, and the points it must earn.
struct Plan {
    name: String,
    answers: Vec<(&'static str, String)>,
    expected: f64,
    clock: u64,
}

#[test]
fn a_scripted_class_is_graded_exactly() {
    let c = release();
    let student = c.student.to_str().unwrap().to_string();
    let subs = c.root.join("submissions");
    std::fs::create_dir_all(&subs).unwrap();
    // The fixture's deadline is 2026-12-15T23:59:00Z.
    let deadline: u64 = 1_797_379_140;
    let on_time = deadline - 86_400;
    let mut plans = Vec::new();
    for i in 0..30 {
        let name = format!("learner-{i:02}");
        let right = |cell: &str| right_answer(&c.key, &c.shown, &name, cell);
        let mut answers = Vec::new();
        let mut expected = 0.0;
        // stride (2 points): right for even learners, off by one for odd ones.
        if i % 2 == 0 {
            answers.push(("stride", right("stride")));
            expected += 2.0;
        } else {
            answers.push(("stride", "54".to_string()));
        }
        // drill (1 point): each learner's own numbers; every fifth learner gets it wrong.
        let drill = right("drill");
        if i % 5 == 0 {
            let wrong: i64 = drill.parse::<i64>().unwrap() + 1;
            answers.push(("drill", wrong.to_string()));
        } else {
            answers.push(("drill", drill));
            expected += 1.0;
        }
        // pooling (select all, 2 points, right answer a c): all, one right, one right and
        // one wrong, or every box.
        let (pick, frac) = match i % 4 {
            0 => ("a c", 1.0),
            1 => ("a", 0.5),
            2 => ("a b c", 0.5),
            _ => ("a b c d", 0.0),
        };
        answers.push(("pooling", pick.to_string()));
        expected += 2.0 * frac;
        // pairs (3 points): right, or two of the three swapped (one pair right); learner 7
        // leaves it out.
        let pairs = right("pairs");
        if i == 7 {
        } else if i % 3 == 0 {
            answers.push(("pairs", pairs));
            expected += 3.0;
        } else {
            let b: Vec<char> = pairs.chars().collect();
            answers.push(("pairs", [b[0], b[2], b[1]].iter().collect()));
            expected += 1.0;
        }
        // design (exercise, 2 points): the solution, or the starting input.
        if i % 2 == 1 {
            answers.push(("design", "conv 16 k3 s2 p1".into()));
            expected += 2.0;
        } else {
            answers.push(("design", "conv 16 k3 s1 p1".into()));
        }
        // A practice question is answered too; it is not graded.
        answers.push(("practice", "1792".into()));
        // Learner 3 first gives a wrong answer, then changes it: the last one counts.
        if i == 3 {
            answers.insert(0, ("stride", right("stride")));
            answers.push(("stride", right("stride")));
            expected += 2.0;
        }
        let clock = if i == 29 { deadline + 7200 } else { on_time };
        plans.push(Plan {
            name,
            answers,
            expected,
            clock,
        });
    }
    for p in &plans {
        let home = c.root.join("homes").join(&p.name);
        for (cell, value) in &p.answers {
            let o = tutor(
                &home,
                &p.name,
                Some(p.clock),
                &[
                    "--lessons",
                    &student,
                    "--no-builtin",
                    "answer",
                    "1",
                    cell,
                    value,
                ],
            );
            let out = text(&o);
            if *cell == "practice" {
                assert!(out.contains("Correct!"), "{out}");
            } else {
                assert!(o.status.success(), "{} {cell} {value}: {out}", p.name);
                assert!(out.contains("recorded: "), "{out}");
                assert!(
                    !out.contains("Correct") && !out.contains("Not quite"),
                    "{out}"
                );
            }
        }
        let file = subs.join(format!("{}.json", p.name));
        let o = tutor(
            &home,
            &p.name,
            Some(p.clock),
            &[
                "--lessons",
                &student,
                "--no-builtin",
                "submit",
                "1",
                "--out",
                file.to_str().unwrap(),
            ],
        );
        assert!(o.status.success(), "{}", text(&o));
        // Answers are final once handed in.
        let o = tutor(
            &home,
            &p.name,
            Some(p.clock),
            &[
                "--lessons",
                &student,
                "--no-builtin",
                "answer",
                "1",
                "stride",
                "55",
            ],
        );
        assert_eq!(o.status.code(), Some(2), "{}", text(&o));
        assert!(text(&o).contains("final"), "{}", text(&o));
    }
    // Learner 28 hand-edits the file to claim every answer correct.
    let edited = subs.join("learner-28.json");
    let claim = std::fs::read_to_string(&edited)
        .unwrap()
        .replace("\"correct\": null", "\"correct\": true")
        .replace("\"correct\": false", "\"correct\": true");
    assert!(claim.contains("\"correct\": true"));
    std::fs::write(&edited, claim).unwrap();
    // Learner 27's file is cut short.
    let cut = subs.join("learner-27.json");
    let bytes = std::fs::read(&cut).unwrap();
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    // A file for another assignment, and a second copy of learner 0's hand-in.
    let foreign = std::fs::read_to_string(subs.join("learner-01.json"))
        .unwrap()
        .replace("\"assignment\": \"week-1\"", "\"assignment\": \"week-2\"");
    std::fs::write(subs.join("other-week.json"), foreign).unwrap();
    std::fs::copy(
        subs.join("learner-00.json"),
        subs.join("learner-00-again.json"),
    )
    .unwrap();

    let grades = c.root.join("grades");
    let o = tutor(
        &c.root.join("t-home"),
        "teacher",
        None,
        &[
            "grade",
            "--key",
            c.teacher.to_str().unwrap(),
            "--out",
            grades.to_str().unwrap(),
            subs.to_str().unwrap(),
        ],
    );
    let out = text(&o);
    // Some files could not be graded: exit 1, each named, and the rest graded.
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(
        out.contains("learner-27.json") && out.contains("truncated"),
        "{out}"
    );
    assert!(
        out.contains("other-week.json") && out.contains("week-2"),
        "{out}"
    );
    assert!(
        out.contains("learner-00") && out.contains("second submission"),
        "{out}"
    );

    let csv = std::fs::read_to_string(grades.join("grades.csv")).unwrap();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next().unwrap(),
        "learner,hw-1/stride,hw-1/drill,hw-1/pooling,hw-1/pairs,hw-1/design,total,late"
    );
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(
        rows.len(),
        29,
        "every learner but the truncated one:\n{csv}"
    );
    for p in plans.iter().filter(|p| p.name != "learner-27") {
        let row = rows
            .iter()
            .find(|r| r[0] == p.name)
            .unwrap_or_else(|| panic!("{} missing:\n{csv}", p.name));
        let total: f64 = row[6].parse().unwrap();
        assert!(
            (total - p.expected).abs() < 1e-9,
            "{}: graded {total}, expected {}\n{csv}",
            p.name,
            p.expected
        );
        let late = if p.name == "learner-29" { "yes" } else { "no" };
        assert_eq!(row[7], late, "{}", p.name);
        // The cells add up to the total.
        let sum: f64 = row[1..6].iter().map(|x| x.parse::<f64>().unwrap()).sum();
        assert!((sum - total).abs() < 1e-9);
    }
    // Every learner has a feedback file with each graded cell.
    let fb = std::fs::read_to_string(grades.join("feedback/learner-04.md")).unwrap();
    for col in [
        "hw-1/stride",
        "hw-1/drill",
        "hw-1/pooling",
        "hw-1/pairs",
        "hw-1/design",
    ] {
        assert!(fb.contains(&format!("## {col}")), "{fb}");
    }
    assert!(fb.contains("Your answer: `a c`"), "{fb}");
}

/// The built-in lessons 1 and 2 as a graded pack (every question and exercise graded, 1
/// point each), released, answered right by `n` learners through `tutor answer`, handed in,
/// and graded: every learner must get full marks (each drill is their own). Returns the
/// seconds `tutor grade` took.
fn lessons_1_and_2_class(n: usize) -> f64 {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let teacher = root.join("teacher");
    std::fs::create_dir_all(&teacher).unwrap();
    let lessons = Path::new(env!("CARGO_MANIFEST_DIR")).join("lessons");
    let mut graded = 0;
    for name in ["lesson-1.toml", "lesson-2.toml"] {
        let text = std::fs::read_to_string(lessons.join(name)).unwrap();
        let mut t: toml::Table = toml::from_str(&text).unwrap();
        for cell in t["cells"].as_array_mut().unwrap() {
            let cell = cell.as_table_mut().unwrap();
            if matches!(cell["kind"].as_str(), Some("quiz" | "exercise")) {
                cell.insert("graded".into(), toml::Value::Boolean(true));
                graded += 1;
            }
        }
        std::fs::write(teacher.join(name), toml::to_string_pretty(&t).unwrap()).unwrap();
    }
    std::fs::write(
        teacher.join("pack.toml"),
        "assignment = \"lessons-1-2\"\ndeadline = 2030-01-01T00:00:00Z\n",
    )
    .unwrap();
    let student = root.join("student");
    release_pack(&root.join("t"), &teacher, &student);
    let subs = root.join("subs");
    let pairs: Vec<(Lesson, Lesson)> = ["lesson-1.toml", "lesson-2.toml"]
        .iter()
        .map(|f| {
            (
                lesson::load(&teacher.join(f)).unwrap(),
                lesson::load(&student.join(f)).unwrap(),
            )
        })
        .collect();
    for i in 0..n {
        let name = format!("student {i}");
        let home = root.join(format!("home-{i}"));
        for (key, shown) in &pairs {
            for c in key.cells.iter().filter(|c| c.graded.is_some()) {
                let value = match &c.body {
                    CellBody::Exercise(ex) => ex.solution.clone().unwrap(),
                    _ => right_answer(key, shown, &name, &c.id),
                };
                let o = tutor(
                    &home,
                    &name,
                    None,
                    &[
                        "--lessons",
                        student.to_str().unwrap(),
                        "--no-builtin",
                        "answer",
                        &key.number.to_string(),
                        &c.id,
                        &value,
                    ],
                );
                assert!(o.status.success(), "{} {value}: {}", c.id, text(&o));
            }
        }
        let o = tutor(
            &home,
            &name,
            None,
            &[
                "--lessons",
                student.to_str().unwrap(),
                "--no-builtin",
                "submit",
                "1",
                "--out",
                &format!("{}/", subs.display()),
            ],
        );
        assert!(o.status.success(), "{}", text(&o));
    }
    let t0 = std::time::Instant::now();
    let o = tutor(
        &root.join("t"),
        "teacher",
        None,
        &[
            "grade",
            "--key",
            teacher.to_str().unwrap(),
            "--out",
            root.join("grades").to_str().unwrap(),
            subs.to_str().unwrap(),
        ],
    );
    let seconds = t0.elapsed().as_secs_f64();
    assert!(o.status.success(), "{}", text(&o));
    let csv = std::fs::read_to_string(root.join("grades/grades.csv")).unwrap();
    let rows: Vec<&str> = csv.lines().skip(1).collect();
    assert_eq!(rows.len(), n);
    for r in rows {
        let f: Vec<&str> = r.split(',').collect();
        assert_eq!(f.len(), graded + 3, "{r}");
        assert_eq!(f[f.len() - 2], graded.to_string(), "full marks: {r}");
    }
    seconds
}

#[test]
fn every_right_answer_to_lessons_1_and_2_gets_full_marks() {
    lessons_1_and_2_class(3);
}

/// The grading benchmark: `cargo test --release --test classroom -- --ignored --nocapture`.
#[test]
#[ignore = "a benchmark: run by hand"]
fn bench_grading_thirty_learners_of_lessons_1_and_2() {
    let s = lessons_1_and_2_class(30);
    println!("tutor grade: 30 submissions of lessons 1-2 in {s:.2} s");
}
