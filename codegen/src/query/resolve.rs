//! Name resolution: the tables in scope, column paths and request parameters.

use prost_reflect::{FieldDescriptor, Kind, MessageDescriptor};

use super::QueryError;
use super::ast::{Name, Path};
use super::types::{Column, NoColumn, column_of};

/// A table of the query.
#[derive(Debug, Clone)]
pub(crate) struct ScopeTable {
    /// The name in the query.
    pub name: String,
    /// The SQL name.
    pub sql_name: String,
    /// The row message.
    pub row: MessageDescriptor,
}

/// The tables of a query and the request message.
#[derive(Debug)]
pub(crate) struct Scope {
    /// `FROM` then the joins.
    pub tables: Vec<ScopeTable>,
    /// The request message.
    pub request: MessageDescriptor,
}

/// A resolved field path in a table's row.
#[derive(Debug, Clone)]
pub(crate) struct FieldPath {
    /// The table index.
    pub table: usize,
    /// The fields from the row message.
    pub fields: Vec<FieldDescriptor>,
}

/// A resolved column.
#[derive(Debug, Clone)]
pub(crate) struct ColRef {
    /// The table index.
    pub table: usize,
    /// The column.
    pub column: Column,
}

/// `a, b, c` of the field names of `msg`.
pub(crate) fn field_list(msg: &MessageDescriptor) -> String {
    msg.fields()
        .map(|f| f.name().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

impl Scope {
    /// The table named `name` in this query, if any.
    pub fn table_index(&self, name: &str) -> Option<usize> {
        self.tables.iter().position(|t| t.name == name)
    }

    /// Resolve `[table.]field(.field)*`.
    pub fn resolve_path(&self, path: &Path) -> Result<FieldPath, QueryError> {
        let segs = &path.segments;
        let (table, rest) = match self.table_index(&segs[0].text) {
            Some(t) if segs.len() > 1 => (t, &segs[1..]),
            _ => {
                let first = &segs[0];
                let having: Vec<usize> = (0..self.tables.len())
                    .filter(|&t| self.tables[t].row.get_field_by_name(&first.text).is_some())
                    .collect();
                match having.as_slice() {
                    [t] => (*t, &segs[..]),
                    [] => return Err(self.unknown_first(first)),
                    many => {
                        let names: Vec<String> = many
                            .iter()
                            .map(|&t| format!("`{}.{}`", self.tables[t].name, first.text))
                            .collect();
                        return Err(QueryError::new(
                            first.span.clone(),
                            format!(
                                "column `{}` is ambiguous: several tables have it",
                                first.text
                            ),
                            Some(format!("qualify it: {}", names.join(" or "))),
                        ));
                    }
                }
            }
        };
        let mut msg = self.tables[table].row.clone();
        let mut fields: Vec<FieldDescriptor> = Vec::new();
        for seg in rest {
            if let Some(prev) = fields.last() {
                match prev.kind() {
                    Kind::Message(m) if !prev.is_list() && !prev.is_map() => msg = m,
                    _ => {
                        return Err(QueryError::new(
                            seg.span.clone(),
                            format!(
                                "`{}` is not a message, it has no field `{}`",
                                prev.name(),
                                seg.text
                            ),
                            None::<&str>,
                        ));
                    }
                }
            }
            let Some(field) = msg.get_field_by_name(&seg.text) else {
                return Err(QueryError::new(
                    seg.span.clone(),
                    format!("`{}` has no field `{}`", msg.full_name(), seg.text),
                    Some(format!(
                        "fields of `{}`: {}",
                        msg.full_name(),
                        field_list(&msg)
                    )),
                ));
            };
            fields.push(field);
        }
        if fields.is_empty() {
            return Err(QueryError::new(
                path.span.clone(),
                format!("`{}` is a table, not a column", segs[0].text),
                Some(format!("write `{}.*` or name a field", segs[0].text)),
            ));
        }
        Ok(FieldPath { table, fields })
    }

    fn unknown_first(&self, first: &Name) -> QueryError {
        let help = match self.tables.as_slice() {
            [t] => format!(
                "fields of table `{}` ({}): {}",
                t.name,
                t.row.full_name(),
                field_list(&t.row)
            ),
            ts => format!(
                "none of the tables {} has it; qualify columns as `table.field`",
                ts.iter()
                    .map(|t| format!("`{}`", t.name))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        QueryError::new(
            first.span.clone(),
            format!("unknown column `{}`", first.text),
            Some(help),
        )
    }

    /// Resolve a path that must be a column (for filters, ordering and joins).
    pub fn resolve_column(&self, path: &Path) -> Result<ColRef, QueryError> {
        let fp = self.resolve_path(path)?;
        let shown = fp
            .fields
            .iter()
            .map(|f| f.name())
            .collect::<Vec<_>>()
            .join(".");
        column_of(&fp.fields).map(|column| ColRef { table: fp.table, column }).map_err(|why| {
            let (message, help) = match why {
                NoColumn::Message(m) => (
                    format!("`{shown}` is a message ({m}), not a comparable value"),
                    Some("compare one of its fields, e.g. `address.city`".to_string()),
                ),
                NoColumn::Unqueryable => (
                    format!("`{shown}` cannot be queried (maps, repeated messages and repeated bytes are stored only in the row)"),
                    None,
                ),
                NoColumn::TooDeep => (
                    format!("`{shown}` is nested too deeply to be queried"),
                    Some(format!("columns exist for paths of at most {} fields", super::types::MAX_DEPTH)),
                ),
            };
            QueryError::new(path.span.clone(), message, help)
        })
    }

    /// The request field of `:name`.
    pub fn param(
        &self,
        name: &str,
        span: std::ops::Range<usize>,
    ) -> Result<FieldDescriptor, QueryError> {
        self.request.get_field_by_name(name).ok_or_else(|| {
            QueryError::new(
                span,
                format!(
                    "unknown parameter `:{name}`: `{}` has no such field",
                    self.request.full_name()
                ),
                Some(format!(
                    "fields of `{}`: {}",
                    self.request.full_name(),
                    field_list(&self.request)
                )),
            )
        })
    }
}
