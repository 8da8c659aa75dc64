//! The binary run as a process, as an operator runs it: `serve` with its log gathered, API
//! keys made by the CLI, and stopping with SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub(crate) fn orderpay(db_url: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_orderpay"));
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATABASE_URL", db_url)
        .env("SHUTDOWN_DRAIN_MS", "0")
        .env("RUST_LOG", "info");
    command
}

/// Everything a `serve` process writes to stderr, gathered as it comes.
pub(crate) struct Logs {
    lines: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Logs {
    pub(crate) fn text(&self) -> String {
        self.lines.lock().unwrap().join("\n")
    }

    /// The whole log, once the process has exited and its stderr is read to the end.
    pub(crate) fn all(mut self) -> String {
        if let Some(reader) = self.reader.take() {
            reader.join().unwrap();
        }
        self.text()
    }
}

/// Starts `orderpay serve`, waits for its "listening" line, and returns the child, its port and
/// its log (still growing).
pub(crate) fn serve(db_url: &str) -> (std::process::Child, u16, Logs) {
    serve_with(db_url, &[])
}

/// `serve` with extra environment variables.
pub(crate) fn serve_with(db_url: &str, env: &[(&str, &str)]) -> (std::process::Child, u16, Logs) {
    start("serve", db_url, env)
}

/// `orderpay <subcommand>` (`serve` or `work`) on a free port, once it listens.
pub(crate) fn start(
    subcommand: &str,
    db_url: &str,
    env: &[(&str, &str)],
) -> (std::process::Child, u16, Logs) {
    let mut command = orderpay(db_url);
    command.env("HOST", "127.0.0.1").env("PORT", "0");
    for (k, v) in env {
        command.env(k, v);
    }
    let mut child = command
        .arg(subcommand)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let (port_tx, port_rx) = std::sync::mpsc::channel();
    // Reads to the end, so the child never blocks on a full pipe.
    let reader = {
        let lines = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(rest) = line.split("listening on http://127.0.0.1:").nth(1) {
                    let port: String = rest.chars().take_while(char::is_ascii_digit).collect();
                    let _ = port_tx.send(port.parse::<u16>().unwrap());
                }
                lines.lock().unwrap().push(line);
            }
        })
    };
    let logs = Logs {
        lines,
        reader: Some(reader),
    };
    match port_rx.recv_timeout(Duration::from_secs(30)) {
        Ok(port) => (child, port, logs),
        Err(_) => {
            let _ = child.kill();
            let _ = child.wait();
            panic!("orderpay {subcommand} did not start:\n{}", logs.all());
        }
    }
}

/// A key made with `orderpay api-key create`, as an operator makes one.
pub(crate) fn api_key(db_url: &str) -> String {
    api_key_with(db_url, &["--name", "bot"])
}

/// A new API key made by `orderpay api-key create` with `args`, as it prints it.
pub(crate) fn api_key_with(db_url: &str, args: &[&str]) -> String {
    api_key_output(db_url, args).trim().to_owned()
}

/// All that `orderpay api-key create` with `args` prints on stdout, once it succeeded.
pub(crate) fn api_key_output(db_url: &str, args: &[&str]) -> String {
    let out = orderpay(db_url)
        .args(["api-key", "create"])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A child process killed if the test ends early (a failed assertion), so no server outlives
/// its test.
pub(crate) struct KillOnDrop(pub(crate) Option<std::process::Child>);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Sends SIGTERM to `child`, as a platform does to stop it.
pub(crate) fn terminate(child: &std::process::Child) {
    let pid = child.id().to_string();
    let sent = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(sent.success(), "kill -TERM {pid}");
}

pub(crate) fn stop(child: std::process::Child) -> std::process::ExitStatus {
    terminate(&child);
    stop_waiting(child)
}

/// Waits (up to 30 s) for a child that was already signalled.
pub(crate) fn stop_waiting(mut child: std::process::Child) -> std::process::ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(Instant::now() < deadline, "orderpay did not stop");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A client of `orderpay serve` processes, with a key: JSON in, JSON out.
pub(crate) struct Remote {
    pub client: reqwest::Client,
    pub key: String,
}

impl Remote {
    pub(crate) fn new(key: String) -> Self {
        Self {
            client: reqwest::Client::new(),
            key,
        }
    }

    /// `POST url` with `body`, answered 2xx: the answer's JSON.
    pub(crate) async fn post(&self, url: &str, body: &serde_json::Value) -> serde_json::Value {
        let request = self.client.post(url).bearer_auth(&self.key).json(body);
        Self::json(request).await
    }

    /// `GET url`, answered 2xx: the answer's JSON.
    pub(crate) async fn get(&self, url: &str) -> serde_json::Value {
        Self::json(self.client.get(url).bearer_auth(&self.key)).await
    }

    async fn json(request: reqwest::RequestBuilder) -> serde_json::Value {
        let response = request.send().await.expect("the process answers");
        let status = response.status();
        let body: serde_json::Value = response.json().await.unwrap_or_default();
        assert!(status.is_success(), "{status}: {body}");
        body
    }

    /// A pending order of two teas for `phone`, made through `base`, and its payment (the pay
    /// link's): their ids.
    pub(crate) async fn order_with_payment(&self, base: &str, phone: &str) -> (String, String) {
        let order = self
            .post(
                &format!("{base}/v1/orders"),
                &serde_json::json!({"customer": {"phone": phone, "name": "Ada"},
                    "currency": "usd",
                    "items": [{"name": "Tea", "quantity": 2, "unit_amount": 450}]}),
            )
            .await;
        let id = order["id"].as_str().unwrap().to_owned();
        let link = self
            .post(
                &format!("{base}/v1/orders/{id}/payment-link"),
                &serde_json::json!({}),
            )
            .await;
        (id, link["payment_id"].as_str().unwrap().to_owned())
    }
}
