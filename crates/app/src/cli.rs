//! The command line: `serve` (the default), `migrate`, `api-key create|list|revoke`.

use std::process::ExitCode;

use std::sync::atomic::Ordering;

use anyhow::Context;
use clap::{Parser, Subcommand};
use uuid::Uuid;

use orderpay_domain::api_key::{ApiKeyId, Scope};

use crate::config::Config;
use crate::startup::{self, Application, Role};
use crate::telemetry;

#[derive(Parser)]
#[command(
    name = "orderpay",
    version,
    about = "Orders and payments for businesses that sell over chat and the web",
    long_about = "Orders and payments for businesses that sell over chat and the web.\n\n\
                  Configuration comes from the environment (and a .env file): DATABASE_URL, PORT, \
                  HOST, PUBLIC_BASE_URL, APP_ENV, CUSTOMER_DIRECTORY_URL, DEFAULT_PHONE_REGION, \
                  LOG_FORMAT, RUST_LOG and the DATABASE_POOL_* settings. See the README."
)]
pub struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Create the database if missing, apply migrations, and serve the API (the default), with
    /// the background workers unless RUN_WORKERS=false.
    Serve,
    /// Run the background workers only (the webhook sender, reconciliation, purges), with
    /// /healthz and /readyz on PORT: beside API-only replicas (RUN_WORKERS=false).
    Work,
    /// Create the database if missing and apply pending migrations, then exit.
    Migrate,
    /// Ask the payment provider for the true state of stuck payments and apply it, once.
    /// (`serve` does this every RECONCILE_INTERVAL_SECONDS.)
    Reconcile,
    /// Manage the API keys clients authenticate with.
    #[command(subcommand)]
    ApiKey(ApiKeyCommand),
    /// Exit 0 when the service on this machine's PORT answers GET /readyz with 200, 1
    /// otherwise: the container's health check (its image has no curl).
    Health,
}

#[derive(Subcommand)]
enum ApiKeyCommand {
    /// Create a key and print it, alone on stdout. It is shown this once: only its hash is kept.
    Create {
        /// What the key is for ("whatsapp-bot", "shop").
        #[arg(long)]
        name: String,
        /// Restrict the key to these scopes (repeat, or separate with commas): customers:read,
        /// customers:write, orders:read, orders:write, orders:clear_flags, payments:write,
        /// refunds:write, events:read, webhooks:read, webhooks:write. Without any, the key has
        /// full access.
        #[arg(long = "scope", value_delimiter = ',', value_parser = parse_scope)]
        scopes: Vec<Scope>,
    },
    /// List keys (never their secrets).
    List,
    /// Revoke a key by id: requests with it get 401 from then on.
    Revoke {
        /// The key's id, as `api-key list` shows it.
        id: Uuid,
    },
}

pub async fn run(cli: Cli) -> ExitCode {
    if matches!(cli.command, Some(Command::Health)) {
        return health();
    }
    // A missing .env is normal; a malformed one is worth saying.
    if let Err(e) = dotenvy::dotenv()
        && !e.not_found()
    {
        eprintln!("orderpay: could not read .env: {e}");
        return ExitCode::from(2);
    }
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(problems) => {
            eprintln!("orderpay: the configuration has problems:");
            for p in problems {
                eprintln!("  - {p}");
            }
            return ExitCode::from(2);
        }
    };
    telemetry::init(config.log_format);
    let outcome = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            let role = if config.run_workers {
                Role::Both
            } else {
                Role::Api
            };
            serve(&config, role).await
        }
        Command::Work => serve(&config, Role::Workers).await,
        Command::Migrate => startup::prepare_database(&config)
            .await
            .map(|n| eprintln!("applied {n} migration(s)")),
        Command::ApiKey(command) => api_key(&config, command).await,
        Command::Reconcile => reconcile(&config).await,
        Command::Health => unreachable!("answered before the configuration is read"),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "orderpay failed");
            eprintln!("orderpay: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(config: &Config, role: Role) -> anyhow::Result<()> {
    let app = Application::build_as(config, role).await?;
    let handle = app.handle();
    let shutting_down = app.shutting_down();
    let drain = config.shutdown_drain;
    supervise(app.run_until_stopped(), shutdown_signal(), async move {
        // Readiness first, so load balancers stop routing here; then stop accepting and let
        // the requests in flight on every worker finish.
        shutting_down.store(true, Ordering::Relaxed);
        tracing::info!(
            drain_ms = drain.as_millis(),
            "shutting down: /readyz now answers 503"
        );
        tokio::time::sleep(drain).await;
        tracing::info!("stopping: finishing requests in flight");
        handle.stop(true).await;
    })
    .await?;
    tracing::info!("stopped");
    Ok(())
}

/// Runs `server` until `signal`, then `stop`s it and waits for it to finish. A server that
/// ends before any signal (it failed, or stopped by itself) is an error: the process must
/// exit non-zero so that its supervisor restarts it.
pub(crate) async fn supervise(
    server: impl Future<Output = std::io::Result<()>> + Send + 'static,
    signal: impl Future<Output = ()>,
    stop: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let mut server = tokio::spawn(server);
    tokio::select! {
        outcome = &mut server => {
            return Err(match outcome {
                Ok(Ok(())) => anyhow::anyhow!("the HTTP server stopped without being asked to"),
                Ok(Err(e)) => anyhow::Error::new(e).context("the HTTP server failed"),
                Err(e) => anyhow::Error::new(e).context("the HTTP server task panicked"),
            });
        }
        () = signal => {}
    }
    stop.await;
    server.await.context("the HTTP server task panicked")??;
    Ok(())
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                .expect("installing the SIGTERM handler");
        tokio::select! {
            _ = interrupt => {},
            _ = terminate.recv() => {},
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
}

async fn reconcile(config: &Config) -> anyhow::Result<()> {
    startup::prepare_database(config).await?;
    let done = startup::reconcile_once(config).await?;
    if done.ran {
        println!(
            "examined {} stuck payment(s): {} changed, {} could not be checked now",
            done.examined, done.changed, done.failed
        );
    } else {
        println!("another process is reconciling now; nothing done");
    }
    Ok(())
}

fn parse_scope(raw: &str) -> Result<Scope, String> {
    Scope::parse(raw.trim())
}

async fn api_key(config: &Config, command: ApiKeyCommand) -> anyhow::Result<()> {
    startup::prepare_database(config).await?;
    let keys = startup::api_keys(&startup::store(config)?);
    match command {
        ApiKeyCommand::Create { name, scopes } => {
            let scopes = (!scopes.is_empty()).then(|| scopes.into_iter().collect());
            let created = keys.create_restricted(&name, scopes).await?;
            eprintln!(
                "Created API key {} ({}). It is shown this once; store it now.",
                created.key.id, created.key.name
            );
            println!("{}", created.token);
        }
        ApiKeyCommand::List => {
            println!(
                "{:<36}  {:<16}  {:<20}  {:<8}  {:<40}  NAME",
                "ID", "PREFIX", "CREATED", "STATUS", "SCOPES"
            );
            for key in keys.list().await? {
                let scopes = key.scopes.as_ref().map_or_else(
                    || "all".to_owned(),
                    |s| s.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(","),
                );
                println!(
                    "{:<36}  opk_{:<12}  {:<20}  {:<8}  {:<40}  {}",
                    key.id,
                    key.prefix,
                    key.created_at.format("%Y-%m-%dT%H:%M:%SZ"),
                    if key.is_revoked() {
                        "revoked"
                    } else {
                        "active"
                    },
                    scopes,
                    key.name
                );
            }
        }
        ApiKeyCommand::Revoke { id } => {
            keys.revoke(ApiKeyId::from_uuid(id)).await?;
            eprintln!("Revoked API key {id}.");
        }
    }
    Ok(())
}

/// `orderpay health`: GET /readyz on 127.0.0.1:$PORT, within two seconds.
fn health() -> ExitCode {
    use std::io::{Read, Write};
    let port = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse::<u16>().ok())
        .unwrap_or(8080);
    let deadline = std::time::Duration::from_secs(2);
    let answer = (|| -> std::io::Result<String> {
        let address = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        let mut stream = std::net::TcpStream::connect_timeout(&address, deadline)?;
        stream.set_read_timeout(Some(deadline))?;
        stream.write_all(b"GET /readyz HTTP/1.0\r\nHost: localhost\r\n\r\n")?;
        let mut head = [0u8; 16];
        let n = stream.read(&mut head)?;
        Ok(String::from_utf8_lossy(&head[..n]).into_owned())
    })();
    match answer {
        Ok(head) if head.starts_with("HTTP/1.1 200") || head.starts_with("HTTP/1.0 200") => {
            ExitCode::SUCCESS
        }
        Ok(head) => {
            eprintln!(
                "orderpay health: /readyz answered {:?}",
                head.lines().next().unwrap_or("")
            );
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("orderpay health: 127.0.0.1:{port} does not answer: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::supervise;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    #[tokio::test]
    async fn a_server_that_fails_makes_serve_fail_without_a_signal() {
        let failing = async { Err(std::io::Error::other("listener closed")) };
        let outcome = supervise(failing, std::future::pending(), async {}).await;
        let err = outcome.unwrap_err();
        assert!(format!("{err:#}").contains("listener closed"), "{err:#}");
    }

    #[tokio::test]
    async fn a_server_that_ends_by_itself_is_a_failure_too() {
        let outcome = supervise(async { Ok(()) }, std::future::pending(), async {}).await;
        assert!(outcome.is_err());
    }

    #[tokio::test]
    async fn a_signal_stops_the_server_and_waits_for_it() {
        let stopped = Arc::new(AtomicBool::new(false));
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let server = async move {
            let _ = rx.await;
            Ok(())
        };
        let flag = stopped.clone();
        let stop = async move {
            flag.store(true, Ordering::SeqCst);
            let _ = tx.send(());
        };
        supervise(server, async {}, stop).await.unwrap();
        assert!(stopped.load(Ordering::SeqCst));
    }
}
