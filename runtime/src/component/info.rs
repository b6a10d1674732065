//! Static descriptions of generated components: what the generator knows about a
//! service, its methods and their HTTP routes, as constants the runtime reads.

/// The kind of a component.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ComponentKind {
    /// A value entity.
    ValueEntity,
    /// An event-sourced entity.
    EventSourcedEntity,
    /// A stateless action.
    Action,
    /// A view.
    View,
    /// A workflow.
    Workflow,
}

/// A generated component: one annotated service.
#[derive(Debug)]
pub struct ComponentInfo {
    /// The kind.
    pub kind: ComponentKind,
    /// The component name (the trait name).
    pub name: &'static str,
    /// The fully qualified service name, `package.Service`.
    pub service: &'static str,
    /// The storage name of stateful components; empty otherwise.
    pub type_id: &'static str,
    /// The fully qualified state message of stateful components; empty otherwise.
    pub state_type: &'static str,
    /// The fully qualified event messages of event-sourced entities.
    pub event_types: &'static [&'static str],
    /// Snapshot interval of event-sourced entities (0 = runtime default,
    /// negative = never).
    pub snapshot_every: i32,
    /// The methods, in declaration order.
    pub methods: &'static [MethodInfo],
    /// The encoded `FileDescriptorSet` (options included) of the service's
    /// files and their imports.
    pub file_descriptor_set: &'static [u8],
    /// The generated JSON codecs of the messages its methods take and return
    /// (those that have one; the others are transcoded by reflection).
    pub json: &'static [crate::http::typed_json::JsonCodec],
}

impl ComponentInfo {
    /// The method with this gRPC path (`/package.Service/Method`).
    pub fn method_by_path(&self, path: &str) -> Option<(usize, &'static MethodInfo)> {
        self.methods
            .iter()
            .enumerate()
            .find(|(_, m)| m.path == path)
    }
}

/// One rpc of a component.
#[derive(Debug)]
pub struct MethodInfo {
    /// The rpc name.
    pub name: &'static str,
    /// The gRPC path, `/package.Service/Method`.
    pub path: &'static str,
    /// The fully qualified input message.
    pub input_type: &'static str,
    /// The fully qualified output message.
    pub output_type: &'static str,
    /// Whether the method streams its replies.
    pub server_streaming: bool,
    /// Whether the method takes a stream of requests (actions only).
    pub client_streaming: bool,
    /// Where a command's entity id comes from (stateful components).
    pub id: IdSource,
    /// The HTTP routes of the method (its `google.api.http` rule and additional
    /// bindings, or the default `POST /package.Service/Method`).
    pub http: &'static [HttpRule],
    /// What feeds the method, if it is subscribed.
    pub subscribe: Option<Subscription>,
    /// The view role of the method.
    pub view: Option<ViewMethod>,
    /// The topic the method's results are published to.
    pub publish: Option<&'static str>,
    /// The access rules in force for the method (method, else service, else file).
    pub acl: Option<Acl>,
    /// Token validation in force for the method.
    pub jwt: Option<Jwt>,
    /// Called by the runtime when the service starts.
    pub trigger: Option<Trigger>,
}

/// A method the runtime calls by itself when the service starts (with an
/// empty input), retrying a failure with backoff.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Trigger {
    /// Calls retried after the first one fails, before giving up.
    pub max_retries: u32,
}

impl MethodInfo {
    /// Whether callers outside the service may call the method. A method fed
    /// by a subscription, and a view's update method, is internal (the
    /// runtime calls it with events it read itself) unless its proto binds
    /// it to an HTTP route of its own or gives it an ACL that allows the
    /// internet (`INTERNET` or `ALL`, and neither denied).
    pub(crate) fn public(&self) -> bool {
        let internal =
            self.subscribe.is_some() || matches!(self.view, Some(ViewMethod::Update { .. }));
        let open = |list: &[Principal]| {
            list.iter()
                .any(|p| matches!(p, Principal::All | Principal::Internet))
        };
        !internal
            || self
                .acl
                .is_some_and(|acl| open(acl.allow) && !open(acl.deny))
            || self.http.iter().any(|rule| !self.is_default_route(rule))
    }

    /// Whether `rule` is the default `POST /package.Service/Method` binding.
    pub(crate) fn is_default_route(&self, rule: &HttpRule) -> bool {
        rule.method == HttpMethod::Post && rule.template.source == self.path
    }
}

/// Where the entity id of a command comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdSource {
    /// Not a stateful component's command.
    None,
    /// These field paths of the input, joined with `/`.
    Fields(&'static [&'static [&'static str]]),
    /// Generated by the runtime (a version 4 UUID).
    GeneratedUuid,
}

/// The source feeding a subscribed method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subscription {
    /// The source.
    pub source: SourceKind,
    /// The consumer group (empty: one per service).
    pub consumer_group: &'static str,
    /// Drop this method's input type without calling it.
    pub ignore: bool,
    /// Skip event types no method handles.
    pub ignore_unknown: bool,
    /// The method receives value-entity deletes.
    pub handle_deletes: bool,
    /// The method receives snapshots.
    pub handle_snapshots: bool,
}

/// A kind of source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceKind {
    /// State changes of the value entity with this type_id.
    ValueEntity(&'static str),
    /// Events of the event-sourced entity with this type_id.
    EventSourcedEntity(&'static str),
    /// Messages of this topic (may contain `${ENV}` templates).
    Topic(&'static str),
    /// Another service's direct event stream, read from that service.
    Direct {
        /// The producing service, as configured (may contain `${ENV}` templates).
        service: &'static str,
        /// The stream's id.
        stream: &'static str,
    },
}

/// The role of a view method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ViewMethod {
    /// Stores rows of `table`.
    Update {
        /// The table.
        table: &'static str,
        /// Whether user code computes the row.
        transform_updates: bool,
        /// The table's compiled plan (a `plinth_view_plan::TablePlan` as JSON).
        plan: &'static str,
    },
    /// Answers a query.
    Query {
        /// The query text.
        sql: &'static str,
        /// Whether changes stream after the result.
        stream_updates: bool,
        /// The query compiled at build time (a `plinth_view_plan::CompiledQuery`
        /// as JSON): SQL per dialect, parameter plan and result mapping.
        plan: &'static str,
    },
}

/// Access rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Acl {
    /// Principals that may call.
    pub allow: &'static [Principal],
    /// Principals that may not call.
    pub deny: &'static [Principal],
    /// The gRPC code of denied calls.
    pub deny_code: u32,
}

/// A principal matcher.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Principal {
    /// Everyone.
    All,
    /// Callers from outside the deployment.
    Internet,
    /// Another service, by name glob.
    Service(&'static str),
}

/// Bearer-token validation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Jwt {
    /// Requests must carry a valid bearer token.
    pub validate_bearer_token: bool,
    /// Accepted issuers (empty: any).
    pub issuers: &'static [&'static str],
    /// Required claims `(claim, value)`.
    pub static_claims: &'static [(&'static str, &'static str)],
    /// Request fields filled from claims of the validated token.
    pub claim_fields: &'static [ClaimField],
}

/// A request field filled from a claim of the validated token (a singular
/// `string` field of the method's input).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClaimField {
    /// The claim, e.g. `sub`.
    pub claim: &'static str,
    /// The field's name (for messages).
    pub field: &'static str,
    /// The field's number.
    pub number: u32,
}

/// One HTTP binding of a method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpRule {
    /// The HTTP method.
    pub method: HttpMethod,
    /// The path template.
    pub template: PathTemplate,
    /// Where the request body goes.
    pub body: BodySelector,
    /// The response field sent as the body (`None`: the whole response).
    pub response_body: Option<&'static str>,
}

/// An HTTP method of a binding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpMethod {
    /// GET.
    Get,
    /// PUT.
    Put,
    /// POST.
    Post,
    /// DELETE.
    Delete,
    /// PATCH.
    Patch,
    /// A custom method name, or `*` for any.
    Custom(&'static str),
}

/// A parsed `google.api.http` path template: `/segments[:verb]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PathTemplate {
    /// The template text as written.
    pub source: &'static str,
    /// The segments after the leading `/`.
    pub segments: &'static [Segment],
    /// The custom verb after `:` in the last segment.
    pub verb: Option<&'static str>,
}

/// A segment of a path template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Segment {
    /// A literal segment.
    Literal(&'static str),
    /// `*`: exactly one segment.
    Wildcard,
    /// `**`: zero or more segments (last only).
    DoubleWildcard,
    /// `{field.path}` or `{field.path=pattern}`: binds the matched text to a
    /// request field. The pattern defaults to `*`.
    Variable {
        /// The field path, e.g. `["shelf", "name"]`.
        field_path: &'static [&'static str],
        /// The pattern's segments (literals and wildcards only).
        pattern: &'static [Segment],
    },
}

/// Where an HTTP request body goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodySelector {
    /// No body: fields come from the path and the query string.
    None,
    /// `*`: the body is the request message (path fields override).
    Whole,
    /// The body is this top-level field; other fields come from the query string.
    Field(&'static str),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn method(subscribed: bool, acl: Option<Acl>, http: &'static [HttpRule]) -> MethodInfo {
        MethodInfo {
            name: "OnChanged",
            path: "/counter.CounterEvents/OnChanged",
            input_type: "counter.CounterState",
            output_type: "counter.CounterChanged",
            server_streaming: false,
            client_streaming: false,
            id: IdSource::None,
            http,
            subscribe: subscribed.then_some(Subscription {
                source: SourceKind::ValueEntity("counters"),
                consumer_group: "",
                ignore: false,
                ignore_unknown: false,
                handle_deletes: false,
                handle_snapshots: false,
            }),
            view: None,
            publish: None,
            acl,
            jwt: None,
            trigger: None,
        }
    }

    fn acl(allow: &'static [Principal], deny: &'static [Principal]) -> Option<Acl> {
        Some(Acl {
            allow,
            deny,
            deny_code: 0,
        })
    }

    #[test]
    fn subscribed_methods_are_internal_unless_opened_to_the_internet() {
        assert!(method(false, None, &[]).public());
        assert!(!method(true, None, &[]).public());
        assert!(method(true, acl(&[Principal::Internet], &[]), &[]).public());
        assert!(method(true, acl(&[Principal::All], &[]), &[]).public());
        // Allowing another service does not open it to everyone.
        assert!(!method(true, acl(&[Principal::Service("billing")], &[]), &[]).public());
        assert!(!method(true, acl(&[Principal::All], &[Principal::Internet]), &[]).public());
    }
}
