//! Matrix products on plain slices for the CPU kernels, through `faer`'s safe matmul: the
//! result is written (or added) straight into the caller's buffer, so no zeroed output tensor
//! is allocated and nothing is copied out of one (dfdx's matmul does both).
//!
//! Every product runs on the calling thread unless it is split by rows ([`gemm_rows`]); a split
//! never divides a sum, so each value is the same whichever thread computes it, and the blocks
//! depend on the sizes alone, never on the number of threads.

use faer::linalg::matmul::matmul;
use faer::{Accum, MatMut, MatRef, Par};
use rayon::prelude::*;

/// A row-major matrix operand: `data` holds `rows x cols` values, or, when `t` is set, the
/// transpose is stored (`cols x rows`) and read through a transposed view without copying.
/// The stored rows are packed, or `ld` values apart when `ld` is set: a block of a wider
/// matrix, or rows that overlap (a read-only view may overlap itself).
#[derive(Clone, Copy)]
pub struct Operand<'a> {
    /// The stored values.
    pub data: &'a [f32],
    /// Stored transposed.
    pub t: bool,
    /// The distance between stored rows, when they are not packed.
    pub ld: Option<usize>,
}

impl<'a> Operand<'a> {
    /// A matrix stored as it is read.
    pub fn plain(data: &'a [f32]) -> Self {
        Operand {
            data,
            t: false,
            ld: None,
        }
    }
    /// A matrix read as the transpose of what is stored.
    pub fn transposed(data: &'a [f32]) -> Self {
        Operand {
            data,
            t: true,
            ld: None,
        }
    }
    /// This operand with its stored rows `ld` values apart.
    pub fn rows_apart(self, ld: usize) -> Self {
        Operand {
            ld: Some(ld),
            ..self
        }
    }

    fn view(self, rows: usize, cols: usize) -> MatRef<'a, f32> {
        let (sr, sc) = if self.t { (cols, rows) } else { (rows, cols) };
        let ld = self.ld.unwrap_or(sc);
        let stored = MatRef::from_row_major_slice_with_stride(self.data, sr, sc, ld);
        if self.t {
            stored.transpose()
        } else {
            stored
        }
    }
}

/// `c (m x n) = a (m x k) @ b (k x n)`, or `c += ...` when `add`; on this thread.
pub fn gemm(c: &mut [f32], m: usize, n: usize, k: usize, a: Operand, b: Operand, add: bool) {
    debug_assert_eq!(c.len(), m * n);
    gemm_ld(c, n, m, n, k, a, b, add);
}

/// As [`gemm`] into a block of a wider matrix: `c`'s rows are `ldc` values apart.
///
/// The view is built as the transpose of a column-major one: faer 0.24.4's
/// `MatMut::from_row_major_slice_with_stride_mut` builds a column-major view (it passes the
/// strides swapped), which writes outside the block (a test below covers the block's edges).
#[allow(clippy::too_many_arguments)]
pub fn gemm_ld(
    c: &mut [f32],
    ldc: usize,
    m: usize,
    n: usize,
    k: usize,
    a: Operand,
    b: Operand,
    add: bool,
) {
    let dst = MatMut::from_column_major_slice_with_stride_mut(c, n, m, ldc).transpose_mut();
    let acc = if add { Accum::Add } else { Accum::Replace };
    matmul(dst, acc, a.view(m, k), b.view(k, n), 1.0, Par::Seq);
}

/// Rows of `c` per parallel task in [`gemm_rows`]: fewer make the micro-kernels' row blocks
/// ragged, and each task must be worth waking a thread for.
const MIN_ROWS: usize = 32;

/// As [`gemm`], with blocks of `c`'s rows computed in parallel (fixed by `m` alone).
pub fn gemm_rows(c: &mut [f32], m: usize, n: usize, k: usize, a: Operand, b: Operand, add: bool) {
    let rows = m.div_ceil(4).max(MIN_ROWS).min(m.max(1));
    if rows >= m || n == 0 {
        return gemm(c, m, n, k, a, b, add);
    }
    let av = a.view(m, k);
    let bv = b.view(k, n);
    let acc = if add { Accum::Add } else { Accum::Replace };
    c.par_chunks_mut(rows * n)
        .enumerate()
        .for_each(|(i, block)| {
            let r0 = i * rows;
            let len = block.len() / n;
            let dst = MatMut::from_row_major_slice_mut(block, len, n);
            matmul(dst, acc, av.subrows(r0, len), bv, 1.0, Par::Seq);
        });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(m: usize, n: usize, k: usize, a: &[f32], at: bool, b: &[f32], bt: bool) -> Vec<f32> {
        let mut c = vec![0f32; m * n];
        for i in 0..m {
            for j in 0..n {
                let mut s = 0f64;
                for p in 0..k {
                    let x = if at { a[p * m + i] } else { a[i * k + p] };
                    let y = if bt { b[j * k + p] } else { b[p * n + j] };
                    s += f64::from(x) * f64::from(y);
                }
                c[i * n + j] = s as f32;
            }
        }
        c
    }

    #[test]
    fn products_match_a_naive_sum_in_every_layout() {
        let (m, n, k) = (70, 9, 13);
        let a: Vec<f32> = (0..m * k)
            .map(|i| ((i * 37 % 11) as f32 - 5.0) / 7.0)
            .collect();
        let b: Vec<f32> = (0..k * n)
            .map(|i| ((i * 53 % 13) as f32 - 6.0) / 5.0)
            .collect();
        for (at, bt) in [(false, false), (true, false), (false, true), (true, true)] {
            let want = naive(m, n, k, &a, at, &b, bt);
            let op = |d, t| Operand {
                data: d,
                t,
                ld: None,
            };
            let mut c = vec![1f32; m * n];
            gemm(&mut c, m, n, k, op(&a, at), op(&b, bt), false);
            let mut r = vec![1f32; m * n];
            gemm_rows(&mut r, m, n, k, op(&a, at), op(&b, bt), true);
            for i in 0..m * n {
                assert!(
                    (c[i] - want[i]).abs() < 1e-4,
                    "{at} {bt}: {} vs {}",
                    c[i],
                    want[i]
                );
                assert!(
                    (r[i] - 1.0 - want[i]).abs() < 1e-4,
                    "added: {} vs {}",
                    r[i],
                    want[i]
                );
            }
        }
    }

    #[test]
    fn strided_blocks_are_read_and_written_in_place() {
        // Above and below the size where faer switches kernels; `b` read with overlapping rows.
        for (m, n, k, ld) in [(16, 300, 16, 333), (5, 37, 6, 61), (9, 40, 12, 3)] {
            let a: Vec<f32> = (0..m * k).map(|i| (i % 7) as f32 - 3.0).collect();
            let bs: Vec<f32> = (0..(k - 1) * ld + n)
                .map(|i| (i % 5) as f32 - 2.0)
                .collect();
            let b: Vec<f32> = (0..k * n).map(|i| bs[(i / n) * ld + i % n]).collect();
            let want = naive(m, n, k, &a, false, &b, false);
            let mut c = vec![7f32; (m - 1) * ld.max(n) + n + 3];
            let bv = Operand::plain(&bs).rows_apart(ld);
            gemm_ld(&mut c, ld.max(n), m, n, k, Operand::plain(&a), bv, false);
            for (i, v) in c.iter().enumerate() {
                let (r, col) = (i / ld.max(n), i % ld.max(n));
                if r < m && col < n {
                    assert!((v - want[r * n + col]).abs() < 1e-4, "{r},{col}");
                } else {
                    assert_eq!(*v, 7.0, "value {i}, outside the block, was written");
                }
            }
        }
    }
}
