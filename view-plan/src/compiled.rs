//! What a compiled query is: SQL per dialect, bound parameters, the shape of
//! the result and how rows map into the response message.

use serde::{Deserialize, Serialize};

use crate::types::{SqlType, SqlValue};

/// A compiled view query.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CompiledQuery {
    /// The query as written.
    pub query: String,
    /// The tables it reads, `FROM` first then each `JOIN`: the result row
    /// carries `_key` and `_row` of table `i` in SQL columns `2i` and `2i+1`.
    pub tables: Vec<QueryTable>,
    /// The SQL for SQLite (`?N` parameters).
    pub sqlite: DialectSql,
    /// The SQL for PostgreSQL (`$N` parameters).
    pub postgres: DialectSql,
    /// The parameters of [`DialectSql::rows`], in order (`?1`/`$1` first).
    /// The first [`CompiledQuery::filter_params`] come from the `WHERE`
    /// clause; then come [`ParamSource::Limit`] and [`ParamSource::Offset`]
    /// when the query returns rows.
    pub params: Vec<BoundParam>,
    /// How many leading entries of `params` the `WHERE` clause uses (all that
    /// [`DialectSql::count`] binds; [`DialectSql::live`] binds them then the key).
    pub filter_params: usize,
    /// The result shape.
    pub shape: ResultShape,
    /// How a result (one row, or for grouped shapes several) becomes the
    /// response message; for [`ResultShape::Collected`] it holds the
    /// [`FieldSource::Rows`] field.
    pub projection: Projection,
    /// Paging.
    pub paging: Paging,
    /// `None` when `stream_updates` may be used, else why not.
    pub stream_updates_unsupported: Option<String>,
    /// The columns the query filters on, orders by or joins on.
    pub used_columns: Vec<UsedColumn>,
    /// The indexes that serve the query.
    pub indexes: Vec<IndexHint>,
}

/// A table a query reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueryTable {
    /// The name in the query.
    pub name: String,
    /// The SQL table name.
    pub sql_name: String,
    /// The row message's full name.
    pub row_type: String,
}

/// The SQL statements of one dialect.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DialectSql {
    /// Selects `_key, _row` of every table (see [`CompiledQuery::tables`]),
    /// filtered, ordered, limited. `None` for [`ResultShape::Aggregate`].
    pub rows: Option<String>,
    /// `SELECT COUNT(*)` over the same filter, when the query uses `COUNT(*)`.
    pub count: Option<String>,
    /// The rows query restricted to one source key (bound after the filter
    /// parameters) and without paging: does this changed row match? Present
    /// when `stream_updates` is supported.
    pub live: Option<String>,
}

/// One bound parameter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BoundParam {
    /// Where the value comes from.
    pub source: ParamSource,
    /// The type to bind it as (arrays: the element type).
    pub sql_type: SqlType,
    /// Whether it binds an array (JSON text in SQLite, an SQL array in PostgreSQL).
    pub array: bool,
}

/// Where a parameter's value comes from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ParamSource {
    /// A field of the request message (a missing `optional` or wrapper field is a bad request).
    Request {
        /// The field name.
        field: String,
    },
    /// A literal of the query.
    Literal(SqlValue),
    /// A `LIKE` pattern (SQLite binds it translated to a case-sensitive `GLOB` pattern).
    LikePattern(String),
    /// How many rows to fetch: the page size (or the result cap when there is
    /// no limit) plus one, so `has_more()` and the cap can be decided.
    Limit,
    /// How many rows to skip.
    Offset,
}

/// The shape of a query's result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ResultShape {
    /// Unary: one response from the first row (plus all rows for repeated
    /// nested projections); NOT_FOUND when there is no row.
    Single,
    /// Server streaming: one response per row (consecutive rows with the same
    /// keys of the tables projected outside repeated nested items are
    /// grouped when the projection has repeated nested items).
    Stream,
    /// Unary: all rows collected into a repeated field (`* AS field`); an
    /// empty result is a normal response.
    Collected,
    /// Unary: no row data, only `COUNT(*)` and echoed parameters.
    Aggregate,
}

/// How a response message is built.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Projection {
    /// The response is table `table`'s row as stored: decode `_row` as is.
    WholeRow {
        /// Index into [`CompiledQuery::tables`].
        table: usize,
    },
    /// Field by field.
    Fields(Vec<FieldMapping>),
}

/// One response field and where its value comes from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldMapping {
    /// The response field name.
    pub field: String,
    /// Its number.
    pub number: u32,
    /// The value.
    pub source: FieldSource,
}

/// Where a response field's value comes from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum FieldSource {
    /// The value at a field path of a table's row (unset when the row is
    /// absent, as after a LEFT JOIN).
    Row {
        /// Index into [`CompiledQuery::tables`].
        table: usize,
        /// Field names from the row message.
        path: Vec<String>,
    },
    /// A request field echoed.
    Param {
        /// The request field name.
        field: String,
    },
    /// A nested message built from the same row; when `repeated`, one element
    /// per row of the group.
    Nested {
        /// How the nested message is built.
        projection: Projection,
        /// Whether the field is repeated.
        repeated: bool,
    },
    /// Every row, one element each (`* AS field`).
    Rows {
        /// How an element is built.
        projection: Projection,
    },
    /// The token of the next page, empty on the last page.
    NextPageToken,
    /// Whether more rows follow this page.
    HasMore,
    /// The total number of matching rows, over all pages.
    Count,
}

/// Paging of a query.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Paging {
    /// `LIMIT`.
    pub limit: Option<CountSource>,
    /// `OFFSET`.
    pub offset: Option<OffsetSource>,
    /// The page size when token paging has no `LIMIT` (100).
    pub default_page_size: Option<u64>,
}

/// A literal or parameter count.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CountSource {
    /// Written in the query.
    Literal(u64),
    /// An integer request field.
    Param {
        /// The field name.
        field: String,
    },
}

/// Where the offset comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum OffsetSource {
    /// A count.
    Count(CountSource),
    /// `page_token_offset(:field)`: the offset encoded in an opaque token
    /// (empty token: first page).
    PageToken {
        /// The string request field.
        field: String,
    },
}

/// A column a query uses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsedColumn {
    /// The SQL table name.
    pub table: String,
    /// The column.
    pub column: String,
    /// How.
    pub usage: ColumnUsage,
}

/// How a column is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ColumnUsage {
    /// Compared for equality (`=`, `IN`, `= ANY(:p)`).
    Equality,
    /// Compared by range, `LIKE`, `IS NULL` or `!=`.
    Filter,
    /// Searched as an array (`:p = ANY(column)`).
    Contains,
    /// In `ORDER BY`.
    Order,
    /// In a join condition.
    Join,
}

/// An index a query wants.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct IndexHint {
    /// The SQL table name.
    pub table: String,
    /// The columns and whether each is descending.
    pub columns: Vec<(String, bool)>,
    /// An inverted index over an array column (PostgreSQL GIN; SQLite has none).
    pub array: bool,
}

/// A SQL dialect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Dialect {
    /// SQLite (`?N` parameters, JSON arrays).
    Sqlite,
    /// PostgreSQL (`$N::type` parameters, SQL arrays).
    Postgres,
}
