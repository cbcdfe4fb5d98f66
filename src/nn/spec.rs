//! The project's network format: a TOML file that names an input shape and a list of layers.
//!
//! Teachers write these files, lessons build their models from them (through
//! [`crate::nn::Network`]), and `tutor inspect` prints their [`Summary`]. This module is pure Rust
//! with no tensor library: parsing, validation and shape inference only. Every error a teacher
//! can make is reported as `file:line:col: message`, positioned on the offending field or layer,
//! and never as a panic.
//!
//! ```toml
//! name = "lesson-3 CNN"
//! input = [1, 28, 28]        # C, H, W (or [N] for a vector)
//! [[layers]]
//! type = "conv2d"
//! name = "conv1"             # optional; defaults to "<type><position>", e.g. "relu2"
//! out_channels = 16
//! kernel = 3                 # or [kh, kw]
//! padding = 1
//! ```

use std::collections::HashMap;
use std::fmt;
use std::ops::Range;
use std::path::Path;

use thiserror::Error;
use toml::Spanned;

use raw::{allowed_fields, Pair, RawLayer, RawNet};

/// The network-format version this code reads.
pub const FORMAT_VERSION: i64 = 1;

/// A position in a network file, 1-based, displayed as `file:line:col`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The file name as given to [`NetSpec::parse`] or [`NetSpec::load`].
    pub file: String,
    /// Line, starting at 1.
    pub line: usize,
    /// Column in characters, starting at 1.
    pub col: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.col)
    }
}

/// Everything that can be wrong with a network file.
#[derive(Debug, Error)]
pub enum SpecError {
    /// The file could not be read.
    #[error("{file}: cannot read the network file: {io}")]
    Read {
        /// The path.
        file: String,
        /// The I/O error (in the message, so not also chained as a source).
        io: std::io::Error,
    },
    /// Not valid TOML, or a field of the wrong type, or an unknown field.
    #[error("{at}: {message}")]
    Syntax {
        /// Where.
        at: Location,
        /// What, naming the field when known.
        message: String,
    },
    /// Valid TOML that does not describe a network (unknown layer type, bad value, a field that
    /// does not apply to the layer type, a duplicate name, a `with` naming no saved tensor...).
    #[error("{at}: {message}")]
    Invalid {
        /// Where.
        at: Location,
        /// What.
        message: String,
    },
    /// The layers do not fit together for the given input shape.
    #[error("{at}: layer \"{layer}\" ({kind}) {message}")]
    Shape {
        /// The layer's position in the file.
        at: Location,
        /// The layer's name.
        layer: String,
        /// The layer's type as written in the file.
        kind: &'static str,
        /// What does not fit: the expected and the actual size.
        message: String,
    },
}

/// The name of a network's only output when it names none.
pub const DEFAULT_OUTPUT: &str = "out";

/// A parsed, validated network description.
#[derive(Debug, Clone, PartialEq)]
pub struct NetSpec {
    /// Display name.
    pub name: String,
    /// Shape of one example, without the batch dimension: `[C, H, W]` or `[N]`.
    pub input: Vec<usize>,
    /// The layers, in order.
    pub layers: Vec<LayerSpec>,
    /// The file name used in error messages.
    pub file: String,
}

/// One layer of a [`NetSpec`].
#[derive(Debug, Clone, PartialEq)]
pub struct LayerSpec {
    /// Unique name; parameters are called `<name>.weight`, `<name>.bias`...
    pub name: String,
    /// What the layer does, with its settings.
    pub kind: LayerKind,
    /// Whether its parameters start frozen (`frozen = true`, for transfer learning).
    pub frozen: bool,
    /// Where the layer starts in the file.
    pub at: Location,
}

/// Settings of a convolution (plain or transposed). Pairs are `[height, width]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvSpec {
    /// Expected input channels; inferred when absent, checked when given.
    pub in_channels: Option<usize>,
    /// Output channels (filters).
    pub out_channels: usize,
    /// Kernel size.
    pub kernel: [usize; 2],
    /// Stride (default 1).
    pub stride: [usize; 2],
    /// Zero padding on each side (default 0).
    pub padding: [usize; 2],
    /// Dilation (default 1).
    pub dilation: [usize; 2],
    /// Extra size added on one side of a transposed convolution's output (default 0).
    pub output_padding: [usize; 2],
    /// Channel groups (default 1).
    pub groups: usize,
    /// Whether there is a bias (default true).
    pub bias: bool,
}

/// Settings of a pooling layer. Pairs are `[height, width]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolSpec {
    /// Window size.
    pub kernel: [usize; 2],
    /// Stride (default: the kernel).
    pub stride: [usize; 2],
    /// Padding (default 0; at most half the kernel). Max pooling pads with -inf, average
    /// pooling with zeros counted in the average (PyTorch's `count_include_pad=True`).
    pub padding: [usize; 2],
}

/// Settings of batch normalisation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BatchNormSpec {
    /// Expected channels/features; inferred when absent.
    pub num_features: Option<usize>,
    /// Added to the variance (default 1e-5).
    pub eps: f64,
    /// Running-statistics momentum (default 0.1, PyTorch's convention).
    pub momentum: f64,
}

/// The layer types of the format.
#[derive(Debug, Clone, PartialEq)]
pub enum LayerKind {
    /// `conv2d`
    Conv2d(ConvSpec),
    /// `conv_transpose2d`
    ConvTranspose2d(ConvSpec),
    /// `maxpool2d`
    MaxPool2d(PoolSpec),
    /// `avgpool2d`
    AvgPool2d(PoolSpec),
    /// `global_avgpool`: each channel averaged to one number, `[C, H, W]` to `[C]`.
    GlobalAvgPool,
    /// `upsample`: nearest-neighbour, by an integer `scale`.
    Upsample {
        /// Size multiplier for height and width.
        scale: usize,
    },
    /// `batchnorm1d`, over the features of a vector `[N]`.
    BatchNorm1d(BatchNormSpec),
    /// `batchnorm2d`, over the channels of `[C, H, W]`.
    BatchNorm2d(BatchNormSpec),
    /// `dropout` with probability `p` of zeroing (training only).
    Dropout {
        /// Drop probability in `[0, 1)`.
        p: f64,
    },
    /// `flatten`: any shape to `[N]`.
    Flatten,
    /// `linear`
    Linear {
        /// Expected input features; inferred when absent, checked when given.
        in_features: Option<usize>,
        /// Output features.
        out_features: usize,
        /// Whether there is a bias (default true).
        bias: bool,
    },
    /// `relu`
    Relu,
    /// `sigmoid`
    Sigmoid,
    /// `tanh`
    Tanh,
    /// `softmax` over the channel/feature axis.
    Softmax,
    /// `save`: remember the current tensor under a name (`as = "skip1"`).
    Save {
        /// The name later layers use in `with`.
        as_name: String,
    },
    /// `concat`: join a saved tensor along the channel axis (`with = "skip1"`).
    Concat {
        /// The saved tensor.
        with: String,
    },
    /// `add`: add a saved tensor of the same shape (a residual connection).
    Add {
        /// The saved tensor.
        with: String,
    },
    /// `scale`: the saved `[C, H, W]` tensor named by `with`, each channel multiplied by the
    /// current `[C]` vector (squeeze-and-excitation's channel attention).
    Scale {
        /// The saved feature map.
        with: String,
    },
    /// `output`: the current tensor is one of the network's named outputs (a head,
    /// `as = "class"`). A network without `output` layers has one output, its last tensor.
    Output {
        /// The head's name, which losses and metrics refer to.
        as_name: String,
    },
    /// `branch`: continue from a tensor saved earlier (`from = "features"`), to start another
    /// head on a shared backbone.
    Branch {
        /// The saved tensor.
        from: String,
    },
}

/// The layer type names, in the order the documentation lists them.
pub const LAYER_TYPES: [&str; 21] = [
    "conv2d",
    "conv_transpose2d",
    "maxpool2d",
    "avgpool2d",
    "global_avgpool",
    "upsample",
    "batchnorm1d",
    "batchnorm2d",
    "dropout",
    "flatten",
    "linear",
    "relu",
    "sigmoid",
    "tanh",
    "softmax",
    "save",
    "concat",
    "add",
    "scale",
    "output",
    "branch",
];

impl LayerKind {
    /// The type name as written in the file.
    pub fn type_name(&self) -> &'static str {
        match self {
            LayerKind::Conv2d(_) => "conv2d",
            LayerKind::ConvTranspose2d(_) => "conv_transpose2d",
            LayerKind::MaxPool2d(_) => "maxpool2d",
            LayerKind::AvgPool2d(_) => "avgpool2d",
            LayerKind::GlobalAvgPool => "global_avgpool",
            LayerKind::Upsample { .. } => "upsample",
            LayerKind::BatchNorm1d(_) => "batchnorm1d",
            LayerKind::BatchNorm2d(_) => "batchnorm2d",
            LayerKind::Dropout { .. } => "dropout",
            LayerKind::Flatten => "flatten",
            LayerKind::Linear { .. } => "linear",
            LayerKind::Relu => "relu",
            LayerKind::Sigmoid => "sigmoid",
            LayerKind::Tanh => "tanh",
            LayerKind::Softmax => "softmax",
            LayerKind::Save { .. } => "save",
            LayerKind::Concat { .. } => "concat",
            LayerKind::Add { .. } => "add",
            LayerKind::Scale { .. } => "scale",
            LayerKind::Output { .. } => "output",
            LayerKind::Branch { .. } => "branch",
        }
    }
}

/// Turns byte offsets into `file:line:col` locations.
struct Locator<'a> {
    text: &'a str,
    file: &'a str,
}

impl Locator<'_> {
    fn at(&self, offset: usize) -> Location {
        let offset = offset.min(self.text.len());
        let before = &self.text[..floor_char_boundary(self.text, offset)];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let col = before[line_start..].chars().count() + 1;
        Location {
            file: self.file.to_string(),
            line,
            col,
        }
    }

    fn invalid(&self, span: Range<usize>, message: impl Into<String>) -> SpecError {
        SpecError::Invalid {
            at: self.at(span.start),
            message: message.into(),
        }
    }

    /// The key written before a value starting at `offset` on the same line, if any, so a
    /// type error can name its field (`toml` keeps the key path private).
    fn key_before(&self, offset: usize) -> Option<&str> {
        let before = &self.text[..floor_char_boundary(self.text, offset)];
        let line = &before[before.rfind('\n').map_or(0, |i| i + 1)..];
        let key = line.trim_end().strip_suffix('=')?.trim();
        let key = key.rsplit(['{', ',']).next()?.trim();
        (!key.is_empty()
            && key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'))
        .then_some(key)
    }
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn positive(loc: &Locator, field: &str, v: &Spanned<i64>) -> Result<usize, SpecError> {
    let x = *v.get_ref();
    if x < 1 {
        return Err(loc.invalid(v.span(), format!("`{field}` must be at least 1, got {x}")));
    }
    usize::try_from(x).map_err(|_| loc.invalid(v.span(), format!("`{field}` is too large")))
}

fn pair(
    loc: &Locator,
    field: &str,
    v: &Option<Spanned<Pair>>,
    default: [usize; 2],
    min: i64,
) -> Result<[usize; 2], SpecError> {
    let Some(v) = v else { return Ok(default) };
    let mut out = [0usize; 2];
    for (o, &x) in out.iter_mut().zip(v.get_ref().0.iter()) {
        if x < min {
            return Err(loc.invalid(
                v.span(),
                format!("`{field}` must be at least {min}, got {x}"),
            ));
        }
        *o = usize::try_from(x)
            .map_err(|_| loc.invalid(v.span(), format!("`{field}` is too large")))?;
    }
    Ok(out)
}

fn required<'a, T>(
    loc: &Locator,
    layer_span: &Range<usize>,
    ty: &str,
    field: &str,
    v: &'a Option<Spanned<T>>,
) -> Result<&'a Spanned<T>, SpecError> {
    v.as_ref().ok_or_else(|| {
        loc.invalid(
            layer_span.clone(),
            format!("a {ty} layer needs the field `{field}`"),
        )
    })
}

impl NetSpec {
    /// Reads and parses a network file.
    pub fn load(path: impl AsRef<Path>) -> Result<NetSpec, SpecError> {
        let path = path.as_ref();
        let file = path.display().to_string();
        let text = crate::util::files::read_to_string(path).map_err(|io| SpecError::Read {
            file: file.clone(),
            io,
        })?;
        NetSpec::parse(&text, &file)
    }

    /// Parses a network description; `file_name` is only used in error messages.
    pub fn parse(text: &str, file_name: &str) -> Result<NetSpec, SpecError> {
        let loc = Locator {
            text,
            file: file_name,
        };
        let raw: RawNet = toml::from_str(text).map_err(|e| {
            let start = e.span().map_or(0, |s| s.start);
            let mut message = e.message().trim().to_string();
            if let Some(key) = loc.key_before(start) {
                if !message.contains(&format!("`{key}`")) {
                    message = format!("field `{key}`: {message}");
                }
            }
            SpecError::Syntax {
                at: loc.at(start),
                message,
            }
        })?;

        if let Some(v) = &raw.format_version {
            if *v.get_ref() != FORMAT_VERSION {
                return Err(loc.invalid(
                    v.span(),
                    format!(
                        "`format_version` {} is not supported (this tutor reads version {FORMAT_VERSION})",
                        v.get_ref()
                    ),
                ));
            }
        }
        let input_span = raw.input.span();
        let input_dims = raw.input.get_ref();
        if !(input_dims.len() == 1 || input_dims.len() == 3) {
            return Err(loc.invalid(
                input_span,
                format!(
                    "`input` must be [C, H, W] or [N], got {} numbers",
                    input_dims.len()
                ),
            ));
        }
        let mut input = Vec::with_capacity(input_dims.len());
        for &d in input_dims {
            if d < 1 {
                return Err(loc.invalid(
                    input_span,
                    format!("`input` sizes must be at least 1, got {d}"),
                ));
            }
            input.push(d as usize);
        }

        let mut layers = Vec::with_capacity(raw.layers.len());
        let mut names: HashMap<String, Location> = HashMap::new();
        let mut saved: HashMap<String, usize> = HashMap::new();
        let mut outputs: HashMap<String, usize> = HashMap::new();
        for (index, raw_layer) in raw.layers.iter().enumerate() {
            let layer = parse_layer(&loc, index, raw_layer)?;
            if let Some(first) = names.get(&layer.name) {
                let span = raw_layer
                    .get_ref()
                    .name
                    .as_ref()
                    .map_or(raw_layer.span(), |n| n.span());
                return Err(loc.invalid(
                    span,
                    format!(
                        "layer name \"{}\" is already used at line {}",
                        layer.name, first.line
                    ),
                ));
            }
            names.insert(layer.name.clone(), layer.at.clone());
            match &layer.kind {
                LayerKind::Save { as_name } => {
                    saved.insert(as_name.clone(), index);
                }
                LayerKind::Output { as_name } => {
                    if let Some(first) = outputs.insert(as_name.clone(), layer.at.line) {
                        let span = raw_layer.get_ref().as_name.as_ref().map(|w| w.span());
                        return Err(loc.invalid(
                            span.unwrap_or(raw_layer.span()),
                            format!("output \"{as_name}\" is already named at line {first}"),
                        ));
                    }
                }
                LayerKind::Branch { from } if !saved.contains_key(from) => {
                    let span = raw_layer.get_ref().from.as_ref().map(|w| w.span());
                    return Err(loc.invalid(
                        span.unwrap_or(raw_layer.span()),
                        format!(
                            "`from = \"{from}\"` names no tensor saved earlier (add a layer \
                             `type = \"save\"`, `as = \"{from}\"` before this one)"
                        ),
                    ));
                }
                LayerKind::Concat { with }
                | LayerKind::Add { with }
                | LayerKind::Scale { with }
                    if !saved.contains_key(with) =>
                {
                    let span = raw_layer.get_ref().with.as_ref().map(|w| w.span());
                    return Err(loc.invalid(
                        span.unwrap_or(raw_layer.span()),
                        format!(
                            "`with = \"{with}\"` names no tensor saved earlier (add a layer \
                             `type = \"save\"`, `as = \"{with}\"` before this one)"
                        ),
                    ));
                }
                _ => {}
            }
            layers.push(layer);
        }

        // With named outputs, whatever follows the last one would be computed for nothing.
        if !outputs.is_empty() {
            if let (Some(last), Some(raw_last)) = (layers.last(), raw.layers.last()) {
                if !matches!(last.kind, LayerKind::Output { .. }) {
                    return Err(loc.invalid(
                        raw_last.span(),
                        format!(
                            "layer \"{}\" comes after the last `output` layer, so nothing uses it \
                             (end every head with `type = \"output\"`)",
                            last.name
                        ),
                    ));
                }
            }
        }

        Ok(NetSpec {
            name: raw.name.unwrap_or_else(|| file_stem(file_name).to_string()),
            input,
            layers,
            file: file_name.to_string(),
        })
    }

    /// The layer called `name`.
    pub fn layer(&self, name: &str) -> Option<&LayerSpec> {
        self.layers.iter().find(|l| l.name == name)
    }

    /// The names of the network's outputs, in order (`out` when it names none).
    pub fn output_names(&self) -> Vec<String> {
        let named: Vec<String> = self
            .layers
            .iter()
            .filter_map(|l| match &l.kind {
                LayerKind::Output { as_name } => Some(as_name.clone()),
                _ => None,
            })
            .collect();
        if named.is_empty() {
            vec![DEFAULT_OUTPUT.to_string()]
        } else {
            named
        }
    }
}

fn file_stem(file: &str) -> &str {
    Path::new(file)
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or(file)
}

fn parse_layer(
    loc: &Locator,
    index: usize,
    raw: &Spanned<RawLayer>,
) -> Result<LayerSpec, SpecError> {
    let span = raw.span();
    let at = loc.at(span.start);
    let raw = raw.get_ref();
    let ty = raw.ty.get_ref().as_str();
    if !LAYER_TYPES.contains(&ty) {
        return Err(loc.invalid(
            raw.ty.span(),
            format!(
                "unknown layer type \"{ty}\" (known types: {})",
                LAYER_TYPES.join(", ")
            ),
        ));
    }
    let allowed = allowed_fields(ty);
    for (field, fspan) in raw.present() {
        if !allowed.contains(&field) {
            let takes = if allowed.is_empty() {
                "it takes no settings besides `name`".to_string()
            } else {
                format!("it takes: {}", allowed.join(", "))
            };
            return Err(loc.invalid(
                fspan,
                format!("field `{field}` does not apply to a {ty} layer ({takes})"),
            ));
        }
    }
    let name = match &raw.name {
        Some(n) => {
            let s = n.get_ref().trim();
            if s.is_empty() || s.contains(char::is_whitespace) {
                return Err(
                    loc.invalid(n.span(), "a layer `name` must be non-empty, without spaces")
                );
            }
            s.to_string()
        }
        None => format!("{ty}{}", index + 1),
    };
    let opt_pos = |v: &Option<Spanned<i64>>, f: &str| -> Result<Option<usize>, SpecError> {
        v.as_ref().map(|v| positive(loc, f, v)).transpose()
    };
    let bias = raw.bias.as_ref().is_none_or(|b| *b.get_ref());
    let kind = match ty {
        "conv2d" | "conv_transpose2d" => {
            let out_channels = positive(
                loc,
                "out_channels",
                required(loc, &span, ty, "out_channels", &raw.out_channels)?,
            )?;
            required(loc, &span, ty, "kernel", &raw.kernel)?;
            let stride = pair(loc, "stride", &raw.stride, [1, 1], 1)?;
            let dilation = pair(loc, "dilation", &raw.dilation, [1, 1], 1)?;
            let output_padding = pair(loc, "output_padding", &raw.output_padding, [0, 0], 0)?;
            for a in 0..2 {
                if output_padding[a] >= stride[a] && output_padding[a] >= dilation[a] {
                    let s = raw
                        .output_padding
                        .as_ref()
                        .map_or(span.clone(), |v| v.span());
                    return Err(loc.invalid(
                        s,
                        "`output_padding` must be smaller than the stride or the dilation",
                    ));
                }
            }
            let c = ConvSpec {
                in_channels: opt_pos(&raw.in_channels, "in_channels")?,
                out_channels,
                kernel: pair(loc, "kernel", &raw.kernel, [1, 1], 1)?,
                stride,
                padding: pair(loc, "padding", &raw.padding, [0, 0], 0)?,
                dilation,
                output_padding,
                groups: opt_pos(&raw.groups, "groups")?.unwrap_or(1),
                bias,
            };
            if ty == "conv2d" {
                LayerKind::Conv2d(c)
            } else {
                LayerKind::ConvTranspose2d(c)
            }
        }
        "maxpool2d" | "avgpool2d" => {
            required(loc, &span, ty, "kernel", &raw.kernel)?;
            let kernel = pair(loc, "kernel", &raw.kernel, [1, 1], 1)?;
            let padding = pair(loc, "padding", &raw.padding, [0, 0], 0)?;
            if padding[0] > kernel[0] / 2 || padding[1] > kernel[1] / 2 {
                let s = raw.padding.as_ref().map_or(span.clone(), |v| v.span());
                return Err(loc.invalid(s, "pooling `padding` must be at most half the kernel"));
            }
            let p = PoolSpec {
                kernel,
                stride: pair(loc, "stride", &raw.stride, kernel, 1)?,
                padding,
            };
            if ty == "maxpool2d" {
                LayerKind::MaxPool2d(p)
            } else {
                LayerKind::AvgPool2d(p)
            }
        }
        "global_avgpool" => LayerKind::GlobalAvgPool,
        "upsample" => LayerKind::Upsample {
            scale: positive(loc, "scale", required(loc, &span, ty, "scale", &raw.scale)?)?,
        },
        "batchnorm1d" | "batchnorm2d" => {
            let eps = raw.eps.as_ref().map_or(1e-5, |v| *v.get_ref());
            if let Some(v) = raw
                .eps
                .as_ref()
                .filter(|v| v.get_ref().is_nan() || *v.get_ref() <= 0.0)
            {
                return Err(loc.invalid(v.span(), "`eps` must be positive"));
            }
            let momentum = raw.momentum.as_ref().map_or(0.1, |v| *v.get_ref());
            if let Some(v) = raw
                .momentum
                .as_ref()
                .filter(|v| !(0.0..=1.0).contains(v.get_ref()))
            {
                return Err(loc.invalid(v.span(), "`momentum` must be between 0 and 1"));
            }
            let b = BatchNormSpec {
                num_features: opt_pos(&raw.num_features, "num_features")?,
                eps,
                momentum,
            };
            if ty == "batchnorm1d" {
                LayerKind::BatchNorm1d(b)
            } else {
                LayerKind::BatchNorm2d(b)
            }
        }
        "dropout" => {
            let p = raw.p.as_ref().map_or(0.5, |v| *v.get_ref());
            if let Some(v) = raw.p.as_ref().filter(|v| !(0.0..1.0).contains(v.get_ref())) {
                return Err(loc.invalid(
                    v.span(),
                    format!("dropout `p` must be in [0, 1), got {}", v.get_ref()),
                ));
            }
            LayerKind::Dropout { p }
        }
        "flatten" => LayerKind::Flatten,
        "linear" => LayerKind::Linear {
            in_features: opt_pos(&raw.in_features, "in_features")?,
            out_features: positive(
                loc,
                "out_features",
                required(loc, &span, ty, "out_features", &raw.out_features)?,
            )?,
            bias,
        },
        "relu" => LayerKind::Relu,
        "sigmoid" => LayerKind::Sigmoid,
        "tanh" => LayerKind::Tanh,
        "softmax" => LayerKind::Softmax,
        "save" => LayerKind::Save {
            as_name: required(loc, &span, ty, "as", &raw.as_name)?
                .get_ref()
                .clone(),
        },
        "concat" => LayerKind::Concat {
            with: required(loc, &span, ty, "with", &raw.with)?
                .get_ref()
                .clone(),
        },
        "add" => LayerKind::Add {
            with: required(loc, &span, ty, "with", &raw.with)?
                .get_ref()
                .clone(),
        },
        "scale" => LayerKind::Scale {
            with: required(loc, &span, ty, "with", &raw.with)?
                .get_ref()
                .clone(),
        },
        "output" => LayerKind::Output {
            as_name: required(loc, &span, ty, "as", &raw.as_name)?
                .get_ref()
                .clone(),
        },
        "branch" => LayerKind::Branch {
            from: required(loc, &span, ty, "from", &raw.from)?
                .get_ref()
                .clone(),
        },
        _ => unreachable!("checked against LAYER_TYPES above"),
    };
    Ok(LayerSpec {
        name,
        kind,
        frozen: raw.frozen.as_ref().is_some_and(|f| *f.get_ref()),
        at,
    })
}

mod raw;
#[cfg(test)]
mod tests;
