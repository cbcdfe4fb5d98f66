//! Shapes and parameter counts, layer by layer, of a [`NetSpec`]: what `tutor inspect` prints
//! and what the lessons' quizzes are checked against. Pure arithmetic on the description; no
//! network is built. Every product is checked (an absurd size is an error naming the layer,
//! never a wrapped number), and [`Summary::check_memory`] estimates what training would
//! allocate, so a network too big for any machine is refused before anything is allocated.

use std::collections::HashMap;
use std::fmt;

use super::shape::{
    batchnorm_params, conv2d_out, conv2d_params_hw, conv_transpose2d_out, linear_params,
    pool2d_out, ShapeError,
};
use super::spec::{LayerKind, Location, NetSpec, SpecError, DEFAULT_OUTPUT};

/// The most memory training may need, by [`Summary::check_memory`]'s estimate: 4 GiB, more
/// than any lesson's network needs by three orders of magnitude, and less than a classroom
/// machine has. Fixed, so that `tutor check` says the same on every machine.
pub const MEMORY_LIMIT: u64 = 4 << 30;

/// The batch `tutor check` and `tutor inspect` estimate training memory for when a run does
/// not say (the training loop's default).
pub const DEFAULT_BATCH: usize = 64;

/// The number of values in a tensor of `shape`, if it can be counted.
fn values(shape: &[usize]) -> Option<usize> {
    shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d))
}

impl NetSpec {
    /// Infers every layer's output shape and parameter count for `input` (default: the file's
    /// `input`), reporting the first layer that does not fit.
    pub fn summary(&self, input: Option<&[usize]>) -> Result<Summary, SpecError> {
        let input = input.map_or_else(|| self.input.clone(), <[usize]>::to_vec);
        let mut rows = Vec::with_capacity(self.layers.len());
        let mut shape = input.clone();
        // What a flat shape came from, to explain a linear layer's misfit.
        let mut flattened_from: Option<Vec<usize>> = None;
        let mut saved: HashMap<&str, Vec<usize>> = HashMap::new();
        let mut buffers = 0usize;
        let mut outputs: Vec<(String, Vec<usize>)> = Vec::new();
        for layer in &self.layers {
            let fail = |message: String| SpecError::Shape {
                at: layer.at.clone(),
                layer: layer.name.clone(),
                kind: layer.kind.type_name(),
                message,
            };
            let need_chw = |shape: &[usize]| -> Result<[usize; 3], SpecError> {
                match *shape {
                    [c, h, w] => Ok([c, h, w]),
                    _ => Err(fail(format!(
                        "expects an image-shaped input [C, H, W] but receives {}",
                        fmt_shape(shape)
                    ))),
                }
            };
            let shape_err =
                |axis: &str, e: ShapeError| fail(format!("cannot produce an output {axis}: {e}"));
            let mut params = 0usize;
            let mut next_flattened = None;
            let out: Vec<usize> = match &layer.kind {
                LayerKind::Conv2d(c) | LayerKind::ConvTranspose2d(c) => {
                    let [ci, h, w] = need_chw(&shape)?;
                    if let Some(expected) = c.in_channels {
                        if expected != ci {
                            return Err(fail(format!(
                                "expects {expected} input channels but receives {ci} (shape {})",
                                fmt_shape(&shape)
                            )));
                        }
                    }
                    if ci % c.groups != 0 || c.out_channels % c.groups != 0 {
                        return Err(fail(format!(
                            "groups = {} must divide both the input channels ({ci}) and the \
                             output channels ({})",
                            c.groups, c.out_channels
                        )));
                    }
                    let transposed = matches!(layer.kind, LayerKind::ConvTranspose2d(_));
                    let dims = [h, w];
                    let mut hw = [0usize; 2];
                    for a in 0..2 {
                        let axis = if a == 0 { "height" } else { "width" };
                        let o = if transposed {
                            conv_transpose2d_out(
                                dims[a] as i64,
                                c.kernel[a] as i64,
                                c.stride[a] as i64,
                                c.padding[a] as i64,
                                c.dilation[a] as i64,
                                c.output_padding[a] as i64,
                            )
                        } else {
                            conv2d_out(
                                dims[a] as i64,
                                c.kernel[a] as i64,
                                c.stride[a] as i64,
                                c.padding[a] as i64,
                                c.dilation[a] as i64,
                            )
                        };
                        hw[a] = o.map_err(|e| shape_err(axis, e))? as usize;
                    }
                    params = conv2d_params_hw(
                        ci as i64,
                        c.out_channels as i64,
                        c.kernel[0] as i64,
                        c.kernel[1] as i64,
                        c.groups as i64,
                        c.bias,
                    )
                    .map_err(|e| fail(format!("cannot count its parameters: {e}")))?
                        as usize;
                    vec![c.out_channels, hw[0], hw[1]]
                }
                LayerKind::MaxPool2d(p) | LayerKind::AvgPool2d(p) => {
                    let [c, h, w] = need_chw(&shape)?;
                    let dims = [h, w];
                    let mut hw = [0usize; 2];
                    for a in 0..2 {
                        let axis = if a == 0 { "height" } else { "width" };
                        hw[a] = pool2d_out(
                            dims[a] as i64,
                            p.kernel[a] as i64,
                            p.stride[a] as i64,
                            p.padding[a] as i64,
                            1,
                        )
                        .map_err(|e| shape_err(axis, e))? as usize;
                    }
                    vec![c, hw[0], hw[1]]
                }
                LayerKind::GlobalAvgPool => {
                    let [c, _, _] = need_chw(&shape)?;
                    vec![c]
                }
                LayerKind::Upsample { scale } => {
                    let [c, h, w] = need_chw(&shape)?;
                    let too_big = || fail(format!("scale {scale} makes the image too large"));
                    vec![
                        c,
                        h.checked_mul(*scale).ok_or_else(too_big)?,
                        w.checked_mul(*scale).ok_or_else(too_big)?,
                    ]
                }
                LayerKind::BatchNorm1d(b) | LayerKind::BatchNorm2d(b) => {
                    let c = if matches!(layer.kind, LayerKind::BatchNorm2d(_)) {
                        need_chw(&shape)?[0]
                    } else {
                        match *shape {
                            [n] => n,
                            _ => {
                                return Err(fail(format!(
                                    "expects a vector input [N] but receives {} (use batchnorm2d \
                                     for images, or flatten first)",
                                    fmt_shape(&shape)
                                )))
                            }
                        }
                    };
                    if let Some(expected) = b.num_features {
                        if expected != c {
                            return Err(fail(format!(
                                "expects {expected} channels but receives {c} (shape {})",
                                fmt_shape(&shape)
                            )));
                        }
                    }
                    params = batchnorm_params(c as i64)
                        .map_err(|e| fail(format!("cannot count its parameters: {e}")))?
                        as usize;
                    buffers += 2 * c;
                    shape.clone()
                }
                LayerKind::Flatten => {
                    next_flattened = Some(shape.clone());
                    vec![values(&shape).ok_or_else(|| {
                        fail(format!("flattens {} to too many values", fmt_shape(&shape)))
                    })?]
                }
                LayerKind::Linear {
                    in_features,
                    out_features,
                    bias,
                } => {
                    let n = match *shape {
                        [n] => n,
                        _ => {
                            return Err(fail(format!(
                                "expects a vector input but receives {} (add a `flatten` layer \
                                 before it: {} features)",
                                fmt_shape(&shape),
                                shape.iter().product::<usize>()
                            )))
                        }
                    };
                    if let Some(expected) = *in_features {
                        if expected != n {
                            let origin = match &flattened_from {
                                Some(s) => format!(" (shape {} flattened)", fmt_shape(s)),
                                None => String::new(),
                            };
                            return Err(fail(format!(
                                "expects {expected} input features but receives {n}{origin}"
                            )));
                        }
                    }
                    params = linear_params(n as i64, *out_features as i64, *bias)
                        .map_err(|e| fail(format!("cannot count its parameters: {e}")))?
                        as usize;
                    vec![*out_features]
                }
                LayerKind::Dropout { .. }
                | LayerKind::Relu
                | LayerKind::Sigmoid
                | LayerKind::Tanh
                | LayerKind::Softmax => {
                    next_flattened = flattened_from.clone();
                    shape.clone()
                }
                LayerKind::Save { as_name } => {
                    saved.insert(as_name, shape.clone());
                    next_flattened = flattened_from.clone();
                    shape.clone()
                }
                LayerKind::Concat { with } => {
                    let other = saved.get(with.as_str()).cloned().unwrap_or_default();
                    if other.len() != shape.len() || other.get(1..) != shape.get(1..) {
                        return Err(fail(format!(
                            "cannot join \"{with}\" of shape {} to the current shape {}: all \
                             sizes but the channels must be equal",
                            fmt_shape(&other),
                            fmt_shape(&shape)
                        )));
                    }
                    let mut s = shape.clone();
                    s[0] = s[0]
                        .checked_add(other[0])
                        .ok_or_else(|| fail("joins too many channels".to_string()))?;
                    s
                }
                LayerKind::Scale { with } => {
                    let other = saved.get(with.as_str()).cloned().unwrap_or_default();
                    if other.len() != 3 || *shape != [other[0]] {
                        return Err(fail(format!(
                            "scales the channels of \"{with}\" (shape {}) by the current \
                             tensor, which must be a vector of one value per channel, but it \
                             has shape {}",
                            fmt_shape(&other),
                            fmt_shape(&shape)
                        )));
                    }
                    other
                }
                LayerKind::Output { as_name } => {
                    outputs.push((as_name.clone(), shape.clone()));
                    next_flattened = flattened_from.clone();
                    shape.clone()
                }
                LayerKind::Branch { from } => saved.get(from.as_str()).cloned().unwrap_or_default(),
                LayerKind::Add { with } => {
                    let other = saved.get(with.as_str()).cloned().unwrap_or_default();
                    if other != shape {
                        return Err(fail(format!(
                            "cannot add \"{with}\" of shape {} to the current shape {}: the \
                             shapes must be equal",
                            fmt_shape(&other),
                            fmt_shape(&shape)
                        )));
                    }
                    shape.clone()
                }
            };
            let values = values(&out).ok_or_else(|| {
                fail(format!(
                    "gives an output {} too large to hold",
                    fmt_shape(&out)
                ))
            })?;
            rows.push(SummaryRow {
                name: layer.name.clone(),
                kind: layer.kind.type_name(),
                out_shape: out.clone(),
                values,
                params,
                trainable: params > 0 && !layer.frozen,
                at: layer.at.clone(),
                receptive: None,
            });
            shape = out;
            flattened_from = next_flattened;
        }
        for (row, field) in rows.iter_mut().zip(super::receptive::fields(self)) {
            row.receptive = field;
        }
        let sum = |it: &mut dyn Iterator<Item = usize>| {
            let mut total = Some(0usize);
            for x in it {
                total = total.and_then(|t| t.checked_add(x));
            }
            total.ok_or_else(|| SpecError::Shape {
                at: self
                    .layers
                    .last()
                    .map(|l| l.at.clone())
                    .unwrap_or(Location {
                        file: String::new(),
                        line: 1,
                        col: 1,
                    }),
                layer: self.name.clone(),
                kind: "network",
                message: "has more parameters than can be counted".to_string(),
            })
        };
        let total_params = sum(&mut rows.iter().map(|r| r.params))?;
        let trainable_params = sum(&mut rows.iter().filter(|r| r.trainable).map(|r| r.params))?;
        if outputs.is_empty() {
            outputs.push((DEFAULT_OUTPUT.to_string(), shape.clone()));
        }
        Ok(Summary {
            name: self.name.clone(),
            input,
            output: shape,
            outputs,
            rows,
            total_params,
            trainable_params,
            buffers,
        })
    }
}

/// One line of a [`Summary`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SummaryRow {
    /// Layer name.
    pub name: String,
    /// Layer type as in the file.
    pub kind: &'static str,
    /// Output shape of one example (no batch dimension).
    pub out_shape: Vec<usize>,
    /// The number of values in that output.
    pub values: usize,
    /// Learnable parameters.
    pub params: usize,
    /// Whether those parameters are trained (false when frozen or when there are none).
    pub trainable: bool,
    /// Where the layer is in its file.
    pub at: Location,
    /// Receptive field (height, width in input pixels) of one output value; `None` when it
    /// is the whole input ([`super::receptive`]).
    pub receptive: Option<[usize; 2]>,
}

impl SummaryRow {
    /// Bytes training this layer needs for a batch of `batch` (f32 everywhere): its parameters
    /// with their gradients and Adam's two moments (4 copies), its output with its gradient
    /// (2 copies per example).
    pub fn training_bytes(&self, batch: usize) -> u128 {
        4 * (4 * self.params as u128 + 2 * self.values as u128 * batch as u128)
    }
}

/// Shapes and parameter counts layer by layer, like torchinfo's or Keras's summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// The network's name.
    pub name: String,
    /// Input shape of one example.
    pub input: Vec<usize>,
    /// Output shape of one example (of the last layer).
    pub output: Vec<usize>,
    /// The named outputs (heads) with their shapes; `out` alone for a one-output network.
    pub outputs: Vec<(String, Vec<usize>)>,
    /// One row per layer.
    pub rows: Vec<SummaryRow>,
    /// All learnable parameters.
    pub total_params: usize,
    /// Learnable parameters that are not frozen.
    pub trainable_params: usize,
    /// Batch-norm running statistics: state saved with the model but not learned by gradient.
    pub buffers: usize,
}

impl Summary {
    /// The memory training needs for a batch of `batch`, estimated from the shapes: the input
    /// and every layer's [`SummaryRow::training_bytes`].
    pub fn training_bytes(&self, batch: usize) -> u128 {
        let input = values(&self.input).map_or(u128::MAX, |v| 4 * v as u128 * batch as u128);
        self.rows
            .iter()
            .map(|r| r.training_bytes(batch))
            .fold(input, u128::saturating_add)
    }

    /// Refuses a network whose training with a batch of `batch` would need more than
    /// [`MEMORY_LIMIT`], naming the layer that needs the most and the figures.
    pub fn check_memory(&self, batch: usize) -> Result<(), SpecError> {
        let total = self.training_bytes(batch);
        if total <= u128::from(MEMORY_LIMIT) {
            return Ok(());
        }
        let Some(worst) = self.rows.iter().max_by_key(|r| r.training_bytes(batch)) else {
            return Ok(());
        };
        Err(SpecError::Shape {
            at: worst.at.clone(),
            layer: worst.name.clone(),
            kind: worst.kind,
            message: format!(
                "would need about {} to train with a batch of {batch} ({} parameters, output \
                 {}); the whole network about {}, more than the limit of {}: make it smaller",
                fmt_bytes(worst.training_bytes(batch)),
                fmt_count(worst.params),
                fmt_shape(&worst.out_shape),
                fmt_bytes(total),
                fmt_bytes(u128::from(MEMORY_LIMIT)),
            ),
        })
    }

    /// Learnable parameters that are frozen.
    pub fn non_trainable_params(&self) -> usize {
        self.total_params - self.trainable_params
    }
}

/// `[16, 28, 28]`.
pub fn fmt_shape(shape: &[usize]) -> String {
    let parts: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    format!("[{}]", parts.join(", "))
}

/// `1536` bytes as `1.5 KiB`.
pub fn fmt_bytes(b: u128) -> String {
    let units = ["bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let mut x = b as f64;
    let mut u = 0;
    while x >= 1024.0 && u + 1 < units.len() {
        x /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{b} bytes")
    } else {
        format!("{x:.1} {}", units[u])
    }
}

/// `1234567` as `1,234,567`.
pub fn fmt_count(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let first_col: Vec<String> = self
            .rows
            .iter()
            .map(|r| format!("{} ({})", r.name, r.kind))
            .collect();
        let shapes: Vec<String> = self.rows.iter().map(|r| fmt_shape(&r.out_shape)).collect();
        let w1 = first_col
            .iter()
            .map(|s| s.chars().count())
            .chain([12, "input".len()])
            .max()
            .unwrap_or(12)
            + 2;
        let w2 = shapes
            .iter()
            .map(String::len)
            .chain([12, fmt_shape(&self.input).len()])
            .max()
            .unwrap_or(12)
            + 2;
        let w3 = self
            .rows
            .iter()
            .map(|r| fmt_count(r.params).len())
            .chain([7])
            .max()
            .unwrap_or(7);
        let fields: Vec<String> = self
            .rows
            .iter()
            .map(|r| super::receptive::fmt_field(r.receptive))
            .collect();
        let wr = fields.iter().map(String::len).chain([2]).max().unwrap_or(2) + 2;
        let width = w1 + w2 + wr + w3;
        let thick = "=".repeat(width);
        let thin = "-".repeat(width);
        writeln!(f, "{}", self.name)?;
        writeln!(f, "{thick}")?;
        writeln!(
            f,
            "{:<w1$}{:<w2$}{:<wr$}{:>w3$}",
            "Layer (type)", "Output shape", "RF", "Param #"
        )?;
        writeln!(f, "{thick}")?;
        writeln!(
            f,
            "{:<w1$}{:<w2$}{:<wr$}{:>w3$}",
            "input",
            fmt_shape(&self.input),
            "",
            ""
        )?;
        for (((row, name), shape), rf) in self.rows.iter().zip(&first_col).zip(&shapes).zip(&fields)
        {
            let params = if row.params > 0 && !row.trainable {
                format!("({})", fmt_count(row.params))
            } else if row.params > 0 {
                fmt_count(row.params)
            } else {
                "--".to_string()
            };
            writeln!(f, "{name:<w1$}{shape:<w2$}{rf:<wr$}{params:>w3$}")?;
        }
        writeln!(f, "{thick}")?;
        if self.outputs.len() > 1 || self.outputs.iter().any(|(n, _)| n != DEFAULT_OUTPUT) {
            let heads: Vec<String> = self
                .outputs
                .iter()
                .map(|(n, s)| format!("{n} {}", fmt_shape(s)))
                .collect();
            writeln!(f, "Outputs: {}", heads.join(", "))?;
        }
        writeln!(f, "Total params: {}", fmt_count(self.total_params))?;
        writeln!(f, "Trainable params: {}", fmt_count(self.trainable_params))?;
        writeln!(
            f,
            "Non-trainable params: {}",
            fmt_count(self.non_trainable_params())
        )?;
        if self.buffers > 0 {
            writeln!(
                f,
                "Buffers (batch-norm running mean and variance; saved, not learned): {}",
                fmt_count(self.buffers)
            )?;
        }
        writeln!(
            f,
            "Training memory (batch {DEFAULT_BATCH}, estimated): {}",
            fmt_bytes(self.training_bytes(DEFAULT_BATCH))
        )?;
        writeln!(f, "{thin}")?;
        write!(
            f,
            "Shapes are per example; a batch adds a leading dimension. Frozen counts in ( ). \
             RF: the input pixels one output value can see (all: the whole input)."
        )
    }
}
