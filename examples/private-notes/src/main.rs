//! Serves the notebooks over gRPC and HTTP/JSON (`127.0.0.1:9000` unless
//! `PLINTH_ADDR` says otherwise; state in `./data/plinth.db`). Every call
//! needs a bearer token checked with the keys of `PLINTH_JWT_KEYS` (or
//! `jwt_keys` in `plinth.yaml`); without keys the service does not start.

use std::process::ExitCode;

use private_notes::Notes;
use private_notes::notes::NotesEntityComponent;

fn main() -> ExitCode {
    plinth::Service::new()
        .with(NotesEntityComponent::new(Notes))
        .run_blocking()
}
