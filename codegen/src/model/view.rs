//! Views: compile every query of a view against its tables at build time,
//! derive the tables' schemas, and attach the compiled plans to the methods.
//!
//! A query that does not parse or type-check is a diagnostic pointing inside
//! the query string in the `.proto` (the string literal is located in the
//! option's text, adjacent literals included, escapes accounted for).
//!
//! A table's SQL name is the view service's name in snake case, two
//! underscores and the table name (`customer_by_name__customers`), so two
//! views may both call a table `customers`.

use heck::ToSnakeCase;
use miette::SourceSpan;
use prost_reflect::{MessageDescriptor, ServiceDescriptor};

use super::Ctx;
use super::component::MethodExtra;
use super::span::{self, Loc};
use super::types::{Method, Table, ViewRole};
use crate::error::{ErrorKind, Problem};
use crate::query::{CompiledQuery, QueryError, ViewTables, compile_query, table_schema};

/// The SQL name of `table` in view service `service`.
pub fn sql_table_name(service: &str, table: &str) -> String {
    format!("{}__{table}", service.to_snake_case())
}

/// Compile the queries of view `service` and store the plans in `methods`.
pub(crate) fn compile(
    ctx: &mut Ctx<'_>,
    service: &ServiceDescriptor,
    methods: &mut [Method],
    extras: &[MethodExtra],
    tables: &[Table],
) {
    // A view without tables was reported already; its queries could only fail.
    if tables.is_empty() {
        return;
    }
    let mut view_tables = ViewTables::new();
    let mut rows: Vec<(String, String, MessageDescriptor)> = Vec::new();
    for table in tables {
        // An unknown row type was reported already.
        let Some(row) = ctx.pool.get_message_by_name(&table.row.full_name) else {
            return;
        };
        let sql_name = sql_table_name(service.name(), &table.name);
        view_tables.insert_as(table.name.clone(), sql_name.clone(), row.clone());
        rows.push((table.name.clone(), sql_name, row));
    }
    // Rows leave a table only through deletes: a value entity's
    // (`handle_deletes`) or a `transform_updates` handler's.
    let rows_can_go = methods.iter().any(|m| {
        matches!(
            m.view,
            Some(ViewRole::Update {
                transform_updates: true,
                ..
            })
        ) || m.subscribe.as_ref().is_some_and(|s| s.handle_deletes)
    });
    let mut compiled: Vec<(usize, CompiledQuery)> = Vec::new();
    for (index, (method, desc)) in methods.iter().zip(service.methods()).enumerate() {
        let Some(ViewRole::Query {
            sql,
            stream_updates,
        }) = &method.view
        else {
            continue;
        };
        let Some(loc) = extras.get(index).and_then(|e| e.query_loc.clone()) else {
            continue;
        };
        if *stream_updates && rows_can_go {
            ctx.warning(
                ErrorKind::InvalidOption,
                &loc.clone().at("stream_updates"),
                "deletes not announced",
                format!(
                    "rpc `{}` streams updates: rows added or changed are sent as they happen, but a row \
                     deleted from the view is not announced on the stream (as in Kalix)",
                    method.name
                ),
                "run the query again to see removals, or subscribe to the source (with `handle_deletes`) where deletes matter",
            );
        }
        let result = compile_query(
            sql,
            &view_tables,
            &desc.input(),
            &desc.output(),
            desc.is_server_streaming(),
        );
        match result {
            Ok(query) => {
                if *stream_updates && let Some(why) = &query.stream_updates_unsupported {
                    let error = QueryError {
                        span: 0..sql.len(),
                        message: format!(
                            "rpc `{}` sets stream_updates, but its query cannot stream updates: {why}",
                            method.name
                        ),
                        help: Some("remove `stream_updates`, or simplify the query".into()),
                    };
                    report(ctx, &loc, sql, &method.name, &error);
                    continue;
                }
                compiled.push((index, query));
            }
            Err(errors) => {
                for error in &errors {
                    report(ctx, &loc, sql, &method.name, error);
                }
            }
        }
    }
    let queries: Vec<&CompiledQuery> = compiled.iter().map(|(_, q)| q).collect();
    for (name, sql_name, row) in &rows {
        let plan = table_schema(sql_name, row, &queries).plan(name);
        let json = serde_json::to_string(&plan).expect("a table plan serializes");
        for method in methods.iter_mut() {
            if matches!(&method.view, Some(ViewRole::Update { table, .. }) if table == name) {
                method.view_plan = Some(json.clone());
            }
        }
    }
    for (index, query) in &compiled {
        let json = serde_json::to_string(query).expect("a compiled query serializes");
        methods[*index].view_plan = Some(json);
    }
}

/// Report a query problem, pointing inside the query string when it can be found.
fn report(ctx: &mut Ctx<'_>, loc: &Loc, sql: &str, method: &str, error: &QueryError) {
    let file = ctx.pool.get_file_by_name(&loc.file);
    let text = ctx.sources.get(&loc.file).cloned();
    let message = format!("invalid query of rpc `{method}`: {}", error.message);
    let help = error
        .help
        .clone()
        .unwrap_or_else(|| "see the view query language reference, docs/query-language.md".into());
    let mut problem = Problem::new(ErrorKind::InvalidQuery, message).with_help(help);
    if let (Some(file), Some(text)) = (file, text) {
        let outer = span::span(&file, loc, &text);
        let inner = outer.and_then(|outer| {
            let map = literal_map(&text, outer.offset(), outer.offset() + outer.len(), sql)?;
            let start = *map.get(error.span.start.min(map.len().saturating_sub(1)))?;
            let last = error.span.end.max(error.span.start + 1).min(map.len()) - 1;
            let end = map.get(last).map_or(start + 1, |e| e + 1).max(start + 1);
            Some(SourceSpan::new(start.into(), end - start))
        });
        if let Some(at) = inner.or(outer) {
            problem = problem.with_label(&loc.file, text.clone(), at, "here");
        }
    }
    ctx.problems.push(problem);
}

/// The source offset of every byte of the query, found as the string literal
/// (or adjacent literals) after `sql`/`query` and `:` or `=` within
/// `text[from..to]` whose decoded value is `sql`.
fn literal_map(text: &str, from: usize, to: usize, sql: &str) -> Option<Vec<usize>> {
    let bytes = text.as_bytes();
    let to = to.min(bytes.len());
    let mut at = from;
    while at < to {
        let key = ["sql", "query"]
            .iter()
            .find(|k| text[at..].starts_with(*k))
            .map(|k| k.len());
        if let Some(len) = key {
            let mut i = skip_space(bytes, at + len);
            if i < bytes.len() && (bytes[i] == b':' || bytes[i] == b'=') {
                i = skip_space(bytes, i + 1);
                if let Some(map) = decode_literals(bytes, i)
                    && map.0 == sql.as_bytes()
                {
                    return Some(map.1);
                }
            }
        }
        at += 1;
    }
    None
}

fn skip_space(bytes: &[u8], mut i: usize) -> usize {
    while i < bytes.len() && bytes[i].is_ascii_whitespace() {
        i += 1;
    }
    i
}

/// Decode adjacent string literals starting at `i`: the bytes and the source
/// offset of each.
fn decode_literals(bytes: &[u8], mut i: usize) -> Option<(Vec<u8>, Vec<usize>)> {
    let mut out = Vec::new();
    let mut offsets = Vec::new();
    let mut any = false;
    while i < bytes.len() && (bytes[i] == b'"' || bytes[i] == b'\'') {
        any = true;
        let quote = bytes[i];
        i += 1;
        while i < bytes.len() && bytes[i] != quote {
            let start = i;
            let byte = if bytes[i] == b'\\' {
                i += 1;
                match bytes.get(i)? {
                    b'n' => b'\n',
                    b't' => b'\t',
                    b'r' => b'\r',
                    other => *other,
                }
            } else {
                bytes[i]
            };
            out.push(byte);
            offsets.push(start);
            i += 1;
        }
        i = skip_space(bytes, i + 1);
    }
    any.then_some((out, offsets))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_map_back_to_their_source_bytes() {
        let text = r#"query = { sql: "SELECT *"
            " FROM t\"x" }"#;
        let map = literal_map(text, 0, text.len(), "SELECT * FROM t\"x").unwrap();
        assert_eq!(&text[map[0]..map[0] + 6], "SELECT");
        assert_eq!(&text[map[9]..map[9] + 4], "FROM");
        assert_eq!(text.as_bytes()[map[15]], b'\\');
        assert!(literal_map(text, 0, text.len(), "other").is_none());
    }

    #[test]
    fn table_names_are_prefixed_by_the_view() {
        assert_eq!(
            sql_table_name("CustomerByName", "customers"),
            "customer_by_name__customers"
        );
    }
}
