//! A platform field's column as a read of rows serves it, a whole batch at a time: its values
//! typed per resource (text, a 64-bit float, epoch seconds) and, per row, whether the value is
//! missing or not of its type. Columns already of the served type or of a type that converts
//! exactly (integers to a float, Arrow timestamps to seconds) are converted by Arrow kernels or
//! one pass over their values, never cast to text and parsed back; text is parsed once, and
//! other types (decimals, Float32, dates) go by their text as before. Each
//! conversion answers what the text of the value would (the rules judge a value by its text:
//! [`crate::read::as_text`]), which the engine's tests hold it to.

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type};
use arrow_array::{Array, ArrayRef, Float64Array, Int64Array, StringArray};
use arrow_buffer::{BooleanBuffer, NullBuffer, ScalarBuffer};
use arrow_schema::{DataType, TimeUnit};

use crate::{EngineError, FieldKind, parse_timestamp};

/// One platform field of a batch, as served.
pub(crate) struct Shaped {
    /// The values served (null where missing or of the wrong type).
    pub(crate) array: ArrayRef,
    /// Per row: the value is null or blank.
    pub(crate) missing: BooleanBuffer,
    /// Per row: a value is there but not of the field's type.
    pub(crate) wrong: BooleanBuffer,
    /// Per row, for a field of the key, what identifies its value: the text as it is, or an
    /// instant's nanoseconds (so `1700000000` and `2023-11-14T22:13:20Z` are one key).
    pub(crate) key: Option<KeyPart>,
}

/// A field's part of a row's key.
pub(crate) enum KeyPart {
    Text(StringArray),
    Nanos(Vec<i128>),
}

/// Nanoseconds per second.
const NANOS: i128 = 1_000_000_000;

/// A field's column (`None`: the batch has no such column) shaped as `kind` serves it.
pub(crate) fn shape(
    column: Option<&ArrayRef>,
    kind: FieldKind,
    name: &str,
    len: usize,
    in_key: bool,
) -> Result<Shaped, EngineError> {
    let Some(column) = column else {
        return Ok(Shaped {
            array: arrow_array::new_null_array(&crate::rows::type_of(kind), len),
            missing: BooleanBuffer::new_set(len),
            wrong: BooleanBuffer::new_unset(len),
            key: None,
        });
    };
    match kind {
        FieldKind::Id | FieldKind::Text => {
            let text = crate::read::as_text(column, name)?;
            let present = BooleanBuffer::collect_bool(len, |i| text.is_valid(i) && !text.value(i).trim().is_empty());
            let array =
                StringArray::try_new(text.offsets().clone(), text.values().clone(), Some(present.clone().into()))
                    .map_err(|e| EngineError::Internal(format!("column '{name}': {e}")))?;
            Ok(Shaped {
                array: Arc::new(array),
                missing: !&present,
                wrong: BooleanBuffer::new_unset(len),
                key: in_key.then(|| KeyPart::Text(text)),
            })
        }
        FieldKind::Number => number(column, name, len, in_key),
        FieldKind::Timestamp => timestamp(column, name, len, in_key),
    }
}

/// Present rows of `column` (not null), as a buffer.
fn present_of(column: &dyn Array, len: usize) -> BooleanBuffer {
    match column.logical_nulls() {
        Some(n) => n.inner().clone(),
        None => BooleanBuffer::new_set(len),
    }
}

/// A finite 64-bit float. A Float64 column as it is (NaN and infinities break `type`, as their
/// text `NaN`/`inf` does); integers converted (exactly as their text parses, rounded to the
/// nearest float); anything else by its text.
fn number(column: &ArrayRef, name: &str, len: usize, in_key: bool) -> Result<Shaped, EngineError> {
    let key = || -> Result<Option<KeyPart>, EngineError> {
        Ok(if in_key { Some(KeyPart::Text(crate::read::as_text(column, name)?)) } else { None })
    };
    let failed = |e: arrow_schema::ArrowError| EngineError::Internal(format!("column '{name}' as a number: {e}"));
    let typed: Option<Float64Array> = match column.data_type() {
        DataType::Float64 => Some(column.as_primitive::<Float64Type>().clone()),
        t if t.is_integer() => {
            Some(arrow_cast::cast(column, &DataType::Float64).map_err(failed)?.as_primitive::<Float64Type>().clone())
        }
        _ => None,
    };
    if let Some(values) = typed {
        let present = present_of(&values, len);
        let finite = BooleanBuffer::collect_bool(len, |i| values.values().get(i).is_some_and(|x| x.is_finite()));
        let ok = &present & &finite;
        let array = Float64Array::new(values.values().clone(), Some(ok.clone().into()));
        return Ok(Shaped { array: Arc::new(array), missing: !&present, wrong: &present & &!&finite, key: key()? });
    }
    let text = crate::read::as_text(column, name)?;
    let mut values = Vec::with_capacity(len);
    let mut ok = Vec::with_capacity(len);
    let mut missing = Vec::with_capacity(len);
    for i in 0..len {
        let v = if text.is_valid(i) { text.value(i).trim() } else { "" };
        let x = if v.is_empty() { None } else { v.parse::<f64>().ok().filter(|x| x.is_finite()) };
        values.push(x.unwrap_or(0.0));
        ok.push(x.is_some());
        missing.push(v.is_empty());
    }
    let ok = BooleanBuffer::from(ok);
    let missing = BooleanBuffer::from(missing);
    let wrong = &!&ok & &!&missing;
    let array = Float64Array::new(ScalarBuffer::from(values), Some(NullBuffer::new(ok)));
    Ok(Shaped { array: Arc::new(array), missing, wrong, key: in_key.then(|| KeyPart::Text(text)) })
}

/// Epoch seconds (floored) of an instant. An Arrow timestamp column by its values and unit
/// (an instant past what nanoseconds in 64 bits hold breaks `type`, as its text does);
/// integers as epoch seconds, milliseconds, microseconds or nanoseconds by magnitude (as
/// [`parse_timestamp`] tells them); anything else by its text.
fn timestamp(column: &ArrayRef, name: &str, len: usize, in_key: bool) -> Result<Shaped, EngineError> {
    let failed = |e: arrow_schema::ArrowError| EngineError::Internal(format!("column '{name}' as an instant: {e}"));
    let whole =
        |column: &ArrayRef, per: i128, by_magnitude: bool| -> Result<(Vec<Option<i128>>, Vec<bool>), EngineError> {
            let ints = arrow_cast::cast(column, &DataType::Int64).map_err(failed)?;
            let ints: &Int64Array = ints.as_primitive::<Int64Type>();
            let mut nanos = Vec::with_capacity(len);
            let mut missing = Vec::with_capacity(len);
            for i in 0..len {
                if ints.is_null(i) {
                    nanos.push(None);
                    missing.push(true);
                    continue;
                }
                let v = ints.value(i);
                let n = if by_magnitude {
                    epoch_nanos(v)
                } else {
                    Some(i128::from(v) * per).filter(|n| i64::try_from(*n).is_ok())
                };
                nanos.push(n);
                missing.push(false);
            }
            Ok((nanos, missing))
        };
    let (nanos, missing) = match column.data_type() {
        DataType::Timestamp(unit, _) => {
            let per = match unit {
                TimeUnit::Second => NANOS,
                TimeUnit::Millisecond => 1_000_000,
                TimeUnit::Microsecond => 1_000,
                TimeUnit::Nanosecond => 1,
            };
            // The values as they are (their zone only shows them): the instant since the epoch.
            whole(column, per, false)?
        }
        // UInt64 past i64 goes by its text, as `parse_timestamp` reads it.
        t if t.is_integer() && *t != DataType::UInt64 => whole(column, 1, true)?,
        _ => {
            let text = crate::read::as_text(column, name)?;
            (0..len)
                .map(|i| {
                    let v = if text.is_valid(i) { text.value(i) } else { "" };
                    match v.trim().is_empty() {
                        true => (None, true),
                        false => (parse_timestamp(v).map(|(n, _)| n), false),
                    }
                })
                .unzip()
        }
    };
    let seconds: Vec<i64> =
        nanos.iter().map(|n| n.map_or(0, |n| i64::try_from(n.div_euclid(NANOS)).unwrap_or(i64::MAX))).collect();
    let ok = BooleanBuffer::collect_bool(len, |i| nanos.get(i).is_some_and(Option::is_some));
    let missing = BooleanBuffer::from(missing);
    let wrong = &!&ok & &!&missing;
    let array = Int64Array::new(ScalarBuffer::from(seconds), Some(NullBuffer::new(ok)));
    let key = in_key.then(|| KeyPart::Nanos(nanos.into_iter().map(|n| n.unwrap_or(0)).collect()));
    Ok(Shaped { array: Arc::new(array), missing, wrong, key })
}

/// An integer's instant by its magnitude, exactly as [`parse_timestamp`] reads its text.
fn epoch_nanos(v: i64) -> Option<i128> {
    let a = (v as f64).abs();
    let per: i128 = if a < 1e11 {
        NANOS
    } else if a < 1e14 {
        1_000_000
    } else if a < 1e17 {
        1_000
    } else {
        1
    };
    Some(i128::from(v) * per)
}
