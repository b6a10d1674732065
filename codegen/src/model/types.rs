//! The validated model of a set of annotated proto files: everything emission
//! needs, with option reading and validation already done. Emission reads only
//! these types.

/// Everything generated from one compilation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Model {
    /// One entry per proto package that has files to generate, sorted by name.
    pub packages: Vec<Package>,
    /// The encoded `FileDescriptorSet` of every compiled file and its imports,
    /// custom options included (what the runtime embeds).
    pub file_descriptor_set: Vec<u8>,
    /// What the build reports without failing: options Plinth accepts but
    /// does not act on, each saying why.
    pub warnings: Warnings,
    /// The messages and enums that get generated JSON codecs.
    pub json: super::json::JsonModel,
}

/// The warnings of a model, compared by kind, message and place.
#[derive(Debug, Clone, Default)]
pub struct Warnings(pub Vec<crate::error::Problem>);

impl PartialEq for Warnings {
    fn eq(&self, other: &Self) -> bool {
        let key = |p: &crate::error::Problem| (p.kind(), p.message().to_owned(), p.location());
        self.0.len() == other.0.len() && self.0.iter().map(key).eq(other.0.iter().map(key))
    }
}

/// A proto package: one generated Rust module.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Package {
    /// The proto package name (`customer.api`; empty for files without one).
    pub name: String,
    /// The components of the package's services, in declaration order.
    pub components: Vec<Component>,
}

/// A reference to a message type.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TypeRef {
    /// The fully qualified name without leading dot: `customer.domain.CustomerState`.
    pub full_name: String,
    /// The package it is declared in: `customer.domain`.
    pub package: String,
    /// Its name inside the package; nested messages have several parts:
    /// `["Outer", "Inner"]`.
    pub path: Vec<String>,
}

/// Comments attached to a proto element, one entry per line, without the `//`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Comments {
    /// The lines of the leading comment.
    pub leading: Vec<String>,
}

/// One annotated service.
#[derive(Debug, Clone, PartialEq)]
pub struct Component {
    /// The service name as declared (`CustomerService`).
    pub service_name: String,
    /// The fully qualified service name (`customer.api.CustomerService`).
    pub service_full_name: String,
    /// The component name: the last part of the declared `name`, else the
    /// service name.
    pub name: String,
    /// The service's comments.
    pub comments: Comments,
    /// What kind of component it is, with its kind-specific data.
    pub kind: ComponentKind,
    /// The rpcs, in declaration order.
    pub methods: Vec<Method>,
    /// The messages its methods take or return that have a generated JSON
    /// codec, each once.
    pub json_codecs: Vec<TypeRef>,
}

/// The kind of a component.
#[derive(Debug, Clone, PartialEq)]
pub enum ComponentKind {
    /// A value entity.
    ValueEntity {
        /// The storage name.
        type_id: String,
        /// The state message.
        state: TypeRef,
    },
    /// An event-sourced entity.
    EventSourcedEntity {
        /// The storage name.
        type_id: String,
        /// The state message.
        state: TypeRef,
        /// The event messages, in declaration order (at least one, no duplicates).
        events: Vec<TypeRef>,
        /// Snapshot interval (0 = runtime default, negative = never).
        snapshot_every: i32,
    },
    /// A stateless action.
    Action,
    /// A view.
    View {
        /// The tables its update methods store into, in first-use order.
        tables: Vec<Table>,
    },
    /// A workflow.
    Workflow {
        /// The storage name.
        type_id: String,
        /// The state message.
        state: TypeRef,
    },
}

/// A view table.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// The table name.
    pub name: String,
    /// The row message (the output type of its update methods).
    pub row: TypeRef,
}

/// One rpc.
#[derive(Debug, Clone, PartialEq)]
pub struct Method {
    /// The rpc name as declared (`AddItem`).
    pub name: String,
    /// The input message.
    pub input: TypeRef,
    /// The output message.
    pub output: TypeRef,
    /// Whether the rpc streams its replies.
    pub server_streaming: bool,
    /// Whether the rpc takes a stream of requests (actions only).
    pub client_streaming: bool,
    /// The rpc's comments.
    pub comments: Comments,
    /// Where the entity id comes from (stateful components only).
    pub id: IdSpec,
    /// The HTTP bindings: the `google.api.http` rule and its additional
    /// bindings, or the single default `POST /package.Service/Method`.
    pub http: Vec<HttpBinding>,
    /// What feeds the method (its own `subscribe`, else the service default).
    pub subscribe: Option<Subscription>,
    /// The method's role in a view.
    pub view: Option<ViewRole>,
    /// The compiled view plan the runtime executes, as JSON: a
    /// `plinth_view_plan::TablePlan` for update methods, a
    /// `plinth_view_plan::CompiledQuery` for query methods.
    pub view_plan: Option<String>,
    /// The topic the method's results go to.
    pub publish: Option<String>,
    /// The access rules in force (method, else service, else file).
    pub acl: Option<Acl>,
    /// Token validation in force (method, else service).
    pub jwt: Option<Jwt>,
    /// Called by the runtime at every start, retried this many times after
    /// a failure (`trigger = { on: STARTUP }`).
    pub startup_retries: Option<u32>,
}

/// Where a command's entity id comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdSpec {
    /// Not a command of a stateful component.
    None,
    /// The values of these fields, joined with `/` in order (see
    /// `plinth::codegen::join_id` for the escaping of several).
    Fields(Vec<IdField>),
    /// A generated UUID.
    GeneratedUuid,
}

/// One id field, possibly inside a message field (`key.customer_id`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdField {
    /// The proto field names from the input message down to the id field.
    pub path: Vec<String>,
    /// The id field's type.
    pub kind: IdKind,
}

/// Types an id field may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdKind {
    /// `string`.
    String,
    /// Any integer type (`int32`, `uint64`, `sint64`, `fixed32`, ...).
    Integer,
}

/// One HTTP binding of a method.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpBinding {
    /// The HTTP method.
    pub method: HttpMethod,
    /// The parsed path template.
    pub template: PathTemplate,
    /// Where the request body goes.
    pub body: BodySelector,
    /// The response field sent as the body.
    pub response_body: Option<String>,
}

/// An HTTP method.
#[derive(Debug, Clone, PartialEq, Eq)]
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
    /// `custom { kind }`; `*` is any method.
    Custom(String),
}

/// A parsed path template (`/v1/{name=shelves/*}/books:publish`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathTemplate {
    /// The template as written.
    pub source: String,
    /// The segments after the leading `/`.
    pub segments: Vec<Segment>,
    /// The custom verb after the last `:`.
    pub verb: Option<String>,
}

/// A segment of a path template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    /// A literal.
    Literal(String),
    /// `*`.
    Wildcard,
    /// `**` (last segment only).
    DoubleWildcard,
    /// `{field.path}` or `{field.path=pattern}`.
    Variable {
        /// The field path.
        field_path: Vec<String>,
        /// The pattern (literals and wildcards; `[Wildcard]` when not written).
        pattern: Vec<Segment>,
    },
}

/// Where an HTTP request body goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodySelector {
    /// No body.
    None,
    /// `*`.
    Whole,
    /// One top-level field.
    Field(String),
}

/// The source feeding a method.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    /// The source.
    pub source: Source,
    /// The consumer group (empty: one per service).
    pub consumer_group: String,
    /// Drop this method's input type without calling user code.
    pub ignore: bool,
    /// Skip event types no method handles.
    pub ignore_unknown: bool,
    /// The method receives value-entity deletes.
    pub handle_deletes: bool,
    /// The method receives snapshots.
    pub handle_snapshots: bool,
}

/// A source of messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// State changes of the value entity with this type_id.
    ValueEntity(String),
    /// Events of the event-sourced entity with this type_id.
    EventSourcedEntity(String),
    /// A topic (may hold `${ENV}` templates).
    Topic(String),
    /// Another service's direct event stream.
    Direct {
        /// The producing service, as configured (may hold `${ENV}` templates).
        service: String,
        /// The stream's id.
        stream: String,
    },
}

/// A method's role in a view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ViewRole {
    /// Stores rows of `table`.
    Update {
        /// The table.
        table: String,
        /// Whether user code computes the row (declared, or implied by a
        /// Kalix-style input type different from the row type).
        transform_updates: bool,
    },
    /// Answers a query.
    Query {
        /// The query text.
        sql: String,
        /// Whether changes stream after the result.
        stream_updates: bool,
    },
}

/// Access rules.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Acl {
    /// Principals that may call.
    pub allow: Vec<Principal>,
    /// Principals that may not call.
    pub deny: Vec<Principal>,
    /// The gRPC code of denied calls (7 when not given).
    pub deny_code: u32,
}

/// A principal matcher.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// Everyone.
    All,
    /// Callers from outside the deployment.
    Internet,
    /// A service name glob.
    Service(String),
}

/// Bearer-token validation.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Jwt {
    /// Requests must carry a valid bearer token.
    pub validate_bearer_token: bool,
    /// Accepted issuers (empty: any).
    pub issuers: Vec<String>,
    /// Required claims `(claim, value)`.
    pub static_claims: Vec<(String, String)>,
    /// Input fields filled from claims of the validated token.
    pub claim_fields: Vec<ClaimField>,
}

/// An input field filled from a claim of the validated token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimField {
    /// The claim name, e.g. `sub`.
    pub claim: String,
    /// The field name.
    pub field: String,
    /// The field number.
    pub number: u32,
}
