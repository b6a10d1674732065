//! Source locations: from descriptor paths (`source_code_info`) to spans in
//! the `.proto` text, and leading comments.

use miette::{SourceOffset, SourceSpan};
use prost_reflect::FileDescriptor;

use super::types::Comments;

/// A place in a proto file a diagnostic points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Loc {
    /// The file name.
    pub file: String,
    /// The `source_code_info` path of the element or option.
    pub path: Vec<i32>,
    /// A piece of text inside the located span to narrow the label to (a
    /// string value as written, without quotes).
    pub needle: Option<String>,
}

impl Loc {
    /// The location of `path` in `file`.
    pub fn new(file: &FileDescriptor, path: &[i32]) -> Self {
        Loc {
            file: file.name().to_owned(),
            path: path.to_vec(),
            needle: None,
        }
    }

    /// This location extended by `more` path elements.
    pub fn child(&self, more: &[i32]) -> Self {
        let mut path = self.path.clone();
        path.extend_from_slice(more);
        Loc {
            file: self.file.clone(),
            path,
            needle: None,
        }
    }

    /// Narrow the label to the text `needle` when the span contains it.
    pub fn at(mut self, needle: impl Into<String>) -> Self {
        self.needle = Some(needle.into());
        self
    }
}

/// Descriptor field numbers of the `options` field, per element.
pub(crate) mod options_field {
    /// `ServiceDescriptorProto.options`.
    pub const SERVICE: i32 = 3;
    /// `MethodDescriptorProto.options`.
    pub const METHOD: i32 = 4;
}

/// The span of `loc` in `text`: the location with exactly that path, else the
/// first one below it (an option written as several statements), else the
/// nearest enclosing element. Narrowed to the needle when it appears inside.
pub(crate) fn span(file: &FileDescriptor, loc: &Loc, text: &str) -> Option<SourceSpan> {
    let info = file.file_descriptor_proto().source_code_info.as_ref()?;
    let mut found = None;
    for len in (1..=loc.path.len()).rev() {
        let prefix = &loc.path[..len];
        found = info
            .location
            .iter()
            .find(|l| l.path == prefix)
            .or_else(|| info.location.iter().find(|l| l.path.starts_with(prefix)));
        if found.is_some() {
            break;
        }
    }
    let location = found?;
    let (start_line, start_col, end_line, end_col) = match location.span.as_slice() {
        [line, start, end] => (*line, *start, *line, *end),
        [start_line, start, end_line, end] => (*start_line, *start, *end_line, *end),
        _ => return None,
    };
    let start = offset(text, start_line, start_col)?;
    let end = offset(text, end_line, end_col)?.max(start);
    let mut span = SourceSpan::new(start.into(), end - start);
    if let Some(needle) = &loc.needle {
        let snippet = &text[start..end];
        let quoted = format!("\"{needle}\"");
        if let Some(at) = snippet.find(&quoted) {
            span = SourceSpan::new((start + at).into(), quoted.len());
        } else if let Some(at) = snippet.find(needle.as_str()).filter(|_| !needle.is_empty()) {
            span = SourceSpan::new((start + at).into(), needle.len());
        }
    }
    Some(span)
}

/// The byte offset of 0-based `line`, `col` (protoc columns count characters).
fn offset(text: &str, line: i32, col: i32) -> Option<usize> {
    let line = usize::try_from(line).ok()?;
    let col = usize::try_from(col).ok()?;
    let offset = SourceOffset::from_location(text, line + 1, col + 1).offset();
    Some(offset.min(text.len()))
}

/// The leading comments of the element at `path`.
pub(crate) fn comments(file: &FileDescriptor, path: &[i32]) -> Comments {
    let leading = file
        .file_descriptor_proto()
        .source_code_info
        .as_ref()
        .and_then(|info| info.location.iter().find(|l| l.path == path))
        .and_then(|l| l.leading_comments.as_deref())
        .map(|text| {
            let text = text.strip_suffix('\n').unwrap_or(text);
            text.lines()
                .map(|line| line.strip_prefix(' ').unwrap_or(line).to_owned())
                .collect()
        })
        .unwrap_or_default();
    Comments { leading }
}
