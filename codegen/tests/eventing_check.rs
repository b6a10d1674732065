//! `plinth check` on subscriptions to event-sourced entities: an event type
//! no method handles, without `ignore_unknown`, is an error with its
//! location and a hint; handling, ignoring or `ignore_unknown` pass.

use std::path::Path;
use std::process::Command;

const PLINTH: &str = env!("CARGO_BIN_EXE_plinth");

const ENTITY: &str = r#"
syntax = "proto3";
package shop;
import "google/protobuf/empty.proto";
import "plinth/annotations.proto";
message State { int32 count = 1; }
message Incremented { int32 by = 1; }
message Reset {}
message Inc { string id = 1 [(plinth.field).id = true]; int32 by = 2; }
service Counter {
  option (plinth.component) = {
    event_sourced_entity: { type_id: "counters" state: "State" events: ["Incremented", "Reset"] }
  };
  rpc Increase(Inc) returns (google.protobuf.Empty);
}
"#;

/// Check a file holding the entity and this action; returns (success, stderr).
fn check(dir: &Path, name: &str, action: &str) -> (bool, String) {
    let path = dir.join(name);
    std::fs::write(&path, format!("{ENTITY}{action}")).unwrap();
    let output = Command::new(PLINTH)
        .arg("check")
        .arg(&path)
        .arg("-I")
        .arg(dir)
        .output()
        .expect("run plinth check");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn eventing_check_reports_an_unhandled_event_type() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, stderr) = check(
        dir.path(),
        "audit.proto",
        r#"
service CounterAudit {
  option (plinth.component) = { action: {} subscribe: { event_sourced_entity: "counters" } };
  rpc OnIncremented(Incremented) returns (google.protobuf.Empty);
}
"#,
    );
    assert!(!ok, "the check must fail");
    assert!(stderr.contains("shop.Reset"), "{stderr}");
    assert!(stderr.contains("ignore_unknown"), "the hint: {stderr}");
    // file:line:col of the subscription's source.
    assert!(stderr.contains("audit.proto:18:79"), "{stderr}");
}

#[test]
fn eventing_check_accepts_handled_ignored_or_ignore_unknown() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "unknown.proto",
            r#"
service CounterAudit {
  option (plinth.component) = {
    action: {} subscribe: { event_sourced_entity: "counters" ignore_unknown: true }
  };
  rpc OnIncremented(Incremented) returns (google.protobuf.Empty);
}
"#,
        ),
        (
            "ignored.proto",
            r#"
service CounterAudit {
  option (plinth.component) = { action: {} subscribe: { event_sourced_entity: "counters" } };
  rpc OnIncremented(Incremented) returns (google.protobuf.Empty);
  rpc OnReset(Reset) returns (google.protobuf.Empty) {
    option (plinth.method).subscribe = { event_sourced_entity: "counters" ignore: true };
  }
}
"#,
        ),
        (
            "handled.proto",
            r#"
service CounterAudit {
  option (plinth.component) = { action: {} subscribe: { event_sourced_entity: "counters" } };
  rpc OnIncremented(Incremented) returns (google.protobuf.Empty);
  rpc OnReset(Reset) returns (google.protobuf.Empty);
}
"#,
        ),
    ];
    for (name, action) in cases {
        let (ok, stderr) = check(dir.path(), name, action);
        assert!(ok, "{name}: {stderr}");
    }
}
