//! A fresh PostgreSQL database per test, on the server `.ci/run` starts
//! (`PLINTH_TEST_POSTGRES_URL`; locally: `eval "$(.ci/postgres.sh start)"`).

/// The variable naming the test server.
pub const URL_VAR: &str = "PLINTH_TEST_POSTGRES_URL";

/// A new empty database on the test server, as a connection URL; `None`
/// (with a note on stderr) when no server is configured — except under CI
/// (`CI` set), where `.ci/run` starts one and its absence is a failure.
pub async fn fresh_database(test: &str) -> Option<String> {
    let admin = match std::env::var(URL_VAR) {
        Ok(url) if !url.trim().is_empty() => url,
        _ if std::env::var_os("CI").is_some() => {
            panic!("{URL_VAR} is not set under CI: .ci/run starts PostgreSQL and sets it")
        }
        _ => {
            eprintln!(
                "skipped {test}: {URL_VAR} is not set (see README, \"Tests against PostgreSQL\")"
            );
            return None;
        }
    };
    let (client, connection) = tokio_postgres::connect(&admin, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|error| panic!("cannot reach the test PostgreSQL at {admin}: {error}"));
    let driver = tokio::spawn(connection);
    let name = format!("plinth_e2e_{}", uuid_like());
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .expect("create the test database");
    drop(client);
    let _ = driver.await;
    Some(replace_database(&admin, &name))
}

/// `url` with its database name replaced by `name`.
fn replace_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let authority_end = base
        .find("://")
        .map(|scheme| scheme + 3)
        .and_then(|start| base[start..].find('/').map(|slash| start + slash))
        .unwrap_or(base.len());
    let mut out = format!("{}/{name}", &base[..authority_end]);
    if let Some(query) = query {
        out.push('?');
        out.push_str(query);
    }
    out
}

/// A short random lowercase name part.
fn uuid_like() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{:x}{:x}", std::process::id(), nanos)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_database_name_is_replaced() {
        assert_eq!(
            super::replace_database("postgres://u:p@h:1/postgres", "x"),
            "postgres://u:p@h:1/x"
        );
        assert_eq!(
            super::replace_database("postgres://u:p@h:1/postgres?sslmode=disable", "x"),
            "postgres://u:p@h:1/x?sslmode=disable"
        );
        assert_eq!(
            super::replace_database("postgres://h", "x"),
            "postgres://h/x"
        );
    }
}
