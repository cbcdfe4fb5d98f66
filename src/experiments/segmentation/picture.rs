//! Lesson 7's pictures: class masks blended over scenes in one colour per class, the legend,
//! boxes for the task overview, and 8-bit PNG files of images and masks for `tutor exec`.

use image::{GrayImage, Luma, Rgb, RgbImage};

use super::{PIXELS, SIZE};
use crate::data::{SceneBox, SceneSet};
use crate::experiments::kit::Ctx;
use crate::output::{DataFile, Output, Table};

/// Colours by class; class 0 (background) is left as the image's gray.
const COLOURS: [[u8; 3]; 8] = [
    [0, 0, 0],
    [235, 70, 60],
    [60, 200, 90],
    [70, 130, 255],
    [250, 200, 40],
    [200, 80, 230],
    [40, 210, 220],
    [250, 140, 40],
];

/// Names of the colours, for the legend.
const COLOUR_NAMES: [&str; 8] = [
    "image gray",
    "red",
    "green",
    "blue",
    "yellow",
    "purple",
    "cyan",
    "orange",
];

/// How much of a class colour covers the image under it.
const ALPHA: f32 = 0.6;

/// The colour of class `c` (the palette repeats past its end).
pub fn colour(c: usize) -> [u8; 3] {
    if c == 0 {
        return COLOURS[0];
    }
    COLOURS[1 + (c - 1) % (COLOURS.len() - 1)]
}

fn colour_name(c: usize) -> &'static str {
    if c == 0 {
        return COLOUR_NAMES[0];
    }
    COLOUR_NAMES[1 + (c - 1) % (COLOUR_NAMES.len() - 1)]
}

fn gray(v: f32) -> u8 {
    (v.clamp(0.0, 1.0) * 255.0).round() as u8
}

/// The scene alone, in gray.
pub fn scene_picture(image: &[f32], size: usize) -> RgbImage {
    RgbImage::from_fn(size as u32, size as u32, |x, y| {
        let v = gray(image[y as usize * size + x as usize]);
        Rgb([v, v, v])
    })
}

/// The scene with every pixel of class `c > 0` blended towards class `c`'s colour.
pub fn overlay(image: &[f32], mask: &[u8], size: usize) -> RgbImage {
    RgbImage::from_fn(size as u32, size as u32, |x, y| {
        let i = y as usize * size + x as usize;
        let v = image[i].clamp(0.0, 1.0) * 255.0;
        let c = mask[i] as usize;
        if c == 0 {
            let g = v.round() as u8;
            return Rgb([g, g, g]);
        }
        let col = colour(c);
        Rgb(col.map(|k| ((1.0 - ALPHA) * v + ALPHA * k as f32).round() as u8))
    })
}

/// Pixels where `pred` and `truth` differ, in white on the dark scene.
pub fn errors_picture(image: &[f32], pred: &[u8], truth: &[u8], size: usize) -> RgbImage {
    RgbImage::from_fn(size as u32, size as u32, |x, y| {
        let i = y as usize * size + x as usize;
        if pred[i] != truth[i] {
            Rgb([255, 255, 255])
        } else {
            let g = gray(image[i] * 0.35);
            Rgb([g, g, g])
        }
    })
}

/// The outline of `b` drawn over `img` in `col`.
pub fn draw_box(img: &mut RgbImage, b: &SceneBox, col: [u8; 3]) {
    let (w, h) = (img.width() as usize, img.height() as usize);
    if b.x1 == 0 || b.y1 == 0 || b.x0 >= w || b.y0 >= h {
        return;
    }
    let (x1, y1) = ((b.x1 - 1).min(w - 1), (b.y1 - 1).min(h - 1));
    for x in b.x0..=x1 {
        img.put_pixel(x as u32, b.y0 as u32, Rgb(col));
        img.put_pixel(x as u32, y1 as u32, Rgb(col));
    }
    for y in b.y0..=y1 {
        img.put_pixel(b.x0 as u32, y as u32, Rgb(col));
        img.put_pixel(x1 as u32, y as u32, Rgb(col));
    }
}

/// The legend: each class with its colour and, when given, its share of the pixels.
pub fn legend(names: &[String], shares: Option<&[f64]>) -> Table {
    let mut header = vec!["class".into(), "index".into(), "colour".into()];
    if shares.is_some() {
        header.push("share of test pixels".into());
    }
    let rows = names
        .iter()
        .enumerate()
        .map(|(c, name)| {
            let mut row = vec![name.clone(), c.to_string(), colour_name(c).to_string()];
            if let Some(s) = shares {
                row.push(super::super::common::pct(s.get(c).copied().unwrap_or(0.0)));
            }
            row
        })
        .collect();
    Table {
        title: Some("Legend: mask colours by class".into()),
        header,
        rows,
    }
}

/// An 8-bit gray PNG, `size x size`, from one byte per pixel.
pub fn gray_png(pixels: &[u8], size: usize) -> anyhow::Result<Vec<u8>> {
    let img = GrayImage::from_fn(size as u32, size as u32, |x, y| {
        Luma([pixels[y as usize * size + x as usize]])
    });
    let mut bytes = Vec::new();
    img.write_to(
        &mut std::io::Cursor::new(&mut bytes),
        image::ImageFormat::Png,
    )?;
    Ok(bytes)
}

/// A 0..1 image as 8-bit gray bytes.
pub fn gray_bytes(image: &[f32]) -> Vec<u8> {
    image.iter().map(|&v| gray(v)).collect()
}

/// The test scenes, their true masks and the U-Net's predictions as 8-bit PNGs
/// (pixel value = class index) under `segmentation/`.
pub fn export_masks(ctx: &mut dyn Ctx, set: &SceneSet, pred: &[u8]) -> anyhow::Result<()> {
    for i in 0..set.len() {
        let r = i * PIXELS..(i + 1) * PIXELS;
        let files = [
            (
                "scene",
                gray_bytes(&set.images()[r.clone()]),
                "the test scene, 8-bit gray",
            ),
            (
                "true",
                set.masks()[r.clone()].to_vec(),
                "its true mask, pixel value = class index",
            ),
            (
                "pred",
                pred[r].to_vec(),
                "the U-Net's predicted mask, pixel value = class index",
            ),
        ];
        for (kind, bytes, what) in files {
            let path = format!("segmentation/{kind}-{i:03}.png");
            ctx.show(
                &path,
                Output::File(DataFile {
                    bytes: gray_png(&bytes, SIZE)?,
                    summary: format!("test scene {i}: {what}"),
                    path: path.clone(),
                }),
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlay_keeps_background_gray_and_tints_classes() {
        let img = overlay(&[0.5, 0.5], &[0, 1], 1);
        assert_eq!(img.get_pixel(0, 0), &Rgb([128, 128, 128]));
        let (img, mask) = ([0.0; 4], [0, 1, 2, 3]);
        let o = overlay(&img, &mask, 2);
        assert_eq!(
            o.get_pixel(1, 0).0,
            colour(1).map(|k| (ALPHA * k as f32).round() as u8)
        );
        assert_ne!(colour(1), colour(2));
    }

    #[test]
    fn gray_png_round_trips_class_indices() {
        let mask = [0u8, 1, 2, 3];
        let bytes = gray_png(&mask, 2).unwrap();
        let back = image::load_from_memory(&bytes).unwrap().to_luma8();
        assert_eq!(back.into_raw(), mask.to_vec());
    }
}
