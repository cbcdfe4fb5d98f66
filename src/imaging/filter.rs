//! Sliding a [`Kernel`] over a [`GrayF`]: [`filter`] and its strided form, what happens at
//! the borders ([`Padding`]), the output size arithmetic a conv layer shares, and the Sobel
//! edge strength built from two filters.

use super::kernel::Kernel;
use super::GrayF;

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
        kernel.rows(),
        kernel.cols(),
        padding,
        stride,
    );
    // Where the kernel's top-left weight sits relative to the output pixel's anchor. For an
    // even kernel the extra row/column of padding goes after, as in PyTorch's "same".
    let (top, left) = match padding {
        Padding::Valid => (0, 0),
        _ => ((kernel.rows() - 1) / 2, (kernel.cols() - 1) / 2),
    };
    let mut out = Vec::with_capacity(out_h * out_w);
    for oy in 0..out_h {
        for ox in 0..out_w {
            let y0 = (oy * stride) as isize - top as isize;
            let x0 = (ox * stride) as isize - left as isize;
            let mut acc = 0.0;
            for ky in 0..kernel.rows() {
                for kx in 0..kernel.cols() {
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
}
