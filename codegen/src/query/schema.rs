//! Table schemas: columns from the row message (see [`super::types`]),
//! indexes from the queries, DDL and write statements per dialect, and a row's
//! column values.
//!
//! Every table has `_key` (the source entity id, primary key) and `_row` (the
//! row's protobuf bytes, decoded to answer queries), then one column per
//! [`Column`]. SQLite has no index over JSON arrays; PostgreSQL indexes array
//! columns searched with `ANY` with GIN.

use prost_reflect::{DynamicMessage, MessageDescriptor};

use plinth_view_plan::{ColumnPlan, SchemaSql, TablePlan};

use super::compiled::{CompiledQuery, Dialect, IndexHint};
use super::sql::ident;
use super::types::{Column, SqlValue, columns};

/// The schema of one view table.
#[derive(Debug, Clone, PartialEq)]
pub struct TableSchema {
    /// The SQL table name.
    pub table: String,
    /// The row message's full name.
    pub row_type: String,
    /// The columns after `_key` and `_row`, in order.
    pub columns: Vec<Column>,
    /// The indexes.
    pub indexes: Vec<IndexHint>,
    /// SQLite statements.
    pub sqlite: SchemaSql,
    /// PostgreSQL statements.
    pub postgres: SchemaSql,
}

/// The schema of `table` (its SQL name) with rows of type `row`, indexed for
/// the `queries` (queries over other tables are ignored).
pub fn table_schema(
    table: &str,
    row: &MessageDescriptor,
    queries: &[&CompiledQuery],
) -> TableSchema {
    let columns = columns(row);
    let mut hints: Vec<IndexHint> = queries
        .iter()
        .flat_map(|q| q.indexes.iter())
        .filter(|h| h.table == table)
        .cloned()
        .collect();
    hints.sort();
    hints.dedup();
    // An index whose columns (before the trailing key) lead another one is redundant.
    let lead = |h: &IndexHint| -> usize {
        h.columns.len() - usize::from(h.columns.last().is_some_and(|(c, _)| c == "_key"))
    };
    let indexes: Vec<IndexHint> = hints
        .iter()
        .filter(|h| {
            h.array
                || !hints.iter().any(|o| {
                    let n = lead(h);
                    !o.array && *o != **h && lead(o) > n && o.columns[..n] == h.columns[..n]
                })
        })
        .cloned()
        .collect();
    let sqlite = statements(table, &columns, &indexes, Dialect::Sqlite);
    let postgres = statements(table, &columns, &indexes, Dialect::Postgres);
    TableSchema {
        table: table.to_string(),
        row_type: row.full_name().to_string(),
        columns,
        indexes,
        sqlite,
        postgres,
    }
}

fn index_name(table: &str, hint: &IndexHint) -> String {
    let cols: Vec<&str> = hint
        .columns
        .iter()
        .filter(|(c, _)| c != "_key")
        .map(|(c, _)| c.as_str())
        .collect();
    let name = format!(
        "{table}__by__{}{}",
        cols.join("__"),
        if hint.array { "__gin" } else { "" }
    );
    if name.len() <= 63 {
        return name;
    }
    // PostgreSQL truncates identifiers at 63 bytes: keep a prefix and a hash.
    let hash = name.bytes().fold(0xcbf29ce484222325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100000001b3)
    });
    let mut cut = 46;
    while !name.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}_{hash:016x}", &name[..cut])
}

fn statements(
    table: &str,
    columns: &[Column],
    indexes: &[IndexHint],
    dialect: Dialect,
) -> SchemaSql {
    let pg = dialect == Dialect::Postgres;
    let t = ident(table);
    let mut defs = vec![
        "\"_key\" TEXT NOT NULL PRIMARY KEY".to_string(),
        format!("\"_row\" {} NOT NULL", if pg { "BYTEA" } else { "BLOB" }),
    ];
    for c in columns {
        let st = c.value_type.sql_type();
        let ty = match (pg, c.repeated) {
            (true, true) => format!("{}[]", st.postgres()),
            (true, false) => st.postgres().to_string(),
            (false, true) => "TEXT".to_string(),
            (false, false) => st.sqlite().to_string(),
        };
        defs.push(format!(
            "{} {ty}{}",
            ident(&c.name),
            if c.nullable { "" } else { " NOT NULL" }
        ));
    }
    let create_table = format!(
        "CREATE TABLE IF NOT EXISTS {t} (\n  {}\n)",
        defs.join(",\n  ")
    );
    let create_indexes = indexes
        .iter()
        .filter(|h| pg || !h.array)
        .map(|h| {
            let cols: Vec<String> = h
                .columns
                .iter()
                .map(|(c, desc)| format!("{}{}", ident(c), if *desc { " DESC" } else { "" }))
                .collect();
            let using = if h.array { " USING GIN" } else { "" };
            format!(
                "CREATE INDEX IF NOT EXISTS {} ON {t}{using} ({})",
                ident(&index_name(table, h)),
                cols.join(", ")
            )
        })
        .collect();
    let names: Vec<String> = ["_key", "_row"]
        .into_iter()
        .map(ident)
        .chain(columns.iter().map(|c| ident(&c.name)))
        .collect();
    let placeholders: Vec<String> = (1..=names.len())
        .map(|i| if pg { format!("${i}") } else { format!("?{i}") })
        .collect();
    let updates: Vec<String> = names[1..]
        .iter()
        .map(|n| format!("{n} = excluded.{n}"))
        .collect();
    let upsert = format!(
        "INSERT INTO {t} ({}) VALUES ({}) ON CONFLICT (\"_key\") DO UPDATE SET {}",
        names.join(", "),
        placeholders.join(", "),
        updates.join(", ")
    );
    let key = if pg { "$1" } else { "?1" };
    let delete = format!("DELETE FROM {t} WHERE \"_key\" = {key}");
    let select_row = format!("SELECT \"_row\" FROM {t} WHERE \"_key\" = {key}");
    SchemaSql {
        create_table,
        create_indexes,
        upsert,
        delete,
        select_row,
    }
}

/// The values of `schema`'s columns for `row`, in column order (bind them
/// after `_key` and `_row` in [`SchemaSql::upsert`]; arrays bind as JSON
/// text in SQLite, see [`SqlValue::json_array_text`]).
pub fn row_values(row: &DynamicMessage, schema: &TableSchema) -> Vec<SqlValue> {
    plinth_view_plan::row_values(row, &schema.columns)
}

impl TableSchema {
    /// The plan the runtime needs for this table, called `name` in queries.
    pub fn plan(&self, name: &str) -> TablePlan {
        TablePlan {
            name: name.to_string(),
            table: self.table.clone(),
            row_type: self.row_type.clone(),
            columns: self
                .columns
                .iter()
                .map(|c| ColumnPlan {
                    name: c.name.clone(),
                    path: c.path.clone(),
                })
                .collect(),
            sqlite: self.sqlite.clone(),
            postgres: self.postgres.clone(),
        }
    }
}
