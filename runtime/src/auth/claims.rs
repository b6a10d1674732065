//! The claims of a validated bearer token, and copying claims into request
//! fields (`(plinth.field).jwt`, `(kalix.field).jwt`).

use bytes::{BufMut, Bytes, BytesMut};
use serde_json::{Map, Value};

use crate::component::info::ClaimField;

/// The claims of a bearer token the runtime validated (signature, issuer,
/// expiry, audience and the method's required claims).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    claims: Map<String, Value>,
}

impl Claims {
    /// Claims from a decoded token payload.
    pub(crate) fn new(claims: Map<String, Value>) -> Claims {
        Claims { claims }
    }

    /// The issuer (`iss`).
    pub fn issuer(&self) -> Option<&str> {
        self.get_str("iss")
    }

    /// The subject (`sub`).
    pub fn subject(&self) -> Option<&str> {
        self.get_str("sub")
    }

    /// A claim whose value is a string.
    pub fn get_str(&self, name: &str) -> Option<&str> {
        self.claims.get(name).and_then(Value::as_str)
    }

    /// A claim of any type as JSON text (`"alice"`, `42`, `["a","b"]`).
    pub fn get_json(&self, name: &str) -> Option<String> {
        self.claims.get(name).map(Value::to_string)
    }

    /// The names of the claims.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.claims.keys().map(String::as_str)
    }

    /// A claim as the text a request field gets: strings as they are,
    /// numbers and booleans as JSON; `None` for absent, null, arrays and objects.
    pub(crate) fn text(&self, name: &str) -> Option<String> {
        match self.claims.get(name)? {
            Value::String(text) => Some(text.clone()),
            value @ (Value::Number(_) | Value::Bool(_)) => Some(value.to_string()),
            Value::Null | Value::Array(_) | Value::Object(_) => None,
        }
    }

    /// Whether the token carries claim `name` with `value`: a string equal to
    /// it, a number or boolean whose JSON text is it, or an array holding it.
    pub(crate) fn has(&self, name: &str, value: &str) -> bool {
        let matches = |v: &Value| match v {
            Value::String(text) => text == value,
            Value::Number(number) => value
                .parse::<serde_json::Number>()
                .is_ok_and(|wanted| wanted == *number),
            Value::Bool(flag) => value == if *flag { "true" } else { "false" },
            _ => false,
        };
        match self.claims.get(name) {
            Some(Value::Array(items)) => items.iter().any(matches),
            Some(other) => matches(other),
            None => false,
        }
    }
}

/// Why claims could not be copied into a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum InjectError<'a> {
    /// The token lacks the claim of this field.
    Missing(&'a ClaimField),
    /// The payload is not a complete protobuf message: appended fields
    /// could end up inside an unterminated field or group.
    Malformed,
}

/// `payload` with each claim field set to its claim's value. The values are
/// appended as length-delimited fields: for a singular string field the
/// last occurrence wins when the message is decoded, so whatever the client
/// sent in that field is replaced. The generator admits claims into
/// singular string fields only. The payload must be a complete message
/// (see [`well_formed`]), so what is appended is read as top-level fields.
pub(crate) fn inject<'a>(
    payload: Bytes,
    fields: &'a [ClaimField],
    claims: &Claims,
) -> Result<Bytes, InjectError<'a>> {
    if fields.is_empty() {
        return Ok(payload);
    }
    if !well_formed(&payload) {
        return Err(InjectError::Malformed);
    }
    let mut out = BytesMut::from(payload.as_ref());
    for field in fields {
        let value = claims
            .text(field.claim)
            .ok_or(InjectError::Missing(field))?;
        let key = (u64::from(field.number) << 3) | 2;
        prost::encoding::encode_varint(key, &mut out);
        prost::encoding::encode_varint(value.len() as u64, &mut out);
        out.put_slice(value.as_bytes());
    }
    Ok(out.freeze())
}

/// Whether `payload` is a sequence of complete protobuf fields with every
/// group closed: a length that runs past the end (which would swallow
/// appended bytes), a truncated value or an open group is not.
fn well_formed(mut payload: &[u8]) -> bool {
    let mut groups = 0usize;
    while !payload.is_empty() {
        let Ok(key) = prost::encoding::decode_varint(&mut payload) else {
            return false;
        };
        if key >> 3 == 0 || key >> 3 > u64::from(u32::MAX >> 3) {
            return false;
        }
        let skip = match key & 7 {
            0 => match prost::encoding::decode_varint(&mut payload) {
                Ok(_) => 0,
                Err(_) => return false,
            },
            1 => 8,
            2 => match prost::encoding::decode_varint(&mut payload) {
                Ok(length) => match usize::try_from(length) {
                    Ok(length) => length,
                    Err(_) => return false,
                },
                Err(_) => return false,
            },
            3 => {
                groups += 1;
                0
            }
            4 => match groups.checked_sub(1) {
                Some(open) => {
                    groups = open;
                    0
                }
                None => return false,
            },
            5 => 4,
            _ => return false,
        };
        match payload.get(skip..) {
            Some(rest) => payload = rest,
            None => return false,
        }
    }
    groups == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    #[derive(Clone, PartialEq, prost::Message)]
    struct Request {
        #[prost(string, tag = "1")]
        id: String,
        #[prost(string, tag = "2")]
        subject: String,
        #[prost(string, tag = "300")]
        tenant: String,
    }

    fn claims(json: Value) -> Claims {
        match json {
            Value::Object(map) => Claims::new(map),
            _ => unreachable!(),
        }
    }

    #[test]
    fn claim_values_replace_what_the_client_sent() {
        let sent = Request {
            id: "c1".into(),
            subject: "root".into(),
            tenant: "other".into(),
        };
        let fields = [
            ClaimField {
                claim: "sub",
                field: "subject",
                number: 2,
            },
            ClaimField {
                claim: "tenant",
                field: "tenant",
                number: 300,
            },
        ];
        let token = claims(serde_json::json!({"sub": "alice", "tenant": 7}));
        let payload = inject(Bytes::from(sent.encode_to_vec()), &fields, &token).unwrap();
        let got = Request::decode(payload).unwrap();
        assert_eq!(got.id, "c1");
        assert_eq!(got.subject, "alice");
        assert_eq!(got.tenant, "7");

        let missing = claims(serde_json::json!({"tenant": "t"}));
        let refused = inject(Bytes::new(), &fields, &missing).unwrap_err();
        assert_eq!(refused, InjectError::Missing(&fields[0]));
    }

    #[test]
    fn a_payload_that_would_swallow_the_claims_is_refused() {
        let fields = [ClaimField {
            claim: "sub",
            field: "subject",
            number: 2,
        }];
        let token = claims(serde_json::json!({"sub": "alice"}));
        let forged = Request {
            subject: "root".into(),
            ..Request::default()
        }
        .encode_to_vec();
        // Field 1, length 7: exactly the bytes `inject` appends
        // (key, length, "alice"), were it accepted.
        let mut swallowing = forged.clone();
        swallowing.extend_from_slice(&[0x0a, 7]);
        let cases: [(&[u8], &str); 6] = [
            (&swallowing, "a length past the end"),
            (&[0x0b], "an open group"),
            (&[0x0c], "a group closed that was never opened"),
            (&[0x10], "a varint key without its value"),
            (&[0x0d, 1, 2], "a truncated fixed32"),
            (&[0x80], "a truncated key"),
        ];
        for (payload, name) in cases {
            let outcome = inject(Bytes::copy_from_slice(payload), &fields, &token);
            assert_eq!(outcome, Err(InjectError::Malformed), "{name}");
        }
        let grouped = [&forged[..], &[0x1b, 0x08, 0x01, 0x1c]].concat();
        let payload = inject(Bytes::from(grouped), &fields, &token).unwrap();
        assert_eq!(Request::decode(payload).unwrap().subject, "alice");
    }

    #[test]
    fn static_claims_match_strings_scalars_and_arrays() {
        let token = claims(serde_json::json!({
            "role": "admin", "level": 3, "groups": ["a", "b"], "obj": {"x": 1}
        }));
        assert!(token.has("role", "admin"));
        assert!(!token.has("role", "user"));
        assert!(token.has("level", "3"));
        assert!(token.has("groups", "b"));
        assert!(!token.has("groups", "c"));
        assert!(!token.has("obj", "{\"x\":1}"));
        assert!(!token.has("absent", ""));
        assert_eq!(token.get_json("groups").as_deref(), Some("[\"a\",\"b\"]"));
    }
}
