//! The keys a read of rows has seen, to tell a duplicate as rows go by, in bounded memory
//! whatever the table's size. Keys are 128-bit hashes of a row's key (seeded per read). The
//! newest are held in a hash set; when it is full they are written, sorted, to a run file in
//! the read's spill folder, and the run keeps in memory only a Bloom filter (16 bits a key,
//! blocked: a key's 7 bits in one 64-byte line, so one cache miss a lookup; about one false
//! "maybe" in 1,400) and every 1,024th key. A key is looked up in the set, then in each run
//! whose filter says maybe: one 16 KiB read of the run's block and a binary search. So memory holds the set plus 2 bytes a spilled key, and disk 16 bytes a spilled
//! key, under the spill cap.

use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hasher};
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;

use crate::EngineError;

/// Keys per indexed block of a run (its 16 KiB read).
const BLOCK: usize = 1024;
/// Bloom filter bits per spilled key; the probes each key sets, all in one block of 512 bits.
const BLOOM_BITS: usize = 16;
const PROBES: u64 = 7;
/// A filter's block: 512 bits, one cache line.
type Block = [u64; 8];
/// Bytes of a key on disk.
const KEY_BYTES: usize = 16;

/// The keys are hashes already (seeded per read): the set uses their low half as it is.
#[derive(Default)]
pub(crate) struct AsItIs(u64);

impl Hasher for AsItIs {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes.iter().take(8) {
            self.0 = (self.0 << 8) | u64::from(*b);
        }
    }

    fn write_u128(&mut self, i: u128) {
        self.0 = i as u64;
    }
}

/// Where a read may spill its keys, and how much.
#[derive(Debug, Clone)]
pub struct KeySpill {
    /// The read's own folder (created on the first spill; whoever made the read removes it).
    pub dir: PathBuf,
    /// Bytes of run files at most (`GATEWAY_VALIDATION_SPILL_MB`).
    pub bytes: u64,
}

/// One spilled run: its file, its filter and its index.
struct Run {
    file: std::fs::File,
    len: usize,
    /// The first key of each block.
    index: Vec<u128>,
    bloom: Vec<Block>,
}

impl Run {
    fn maybe(&self, key: u128) -> bool {
        let Some(block) = self.bloom.get(block_of(key, self.bloom.len())) else { return false };
        bits_of(key).all(|bit| block.get(bit / 64).is_some_and(|w| w & (1u64 << (bit % 64)) != 0))
    }

    fn holds(&self, key: u128) -> Result<bool, EngineError> {
        let block = match self.index.partition_point(|k| *k <= key) {
            0 => return Ok(false),
            b => b - 1,
        };
        let start = block * BLOCK;
        let n = BLOCK.min(self.len.saturating_sub(start));
        let mut buf = vec![0u8; n * KEY_BYTES];
        self.file
            .read_exact_at(&mut buf, (start * KEY_BYTES) as u64)
            .map_err(|e| EngineError::Internal(format!("a read's spilled keys cannot be read: {e}")))?;
        let keys: Vec<u128> =
            buf.chunks_exact(KEY_BYTES).map(|c| u128::from_le_bytes(c.try_into().unwrap_or([0; KEY_BYTES]))).collect();
        Ok(keys.binary_search(&key).is_ok())
    }
}

/// The block of a filter of `blocks` a key's bits are in (by its low half).
fn block_of(key: u128, blocks: usize) -> usize {
    ((key as u64) % (blocks.max(1) as u64)) as usize
}

/// The bits a key sets in its block: 9 bits of its high half each.
fn bits_of(key: u128) -> impl Iterator<Item = usize> {
    let high = (key >> 64) as u64;
    (0..PROBES).map(move |i| ((high >> (i * 9)) & 511) as usize)
}

/// The keys seen so far.
pub(crate) struct KeySet {
    recent: HashSet<u128, BuildHasherDefault<AsItIs>>,
    /// Keys the set holds before it spills (or, without a spill folder, at most).
    per_run: usize,
    runs: Vec<Run>,
    spill: Option<KeySpill>,
    spilled: u64,
    /// Bytes of memory the runs' filters may take.
    filter_bytes: usize,
    memory_mb: u64,
}

impl KeySet {
    /// A set holding `per_run` keys in memory, spilling to `spill` when it has one with
    /// filters of at most `filter_bytes`; `memory_mb` is the setting both came from (named
    /// when the keys outgrow them).
    pub(crate) fn new(per_run: usize, filter_bytes: usize, spill: Option<KeySpill>, memory_mb: u64) -> KeySet {
        KeySet {
            recent: HashSet::default(),
            per_run: per_run.max(1),
            runs: Vec::new(),
            spill,
            spilled: 0,
            filter_bytes,
            memory_mb,
        }
    }

    /// Keys it can remember at most.
    fn capacity(&self) -> usize {
        match self.spill {
            Some(_) => self.per_run + self.filter_bytes * 8 / BLOOM_BITS,
            None => self.per_run,
        }
    }

    pub(crate) fn contains(&self, key: u128) -> Result<bool, EngineError> {
        Ok(self.recent.contains(&key) || self.spilled(key)?)
    }

    fn spilled(&self, key: u128) -> Result<bool, EngineError> {
        for run in &self.runs {
            if run.maybe(key) && run.holds(key)? {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Remembers a key unless it holds it already; answers whether it was new.
    pub(crate) fn claim(&mut self, key: u128) -> Result<bool, EngineError> {
        if !self.recent.insert(key) {
            return Ok(false);
        }
        if self.spilled(key)? {
            self.recent.remove(&key);
            return Ok(false);
        }
        if self.recent.len() > self.per_run {
            self.spill_recent()?;
        }
        Ok(true)
    }

    fn spill_recent(&mut self) -> Result<(), EngineError> {
        let full = EngineError::Keys { limit_mb: self.memory_mb, keys: self.capacity() };
        let Some(spill) = &self.spill else { return Err(full) };
        let filters: usize = self.runs.iter().map(|r| r.bloom.len() * 64).sum();
        let blocks = (self.recent.len() * BLOOM_BITS).div_ceil(512).max(1);
        if filters + blocks * 64 > self.filter_bytes {
            return Err(full);
        }
        let bytes = (self.recent.len() * KEY_BYTES) as u64;
        if self.spilled + bytes > spill.bytes {
            return Err(EngineError::Spill { limit_mb: spill.bytes >> 20 });
        }
        let failed = |e: std::io::Error| EngineError::Internal(format!("a read's keys cannot be spilled: {e}"));
        let mut keys: Vec<u128> = self.recent.drain().collect();
        keys.sort_unstable();
        std::fs::create_dir_all(&spill.dir).map_err(failed)?;
        let path = spill.dir.join(format!("keys-{}", self.runs.len()));
        let file = std::fs::OpenOptions::new().read(true).write(true).create_new(true).open(&path).map_err(failed)?;
        let mut out = std::io::BufWriter::with_capacity(1 << 20, &file);
        for k in &keys {
            out.write_all(&k.to_le_bytes()).map_err(failed)?;
        }
        out.flush().map_err(failed)?;
        drop(out);
        let mut bloom: Vec<Block> = vec![[0; 8]; blocks];
        for k in &keys {
            if let Some(block) = bloom.get_mut(block_of(*k, blocks)) {
                for bit in bits_of(*k) {
                    if let Some(w) = block.get_mut(bit / 64) {
                        *w |= 1u64 << (bit % 64);
                    }
                }
            }
        }
        let index = keys.iter().step_by(BLOCK).copied().collect();
        self.spilled += bytes;
        self.runs.push(Run { file, len: keys.len(), index, bloom });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(i: u64) -> u128 {
        // Spread like a hash: the multiplier is odd, so distinct i give distinct keys.
        u128::from(i).wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835)
    }

    #[test]
    fn keys_past_memory_are_found_in_their_runs() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let spill = KeySpill { dir: dir.path().join("read"), bytes: 1 << 20 };
        let mut set = KeySet::new(1000, 1 << 20, Some(spill), 1);
        for i in 0..10_000 {
            assert!(!set.contains(key(i)).unwrap_or(true), "{i} is new");
            assert!(set.claim(key(i)).unwrap_or_else(|e| panic!("{e}")), "{i} is claimed");
            assert!(!set.claim(key(i)).unwrap_or(true), "{i} is claimed once");
        }
        assert!(set.runs.len() >= 9, "{} runs", set.runs.len());
        for i in 0..10_000 {
            assert!(set.contains(key(i)).unwrap_or(false), "{i} was seen");
            assert!(!set.claim(key(i)).unwrap_or(true), "{i} was claimed before");
        }
        let unseen = (10_000..60_000).filter(|i| set.contains(key(*i)).unwrap_or(true)).count();
        assert_eq!(unseen, 0, "keys never inserted are never found");
        assert_eq!(std::fs::read_dir(dir.path().join("read")).map(|d| d.count()).unwrap_or(0), set.runs.len());
    }

    #[test]
    fn keys_stop_at_the_spill_cap_or_the_filters_memory() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let spill = KeySpill { dir: dir.path().to_owned(), bytes: 100 * 16 };
        let mut set = KeySet::new(50, 1 << 20, Some(spill), 1);
        let e = (0..1000).map(|i| set.claim(key(i))).find_map(Result::err);
        assert!(matches!(e, Some(EngineError::Spill { .. })), "{e:?}");

        let spill = KeySpill { dir: dir.path().join("b"), bytes: 1 << 30 };
        let mut set = KeySet::new(50, 64, Some(spill), 1);
        let e = (0..1000).map(|i| set.claim(key(i))).find_map(Result::err);
        assert!(matches!(e, Some(EngineError::Keys { keys: 82, .. })), "{e:?}");

        let mut set = KeySet::new(50, 64, None, 1);
        let e = (0..1000).map(|i| set.claim(key(i))).find_map(Result::err);
        assert!(matches!(e, Some(EngineError::Keys { keys: 50, .. })), "{e:?}");
    }
}
