//! A PgBouncer in transaction mode in front of the test server, as Supabase and Neon put one
//! in front of theirs: one per test process, started on first use on a free port, stopped
//! when the test process ends. Debian's `pgbouncer` (1.18: no prepared statements in
//! transaction mode); a test that needs it fails saying so when it is missing.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Server connections per database and user: fewer than the app's pool, so transactions
/// from different app connections share server connections, as they do behind a real pooler.
const SERVER_CONNECTIONS: usize = 3;

pub struct Pooler {
    pub port: u16,
    /// The shell that runs PgBouncer and stops it with this process.
    _watchdog: std::process::Child,
}

impl Pooler {
    /// `direct`'s database through the pooler, marked as a transaction pooler's URL.
    pub fn url_for(&self, direct: &str) -> String {
        let name = direct
            .split('?')
            .next()
            .and_then(|base| base.rsplit('/').next())
            .expect("a database name");
        format!(
            "postgres://postgres@127.0.0.1:{}/{name}?sslmode=disable&pgbouncer=true",
            self.port
        )
    }
}

/// The test process's PgBouncer, started on first use.
pub fn pooler() -> &'static Pooler {
    static POOLER: OnceLock<Pooler> = OnceLock::new();
    POOLER.get_or_init(start)
}

fn start() -> Pooler {
    let binary = ["/usr/sbin/pgbouncer", "/usr/bin/pgbouncer"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .expect(
            "these tests run through PgBouncer: install it (Debian: apt-get install pgbouncer; \
             .ci/run does)",
        );
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let dir = std::env::temp_dir().join(format!("orderpay-pgbouncer-{port}"));
    std::fs::create_dir_all(&dir).unwrap();
    // PgBouncer will not run as root: as root it is started as `postgres`, who must be able
    // to write its log here.
    Command::new("chmod").arg("777").arg(&dir).status().unwrap();
    let ini = dir.join("pgbouncer.ini");
    std::fs::write(dir.join("userlist.txt"), "\"postgres\" \"\"\n").unwrap();
    std::fs::write(
        &ini,
        format!(
            "[databases]\n* = host=127.0.0.1 port=5432\n\n[pgbouncer]\n\
             listen_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n\
             auth_type = trust\nauth_file = {dir}/userlist.txt\n\
             pool_mode = transaction\ndefault_pool_size = {SERVER_CONNECTIONS}\n\
             max_client_conn = 1000\nmax_db_connections = 0\n\
             logfile = {dir}/pgbouncer.log\npidfile = {dir}/pgbouncer.pid\n",
            dir = dir.display()
        ),
    )
    .unwrap();
    // Stopped when this test process ends, however it ends: a shell waits on both.
    let as_root = is_root();
    let run = format!(
        "{} {} {} & child=$!; while kill -0 {} 2>/dev/null && kill -0 $child 2>/dev/null; \
         do sleep 0.5; done; kill $child 2>/dev/null",
        binary.display(),
        if as_root { "-u postgres" } else { "" },
        ini.display(),
        std::process::id()
    );
    let watchdog = Command::new("sh")
        .args(["-c", &run])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting pgbouncer");
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "pgbouncer did not listen on {port}: {}",
            std::fs::read_to_string(dir.join("pgbouncer.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    Pooler {
        port,
        _watchdog: watchdog,
    }
}

/// Whether this process runs as root (uid 0).
fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0")
}
