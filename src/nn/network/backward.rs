//! Losses, gradients and training steps: each term of an [`Objective`] is computed on its
//! named output with [`crate::nn::loss`], the terms are added with their weights, and one
//! backward pass gives every parameter's gradient (the tapes of the heads meet in the sum).

use dfdx::prelude::*;

use super::{dev_err, Act, Backprop, Batch, Heads, Logits, NamedValues, Network, NnError};
use crate::nn::backend::Backend;
use crate::nn::loss::{self, LossKind, LossTarget, IGNORE};
use crate::nn::objective::{Objective, Target, Targets};
use crate::nn::optim::Optimizer;
use crate::nn::summary::fmt_shape;

/// A taped scalar (a loss).
type Scalar<D, T> = Tensor<Rank0, f32, D, T>;

/// The objective's total and each term's value (before weighting), in term order.
pub type TermValues = (f32, Vec<f32>);

impl<D: Backend> Network<D> {
    /// The network's output for a batch, without gradients (respects the train/eval mode).
    /// For a network with several outputs use [`Network::forward_outputs`].
    pub fn forward(&mut self, batch: &Batch) -> Result<Logits, NnError> {
        let mut outs = self.forward_outputs(batch)?;
        if outs.len() != 1 {
            let names: Vec<&str> = outs.iter().map(|(n, _)| n.as_str()).collect();
            return Err(NnError::Shape(format!(
                "the network has {} outputs ({}); ask for them by name",
                outs.len(),
                names.join(", ")
            )));
        }
        Ok(outs.remove(0).1)
    }

    /// Every named output for a batch, in the network's order, without gradients.
    pub fn forward_outputs(&mut self, batch: &Batch) -> Result<Vec<(String, Batch)>, NnError> {
        let x = self.input_tensor(batch)?;
        Ok(self
            .run(x, false)?
            .into_iter()
            .map(|(n, a)| (n, a.to_batch()))
            .collect())
    }

    /// The loss of a one-output network for a batch, without gradients.
    pub fn loss(&mut self, batch: &Batch, target: &Target, kind: LossKind) -> Result<f32, NnError> {
        Ok(self
            .objective_loss(batch, &single(target), &Objective::single(kind))?
            .0)
    }

    /// The objective's total and per-term values for a batch, without gradients.
    pub fn objective_loss(
        &mut self,
        batch: &Batch,
        targets: &Targets,
        objective: &Objective,
    ) -> Result<TermValues, NnError> {
        let x = self.input_tensor(batch)?;
        let outs = self.run(x, false)?;
        let (l, terms) = self.objective_tensor(outs, targets, objective)?;
        Ok((l.as_vec()[0], terms))
    }

    /// One forward pass without gradients: every output, and the objective on them.
    pub fn evaluate_objective(
        &mut self,
        batch: &Batch,
        targets: &Targets,
        objective: &Objective,
    ) -> Result<(Vec<(String, Batch)>, TermValues), NnError> {
        let x = self.input_tensor(batch)?;
        let outs = self.run(x, false)?;
        let batches = outs
            .iter()
            .map(|(n, a)| (n.clone(), a.to_batch()))
            .collect();
        let (l, terms) = self.objective_tensor(outs, targets, objective)?;
        Ok((batches, (l.as_vec()[0], terms)))
    }

    /// The weighted sum of the objective's terms, each on its output, with the tapes of all
    /// outputs merged (an output no term uses still passes on its tape, times zero, so the
    /// layers it shares with the others keep every recorded backward step).
    fn objective_tensor<T: Tape<f32, D> + Merge<NoneTape>>(
        &self,
        outs: Heads<D, T>,
        targets: &Targets,
        objective: &Objective,
    ) -> Result<(Scalar<D, T>, Vec<f32>), NnError> {
        if objective.terms.is_empty() {
            return Err(NnError::Shape("the objective has no loss terms".into()));
        }
        let names: Vec<String> = outs.iter().map(|(n, _)| n.clone()).collect();
        let index_of = |head: &str| -> Result<usize, NnError> {
            if head.is_empty() {
                if names.len() == 1 {
                    return Ok(0);
                }
                return Err(NnError::Shape(format!(
                    "the network has {} outputs ({}): name the one each loss term is on",
                    names.len(),
                    names.join(", ")
                )));
            }
            names.iter().position(|n| n == head).ok_or_else(|| {
                NnError::Shape(format!(
                    "no output named \"{head}\" (the network's outputs: {})",
                    names.join(", ")
                ))
            })
        };
        let heads: Vec<usize> = objective
            .terms
            .iter()
            .map(|t| index_of(&t.head))
            .collect::<Result<_, _>>()?;
        let mut slots: Vec<Option<Act<D, T>>> = outs.into_iter().map(|(_, a)| Some(a)).collect();
        let mut total: Option<Tensor<Rank0, f32, D, T>> = None;
        let mut values = Vec::with_capacity(heads.len());
        for (ti, (term, &h)) in objective.terms.iter().zip(&heads).enumerate() {
            let used_later = heads[ti + 1..].contains(&h);
            let act = match &slots[h] {
                Some(a) if used_later => a.with_empty_tape(),
                _ => slots[h]
                    .take()
                    .expect("an output is taken by its last term only"),
            };
            let head = &names[h];
            let target = crate::nn::objective::target_for(targets, &term.head)
                .or_else(|| crate::nn::objective::target_for(targets, head))
                .ok_or_else(|| NnError::Shape(format!("no target given for output \"{head}\"")))?;
            let l = self.term_tensor(act, &term.kind, target, head)?;
            values.push(l.as_vec()[0]);
            let l = if term.weight == 1.0 {
                l
            } else {
                l.try_mul(term.weight as f32).map_err(dev_err)?
            };
            total = Some(match total {
                None => l,
                Some(t) => t.try_add(l).map_err(dev_err)?,
            });
        }
        let mut total = total.expect("at least one term");
        for act in slots.into_iter().flatten() {
            let zero = match act {
                Act::I(t) => t.try_sum::<Rank0, _>().map_err(dev_err)?,
                Act::V(t) => t.try_sum::<Rank0, _>().map_err(dev_err)?,
            };
            total = total
                .try_add(zero.try_mul(0.0).map_err(dev_err)?)
                .map_err(dev_err)?;
        }
        Ok((total, values))
    }

    /// One loss term on one output.
    fn term_tensor<T: Tape<f32, D> + Merge<NoneTape>>(
        &self,
        out: Act<D, T>,
        kind: &LossKind,
        target: &Target,
        head: &str,
    ) -> Result<Tensor<Rank0, f32, D, T>, NnError> {
        let e = dev_err;
        let shape = out.shape();
        // Class losses read rows of scores: examples, or pixels of an image-shaped output.
        let rows = if kind.needs_classes() {
            match out {
                Act::V(t) => t,
                Act::I(t) => D::pixel_rows(t).map_err(e)?,
            }
        } else {
            match out {
                Act::V(t) => t,
                Act::I(t) => {
                    let (n, c, h, w) = *t.shape();
                    t.try_reshape_like(&(n, c * h * w)).map_err(e)?
                }
            }
        };
        let (n_rows, k) = *rows.shape();
        let misfit = |what: String| {
            NnError::Shape(format!(
                "output \"{head}\" of shape {}: {what}",
                fmt_shape(&shape)
            ))
        };
        match (kind, target) {
            // Plain cross-entropy, MSE and BCE as dfdx's losses compute them (the reference
            // terms are tested against these), with the device's own log-softmax and BCE.
            (LossKind::CrossEntropy, Target::Classes(classes))
                if !classes.contains(&IGNORE) && classes.len() == n_rows =>
            {
                let mut onehot = vec![0f32; n_rows * k];
                for (r, &c) in classes.iter().enumerate() {
                    if c >= k {
                        return Err(misfit(format!("class label {c} but only {k} scores")));
                    }
                    onehot[r * k + c] = 1.0;
                }
                // dfdx's `cross_entropy_with_logits_loss`, term by term (its mean is the sum
                // times the reciprocal of the count, rounded to f32).
                let inv = (1.0 / (n_rows * k) as f64) as f32;
                D::log_softmax(rows)
                    .and_then(|l| D::weighted_sum(l, onehot))
                    .and_then(|l| l.try_mul(inv))
                    .and_then(|l| l.try_negate())
                    .and_then(|l| l.try_mul(k as f32))
                    .map_err(e)
            }
            (LossKind::Mse | LossKind::BceWithLogits, Target::Values(v))
                if v.len() == n_rows * k =>
            {
                let total = n_rows * k;
                let flat = rows.try_reshape_like(&(total,)).map_err(e)?;
                if *kind == LossKind::Mse {
                    D::mse_mean(flat, v).map_err(e)
                } else {
                    // dfdx's `binary_cross_entropy_with_logits_loss`: the mean.
                    D::bce_with_logits(flat, v)
                        .and_then(|l| l.try_mean())
                        .map_err(e)
                }
            }
            (_, Target::Classes(c)) => {
                if c.len() != n_rows {
                    return Err(misfit(format!(
                        "{} class labels for {n_rows} rows",
                        c.len()
                    )));
                }
                loss::apply(kind, rows, &LossTarget::Classes(c), None, None)
            }
            (_, Target::Values(v)) => {
                if v.len() != n_rows * k {
                    return Err(misfit(format!("{} target values", v.len())));
                }
                loss::apply(kind, rows, &LossTarget::Values(v), None, None)
            }
            (
                _,
                Target::Weighted {
                    values,
                    weights,
                    denom,
                },
            ) => {
                if values.len() != n_rows * k || weights.len() != values.len() {
                    return Err(misfit(format!(
                        "{} target values and {} weights",
                        values.len(),
                        weights.len()
                    )));
                }
                loss::apply(
                    kind,
                    rows,
                    &LossTarget::Values(values),
                    Some(weights),
                    *denom,
                )
            }
        }
    }

    /// Forward in the current mode with a tape, then backward: the loss and the gradients.
    pub(crate) fn backward(
        &mut self,
        batch: &Batch,
        targets: &Targets,
        objective: &Objective,
        need_input_grad: bool,
    ) -> Result<(Backprop<D>, Vec<f32>), NnError> {
        self.backward_timed(batch, targets, objective, need_input_grad, &mut None)
    }

    /// [`Network::backward`], noting in `split` when the forward pass ended (for `tutor bench`).
    pub(crate) fn backward_timed(
        &mut self,
        batch: &Batch,
        targets: &Targets,
        objective: &Objective,
        need_input_grad: bool,
        split: &mut Option<std::time::Instant>,
    ) -> Result<(Backprop<D>, Vec<f32>), NnError> {
        let x = self.input_tensor(batch)?;
        // The input's identity, to read its gradient afterwards (saliency maps, tests).
        let input_id_tensor = match &x {
            Act::I(t) => t.clone().try_reshape_like(&(t.shape().num_elements(),)),
            Act::V(t) => t.clone().try_reshape_like(&(t.shape().num_elements(),)),
        }
        .map_err(dev_err)?;
        let x = match x {
            Act::I(t) => Act::I(t.leaky_traced()),
            Act::V(t) => Act::V(t.leaky_traced()),
        };
        let outs = self.run(x, need_input_grad)?;
        let (l, terms) = self.objective_tensor(outs, targets, objective)?;
        let value = l.as_vec()[0];
        if let Some(s) = split.as_mut() {
            *s = std::time::Instant::now();
        }
        let grads = l.backward();
        Ok((
            (value, grads, need_input_grad.then_some(input_id_tensor)),
            terms,
        ))
    }

    /// The loss and the gradient of every parameter (by name), in the current mode; for
    /// inspection and tests (training uses [`Network::step`]).
    pub fn gradients(
        &mut self,
        batch: &Batch,
        target: &Target,
        kind: LossKind,
    ) -> Result<(f32, NamedValues), NnError> {
        self.objective_gradients(batch, &single(target), &Objective::single(kind))
    }

    /// [`Network::gradients`] for any objective.
    pub fn objective_gradients(
        &mut self,
        batch: &Batch,
        targets: &Targets,
        objective: &Objective,
    ) -> Result<(f32, NamedValues), NnError> {
        let ((l, mut grads, _), _) = self.backward(batch, targets, objective, false)?;
        let mut out = Vec::with_capacity(self.params.len());
        for p in &self.params {
            grads.get_or_alloc_mut(&p.t).map_err(dev_err)?;
            out.push((p.name.clone(), grads.get(&p.t).as_vec()));
        }
        Ok((l, out))
    }

    /// The gradient of the loss with respect to the input batch (saliency maps).
    pub fn input_gradient(
        &mut self,
        batch: &Batch,
        target: &Target,
        kind: LossKind,
    ) -> Result<Batch, NnError> {
        let ((_, mut grads, input), _) =
            self.backward(batch, &single(target), &Objective::single(kind), true)?;
        let input = input.expect("requested");
        grads.get_or_alloc_mut(&input).map_err(dev_err)?;
        Ok(Batch {
            data: grads.get(&input).as_vec(),
            shape: batch.shape.clone(),
        })
    }

    /// Applies the optimizer to the trainable parameters with `grads`.
    pub(crate) fn update(
        &mut self,
        opt: &mut Optimizer<D>,
        grads: Gradients<f32, D>,
    ) -> Result<(), NnError> {
        opt.update(&mut self.params, grads)
    }

    /// One training step of a one-output network: forward (current mode), loss, backward,
    /// optimizer update of the trainable parameters. Returns the loss before the update.
    pub fn step(
        &mut self,
        batch: &Batch,
        target: &Target,
        kind: LossKind,
        opt: &mut Optimizer<D>,
    ) -> Result<f32, NnError> {
        Ok(self
            .step_objective(batch, &single(target), &Objective::single(kind), opt)?
            .0)
    }

    /// One training step on any objective: the total and each term before the update.
    pub fn step_objective(
        &mut self,
        batch: &Batch,
        targets: &Targets,
        objective: &Objective,
        opt: &mut Optimizer<D>,
    ) -> Result<TermValues, NnError> {
        let ((l, grads, _), terms) = self.backward(batch, targets, objective, false)?;
        opt.update(&mut self.params, grads)?;
        Ok((l, terms))
    }
}

fn single(target: &Target) -> Targets {
    vec![(String::new(), target.clone())]
}
