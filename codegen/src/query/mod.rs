//! View queries: parse, type-check and compile to SQL at build time, and
//! derive the table schemas the queries need.
//!
//! The pipeline:
//! 1. `lexer`, `parser` and `parse_expr` turn the text into an `ast` with byte spans;
//! 2. `check` resolves tables, columns (through [`types`]) and request
//!    parameters, type-checks every predicate (`filter`) and projection
//!    (`project`), and produces the parts of a [`CompiledQuery`];
//! 3. `sql` writes the statements for SQLite and PostgreSQL;
//! 4. [`schema`] derives each table's columns and indexes from its row message
//!    and the compiled queries, and computes a row's column values;
//!    [`bind`] computes parameter values from a request.
//!
//! Everything works on `prost_reflect` descriptors only.

mod ast;
mod check;
mod filter;
mod lexer;
mod parse_expr;
mod parser;
mod project;
mod resolve;
pub mod schema;
mod sql;

use std::collections::BTreeMap;
use std::ops::Range;

use prost_reflect::MessageDescriptor;

// What a compiled query is, column values and parameter binding are shared
// with the runtime through `plinth-view-plan`.
pub(crate) use plinth_view_plan::compiled;
pub use plinth_view_plan::compiled::*;
pub use plinth_view_plan::{
    BindError, Column, DEFAULT_PAGE_SIZE, MAX_RESULTS, SchemaSql, SqlType, SqlValue, TablePlan,
    ValueType, Window, bind, bind_params, like_to_glob, types,
};
pub use schema::{TableSchema, row_values, table_schema};

/// The tables of one view: the name used in queries → the row message.
#[derive(Debug, Clone, Default)]
pub struct ViewTables {
    tables: BTreeMap<String, ViewTable>,
}

/// One table of a view.
#[derive(Debug, Clone, PartialEq)]
pub struct ViewTable {
    /// The SQL table name.
    pub sql_name: String,
    /// The row message.
    pub row: MessageDescriptor,
}

impl ViewTables {
    /// No tables.
    pub fn new() -> Self {
        Self::default()
    }

    /// Add a table whose SQL name is its query name.
    pub fn insert(&mut self, name: impl Into<String>, row: MessageDescriptor) {
        let name = name.into();
        self.insert_as(name.clone(), name, row);
    }

    /// Add a table stored under another SQL name (for instance prefixed by its view).
    pub fn insert_as(
        &mut self,
        name: impl Into<String>,
        sql_name: impl Into<String>,
        row: MessageDescriptor,
    ) {
        self.tables.insert(
            name.into(),
            ViewTable {
                sql_name: sql_name.into(),
                row,
            },
        );
    }

    /// The table called `name` in queries.
    pub fn get(&self, name: &str) -> Option<&ViewTable> {
        self.tables.get(name)
    }

    /// The query names of the tables.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.tables.keys().map(String::as_str)
    }
}

/// A problem in a query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryError {
    /// The byte range inside the query text.
    pub span: Range<usize>,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub help: Option<String>,
}

impl QueryError {
    pub(crate) fn new(
        span: Range<usize>,
        message: impl Into<String>,
        help: Option<impl Into<String>>,
    ) -> Self {
        Self {
            span,
            message: message.into(),
            help: help.map(Into::into),
        }
    }
}

impl std::fmt::Display for QueryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} (bytes {}..{})",
            self.message, self.span.start, self.span.end
        )?;
        if let Some(help) = &self.help {
            write!(f, "; help: {help}")?;
        }
        Ok(())
    }
}

impl std::error::Error for QueryError {}

/// Parse, type-check and compile `sql`, a query over `tables` answering a
/// method with input `request` and output `response` (`streaming`: the
/// method returns a stream). All problems found are returned, each with its
/// span in `sql`.
pub fn compile_query(
    sql: &str,
    tables: &ViewTables,
    request: &MessageDescriptor,
    response: &MessageDescriptor,
    streaming: bool,
) -> Result<CompiledQuery, Vec<QueryError>> {
    let ast = parser::parse(sql).map_err(|e| vec![e])?;
    check::check(sql, &ast, tables, request, response, streaming)
}
