//! Parameter values of a compiled query for one request.

use prost_reflect::{DynamicMessage, ReflectMessage};

use crate::MAX_RESULTS;
use crate::compiled::{CompiledQuery, CountSource, Dialect, OffsetSource, Paging, ParamSource};
use crate::types::{SqlValue, coerce, scalar_value};

/// Why a request cannot be bound to a query (a bad request).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BindError {
    /// An `optional` or wrapper field the query needs is not set.
    #[error("request field `{0}` is required by the query but not set")]
    MissingField(String),
    /// The request message lacks a field the query was compiled against.
    #[error("request field `{0}` does not exist")]
    UnknownField(String),
    /// A negative `LIMIT` or `OFFSET` parameter.
    #[error("request field `{0}` must not be negative")]
    Negative(String),
    /// A page token that does not decode.
    #[error("request field `{0}` is not a valid page token")]
    BadPageToken(String),
}

/// The rows of one page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// The page size (`None`: no limit, the result cap applies).
    pub page_size: Option<u64>,
    /// The rows skipped.
    pub offset: u64,
}

impl Window {
    /// The rows to fetch: one more than the page (or the cap), so that
    /// `has_more()` and results over [`MAX_RESULTS`] are detected.
    pub fn fetch(&self) -> u64 {
        self.page_size.unwrap_or(MAX_RESULTS).min(MAX_RESULTS) + 1
    }
}

fn count(request: &DynamicMessage, field: &str) -> Result<u64, BindError> {
    match request_value(request, field)? {
        SqlValue::Integer(n) if n >= 0 => Ok(n as u64),
        _ => Err(BindError::Negative(field.to_string())),
    }
}

impl Paging {
    /// The page `request` asks for; `decode_token` turns a non-empty page
    /// token into its offset (an empty token is the first page).
    pub fn window(
        &self,
        request: &DynamicMessage,
        decode_token: impl Fn(&str) -> Option<u64>,
    ) -> Result<Window, BindError> {
        let limit = match &self.limit {
            None => self.default_page_size,
            Some(CountSource::Literal(n)) => Some(*n),
            // proto3 cannot tell 0 from unset: a page size of 0 asks for the
            // default page, as in Google's API design guide (AIP-158).
            Some(CountSource::Param { field }) => match count(request, field)? {
                0 => self.default_page_size,
                n => Some(n),
            },
        };
        let offset = match &self.offset {
            None => 0,
            Some(OffsetSource::Count(CountSource::Literal(n))) => *n,
            Some(OffsetSource::Count(CountSource::Param { field })) => count(request, field)?,
            Some(OffsetSource::PageToken { field }) => match request_value(request, field)? {
                SqlValue::Text(t) if t.is_empty() => 0,
                SqlValue::Text(t) => {
                    decode_token(&t).ok_or_else(|| BindError::BadPageToken(field.clone()))?
                }
                _ => return Err(BindError::BadPageToken(field.clone())),
            },
        };
        Ok(Window {
            page_size: limit,
            offset,
        })
    }
}

fn request_value(request: &DynamicMessage, name: &str) -> Result<SqlValue, BindError> {
    let field = request
        .descriptor()
        .get_field_by_name(name)
        .ok_or_else(|| BindError::UnknownField(name.to_string()))?;
    if field.supports_presence() && !request.has_field(&field) {
        return Err(BindError::MissingField(name.to_string()));
    }
    let value = request.get_field(&field);
    Ok(match value.as_list() {
        Some(items) => SqlValue::Array(items.iter().map(scalar_value).collect()),
        None => scalar_value(&value),
    })
}

/// Translate a LIKE pattern to a GLOB pattern (case-sensitive, like
/// PostgreSQL's LIKE): `%` → `*`, `_` → `?`, GLOB's own specials escaped.
pub fn like_to_glob(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len());
    for c in pattern.chars() {
        match c {
            '%' => out.push('*'),
            '_' => out.push('?'),
            '*' | '?' | '[' => {
                out.push('[');
                out.push(c);
                out.push(']');
            }
            c => out.push(c),
        }
    }
    out
}

/// The values of `query.params` for `request` in `dialect`: the page window
/// fills [`ParamSource::Limit`] (with [`Window::fetch`]) and
/// [`ParamSource::Offset`]. Arrays become JSON text for SQLite.
pub fn bind_params(
    query: &CompiledQuery,
    dialect: Dialect,
    request: &DynamicMessage,
    window: Window,
) -> Result<Vec<SqlValue>, BindError> {
    query
        .params
        .iter()
        .map(|p| {
            let v = match &p.source {
                ParamSource::Request { field } => {
                    coerce(request_value(request, field)?, p.sql_type)
                }
                ParamSource::Literal(v) => v.clone(),
                ParamSource::LikePattern(pat) => match dialect {
                    Dialect::Sqlite => SqlValue::Text(like_to_glob(pat)),
                    Dialect::Postgres => SqlValue::Text(pat.clone()),
                },
                ParamSource::Limit => SqlValue::Integer(window.fetch() as i64),
                ParamSource::Offset => SqlValue::Integer(window.offset.min(i64::MAX as u64) as i64),
            };
            Ok(match (dialect, &v) {
                (Dialect::Sqlite, SqlValue::Array(_)) => {
                    SqlValue::Text(v.json_array_text().unwrap_or_default())
                }
                _ => v,
            })
        })
        .collect()
}
