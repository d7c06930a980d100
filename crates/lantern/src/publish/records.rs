//! Record-level open data: a topic's one-row-per-event file, de-identified by the slice that
//! owns the records, and written here as CSV or Parquet without the portal knowing the slice.
//!
//! A topic that has such a file describes it ([`RecordFile`]: its id, columns and data
//! dictionary, and the de-identification rules in plain words) and streams its rows as
//! [`RecordBatch`]es, a batch at a time, so that a download of ten million records holds one
//! batch in memory, not the file. Each batch becomes a run of CSV lines through the one
//! formula-safe writer ([`CsvOut`]) or one Parquet row group ([`ParquetStream`]).

use std::sync::Arc;

use bytes::Bytes;
use futures_util::stream::BoxStream;
use parquet::basic::Compression;
use parquet::data_type::{BoolType, ByteArray, ByteArrayType, Int64Type};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::types::Type;
use serde::Serialize;

use crate::platform::csv_out::CsvOut;
use crate::platform::error::AppError;

/// What a record column holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldType {
    /// Text (a category, a date written YYYY-MM-DD); Parquet `BYTE_ARRAY (STRING)`.
    Text,
    /// A whole number; Parquet `INT64`.
    Integer,
    /// true or false; Parquet `BOOLEAN`. CSV writes `true` / `false`.
    Boolean,
}

/// One column of a record file, as its data dictionary describes it. Every column may be
/// empty (CSV) or null (Parquet); the description says what an empty value means.
#[derive(Clone, Debug, Serialize)]
pub struct RecordColumn {
    pub key: &'static str,
    pub label: String,
    #[serde(rename = "type")]
    pub field: FieldType,
    pub description: String,
}

/// A topic's record-level file: `/{agency}/data/{topic}/records.csv`, `records.parquet` and
/// its dictionary `records-dictionary.json`. It is published like a measure, under its id.
#[derive(Clone, Debug, Serialize)]
pub struct RecordFile {
    /// `topic.records` (`stops.records`): publications name it like a measure.
    pub id: &'static str,
    pub title: String,
    pub description: String,
    /// The de-identification rules, one sentence each.
    pub rules: Vec<String>,
    pub columns: Vec<RecordColumn>,
}

/// One column's values in a batch, one per row.
#[derive(Clone, Debug, PartialEq)]
pub enum Values {
    /// Dictionary-coded text: a row's code is an index into `values` plus one, 0 for empty.
    Text {
        values: Vec<String>,
        codes: Vec<u32>,
    },
    Integer(Vec<Option<i64>>),
    Boolean(Vec<Option<bool>>),
}

impl Values {
    pub fn len(&self) -> usize {
        match self {
            Values::Text { codes, .. } => codes.len(),
            Values::Integer(v) => v.len(),
            Values::Boolean(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn field(&self) -> FieldType {
        match self {
            Values::Text { .. } => FieldType::Text,
            Values::Integer(_) => FieldType::Integer,
            Values::Boolean(_) => FieldType::Boolean,
        }
    }

    /// Row `i` as text (empty when missing), for tests and readers of a batch.
    pub fn text(&self, i: usize) -> String {
        match self {
            Values::Text { values, codes } => match codes[i] {
                0 => String::new(),
                c => values[c as usize - 1].clone(),
            },
            Values::Integer(v) => v[i].map_or_else(String::new, |n| n.to_string()),
            Values::Boolean(v) => v[i].map_or_else(String::new, |b| b.to_string()),
        }
    }
}

/// Rows of a record file, column by column in the file's column order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RecordBatch {
    pub columns: Vec<Values>,
}

impl RecordBatch {
    pub fn rows(&self) -> usize {
        self.columns.first().map_or(0, Values::len)
    }

    /// Fails unless the batch has the file's columns, of their types, all of one length.
    fn check(&self, columns: &[RecordColumn]) -> Result<(), AppError> {
        let rows = self.rows();
        let fits = self.columns.len() == columns.len()
            && self
                .columns
                .iter()
                .zip(columns)
                .all(|(v, c)| v.field() == c.field && v.len() == rows);
        if fits {
            Ok(())
        } else {
            Err(AppError::Internal(anyhow::anyhow!(
                "a record batch does not match its file's {} columns",
                columns.len()
            )))
        }
    }
}

/// The rows of a record file, a batch at a time.
pub type RecordStream = BoxStream<'static, Result<RecordBatch, AppError>>;

/// The CSV header: the column keys.
pub fn csv_header(columns: &[RecordColumn]) -> Result<Bytes, AppError> {
    let mut out = CsvOut::buffer();
    out.texts(columns.iter().map(|c| c.key))?;
    Ok(out.take()?.into())
}

/// A batch as CSV lines. Texts go through the formula-safe writer like every CSV Lantern
/// writes; numbers are written as numbers; a missing value is an empty field.
pub fn csv_rows(columns: &[RecordColumn], batch: &RecordBatch) -> Result<Bytes, AppError> {
    batch.check(columns)?;
    let mut out = CsvOut::new(Vec::with_capacity(batch.rows() * 96));
    for i in 0..batch.rows() {
        for v in &batch.columns {
            match v {
                Values::Text { values, codes } => match codes[i] {
                    0 => out.empty()?,
                    c => out.text(&values[c as usize - 1])?,
                },
                Values::Integer(v) => out.opt_int(v[i])?,
                Values::Boolean(v) => match v[i] {
                    Some(true) => out.text("true")?,
                    Some(false) => out.text("false")?,
                    None => out.empty()?,
                },
            }
        }
        out.end()?;
    }
    Ok(out.into_inner()?.into())
}

fn parquet_err(e: parquet::errors::ParquetError) -> AppError {
    AppError::Internal(anyhow::anyhow!("writing Parquet: {e}"))
}

/// A Parquet file written a row group at a time: each [`ParquetStream::write`] gives the
/// bytes to send so far, and [`ParquetStream::finish`] the rest with the footer.
pub struct ParquetStream {
    columns: Vec<RecordColumn>,
    writer: SerializedFileWriter<Vec<u8>>,
}

impl ParquetStream {
    /// A writer for a file of these columns, every column optional, texts as UTF-8 strings,
    /// Snappy-compressed, with the file's title and dictionary in its key-value metadata.
    pub fn new(file: &RecordFile) -> Result<ParquetStream, AppError> {
        use parquet::basic::{LogicalType, Repetition, Type as Physical};
        let fields = file
            .columns
            .iter()
            .map(|c| {
                let b = match c.field {
                    FieldType::Text => Type::primitive_type_builder(c.key, Physical::BYTE_ARRAY)
                        .with_logical_type(Some(LogicalType::String)),
                    FieldType::Integer => Type::primitive_type_builder(c.key, Physical::INT64),
                    FieldType::Boolean => Type::primitive_type_builder(c.key, Physical::BOOLEAN),
                };
                b.with_repetition(Repetition::OPTIONAL)
                    .build()
                    .map(Arc::new)
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(parquet_err)?;
        let schema = Type::group_type_builder("record")
            .with_fields(fields)
            .build()
            .map_err(parquet_err)?;
        let dictionary =
            serde_json::to_string(&file.columns).map_err(|e| AppError::Internal(e.into()))?;
        let props = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .set_created_by(format!("Lantern {}", env!("CARGO_PKG_VERSION")))
            .set_key_value_metadata(Some(vec![
                parquet::file::metadata::KeyValue::new("title".into(), file.title.clone()),
                parquet::file::metadata::KeyValue::new("data_dictionary".into(), dictionary),
            ]))
            .build();
        let writer = SerializedFileWriter::new(Vec::new(), Arc::new(schema), Arc::new(props))
            .map_err(parquet_err)?;
        Ok(ParquetStream {
            columns: file.columns.clone(),
            writer,
        })
    }

    /// Writes a batch as one row group; returns the bytes written since the last call.
    pub fn write(&mut self, batch: &RecordBatch) -> Result<Bytes, AppError> {
        batch.check(&self.columns)?;
        if batch.rows() > 0 {
            let mut group = self.writer.next_row_group().map_err(parquet_err)?;
            let mut levels = Vec::with_capacity(batch.rows());
            for v in &batch.columns {
                let mut col = group.next_column().map_err(parquet_err)?.ok_or_else(|| {
                    parquet_err(parquet::errors::ParquetError::General(
                        "more columns than the schema".into(),
                    ))
                })?;
                levels.clear();
                match v {
                    Values::Text { values, codes } => {
                        let dict: Vec<ByteArray> = values
                            .iter()
                            .map(|s| ByteArray::from(Bytes::copy_from_slice(s.as_bytes())))
                            .collect();
                        let mut present = Vec::with_capacity(codes.len());
                        for c in codes {
                            levels.push(i16::from(*c != 0));
                            if *c != 0 {
                                present.push(dict[*c as usize - 1].clone());
                            }
                        }
                        col.typed::<ByteArrayType>()
                            .write_batch(&present, Some(&levels), None)
                            .map_err(parquet_err)?;
                    }
                    Values::Integer(v) => {
                        let present: Vec<i64> = v.iter().flatten().copied().collect();
                        levels.extend(v.iter().map(|x| i16::from(x.is_some())));
                        col.typed::<Int64Type>()
                            .write_batch(&present, Some(&levels), None)
                            .map_err(parquet_err)?;
                    }
                    Values::Boolean(v) => {
                        let present: Vec<bool> = v.iter().flatten().copied().collect();
                        levels.extend(v.iter().map(|x| i16::from(x.is_some())));
                        col.typed::<BoolType>()
                            .write_batch(&present, Some(&levels), None)
                            .map_err(parquet_err)?;
                    }
                }
                col.close().map_err(parquet_err)?;
            }
            group.close().map_err(parquet_err)?;
        }
        self.writer
            .flush()
            .map_err(|e| AppError::Internal(e.into()))?;
        Ok(std::mem::take(self.writer.inner_mut()).into())
    }

    /// Writes the footer; returns the last bytes of the file.
    pub fn finish(mut self) -> Result<Bytes, AppError> {
        self.writer.finish().map_err(parquet_err)?;
        self.writer
            .flush()
            .map_err(|e| AppError::Internal(e.into()))?;
        Ok(std::mem::take(self.writer.inner_mut()).into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use parquet::file::reader::{FileReader, SerializedFileReader};

    fn file() -> RecordFile {
        let col = |key, field| RecordColumn {
            key,
            label: key.to_string(),
            field,
            description: String::new(),
        };
        RecordFile {
            id: "t.records",
            title: "Test records".into(),
            description: String::new(),
            rules: Vec::new(),
            columns: vec![
                col("place", FieldType::Text),
                col("hour", FieldType::Integer),
                col("searched", FieldType::Boolean),
            ],
        }
    }

    fn batch(offset: i64) -> RecordBatch {
        RecordBatch {
            columns: vec![
                Values::Text {
                    values: vec!["=SUM(A1)".into(), "North".into()],
                    codes: vec![1, 0, 2],
                },
                Values::Integer(vec![Some(offset), None, Some(23)]),
                Values::Boolean(vec![Some(true), Some(false), None]),
            ],
        }
    }

    #[test]
    fn csv_lines_are_formula_safe_and_leave_missing_values_empty() {
        let f = file();
        let mut csv = csv_header(&f.columns).unwrap().to_vec();
        csv.extend_from_slice(&csv_rows(&f.columns, &batch(7)).unwrap());
        assert_eq!(
            String::from_utf8(csv).unwrap(),
            "place,hour,searched\r\n\"'=SUM(A1)\",7,true\r\n,,false\r\nNorth,23,\r\n"
        );
    }

    #[test]
    fn a_batch_that_does_not_fit_its_columns_is_refused() {
        let f = file();
        let mut b = batch(1);
        b.columns.pop();
        assert!(csv_rows(&f.columns, &b).is_err());
        let mut b = batch(1);
        b.columns[1] = Values::Integer(vec![Some(1)]);
        assert!(csv_rows(&f.columns, &b).is_err());
        let mut b = batch(1);
        b.columns.swap(1, 2);
        assert!(ParquetStream::new(&f).unwrap().write(&b).is_err());
    }

    #[test]
    fn parquet_is_written_a_row_group_per_batch_and_reads_back() {
        let f = file();
        let mut p = ParquetStream::new(&f).unwrap();
        let mut bytes = p.write(&batch(1)).unwrap().to_vec();
        assert!(
            bytes.len() > 4,
            "the first row group is sent before the file ends"
        );
        bytes.extend_from_slice(&p.write(&batch(2)).unwrap());
        bytes.extend_from_slice(&p.finish().unwrap());
        let reader = SerializedFileReader::new(Bytes::from(bytes)).unwrap();
        let meta = reader.metadata();
        assert_eq!(meta.num_row_groups(), 2);
        assert_eq!(meta.file_metadata().num_rows(), 6);
        let rows: Vec<String> = reader
            .get_row_iter(None)
            .unwrap()
            .map(|r| r.unwrap().to_string())
            .collect();
        assert_eq!(rows[0], "{place: \"=SUM(A1)\", hour: 1, searched: true}");
        assert_eq!(rows[1], "{place: null, hour: null, searched: false}");
        assert_eq!(rows[5], "{place: \"North\", hour: 23, searched: null}");
    }
}
