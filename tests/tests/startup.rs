//! Starting a service binary: defaults without a config file, the listening
//! address in the log, and bad settings stopping startup with the key named.

use std::process::Command;

const FIXTURE: &str = env!("CARGO_BIN_EXE_plinth-fixture");

fn start_with(env: &[(&str, &str)]) -> std::process::Output {
    let dir = tempfile::tempdir().unwrap();
    let mut command = Command::new(FIXTURE);
    command
        .current_dir(dir.path())
        .env_remove("PLINTH_CONFIG")
        .env("PLINTH_ADDR", "127.0.0.1:0");
    for (key, value) in env {
        command.env(key, value);
    }
    command.output().expect("the binary runs")
}

#[test]
fn bad_settings_stop_startup_naming_the_key() {
    let cases = [
        (("PLINTH_MAX_CONCURRENCY", "zero"), "PLINTH_MAX_CONCURRENCY"),
        (("PLINTH_ADDR", "localhost"), "PLINTH_ADDR"),
        (
            ("PLINTH_STORAGE", "postgres://app:secret@db/app"),
            "not supported yet",
        ),
        (("PLINTH_LOG", "plinth=loud"), "PLINTH_LOG"),
    ];
    for ((key, value), expected) in cases {
        let output = start_with(&[(key, value)]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{key}={value} must stop startup");
        assert!(stderr.contains(expected), "{key}={value}: {stderr}");
        assert!(!stderr.contains("secret"), "{stderr}");
    }
}

#[test]
fn a_bad_config_file_stops_startup_naming_the_file_and_key() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("plinth.yaml"), "max_concurency: 5\n").unwrap();
    let output = Command::new(FIXTURE)
        .current_dir(dir.path())
        .env_remove("PLINTH_CONFIG")
        .env_remove("PLINTH_MAX_CONCURRENCY")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains("plinth.yaml") && stderr.contains("max_concurency"),
        "{stderr}"
    );
}

#[tokio::test]
async fn startup_logs_the_address_and_creates_the_default_database() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = tokio::process::Command::new(FIXTURE)
        .current_dir(dir.path())
        .env_remove("PLINTH_CONFIG")
        .env_remove("PLINTH_DATA_DIR")
        .env_remove("PLINTH_STORAGE")
        .env("PLINTH_ADDR", format!("127.0.0.1:{port}"))
        .env("NO_COLOR", "1")
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    use tokio::io::AsyncBufReadExt;
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let wanted = format!("127.0.0.1:{port}");
    let found = tokio::time::timeout(std::time::Duration::from_secs(20), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if line.contains("serving") && line.contains(&wanted) {
                return true;
            }
        }
        false
    })
    .await
    .unwrap_or(false);
    assert!(found, "the startup log names {wanted}");
    assert!(
        dir.path().join("data").join("plinth.db").exists(),
        "the default database is ./data/plinth.db"
    );
    child.kill().await.unwrap();
}
