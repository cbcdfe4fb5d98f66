//! Rendering of one object into its own frame: a digit glyph resized bilinearly, or a filled
//! shape whose pixel values are the covered share of 4x4 subsamples (anti-aliased edges like
//! the strokes of the digits). Placement on the canvas is the parent module's business.

/// Subsamples per pixel side for the coverage of analytic shapes.
const SUBSAMPLES: usize = 4;

/// A filled shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Shape {
    Square,
    Disc,
    Triangle,
}

pub(super) const SHAPES: [Shape; 3] = [Shape::Square, Shape::Disc, Shape::Triangle];

/// An object rendered into its own `h x w` frame, values 0..1.
pub(super) struct Sprite {
    pub(super) w: usize,
    pub(super) h: usize,
    pub(super) values: Vec<f32>,
    pub(super) class: usize,
}

/// A `gh x gw` glyph resized bilinearly so that its longer side is `side`.
pub(super) fn glyph(src: &[f32], gh: usize, gw: usize, side: usize, class: usize) -> Sprite {
    let long = gh.max(gw) as f32;
    let h = ((gh as f32 * side as f32 / long).round() as usize).max(1);
    let w = ((gw as f32 * side as f32 / long).round() as usize).max(1);
    // Pixel centres map onto pixel centres (the convention of most resizers).
    let coord = |dst: usize, scale: f32, n: usize| {
        let f = ((dst as f32 + 0.5) * scale - 0.5).clamp(0.0, (n - 1) as f32);
        let i = f.floor() as usize;
        (i, (i + 1).min(n - 1), f - i as f32)
    };
    let (sy, sx) = (gh as f32 / h as f32, gw as f32 / w as f32);
    let mut values = Vec::with_capacity(h * w);
    for y in 0..h {
        let (y0, y1, ty) = coord(y, sy, gh);
        for x in 0..w {
            let (x0, x1, tx) = coord(x, sx, gw);
            let top = src[y0 * gw + x0] * (1.0 - tx) + src[y0 * gw + x1] * tx;
            let bottom = src[y1 * gw + x0] * (1.0 - tx) + src[y1 * gw + x1] * tx;
            values.push((top * (1.0 - ty) + bottom * ty).clamp(0.0, 1.0));
        }
    }
    Sprite {
        w,
        h,
        values,
        class,
    }
}

/// A shape in a `side x side` frame: the value of a pixel is the share of its subsamples
/// inside the shape, so edges are anti-aliased like the digits' strokes.
pub(super) fn shape(shape: Shape, side: usize, class: usize) -> Sprite {
    let s = side as f32;
    let inside = |x: f32, y: f32| match shape {
        // A square inset by a tenth, so its area is close to the disc's.
        Shape::Square => (0.1 * s..0.9 * s).contains(&x) && (0.1 * s..0.9 * s).contains(&y),
        Shape::Disc => (x - 0.5 * s).powi(2) + (y - 0.5 * s).powi(2) < (0.47 * s).powi(2),
        // Apex at the top centre, base along the bottom: inside when below both slanted edges.
        Shape::Triangle => {
            let (top, bottom) = (0.05 * s, 0.95 * s);
            let t = (y - top) / (bottom - top);
            (0.0..1.0).contains(&t) && (x - 0.5 * s).abs() < 0.45 * s * t
        }
    };
    let mut values = Vec::with_capacity(side * side);
    let step = 1.0 / SUBSAMPLES as f32;
    for y in 0..side {
        for x in 0..side {
            let mut hits = 0;
            for sy in 0..SUBSAMPLES {
                for sx in 0..SUBSAMPLES {
                    let px = x as f32 + (sx as f32 + 0.5) * step;
                    let py = y as f32 + (sy as f32 + 0.5) * step;
                    hits += usize::from(inside(px, py));
                }
            }
            values.push(hits as f32 / (SUBSAMPLES * SUBSAMPLES) as f32);
        }
    }
    Sprite {
        w: side,
        h: side,
        values,
        class,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_cover_their_area_and_glyphs_keep_aspect_and_values() {
        let s = 40.0f32;
        let area = |sh| shape(sh, 40, 1).values.iter().sum::<f32>();
        // Coverage sums to the analytic area up to the sampling error along the edges.
        assert!((area(Shape::Square) - (0.8 * s).powi(2)).abs() < 1.0);
        let disc = std::f32::consts::PI * (0.47 * s).powi(2);
        assert!((area(Shape::Disc) - disc).abs() < 0.01 * s * s);
        assert!((area(Shape::Triangle) - 0.5 * (0.9 * s).powi(2)).abs() < 0.01 * s * s);
        let sq = shape(Shape::Square, 40, 1);
        assert!(sq.values.iter().all(|v| (0.0..=1.0).contains(v)));
        assert_eq!((sq.values[0], sq.values[20 * 40 + 20]), (0.0, 1.0));

        // A tall glyph keeps its aspect; a constant one stays constant (weights sum to 1).
        let g = glyph(&[0.5; 28 * 14], 28, 14, 20, 3);
        assert_eq!((g.h, g.w, g.class), (20, 10, 3));
        assert!(g.values.iter().all(|&v| (v - 0.5).abs() < 1e-6));
    }
}
