//! Compiled path templates and the matcher.
//!
//! The matcher is written here rather than delegated to axum/matchit: those
//! routers bind one path segment per parameter, while `google.api.http`
//! variables capture several segments (`{name=shelves/*/books/*}`), `**` spans
//! any number of them and a custom verb (`:publish`) hangs off the last one.
//! A template is flattened into [`Atom`]s (literal, `*`, `**`); variables
//! remember which atoms they cover.

use std::ops::Range;

use percent_encoding::percent_decode_str;

use crate::component::info::{PathTemplate, Segment};

/// One unit of a flattened template, matching path segments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Atom {
    /// Exactly this (percent-decoded) segment.
    Literal(String),
    /// Any one non-empty segment.
    Star,
    /// Zero or more segments.
    DoubleStar,
}

impl Atom {
    /// How specific the atom is: lower ranks win when templates compete.
    fn rank(&self) -> u8 {
        match self {
            Atom::Literal(_) => 0,
            Atom::Star => 1,
            Atom::DoubleStar => 2,
        }
    }
}

/// A variable of a template: the request field it sets and the atoms it covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Variable {
    /// The field path (proto names).
    pub field_path: Vec<String>,
    /// The atoms of the variable's pattern.
    atoms: Range<usize>,
    /// Whether the pattern is a single `*` (values are fully percent-decoded).
    single_segment: bool,
}

/// A compiled path template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pattern {
    /// The template as written.
    pub source: String,
    atoms: Vec<Atom>,
    /// The variables, in template order.
    pub variables: Vec<Variable>,
    verb: Option<String>,
}

impl Pattern {
    /// False when `segments` cannot match a verb-less pattern: a different
    /// number of segments (without `**`) or a literal atom that differs before
    /// any `**`. True means "try the full match".
    fn rejects_quickly(&self, segments: &[&str]) -> bool {
        let mut count_fixed = true;
        for (atom, segment) in self.atoms.iter().zip(segments) {
            match atom {
                Atom::Literal(literal) if !literal_matches(segment, literal) => return false,
                Atom::DoubleStar => {
                    count_fixed = false;
                    break;
                }
                _ => {}
            }
        }
        if count_fixed && self.atoms.contains(&Atom::DoubleStar) {
            count_fixed = false;
        }
        !count_fixed || segments.len() == self.atoms.len()
    }
}

/// Whether a raw path segment is `literal` once percent-decoded (compared as
/// it stands when it holds no escape, as nearly every segment does).
fn literal_matches(segment: &str, literal: &str) -> bool {
    if segment.contains('%') {
        percent_decode_str(segment).decode_utf8_lossy() == literal
    } else {
        segment == literal
    }
}

/// A successful match of a path against a pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PathMatch {
    /// One capture per variable of the pattern, in order.
    pub captures: Vec<Capture>,
    /// The rank of the atom that consumed each path segment (see [`Atom::rank`]).
    pub ranks: Vec<u8>,
    /// Whether the pattern has a custom verb.
    pub has_verb: bool,
}

/// The text a variable captured, still percent-encoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Capture {
    raw: String,
    single_segment: bool,
}

impl Capture {
    /// The captured value, percent-decoded. Multi-segment captures keep `%2F`
    /// encoded, so that an encoded slash stays distinguishable from a separator
    /// (the `google.api.http` rule).
    pub fn decode(&self) -> Result<String, std::str::Utf8Error> {
        if self.single_segment {
            return Ok(percent_decode_str(&self.raw).decode_utf8()?.into_owned());
        }
        let mut out = String::with_capacity(self.raw.len());
        let mut rest = self.raw.as_str();
        loop {
            match find_encoded_slash(rest) {
                Some(at) => {
                    out.push_str(&percent_decode_str(&rest[..at]).decode_utf8()?);
                    out.push_str(&rest[at..at + 3]);
                    rest = &rest[at + 3..];
                }
                None => {
                    out.push_str(&percent_decode_str(rest).decode_utf8()?);
                    return Ok(out);
                }
            }
        }
    }
}

fn find_encoded_slash(text: &str) -> Option<usize> {
    text.as_bytes()
        .windows(3)
        .position(|w| w[0] == b'%' && w[1] == b'2' && (w[2] == b'F' || w[2] == b'f'))
}

/// Split a request path into its raw (still encoded) segments: `/` has none,
/// `/a/` has `a` and an empty one.
pub(crate) fn split_path(path: &str) -> Vec<&str> {
    let rest = path.strip_prefix('/').unwrap_or(path);
    if rest.is_empty() {
        Vec::new()
    } else {
        rest.split('/').collect()
    }
}

impl Pattern {
    /// Compile a template of a method's HTTP rule.
    pub fn compile(template: &PathTemplate) -> Pattern {
        let mut atoms = Vec::new();
        let mut variables = Vec::new();
        for segment in template.segments {
            match segment {
                Segment::Variable {
                    field_path,
                    pattern,
                } => {
                    let start = atoms.len();
                    if pattern.is_empty() {
                        atoms.push(Atom::Star);
                    }
                    for inner in *pattern {
                        push_plain(&mut atoms, inner);
                    }
                    let single_segment = atoms.len() == start + 1 && atoms[start] == Atom::Star;
                    variables.push(Variable {
                        field_path: field_path.iter().map(|s| s.to_string()).collect(),
                        atoms: start..atoms.len(),
                        single_segment,
                    });
                }
                plain => push_plain(&mut atoms, plain),
            }
        }
        Pattern {
            source: template.source.to_string(),
            atoms,
            variables,
            verb: template.verb.map(str::to_string),
        }
    }

    /// A pattern of literal segments only (the default `/package.Service/Method`
    /// route).
    pub fn literal(path: &str) -> Pattern {
        let atoms = split_path(path)
            .into_iter()
            .map(|s| Atom::Literal(s.to_string()))
            .collect();
        Pattern {
            source: path.to_string(),
            atoms,
            variables: Vec::new(),
            verb: None,
        }
    }

    /// Whether both patterns match exactly the same paths (variable names aside).
    pub fn same_shape(&self, other: &Pattern) -> bool {
        self.atoms == other.atoms && self.verb == other.verb
    }

    /// Match the raw segments of a request path.
    pub fn matches(&self, segments: &[&str]) -> Option<PathMatch> {
        // Most templates of a table fail on the number of segments or on a
        // literal: say so before allocating anything.
        if self.verb.is_none() && !self.rejects_quickly(segments) {
            return None;
        }
        // Only a template with a verb needs its own copy of the segments.
        let stripped: Vec<&str>;
        let segments = match &self.verb {
            None => segments,
            Some(verb) => {
                let mut copy = segments.to_vec();
                let last = copy.last_mut()?;
                *last = last.strip_suffix(verb.as_str())?.strip_suffix(':')?;
                if self.atoms.is_empty() && copy == [""] {
                    copy.clear();
                }
                stripped = copy;
                &stripped[..]
            }
        };
        let count = segments.len();
        let mut pos = 0;
        let mut spans = Vec::with_capacity(self.atoms.len());
        let mut ranks = Vec::with_capacity(count);
        for (index, atom) in self.atoms.iter().enumerate() {
            let start = pos;
            match atom {
                Atom::Literal(literal) => {
                    let segment = segments.get(pos)?;
                    if !literal_matches(segment, literal) {
                        return None;
                    }
                    pos += 1;
                }
                Atom::Star => {
                    if segments.get(pos)?.is_empty() {
                        return None;
                    }
                    pos += 1;
                }
                Atom::DoubleStar => {
                    // Every atom after `**` takes exactly one segment.
                    let after = self.atoms.len() - index - 1;
                    pos = count.checked_sub(after).filter(|end| *end >= pos)?;
                }
            }
            ranks.extend(std::iter::repeat_n(atom.rank(), pos - start));
            spans.push(start..pos);
        }
        if pos != count {
            return None;
        }
        let captures = self
            .variables
            .iter()
            .map(|variable| {
                let first = spans[variable.atoms.start].start;
                let end = spans[variable.atoms.end - 1].end;
                Capture {
                    raw: segments[first..end].join("/"),
                    single_segment: variable.single_segment,
                }
            })
            .collect();
        Some(PathMatch {
            captures,
            ranks,
            has_verb: self.verb.is_some(),
        })
    }
}

fn push_plain(atoms: &mut Vec<Atom>, segment: &Segment) {
    match segment {
        Segment::Literal(text) => atoms.push(Atom::Literal(text.to_string())),
        Segment::Wildcard => atoms.push(Atom::Star),
        Segment::DoubleWildcard => atoms.push(Atom::DoubleStar),
        // Codegen never nests variables; treat a nested one as its pattern.
        Segment::Variable { pattern, .. } => {
            if pattern.is_empty() {
                atoms.push(Atom::Star);
            }
            for inner in *pattern {
                push_plain(atoms, inner);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern(
        source: &'static str,
        segments: &'static [Segment],
        verb: Option<&'static str>,
    ) -> Pattern {
        Pattern::compile(&PathTemplate {
            source,
            segments,
            verb,
        })
    }

    fn captures(pattern: &Pattern, path: &str) -> Option<Vec<String>> {
        let found = pattern.matches(&split_path(path))?;
        Some(found.captures.iter().map(|c| c.decode().unwrap()).collect())
    }

    const SHELF_BOOK: &[Segment] = &[
        Segment::Literal("v1"),
        Segment::Literal("shelves"),
        Segment::Variable {
            field_path: &["shelf"],
            pattern: &[Segment::Wildcard],
        },
        Segment::Literal("books"),
        Segment::Variable {
            field_path: &["book", "id"],
            pattern: &[],
        },
    ];

    #[test]
    fn literals_and_single_segment_variables() {
        let p = pattern("/v1/shelves/{shelf}/books/{book.id}", SHELF_BOOK, None);
        assert_eq!(
            captures(&p, "/v1/shelves/s1/books/b%202"),
            Some(vec!["s1".into(), "b 2".into()])
        );
        assert_eq!(captures(&p, "/v1/shelves/s1/books"), None);
        assert_eq!(captures(&p, "/v1/shelves/s1/books/b2/x"), None);
        assert_eq!(
            captures(&p, "/v1/shelves//books/b2"),
            None,
            "a variable never matches an empty segment"
        );
        assert_eq!(captures(&p, "/v2/shelves/s1/books/b2"), None);
        assert_eq!(
            captures(&p, "/v1/shel%76es/s1/books/b2"),
            Some(vec!["s1".into(), "b2".into()]),
            "literals compare percent-decoded"
        );
        assert_eq!(p.variables[1].field_path, vec!["book", "id"]);
    }

    #[test]
    fn multi_segment_variables_capture_the_matched_text() {
        const SEGS: &[Segment] = &[
            Segment::Literal("v1"),
            Segment::Variable {
                field_path: &["name"],
                pattern: &[Segment::Literal("shelves"), Segment::Wildcard],
            },
        ];
        let p = pattern("/v1/{name=shelves/*}", SEGS, None);
        assert_eq!(
            captures(&p, "/v1/shelves/s1"),
            Some(vec!["shelves/s1".into()])
        );
        assert_eq!(
            captures(&p, "/v1/shelves/a%2Fb"),
            Some(vec!["shelves/a%2Fb".into()])
        );
        assert_eq!(
            captures(&p, "/v1/shelves/a%20b"),
            Some(vec!["shelves/a b".into()])
        );
        assert_eq!(captures(&p, "/v1/books/s1"), None);
        assert_eq!(captures(&p, "/v1/shelves/s1/x"), None);
    }

    #[test]
    fn double_wildcards_take_zero_or_more_segments() {
        const SEGS: &[Segment] = &[
            Segment::Literal("files"),
            Segment::Variable {
                field_path: &["path"],
                pattern: &[Segment::DoubleWildcard],
            },
        ];
        let p = pattern("/files/{path=**}", SEGS, None);
        assert_eq!(captures(&p, "/files/a/b/c"), Some(vec!["a/b/c".into()]));
        assert_eq!(captures(&p, "/files"), Some(vec!["".into()]));
        const BARE: &[Segment] = &[
            Segment::Literal("raw"),
            Segment::Wildcard,
            Segment::DoubleWildcard,
        ];
        let p = pattern("/raw/*/**", BARE, None);
        assert_eq!(
            p.matches(&split_path("/raw/x/y/z")).unwrap().ranks,
            vec![0, 1, 2, 2]
        );
        assert!(p.matches(&split_path("/raw")).is_none());
    }

    #[test]
    fn custom_verbs_hang_off_the_last_segment() {
        const SEGS: &[Segment] = &[
            Segment::Literal("v1"),
            Segment::Variable {
                field_path: &["name"],
                pattern: &[Segment::Literal("shelves"), Segment::Wildcard],
            },
        ];
        let p = pattern("/v1/{name=shelves/*}:publish", SEGS, Some("publish"));
        assert_eq!(
            captures(&p, "/v1/shelves/s1:publish"),
            Some(vec!["shelves/s1".into()])
        );
        assert_eq!(captures(&p, "/v1/shelves/s1"), None);
        assert_eq!(captures(&p, "/v1/shelves/s1:other"), None);
        assert_eq!(captures(&p, "/v1/shelves/:publish"), None);
        assert!(
            p.matches(&split_path("/v1/shelves/s1:publish"))
                .unwrap()
                .has_verb
        );
    }

    #[test]
    fn literal_patterns_and_shapes() {
        let p = Pattern::literal("/pkg.Service/Method");
        assert!(p.matches(&split_path("/pkg.Service/Method")).is_some());
        assert!(p.matches(&split_path("/pkg.Service/Other")).is_none());
        assert!(Pattern::literal("/").matches(&split_path("/")).is_some());
        const A: &[Segment] = &[Segment::Variable {
            field_path: &["a"],
            pattern: &[],
        }];
        const B: &[Segment] = &[Segment::Variable {
            field_path: &["b"],
            pattern: &[Segment::Wildcard],
        }];
        assert!(pattern("/{a}", A, None).same_shape(&pattern("/{b=*}", B, None)));
        assert!(!pattern("/{a}", A, None).same_shape(&pattern("/{a}:x", A, Some("x"))));
    }

    #[test]
    fn bad_utf8_in_a_capture_is_an_error_not_a_panic() {
        const A: &[Segment] = &[Segment::Variable {
            field_path: &["a"],
            pattern: &[],
        }];
        let found = pattern("/{a}", A, None)
            .matches(&split_path("/%FF"))
            .unwrap();
        assert!(found.captures[0].decode().is_err());
    }
}
