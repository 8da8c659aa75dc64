//! Opening connections: `DATABASE_URL` parsing, TLS through rustls, and deadlines (the pools
//! are in `pool`).
//!
//! `sslmode` follows libpq: `disable` never uses TLS; `prefer` (the default) and `require`
//! encrypt without checking the certificate, except that `require` with an `sslrootcert`
//! behaves as `verify-ca` (as in libpq); `verify-ca` checks the certificate chain and
//! `verify-full` also the host name, against `sslrootcert` (a PEM file) or, when it is absent
//! or `system`, the system's root certificates.
//!
//! `pgbouncer=true` (Prisma's name) says the URL is a transaction-mode pooler's (PgBouncer,
//! Supabase's Supavisor, Neon's pooled endpoint): each transaction may run on another server
//! connection, so the store keeps no prepared statement and no session setting across
//! statements (see `PgStore::with_conn`), and needs a direct URL for what holds a session.

use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::anyhow;
use diesel::ConnectionError;
use diesel::connection::{Instrumentation, InstrumentationEvent};
use diesel_async::AsyncPgConnection;
use diesel_async::{AsyncConnection, SimpleAsyncConnection};
use futures_util::FutureExt;
use tokio_postgres::config::{Host, SslMode};
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::tls::{TlsMode, tls_connector};

mod params;

use self::params::{OwnParam, take_own_params};

/// Where and how to connect: the parsed URL, TLS, and how long connecting may take.
#[derive(Clone)]
pub struct ConnectOptions {
    config: tokio_postgres::Config,
    /// Built once: every pooled connection shares it.
    tls: MakeRustlsConnect,
    tls_mode: TlsMode,
    root_cert: Option<PathBuf>,
    connect_timeout: Duration,
    /// `pgbouncer=true`: the URL is a transaction-mode pooler's.
    transaction_pooler: bool,
    display: String,
}

impl std::fmt::Debug for ConnectOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.display)
    }
}

impl ConnectOptions {
    pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

    /// Parses a `postgres://` URL or a libpq key=value string, including the `sslmode`
    /// values and the `sslrootcert` parameter that tokio-postgres itself does not know.
    ///
    /// # Errors
    /// A message that names what is wrong and never contains the password.
    pub fn parse(url: &str) -> anyhow::Result<Self> {
        Self::parse_with_default_mode(url, TlsMode::Prefer)
    }

    /// As [`ConnectOptions::parse`], with `default` as the `sslmode` when the URL sets none.
    ///
    /// # Errors
    /// As [`ConnectOptions::parse`].
    pub fn parse_with_default_mode(url: &str, default: TlsMode) -> anyhow::Result<Self> {
        let (rest, tls_params) = take_own_params(url);
        let config = tokio_postgres::Config::from_str(&rest).map_err(|e| {
            anyhow!("DATABASE_URL is not a valid PostgreSQL URL or connection string: {e}")
        })?;
        if config.get_dbname().is_none() {
            return Err(anyhow!("DATABASE_URL names no database"));
        }
        let mut tls_mode = default;
        let mut root_cert = None;
        let mut transaction_pooler = false;
        for (key, value) in tls_params {
            match key {
                OwnParam::Mode => tls_mode = TlsMode::parse(&value).map_err(|e| anyhow!(e))?,
                OwnParam::RootCert if value == "system" => root_cert = None,
                OwnParam::RootCert => root_cert = Some(PathBuf::from(value)),
                OwnParam::Pgbouncer => {
                    transaction_pooler = match value.as_str() {
                        "true" => true,
                        "false" => false,
                        other => {
                            return Err(anyhow!(
                                "DATABASE_URL: pgbouncer must be true or false, not {other:?}"
                            ));
                        }
                    }
                }
            }
        }
        // libpq: with a root certificate, `require` checks the chain as `verify-ca` does.
        if tls_mode == TlsMode::Require && root_cert.is_some() {
            tls_mode = TlsMode::VerifyCa;
        }
        let tls = tls_connector(tls_mode, root_cert.as_deref())?;
        let mut options = Self {
            config,
            tls,
            tls_mode,
            root_cert,
            connect_timeout: Self::DEFAULT_CONNECT_TIMEOUT,
            transaction_pooler,
            display: String::new(),
        };
        options.config.ssl_mode(match tls_mode {
            TlsMode::Disable => SslMode::Disable,
            TlsMode::Prefer => SslMode::Prefer,
            _ => SslMode::Require,
        });
        options.display = options.describe();
        Ok(options)
    }

    /// The same, with another deadline for opening one connection (TCP, TLS and start-up).
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self.config.connect_timeout(timeout);
        self
    }

    /// Whether the URL is a transaction-mode pooler's (`pgbouncer=true`).
    pub fn behind_transaction_pooler(&self) -> bool {
        self.transaction_pooler
    }

    /// The same, with server-side session settings every connection of a pool starts with: a
    /// statement deadline, the same bound on a transaction left idle, and generic plans for
    /// the statements it prepares. Not through a transaction pooler, which refuses start-up
    /// options and would not keep them: there each transaction sets its own deadline
    /// (`PgStore::with_conn`), and statements are not prepared for reuse.
    ///
    /// Generic plans: every statement the service prepares has one best plan whatever its
    /// values (lookups by key, index ranges in key order). PostgreSQL's default (`auto`)
    /// plans a statement again on every execution while a plan for the values at hand looks
    /// cheaper than the generic one, and at 10 million orders it does, for a customer with
    /// thousands of orders: planning then costs three times the query (bench/README.md, "Ten
    /// million orders"). No JIT: it pays off for long analytic queries, never for these, and
    /// a generic plan's cost under `LIMIT $n` (PostgreSQL assumes a tenth of the rows) is over
    /// its threshold on a big table, so the event feed compiled itself on every call.
    ///
    /// No sequential scan where an index serves (`enable_seqscan=off`, which only makes a
    /// table scan the last resort): a plan is made once per connection, and a table that was
    /// analyzed while empty or small (a fresh deployment, a restore; autovacuum analyzes again
    /// only after it grew by a tenth, at most once a minute) looks cheaper read whole than
    /// through its index, so every request read the whole table until the next analyze
    /// (`tests/plans.rs`: 2,200 scans of `orders` in 1,200 requests). Every statement the
    /// service sends has an index to read through, but for the fan-out's read of the few
    /// webhook endpoints; behind a transaction pooler each transaction sets the same with
    /// `SET LOCAL`, and `jit = off` with it: a table scan left in a plan costs it so much that
    /// JIT compiled every statement (300 ms each, found by the pooled tests under load).
    pub(crate) fn with_session_settings(&self, timeout: Duration) -> Self {
        let mut other = self.clone();
        if self.transaction_pooler {
            return other;
        }
        let ms = timeout.as_millis();
        let settings = format!(
            "-c statement_timeout={ms} -c idle_in_transaction_session_timeout={ms} \
             -c plan_cache_mode=force_generic_plan -c jit=off -c enable_seqscan=off"
        );
        let options = match self.config.get_options() {
            Some(existing) if !existing.trim().is_empty() => format!("{existing} {settings}"),
            _ => settings,
        };
        other.config.options(options);
        other
    }

    pub fn database_name(&self) -> &str {
        self.config.get_dbname().unwrap_or_default()
    }

    /// The same server, another database (the maintenance database `postgres`, say).
    pub fn with_database(&self, name: &str) -> Self {
        let mut other = self.clone();
        other.config.dbname(name);
        other.display = other.describe();
        other
    }

    /// Whether every host is a Unix socket: no network, so TLS has nothing to protect.
    pub fn is_local_socket(&self) -> bool {
        let hosts = self.config.get_hosts();
        !hosts.is_empty() && hosts.iter().all(|h| matches!(h, Host::Unix(_)))
    }

    pub fn tls_mode(&self) -> TlsMode {
        self.tls_mode
    }

    /// Whether connections check the server's certificate (`verify-ca`, `verify-full`).
    pub fn verifies_certificate(&self) -> bool {
        matches!(self.tls_mode, TlsMode::VerifyCa | TlsMode::VerifyFull)
    }

    /// The server, user, database and TLS mode, for logs: built from the parsed parts, so it
    /// never holds the password, whatever form the URL had.
    pub fn display(&self) -> &str {
        &self.display
    }

    fn describe(&self) -> String {
        let user = self.config.get_user().unwrap_or("");
        let ports = self.config.get_ports();
        let hosts: Vec<String> = self
            .config
            .get_hosts()
            .iter()
            .enumerate()
            .map(|(i, host)| {
                let name = match host {
                    Host::Tcp(name) => name.clone(),
                    Host::Unix(path) => path.display().to_string(),
                };
                match ports.get(i).or(ports.first()) {
                    Some(port) => format!("{name}:{port}"),
                    None => name,
                }
            })
            .collect();
        let at = if user.is_empty() {
            String::new()
        } else {
            format!("{user}@")
        };
        let mut out = format!(
            "postgres://{at}{}/{}?sslmode={}",
            hosts.join(","),
            self.database_name(),
            self.tls_mode.as_str()
        );
        if let Some(root) = &self.root_cert {
            out.push_str(&format!("&sslrootcert={}", root.display()));
        }
        if self.transaction_pooler {
            out.push_str("&pgbouncer=true");
        }
        out
    }

    /// A tokio-postgres client and its connection task, opened within the connect deadline.
    pub(crate) async fn connect_raw(
        &self,
    ) -> Result<
        (
            tokio_postgres::Client,
            impl Future<Output = ()> + Send + 'static + use<>,
        ),
        anyhow::Error,
    > {
        let (client, connection) = self.open().await?;
        Ok((client, connection.map(|_| ())))
    }

    /// A client and its connection, TCP, TLS and start-up done within the connect deadline.
    async fn open(&self) -> anyhow::Result<(tokio_postgres::Client, RawConnection)> {
        tokio::time::timeout(self.connect_timeout, self.config.connect(self.tls.clone()))
            .await
            .map_err(|_| {
                anyhow!(
                    "{} did not complete a connection within {:?}",
                    self.display,
                    self.connect_timeout
                )
            })?
            .map_err(anyhow::Error::from)
    }

    /// One diesel connection, counting its queries into `counter`, opened within the connect
    /// deadline.
    pub(crate) async fn connect(
        &self,
        counter: Arc<AtomicU64>,
    ) -> Result<AsyncPgConnection, ConnectionError> {
        let (client, connection) = self
            .open()
            .await
            .map_err(|e| ConnectionError::BadConnection(format!("{e:#}")))?;
        let mut conn = if self.transaction_pooler {
            // diesel-async's set-up (time zone, encoding) prepares statements: behind a
            // transaction pooler they must run in one transaction, or a statement prepared on
            // one server connection is executed on another. The settings outlive it (the
            // pooler carries them over as it changes server connections).
            tokio::spawn(connection);
            let setup = |e: tokio_postgres::Error| {
                ConnectionError::CouldntSetupConfiguration(diesel::result::Error::DatabaseError(
                    diesel::result::DatabaseErrorKind::Unknown,
                    Box::new(e.to_string()),
                ))
            };
            client.batch_execute("BEGIN").await.map_err(setup)?;
            let mut conn = AsyncPgConnection::try_from(client).await?;
            conn.batch_execute("COMMIT")
                .await
                .map_err(ConnectionError::CouldntSetupConfiguration)?;
            conn
        } else {
            AsyncPgConnection::try_from_client_and_connection(client, connection).await?
        };
        conn.set_instrumentation(QueryCounter(counter));
        Ok(conn)
    }
}

/// A tokio-postgres connection over this crate's rustls connector.
type RawConnection = tokio_postgres::Connection<
    tokio_postgres::Socket,
    <MakeRustlsConnect as tokio_postgres::tls::MakeTlsConnect<tokio_postgres::Socket>>::Stream,
>;

/// Whether `e` says the database named does not exist (SQLSTATE 3D000).
pub(crate) fn is_missing_database(e: &anyhow::Error) -> bool {
    e.downcast_ref::<tokio_postgres::Error>()
        .and_then(tokio_postgres::Error::code)
        == Some(&tokio_postgres::error::SqlState::INVALID_CATALOG_NAME)
}

/// Counts the queries a connection starts, so tests and metrics can see how many a call costs.
struct QueryCounter(Arc<AtomicU64>);

impl Instrumentation for QueryCounter {
    fn on_connection_event(&mut self, event: InstrumentationEvent<'_>) {
        if let InstrumentationEvent::StartQuery { .. } = event {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_reach_the_display_form() {
        for url in [
            "postgres://app:s3cret@db.example.com:5432/orderpay",
            "postgres://app@db.example.com/orderpay?password=s3cret",
            "postgresql://app@db.example.com/orderpay?sslmode=require&password=s3cret",
            "host=db.example.com user=app password=s3cret dbname=orderpay",
            "host=db.example.com user=app password='s3 cret' dbname=orderpay",
            "postgres://app:s3%40cret@db.example.com/orderpay",
        ] {
            let o = ConnectOptions::parse(url).unwrap();
            assert!(!o.display().contains("s3"), "{url} -> {}", o.display());
            assert!(!format!("{o:?}").contains("s3"), "{url}");
            assert!(
                o.display().starts_with("postgres://app@db.example.com"),
                "{}",
                o.display()
            );
        }
        let o =
            ConnectOptions::parse("postgres://app:s3cret@db.example.com:5432/orderpay").unwrap();
        assert_eq!(
            o.display(),
            "postgres://app@db.example.com:5432/orderpay?sslmode=prefer"
        );
    }

    #[test]
    fn pgbouncer_true_marks_a_transaction_pooler_and_is_not_passed_on() {
        for url in [
            "postgres://app@pooler.example.com:6543/orderpay?pgbouncer=true&sslmode=disable",
            "host=pooler.example.com port=6543 user=app dbname=orderpay pgbouncer=true",
        ] {
            let options = ConnectOptions::parse(url).unwrap();
            assert!(options.behind_transaction_pooler(), "{url}");
            assert!(
                options.display().ends_with("&pgbouncer=true"),
                "{}",
                options.display()
            );
            // No start-up options for a pooler, which refuses them.
            let timed = options.with_session_settings(Duration::from_secs(5));
            assert_eq!(timed.config.get_options(), None, "{url}");
        }
        let direct = ConnectOptions::parse("postgres://app@db/orderpay?pgbouncer=false").unwrap();
        assert!(!direct.behind_transaction_pooler());
        let timed = direct.with_session_settings(Duration::from_secs(5));
        assert!(
            timed
                .config
                .get_options()
                .unwrap()
                .contains("statement_timeout=5000")
        );
        assert!(
            timed.config.get_options().unwrap().ends_with(
                "-c plan_cache_mode=force_generic_plan -c jit=off -c enable_seqscan=off"
            )
        );
        assert!(ConnectOptions::parse("postgres://app@db/orderpay?pgbouncer=1").is_err());
    }

    #[test]
    fn tls_modes_follow_libpq() {
        for (mode, expected) in [
            ("disable", TlsMode::Disable),
            ("prefer", TlsMode::Prefer),
            ("require", TlsMode::Require),
            ("verify-ca", TlsMode::VerifyCa),
            ("verify-full", TlsMode::VerifyFull),
        ] {
            let o =
                ConnectOptions::parse(&format!("postgres://localhost/x?sslmode={mode}")).unwrap();
            assert_eq!(o.tls_mode(), expected, "{mode}");
            let kv =
                ConnectOptions::parse(&format!("host=localhost dbname=x sslmode={mode}")).unwrap();
            assert_eq!(kv.tls_mode(), expected, "{mode}");
        }
        assert_eq!(
            ConnectOptions::parse("postgres://localhost/x")
                .unwrap()
                .tls_mode(),
            TlsMode::Prefer
        );
        assert!(ConnectOptions::parse("postgres://localhost/x?sslmode=bogus").is_err());
        let required =
            ConnectOptions::parse_with_default_mode("postgres://localhost/x", TlsMode::Require);
        assert_eq!(required.unwrap().tls_mode(), TlsMode::Require);
        let explicit = ConnectOptions::parse_with_default_mode(
            "postgres://localhost/x?sslmode=prefer",
            TlsMode::Require,
        );
        assert_eq!(explicit.unwrap().tls_mode(), TlsMode::Prefer);
        assert!(ConnectOptions::parse("postgres://localhost").is_err());
    }

    #[test]
    fn a_missing_root_certificate_file_is_named() {
        let err = ConnectOptions::parse(
            "postgres://localhost/x?sslmode=verify-full&sslrootcert=/nonexistent/ca.pem",
        )
        .unwrap_err();
        assert!(
            format!("{err:#}").contains("/nonexistent/ca.pem"),
            "{err:#}"
        );
    }

    #[test]
    fn other_parameters_pass_through() {
        let o = ConnectOptions::parse(
            "postgres://u@h/x?application_name=orderpay&sslmode=require&connect_timeout=3",
        )
        .unwrap();
        assert_eq!(o.config.get_application_name(), Some("orderpay"));
        let kv = ConnectOptions::parse(
            "host=h dbname=x application_name='order pay' sslrootcert=system sslmode=verify-full",
        )
        .unwrap();
        assert_eq!(kv.config.get_application_name(), Some("order pay"));
        assert_eq!(kv.tls_mode(), TlsMode::VerifyFull);
    }
}
