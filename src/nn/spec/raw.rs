//! The network file as TOML gives it, before validation: every field optional and spanned, so
//! the parser in [`super`] can point at the line and column of anything it rejects.

use std::fmt;
use std::ops::Range;

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::Deserialize;
use toml::Spanned;

/// The fields each layer type accepts (besides `type`, `name`).
pub(super) fn allowed_fields(ty: &str) -> &'static [&'static str] {
    const CONV: &[&str] = &[
        "in_channels",
        "out_channels",
        "kernel",
        "stride",
        "padding",
        "dilation",
        "groups",
        "bias",
        "frozen",
    ];
    const CONVT: &[&str] = &[
        "in_channels",
        "out_channels",
        "kernel",
        "stride",
        "padding",
        "dilation",
        "output_padding",
        "groups",
        "bias",
        "frozen",
    ];
    match ty {
        "conv2d" => CONV,
        "conv_transpose2d" => CONVT,
        "maxpool2d" | "avgpool2d" => &["kernel", "stride", "padding"],
        "upsample" => &["scale"],
        "batchnorm1d" | "batchnorm2d" => &["num_features", "eps", "momentum", "frozen"],
        "dropout" => &["p"],
        "linear" => &["in_features", "out_features", "bias", "frozen"],
        "save" | "output" => &["as"],
        "branch" => &["from"],
        "concat" | "add" | "scale" => &["with"],
        _ => &[],
    }
}

/// An integer or a `[height, width]` pair, as written for `kernel`, `stride`...
#[derive(Debug, Clone, Copy)]
pub(super) struct Pair(pub(super) [i64; 2]);

impl<'de> Deserialize<'de> for Pair {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Pair;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an integer or an array of two integers [height, width]")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Pair, E> {
                Ok(Pair([v, v]))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Pair, E> {
                let v = i64::try_from(v).map_err(|_| E::custom("integer too large"))?;
                Ok(Pair([v, v]))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Pair, A::Error> {
                let h: i64 = seq
                    .next_element()?
                    .ok_or_else(|| de::Error::invalid_length(0, &self))?;
                let w: i64 = seq
                    .next_element()?
                    .ok_or_else(|| de::Error::invalid_length(1, &self))?;
                if seq.next_element::<i64>()?.is_some() {
                    return Err(de::Error::invalid_length(3, &self));
                }
                Ok(Pair([h, w]))
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawNet {
    pub(super) format_version: Option<Spanned<i64>>,
    pub(super) name: Option<String>,
    pub(super) input: Spanned<Vec<i64>>,
    #[serde(default)]
    pub(super) layers: Vec<Spanned<RawLayer>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLayer {
    #[serde(rename = "type")]
    pub(super) ty: Spanned<String>,
    pub(super) name: Option<Spanned<String>>,
    pub(super) in_channels: Option<Spanned<i64>>,
    pub(super) out_channels: Option<Spanned<i64>>,
    pub(super) kernel: Option<Spanned<Pair>>,
    pub(super) stride: Option<Spanned<Pair>>,
    pub(super) padding: Option<Spanned<Pair>>,
    pub(super) dilation: Option<Spanned<Pair>>,
    pub(super) output_padding: Option<Spanned<Pair>>,
    pub(super) groups: Option<Spanned<i64>>,
    pub(super) bias: Option<Spanned<bool>>,
    pub(super) frozen: Option<Spanned<bool>>,
    pub(super) in_features: Option<Spanned<i64>>,
    pub(super) out_features: Option<Spanned<i64>>,
    pub(super) num_features: Option<Spanned<i64>>,
    pub(super) eps: Option<Spanned<f64>>,
    pub(super) momentum: Option<Spanned<f64>>,
    pub(super) scale: Option<Spanned<i64>>,
    pub(super) p: Option<Spanned<f64>>,
    #[serde(rename = "as")]
    pub(super) as_name: Option<Spanned<String>>,
    pub(super) with: Option<Spanned<String>>,
    pub(super) from: Option<Spanned<String>>,
}

impl RawLayer {
    /// The optional fields present, with their spans, to reject those the type does not take.
    pub(super) fn present(&self) -> Vec<(&'static str, Range<usize>)> {
        let mut v = Vec::new();
        macro_rules! field {
            ($($f:ident => $n:literal),*) => {$(
                if let Some(s) = &self.$f { v.push(($n, s.span())); }
            )*};
        }
        field!(in_channels => "in_channels", out_channels => "out_channels", kernel => "kernel",
            stride => "stride", padding => "padding", dilation => "dilation",
            output_padding => "output_padding", groups => "groups", bias => "bias",
            frozen => "frozen", in_features => "in_features", out_features => "out_features",
            num_features => "num_features", eps => "eps", momentum => "momentum",
            scale => "scale", p => "p", as_name => "as", with => "with",
            from => "from");
        v
    }
}
