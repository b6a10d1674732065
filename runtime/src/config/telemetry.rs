//! The tracing-export settings of the configuration: where spans are sent
//! over OTLP, and the service name they carry.

use super::{ConfigResult, Raw};

/// The OTLP/gRPC endpoint, checked: `http://host:port` (an empty value
/// means no export). Spans are sent to it as they are, with no TLS.
pub(super) fn endpoint(raw: &Raw<'_>) -> ConfigResult<Option<String>> {
    let value = raw.value.trim();
    if value.is_empty() {
        return Ok(None);
    }
    const EXPECTED: &str = "an OTLP/gRPC endpoint such as http://127.0.0.1:4317 (plain http; OTLP over TLS is not supported)";
    let uri: http::Uri = value.parse().map_err(|_| raw.invalid(EXPECTED))?;
    let plain = uri.scheme_str() == Some("http");
    let bare = uri.path_and_query().is_none_or(|p| p.as_str() == "/");
    match uri.authority() {
        Some(authority) if plain && bare && !authority.host().is_empty() => {
            Ok(Some(value.trim_end_matches('/').to_owned()))
        }
        _ => Err(raw.invalid(EXPECTED)),
    }
}

/// The `service.name` of exported spans (not empty).
pub(super) fn service_name(raw: &Raw<'_>) -> ConfigResult<String> {
    let value = raw.value.trim();
    if value.is_empty() {
        return Err(raw.invalid("a service name"));
    }
    Ok(value.to_owned())
}
