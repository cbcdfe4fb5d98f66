//! Hand-written image filtering for the first lesson: the sliding dot product a convolutional
//! layer computes, before any learning happens.
//!
//! Images are [`GrayF`] (one `f32` per pixel, 0..1 when they come from a photo). [`filter`]
//! slides a [`Kernel`] over them with a choice of [`Padding`] at the borders and an optional
//! stride, exactly as a CNN layer does (cross-correlation, see [`filter`]). The classic kernels
//! (Sobel, Laplacian, box and Gaussian blur, sharpen) are here, as is a parser for kernels
//! typed by a learner, with errors that point at the row and column to fix. The display
//! helpers turn signed responses into pictures, [`worked_example`] spells out one output pixel
//! as nine products and a sum, and the statistics helpers give experiments numbers to report.
//! Nothing here allocates per pixel or uses a tensor library: the point is that a learner can
//! read it.

use std::fmt;

use image::{GrayImage, Rgb, RgbImage};

/// The largest kernel side [`Kernel::parse`] accepts: enough for any teaching kernel, small
/// enough that a typo cannot make a 256 px photo take seconds to filter.
pub const MAX_KERNEL_SIDE: usize = 15;

/// Gray level of an sRGB pixel by the ITU-R 601-2 luma transform,
/// L = R·299/1000 + G·587/1000 + B·114/1000, in the 16-bit fixed point Pillow uses for
/// `Image.convert("L")`, so results match Pillow (and so the lesson's numbers match what a
/// learner gets in Python) pixel for pixel. Gray pixels (R = G = B) keep their value.
pub fn luma(r: u8, g: u8, b: u8) -> u8 {
    // 19595 + 38470 + 7471 = 65536: the three weights scaled by 2^16, then rounded.
    let l = (u32::from(r) * 19595 + u32::from(g) * 38470 + u32::from(b) * 7471 + 0x8000) >> 16;
    l as u8
}

/// An RGB image converted to gray with [`luma`].
pub fn to_gray(img: &RgbImage) -> GrayImage {
    GrayImage::from_fn(img.width(), img.height(), |x, y| {
        let [r, g, b] = img.get_pixel(x, y).0;
        image::Luma([luma(r, g, b)])
    })
}

/// A single-channel image of `f32` values, row-major. Filter responses are `GrayF` too, so
/// they can be negative and exceed 1.
#[derive(Debug, Clone, PartialEq)]
pub struct GrayF {
    width: usize,
    height: usize,
    data: Vec<f32>,
}

impl GrayF {
    /// An image from row-major values.
    ///
    /// # Panics
    /// If `data.len() != width * height`.
    pub fn new(width: usize, height: usize, data: Vec<f32>) -> Self {
        assert_eq!(
            data.len(),
            width * height,
            "GrayF::new: {} values for a {width}x{height} image",
            data.len()
        );
        Self {
            width,
            height,
            data,
        }
    }

    /// An image with every pixel equal to `value`.
    pub fn filled(width: usize, height: usize, value: f32) -> Self {
        Self::new(width, height, vec![value; width * height])
    }

    /// An image whose pixel `(x, y)` is `f(x, y)`.
    pub fn from_fn(width: usize, height: usize, mut f: impl FnMut(usize, usize) -> f32) -> Self {
        let mut data = Vec::with_capacity(width * height);
        for y in 0..height {
            for x in 0..width {
                data.push(f(x, y));
            }
        }
        Self::new(width, height, data)
    }

    /// A gray image with 0..255 mapped to 0..1.
    pub fn from_gray(img: &GrayImage) -> Self {
        Self::new(
            img.width() as usize,
            img.height() as usize,
            img.as_raw().iter().map(|&v| f32::from(v) / 255.0).collect(),
        )
    }

    /// An RGB image converted with [`luma`], then mapped to 0..1.
    pub fn from_rgb(img: &RgbImage) -> Self {
        Self::from_gray(&to_gray(img))
    }

    /// Width in pixels.
    pub fn width(&self) -> usize {
        self.width
    }

    /// Height in pixels.
    pub fn height(&self) -> usize {
        self.height
    }

    /// The pixel in column `x`, row `y`.
    pub fn get(&self, x: usize, y: usize) -> f32 {
        assert!(
            x < self.width && y < self.height,
            "({x}, {y}) is outside the image"
        );
        self.data[y * self.width + x]
    }

    /// Set the pixel in column `x`, row `y`.
    pub fn set(&mut self, x: usize, y: usize, value: f32) {
        assert!(
            x < self.width && y < self.height,
            "({x}, {y}) is outside the image"
        );
        self.data[y * self.width + x] = value;
    }

    /// All pixels, row-major.
    pub fn as_slice(&self) -> &[f32] {
        &self.data
    }

    /// The pixels, row-major, by value.
    pub fn into_vec(self) -> Vec<f32> {
        self.data
    }

    /// A new image with `f` applied to every pixel.
    pub fn map(&self, f: impl Fn(f32) -> f32) -> GrayF {
        Self::new(
            self.width,
            self.height,
            self.data.iter().map(|&v| f(v)).collect(),
        )
    }

    /// The 3x3 neighbourhood centred on `(x, y)`, as rows, for [`worked_example`]; `None` when
    /// part of it lies outside the image.
    pub fn patch3(&self, x: usize, y: usize) -> Option<[[f32; 3]; 3]> {
        if x == 0 || y == 0 || x + 1 >= self.width || y + 1 >= self.height {
            return None;
        }
        let mut patch = [[0.0; 3]; 3];
        for (r, row) in patch.iter_mut().enumerate() {
            for (c, v) in row.iter_mut().enumerate() {
                *v = self.get(x + c - 1, y + r - 1);
            }
        }
        Some(patch)
    }
}

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

/// What happens where the kernel hangs over the border of the image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Padding {
    /// Pixels outside the image count as 0; the output keeps the input size ("same"). Dark
    /// borders make edge kernels answer along the frame.
    Zero,
    /// No padding: the kernel only visits places where it fits, so the output shrinks to
    /// (h − k + 1) × (w − k + 1).
    Valid,
    /// Outside pixels repeat the nearest edge pixel; same size, no artificial frame.
    Replicate,
    /// Outside pixels mirror the image without repeating the edge (…c b | a b c | b a…);
    /// same size.
    Reflect,
}

/// The output size `(height, width)` of filtering an `in_h x in_w` image with a `k_h x k_w`
/// kernel. `Valid` gives `(in − k) / stride + 1` (0 when the kernel does not fit); the other
/// modes pad so that the kernel is centred on every `stride`-th pixel, giving
/// `(in − 1) / stride + 1`, the input size when `stride` is 1.
///
/// # Panics
/// If `stride` is 0.
pub fn output_size(
    in_h: usize,
    in_w: usize,
    k_h: usize,
    k_w: usize,
    padding: Padding,
    stride: usize,
) -> (usize, usize) {
    assert!(stride > 0, "the stride must be at least 1");
    let side = |n: usize, k: usize| match padding {
        Padding::Valid if n >= k => (n - k) / stride + 1,
        Padding::Valid => 0,
        _ if n == 0 => 0,
        _ => (n - 1) / stride + 1,
    };
    (side(in_h, k_h), side(in_w, k_w))
}

/// Slide `kernel` over `img` with stride 1: each output pixel is the sum of the kernel weights
/// times the pixels under them.
///
/// This is cross-correlation, what deep-learning libraries call "convolution" and what a CNN
/// layer computes: the kernel's top-left weight meets the top-left pixel of the window.
/// Textbook (signal-processing) convolution first flips the kernel by 180°
/// ([`Kernel::flipped`]); for symmetric kernels such as blurs and Laplacians the two are the
/// same, and for learned kernels the distinction does not matter, since the network simply
/// learns the flipped weights.
pub fn filter(img: &GrayF, kernel: &Kernel, padding: Padding) -> GrayF {
    filter_strided(img, kernel, padding, 1)
}

/// [`filter`] evaluated only at every `stride`-th row and column, as a strided conv layer
/// does; see [`output_size`] for the result's size.
///
/// # Panics
/// If `stride` is 0.
pub fn filter_strided(img: &GrayF, kernel: &Kernel, padding: Padding, stride: usize) -> GrayF {
    let (out_h, out_w) = output_size(
        img.height,
        img.width,
        kernel.rows,
        kernel.cols,
        padding,
        stride,
    );
    // Where the kernel's top-left weight sits relative to the output pixel's anchor. For an
    // even kernel the extra row/column of padding goes after, as in PyTorch's "same".
    let (top, left) = match padding {
        Padding::Valid => (0, 0),
        _ => ((kernel.rows - 1) / 2, (kernel.cols - 1) / 2),
    };
    let mut out = Vec::with_capacity(out_h * out_w);
    for oy in 0..out_h {
        for ox in 0..out_w {
            let y0 = (oy * stride) as isize - top as isize;
            let x0 = (ox * stride) as isize - left as isize;
            let mut acc = 0.0;
            for ky in 0..kernel.rows {
                for kx in 0..kernel.cols {
                    let v = sample(img, y0 + ky as isize, x0 + kx as isize, padding);
                    acc += kernel.get(ky, kx) * v;
                }
            }
            out.push(acc);
        }
    }
    GrayF::new(out_w, out_h, out)
}

/// The pixel at `(y, x)`, which may lie outside the image, under the padding rule.
fn sample(img: &GrayF, y: isize, x: isize, padding: Padding) -> f32 {
    let (h, w) = (img.height as isize, img.width as isize);
    let (y, x) = match padding {
        Padding::Zero | Padding::Valid => {
            if y < 0 || y >= h || x < 0 || x >= w {
                return 0.0;
            }
            (y, x)
        }
        Padding::Replicate => (y.clamp(0, h - 1), x.clamp(0, w - 1)),
        Padding::Reflect => (reflect(y, h), reflect(x, w)),
    };
    img.data[(y * w + x) as usize]
}

/// Mirror an index into 0..n without repeating the edge; periodic, so it also works when the
/// kernel is larger than the image.
fn reflect(i: isize, n: isize) -> isize {
    if n == 1 {
        return 0;
    }
    let period = 2 * (n - 1);
    let i = i.rem_euclid(period);
    if i >= n {
        period - i
    } else {
        i
    }
}

/// Edge strength `sqrt(gx² + gy²)` from the two Sobel responses: large on edges of any
/// direction, 0 on flat regions.
pub fn gradient_magnitude(img: &GrayF, padding: Padding) -> GrayF {
    let gx = filter(img, &Kernel::sobel_x(), padding);
    let gy = filter(img, &Kernel::sobel_y(), padding);
    let data = gx
        .data
        .iter()
        .zip(&gy.data)
        .map(|(&a, &b)| (a * a + b * b).sqrt())
        .collect();
    GrayF::new(gx.width, gx.height, data)
}

/// How to turn a filter response into a picture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResponseView {
    /// |v| scaled so the strongest response is white: where is there an edge at all.
    Abs,
    /// Mid-grey at 0, white for the strongest positive and black for the strongest negative
    /// response: which side of the edge is brighter.
    Signed,
    /// Values clamped to 0..1 and shown as they are: for kernels that keep brightness (blur,
    /// sharpen, identity) on 0..1 images.
    Clamped,
}

/// Render a response as an RGB picture (gray, R = G = B).
pub fn to_rgb(img: &GrayF, view: ResponseView) -> RgbImage {
    let max_abs = max_abs(img);
    // An all-zero response would divide by zero; it renders as black (Abs) or mid-grey.
    let scale = if max_abs > 0.0 { 1.0 / max_abs } else { 0.0 };
    let level = |v: f32| -> u8 {
        let l = match view {
            ResponseView::Abs => v.abs() * scale * 255.0,
            ResponseView::Signed => 128.0 + v * scale * 127.0,
            ResponseView::Clamped => v.clamp(0.0, 1.0) * 255.0,
        };
        l.round().clamp(0.0, 255.0) as u8
    };
    RgbImage::from_fn(img.width as u32, img.height as u32, |x, y| {
        let l = level(img.get(x as usize, y as usize));
        Rgb([l, l, l])
    })
}

/// [`to_rgb`] with [`ResponseView::Abs`].
pub fn display_abs(img: &GrayF) -> RgbImage {
    to_rgb(img, ResponseView::Abs)
}

/// [`to_rgb`] with [`ResponseView::Signed`].
pub fn display_signed(img: &GrayF) -> RgbImage {
    to_rgb(img, ResponseView::Signed)
}

/// [`to_rgb`] with [`ResponseView::Clamped`].
pub fn display_clamped(img: &GrayF) -> RgbImage {
    to_rgb(img, ResponseView::Clamped)
}

/// Spell out how one output pixel comes from a 3x3 patch and a 3x3 kernel: the patch and the
/// kernel side by side, the nine products row by row, the row sums and the total. Every
/// number is computed here, so the text always agrees with [`filter`] (the total is summed in
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

/// True when [`fmt_num`] shows `v` without rounding it.
fn shown_exactly(v: f32) -> bool {
    fmt_num(v).parse::<f32>().is_ok_and(|shown| shown == v)
}

/// A number as a learner would write it: whole numbers without decimals, others with up to
/// three, never `-0`.
fn fmt_num(v: f32) -> String {
    let s = if v.fract() == 0.0 && v.abs() < 1e7 {
        format!("{v:.0}")
    } else {
        let s = format!("{v:.3}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    };
    if s == "-0" {
        "0".to_string()
    } else {
        s
    }
}

/// A rectangle of pixels, for statistics over part of an image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Region {
    /// Left column.
    pub x: usize,
    /// Top row.
    pub y: usize,
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
}

/// Mean of |v| over the image: how strongly a filter answers on average (0 for an empty
/// image).
pub fn mean_abs(img: &GrayF) -> f32 {
    if img.data.is_empty() {
        return 0.0;
    }
    (img.data.iter().map(|v| f64::from(v.abs())).sum::<f64>() / img.data.len() as f64) as f32
}

/// The largest |v| in the image (0 for an empty image).
pub fn max_abs(img: &GrayF) -> f32 {
    img.data.iter().fold(0.0, |m, v| m.max(v.abs()))
}

/// Mean of |v| inside `region`, clipped to the image (0 if nothing is left): for example a
/// filter's response on a flat region, which a high-pass kernel keeps near 0.
pub fn mean_abs_in(img: &GrayF, region: Region) -> f32 {
    let x1 = (region.x + region.width).min(img.width);
    let y1 = (region.y + region.height).min(img.height);
    let mut sum = 0.0f64;
    let mut count = 0usize;
    for y in region.y.min(y1)..y1 {
        for x in region.x.min(x1)..x1 {
            sum += f64::from(img.get(x, y).abs());
            count += 1;
        }
    }
    if count == 0 {
        0.0
    } else {
        (sum / count as f64) as f32
    }
}

/// Share of pixels with |v| above `threshold`: how much of the image a filter calls an edge.
pub fn fraction_above(img: &GrayF, threshold: f32) -> f32 {
    if img.data.is_empty() {
        return 0.0;
    }
    img.data.iter().filter(|v| v.abs() > threshold).count() as f32 / img.data.len() as f32
}

/// The `size x size` window with the least variance, searched on a grid of half-window steps:
/// the "flat region" of a photo (sky, a wall, a background) on which to measure a filter's
/// response. The window is clipped to the image if the image is smaller.
pub fn flattest_region(img: &GrayF, size: usize) -> Region {
    let (sw, sh) = (size.min(img.width).max(1), size.min(img.height).max(1));
    let step = (size / 2).max(1);
    let mut best = (
        f64::INFINITY,
        Region {
            x: 0,
            y: 0,
            width: sw,
            height: sh,
        },
    );
    let mut y = 0;
    while y + sh <= img.height {
        let mut x = 0;
        while x + sw <= img.width {
            let (mut s, mut s2) = (0.0f64, 0.0f64);
            for yy in y..y + sh {
                for &v in &img.data[yy * img.width + x..yy * img.width + x + sw] {
                    s += f64::from(v);
                    s2 += f64::from(v) * f64::from(v);
                }
            }
            let n = (sw * sh) as f64;
            let var = s2 / n - (s / n).powi(2);
            if var < best.0 {
                best = (
                    var,
                    Region {
                        x,
                        y,
                        width: sw,
                        height: sh,
                    },
                );
            }
            x += step;
        }
        y += step;
    }
    best.1
}

/// A `width x height` image, 0 on the left half and 1 on the right: one vertical step edge
/// (Sobel x answers along it, Sobel y does not).
pub fn vertical_step(width: usize, height: usize) -> GrayF {
    GrayF::from_fn(width, height, |x, _| if x >= width / 2 { 1.0 } else { 0.0 })
}

/// A `width x height` image, 0 on the top half and 1 on the bottom: one horizontal step edge.
pub fn horizontal_step(width: usize, height: usize) -> GrayF {
    GrayF::from_fn(
        width,
        height,
        |_, y| if y >= height / 2 { 1.0 } else { 0.0 },
    )
}

/// A 64x64 teaching image with one vertical and one horizontal step edge: dark everywhere
/// except the bright bottom-right quadrant (x ≥ 32 and y ≥ 32). Sobel x lights up the
/// quadrant's left side, Sobel y its top side, the Laplacian both plus the corner, and every
/// kernel that sums to 0 stays at 0 in the flat top-left.
pub fn corner_edges() -> GrayF {
    GrayF::from_fn(64, 64, |x, y| if x >= 32 && y >= 32 { 1.0 } else { 0.0 })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 1 2 3 / 4 5 6 / 7 8 9
    fn three() -> GrayF {
        GrayF::new(3, 3, (1..=9).map(|v| v as f32).collect())
    }

    /// 1..16 in a 4x4 grid.
    fn four() -> GrayF {
        GrayF::new(4, 4, (1..=16).map(|v| v as f32).collect())
    }

    fn ones3() -> Kernel {
        Kernel::new(3, 3, vec![1.0; 9])
    }

    fn values(g: &GrayF) -> Vec<f32> {
        g.as_slice().to_vec()
    }

    #[test]
    fn luma_matches_pillow() {
        // Values from Pillow 13's Image.convert("L"), including cases where the plain
        // 1000-based rounding would differ by one.
        assert_eq!(luma(0, 0, 250), 28);
        assert_eq!(luma(0, 4, 168), 21);
        assert_eq!(luma(0, 8, 86), 14);
        assert_eq!(luma(255, 255, 255), 255);
        assert_eq!(luma(255, 0, 0), 76);
        for v in [0, 1, 127, 200, 255] {
            assert_eq!(luma(v, v, v), v);
        }
        let gray = to_gray(&crate::data::photo("chelsea").unwrap());
        // Pillow: sum of Image.open("chelsea.png").convert("L") over all pixels.
        let sum: u64 = gray.as_raw().iter().map(|&v| u64::from(v)).sum();
        assert_eq!(sum, 5_199_360);
        assert_eq!(&gray.as_raw()[..5], &[126, 124, 123, 123, 125]);
    }

    #[test]
    fn right_neighbour_kernel_shows_each_padding_mode() {
        // Cross-correlation with a 1 right of centre copies the right neighbour (textbook
        // convolution would copy the left one).
        let k = Kernel::from_3x3([[0.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, 0.0, 0.0]]);
        let img = three();
        assert_eq!(
            values(&filter(&img, &k, Padding::Zero)),
            [2.0, 3.0, 0.0, 5.0, 6.0, 0.0, 8.0, 9.0, 0.0]
        );
        assert_eq!(
            values(&filter(&img, &k, Padding::Replicate)),
            [2.0, 3.0, 3.0, 5.0, 6.0, 6.0, 8.0, 9.0, 9.0]
        );
        assert_eq!(
            values(&filter(&img, &k, Padding::Reflect)),
            [2.0, 3.0, 2.0, 5.0, 6.0, 5.0, 8.0, 9.0, 8.0]
        );
        let valid = filter(&img, &k, Padding::Valid);
        assert_eq!((valid.width(), valid.height()), (1, 1));
        assert_eq!(values(&valid), [6.0]);
        // The flipped kernel is convolution: it copies the left neighbour.
        assert_eq!(
            values(&filter(&img, &k.flipped(), Padding::Zero)),
            [0.0, 1.0, 2.0, 0.0, 4.0, 5.0, 0.0, 7.0, 8.0]
        );
    }

    #[test]
    fn box_sum_on_3x3_by_hand() {
        let img = three();
        assert_eq!(
            values(&filter(&img, &ones3(), Padding::Zero)),
            [12.0, 21.0, 16.0, 27.0, 45.0, 33.0, 24.0, 39.0, 28.0]
        );
        let rep = filter(&img, &ones3(), Padding::Replicate);
        assert_eq!(rep.get(0, 0), 21.0); // 1+1+2 + 1+1+2 + 4+4+5
        assert_eq!(rep.get(1, 1), 45.0);
        let refl = filter(&img, &ones3(), Padding::Reflect);
        assert_eq!(refl.get(0, 0), 33.0); // 5+4+5 + 2+1+2 + 5+4+5
        assert_eq!(values(&filter(&img, &ones3(), Padding::Valid)), [45.0]);
    }

    #[test]
    fn sobel_on_4x4_valid_by_hand() {
        // The ramp 1..16 rises by 1 per column and 4 per row.
        let gx = filter(&four(), &Kernel::sobel_x(), Padding::Valid);
        assert_eq!((gx.width(), gx.height()), (2, 2));
        assert_eq!(values(&gx), [8.0; 4]); // (1+2+1) weights x a difference of 2 columns
        let gy = filter(&four(), &Kernel::sobel_y(), Padding::Valid);
        assert_eq!(values(&gy), [32.0; 4]); // (1+2+1) x a difference of 2 rows (8)
    }

    #[test]
    fn strides_pick_every_other_position() {
        let z = filter_strided(&four(), &ones3(), Padding::Zero, 2);
        assert_eq!((z.width(), z.height()), (2, 2));
        assert_eq!(values(&z), [14.0, 30.0, 57.0, 99.0]);
        let v = filter_strided(&four(), &ones3(), Padding::Valid, 2);
        assert_eq!(values(&v), [54.0]);
    }

    #[test]
    fn output_sizes_for_each_mode() {
        assert_eq!(output_size(28, 28, 5, 5, Padding::Valid, 1), (24, 24));
        assert_eq!(output_size(28, 28, 5, 5, Padding::Zero, 1), (28, 28));
        assert_eq!(output_size(28, 28, 5, 5, Padding::Replicate, 1), (28, 28));
        assert_eq!(output_size(28, 28, 5, 5, Padding::Reflect, 2), (14, 14));
        assert_eq!(output_size(28, 28, 5, 5, Padding::Valid, 2), (12, 12));
        assert_eq!(output_size(4, 6, 3, 3, Padding::Valid, 1), (2, 4));
        assert_eq!(output_size(2, 2, 3, 3, Padding::Valid, 1), (0, 0));
        // The function agrees with what filtering produces.
        let img = GrayF::filled(7, 5, 1.0);
        for padding in [
            Padding::Zero,
            Padding::Valid,
            Padding::Replicate,
            Padding::Reflect,
        ] {
            for stride in 1..4 {
                let out = filter_strided(&img, &Kernel::box_blur(3), padding, stride);
                assert_eq!(
                    (out.height(), out.width()),
                    output_size(5, 7, 3, 3, padding, stride),
                    "{padding:?} stride {stride}"
                );
            }
        }
    }

    #[test]
    fn even_kernels_and_kernels_larger_than_the_image() {
        let k = Kernel::new(2, 2, vec![1.0; 4]);
        // Extra padding goes after: output (y, x) sums (y..y+2, x..x+2).
        let z = filter(&three(), &k, Padding::Zero);
        assert_eq!(
            values(&z),
            [12.0, 16.0, 9.0, 24.0, 28.0, 15.0, 15.0, 17.0, 9.0]
        );
        // A 5x5 kernel on a 2x2 image still reflects and replicates sensibly.
        let tiny = GrayF::new(2, 2, vec![1.0, 2.0, 3.0, 4.0]);
        for padding in [Padding::Reflect, Padding::Replicate] {
            let out = filter(&tiny, &Kernel::box_blur(5), padding);
            assert!(out.as_slice().iter().all(|v| v.is_finite() && *v > 0.0));
        }
    }

    #[test]
    fn sobel_x_sees_a_vertical_edge_and_sobel_y_does_not() {
        let img = vertical_step(16, 16);
        let gx = filter(&img, &Kernel::sobel_x(), Padding::Replicate);
        let gy = filter(&img, &Kernel::sobel_y(), Padding::Replicate);
        // Columns 7 and 8 straddle the edge: 4 = (1 + 2 + 1) x a step of 1.
        assert_eq!(gx.get(7, 5), 4.0);
        assert_eq!(gx.get(8, 5), 4.0);
        assert_eq!(gx.get(3, 5), 0.0);
        assert_eq!(max_abs(&gy), 0.0);
        // And the other way round for a horizontal edge.
        let img = horizontal_step(16, 16);
        assert_eq!(
            max_abs(&filter(&img, &Kernel::sobel_x(), Padding::Replicate)),
            0.0
        );
        assert_eq!(
            filter(&img, &Kernel::sobel_y(), Padding::Replicate).get(5, 8),
            4.0
        );
    }

    #[test]
    fn corner_edges_separate_the_two_directions() {
        let img = corner_edges();
        let gx = filter(&img, &Kernel::sobel_x(), Padding::Replicate);
        let gy = filter(&img, &Kernel::sobel_y(), Padding::Replicate);
        assert_eq!(gx.get(32, 50), 4.0); // on the vertical edge
        assert_eq!(gy.get(32, 50), 0.0);
        assert_eq!(gy.get(50, 32), 4.0); // on the horizontal edge
        assert_eq!(gx.get(50, 32), 0.0);
        let flat = Region {
            x: 0,
            y: 0,
            width: 30,
            height: 30,
        };
        assert_eq!(mean_abs_in(&gx, flat), 0.0);
        let mag = gradient_magnitude(&img, Padding::Replicate);
        assert_eq!(mag.get(32, 50), 4.0);
        assert!((mag.get(32, 32) - (9.0f32 + 9.0).sqrt()).abs() < 1e-6);
    }

    #[test]
    fn laplacians_give_zero_on_flat_and_linear_regions() {
        for k in [Kernel::laplacian4(), Kernel::laplacian8()] {
            assert_eq!(k.sum(), 0.0);
            let flat = filter(&GrayF::filled(8, 8, 0.7), &k, Padding::Replicate);
            assert!(max_abs(&flat) < 1e-6);
            // A ramp has no curvature: 0 away from the border.
            let ramp = GrayF::from_fn(8, 8, |x, y| x as f32 + 2.0 * y as f32);
            assert_eq!(filter(&ramp, &k, Padding::Valid).as_slice(), &[0.0; 36]);
        }
        // A single bright pixel: -4 at the centre, 1 at its four neighbours.
        let mut dot = GrayF::filled(5, 5, 0.0);
        dot.set(2, 2, 1.0);
        let l = filter(&dot, &Kernel::laplacian4(), Padding::Zero);
        assert_eq!((l.get(2, 2), l.get(2, 1), l.get(1, 1)), (-4.0, 1.0, 0.0));
    }

    #[test]
    fn blurs_sum_to_one_and_keep_constants() {
        for (n, sigma) in [(3, 1.0), (5, 1.4), (7, 0.5), (4, 2.0)] {
            let g = Kernel::gaussian(n, sigma);
            assert!((g.sum() - 1.0).abs() < 1e-5, "gaussian {n} {sigma}");
            // Symmetric, peaked in the middle for odd sizes.
            assert_eq!(g.flipped(), g);
            if n % 2 == 1 {
                let c = n / 2;
                assert!(g.weights().iter().all(|&w| w <= g.get(c, c)));
            }
        }
        assert!((Kernel::gaussian(3, 1.0).get(0, 0) - 0.075_113_6).abs() < 1e-6);
        for n in [1, 3, 5] {
            assert!((Kernel::box_blur(n).sum() - 1.0).abs() < 1e-6);
            for padding in [
                Padding::Zero,
                Padding::Valid,
                Padding::Replicate,
                Padding::Reflect,
            ] {
                let out = filter(&GrayF::filled(9, 6, 0.25), &Kernel::box_blur(n), padding);
                let interior = if padding == Padding::Zero {
                    // Zero padding darkens the border; the interior stays constant.
                    out.get(4, 3)
                } else {
                    max_abs(&out)
                };
                assert!((interior - 0.25).abs() < 1e-6, "box {n} {padding:?}");
                if padding != Padding::Zero {
                    assert!(out.as_slice().iter().all(|v| (v - 0.25).abs() < 1e-6));
                }
            }
        }
        assert_eq!(Kernel::sharpen().sum(), 1.0);
        assert_eq!(
            filter(&three(), &Kernel::identity(), Padding::Zero),
            three()
        );
    }

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

    #[test]
    fn worked_example_is_computed_and_agrees_with_filter() {
        let patch = [[10.0, 10.0, 80.0], [10.0, 10.0, 80.0], [10.0, 10.0, 80.0]];
        let text = worked_example(patch, Kernel::sobel_x().to_3x3().unwrap());
        assert!(text.contains("10 × -2 = -20"), "{text}");
        assert!(text.contains("80 × 2 = 160"), "{text}");
        assert!(text.contains("row sum 140"), "{text}");
        assert!(
            text.contains("-10 + 0 + 80 - 20 + 0 + 160 - 10 + 0 + 80 = 280"),
            "{text}"
        );
        assert!(text.ends_with("output pixel = 280"), "{text}");
        assert!(!text.contains("rounded"), "{text}");
        // A box blur's 1/9 cannot be shown exactly, and the text says so.
        let blur = worked_example([[1.0; 3]; 3], Kernel::box_blur(3).to_3x3().unwrap());
        assert!(blur.contains("rounded to 3 decimals"), "{blur}");
        assert!(blur.contains("1 × 0.111 = 0.111"), "{blur}");
        assert!(blur.ends_with("output pixel = 1"), "{blur}");

        // On a patch from a real photo the total equals the filter's output at that pixel.
        // Pixel values 0..255 keep every product and sum exact in f32.
        let gray = to_gray(&crate::data::photo("coins").unwrap());
        let img = GrayF::from_fn(256, 202, |x, y| {
            f32::from(gray.get_pixel(x as u32, y as u32)[0])
        });
        let (x, y) = (100, 60);
        let kernel = Kernel::laplacian8();
        let expected = filter(&img, &kernel, Padding::Valid).get(x - 1, y - 1);
        let text = worked_example(img.patch3(x, y).unwrap(), kernel.to_3x3().unwrap());
        let last = text.lines().last().unwrap();
        assert_eq!(last, format!("output pixel = {}", fmt_num(expected)));
        assert!(img.patch3(0, 5).is_none());
    }

    #[test]
    fn numbers_are_formatted_for_learners() {
        assert_eq!(fmt_num(3.0), "3");
        assert_eq!(fmt_num(-0.0), "0");
        assert_eq!(fmt_num(0.25), "0.25");
        assert_eq!(fmt_num(1.0 / 3.0), "0.333");
        assert_eq!(fmt_num(-1.5), "-1.5");
    }

    #[test]
    fn display_helpers_map_responses_to_gray_levels() {
        let r = GrayF::new(3, 1, vec![-2.0, 0.0, 1.0]);
        let px = |img: &RgbImage| -> Vec<u8> { img.pixels().map(|p| p[0]).collect() };
        assert_eq!(px(&display_abs(&r)), [255, 0, 128]);
        assert_eq!(px(&display_signed(&r)), [1, 128, 192]);
        assert_eq!(px(&display_clamped(&r)), [0, 0, 255]);
        let zero = GrayF::filled(2, 2, 0.0);
        assert_eq!(px(&display_abs(&zero)), [0; 4]);
        assert_eq!(px(&display_signed(&zero)), [128; 4]);
        assert!(display_abs(&r)
            .pixels()
            .all(|p| p[0] == p[1] && p[1] == p[2]));
    }

    #[test]
    fn statistics_for_experiments() {
        let r = GrayF::new(2, 2, vec![-1.0, 1.0, 0.0, 2.0]);
        assert_eq!(mean_abs(&r), 1.0);
        assert_eq!(max_abs(&r), 2.0);
        assert_eq!(fraction_above(&r, 0.5), 0.75);
        let right = Region {
            x: 1,
            y: 0,
            width: 5,
            height: 5,
        };
        assert_eq!(mean_abs_in(&r, right), 1.5); // clipped to the right column
                                                 // The flattest 16x16 window of the corner image is one of the uniform quadrants.
        let reg = flattest_region(&corner_edges(), 16);
        assert_eq!((reg.width, reg.height), (16, 16));
        let inside = |a: usize| a + 16 <= 32 || a >= 32;
        assert!(inside(reg.x) && inside(reg.y), "{reg:?}");
        // On a real photo, a high-pass kernel answers less on the flattest region than on
        // average, and a blur does not change mean brightness much.
        let camera = GrayF::from_rgb(&crate::data::photo("camera").unwrap());
        let flat = flattest_region(&camera, 16);
        let lap = filter(&camera, &Kernel::laplacian4(), Padding::Replicate);
        assert!(mean_abs_in(&lap, flat) < 0.5 * mean_abs(&lap));
        let blurred = filter(&camera, &Kernel::gaussian(5, 1.0), Padding::Replicate);
        assert!((mean_abs(&blurred) - mean_abs(&camera)).abs() < 0.01);
    }
}
