//! The plan of one view table: its SQL name, row message, columns and
//! statements per dialect, in a form the generated code carries.

use prost_reflect::{DynamicMessage, Kind, MessageDescriptor};
use serde::{Deserialize, Serialize};

use crate::compiled::Dialect;
use crate::types::{Column, SqlValue, column_of, column_value};

/// The statements of a table in one dialect.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchemaSql {
    /// `CREATE TABLE IF NOT EXISTS`.
    pub create_table: String,
    /// `CREATE INDEX IF NOT EXISTS`, one per index.
    pub create_indexes: Vec<String>,
    /// Insert or replace a row: binds `_key`, `_row`, then the column values
    /// of [`row_values`] in order.
    pub upsert: String,
    /// Delete a row: binds `_key`.
    pub delete: String,
    /// Select a row's `_row` by `_key`.
    pub select_row: String,
}

/// One column of a table plan: its SQL name and field path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColumnPlan {
    /// The SQL column name.
    pub name: String,
    /// The field names from the row message.
    pub path: Vec<String>,
}

/// A view table as the runtime needs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TablePlan {
    /// The name queries use.
    pub name: String,
    /// The SQL table name.
    pub table: String,
    /// The row message's full name.
    pub row_type: String,
    /// The columns after `_key` and `_row`, in order.
    pub columns: Vec<ColumnPlan>,
    /// SQLite statements.
    pub sqlite: SchemaSql,
    /// PostgreSQL statements.
    pub postgres: SchemaSql,
}

/// Why a plan does not fit the descriptors it is resolved against.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// A message the plan names is not in the descriptor set.
    #[error("message `{0}` is not in the descriptor set")]
    UnknownMessage(String),
    /// A column's field path does not lead to a column-typed field.
    #[error("column `{column}` of table `{table}` does not match the row message")]
    BadColumn {
        /// The SQL table name.
        table: String,
        /// The column.
        column: String,
    },
    /// The plan text does not decode.
    #[error("the compiled view plan does not decode: {0}")]
    Decode(String),
}

impl TablePlan {
    /// The statements of `dialect`.
    pub fn sql(&self, dialect: Dialect) -> &SchemaSql {
        match dialect {
            Dialect::Sqlite => &self.sqlite,
            Dialect::Postgres => &self.postgres,
        }
    }

    /// The columns, resolved against the row message `row`.
    pub fn resolve_columns(&self, row: &MessageDescriptor) -> Result<Vec<Column>, PlanError> {
        self.columns
            .iter()
            .map(|c| {
                let bad = || PlanError::BadColumn {
                    table: self.table.clone(),
                    column: c.name.clone(),
                };
                let mut fields = Vec::with_capacity(c.path.len());
                let mut message = row.clone();
                for (i, name) in c.path.iter().enumerate() {
                    let field = message.get_field_by_name(name).ok_or_else(bad)?;
                    if i + 1 < c.path.len() {
                        match field.kind() {
                            Kind::Message(m) => message = m,
                            _ => return Err(bad()),
                        }
                    }
                    fields.push(field);
                }
                let column = column_of(&fields).map_err(|_| bad())?;
                if column.name != c.name {
                    return Err(bad());
                }
                Ok(column)
            })
            .collect()
    }
}

/// The values of `columns` for `row`, in column order (bind them after `_key`
/// and `_row` in [`SchemaSql::upsert`]; arrays bind as JSON text in SQLite,
/// see [`SqlValue::json_array_text`]).
pub fn row_values(row: &DynamicMessage, columns: &[Column]) -> Vec<SqlValue> {
    columns.iter().map(|c| column_value(row, c)).collect()
}
