//! Principal component analysis by power iteration, enough to draw embeddings in 2-D: the
//! covariance matrix of the centred rows, its leading eigenvectors one at a time (each found by
//! repeated multiplication, then removed from the matrix), and every row projected on them.
//! scikit-learn's `PCA` gives the same components up to their sign; here the sign is fixed so
//! a component's largest entry is positive.

/// The leading components of some data and the share of its variance each explains.
#[derive(Debug, Clone, PartialEq)]
pub struct Pca {
    pub mean: Vec<f64>,
    /// Unit vectors, the first explaining the most variance.
    pub components: Vec<Vec<f64>>,
    /// Each component's variance over the total variance.
    pub explained: Vec<f64>,
}

const ITERATIONS: usize = 500;

impl Pca {
    /// The first `k` components of `n` rows of `dim` values in `x`.
    pub fn fit(x: &[f32], dim: usize, k: usize) -> Pca {
        let n = x.len() / dim.max(1);
        let mut mean = vec![0.0; dim];
        for row in x.chunks(dim) {
            for (m, &v) in mean.iter_mut().zip(row) {
                *m += f64::from(v);
            }
        }
        for m in &mut mean {
            *m /= n.max(1) as f64;
        }
        // Covariance with 1/n: the ratios below do not depend on the choice.
        let mut cov = vec![vec![0.0; dim]; dim];
        for row in x.chunks(dim) {
            let c: Vec<f64> = row
                .iter()
                .zip(&mean)
                .map(|(&v, m)| f64::from(v) - m)
                .collect();
            for i in 0..dim {
                for j in 0..dim {
                    cov[i][j] += c[i] * c[j];
                }
            }
        }
        for r in &mut cov {
            for v in r {
                *v /= n.max(1) as f64;
            }
        }
        let total: f64 = (0..dim).map(|i| cov[i][i]).sum();
        let mut components = Vec::new();
        let mut explained = Vec::new();
        for c in 0..k.min(dim) {
            // A start that is not orthogonal to any particular axis.
            let mut v: Vec<f64> = (0..dim).map(|i| 1.0 + 0.1 * ((i + c) % 7) as f64).collect();
            normalise(&mut v);
            for _ in 0..ITERATIONS {
                let mut w = mat_vec(&cov, &v);
                if normalise(&mut w) == 0.0 {
                    break;
                }
                v = w;
            }
            let lambda = dot(&v, &mat_vec(&cov, &v));
            let big = v
                .iter()
                .copied()
                .fold(0.0f64, |a, b| if b.abs() > a.abs() { b } else { a });
            if big < 0.0 {
                v.iter_mut().for_each(|x| *x = -*x);
            }
            // Deflate: take this direction's variance out of the matrix.
            for i in 0..dim {
                for j in 0..dim {
                    cov[i][j] -= lambda * v[i] * v[j];
                }
            }
            explained.push(if total > 0.0 { lambda / total } else { 0.0 });
            components.push(v);
        }
        Pca {
            mean,
            components,
            explained,
        }
    }

    /// Every row of `x` on the components: `k` numbers per row.
    pub fn project(&self, x: &[f32]) -> Vec<Vec<f64>> {
        x.chunks(self.mean.len().max(1))
            .map(|row| {
                let c: Vec<f64> = row
                    .iter()
                    .zip(&self.mean)
                    .map(|(&v, m)| f64::from(v) - m)
                    .collect();
                self.components.iter().map(|p| dot(p, &c)).collect()
            })
            .collect()
    }
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn mat_vec(m: &[Vec<f64>], v: &[f64]) -> Vec<f64> {
    m.iter().map(|r| dot(r, v)).collect()
}

/// Scales `v` to length 1 and returns its old length.
fn normalise(v: &mut [f64]) -> f64 {
    let len = dot(v, v).sqrt();
    if len > 0.0 {
        v.iter_mut().for_each(|x| *x /= len);
    }
    len
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn components_of_a_stretched_cross_by_hand() {
        // Points (±2, 0) and (0, ±1) around (1, 1): variance 8/4 = 2 along x, 2/4 = 0.5
        // along y, so the first component is x (80% of the variance), the second y (20%).
        let x = [3.0, 1.0, -1.0, 1.0, 1.0, 2.0, 1.0, 0.0];
        let p = Pca::fit(&x, 2, 2);
        assert_eq!(p.mean, vec![1.0, 1.0]);
        assert!((p.components[0][0] - 1.0).abs() < 1e-9 && p.components[0][1].abs() < 1e-9);
        assert!(p.components[1][0].abs() < 1e-9 && (p.components[1][1] - 1.0).abs() < 1e-9);
        assert!((p.explained[0] - 0.8).abs() < 1e-9);
        assert!((p.explained[1] - 0.2).abs() < 1e-9);
        let proj = p.project(&x);
        assert!((proj[0][0] - 2.0).abs() < 1e-9 && proj[0][1].abs() < 1e-9);
        assert!((proj[2][1] - 1.0).abs() < 1e-9);
    }

    #[test]
    fn a_diagonal_line_is_one_component() {
        // Points on y = x: everything lies along (1, 1)/√2.
        let x = [0.0, 0.0, 1.0, 1.0, 2.0, 2.0, 3.0, 3.0];
        let p = Pca::fit(&x, 2, 1);
        let h = 0.5f64.sqrt();
        assert!((p.components[0][0] - h).abs() < 1e-9 && (p.components[0][1] - h).abs() < 1e-9);
        assert!((p.explained[0] - 1.0).abs() < 1e-9);
    }
}
