//! The drawing surface for every PNG: plotters' `BitMapBackend` over an RGB buffer, except
//! that text is laid out here, with ab_glyph and the embedded font.
//!
//! plotters 0.3.7's own ab_glyph text drops each glyph's left side bearing, so letters like
//! "i" and "l" huddle against their left neighbour ("val id ation"), and it sits about a
//! quarter of the font size above its anchor, so centred labels float. Laying glyphs out at
//! their real advance, bearing and baseline fixes both; shapes still go to `BitMapBackend`.

use ab_glyph::{point, Font, FontRef, PxScale, ScaleFont};
use plotters::coord::Shift;
use plotters::prelude::{BitMapBackend, DrawingArea, IntoDrawingArea};
use plotters_backend::text_anchor::{HPos, VPos};
use plotters_backend::{
    BackendColor, BackendCoord, BackendStyle, BackendTextStyle, DrawingBackend, DrawingErrorKind,
};

type BitMapError = <BitMapBackend<'static> as DrawingBackend>::ErrorType;

/// An RGB buffer to draw on, with proper text.
pub(crate) struct Canvas<'a> {
    inner: BitMapBackend<'a>,
    font: &'static FontRef<'static>,
}

impl<'a> Canvas<'a> {
    /// A drawing area over `buf`, which holds `size.0 * size.1` RGB pixels (an `RgbImage`).
    pub(crate) fn area(
        buf: &'a mut [u8],
        size: (u32, u32),
    ) -> anyhow::Result<DrawingArea<Canvas<'a>, Shift>> {
        let font = super::font()?;
        Ok(Canvas {
            inner: BitMapBackend::with_buffer(buf, size),
            font,
        }
        .into_drawing_area())
    }
}

/// The horizontal advance of `text` in pixels, kerning included.
fn advance<F: Font>(font: &ab_glyph::PxScaleFont<F>, text: &str) -> f32 {
    let mut width = 0.0;
    let mut prev = None;
    for c in text.chars() {
        let id = font.glyph_id(c);
        if let Some(p) = prev {
            width += font.kern(p, id);
        }
        width += font.h_advance(id);
        prev = Some(id);
    }
    width
}

impl DrawingBackend for Canvas<'_> {
    type ErrorType = BitMapError;

    fn get_size(&self) -> (u32, u32) {
        self.inner.get_size()
    }

    fn ensure_prepared(&mut self) -> Result<(), DrawingErrorKind<BitMapError>> {
        self.inner.ensure_prepared()
    }

    fn present(&mut self) -> Result<(), DrawingErrorKind<BitMapError>> {
        self.inner.present()
    }

    fn draw_pixel(
        &mut self,
        point: BackendCoord,
        color: BackendColor,
    ) -> Result<(), DrawingErrorKind<BitMapError>> {
        self.inner.draw_pixel(point, color)
    }

    // BitMapBackend has fast paths for lines, rectangles and blits; keep them.
    fn draw_line<S: BackendStyle>(
        &mut self,
        from: BackendCoord,
        to: BackendCoord,
        style: &S,
    ) -> Result<(), DrawingErrorKind<BitMapError>> {
        self.inner.draw_line(from, to, style)
    }

    fn draw_rect<S: BackendStyle>(
        &mut self,
        upper_left: BackendCoord,
        bottom_right: BackendCoord,
        style: &S,
        fill: bool,
    ) -> Result<(), DrawingErrorKind<BitMapError>> {
        self.inner.draw_rect(upper_left, bottom_right, style, fill)
    }

    fn blit_bitmap(
        &mut self,
        pos: BackendCoord,
        size: (u32, u32),
        src: &[u8],
    ) -> Result<(), DrawingErrorKind<BitMapError>> {
        self.inner.blit_bitmap(pos, size, src)
    }

    /// The box is the advance width by the font's full height (ascent to descent), so that
    /// centring a label centres its letters and stacked lines do not collide.
    fn estimate_text_size<TStyle: BackendTextStyle>(
        &self,
        text: &str,
        style: &TStyle,
    ) -> Result<(u32, u32), DrawingErrorKind<BitMapError>> {
        let font = self.font.as_scaled(PxScale::from(style.size() as f32));
        let height = font.ascent() - font.descent();
        Ok((advance(&font, text).ceil() as u32, height.ceil() as u32))
    }

    fn draw_text<TStyle: BackendTextStyle>(
        &mut self,
        text: &str,
        style: &TStyle,
        pos: BackendCoord,
    ) -> Result<(), DrawingErrorKind<BitMapError>> {
        let color = style.color();
        if color.alpha == 0.0 || text.is_empty() {
            return Ok(());
        }
        let font = self.font.as_scaled(PxScale::from(style.size() as f32));
        let width = advance(&font, text);
        let height = font.ascent() - font.descent();
        let anchor = style.anchor();
        let dx = match anchor.h_pos {
            HPos::Left => 0.0,
            HPos::Center => -width / 2.0,
            HPos::Right => -width,
        };
        let dy = match anchor.v_pos {
            VPos::Top => 0.0,
            VPos::Center => -height / 2.0,
            VPos::Bottom => -height,
        };
        let transform = style.transform();
        let (w, h) = self.get_size();
        let mut caret = dx;
        let mut prev = None;
        let mut pixels = Vec::new();
        for c in text.chars() {
            let id = font.glyph_id(c);
            if let Some(p) = prev {
                caret += font.kern(p, id);
            }
            prev = Some(id);
            let glyph = id.with_scale_and_position(font.scale(), point(caret, dy + font.ascent()));
            caret += font.h_advance(id);
            let Some(outline) = self.font.outline_glyph(glyph) else {
                continue; // a space, or a character the font lacks
            };
            let bounds = outline.px_bounds();
            let (ox, oy) = (bounds.min.x as i32, bounds.min.y as i32);
            outline.draw(|x, y, coverage| {
                if coverage > 0.0 {
                    pixels.push((ox + x as i32, oy + y as i32, coverage.min(1.0)));
                }
            });
        }
        for (x, y, coverage) in pixels {
            // Rotation is about the anchor, as plotters does it, so a y-axis title turned by
            // 270 degrees stays centred where it was placed.
            let (tx, ty) = transform.transform(x, y);
            let (px, py) = (pos.0 + tx, pos.1 + ty);
            if px >= 0 && py >= 0 && (px as u32) < w && (py as u32) < h {
                self.inner.draw_pixel(
                    (px, py),
                    BackendColor {
                        alpha: color.alpha * f64::from(coverage),
                        rgb: color.rgb,
                    },
                )?;
            }
        }
        Ok(())
    }
}
