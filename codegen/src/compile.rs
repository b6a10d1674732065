//! Compiling proto files with protox (no `protoc` needed).
//!
//! Imports resolve through the user's include directories first, then the
//! embedded annotation protos (`plinth/`, `kalix/`, `google/api/`), then
//! protox's bundled `google/protobuf/` files. Every source text read is kept
//! for diagnostics, and every file path read for `rerun-if-changed`.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use prost_reflect::DescriptorPool;
use protox::Compiler;
use protox::file::{File, FileResolver, GoogleFileResolver, IncludeFileResolver};

use crate::error::{ErrorKind, Problem, problems_from_diagnostic};
use crate::{Error, Result, Sources};

/// A compiled set of files.
#[derive(Debug)]
pub struct Compiled {
    /// The descriptor pool, custom options included.
    pub pool: DescriptorPool,
    /// The source text of every compiled file, by file name.
    pub sources: Sources,
    /// Every file read from disk, for `rerun-if-changed`.
    pub files_read: Vec<PathBuf>,
}

/// Compile `protos` (paths under one of `includes`, or names relative to one)
/// with their imports.
///
/// Parse errors, unknown imports and unresolved names become an [`Error`] with
/// the file, line, column and snippet of the problem.
pub fn compile(protos: &[impl AsRef<Path>], includes: &[impl AsRef<Path>]) -> Result<Compiled> {
    let record = Arc::new(Mutex::new(Record::default()));
    let resolver = Resolver {
        includes: includes
            .iter()
            .map(|dir| dir.as_ref().to_path_buf())
            .collect(),
        google: GoogleFileResolver::new(),
        record: record.clone(),
    };
    let mut compiler = Compiler::with_file_resolver(resolver);
    compiler.include_source_info(true).include_imports(true);
    // Every file is tried, so that each failing one is reported, not only the first.
    let mut failures = Vec::new();
    for proto in protos {
        if let Err(error) = compiler.open_file(proto.as_ref()) {
            failures.push((error, proto.as_ref().to_path_buf()));
        }
    }
    let record = std::mem::take(&mut *record.lock().unwrap_or_else(PoisonError::into_inner));
    let mut problems = Vec::new();
    for (error, proto) in &failures {
        let failed = protox_error(error, proto, &record.sources);
        for problem in failed.problems() {
            // A file imported by several failing ones fails once.
            let seen = problems.iter().any(|p: &Problem| {
                p.message() == problem.message() && p.location() == problem.location()
            });
            if !seen {
                problems.push(problem.clone());
            }
        }
    }
    if !problems.is_empty() {
        // The files that did compile are checked too, so that one run
        // reports every file's problems.
        if let Err(model) = crate::model::build(&compiler.descriptor_pool(), &record.sources) {
            problems.extend(model.problems().iter().cloned());
        }
    }
    if let Some(error) = Error::from_problems(problems) {
        return Err(error);
    }
    Ok(Compiled {
        // The pool, not `file_descriptor_set()`: prost-types drops custom options.
        pool: compiler.descriptor_pool(),
        sources: record.sources,
        files_read: record.files_read,
    })
}

fn protox_error(error: &protox::Error, proto: &Path, sources: &Sources) -> Error {
    let mut problems = Vec::new();
    problems_from_diagnostic(error, error.file(), sources, &mut problems);
    if error.is_file_not_found() && problems.iter().all(|p| p.location().is_none()) {
        problems = vec![
            Problem::new(ErrorKind::Proto, error.to_string()).with_help(format!(
                "check that `{}` exists under one of the include directories (-I)",
                proto.display()
            )),
        ];
    } else if let Some(first) = problems.first_mut()
        && error.is_file_not_found()
    {
        *first = first.clone().with_help(
            "add the directory holding the imported file as an include directory (-I), \
             or fix the import path",
        );
    }
    Error::from_problems(problems)
        .unwrap_or_else(|| Error::new(ErrorKind::Proto, error.to_string()))
}

#[derive(Debug, Default)]
struct Record {
    sources: Sources,
    files_read: Vec<PathBuf>,
}

/// The resolver chain; it records what it reads.
struct Resolver {
    includes: Vec<PathBuf>,
    google: GoogleFileResolver,
    record: Arc<Mutex<Record>>,
}

impl Resolver {
    fn remember(&self, name: &str, text: &str, path: Option<PathBuf>) {
        let mut record = self.record.lock().unwrap_or_else(PoisonError::into_inner);
        record.sources.0.insert(name.to_owned(), Arc::from(text));
        record.files_read.extend(path);
    }
}

impl FileResolver for Resolver {
    fn resolve_path(&self, path: &Path) -> Option<String> {
        self.includes
            .iter()
            .find_map(|dir| IncludeFileResolver::new(dir.clone()).resolve_path(path))
    }

    fn open_file(&self, name: &str) -> Result<File, protox::Error> {
        for dir in &self.includes {
            let path = dir.join(name);
            if path.is_file() {
                let text = std::fs::read_to_string(&path).map_err(protox::Error::new)?;
                // Recorded before parsing so that a parse error gets its snippet.
                self.remember(name, &text, Some(path));
                return File::from_source(name, &text);
            }
        }
        if let Some(embedded) = plinth_annotations::find(name) {
            self.remember(name, embedded.source, None);
            return File::from_source(name, embedded.source);
        }
        self.google.open_file(name)
    }
}
