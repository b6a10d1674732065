//! Type checking of the projection: every selected item must land in a field
//! of the response message with the same type.
//!
//! `*` fills every response field not named by another item from the first
//! table (in `FROM`/`JOIN` order) that has a field of that name; a response
//! field no table has is an error. `table.*` fills the response fields that
//! table has. Field types must match exactly (same scalar kind, same enum or
//! message type, same cardinality).

use std::ops::Range;

use prost_reflect::{FieldDescriptor, Kind, MessageDescriptor};

use super::QueryError;
use super::ast::{Func, SelectItem};
use super::compiled::{FieldMapping, FieldSource, Projection};
use super::resolve::{Scope, field_list};

/// The checking context and what it found.
pub(crate) struct ProjectCx<'a> {
    pub scope: &'a Scope,
    pub errors: &'a mut Vec<QueryError>,
    /// The paging/aggregate functions used, with spans.
    pub funcs: Vec<(Func, Range<usize>)>,
    /// The span of `* AS field`, if used.
    pub rows: Option<Range<usize>>,
    /// Whether any response value comes from table rows.
    pub row_data: bool,
}

/// `int32`, `repeated customer.Address`, ...
pub(crate) fn field_type(f: &FieldDescriptor) -> String {
    let kind = match f.kind() {
        Kind::Message(m) => m.full_name().to_string(),
        Kind::Enum(e) => e.full_name().to_string(),
        k => format!("{k:?}").to_ascii_lowercase(),
    };
    if f.is_map() {
        format!("map {kind}")
    } else if f.is_list() {
        format!("repeated {kind}")
    } else {
        kind
    }
}

fn same_type(a: &FieldDescriptor, b: &FieldDescriptor) -> bool {
    a.is_list() == b.is_list() && a.is_map() == b.is_map() && field_type(a) == field_type(b)
}

impl ProjectCx<'_> {
    fn error(&mut self, span: &Range<usize>, message: String, help: Option<String>) {
        self.errors
            .push(QueryError::new(span.clone(), message, help));
    }

    fn target(
        &mut self,
        msg: &MessageDescriptor,
        name: &str,
        span: &Range<usize>,
    ) -> Option<FieldDescriptor> {
        let f = msg.get_field_by_name(name);
        if f.is_none() {
            self.error(
                span,
                format!("the response `{}` has no field `{name}`", msg.full_name()),
                Some(format!(
                    "fields of `{}`: {}; rename the item with `AS field`",
                    msg.full_name(),
                    field_list(msg)
                )),
            );
        }
        f
    }

    fn check_same(
        &mut self,
        src: &FieldDescriptor,
        dst: &FieldDescriptor,
        what: &str,
        span: &Range<usize>,
    ) -> bool {
        let ok = same_type(src, dst);
        if !ok {
            self.error(
                span,
                format!(
                    "type mismatch: {what} is {} but response field `{}` is {}",
                    field_type(src),
                    dst.name(),
                    field_type(dst)
                ),
                None,
            );
        }
        ok
    }

    /// Check `items` building `target`; `top`: the response message itself.
    pub fn items(
        &mut self,
        items: &[SelectItem],
        target: &MessageDescriptor,
        top: bool,
    ) -> Projection {
        let mut out: Vec<FieldMapping> = Vec::new();
        let mut deferred = Vec::new();
        for item in items {
            let mapped = match item {
                SelectItem::Star { alias: None, .. } | SelectItem::TableStar { .. } => {
                    deferred.push(item);
                    continue;
                }
                SelectItem::Star {
                    span,
                    alias: Some(alias),
                } => self.rows_item(span, alias, target, top),
                SelectItem::Column { path, alias } => {
                    let fp = match self.scope.resolve_path(path) {
                        Ok(fp) => fp,
                        Err(e) => {
                            self.errors.push(e);
                            continue;
                        }
                    };
                    let (name, span) = match alias {
                        Some(a) => (a.text.as_str(), &a.span),
                        None => (
                            path.segments.last().map_or("", |s| s.text.as_str()),
                            &path.span,
                        ),
                    };
                    let src = fp
                        .fields
                        .last()
                        .expect("a resolved path has a field")
                        .clone();
                    self.target(target, name, span).and_then(|dst| {
                        let what = format!(
                            "`{}`",
                            path.segments
                                .iter()
                                .map(|s| s.text.as_str())
                                .collect::<Vec<_>>()
                                .join(".")
                        );
                        self.check_same(&src, &dst, &what, &path.span).then(|| {
                            self.row_data = true;
                            let path = fp.fields.iter().map(|f| f.name().to_string()).collect();
                            (
                                dst,
                                FieldSource::Row {
                                    table: fp.table,
                                    path,
                                },
                            )
                        })
                    })
                }
                SelectItem::Param { name, alias } => {
                    let src = match self.scope.param(&name.text, name.span.clone()) {
                        Ok(f) => f,
                        Err(e) => {
                            self.errors.push(e);
                            continue;
                        }
                    };
                    let (fname, span) = alias
                        .as_ref()
                        .map_or((&name.text, &name.span), |a| (&a.text, &a.span));
                    self.target(target, fname, span).and_then(|dst| {
                        self.check_same(
                            &src,
                            &dst,
                            &format!("parameter `:{}`", name.text),
                            &name.span,
                        )
                        .then(|| {
                            (
                                dst,
                                FieldSource::Param {
                                    field: name.text.clone(),
                                },
                            )
                        })
                    })
                }
                SelectItem::Nested { items, alias, span } => self
                    .target(target, &alias.text, &alias.span)
                    .and_then(|dst| match dst.kind() {
                        Kind::Message(m) if !dst.is_map() => {
                            let projection = self.items(items, &m, false);
                            let repeated = dst.is_list();
                            Some((
                                dst,
                                FieldSource::Nested {
                                    projection,
                                    repeated,
                                },
                            ))
                        }
                        _ => {
                            self.error(
                                span,
                                format!(
                                    "response field `{}` is {}, not a message",
                                    dst.name(),
                                    field_type(&dst)
                                ),
                                None,
                            );
                            None
                        }
                    }),
                SelectItem::Func { func, span, alias } => {
                    self.func(*func, span, alias.as_ref(), target, top)
                }
            };
            if let Some((dst, source)) = mapped {
                self.push(&mut out, dst, source, item_span(item));
            }
        }
        for item in deferred {
            match item {
                SelectItem::Star { span, .. } => {
                    if let Some(p) = self.star(target, &out, span, items.len() == 1) {
                        if let Projection::Fields(fields) = p {
                            out.extend(fields);
                        } else {
                            return p;
                        }
                    }
                }
                SelectItem::TableStar { table, span } => {
                    let Some(t) = self.scope.table_index(&table.text) else {
                        self.error(
                            &table.span,
                            format!("table `{}` is not in this query", table.text),
                            Some("name a table of FROM or JOIN".into()),
                        );
                        continue;
                    };
                    let row = self.scope.tables[t].row.clone();
                    let mut any = false;
                    for src in row.fields() {
                        let Some(dst) = target.get_field_by_name(src.name()) else {
                            continue;
                        };
                        if out.iter().any(|m| m.number == dst.number()) {
                            continue;
                        }
                        any = true;
                        if self.check_same(
                            &src,
                            &dst,
                            &format!("`{}.{}`", table.text, src.name()),
                            span,
                        ) {
                            let source = FieldSource::Row {
                                table: t,
                                path: vec![src.name().to_string()],
                            };
                            out.push(FieldMapping {
                                field: dst.name().to_string(),
                                number: dst.number(),
                                source,
                            });
                        }
                    }
                    if !any {
                        self.error(
                            span,
                            format!(
                                "no field of table `{}` matches a field of `{}`",
                                table.text,
                                target.full_name()
                            ),
                            None,
                        );
                    }
                    self.row_data = true;
                }
                _ => {}
            }
        }
        Projection::Fields(out)
    }

    fn push(
        &mut self,
        out: &mut Vec<FieldMapping>,
        dst: FieldDescriptor,
        source: FieldSource,
        span: Range<usize>,
    ) {
        if out.iter().any(|m| m.number == dst.number()) {
            self.error(
                &span,
                format!("response field `{}` is selected twice", dst.name()),
                Some("rename one of the items with `AS field`".into()),
            );
            return;
        }
        out.push(FieldMapping {
            field: dst.name().to_string(),
            number: dst.number(),
            source,
        });
    }

    /// `*` into `target`: the whole row, or field by field.
    fn star(
        &mut self,
        target: &MessageDescriptor,
        filled: &[FieldMapping],
        span: &Range<usize>,
        alone: bool,
    ) -> Option<Projection> {
        self.row_data = true;
        let tables = &self.scope.tables;
        if alone && tables[0].row == *target {
            return Some(Projection::WholeRow { table: 0 });
        }
        let mut out = Vec::new();
        for dst in target.fields() {
            if filled.iter().any(|m| m.number == dst.number()) {
                continue;
            }
            let found = tables
                .iter()
                .enumerate()
                .find_map(|(i, t)| t.row.get_field_by_name(dst.name()).map(|f| (i, f)));
            let Some((table, src)) = found else {
                let names: Vec<String> = tables.iter().map(|t| format!("`{}`", t.name)).collect();
                self.error(span, format!("response field `{}` of `{}` is not a field of {}", dst.name(), target.full_name(), names.join(" or ")), Some("select its value explicitly with `column AS field`, or remove the field from the response".into()));
                continue;
            };
            let what = format!("`{}.{}`", tables[table].name, src.name());
            if self.check_same(&src, &dst, &what, span) {
                let source = FieldSource::Row {
                    table,
                    path: vec![src.name().to_string()],
                };
                out.push(FieldMapping {
                    field: dst.name().to_string(),
                    number: dst.number(),
                    source,
                });
            }
        }
        Some(Projection::Fields(out))
    }

    fn rows_item(
        &mut self,
        span: &Range<usize>,
        alias: &super::ast::Name,
        target: &MessageDescriptor,
        top: bool,
    ) -> Option<(FieldDescriptor, FieldSource)> {
        if !top {
            self.error(
                span,
                "`* AS field` is only allowed at the top level".into(),
                None,
            );
            return None;
        }
        self.rows = Some(span.start..alias.span.end);
        let dst = self.target(target, &alias.text, &alias.span)?;
        match dst.kind() {
            Kind::Message(m) if dst.is_list() && !dst.is_map() => {
                let projection = self.star(&m, &[], span, true)?;
                Some((dst, FieldSource::Rows { projection }))
            }
            _ => {
                self.error(
                    &alias.span,
                    format!(
                        "`* AS {}` needs a repeated message field, but `{}` is {}",
                        alias.text,
                        dst.name(),
                        field_type(&dst)
                    ),
                    None,
                );
                None
            }
        }
    }

    fn func(
        &mut self,
        func: Func,
        span: &Range<usize>,
        alias: Option<&super::ast::Name>,
        target: &MessageDescriptor,
        top: bool,
    ) -> Option<(FieldDescriptor, FieldSource)> {
        let (default, source, want) = match func {
            Func::NextPageToken => ("next_page_token", FieldSource::NextPageToken, "string"),
            Func::HasMore => ("has_more", FieldSource::HasMore, "bool"),
            Func::Count => ("count", FieldSource::Count, "an integer"),
        };
        if !top {
            self.error(
                span,
                format!("`{default}` is only allowed at the top level"),
                None,
            );
            return None;
        }
        self.funcs.push((func, span.clone()));
        let (name, nspan) = alias.map_or((default, span), |a| (a.text.as_str(), &a.span));
        let dst = self.target(target, name, nspan)?;
        let ok = !dst.is_list()
            && match func {
                Func::NextPageToken => dst.kind() == Kind::String,
                Func::HasMore => dst.kind() == Kind::Bool,
                Func::Count => matches!(
                    dst.kind(),
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
                ),
            };
        if !ok {
            self.error(
                nspan,
                format!(
                    "response field `{name}` is {}, but this needs {want}",
                    field_type(&dst)
                ),
                None,
            );
            return None;
        }
        Some((dst, source))
    }
}

fn item_span(item: &SelectItem) -> Range<usize> {
    match item {
        SelectItem::Star { span, alias } => {
            span.start..alias.as_ref().map_or(span.end, |a| a.span.end)
        }
        SelectItem::TableStar { span, .. } | SelectItem::Nested { span, .. } => span.clone(),
        SelectItem::Column { path, alias } => {
            path.span.start..alias.as_ref().map_or(path.span.end, |a| a.span.end)
        }
        SelectItem::Param { name, alias } => {
            name.span.start..alias.as_ref().map_or(name.span.end, |a| a.span.end)
        }
        SelectItem::Func { span, alias, .. } => {
            span.start..alias.as_ref().map_or(span.end, |a| a.span.end)
        }
    }
}
