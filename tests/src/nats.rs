//! A NATS server with JetStream on a free loopback port, for topic tests
//! (the runtime's own topic tests include this file too).

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A `nats-server -js` child process, killed on drop.
#[derive(Debug)]
pub struct NatsServer {
    child: Child,
    addr: SocketAddr,
}

impl NatsServer {
    /// Start one storing its streams in `dir`; `None` (with a note on
    /// stderr) when `nats-server` is not installed — except under CI
    /// (`CI` set), where `.ci/run` installs it and its absence is a failure.
    pub async fn start(dir: &Path) -> Option<NatsServer> {
        let addr = free_addr();
        let spawned = Command::new("nats-server")
            .args(["-js", "-a", "127.0.0.1", "-p"])
            .arg(addr.port().to_string())
            .arg("-sd")
            .arg(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        let child = match spawned {
            Ok(child) => child,
            Err(error)
                if error.kind() == std::io::ErrorKind::NotFound
                    && std::env::var_os("CI").is_none() =>
            {
                eprintln!("nats-server is not installed: skipping the NATS case");
                return None;
            }
            Err(error) => panic!("cannot start nats-server: {error}"),
        };
        let mut server = NatsServer { child, addr };
        let deadline = Instant::now() + Duration::from_secs(20);
        while tokio::net::TcpStream::connect(addr).await.is_err() {
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!("nats-server exited at startup: {status}");
            }
            assert!(Instant::now() < deadline, "nats-server did not start");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Some(server)
    }

    /// Its URL, `nats://127.0.0.1:port`.
    pub fn url(&self) -> String {
        format!("nats://{}", self.addr)
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_addr() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("its address")
}
