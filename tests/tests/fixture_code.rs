//! The fixture's generated code, kept in `src/fixture/generated/` for the
//! runtime's tests (which have no build script), is what the generator
//! makes of `protos/fixture.proto` now.

use std::path::Path;

use plinth_codegen::{Config, compile, generate};

#[test]
fn the_checked_in_fixture_code_is_current() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let protos = root.join("protos");
    let compiled = compile(&[protos.join("fixture.proto")], &[&protos])
        .unwrap_or_else(|error| panic!("{}", error.render_plain()));
    let config = Config {
        sources: compiled.sources.clone(),
    };
    let files = generate(&compiled.pool, &config).expect("generates");
    let kept = root.join("src/fixture/generated");
    let regenerate = "regenerate it: cargo run -p plinth-codegen --bin plinth -- generate \
                      tests/protos/fixture.proto -I tests/protos --out /tmp/fixture && cp \
                      /tmp/fixture/test.rs /tmp/fixture/plinth_descriptor.bin tests/src/fixture/generated/";
    for name in ["test.rs", "plinth_descriptor.bin"] {
        let fresh = files
            .iter()
            .find(|file| file.name == name)
            .unwrap_or_else(|| panic!("the generator wrote no {name}"));
        let checked_in = std::fs::read(kept.join(name)).expect("the kept file exists");
        assert!(
            fresh.contents == checked_in,
            "src/fixture/generated/{name} is stale; {regenerate}"
        );
    }
}
