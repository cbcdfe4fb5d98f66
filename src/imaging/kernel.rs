//! The weights a filter slides over an image: [`Kernel`], the classic teaching kernels
//! (Sobel, Laplacian, box and Gaussian blur, sharpen), and a parser for kernels typed by a
//! learner whose errors ([`KernelParseError`]) point at the row and column to fix.

use std::fmt;

use super::fmt::fmt_num;

/// The largest kernel side [`Kernel::parse`] accepts: enough for any teaching kernel, small
/// enough that a typo cannot make a 256 px photo take seconds to filter.
pub const MAX_KERNEL_SIDE: usize = 15;

/// A rectangular grid of weights slid over an image.
#[derive(Debug, Clone, PartialEq)]
pub struct Kernel {
    rows: usize,
    cols: usize,
    weights: Vec<f32>,
}

impl Kernel {
    /// A kernel from row-major weights.
    ///
    /// # Panics
    /// If a side is 0 or `weights.len() != rows * cols`.
    pub fn new(rows: usize, cols: usize, weights: Vec<f32>) -> Self {
        assert!(rows > 0 && cols > 0, "a kernel needs at least one weight");
        assert_eq!(
            weights.len(),
            rows * cols,
            "Kernel::new: wrong number of weights"
        );
        Self {
            rows,
            cols,
            weights,
        }
    }

    /// A 3x3 kernel from its rows.
    pub fn from_3x3(rows: [[f32; 3]; 3]) -> Self {
        Self::new(3, 3, rows.iter().flatten().copied().collect())
    }

    /// Number of rows (the kernel's height).
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Number of columns (the kernel's width).
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// The weight in row `r`, column `c`.
    pub fn get(&self, r: usize, c: usize) -> f32 {
        self.weights[r * self.cols + c]
    }

    /// All weights, row-major.
    pub fn weights(&self) -> &[f32] {
        &self.weights
    }

    /// The sum of the weights: 1 for a kernel that keeps brightness (blurs, sharpen), 0 for a
    /// high-pass kernel that answers 0 on flat regions (Sobel, Laplacian).
    pub fn sum(&self) -> f32 {
        self.weights.iter().sum()
    }

    /// The rows of a 3x3 kernel, `None` for other sizes.
    pub fn to_3x3(&self) -> Option<[[f32; 3]; 3]> {
        if self.rows != 3 || self.cols != 3 {
            return None;
        }
        let mut out = [[0.0; 3]; 3];
        for (r, row) in out.iter_mut().enumerate() {
            for (c, v) in row.iter_mut().enumerate() {
                *v = self.get(r, c);
            }
        }
        Some(out)
    }

    /// The kernel rotated by 180°. Filtering with the flipped kernel is textbook convolution;
    /// for a symmetric kernel the flip changes nothing.
    pub fn flipped(&self) -> Kernel {
        Self::new(
            self.rows,
            self.cols,
            self.weights.iter().rev().copied().collect(),
        )
    }

    /// The 3x3 kernel that copies its input: 1 in the centre.
    pub fn identity() -> Kernel {
        Self::from_3x3([[0.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 0.0]])
    }

    /// Sobel x: positive where the image gets brighter from left to right, so it finds
    /// vertical edges.
    pub fn sobel_x() -> Kernel {
        Self::from_3x3([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])
    }

    /// Sobel y: positive where the image gets brighter from top to bottom, so it finds
    /// horizontal edges.
    pub fn sobel_y() -> Kernel {
        Self::from_3x3([[-1.0, -2.0, -1.0], [0.0, 0.0, 0.0], [1.0, 2.0, 1.0]])
    }

    /// The 4-neighbour Laplacian: centre against its up, down, left and right neighbours.
    pub fn laplacian4() -> Kernel {
        Self::from_3x3([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]])
    }

    /// The 8-neighbour Laplacian: centre against all eight neighbours, diagonals included.
    pub fn laplacian8() -> Kernel {
        Self::from_3x3([[1.0, 1.0, 1.0], [1.0, -8.0, 1.0], [1.0, 1.0, 1.0]])
    }

    /// Sharpen: the identity plus a 4-neighbour Laplacian's negative (sums to 1).
    pub fn sharpen() -> Kernel {
        Self::from_3x3([[0.0, -1.0, 0.0], [-1.0, 5.0, -1.0], [0.0, -1.0, 0.0]])
    }

    /// An `n x n` box blur: every weight `1 / n²`.
    ///
    /// # Panics
    /// If `n` is 0.
    pub fn box_blur(n: usize) -> Kernel {
        assert!(n > 0, "a box blur needs a size of at least 1");
        Self::new(n, n, vec![1.0 / (n * n) as f32; n * n])
    }

    /// An `n x n` Gaussian blur with standard deviation `sigma` pixels, normalised so the
    /// weights sum to 1 (a truncated Gaussian would otherwise darken the image).
    ///
    /// # Panics
    /// If `n` is 0 or `sigma` is not a positive number.
    pub fn gaussian(n: usize, sigma: f32) -> Kernel {
        assert!(n > 0, "a Gaussian kernel needs a size of at least 1");
        assert!(sigma > 0.0 && sigma.is_finite(), "sigma must be positive");
        let centre = (n as f64 - 1.0) / 2.0;
        let two_s2 = 2.0 * f64::from(sigma).powi(2);
        let mut w = Vec::with_capacity(n * n);
        for r in 0..n {
            for c in 0..n {
                let d2 = (r as f64 - centre).powi(2) + (c as f64 - centre).powi(2);
                w.push((-d2 / two_s2).exp());
            }
        }
        let total: f64 = w.iter().sum();
        Self::new(n, n, w.iter().map(|&v| (v / total) as f32).collect())
    }

    /// Parse a kernel typed by a learner: rows separated by `;` or new lines, numbers by
    /// spaces or commas, e.g. `1 0 -1; 2 0 -2; 1 0 -1`. Also accepted: the Unicode minus and
    /// dashes a word processor produces, fractions like `1/9`, surrounding brackets, blank
    /// rows and trailing separators. Errors say which row and column (counted from 1) to fix.
    pub fn parse(text: &str) -> Result<Kernel, KernelParseError> {
        let cleaned: String = text
            .chars()
            .map(|ch| match ch {
                // U+2212 minus, U+2012/U+2013/U+2014 dashes, U+FE63 and U+FF0D hyphen-minus.
                '\u{2212}' | '\u{2012}' | '\u{2013}' | '\u{2014}' | '\u{fe63}' | '\u{ff0d}' => '-',
                // A closing bracket ends a row, so `[[1, 0], [0, 1]]` reads as two rows.
                ']' | '}' => ';',
                '[' | '{' | ',' => ' ',
                other => other,
            })
            .collect();
        let mut rows: Vec<Vec<f32>> = Vec::new();
        for line in cleaned.split([';', '\n']) {
            let tokens: Vec<&str> = line.split_whitespace().collect();
            if tokens.is_empty() {
                continue;
            }
            let row = rows.len() + 1;
            let mut values = Vec::with_capacity(tokens.len());
            for (i, token) in tokens.iter().enumerate() {
                values.push(parse_weight(token, row, i + 1)?);
            }
            if let Some(first) = rows.first() {
                if values.len() != first.len() {
                    return Err(KernelParseError::Ragged {
                        row,
                        found: values.len(),
                        expected: first.len(),
                    });
                }
            }
            rows.push(values);
        }
        let Some(first) = rows.first() else {
            return Err(KernelParseError::Empty);
        };
        let (n_rows, n_cols) = (rows.len(), first.len());
        if n_rows > MAX_KERNEL_SIDE || n_cols > MAX_KERNEL_SIDE {
            return Err(KernelParseError::TooLarge {
                rows: n_rows,
                cols: n_cols,
            });
        }
        Ok(Kernel::new(n_rows, n_cols, rows.concat()))
    }
}

fn parse_weight(token: &str, row: usize, col: usize) -> Result<f32, KernelParseError> {
    let number = |s: &str| -> Result<f32, KernelParseError> {
        let v: f32 = s.parse().map_err(|_| KernelParseError::NotANumber {
            row,
            col,
            token: token.to_string(),
        })?;
        if v.is_finite() {
            Ok(v)
        } else {
            Err(KernelParseError::NotFinite {
                row,
                col,
                token: token.to_string(),
            })
        }
    };
    match token.split_once('/') {
        Some((num, den)) => {
            let (num, den) = (number(num)?, number(den)?);
            if den == 0.0 {
                Err(KernelParseError::DivisionByZero {
                    row,
                    col,
                    token: token.to_string(),
                })
            } else {
                Ok(num / den)
            }
        }
        None => number(token),
    }
}

impl fmt::Display for Kernel {
    /// Rows on separate lines, columns right-aligned, at most three decimals: text that
    /// [`Kernel::parse`] reads back (exactly when no weight needs more decimals).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let cells: Vec<String> = self.weights.iter().map(|&v| fmt_num(v)).collect();
        let width = cells.iter().map(|c| c.chars().count()).max().unwrap_or(1);
        for r in 0..self.rows {
            if r > 0 {
                writeln!(f)?;
            }
            let row: Vec<String> = cells[r * self.cols..(r + 1) * self.cols]
                .iter()
                .map(|c| format!("{c:>width$}"))
                .collect();
            write!(f, "{}", row.join(" "))?;
        }
        Ok(())
    }
}

/// Why a typed kernel could not be read. Rows and columns count from 1.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum KernelParseError {
    /// Nothing but whitespace and separators.
    #[error(
        "the kernel is empty: type rows of numbers separated by `;` or new lines, \
         for example `1 0 -1; 2 0 -2; 1 0 -1`"
    )]
    Empty,
    /// A token that is not a number.
    #[error("row {row}, column {col}: `{token}` is not a number")]
    NotANumber {
        row: usize,
        col: usize,
        token: String,
    },
    /// Infinity or NaN.
    #[error("row {row}, column {col}: `{token}` is not a finite number")]
    NotFinite {
        row: usize,
        col: usize,
        token: String,
    },
    /// A fraction with denominator 0.
    #[error("row {row}, column {col}: `{token}` divides by zero")]
    DivisionByZero {
        row: usize,
        col: usize,
        token: String,
    },
    /// A row with a different length from the first row.
    #[error("row {row} has {found} numbers, expected {expected} (like row 1): every row needs the same count")]
    Ragged {
        row: usize,
        found: usize,
        expected: usize,
    },
    /// More rows or columns than [`MAX_KERNEL_SIDE`].
    #[error(
        "the kernel is {rows}x{cols}; the largest allowed is {MAX_KERNEL_SIDE}x{MAX_KERNEL_SIDE}"
    )]
    TooLarge { rows: usize, cols: usize },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_accepts_the_usual_ways_of_typing_a_kernel() {
        let sobel = Kernel::sobel_x();
        for text in [
            "1 0 -1; 2 0 -2; 1 0 -1",
            "1, 0, -1\n2, 0, -2\n1, 0, -1\n",
            "  1\t0  -1 ;; 2 0 -2;\n\n 1 0 -1 ;",
            "[[1, 0, -1], [2, 0, -2], [1, 0, -1]]",
            "1 0 \u{2212}1; 2 0 \u{2013}2; 1 0 -1",
            "1.0 0 -1e0; +2 0 -2; 1 -0 -1",
        ] {
            assert_eq!(Kernel::parse(text).unwrap(), sobel.flipped(), "{text:?}");
        }
        let blur = Kernel::parse("1/9 1/9 1/9; 1/9 1/9 1/9; 1/9 1/9 1/9").unwrap();
        assert!((blur.sum() - 1.0).abs() < 1e-6);
        assert_eq!(Kernel::parse("5").unwrap(), Kernel::new(1, 1, vec![5.0]));
        assert_eq!(Kernel::parse("1 2").unwrap().cols(), 2);
        // Display prints text that parses back to the same kernel.
        let k = Kernel::parse("0.5 -1; 2 1/4").unwrap();
        assert_eq!(k.to_string(), " 0.5   -1\n   2 0.25");
        assert_eq!(Kernel::parse(&k.to_string()).unwrap(), k);
    }

    #[test]
    fn parse_errors_point_at_the_problem() {
        use KernelParseError as E;
        assert_eq!(Kernel::parse(""), Err(E::Empty));
        assert_eq!(Kernel::parse(" ;\n ; "), Err(E::Empty));
        assert_eq!(
            Kernel::parse("1 0 -1; 2 0; 1 0 -1"),
            Err(E::Ragged {
                row: 2,
                found: 2,
                expected: 3
            })
        );
        assert_eq!(Kernel::parse("1 0 -1; 2 0 -2; 1 0 -1").unwrap().rows(), 3);
        let err = Kernel::parse("1 0 -1\n2 0 -2 5").unwrap_err();
        assert_eq!(
            err.to_string(),
            "row 2 has 4 numbers, expected 3 (like row 1): every row needs the same count"
        );
        assert_eq!(
            Kernel::parse("1 0 -1; 2 x -2"),
            Err(E::NotANumber {
                row: 2,
                col: 2,
                token: "x".into()
            })
        );
        assert_eq!(
            Kernel::parse("1 0 -1; 2 x -2").unwrap_err().to_string(),
            "row 2, column 2: `x` is not a number"
        );
        assert!(matches!(
            Kernel::parse("1 2; inf 3"),
            Err(E::NotFinite { row: 2, col: 1, .. })
        ));
        assert!(matches!(Kernel::parse("NaN"), Err(E::NotFinite { .. })));
        assert!(matches!(
            Kernel::parse("1/0"),
            Err(E::DivisionByZero { row: 1, col: 1, .. })
        ));
        assert!(matches!(Kernel::parse("1/a"), Err(E::NotANumber { .. })));
        assert!(matches!(
            Kernel::parse("1 - 1"),
            Err(E::NotANumber { col: 2, .. })
        ));
        let big = vec!["1"; 16].join(" ");
        assert_eq!(Kernel::parse(&big), Err(E::TooLarge { rows: 1, cols: 16 }));
    }
}
