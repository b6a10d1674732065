//! The service builder: register components, configure, and serve them on one
//! port until told to stop.
//!
//! ```no_run
//! // `customers` is a generated component wrapping the implementation,
//! // e.g. `CustomerEntityComponent::new(MyCustomers)`.
//! async fn serve(customers: impl plinth::Component) -> Result<(), plinth::ServiceError> {
//!     plinth::Service::new().with(customers).run().await
//! }
//! ```

use std::process::ExitCode;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::oneshot;

use crate::clock::{self, Clock};
use crate::component::{Component, Installer, Registration};
use crate::config::{Config, StorageTarget};
use crate::dispatch::SharedDispatch;
use crate::dispatcher::Dispatcher;
use crate::eventing::Topics;
use crate::eventing::TopicsTarget;
use crate::executor::ExecutorSettings;
use crate::http::HttpOptions;
use crate::server::FrontDoors;
use crate::storage::Storage;

mod error;
mod health;
mod running;

pub use error::{ServiceError, ServiceResult};
pub use running::RunningService;

/// A service: a set of components served over gRPC and HTTP/JSON on one port.
#[must_use = "a service does nothing until run or started"]
pub struct Service {
    registrations: Vec<Registration>,
    config: Option<Config>,
    storage: Option<Arc<dyn Storage>>,
    topics: Option<Arc<dyn Topics>>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Service")
            .field("registrations", &self.registrations)
            .field("config", &self.config)
            .field("clock", &self.clock)
            .finish_non_exhaustive()
    }
}

impl Default for Service {
    fn default() -> Service {
        Service::new()
    }
}

impl Service {
    /// A service with no components.
    pub fn new() -> Service {
        Service {
            registrations: Vec::new(),
            config: None,
            storage: None,
            topics: None,
            clock: clock::system(),
        }
    }

    /// Serve this component too.
    pub fn with(mut self, component: impl Component) -> Service {
        self.registrations.push(component.into_registration());
        self
    }

    /// Use this configuration instead of loading it from `plinth.yaml` and the
    /// environment.
    pub fn config(mut self, config: Config) -> Service {
        self.config = Some(config);
        self
    }

    /// Store state in this backend instead of the configured one. The local
    /// topic log lives beside a storage file, so with a storage given here
    /// topics come from [`Service::topics`] or a configured `PLINTH_TOPICS`
    /// other than `local`; without them, publishing fails with
    /// `FAILED_PRECONDITION` and topic subscriptions stop the start.
    pub fn storage(mut self, storage: Arc<dyn Storage>) -> Service {
        self.storage = Some(storage);
        self
    }

    /// Publish to and subscribe from this topic backend instead of the
    /// configured one.
    pub fn topics(mut self, topics: Arc<dyn Topics>) -> Service {
        self.topics = Some(topics);
        self
    }

    /// Keep the time of day by this clock instead of the system's: when
    /// timers and workflow timeouts are due, the `ce-time` of published
    /// messages, the expiry of bearer tokens, and leases kept in SQLite. A
    /// [`ManualClock`](crate::ManualClock) lets a test move time by hand.
    /// A storage given with [`Service::storage`] keeps the clock it was
    /// opened with ([`SqliteOptions::clock`](crate::storage::SqliteOptions::clock));
    /// PostgreSQL keeps due times and leases by the database server's clock.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Service {
        self.clock = clock;
        self
    }

    /// Serve until SIGTERM or Ctrl-C, then shut down gracefully. Loads the
    /// configuration (unless one was given) and sets up logging first.
    pub async fn run(mut self) -> ServiceResult<()> {
        let config = match self.config.take() {
            Some(config) => config,
            None => Config::load()?,
        };
        crate::telemetry::install_for_run(&config);
        let running = self.config(config).start().await?;
        let signal = shutdown_signal().await;
        tracing::info!("shutting down");
        running.shutdown().await;
        crate::telemetry::shutdown().await;
        signal
    }

    /// The whole of a service's `main`: start a multi-threaded runtime, [`run`]
    /// the service, and on failure print the error and return a failing exit
    /// code. Lets a service crate depend on Plinth alone.
    ///
    /// ```no_run
    /// // In `main`, with the generated components wrapping the implementations
    /// // (e.g. `CustomerEntityComponent::new(MyCustomers)`).
    /// fn main_of(customers: impl plinth::Component) -> std::process::ExitCode {
    ///     plinth::Service::new().with(customers).run_blocking()
    /// }
    /// ```
    ///
    /// [`run`]: Service::run
    pub fn run_blocking(self) -> ExitCode {
        let runtime = match tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
        {
            Ok(runtime) => runtime,
            Err(error) => {
                eprintln!("error: cannot start the async runtime: {error}");
                return ExitCode::FAILURE;
            }
        };
        match runtime.block_on(self.run()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                tracing::error!(%error, "the service stopped");
                eprintln!("error: {error}");
                ExitCode::FAILURE
            }
        }
    }

    /// Start serving in the background; the returned handle tells where, and
    /// stops the service.
    pub async fn start(self) -> ServiceResult<RunningService> {
        let config = match self.config {
            Some(config) => config,
            None => Config::load()?,
        };
        crate::telemetry::install_export(&config);
        let injected_storage = self.storage.is_some();
        let storage = match self.storage {
            Some(storage) => storage,
            None => crate::storage::open_with_clock(&config.storage, self.clock.clone())
                .await
                .map_err(|error| ServiceError::Storage {
                    target: config.storage.describe(),
                    message: error.to_string(),
                })?,
        };
        tracing::info!(storage = %storage.describe(), "storage");
        // Bind before anything runs: a second instance on a taken port
        // fails here, before it starts consuming.
        let listener =
            TcpListener::bind(config.addr)
                .await
                .map_err(|source| ServiceError::Bind {
                    addr: config.addr,
                    source,
                })?;
        let local_addr = listener.local_addr().map_err(|source| ServiceError::Bind {
            addr: config.addr,
            source,
        })?;
        let tls = config
            .tls
            .as_ref()
            .map(crate::server::tls_acceptor)
            .transpose()?;
        let admin_listener = match config.admin_addr {
            Some(addr) => Some(
                TcpListener::bind(addr)
                    .await
                    .map_err(|source| ServiceError::Bind { addr, source })?,
            ),
            None => None,
        };
        let admin_addr = admin_listener
            .as_ref()
            .and_then(|listener| listener.local_addr().ok());
        let entity_stats = Arc::new(crate::executor::stats::ExecutorStats::default());
        let settings = ExecutorSettings {
            storage: storage.clone(),
            schedule: storage.clone(),
            snapshot_every: config.snapshot_every,
            max_active_entities: config.max_active_entities,
            validate: storage.shared(),
            stats: entity_stats.clone(),
        };
        let mut installer = Installer::new(settings, storage.clone());
        for registration in self.registrations {
            registration.install(&mut installer);
        }
        if let Some(problem) = installer.workflow_errors().first() {
            return Err(ServiceError::Workflow(problem.clone()));
        }
        let (installed, views) = installer.into_installed();
        let views = views?;
        let kind = |kind| installed.iter().any(|i| i.info.kind == kind);
        // Actions publish; workflow steps may too, through a topic backend
        // that is configured, or the local log when the storage is one file
        // (with a shared storage, a workflow service that publishes from its
        // steps sets PLINTH_TOPICS).
        let has_actions = kind(crate::component::info::ComponentKind::Action)
            || (kind(crate::component::info::ComponentKind::Workflow)
                && !(storage.shared() && config.topics == TopicsTarget::Local));
        let dispatcher = Dispatcher::new(installed, config.max_concurrency, config.max_streams)?;
        let shared: SharedDispatch = Arc::new(dispatcher.clone());
        let scheduler =
            crate::schedule::Scheduler::new(storage.clone(), storage.shared(), self.clock.clone());
        scheduler.set_dispatch(Arc::downgrade(&shared));
        dispatcher.set_scheduler(scheduler.clone());
        let auth = Arc::new(crate::auth::Authenticator::new(
            &config.jwt_keys,
            shared.components(),
            self.clock.clone(),
        )?);
        let topics = match self.topics {
            Some(topics) => Some(topics),
            // The local log lives beside the storage file; a storage given
            // in code has none, so topics must be given too (or configured).
            None if injected_storage && config.topics == TopicsTarget::Local => None,
            None if has_actions || views.iter().any(|view| view.fed_by_topics()) => {
                Some(open_topics(&config, storage.as_ref()).await?)
            }
            None => None,
        };
        if let Some(topics) = &topics {
            tracing::info!(topics = %topics.describe(), "topics");
            let publisher = crate::eventing::Publisher::new(topics.clone(), self.clock.clone());
            dispatcher.set_publisher(Arc::new(publisher));
        }
        // On a shared storage, consumers run as slices spread over the live
        // processes.
        let membership = if storage.shared() {
            let ttl = crate::feed::LeaseConfig::DEFAULT_TTL;
            Some(crate::feed::Membership::join(storage.clone(), ttl).await)
        } else {
            None
        };
        let sharing = membership.as_ref().map(|membership| crate::feed::Sharing {
            membership: membership.clone(),
            slices: config.consumer_slices,
            ttl: crate::feed::LeaseConfig::DEFAULT_TTL,
        });
        let groups = crate::eventing::plan(shared.components());
        let eventing = crate::eventing::Eventing::start(
            groups,
            storage.clone(),
            topics.clone(),
            &config.direct_services,
            shared.clone(),
            sharing.as_ref(),
        )
        .await?;
        let subscriptions = eventing.status_sources();
        let (mut http, routes, openapi) = http_router(shared.clone(), &config, auth.clone())?;
        let status_routes = crate::view::status::router(
            views.clone(),
            subscriptions.clone(),
            entity_stats,
            dispatcher.metrics(),
            storage.clone(),
        )
        .merge(crate::schedule::status::router(scheduler.clone()))
        .merge(crate::workflow::status::router(dispatcher.workflows()))
        .merge(health::router(storage.clone(), topics.clone()))
        .merge(crate::http::openapi::router(openapi));
        let admin_here = admin_listener.is_none();
        // The direct streams this service produces, read by other services.
        if let Some(direct) = crate::eventing::direct::router(shared.components(), topics.clone()) {
            http = direct.merge(http);
        }
        if admin_here {
            http = http.merge(status_routes.clone());
        }
        let (grpc, methods) = crate::grpc::router(
            shared.clone(),
            config.max_body_bytes,
            admin_here,
            auth.clone(),
        )
        .await?;
        let doors = FrontDoors {
            grpc,
            methods: Some(methods),
            http,
            routes: Some(routes),
            admin_from_anywhere: config.admin_access == crate::config::AdminAccess::Any,
        };
        let admin = match admin_listener {
            Some(listener) => Some((
                listener,
                FrontDoors {
                    grpc: crate::grpc::admin_router(&shared).await?,
                    methods: None,
                    http: status_routes,
                    routes: None,
                    // Who reaches this address is the operator's choice.
                    admin_from_anywhere: true,
                },
            )),
            None => None,
        };
        let mut projections = Vec::new();
        for view in &views {
            projections.extend(
                view.start(sharing.as_ref(), topics.clone(), &config.direct_services)
                    .await?,
            );
        }

        let services: Vec<&str> = shared.components().iter().map(|c| c.service).collect();
        let scheme = if tls.is_some() { "https" } else { "http" };
        tracing::info!(addr = %local_addr, services = ?services, "serving gRPC and HTTP/JSON on {scheme}://{local_addr}");

        let (stop, stopped) = oneshot::channel::<()>();
        let grace = config.shutdown_grace;
        let drain = dispatcher.clone();
        let limits = crate::server::Limits {
            max_connections: config.max_connections,
            header_read_timeout: config.header_read_timeout,
            idle_timeout: config.idle_timeout,
        };
        if tls.is_none() && !local_addr.ip().is_loopback() {
            tracing::warn!(
                addr = %local_addr,
                "serving plain text on an address other hosts can reach; set PLINTH_TLS_CERT and PLINTH_TLS_KEY"
            );
        }
        if let Some(addr) = admin_addr {
            tracing::info!(%addr, "serving the admin surface (/_plinth, reflection, health) on http://{addr}");
        }
        // Calls a previous run left are queued before any new command's.
        scheduler.start().await;
        let triggers = crate::trigger::start(&shared);
        let task = tokio::spawn(async move {
            let (admin_stop, mut admin_stopped) = tokio::sync::watch::channel(false);
            let admin_task = admin.map(|(listener, doors)| {
                tokio::spawn(crate::server::serve(
                    listener,
                    doors,
                    limits,
                    None,
                    async move {
                        let _ = admin_stopped.wait_for(|stop| *stop).await;
                    },
                    grace,
                ))
            });
            let began = crate::server::serve(
                listener,
                doors,
                limits,
                tls,
                async {
                    stopped.await.unwrap_or(());
                    for trigger in &triggers {
                        trigger.abort();
                    }
                    // Undelivered calls stay stored for the next run.
                    scheduler.stop();
                    // Open streams end first, so their connections can close.
                    drain.end_streams();
                    admin_stop.send_replace(true);
                },
                grace,
            )
            .await;
            if let Some(admin_task) = admin_task {
                let _ = admin_task.await;
            }
            // Stop delivering (storing the subscriptions' offsets) before
            // the calls drain.
            eventing.shutdown().await;
            if !drain.drain(grace.saturating_sub(began.elapsed())).await {
                tracing::warn!("calls still in flight after the shutdown grace period");
            }
            for projection in projections {
                if let Err(error) = projection.shutdown().await {
                    tracing::error!(%error, "a view projection stopped with an error");
                }
            }
            if let Some(membership) = membership {
                membership.leave().await;
            }
            if !injected_storage {
                // Let the backend finish what is queued before the process ends.
                if let Err(error) = storage.close().await {
                    tracing::error!(%error, "closing the storage failed");
                }
            }
        });
        Ok(RunningService {
            local_addr,
            admin_addr,
            dispatch: shared,
            subscriptions,
            stop,
            task,
        })
    }
}

/// Open the configured topic backend. The local log lives beside an SQLite
/// storage file; with a storage several processes share it is refused.
async fn open_topics(
    config: &Config,
    storage: &dyn Storage,
) -> ServiceResult<Arc<dyn crate::eventing::Topics>> {
    let beside = match &config.storage {
        StorageTarget::Sqlite(path) => path.clone(),
        _ if config.topics == TopicsTarget::Local => {
            return Err(ServiceError::LocalTopicsOnSharedStorage {
                storage: storage.describe(),
            });
        }
        _ => config.data_dir.join("plinth.db"),
    };
    Ok(crate::eventing::open_topics(&config.topics, &beside).await?)
}

/// The HTTP/JSON front door (as a router, and what serves its routes
/// directly), and the OpenAPI document of its routes.
fn http_router(
    dispatch: SharedDispatch,
    config: &Config,
    auth: Arc<crate::auth::Authenticator>,
) -> ServiceResult<(axum::Router, Arc<crate::http::Frontend>, serde_json::Value)> {
    crate::http::router_with_auth(
        dispatch,
        HttpOptions {
            max_body_bytes: config.max_body_bytes,
        },
        auth,
    )
    .map_err(|error| ServiceError::Http(error.to_string()))
}

/// Wait for SIGTERM or Ctrl-C.
async fn shutdown_signal() -> ServiceResult<()> {
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .map_err(ServiceError::Signal)?;
        tokio::select! {
            result = tokio::signal::ctrl_c() => result.map_err(ServiceError::Signal),
            _ = term.recv() => Ok(()),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await.map_err(ServiceError::Signal)
    }
}
