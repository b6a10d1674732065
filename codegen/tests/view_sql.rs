//! The SQL of the examples' views in both dialects, snapshotted: the
//! PostgreSQL DDL and queries are reviewed here until the PostgreSQL backend
//! runs them; the SQLite ones are also executed by the end-to-end tests.

use std::path::{Path, PathBuf};

use plinth_codegen::{Config, compile, generate_sql};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn snapshot(include: &Path, protos: &[&str], expected_files: usize) {
    let protos: Vec<PathBuf> = protos.iter().map(|proto| include.join(proto)).collect();
    let compiled =
        compile(&protos, &[include]).unwrap_or_else(|error| panic!("{}", error.render_plain()));
    let files = generate_sql(
        &compiled.pool,
        &Config {
            sources: compiled.sources.clone(),
        },
    )
    .unwrap_or_else(|error| panic!("{}", error.render_plain()));
    assert_eq!(files.len(), expected_files);
    for file in files {
        let text = String::from_utf8(file.contents).unwrap();
        let name = file.name.trim_start_matches("views/").replace('.', "_");
        if file.name.ends_with(".postgres.sql") {
            assert!(text.contains("$1"), "{text}");
            assert!(!text.contains("?1"), "{text}");
        } else {
            assert!(!text.contains("$1"), "{text}");
        }
        insta::with_settings!({ snapshot_path => "../../snapshots/views", prepend_module_to_snapshot => false }, {
            insta::assert_snapshot!(name, text);
        });
    }
}

#[test]
fn customer_registry_view_sql() {
    snapshot(
        &root().join("examples/customer-registry/proto"),
        &[
            "customer/domain/customer_domain.proto",
            "customer/api/customer_api.proto",
            "customer/view/customer_view.proto",
        ],
        4,
    );
}

#[test]
fn shopping_cart_view_sql() {
    snapshot(
        &root().join("examples/shopping-cart/proto"),
        &[
            "shopping/cart/cart_domain.proto",
            "shopping/cart/cart_view.proto",
            "shopping/cart/cart_api.proto",
        ],
        2,
    );
}
