//! A table's rows as Arrow record batches ([`Client::read_batches`]), decoded from the Arrow
//! IPC stream as its bytes arrive: one batch in memory at a time, whatever the table's size.

use arrow_array::RecordBatch;
use arrow_buffer::Buffer;
use arrow_ipc::reader::StreamDecoder;
use arrow_schema::SchemaRef;
use gateway_domain::{ConnectionKind, TableName};

use crate::{Client, ClientError, RowsFormat, RowsQuery};

/// The end-of-stream marker an Arrow IPC stream ends with (continuation, then length 0).
const END: [u8; 8] = [0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0];

/// A read of rows under way, as record batches ([`RecordBatches::next`]).
pub struct RecordBatches {
    body: reqwest::Response,
    decoder: StreamDecoder,
    pending: Buffer,
    /// A batch decoded while the schema was awaited.
    first: Option<RecordBatch>,
    schema: SchemaRef,
    /// The stream's last bytes, to tell its end marker from a body that merely stopped.
    tail: Vec<u8>,
    done: bool,
}

impl std::fmt::Debug for RecordBatches {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordBatches").field("schema", &self.schema).finish_non_exhaustive()
    }
}

fn broken(e: impl std::fmt::Display) -> ClientError {
    ClientError::Transport(format!("the rows cannot be read: {e}"))
}

impl RecordBatches {
    /// The columns served: the platform fields first, typed per resource.
    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    /// The next batch, or `None` once the table was read whole (the stream's end marker seen).
    /// A read that fails once under way, or a body that stops before the end marker, is an
    /// error: never taken for the end of the table.
    pub async fn next(&mut self) -> Option<Result<RecordBatch, ClientError>> {
        if let Some(b) = self.first.take() {
            return Some(Ok(b));
        }
        if self.done {
            return None;
        }
        match self.decode(false).await {
            Ok(b) => b.map(Ok),
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }

    /// Decodes until a batch is whole (`Some`), or the body ends (`None`, and `done`); with
    /// `schema`, until the schema is known too.
    async fn decode(&mut self, schema: bool) -> Result<Option<RecordBatch>, ClientError> {
        loop {
            if !self.pending.is_empty() {
                if let Some(b) = self.decoder.decode(&mut self.pending).map_err(broken)? {
                    return Ok(Some(b));
                }
                continue;
            }
            if schema && self.decoder.schema().is_some() {
                return Ok(None);
            }
            let chunk = self.body.chunk().await.map_err(|e| broken(e.without_url()))?;
            let Some(chunk) = chunk else {
                self.done = true;
                self.decoder.finish().map_err(broken)?;
                if !self.tail.ends_with(&END) {
                    return Err(broken("the stream ended before the end of the table"));
                }
                return Ok(None);
            };
            self.tail.extend_from_slice(&chunk[chunk.len().saturating_sub(END.len())..]);
            let keep = self.tail.len().saturating_sub(END.len());
            self.tail.drain(..keep);
            self.pending = Buffer::from(chunk);
        }
    }
}

impl Client {
    /// Reads a stored source table's rows as Arrow record batches (`GET .../rows/` in Arrow IPC,
    /// whatever `query.format` says), decoded as they arrive. An error answer is the error.
    ///
    /// ```no_run
    /// # async fn run(gateway: gateway_client::Client) -> Result<(), gateway_client::ClientError> {
    /// use gateway_domain::{ConnectionKind, TableName};
    /// let name = TableName::parse("ratings")?;
    /// let mut rows = gateway.read_batches(ConnectionKind::S3, &name, &Default::default()).await?;
    /// while let Some(batch) = rows.next().await {
    ///     println!("{} rows", batch?.num_rows());
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub async fn read_batches(
        &self,
        kind: ConnectionKind,
        name: &TableName,
        query: &RowsQuery,
    ) -> Result<RecordBatches, ClientError> {
        let query = RowsQuery { format: RowsFormat::Arrow, ..query.clone() };
        let body = self.read_rows(kind, name, &query).await?;
        let mut rows = RecordBatches {
            body,
            decoder: StreamDecoder::new(),
            pending: Buffer::from(Vec::<u8>::new()),
            first: None,
            schema: SchemaRef::new(arrow_schema::Schema::empty()),
            tail: Vec::with_capacity(2 * END.len()),
            done: false,
        };
        // The schema message comes first: answered once it is in.
        rows.first = rows.decode(true).await?;
        rows.schema = rows.decoder.schema().ok_or_else(|| broken("the stream has no schema"))?;
        Ok(rows)
    }
}
