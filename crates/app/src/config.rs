//! Configuration from environment variables, checked before anything starts.
//!
//! | Variable | Default | Meaning |
//! |---|---|---|
//! | `PORT` | `3001` | TCP port of HTTP and WebSocket (0 picks a free one) |
//! | `HOST` | `0.0.0.0` | address to bind |
//! | `DATA_DIR` | `./data` | where the SQLite database lives |
//! | `MONGODB_URI` | unset | use MongoDB (a replica set) instead of the embedded store |
//! | `MONGODB_DB` | `chat` | database name on MongoDB |
//! | `REDIS_URL` | unset | run as one node of a cluster: events fan out and the rate limit is shared through this Redis (`redis://[:password@]host:port[/db]`, `rediss://[user:password@]host:port[/db]` for TLS, or `redis+unix:///path`) |
//! | `REDIS_TLS_CA_FILE` | unset | with `rediss://`: PEM file of the CA(s) to trust instead of the system's roots |
//! | `JWT_SECRET` | random per process | HS256 signing secret, at least 32 bytes |
//! | `JWT_TTL_SECS` | `86400` | lifetime of an access token |
//! | `RATE_LIMIT_PER_MINUTE` | `30` | messages per user per minute; `0` turns the limit off |
//! | `AUTH_LIMIT_PER_EMAIL_PER_MINUTE` | `10` | register and login attempts naming one email; `0` turns it off |
//! | `AUTH_LIMIT_PER_ADDRESS_PER_MINUTE` | `60` | register and login attempts from one client address; `0` turns it off |
//! | `HASH_THREADS` | cores | password hashes running at once (each holds 19 MiB), 1 to 256 |
//! | `HASH_QUEUE_WAIT_MS` | `2000` | longest a register or login waits for a hashing thread before 503 |
//! | `TRUST_PROXY` | `false` | count attempts against the last `X-Forwarded-For` entry instead of the peer |
//! | `MAX_GROUP_SIZE` | `100` | participants of a chat, the creator included, 2 to 256; `0` turns the limit off |
//! | `CHAT_CREATE_LIMIT_PER_MINUTE` | `10` | new chats a user creates per minute (a 1:1 chat returned again does not count); `0` turns it off |
//! | `CORS_ORIGIN` | `*` | origins allowed to call from a browser: `*` or a comma-separated list |
//! | `LOG_FORMAT` | `text` | `text` or `json` |
//! | `METRICS_ENABLED` | `true` | serve Prometheus metrics at `GET /metrics` |
//! | `METRICS_PORT` | unset | serve `/metrics` only on this port, not on `PORT` |
//! | `DELIVERY_RECEIPT_INTERVAL_MS` | `1000` | how often the server writes its own delivery receipts; `0` writes none |
//! | `PRESENCE_HEARTBEAT_MS` | `10000` | with `REDIS_URL`: how often a node proves to the cluster that it lives |
//! | `PRESENCE_NODE_TTL_MS` | `30000` | with `REDIS_URL`: a node not heard from for this long is dead, and its users go offline (at least twice the heartbeat) |
//! | `PRESENCE_SWEEP_MS` | `10000` | with `REDIS_URL`: how often each node looks for dead nodes |
//! | `RUST_LOG` | `info` | tracing filter directives |

mod auth;
mod chats;
mod metrics;
mod presence;
mod sockets;

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

pub use auth::{AuthConfig, MAX_HASH_QUEUE_WAIT_MS, MAX_HASH_THREADS};
pub use chats::ChatConfig;
pub use metrics::MetricsConfig;
pub use presence::PresenceConfig;
pub use sockets::SocketConfig;

/// Least number of bytes a configured JWT secret must have (HS256 wants 256 bits).
pub const MIN_JWT_SECRET_BYTES: usize = 32;

/// Every variable this module reads, so `from_env` can refuse ones that are not UTF-8.
const VARIABLES: [&str; 12] = [
    "PORT",
    "HOST",
    "DATA_DIR",
    "MONGODB_URI",
    "MONGODB_DB",
    "REDIS_URL",
    "REDIS_TLS_CA_FILE",
    "JWT_SECRET",
    "JWT_TTL_SECS",
    "RATE_LIMIT_PER_MINUTE",
    "CORS_ORIGIN",
    "LOG_FORMAT",
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub host: String,
    pub port: u16,
    pub data_dir: PathBuf,
    /// Set when `MONGODB_URI` is: MongoDB replaces the embedded store.
    pub mongodb: Option<MongoConfig>,
    /// Set when `REDIS_URL` is: this process is one node of a cluster sharing that Redis.
    pub redis: Option<RedisUrl>,
    pub jwt_secret: JwtSecret,
    /// True when `JWT_SECRET` was unset and the secret was made up for this process: tokens
    /// then die with the process, and several nodes cannot share them.
    pub jwt_secret_generated: bool,
    pub jwt_ttl: Duration,
    /// 0 means unlimited.
    pub rate_limit_per_minute: u32,
    /// Attempt budgets of registration and login, the hashing pool, the client address.
    pub auth: AuthConfig,
    /// Sockets per user and per address, and each socket's event budget.
    pub sockets: SocketConfig,
    /// The heartbeat and sweep periods of presence in a cluster.
    pub presence: PresenceConfig,
    /// The group size limit and the chat creation budget.
    pub chats: ChatConfig,
    pub cors: CorsOrigins,
    pub log_format: LogFormat,
    /// Where `GET /metrics` is served, if anywhere.
    pub metrics: MetricsConfig,
}

/// Where MongoDB is. The URI may hold credentials, so it is never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct MongoConfig {
    pub uri: String,
    pub database: String,
}

impl fmt::Debug for MongoConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MongoConfig").field("database", &self.database).finish_non_exhaustive()
    }
}

/// Where Redis is. The URL may hold a password, so it is never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct RedisUrl(String, Option<Vec<u8>>);

impl RedisUrl {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The CAs (PEM, from `REDIS_TLS_CA_FILE`) a `rediss://` connection trusts instead of the
    /// system's roots.
    pub fn tls_root_ca(&self) -> Option<&[u8]> {
        self.1.as_deref()
    }
}

impl fmt::Debug for RedisUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RedisUrl(..)")
    }
}

/// The HS256 signing secret; never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct JwtSecret(Vec<u8>);

impl JwtSecret {
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for JwtSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "JwtSecret({} bytes)", self.0.len())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// Which browser origins may call the API (bearer tokens are not ambient credentials, so any
/// origin is the default, as NestJS's `enableCors()` has it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CorsOrigins {
    Any,
    List(Vec<String>),
}

/// A variable that is set but unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{variable} {problem}")]
pub struct ConfigError {
    pub variable: &'static str,
    pub problem: String,
}

fn invalid(variable: &'static str, problem: impl Into<String>) -> ConfigError {
    ConfigError { variable, problem: problem.into() }
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        for variable in VARIABLES
            .into_iter()
            .chain(auth::VARIABLES)
            .chain(sockets::VARIABLES)
            .chain(presence::VARIABLES)
            .chain(chats::VARIABLES)
            .chain(metrics::VARIABLES)
        {
            if let Err(std::env::VarError::NotUnicode(_)) = std::env::var(variable) {
                return Err(invalid(variable, "must be valid UTF-8"));
            }
        }
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads variables through `lookup`, so tests need not touch the process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let port = match lookup("PORT") {
            None => 3001,
            Some(raw) => raw.trim().parse().map_err(|_| invalid("PORT", "must be a port number (0 to 65535)"))?,
        };
        let host = match lookup("HOST") {
            None => "0.0.0.0".to_owned(),
            Some(raw) if raw.trim().is_empty() => return Err(invalid("HOST", "must not be empty")),
            Some(raw) => raw.trim().to_owned(),
        };
        let data_dir = match lookup("DATA_DIR") {
            None => PathBuf::from("./data"),
            Some(raw) if raw.is_empty() => return Err(invalid("DATA_DIR", "must not be empty")),
            Some(raw) => PathBuf::from(raw),
        };
        let mongodb = match lookup("MONGODB_URI").map(|raw| raw.trim().to_owned()) {
            None => None,
            Some(uri) if uri.is_empty() => return Err(invalid("MONGODB_URI", "must not be empty")),
            Some(uri) if !(uri.starts_with("mongodb://") || uri.starts_with("mongodb+srv://")) => {
                return Err(invalid("MONGODB_URI", "must start with mongodb:// or mongodb+srv://"))
            }
            Some(uri) => {
                let database = lookup("MONGODB_DB").map(|d| d.trim().to_owned()).unwrap_or_else(|| "chat".to_owned());
                if database.is_empty() {
                    return Err(invalid("MONGODB_DB", "must not be empty"));
                }
                Some(MongoConfig { uri, database })
            }
        };
        let redis = match lookup("REDIS_URL").map(|raw| raw.trim().to_owned()) {
            None => None,
            Some(url) if url.is_empty() => return Err(invalid("REDIS_URL", "must not be empty")),
            Some(url) if !["redis://", "rediss://", "redis+unix://", "unix://"].iter().any(|s| url.starts_with(s)) => {
                return Err(invalid("REDIS_URL", "must start with redis://, rediss://, redis+unix:// or unix://"))
            }
            Some(url) => Some(RedisUrl(url, None)),
        };
        let redis = match (redis, lookup("REDIS_TLS_CA_FILE").map(PathBuf::from)) {
            (redis, None) => redis,
            (Some(RedisUrl(url, _)), Some(path)) if url.starts_with("rediss://") => {
                let pem = std::fs::read(&path)
                    .map_err(|e| invalid("REDIS_TLS_CA_FILE", format!("cannot read {}: {e}", path.display())))?;
                Some(RedisUrl(url, Some(pem)))
            }
            (_, Some(_)) => return Err(invalid("REDIS_TLS_CA_FILE", "is only used with a rediss:// REDIS_URL")),
        };
        let (jwt_secret, jwt_secret_generated) = match lookup("JWT_SECRET") {
            None => (JwtSecret(random_secret()), true),
            Some(raw) if raw.len() < MIN_JWT_SECRET_BYTES => {
                return Err(invalid(
                    "JWT_SECRET",
                    format!("must be at least {MIN_JWT_SECRET_BYTES} bytes (it has {})", raw.len()),
                ))
            }
            Some(raw) => (JwtSecret(raw.into_bytes()), false),
        };
        let jwt_ttl = match lookup("JWT_TTL_SECS") {
            None => Duration::from_secs(86_400),
            Some(raw) => match raw.trim().parse::<u64>() {
                Ok(secs) if secs > 0 => Duration::from_secs(secs),
                _ => return Err(invalid("JWT_TTL_SECS", "must be a positive number of seconds")),
            },
        };
        let rate_limit_per_minute = match lookup("RATE_LIMIT_PER_MINUTE") {
            None => 30,
            Some(raw) => raw
                .trim()
                .parse()
                .map_err(|_| invalid("RATE_LIMIT_PER_MINUTE", "must be a whole number (0 turns the limit off)"))?,
        };
        let auth = AuthConfig::from_lookup(&lookup)?;
        let sockets = SocketConfig::from_lookup(&lookup)?;
        let presence = PresenceConfig::from_lookup(&lookup)?;
        let chats = ChatConfig::from_lookup(&lookup)?;
        let metrics = MetricsConfig::from_lookup(&lookup, port)?;
        let cors = match lookup("CORS_ORIGIN") {
            None => CorsOrigins::Any,
            Some(raw) => parse_cors(&raw)?,
        };
        let log_format = match lookup("LOG_FORMAT").map(|raw| raw.trim().to_ascii_lowercase()).as_deref() {
            None | Some("text") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(_) => return Err(invalid("LOG_FORMAT", "must be text or json")),
        };
        Ok(Self {
            host,
            port,
            data_dir,
            mongodb,
            redis,
            jwt_secret,
            jwt_secret_generated,
            jwt_ttl,
            rate_limit_per_minute,
            auth,
            sockets,
            presence,
            chats,
            cors,
            log_format,
            metrics,
        })
    }
}

fn parse_cors(raw: &str) -> Result<CorsOrigins, ConfigError> {
    if raw.trim() == "*" {
        return Ok(CorsOrigins::Any);
    }
    let origins: Vec<String> =
        raw.split(',').map(str::trim).filter(|o| !o.is_empty()).map(|o| o.trim_end_matches('/').to_owned()).collect();
    if origins.is_empty() {
        return Err(invalid("CORS_ORIGIN", "must be * or a comma-separated list of origins"));
    }
    if let Some(bad) = origins.iter().find(|o| !(o.starts_with("http://") || o.starts_with("https://"))) {
        return Err(invalid("CORS_ORIGIN", format!("has {bad:?}, which is not an http(s) origin")));
    }
    Ok(CorsOrigins::List(origins))
}

fn random_secret() -> Vec<u8> {
    (0..64).map(|_| rand::random::<u8>()).collect()
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let vars: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Config::from_lookup(|name| vars.get(name).cloned())
    }

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn defaults_apply_when_nothing_is_set() {
        let c = config(&[]).unwrap();
        assert_eq!(c.port, 3001);
        assert_eq!(c.host, "0.0.0.0");
        assert_eq!(c.data_dir, PathBuf::from("./data"));
        assert_eq!(c.jwt_ttl, Duration::from_secs(86_400));
        assert_eq!(c.rate_limit_per_minute, 30);
        assert_eq!(c.cors, CorsOrigins::Any);
        assert_eq!(c.log_format, LogFormat::Text);
    }

    #[test]
    fn an_unset_secret_is_generated_per_process_and_flagged() {
        let a = config(&[]).unwrap();
        let b = config(&[]).unwrap();
        assert!(a.jwt_secret_generated);
        assert!(a.jwt_secret.as_bytes().len() >= MIN_JWT_SECRET_BYTES);
        assert_ne!(a.jwt_secret, b.jwt_secret);
    }

    #[test]
    fn a_configured_secret_is_used_and_short_ones_are_refused() {
        let c = config(&[("JWT_SECRET", SECRET)]).unwrap();
        assert!(!c.jwt_secret_generated);
        assert_eq!(c.jwt_secret.as_bytes(), SECRET.as_bytes());
        let error = config(&[("JWT_SECRET", &SECRET[1..])]).unwrap_err();
        assert_eq!(error.variable, "JWT_SECRET");
        assert_eq!(error.to_string(), "JWT_SECRET must be at least 32 bytes (it has 31)");
        assert!(config(&[("JWT_SECRET", "")]).is_err());
    }

    #[test]
    fn the_secret_never_shows_in_debug_output() {
        let c = config(&[("JWT_SECRET", SECRET)]).unwrap();
        let shown = format!("{c:?}");
        assert!(!shown.contains(SECRET), "{shown}");
        assert!(shown.contains("JwtSecret(32 bytes)"));
    }

    #[test]
    fn everything_can_be_set() {
        let c = config(&[
            ("PORT", "0"),
            ("HOST", "127.0.0.1"),
            ("DATA_DIR", "/tmp/chat"),
            ("JWT_SECRET", SECRET),
            ("JWT_TTL_SECS", "60"),
            ("RATE_LIMIT_PER_MINUTE", "0"),
            ("CORS_ORIGIN", "http://localhost:3000, https://chat.example.com/"),
            ("LOG_FORMAT", "JSON"),
        ])
        .unwrap();
        assert_eq!(c.port, 0);
        assert_eq!(c.host, "127.0.0.1");
        assert_eq!(c.data_dir, PathBuf::from("/tmp/chat"));
        assert_eq!(c.jwt_ttl, Duration::from_secs(60));
        assert_eq!(c.rate_limit_per_minute, 0);
        assert_eq!(c.cors, CorsOrigins::List(vec!["http://localhost:3000".into(), "https://chat.example.com".into()]));
        assert_eq!(c.log_format, LogFormat::Json);
    }

    #[test]
    fn unusable_values_name_their_variable() {
        for (name, value) in [
            ("PORT", "http"),
            ("PORT", "70000"),
            ("PORT", "-1"),
            ("HOST", " "),
            ("DATA_DIR", ""),
            ("JWT_TTL_SECS", "0"),
            ("JWT_TTL_SECS", "1d"),
            ("RATE_LIMIT_PER_MINUTE", "-5"),
            ("RATE_LIMIT_PER_MINUTE", "lots"),
            ("CORS_ORIGIN", " , "),
            ("CORS_ORIGIN", "localhost:3000"),
            ("LOG_FORMAT", "yaml"),
        ] {
            let error = config(&[(name, value)]).unwrap_err();
            assert_eq!(error.variable, name, "{name}={value}");
        }
    }

    #[test]
    fn the_guards_of_registration_and_login_are_read_with_the_rest() {
        let c = config(&[]).unwrap();
        assert_eq!((c.auth.per_email_per_minute, c.auth.per_address_per_minute), (10, 60));
        assert_eq!(c.auth.hash_queue_wait, Duration::from_secs(2));
        let c = config(&[("HASH_THREADS", "2"), ("AUTH_LIMIT_PER_ADDRESS_PER_MINUTE", "0")]).unwrap();
        assert_eq!((c.auth.hash_threads, c.auth.per_address_per_minute), (2, 0));
        assert_eq!(config(&[("HASH_QUEUE_WAIT_MS", "soon")]).unwrap_err().variable, "HASH_QUEUE_WAIT_MS");
    }

    #[test]
    fn redis_makes_a_cluster_node_and_its_password_is_never_printed() {
        assert_eq!(config(&[]).unwrap().redis, None);
        let c = config(&[("REDIS_URL", " redis://:s3cret@cache:6379/2 ")]).unwrap();
        assert_eq!(c.redis.as_ref().map(RedisUrl::as_str), Some("redis://:s3cret@cache:6379/2"));
        let printed = format!("{c:?}");
        assert!(!printed.contains("s3cret"), "{printed}");
        assert!(config(&[("REDIS_URL", "redis+unix:///run/redis.sock")]).is_ok());
        for bad in ["", "  ", "cache:6379", "http://cache", "redis:/cache"] {
            let error = config(&[("REDIS_URL", bad)]).unwrap_err();
            assert_eq!(error.variable, "REDIS_URL", "{bad:?}");
        }
        // TLS, with a password and a CA file of its own.
        let c = config(&[("REDIS_URL", "rediss://chat:s3cret@cache:6380/0")]).unwrap();
        assert_eq!(
            c.redis.as_ref().map(|r| (r.as_str(), r.tls_root_ca())),
            Some(("rediss://chat:s3cret@cache:6380/0", None))
        );
        let ca = std::env::temp_dir().join(format!("redis-ca-{}.pem", std::process::id()));
        std::fs::write(&ca, "-----BEGIN CERTIFICATE-----\n").unwrap();
        let ca_file = ca.to_string_lossy().into_owned();
        let c = config(&[("REDIS_URL", "rediss://cache"), ("REDIS_TLS_CA_FILE", &ca_file)]).unwrap();
        assert_eq!(c.redis.unwrap().tls_root_ca(), Some(&b"-----BEGIN CERTIFICATE-----\n"[..]));
        std::fs::remove_file(&ca).unwrap();
        let missing = config(&[("REDIS_URL", "rediss://cache"), ("REDIS_TLS_CA_FILE", &ca_file)]).unwrap_err();
        assert_eq!(missing.variable, "REDIS_TLS_CA_FILE");
        let plain = config(&[("REDIS_URL", "redis://cache"), ("REDIS_TLS_CA_FILE", "/etc/ca.pem")]).unwrap_err();
        assert_eq!(plain.variable, "REDIS_TLS_CA_FILE");
    }

    #[test]
    fn mongodb_is_chosen_by_its_uri() {
        assert_eq!(config(&[]).unwrap().mongodb, None);
        let c = config(&[("MONGODB_URI", "mongodb://db:27017/?replicaSet=rs0")]).unwrap();
        let m = c.mongodb.unwrap();
        assert_eq!((m.uri.as_str(), m.database.as_str()), ("mongodb://db:27017/?replicaSet=rs0", "chat"));
        let c = config(&[("MONGODB_URI", "mongodb://db"), ("MONGODB_DB", "prod")]).unwrap();
        assert_eq!(c.mongodb.unwrap().database, "prod");
        assert!(config(&[("MONGODB_URI", "postgres://db")]).is_err());
        assert!(config(&[("MONGODB_URI", "mongodb://db"), ("MONGODB_DB", " ")]).is_err());
        let printed = format!("{:?}", config(&[("MONGODB_URI", "mongodb://user:pw@db")]).unwrap());
        assert!(!printed.contains("pw@"), "the URI's credentials are never printed: {printed}");
    }
}
