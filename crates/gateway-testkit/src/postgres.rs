//! A private, throwaway PostgreSQL server for tests that stop and start it (outages). Never
//! the machine's shared one.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::skip;

#[derive(Debug)]
pub struct PrivatePostgres {
    dir: tempfile::TempDir,
    bindir: PathBuf,
    pub port: u16,
    as_postgres: bool,
}

fn bindir() -> Option<PathBuf> {
    let out = Command::new("pg_config").arg("--bindir").output().ok()?;
    let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    if dir.join("initdb").exists() {
        return Some(dir);
    }
    // Debian's pg_config may point at /usr/bin, which has no initdb: look beside the server.
    std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(Result::ok)
        .map(|e| e.path().join("bin"))
        .find(|d| d.join("initdb").exists())
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0").unwrap_or(false)
}

impl PrivatePostgres {
    /// Initialises and starts a server on a free port; `None` (after SKIPPED) without the
    /// PostgreSQL server binaries.
    pub fn start() -> Option<PrivatePostgres> {
        let Some(bindir) = bindir() else {
            skip("the PostgreSQL server binaries (initdb, pg_ctl) are not installed");
            return None;
        };
        let as_postgres = is_root();
        let dir = tempfile::Builder::new().prefix("gateway-pg-").tempdir().expect("temp dir");
        if as_postgres {
            // initdb refuses to run as root: the server runs as the postgres user.
            let ok =
                Command::new("chown").args(["-R", "postgres:postgres"]).arg(dir.path()).status().map(|s| s.success());
            assert!(matches!(ok, Ok(true)), "cannot hand {} to the postgres user", dir.path().display());
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port();
        let pg = PrivatePostgres { dir, bindir, port, as_postgres };
        pg.run("initdb", &["-A", "trust", "-U", "postgres", "-D", &pg.data().display().to_string()]);
        pg.start_again();
        Some(pg)
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn run(&self, tool: &str, args: &[&str]) {
        let exe = self.bindir.join(tool);
        let mut cmd = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&exe);
            c
        } else {
            Command::new(&exe)
        };
        let out =
            cmd.args(args).current_dir(Path::new("/")).output().unwrap_or_else(|e| panic!("cannot run {tool}: {e}"));
        assert!(
            out.status.success(),
            "{tool} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Starts the (stopped) server and waits until it accepts connections.
    pub fn start_again(&self) {
        let opts =
            format!("-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off", self.port, self.dir.path().display());
        let log = self.dir.path().join("server.log").display().to_string();
        self.run("pg_ctl", &["-D", &self.data().display().to_string(), "-o", &opts, "-l", &log, "-w", "start"]);
    }

    /// Stops the server at once, cutting its connections (an outage).
    pub fn stop(&self) {
        self.run("pg_ctl", &["-D", &self.data().display().to_string(), "-m", "immediate", "-w", "stop"]);
    }

    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let exe = self.bindir.join("pg_ctl");
        let data = self.data();
        let mut cmd = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(exe);
            c
        } else {
            Command::new(exe)
        };
        let _ = cmd.arg("-D").arg(data).args(["-m", "immediate", "stop"]).output();
    }
}
