//! `plinth new` end to end: the crate it creates, outside this repository,
//! builds and passes its own tests (unit tests on the test kits, and an
//! end-to-end test of the running service).

use std::path::Path;
use std::process::{Command, Output};

fn plinth(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_plinth"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("plinth runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn a_new_service_builds_and_passes_its_tests() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let made = plinth(&["new", "task-board"], dir.path());
    assert!(made.status.success(), "{}", text(&made.stderr));
    assert!(text(&made.stdout).contains("created task-board"));
    let krate = dir.path().join("task-board");

    let check = plinth(
        &["check", "proto/task_board/tasks.proto", "-I", "proto"],
        &krate,
    );
    assert!(check.status.success(), "{}", text(&check.stderr));
    assert!(
        text(&check.stdout).contains("4 components"),
        "{}",
        text(&check.stdout)
    );

    // Built apart from this workspace: cargo's variables of the running test
    // are not passed on, and the dependencies come from the lock file the
    // crate was created with (already downloaded for this workspace).
    let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/new-service");
    let mut cargo = Command::new(env!("CARGO"));
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy().into_owned();
        if key.starts_with("CARGO_") && key != "CARGO_HOME" {
            cargo.env_remove(&key);
        }
    }
    let tested = cargo
        .args(["test", "--offline"])
        .env("CARGO_TARGET_DIR", target)
        .current_dir(&krate)
        .output()
        .expect("cargo runs");
    let stdout = text(&tested.stdout);
    assert!(
        tested.status.success(),
        "{stdout}\n{}",
        text(&tested.stderr)
    );
    assert!(stdout.contains("test result: ok. 5 passed"), "{stdout}");
    assert!(
        stdout.contains("a_finished_task_shows_in_the_view_and_scores_a_point ... ok"),
        "{stdout}"
    );
}

#[test]
fn bad_names_and_taken_directories_are_refused() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let bad = plinth(&["new", "Task Board"], dir.path());
    assert!(!bad.status.success());
    assert!(
        text(&bad.stderr).contains("lowercase ASCII letter"),
        "{}",
        text(&bad.stderr)
    );
    std::fs::create_dir(dir.path().join("taken")).expect("a directory");
    std::fs::write(dir.path().join("taken/notes.txt"), "mine").expect("a file");
    let taken = plinth(&["new", "taken"], dir.path());
    assert!(!taken.status.success());
    assert!(
        text(&taken.stderr).contains("is not an empty directory"),
        "{}",
        text(&taken.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("taken/notes.txt")).expect("kept"),
        "mine"
    );
    let elsewhere = plinth(
        &[
            "new",
            "board",
            "--plinth",
            dir.path().to_str().expect("utf-8"),
        ],
        dir.path(),
    );
    assert!(!elsewhere.status.success());
    assert!(text(&elsewhere.stderr).contains("not a Plinth checkout"));
    assert!(!dir.path().join("board").exists(), "nothing is written");
}
