//! A real SMTP server for mail tests: `tests/smtp/sink.py` (aiosmtpd) run
//! from the venv `.ci/smtp-venv.sh` makes, as a child process on a free
//! port. Each accepted message is a JSON file, written before the server
//! answers, so what `deliver_due` sent is readable at once.

use std::path::PathBuf;
use std::process::Stdio;

use tokio::io::AsyncBufReadExt as _;

/// A message as the server received it (decoded by Python's MIME parser).
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Received {
    pub rcpt_to: Vec<String>,
    pub from: String,
    pub to: String,
    pub subject: String,
    pub message_id: String,
    pub content_type: String,
    pub text: Option<String>,
    pub html: Option<String>,
}

pub struct SmtpSink {
    pub port: u16,
    dir: tempfile::TempDir,
    child: Option<tokio::process::Child>,
}

fn python() -> PathBuf {
    std::env::var_os("SESAME_TEST_SMTP_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/smtp-venv/bin/python"))
}

impl SmtpSink {
    /// Starts the server, or `None` (the test skips) when its venv is
    /// missing — a failure instead with `SESAME_REQUIRE_SMTP=1`, as in CI.
    pub async fn start() -> Option<Self> {
        if !python().exists() {
            assert!(
                std::env::var("SESAME_REQUIRE_SMTP").as_deref() != Ok("1"),
                "SESAME_REQUIRE_SMTP=1 but the SMTP test server is missing: run .ci/smtp-venv.sh ({} not found)",
                python().display()
            );
            eprintln!("SMTP test skipped: run .ci/smtp-venv.sh to install the test SMTP server");
            return None;
        }
        let dir = tempfile::tempdir().expect("mail directory");
        let mut sink = Self { port: 0, dir, child: None };
        sink.listen(0).await;
        Some(sink)
    }

    async fn listen(&mut self, port: u16) {
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/smtp/sink.py");
        let mut child = tokio::process::Command::new(python())
            .arg(script)
            .arg(self.dir.path())
            .arg(port.to_string())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("SMTP test server starts");
        let stdout = child.stdout.take().expect("server output");
        let mut line = String::new();
        tokio::io::BufReader::new(stdout).read_line(&mut line).await.expect("server prints its port");
        self.port = line.trim().parse().expect("a port number");
        self.child = Some(child);
    }

    /// `smtp://127.0.0.1:PORT` (no TLS: loopback).
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Stops the server (the port then refuses connections).
    pub async fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().await.expect("server stopped");
        }
    }

    /// Starts it again on the same port, keeping what it received.
    pub async fn restart(&mut self) {
        self.stop().await;
        let port = self.port;
        self.listen(port).await;
    }

    /// Every message received, in order.
    pub fn received(&self) -> Vec<Received> {
        let mut names: Vec<PathBuf> = std::fs::read_dir(self.dir.path())
            .expect("mail directory")
            .map(|e| e.expect("entry").path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        names.sort();
        names
            .iter()
            .map(|p| serde_json::from_str(&std::fs::read_to_string(p).expect("message file")).expect("message JSON"))
            .collect()
    }
}
