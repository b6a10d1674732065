//! The `plinth` command: check annotated proto files, or generate Rust from them.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use plinth_codegen::model::ComponentKind;
use plinth_codegen::{Compiled, Config, Error, compile, generate, generate_sql, model};

/// Plinth's proto-first code generator.
#[derive(Debug, Parser)]
#[command(name = "plinth", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Compile and validate proto files; print every diagnostic.
    Check {
        /// The proto files.
        #[arg(required = true)]
        protos: Vec<PathBuf>,
        /// Include directories (import roots).
        #[arg(short = 'I', long = "include")]
        includes: Vec<PathBuf>,
    },
    /// List every gRPC method and HTTP route of the services, with their component.
    Routes {
        /// The proto files.
        #[arg(required = true)]
        protos: Vec<PathBuf>,
        /// Include directories (import roots).
        #[arg(short = 'I', long = "include")]
        includes: Vec<PathBuf>,
    },
    /// Create a service crate (a value entity, an event-sourced entity, an
    /// action and a view, with tests) in a new directory.
    New {
        /// The new directory; its last component names the crate.
        path: PathBuf,
        /// The Plinth checkout to depend on (default: the one this command
        /// was built from).
        #[arg(long)]
        plinth: Option<PathBuf>,
    },
    /// Generate Rust code from proto files into a directory.
    Generate {
        /// The proto files.
        #[arg(required = true)]
        protos: Vec<PathBuf>,
        /// Include directories (import roots).
        #[arg(short = 'I', long = "include")]
        includes: Vec<PathBuf>,
        /// The output directory.
        #[arg(long)]
        out: PathBuf,
        /// Also write the OpenAPI 3.1 document of the HTTP/JSON routes to this file.
        #[arg(long)]
        openapi: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    let result = match Cli::parse().command {
        Command::Check { protos, includes } => check(&protos, &includes),
        Command::Routes { protos, includes } => routes(&protos, &includes),
        Command::New { path, plinth } => {
            return match new_service(&path, plinth) {
                Ok(summary) => {
                    println!("{summary}");
                    ExitCode::SUCCESS
                }
                Err(message) => {
                    eprintln!("error: {message}");
                    ExitCode::FAILURE
                }
            };
        }
        Command::Generate {
            protos,
            includes,
            out,
            openapi,
        } => run_generate(&protos, &includes, &out, openapi.as_deref()),
    };
    match result {
        Ok(summary) => {
            println!("{summary}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprint!("{}", error.render_plain());
            ExitCode::FAILURE
        }
    }
}

/// Include directories: the given ones, else the current directory.
fn includes_or_cwd(includes: &[PathBuf]) -> Vec<PathBuf> {
    if includes.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        includes.to_vec()
    }
}

fn check(protos: &[PathBuf], includes: &[PathBuf]) -> Result<String, Error> {
    let compiled = compile(protos, &includes_or_cwd(includes))?;
    let model = model::build(&compiled.pool, &compiled.sources)?;
    for warning in &model.warnings.0 {
        eprintln!("{}", warning.render_plain());
    }
    let components: Vec<String> = model
        .packages
        .iter()
        .flat_map(|p| &p.components)
        .map(|c| format!("{} ({})", c.name, kind_name(&c.kind)))
        .collect();
    let warnings = match model.warnings.0.len() {
        0 => String::new(),
        1 => " (1 warning)".to_owned(),
        n => format!(" ({n} warnings)"),
    };
    Ok(format!(
        "ok{warnings}: {} files, {} components{}{}",
        user_files(&compiled),
        components.len(),
        if components.is_empty() { "" } else { ": " },
        components.join(", ")
    ))
}

fn new_service(path: &Path, plinth: Option<PathBuf>) -> Result<String, String> {
    let name = path
        .file_name()
        .and_then(|name| name.to_str())
        .ok_or_else(|| format!("{} does not end in a crate name", path.display()))?;
    let plinth = match plinth {
        Some(dir) => dir,
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join(".."),
    };
    let plinth = plinth
        .canonicalize()
        .ok()
        .filter(|dir| dir.join("runtime/Cargo.toml").is_file())
        .ok_or_else(|| {
            format!(
                "{} is not a Plinth checkout (no runtime/Cargo.toml); name one with --plinth DIR",
                plinth.display()
            )
        })?;
    let files = plinth_codegen::new_service::files(name, &plinth).map_err(|e| e.to_string())?;
    if path.exists() && path.read_dir().map_or(true, |mut dir| dir.next().is_some()) {
        return Err(format!(
            "{} exists and is not an empty directory",
            path.display()
        ));
    }
    for file in &files {
        let target = path.join(&file.name);
        if let Some(dir) = target.parent() {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        std::fs::write(&target, &file.contents)
            .map_err(|e| format!("{}: {e}", target.display()))?;
    }
    Ok(format!(
        "created {name} in {}: `cd {} && cargo test`, then `cargo run`",
        path.display(),
        path.display()
    ))
}

fn routes(protos: &[PathBuf], includes: &[PathBuf]) -> Result<String, Error> {
    let compiled = compile(protos, &includes_or_cwd(includes))?;
    let model = model::build(&compiled.pool, &compiled.sources)?;
    Ok(plinth_codegen::routes::render(&model).trim_end().to_owned())
}

fn run_generate(
    protos: &[PathBuf],
    includes: &[PathBuf],
    out: &std::path::Path,
    openapi: Option<&std::path::Path>,
) -> Result<String, Error> {
    let compiled = compile(protos, &includes_or_cwd(includes))?;
    let config = Config {
        sources: compiled.sources.clone(),
    };
    let mut files = generate(&compiled.pool, &config)?;
    files.extend(generate_sql(&compiled.pool, &config)?);
    for file in &files {
        let path = out.join(&file.name);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(&path, &file.contents)?;
    }
    if let Some(path) = openapi {
        let document = plinth_codegen::generate_openapi(&compiled.pool, &config, "Plinth service")?;
        let text = serde_json::to_string_pretty(&document).unwrap_or_default();
        std::fs::write(path, text + "\n")?;
    }
    Ok(format!(
        "generated {} files into {} from {} proto files",
        files.len(),
        out.display(),
        user_files(&compiled)
    ))
}

/// The number of compiled files that are not embedded or well-known protos.
fn user_files(compiled: &Compiled) -> usize {
    compiled.files_read.len()
}

fn kind_name(kind: &ComponentKind) -> &'static str {
    match kind {
        ComponentKind::ValueEntity { .. } => "value entity",
        ComponentKind::EventSourcedEntity { .. } => "event-sourced entity",
        ComponentKind::Action => "action",
        ComponentKind::View { .. } => "view",
        ComponentKind::Workflow { .. } => "workflow",
    }
}
