//! The IDX file format used by MNIST and Fashion-MNIST, plain or gzip-compressed.
//!
//! An IDX file is a big-endian u32 magic number (two zero bytes, a type byte, the number of
//! dimensions), one big-endian u32 per dimension, then the values in row-major order. Only the
//! unsigned-byte type (0x08) is read, which is what both datasets use. Every error names the
//! file it came from, because a teacher loading their own lesson pack needs to know which file
//! to fix.

use std::io::Read;
use std::path::Path;

use flate2::read::GzDecoder;

use super::DataError;

/// The type byte for unsigned 8-bit values, the only one MNIST-style files use.
const TYPE_U8: u8 = 0x08;

/// Refuse files claiming more values than this, so a corrupt header cannot make us allocate
/// gigabytes before noticing the data is missing (the full MNIST training set is 47 M).
const MAX_VALUES: u64 = 1 << 30;

/// What is wrong with bytes that were meant to be an IDX file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdxProblem {
    /// Fewer bytes than the header needs.
    #[error("it is truncated: {len} bytes is too short for a header of {needed} bytes")]
    HeaderTooShort { len: usize, needed: usize },
    /// The first two bytes are not zero.
    #[error(
        "wrong magic number 0x{found:08x}: an IDX file starts with two zero bytes, a type byte \
         and a dimension count (is it an IDX file at all?)"
    )]
    BadMagic { found: u32 },
    /// A value type other than unsigned bytes.
    #[error("value type 0x{found:02x} is not supported (only 0x08, unsigned bytes)")]
    UnsupportedType { found: u8 },
    /// Zero dimensions.
    #[error("the header declares 0 dimensions")]
    NoDimensions,
    /// The dimensions multiply to an absurd size.
    #[error("the header declares dimensions {dims:?}, which is implausibly large")]
    TooLarge { dims: Vec<usize> },
    /// Fewer data bytes than the dimensions promise.
    #[error("it is truncated: dimensions {dims:?} need {expected} data bytes but only {found} follow the header")]
    Truncated {
        dims: Vec<usize>,
        expected: usize,
        found: usize,
    },
    /// More data bytes than the dimensions promise.
    #[error("{extra} unexpected bytes follow the {expected} data bytes of dimensions {dims:?}")]
    TrailingBytes {
        dims: Vec<usize>,
        expected: usize,
        extra: usize,
    },
    /// The gzip stream could not be decompressed.
    #[error("it looks gzip-compressed but does not decompress: {message}")]
    Gzip { message: String },
}

/// A decoded IDX array of unsigned bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdxArray {
    /// The size of each dimension, outermost first (for images: count, rows, columns).
    pub dims: Vec<usize>,
    /// The values in row-major order; `data.len()` is the product of `dims`.
    pub data: Vec<u8>,
}

/// Decode IDX bytes, decompressing them first if they start with the gzip magic (0x1f 0x8b;
/// an IDX file always starts with two zero bytes, so the two cannot be confused). `name` is
/// used in errors.
pub fn decode(bytes: &[u8], name: &str) -> Result<IdxArray, DataError> {
    if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut raw = Vec::with_capacity(gzip_size_hint(bytes));
        GzDecoder::new(bytes).read_to_end(&mut raw).map_err(|e| {
            idx_error(
                name,
                IdxProblem::Gzip {
                    message: e.to_string(),
                },
            )
        })?;
        // The values move to the front of the buffer they were inflated into: no second
        // buffer of the whole file (9 MB for the training digits).
        let (dims, header) = check(&raw, name)?;
        raw.drain(..header);
        Ok(IdxArray { dims, data: raw })
    } else {
        parse(bytes, name)
    }
}

/// The uncompressed size a gzip stream gives in its last four bytes (modulo 2^32), to allocate
/// once instead of growing; 0 when it is implausible (deflate expands at most about 1032
/// times) or large, so a damaged or hostile file cannot make it allocate much.
fn gzip_size_hint(bytes: &[u8]) -> usize {
    let Some(tail) = bytes.len().checked_sub(4).map(|at| &bytes[at..]) else {
        return 0;
    };
    let size = u32::from_le_bytes([tail[0], tail[1], tail[2], tail[3]]) as usize;
    if size <= bytes.len().saturating_mul(1032) && size <= 1 << 28 {
        size
    } else {
        0
    }
}

/// Read and decode an IDX file (plain or `.gz`) from disk.
pub fn read(path: &Path) -> Result<IdxArray, DataError> {
    let bytes = std::fs::read(path).map_err(|source| DataError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    decode(&bytes, &path.display().to_string())
}

/// Parse uncompressed IDX bytes. `name` is used in errors.
pub fn parse(bytes: &[u8], name: &str) -> Result<IdxArray, DataError> {
    let (dims, header) = check(bytes, name)?;
    Ok(IdxArray {
        dims,
        data: bytes[header..].to_vec(),
    })
}

/// Checks uncompressed IDX bytes: the dimensions and the length of the header before the
/// values.
fn check(bytes: &[u8], name: &str) -> Result<(Vec<usize>, usize), DataError> {
    let fail = |problem| Err(idx_error(name, problem));
    if bytes.len() < 4 {
        return fail(IdxProblem::HeaderTooShort {
            len: bytes.len(),
            needed: 4,
        });
    }
    let magic = be_u32(&bytes[0..4]);
    if bytes[0] != 0 || bytes[1] != 0 {
        return fail(IdxProblem::BadMagic { found: magic });
    }
    if bytes[2] != TYPE_U8 {
        return fail(IdxProblem::UnsupportedType { found: bytes[2] });
    }
    let ndim = usize::from(bytes[3]);
    if ndim == 0 {
        return fail(IdxProblem::NoDimensions);
    }
    let header = 4 + 4 * ndim;
    if bytes.len() < header {
        return fail(IdxProblem::HeaderTooShort {
            len: bytes.len(),
            needed: header,
        });
    }
    let dims: Vec<usize> = bytes[4..header]
        .chunks_exact(4)
        .map(|c| be_u32(c) as usize)
        .collect();
    let total = dims.iter().try_fold(1u64, |acc, &d| {
        acc.checked_mul(d as u64).filter(|&t| t <= MAX_VALUES)
    });
    let Some(total) = total else {
        return fail(IdxProblem::TooLarge { dims });
    };
    let expected = total as usize;
    let found = bytes.len() - header;
    if found < expected {
        return fail(IdxProblem::Truncated {
            dims,
            expected,
            found,
        });
    }
    if found > expected {
        return fail(IdxProblem::TrailingBytes {
            dims,
            expected,
            extra: found - expected,
        });
    }
    Ok((dims, header))
}

/// Encode an array as uncompressed IDX bytes (unsigned-byte type). The inverse of [`parse`];
/// handy for writing a lesson pack's own files and for tests.
pub fn encode(dims: &[usize], data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + 4 * dims.len() + data.len());
    out.extend_from_slice(&[0, 0, TYPE_U8, dims.len() as u8]);
    for &d in dims {
        out.extend_from_slice(&(d as u32).to_be_bytes());
    }
    out.extend_from_slice(data);
    out
}

fn be_u32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

fn idx_error(name: &str, problem: IdxProblem) -> DataError {
    DataError::Idx {
        name: name.to_string(),
        problem,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::write::GzEncoder;
    use std::io::Write;

    fn problem(result: Result<IdxArray, DataError>) -> IdxProblem {
        match result {
            Err(DataError::Idx { problem, .. }) => problem,
            other => panic!("expected an IDX error, got {other:?}"),
        }
    }

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut enc = GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(bytes).unwrap();
        enc.finish().unwrap()
    }

    #[test]
    fn the_gzip_size_hint_is_the_size_or_nothing_when_implausible() {
        let raw: Vec<u8> = (0..50_000u32).map(|i| (i % 7) as u8).collect();
        let mut gz = gzip(&raw);
        assert_eq!(gzip_size_hint(&gz), raw.len());
        assert_eq!(gzip_size_hint(&gz[..3]), 0);
        // A trailer claiming 4 GB from a few hundred bytes is not believed (nor allocated),
        // and the damaged stream is still refused, not trusted.
        let n = gz.len();
        gz[n - 4..].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(gzip_size_hint(&gz), 0);
        assert!(decode(&gz, "claims 4 GB").is_err());
    }

    #[test]
    fn parses_a_hand_made_image_file() {
        // Two 2x3 images, written out byte by byte.
        let bytes = [
            0, 0, 8, 3, // magic: u8, 3 dimensions
            0, 0, 0, 2, // count
            0, 0, 0, 2, // rows
            0, 0, 0, 3, // columns
            1, 2, 3, 4, 5, 6, // image 0
            7, 8, 9, 10, 11, 255, // image 1
        ];
        let a = parse(&bytes, "tiny").unwrap();
        assert_eq!(a.dims, vec![2, 2, 3]);
        assert_eq!(a.data, vec![1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 255]);
    }

    #[test]
    fn dimensions_are_big_endian() {
        let bytes = encode(&[258], &vec![0; 258]);
        assert_eq!(&bytes[4..8], &[0, 0, 1, 2]);
        assert_eq!(parse(&bytes, "x").unwrap().dims, vec![258]);
    }

    #[test]
    fn encode_then_parse_round_trips() {
        let data: Vec<u8> = (0..24).collect();
        let a = parse(&encode(&[2, 3, 4], &data), "x").unwrap();
        assert_eq!(a.dims, vec![2, 3, 4]);
        assert_eq!(a.data, data);
    }

    #[test]
    fn gzip_is_detected_and_decompressed() {
        let raw = encode(&[3], &[7, 8, 9]);
        let a = decode(&gzip(&raw), "labels.gz").unwrap();
        assert_eq!(a.data, vec![7, 8, 9]);
        // Plain bytes go through decode too.
        assert_eq!(decode(&raw, "labels").unwrap(), a);
    }

    #[test]
    fn wrong_magic_is_reported_with_the_file_name() {
        let mut bytes = encode(&[1], &[0]);
        bytes[0] = 0x89; // as in a PNG file
        let err = parse(&bytes, "pack/labels.idx").unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("pack/labels.idx"), "{msg}");
        assert!(msg.contains("wrong magic number 0x89000801"), "{msg}");
    }

    #[test]
    fn unsupported_type_and_zero_dims_are_rejected() {
        let mut bytes = encode(&[1], &[0]);
        bytes[2] = 0x0d; // float
        assert_eq!(
            problem(parse(&bytes, "x")),
            IdxProblem::UnsupportedType { found: 0x0d }
        );
        assert_eq!(problem(parse(&[0, 0, 8, 0], "x")), IdxProblem::NoDimensions);
    }

    #[test]
    fn truncated_header_and_data_are_reported() {
        assert_eq!(
            problem(parse(&[0, 0], "x")),
            IdxProblem::HeaderTooShort { len: 2, needed: 4 }
        );
        assert_eq!(
            problem(parse(&[0, 0, 8, 3, 0, 0, 0, 1], "x")),
            IdxProblem::HeaderTooShort { len: 8, needed: 16 }
        );
        let mut bytes = encode(&[2, 2, 2], &[1; 8]);
        bytes.truncate(bytes.len() - 3);
        assert_eq!(
            problem(parse(&bytes, "x")),
            IdxProblem::Truncated {
                dims: vec![2, 2, 2],
                expected: 8,
                found: 5
            }
        );
        let msg = parse(&bytes, "train-images").unwrap_err().to_string();
        assert!(
            msg.contains("train-images") && msg.contains("truncated"),
            "{msg}"
        );
    }

    #[test]
    fn trailing_bytes_and_huge_headers_are_rejected() {
        let mut bytes = encode(&[2], &[1, 2]);
        bytes.push(3);
        assert!(matches!(
            problem(parse(&bytes, "x")),
            IdxProblem::TrailingBytes { extra: 1, .. }
        ));
        let huge = encode(&[u32::MAX as usize, u32::MAX as usize], &[]);
        assert!(matches!(
            problem(parse(&huge, "x")),
            IdxProblem::TooLarge { .. }
        ));
    }

    #[test]
    fn broken_gzip_is_reported() {
        let mut gz = gzip(&encode(&[100], &[5; 100]));
        gz.truncate(gz.len() / 2);
        assert!(matches!(
            problem(decode(&gz, "x.gz")),
            IdxProblem::Gzip { .. }
        ));
    }

    #[test]
    fn files_are_read_from_disk_and_missing_ones_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("labels.idx.gz");
        std::fs::write(&path, gzip(&encode(&[2], &[3, 4]))).unwrap();
        assert_eq!(read(&path).unwrap().data, vec![3, 4]);

        let missing = dir.path().join("nope.idx");
        let msg = read(&missing).unwrap_err().to_string();
        assert!(msg.contains("nope.idx"), "{msg}");
    }
}
