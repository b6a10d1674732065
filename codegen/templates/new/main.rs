//! Serves {{crate}} over gRPC and HTTP/JSON (`127.0.0.1:9000` unless
//! `PLINTH_ADDR` says otherwise; state in `./data/plinth.db` unless
//! `PLINTH_STORAGE` names another database).

use std::process::ExitCode;

fn main() -> ExitCode {
    {{lib}}::service().run_blocking()
}
