//! The real `lyceum` binary, started as an operator would start it, on a test's database and
//! data directory: for what only a real process shows (crashes, signals, logs, file rights).

use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::Duration;

use crate::helpers::TestApp;

/// Ports of this helper's range (18100–18199): each binary gets its own.
fn next_port() -> u16 {
    static NEXT: AtomicU16 = AtomicU16::new(18120);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// A running `lyceum` binary; killed when dropped.
pub struct Binary {
    /// The process, until it is waited for.
    child: Option<Child>,
    /// `http://127.0.0.1:<port>`.
    pub address: String,
}

impl Binary {
    /// Starts the binary on `app`'s database and data directory with `env` on top, writing its
    /// output (the log) to `log` if given, and waits until it answers `/healthz`.
    pub async fn start(app: &TestApp, env: &[(&str, &str)], log: Option<&std::fs::File>) -> Self {
        let port = next_port();
        let mut command = Command::new(env!("CARGO_BIN_EXE_lyceum"));
        command
            .env("DATABASE_URL", &app.database_url)
            .env("LYCEUM_DATA_DIR", &app.data_dir)
            .env("LYCEUM_BIND", format!("127.0.0.1:{port}"))
            .env("LYCEUM_WORKERS", "1")
            .env("LYCEUM_LOG", "warn");
        for (key, value) in env {
            command.env(key, value);
        }
        let output = || log.map_or_else(Stdio::null, |f| f.try_clone().unwrap().into());
        let child = command
            .stdout(output())
            .stderr(output())
            .spawn()
            .expect("run lyceum");
        let binary = Self {
            child: Some(child),
            address: format!("http://127.0.0.1:{port}"),
        };
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while app
            .client
            .get(format!("{}/healthz", binary.address))
            .send()
            .await
            .is_err()
        {
            assert!(
                tokio::time::Instant::now() < deadline,
                "lyceum never came up"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        binary
    }

    /// Sends SIGTERM, as an init system or orchestrator stopping the service does.
    pub fn terminate(&self) {
        let pid = self.child.as_ref().expect("still running").id();
        let sent = Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .expect("run kill");
        assert!(sent.success());
    }

    /// `ws://127.0.0.1:<port><path>`.
    pub fn ws_url(&self, path: &str) -> String {
        format!("{}{path}", self.address.replacen("http", "ws", 1))
    }

    /// Waits (off the async threads) for the process to exit.
    pub async fn wait(mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().expect("not waited for yet");
        actix_web::rt::task::spawn_blocking(move || child.wait())
            .await
            .unwrap()
            .unwrap()
    }
}

impl Drop for Binary {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
