//! Request templates.
//!
//! A template is a method, a path and a body with two placeholders: `{payload}` (replaced once,
//! at build time, by the benchmark payload) and `{id}` (replaced per request). Ids have a fixed
//! width (`c000042`), so a template is encoded once (JSON text, or protobuf through the method's
//! input descriptor) with a marker of the same width in place of every `{id}`, and each request
//! only copies the bytes and overwrites the marker slots. This keeps the generator's per-request
//! cost to a memcpy, whatever the transport.
//!
//! Every rendered request also gets a fresh 16-character stamp over the start of each payload
//! copy. Without it, a write repeats the exact row an id already holds, and SQLite skips writing
//! a cell whose bytes do not change: such "writes" cost no I/O and no sync, which would let a
//! store that rewrites rows in place look durable for free.

use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use http::Method;
use http::uri::PathAndQuery;
use prost::Message;
use prost_reflect::{DescriptorPool, DynamicMessage};

use super::scenario::Op;
use crate::{Error, Result};

/// The fixed-width textual form of ids: a prefix and zero-padded digits.
#[derive(Debug, Clone)]
pub struct IdFormat {
    prefix: String,
    width: usize,
}

impl IdFormat {
    /// Ids `0..ids` with `prefix`; at least six digits so that the marker is distinctive.
    pub fn new(prefix: &str, ids: u64) -> Result<Self> {
        if !prefix
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(Error::Config(format!(
                "--id-prefix `{prefix}` may contain only ASCII letters, digits, `-` and `_`"
            )));
        }
        let digits = ids.saturating_sub(1).max(1).ilog10() as usize + 1;
        Ok(IdFormat {
            prefix: prefix.to_string(),
            width: digits.max(6),
        })
    }

    /// The length in bytes of every id.
    pub fn len(&self) -> usize {
        self.prefix.len() + self.width
    }

    /// Whether ids are empty (never: the width is at least six).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The id of number `n` (e.g. `c000042`).
    pub fn format(&self, n: u64) -> String {
        format!("{}{:0width$}", self.prefix, n, width = self.width)
    }

    /// The placeholder standing for an id inside encoded templates.
    fn marker(&self) -> String {
        "#".repeat(self.len())
    }
}

/// The length of the per-request stamp written over the start of every payload.
const STAMP_LEN: usize = 16;

/// Encoded bytes with the offsets where an id and the per-request stamp are written.
#[derive(Debug, Clone)]
pub struct Spliced {
    bytes: Vec<u8>,
    slots: Vec<usize>,
    /// Where payload copies start, and how many of their bytes the stamp covers.
    stamps: Vec<usize>,
    stamp_len: usize,
}

impl Spliced {
    /// Finds the `expected` occurrences of `marker` in `bytes`.
    fn new(bytes: Vec<u8>, marker: &str, expected: usize, what: &str) -> Result<Self> {
        let m = marker.as_bytes();
        let mut slots = Vec::new();
        let mut i = 0;
        while i + m.len() <= bytes.len() {
            if &bytes[i..i + m.len()] == m {
                slots.push(i);
                i += m.len();
            } else {
                i += 1;
            }
        }
        if slots.len() != expected {
            return Err(Error::Template {
                what: what.to_string(),
                reason: format!(
                    "expected {expected} `{{id}}` slot(s) in the encoded request but found {}: `{{id}}` must \
                     be inside string fields, and the template must not contain runs of `#`",
                    slots.len()
                ),
            });
        }
        Ok(Spliced {
            bytes,
            slots,
            stamps: Vec::new(),
            stamp_len: 0,
        })
    }

    /// Marks every copy of `payload` in the bytes as a stamp slot.
    fn with_stamps(mut self, payload: &str) -> Self {
        let p = payload.as_bytes();
        self.stamp_len = p.len().min(STAMP_LEN);
        if p.is_empty() {
            return self;
        }
        let mut i = 0;
        while i + p.len() <= self.bytes.len() {
            if &self.bytes[i..i + p.len()] == p {
                self.stamps.push(i);
                i += p.len();
            } else {
                i += 1;
            }
        }
        self
    }

    /// The bytes with `id` written into every id slot and `stamp` over the start of every
    /// payload copy.
    pub fn render(&self, id: &[u8], stamp: &[u8; STAMP_LEN]) -> Bytes {
        let mut out = self.bytes.clone();
        for &s in &self.slots {
            out[s..s + id.len()].copy_from_slice(id);
        }
        for &s in &self.stamps {
            // The low digits change with every request: short payloads take those.
            out[s..s + self.stamp_len].copy_from_slice(&stamp[STAMP_LEN - self.stamp_len..]);
        }
        Bytes::from(out)
    }
}

/// The next per-request stamp: 16 lowercase hex digits of a counter that starts at a random
/// value, so that runs against the same database do not repeat each other's rows.
fn next_stamp() -> [u8; STAMP_LEN] {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    static START: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    let start = *START.get_or_init(|| fastrand::u64(..) >> 1);
    let n = start.wrapping_add(NEXT.fetch_add(1, Ordering::Relaxed));
    let mut out = [0u8; STAMP_LEN];
    let text = format!("{n:016x}");
    out.copy_from_slice(text.as_bytes());
    out
}

/// A template as given on the command line (or by default), before encoding.
#[derive(Debug, Clone)]
pub struct TemplateSpec {
    /// HTTP method (ignored for gRPC, which is always POST).
    pub method: String,
    /// URL path (`/customers/{id}`) or gRPC method path (`/bench.CustomerService/Upsert`).
    pub path: String,
    /// JSON body; for gRPC the protobuf JSON of the method's input message.
    pub body: Option<String>,
}

/// A request template ready to render.
#[derive(Debug, Clone)]
pub enum RequestTemplate {
    /// An HTTP/JSON request; `path` is origin-form (HTTP/1.1) or absolute (h2c).
    Http {
        /// The HTTP method.
        method: Method,
        /// The request target.
        path: Spliced,
        /// The JSON body, if any.
        body: Option<Spliced>,
    },
    /// A unary gRPC call with a protobuf-encoded request.
    Grpc {
        /// `/package.Service/Method`.
        path: PathAndQuery,
        /// The encoded request message.
        body: Spliced,
    },
}

/// One rendered request.
#[derive(Debug, Clone)]
pub enum Rendered {
    /// An HTTP request.
    Http {
        /// The HTTP method.
        method: Method,
        /// The request URI.
        uri: http::Uri,
        /// The body (empty when the template has none).
        body: Bytes,
    },
    /// A gRPC call.
    Grpc {
        /// `/package.Service/Method`.
        path: PathAndQuery,
        /// The encoded request message.
        body: Bytes,
    },
}

/// The templates of every operation a run uses, and the id format.
#[derive(Debug, Clone)]
pub struct Templates {
    ids: IdFormat,
    per_op: [Option<RequestTemplate>; 4],
}

/// A deterministic payload of `size` ASCII letters and digits.
pub fn payload(size: usize) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    (0..size)
        .map(|i| ALPHABET[(i * 7 + i / 36) % ALPHABET.len()] as char)
        .collect()
}

/// Replaces `{payload}` and `{id}`, returning the text and the number of `{id}`s.
fn expand(text: &str, payload: &str, marker: &str) -> (String, usize) {
    let ids = text.matches("{id}").count();
    (
        text.replace("{payload}", payload).replace("{id}", marker),
        ids,
    )
}

impl Templates {
    /// Encodes the templates of `ops`. `origin` is prepended to HTTP paths when set (h2c needs
    /// absolute URIs); `pool` holds the gRPC descriptors (None for HTTP transports).
    pub fn build(
        ids: IdFormat,
        specs: &[(Op, TemplateSpec)],
        payload_text: &str,
        origin: Option<&str>,
        pool: Option<&DescriptorPool>,
    ) -> Result<Self> {
        let marker = ids.marker();
        let mut per_op: [Option<RequestTemplate>; 4] = Default::default();
        for (op, spec) in specs {
            let what = |part: &str| format!("--{}-{part}", op.name());
            let template = match pool {
                None => {
                    let method = Method::from_bytes(spec.method.as_bytes()).map_err(|_| {
                        Error::Template {
                            what: what("method"),
                            reason: format!("`{}` is not an HTTP method", spec.method),
                        }
                    })?;
                    if !spec.path.starts_with('/') {
                        return Err(Error::Template {
                            what: what("path"),
                            reason: "must start with `/`".into(),
                        });
                    }
                    let (path, n) = expand(
                        &format!("{}{}", origin.unwrap_or(""), spec.path),
                        payload_text,
                        &marker,
                    );
                    let path = Spliced::new(path.into_bytes(), &marker, n, &what("path"))?;
                    let probe = path.render(ids.format(0).as_bytes(), &next_stamp());
                    http::Uri::from_maybe_shared(probe).map_err(|e| Error::Template {
                        what: what("path"),
                        reason: format!("not a valid URI path: {e}"),
                    })?;
                    let body = match &spec.body {
                        Some(b) => {
                            let (text, n) = expand(b, payload_text, &marker);
                            serde_json::from_str::<serde_json::Value>(&text).map_err(|e| {
                                Error::Template {
                                    what: what("body"),
                                    reason: format!("not JSON: {e}"),
                                }
                            })?;
                            Some(
                                Spliced::new(text.into_bytes(), &marker, n, &what("body"))?
                                    .with_stamps(payload_text),
                            )
                        }
                        None => None,
                    };
                    RequestTemplate::Http { method, path, body }
                }
                Some(pool) => {
                    let input = grpc_input(pool, &spec.path)?;
                    let (text, n) =
                        expand(spec.body.as_deref().unwrap_or("{}"), payload_text, &marker);
                    let mut de = serde_json::Deserializer::from_str(&text);
                    let msg = DynamicMessage::deserialize(input.clone(), &mut de)
                        .and_then(|m| de.end().map(|()| m))
                        .map_err(|e| Error::Template {
                            what: what("body"),
                            reason: format!("not protobuf JSON of `{}`: {e}", input.full_name()),
                        })?;
                    let body = Spliced::new(msg.encode_to_vec(), &marker, n, &what("body"))?
                        .with_stamps(payload_text);
                    let path = PathAndQuery::try_from(spec.path.as_str()).map_err(|e| {
                        Error::Template {
                            what: what("path"),
                            reason: e.to_string(),
                        }
                    })?;
                    RequestTemplate::Grpc { path, body }
                }
            };
            per_op[op.index()] = Some(template);
        }
        Ok(Templates { ids, per_op })
    }

    /// The id format.
    pub fn ids(&self) -> &IdFormat {
        &self.ids
    }

    /// Renders the request of `op` for id number `n`.
    ///
    /// Panics only if `op` has no template, which [`Templates::build`] callers rule out by
    /// building every operation of the scenario (and the write template for prefill).
    pub fn render(&self, op: Op, n: u64) -> Rendered {
        let mut id = [0u8; 64];
        let text = self.ids.format(n);
        let id = {
            let b = text.as_bytes();
            id[..b.len()].copy_from_slice(b);
            &id[..b.len()]
        };
        let stamp = next_stamp();
        match self.per_op[op.index()]
            .as_ref()
            .expect("template built for every operation in use")
        {
            RequestTemplate::Http { method, path, body } => Rendered::Http {
                method: method.clone(),
                // The template was validated as a URI with a same-width id at build time.
                uri: http::Uri::from_maybe_shared(path.render(id, &stamp))
                    .expect("validated at build time"),
                body: body
                    .as_ref()
                    .map(|b| b.render(id, &stamp))
                    .unwrap_or_default(),
            },
            RequestTemplate::Grpc { path, body } => Rendered::Grpc {
                path: path.clone(),
                body: body.render(id, &stamp),
            },
        }
    }
}

/// The input message of the gRPC method at `path` (`/package.Service/Method`).
fn grpc_input(pool: &DescriptorPool, path: &str) -> Result<prost_reflect::MessageDescriptor> {
    let unknown = || Error::UnknownMethod(path.to_string());
    let (service, method) = path
        .strip_prefix('/')
        .and_then(|p| p.split_once('/'))
        .ok_or_else(unknown)?;
    let service = pool.get_service_by_name(service).ok_or_else(unknown)?;
    let method = service
        .methods()
        .find(|m| m.name() == method)
        .ok_or_else(unknown)?;
    Ok(method.input())
}

/// The bench proto's descriptors plus those of `protos` compiled with `includes`.
pub fn descriptor_pool(
    protos: &[std::path::PathBuf],
    includes: &[std::path::PathBuf],
) -> Result<DescriptorPool> {
    let mut pool = DescriptorPool::decode(crate::proto::DESCRIPTOR_SET)
        .map_err(|e| Error::Proto(e.to_string()))?;
    if !protos.is_empty() {
        let fds = protox::compile(protos, includes).map_err(|e| Error::Proto(e.to_string()))?;
        pool.add_file_descriptor_set(fds)
            .map_err(|e| Error::Proto(e.to_string()))?;
    }
    Ok(pool)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::UpsertCustomer;

    fn spec(method: &str, path: &str, body: Option<&str>) -> TemplateSpec {
        TemplateSpec {
            method: method.into(),
            path: path.into(),
            body: body.map(Into::into),
        }
    }

    #[test]
    fn ids_have_fixed_width() {
        let f = IdFormat::new("c", 10_000).unwrap();
        assert_eq!(f.format(42), "c000042");
        assert_eq!(f.format(9_999).len(), f.len());
        assert_eq!(IdFormat::new("", 10_000_000).unwrap().format(5), "0000005");
        assert!(IdFormat::new("a b", 1).is_err());
    }

    #[test]
    fn http_templates_render_ids_everywhere() {
        let ids = IdFormat::new("c", 100).unwrap();
        let t = Templates::build(
            ids,
            &[(
                Op::Write,
                spec(
                    "PUT",
                    "/customers/{id}",
                    Some(r#"{"name":"n-{id}","p":"{payload}"}"#),
                ),
            )],
            "xyz",
            Some("http://127.0.0.1:1"),
            None,
        )
        .unwrap();
        let Rendered::Http { method, uri, body } = t.render(Op::Write, 7) else {
            panic!("http")
        };
        assert_eq!(method, Method::PUT);
        assert_eq!(uri.to_string(), "http://127.0.0.1:1/customers/c000007");
        // The 3-byte payload carries the low hex digits of the request's stamp.
        let text = std::str::from_utf8(&body).unwrap();
        let stamp = text
            .strip_prefix(r#"{"name":"n-c000007","p":""#)
            .and_then(|rest| rest.strip_suffix(r#""}"#))
            .unwrap_or_else(|| panic!("unexpected body {text}"));
        assert_eq!(stamp.len(), 3);
        assert!(stamp.chars().all(|c| c.is_ascii_hexdigit()), "{stamp}");
        let Rendered::Http { body: again, .. } = t.render(Op::Write, 7) else {
            panic!("http")
        };
        assert_ne!(body, again, "every request carries a fresh stamp");
    }

    #[test]
    fn grpc_templates_encode_protobuf_with_ids_spliced() {
        let pool = descriptor_pool(&[], &[]).unwrap();
        let body = r#"{"id":"{id}","name":"name-{id}","payload":"{payload}"}"#;
        let t = Templates::build(
            IdFormat::new("c", 10).unwrap(),
            &[(
                Op::Write,
                spec("POST", "/bench.CustomerService/Upsert", Some(body)),
            )],
            &payload(550),
            None,
            Some(&pool),
        )
        .unwrap();
        let Rendered::Grpc { path, body } = t.render(Op::Write, 3) else {
            panic!("grpc")
        };
        assert_eq!(path.as_str(), "/bench.CustomerService/Upsert");
        let msg = UpsertCustomer::decode(body).unwrap();
        assert_eq!(msg.id, "c000003");
        assert_eq!(msg.name, "name-c000003");
        assert_eq!(msg.payload.len(), 550);
        // A stamp over the payload's first 16 bytes, the rest as generated.
        assert_eq!(msg.payload[16..], payload(550)[16..]);
        assert!(msg.payload[..16].chars().all(|c| c.is_ascii_hexdigit()));
        let Rendered::Grpc { body: again, .. } = t.render(Op::Write, 3) else {
            panic!("grpc")
        };
        let again = UpsertCustomer::decode(again).unwrap();
        assert_eq!(again.id, "c000003");
        assert_ne!(again.payload, msg.payload, "two writes of one id differ");
    }

    #[test]
    fn bad_templates_are_reported() {
        let pool = descriptor_pool(&[], &[]).unwrap();
        let ids = || IdFormat::new("c", 10).unwrap();
        let grpc = |path: &str, body: &str| {
            Templates::build(
                ids(),
                &[(Op::Write, spec("POST", path, Some(body)))],
                "p",
                None,
                Some(&pool),
            )
        };
        assert!(matches!(
            grpc("/bench.Nope/Upsert", "{}"),
            Err(Error::UnknownMethod(_))
        ));
        assert!(matches!(
            grpc("/bench.CustomerService/Upsert", r#"{"nope":1}"#),
            Err(Error::Template { .. })
        ));
        let http = |body: &str| {
            Templates::build(
                ids(),
                &[(Op::Write, spec("POST", "/x/{id}", Some(body)))],
                "p",
                None,
                None,
            )
        };
        assert!(matches!(http("{not json"), Err(Error::Template { .. })));
        assert!(matches!(
            http("{\"a\":\"#######\"}"),
            Err(Error::Template { .. })
        ));
        assert!(http(r#"{"a":"{id}"}"#).is_ok());
    }
}
