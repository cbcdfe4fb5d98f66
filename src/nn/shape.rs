//! Shape and parameter-count arithmetic for the layers of a network, in PyTorch's semantics.
//!
//! These are plain functions over integers so that the quiz engine can check a learner's answer
//! ("what is the output size of a 3x3 convolution with stride 2 on 28 pixels?") with the very
//! formulas the network summary uses. Sizes are `i64` on purpose: a learner's input may be
//! negative or nonsensical, and that must be an error, never an overflow or a panic.

use thiserror::Error;

/// Why a shape computation has no answer.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ShapeError {
    /// An argument is out of its domain (kernel < 1, stride < 1, negative padding, ...).
    #[error("{name} must be {requirement}, got {value}")]
    BadArgument {
        /// The argument's name as in PyTorch (`kernel`, `stride`, ...).
        name: &'static str,
        /// What it must be, e.g. "at least 1".
        requirement: &'static str,
        /// The value given.
        value: i64,
    },
    /// Pooling padding larger than half the kernel (PyTorch refuses it too).
    #[error("padding {padding} is more than half the kernel size {kernel}")]
    PaddingTooLarge {
        /// The padding given.
        padding: i64,
        /// The kernel size.
        kernel: i64,
    },
    /// The window does not fit: the output would have fewer than one element.
    #[error(
        "output size would be {out} (input {input}, kernel {kernel}, stride {stride}, \
         padding {padding}, dilation {dilation}): the input is too small for the kernel"
    )]
    TooSmall {
        /// The computed (invalid) output size.
        out: i64,
        /// The input size.
        input: i64,
        /// The kernel size.
        kernel: i64,
        /// The stride.
        stride: i64,
        /// The padding.
        padding: i64,
        /// The dilation.
        dilation: i64,
    },
}

fn at_least(name: &'static str, value: i64, min: i64) -> Result<(), ShapeError> {
    if value < min {
        return Err(ShapeError::BadArgument {
            name,
            requirement: if min == 0 { "at least 0" } else { "at least 1" },
            value,
        });
    }
    Ok(())
}

/// Output size of a 2-d convolution along one axis:
/// `floor((i + 2p - d(k-1) - 1) / s) + 1`.
pub fn conv2d_out(i: i64, k: i64, s: i64, p: i64, d: i64) -> Result<i64, ShapeError> {
    at_least("input size", i, 1)?;
    at_least("kernel", k, 1)?;
    at_least("stride", s, 1)?;
    at_least("padding", p, 0)?;
    at_least("dilation", d, 1)?;
    let span = i + 2 * p - d * (k - 1) - 1;
    // `div_euclid` floors for negative numerators too, as Python's `//` does.
    let out = span.div_euclid(s) + 1;
    if out < 1 {
        return Err(ShapeError::TooSmall {
            out,
            input: i,
            kernel: k,
            stride: s,
            padding: p,
            dilation: d,
        });
    }
    Ok(out)
}

/// Output size of max/avg pooling along one axis (same formula as convolution, `ceil_mode=False`);
/// like PyTorch, the padding may be at most half the kernel.
pub fn pool2d_out(i: i64, k: i64, s: i64, p: i64, d: i64) -> Result<i64, ShapeError> {
    at_least("kernel", k, 1)?;
    at_least("padding", p, 0)?;
    if p > k / 2 {
        return Err(ShapeError::PaddingTooLarge {
            padding: p,
            kernel: k,
        });
    }
    conv2d_out(i, k, s, p, d)
}

/// Output size of a transposed 2-d convolution along one axis:
/// `(i-1)s - 2p + d(k-1) + output_padding + 1`. PyTorch requires `output_padding` to be smaller
/// than the stride or the dilation.
pub fn conv_transpose2d_out(
    i: i64,
    k: i64,
    s: i64,
    p: i64,
    d: i64,
    output_padding: i64,
) -> Result<i64, ShapeError> {
    at_least("input size", i, 1)?;
    at_least("kernel", k, 1)?;
    at_least("stride", s, 1)?;
    at_least("padding", p, 0)?;
    at_least("dilation", d, 1)?;
    at_least("output_padding", output_padding, 0)?;
    if output_padding >= s && output_padding >= d {
        return Err(ShapeError::BadArgument {
            name: "output_padding",
            requirement: "smaller than the stride or the dilation",
            value: output_padding,
        });
    }
    let out = (i - 1) * s - 2 * p + d * (k - 1) + output_padding + 1;
    if out < 1 {
        return Err(ShapeError::TooSmall {
            out,
            input: i,
            kernel: k,
            stride: s,
            padding: p,
            dilation: d,
        });
    }
    Ok(out)
}

/// Learnable parameters of a convolution with a square `k`x`k` kernel:
/// `c_out * (c_in / groups * k * k) + c_out` with a bias. Works for transposed convolutions too
/// (their weight is `[c_in, c_out/groups, k, k]`, the same count).
pub fn conv2d_params(c_in: i64, c_out: i64, k: i64, groups: i64, bias: bool) -> i64 {
    conv2d_params_hw(c_in, c_out, k, k, groups, bias)
}

/// [`conv2d_params`] for a rectangular `kh`x`kw` kernel.
pub fn conv2d_params_hw(c_in: i64, c_out: i64, kh: i64, kw: i64, groups: i64, bias: bool) -> i64 {
    let groups = groups.max(1);
    c_out * (c_in / groups * kh * kw) + if bias { c_out } else { 0 }
}

/// Learnable parameters of a fully connected layer: `n_in * n_out + n_out` with a bias.
pub fn linear_params(n_in: i64, n_out: i64, bias: bool) -> i64 {
    n_in * n_out + if bias { n_out } else { 0 }
}

/// Learnable parameters of batch normalisation over `c` channels: a scale and a shift per
/// channel. The running mean and variance are buffers, not parameters, and are not counted.
pub fn batchnorm_params(c: i64) -> i64 {
    2 * c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conv_output_sizes_match_hand_computation() {
        // AlexNet conv1: (227 - 11) / 4 + 1 = 55.
        assert_eq!(conv2d_out(227, 11, 4, 0, 1), Ok(55));
        // "Same" padding keeps the size: (32 + 2 - 2 - 1) / 1 + 1 = 32.
        assert_eq!(conv2d_out(32, 3, 1, 1, 1), Ok(32));
        // LeNet: 28 - 5 + 1 = 24.
        assert_eq!(conv2d_out(28, 5, 1, 0, 1), Ok(24));
        // Dilation 2 makes a 3x3 kernel span 5: 28 - 4 = 24.
        assert_eq!(conv2d_out(28, 3, 1, 0, 2), Ok(24));
        // Flooring: (28 + 2 - 2 - 1) / 2 + 1 = 13 + 1 = 14.
        assert_eq!(conv2d_out(28, 3, 2, 1, 1), Ok(14));
        assert_eq!(conv2d_out(7, 3, 2, 0, 1), Ok(3));
    }

    #[test]
    fn conv_rejects_impossible_shapes() {
        assert!(matches!(
            conv2d_out(2, 5, 1, 0, 1),
            Err(ShapeError::TooSmall { .. })
        ));
        assert!(matches!(
            conv2d_out(28, 0, 1, 0, 1),
            Err(ShapeError::BadArgument { name: "kernel", .. })
        ));
        assert!(matches!(
            conv2d_out(28, 3, 0, 0, 1),
            Err(ShapeError::BadArgument { name: "stride", .. })
        ));
        assert!(matches!(
            conv2d_out(28, 3, 1, -1, 1),
            Err(ShapeError::BadArgument {
                name: "padding",
                ..
            })
        ));
    }

    #[test]
    fn pool_output_sizes_and_padding_rule() {
        assert_eq!(pool2d_out(28, 2, 2, 0, 1), Ok(14));
        assert_eq!(pool2d_out(7, 2, 2, 0, 1), Ok(3));
        assert_eq!(pool2d_out(55, 3, 2, 0, 1), Ok(27));
        assert_eq!(pool2d_out(5, 3, 2, 1, 1), Ok(3));
        assert_eq!(
            pool2d_out(28, 2, 2, 2, 1),
            Err(ShapeError::PaddingTooLarge {
                padding: 2,
                kernel: 2
            })
        );
    }

    #[test]
    fn transposed_conv_output_sizes() {
        // (7 - 1) * 2 - 2 + 3 + 0 + 1 = 14: the usual "double the size" layer.
        assert_eq!(conv_transpose2d_out(7, 4, 2, 1, 1, 0), Ok(14));
        // (7 - 1) * 2 - 2 + 2 + 1 + 1 = 14 with k=3, output_padding=1.
        assert_eq!(conv_transpose2d_out(7, 3, 2, 1, 1, 1), Ok(14));
        assert_eq!(conv_transpose2d_out(14, 2, 2, 0, 1, 0), Ok(28));
        assert!(conv_transpose2d_out(7, 3, 1, 1, 1, 1).is_err());
    }

    #[test]
    fn parameter_counts_match_hand_values() {
        // 64 * (3 * 3 * 3) + 64 = 1792.
        assert_eq!(conv2d_params(3, 64, 3, 1, true), 1792);
        assert_eq!(conv2d_params(3, 64, 3, 1, false), 1728);
        // Depthwise 32 -> 32, groups 32: 32 * 9 + 32 = 320.
        assert_eq!(conv2d_params(32, 32, 3, 32, true), 320);
        assert_eq!(linear_params(1568, 10, true), 15690);
        assert_eq!(linear_params(784, 400, true), 314_000);
        assert_eq!(batchnorm_params(16), 32);
    }
}
