//! A throwaway Redis: `redis-server` on a free port, persisting nothing, killed on drop, and
//! restartable on the same port (for tests that take Redis away in the middle of traffic).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::free_port;

/// The `redis-server` executable: `CHAT_TEST_REDIS_SERVER`, else the one on `PATH`.
pub fn redis_server_path() -> PathBuf {
    if let Some(path) = std::env::var_os("CHAT_TEST_REDIS_SERVER") {
        return PathBuf::from(path);
    }
    let found = std::env::var_os("PATH")
        .and_then(|paths| std::env::split_paths(&paths).map(|d| d.join("redis-server")).find(|p| p.is_file()));
    found.unwrap_or_else(|| {
        panic!(
            "these tests need redis-server, which is not on PATH; run them with `cargo xtask test` \
             (which installs it), `apt-get install redis-server`, or set CHAT_TEST_REDIS_SERVER"
        )
    })
}

/// One running `redis-server`, killed on drop.
pub struct Redis {
    pub port: u16,
    child: Mutex<Option<Child>>,
}

impl Redis {
    /// Starts Redis on a free port and waits until it answers PING.
    pub fn start() -> Redis {
        let redis = Redis { port: free_port(), child: Mutex::new(None) };
        redis.restart();
        redis
    }

    /// The connection URL.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// Kills the server (SIGKILL) and waits until it is gone. Pub/sub connections drop.
    pub fn kill(&self) {
        if let Some(mut child) = self.child.lock().unwrap().take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port (killing a running one first).
    pub fn restart(&self) {
        self.kill();
        let child = Command::new(redis_server_path())
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn redis-server");
        *self.child.lock().unwrap() = Some(child);
        self.wait_until_ready();
    }

    fn wait_until_ready(&self) {
        let started = Instant::now();
        loop {
            if ping(self.port) {
                return;
            }
            if let Some(status) = self.child.lock().unwrap().as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                panic!("redis-server exited during startup ({status}); is port {} taken?", self.port);
            }
            assert!(started.elapsed() < Duration::from_secs(20), "redis-server did not answer PING within 20 s");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn ping(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else { return false };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    let mut reply = [0u8; 7];
    stream.write_all(b"PING\r\n").is_ok() && stream.read_exact(&mut reply).is_ok() && &reply == b"+PONG\r\n"
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.kill();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_answers_and_restarts_on_the_same_port() {
        let redis = Redis::start();
        assert!(ping(redis.port));
        redis.kill();
        assert!(!ping(redis.port));
        redis.restart();
        assert!(ping(redis.port));
    }
}
