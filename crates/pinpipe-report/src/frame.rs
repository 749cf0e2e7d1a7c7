//! Reading a result frame's columns as the report needs them: labels, numbers and table cells.

use polars::prelude::{DataFrame, DataType, PolarsError};

use crate::error::ReportError;
use crate::format::thousands;

/// The error of reading `column` of query `query`'s result.
fn column_error(query: &str, column: &str) -> impl FnOnce(PolarsError) -> ReportError {
    let (query, column) = (query.to_string(), column.to_string());
    move |source| ReportError::Column { query, column, source }
}

/// A column's values as text (`None` for NULL).
pub(crate) fn texts(frame: &DataFrame, query: &str, column: &str) -> Result<Vec<Option<String>>, ReportError> {
    let error = || column_error(query, column);
    let values = frame.column(column).and_then(|c| c.cast(&DataType::String)).map_err(error())?;
    Ok(values.str().map_err(error())?.iter().map(|value| value.map(str::to_string)).collect())
}

/// A numeric column's values (`None` for NULL).
pub(crate) fn numbers(frame: &DataFrame, query: &str, column: &str) -> Result<Vec<Option<f64>>, ReportError> {
    let error = || column_error(query, column);
    let values = frame.column(column).and_then(|c| c.cast(&DataType::Float64)).map_err(error())?;
    Ok(values.f64().map_err(error())?.iter().collect())
}

/// One column of a result as the report's table shows it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TableColumn {
    /// The column's name.
    pub name: String,
    /// Whether it holds numbers (right-aligned, sorted by value).
    pub numeric: bool,
    /// Each row's text (`None` for NULL).
    pub cells: Vec<Option<String>>,
    /// Each row's value to sort by, for numbers.
    pub sort_values: Vec<Option<f64>>,
}

/// Every column of a result as table cells: counts with thousands separators, years as they are.
pub(crate) fn table_columns(frame: &DataFrame, query: &str) -> Result<Vec<TableColumn>, ReportError> {
    let mut columns = Vec::new();
    for column in frame.columns() {
        let name = column.name().to_string();
        let numeric = column.dtype().is_primitive_numeric();
        let (cells, sort_values) = if numeric {
            let values = numbers(frame, query, &name)?;
            let year = name.ends_with("year");
            let cells = values
                .iter()
                .map(|value| value.map(|value| if year { format!("{value}") } else { thousands(value) }))
                .collect();
            (cells, values)
        } else {
            (texts(frame, query, &name)?, Vec::new())
        };
        columns.push(TableColumn { name, numeric, cells, sort_values });
    }
    Ok(columns)
}

#[cfg(test)]
mod tests {
    use super::*;
    use polars::prelude::*;

    #[test]
    fn columns_become_labels_numbers_and_cells() {
        let frame = df!(
            "post_year" => [Some(2018i32), None],
            "category" => [Some("art"), None],
            "category_count" => [1_234_567i64, 3],
        )
        .unwrap();
        assert_eq!(texts(&frame, "q2a", "category").unwrap(), [Some("art".to_string()), None]);
        assert_eq!(numbers(&frame, "q2a", "category_count").unwrap(), [Some(1_234_567.0), Some(3.0)]);
        let columns = table_columns(&frame, "q2a").unwrap();
        assert_eq!(columns[0].cells, [Some("2018".to_string()), None]);
        assert!(columns[0].numeric && !columns[1].numeric);
        assert_eq!(columns[1].cells, [Some("art".to_string()), None]);
        assert_eq!(columns[2].cells, [Some("1,234,567".to_string()), Some("3".to_string())]);
        let error = numbers(&frame, "q2a", "median").unwrap_err();
        assert!(error.to_string().starts_with("result q2a: column median:"), "{error}");
    }
}
