//! Synthetic teaching images whose edges are known exactly, so a lesson (and a test) can say
//! which kernel answers where.

use super::GrayF;

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
