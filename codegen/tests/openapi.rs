//! The OpenAPI documents of the examples: snapshotted, and valid OpenAPI
//! 3.1 by `openapi-spec-validator` (PyPI; `.ci/run` installs it, and without
//! it the validation is skipped with a note, except under CI).

use std::path::{Path, PathBuf};
use std::process::Command;

use plinth_codegen::{Config, compile, generate_openapi};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn document(include: &str, protos: &[&str]) -> serde_json::Value {
    let include = root().join(include);
    let protos: Vec<PathBuf> = protos.iter().map(|p| include.join(p)).collect();
    let compiled = compile(&protos, &[&include]).unwrap_or_else(|e| panic!("{}", e.render_plain()));
    let config = Config {
        sources: compiled.sources.clone(),
    };
    generate_openapi(&compiled.pool, &config, "Plinth service").expect("a document")
}

/// Validate `document` with openapi-spec-validator, if it is installed.
fn validate(name: &str, document: &serde_json::Value) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(format!("{name}.json"));
    std::fs::write(&path, serde_json::to_string(document).unwrap()).unwrap();
    let script = "import json, sys\n\
                  from openapi_spec_validator import validate\n\
                  validate(json.load(open(sys.argv[1])))\n";
    let output = Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(&path)
        .output();
    match output {
        Ok(output) if output.status.success() => {}
        Ok(output) => {
            let stderr = String::from_utf8_lossy(&output.stderr);
            if stderr.contains("No module named 'openapi_spec_validator'")
                && std::env::var_os("CI").is_none()
            {
                eprintln!("skipped validating {name}: pip install openapi-spec-validator");
                return;
            }
            panic!("{name} is not valid OpenAPI 3.1:\n{stderr}");
        }
        Err(error) if std::env::var_os("CI").is_none() => {
            eprintln!("skipped validating {name}: no python3 ({error})");
        }
        Err(error) => panic!("python3 is needed under CI: {error}"),
    }
}

fn snapshot(name: &str, document: &serde_json::Value) {
    insta::with_settings!({ snapshot_path => "../../snapshots/openapi", prepend_module_to_snapshot => false }, {
        insta::assert_json_snapshot!(name, document);
    });
}

#[test]
fn the_customer_registry() {
    let document = document(
        "examples/customer-registry/proto",
        &[
            "customer/domain/customer_domain.proto",
            "customer/api/customer_api.proto",
            "customer/view/customer_view.proto",
        ],
    );
    // Routes, parameters and the proto3 JSON forms.
    let get = &document["paths"]["/customers/{customer_id}"]["get"];
    assert_eq!(get["parameters"][0]["in"], "path");
    assert_eq!(get["parameters"][0]["name"], "customer_id");
    let schemas = &document["components"]["schemas"];
    assert!(schemas["customer.api.Customer"]["properties"]["customerId"].is_object());
    // A view's update methods are the runtime's: not in the document.
    let paths = serde_json::to_string(&document["paths"]).unwrap();
    assert!(!paths.contains("UpdateCustomer"), "{paths}");
    validate("customer_registry", &document);
    snapshot("customer_registry", &document);
}

#[test]
fn the_transfer_example() {
    let document = document(
        "examples/transfer/proto",
        &[
            "com/example/wallet/wallet_api.proto",
            "com/example/transfer/transfer_domain.proto",
            "com/example/transfer/transfer_api.proto",
        ],
    );
    let start = &document["paths"]["/transfer/{transfer_id}"]["put"];
    // An empty JSON body is the empty message: the body may be left out.
    assert_eq!(start["requestBody"]["required"], false);
    assert!(start["requestBody"]["content"]["application/json"].is_object());
    let status = &document["components"]["schemas"]["com.example.transfer.domain.TransferStatus"];
    assert!(status.is_null(), "enums are inlined, not referenced");
    let state = &document["components"]["schemas"]["com.example.transfer.domain.TransferState"];
    assert_eq!(state["properties"]["status"]["type"], "string");
    assert_eq!(state["properties"]["amount"]["format"], "int32");
    validate("transfer", &document);
    snapshot("transfer", &document);
}
