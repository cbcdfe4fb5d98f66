//! Receptive fields layer by layer: how many input pixels (height x width) one value after
//! each layer can depend on. The `RF` column of `tutor inspect` and the calculator's `net_rf`.
//!
//! The usual recurrence (Araujo et al., "Computing receptive fields of convolutional neural
//! networks", Distill 2019), with PyTorch's conventions: a layer with kernel `k`, dilation
//! `d` and stride `s` widens the field by `d(k-1)` input steps of the current jump `j`, then
//! multiplies the jump by `s`: `r += d(k-1)·j`, `j *= s`. Padding moves the field but does not
//! change its size, so fields may be wider than the image (they then include padding).
//! Where paths join (`add`, `concat`, `scale`) the field is the larger of the two; a value
//! that depends on the whole input (after `global_avgpool`, a `linear` layer, or anything
//! joined with those) is `None`.

use std::collections::HashMap;

use super::spec::{LayerKind, NetSpec};

/// The receptive field at one point of the network.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Field {
    /// Height and width of the field, in input pixels.
    size: [f64; 2],
    /// Input pixels between neighbouring positions (the product of the strides so far).
    jump: [f64; 2],
    /// Centre of output position 0 in input pixel coordinates (negative inside the padding).
    start: [f64; 2],
    /// Whether every value depends on the whole input.
    global: bool,
}

impl Field {
    fn join(self, other: Field) -> Field {
        Field {
            size: [0, 1].map(|a| self.size[a].max(other.size[a])),
            jump: [0, 1].map(|a| self.jump[a].max(other.jump[a])),
            start: self.start,
            global: self.global || other.global,
        }
    }

    fn sides(&self) -> Option<[usize; 2]> {
        (!self.global).then(|| self.size.map(|s| s.ceil() as usize))
    }
}

/// Where one layer's output positions look in the input.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Window {
    /// Height and width of the receptive field, in input pixels.
    pub size: [usize; 2],
    /// Input pixels between neighbouring output positions.
    pub jump: [f64; 2],
    /// Centre of output position (0, 0) in input pixel coordinates.
    pub start: [f64; 2],
}

impl Window {
    /// The field of output position (`row`, `col`) as input rows and columns
    /// `[top, left, bottom, right]` (inclusive, may reach outside the image into the padding).
    pub fn rect(&self, row: usize, col: usize) -> [f64; 4] {
        let cy = self.start[0] + row as f64 * self.jump[0];
        let cx = self.start[1] + col as f64 * self.jump[1];
        let (hh, hw) = (
            (self.size[0] as f64 - 1.0) / 2.0,
            (self.size[1] as f64 - 1.0) / 2.0,
        );
        [cy - hh, cx - hw, cy + hh, cx + hw]
    }
}

/// The receptive field (height, width in input pixels) after each layer of `spec`, in layer
/// order; `None` where a value depends on the whole input. An image input starts with a 1x1
/// field; a vector input is global from the start.
pub fn fields(spec: &NetSpec) -> Vec<Option<[usize; 2]>> {
    walk(spec).iter().map(Field::sides).collect()
}

/// Each layer's [`Window`] (`None` where it sees the whole input). Centres are exact for
/// convolutions and pooling; after upsampling or a transposed convolution they are spread
/// evenly, which is close but not exact.
pub fn windows(spec: &NetSpec) -> Vec<Option<Window>> {
    walk(spec)
        .iter()
        .map(|f| {
            f.sides().map(|size| Window {
                size,
                jump: f.jump,
                start: f.start,
            })
        })
        .collect()
}

fn walk(spec: &NetSpec) -> Vec<Field> {
    let mut f = Field {
        size: [1.0, 1.0],
        jump: [1.0, 1.0],
        start: [0.0, 0.0],
        global: spec.input.len() != 3,
    };
    let mut saved: HashMap<&str, Field> = HashMap::new();
    let mut out = Vec::with_capacity(spec.layers.len());
    for layer in &spec.layers {
        let grow = |f: Field, k: [usize; 2], d: [usize; 2], s: [usize; 2], p: [usize; 2]| Field {
            size: [0, 1].map(|a| f.size[a] + (d[a] * (k[a] - 1)) as f64 * f.jump[a]),
            jump: [0, 1].map(|a| f.jump[a] * s[a] as f64),
            start: [0, 1]
                .map(|a| f.start[a] + ((d[a] * (k[a] - 1)) as f64 / 2.0 - p[a] as f64) * f.jump[a]),
            global: f.global,
        };
        f = match &layer.kind {
            LayerKind::Conv2d(c) => grow(f, c.kernel, c.dilation, c.stride, c.padding),
            LayerKind::ConvTranspose2d(c) => Field {
                // An output value gathers ceil(d(k-1)+1 / s) neighbouring inputs; positions
                // move by a fraction of the input's jump.
                size: [0, 1].map(|a| {
                    let span = (c.dilation[a] * (c.kernel[a] - 1) + 1).div_ceil(c.stride[a]);
                    f.size[a] + (span - 1) as f64 * f.jump[a]
                }),
                jump: [0, 1].map(|a| f.jump[a] / c.stride[a] as f64),
                start: f.start,
                global: f.global,
            },
            LayerKind::MaxPool2d(p) | LayerKind::AvgPool2d(p) => {
                grow(f, p.kernel, [1, 1], p.stride, p.padding)
            }
            LayerKind::Upsample { scale } => Field {
                jump: f.jump.map(|j| j / *scale as f64),
                ..f
            },
            LayerKind::GlobalAvgPool | LayerKind::Linear { .. } => Field { global: true, ..f },
            // A flattened value is one position's value: its field does not change.
            LayerKind::Flatten => f,
            LayerKind::Save { as_name } => {
                saved.insert(as_name, f);
                f
            }
            LayerKind::Branch { from } => saved.get(from.as_str()).copied().unwrap_or(f),
            LayerKind::Concat { with } | LayerKind::Add { with } | LayerKind::Scale { with } => {
                saved.get(with.as_str()).map_or(f, |s| f.join(*s))
            }
            _ => f,
        };
        out.push(f);
    }
    out
}

/// `[5, 5]` as `5x5`, a global field as `all`.
pub fn fmt_field(f: Option<[usize; 2]>) -> String {
    match f {
        Some([h, w]) => format!("{h}x{w}"),
        None => "all".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rf(text: &str) -> Vec<Option<[usize; 2]>> {
        fields(&NetSpec::parse(text, "t.toml").unwrap())
    }

    #[test]
    fn stacked_convs_and_pools_follow_the_recurrence() {
        // Hand-computed: 3x3 -> 3; another 3x3 -> 5; pool 2 s2 -> 6 (jump 2); 3x3 -> 6 + 2·2 = 10;
        // a dilated 3x3 (d = 2) -> 10 + 2·2·2 = 18.
        let f = rf(r#"
input = [1, 32, 32]
[[layers]]
type = "conv2d"
out_channels = 2
kernel = 3
padding = 1
[[layers]]
type = "conv2d"
out_channels = 2
kernel = 3
padding = 1
[[layers]]
type = "maxpool2d"
kernel = 2
[[layers]]
type = "conv2d"
out_channels = 2
kernel = 3
padding = 1
[[layers]]
type = "conv2d"
out_channels = 2
kernel = 3
padding = 2
dilation = 2
[[layers]]
type = "flatten"
[[layers]]
type = "linear"
out_features = 3
"#);
        let sides: Vec<Option<usize>> = f.iter().map(|x| x.map(|[h, _]| h)).collect();
        assert_eq!(
            sides,
            vec![
                Some(3),
                Some(5),
                Some(6),
                Some(10),
                Some(18),
                Some(18),
                None
            ]
        );
    }

    #[test]
    fn a_residual_join_takes_the_larger_field() {
        // The skip path sees 3x3 (after conv1); the main path two more 3x3 convs: 7x7.
        let f = rf(r#"
input = [1, 16, 16]
[[layers]]
type = "conv2d"
out_channels = 2
kernel = 3
padding = 1
[[layers]]
type = "save"
as = "x"
[[layers]]
type = "conv2d"
out_channels = 2
kernel = 3
padding = 1
[[layers]]
type = "conv2d"
out_channels = 2
kernel = [3, 1]
padding = [1, 0]
[[layers]]
type = "add"
with = "x"
[[layers]]
type = "branch"
from = "x"
"#);
        assert_eq!(f[3], Some([7, 5]));
        assert_eq!(f[4], Some([7, 5]));
        assert_eq!(f[5], Some([3, 3]));
        assert_eq!(fmt_field(f[4]), "7x5");
        assert_eq!(fmt_field(None), "all");
    }

    #[test]
    fn windows_sit_where_pytorch_puts_them() {
        // A 3x3 conv with padding 1 centres output (0, 0) on input pixel (0, 0); a 2x2 pool
        // then puts its (0, 0) at 0.5 with a jump of 2; unpadded 3x3 starts at pixel 1.
        let text = r#"
input = [1, 8, 8]
[[layers]]
type = "conv2d"
out_channels = 1
kernel = 3
padding = 1
[[layers]]
type = "maxpool2d"
kernel = 2
[[layers]]
type = "conv2d"
out_channels = 1
kernel = 3
"#;
        let w = windows(&NetSpec::parse(text, "t.toml").unwrap());
        let w0 = w[0].unwrap();
        assert_eq!(w0.rect(0, 0), [-1.0, -1.0, 1.0, 1.0]);
        let w1 = w[1].unwrap();
        assert_eq!(
            (w1.size, w1.jump, w1.start),
            ([4, 4], [2.0, 2.0], [0.5, 0.5])
        );
        // Pool output (1, 2) sees input rows 1..=4 and columns 3..=6 (conv taps included).
        assert_eq!(w1.rect(1, 2), [1.0, 3.0, 4.0, 6.0]);
        let w2 = w[2].unwrap();
        assert_eq!((w2.size, w2.start), ([8, 8], [2.5, 2.5]));
    }
}
