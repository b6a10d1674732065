//! The build.rs API: compile, generate, write to `OUT_DIR`.
//!
//! ```no_run
//! // build.rs
//! fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     plinth_codegen::configure().compile_protos(&["proto/customer_api.proto"], &["proto"])?;
//!     Ok(())
//! }
//! ```

use std::path::{Path, PathBuf};

use crate::{Error, ErrorKind, GeneratedFile, Result};

/// Configures a generation from build.rs.
#[derive(Debug, Clone, Default)]
pub struct Builder {
    out_dir: Option<PathBuf>,
    quiet: bool,
}

/// Start configuring a generation.
pub fn configure() -> Builder {
    Builder::default()
}

impl Builder {
    /// Write the generated files to `dir` instead of `$OUT_DIR`.
    pub fn out_dir(mut self, dir: impl Into<PathBuf>) -> Builder {
        self.out_dir = Some(dir.into());
        self
    }

    /// Print nothing to stdout or stderr (no `cargo:` lines, no diagnostics):
    /// for callers outside a build script.
    pub fn quiet(mut self, quiet: bool) -> Builder {
        self.quiet = quiet;
        self
    }

    /// Compile `protos` (found under `includes`), generate their Rust code and
    /// write it to the output directory. Files whose contents did not change
    /// are left untouched, so dependents are not rebuilt.
    ///
    /// On error, every diagnostic is printed to stderr (cargo shows it under
    /// the failed build script) and returned.
    pub fn compile_protos(
        &self,
        protos: &[impl AsRef<Path>],
        includes: &[impl AsRef<Path>],
    ) -> Result<()> {
        let result = self.run(protos, includes);
        if let Err(error) = &result
            && !self.quiet
        {
            eprintln!("{}", error.render_plain());
        }
        result
    }

    fn run(&self, protos: &[impl AsRef<Path>], includes: &[impl AsRef<Path>]) -> Result<()> {
        let out_dir = match &self.out_dir {
            Some(dir) => dir.clone(),
            None => std::env::var_os("OUT_DIR").map(PathBuf::from).ok_or_else(|| {
                io_error("OUT_DIR is not set; hint: call compile_protos from build.rs, or set an out_dir".into())
            })?,
        };
        let compiled = crate::compile(protos, includes);
        // Rerun when any input changes, even after a failed compilation: the
        // protos named here are what the user will fix.
        if !self.quiet {
            for proto in protos {
                println!("cargo:rerun-if-changed={}", proto.as_ref().display());
            }
        }
        let compiled = compiled?;
        if !self.quiet {
            for file in &compiled.files_read {
                println!("cargo:rerun-if-changed={}", file.display());
            }
        }
        let model = crate::model::build(&compiled.pool, &compiled.sources)?;
        if !self.quiet {
            // Cargo shows build-script warnings line by line.
            for warning in &model.warnings.0 {
                for line in warning.render_plain().lines() {
                    println!("cargo:warning={line}");
                }
            }
        }
        let files = crate::emit::emit(&compiled.pool, &model)?;
        write_files(&out_dir, &files)
    }
}

fn io_error(message: String) -> Error {
    Error::new(ErrorKind::Io, message)
}

/// Write `files` under `dir`, skipping those whose contents are unchanged.
pub(crate) fn write_files(dir: &Path, files: &[GeneratedFile]) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|error| {
        io_error(format!(
            "cannot create output directory {}: {error}",
            dir.display()
        ))
    })?;
    for file in files {
        let path = dir.join(&file.name);
        if std::fs::read(&path).is_ok_and(|existing| existing == file.contents) {
            continue;
        }
        std::fs::write(&path, &file.contents)
            .map_err(|error| io_error(format!("cannot write {}: {error}", path.display())))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unchanged_files_are_not_rewritten() {
        let dir = tempfile::tempdir().unwrap();
        let files = vec![GeneratedFile {
            name: "a.rs".into(),
            contents: b"one".to_vec(),
        }];
        write_files(dir.path(), &files).unwrap();
        let path = dir.path().join("a.rs");
        let before = std::fs::metadata(&path).unwrap().modified().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        write_files(dir.path(), &files).unwrap();
        assert_eq!(
            std::fs::metadata(&path).unwrap().modified().unwrap(),
            before
        );

        let changed = vec![GeneratedFile {
            name: "a.rs".into(),
            contents: b"two".to_vec(),
        }];
        write_files(dir.path(), &changed).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
    }

    #[test]
    fn a_missing_out_dir_is_an_error() {
        let builder = configure().quiet(true);
        if std::env::var_os("OUT_DIR").is_none() {
            let error = builder.compile_protos(&["x.proto"], &["."]).unwrap_err();
            assert!(error.to_string().contains("OUT_DIR"), "{error}");
        }
    }
}
