//! Avro object container files with every block inflated under a bound before apache-avro
//! sees it. apache-avro caps each length it decodes, but a block's codec inflates without
//! one (deflate through `decompress_to_vec`, snappy to the length the block declares): a
//! 1 MiB deflate block can inflate to a gigabyte. [`Bounded`] reads the container itself
//! (<https://avro.apache.org/docs/1.12.0/specification/#object-container-files>): the header
//! is passed on with `avro.codec` rewritten to `null`, and each block is inflated here into at
//! most `max_block` bytes (past it, an error naming the bound), its sync marker checked, and
//! passed on uncompressed. Memory: one compressed and one inflated block at a time.

use std::io::{self, Read};

use gateway_domain::Compression;

use crate::FormatError;

/// The most bytes one block of a whole read may inflate to (writers flush blocks of tens of
/// kilobytes to a few megabytes; a block is decoded whole, so this bounds its memory), and the
/// most apache-avro may allocate for one length.
pub const MAX_BLOCK_BYTES: usize = 16 << 20;

/// The most a block of a preview's sample may inflate to (the sample is at most the read
/// budget compressed; 8 previews at once stay within a few hundred MiB).
pub const MAX_SAMPLE_BLOCK_BYTES: usize = 8 << 20;

/// The most bytes a header's metadata may hold (the writer's schema, mostly).
const MAX_HEADER_BYTES: usize = 16 << 20;

const MAGIC: &[u8; 4] = b"Obj\x01";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Codec {
    Null,
    Deflate,
    Snappy,
    Zstandard,
    Bzip2,
}

enum State {
    Header,
    Blocks,
    Done,
}

/// An Avro container read through a bound on each block's inflated size; reads as the same
/// container with the `null` codec.
pub struct Bounded<R> {
    inner: R,
    max_block: usize,
    out: Vec<u8>,
    pos: usize,
    state: State,
    codec: Codec,
    sync: [u8; 16],
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}

impl<R: Read> Bounded<R> {
    pub fn new(inner: R, max_block: usize) -> Bounded<R> {
        Bounded { inner, max_block, out: Vec::new(), pos: 0, state: State::Header, codec: Codec::Null, sync: [0; 16] }
    }

    /// A zig-zag varint long (at most 10 bytes). `None` at a clean end of input.
    fn long_or_end(&mut self) -> io::Result<Option<i64>> {
        let mut value: u64 = 0;
        for i in 0..10 {
            let mut byte = [0u8; 1];
            if self.inner.read(&mut byte)? == 0 {
                if i == 0 {
                    return Ok(None);
                }
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            value |= u64::from(byte[0] & 0x7f) << (7 * i);
            if byte[0] & 0x80 == 0 {
                return Ok(Some(((value >> 1) as i64) ^ -((value & 1) as i64)));
            }
        }
        Err(invalid("a length in the Avro file is longer than 10 bytes".into()))
    }

    fn long(&mut self) -> io::Result<i64> {
        self.long_or_end()?.ok_or_else(|| io::ErrorKind::UnexpectedEof.into())
    }

    /// `len` bytes, refused past `max` (read through `take`, so nothing larger is reserved).
    fn bytes(&mut self, len: i64, max: usize, what: &str) -> io::Result<Vec<u8>> {
        let len = usize::try_from(len).map_err(|_| invalid(format!("{what} has a negative length")))?;
        if len > max {
            return Err(invalid(format!("{what} is {len} bytes, more than the {max} allowed")));
        }
        let mut buf = Vec::with_capacity(len.min(1 << 20));
        (&mut self.inner).take(len as u64).read_to_end(&mut buf)?;
        if buf.len() != len {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        Ok(buf)
    }

    fn header(&mut self) -> io::Result<()> {
        let mut magic = [0u8; 4];
        self.inner.read_exact(&mut magic)?;
        if &magic != MAGIC {
            return Err(invalid("not an Avro object container file (no 'Obj\\x01' magic)".into()));
        }
        let mut entries: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
        let mut total = 0usize;
        loop {
            let mut count = self.long()?;
            if count == 0 {
                break;
            }
            if count < 0 {
                count = count.checked_neg().ok_or_else(|| invalid("a metadata count overflows".into()))?;
                self.long()?; // the block's size in bytes, not needed
            }
            for _ in 0..count {
                let len = self.long()?;
                let key = self.bytes(len, MAX_HEADER_BYTES - total, "the header's metadata")?;
                total += key.len();
                let len = self.long()?;
                let value = self.bytes(len, MAX_HEADER_BYTES - total, "the header's metadata")?;
                total += value.len();
                entries.push((key, value));
            }
        }
        self.inner.read_exact(&mut self.sync)?;
        let codec = entries.iter().find(|(k, _)| k == b"avro.codec").map(|(_, v)| v.as_slice());
        self.codec = match codec {
            None | Some(b"null") => Codec::Null,
            Some(b"deflate") => Codec::Deflate,
            Some(b"snappy") => Codec::Snappy,
            Some(b"zstandard") => Codec::Zstandard,
            Some(b"bzip2") => Codec::Bzip2,
            Some(other) => {
                return Err(invalid(format!(
                    "its codec '{}' is not supported (null, deflate, snappy, zstandard, bzip2 are)",
                    String::from_utf8_lossy(other).chars().take(40).collect::<String>()
                )));
            }
        };
        self.out.extend_from_slice(MAGIC);
        if !entries.is_empty() {
            write_long(&mut self.out, entries.len() as i64);
        }
        for (key, value) in &entries {
            let value: &[u8] = if key == b"avro.codec" { b"null" } else { value };
            write_long(&mut self.out, key.len() as i64);
            self.out.extend_from_slice(key);
            write_long(&mut self.out, value.len() as i64);
            self.out.extend_from_slice(value);
        }
        write_long(&mut self.out, 0);
        self.out.extend_from_slice(&self.sync);
        Ok(())
    }

    /// The next block, inflated; false at the end of the file.
    fn block(&mut self) -> io::Result<bool> {
        let Some(count) = self.long_or_end()? else { return Ok(false) };
        if count < 0 {
            return Err(invalid("a block's object count is negative".into()));
        }
        let size = self.long()?;
        let data = self.bytes(size, self.max_block, "a block")?;
        let inflated = self.inflate(data)?;
        let mut sync = [0u8; 16];
        self.inner.read_exact(&mut sync)?;
        if sync != self.sync {
            return Err(invalid("a block's sync marker is not the header's: the file is corrupt".into()));
        }
        write_long(&mut self.out, count);
        write_long(&mut self.out, inflated.len() as i64);
        self.out.extend_from_slice(&inflated);
        self.out.extend_from_slice(&sync);
        Ok(true)
    }

    fn inflate(&self, data: Vec<u8>) -> io::Result<Vec<u8>> {
        let max = self.max_block;
        let too_large = || invalid(format!("a block inflates to more than {max} bytes, the most one may"));
        // The file formats' capped decompression, one byte past the bound to tell "past it".
        let capped = |kind: Compression, name: &str| match crate::compression::decompress(kind, &data, true, max + 1) {
            Ok((out, _)) if out.len() > max => Err(too_large()),
            Ok((out, _)) => Ok(out),
            Err(FormatError::Corrupt(_, why)) => Err(invalid(format!("a {name} block is corrupt: {why}"))),
            Err(e) => Err(invalid(format!("a {name} block: {e}"))),
        };
        match self.codec {
            Codec::Null => Ok(data),
            // Zip's entries are raw deflate, as Avro's deflate blocks are.
            Codec::Deflate => capped(Compression::Zip, "deflate"),
            Codec::Zstandard => capped(Compression::Zstd, "zstandard"),
            Codec::Bzip2 => capped(Compression::Bz2, "bzip2"),
            Codec::Snappy => {
                // Snappy's raw block, then the CRC-32 (big-endian) of the inflated bytes.
                let (body, crc) = data
                    .len()
                    .checked_sub(4)
                    .map(|n| data.split_at(n))
                    .ok_or_else(|| invalid("a snappy block is shorter than its checksum".into()))?;
                let len = snap::raw::decompress_len(body).map_err(|e| invalid(format!("a snappy block: {e}")))?;
                if len > max {
                    return Err(too_large());
                }
                let out = snap::raw::Decoder::new()
                    .decompress_vec(body)
                    .map_err(|e| invalid(format!("a snappy block: {e}")))?;
                let crc = <[u8; 4]>::try_from(crc).map(u32::from_be_bytes).ok();
                if crc != Some(crc32fast::hash(&out)) {
                    return Err(invalid("a snappy block's checksum does not match: the file is corrupt".into()));
                }
                Ok(out)
            }
        }
    }
}

fn write_long(out: &mut Vec<u8>, v: i64) {
    let mut z = ((v << 1) ^ (v >> 63)) as u64;
    loop {
        let byte = (z & 0x7f) as u8;
        z >>= 7;
        if z == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

impl<R: Read> Read for Bounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let pending = self.out.get(self.pos..).unwrap_or_default();
            if !pending.is_empty() {
                let n = buf.len().min(pending.len());
                if let (Some(to), Some(from)) = (buf.get_mut(..n), pending.get(..n)) {
                    to.copy_from_slice(from);
                }
                self.pos += n;
                return Ok(n);
            }
            self.out.clear();
            self.pos = 0;
            match self.state {
                State::Header => {
                    self.header()?;
                    self.state = State::Blocks;
                }
                State::Blocks => {
                    if !self.block()? {
                        self.state = State::Done;
                    }
                }
                State::Done => return Ok(0),
            }
        }
    }
}
