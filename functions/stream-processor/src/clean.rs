//! Decoding and cleaning one shard's records bound for one table: the batch's rules
//! ([`pinpipe_core::decode::decode_records`], [`pinpipe_core::clean::clean`]) and the stream rows'
//! lineage.

use pinpipe_contract::names::stream_name_of_arn;
use pinpipe_contract::table::{ARRIVAL_DATE_COLUMN, ARRIVAL_TIME_COLUMN, SEQUENCE_NUMBER_COLUMN, SHARD_ID_COLUMN};
use pinpipe_contract::{Origin, RejectedRecord, Stage, StreamPosition, Table};
use pinpipe_core::clean::clean;
use pinpipe_core::decode::decode_records;
use polars::prelude::{
    col, ChunkAgg, Column, DataFrame, DataType, IntoLazy, PlSmallStr, PolarsError, Scalar, Schema, TimeUnit,
};

use crate::{KinesisBatchRecord, ProcessError};

/// What the records of a group became.
pub(crate) struct CleanedRecords {
    /// The accepted records' rows by the UTC date of their arrival (`YYYY-MM-DD`): the docs/SPEC.md
    /// §4 columns, `_raw_hash`, then the lineage columns `_shard_id`, `_sequence_number` and
    /// `_arrival_time`.
    pub by_arrival_date: Vec<(String, DataFrame)>,
    /// Rows in all.
    pub rows: usize,
    /// The stream table's schema: the rows' columns and the partition column.
    pub schema: Schema,
    /// The refusals, by index in the event.
    pub refused: Vec<(usize, RejectedRecord)>,
}

/// Decodes and cleans `indices` of `records` (all of `shard`, bound for `table`).
pub(crate) fn clean_records(
    table: Table,
    shard: &str,
    records: &[KinesisBatchRecord],
    indices: &[usize],
) -> Result<CleanedRecords, ProcessError> {
    let polars_error = |step| {
        let shard = shard.to_string();
        move |source| ProcessError::Polars { step, table, shard, source }
    };
    let data: Vec<&[u8]> = indices.iter().map(|&index| records[index].kinesis.data.0.as_slice()).collect();
    let decoded = decode_records(table, &data).map_err(polars_error("decoding"))?;
    let mut accepted = vec![true; data.len()];
    let mut refused = Vec::with_capacity(decoded.refused.len());
    for refusal in decoded.refused {
        accepted[refusal.at] = false;
        let index = indices[refusal.at];
        refused.push((index, refusal.into_record(Stage::StreamProcessor, table, origin_of(&records[index]))));
    }
    refused.sort_by_key(|(index, _)| *index);
    let cleaned = clean(table, decoded.frame).map_err(polars_error("cleaning"))?;
    let kept: Vec<&KinesisBatchRecord> =
        indices.iter().zip(&accepted).filter(|(_, accepted)| **accepted).map(|(&index, _)| &records[index]).collect();
    let rows = with_lineage(cleaned.frame, shard, &kept).map_err(polars_error("adding lineage to"))?;
    let mut schema = rows.schema().as_ref().clone();
    schema.with_column(ARRIVAL_DATE_COLUMN.into(), DataType::Date);
    let by_arrival_date = by_arrival_date(&rows).map_err(polars_error("splitting by arrival date"))?;
    Ok(CleanedRecords { by_arrival_date, rows: rows.height(), schema, refused })
}

/// `rows` by the UTC date of their arrival (`YYYY-MM-DD`), without the partition column: split by
/// the arrival's day number, each date formatted once.
fn by_arrival_date(rows: &DataFrame) -> Result<Vec<(String, DataFrame)>, PolarsError> {
    let arrivals = rows.column(ARRIVAL_TIME_COLUMN)?.datetime()?.physical();
    let (Some(first), Some(last)) = (arrivals.min(), arrivals.max()) else { return Ok(Vec::new()) };
    let (first, last) = (first.div_euclid(MICROS_PER_DAY), last.div_euclid(MICROS_PER_DAY));
    // Mostly all of a batch arrived the same day: then the rows are one part as they are.
    if first == last {
        return Ok(vec![(date_of_day(first)?, rows.clone())]);
    }
    let days =
        rows.clone().lazy().with_column(col(ARRIVAL_TIME_COLUMN).dt().date().alias(ARRIVAL_DATE_COLUMN)).collect()?;
    let mut parts = Vec::new();
    for part in days.partition_by_stable([ARRIVAL_DATE_COLUMN], true)? {
        let day = part.column(ARRIVAL_DATE_COLUMN)?.date()?.physical().get(0).unwrap_or_default();
        parts.push((date_of_day(i64::from(day))?, part.drop(ARRIVAL_DATE_COLUMN)?));
    }
    Ok(parts)
}

const SECONDS_PER_DAY: i64 = 86_400;
/// The length of a day in `_arrival_time`'s unit.
const MICROS_PER_DAY: i64 = SECONDS_PER_DAY * 1_000_000;

/// The date (`YYYY-MM-DD`) of the day `day` days after 1970-01-01.
fn date_of_day(day: i64) -> Result<String, PolarsError> {
    chrono::DateTime::from_timestamp(day * SECONDS_PER_DAY, 0)
        .map(|midnight| midnight.format("%Y-%m-%d").to_string())
        .ok_or_else(|| PolarsError::ComputeError(format!("no date for arrival day {day}").into()))
}

/// Where a record was: its stream (from its `eventSourceARN`, or the ARN itself when it names no
/// stream), shard and sequence number.
pub(crate) fn origin_of(record: &KinesisBatchRecord) -> Origin {
    let arn = record.event_source_arn.as_deref().unwrap_or_default();
    Origin::Kinesis(StreamPosition {
        stream: stream_name_of_arn(arn).unwrap_or(arn).to_string(),
        shard_id: record.shard().to_string(),
        sequence_number: record.kinesis.sequence_number.clone(),
    })
}

/// Adds [`SHARD_ID_COLUMN`], [`SEQUENCE_NUMBER_COLUMN`] and [`ARRIVAL_TIME_COLUMN`] to the cleaned
/// rows of `kept` (the records not refused, in order). A record whose arrival the event does not
/// give (a replayed refusal) arrives now.
fn with_lineage(frame: DataFrame, shard: &str, kept: &[&KinesisBatchRecord]) -> Result<DataFrame, PolarsError> {
    let rows = frame.height();
    if rows != kept.len() {
        let message = format!("cleaning gave {rows} rows for {} records", kept.len());
        return Err(PolarsError::ShapeMismatch(message.into()));
    }
    let now_ms = chrono::Utc::now().timestamp_millis();
    let sequence_numbers: Vec<&str> = kept.iter().map(|record| record.kinesis.sequence_number.as_str()).collect();
    let arrivals: Vec<i64> =
        kept.iter().map(|record| Some(record.arrival_ms()).filter(|&ms| ms > 0).unwrap_or(now_ms) * 1_000).collect();
    let mut frame = frame;
    frame.with_column(Column::new_scalar(SHARD_ID_COLUMN.into(), Scalar::from(PlSmallStr::from(shard)), rows))?;
    frame.with_column(Column::new(SEQUENCE_NUMBER_COLUMN.into(), sequence_numbers))?;
    let arrival =
        Column::new(ARRIVAL_TIME_COLUMN.into(), arrivals).cast(&DataType::Datetime(TimeUnit::Microseconds, None))?;
    frame.with_column(arrival)?;
    Ok(frame)
}

#[cfg(test)]
mod tests {
    use polars::prelude::*;

    use super::*;

    /// Rows arriving at `seconds` (Unix time).
    fn arriving(seconds: &[i64]) -> DataFrame {
        let micros: Vec<i64> = seconds.iter().map(|s| s * 1_000_000).collect();
        let arrival = Column::new(ARRIVAL_TIME_COLUMN.into(), micros)
            .cast(&DataType::Datetime(TimeUnit::Microseconds, None))
            .unwrap();
        DataFrame::new_infer_height(vec![
            Column::new("n".into(), (0..seconds.len() as i64).collect::<Vec<_>>()),
            arrival,
        ])
        .unwrap()
    }

    #[test]
    fn rows_of_one_arrival_date_are_one_part_and_a_batch_across_midnight_two() {
        // 2026-12-02T23:59:59Z and 2026-12-03T00:00:00Z.
        let (before, after) = (1_796_255_999, 1_796_256_000);
        let one_day = arriving(&[before - 5, before, before - 10]);
        let parts = by_arrival_date(&one_day).unwrap();
        assert_eq!(parts.len(), 1);
        assert_eq!(parts[0].0, "2026-12-02");
        assert!(parts[0].1.equals_missing(&one_day));

        let parts = by_arrival_date(&arriving(&[before, after, before, after])).unwrap();
        let dates: Vec<(&str, Vec<i64>)> = parts
            .iter()
            .map(|(date, rows)| (date.as_str(), rows.column("n").unwrap().i64().unwrap().into_no_null_iter().collect()))
            .collect();
        assert_eq!(dates, [("2026-12-02", vec![0, 2]), ("2026-12-03", vec![1, 3])]);
        assert!(parts.iter().all(|(_, rows)| rows.width() == 2), "the partition column is not kept");
    }
}
