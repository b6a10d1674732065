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

/// `payload` with each claim field set to its claim's value. The values are
/// appended as length-delimited fields: for a singular string field the
/// last occurrence wins when the message is decoded, so whatever the client
/// sent in that field is replaced. The generator admits claims into
/// singular string fields only. Fails with the first claim the token lacks.
pub(crate) fn inject<'a>(
    payload: Bytes,
    fields: &'a [ClaimField],
    claims: &Claims,
) -> Result<Bytes, &'a ClaimField> {
    if fields.is_empty() {
        return Ok(payload);
    }
    let mut out = BytesMut::from(payload.as_ref());
    for field in fields {
        let value = claims.text(field.claim).ok_or(field)?;
        let key = (u64::from(field.number) << 3) | 2;
        prost::encoding::encode_varint(key, &mut out);
        prost::encoding::encode_varint(value.len() as u64, &mut out);
        out.put_slice(value.as_bytes());
    }
    Ok(out.freeze())
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
        assert_eq!(refused.claim, "sub");
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
