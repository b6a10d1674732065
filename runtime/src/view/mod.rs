//! Views at run time: tables created from the compiled schemas, projections
//! that keep them current from the change feed, and queries answered with the
//! SQL compiled at build time.
//!
//! - `plan`: the compiled plans carried by the generated code (decoded once;
//!   no query text is parsed at run time);
//! - `projector`: one [`FeedHandler`] per `(table, source entity type)`,
//!   delivering in batches; a batch's rows and the last sequence number it
//!   applied per entity are committed in one transaction, so after a crash a
//!   record is applied exactly once — the dedup hook
//!   ([`FeedHandler::applied_seq`]) drops what the table already holds,
//!   whatever offset the consumer had stored;
//! - `query`: binds a request to a compiled query, runs it and streams live
//!   updates (`stream_updates`);
//! - `result`: turns result rows into response messages;
//! - `status`: the lag of every projection, as JSON and as metrics.
//!
//! [`FeedHandler`]: crate::feed::FeedHandler
//! [`FeedHandler::applied_seq`]: crate::feed::FeedHandler::applied_seq

mod plan;
mod projector;
mod query;
mod result;
pub mod status;

use std::sync::{Arc, Mutex};

use tokio::sync::broadcast;

use crate::component::adapter::ViewAdapter;
use crate::component::info::ComponentInfo;
use crate::feed::{ConsumerConfig, ConsumerHandle, Delivery, StatusSource};
use crate::status::Status;
use crate::storage::{FeedSource, Storage, ViewStore};

use self::plan::Plans;

/// Why views could not start.
#[derive(Debug, thiserror::Error)]
pub enum ViewError {
    /// The compiled plan of a view does not fit its descriptors.
    #[error("view {view}: {message}")]
    Plan {
        /// The view's service.
        view: &'static str,
        /// What is wrong.
        message: String,
    },
    /// The storage backend cannot hold view tables.
    #[error("view {0}: the storage backend does not support views")]
    Unsupported(&'static str),
    /// Creating a table or starting a projection failed.
    #[error("view {view}: {message}")]
    Start {
        /// The view's service.
        view: &'static str,
        /// What failed.
        message: String,
    },
}

/// A row of `table` changed (or was deleted): live queries look at it again.
#[derive(Debug, Clone)]
pub(crate) struct Change {
    /// Index into [`Plans::tables`].
    pub table: usize,
    /// The row key.
    pub key: Arc<str>,
}

/// One view: its plans, its user code and where its tables live.
pub(crate) struct ViewEngine {
    info: &'static ComponentInfo,
    adapter: Arc<dyn ViewAdapter>,
    plans: Plans,
    storage: Arc<dyn Storage>,
    changes: broadcast::Sender<Change>,
    /// Whether the store announces row changes (every process's) itself, so
    /// the projectors of this process do not.
    store_announces: std::sync::atomic::AtomicBool,
    projections: Mutex<Vec<StatusSource>>,
}

impl std::fmt::Debug for ViewEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ViewEngine")
            .field("view", &self.info.service)
            .finish_non_exhaustive()
    }
}

/// How many row changes a slow live query may fall behind before it skips some.
const LIVE_BUFFER: usize = 4096;

impl ViewEngine {
    /// The engine of a view served from `storage`.
    pub(crate) fn new(
        adapter: Arc<dyn ViewAdapter>,
        storage: Arc<dyn Storage>,
    ) -> Result<ViewEngine, ViewError> {
        let info = adapter.info();
        let dialect = storage
            .views()
            .map(|v| v.dialect())
            .ok_or(ViewError::Unsupported(info.service))?;
        let plans = Plans::load(info, dialect).map_err(|message| ViewError::Plan {
            view: info.service,
            message,
        })?;
        let (changes, _) = broadcast::channel(LIVE_BUFFER);
        Ok(ViewEngine {
            info,
            adapter,
            plans,
            storage,
            changes,
            store_announces: std::sync::atomic::AtomicBool::new(false),
            projections: Mutex::new(Vec::new()),
        })
    }

    /// The view's storage.
    fn store(&self) -> Result<&dyn ViewStore, Status> {
        self.storage
            .views()
            .ok_or_else(|| Status::internal("the storage backend does not support views"))
    }

    /// Status sources of the view's running projections.
    pub(crate) fn projections(&self) -> Vec<StatusSource> {
        self.projections
            .lock()
            .map(|p| p.clone())
            .unwrap_or_default()
    }

    /// Whether topics feed the view (the service then needs a topic backend).
    pub(crate) fn fed_by_topics(&self) -> bool {
        self.plans.topics().next().is_some()
    }

    /// Create the view's tables and indexes and start its projections (of
    /// topics, from `topics`).
    pub(crate) async fn start(
        self: &Arc<Self>,
        sharing: Option<&crate::feed::Sharing>,
        topics: Option<Arc<dyn crate::eventing::Topics>>,
        direct_services: &std::collections::BTreeMap<String, String>,
    ) -> Result<Vec<ConsumerHandle>, ViewError> {
        let failed = |message: String| ViewError::Start {
            view: self.info.service,
            message,
        };
        let store = self
            .storage
            .views()
            .ok_or(ViewError::Unsupported(self.info.service))?;
        let statements: Vec<String> = self
            .plans
            .tables
            .iter()
            .flat_map(|t| {
                std::iter::once(t.sql.create_table.clone()).chain(t.sql.create_indexes.clone())
            })
            .collect();
        store
            .view_schema(statements)
            .await
            .map_err(|e| failed(format!("cannot create the tables: {e}")))?;
        if let Some(receiver) = store.row_changes() {
            self.store_announces
                .store(true, std::sync::atomic::Ordering::Relaxed);
            tokio::spawn(forward_row_changes(Arc::downgrade(self), receiver));
        }
        let mut handles = Vec::new();
        for (table, source) in self.plans.sources() {
            let (feed, feed_type, types, poll): (Arc<dyn FeedSource>, String, Vec<String>, _) =
                match source {
                    plan::Source::Entity(type_id) => (
                        self.storage.clone(),
                        type_id.to_owned(),
                        vec![type_id.to_owned()],
                        None,
                    ),
                    plan::Source::Direct { service, stream } => {
                        let (type_id, feed) =
                            crate::eventing::direct::feed(direct_services, service, stream)
                                .map_err(|e| failed(format!("direct stream {stream:?}: {e}")))?;
                        (
                            feed,
                            type_id,
                            Vec::new(),
                            Some(std::time::Duration::from_millis(50)),
                        )
                    }
                    plan::Source::Topic(template) => {
                        let Some(topics) = topics.clone() else {
                            return Err(failed(format!(
                                "it is fed by topic {template:?} and the service has no topic backend (set PLINTH_TOPICS)"
                            )));
                        };
                        let (resolved, feed) = crate::eventing::topic_source(topics, template)
                            .map_err(|e| failed(format!("topic {template:?}: {e}")))?;
                        // Other processes' publishes are seen by polling.
                        (
                            feed,
                            resolved,
                            Vec::new(),
                            Some(std::time::Duration::from_millis(50)),
                        )
                    }
                };
            let name = projection_name(
                self.info.service,
                &self.plans.tables[table].plan.name,
                &match source {
                    plan::Source::Entity(_) => feed_type.clone(),
                    plan::Source::Topic(_) => format!("topic:{feed_type}"),
                    plan::Source::Direct { .. } => feed_type.clone(),
                },
            );
            let mut config =
                ConsumerConfig::new(name.clone(), types).with_delivery(Delivery::Batch);
            if let Some(poll) = poll {
                config.poll_interval = poll;
            }
            let handler = Arc::new(projector::Projector::new(
                self.clone(),
                table,
                source,
                feed_type,
                name,
            ));
            let started =
                crate::feed::start_group(feed, self.storage.clone(), config, handler, sharing)
                    .await
                    .map_err(|e| failed(format!("cannot start the projection: {e}")))?;
            if let Ok(mut projections) = self.projections.lock() {
                projections.extend(started.iter().map(ConsumerHandle::status_source));
            }
            handles.extend(started);
        }
        Ok(handles)
    }
}

/// Pass the store's row changes of this view's tables on to its live
/// queries, until the store or the engine goes away.
async fn forward_row_changes(
    engine: std::sync::Weak<ViewEngine>,
    mut receiver: broadcast::Receiver<crate::storage::RowChange>,
) {
    loop {
        let change = match receiver.recv().await {
            Ok(change) => change,
            Err(broadcast::error::RecvError::Lagged(missed)) => {
                tracing::warn!(missed, "live queries fell behind the view row changes");
                continue;
            }
            Err(broadcast::error::RecvError::Closed) => return,
        };
        let Some(engine) = engine.upgrade() else {
            return;
        };
        let table = engine
            .plans
            .tables
            .iter()
            .position(|t| *t.plan.table == *change.table);
        if let Some(table) = table {
            // No live query listening is fine.
            let _ = engine.changes.send(Change {
                table,
                key: change.key,
            });
        }
    }
}

/// The consumer name of the projection of `type_id` into `table` of `view`.
/// Renaming a view or table rebuilds it from the start of the feed.
fn projection_name(view: &str, table: &str, type_id: &str) -> String {
    format!("view/{view}/{table}/{type_id}")
}
