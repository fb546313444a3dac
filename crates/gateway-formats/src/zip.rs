//! The zip central directory, read from the end of the file by ranged reads, and the start of
//! its single data entry. Written by hand: the `zip` crate wants `Read + Seek` over the whole
//! archive, which a bounded ranged read cannot give.

use crate::FormatError;
use crate::budget::Budget;

const EOCD_SIG: u32 = 0x0605_4b50;
const ZIP64_LOCATOR_SIG: u32 = 0x0706_4b50;
const ZIP64_EOCD_SIG: u32 = 0x0606_4b50;
const CENTRAL_SIG: u32 = 0x0201_4b50;
const LOCAL_SIG: u32 = 0x0403_4b50;
/// The EOCD record is 22 bytes plus a comment of at most 65,535.
const MAX_TAIL: u64 = 22 + 65_535;
/// A central directory larger than this is not a single-file archive.
const MAX_DIRECTORY: u64 = 256 * 1024;

fn u16_at(b: &[u8], i: usize) -> Option<u16> {
    b.get(i..i.checked_add(2)?)?.try_into().ok().map(u16::from_le_bytes)
}

fn u32_at(b: &[u8], i: usize) -> Option<u32> {
    b.get(i..i.checked_add(4)?)?.try_into().ok().map(u32::from_le_bytes)
}

fn u64_at(b: &[u8], i: usize) -> Option<u64> {
    b.get(i..i.checked_add(8)?)?.try_into().ok().map(u64::from_le_bytes)
}

fn truncated(what: &str) -> FormatError {
    FormatError::Truncated(format!("the zip archive's {what} is cut short"))
}

/// The one data entry of an archive.
#[derive(Debug)]
pub struct Entry {
    pub name: String,
    /// 0 stored, 8 deflate.
    pub method: u16,
    /// The start of its compressed data (as far as the budget reaches).
    pub data: Vec<u8>,
    /// Whether `data` is the entry's whole compressed data.
    pub whole: bool,
}

struct Central {
    name: String,
    method: u16,
    compressed: u64,
    local_offset: u64,
}

fn is_data(name: &str) -> bool {
    let base = name.rsplit('/').next().unwrap_or(name);
    !name.ends_with('/') && !name.starts_with("__MACOSX/") && base != ".DS_Store" && !base.is_empty()
}

/// Finds the single data entry and reads the start of its data within the budget.
pub async fn open(budget: &mut Budget, len: u64) -> Result<Entry, FormatError> {
    let tail_start = len.saturating_sub(MAX_TAIL);
    let tail = budget.read(tail_start, len).await?;
    let at = (0..tail.len().saturating_sub(21))
        .rev()
        .find(|&i| u32_at(&tail, i) == Some(EOCD_SIG))
        .ok_or_else(|| truncated("end-of-directory record"))?;
    let eocd = tail.get(at..).unwrap_or_default();
    let mut entries = u64::from(u16_at(eocd, 10).ok_or_else(|| truncated("end record"))?);
    let mut dir_size = u64::from(u32_at(eocd, 12).ok_or_else(|| truncated("end record"))?);
    let mut dir_offset = u64::from(u32_at(eocd, 16).ok_or_else(|| truncated("end record"))?);
    // Zip64: the real numbers are in the zip64 end record, found through its locator.
    if dir_offset == u64::from(u32::MAX) || dir_size == u64::from(u32::MAX) || entries == u64::from(u16::MAX) {
        let loc = at.checked_sub(20).ok_or_else(|| truncated("zip64 locator"))?;
        if u32_at(&tail, loc) != Some(ZIP64_LOCATOR_SIG) {
            return Err(truncated("zip64 locator"));
        }
        let rec_offset = u64_at(&tail, loc + 8).ok_or_else(|| truncated("zip64 locator"))?;
        let rec = budget.read(rec_offset, rec_offset + 56).await?;
        if u32_at(&rec, 0) != Some(ZIP64_EOCD_SIG) {
            return Err(truncated("zip64 end record"));
        }
        entries = u64_at(&rec, 32).ok_or_else(|| truncated("zip64 end record"))?;
        dir_size = u64_at(&rec, 40).ok_or_else(|| truncated("zip64 end record"))?;
        dir_offset = u64_at(&rec, 48).ok_or_else(|| truncated("zip64 end record"))?;
    }
    if entries == 0 {
        return Err(FormatError::ZipNoEntry);
    }
    if dir_size > MAX_DIRECTORY || dir_offset.saturating_add(dir_size) > len {
        return Err(FormatError::Truncated(format!(
            "the zip directory ({dir_size} bytes at {dir_offset}) does not fit the {len}-byte file or holds too many entries"
        )));
    }
    // The directory usually sits inside the tail already read.
    let dir = if dir_offset >= tail_start {
        let s = usize::try_from(dir_offset - tail_start).unwrap_or(usize::MAX);
        let e = s.saturating_add(usize::try_from(dir_size).unwrap_or(usize::MAX));
        tail.get(s..e).ok_or_else(|| truncated("directory"))?.to_vec()
    } else {
        budget.read(dir_offset, dir_offset + dir_size).await?.to_vec()
    };
    let mut all = Vec::new();
    let mut i = 0usize;
    while i + 46 <= dir.len() && u32_at(&dir, i) == Some(CENTRAL_SIG) {
        let method = u16_at(&dir, i + 10).unwrap_or(0);
        let mut compressed = u64::from(u32_at(&dir, i + 20).unwrap_or(0));
        let uncompressed = u64::from(u32_at(&dir, i + 24).unwrap_or(0));
        let name_len = usize::from(u16_at(&dir, i + 28).unwrap_or(0));
        let extra_len = usize::from(u16_at(&dir, i + 30).unwrap_or(0));
        let comment_len = usize::from(u16_at(&dir, i + 32).unwrap_or(0));
        let mut local_offset = u64::from(u32_at(&dir, i + 42).unwrap_or(0));
        let name_bytes = dir.get(i + 46..i + 46 + name_len).ok_or_else(|| truncated("directory"))?;
        let name = String::from_utf8_lossy(name_bytes).into_owned();
        let extra = dir.get(i + 46 + name_len..i + 46 + name_len + extra_len).unwrap_or_default();
        // Zip64 extended information: the fields that were 0xFFFFFFFF, in order.
        let mut j = 0;
        while j + 4 <= extra.len() {
            let id = u16_at(extra, j).unwrap_or(0);
            let size = usize::from(u16_at(extra, j + 2).unwrap_or(0));
            if id == 0x0001 {
                let mut k = j + 4;
                if uncompressed == u64::from(u32::MAX) {
                    k += 8;
                }
                if compressed == u64::from(u32::MAX) {
                    compressed = u64_at(extra, k).unwrap_or(compressed);
                    k += 8;
                }
                if local_offset == u64::from(u32::MAX) {
                    local_offset = u64_at(extra, k).unwrap_or(local_offset);
                }
            }
            j += 4 + size;
        }
        all.push(Central { name, method, compressed, local_offset });
        i += 46 + name_len + extra_len + comment_len;
    }
    let mut data: Vec<Central> = all.into_iter().filter(|c| is_data(&c.name)).collect();
    match data.len() {
        0 => return Err(FormatError::ZipNoEntry),
        1 => {}
        _ => return Err(FormatError::ZipManyEntries(data.into_iter().map(|c| c.name).collect())),
    }
    let entry = data.remove(0);
    if entry.method != 0 && entry.method != 8 {
        return Err(FormatError::ZipMethod(entry.method));
    }
    let local = budget.read(entry.local_offset, entry.local_offset + 30).await?;
    if u32_at(&local, 0) != Some(LOCAL_SIG) {
        return Err(truncated("local header"));
    }
    let skip = 30 + u64::from(u16_at(&local, 26).unwrap_or(0)) + u64::from(u16_at(&local, 28).unwrap_or(0));
    let start = entry.local_offset + skip;
    let end = start.saturating_add(entry.compressed).min(len);
    let want_end = start.saturating_add(budget.remaining()).min(end);
    let data = budget.read(start, want_end).await?.to_vec();
    Ok(Entry { name: entry.name, method: entry.method, whole: want_end >= end, data })
}
