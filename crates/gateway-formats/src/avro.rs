//! Avro object container files: the header's schema and rows from the first block(s) that the
//! sampled bytes hold.

use apache_avro::Schema;
use gateway_domain::{Column, ColumnType, JsonObject};
use serde_json::Value;

use crate::FormatError;
use crate::avro_blocks::{Bounded, MAX_SAMPLE_BLOCK_BYTES};
use crate::values::flatten_columns;

pub struct AvroSniff {
    pub columns: Vec<Column>,
    pub rows: Vec<JsonObject>,
    pub warnings: Vec<String>,
}

fn column_type(schema: &Schema) -> ColumnType {
    match schema {
        Schema::Boolean => ColumnType::Boolean,
        Schema::Int | Schema::Long => ColumnType::Integer,
        Schema::Float | Schema::Double | Schema::Decimal(_) | Schema::BigDecimal => ColumnType::Float,
        Schema::Date
        | Schema::TimeMillis
        | Schema::TimeMicros
        | Schema::TimestampMillis
        | Schema::TimestampMicros
        | Schema::TimestampNanos
        | Schema::LocalTimestampMillis
        | Schema::LocalTimestampMicros
        | Schema::LocalTimestampNanos => ColumnType::Timestamp,
        Schema::Array(_) | Schema::Map(_) | Schema::Record(_) => ColumnType::Json,
        Schema::Union(u) => {
            let non_null: Vec<&Schema> = u.variants().iter().filter(|s| !matches!(s, Schema::Null)).collect();
            match non_null.as_slice() {
                [one] => column_type(one),
                _ => ColumnType::Json,
            }
        }
        _ => ColumnType::String,
    }
}

/// Record fields as dotted paths, nested records (also as `[null, record]`) flattened.
fn columns(prefix: &str, schema: &Schema, out: &mut Vec<Column>) {
    let record = match schema {
        Schema::Record(r) => Some(r),
        Schema::Union(u) => {
            let non_null: Vec<&Schema> = u.variants().iter().filter(|s| !matches!(s, Schema::Null)).collect();
            match non_null.as_slice() {
                [Schema::Record(r)] => Some(r),
                _ => None,
            }
        }
        _ => None,
    };
    match record {
        Some(r) => {
            for f in &r.fields {
                let name = if prefix.is_empty() { f.name.clone() } else { format!("{prefix}.{}", f.name) };
                columns(&name, &f.schema, out);
            }
        }
        None => out.push(Column {
            name: if prefix.is_empty() { "value".into() } else { prefix.to_owned() },
            ty: column_type(schema),
        }),
    }
}

/// A named type that refers to itself: data of such a schema can nest as deep as it has
/// bytes, and the decoder recurses once per level.
fn recursive(schema: &Schema, path: &mut Vec<String>) -> Option<String> {
    match schema {
        Schema::Ref { name } => path.contains(&name.fullname(None)).then(|| name.fullname(None)),
        Schema::Record(r) => {
            let name = r.name.fullname(None);
            if path.contains(&name) {
                return Some(name);
            }
            path.push(name);
            let found = r.fields.iter().find_map(|f| recursive(&f.schema, path));
            path.pop();
            found
        }
        Schema::Array(a) => recursive(&a.items, path),
        Schema::Map(m) => recursive(&m.types, path),
        Schema::Union(u) => u.variants().iter().find_map(|v| recursive(v, path)),
        _ => None,
    }
}

/// Bytes and fixed values as lower-case hex text, as the Parquet sample shows binary (not as
/// arrays of integers).
pub(crate) fn hex_bytes(v: apache_avro::types::Value) -> apache_avro::types::Value {
    use apache_avro::types::Value as V;
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    match v {
        V::Bytes(b) | V::Fixed(_, b) => V::String(hex(&b)),
        V::Union(i, inner) => V::Union(i, Box::new(hex_bytes(*inner))),
        V::Array(items) => V::Array(items.into_iter().map(hex_bytes).collect()),
        V::Map(m) => V::Map(m.into_iter().map(|(k, v)| (k, hex_bytes(v))).collect()),
        V::Record(fields) => V::Record(fields.into_iter().map(|(k, v)| (k, hex_bytes(v))).collect()),
        other => other,
    }
}

/// The largest length or count apache-avro may allocate for: a block as
/// [`crate::avro_blocks::Bounded`] passes it on inflated, and so the bound of a string or bytes
/// value too (a crafted count must not reserve gigabytes). One setting per process.
pub(crate) const MAX_AVRO_ALLOCATION: usize = crate::avro_blocks::MAX_BLOCK_BYTES;

pub fn sniff(bytes: &[u8], complete: bool, sample_rows: usize) -> Result<AvroSniff, FormatError> {
    apache_avro::util::max_allocation_bytes(MAX_AVRO_ALLOCATION);
    let reader = apache_avro::Reader::new(Bounded::new(bytes, MAX_SAMPLE_BLOCK_BYTES)).map_err(|e| {
        if complete {
            FormatError::Avro(format!("its header cannot be read: {e}"))
        } else {
            FormatError::Avro(format!("its header does not fit the read budget or is corrupt: {e}"))
        }
    })?;
    if let Some(name) = recursive(reader.writer_schema(), &mut Vec::new()) {
        return Err(FormatError::Avro(format!(
            "its schema is recursive ('{name}' contains itself): not supported for tables"
        )));
    }
    let mut cols = Vec::new();
    columns("", reader.writer_schema(), &mut cols);
    let mut rows = Vec::new();
    let mut warnings = Vec::new();
    let names: std::collections::HashSet<&str> = cols.iter().map(|c| c.name.as_str()).collect();
    for value in reader.take(sample_rows) {
        match value {
            Ok(v) => {
                let json = Value::try_from(hex_bytes(v)).map_err(|e| FormatError::Avro(e.to_string()))?;
                rows.push(match json {
                    Value::Object(o) => flatten_columns(o, &names),
                    other => JsonObject::from_iter([("value".to_owned(), other)]),
                });
            }
            Err(_) if !complete && !rows.is_empty() => {
                warnings.push("the sample ends where the read budget cut the first blocks".to_owned());
                break;
            }
            Err(e) if !complete => {
                return Err(FormatError::Avro(format!("its first block does not fit the read budget: {e}")));
            }
            Err(e) => return Err(FormatError::Avro(format!("a block cannot be read: {e}"))),
        }
    }
    Ok(AvroSniff { columns: cols, rows, warnings })
}
