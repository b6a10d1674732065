//! The names of a component's generated items, and the check that they clash
//! with nothing else in the package.

use std::collections::BTreeMap;

use proc_macro2::Ident;
use prost_reflect::DescriptorPool;

use crate::Result;
use crate::model::{Component, ComponentKind, ViewRole};
use crate::naming::{self, ident};

/// The generated item names of one component.
#[derive(Debug, Clone)]
pub struct Names {
    /// The trait users implement (`CustomerEntity`); for a view without
    /// transforming updates, the unit component struct.
    pub trait_name: Ident,
    /// The component wrapping an implementation (`CustomerEntityComponent`).
    pub component: Ident,
    /// The static `ComponentInfo` (`CUSTOMER_ENTITY_INFO`).
    pub info: Ident,
    /// The decoded-command enum (`CustomerEntityCommand`).
    pub command: Ident,
    /// The event enum of an event-sourced entity (`CustomerEntityEvent`).
    pub event: Ident,
    /// The effect alias of an event-sourced entity (`CustomerEntityEffect`).
    pub effect: Ident,
    /// The typed client (`CustomerServiceClient`).
    pub client: Ident,
    /// The test kit (`CustomerEntityTestKit`).
    pub test_kit: Ident,
}

/// The kind suffix of a component's trait.
pub fn kind_suffix(kind: &ComponentKind) -> &'static str {
    match kind {
        ComponentKind::ValueEntity { .. } | ComponentKind::EventSourcedEntity { .. } => "Entity",
        ComponentKind::Action => "Action",
        ComponentKind::View { .. } => "View",
        ComponentKind::Workflow { .. } => "Workflow",
    }
}

/// Whether a view has update methods that call user code.
pub fn view_transforms(component: &Component) -> bool {
    component.methods.iter().any(|method| {
        matches!(
            method.view,
            Some(ViewRole::Update {
                transform_updates: true,
                ..
            })
        ) && !method.subscribe.as_ref().is_some_and(|s| s.ignore)
    })
}

/// The type-namespace names already used in a package, with what uses them.
#[derive(Debug, Default)]
pub struct Taken {
    names: BTreeMap<String, String>,
}

impl Taken {
    /// The top-level messages and enums of `package` (prost's items).
    pub fn of_package(pool: &DescriptorPool, package: &str) -> Taken {
        let mut names = BTreeMap::new();
        for message in pool.all_messages() {
            if message.package_name() == package && message.parent_message().is_none() {
                names.insert(
                    naming::upper_camel(message.name()),
                    format!("message `{}`", message.full_name()),
                );
            }
        }
        for enumeration in pool.all_enums() {
            if enumeration.package_name() == package && enumeration.parent_message().is_none() {
                names.insert(
                    naming::upper_camel(enumeration.name()),
                    format!("enum `{}`", enumeration.full_name()),
                );
            }
        }
        Taken { names }
    }

    /// Mark `name` as used by `what`.
    #[cfg(test)]
    pub fn insert(&mut self, name: &str, what: &str) {
        self.names.insert(name.to_owned(), what.to_owned());
    }

    /// Reserve the names of `component`'s items, failing on a clash.
    pub fn reserve(&mut self, component: &Component) -> Result<Names> {
        let base = naming::trait_name(&component.name, kind_suffix(&component.kind));
        let stripped = base.trim_start_matches("r#");
        let names = Names {
            trait_name: ident(&base),
            component: ident(&format!("{stripped}Component")),
            info: ident(&format!(
                "{}_INFO",
                naming::screaming_snake(stripped).trim_start_matches("r#")
            )),
            command: ident(&format!("{stripped}Command")),
            event: ident(&format!("{stripped}Event")),
            effect: ident(&format!("{stripped}Effect")),
            client: ident(&format!(
                "{}Client",
                naming::upper_camel(&component.service_name).trim_start_matches("r#")
            )),
            test_kit: ident(&format!("{stripped}TestKit")),
        };
        let owner = format!("service `{}`", component.service_full_name);
        let mut generated = vec![
            names.trait_name.to_string(),
            names.info.to_string(),
            names.client.to_string(),
        ];
        match &component.kind {
            ComponentKind::ValueEntity { .. } | ComponentKind::Workflow { .. } => {
                generated.extend([
                    names.component.to_string(),
                    names.command.to_string(),
                    names.test_kit.to_string(),
                ]);
            }
            ComponentKind::EventSourcedEntity { .. } => generated.extend([
                names.component.to_string(),
                names.command.to_string(),
                names.event.to_string(),
                names.effect.to_string(),
                names.test_kit.to_string(),
            ]),
            ComponentKind::Action => {
                generated.extend([names.component.to_string(), names.test_kit.to_string()])
            }
            ComponentKind::View { .. } if view_transforms(component) => {
                generated.extend([names.component.to_string(), names.test_kit.to_string()])
            }
            ComponentKind::View { .. } => {}
        }
        for name in generated {
            let name = name.trim_start_matches("r#").to_owned();
            if let Some(other) = self.names.get(&name) {
                return Err(super::error(format!(
                    "{owner} (component `{}`) generates the Rust item `{name}`, which clashes with {other} \
                     of package `{}`; hint: set `name:` in the service's `(plinth.component)` option to \
                     choose another name",
                    component.name,
                    component
                        .service_full_name
                        .rsplit_once('.')
                        .map_or("", |(package, _)| package),
                )));
            }
            self.names
                .insert(name, format!("the generated code of {owner}"));
        }
        Ok(names)
    }
}

/// Fail when two handlers of a trait would get the same Rust name.
pub fn check_handlers<'a>(
    component: &Component,
    handlers: impl IntoIterator<Item = (String, &'a str)>,
) -> Result<()> {
    let mut seen: BTreeMap<String, &str> = BTreeMap::new();
    for (name, source) in handlers {
        if let Some(first) = seen.insert(name.clone(), source) {
            return Err(super::error(format!(
                "service `{}`: {first} and {source} both become the trait method `{name}`; hint: rename one of them",
                component.service_full_name
            )));
        }
    }
    Ok(())
}
