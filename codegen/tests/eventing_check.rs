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

/// `plinth routes` lists each method's gRPC path and HTTP routes, the
/// default `POST /package.Service/Method` included, and marks the methods
/// only the runtime calls.
#[test]
fn routes_lists_every_method_and_route() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/customer-registry/proto");
    let output = Command::new(PLINTH)
        .arg("routes")
        .arg(root.join("customer/api/customer_api.proto"))
        .arg(root.join("customer/view/customer_view.proto"))
        .arg("-I")
        .arg(&root)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8(output.stdout).unwrap();
    for line in [
        "customer.api.CustomerService (value entity Customer)",
        "  gRPC /customer.api.CustomerService/GetCustomer",
        "  HTTP GET /customers/{customer_id}",
        "  HTTP POST /customer.api.CustomerService/GetCustomer",
        "  gRPC /customer.view.CustomerByName/GetCustomers [reply stream]",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "{line:?} missing in\n{text}"
        );
    }
    // A view's update method: the runtime's, with no route.
    let update = text
        .lines()
        .position(|l| l == "  gRPC /customer.view.CustomerByName/UpdateCustomer")
        .expect("the update method is listed");
    let next: Vec<&str> = text.lines().skip(update + 1).take(2).collect();
    assert_eq!(
        next[0],
        "       called by the runtime only (fed by its subscription)"
    );
    assert!(next[1].starts_with("  gRPC "), "{next:?}");
}
