//! TLS on the service port with certificates made in the test: HTTP/1.1 and
//! gRPC (HTTP/2 by ALPN) over one listener, client certificates that name the
//! calling service for the access rules, certificates from another CA and
//! plain text refused cleanly, and the admin surface on its own address.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use plinth::config::TlsConfig;
use plinth::{Config, RunningService};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio_rustls::rustls::{self, ClientConfig, RootCertStore};

/// A certificate authority made for the test.
struct Authority {
    issuer: Issuer<'static, KeyPair>,
    pem: String,
}

impl Authority {
    fn new(name: &str) -> Authority {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        let pem = params.self_signed(&key).unwrap().pem();
        Authority {
            issuer: Issuer::new(params, key),
            pem,
        }
    }

    /// A leaf certificate for `names`, as (certificate PEM, key PEM).
    fn issue(&self, names: &[&str]) -> (String, String) {
        let key = KeyPair::generate().unwrap();
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let params = CertificateParams::new(names).unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        (cert.pem(), key.serialize_pem())
    }
}

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

async fn start(dir: &Path, ca: &Authority, required: bool, admin: bool) -> RunningService {
    let (cert, key) = ca.issue(&["localhost"]);
    let mut config = Config::default()
        .with_addr("127.0.0.1:0".parse().unwrap())
        .with_sqlite(dir.join(format!("plinth-{required}.db")));
    config.tls = Some(TlsConfig {
        cert: write(dir, "server.pem", &cert),
        key: write(dir, "server.key", &key),
        client_ca: Some(write(dir, "ca.pem", &ca.pem)),
        client_cert_required: required,
    });
    if admin {
        config.admin_addr = Some("127.0.0.1:0".parse().unwrap());
    }
    plinth_tests::fixture::service()
        .config(config)
        .start()
        .await
        .expect("the service starts with TLS")
}

/// A TLS client trusting `ca`, presenting `identity` if given.
fn connector(ca: &Authority, identity: Option<(String, String)>, alpn: &[u8]) -> TlsConnector {
    let mut roots = RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(ca.pem.as_bytes()).unwrap())
        .unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    let mut config = match identity {
        None => builder.with_no_client_auth(),
        Some((cert, key)) => builder
            .with_client_auth_cert(
                vec![CertificateDer::from_pem_slice(cert.as_bytes()).unwrap()],
                PrivateKeyDer::from_pem_slice(key.as_bytes()).unwrap(),
            )
            .unwrap(),
    };
    config.alpn_protocols = vec![alpn.to_vec()];
    TlsConnector::from(Arc::new(config))
}

/// Call `/test.Echo/<method>` over HTTP/1.1 on TLS; the status code, or
/// `None` when the connection failed (a refused certificate).
async fn http1(addr: SocketAddr, tls: &TlsConnector, method: &str) -> Option<u16> {
    let tcp = TcpStream::connect(addr).await.unwrap();
    let name = ServerName::try_from("localhost").unwrap();
    let stream = tls.connect(name, tcp).await.ok()?;
    let (mut send, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .ok()?;
    tokio::spawn(connection);
    let request = http::Request::post(format!("/test.Echo/{method}"))
        .header("host", "localhost")
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from_static(br#"{"text": "hi"}"#)))
        .unwrap();
    let reply = send.send_request(request).await.ok()?;
    let status = reply.status().as_u16();
    if method == "BillingOnly" && status == 200 {
        // The handler sees the service the certificate names.
        let body = reply.into_body().collect().await.ok()?.to_bytes();
        assert_eq!(body, br#"{"text":"billing-eu"}"#.as_slice());
    }
    Some(status)
}

/// Call `/test.Echo/<method>` over gRPC on TLS (HTTP/2 by ALPN); the
/// `grpc-status`, or `None` when the connection failed.
async fn grpc(addr: SocketAddr, tls: &TlsConnector, method: &str) -> Option<String> {
    let tcp = TcpStream::connect(addr).await.unwrap();
    let name = ServerName::try_from("localhost").unwrap();
    let stream = tls.connect(name, tcp).await.ok()?;
    assert_eq!(stream.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    let (mut send, connection) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .ok()?;
    tokio::spawn(connection);
    // An EchoRequest { text: "hi" } in one gRPC frame.
    let message = [0x0a, 0x02, b'h', b'i'];
    let mut frame = vec![0, 0, 0, 0, message.len() as u8];
    frame.extend_from_slice(&message);
    let request = http::Request::post(format!("https://localhost/test.Echo/{method}"))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(Full::new(Bytes::from(frame)))
        .unwrap();
    let reply = send.send_request(request).await.ok()?;
    let from_headers = reply.headers().get("grpc-status").cloned();
    let body = reply.into_body().collect().await.ok()?;
    let status = from_headers.or_else(|| body.trailers()?.get("grpc-status").cloned())?;
    Some(status.to_str().unwrap().to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_certificates_name_the_calling_service_over_http_and_grpc() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Authority::new("plinth test ca");
    let service = start(dir.path(), &ca, false, false).await;
    let addr = service.local_addr();

    let anonymous = connector(&ca, None, b"http/1.1");
    let billing = connector(&ca, Some(ca.issue(&["billing-eu"])), b"http/1.1");
    let shop = connector(&ca, Some(ca.issue(&["shop"])), b"http/1.1");
    let cases = [
        ("internet", &anonymous, "Say", 200),
        ("internet", &anonymous, "BillingOnly", 403),
        ("billing-eu", &billing, "BillingOnly", 200),
        ("shop", &shop, "BillingOnly", 403),
        ("shop", &shop, "Say", 200),
    ];
    for (who, tls, method, expected) in cases {
        let status = http1(addr, tls, method).await;
        assert_eq!(
            status,
            Some(expected),
            "{who} calling {method} over HTTP/1.1"
        );
    }

    let anonymous = connector(&ca, None, b"h2");
    let billing = connector(&ca, Some(ca.issue(&["billing-eu"])), b"h2");
    let cases = [
        ("internet", &anonymous, "Say", "0"),
        ("internet", &anonymous, "BillingOnly", "7"),
        ("billing-eu", &billing, "BillingOnly", "0"),
    ];
    for (who, tls, method, expected) in cases {
        let status = grpc(addr, tls, method).await;
        assert_eq!(
            status.as_deref(),
            Some(expected),
            "{who} calling {method} over gRPC"
        );
    }

    // A certificate from another CA proves nothing and fails the handshake.
    let rogue = Authority::new("rogue ca");
    let forged = connector(&ca, Some(rogue.issue(&["billing-eu"])), b"http/1.1");
    assert_eq!(http1(addr, &forged, "BillingOnly").await, None);

    // Plain text to the TLS port gets no HTTP answer, and TLS still works.
    let mut plain = TcpStream::connect(addr).await.unwrap();
    plain
        .write_all(b"POST /test.Echo/Say HTTP/1.1\r\nhost: x\r\ncontent-length: 2\r\n\r\n{}")
        .await
        .unwrap();
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), plain.read_to_end(&mut answer)).await;
    assert!(read.is_ok(), "the plain-text connection is closed");
    assert!(
        !answer.starts_with(b"HTTP/"),
        "no plain-text answer: {}",
        String::from_utf8_lossy(&answer)
    );
    assert_eq!(http1(addr, &anonymous_http1(&ca), "Say").await, Some(200));
    service.shutdown().await;
}

fn anonymous_http1(ca: &Authority) -> TlsConnector {
    connector(ca, None, b"http/1.1")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_required_client_certificate_refuses_callers_without_one() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Authority::new("plinth test ca");
    let service = start(dir.path(), &ca, true, false).await;
    let addr = service.local_addr();
    assert_eq!(http1(addr, &anonymous_http1(&ca), "Say").await, None);
    let shop = connector(&ca, Some(ca.issue(&["shop"])), b"http/1.1");
    assert_eq!(http1(addr, &shop, "Say").await, Some(200));
    service.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_separate_admin_address_takes_the_admin_surface_off_the_service_port() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Authority::new("plinth test ca");
    let service = start(dir.path(), &ca, false, true).await;
    let admin = service.admin_addr().expect("an admin address");
    let http = reqwest::Client::new();
    let status = http
        .get(format!("http://{admin}/_plinth/views"))
        .send()
        .await
        .unwrap();
    assert_eq!(status.status(), 200, "the admin address serves the status");
    let metrics = http
        .get(format!("http://{admin}/_plinth/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(metrics.status(), 200);
    // On the service port the admin routes are gone; calls still work.
    let tcp = TcpStream::connect(service.local_addr()).await.unwrap();
    let stream = anonymous_http1(&ca)
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap();
    let (mut send, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(connection);
    let request = http::Request::get("/_plinth/views")
        .header("host", "localhost")
        .body(Full::new(Bytes::new()))
        .unwrap();
    let reply = send.send_request(request).await.unwrap();
    assert_eq!(reply.status(), 404);
    assert_eq!(
        http1(service.local_addr(), &anonymous_http1(&ca), "Say").await,
        Some(200)
    );
    service.shutdown().await;
}
