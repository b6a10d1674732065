//! Answering a query method: bind the request to the compiled query, run its
//! SQL, shape the rows into responses, and for `stream_updates` keep sending
//! every changed row that matches until the client goes away.

use std::sync::Arc;

use bytes::Bytes;
use futures::StreamExt;
use futures::stream::BoxStream;
use plinth_view_plan::{
    BindError, MAX_RESULTS, ResultShape, SqlValue, Window, bind_params, decode_page_token,
    encode_page_token,
};
use prost::Message;
use prost_reflect::{DynamicMessage, MessageDescriptor};
use tokio::sync::broadcast;

use super::plan::Query;
use super::result::{self, Extras, Row};
use super::{Change, ViewEngine};
use crate::component::adapter::ActionReply;
use crate::executor::storage_status;
use crate::status::Status;

fn bad_request(error: BindError) -> Status {
    Status::invalid_argument(error.to_string())
}

impl ViewEngine {
    /// Answer query method `method` with the encoded request `payload`.
    pub(crate) async fn query(
        self: Arc<Self>,
        method: usize,
        payload: Bytes,
    ) -> Result<ActionReply, Status> {
        let path = self.info.methods.get(method).map_or("?", |m| m.path);
        let Some(query) = self.plans.queries.get(method).and_then(Option::as_ref) else {
            return Err(Status::unimplemented(format!(
                "{path} updates the view from its subscription; it cannot be called"
            )));
        };
        let request = DynamicMessage::decode(query.request.clone(), payload.as_ref())
            .map_err(|e| Status::invalid_argument(format!("invalid request message: {e}")))?;
        // Listen before the first read, so no change between the two is missed.
        let live = query.stream_updates.then(|| self.changes.subscribe());
        let responses = self.run(query, &request).await?;
        if query.compiled.shape != ResultShape::Stream {
            let first = responses.into_iter().next();
            return first
                .map(ActionReply::Unary)
                .ok_or_else(|| Status::not_found(format!("{path}: no row matches the query")));
        }
        let initial = futures::stream::iter(responses.into_iter().map(Ok));
        match live {
            None => Ok(ActionReply::Stream(initial.boxed())),
            Some(receiver) => {
                let updates = live_updates(self.clone(), method, request, receiver);
                Ok(ActionReply::Stream(initial.chain(updates).boxed()))
            }
        }
    }

    /// The row messages of the tables `query` reads, in its table order.
    fn row_types(&self, query: &Query) -> Result<Vec<MessageDescriptor>, Status> {
        query
            .compiled
            .tables
            .iter()
            .map(|t| {
                self.plans
                    .tables
                    .iter()
                    .find(|p| p.plan.table == t.sql_name)
                    .map(|p| p.row.clone())
                    .ok_or_else(|| Status::internal(format!("unknown view table {}", t.sql_name)))
            })
            .collect()
    }

    /// Run `query` for `request` and encode the responses.
    async fn run(&self, query: &Query, request: &DynamicMessage) -> Result<Vec<Bytes>, Status> {
        let store = self.store()?;
        let compiled = &query.compiled;
        let window = compiled
            .paging
            .window(request, decode_page_token)
            .map_err(bad_request)?;
        let params =
            bind_params(compiled, store.dialect(), request, window).map_err(bad_request)?;
        let filter = params[..compiled.filter_params.min(params.len())].to_vec();
        let row_types = self.row_types(query)?;
        let raw = match &query.rows {
            Some(sql) => store
                .view_query(sql.clone(), params, 2 * row_types.len())
                .await
                .map_err(|e| storage_status(self.info, "", &e))?,
            None => Vec::new(),
        };
        let count = match &query.count {
            Some(sql) => match store.view_query(sql.clone(), filter, 1).await {
                Ok(rows) => match rows.first().and_then(|r| r.first()) {
                    Some(SqlValue::Integer(n)) => *n,
                    _ => 0,
                },
                Err(e) => return Err(storage_status(self.info, "", &e)),
            },
            None => 0,
        };
        let mut rows = result::decode_rows(raw, &row_types)?;
        let (has_more, next_page_token) = page(&mut rows, window)?;
        let extras = Extras {
            request,
            next_page_token,
            has_more,
            count,
        };
        self.shape(query, rows, &extras)
    }

    /// The responses of `rows`.
    fn shape(
        &self,
        query: &Query,
        rows: Vec<Row>,
        extras: &Extras<'_>,
    ) -> Result<Vec<Bytes>, Status> {
        let compiled = &query.compiled;
        let projection = &compiled.projection;
        let encode = |m: DynamicMessage| Bytes::from(m.encode_to_vec());
        match compiled.shape {
            ResultShape::Single if rows.is_empty() => Ok(Vec::new()),
            ResultShape::Single | ResultShape::Collected | ResultShape::Aggregate => {
                Ok(vec![encode(result::build(
                    projection,
                    &query.response,
                    &rows,
                    extras,
                )?)])
            }
            ResultShape::Stream => {
                let groups = if result::groups(projection) {
                    let mut tables = Vec::new();
                    result::group_tables(projection, &mut tables);
                    result::split_groups(rows, &tables)
                } else {
                    rows.into_iter().map(|r| vec![r]).collect()
                };
                groups
                    .iter()
                    .map(|g| result::build(projection, &query.response, g, extras).map(encode))
                    .collect()
            }
        }
    }

    /// The responses for a changed row `key` of the query's first table, if
    /// it (still) matches.
    async fn matching(
        &self,
        query: &Query,
        request: &DynamicMessage,
        key: &str,
    ) -> Result<Vec<Bytes>, Status> {
        let store = self.store()?;
        let Some(live) = &query.live else {
            return Ok(Vec::new());
        };
        let compiled = &query.compiled;
        let window = compiled
            .paging
            .window(request, decode_page_token)
            .map_err(bad_request)?;
        let mut params =
            bind_params(compiled, store.dialect(), request, window).map_err(bad_request)?;
        params.truncate(compiled.filter_params);
        params.push(SqlValue::Text(key.to_string()));
        let row_types = self.row_types(query)?;
        let raw = store
            .view_query(live.clone(), params, 2 * row_types.len())
            .await
            .map_err(|e| storage_status(self.info, "", &e))?;
        let rows = result::decode_rows(raw, &row_types)?;
        let extras = Extras {
            request,
            next_page_token: String::new(),
            has_more: false,
            count: 0,
        };
        self.shape(query, rows, &extras)
    }
}

/// Cut `rows` to the page of `window`: whether more follow, and the next token.
fn page(rows: &mut Vec<Row>, window: Window) -> Result<(bool, String), Status> {
    let page = window.page_size.unwrap_or(MAX_RESULTS).min(MAX_RESULTS);
    let has_more = rows.len() as u64 > page;
    if has_more && window.page_size.is_none_or(|p| p > MAX_RESULTS) {
        return Err(Status::resource_exhausted(format!(
            "the query matches more than {MAX_RESULTS} rows; add a LIMIT or page through the results"
        )));
    }
    rows.truncate(page as usize);
    // An empty page (`LIMIT 0`) would hand back the same token for ever.
    let has_more = has_more && page > 0;
    let token = if has_more {
        encode_page_token(window.offset.saturating_add(page))
    } else {
        String::new()
    };
    Ok((has_more, token))
}

/// Every change of a row of the query's first table that matches, as it happens.
fn live_updates(
    engine: Arc<ViewEngine>,
    method: usize,
    request: DynamicMessage,
    receiver: broadcast::Receiver<Change>,
) -> BoxStream<'static, Result<Bytes, Status>> {
    futures::stream::unfold(
        (engine, request, receiver),
        move |(engine, request, mut receiver)| async move {
            loop {
                let change = match receiver.recv().await {
                    Ok(change) => change,
                    Err(broadcast::error::RecvError::Lagged(missed)) => {
                        tracing::warn!(
                            view = engine.info.service,
                            missed,
                            "a live query fell behind; some updates were skipped"
                        );
                        continue;
                    }
                    Err(broadcast::error::RecvError::Closed) => return None,
                };
                let query = engine.plans.queries.get(method).and_then(Option::as_ref)?;
                let first = query.compiled.tables.first()?;
                if engine.plans.tables[change.table].plan.table != first.sql_name {
                    continue;
                }
                let out: Vec<Result<Bytes, Status>> =
                    match engine.matching(query, &request, &change.key).await {
                        Ok(responses) => responses.into_iter().map(Ok).collect(),
                        Err(status) => vec![Err(status)],
                    };
                if !out.is_empty() {
                    return Some((futures::stream::iter(out), (engine, request, receiver)));
                }
            }
        },
    )
    .flatten()
    .boxed()
}
