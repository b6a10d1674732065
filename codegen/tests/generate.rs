//! Snapshots of the code Plinth generates (its own part of each package, not
//! prost's messages) for the examples and for edge-case fixtures.

use std::path::{Path, PathBuf};

use plinth_codegen::{Config, compile, emit, generate, model};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Compile `protos` under `include` and snapshot Plinth's code per package as
/// `<name>__<package>`.
fn snapshot(name: &str, include: &Path, protos: &[&str]) {
    let protos: Vec<PathBuf> = protos.iter().map(|proto| include.join(proto)).collect();
    let compiled =
        compile(&protos, &[include]).unwrap_or_else(|error| panic!("{}", error.render_plain()));
    let model = model::build(&compiled.pool, &compiled.sources)
        .unwrap_or_else(|error| panic!("{}", error.render_plain()));
    for package in model
        .packages
        .iter()
        .filter(|package| !package.components.is_empty())
    {
        let code = emit::emit_package(&compiled.pool, package).expect("emits");
        let package_name = if package.name.is_empty() {
            "_"
        } else {
            package.name.as_str()
        };
        insta::with_settings!({ snapshot_path => "../../snapshots/generated", prepend_module_to_snapshot => false }, {
            insta::assert_snapshot!(format!("{name}__{package_name}"), code);
        });
    }
    // The whole generation (prost's messages, tree, descriptors) succeeds too.
    let files = generate(
        &compiled.pool,
        &Config {
            sources: compiled.sources.clone(),
        },
    )
    .expect("generates");
    assert!(files.iter().any(|file| file.name == "plinth_generated.rs"));
}

#[test]
fn customer_registry() {
    snapshot(
        "customer_registry",
        &root().join("examples/customer-registry/proto"),
        &[
            "customer/domain/customer_domain.proto",
            "customer/api/customer_api.proto",
            "customer/view/customer_view.proto",
        ],
    );
}

#[test]
fn shopping_cart() {
    snapshot(
        "shopping_cart",
        &root().join("examples/shopping-cart/proto"),
        &[
            "shopping/cart/cart_domain.proto",
            "shopping/cart/cart_view.proto",
            "shopping/cart/cart_api.proto",
        ],
    );
}

#[test]
fn counter() {
    snapshot(
        "counter",
        &root().join("examples/counter/proto"),
        &["counter/counter.proto"],
    );
}

#[test]
fn private_notes() {
    snapshot(
        "private_notes",
        &root().join("examples/private-notes/proto"),
        &["notes/notes.proto"],
    );
}

#[test]
fn transfer() {
    snapshot(
        "transfer",
        &root().join("examples/transfer/proto"),
        &[
            "com/example/wallet/wallet_api.proto",
            "com/example/transfer/transfer_domain.proto",
            "com/example/transfer/transfer_api.proto",
        ],
    );
}

#[test]
fn counter_totals() {
    snapshot(
        "counter_totals",
        &root().join("examples/counter-totals/proto"),
        &["totals/totals.proto"],
    );
}

#[test]
fn edge_cases() {
    snapshot(
        "edge_cases",
        &root().join("codegen/tests/fixtures"),
        &["edge_cases.proto"],
    );
}

#[test]
fn jwt_validation_and_claim_fields() {
    snapshot(
        "jwt",
        &root().join("codegen/tests/fixtures"),
        &["jwt.proto"],
    );
}

#[test]
fn a_file_without_package() {
    snapshot(
        "no_package",
        &root().join("codegen/tests/fixtures"),
        &["no_package.proto"],
    );
}

#[test]
fn no_plinth_options_means_only_messages() {
    let include = root().join("codegen/tests/fixtures");
    let compiled = compile(&[include.join("no_options.proto")], &[&include]).expect("compiles");
    let files = generate(
        &compiled.pool,
        &Config {
            sources: compiled.sources,
        },
    )
    .expect("generates");
    let names: Vec<&str> = files.iter().map(|file| file.name.as_str()).collect();
    assert_eq!(
        names,
        ["plain.rs", "plinth_descriptor.bin", "plinth_generated.rs"]
    );
    let plain = String::from_utf8(files[0].contents.clone()).unwrap();
    assert!(plain.contains("pub struct Ping"), "{plain}");
    assert!(!plain.contains("plinth::codegen::Component"), "{plain}");
    let tree = String::from_utf8(files[2].contents.clone()).unwrap();
    insta::with_settings!({ snapshot_path => "../../snapshots/generated", prepend_module_to_snapshot => false }, {
        insta::assert_snapshot!("no_options__tree", tree);
    });
}

#[test]
fn startup_triggers_reach_the_method_info() {
    let include = root().join("codegen/tests/fixtures");
    let compiled = compile(&[include.join("startup.proto")], &[&include])
        .unwrap_or_else(|error| panic!("{}", error.render_plain()));
    let model = model::build(&compiled.pool, &compiled.sources)
        .unwrap_or_else(|error| panic!("{}", error.render_plain()));
    let package = model
        .packages
        .iter()
        .find(|package| package.name == "boot")
        .expect("the boot package");
    let retries: Vec<(&str, Option<u32>)> = package
        .components
        .iter()
        .flat_map(|component| &component.methods)
        .map(|method| (method.name.as_str(), method.startup_retries))
        .collect();
    assert_eq!(
        retries,
        [
            ("FillCaches", Some(3)),
            ("Other", None),
            ("Defaults", Some(0))
        ]
    );
    let code = emit::emit_package(&compiled.pool, package).expect("emits");
    let code: String = code.split_whitespace().collect();
    assert!(
        code.contains(
            "trigger:::core::option::Option::Some(::plinth::codegen::Trigger{max_retries:3u32,})"
        ),
        "{code}"
    );
}
