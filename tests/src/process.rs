//! A service binary as a child process: started on a free port with its own
//! data directory, ready once it accepts connections, stopped with SIGTERM or
//! killed with SIGKILL.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running service process.
#[derive(Debug)]
pub struct ServiceProcess {
    child: Child,
    addr: SocketAddr,
}

impl ServiceProcess {
    /// Start `binary` with its data in `data_dir`, on a free local port, and
    /// wait until it accepts connections.
    pub async fn start(binary: &Path, data_dir: &Path) -> ServiceProcess {
        ServiceProcess::start_with(binary, data_dir, &[]).await
    }

    /// Like [`ServiceProcess::start`], with extra environment variables.
    pub async fn start_with(
        binary: &Path,
        data_dir: &Path,
        env: &[(&str, &str)],
    ) -> ServiceProcess {
        ServiceProcess::spawn(Command::new(binary), binary, data_dir, env, None).await
    }

    /// Like [`ServiceProcess::start_with`], with its log (`PLINTH_LOG=info`,
    /// standard output and error) appended to the file `log`.
    pub async fn start_logging(
        binary: &Path,
        data_dir: &Path,
        env: &[(&str, &str)],
        log: &Path,
    ) -> ServiceProcess {
        ServiceProcess::spawn(Command::new(binary), binary, data_dir, env, Some(log)).await
    }

    /// Like [`ServiceProcess::start_with`], with the open-file limit (soft
    /// and hard) set to `open_files` by prlimit(1), which then runs the
    /// service in its own process.
    pub async fn start_with_file_limit(
        binary: &Path,
        data_dir: &Path,
        env: &[(&str, &str)],
        open_files: u64,
    ) -> ServiceProcess {
        let mut command = Command::new("prlimit");
        command
            .arg(format!("--nofile={open_files}:{open_files}"))
            .arg("--")
            .arg(binary);
        ServiceProcess::spawn(command, binary, data_dir, env, None).await
    }

    async fn spawn(
        mut command: Command,
        binary: &Path,
        data_dir: &Path,
        env: &[(&str, &str)],
        log: Option<&Path>,
    ) -> ServiceProcess {
        let addr = free_addr();
        command
            .env("PLINTH_ADDR", addr.to_string())
            .env("PLINTH_DATA_DIR", data_dir)
            .env("PLINTH_LOG", "warn")
            .env_remove("PLINTH_STORAGE")
            .env_remove("PLINTH_CONFIG")
            .current_dir(data_dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null());
        if let Some(log) = log {
            let file = || {
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(log)
                    .unwrap_or_else(|error| panic!("cannot open {}: {error}", log.display()))
            };
            command
                .env("PLINTH_LOG", "info")
                .stdout(file())
                .stderr(file());
        }
        for (key, value) in env {
            command.env(key, value);
        }
        let child = command
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start {}: {error}", binary.display()));
        let mut process = ServiceProcess { child, addr };
        process.wait_ready().await;
        process
    }

    /// The address it serves on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its base URL, `http://127.0.0.1:port`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Kill it with SIGKILL (no chance to flush anything) and reap it.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Send it SIGTERM (a graceful stop) and wait at most `limit` for it to
    /// exit; `None` if it is still running then (it is killed on drop).
    pub async fn terminate(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        // std has no portable "send a signal"; kill(1) keeps this free of unsafe code.
        let sent = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status()
            .expect("kill(1) runs");
        assert!(sent.success(), "kill -TERM failed: {sent}");
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        None
    }

    async fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("the service exited during startup: {status}");
            }
            if tokio::net::TcpStream::connect(self.addr).await.is_ok() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the service did not start listening on {}",
                self.addr
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for ServiceProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A local address with a port nobody listens on right now.
fn free_addr() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("its address")
}
