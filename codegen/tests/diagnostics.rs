//! Every build-time diagnostic, one fixture each: the JSON rendering is
//! snapshotted, and the plain rendering must point at the intended
//! `file:line:col` (written in the fixture's first line, `// expect: L:C ...`).

use std::path::{Path, PathBuf};

use plinth_codegen::{Error, compile, model};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/errors")
}

/// Compiles and builds fixture `name`; it must fail.
fn failure(name: &str) -> Error {
    let dir = fixtures();
    let result = compile(&[name], &[&dir]).and_then(|c| model::build(&c.pool, &c.sources));
    match result {
        Ok(_) => panic!("{name} should not build"),
        Err(error) => error,
    }
}

/// The `line:col` locations the fixture expects, from its first line.
fn expected_locations(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap();
    let first = text.lines().next().unwrap_or_default();
    let locations = first
        .strip_prefix("// expect:")
        .unwrap_or_else(|| panic!("{} must start with `// expect: LINE:COL`", path.display()));
    locations.split_whitespace().map(str::to_owned).collect()
}

#[test]
fn every_error_fixture_renders_its_diagnostics() {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(fixtures())
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "proto"))
        .collect();
    paths.sort();
    assert!(paths.len() >= 25, "fixtures missing: {paths:?}");
    for path in paths {
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        let stem = name.trim_end_matches(".proto").to_owned();
        let error = failure(&name);

        let plain = error.render_plain();
        let expected = expected_locations(&path);
        assert!(!expected.is_empty(), "{name}: no expected location");
        assert_eq!(
            error.problems().len(),
            expected.len(),
            "{name}: one problem per expected location\n{plain}"
        );
        for location in &expected {
            let wanted = format!("{name}:{location}");
            assert!(
                plain.contains(&wanted),
                "{name}: `{wanted}` not in\n{plain}"
            );
        }
        for problem in error.problems() {
            assert!(
                problem.location().is_some(),
                "{name}: `{}` has no location",
                problem.message()
            );
        }

        let json: serde_json::Value = serde_json::from_str(&error.render_json()).unwrap();
        insta::with_settings!({
            snapshot_path => "../../snapshots/diagnostics",
            prepend_module_to_snapshot => false,
            input_file => &path,
        }, {
            insta::assert_json_snapshot!(stem, json);
        });
    }
}

#[test]
fn several_errors_are_reported_together() {
    let error = failure("several_errors.proto");
    let kinds: Vec<&str> = error.kinds().iter().map(|k| k.code()).collect();
    assert_eq!(
        kinds,
        [
            "plinth::unknown_type",
            "plinth::missing_id",
            "plinth::invalid_http_rule",
            "plinth::unknown_source"
        ]
    );
    let plain = error.render_plain();
    assert!(plain.contains("4 errors"), "{plain}");
    let json: serde_json::Value = serde_json::from_str(&error.render_json()).unwrap();
    assert_eq!(json["related"].as_array().map(Vec::len), Some(4));
}

#[test]
fn every_failing_file_is_reported_in_one_run() {
    // A file that does not parse stops neither the other files' parsing
    // nor the checks of those that parse.
    let files = [
        "syntax_error.proto",
        "kalix_replicated_entity.proto",
        "missing_id.proto",
    ];
    let error = compile(&files, &[fixtures()]).unwrap_err();
    let kinds: Vec<&str> = error.kinds().iter().map(|k| k.code()).collect();
    assert_eq!(
        kinds,
        [
            "plinth::proto",
            "plinth::invalid_option",
            "plinth::missing_id"
        ]
    );
    let plain = error.render_plain();
    for file in files {
        assert!(
            plain.contains(&format!("{file}:")),
            "{file} not in\n{plain}"
        );
    }
}

#[test]
fn a_missing_input_file_names_the_file() {
    let error = compile(&["does_not_exist.proto"], &[fixtures()]).unwrap_err();
    let plain = error.render_plain();
    assert!(plain.contains("does_not_exist.proto"), "{plain}");
    assert!(plain.contains("include"), "{plain}");
}

/// A `build.rs` whose `main` returns the error (`compile_protos(..)?`) prints
/// its Debug form after the rendered diagnostics: one line, not the
/// diagnostics again.
#[test]
fn the_debug_form_is_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.proto");
    std::fs::write(
        &path,
        "syntax = \"proto3\";\npackage p;\nimport \"plinth/annotations.proto\";\nmessage M { string id = 1; }\nservice S {\n  option (plinth.component) = { value_entity: { type_id: \"s\" state: \"Nope\" } };\n  rpc Get(M) returns (M);\n}\n",
    )
    .unwrap();
    let compiled = plinth_codegen::compile(&[&path], &[dir.path()]).unwrap();
    let error = plinth_codegen::model::build(&compiled.pool, &compiled.sources).unwrap_err();
    let debug = format!("{error:?}");
    assert_eq!(debug.lines().count(), 1, "{debug}");
    assert!(
        debug.ends_with("problems in the proto files (the diagnostics are above)"),
        "{debug}"
    );
    assert!(
        error.render_plain().contains("bad.proto:6:"),
        "{}",
        error.render_plain()
    );
}
