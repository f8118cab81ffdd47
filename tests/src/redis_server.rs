//! A throwaway `redis-server` for tests: on a free loopback port, with no persistence, in a
//! temporary directory of its own, stopped when dropped.
//!
//! Tests that need Redis call [`RedisServer::start`]. When `redis-server` is not installed
//! it returns `None` outside CI (the test then says so and returns) and panics under `CI`,
//! where `.ci/run` installs it: a check that needs Redis fails there instead of passing
//! silently.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running `redis-server` child process.
#[derive(Debug)]
pub struct RedisServer {
    child: Option<Child>,
    port: u16,
    dir: PathBuf,
}

fn binary() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("REDIS_SERVER") {
        return Some(PathBuf::from(path));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/usr/bin")])
        .map(|dir| dir.join("redis-server"))
        .find(|candidate| candidate.is_file())
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

impl RedisServer {
    /// Starts a server, or returns `None` when `redis-server` is missing outside CI.
    ///
    /// # Panics
    /// When `redis-server` is missing and `CI` is set, or when it does not start.
    pub fn start() -> Option<RedisServer> {
        let Some(bin) = binary() else {
            if std::env::var_os("CI").is_some() {
                panic!(
                    "redis-server is not installed, and CI is set: `.ci/run` installs it (Debian package redis-server)"
                );
            }
            eprintln!("redis-server is not installed; skipping this test (outside CI only)");
            return None;
        };
        let dir = std::env::temp_dir().join(format!(
            "apipod-redis-{}-{}",
            std::process::id(),
            unique_suffix()
        ));
        std::fs::create_dir_all(&dir).expect("a temporary directory for redis-server");
        let mut server = RedisServer {
            child: None,
            port: free_port(),
            dir,
        };
        server.launch(&bin);
        Some(server)
    }

    fn launch(&mut self, bin: &Path) {
        // A port found free a moment ago can be taken by someone else: try a few.
        for _ in 0..5 {
            self.spawn(bin);
            if self.wait_ready(Duration::from_secs(10)) {
                return;
            }
            self.kill();
            self.port = free_port();
        }
        panic!("redis-server did not start");
    }

    /// Starts the process on `self.port`: loopback only, no persistence, its own directory.
    fn spawn(&mut self, bin: &Path) {
        let child = Command::new(bin)
            .args(["--port", &self.port.to_string()])
            .args(["--bind", "127.0.0.1"])
            .args(["--save", ""])
            .args(["--appendonly", "no"])
            .arg("--dir")
            .arg(&self.dir)
            .args(["--daemonize", "no", "--protected-mode", "yes"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server starts");
        self.child = Some(child);
    }

    fn wait_ready(&mut self, within: Duration) -> bool {
        let until = Instant::now() + within;
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        while Instant::now() < until {
            if let Some(child) = self.child.as_mut()
                && matches!(child.try_wait(), Ok(Some(_)))
            {
                return false;
            }
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    /// `redis://127.0.0.1:PORT/`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Kills the server (as a crash would: no shutdown, nothing saved).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port, empty (it had no persistence).
    ///
    /// # Panics
    /// When it does not start.
    pub fn restart(&mut self) {
        self.kill();
        let bin = binary().expect("redis-server was found before");
        for _ in 0..50 {
            self.spawn(&bin);
            if self.wait_ready(Duration::from_secs(2)) {
                return;
            }
            // The old socket may linger for a moment.
            self.kill();
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("redis-server did not restart on port {}", self.port);
    }
}

fn unique_suffix() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default(),
    );
    h.finish()
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
