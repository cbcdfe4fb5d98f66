//! The one path from an exercise's input to "is it solved?", shared by the notebook, the
//! headless `tutor exec` and the `tutor check` lint.
//!
//! [`params`] turns the learner's input (or the teacher's solution) plus the exercise's fixed
//! params into the experiment's parameters; [`run`] does that and runs the experiment through
//! any [`Ctx`]; [`check_goals`] compares the metrics a finished run reported with every goal.
//! The callers differ only in where the run happens (the notebook's worker thread, a printing
//! context, a recorder) and in how they word the outcome.

use std::collections::BTreeMap;

use super::lesson::{Exercise, Goal};
use super::quiz;
use crate::experiments::{self, Ctx, ParamError, Params, Value};

/// Why an exercise's input could not become the experiment's parameters.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum InputError {
    /// The exercise's `input` names a parameter its experiment lacks. Loading rejects such a
    /// lesson, so this is a bug in the tutor rather than a learner's mistake.
    #[error("no parameter `{0}`")]
    NoParameter(String),
    /// The input is not a value of the parameter's kind or lies outside its range.
    #[error("{0}")]
    Invalid(String),
    /// The fixed params together with the input are rejected by the experiment.
    #[error(transparent)]
    Params(#[from] ParamError),
}

/// The experiment's parameters for `input`: the exercise's fixed `params`, with `input`
/// (parsed as the input parameter's kind asks) filling the exercise's input parameter, and the
/// experiment's defaults for the rest. `input` is used as given; callers that take typed text
/// trim it first.
pub fn params(ex: &Exercise, input: &str) -> Result<Params, InputError> {
    let spec = ex
        .experiment
        .param(&ex.input)
        .ok_or_else(|| InputError::NoParameter(ex.input.clone()))?;
    let value =
        experiments::coerce(spec, Value::Str(input.to_string())).map_err(InputError::Invalid)?;
    let mut given = ex.params.clone();
    given.insert(ex.input.clone(), value);
    Ok(ex.experiment.params_from(&given)?)
}

/// Runs the exercise's experiment with `input` (see [`params`]), reporting through `ctx`. Check
/// the metrics `ctx` collected with [`check_goals`] afterwards.
pub fn run(ex: &Exercise, input: &str, ctx: &mut (dyn Ctx + Send)) -> anyhow::Result<()> {
    let params = params(ex, input)?;
    ex.experiment.call(&params, ctx)
}

/// One goal against a finished run's metrics.
#[derive(Debug, Clone, PartialEq)]
pub struct GoalCheck<'a> {
    pub goal: &'a Goal,
    /// The metric's value, `None` when the run did not report it.
    pub value: Option<f64>,
    /// Whether the goal holds; a metric that was not reported never meets its goal.
    pub met: bool,
}

impl GoalCheck<'_> {
    /// The goal and what the run gave, e.g. `accuracy ≥ 0.9 (got 0.85)` or
    /// `out_size = 16 (got not reported)`.
    pub fn message(&self) -> String {
        let got = self
            .value
            .map_or("not reported".to_string(), quiz::format_number);
        format!("{} (got {got})", self.goal)
    }
}

/// Every goal, in order, against `metrics`.
pub fn check_goals<'a>(goals: &'a [Goal], metrics: &BTreeMap<String, f64>) -> Vec<GoalCheck<'a>> {
    goals
        .iter()
        .map(|goal| {
            let value = metrics.get(&goal.metric).copied();
            GoalCheck {
                goal,
                value,
                met: value.is_some_and(|v| goal.holds(v)),
            }
        })
        .collect()
}

/// True when every check is met (so also when there are none).
pub fn all_met(checks: &[GoalCheck]) -> bool {
    checks.iter().all(|c| c.met)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn goal(metric: &str, min: Option<f64>, max: Option<f64>) -> Goal {
        Goal {
            metric: metric.into(),
            min,
            max,
            text: String::new(),
        }
    }

    fn metrics(pairs: &[(&str, f64)]) -> BTreeMap<String, f64> {
        pairs.iter().map(|&(k, v)| (k.to_string(), v)).collect()
    }

    #[test]
    fn a_goal_met_and_one_not_met() {
        let goals = [
            goal("accuracy", Some(0.9), None),
            goal("loss", None, Some(0.1)),
        ];
        let checks = check_goals(&goals, &metrics(&[("accuracy", 0.95), ("loss", 0.25)]));
        assert_eq!(
            checks.iter().map(|c| c.met).collect::<Vec<_>>(),
            [true, false]
        );
        assert_eq!(checks[0].value, Some(0.95));
        assert_eq!(checks[1].message(), "loss ≤ 0.1 (got 0.25)");
        assert!(!all_met(&checks));
        assert!(all_met(&checks[..1]));
    }

    #[test]
    fn a_missing_metric_is_not_met() {
        let goals = [goal("accuracy", Some(0.9), None)];
        let checks = check_goals(&goals, &metrics(&[("loss", 0.0)]));
        assert_eq!(checks[0].value, None);
        assert!(!checks[0].met);
        assert_eq!(checks[0].message(), "accuracy ≥ 0.9 (got not reported)");
    }

    #[test]
    fn min_equal_to_max_asks_for_that_exact_value() {
        let goals = [goal("out_size", Some(16.0), Some(16.0))];
        let met = |v: f64| check_goals(&goals, &metrics(&[("out_size", v)]))[0].met;
        assert!(met(16.0));
        assert!(!met(15.0));
        assert!(!met(17.0));
        assert!(!met(f64::NAN));
        let checks = check_goals(&goals, &metrics(&[("out_size", 14.0)]));
        assert_eq!(checks[0].message(), "out_size = 16 (got 14)");
    }

    /// The fixture lesson's exercise: describe a conv layer that makes a 16x16 output.
    fn design(input: &str, params: &[(&str, &str)]) -> Exercise {
        Exercise {
            prompt: String::new(),
            experiment: experiments::find("conv.layer").unwrap(),
            input: input.into(),
            placeholder: String::new(),
            params: params
                .iter()
                .map(|&(k, v)| (k.to_string(), Value::Str(v.into())))
                .collect(),
            goals: vec![goal("out_size", Some(16.0), Some(16.0))],
            hints: Vec::new(),
            explanation: String::new(),
            solution: None,
            held_back: false,
        }
    }

    #[test]
    fn params_are_the_fixed_ones_plus_the_input() {
        let ex = design("layer", &[("input", "3,32,32")]);
        let p = params(&ex, "conv 8 k2 s2").unwrap();
        assert_eq!(p.str("layer").unwrap(), "conv 8 k2 s2");
        assert_eq!(p.str("input").unwrap(), "3,32,32");
        // The input wins over a fixed value for the same parameter.
        let ex = design("layer", &[("layer", "conv 1 k1")]);
        assert_eq!(
            params(&ex, "conv 2 k3").unwrap().str("layer").unwrap(),
            "conv 2 k3"
        );
    }

    #[test]
    fn params_errors_name_the_problem() {
        let ex = design("nope", &[]);
        assert_eq!(
            params(&ex, "x").unwrap_err(),
            InputError::NoParameter("nope".into())
        );
        let ex = design("layer", &[("stride", "2")]);
        assert!(matches!(
            params(&ex, "conv 8 k2"),
            Err(InputError::Params(ParamError::Unknown { .. }))
        ));
        let mut ex = design("k", &[]);
        ex.experiment = experiments::find("conv.explorer").unwrap();
        assert_eq!(
            params(&ex, "x").unwrap_err().to_string(),
            "`x` is not a whole number"
        );
        assert_eq!(params(&ex, "5").unwrap().int("k").unwrap(), 5);
    }

    #[test]
    fn run_then_check_goals_solves_or_not() {
        let ex = design("layer", &[("input", "3,32,32")]);
        let outcome = |input: &str| {
            let mut rec = experiments::Recorder::default();
            run(&ex, input, &mut rec).unwrap();
            all_met(&check_goals(&ex.goals, &rec.metrics))
        };
        assert!(outcome("conv 8 k2 s2"));
        assert!(!outcome("conv 8 k3"));
        let mut rec = experiments::Recorder::default();
        assert!(run(&ex, "dense 8", &mut rec).is_err());
    }

    #[test]
    fn no_goals_are_all_met() {
        assert!(all_met(&check_goals(&[], &metrics(&[]))));
    }
}
