//! The command line: `serve` (the default), `migrate`, `api-key create|list|revoke`.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use uuid::Uuid;

use orderpay_domain::api_key::ApiKeyId;

use crate::config::Config;
use crate::startup::{self, Application};
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
    /// Create the database if missing, apply migrations, and serve the API (the default).
    Serve,
    /// Create the database if missing and apply pending migrations, then exit.
    Migrate,
    /// Manage the API keys clients authenticate with.
    #[command(subcommand)]
    ApiKey(ApiKeyCommand),
}

#[derive(Subcommand)]
enum ApiKeyCommand {
    /// Create a key and print it, alone on stdout. It is shown this once: only its hash is kept.
    Create {
        /// What the key is for ("whatsapp-bot", "shop").
        #[arg(long)]
        name: String,
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
        Command::Serve => serve(&config).await,
        Command::Migrate => startup::prepare_database(&config)
            .await
            .map(|n| eprintln!("applied {n} migration(s)")),
        Command::ApiKey(command) => api_key(&config, command).await,
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

async fn serve(config: &Config) -> anyhow::Result<()> {
    let app = Application::build(config).await?;
    let handle = app.handle();
    let server = tokio::spawn(app.run_until_stopped());
    shutdown_signal().await;
    tracing::info!("shutting down: finishing requests in flight");
    handle.stop(true).await;
    server.await??;
    tracing::info!("stopped");
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

async fn api_key(config: &Config, command: ApiKeyCommand) -> anyhow::Result<()> {
    startup::prepare_database(config).await?;
    let keys = startup::api_keys(&startup::store(config)?);
    match command {
        ApiKeyCommand::Create { name } => {
            let created = keys.create(&name).await?;
            eprintln!(
                "Created API key {} ({}). It is shown this once; store it now.",
                created.key.id, created.key.name
            );
            println!("{}", created.token);
        }
        ApiKeyCommand::List => {
            println!(
                "{:<36}  {:<16}  {:<20}  {:<8}  NAME",
                "ID", "PREFIX", "CREATED", "STATUS"
            );
            for key in keys.list().await? {
                println!(
                    "{:<36}  opk_{:<12}  {:<20}  {:<8}  {}",
                    key.id,
                    key.prefix,
                    key.created_at.format("%Y-%m-%dT%H:%M:%SZ"),
                    if key.is_revoked() {
                        "revoked"
                    } else {
                        "active"
                    },
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
