//! Checks a parsed query against the view's tables and the method's
//! messages, and assembles the [`CompiledQuery`].

use std::ops::Range;

use prost_reflect::{Kind, MessageDescriptor};

use super::ast::{CmpOp, Count, Func, Offset, Query};
use super::compiled::*;
use super::filter::{Cond, FilterCx, Params, Val};
use super::project::{ProjectCx, field_type};
use super::resolve::{ColRef, Scope, ScopeTable};
use super::sql::{Plan, PlanJoin, column, emit, ident};
use super::types::SqlType;
use super::{DEFAULT_PAGE_SIZE, QueryError, ViewTables};

fn err(span: &Range<usize>, message: impl Into<String>, help: Option<&str>) -> QueryError {
    QueryError::new(span.clone(), message, help)
}

/// Check `q` and compile it.
pub(crate) fn check(
    sql: &str,
    q: &Query,
    tables: &ViewTables,
    request: &MessageDescriptor,
    response: &MessageDescriptor,
    streaming: bool,
) -> Result<CompiledQuery, Vec<QueryError>> {
    let mut errors = Vec::new();
    let mut scope_tables: Vec<ScopeTable> = Vec::new();
    for name in std::iter::once(&q.from).chain(q.joins.iter().map(|j| &j.table)) {
        if scope_tables.iter().any(|t| t.name == name.text) {
            errors.push(err(
                &name.span,
                format!("table `{}` is used twice", name.text),
                Some("each table can appear once in a query"),
            ));
            continue;
        }
        match tables.get(&name.text) {
            Some(t) => scope_tables.push(ScopeTable {
                name: name.text.clone(),
                sql_name: t.sql_name.clone(),
                row: t.row.clone(),
            }),
            None => {
                let known: Vec<String> = tables.names().map(|n| format!("`{n}`")).collect();
                let help = if known.is_empty() {
                    "this view has no tables: add an update method with `(plinth.method).update = { table: \"...\" }`".to_string()
                } else {
                    format!("tables of this view: {}", known.join(", "))
                };
                errors.push(err(
                    &name.span,
                    format!("unknown table `{}`", name.text),
                    Some(&help),
                ));
            }
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let scope = Scope {
        tables: scope_tables,
        request: request.clone(),
    };
    let mut used: Vec<(ColRef, ColumnUsage)> = Vec::new();

    let mut joins = Vec::new();
    for (i, j) in q.joins.iter().enumerate() {
        let (l, r) = (
            scope.resolve_column(&j.left),
            scope.resolve_column(&j.right),
        );
        let (l, r) = match (l, r) {
            (Ok(l), Ok(r)) => (l, r),
            (l, r) => {
                errors.extend(l.err().into_iter().chain(r.err()));
                continue;
            }
        };
        let span = j.left.span.start..j.right.span.end;
        let joined = i + 1;
        if l.column.repeated
            || r.column.repeated
            || !l.column.value_type.comparable(&r.column.value_type)
        {
            errors.push(err(
                &span,
                format!(
                    "cannot join {} `{}` with {} `{}`",
                    field_type(l.column.fields.last().expect("field")),
                    j.left
                        .segments
                        .iter()
                        .map(|s| s.text.as_str())
                        .collect::<Vec<_>>()
                        .join("."),
                    field_type(r.column.fields.last().expect("field")),
                    j.right
                        .segments
                        .iter()
                        .map(|s| s.text.as_str())
                        .collect::<Vec<_>>()
                        .join(".")
                ),
                None,
            ));
            continue;
        }
        let ok = (l.table == joined && r.table < joined) || (r.table == joined && l.table < joined);
        if !ok {
            errors.push(err(
                &span,
                format!(
                    "the condition must relate `{}` to a table before it",
                    j.table.text
                ),
                Some("write `JOIN t2 ON t2.column = t1.column`"),
            ));
            continue;
        }
        let mine = if l.table == joined {
            l.clone()
        } else {
            r.clone()
        };
        used.push((mine, ColumnUsage::Join));
        joins.push(PlanJoin {
            kind: j.kind,
            table: joined,
            left: l,
            right: r,
        });
    }

    let mut params = Params::default();
    let cond = q.filter.as_ref().and_then(|e| {
        FilterCx {
            scope: &scope,
            params: &mut params,
            errors: &mut errors,
            used: &mut used,
        }
        .expr(e)
    });
    let filter_params = params.0.len();

    let mut pcx = ProjectCx {
        scope: &scope,
        errors: &mut errors,
        funcs: Vec::new(),
        rows: None,
        row_data: false,
    };
    let projection = pcx.items(&q.select, response, true);
    let (funcs, rows_span, row_data) = (pcx.funcs, pcx.rows, pcx.row_data);

    let mut order = Vec::new();
    for o in &q.order_by {
        match scope.resolve_column(&o.path) {
            Ok(c) if c.column.repeated => errors.push(err(
                &o.path.span,
                format!("cannot order by repeated `{}`", c.column.path.join(".")),
                None,
            )),
            Ok(c) => {
                used.push((c.clone(), ColumnUsage::Order));
                order.push((c, o.desc));
            }
            Err(e) => errors.push(e),
        }
    }

    let paging = paging(&scope, q, &mut errors);
    let has = |f: Func| funcs.iter().find(|(g, _)| *g == f).map(|(_, s)| s.clone());
    let shape = if streaming {
        if let Some(span) = &rows_span {
            errors.push(err(span, "`* AS field` collects all rows into one response, but the method streams", Some("select `*` to stream one row per response, or make the method unary with a `repeated` field")));
        }
        for (f, span) in &funcs {
            errors.push(err(
                span,
                format!("{} needs a unary method", func_name(*f)),
                Some("return a message with a repeated field filled by `* AS field`"),
            ));
        }
        ResultShape::Stream
    } else if rows_span.is_some() {
        ResultShape::Collected
    } else if row_data {
        ResultShape::Single
    } else if has(Func::Count).is_some() {
        ResultShape::Aggregate
    } else {
        let span = q
            .select
            .first()
            .map_or(0..0, |_| 0..q.from.span.start.saturating_sub(1));
        errors.push(err(
            &span,
            "the query selects nothing from its tables",
            Some("select `*`, `* AS field` or columns"),
        ));
        ResultShape::Aggregate
    };
    if !streaming && shape != ResultShape::Collected {
        for f in [Func::NextPageToken, Func::HasMore] {
            if let Some(span) = has(f) {
                errors.push(err(
                    &span,
                    format!(
                        "{} needs the rows collected with `* AS field`",
                        func_name(f)
                    ),
                    None,
                ));
            }
        }
    }
    let token = matches!(paging.offset, Some(OffsetSource::PageToken { .. }));
    if let Some(span) = has(Func::NextPageToken).filter(|_| !token) {
        errors.push(err(
            &span,
            "next_page_token() needs `OFFSET page_token_offset(:token)`",
            Some("add `OFFSET page_token_offset(:page_token)` with a string request field"),
        ));
    }
    if let Some(Offset::PageToken(name)) = &q.offset
        && has(Func::NextPageToken).is_none()
        && !streaming
    {
        errors.push(err(
            &name.span,
            "page_token_offset() needs `next_page_token() AS field` in the projection",
            Some("the next page's token is returned by next_page_token()"),
        ));
    }
    if let Some(span) = has(Func::HasMore).filter(|_| paging.limit.is_none() && !token) {
        errors.push(err(&span, "has_more() needs LIMIT or token paging", None));
    }
    if !errors.is_empty() {
        return Err(errors);
    }

    let returns_rows = shape != ResultShape::Aggregate;
    let paging_params = returns_rows.then(|| {
        (
            params.add(ParamSource::Limit, SqlType::Integer, false),
            params.add(ParamSource::Offset, SqlType::Integer, false),
        )
    });
    let stream_updates_unsupported = if !streaming {
        Some("stream_updates needs a method that returns a stream".to_string())
    } else if !joins.is_empty() {
        Some("stream_updates is not supported for queries with JOIN".to_string())
    } else if paging.limit.is_some() || paging.offset.is_some() {
        Some("stream_updates is not supported with LIMIT or OFFSET".to_string())
    } else {
        None
    };

    let tie_desc = order.last().is_some_and(|(_, d)| *d);
    let mut order_sql: Vec<(String, bool)> =
        order.iter().map(|(c, d)| (column(&scope, c), *d)).collect();
    order_sql.extend(
        scope
            .tables
            .iter()
            .map(|t| (format!("{}.\"_key\"", ident(&t.sql_name)), tie_desc)),
    );
    let plan = Plan {
        scope: &scope,
        joins: &joins,
        cond: cond.as_ref(),
        order: order_sql,
        params: &params.0,
        paging: paging_params,
        count: has(Func::Count).is_some(),
        live: stream_updates_unsupported.is_none(),
        filter_params,
    };
    let (sqlite, postgres) = (emit(&plan, Dialect::Sqlite), emit(&plan, Dialect::Postgres));
    let indexes = index_hints(&scope, &joins, cond.as_ref(), &order);
    Ok(CompiledQuery {
        query: sql.to_string(),
        tables: scope
            .tables
            .iter()
            .map(|t| QueryTable {
                name: t.name.clone(),
                sql_name: t.sql_name.clone(),
                row_type: t.row.full_name().to_string(),
            })
            .collect(),
        sqlite,
        postgres,
        params: params.0,
        filter_params,
        shape,
        projection,
        paging,
        stream_updates_unsupported,
        used_columns: used
            .into_iter()
            .map(|(c, usage)| UsedColumn {
                table: scope.tables[c.table].sql_name.clone(),
                column: c.column.name,
                usage,
            })
            .collect(),
        indexes,
    })
}

fn func_name(f: Func) -> &'static str {
    match f {
        Func::NextPageToken => "next_page_token()",
        Func::HasMore => "has_more()",
        Func::Count => "COUNT(*)",
    }
}

/// The paging clauses, with their parameters checked.
fn paging(scope: &Scope, q: &Query, errors: &mut Vec<QueryError>) -> Paging {
    let mut count = |c: &Count, clause: &str| -> Option<CountSource> {
        match c {
            Count::Literal(n, _) => Some(CountSource::Literal(*n)),
            Count::Param(name) => {
                let f = scope
                    .param(&name.text, name.span.clone())
                    .map_err(|e| errors.push(e))
                    .ok()?;
                let int = matches!(
                    f.kind(),
                    Kind::Int32
                        | Kind::Int64
                        | Kind::Uint32
                        | Kind::Uint64
                        | Kind::Sint32
                        | Kind::Sint64
                        | Kind::Fixed32
                        | Kind::Fixed64
                        | Kind::Sfixed32
                        | Kind::Sfixed64
                );
                if !int || f.is_list() {
                    errors.push(err(
                        &name.span,
                        format!(
                            "{clause} parameter `:{}` must be an integer, but it is {}",
                            name.text,
                            field_type(&f)
                        ),
                        None,
                    ));
                    return None;
                }
                Some(CountSource::Param {
                    field: name.text.clone(),
                })
            }
        }
    };
    let limit = q.limit.as_ref().and_then(|c| count(c, "LIMIT"));
    let offset = match &q.offset {
        None => None,
        Some(Offset::Count(c)) => count(c, "OFFSET").map(OffsetSource::Count),
        Some(Offset::PageToken(name)) => match scope.param(&name.text, name.span.clone()) {
            Ok(f) if f.kind() == Kind::String && !f.is_list() => Some(OffsetSource::PageToken {
                field: name.text.clone(),
            }),
            Ok(f) => {
                errors.push(err(
                    &name.span,
                    format!(
                        "the page token `:{}` must be a string, but it is {}",
                        name.text,
                        field_type(&f)
                    ),
                    None,
                ));
                None
            }
            Err(e) => {
                errors.push(e);
                None
            }
        },
    };
    let default_page_size = (limit.is_none()
        && matches!(offset, Some(OffsetSource::PageToken { .. })))
    .then_some(DEFAULT_PAGE_SIZE);
    Paging {
        limit,
        offset,
        default_page_size,
    }
}

/// The indexes serving the query: per table, the columns compared for
/// equality in top-level conjuncts, then the `ORDER BY` columns (or one
/// range-compared column), then the key; joined tables lead with their join
/// column. Array containment gets an inverted index.
fn index_hints(
    scope: &Scope,
    joins: &[PlanJoin],
    cond: Option<&Cond>,
    order: &[(ColRef, bool)],
) -> Vec<IndexHint> {
    let conjuncts: Vec<&Cond> = match cond {
        Some(Cond::And(parts)) => parts.iter().collect(),
        Some(c) => vec![c],
        None => vec![],
    };
    let single_col = |lhs: &Val, rhs: &Val| match (lhs, rhs) {
        (Val::Col(c), Val::Col(_)) => (c.table, None),
        (Val::Col(c), _) | (_, Val::Col(c)) => (c.table, Some(c.column.name.clone())),
        _ => (usize::MAX, None),
    };
    let mut hints = Vec::new();
    for t in 0..scope.tables.len() {
        let mut cols: Vec<(String, bool)> = Vec::new();
        let push = |cols: &mut Vec<(String, bool)>, name: String, desc: bool| {
            if !cols.iter().any(|(c, _)| *c == name) {
                cols.push((name, desc));
            }
        };
        if let Some(j) = joins.iter().find(|j| j.table == t) {
            let mine = if j.left.table == t { &j.left } else { &j.right };
            push(&mut cols, mine.column.name.clone(), false);
        }
        let mut range = None;
        for c in &conjuncts {
            match c {
                Cond::Cmp { lhs, op, rhs } => match single_col(lhs, rhs) {
                    (tt, Some(name)) if tt == t && *op == CmpOp::Eq => push(&mut cols, name, false),
                    (tt, Some(name)) if tt == t && *op != CmpOp::Ne => {
                        range.get_or_insert(name);
                    }
                    _ => {}
                },
                Cond::In {
                    lhs: Val::Col(c),
                    negated: false,
                    ..
                }
                | Cond::InArray {
                    lhs: Val::Col(c), ..
                } if c.table == t => push(&mut cols, c.column.name.clone(), false),
                Cond::Like {
                    col,
                    negated: false,
                    ..
                } if col.table == t => {
                    range.get_or_insert(col.column.name.clone());
                }
                Cond::Contains { array, .. } if array.table == t => hints.push(IndexHint {
                    table: scope.tables[t].sql_name.clone(),
                    columns: vec![(array.column.name.clone(), false)],
                    array: true,
                }),
                _ => {}
            }
        }
        let ordered = !order.is_empty() && order.iter().all(|(c, _)| c.table == t);
        if ordered {
            let flip = order.iter().all(|(_, d)| *d);
            for (c, d) in order {
                push(&mut cols, c.column.name.clone(), *d != flip);
            }
        } else if let Some(r) = range {
            push(&mut cols, r, false);
        }
        if !cols.is_empty() {
            let tie =
                ordered && order.last().is_some_and(|(_, d)| *d) != order.iter().all(|(_, d)| *d);
            push(&mut cols, "_key".into(), tie);
            hints.push(IndexHint {
                table: scope.tables[t].sql_name.clone(),
                columns: cols,
                array: false,
            });
        }
    }
    hints.sort();
    hints.dedup();
    hints
}
