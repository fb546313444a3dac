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
/// past what it declares. A page cut off by the end of `bytes` ends the walk; a header that
/// cannot be read is refused (the parquet crate would read it its own way, and allocate what
/// it says).
pub fn check(bytes: &[u8], codec: Compression, cap: usize) -> Result<(), FormatError> {
    let mut at = 0usize;
    while let Some(rest) = bytes.get(at..).filter(|r| !r.is_empty()) {
        let h = match header(rest) {
            Ok(h) => h,
            Err(Stop::End) => return Ok(()),
            Err(Stop::Bad(why)) => {
                return Err(FormatError::Parquet(format!("a page header is not one Parquet writes ({why})")));
            }
        };
        if h.uncompressed as u64 > cap as u64 {
            return Err(FormatError::Parquet(format!(
                "a page declares {} bytes uncompressed, more than the {cap} a preview decompresses",
                h.uncompressed
            )));
        }
        let start = at.saturating_add(h.len);
        let end = start.saturating_add(h.compressed as usize);
        let Some(page) = bytes.get(start..end) else { return Ok(()) };
        expands_within(page, codec, h.uncompressed as usize)?;
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

/// Why a header walk stopped short.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    /// The bytes end inside it: the rest is in bytes not handed here.
    End,
    /// It is not what Parquet's writers write, or what the parquet crate would read as we do.
    Bad(&'static str),
}

/// A field's type in the structs of a page header (the parquet format's `PageHeader`).
#[derive(Debug, Clone, Copy)]
enum Ty {
    I32,
    I64,
    Binary,
    Bool,
    Struct(&'static [(i16, Ty)]),
}

const STATISTICS: &[(i16, Ty)] = &[
    (1, Ty::Binary),
    (2, Ty::Binary),
    (3, Ty::I64),
    (4, Ty::I64),
    (5, Ty::Binary),
    (6, Ty::Binary),
    (7, Ty::Bool),
    (8, Ty::Bool),
];
const DATA_PAGE: &[(i16, Ty)] = &[(1, Ty::I32), (2, Ty::I32), (3, Ty::I32), (4, Ty::I32), (5, Ty::Struct(STATISTICS))];
const INDEX_PAGE: &[(i16, Ty)] = &[];
const DICTIONARY_PAGE: &[(i16, Ty)] = &[(1, Ty::I32), (2, Ty::I32), (3, Ty::Bool)];
const DATA_PAGE_V2: &[(i16, Ty)] = &[
    (1, Ty::I32),
    (2, Ty::I32),
    (3, Ty::I32),
    (4, Ty::I32),
    (5, Ty::I32),
    (6, Ty::I32),
    (7, Ty::Bool),
    (8, Ty::Struct(STATISTICS)),
];
const PAGE_HEADER: &[(i16, Ty)] = &[
    (1, Ty::I32),
    (2, Ty::I32),
    (3, Ty::I32),
    (4, Ty::I32),
    (5, Ty::Struct(DATA_PAGE)),
    (6, Ty::Struct(INDEX_PAGE)),
    (7, Ty::Struct(DICTIONARY_PAGE)),
    (8, Ty::Struct(DATA_PAGE_V2)),
];

/// The parquet crate's limit on nesting while it skips a field.
const SKIP_DEPTH: u8 = 64;

/// Reads a Thrift compact-protocol `PageHeader` strictly: every field the format defines must
/// have its type, a top-level field it does not define is refused (the parquet crate would
/// skip it, and a skipper that disagrees by one byte on its length would check other bytes
/// than the ones decompressed), and an unknown field inside the nested headers is skipped
/// as the parquet crate skips it.
fn header(b: &[u8]) -> Result<Header, Stop> {
    let mut r = Compact { b, at: 0 };
    let (mut uncompressed, mut compressed, mut kind) = (None, None, None);
    let mut last = 0i16;
    while let Some((id, ty)) = r.field(last)? {
        last = id;
        let Some(&(_, want)) = PAGE_HEADER.iter().find(|(known, _)| *known == id) else {
            return Err(Stop::Bad("a field the format does not define"));
        };
        match id {
            1 => kind = Some(r.i32(ty)?),
            2 => uncompressed = Some(r.i32(ty)?),
            3 => compressed = Some(r.i32(ty)?),
            _ => r.value(ty, want)?,
        }
    }
    let (Some(_), Some(uncompressed), Some(compressed)) = (kind, uncompressed, compressed) else {
        return Err(Stop::Bad("a required field is missing"));
    };
    if uncompressed < 0 || compressed < 0 {
        return Err(Stop::Bad("a negative size"));
    }
    Ok(Header { uncompressed: i64::from(uncompressed), compressed: i64::from(compressed), len: r.at })
}

struct Compact<'a> {
    b: &'a [u8],
    at: usize,
}

impl Compact<'_> {
    fn byte(&mut self) -> Result<u8, Stop> {
        let v = *self.b.get(self.at).ok_or(Stop::End)?;
        self.at += 1;
        Ok(v)
    }

    /// A ULEB128 varint of at most 10 bytes (the parquet crate reads longer ones, wrapping).
    fn varint(&mut self) -> Result<u64, Stop> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = self.byte()?;
            v |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(Stop::Bad("a varint longer than 10 bytes"))
    }

    fn zigzag(&mut self) -> Result<i64, Stop> {
        let v = self.varint()?;
        Ok((v >> 1) as i64 ^ -((v & 1) as i64))
    }

    fn bytes(&mut self, n: usize) -> Result<(), Stop> {
        let end = self.at.checked_add(n).ok_or(Stop::Bad("a length past any file"))?;
        if end > self.b.len() {
            return Err(Stop::End);
        }
        self.at = end;
        Ok(())
    }

    /// A field header: its id (by delta from `last`, or in full) and compact type; `None` at
    /// the struct's stop byte.
    fn field(&mut self, last: i16) -> Result<Option<(i16, u8)>, Stop> {
        let byte = self.byte()?;
        let ty = byte & 0x0f;
        if ty == 0 {
            return Ok(None);
        }
        if ty > 13 {
            return Err(Stop::Bad("an unknown Thrift type"));
        }
        let delta = i16::from(byte >> 4);
        let id = if delta == 0 {
            i16::try_from(self.zigzag()?).map_err(|_| Stop::Bad("a field id out of range"))?
        } else {
            last.checked_add(delta).ok_or(Stop::Bad("a field id out of range"))?
        };
        Ok(Some((id, ty)))
    }

    /// An i32 field's value (compact type 5), refused when it does not fit an i32.
    fn i32(&mut self, ty: u8) -> Result<i32, Stop> {
        if ty != 5 {
            return Err(Stop::Bad("a field of another type than the format's"));
        }
        i32::try_from(self.zigzag()?).map_err(|_| Stop::Bad("a 32-bit field out of range"))
    }

    /// A value of a known field, which must have the format's type.
    fn value(&mut self, ty: u8, want: Ty) -> Result<(), Stop> {
        match (want, ty) {
            (Ty::I32, 5) | (Ty::I64, 6) => self.varint().map(|_| ()),
            (Ty::Binary, 8) => {
                let n = usize::try_from(self.varint()?).map_err(|_| Stop::Bad("a length past any file"))?;
                self.bytes(n)
            }
            (Ty::Bool, 1 | 2) => Ok(()),
            (Ty::Struct(fields), 12) => self.known_struct(fields),
            _ => Err(Stop::Bad("a field of another type than the format's")),
        }
    }

    fn known_struct(&mut self, fields: &'static [(i16, Ty)]) -> Result<(), Stop> {
        let mut last = 0i16;
        while let Some((id, ty)) = self.field(last)? {
            last = id;
            match fields.iter().find(|(known, _)| *known == id) {
                Some(&(_, want)) => self.value(ty, want)?,
                None => self.skip(ty, SKIP_DEPTH)?,
            }
        }
        Ok(())
    }

    /// Skips a value of compact type `ty` as the parquet crate does (`skip_till_depth`); a
    /// collection of booleans, whose elements the crate skips as zero bytes where the
    /// protocol writes one, is refused.
    fn skip(&mut self, ty: u8, depth: u8) -> Result<(), Stop> {
        if depth == 0 {
            return Err(Stop::Bad("fields nested too deep"));
        }
        match ty {
            1 | 2 => Ok(()),
            3 => self.bytes(1),
            4..=6 => self.varint().map(|_| ()),
            7 => self.bytes(8),
            8 => {
                let n = usize::try_from(self.varint()?).map_err(|_| Stop::Bad("a length past any file"))?;
                self.bytes(n)
            }
            9 | 10 => {
                let h = self.byte()?;
                if h == 0 {
                    return Ok(()); // an empty list some writers write without an element type
                }
                let elem = element(h & 0x0f)?;
                let n = if h >> 4 == 15 {
                    i32::try_from(self.varint()?).map_err(|_| Stop::Bad("a list size out of range"))?
                } else {
                    i32::from(h >> 4)
                };
                for _ in 0..n {
                    self.skip(elem, depth - 1)?;
                }
                Ok(())
            }
            11 => {
                let n = i32::try_from(self.varint()?).map_err(|_| Stop::Bad("a map size out of range"))?;
                if n <= 0 {
                    return Ok(());
                }
                let kv = self.byte()?;
                let (k, v) = (element(kv >> 4)?, element(kv & 0x0f)?);
                for _ in 0..n {
                    self.skip(k, depth - 1)?;
                    self.skip(v, depth - 1)?;
                }
                Ok(())
            }
            12 => {
                while let Some((_, t)) = self.field(0)? {
                    self.skip(t, depth - 1)?;
                }
                Ok(())
            }
            13 => self.bytes(16),
            _ => Err(Stop::Bad("an unknown Thrift type")),
        }
    }
}

/// A collection's element type; booleans refused (see [`Compact::skip`]).
fn element(t: u8) -> Result<u8, Stop> {
    match t {
        1 | 2 => Err(Stop::Bad("a collection of booleans")),
        3..=13 => Ok(t),
        _ => Err(Stop::Bad("an unknown Thrift element type")),
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
        let mut page = header_bytes(i64::from(i32::MAX), 4);
        page.extend([0, 0, 0, 0]);
        let err = check(&page, Compression::SNAPPY, MAX_PAGE).unwrap_err();
        assert!(err.to_string().contains("2147483647 bytes uncompressed"), "{err}");
        // A size past an i32 (which the parquet crate would truncate) is refused as such.
        let mut past = header_bytes(2 << 30, 4);
        past.extend([0, 0, 0, 0]);
        let err = check(&past, Compression::SNAPPY, MAX_PAGE).unwrap_err();
        assert!(err.to_string().contains("out of range"), "{err}");
        let mut ok = header_bytes(4, 4);
        ok.extend([1, 2, 3, 4]);
        ok.extend(header_bytes(10, 2));
        ok.extend([9, 9]);
        assert!(check(&ok, Compression::UNCOMPRESSED, MAX_PAGE).is_ok());
        assert!(check(&ok[..5], Compression::UNCOMPRESSED, MAX_PAGE).is_ok(), "a page cut short ends the walk");
    }

    /// The header of the security review's 119-byte bomb: a 2 GiB page hidden behind one
    /// extra field the walker used to give up on (compact type 13, UUID), and variants.
    #[test]
    fn headers_the_parquet_crate_reads_otherwise_are_refused() {
        let with = |extra: &[u8]| {
            let mut h = header_bytes(2_147_483_647, 9);
            h.pop(); // the stop byte, re-added after the extra field
            h.extend(extra);
            h.push(0);
            h.extend([0u8; 9]);
            h
        };
        // field 9 (delta 4 from 5) of type UUID, 16 bytes.
        let uuid = with(&[[0x4d].as_slice(), &[0u8; 16]].concat());
        let refused = check(&uuid, Compression::SNAPPY, MAX_PAGE).unwrap_err().to_string();
        assert!(refused.contains("a field the format does not define"), "{refused}");
        // The same size behind a known field of the wrong type (field 4, crc, as binary).
        let mut typed = vec![0x15, 0x00, 0x15, 0x0a, 0x15, 0x02, 0x18, 0x01, 0x00, 0x00, 0x00, 0x00];
        typed.extend([0u8; 4]);
        let refused = check(&typed, Compression::SNAPPY, MAX_PAGE).unwrap_err().to_string();
        assert!(refused.contains("another type"), "{refused}");
        // A list of booleans inside the data page header's statistics (field 5 of it).
        let mut bools = header_bytes(10, 2);
        let stop = bools.len() - 2; // the data page header's stop byte
        bools.splice(stop..stop, [0x4c, 0x99, 0x32, 0x01, 0x01, 0x00]);
        let refused = check(&bools, Compression::SNAPPY, MAX_PAGE).unwrap_err().to_string();
        assert!(refused.contains("booleans"), "{refused}");
        // Nesting past the parquet crate's own skip depth.
        let mut deep = header_bytes(10, 2);
        let stop = deep.len() - 2;
        let mut nested = vec![0x9c]; // field 9 of the data page header, a struct
        nested.extend(std::iter::repeat_n(0x1c, 70)); // struct in struct ...
        nested.extend(std::iter::repeat_n(0x00, 71));
        deep.splice(stop..stop, nested);
        let refused = check(&deep, Compression::SNAPPY, MAX_PAGE).unwrap_err().to_string();
        assert!(refused.contains("too deep"), "{refused}");
        // An unknown field *inside* a nested header is skipped as the parquet crate skips it.
        let mut known = header_bytes(10, 2);
        let stop = known.len() - 2;
        known.splice(stop..stop, [0x98, 0x03, b'a', b'b', b'c']); // field 9, binary "abc"
        known.extend([7, 7]);
        assert!(check(&known, Compression::UNCOMPRESSED, MAX_PAGE).is_ok());
    }

    proptest::proptest! {
        /// Whatever the bytes, the walk answers (never panics, never loops).
        #[test]
        fn any_bytes_are_answered(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512)) {
            let _ = check(&bytes, Compression::SNAPPY, MAX_PAGE);
            let _ = check(&bytes, Compression::GZIP(Default::default()), MAX_PAGE);
        }
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
