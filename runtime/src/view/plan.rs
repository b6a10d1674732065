//! A view's compiled plans, loaded from its generated [`ComponentInfo`]: the
//! JSON the code generator wrote is decoded once at startup and its message
//! names resolved in the embedded descriptor set. No query text is parsed
//! here; the SQL, the parameter plan and the result mapping are all compiled.

use std::sync::Arc;

use plinth_view_plan::{Column, CompiledQuery, Dialect, PlanError, SchemaSql, TablePlan};
use prost_reflect::{DescriptorPool, MessageDescriptor};

use crate::component::info::{ComponentInfo, SourceKind, ViewMethod};

/// One table of a view, ready to project into.
#[derive(Debug)]
pub(crate) struct Table {
    /// The plan from the generated code.
    pub plan: TablePlan,
    /// The row message.
    pub row: MessageDescriptor,
    /// The columns, resolved against the row message.
    pub columns: Vec<Column>,
    /// The statements of the storage's dialect.
    pub sql: SchemaSql,
    /// `upsert` and `delete`, shared by every batch.
    pub upsert: Arc<str>,
    /// See `upsert`.
    pub delete: Arc<str>,
}

/// One query method.
#[derive(Debug)]
pub(crate) struct Query {
    /// The compiled query.
    pub compiled: CompiledQuery,
    /// The request message.
    pub request: MessageDescriptor,
    /// The response message.
    pub response: MessageDescriptor,
    /// Whether changes stream after the result.
    pub stream_updates: bool,
    /// The method's rows, count and live statements in the storage's dialect.
    pub rows: Option<Arc<str>>,
    /// See `rows`.
    pub count: Option<Arc<str>>,
    /// See `rows`.
    pub live: Option<Arc<str>>,
}

/// Where an update method's records come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Source {
    /// An entity's changes (value entity or workflow states, events), by type_id.
    Entity(&'static str),
    /// A topic's messages, by the topic's name (a `${ENV}` template).
    Topic(&'static str),
    /// Another service's direct event stream.
    Direct {
        /// The producing service, as configured.
        service: &'static str,
        /// The stream's id.
        stream: &'static str,
    },
}

impl Source {
    /// Whether its records are messages (a topic's or a direct stream's),
    /// routed by `ce-type` and keyed by `ce-subject`, rather than entity changes.
    pub(crate) fn carries_messages(&self) -> bool {
        !matches!(self, Source::Entity(_))
    }
}

/// An update method: which records it takes and which table it fills.
#[derive(Debug)]
pub(crate) struct Update {
    /// The method's index in the component.
    pub method: usize,
    /// Index into [`Plans::tables`].
    pub table: usize,
    /// Where its records come from.
    pub source: Source,
    /// The method's input message (the state or event type it takes).
    pub input_type: &'static str,
    /// The input message, to read JSON topic messages into.
    pub input: MessageDescriptor,
    /// It receives deletes.
    pub handle_deletes: bool,
}

/// All plans of one view.
#[derive(Debug)]
pub(crate) struct Plans {
    /// The tables, in declaration order.
    pub tables: Vec<Table>,
    /// Per method of the component: its query, if it is one.
    pub queries: Vec<Option<Query>>,
    /// The update methods.
    pub updates: Vec<Update>,
}

fn decode<T: serde::de::DeserializeOwned>(json: &str) -> Result<T, PlanError> {
    serde_json::from_str(json).map_err(|e| PlanError::Decode(e.to_string()))
}

fn message(pool: &DescriptorPool, name: &str) -> Result<MessageDescriptor, PlanError> {
    pool.get_message_by_name(name)
        .ok_or_else(|| PlanError::UnknownMessage(name.to_string()))
}

impl Plans {
    /// Load the plans of view `info` for `dialect`.
    pub(crate) fn load(info: &'static ComponentInfo, dialect: Dialect) -> Result<Plans, String> {
        let pool = DescriptorPool::decode(info.file_descriptor_set)
            .map_err(|e| format!("the embedded descriptor set does not decode: {e}"))?;
        let mut tables: Vec<Table> = Vec::new();
        let mut queries = Vec::new();
        let mut updates = Vec::new();
        for (index, method) in info.methods.iter().enumerate() {
            let failed = |e: PlanError| format!("rpc {}: {e}", method.name);
            match method.view {
                Some(ViewMethod::Update { table, plan, .. }) => {
                    let position = match tables.iter().position(|t| t.plan.name == table) {
                        Some(position) => position,
                        None => {
                            let plan: TablePlan = decode(plan).map_err(failed)?;
                            let row = message(&pool, &plan.row_type).map_err(failed)?;
                            let columns = plan.resolve_columns(&row).map_err(failed)?;
                            let sql = plan.sql(dialect).clone();
                            tables.push(Table {
                                upsert: Arc::from(sql.upsert.as_str()),
                                delete: Arc::from(sql.delete.as_str()),
                                sql,
                                plan,
                                row,
                                columns,
                            });
                            tables.len() - 1
                        }
                    };
                    queries.push(None);
                    let Some(subscription) = method.subscribe else {
                        continue;
                    };
                    if subscription.ignore {
                        continue;
                    }
                    let source = match subscription.source {
                        SourceKind::ValueEntity(id) | SourceKind::EventSourcedEntity(id) => {
                            Source::Entity(id)
                        }
                        SourceKind::Topic(topic) => Source::Topic(topic),
                        SourceKind::Direct { service, stream } => {
                            Source::Direct { service, stream }
                        }
                    };
                    updates.push(Update {
                        method: index,
                        table: position,
                        source,
                        input_type: method.input_type,
                        input: message(&pool, method.input_type).map_err(failed)?,
                        handle_deletes: subscription.handle_deletes,
                    });
                }
                Some(ViewMethod::Query {
                    plan,
                    stream_updates,
                    ..
                }) => {
                    let compiled: CompiledQuery = decode(plan).map_err(failed)?;
                    let sql = match dialect {
                        Dialect::Sqlite => &compiled.sqlite,
                        Dialect::Postgres => &compiled.postgres,
                    };
                    let shared = |s: &Option<String>| s.as_deref().map(Arc::from);
                    queries.push(Some(Query {
                        rows: shared(&sql.rows),
                        count: shared(&sql.count),
                        live: shared(&sql.live),
                        request: message(&pool, method.input_type).map_err(failed)?,
                        response: message(&pool, method.output_type).map_err(failed)?,
                        stream_updates,
                        compiled,
                    }));
                }
                None => queries.push(None),
            }
        }
        Ok(Plans {
            tables,
            queries,
            updates,
        })
    }

    /// The sources feeding the view: each `(table, source)` pair is one
    /// projection.
    pub(crate) fn sources(&self) -> Vec<(usize, Source)> {
        let mut out: Vec<(usize, Source)> = Vec::new();
        for u in &self.updates {
            if !out.contains(&(u.table, u.source)) {
                out.push((u.table, u.source));
            }
        }
        out
    }

    /// The topics feeding the view (their templates).
    pub(crate) fn topics(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.updates.iter().filter_map(|u| match u.source {
            Source::Topic(topic) => Some(topic),
            Source::Entity(_) | Source::Direct { .. } => None,
        })
    }
}
