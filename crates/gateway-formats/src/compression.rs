//! Compression from magic bytes, with the name and the declared option as hints; streaming
//! decompression of a raw prefix, stopped at a cap.

use std::io::Read;

use gateway_domain::Compression;

use crate::FormatError;

/// The compression the first bytes show (`None` when they show none).
pub fn from_magic(head: &[u8]) -> Compression {
    match head {
        [0x1f, 0x8b, ..] => Compression::Gzip,
        [b'P', b'K', 0x03, 0x04, ..] | [b'P', b'K', 0x05, 0x06, ..] => Compression::Zip,
        [0x28, 0xb5, 0x2f, 0xfd, ..] => Compression::Zstd,
        [b'B', b'Z', b'h', b'1'..=b'9', ..] => Compression::Bz2,
        _ => Compression::None,
    }
}

/// The compression a file name's extension claims.
pub fn from_name(name: &str) -> Option<Compression> {
    let lower = name.to_ascii_lowercase();
    let ext = lower.rsplit('.').next()?;
    match ext {
        "gz" | "gzip" => Some(Compression::Gzip),
        "zip" => Some(Compression::Zip),
        "zst" | "zstd" => Some(Compression::Zstd),
        "bz2" => Some(Compression::Bz2),
        _ => None,
    }
}

pub fn describe(head: &[u8]) -> String {
    match from_magic(head) {
        Compression::None if head.is_empty() => "empty".into(),
        Compression::None => "uncompressed".into(),
        other => format!("{other}"),
    }
}

/// Decompresses what `raw` holds, at most `cap` bytes of output. `whole` says whether `raw`
/// is the whole compressed stream; when it is not, running out of input ends the sample
/// instead of being an error. Returns the output and whether the stream's end was reached.
pub fn decompress(kind: Compression, raw: &[u8], whole: bool, cap: usize) -> Result<(Vec<u8>, bool), FormatError> {
    let reader: Box<dyn Read + '_> = match kind {
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(raw)),
        Compression::Zstd => {
            Box::new(zstd::stream::read::Decoder::new(raw).map_err(|e| FormatError::Corrupt(kind, e.to_string()))?)
        }
        Compression::Bz2 => Box::new(bzip2::read::MultiBzDecoder::new(raw)),
        // Zip entries come here already opened; deflate is their method.
        Compression::Zip => Box::new(flate2::read::DeflateDecoder::new(raw)),
        Compression::None | Compression::Auto => {
            return Ok((raw.get(..cap).unwrap_or(raw).to_vec(), whole && raw.len() <= cap));
        }
    };
    read_capped(kind, reader, whole, cap)
}

fn read_capped(
    kind: Compression,
    mut reader: impl Read,
    whole: bool,
    cap: usize,
) -> Result<(Vec<u8>, bool), FormatError> {
    let mut out = Vec::with_capacity(cap.min(1 << 20));
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        if out.len() >= cap {
            out.truncate(cap);
            return Ok((out, false));
        }
        match reader.read(&mut buf) {
            Ok(0) => return Ok((out, true)),
            Ok(n) => out.extend_from_slice(buf.get(..n).unwrap_or_default()),
            Err(e) if !whole && (e.kind() == std::io::ErrorKind::UnexpectedEof || !out.is_empty()) => {
                // The prefix ended mid-stream: the sample ends here.
                return Ok((out, false));
            }
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                return Err(FormatError::Truncated(format!("the {kind} stream ends before its end marker")));
            }
            Err(e) => return Err(FormatError::Corrupt(kind, e.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn magic_and_names() {
        assert_eq!(from_magic(&[0x1f, 0x8b, 8]), Compression::Gzip);
        assert_eq!(from_magic(b"PK\x03\x04"), Compression::Zip);
        assert_eq!(from_magic(&[0x28, 0xb5, 0x2f, 0xfd]), Compression::Zstd);
        assert_eq!(from_magic(b"BZh9"), Compression::Bz2);
        assert_eq!(from_magic(b"id,name"), Compression::None);
        assert_eq!(from_name("users.CSV.GZ"), Some(Compression::Gzip));
        assert_eq!(from_name("users.csv"), None);
    }

    #[test]
    fn a_prefix_ends_the_sample_a_whole_truncated_stream_is_an_error() {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        for i in 0..50_000 {
            let _ = writeln!(e, "{i},row number {i}");
        }
        let gz = e.finish().unwrap_or_default();
        let (all, end) = decompress(Compression::Gzip, &gz, true, usize::MAX).unwrap_or_default();
        assert!(end && all.starts_with(b"0,row number 0\n"));
        let (part, end) = decompress(Compression::Gzip, &gz[..gz.len() / 3], false, usize::MAX).unwrap_or_default();
        assert!(!end && !part.is_empty() && part.len() < all.len());
        assert!(matches!(
            decompress(Compression::Gzip, &gz[..gz.len() / 3], true, usize::MAX),
            Err(FormatError::Truncated(_))
        ));
        let (capped, end) = decompress(Compression::Gzip, &gz, true, 100).unwrap_or_default();
        assert!(!end && capped.len() == 100);
    }
}
