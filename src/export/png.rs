//! Turns an experiment's [`Output`](crate::output::Output)s into files: PNG images for plots,
//! heat maps and pictures, and plain or Markdown text for tables.
//!
//! This is what the headless runner (`tutor exec ... --out DIR`) writes for CI, graders and
//! anyone who wants a file; the TUI draws the same data itself. Everything here is pure: data
//! in, pixels or text out, with [`save_png`] the one function that touches the disk. Text is
//! drawn by plotters with DejaVu Sans embedded in the binary, so rendering needs no system
//! fonts and gives the same pixels on every machine.

mod canvas;
mod gallery;
mod heatmap;
mod plot;
mod table;
mod text;

use std::fs;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::OnceLock;

use anyhow::{anyhow, Context, Result};
use image::{ImageFormat, RgbImage};
use plotters::style::{register_font, FontStyle};

pub use gallery::pictures_png;
pub use heatmap::matrix_png;
pub use plot::plot_png;
pub use table::{table_markdown, table_text};

/// The one font family every drawing here uses. plotters' own defaults also ask for
/// "sans-serif", so registering this name covers text we do not style ourselves.
pub(crate) const FAMILY: &str = "sans-serif";

/// Registers the embedded font with plotters, once per process.
///
/// Our own canvas lays out all text (see `canvas`), but plotters still looks the family up
/// when it builds a text style, and its ab_glyph backend panics on an unregistered one; so
/// every public drawing function calls this first. `OnceLock` (a `Once` that keeps the
/// outcome) means a broken font is reported by every call, not only the first.
pub(crate) fn ensure_fonts() -> Result<()> {
    static REGISTERED: OnceLock<Result<(), String>> = OnceLock::new();
    REGISTERED
        .get_or_init(|| {
            for style in [FontStyle::Normal, FontStyle::Bold] {
                register_font(FAMILY, style, crate::data::font_bytes())
                    .map_err(|_| BAD_FONT.to_string())?;
            }
            Ok(())
        })
        .clone()
        .map_err(|e| anyhow!(e))
}

const BAD_FONT: &str = "the embedded DejaVu Sans font could not be read";

/// The embedded font, parsed once, for laying out text.
pub(crate) fn font() -> Result<&'static ab_glyph::FontRef<'static>> {
    static FONT: OnceLock<Option<ab_glyph::FontRef<'static>>> = OnceLock::new();
    FONT.get_or_init(|| ab_glyph::FontRef::try_from_slice(crate::data::font_bytes()).ok())
        .as_ref()
        .ok_or_else(|| anyhow!(BAD_FONT))
}

/// Images larger than this many pixels are refused: a mistake in the caller (a 10,000-class
/// matrix, say) should be an error, not gigabytes of memory.
const MAX_PIXELS: u64 = 64_000_000;

/// Allocates a white RGB canvas, or explains why it cannot.
pub(crate) fn white_canvas(width: u32, height: u32) -> Result<RgbImage> {
    anyhow::ensure!(
        width > 0 && height > 0,
        "cannot make an empty {width}x{height} image"
    );
    anyhow::ensure!(
        u64::from(width) * u64::from(height) <= MAX_PIXELS,
        "a {width}x{height} image is too large to render"
    );
    Ok(RgbImage::from_pixel(
        width,
        height,
        image::Rgb([255, 255, 255]),
    ))
}

/// plotters' drawing errors borrow the backend's error type; flatten them into `anyhow`.
pub(crate) fn drawing_error<E: std::fmt::Display>(e: E) -> anyhow::Error {
    anyhow!("drawing failed: {e}")
}

/// Writes `img` as a PNG at `path`, atomically: the bytes go to a temporary file in the same
/// directory, which is then renamed over `path`, so a reader (or a crashed run) never sees a
/// half-written image.
pub fn save_png(img: &RgbImage, path: &Path) -> Result<()> {
    let context = || format!("Failed to write PNG `{}`", path.display());
    let name = path
        .file_name()
        .ok_or_else(|| anyhow!("the path has no file name"))
        .with_context(context)?;
    // The process id keeps two runs writing the same file from sharing a temporary file.
    let tmp = path.with_file_name(format!(
        ".{}.{}.tmp",
        name.to_string_lossy(),
        std::process::id()
    ));
    let written = (|| -> Result<()> {
        let file = fs::File::create(&tmp)?;
        let mut out = BufWriter::new(file);
        img.write_to(&mut out, ImageFormat::Png)?;
        out.flush()?;
        out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        fs::rename(&tmp, path)?;
        Ok(())
    })();
    if written.is_err() {
        // Best effort: the original error is the one worth reporting.
        let _ = fs::remove_file(&tmp);
    }
    written.with_context(context)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_font_registers() {
        ensure_fonts().unwrap();
        ensure_fonts().unwrap();
        font().unwrap();
    }

    #[test]
    fn save_png_round_trips_and_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.png");
        let mut img = RgbImage::new(3, 2);
        img.put_pixel(2, 1, image::Rgb([10, 20, 30]));
        save_png(&img, &path).unwrap();
        let back = image::open(&path).unwrap().to_rgb8();
        assert_eq!(back, img);
        let names: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1);
    }

    #[test]
    fn save_png_error_names_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing-dir").join("b.png");
        let err = save_png(&RgbImage::new(1, 1), &path).unwrap_err();
        let msg = format!("{err:#}");
        assert!(msg.contains("missing-dir"), "{msg}");
    }

    #[test]
    fn canvas_refuses_absurd_sizes() {
        assert!(white_canvas(0, 10).is_err());
        assert!(white_canvas(100_000, 100_000).is_err());
        assert_eq!(white_canvas(4, 5).unwrap().dimensions(), (4, 5));
    }
}
