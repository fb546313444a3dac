//! Stage two, on DataFusion: among the keyed rows, every one after the first of its key (by
//! file, then row) is a duplicate. DataFusion sorts the keyed rows by (key, ord); the sorted
//! stream is read once, each row compared with the one before it. The rows arrive as they are
//! read (a streaming table fed by a bounded channel); the sort holds at most the job's memory
//! pool and spills the rest to disk under the data dir, itself capped, so tables larger than
//! memory count exactly. Measured (`make bench`): a `row_number()` window over the same sort
//! was three times slower (it pays per partition, and every key is one); sorting by a 64-bit
//! hash of the key instead of its text, slower too.

use std::collections::BinaryHeap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use arrow_array::{Array, RecordBatch, StringArray, UInt8Array, UInt32Array, UInt64Array};
use arrow_schema::SchemaRef;
use datafusion::catalog::streaming::StreamingTable;
use datafusion::error::DataFusionError;
use datafusion::execution::TaskContext;
use datafusion::execution::disk_manager::{DiskManagerBuilder, DiskManagerMode};
use datafusion::execution::memory_pool::FairSpillPool;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::physical_plan::SendableRecordBatchStream;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::streaming::PartitionStream;
use datafusion::prelude::{SessionConfig, SessionContext, col};
use futures_util::StreamExt;
use gateway_domain::ViolationSample;
use tokio::sync::mpsc;

use crate::EngineError;
use crate::check::{KEY_SEP, keyed_schema, sample};

/// The memory and disk a job may use.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Bytes of memory the engine's operators may hold (`GATEWAY_VALIDATION_MEMORY_MB`).
    pub memory_bytes: usize,
    /// Where spill files go (under the data dir).
    pub spill_dir: PathBuf,
    /// Bytes of spill files at most (`GATEWAY_VALIDATION_SPILL_MB`).
    pub spill_bytes: u64,
}

/// The keyed rows, read once by DataFusion.
struct Channel {
    schema: SchemaRef,
    rx: Mutex<Option<mpsc::Receiver<RecordBatch>>>,
}

impl std::fmt::Debug for Channel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Channel")
    }
}

impl PartitionStream for Channel {
    fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    fn execute(&self, _ctx: Arc<TaskContext>) -> SendableRecordBatchStream {
        let rx = self.rx.lock().ok().and_then(|mut r| r.take());
        let stream = futures_util::stream::unfold(rx, |rx| async move {
            let mut rx = rx?;
            let batch = rx.recv().await?;
            Some((Ok(batch), Some(rx)))
        });
        Box::pin(RecordBatchStreamAdapter::new(self.schema.clone(), stream))
    }
}

/// What stage two found.
#[derive(Debug, Default)]
pub struct Duplicates {
    /// Duplicate rows breaking no other rule, per timestamp form.
    pub clean_by_unit: [u64; crate::check::UNITS],
    pub rows: u64,
    /// The earliest duplicates (by file, then row), at most `max_errors`, file index first.
    pub samples: Vec<(u32, u64, ViolationSample)>,
}

pub(crate) fn engine_error(e: DataFusionError, limits: &Limits) -> EngineError {
    let text = e.to_string();
    if text.contains("disk space during the spilling") {
        return EngineError::Spill { limit_mb: limits.spill_bytes / (1024 * 1024) };
    }
    match e.find_root() {
        DataFusionError::ResourcesExhausted(_) => {
            if text.contains("disk space") || text.contains("temp director") {
                EngineError::Spill { limit_mb: limits.spill_bytes / (1024 * 1024) }
            } else {
                EngineError::Memory { limit_mb: (limits.memory_bytes / (1024 * 1024)) as u64 }
            }
        }
        _ if text.contains("max temp directory size") || text.contains("exceeds") && text.contains("temp") => {
            EngineError::Spill { limit_mb: limits.spill_bytes / (1024 * 1024) }
        }
        _ => EngineError::Internal(format!("the engine failed: {text}")),
    }
}

/// Where keyed rows go, and the task counting duplicates among them.
pub type Stage = (mpsc::Sender<RecordBatch>, tokio::task::JoinHandle<Result<Duplicates, EngineError>>);

/// Starts stage two: answers where to send keyed rows and the task counting duplicates.
/// Dropping the sender ends the input; the task then answers. `files` names each file index.
pub fn start(
    limits: Limits,
    key_name: String,
    max_errors: usize,
    files: Arc<Mutex<Vec<String>>>,
) -> Result<Stage, EngineError> {
    std::fs::create_dir_all(&limits.spill_dir)
        .map_err(|e| EngineError::Internal(format!("the spill directory cannot be made: {e}")))?;
    // The sort's pool gets half the job's memory: measured (`make bench`), the process peaks
    // near 1.5 times the pool plus what reading holds (a sort's run is copied as it is sorted,
    // buffers in flight, the allocator's slack), so half keeps a job near its cap.
    let pool = limits.memory_bytes / 2;
    let runtime = RuntimeEnvBuilder::new()
        .with_memory_pool(Arc::new(FairSpillPool::new(pool)))
        .with_disk_manager_builder(
            DiskManagerBuilder::default()
                .with_mode(DiskManagerMode::Directories(vec![limits.spill_dir.clone()]))
                .with_max_temp_directory_size(limits.spill_bytes),
        )
        .build_arc()
        .map_err(|e| engine_error(e, &limits))?;
    let mut config = SessionConfig::new().with_target_partitions(1).with_batch_size(8192);
    // What a sort keeps back for merging its spill files: an eighth of the pool (DataFusion's
    // 10 MB default would not fit a small pool at all).
    config.options_mut().execution.sort_spill_reservation_bytes = pool / 8;
    let ctx = SessionContext::new_with_config_rt(config, runtime);
    let (tx, rx) = mpsc::channel(4);
    let schema = keyed_schema();
    let channel = Arc::new(Channel { schema: schema.clone(), rx: Mutex::new(Some(rx)) });
    let table = StreamingTable::try_new(schema, vec![channel]).map_err(|e| engine_error(e, &limits))?;
    let task = tokio::spawn(async move {
        let run = async {
            // Sorted by key, then by where each row was met: within a key, every row after the
            // first is a duplicate, found by comparing neighbours as the sorted stream goes by.
            let df = ctx.read_table(Arc::new(table))?;
            let df = df.sort(vec![col("key").sort(true, false), col("ord").sort(true, false)])?;
            df.select_columns(&["key", "ord", "flags", "unit", "file", "row"])?.execute_stream().await
        };
        let mut stream = run.await.map_err(|e| engine_error(e, &limits))?;
        let mut out = Duplicates::default();
        // The earliest duplicates met (by ord), at most max_errors: a max-heap of the kept.
        let mut earliest: BinaryHeap<(u64, u32, u64, String)> = BinaryHeap::new();
        let mut previous: Option<String> = None;
        while let Some(batch) = stream.next().await {
            let batch = batch.map_err(|e| engine_error(e, &limits))?;
            let (Some(key), Some(ord), Some(flags), Some(unit), Some(file), Some(row)) = (
                batch.column(0).as_any().downcast_ref::<StringArray>(),
                batch.column(1).as_any().downcast_ref::<UInt64Array>(),
                batch.column(2).as_any().downcast_ref::<UInt64Array>(),
                batch.column(3).as_any().downcast_ref::<UInt8Array>(),
                batch.column(4).as_any().downcast_ref::<UInt32Array>(),
                batch.column(5).as_any().downcast_ref::<UInt64Array>(),
            ) else {
                return Err(EngineError::Internal("the duplicate stage answered another schema".into()));
            };
            let n = batch.num_rows();
            for i in 0..n {
                let k = key.value(i);
                let same = match i {
                    0 => previous.as_deref() == Some(k),
                    _ => key.value(i - 1) == k,
                };
                if !same {
                    continue;
                }
                out.rows += 1;
                if flags.value(i) == 0 {
                    crate::check::count_unit(&mut out.clean_by_unit, unit.value(i));
                }
                let o = ord.value(i);
                if max_errors > 0 && (earliest.len() < max_errors || earliest.peek().is_some_and(|top| o < top.0)) {
                    earliest.push((o, file.value(i), row.value(i), k.to_owned()));
                    if earliest.len() > max_errors {
                        earliest.pop();
                    }
                }
            }
            if n > 0 {
                previous = Some(key.value(n - 1).to_owned());
            }
        }
        let names = files.lock().map(|p| p.clone()).unwrap_or_default();
        for (_, f, row, k) in earliest.into_sorted_vec() {
            let path = names.get(f as usize).cloned().unwrap_or_default();
            let shown = k.replace(KEY_SEP, " + ");
            out.samples.push((f, row, sample("duplicate", &key_name, &path, row, Some(&shown))));
        }
        Ok(out)
    });
    Ok((tx, task))
}
