//! Diagnostics as data.
//!
//! Every problem found while compiling and validating proto files becomes a
//! [`Problem`]: a kind, a message, a label pointing into the `.proto` source and
//! a hint saying what to change. An [`Error`] carries every problem of a run, so
//! a user sees all of them at once. It renders as plain text for terminals and
//! build scripts ([`Error::render_plain`]) and as JSON for tooling and snapshots
//! ([`Error::render_json`]).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use miette::{
    Diagnostic, GraphicalReportHandler, GraphicalTheme, JSONReportHandler, LabeledSpan,
    NamedSource, SourceCode, SourceSpan,
};

/// The result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Source texts by file name (the name a file is imported by).
#[derive(Debug, Clone, Default)]
pub struct Sources(pub BTreeMap<String, Arc<str>>);

impl Sources {
    /// The text of file `name`, if it was read.
    pub fn get(&self, name: &str) -> Option<&Arc<str>> {
        self.0.get(name)
    }
}

/// What went wrong. Each kind is also the diagnostic code (`plinth::<kind>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The proto compiler rejected a file: syntax error, unknown import,
    /// unresolved type name, ...
    Proto,
    /// A file could not be read or written.
    Io,
    /// An option names a message type that does not exist.
    UnknownType,
    /// An option is malformed: a missing required value, several component
    /// kinds, an unsupported Kalix feature, ...
    InvalidOption,
    /// A command of a stateful component does not say where its entity id comes from.
    MissingId,
    /// An id field has a type that cannot be an id.
    InvalidIdField,
    /// A command both carries id fields and generates its id.
    IdAndGenerator,
    /// Two components declare the same `type_id`.
    DuplicateTypeId,
    /// An event-sourced entity declares no events, or an event twice.
    InvalidEvents,
    /// A view has no update method, or its tables and row types disagree.
    InvalidView,
    /// A view query does not parse or type-check against its tables,
    /// request and response messages.
    InvalidQuery,
    /// A subscription names a source no component declares.
    UnknownSource,
    /// An event type of a subscribed entity is neither handled nor ignored.
    UnhandledEvent,
    /// A subscribed method takes a message its source never delivers.
    WrongInputType,
    /// A method option is not allowed on this kind of component.
    MisplacedOption,
    /// An rpc shape is not supported (client streaming).
    UnsupportedRpc,
    /// A service with a component option declares no rpcs.
    NoRpcs,
    /// A `google.api.http` rule is invalid: bad template, unknown field, body
    /// on GET, nesting.
    InvalidHttpRule,
    /// Two HTTP routes match the same requests.
    DuplicateRoute,
    /// Generating code failed.
    Generate,
}

impl ErrorKind {
    /// The diagnostic code, e.g. `plinth::unknown_type`.
    pub fn code(self) -> &'static str {
        match self {
            ErrorKind::Proto => "plinth::proto",
            ErrorKind::Io => "plinth::io",
            ErrorKind::UnknownType => "plinth::unknown_type",
            ErrorKind::InvalidOption => "plinth::invalid_option",
            ErrorKind::MissingId => "plinth::missing_id",
            ErrorKind::InvalidIdField => "plinth::invalid_id_field",
            ErrorKind::IdAndGenerator => "plinth::id_and_generator",
            ErrorKind::DuplicateTypeId => "plinth::duplicate_type_id",
            ErrorKind::InvalidEvents => "plinth::invalid_events",
            ErrorKind::InvalidView => "plinth::invalid_view",
            ErrorKind::InvalidQuery => "plinth::invalid_query",
            ErrorKind::UnknownSource => "plinth::unknown_source",
            ErrorKind::UnhandledEvent => "plinth::unhandled_event",
            ErrorKind::WrongInputType => "plinth::wrong_input_type",
            ErrorKind::MisplacedOption => "plinth::misplaced_option",
            ErrorKind::UnsupportedRpc => "plinth::unsupported_rpc",
            ErrorKind::NoRpcs => "plinth::no_rpcs",
            ErrorKind::InvalidHttpRule => "plinth::invalid_http_rule",
            ErrorKind::DuplicateRoute => "plinth::duplicate_route",
            ErrorKind::Generate => "plinth::generate",
        }
    }
}

/// One diagnostic: what is wrong, where, and what to change.
#[derive(Debug, Clone)]
pub struct Problem {
    kind: ErrorKind,
    message: String,
    help: Option<String>,
    source: Option<NamedSource<Arc<str>>>,
    labels: Vec<LabeledSpan>,
    /// A warning: reported, but the build goes on.
    warning: bool,
}

impl Problem {
    /// A problem without a source location.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Problem {
            kind,
            message: message.into(),
            help: None,
            source: None,
            labels: Vec::new(),
            warning: false,
        }
    }

    /// The same problem as a warning: reported, but the build goes on.
    pub fn as_warning(mut self) -> Self {
        self.warning = true;
        self
    }

    /// Whether this is a warning rather than an error.
    pub fn is_warning(&self) -> bool {
        self.warning
    }

    /// The problem rendered for a terminal or a build log.
    pub fn render_plain(&self) -> String {
        let handler = GraphicalReportHandler::new_themed(GraphicalTheme::none()).with_width(100);
        let mut out = String::new();
        if handler.render_report(&mut out, self).is_err() {
            out = self.message.clone();
        }
        out
    }

    /// Adds a hint saying what to change.
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Points the problem at `span` of file `file` (whose text is `text`).
    pub fn with_label(
        mut self,
        file: &str,
        text: Arc<str>,
        span: SourceSpan,
        label: impl Into<String>,
    ) -> Self {
        if self.source.is_none() {
            self.source = Some(NamedSource::new(file, text));
        }
        self.labels
            .push(LabeledSpan::new_with_span(Some(label.into()), span));
        self
    }

    /// The kind of problem.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// `file:line:col` of the first label (1-based), if the problem has one.
    pub fn location(&self) -> Option<String> {
        let source = self.source.as_ref()?;
        let label = self.labels.first()?;
        let contents = source.read_span(label.inner(), 0, 0).ok()?;
        Some(format!(
            "{}:{}:{}",
            source.name(),
            contents.line() + 1,
            contents.column() + 1
        ))
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Problem {}

impl Diagnostic for Problem {
    fn severity(&self) -> Option<miette::Severity> {
        Some(if self.warning {
            miette::Severity::Warning
        } else {
            miette::Severity::Error
        })
    }

    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(self.kind.code()))
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|help| Box::new(help) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn SourceCode> {
        self.source.as_ref().map(|s| s as &dyn SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        if self.labels.is_empty() {
            None
        } else {
            Some(Box::new(self.labels.iter().cloned()))
        }
    }
}

/// Every problem of a compilation or generation run (at least one).
#[derive(Clone)]
pub struct Error {
    problems: Vec<Problem>,
}

/// One line: the problems themselves are rendered by [`Error::render_plain`]
/// (which the build has printed already), so a `build.rs` whose `main`
/// returns this error does not print every diagnostic a second time.
impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.problems.as_slice() {
            [only] => write!(f, "{} (the diagnostic is above)", only.message),
            many => write!(
                f,
                "{} problems in the proto files (the diagnostics are above)",
                many.len()
            ),
        }
    }
}

impl Error {
    /// An error of `kind` without a source location.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Problem::new(kind, message).into()
    }

    /// A code generation error (for failures after validation).
    pub fn generate(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Generate, message)
    }

    /// Several problems reported together; `None` when there are none.
    pub fn from_problems(problems: Vec<Problem>) -> Option<Self> {
        (!problems.is_empty()).then_some(Error { problems })
    }

    /// The problems, in the order they were found.
    pub fn problems(&self) -> &[Problem] {
        &self.problems
    }

    /// The kinds of the problems, in order.
    pub fn kinds(&self) -> Vec<ErrorKind> {
        self.problems.iter().map(Problem::kind).collect()
    }

    /// Plain-text rendering (no colors, ASCII frames): one block per problem,
    /// each with `file:line:col`, the source snippet, the label and the hint.
    pub fn render_plain(&self) -> String {
        let handler = GraphicalReportHandler::new_themed(GraphicalTheme::none()).with_width(100);
        let mut out = String::new();
        for problem in &self.problems {
            if handler.render_report(&mut out, problem).is_err() {
                out.push_str(&problem.message);
            }
            out.push('\n');
        }
        if self.problems.len() > 1 {
            out.push_str(&format!("{} errors\n", self.problems.len()));
        }
        out
    }

    /// JSON rendering (miette's JSON report format); several problems appear
    /// under `related`.
    pub fn render_json(&self) -> String {
        let mut out = String::new();
        if JSONReportHandler::new()
            .render_report(&mut out, self)
            .is_err()
        {
            out = serde_json::json!({ "message": self.to_string() }).to_string();
        }
        out
    }

    fn single(&self) -> Option<&Problem> {
        match self.problems.as_slice() {
            [one] => Some(one),
            _ => None,
        }
    }
}

impl From<Problem> for Error {
    fn from(problem: Problem) -> Self {
        Error {
            problems: vec![problem],
        }
    }
}

impl From<std::io::Error> for Error {
    fn from(error: std::io::Error) -> Self {
        Error::new(ErrorKind::Io, error.to_string())
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.single() {
            Some(problem) => problem.fmt(f),
            None => write!(
                f,
                "{} problems found in the proto files",
                self.problems.len()
            ),
        }
    }
}

impl std::error::Error for Error {}

impl Diagnostic for Error {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.single().and_then(Diagnostic::code)
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.single().and_then(Diagnostic::help)
    }

    fn source_code(&self) -> Option<&dyn SourceCode> {
        self.single().and_then(Diagnostic::source_code)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        self.single().and_then(Diagnostic::labels)
    }

    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn Diagnostic> + 'a>> {
        if self.single().is_some() {
            None
        } else {
            Some(Box::new(self.problems.iter().map(|p| p as &dyn Diagnostic)))
        }
    }
}

/// Converts a diagnostic of another crate (protox, prost-reflect) into
/// problems, taking the source text from `sources` by file name so that the
/// snippet is always the full file. Related diagnostics become problems too.
pub(crate) fn problems_from_diagnostic(
    diagnostic: &dyn Diagnostic,
    file: Option<&str>,
    sources: &Sources,
    out: &mut Vec<Problem>,
) {
    let mut problem = Problem::new(ErrorKind::Proto, diagnostic.to_string());
    if let Some(help) = diagnostic.help() {
        problem = problem.with_help(help.to_string());
    }
    let name = diagnostic
        .source_code()
        .and_then(|code| code.read_span(&SourceSpan::from(0..0), 0, 0).ok())
        .and_then(|contents| contents.name().map(str::to_owned))
        .or_else(|| file.map(str::to_owned));
    if let (Some(name), Some(labels)) = (name.as_deref(), diagnostic.labels())
        && let Some(text) = sources.get(name)
    {
        for label in labels {
            let span = *label.inner();
            let text_label = label.label().unwrap_or("here").to_owned();
            problem = problem.with_label(name, text.clone(), span, text_label);
        }
    }
    out.push(problem);
    if let Some(related) = diagnostic.related() {
        for inner in related {
            problems_from_diagnostic(inner, name.as_deref(), sources, out);
        }
    }
}
