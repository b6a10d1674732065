//! What the eventing tests share: a NATS server with JetStream on a free
//! loopback port, reading a whole topic, and waiting for a condition.

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use plinth::eventing::{StoredMessage, Topics};

/// A `nats-server -js` child process, killed on drop.
#[derive(Debug)]
pub struct NatsServer {
    child: Child,
    addr: SocketAddr,
}

impl NatsServer {
    /// Start one storing its streams in `dir`; `None` (with a note on
    /// stderr) when `nats-server` is not installed (`.ci/run` installs it).
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
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
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

/// Every message of `topic` so far.
pub async fn read_all(topics: &dyn Topics, topic: &str) -> Vec<StoredMessage> {
    let mut all = Vec::new();
    loop {
        let after = all.last().map_or(0, |m: &StoredMessage| m.position);
        let batch = topics
            .read(topic, after, 500)
            .await
            .expect("read the topic");
        if batch.is_empty() {
            return all;
        }
        all.extend(batch);
    }
}

/// Wait until `check` returns true, polling; panics with `what` after 60 s
/// (a hang, not a slow run).
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(60);
    while !check().await {
        assert!(Instant::now() < deadline, "never happened: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
