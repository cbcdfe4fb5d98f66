//! Optimizers (Adam, AdamW, SGD with momentum or Nesterov) driven over a network's own parameter
//! list with dfdx's public update kernels, and learning-rate schedules as pure functions of the
//! step number. dfdx's own optimizer drivers need compile-time shapes, hence this file.
//!
//! Semantics follow PyTorch: Adam's `weight_decay` is L2 added to the gradient, AdamW's is
//! decoupled; SGD's momentum buffer starts at the first gradient. Frozen parameters are skipped
//! entirely (no moment update either), as PyTorch does for parameters without gradients.

use dfdx::optim::{Momentum, WeightDecay};
use dfdx::prelude::*;

use super::backend::{AutoDevice, Backend, ParamJob};
use super::param::{dev_err, NnError, Param};

/// A learning-rate schedule: the factor or value applied at each optimizer step (0-based).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Schedule {
    /// The base rate throughout.
    Constant,
    /// Multiply by `gamma` every `every` steps (PyTorch's `StepLR`).
    Step {
        /// Steps between decays.
        every: usize,
        /// Factor per decay.
        gamma: f64,
    },
    /// Cosine from the base rate down to `min_lr` over `total` steps (`CosineAnnealingLR`),
    /// then `min_lr`.
    Cosine {
        /// Length of the decay.
        total: usize,
        /// Final rate.
        min_lr: f64,
    },
    /// PyTorch's `OneCycleLR` (cosine, two phases) with the base rate as the peak: from
    /// peak/25 up to the peak over `pct_start` of `total` steps, then down to peak/25/1e4.
    OneCycle {
        /// Total steps.
        total: usize,
        /// Fraction of the steps spent warming up (PyTorch default 0.3).
        pct_start: f64,
    },
}

fn cos_anneal(start: f64, end: f64, pct: f64) -> f64 {
    end + (start - end) / 2.0 * ((std::f64::consts::PI * pct).cos() + 1.0)
}

impl Schedule {
    /// The learning rate at `step` (0-based) for a base rate `base`.
    pub fn lr_at(&self, base: f64, step: usize) -> f64 {
        match *self {
            Schedule::Constant => base,
            Schedule::Step { every, gamma } => base * gamma.powi((step / every.max(1)) as i32),
            Schedule::Cosine { total, min_lr } => {
                if step >= total {
                    min_lr
                } else {
                    cos_anneal(base, min_lr, step as f64 / total as f64)
                }
            }
            Schedule::OneCycle { total, pct_start } => {
                let initial = base / 25.0;
                let min = initial / 1e4;
                let up_end = (pct_start * total as f64) - 1.0;
                let down_end = total as f64 - 1.0;
                let s = step as f64;
                if s <= up_end {
                    cos_anneal(initial, base, s / up_end.max(1e-12))
                } else if s <= down_end {
                    cos_anneal(base, min, (s - up_end) / (down_end - up_end).max(1e-12))
                } else {
                    min
                }
            }
        }
    }
}

/// Which update rule, with its settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Rule {
    /// Adam; `decoupled` makes it AdamW.
    Adam {
        /// Moment decay rates (default 0.9, 0.999).
        betas: [f64; 2],
        /// Denominator epsilon (default 1e-8).
        eps: f64,
        /// Weight decay (default 0).
        weight_decay: f64,
        /// AdamW's decoupled weight decay instead of L2.
        decoupled: bool,
    },
    /// Stochastic gradient descent.
    Sgd {
        /// Momentum (0 for none).
        momentum: f64,
        /// Nesterov momentum.
        nesterov: bool,
        /// L2 weight decay.
        weight_decay: f64,
    },
}

/// An optimizer with its state (moments), a base learning rate and a schedule.
pub struct Optimizer<D: Backend = AutoDevice> {
    /// The update rule.
    pub rule: Rule,
    /// Base learning rate (the schedule scales it).
    pub lr: f64,
    /// The schedule.
    pub schedule: Schedule,
    step: usize,
    m1: Gradients<f32, D>,
    m2: Gradients<f32, D>,
}

impl<D: Backend> Optimizer<D> {
    /// Adam with PyTorch's defaults.
    pub fn adam(lr: f64) -> Self {
        Self::with_rule(
            Rule::Adam {
                betas: [0.9, 0.999],
                eps: 1e-8,
                weight_decay: 0.0,
                decoupled: false,
            },
            lr,
        )
    }

    /// AdamW (decoupled weight decay).
    pub fn adamw(lr: f64, weight_decay: f64) -> Self {
        Self::with_rule(
            Rule::Adam {
                betas: [0.9, 0.999],
                eps: 1e-8,
                weight_decay,
                decoupled: true,
            },
            lr,
        )
    }

    /// SGD with optional momentum.
    pub fn sgd(lr: f64, momentum: f64) -> Self {
        Self::with_rule(
            Rule::Sgd {
                momentum,
                nesterov: false,
                weight_decay: 0.0,
            },
            lr,
        )
    }

    /// Any rule.
    pub fn with_rule(rule: Rule, lr: f64) -> Self {
        Optimizer {
            rule,
            lr,
            schedule: Schedule::Constant,
            step: 0,
            m1: Gradients::leaky(),
            m2: Gradients::leaky(),
        }
    }

    /// Sets the weight decay (L2 for Adam and SGD, decoupled for AdamW).
    pub fn weight_decay(mut self, wd: f64) -> Self {
        match &mut self.rule {
            Rule::Adam { weight_decay, .. } | Rule::Sgd { weight_decay, .. } => *weight_decay = wd,
        }
        self
    }

    /// Switches SGD to Nesterov momentum.
    pub fn nesterov(mut self) -> Self {
        if let Rule::Sgd { nesterov, .. } = &mut self.rule {
            *nesterov = true;
        }
        self
    }

    /// Sets the schedule.
    pub fn schedule(mut self, schedule: Schedule) -> Self {
        self.schedule = schedule;
        self
    }

    /// Steps taken so far.
    pub fn steps(&self) -> usize {
        self.step
    }

    /// The learning rate the next step will use.
    pub fn current_lr(&self) -> f64 {
        self.schedule.lr_at(self.lr, self.step)
    }

    /// Applies one update to every trainable parameter that has a gradient.
    pub(crate) fn update(
        &mut self,
        params: &mut [Param<D>],
        mut grads: Gradients<f32, D>,
    ) -> Result<(), NnError> {
        let lr = self.current_lr();
        self.step += 1;
        let t = self.step as i32;
        let rule = self.rule;
        let step = move |job: &mut ParamJob<'_, D>| -> Result<(), D::Err> {
            match rule {
                Rule::Adam {
                    betas,
                    eps,
                    weight_decay,
                    decoupled,
                } => {
                    let cfg = AdamConfig {
                        lr: job.lr,
                        betas,
                        eps,
                        weight_decay: (weight_decay > 0.0).then_some(if decoupled {
                            WeightDecay::Decoupled(weight_decay)
                        } else {
                            WeightDecay::L2(weight_decay)
                        }),
                    };
                    let m2 = job
                        .m2
                        .as_deref_mut()
                        .expect("Adam's jobs carry a second moment");
                    cfg.try_update(t, job.t, job.m1, m2, job.g)
                }
                Rule::Sgd {
                    momentum,
                    nesterov,
                    weight_decay,
                } => {
                    let cfg = SgdConfig {
                        lr: job.lr,
                        momentum: (momentum > 0.0).then_some(if nesterov {
                            Momentum::Nesterov(momentum)
                        } else {
                            Momentum::Classic(momentum)
                        }),
                        weight_decay: (weight_decay > 0.0).then_some(WeightDecay::L2(weight_decay)),
                    };
                    cfg.try_update(job.t, job.m1, job.g)
                }
            }
        };
        let adam = matches!(rule, Rule::Adam { .. });
        let trainable = params.iter_mut().filter(|p| !p.frozen);
        if !D::PARALLEL_STEPS {
            // In place, one parameter after another.
            for p in trainable {
                let lr = lr * p.lr_scale;
                let g = &*grads.get_or_alloc_mut(&p.t).map_err(dev_err)?;
                let m1 = self.m1.get_or_alloc_mut(&p.t).map_err(dev_err)?;
                let m2 = if adam {
                    Some(self.m2.get_or_alloc_mut(&p.t).map_err(dev_err)?)
                } else {
                    None
                };
                let t = &mut p.t;
                step(&mut ParamJob { t, lr, g, m1, m2 }).map_err(dev_err)?;
            }
            return Ok(());
        }
        // Every parameter's buffers out of their maps at once, stepped side by side, and the
        // moments put back.
        let mut taken = Vec::new();
        let mut slots = Vec::new();
        for p in trainable {
            let out = |map: &mut Gradients<f32, D>| -> Result<<D as Storage<f32>>::Vec, NnError> {
                let empty = <D as Storage<f32>>::try_alloc_len(p.t.device(), 0).map_err(dev_err)?;
                Ok(std::mem::replace(
                    map.get_or_alloc_mut(&p.t).map_err(dev_err)?,
                    empty,
                ))
            };
            let g = out(&mut grads)?;
            let m1 = out(&mut self.m1)?;
            let m2 = if adam { Some(out(&mut self.m2)?) } else { None };
            taken.push((g, m1, m2));
            slots.push(p);
        }
        let mut jobs: Vec<ParamJob<'_, D>> = slots
            .iter_mut()
            .zip(taken.iter_mut())
            .map(|(p, (g, m1, m2))| ParamJob {
                lr: lr * p.lr_scale,
                t: &mut p.t,
                g,
                m1,
                m2: m2.as_mut(),
            })
            .collect();
        D::each_param(&mut jobs, &step).map_err(dev_err)?;
        drop(jobs);
        for (p, (_, m1, m2)) in slots.into_iter().zip(taken) {
            *self.m1.get_or_alloc_mut(&p.t).map_err(dev_err)? = m1;
            if let Some(m2) = m2 {
                *self.m2.get_or_alloc_mut(&p.t).map_err(dev_err)? = m2;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12 * (1.0 + b.abs())
    }

    #[test]
    fn step_and_constant_schedules() {
        let s = Schedule::Step {
            every: 10,
            gamma: 0.5,
        };
        assert!(close(s.lr_at(0.1, 0), 0.1));
        assert!(close(s.lr_at(0.1, 9), 0.1));
        assert!(close(s.lr_at(0.1, 10), 0.05));
        assert!(close(s.lr_at(0.1, 25), 0.025));
        assert!(close(Schedule::Constant.lr_at(0.3, 1000), 0.3));
    }

    #[test]
    fn cosine_schedule_hand_values() {
        let s = Schedule::Cosine {
            total: 100,
            min_lr: 0.0,
        };
        assert!(close(s.lr_at(1.0, 0), 1.0));
        assert!(close(s.lr_at(1.0, 50), 0.5));
        // (1 + cos(pi/4)) / 2 = 0.853553...
        assert!(close(
            s.lr_at(1.0, 25),
            (1.0 + (0.25f64 * std::f64::consts::PI).cos()) / 2.0
        ));
        assert!(close(s.lr_at(1.0, 100), 0.0));
    }

    #[test]
    fn one_cycle_matches_pytorch_endpoints() {
        // torch OneCycleLR(max_lr=0.1, total_steps=100, pct_start=0.3): the warm-up ends at
        // step 29 at the peak, starts at 0.1/25 = 0.004 and ends at 0.004/1e4.
        let s = Schedule::OneCycle {
            total: 100,
            pct_start: 0.3,
        };
        assert!(close(s.lr_at(0.1, 0), 0.004));
        assert!(close(s.lr_at(0.1, 29), 0.1));
        assert!(close(s.lr_at(0.1, 99), 4e-7));
        // Half-way up: 0.004 + (0.1-0.004)/2 = 0.052 at step 14.5; step 14 is just under.
        let mid = s.lr_at(0.1, 14);
        assert!(mid > 0.045 && mid < 0.052, "{mid}");
        assert!(s.lr_at(0.1, 64) < 0.1 && s.lr_at(0.1, 64) > 0.04);
    }
}
