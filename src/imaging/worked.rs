//! One output pixel of a filter spelled out for a learner: the patch and the kernel, the nine
//! products, the row sums and the total, every number computed so the text agrees with
//! [`filter`](fn@super::filter).

use super::fmt::{fmt_num, shown_exactly};

/// Spell out how one output pixel comes from a 3x3 patch and a 3x3 kernel: the patch and the
/// kernel side by side, the nine products row by row, the row sums and the total. Every
/// number is computed here, so the text always agrees with [`filter`](fn@super::filter) (the total is summed in
/// the same order). Numbers are shown with at most three decimals, and the text says so when
/// that rounds any of them.
pub fn worked_example(patch: [[f32; 3]; 3], kernel: [[f32; 3]; 3]) -> String {
    let mut products = [[0.0f32; 3]; 3];
    for r in 0..3 {
        for c in 0..3 {
            products[r][c] = patch[r][c] * kernel[r][c];
        }
    }
    let row_sums: Vec<f32> = products.iter().map(|row| row.iter().sum()).collect();
    // Row-major accumulation, as in `filter`, so the two agree to the last bit.
    let total = products.iter().flatten().fold(0.0f32, |acc, &v| acc + v);
    let all = patch
        .iter()
        .chain(&kernel)
        .chain(&products)
        .flatten()
        .chain(&row_sums)
        .chain([&total]);
    let rounded = all.into_iter().any(|&v| !shown_exactly(v));

    let (p, k) = (grid(&patch), grid(&kernel));
    let pw = p[0].chars().count().max("patch".len());
    let mut out = String::new();
    out.push_str(&format!("{:<pw$}    kernel\n", "patch"));
    for r in 0..3 {
        out.push_str(&format!("{:<pw$}    {}\n", p[r], k[r]));
    }

    out.push_str("\nmultiply each pixel by the weight in the same place:\n");
    // Pad each of the three columns of products to its widest entry so the rows line up.
    let terms: Vec<Vec<String>> = (0..3)
        .map(|r| {
            (0..3)
                .map(|c| {
                    format!(
                        "{} × {} = {}",
                        fmt_num(patch[r][c]),
                        fmt_num(kernel[r][c]),
                        fmt_num(products[r][c])
                    )
                })
                .collect()
        })
        .collect();
    let widths: Vec<usize> = (0..3)
        .map(|c| {
            terms
                .iter()
                .map(|row| row[c].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    for (r, row) in terms.iter().enumerate() {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(t, &w)| format!("{t:<w$}"))
            .collect();
        out.push_str(&format!(
            "  row {}:  {}   row sum {}\n",
            r + 1,
            cells.join("   "),
            fmt_num(row_sums[r])
        ));
    }

    let mut sum_line = String::new();
    for (i, &v) in products.iter().flatten().enumerate() {
        match (i, v < 0.0) {
            (0, _) => sum_line.push_str(&fmt_num(v)),
            (_, true) => sum_line.push_str(&format!(" - {}", fmt_num(-v))),
            (_, false) => sum_line.push_str(&format!(" + {}", fmt_num(v))),
        }
    }
    out.push_str(&format!(
        "\nadd the nine products:\n  {sum_line} = {}\n",
        fmt_num(total)
    ));
    if rounded {
        out.push_str("  (numbers are shown rounded to 3 decimals)\n");
    }
    out.push_str(&format!("\noutput pixel = {}", fmt_num(total)));
    out
}

/// A 3x3 matrix as three lines of right-aligned numbers.
fn grid(m: &[[f32; 3]; 3]) -> Vec<String> {
    let cells: Vec<String> = m.iter().flatten().map(|&v| fmt_num(v)).collect();
    let width = cells.iter().map(|c| c.chars().count()).max().unwrap_or(1);
    cells
        .chunks(3)
        .map(|row| {
            row.iter()
                .map(|c| format!("{c:>width$}"))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}
