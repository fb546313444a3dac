//! Parquet pages checked before the parquet crate decompresses them. A page header declares
//! its uncompressed size, and arrow-rs allocates what a header declares (SNAPPY, LZ4_RAW) or
//! decompresses without bound whatever it declares (GZIP, ZSTD): a 500 KB file could make it
//! allocate gigabytes. Every page in the bytes handed to it is walked here: its declared size
//! is held to a cap, and a GZIP or ZSTD page is decompressed first with the cap as its limit,
//! so it cannot expand past what it declares.

use std::io::Read;

use parquet::basic::Compression;

use crate::FormatError;

/// The largest page a preview decompresses (Parquet's default page size is 1 MiB).
pub const MAX_PAGE: usize = 16 * 1024 * 1024;

/// A page header's sizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Header {
    uncompressed: i64,
    compressed: i64,
    /// Bytes the header itself takes.
    len: usize,
}

/// Walks the pages in `bytes` (which start at a page header: a column chunk, or a range of its
/// pages) and refuses one that declares more than `cap` uncompressed bytes, or that expands
/// past what it declares. A page cut off by the end of `bytes` ends the walk.
pub fn check(bytes: &[u8], codec: Compression, cap: usize) -> Result<(), FormatError> {
    let mut at = 0usize;
    while at < bytes.len() {
        let Some(h) = header(&bytes[at..]) else { return Ok(()) };
        if h.uncompressed < 0 || h.compressed < 0 {
            return Err(FormatError::Parquet("a page header declares a negative size".into()));
        }
        if h.uncompressed as u64 > cap as u64 {
            return Err(FormatError::Parquet(format!(
                "a page declares {} bytes uncompressed, more than the {cap} a preview decompresses",
                h.uncompressed
            )));
        }
        let start = at + h.len;
        let end = start.saturating_add(h.compressed as usize);
        if end > bytes.len() {
            return Ok(());
        }
        expands_within(&bytes[start..end], codec, h.uncompressed as usize)?;
        at = end;
    }
    Ok(())
}

/// Decompresses a page of a codec whose decoder ignores the declared size, stopping one byte
/// past it.
fn expands_within(page: &[u8], codec: Compression, declared: usize) -> Result<(), FormatError> {
    let limit = declared as u64 + 1;
    let got = match codec {
        Compression::GZIP(_) => {
            std::io::copy(&mut flate2::read::MultiGzDecoder::new(page).take(limit), &mut std::io::sink())
        }
        Compression::ZSTD(_) => match zstd::stream::read::Decoder::new(page) {
            Ok(d) => std::io::copy(&mut d.take(limit), &mut std::io::sink()),
            Err(e) => Err(e),
        },
        // The deprecated Hadoop-framed LZ4 is read by arrow-rs without a bound.
        Compression::LZ4 => {
            return Err(FormatError::Parquet(
                "pages compressed with the deprecated LZ4 codec cannot be sampled safely: write the file with LZ4_RAW or ZSTD".into(),
            ));
        }
        // SNAPPY, LZ4_RAW and BROTLI are decoded into a buffer of the declared size.
        _ => return Ok(()),
    };
    // Data page v2 keeps its levels uncompressed before the values: the page may decompress
    // to less than it declares, never more.
    match got {
        Ok(n) if n > declared as u64 => {
            Err(FormatError::Parquet(format!("a page decompresses to more than the {declared} bytes it declares")))
        }
        _ => Ok(()),
    }
}

/// Reads a Thrift compact-protocol `PageHeader`: fields 1 (type), 2 (uncompressed size), 3
/// (compressed size); the rest skipped. `None` when the bytes end before it does.
fn header(b: &[u8]) -> Option<Header> {
    let mut r = Compact { b, at: 0 };
    let (mut uncompressed, mut compressed) = (None, None);
    let mut last = 0i16;
    loop {
        let byte = r.byte()?;
        let ty = byte & 0x0f;
        if ty == 0 {
            break;
        }
        let delta = (byte >> 4) as i16;
        let id = if delta == 0 { r.zigzag()? as i16 } else { last + delta };
        last = id;
        match (id, ty) {
            (2, 5) => uncompressed = Some(r.zigzag()?),
            (3, 5) => compressed = Some(r.zigzag()?),
            _ => r.skip(ty, 0)?,
        }
    }
    Some(Header { uncompressed: uncompressed?, compressed: compressed?, len: r.at })
}

struct Compact<'a> {
    b: &'a [u8],
    at: usize,
}

impl Compact<'_> {
    fn byte(&mut self) -> Option<u8> {
        let v = *self.b.get(self.at)?;
        self.at += 1;
        Some(v)
    }

    fn varint(&mut self) -> Option<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = self.byte()?;
            v |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Some(v);
            }
        }
        None
    }

    fn zigzag(&mut self) -> Option<i64> {
        let v = self.varint()?;
        Some((v >> 1) as i64 ^ -((v & 1) as i64))
    }

    fn bytes(&mut self, n: usize) -> Option<()> {
        self.at = self.at.checked_add(n).filter(|end| *end <= self.b.len())?;
        Some(())
    }

    /// Skips a value of compact type `ty`; nesting is bounded.
    fn skip(&mut self, ty: u8, depth: u8) -> Option<()> {
        if depth > 16 {
            return None;
        }
        match ty {
            1 | 2 => Some(()),
            3 => self.bytes(1),
            4..=6 => self.varint().map(|_| ()),
            7 => self.bytes(8),
            8 => {
                let n = usize::try_from(self.varint()?).ok()?;
                self.bytes(n)
            }
            9 | 10 => {
                let h = self.byte()?;
                let n = if h >> 4 == 15 { usize::try_from(self.varint()?).ok()? } else { usize::from(h >> 4) };
                let elem = h & 0x0f;
                for _ in 0..n {
                    if matches!(elem, 1 | 2) {
                        self.bytes(1)?;
                    } else {
                        self.skip(elem, depth + 1)?;
                    }
                }
                Some(())
            }
            11 => {
                let n = usize::try_from(self.varint()?).ok()?;
                if n == 0 {
                    return Some(());
                }
                let kv = self.byte()?;
                for _ in 0..n {
                    self.skip(kv >> 4, depth + 1)?;
                    self.skip(kv & 0x0f, depth + 1)?;
                }
                Some(())
            }
            12 => loop {
                let byte = self.byte()?;
                let t = byte & 0x0f;
                if t == 0 {
                    return Some(());
                }
                if byte >> 4 == 0 {
                    self.zigzag()?;
                }
                self.skip(t, depth + 1)?;
            },
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A compact-protocol PageHeader: type DATA_PAGE, the sizes, a data_page_header struct.
    fn header_bytes(uncompressed: i64, compressed: i64) -> Vec<u8> {
        let zz = |v: i64| {
            let mut z = ((v << 1) ^ (v >> 63)) as u64;
            let mut out = Vec::new();
            loop {
                let b = (z & 0x7f) as u8;
                z >>= 7;
                if z == 0 {
                    out.push(b);
                    return out;
                }
                out.push(b | 0x80);
            }
        };
        let mut h = vec![0x15];
        h.extend(zz(0));
        h.push(0x15);
        h.extend(zz(uncompressed));
        h.push(0x15);
        h.extend(zz(compressed));
        // field 5 (delta 2), a struct with one i32 (num_values = 3), then stops.
        h.push(0x2c);
        h.push(0x15);
        h.extend(zz(3));
        h.push(0);
        h.push(0);
        h
    }

    #[test]
    fn declared_sizes_are_held_to_the_cap() {
        let mut page = header_bytes(2 << 30, 4);
        page.extend([0, 0, 0, 0]);
        let err = check(&page, Compression::SNAPPY, MAX_PAGE).unwrap_err();
        assert!(err.to_string().contains("2147483648 bytes uncompressed"), "{err}");
        let mut ok = header_bytes(4, 4);
        ok.extend([1, 2, 3, 4]);
        ok.extend(header_bytes(10, 2));
        ok.extend([9, 9]);
        assert!(check(&ok, Compression::UNCOMPRESSED, MAX_PAGE).is_ok());
        assert!(check(&ok[..5], Compression::UNCOMPRESSED, MAX_PAGE).is_ok(), "a page cut short ends the walk");
    }

    #[test]
    fn a_gzip_page_cannot_expand_past_what_it_declares() {
        let zeros = vec![0u8; 1 << 20];
        let gz = {
            use std::io::Write;
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
            e.write_all(&zeros).unwrap();
            e.finish().unwrap()
        };
        let mut lying = header_bytes(1000, gz.len() as i64);
        lying.extend(&gz);
        let err = check(&lying, Compression::GZIP(Default::default()), MAX_PAGE).unwrap_err();
        assert!(err.to_string().contains("more than the 1000 bytes it declares"), "{err}");
        let mut honest = header_bytes(1 << 20, gz.len() as i64);
        honest.extend(&gz);
        assert!(check(&honest, Compression::GZIP(Default::default()), MAX_PAGE).is_ok());
    }
}
