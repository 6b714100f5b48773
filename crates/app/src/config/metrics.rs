//! Where the Prometheus metrics are served: `GET /metrics` on the main port (the default), only
//! on a port of their own (`METRICS_PORT`), or nowhere (`METRICS_ENABLED=false`). Why the main
//! port is the default is written in `docs/operations.md`.

use super::{invalid, ConfigError};

/// Where `GET /metrics` is served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricsConfig {
    /// Not at all: no recorder is installed and every recording is a no-op.
    Off,
    /// On the main HTTP port, next to the API.
    MainPort,
    /// Only on this port (of `HOST`), which serves nothing else.
    Port(u16),
}

/// The variables read here, for the UTF-8 check of `Config::from_env`.
pub(super) const VARIABLES: [&str; 2] = ["METRICS_ENABLED", "METRICS_PORT"];

impl MetricsConfig {
    pub(super) fn from_lookup(lookup: &impl Fn(&str) -> Option<String>, main_port: u16) -> Result<Self, ConfigError> {
        let enabled = match lookup("METRICS_ENABLED").map(|raw| raw.trim().to_ascii_lowercase()).as_deref() {
            None | Some("true" | "1" | "yes" | "on") => true,
            Some("false" | "0" | "no" | "off") => false,
            Some(_) => return Err(invalid("METRICS_ENABLED", "must be true or false (also 1/0, yes/no, on/off)")),
        };
        let port = match lookup("METRICS_PORT") {
            None => None,
            Some(raw) => match raw.trim().parse::<u16>() {
                // 0 would be a port nobody knows; the main port would serve the API twice.
                Ok(port) if port != 0 && port != main_port => Some(port),
                _ => return Err(invalid("METRICS_PORT", "must be a port number (1 to 65535) other than PORT")),
            },
        };
        Ok(match (enabled, port) {
            (false, _) => Self::Off,
            (true, None) => Self::MainPort,
            (true, Some(port)) => Self::Port(port),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn metrics(vars: &[(&str, &str)]) -> Result<MetricsConfig, ConfigError> {
        let vars: HashMap<String, String> = vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        MetricsConfig::from_lookup(&|name: &str| vars.get(name).cloned(), 3001)
    }

    #[test]
    fn served_on_the_main_port_unless_moved_or_turned_off() {
        assert_eq!(metrics(&[]).unwrap(), MetricsConfig::MainPort);
        assert_eq!(metrics(&[("METRICS_PORT", " 9100 ")]).unwrap(), MetricsConfig::Port(9100));
        assert_eq!(metrics(&[("METRICS_ENABLED", "false"), ("METRICS_PORT", "9100")]).unwrap(), MetricsConfig::Off);
        assert_eq!(metrics(&[("METRICS_ENABLED", "OFF")]).unwrap(), MetricsConfig::Off);
    }

    #[test]
    fn unusable_values_name_their_variable() {
        for (name, value) in [
            ("METRICS_ENABLED", "maybe"),
            ("METRICS_PORT", "0"),
            ("METRICS_PORT", "3001"),
            ("METRICS_PORT", "70000"),
            ("METRICS_PORT", "metrics"),
        ] {
            let error = metrics(&[(name, value)]).unwrap_err();
            assert_eq!(error.variable, name, "{name}={value}");
        }
    }
}
