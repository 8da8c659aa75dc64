//! Opening connections: `DATABASE_URL` parsing, TLS through rustls, and the pool.
//!
//! `sslmode` follows libpq: `disable` never uses TLS; `prefer` (the default) and `require`
//! encrypt without checking the certificate (what libpq does without a root certificate, and
//! what managed providers' URLs ask for); `verify-ca` and `verify-full` check the server's
//! certificate against the Mozilla roots.

use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context, anyhow};
use diesel::ConnectionError;
use diesel::connection::{Instrumentation, InstrumentationEvent};
use diesel_async::AsyncConnection;
use diesel_async::AsyncPgConnection;
use diesel_async::pooled_connection::deadpool::Pool;
use diesel_async::pooled_connection::{
    AsyncDieselConnectionManager, ManagerConfig, RecyclingMethod,
};
use futures_util::FutureExt;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, ring};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio_postgres_rustls::MakeRustlsConnect;

/// Where and how to connect: the parsed URL and whether the server certificate is checked.
#[derive(Clone)]
pub struct ConnectOptions {
    config: tokio_postgres::Config,
    /// Built once: every pooled connection shares it.
    tls: MakeRustlsConnect,
    url_for_display: String,
}

impl ConnectOptions {
    /// Parses a `postgres://` URL (or key=value string), including `sslmode=verify-full`,
    /// which tokio-postgres itself does not know.
    pub fn parse(url: &str) -> anyhow::Result<Self> {
        let mut verify_certificate = false;
        let mut rewritten = url.to_string();
        for mode in ["sslmode=verify-full", "sslmode=verify-ca"] {
            if rewritten.contains(mode) {
                verify_certificate = true;
                rewritten = rewritten.replace(mode, "sslmode=require");
            }
        }
        let config = tokio_postgres::Config::from_str(&rewritten)
            .map_err(|e| anyhow!("DATABASE_URL is not a valid PostgreSQL URL: {e}"))?;
        if config.get_dbname().is_none() {
            return Err(anyhow!("DATABASE_URL names no database"));
        }
        Ok(Self {
            url_for_display: redact(url),
            config,
            tls: tls_connector(verify_certificate),
        })
    }

    pub fn database_name(&self) -> &str {
        self.config.get_dbname().unwrap_or_default()
    }

    /// The same server, another database (the maintenance database `postgres`, say).
    pub fn with_database(&self, name: &str) -> Self {
        let mut other = self.clone();
        other.config.dbname(name);
        other
    }

    /// The URL with its password hidden, for logs.
    pub fn display(&self) -> &str {
        &self.url_for_display
    }

    pub(crate) async fn connect_raw(
        &self,
    ) -> Result<
        (
            tokio_postgres::Client,
            impl Future<Output = ()> + Send + 'static,
        ),
        tokio_postgres::Error,
    > {
        let (client, connection) = self.config.connect(self.tls.clone()).await?;
        Ok((client, connection.map(|_| ())))
    }

    /// One diesel connection, counting its queries into `counter`.
    pub(crate) async fn connect(
        &self,
        counter: Arc<AtomicU64>,
    ) -> Result<AsyncPgConnection, ConnectionError> {
        let (client, connection) = self
            .config
            .connect(self.tls.clone())
            .await
            .map_err(|e| ConnectionError::BadConnection(e.to_string()))?;
        let mut conn =
            AsyncPgConnection::try_from_client_and_connection(client, connection).await?;
        conn.set_instrumentation(QueryCounter(counter));
        Ok(conn)
    }
}

/// rustls on ring: checking the server certificate against the Mozilla roots, or (for
/// `prefer`/`require`) only encrypting.
fn tls_connector(verify_certificate: bool) -> MakeRustlsConnect {
    let provider = Arc::new(ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .expect("ring supports the default TLS versions");
    let config = if verify_certificate {
        let roots = RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        builder.with_root_certificates(roots).with_no_client_auth()
    } else {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(EncryptOnly(provider)))
            .with_no_client_auth()
    };
    MakeRustlsConnect::new(config)
}

/// Pool settings, from configuration.
#[derive(Debug, Clone, Copy)]
pub struct PoolOptions {
    pub max_size: usize,
    /// How long a request waits for a free connection before failing.
    pub acquire_timeout: Duration,
    /// How long opening one connection may take.
    pub connect_timeout: Duration,
}

impl Default for PoolOptions {
    fn default() -> Self {
        Self {
            max_size: 10,
            acquire_timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(5),
        }
    }
}

pub(crate) fn build_pool(
    options: &ConnectOptions,
    pool: PoolOptions,
    counter: Arc<AtomicU64>,
) -> anyhow::Result<Pool<AsyncPgConnection>> {
    let connect = options.clone();
    let timeout = pool.connect_timeout;
    let mut config = ManagerConfig::default();
    // The default checks every connection with a query on checkout; a broken connection is
    // already detected without one, and the round trip would double the cost of a lookup.
    config.recycling_method = RecyclingMethod::Fast;
    config.custom_setup = Box::new(move |_url| {
        let connect = connect.clone();
        let counter = counter.clone();
        async move {
            tokio::time::timeout(timeout, connect.connect(counter))
                .await
                .unwrap_or_else(|_| {
                    Err(ConnectionError::BadConnection(
                        "timed out connecting to PostgreSQL".into(),
                    ))
                })
        }
        .boxed()
    });
    let manager = AsyncDieselConnectionManager::<AsyncPgConnection>::new_with_config(
        options.display(),
        config,
    );
    Pool::builder(manager)
        .max_size(pool.max_size)
        .wait_timeout(Some(pool.acquire_timeout))
        .create_timeout(Some(pool.connect_timeout))
        .runtime(deadpool::Runtime::Tokio1)
        .build()
        .context("building the connection pool")
}

/// Counts the queries a connection starts, so tests and metrics can see how many a call costs.
struct QueryCounter(Arc<AtomicU64>);

impl Instrumentation for QueryCounter {
    fn on_connection_event(&mut self, event: InstrumentationEvent<'_>) {
        if let InstrumentationEvent::StartQuery { query, .. } = event {
            self.0.fetch_add(1, Ordering::Relaxed);
            tracing::trace!(%query, "query");
        }
    }
}

fn redact(url: &str) -> String {
    // postgres://user:password@host/db -> postgres://user:***@host/db
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let credentials = &url[scheme_end + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme_end + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

/// `sslmode=require`: the connection is encrypted, the certificate is not checked.
#[derive(Debug)]
struct EncryptOnly(Arc<CryptoProvider>);

impl ServerCertVerifier for EncryptOnly {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_hidden_from_logs() {
        let o =
            ConnectOptions::parse("postgres://app:s3cret@db.example.com:5432/orderpay").unwrap();
        assert_eq!(
            o.display(),
            "postgres://app:***@db.example.com:5432/orderpay"
        );
        assert!(!o.display().contains("s3cret"));
    }

    #[test]
    fn verify_modes_are_understood() {
        use tokio_postgres::config::SslMode;
        for mode in ["verify-full", "verify-ca", "require"] {
            let o =
                ConnectOptions::parse(&format!("postgres://localhost/x?sslmode={mode}")).unwrap();
            assert_eq!(o.config.get_ssl_mode(), SslMode::Require, "{mode}");
        }
        assert!(ConnectOptions::parse("postgres://localhost/x?sslmode=bogus").is_err());
        assert!(ConnectOptions::parse("postgres://localhost").is_err());
    }
}
