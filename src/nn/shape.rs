//! Shape and parameter-count arithmetic for the layers of a network, in PyTorch's semantics.
//!
//! These are plain functions over integers so that the quiz engine can check a learner's answer
//! ("what is the output size of a 3x3 convolution with stride 2 on 28 pixels?") with the very
//! formulas the network summary uses. Sizes are `i64` on purpose: a learner's input may be
//! negative or nonsensical, and that must be an error, never an overflow or a panic: every
//! argument is at most [`MAX_ARG`] and every product is checked, so an absurd value is an
//! error naming the argument, not a wrapped number (issue 11, item 4).

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
    /// An argument beyond [`MAX_ARG`].
    #[error("{name} must be at most {MAX_ARG}, got {value}")]
    TooLarge {
        /// The argument's name.
        name: &'static str,
        /// The value given.
        value: i64,
    },
    /// A count too large to represent.
    #[error("the {what} is too large to compute (more than {})", i64::MAX)]
    Overflow {
        /// What was being computed, e.g. "parameter count".
        what: &'static str,
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

/// The largest size, channel count, kernel, stride, padding or dilation the arithmetic takes:
/// far beyond any network that fits in memory, and small enough that no sum of them overflows.
pub const MAX_ARG: i64 = 1 << 31;

fn at_least(name: &'static str, value: i64, min: i64) -> Result<(), ShapeError> {
    if value > MAX_ARG {
        return Err(ShapeError::TooLarge { name, value });
    }
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
    // In range by the checks above (each argument at most 2^31), checked all the same.
    let span = (|| {
        i.checked_add(2 * p)?
            .checked_sub(d.checked_mul(k - 1)?)?
            .checked_sub(1)
    })()
    .ok_or(ShapeError::Overflow {
        what: "output size",
    })?;
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
    at_least("input size", i, 1)?;
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
    let out = (|| {
        (i - 1)
            .checked_mul(s)?
            .checked_sub(2 * p)?
            .checked_add(d.checked_mul(k - 1)?)?
            .checked_add(output_padding + 1)
    })()
    .ok_or(ShapeError::Overflow {
        what: "output size",
    })?;
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
pub fn conv2d_params(
    c_in: i64,
    c_out: i64,
    k: i64,
    groups: i64,
    bias: bool,
) -> Result<i64, ShapeError> {
    conv2d_params_hw(c_in, c_out, k, k, groups, bias)
}

/// A product of counts, or [`ShapeError::Overflow`].
fn product(what: &'static str, factors: &[i64]) -> Result<i64, ShapeError> {
    factors
        .iter()
        .try_fold(1i64, |acc, &f| acc.checked_mul(f))
        .ok_or(ShapeError::Overflow { what })
}

/// [`conv2d_params`] for a rectangular `kh`x`kw` kernel.
pub fn conv2d_params_hw(
    c_in: i64,
    c_out: i64,
    kh: i64,
    kw: i64,
    groups: i64,
    bias: bool,
) -> Result<i64, ShapeError> {
    at_least("input channels", c_in, 1)?;
    at_least("output channels", c_out, 1)?;
    at_least("kernel", kh, 1)?;
    at_least("kernel", kw, 1)?;
    at_least("groups", groups, 1)?;
    let weights = product("parameter count", &[c_out, c_in / groups, kh, kw])?;
    weights
        .checked_add(if bias { c_out } else { 0 })
        .ok_or(ShapeError::Overflow {
            what: "parameter count",
        })
}

/// Learnable parameters of a fully connected layer: `n_in * n_out + n_out` with a bias.
pub fn linear_params(n_in: i64, n_out: i64, bias: bool) -> Result<i64, ShapeError> {
    at_least("input features", n_in, 1)?;
    at_least("output features", n_out, 1)?;
    product("parameter count", &[n_in, n_out])?
        .checked_add(if bias { n_out } else { 0 })
        .ok_or(ShapeError::Overflow {
            what: "parameter count",
        })
}

/// Learnable parameters of batch normalisation over `c` channels: a scale and a shift per
/// channel. The running mean and variance are buffers, not parameters, and are not counted.
pub fn batchnorm_params(c: i64) -> Result<i64, ShapeError> {
    at_least("channels", c, 1)?;
    Ok(2 * c)
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
        assert_eq!(conv2d_params(3, 64, 3, 1, true), Ok(1792));
        assert_eq!(conv2d_params(3, 64, 3, 1, false), Ok(1728));
        // Depthwise 32 -> 32, groups 32: 32 * 9 + 32 = 320.
        assert_eq!(conv2d_params(32, 32, 3, 32, true), Ok(320));
        assert_eq!(linear_params(1568, 10, true), Ok(15690));
        assert_eq!(linear_params(784, 400, true), Ok(314_000));
        assert_eq!(batchnorm_params(16), Ok(32));
    }

    #[test]
    fn absurd_arguments_are_errors_naming_them_not_wrapped_numbers() {
        // Issue 11, item 4: these used to wrap silently (a shape of 24 for an enormous padding,
        // 15,424 parameters for i64::MAX channels, -140 parameters for -4 input channels).
        let big = i64::MAX;
        assert_eq!(
            conv2d_out(28, 5, 1, big, 1),
            Err(ShapeError::TooLarge {
                name: "padding",
                value: big
            })
        );
        assert!(matches!(
            conv2d_out(28, 3, 1, 0, 1 << 40),
            Err(ShapeError::TooLarge {
                name: "dilation",
                ..
            })
        ));
        assert!(matches!(
            conv2d_params(1, big, 3, 1, true),
            Err(ShapeError::TooLarge {
                name: "output channels",
                ..
            })
        ));
        assert!(matches!(
            conv2d_params(-4, 4, 3, 1, true),
            Err(ShapeError::BadArgument {
                name: "input channels",
                ..
            })
        ));
        // Each argument in range, the product not.
        assert_eq!(
            conv2d_params(MAX_ARG, MAX_ARG, MAX_ARG, 1, true),
            Err(ShapeError::Overflow {
                what: "parameter count"
            })
        );
        assert!(linear_params(MAX_ARG, MAX_ARG, true).is_ok());
        let p = 4_611_686_018_427_387_904;
        assert!(conv_transpose2d_out(7, 3, 2, p, 1, 0).is_err());
        assert!(pool2d_out(big, 2, 2, 0, 1).is_err());
    }
}
