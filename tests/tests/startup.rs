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
            ("PLINTH_STORAGE", "postgres://app:secret@db.invalid/app"),
            "cannot open storage postgres://app:***@db.invalid/app",
        ),
        (
            ("PLINTH_STORAGE", "mysql://app:secret@db/app"),
            "PLINTH_STORAGE",
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

#[tokio::test]
async fn a_second_process_on_the_same_sqlite_file_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let first = plinth_tests::process::ServiceProcess::start(FIXTURE.as_ref(), dir.path()).await;
    let output = Command::new(FIXTURE)
        .current_dir(dir.path())
        .env_remove("PLINTH_CONFIG")
        .env_remove("PLINTH_STORAGE")
        .env("PLINTH_DATA_DIR", dir.path())
        .env("PLINTH_ADDR", "127.0.0.1:0")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success(),
        "the second process must not serve"
    );
    assert!(
        stderr.contains("served by another process") && stderr.contains("PostgreSQL"),
        "{stderr}"
    );
    // The lock goes with the process, also on SIGKILL: a restart serves again.
    first.kill();
    let again = plinth_tests::process::ServiceProcess::start(FIXTURE.as_ref(), dir.path()).await;
    assert!(
        tokio::net::TcpStream::connect(again.addr()).await.is_ok(),
        "the restarted process serves"
    );
}

#[tokio::test]
async fn a_taken_port_stops_startup_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let output = Command::new(FIXTURE)
        .current_dir(dir.path())
        .env_remove("PLINTH_CONFIG")
        .env_remove("PLINTH_STORAGE")
        .env("PLINTH_DATA_DIR", dir.path())
        .env("PLINTH_ADDR", &addr)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains(&format!("cannot listen on {addr}")),
        "{stderr}"
    );
}
