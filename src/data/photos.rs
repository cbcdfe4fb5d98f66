//! The photos of the image-filter lesson, embedded in the binary, and loading a teacher's own.
//!
//! The seven photos come from scikit-image's sample data, downscaled to at most 256 px a side
//! (see `data/README.md` for sources and licences, `data/rebuild.sh` to regenerate them). They
//! are stored as PNG and decoded on demand, so a lesson that never shows a photo pays nothing.
//! Every photo is returned as RGB; the gray ones simply have R = G = B, which the luma
//! conversion in [`crate::imaging`] maps back to the same gray value exactly.

use std::path::Path;

use image::RgbImage;

use super::DataError;

/// One embedded photo.
struct Photo {
    name: &'static str,
    /// What the photo shows and why a lesson might pick it.
    about: &'static str,
    png: &'static [u8],
}

const PHOTOS: [Photo; 7] = [
    Photo {
        name: "camera",
        about: "a man with a camera on a tripod (gray): strong edges, sky and grass",
        png: include_bytes!("../../data/photos/camera.png"),
    },
    Photo {
        name: "coins",
        about: "Greek coins on a gray background (gray): round edges, small details",
        png: include_bytes!("../../data/photos/coins.png"),
    },
    Photo {
        name: "chelsea",
        about: "Chelsea the cat (colour): fur texture, horizontal and diagonal edges",
        png: include_bytes!("../../data/photos/chelsea.png"),
    },
    Photo {
        name: "coffee",
        about: "a coffee cup (colour): ellipses, smooth porcelain, wood grain",
        png: include_bytes!("../../data/photos/coffee.png"),
    },
    Photo {
        name: "astronaut",
        about: "astronaut Eileen Collins (colour): a portrait with a flag",
        png: include_bytes!("../../data/photos/astronaut.png"),
    },
    Photo {
        name: "brick",
        about: "a brick wall (gray): a regular texture of horizontal and vertical lines",
        png: include_bytes!("../../data/photos/brick.png"),
    },
    Photo {
        name: "horse",
        about: "a black horse silhouette on white (gray): clean step edges",
        png: include_bytes!("../../data/photos/horse.png"),
    },
];

/// The names [`photo`] accepts, in a stable order.
pub fn photo_names() -> Vec<&'static str> {
    PHOTOS.iter().map(|p| p.name).collect()
}

/// A one-line description of a photo, for a picker or a lesson lint; `None` for unknown names.
pub fn photo_description(name: &str) -> Option<&'static str> {
    PHOTOS.iter().find(|p| p.name == name).map(|p| p.about)
}

/// Decode one of the embedded photos by name (see [`photo_names`]).
pub fn photo(name: &str) -> Result<RgbImage, DataError> {
    let found = PHOTOS
        .iter()
        .find(|p| p.name == name)
        .ok_or_else(|| DataError::UnknownPhoto {
            name: name.to_string(),
            available: photo_names().join(", "),
        })?;
    decode_image(found.png, &format!("data/photos/{name}.png (embedded)"))
}

/// Load an image from disk as RGB, for teachers' own lesson packs. Errors name the file.
/// Only PNG is decoded (the crate is built with the PNG codec alone).
pub fn load_image(path: &Path) -> Result<RgbImage, DataError> {
    let bytes = crate::util::files::read_regular(path).map_err(|source| DataError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    decode_image(&bytes, &path.display().to_string())
}

/// Decode image bytes (PNG) as RGB; gray and alpha are converted, alpha is dropped. `name`
/// is used in errors.
pub fn decode_image(bytes: &[u8], name: &str) -> Result<RgbImage, DataError> {
    let decoded = image::load_from_memory(bytes).map_err(|e| DataError::Image {
        name: name.to_string(),
        message: match e {
            image::ImageError::Unsupported(_) => format!(
                "{e} (only PNG images can be loaded; convert the file to PNG, for example \
                 with an image editor)"
            ),
            other => other.to_string(),
        },
    })?;
    Ok(decoded.to_rgb8())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_photo_decodes_with_its_256_px_side() {
        for name in photo_names() {
            let img = photo(name).unwrap();
            assert_eq!(img.width().max(img.height()), 256, "{name}");
            assert!(img.width().min(img.height()) >= 160, "{name}");
            assert!(photo_description(name).is_some());
        }
        assert_eq!(photo_names().len(), 7);
        assert_eq!(photo("coins").unwrap().dimensions(), (256, 202));
    }

    #[test]
    fn gray_photos_come_back_with_equal_channels_and_colour_ones_do_not() {
        let camera = photo("camera").unwrap();
        assert!(camera.pixels().all(|p| p[0] == p[1] && p[1] == p[2]));
        let chelsea = photo("chelsea").unwrap();
        assert!(chelsea.pixels().any(|p| p[0] != p[2]));
    }

    #[test]
    fn unknown_photo_lists_the_names() {
        let msg = photo("moon").unwrap_err().to_string();
        assert!(
            msg.contains("`moon`") && msg.contains("camera, coins"),
            "{msg}"
        );
    }

    #[test]
    fn images_load_from_disk_with_errors_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("mine.png");
        let mut img = RgbImage::new(3, 2);
        img.put_pixel(2, 1, image::Rgb([10, 20, 30]));
        img.save(&good).unwrap();
        let back = load_image(&good).unwrap();
        assert_eq!(back.dimensions(), (3, 2));
        assert_eq!(back.get_pixel(2, 1).0, [10, 20, 30]);

        let garbage = dir.path().join("notes.png");
        std::fs::write(&garbage, b"this is not a picture").unwrap();
        let msg = load_image(&garbage).unwrap_err().to_string();
        assert!(msg.contains("notes.png"), "{msg}");

        let missing = dir.path().join("missing.png");
        let msg = load_image(&missing).unwrap_err().to_string();
        assert!(msg.contains("missing.png"), "{msg}");
    }
}
