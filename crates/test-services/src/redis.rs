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
    /// `--requirepass`, when set.
    password: Option<String>,
    /// TLS only (no plain port), when set.
    tls: Option<Tls>,
}

/// A throwaway certificate authority and the server certificate it signed (for `127.0.0.1`
/// and `localhost`), in a temporary directory that lives as long as the server.
pub struct Tls {
    /// The CA's certificate, PEM: what a client trusts to connect.
    pub ca_pem: String,
    dir: tempfile::TempDir,
}

impl Tls {
    fn generate() -> Tls {
        use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().expect("CA key")).expect("CA");
        let server_key = KeyPair::generate().expect("server key");
        let server = CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
            .expect("server params")
            .signed_by(&server_key, &ca)
            .expect("server certificate");
        let dir = tempfile::TempDir::new().expect("temporary directory");
        for (name, pem) in
            [("ca.pem", ca.pem()), ("server.pem", server.pem()), ("server.key", server_key.serialize_pem())]
        {
            std::fs::write(dir.path().join(name), pem).expect("write a certificate file");
        }
        Tls { ca_pem: ca.pem(), dir }
    }

    fn file(&self, name: &str) -> String {
        self.dir.path().join(name).to_string_lossy().into_owned()
    }
}

impl Redis {
    /// Starts Redis on a free port and waits until it answers PING.
    pub fn start() -> Redis {
        Self::launch(None, None)
    }

    /// Starts Redis requiring `password` (`--requirepass`): a client must AUTH first.
    pub fn start_with_password(password: &str) -> Redis {
        Self::launch(Some(password.to_owned()), None)
    }

    /// Starts Redis serving TLS only, with a certificate of a throwaway CA ([`Redis::tls`]
    /// gives its PEM), requiring `password` too. Needs a `redis-server` built with TLS
    /// (Debian's is).
    pub fn start_tls(password: &str) -> Redis {
        Self::launch(Some(password.to_owned()), Some(Tls::generate()))
    }

    fn launch(password: Option<String>, tls: Option<Tls>) -> Redis {
        let redis = Redis { port: free_port(), child: Mutex::new(None), password, tls };
        redis.restart();
        redis
    }

    /// The TLS material of a server from [`Redis::start_tls`].
    pub fn tls(&self) -> Option<&Tls> {
        self.tls.as_ref()
    }

    /// The connection URL: `redis://` or `rediss://`, with the password when there is one.
    pub fn url(&self) -> String {
        let scheme = if self.tls.is_some() { "rediss" } else { "redis" };
        match &self.password {
            Some(password) => format!("{scheme}://:{password}@127.0.0.1:{}/", self.port),
            None => format!("{scheme}://127.0.0.1:{}/", self.port),
        }
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
        let port = self.port.to_string();
        let mut args: Vec<String> =
            ["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"].map(str::to_owned).into();
        match &self.tls {
            None => args.extend(["--port".to_owned(), port]),
            Some(tls) => args.extend([
                "--port".to_owned(),
                "0".to_owned(),
                "--tls-port".to_owned(),
                port,
                "--tls-cert-file".to_owned(),
                tls.file("server.pem"),
                "--tls-key-file".to_owned(),
                tls.file("server.key"),
                "--tls-ca-cert-file".to_owned(),
                tls.file("ca.pem"),
                "--tls-auth-clients".to_owned(),
                "no".to_owned(),
            ]),
        }
        if let Some(password) = &self.password {
            args.extend(["--requirepass".to_owned(), password.clone()]);
        }
        let child = Command::new(redis_server_path())
            .args(&args)
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
            // A TLS port cannot be asked in plain text: listening is all that can be seen.
            let ready = if self.tls.is_some() {
                TcpStream::connect(("127.0.0.1", self.port)).is_ok()
            } else {
                answers(self.port)
            };
            if ready {
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

/// Whether a plain-text server on `port` answers PING at all (`+PONG`, or `-NOAUTH` when it
/// requires a password).
fn answers(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else { return false };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    let mut first = [0u8; 1];
    stream.write_all(b"PING\r\n").is_ok() && stream.read_exact(&mut first).is_ok() && matches!(&first, b"+" | b"-")
}

#[cfg(test)]
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
