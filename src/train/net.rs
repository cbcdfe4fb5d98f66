//! A network from [`crate::nn`] with its optimizer, as a [`Classifier`] the loop can drive.

use crate::nn::{predictions, Batch, LossKind, Network, Optimizer, Rule, Target};

use super::{Classifier, Snapshot};

/// A network, its optimizer and the shape of one example.
pub struct NetClassifier {
    pub net: Network,
    pub opt: Optimizer,
    /// One example's shape, e.g. `[1, 28, 28]`.
    pub input: Vec<usize>,
    rule: Rule,
}

impl NetClassifier {
    pub fn new(net: Network, opt: Optimizer) -> Self {
        let input = net.spec().input.clone();
        let rule = opt.rule;
        NetClassifier {
            net,
            opt,
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
}

impl Classifier for NetClassifier {
    fn train_step(&mut self, x: &[f32], labels: &[u8], lr: f64) -> anyhow::Result<f64> {
        self.net.set_train(true);
        self.opt.lr = lr;
        let batch = self.batch(x, labels.len())?;
        let target = Target::Classes(labels.iter().map(|&l| l as usize).collect());
        let loss = self
            .net
            .step(&batch, &target, LossKind::CrossEntropy, &mut self.opt)?;
        Ok(f64::from(loss))
    }

    fn evaluate(&mut self, x: &[f32], labels: &[u8]) -> anyhow::Result<(f64, Vec<u8>)> {
        self.net.set_train(false);
        let batch = self.batch(x, labels.len())?;
        let logits = self.net.forward(&batch)?;
        let k = logits.shape.get(1).copied().unwrap_or(1);
        // Summed cross-entropy from the logits (log-sum-exp, stable).
        let mut loss = 0.0f64;
        for (row, &y) in logits.data.chunks(k).zip(labels) {
            let m = row.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b));
            let lse = m as f64
                + row
                    .iter()
                    .map(|&v| ((v - m) as f64).exp())
                    .sum::<f64>()
                    .ln();
            loss += lse - row[y as usize] as f64;
        }
        let preds = predictions(&logits).into_iter().map(|p| p as u8).collect();
        Ok((loss, preds))
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
}
