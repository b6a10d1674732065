//! Descriptors to a validated model.
//!
//! All option reading and validation lives here: [`options`] reads Plinth's
//! options and [`kalix`] the Kalix compatibility names into the same
//! declarations; [`component`] resolves and checks one service; [`validate`]
//! checks what spans components (type ids, subscriptions, routes); [`http`]
//! checks HTTP bindings and [`template`] parses their path templates; [`id`]
//! finds command ids; [`span`] turns descriptor paths into source spans.
//! Every problem is collected and reported together.

mod component;
mod direct;
mod http;
mod id;
mod json;
mod jwt;
mod kalix;
mod options;
mod span;
mod template;
mod types;
mod validate;
mod view;

pub use json::{JsonField, JsonMessage, JsonModel, Scalar, Shape, ValueKind};
pub use template::parse_template;
pub use types::*;

use std::collections::BTreeMap;

use prost_reflect::{DescriptorPool, ExtensionDescriptor, FileDescriptor, MessageDescriptor};

use crate::error::{ErrorKind, Problem};
use crate::{Error, Result, Sources};

use span::Loc;

/// Read and validate every Plinth (and Kalix) option of `pool`.
///
/// Returns every problem found, not only the first.
pub fn build(pool: &DescriptorPool, sources: &Sources) -> Result<Model> {
    let mut ctx = Ctx::new(pool, sources);
    let mut packages: BTreeMap<String, Vec<Component>> = BTreeMap::new();
    let mut built = Vec::new();
    for file in pool.files() {
        if is_infrastructure(file.name()) {
            continue;
        }
        let package = packages.entry(file.package_name().to_owned()).or_default();
        for service in file.services() {
            if let Some(b) = component::build(&mut ctx, &service) {
                package.push(b.component.clone());
                built.push(b);
            }
        }
    }
    validate::check(&mut ctx, &built);
    jwt::stray(&mut ctx, &built);
    if let Some(error) = Error::from_problems(ctx.problems) {
        return Err(error);
    }
    let json = json::build(pool, &packages.values().flatten().collect::<Vec<_>>());
    for component in packages.values_mut().flatten() {
        let mut codecs: Vec<TypeRef> = Vec::new();
        for method in &component.methods {
            for ty in [&method.input, &method.output] {
                if json.has(&ty.full_name) && !codecs.contains(ty) {
                    codecs.push(ty.clone());
                }
            }
        }
        component.json_codecs = codecs;
    }
    Ok(Model {
        packages: packages
            .into_iter()
            .map(|(name, components)| Package { name, components })
            .collect(),
        file_descriptor_set: pool.encode_to_vec(),
        warnings: types::Warnings(ctx.warnings),
        json,
    })
}

/// Files that are part of the toolchain, not of the user's service.
fn is_infrastructure(name: &str) -> bool {
    ["google/protobuf/", "google/api/", "plinth/", "kalix/"]
        .iter()
        .any(|prefix| name.starts_with(prefix))
}

/// The fully qualified name a type name written in package `package` means:
/// a leading `.` is relative to the package, a name without dots is in the
/// package, anything else is already fully qualified.
pub(crate) fn qualify(package: &str, name: &str) -> String {
    let relative = name
        .strip_prefix('.')
        .or((!name.contains('.')).then_some(name));
    match relative {
        Some(rest) if !package.is_empty() => format!("{package}.{rest}"),
        Some(rest) => rest.to_owned(),
        None => name.to_owned(),
    }
}

/// The reference to message `message`.
pub(crate) fn type_ref(message: &MessageDescriptor) -> TypeRef {
    let package = message.package_name().to_owned();
    let full_name = message.full_name().to_owned();
    let local = if package.is_empty() {
        full_name.as_str()
    } else {
        full_name
            .strip_prefix(&package)
            .and_then(|rest| rest.strip_prefix('.'))
            .unwrap_or(&full_name)
    };
    TypeRef {
        path: local.split('.').map(str::to_owned).collect(),
        full_name: full_name.clone(),
        package,
    }
}

/// The extensions options are read from (absent when no compiled file
/// imports the proto declaring them).
#[derive(Debug, Default)]
pub(crate) struct Extensions {
    pub plinth_component: Option<ExtensionDescriptor>,
    pub plinth_method: Option<ExtensionDescriptor>,
    pub plinth_field: Option<ExtensionDescriptor>,
    pub plinth_file: Option<ExtensionDescriptor>,
    pub kalix_codegen: Option<ExtensionDescriptor>,
    pub kalix_service: Option<ExtensionDescriptor>,
    pub kalix_method: Option<ExtensionDescriptor>,
    pub kalix_field: Option<ExtensionDescriptor>,
    pub kalix_file: Option<ExtensionDescriptor>,
    pub kalix_message: Option<ExtensionDescriptor>,
    pub google_http: Option<ExtensionDescriptor>,
}

/// The state of one model build: the pool, the extensions, the problems.
#[derive(Debug)]
pub(crate) struct Ctx<'a> {
    pub pool: &'a DescriptorPool,
    pub sources: &'a Sources,
    pub ext: Extensions,
    pub problems: Vec<Problem>,
    pub warnings: Vec<Problem>,
}

impl<'a> Ctx<'a> {
    fn new(pool: &'a DescriptorPool, sources: &'a Sources) -> Self {
        let get = |name: &str| pool.get_extension_by_name(name);
        Ctx {
            pool,
            sources,
            ext: Extensions {
                plinth_component: get("plinth.component"),
                plinth_method: get("plinth.method"),
                plinth_field: get("plinth.field"),
                plinth_file: get("plinth.file"),
                kalix_codegen: get("kalix.codegen"),
                kalix_service: get("kalix.service"),
                kalix_method: get("kalix.method"),
                kalix_field: get("kalix.field"),
                kalix_file: get("kalix.file"),
                kalix_message: get("kalix.message"),
                google_http: get("google.api.http"),
            },
            problems: Vec::new(),
            warnings: Vec::new(),
        }
    }

    /// Records a problem of `kind` labelled `label` at `loc`, with a hint.
    pub fn error(
        &mut self,
        kind: ErrorKind,
        loc: &Loc,
        label: impl Into<String>,
        message: impl Into<String>,
        help: impl Into<String>,
    ) {
        let problem = self.located(kind, loc, label, message, help);
        self.problems.push(problem);
    }

    /// Reports a warning: the build goes on.
    pub fn warning(
        &mut self,
        kind: ErrorKind,
        loc: &Loc,
        label: impl Into<String>,
        message: impl Into<String>,
        help: impl Into<String>,
    ) {
        let problem = self.located(kind, loc, label, message, help).as_warning();
        self.warnings.push(problem);
    }

    fn located(
        &self,
        kind: ErrorKind,
        loc: &Loc,
        label: impl Into<String>,
        message: impl Into<String>,
        help: impl Into<String>,
    ) -> Problem {
        let mut problem = Problem::new(kind, message).with_help(help);
        let file = self.pool.get_file_by_name(&loc.file);
        if let (Some(file), Some(text)) = (file, self.sources.get(&loc.file))
            && let Some(span) = span::span(&file, loc, text)
        {
            problem = problem.with_label(&loc.file, text.clone(), span, label);
        }
        problem
    }

    /// Resolves type name `name` written in `file` (see [`qualify`]); reports
    /// an unknown type at `loc`.
    pub fn resolve(
        &mut self,
        file: &FileDescriptor,
        name: &str,
        what: &str,
        loc: &Loc,
    ) -> Option<MessageDescriptor> {
        if name.is_empty() {
            self.error(
                ErrorKind::InvalidOption,
                loc,
                format!("no {what}"),
                format!("the component declares no {what} message"),
                format!("set `{what}: \"<MessageName>\"` in the component option"),
            );
            return None;
        }
        let full = qualify(file.package_name(), name);
        let found = self.pool.get_message_by_name(&full);
        if found.is_none() {
            self.error(
                ErrorKind::UnknownType,
                &loc.clone().at(name),
                "unknown message",
                format!("{what} type `{name}` does not exist (looked for `{full}`)"),
                "write the fully qualified message name (`package.Message`), a name of this \
                 file's package, or `.Message` relative to it; and check that the file declaring \
                 it is compiled or imported",
            );
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qualifies_names_like_the_annotation_contract_says() {
        assert_eq!(
            qualify("customer.api", "CustomerState"),
            "customer.api.CustomerState"
        );
        assert_eq!(
            qualify("customer.api", ".domain.State"),
            "customer.api.domain.State"
        );
        assert_eq!(
            qualify("customer.api", "customer.domain.CustomerState"),
            "customer.domain.CustomerState"
        );
        assert_eq!(qualify("", "State"), "State");
        assert_eq!(qualify("", ".State"), "State");
    }
}

#[cfg(test)]
mod build_tests;
