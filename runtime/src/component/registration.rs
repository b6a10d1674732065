//! Registering generated components with a service.

use std::fmt;

use super::adapter::{ActionAdapter, EventSourcedAdapter, ValueEntityAdapter, ViewAdapter};
use super::info::ComponentInfo;

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

/// Collects installed components (the runtime's side of a registration).
#[derive(Default)]
pub struct Installer {
    pub(crate) installed: Vec<&'static ComponentInfo>,
}

impl Installer {
    fn value_entity<A: ValueEntityAdapter>(&mut self, adapter: A) {
        self.installed.push(adapter.info());
    }

    fn event_sourced<A: EventSourcedAdapter>(&mut self, adapter: A) {
        self.installed.push(adapter.info());
    }

    fn action<A: ActionAdapter>(&mut self, adapter: A) {
        self.installed.push(adapter.info());
    }

    fn view<A: ViewAdapter>(&mut self, adapter: A) {
        self.installed.push(adapter.info());
    }
}

impl fmt::Debug for Installer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Installer")
            .field("installed", &self.installed.len())
            .finish()
    }
}
