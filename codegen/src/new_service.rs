//! `plinth new`: a service crate from a template — a value entity, an
//! event-sourced entity, an action and a view, with unit tests on the
//! generated test kits and an end-to-end test on the test harness.
//!
//! The crate depends on a Plinth checkout by path (the one this command was
//! built from, unless told otherwise), and its `Cargo.lock` is the checkout's
//! own, so it builds with exactly the dependency versions Plinth was tested
//! with (cargo drops the entries the new crate does not need).
//!
//! [`files`] is the pure core: the files to write, or why the name is refused.

use std::path::Path;

use crate::GeneratedFile;

/// The lock file of the Plinth checkout this generator was built from.
const LOCK: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../Cargo.lock"));

/// The template, file by file: (path in the new crate, text).
const TEMPLATE: &[(&str, &str)] = &[
    (
        "Cargo.toml",
        include_str!("../templates/new/Cargo.toml.tmpl"),
    ),
    ("build.rs", include_str!("../templates/new/build.rs")),
    ("README.md", include_str!("../templates/new/README.md")),
    (".gitignore", include_str!("../templates/new/gitignore")),
    (
        "proto/{{lib}}/tasks.proto",
        include_str!("../templates/new/tasks.proto"),
    ),
    ("src/lib.rs", include_str!("../templates/new/lib.rs")),
    ("src/main.rs", include_str!("../templates/new/main.rs")),
    (
        "tests/service.rs",
        include_str!("../templates/new/service_test.rs"),
    ),
];

/// Names a new crate cannot take: Rust keywords (the library's name is a
/// Rust path) and the crates and proto packages it builds on.
const RESERVED: &[&str] = &[
    "as",
    "async",
    "await",
    "box",
    "break",
    "const",
    "continue",
    "crate",
    "dyn",
    "else",
    "enum",
    "extern",
    "false",
    "fn",
    "for",
    "gen",
    "if",
    "impl",
    "in",
    "let",
    "loop",
    "match",
    "mod",
    "move",
    "mut",
    "priv",
    "pub",
    "ref",
    "return",
    "self",
    "static",
    "struct",
    "super",
    "trait",
    "true",
    "try",
    "type",
    "unsafe",
    "use",
    "where",
    "while",
    "yield",
    "test",
    "core",
    "std",
    "alloc",
    "proc_macro",
    "plinth",
    "plinth_codegen",
    "prost",
    "tokio",
    "google",
    "kalix",
];

/// Why `plinth new` refuses a name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NewError {
    /// The name is not a crate name this template can take.
    #[error("`{name}` cannot name a service crate: {why}")]
    InvalidName {
        /// The name given.
        name: String,
        /// What is wrong with it, and what would do.
        why: String,
    },
}

/// The files of a new service crate named `name`, depending on the Plinth
/// checkout at `plinth` (its root, holding `runtime/` and `codegen/`).
pub fn files(name: &str, plinth: &Path) -> Result<Vec<GeneratedFile>, NewError> {
    let lib = check_name(name)?;
    let tokio = locked_version("tokio").unwrap_or("1");
    let path = |crate_dir: &str| {
        let dir = plinth.join(crate_dir);
        format!("path = {}", toml_string(&dir.to_string_lossy()))
    };
    let fill = |text: &str| {
        text.replace("{{crate}}", name)
            .replace("{{lib}}", &lib)
            .replace("{{plinth}}", &path("runtime"))
            .replace("{{plinth_codegen}}", &path("codegen"))
            .replace("{{tokio}}", tokio)
    };
    let mut files: Vec<GeneratedFile> = TEMPLATE
        .iter()
        .map(|(file, text)| GeneratedFile {
            name: fill(file),
            contents: fill(text).into_bytes(),
        })
        .collect();
    files.push(GeneratedFile {
        name: "Cargo.lock".to_owned(),
        contents: LOCK.as_bytes().to_vec(),
    });
    Ok(files)
}

/// The library's name for a crate name, or why the name is refused.
fn check_name(name: &str) -> Result<String, NewError> {
    let refuse = |why: &str| NewError::InvalidName {
        name: name.to_owned(),
        why: why.to_owned(),
    };
    let mut chars = name.chars();
    match chars.next() {
        None => return Err(refuse("the name is empty")),
        Some(first) if !first.is_ascii_lowercase() => {
            return Err(refuse("it must start with a lowercase ASCII letter"));
        }
        Some(_) => {}
    }
    if !chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_') {
        return Err(refuse(
            "use lowercase ASCII letters, digits, `-` and `_` only (e.g. `task-service`)",
        ));
    }
    if name.ends_with(['-', '_']) {
        return Err(refuse("it must not end with `-` or `_`"));
    }
    let lib = name.replace('-', "_");
    if RESERVED.contains(&lib.as_str()) {
        return Err(refuse(
            "it is a Rust keyword or the name of a crate or proto package the service uses",
        ));
    }
    Ok(lib)
}

/// The version of `package` in the checkout's lock file.
fn locked_version(package: &str) -> Option<&'static str> {
    let header = format!("name = \"{package}\"\nversion = \"");
    let start = LOCK.find(&header)? + header.len();
    let len = LOCK[start..].find('"')?;
    Some(&LOCK[start..start + len])
}

/// `text` as a TOML basic string.
fn toml_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file<'a>(files: &'a [GeneratedFile], name: &str) -> &'a str {
        let file = files
            .iter()
            .find(|file| file.name == name)
            .unwrap_or_else(|| panic!("no {name}"));
        std::str::from_utf8(&file.contents).expect("text")
    }

    #[test]
    fn the_names_are_filled_in_everywhere() {
        let files = files("task-board", Path::new("/src/plinth")).expect("a good name");
        let names: Vec<&str> = files.iter().map(|file| file.name.as_str()).collect();
        assert!(names.contains(&"proto/task_board/tasks.proto"), "{names:?}");
        for file in &files {
            let text = std::str::from_utf8(&file.contents).expect("text");
            assert!(!text.contains("{{"), "{} keeps a placeholder", file.name);
        }
        let manifest = file(&files, "Cargo.toml");
        assert!(manifest.contains("name = \"task-board\""), "{manifest}");
        assert!(
            manifest.contains("plinth = { path = \"/src/plinth/runtime\" }"),
            "{manifest}"
        );
        assert!(manifest.contains("plinth-codegen = { path = \"/src/plinth/codegen\" }"));
        let tokio = locked_version("tokio").expect("tokio is locked");
        assert!(
            manifest.contains(&format!("version = \"={tokio}\"")),
            "{manifest}"
        );
        assert!(file(&files, "proto/task_board/tasks.proto").contains("package task_board;"));
        assert!(file(&files, "src/main.rs").contains("task_board::service()"));
        assert!(file(&files, "Cargo.lock").contains("name = \"prost\""));
    }

    #[test]
    fn bad_names_are_refused_with_what_would_do() {
        for (name, hint) in [
            ("", "empty"),
            ("Tasks", "lowercase ASCII letter"),
            ("9tasks", "lowercase ASCII letter"),
            ("my tasks", "letters, digits"),
            ("tasks-", "must not end"),
            ("self", "keyword"),
            ("plinth", "crate"),
        ] {
            let error = files(name, Path::new("/p")).expect_err(name);
            assert!(error.to_string().contains(hint), "{name:?}: {error}");
        }
    }

    #[test]
    fn paths_are_quoted_for_toml() {
        assert_eq!(toml_string(r#"C:\a "b""#), r#""C:\\a \"b\"""#);
    }
}
