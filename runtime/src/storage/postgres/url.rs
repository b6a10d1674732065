//! Connection settings from a URL, and the URL for the log.

use super::PostgresOptions;
use crate::storage::{StorageError, StorageResult};

/// How long (ms) the server lets a session sit idle inside a transaction
/// before ending it, releasing the feed lock a stalled writer held (unless
/// the URL's `options` set `idle_in_transaction_session_timeout`).
const IDLE_IN_TRANSACTION_MS: u32 = 30_000;

/// The connection settings of `url` with the storage's defaults where the
/// URL sets none, and the URL without its password.
pub(super) fn config(
    url: &str,
    options: &PostgresOptions,
) -> StorageResult<(tokio_postgres::Config, String)> {
    let description = describe_url(url);
    let mut config: tokio_postgres::Config = url.parse().map_err(|err| {
        StorageError::Backend(format!("invalid PostgreSQL URL {description}: {err}"))
    })?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(options.connect_timeout);
    }
    if config.get_application_name().is_none() {
        config.application_name("plinth");
    }
    // A session stalled inside a transaction (its client cut off) would
    // hold the feed lock for every process: the server ends it instead.
    let server_options = config.get_options().unwrap_or_default().to_owned();
    if !server_options.contains("idle_in_transaction_session_timeout") {
        config.options(
            format!(
                "{server_options} -c idle_in_transaction_session_timeout={IDLE_IN_TRANSACTION_MS}"
            )
            .trim_start()
            .to_owned(),
        );
    }
    Ok((config, description))
}

/// `url` without its password: the user-info password of a URL and any
/// `password` parameter (of the query string, or of a `key=value` string).
pub(super) fn describe_url(url: &str) -> String {
    let secret = |part: &str| {
        part.trim_start()
            .to_ascii_lowercase()
            .starts_with("password=")
    };
    if url.contains("://") {
        let redacted = crate::storage::redact(url);
        return match redacted.split_once('?') {
            Some((base, query)) => {
                let kept: Vec<&str> = query.split('&').filter(|p| !secret(p)).collect();
                if kept.is_empty() {
                    base.to_owned()
                } else {
                    format!("{base}?{}", kept.join("&"))
                }
            }
            None => redacted,
        };
    }
    // `key=value` pairs separated by spaces; values may be single-quoted.
    let mut pairs: Vec<String> = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    let mut escaped = false;
    for c in url.chars() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '\'' => quoted = !quoted,
            c if c.is_whitespace() && !quoted => {
                if !current.is_empty() {
                    pairs.push(std::mem::take(&mut current));
                }
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    if !current.is_empty() {
        pairs.push(current);
    }
    pairs.retain(|pair| !secret(pair));
    pairs.join(" ")
}

#[cfg(test)]
mod tests {
    use super::describe_url;

    #[test]
    fn descriptions_leave_out_passwords() {
        assert_eq!(
            describe_url("postgres://ann:secret@db:5432/app"),
            "postgres://ann:***@db:5432/app"
        );
        assert_eq!(
            describe_url("postgres://db/app?user=ann&password=secret&sslmode=disable"),
            "postgres://db/app?user=ann&sslmode=disable"
        );
        assert_eq!(
            describe_url("postgres://db/app?password=secret"),
            "postgres://db/app"
        );
        assert_eq!(
            describe_url("host=db user=ann password='s3 cret' dbname=app"),
            "host=db user=ann dbname=app"
        );
        assert_eq!(
            describe_url("host=db password=s\\ cret dbname=app"),
            "host=db dbname=app"
        );
    }
}
