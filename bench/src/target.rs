//! Target addresses. Every benchmark stays on this machine: a target must be a loopback address.

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};

use crate::{Error, Result};

/// A parsed `http://host:port` target whose every resolved address is loopback.
#[derive(Debug, Clone)]
pub struct Target {
    /// The URL as given, without a trailing slash (e.g. `http://127.0.0.1:8080`).
    pub base: String,
    /// The host part as given (`127.0.0.1`, `localhost`, `[::1]`).
    pub host: String,
    /// The resolved socket address connections go to.
    pub addr: SocketAddr,
}

impl Target {
    /// Parses `url` (`http://HOST:PORT`, no path) and refuses any host that is not loopback.
    pub fn parse(url: &str) -> Result<Self> {
        let bad = |reason: &str| Error::BadUrl {
            url: url.to_string(),
            reason: reason.to_string(),
        };
        let uri: http::Uri = url
            .parse()
            .map_err(|e: http::uri::InvalidUri| bad(&e.to_string()))?;
        match uri.scheme_str() {
            Some("http") => {}
            Some(other) => {
                return Err(bad(&format!(
                    "scheme `{other}` is not supported (use http://; h2c and gRPC run over plain TCP)"
                )));
            }
            None => return Err(bad("missing scheme (use http://HOST:PORT)")),
        }
        if uri.path() != "/" && !uri.path().is_empty() {
            return Err(bad(
                "the target is an origin only; paths come from the request templates",
            ));
        }
        let host = uri.host().ok_or_else(|| bad("missing host"))?.to_string();
        let port = uri.port_u16().ok_or_else(|| bad("missing port"))?;
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        let addrs: Vec<SocketAddr> = match bare.parse::<IpAddr>() {
            Ok(ip) => vec![SocketAddr::new(ip, port)],
            // Only the name `localhost` is resolved; any other name is refused before any lookup.
            Err(_) if bare.eq_ignore_ascii_case("localhost") => (bare, port)
                .to_socket_addrs()
                .map_err(|e| bad(&format!("cannot resolve: {e}")))?
                .collect(),
            Err(_) => return Err(Error::NotLoopback(url.to_string())),
        };
        if addrs.is_empty() || addrs.iter().any(|a| !a.ip().is_loopback()) {
            return Err(Error::NotLoopback(url.to_string()));
        }
        Ok(Target {
            base: format!("http://{host}:{port}"),
            host,
            addr: addrs[0],
        })
    }

    /// The `host:port` authority for HTTP `Host` headers.
    pub fn authority(&self) -> String {
        format!("{}:{}", self.host, self.addr.port())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_loopback_forms() {
        for url in [
            "http://127.0.0.1:80",
            "http://127.3.4.5:9",
            "http://[::1]:8080",
            "http://localhost:1/",
        ] {
            let t = Target::parse(url).unwrap_or_else(|e| panic!("{url}: {e}"));
            assert!(t.addr.ip().is_loopback());
        }
    }

    #[test]
    fn refuses_other_hosts() {
        for url in [
            "http://10.0.0.1:80",
            "http://192.168.1.1:80",
            "http://example.com:80",
            "http://0.0.0.0:80",
        ] {
            assert!(
                matches!(Target::parse(url), Err(Error::NotLoopback(_))),
                "{url}"
            );
        }
    }

    #[test]
    fn refuses_malformed_urls() {
        for url in [
            "127.0.0.1:80",
            "https://127.0.0.1:80",
            "http://127.0.0.1",
            "http://127.0.0.1:80/x",
        ] {
            assert!(
                matches!(Target::parse(url), Err(Error::BadUrl { .. })),
                "{url}"
            );
        }
    }
}
