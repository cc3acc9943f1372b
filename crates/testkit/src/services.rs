//! Servers of a test's own, which it may stop and start: a Redis and a
//! PostgreSQL on free ports of 127.0.0.1, from Debian's packages
//! (`redis-server`, `postgresql`: `./scripts/test` installs them). The
//! machine's shared servers are never stopped by a test.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::Context as _;

/// A free port of 127.0.0.1 (free when asked).
pub fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// Waits until something accepts connections on the port.
pub async fn wait_listening(port: u16, within: Duration) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + within;
    while tokio::time::Instant::now() < deadline {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    anyhow::bail!("nothing listens on 127.0.0.1:{port} after {within:?}")
}

/// A Redis server of the test's own, keeping nothing on disk.
#[derive(Debug)]
pub struct OwnRedis {
    /// Its port, kept across a stop and a start.
    pub port: u16,
    process: Option<Child>,
}

impl OwnRedis {
    /// Starts one on a free port.
    pub async fn start() -> anyhow::Result<Self> {
        let mut redis = Self {
            port: free_port()?,
            process: None,
        };
        redis.start_again().await?;
        Ok(redis)
    }

    /// Its URL.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Its process, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.process.as_ref().map(Child::id)
    }

    /// Kills it: what it held is gone, as when a Redis without
    /// persistence restarts.
    pub fn stop(&mut self) {
        if let Some(mut process) = self.process.take() {
            let _ = process.kill();
            let _ = process.wait();
        }
    }

    /// Starts it again on the same port, empty; returns once it listens.
    pub async fn start_again(&mut self) -> anyhow::Result<()> {
        self.stop();
        let process = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &self.port.to_string()])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .spawn()
            .context("redis-server (Debian's redis-server package)")?;
        self.process = Some(process);
        wait_listening(self.port, Duration::from_secs(10)).await
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A PostgreSQL cluster of the test's own, in a temporary folder, trusting
/// every local connection. Run as the `postgres` user when the test runs
/// as root (PostgreSQL refuses root).
#[derive(Debug)]
pub struct OwnPostgres {
    /// Its port, kept across a stop and a start.
    pub port: u16,
    dir: PathBuf,
    bin: PathBuf,
}

impl OwnPostgres {
    /// Creates the cluster (`initdb`) and starts it on a free port.
    pub async fn start() -> anyhow::Result<Self> {
        let bin = postgres_bin()?;
        let dir = std::env::temp_dir().join(format!(
            "passerelle-pg-{}",
            oidc::types::random_token(6).to_lowercase()
        ));
        std::fs::create_dir_all(&dir)?;
        if as_root() {
            let status = Command::new("chown")
                .args(["postgres:postgres"])
                .arg(&dir)
                .status()?;
            anyhow::ensure!(status.success(), "chown postgres {}", dir.display());
        }
        let postgres = Self {
            port: free_port()?,
            dir,
            bin,
        };
        let data = postgres.dir.join("data");
        postgres.run(
            "initdb",
            &[
                "-D",
                path_str(&data)?,
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
            ],
        )?;
        postgres.start_again().await?;
        Ok(postgres)
    }

    /// Its postmaster's process, while it runs (the first line of
    /// `postmaster.pid`); the server's other processes are its children.
    pub fn pid(&self) -> Option<u32> {
        let file = std::fs::read_to_string(self.dir.join("data/postmaster.pid")).ok()?;
        file.lines().next()?.trim().parse().ok()
    }

    /// Its URL, for a database.
    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    /// Creates a database.
    pub async fn create_database(&self, name: &str) -> anyhow::Result<()> {
        use sqlx::Connection as _;
        let mut admin = sqlx::PgConnection::connect(&self.url("postgres")).await?;
        sqlx::query(&format!("CREATE DATABASE \"{name}\""))
            .execute(&mut admin)
            .await?;
        Ok(())
    }

    /// Stops it the way an operator does (`pg_ctl stop -m fast`: open
    /// connections are ended, what was committed stays).
    pub fn stop(&self) -> anyhow::Result<()> {
        self.run(
            "pg_ctl",
            &[
                "-D",
                path_str(&self.dir.join("data"))?,
                "-m",
                "fast",
                "-w",
                "stop",
            ],
        )
    }

    /// Starts it again on the same port; returns once it accepts
    /// connections.
    pub async fn start_again(&self) -> anyhow::Result<()> {
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -k {} -c fsync=off -c max_connections=200",
            self.port,
            path_str(&self.dir)?
        );
        self.run(
            "pg_ctl",
            &[
                "-D",
                path_str(&self.dir.join("data"))?,
                "-o",
                &options,
                "-l",
                path_str(&self.dir.join("log"))?,
                "-w",
                "start",
            ],
        )?;
        wait_listening(self.port, Duration::from_secs(20)).await
    }

    fn run(&self, program: &str, args: &[&str]) -> anyhow::Result<()> {
        let program = self.bin.join(program);
        let mut command = if as_root() {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(&program);
            command
        } else {
            Command::new(&program)
        };
        let output = command
            .args(args)
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .output()
            .with_context(|| format!("running {}", program.display()))?;
        anyhow::ensure!(
            output.status.success(),
            "{} {}: {}{}",
            program.display(),
            args.join(" "),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        Ok(())
    }
}

impl Drop for OwnPostgres {
    fn drop(&mut self) {
        if let Ok(data) = path_str(&self.dir.join("data")) {
            let _ = self.run("pg_ctl", &["-D", data, "-m", "immediate", "-w", "stop"]);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Debian's PostgreSQL programs: the newest of /usr/lib/postgresql/*/bin.
fn postgres_bin() -> anyhow::Result<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .context("/usr/lib/postgresql (Debian's postgresql package)")?
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse::<u32>().ok()?;
            Some((version, entry.path().join("bin")))
        })
        .filter(|(_, bin)| bin.join("initdb").exists())
        .collect();
    versions.sort();
    versions
        .pop()
        .map(|(_, bin)| bin)
        .context("no initdb under /usr/lib/postgresql")
}

fn as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|output| output.stdout.starts_with(b"0\n"))
}

fn path_str(path: &Path) -> anyhow::Result<&str> {
    path.to_str().context("a temporary path that is not UTF-8")
}
