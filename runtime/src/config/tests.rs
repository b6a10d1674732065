//! The configuration tests: defaults, sources in order, and errors naming keys.
use super::*;

fn env_of(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
    move |key| {
        pairs
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.to_string())
    }
}

#[test]
fn defaults_apply_without_file_or_environment() {
    let config = Config::from_sources(None, env_of(&[])).unwrap();
    assert_eq!(config, Config::default());
    assert_eq!(config.addr.to_string(), "127.0.0.1:9000");
    assert_eq!(
        config.storage,
        StorageTarget::Sqlite(PathBuf::from("./data/plinth.db"))
    );
}

#[test]
fn environment_overrides_the_file() {
    let file = "addr: 0.0.0.0:8080\nmax_concurrency: 7\ndata_dir: /var/lib/app\nconsumer_slices: 8\n\
         max_streams: 5\nidle_timeout_secs: 3\n";
    let config = Config::from_sources(
        Some((Path::new("plinth.yaml"), file)),
        env_of(&[
            ("PLINTH_MAX_CONCURRENCY", "9"),
            ("PLINTH_SNAPSHOT_EVERY", "0"),
            ("PLINTH_MAX_CONNECTIONS", "77"),
            ("PLINTH_HEADER_READ_TIMEOUT_SECS", "2"),
        ]),
    )
    .unwrap();
    assert_eq!(config.addr.to_string(), "0.0.0.0:8080");
    assert_eq!(config.max_concurrency, 9);
    assert_eq!(config.snapshot_every, 0);
    assert_eq!(config.consumer_slices, 8);
    assert_eq!(config.max_connections, 77);
    assert_eq!(config.max_streams, 5);
    assert_eq!(config.header_read_timeout, Duration::from_secs(2));
    assert_eq!(config.idle_timeout, Duration::from_secs(3));
    assert_eq!(config.tls, None);
    assert_eq!(config.admin_access, AdminAccess::Loopback);
    assert_eq!(
        config.storage,
        StorageTarget::Sqlite(PathBuf::from("/var/lib/app/plinth.db"))
    );
}

#[test]
fn tls_and_admin_settings_are_read() {
    let file = "tls_cert: /etc/app/cert.pem\ntls_key: /etc/app/key.pem\nadmin_access: any\n";
    let config = Config::from_sources(
        Some((Path::new("plinth.yaml"), file)),
        env_of(&[
            ("PLINTH_TLS_CLIENT_CA", "/etc/app/ca.pem"),
            ("PLINTH_TLS_CLIENT_AUTH", "optional"),
            ("PLINTH_ADMIN_ADDR", "127.0.0.1:9001"),
        ]),
    )
    .unwrap();
    let tls = config.tls.expect("TLS is on");
    assert_eq!(tls.cert, PathBuf::from("/etc/app/cert.pem"));
    assert_eq!(tls.client_ca, Some(PathBuf::from("/etc/app/ca.pem")));
    assert!(!tls.client_cert_required);
    assert_eq!(config.admin_addr, Some("127.0.0.1:9001".parse().unwrap()));
    assert_eq!(config.admin_access, AdminAccess::Any);
}

#[test]
fn bad_values_name_their_key() {
    let cases: &[(&[(&str, &str)], &str)] = &[
        (&[("PLINTH_ADDR", "nowhere")], "PLINTH_ADDR"),
        (&[("PLINTH_MAX_CONCURRENCY", "0")], "PLINTH_MAX_CONCURRENCY"),
        (
            &[("PLINTH_MAX_BODY_BYTES", "lots")],
            "PLINTH_MAX_BODY_BYTES",
        ),
        (&[("PLINTH_SNAPSHOT_EVERY", "-1")], "PLINTH_SNAPSHOT_EVERY"),
        (&[("PLINTH_LOG", "plinth=loud")], "PLINTH_LOG"),
        (&[("PLINTH_TOPICS", "kafka://broker")], "PLINTH_TOPICS"),
        (&[("PLINTH_CONSUMER_SLICES", "0")], "PLINTH_CONSUMER_SLICES"),
        (&[("PLINTH_MAX_STREAMS", "0")], "PLINTH_MAX_STREAMS"),
        (
            &[("PLINTH_IDLE_TIMEOUT_SECS", "soon")],
            "PLINTH_IDLE_TIMEOUT_SECS",
        ),
        (
            &[("PLINTH_CONSUMER_SLICES", "5000")],
            "PLINTH_CONSUMER_SLICES",
        ),
    ];
    for (env, key) in cases {
        let env = env.to_vec();
        let error = Config::from_sources(None, move |k| {
            env.iter()
                .find(|(e, _)| *e == k)
                .map(|(_, v)| v.to_string())
        })
        .unwrap_err();
        assert!(error.to_string().contains(key), "{error} should name {key}");
    }
}

#[test]
fn postgres_urls_are_accepted_and_bad_schemes_named() {
    let config = Config::from_sources(
        None,
        env_of(&[("PLINTH_STORAGE", "postgres://app:secret@db/app")]),
    )
    .unwrap();
    assert_eq!(
        config.storage,
        StorageTarget::Postgres("postgres://app:secret@db/app".into())
    );
    let error = Config::from_sources(
        None,
        env_of(&[("PLINTH_STORAGE", "mysql://app:secret@db/app")]),
    )
    .unwrap_err();
    let message = error.to_string();
    assert!(
        message.contains("PLINTH_STORAGE") && message.contains("mysql://"),
        "{message}"
    );
    assert!(!message.contains("secret"), "{message}");
}

#[test]
fn unknown_file_keys_are_rejected() {
    let error = Config::from_sources(Some((Path::new("plinth.yaml"), "adress: 1\n")), env_of(&[]))
        .unwrap_err();
    assert!(error.to_string().contains("adress"), "{error}");
}

#[test]
fn the_otlp_endpoint_is_read_from_the_plinth_variable_the_standard_one_or_the_file() {
    let file = Some((
        Path::new("plinth.yaml"),
        "otlp_endpoint: http://collector:4317\nservice_name: shop\n",
    ));
    let from_file = Config::from_sources(file, env_of(&[])).unwrap();
    assert_eq!(
        from_file.otlp_endpoint.as_deref(),
        Some("http://collector:4317")
    );
    assert_eq!(from_file.service_name.as_deref(), Some("shop"));
    let standard = Config::from_sources(
        file,
        env_of(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://otel:4317/"),
            ("OTEL_SERVICE_NAME", "checkout"),
        ]),
    )
    .unwrap();
    assert_eq!(standard.otlp_endpoint.as_deref(), Some("http://otel:4317"));
    assert_eq!(standard.service_name.as_deref(), Some("checkout"));
    let ours = Config::from_sources(
        file,
        env_of(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://otel:4317"),
            ("PLINTH_OTLP_ENDPOINT", "http://127.0.0.1:14317"),
        ]),
    )
    .unwrap();
    assert_eq!(
        ours.otlp_endpoint.as_deref(),
        Some("http://127.0.0.1:14317")
    );
    // An empty value turns export off, as the OpenTelemetry variables do.
    let off = Config::from_sources(file, env_of(&[("PLINTH_OTLP_ENDPOINT", " ")])).unwrap();
    assert_eq!(off.otlp_endpoint, None);
}

#[test]
fn without_an_endpoint_nothing_is_exported() {
    let config = Config::from_sources(None, env_of(&[])).unwrap();
    assert_eq!(config.otlp_endpoint, None);
    crate::telemetry::install_export(&config);
    assert!(!crate::telemetry::exporting());
}

#[test]
fn bad_otlp_endpoints_name_their_key() {
    let cases: &[(&[(&str, &str)], &str)] = &[
        (
            &[("PLINTH_OTLP_ENDPOINT", "collector:4317")],
            "PLINTH_OTLP_ENDPOINT",
        ),
        (
            &[("PLINTH_OTLP_ENDPOINT", "not a url")],
            "PLINTH_OTLP_ENDPOINT",
        ),
        (
            &[("OTEL_EXPORTER_OTLP_ENDPOINT", "ftp://collector:4317")],
            "OTEL_EXPORTER_OTLP_ENDPOINT",
        ),
        (
            &[("OTEL_EXPORTER_OTLP_ENDPOINT", "https://collector:4317")],
            "OTEL_EXPORTER_OTLP_ENDPOINT",
        ),
        (
            &[("PLINTH_OTLP_ENDPOINT", "http://collector:4317/v1/traces")],
            "PLINTH_OTLP_ENDPOINT",
        ),
        (&[("OTEL_SERVICE_NAME", "  ")], "OTEL_SERVICE_NAME"),
    ];
    for (env, key) in cases {
        let env = env.to_vec();
        let error = Config::from_sources(None, move |k| {
            env.iter()
                .find(|(e, _)| *e == k)
                .map(|(_, v)| v.to_string())
        })
        .unwrap_err();
        assert!(error.to_string().contains(key), "{error} should name {key}");
    }
    let error = Config::from_sources(
        Some((Path::new("plinth.yaml"), "otlp_endpoint: collector\n")),
        env_of(&[]),
    )
    .unwrap_err();
    assert!(error.to_string().contains("otlp_endpoint"), "{error}");
}
