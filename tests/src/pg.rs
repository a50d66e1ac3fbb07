//! Throwaway PostgreSQL for the tests: a cluster from Debian's binaries (`initdb`,
//! `pg_ctl` on PATH or under /usr/lib/postgresql/*/bin) in a temp dir on a free
//! loopback port, stopped when the last handle goes — or, when `DATABASE_URL` is set
//! (`make test` starts one cluster for the whole run with the `pg-cluster` binary), that
//! server. Either way every test gets a database of its own.
//!
//! PostgreSQL refuses to run as root. When the tests run as root (CI on a fresh Debian
//! machine does), the data directory is handed to the `postgres` user that the Debian
//! package creates and the binaries run through `runuser`.

use anyhow::{anyhow, bail, Context, Result};
use sqlx::Connection;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, Weak};

/// A running throwaway cluster. Stopped (fast: `-m immediate`, it holds nothing worth
/// keeping) on drop.
pub struct Cluster {
    dir: tempfile::TempDir,
    bin: PathBuf,
    run_as: Option<String>,
    port: u16,
}

/// The directory with `initdb` and `pg_ctl`: PATH first, then the newest Debian
/// versioned directory.
pub fn find_bin_dir() -> Result<PathBuf> {
    if let Some(path) = std::env::var_os("PATH") {
        for d in std::env::split_paths(&path) {
            if d.join("initdb").is_file() && d.join("pg_ctl").is_file() {
                // /usr/local/bin links resolve to the real directory, which has postgres.
                let real = std::fs::canonicalize(d.join("initdb"))?;
                if let Some(p) = real.parent() {
                    return Ok(p.to_path_buf());
                }
            }
        }
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter_map(|e| {
                    let v: u32 = e.file_name().to_str()?.parse().ok()?;
                    let bin = e.path().join("bin");
                    bin.join("initdb").is_file().then_some((v, bin))
                })
                .collect()
        })
        .unwrap_or_default();
    versions.sort();
    versions.pop().map(|(_, b)| b).ok_or_else(|| {
        anyhow!("PostgreSQL binaries not found (initdb, pg_ctl); install the `postgresql` package (scripts/setup.sh does)")
    })
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn uid_gid_of(user: &str) -> Result<(u32, u32)> {
    let out = |flag: &str| -> Result<u32> {
        let o = Command::new("id").args([flag, user]).output()?;
        if !o.status.success() {
            bail!("no `{user}` user to run PostgreSQL as (install the `postgresql` package)");
        }
        Ok(String::from_utf8_lossy(&o.stdout).trim().parse()?)
    };
    Ok((out("-u")?, out("-g")?))
}

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

impl Cluster {
    /// initdb + pg_ctl start in a fresh temp dir.
    pub fn start() -> Result<Cluster> {
        let bin = find_bin_dir()?;
        let dir = tempfile::Builder::new().prefix("latchkey-pg-").tempdir()?;
        let run_as = if is_root() {
            let (uid, gid) = uid_gid_of("postgres")?;
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid))?;
            Some("postgres".to_string())
        } else {
            None
        };
        let mut cluster = Cluster {
            dir,
            bin,
            run_as,
            port: 0,
        };
        let data = cluster.data();
        cluster.run(
            "initdb",
            &[
                "-D",
                &data,
                "-U",
                "latchkey",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ],
        )?;
        let mut last = None;
        for _ in 0..5 {
            let port = free_port()?;
            // Durability is worthless for a throwaway cluster; speed is not.
            let opts = format!(
                "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off \
                 -c synchronous_commit=off -c full_page_writes=off -c max_connections=300",
                cluster.dir.path().display()
            );
            let log = cluster.dir.path().join("postgres.log");
            match cluster.run(
                "pg_ctl",
                &[
                    "-D",
                    &data,
                    "-l",
                    &log.display().to_string(),
                    "-o",
                    &opts,
                    "-w",
                    "-t",
                    "60",
                    "start",
                ],
            ) {
                Ok(()) => {
                    cluster.port = port;
                    return Ok(cluster);
                }
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| anyhow!("pg_ctl start failed")))
    }

    fn data(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    fn run(&self, tool: &str, args: &[&str]) -> Result<()> {
        let exe = self.bin.join(tool);
        let mut cmd = match &self.run_as {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(&exe);
                c
            }
            None => Command::new(&exe),
        };
        cmd.args(args)
            .current_dir(self.dir.path())
            .stdin(Stdio::null());
        let out = cmd
            .output()
            .with_context(|| format!("cannot run {}", exe.display()))?;
        if !out.status.success() {
            let log =
                std::fs::read_to_string(self.dir.path().join("postgres.log")).unwrap_or_default();
            bail!(
                "{tool} failed: {}{}\n{log}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(())
    }

    /// The URL of the `postgres` maintenance database.
    pub fn admin_url(&self) -> String {
        format!("postgres://latchkey@127.0.0.1:{}/postgres", self.port)
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let data = self.data();
        let _ = self.run("pg_ctl", &["-D", &data, "-m", "immediate", "-w", "stop"]);
    }
}

/// The cluster this process started, shared by its databases while any is alive.
static LOCAL: Mutex<Weak<Cluster>> = Mutex::new(Weak::new());

fn local_cluster() -> Result<Arc<Cluster>> {
    let mut slot = LOCAL.lock().map_err(|_| anyhow!("cluster lock poisoned"))?;
    if let Some(c) = slot.upgrade() {
        return Ok(c);
    }
    let c = Arc::new(Cluster::start()?);
    *slot = Arc::downgrade(&c);
    Ok(c)
}

/// A database of its own for one test, dropped (best effort) with this handle.
pub struct TestDatabase {
    pub url: String,
    admin_url: String,
    name: String,
    /// Keeps a cluster started by this process running.
    _cluster: Option<Arc<Cluster>>,
}

/// `url` with its database name replaced.
fn with_database(url: &str, name: &str) -> Result<String> {
    let mut u = url::Url::parse(url).context("DATABASE_URL is not a URL")?;
    u.set_path(&format!("/{name}"));
    Ok(u.to_string())
}

impl TestDatabase {
    /// A fresh, empty database on `DATABASE_URL`'s server or on this process's
    /// throwaway cluster.
    pub async fn create() -> Result<TestDatabase> {
        let (admin_url, cluster) = match std::env::var("DATABASE_URL") {
            Ok(u) if !u.trim().is_empty() => (u, None),
            _ => {
                let c = tokio::task::spawn_blocking(local_cluster).await??;
                (c.admin_url(), Some(c))
            }
        };
        let name = format!(
            "lk_test_{}",
            latchkey_core::crypto::random_id()
                .to_lowercase()
                .replace('-', "_")
        );
        let name: String = name
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
            .take(60)
            .collect();
        let mut conn = sqlx::PgConnection::connect(&admin_url)
            .await
            .context("connecting to the test PostgreSQL server")?;
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await?;
        conn.close().await?;
        Ok(TestDatabase {
            url: with_database(&admin_url, &name)?,
            admin_url,
            name,
            _cluster: cluster,
        })
    }

    /// Terminates the backends of this database whose last statement began with
    /// `prefix` (e.g. `LISTEN`), only those of `application_name` if given, as an
    /// operator or a network fault would. Returns how many were ended.
    pub async fn terminate_backends(
        &self,
        application_name: Option<&str>,
        prefix: &str,
    ) -> Result<i64> {
        let mut conn = sqlx::PgConnection::connect(&self.admin_url).await?;
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = $1 AND starts_with(query, $2) AND pid <> pg_backend_pid() \
             AND ($3::text IS NULL OR application_name = $3)) t",
        )
        .bind(&self.name)
        .bind(prefix)
        .bind(application_name)
        .fetch_one(&mut conn)
        .await?;
        conn.close().await?;
        Ok(n)
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if self._cluster.is_some() {
            // The whole cluster goes with its last database.
            return;
        }
        let (url, name) = (self.admin_url.clone(), self.name.clone());
        // A runtime of its own: Drop cannot await, and the test's runtime may be gone.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            if let Ok(rt) = rt {
                rt.block_on(async move {
                    if let Ok(mut c) = sqlx::PgConnection::connect(&url).await {
                        let _ =
                            sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                                .execute(&mut c)
                                .await;
                        let _ = c.close().await;
                    }
                });
            }
        })
        .join();
    }
}
