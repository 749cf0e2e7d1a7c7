//! One Delta table: created, appended with Parquet files that Polars writes, read through its log.

use std::collections::HashMap;
use std::io::Cursor;

use bytes::Bytes;
use deltalake::kernel::transaction::{CommitBuilder, CommitProperties, TransactionError};
use deltalake::kernel::LogicalFileView;
use deltalake::kernel::Version;
use deltalake::kernel::{Action, Add, ArrayType, DataType as DeltaType, PrimitiveType, StructField, Transaction};
use deltalake::operations::create::CreateBuilder;
use deltalake::protocol::{DeltaOperation, SaveMode};
use deltalake::{DeltaTable, DeltaTableBuilder, DeltaTableError, Path};
use futures::{StreamExt, TryStreamExt};
use object_store::ObjectStoreExt as _;
use polars::prelude::*;
use url::Url;

use crate::error::{delta_error, TableError};
use crate::storage_options;

/// One Delta table of the lake, with the snapshot last read.
pub struct LakeTable {
    pub(crate) table: DeltaTable,
    pub(crate) url: Url,
    /// The newest version this table's appends committed or found committed since the snapshot
    /// was read (an append does not read the snapshot again: [`LakeTable::append`]); while set, its
    /// files are not read ([`TableError::Stale`]).
    pub(crate) tip: Option<Version>,
}

/// Which partitions of a table to read.
#[derive(Debug, Clone, Copy)]
pub enum Rows<'a> {
    /// Every partition.
    All,
    /// The partition of this value only.
    Of(&'a str),
    /// Every partition but the one of this value.
    AllBut(&'a str),
}

impl Rows<'_> {
    fn keeps(&self, value: Option<&str>) -> bool {
        match self {
            Rows::All => true,
            Rows::Of(only) => value == Some(*only),
            Rows::AllBut(other) => value != Some(*other),
        }
    }
}

/// Data files read at once.
const READ_CONCURRENCY: usize = 16;

/// The Delta type of a Polars column type.
fn delta_type(column: &str, dtype: &DataType) -> Result<DeltaType, TableError> {
    let primitive = match dtype {
        DataType::String => PrimitiveType::String,
        DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::UInt8 | DataType::UInt16 => {
            PrimitiveType::Integer
        }
        DataType::Int64 | DataType::UInt32 | DataType::UInt64 => PrimitiveType::Long,
        DataType::Float32 => PrimitiveType::Float,
        DataType::Float64 => PrimitiveType::Double,
        DataType::Boolean => PrimitiveType::Boolean,
        DataType::Binary => PrimitiveType::Binary,
        DataType::Date => PrimitiveType::Date,
        DataType::Datetime(_, None) => PrimitiveType::TimestampNtz,
        DataType::List(inner) => {
            let element = delta_type(column, inner)?;
            return Ok(DeltaType::Array(Box::new(ArrayType::new(element, true))));
        }
        other => return Err(TableError::Type { column: column.to_string(), dtype: other.clone() }),
    };
    Ok(DeltaType::Primitive(primitive))
}

/// The Polars type a column of Delta type `dtype` is read as (the inverse of [`delta_type`], with
/// Delta's integers and timestamps as they are stored); `None` for types this lake does not write.
fn polars_type(dtype: &DeltaType) -> Option<DataType> {
    Some(match dtype {
        DeltaType::Primitive(primitive) => match primitive {
            PrimitiveType::String => DataType::String,
            PrimitiveType::Integer => DataType::Int32,
            PrimitiveType::Long => DataType::Int64,
            PrimitiveType::Float => DataType::Float32,
            PrimitiveType::Double => DataType::Float64,
            PrimitiveType::Boolean => DataType::Boolean,
            PrimitiveType::Binary => DataType::Binary,
            PrimitiveType::Date => DataType::Date,
            PrimitiveType::TimestampNtz => DataType::Datetime(TimeUnit::Microseconds, None),
            _ => return None,
        },
        DeltaType::Array(array) => DataType::List(Box::new(polars_type(array.element_type())?)),
        _ => return None,
    })
}

/// The Polars type a data file holds for a column of `dtype`: the one of its Delta type (Delta has
/// no unsigned or small integers, and its timestamps are microseconds).
fn stored_type(dtype: &DataType) -> Option<DataType> {
    match dtype {
        DataType::Int8 | DataType::Int16 | DataType::UInt8 | DataType::UInt16 => Some(DataType::Int32),
        DataType::UInt32 | DataType::UInt64 => Some(DataType::Int64),
        DataType::Datetime(unit, None) if *unit != TimeUnit::Microseconds => {
            Some(DataType::Datetime(TimeUnit::Microseconds, None))
        }
        _ => None,
    }
}

impl LakeTable {
    /// The table at `url`, created with the columns of `schema` partitioned by `partition` if there
    /// is none yet.
    pub async fn open_or_create(url: &Url, schema: &Schema, partition: &str) -> Result<Self, TableError> {
        if let Ok(folder) = url.to_file_path() {
            std::fs::create_dir_all(&folder).map_err(|error| delta_error(url, DeltaTableError::from(error)))?;
        }
        let options = storage_options();
        let columns = schema
            .iter()
            .map(|(name, dtype)| Ok(StructField::new(name.to_string(), delta_type(name, dtype)?, true)))
            .collect::<Result<Vec<_>, TableError>>()?;
        let created = CreateBuilder::new()
            .with_location(url.as_str())
            .with_storage_options(options)
            .with_columns(columns)
            .with_partition_columns([partition.to_string()])
            .with_save_mode(SaveMode::Ignore)
            .await;
        let table = match created {
            Ok(table) => table,
            // Another writer may have created it first (how that shows depends on the store): then
            // it is there to load.
            Err(error) => Self::load(url).await.map_err(|_| delta_error(url, error))?,
        };
        Ok(Self { table, url: url.clone(), tip: None })
    }

    /// The table at `url`, or `None` where there is none.
    pub async fn open(url: &Url) -> Result<Option<Self>, TableError> {
        match Self::load(url).await {
            Ok(table) => Ok(Some(Self { table, url: url.clone(), tip: None })),
            Err(TableError::Delta { source, .. })
                if matches!(
                    *source,
                    DeltaTableError::NotATable(_)
                        | DeltaTableError::KernelError(delta_kernel::Error::InvalidTableLocation(_))
                ) =>
            {
                Ok(None)
            }
            Err(error) => Err(error),
        }
    }

    async fn load(url: &Url) -> Result<DeltaTable, TableError> {
        let builder = DeltaTableBuilder::from_url(url.clone()).map_err(|error| delta_error(url, error))?;
        builder.with_storage_options(storage_options()).load().await.map_err(|error| delta_error(url, error))
    }

    /// Where the table is.
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// Reads the log again: the snapshot becomes the latest version.
    pub async fn refresh(&mut self) -> Result<(), TableError> {
        self.table.update_state().await.map_err(|error| delta_error(&self.url, error))?;
        self.tip = None;
        Ok(())
    }

    /// The newest version this table knows: its appends' tip, else the snapshot's.
    pub(crate) fn version(&self) -> Result<Version, TableError> {
        match self.tip {
            Some(tip) => Ok(tip),
            None => Ok(self.table.snapshot().map_err(|error| delta_error(&self.url, error))?.version()),
        }
    }

    /// Writes `frame` (without the partition column) as the data file `<partition>=<value>/<name>.parquet`,
    /// not yet part of the table: its `add` action, for [`LakeTable::append`] or
    /// [`LakeTable::replace_partition`]. `name` must be new (two writers racing must not share one).
    pub async fn write_file(
        &self,
        partition: &str,
        value: &str,
        frame: &DataFrame,
        name: &str,
        compression: ParquetCompression,
    ) -> Result<Add, TableError> {
        let path = format!("{partition}={value}/{name}.parquet");
        let rows = frame.height();
        let frame = frame.clone();
        // Polars' Parquet writer blocks: off the async runtime.
        let written = tokio::task::spawn_blocking(move || {
            let mut frame = stored_types(&frame)?;
            let mut body = Vec::new();
            ParquetWriter::new(&mut body).with_compression(compression).finish(&mut frame)?;
            Ok::<_, PolarsError>(body)
        })
        .await
        .unwrap_or_else(|error| Err(PolarsError::ComputeError(error.to_string().into())));
        let body = written.map_err(|source| TableError::Polars { what: format!("writing {path}"), source })?;
        let size = body.len() as i64;
        let store = self.table.object_store();
        let stored = store.put(&Path::from(path.as_str()), Bytes::from(body).into()).await;
        stored.map_err(|source| TableError::Store { path: path.clone(), source })?;
        Ok(Add {
            path,
            partition_values: HashMap::from([(partition.to_string(), Some(value.to_string()))]),
            size,
            modification_time: chrono::Utc::now().timestamp_millis(),
            data_change: true,
            stats: Some(serde_json::json!({ "numRecords": rows }).to_string()),
            ..Default::default()
        })
    }

    /// Deletes data files written for a commit that did not happen.
    pub async fn discard(&self, adds: &[Add]) {
        let store = self.table.object_store();
        for add in adds {
            if let Err(error) = store.delete(&Path::from(add.path.as_str())).await {
                tracing::warn!(path = add.path, %error, "could not delete an uncommitted data file");
            }
        }
    }

    /// Replaces the data of the partition `partition` = `value` with `adds` in one commit (readers
    /// see the old data or the new, never part of each), with `txns` and `metadata` (kept in the
    /// commit's `commitInfo`), then reads the log again. [`TableError::Conflict`] when another
    /// writer committed a `txn` of the same source, or changed that partition, first.
    pub async fn replace_partition(
        &mut self,
        partition: &str,
        value: &str,
        adds: Vec<Add>,
        txns: Vec<Transaction>,
        metadata: serde_json::Map<String, serde_json::Value>,
    ) -> Result<(), TableError> {
        let mut actions: Vec<Action> = self
            .files(Rows::Of(value), partition)
            .await?
            .iter()
            .map(|file| Action::Remove(file.remove_action(true)))
            .collect();
        actions.extend(adds.into_iter().map(Action::Add));
        let operation = DeltaOperation::Write {
            mode: SaveMode::Overwrite,
            partition_by: Some(vec![partition.to_string()]),
            predicate: Some(format!("{partition} = '{value}'")),
        };
        let properties = CommitProperties::default().with_application_transactions(txns).with_metadata(metadata);
        self.commit(actions, operation, properties).await
    }

    /// Commits `actions` against the snapshot held, then reads the log again.
    pub(crate) async fn commit(
        &mut self,
        actions: Vec<Action>,
        operation: DeltaOperation,
        properties: CommitProperties,
    ) -> Result<(), TableError> {
        let snapshot = self.table.snapshot().map_err(|error| delta_error(&self.url, error))?.clone();
        // Expired log entries are deleted by the daily upkeep ([`LakeTable::vacuum`]), not after every
        // commit: that lists the whole log each time (a LIST of thousands of keys on S3).
        let properties = properties.with_cleanup_expired_logs(Some(false));
        let committed = CommitBuilder::from(properties)
            .with_actions(actions)
            .build(Some(&snapshot), self.table.log_store(), operation)
            .await;
        match committed {
            Ok(_) => self.refresh().await,
            Err(DeltaTableError::Transaction { source: TransactionError::CommitConflict(_) }) => {
                Err(TableError::Conflict { url: self.url.to_string() })
            }
            Err(error) => Err(delta_error(&self.url, error)),
        }
    }

    /// The data files of the snapshot held in the partitions `rows` names; [`TableError::Stale`]
    /// once appends went past it.
    pub(crate) async fn files(&self, rows: Rows<'_>, partition: &str) -> Result<Vec<LogicalFileView>, TableError> {
        if self.tip.is_some() {
            return Err(TableError::Stale { url: self.url.to_string() });
        }
        let files: Vec<LogicalFileView> = self
            .table
            .get_active_add_actions_by_partitions(&[])
            .try_collect()
            .await
            .map_err(|error| delta_error(&self.url, error))?;
        Ok(files.into_iter().filter(|file| rows.keeps(partition_of(file, partition).as_deref())).collect())
    }

    /// The rows of the partitions `rows` names in the snapshot held (only `columns`, if given), with
    /// the partition column `partition` (a date).
    pub async fn read(
        &self,
        columns: Option<&[&str]>,
        partition: &str,
        rows: Rows<'_>,
    ) -> Result<DataFrame, TableError> {
        let columns: Option<Vec<String>> = columns.map(|columns| columns.iter().map(|c| c.to_string()).collect());
        self.read_files(self.files(rows, partition).await?, columns, partition).await
    }

    /// A lazy scan of the data files of the snapshot held in the partitions `rows` names, their
    /// columns as the files hold them (no partition column), or `None` where there are none. Polars
    /// reads only the columns and row groups the plan that uses it needs (ranged reads on S3).
    pub async fn scan(&self, rows: Rows<'_>, partition: &str) -> Result<Option<LazyFrame>, TableError> {
        let files = self.files(rows, partition).await?;
        if files.is_empty() {
            return Ok(None);
        }
        let paths: Vec<String> = files.iter().map(|file| file.path().to_string()).collect();
        scan_parquet(&self.url, &paths).map(Some)
    }

    /// The rows of `files` (only `columns`, if given), with the partition column `partition`.
    pub(crate) async fn read_files(
        &self,
        files: Vec<LogicalFileView>,
        columns: Option<Vec<String>>,
        partition: &str,
    ) -> Result<DataFrame, TableError> {
        let frames: Vec<DataFrame> = futures::stream::iter(files)
            .map(|file| self.read_file(file, columns.clone(), partition))
            .buffered(READ_CONCURRENCY)
            .try_collect()
            .await?;
        let mut frames = frames.into_iter();
        let Some(mut all) = frames.next() else { return self.no_rows(columns.as_deref(), partition) };
        for frame in frames {
            all.vstack_mut(&frame).map_err(|source| self.read_error(source))?;
        }
        Ok(all)
    }

    /// The frame of no data file (a table just created, or a partition not written): no rows, the
    /// columns `columns` (all, if not given) and `partition` with the types of the table's schema.
    fn no_rows(&self, columns: Option<&[String]>, partition: &str) -> Result<DataFrame, TableError> {
        let schema = self.table.snapshot().map_err(|error| delta_error(&self.url, error))?.schema();
        let names: Vec<&str> = match columns {
            Some(columns) => columns.iter().map(String::as_str).collect(),
            None => schema.fields().map(|field| field.name().as_str()).filter(|name| *name != partition).collect(),
        };
        let empty = |name: &str| -> Result<Column, TableError> {
            let unknown = || {
                self.read_error(PolarsError::ColumnNotFound(
                    format!("{name:?} is not a column the table can read").into(),
                ))
            };
            let dtype = schema.field(name).and_then(|field| polars_type(field.data_type())).ok_or_else(unknown)?;
            Ok(Column::new_empty(name.into(), &dtype))
        };
        let frame: Vec<Column> = names.into_iter().chain([partition]).map(empty).collect::<Result<_, _>>()?;
        DataFrame::new(0, frame).map_err(|source| self.read_error(source))
    }

    fn read_error(&self, source: PolarsError) -> TableError {
        TableError::Polars { what: format!("reading {}", self.url), source }
    }

    /// One data file's rows (only `columns`, if given), with the partition column `partition`.
    async fn read_file(
        &self,
        file: LogicalFileView,
        columns: Option<Vec<String>>,
        partition: &str,
    ) -> Result<DataFrame, TableError> {
        let path = file.object_store_path();
        let store_error = |source| TableError::Store { path: path.to_string(), source };
        let store = self.table.object_store();
        let body = store.get(&path).await.map_err(store_error)?.bytes().await.map_err(store_error)?;
        let value = partition_of(&file, partition);
        let partition = partition.to_string();
        // Polars' Parquet reader blocks: off the async runtime.
        tokio::task::spawn_blocking(move || {
            ParquetReader::new(Cursor::new(body)).with_columns(columns).finish().and_then(|frame| {
                frame.lazy().with_column(partition_value(value.as_deref()).alias(partition.as_str())).collect()
            })
        })
        .await
        .unwrap_or_else(|error| Err(PolarsError::ComputeError(error.to_string().into())))
        .map_err(|source| TableError::Polars { what: format!("reading {path}"), source })
    }
}

/// A lazy scan of the Parquet files at `paths`, relative to `url` (a folder, or a prefix on S3):
/// Polars reads only the columns and row groups the plan that uses it needs (ranged reads on S3).
pub fn scan_parquet(url: &Url, paths: &[String]) -> Result<LazyFrame, TableError> {
    let error = |source| TableError::Polars { what: format!("scanning {url}"), source };
    let folder = url.to_file_path().ok();
    let paths: Vec<PlRefPath> = paths
        .iter()
        .map(|path| match &folder {
            Some(folder) => PlRefPath::try_from_pathbuf(folder.join(path)),
            None => Ok(PlRefPath::new(format!("{url}{path}").as_str())),
        })
        .collect::<PolarsResult<_>>()
        .map_err(error)?;
    let args = ScanArgsParquet {
        cloud_options: folder.is_none().then(crate::cloud_options).transpose().map_err(error)?,
        hive_options: HiveOptions { enabled: Some(false), ..Default::default() },
        ..Default::default()
    };
    LazyFrame::scan_parquet_files(paths.into_iter().collect(), args).map_err(error)
}

/// The value of `file`'s partition column `partition`.
pub(crate) fn partition_of(file: &LogicalFileView, partition: &str) -> Option<String> {
    file.partition_values_map().get(partition).cloned().flatten()
}

/// A date partition's value (`YYYY-MM-DD`, or none) as a column.
fn partition_value(value: Option<&str>) -> Expr {
    let options = StrptimeOptions { format: Some("%Y-%m-%d".into()), ..Default::default() };
    match value {
        Some(value) => lit(value).str().to_date(options),
        None => lit(NULL).cast(DataType::Date),
    }
}
/// `frame` with every column of the type its Delta type stores ([`stored_type`]).
fn stored_types(frame: &DataFrame) -> Result<DataFrame, PolarsError> {
    let casts: Vec<Expr> = frame
        .columns()
        .iter()
        .filter_map(|column| Some(col(column.name().clone()).strict_cast(stored_type(column.dtype())?)))
        .collect();
    if casts.is_empty() {
        return Ok(frame.clone());
    }
    frame.clone().lazy().with_columns(casts).collect()
}
