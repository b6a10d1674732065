//! Registering generated components with a service.

use std::fmt;
use std::sync::Arc;

use super::adapter::{
    ActionAdapter, EventSourcedAdapter, ValueEntityAdapter, ViewAdapter, WorkflowAdapter,
};
use super::info::ComponentInfo;
use crate::dispatcher::{Handler, Installed};
use crate::executor::ExecutorSettings;
use crate::executor::event_sourced::EventSourcedRunner;
use crate::executor::value::ValueEntityRunner;
use crate::view::{ViewEngine, ViewError};
use crate::workflow::runner::WorkflowRunner;

/// Something a service can serve: a generated component wrapping a user's
/// implementation (`CustomerEntityComponent::new(MyCustomer)`).
pub trait Component {
    /// Turn the component into a registration.
    fn into_registration(self) -> Registration;
}

impl Component for Registration {
    fn into_registration(self) -> Registration {
        self
    }
}

/// A component ready to be installed: its description and how to install it.
pub struct Registration {
    info: &'static ComponentInfo,
    install: Box<dyn FnOnce(&mut Installer) + Send>,
}

impl fmt::Debug for Registration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registration")
            .field("service", &self.info.service)
            .finish_non_exhaustive()
    }
}

impl Registration {
    /// A value entity.
    pub fn value_entity<A: ValueEntityAdapter>(adapter: A) -> Registration {
        Registration {
            info: adapter.info(),
            install: Box::new(move |i| i.value_entity(adapter)),
        }
    }

    /// An event-sourced entity.
    pub fn event_sourced<A: EventSourcedAdapter>(adapter: A) -> Registration {
        Registration {
            info: adapter.info(),
            install: Box::new(move |i| i.event_sourced(adapter)),
        }
    }

    /// A workflow.
    pub fn workflow<A: WorkflowAdapter>(adapter: A) -> Registration {
        Registration {
            info: adapter.info(),
            install: Box::new(move |i| i.workflow(adapter)),
        }
    }

    /// An action.
    pub fn action<A: ActionAdapter>(adapter: A) -> Registration {
        Registration {
            info: adapter.info(),
            install: Box::new(move |i| i.action(adapter)),
        }
    }

    /// A view.
    pub fn view<A: ViewAdapter>(adapter: A) -> Registration {
        Registration {
            info: adapter.info(),
            install: Box::new(move |i| i.view(adapter)),
        }
    }

    /// The component's description.
    pub fn info(&self) -> &'static ComponentInfo {
        self.info
    }

    /// Install the component.
    pub fn install(self, installer: &mut Installer) {
        (self.install)(installer)
    }
}

/// Collects installed components (the runtime's side of a registration): each
/// entity gets its executor, each action and view its handler.
pub struct Installer {
    settings: ExecutorSettings,
    storage: Arc<dyn crate::storage::Storage>,
    installed: Vec<Installed>,
    views: Vec<Arc<ViewEngine>>,
    view_errors: Vec<ViewError>,
    workflow_errors: Vec<String>,
}

impl Installer {
    /// An installer whose entities run with `settings` and whose views
    /// live in `storage`.
    pub(crate) fn new(
        settings: ExecutorSettings,
        storage: Arc<dyn crate::storage::Storage>,
    ) -> Installer {
        Installer {
            settings,
            storage,
            installed: Vec::new(),
            views: Vec::new(),
            view_errors: Vec::new(),
            workflow_errors: Vec::new(),
        }
    }

    /// The installed components, in registration order, and the engines of
    /// the views among them (or the first view that cannot be served).
    pub(crate) fn into_installed(
        self,
    ) -> (Vec<Installed>, Result<Vec<Arc<ViewEngine>>, ViewError>) {
        let views = match self.view_errors.into_iter().next() {
            Some(error) => Err(error),
            None => Ok(self.views),
        };
        (self.installed, views)
    }

    /// Why workflows cannot run, one line each (their definitions are
    /// checked at install).
    pub(crate) fn workflow_errors(&self) -> &[String] {
        &self.workflow_errors
    }

    fn push(&mut self, info: &'static ComponentInfo, handler: Handler) {
        self.installed.push(Installed { info, handler });
    }

    fn value_entity<A: ValueEntityAdapter>(&mut self, adapter: A) {
        let info = adapter.info();
        let runner = ValueEntityRunner::new(adapter, self.settings.clone());
        self.push(info, Handler::Entity(Arc::new(runner)));
    }

    fn event_sourced<A: EventSourcedAdapter>(&mut self, adapter: A) {
        let info = adapter.info();
        let runner = EventSourcedRunner::new(adapter, self.settings.clone());
        self.push(info, Handler::Entity(Arc::new(runner)));
    }

    fn workflow<A: WorkflowAdapter>(&mut self, adapter: A) {
        let info = adapter.info();
        match WorkflowRunner::new(adapter, self.settings.clone()) {
            Ok(runner) => self.push(info, Handler::Workflow(Arc::new(runner))),
            Err(error) => self.workflow_errors.push(error),
        }
    }

    fn action<A: ActionAdapter>(&mut self, adapter: A) {
        let info = adapter.info();
        self.push(info, Handler::Action(Arc::new(adapter)));
    }

    fn view<A: ViewAdapter>(&mut self, adapter: A) {
        let info = adapter.info();
        match ViewEngine::new(Arc::new(adapter), self.storage.clone()) {
            Ok(engine) => {
                let engine = Arc::new(engine);
                self.views.push(engine.clone());
                self.push(info, Handler::View(engine));
            }
            Err(error) => self.view_errors.push(error),
        }
    }
}

impl fmt::Debug for Installer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Installer")
            .field("installed", &self.installed.len())
            .finish()
    }
}
