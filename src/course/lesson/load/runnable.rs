//! Loading the cells that run an experiment: run cells and exercises. The experiment must
//! exist, every parameter must be one it takes with a value of the right kind (file paths are
//! resolved beside the lesson), and an exercise's input and goal metrics must be ones the
//! experiment has.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::Path;

use super::super::raw::RawCell;
use super::super::{CellBody, Exercise, Goal, Run};
use super::Loader;
use crate::experiments::{self, Value};

impl Loader<'_> {
    fn experiment(
        &mut self,
        c: &RawCell,
        span: Range<usize>,
    ) -> Option<&'static experiments::Experiment> {
        let name = c.experiment.as_ref().or_else(|| {
            self.error(span.clone(), "missing field `experiment`");
            None
        })?;
        let found = experiments::find(name.get_ref());
        if found.is_none() {
            let known: Vec<&str> = experiments::all().iter().map(|e| e.name).collect();
            self.error(
                name.span(),
                format!(
                    "unknown experiment `{}` (known: {})",
                    name.get_ref(),
                    known.join(", ")
                ),
            );
        }
        found
    }

    fn params(
        &mut self,
        c: &RawCell,
        exp: &'static experiments::Experiment,
    ) -> BTreeMap<String, Value> {
        let mut out = BTreeMap::new();
        let Some(params) = &c.params else {
            return out;
        };
        for (name, v) in params.get_ref() {
            let Some(spec) = exp.param(name) else {
                let known: Vec<&str> = exp.params.iter().map(|p| p.name).collect();
                self.error(
                    v.span(),
                    format!(
                        "experiment `{}` has no parameter `{name}` (it takes: {})",
                        exp.name,
                        if known.is_empty() {
                            "none".to_string()
                        } else {
                            known.join(", ")
                        }
                    ),
                );
                continue;
            };
            let value = match toml_to_value(v.get_ref()) {
                Ok(value) => value,
                Err(e) => {
                    self.error(v.span(), format!("parameter `{name}`: {e}"));
                    continue;
                }
            };
            match experiments::coerce(spec, value) {
                Ok(Value::Str(rel)) if matches!(spec.kind, experiments::ParamKind::File) => {
                    let dir = self.file.parent().unwrap_or(Path::new("."));
                    let path = dir.join(&rel);
                    if crate::util::files::exists(&path) {
                        out.insert(
                            name.clone(),
                            Value::Str(path.to_string_lossy().into_owned()),
                        );
                    } else {
                        self.error(
                            v.span(),
                            format!("parameter `{name}`: no file `{}`", path.display()),
                        );
                    }
                }
                Ok(value) => {
                    out.insert(name.clone(), value);
                }
                Err(e) => self.error(v.span(), format!("parameter `{name}`: {e}")),
            }
        }
        out
    }

    pub(super) fn run(&mut self, c: &RawCell, span: Range<usize>) -> Option<CellBody> {
        let exp = self.experiment(c, span)?;
        let params = self.params(c, exp);
        let mut adjust = Vec::new();
        for a in c.adjust.iter().flat_map(|a| a.get_ref()) {
            match exp.param(a.get_ref()) {
                Some(_) => adjust.push(a.get_ref().clone()),
                None => self.error(
                    a.span(),
                    format!(
                        "`adjust` names `{}`, which experiment `{}` does not take",
                        a.get_ref(),
                        exp.name
                    ),
                ),
            }
        }
        Some(CellBody::Run(Run {
            experiment: exp,
            params,
            adjust,
            caption: c
                .caption
                .as_ref()
                .map(|s| s.get_ref().clone())
                .unwrap_or_default(),
        }))
    }

    pub(super) fn exercise(&mut self, c: &RawCell, span: Range<usize>) -> Option<Exercise> {
        let prompt = self.required(&c.prompt, span.clone(), "prompt")?;
        let exp = self.experiment(c, span.clone())?;
        let params = self.params(c, exp);
        let input = self.required(&c.input, span.clone(), "input")?;
        if exp.param(&input).is_none() {
            let at = c.input.as_ref().map_or(span.clone(), |s| s.span());
            self.error(
                at,
                format!(
                    "`input` names `{input}`, which experiment `{}` does not take",
                    exp.name
                ),
            );
        }
        let mut goals = Vec::new();
        for g in c.goal.iter().flatten() {
            let raw = g.get_ref();
            if !exp.metrics.contains(&raw.metric.as_str()) {
                self.error(
                    g.span(),
                    format!(
                        "goal metric `{}` is not reported by `{}` (it reports: {})",
                        raw.metric,
                        exp.name,
                        exp.metrics.join(", ")
                    ),
                );
            }
            if raw.min.is_none() && raw.max.is_none() {
                self.error(g.span(), "a goal needs `min`, `max` or both");
            }
            goals.push(Goal {
                metric: raw.metric.clone(),
                min: raw.min,
                max: raw.max,
                text: raw.text.clone().unwrap_or_default(),
            });
        }
        if goals.is_empty() {
            self.error(span, "an exercise needs at least one `[[cells.goal]]`");
        }
        Some(Exercise {
            prompt,
            experiment: exp,
            input,
            placeholder: c
                .placeholder
                .as_ref()
                .map(|s| s.get_ref().clone())
                .unwrap_or_default(),
            params,
            goals,
            hints: Self::strings(&c.hints),
            explanation: c
                .explanation
                .as_ref()
                .map(|s| s.get_ref().clone())
                .unwrap_or_default(),
            solution: c
                .solution
                .as_ref()
                .filter(|_| !self.held_back())
                .map(|s| s.get_ref().clone()),
            held_back: self.held_back(),
        })
    }
}

/// A TOML value as a parameter value.
pub fn toml_to_value(v: &toml::Value) -> Result<Value, String> {
    Ok(match v {
        toml::Value::Integer(i) => Value::Int(*i),
        toml::Value::Float(x) => Value::Float(*x),
        toml::Value::Boolean(b) => Value::Bool(*b),
        toml::Value::String(s) => Value::Str(s.clone()),
        toml::Value::Array(rows) => {
            let mut m = Vec::new();
            for r in rows {
                let row = r
                    .as_array()
                    .ok_or("a matrix is a list of rows, e.g. [[1, 0], [0, 1]]")?;
                let nums: Option<Vec<f64>> = row
                    .iter()
                    .map(|v| v.as_integer().map(|i| i as f64).or(v.as_float()))
                    .collect();
                m.push(nums.ok_or("matrix entries must be numbers")?);
            }
            Value::Matrix(m)
        }
        _ => return Err("unsupported value (use a number, true/false, text or a matrix)".into()),
    })
}
