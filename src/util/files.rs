//! Reading the files lessons name: regular files only, and the tutor's built-in networks and
//! pretrained weights wherever the tool runs.
//!
//! The rule (written for teachers in `lessons/README.md`): a path that names an existing file
//! is that file; otherwise, if the path ends in the name of a built-in file
//! (`nets/lesson3_cnn.toml`, `data/pretrained/lesson4_backbone.toml`, ...), the copy built into
//! the binary is used. So a lesson in a teacher's pack outside the checkout can say
//! `../nets/lesson3_cnn.toml` and get the built-in network unless the pack has its own. Anything
//! that is not a regular file (a folder, a FIFO, a device) is refused before it is opened, so
//! it can never hang the tool.

use std::borrow::Cow;
use std::io;
use std::path::{Component, Path};

macro_rules! builtin {
    ($path:literal) => {
        ($path, include_bytes!(concat!("../../", $path)))
    };
}

/// The files built into the binary, by the path they have in the source checkout. Adding a
/// built-in network is one line here.
pub const BUILTIN: &[(&str, &[u8])] = &[
    builtin!("nets/lesson3_cnn.toml"),
    builtin!("nets/lesson3_mlp.toml"),
    builtin!("nets/lesson4_cnn.toml"),
    builtin!("nets/lesson5_conv.toml"),
    builtin!("nets/lesson5_linear.toml"),
    builtin!("nets/lesson5_upsample.toml"),
    builtin!("nets/lesson6_detector.toml"),
    builtin!("nets/lesson6_localizer.toml"),
    builtin!("nets/lesson7_noskip.toml"),
    builtin!("nets/lesson7_unet.toml"),
    builtin!("nets/lesson8_cnn.toml"),
    builtin!("nets/lesson8_cnn_bn.toml"),
    builtin!("nets/lesson8_mlp.toml"),
    builtin!("nets/lesson8_mlp_dropout.toml"),
    builtin!("nets/lesson9_alexnet.toml"),
    builtin!("nets/lesson9_block.toml"),
    builtin!("nets/lesson9_flat.toml"),
    builtin!("nets/lesson9_gap.toml"),
    builtin!("nets/lesson9_nose.toml"),
    builtin!("nets/lesson9_plain.toml"),
    builtin!("nets/lesson9_resnet.toml"),
    builtin!("nets/lesson9_se.toml"),
    builtin!("nets/lesson9_vgg16.toml"),
    builtin!("data/pretrained/lesson4_backbone.toml"),
    builtin!("data/pretrained/lesson4_backbone.safetensors"),
];

/// The built-in file `path` stands for: the entry of [`BUILTIN`] whose name is the end of
/// `path`, compared component by component (`../nets/x.toml` and `/abs/nets/x.toml` both end
/// in `nets/x.toml`).
pub fn builtin_for(path: &Path) -> Option<&'static [u8]> {
    let parts: Vec<&std::ffi::OsStr> = path
        .components()
        .filter_map(|c| match c {
            Component::Normal(s) => Some(s),
            _ => None,
        })
        .collect();
    BUILTIN.iter().find_map(|(name, bytes)| {
        let want: Vec<&str> = name.split('/').collect();
        (parts.len() >= want.len()
            && parts[parts.len() - want.len()..]
                .iter()
                .zip(&want)
                .all(|(a, b)| *a == std::ffi::OsStr::new(b)))
        .then_some(*bytes)
    })
}

/// Whether `path` can be read by [`read`]: a regular file, or the name of a built-in one.
pub fn exists(path: &Path) -> bool {
    match std::fs::metadata(path) {
        Ok(m) => m.is_file(),
        Err(_) => builtin_for(path).is_some(),
    }
}

/// Refuses what is not a regular file, with an error saying what it is.
fn regular(path: &Path, m: &std::fs::Metadata) -> io::Result<()> {
    if m.is_file() {
        return Ok(());
    }
    let what = if m.is_dir() {
        "a folder"
    } else {
        "not a regular file (a pipe, socket or device)"
    };
    Err(io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("`{}` is {what}", path.display()),
    ))
}

/// The bytes of `path`, or of the built-in file it names when there is no such file.
pub fn read(path: &Path) -> io::Result<Cow<'static, [u8]>> {
    match std::fs::metadata(path) {
        Ok(m) => {
            regular(path, &m)?;
            std::fs::read(path).map(Cow::Owned)
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => match builtin_for(path) {
            Some(bytes) => Ok(Cow::Borrowed(bytes)),
            None => Err(e),
        },
        Err(e) => Err(e),
    }
}

/// [`read`] as UTF-8 text.
pub fn read_to_string(path: &Path) -> io::Result<String> {
    let bytes = read(path)?;
    String::from_utf8(bytes.into_owned()).map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "not UTF-8 text (invalid byte at offset {})",
                e.utf8_error().valid_up_to()
            ),
        )
    })
}

/// Reads a regular file only (no built-in fallback): lesson files, a learner's own files.
pub fn read_regular(path: &Path) -> io::Result<Vec<u8>> {
    let m = std::fs::metadata(path)?;
    regular(path, &m)?;
    std::fs::read(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_files_are_found_from_any_folder() {
        // Issue 12, item 2: the defaults must work outside the checkout.
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("pack/../nets/lesson3_cnn.toml");
        assert!(exists(&p));
        let text = read_to_string(&p).unwrap();
        assert!(text.contains("conv1"), "{text}");
        assert!(read(Path::new("../data/pretrained/lesson4_backbone.safetensors")).is_ok());
        assert!(!exists(&dir.path().join("nets/nope.toml")));
        assert!(read(&dir.path().join("nets/nope.toml")).is_err());
    }

    #[test]
    fn a_pack_file_wins_over_the_builtin_one() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("nets")).unwrap();
        let p = dir.path().join("nets/lesson3_cnn.toml");
        std::fs::write(&p, "mine").unwrap();
        assert_eq!(read_to_string(&p).unwrap(), "mine");
    }

    #[test]
    fn folders_and_pipes_are_refused_without_opening_them() {
        // Issue 11, item 11: a FIFO must not hang the tool.
        let dir = tempfile::tempdir().unwrap();
        let e = read(dir.path()).unwrap_err();
        assert!(e.to_string().contains("a folder"), "{e}");
        let fifo = dir.path().join("lesson.toml");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        if made.is_ok_and(|s| s.success()) {
            let e = read_regular(&fifo).unwrap_err();
            assert!(e.to_string().contains("not a regular file"), "{e}");
            assert!(!exists(&fifo));
        }
    }
}
