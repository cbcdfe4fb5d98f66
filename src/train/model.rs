//! A network from [`crate::nn`] with its optimizer and objective, as a [`Model`] the loop can
//! drive: a classifier by default (cross-entropy on its only output), or any objective over
//! named outputs (reconstruction, segmentation masks, class and box heads).

use crate::nn::{Batch, LossKind, Network, Objective, Optimizer, Rule, Target, Targets, IGNORE};

use super::{Evaluated, Model, Snapshot, StepLoss};

/// A network, its optimizer, what it minimises and the shape of one example.
pub struct NetModel {
    pub net: Network,
    pub opt: Optimizer,
    pub objective: Objective,
    /// One example's shape, e.g. `[1, 28, 28]`.
    pub input: Vec<usize>,
    rule: Rule,
}

impl NetModel {
    /// A classifier: softmax cross-entropy on the network's only output.
    pub fn new(net: Network, opt: Optimizer) -> Self {
        NetModel::with_objective(net, opt, Objective::single(LossKind::CrossEntropy))
    }

    /// A model minimising `objective`.
    pub fn with_objective(net: Network, opt: Optimizer, objective: Objective) -> Self {
        let input = net.spec().input.clone();
        let rule = opt.rule;
        NetModel {
            net,
            opt,
            objective,
            input,
            rule,
        }
    }

    fn batch(&self, x: &[f32], n: usize) -> anyhow::Result<Batch> {
        let mut shape = vec![n];
        shape.extend(&self.input);
        Ok(Batch::new(x.to_vec(), shape)?)
    }

    /// Every parameter and buffer name, in a fixed order.
    fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.net.params().into_iter().map(|p| p.name).collect();
        names.extend(self.net.buffer_names());
        names
    }

    /// Plain cross-entropy on one output: the loss is summed in f64 from the scores, which is
    /// how lessons 3 and 4 measured their figures.
    fn plain_classes<'a>(&self, targets: &'a Targets) -> Option<&'a [usize]> {
        let [term] = self.objective.terms.as_slice() else {
            return None;
        };
        match (term.kind, targets.as_slice()) {
            (LossKind::CrossEntropy, [(_, Target::Classes(c))])
                if term.weight == 1.0 && !c.contains(&IGNORE) =>
            {
                Some(c)
            }
            _ => None,
        }
    }
}

/// Summed softmax cross-entropy of rows of `k` scores (log-sum-exp, stable), with the `libm`
/// crate's `exp` and `log`: glibc's, called from this code on a thread that also runs the
/// AVX-512 matrix kernels, pay an SSE/AVX transition per call.
fn summed_cross_entropy(scores: &[f32], k: usize, classes: &[usize]) -> f64 {
    let mut loss = 0.0f64;
    for (row, &y) in scores.chunks(k.max(1)).zip(classes) {
        let m = row.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b));
        let sum: f64 = row.iter().map(|&v| libm::exp((v - m) as f64)).sum();
        let lse = m as f64 + libm::log(sum);
        loss += lse - row[y.min(row.len() - 1)] as f64;
    }
    loss
}

impl Model for NetModel {
    fn train_step(
        &mut self,
        x: &[f32],
        n: usize,
        targets: &Targets,
        lr: f64,
    ) -> anyhow::Result<StepLoss> {
        self.net.set_train(true);
        self.opt.lr = lr;
        let batch = self.batch(x, n)?;
        let (total, terms) =
            self.net
                .step_objective(&batch, targets, &self.objective, &mut self.opt)?;
        Ok(StepLoss {
            total: f64::from(total),
            terms: terms.into_iter().map(f64::from).collect(),
        })
    }

    fn evaluate(&mut self, x: &[f32], n: usize, targets: &Targets) -> anyhow::Result<Evaluated> {
        self.net.set_train(false);
        let batch = self.batch(x, n)?;
        if let Some(classes) = self.plain_classes(targets) {
            let out = self.net.forward(&batch)?;
            if out.shape.len() == 2 && classes.len() == n {
                let k = out.shape[1];
                if classes.iter().all(|&c| c < k) {
                    let loss = summed_cross_entropy(&out.data, k, classes);
                    return Ok(Evaluated {
                        loss_sum: loss,
                        term_sums: vec![loss],
                        outputs: vec![(String::new(), out)],
                    });
                }
            }
        }
        let (outputs, (total, terms)) =
            self.net
                .evaluate_objective(&batch, targets, &self.objective)?;
        let n = n as f64;
        Ok(Evaluated {
            loss_sum: f64::from(total) * n,
            term_sums: terms.into_iter().map(|t| f64::from(t) * n).collect(),
            outputs,
        })
    }

    fn term_names(&self) -> Vec<String> {
        self.objective
            .terms
            .iter()
            .map(|t| {
                if t.head.is_empty() {
                    t.kind.name().to_string()
                } else {
                    format!("{} ({})", t.kind.name(), t.head)
                }
            })
            .collect()
    }

    fn snapshot(&self) -> anyhow::Result<Snapshot> {
        let values = self
            .names()
            .iter()
            .map(|n| self.net.values(n))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Snapshot(values))
    }

    fn restore(&mut self, s: &Snapshot) -> anyhow::Result<()> {
        for (name, v) in self.names().iter().zip(&s.0) {
            self.net.set_values(name, v)?;
        }
        // The moments belong to the trajectory that was undone: start the optimizer afresh.
        self.opt = Optimizer::with_rule(self.rule, self.opt.lr);
        Ok(())
    }

    fn check_memory(&self, batch: usize) -> anyhow::Result<()> {
        let spec = self.net.spec();
        spec.summary(Some(&self.input))?.check_memory(batch)?;
        Ok(())
    }
}
