//! The security log logs a burst once, then a summary, and stays bounded.

use std::io;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex};

use tracing_subscriber::fmt::MakeWriter;

use super::*;

/// Everything the subscriber writes, shared with the test.
#[derive(Clone, Default)]
pub(crate) struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }

    pub(crate) fn lines(&self) -> Vec<String> {
        self.text().lines().map(str::to_owned).collect()
    }

    /// A subscriber writing here; install it with `tracing::subscriber::set_default`.
    pub(crate) fn subscriber(&self) -> impl tracing::Subscriber + Send + Sync {
        tracing_subscriber::fmt()
            .with_writer(self.clone())
            .with_ansi(false)
            .with_max_level(tracing::Level::WARN)
            .finish()
    }
}

impl io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

struct Fixed(Mutex<Timestamp>);

impl Clock for Fixed {
    fn now(&self) -> Timestamp {
        *self.0.lock().unwrap()
    }
}

fn address(n: u32) -> IpAddr {
    IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + n))
}

#[test]
fn a_burst_is_logged_once_then_summarized_with_its_count() {
    let captured = Captured::default();
    let _guard = tracing::subscriber::set_default(captured.subscriber());
    let clock = Arc::new(Fixed(Mutex::new(chrono::Utc::now())));
    let log = SecurityLog::new(clock.clone());

    for _ in 0..50 {
        log.record(Incident::FailedLogin, Source::Address(address(1)));
    }
    log.record(Incident::FailedLogin, Source::Address(address(2)));
    let lines = captured.lines();
    assert_eq!(lines.len(), 2, "one line per source, whatever the burst: {lines:#?}");
    assert!(lines[0].contains("failed login") && lines[0].contains("10.0.0.1"), "{}", lines[0]);
    assert!(lines[1].contains("10.0.0.2"), "{}", lines[1]);

    // The next incident after the window logs the summary of the last one, then itself.
    *clock.0.lock().unwrap() += WINDOW;
    log.record(Incident::FailedLogin, Source::Address(address(1)));
    let lines = captured.lines();
    assert_eq!(lines.len(), 4, "{lines:#?}");
    assert!(lines[2].contains("49 more") && lines[2].contains("10.0.0.1"), "{}", lines[2]);
    assert!(lines[3].contains("failed login") && lines[3].contains("10.0.0.1"), "{}", lines[3]);
}

#[test]
fn sources_past_the_bound_are_counted_together() {
    let captured = Captured::default();
    let _guard = tracing::subscriber::set_default(captured.subscriber());
    let clock = Arc::new(Fixed(Mutex::new(chrono::Utc::now())));
    let log = SecurityLog::new(clock.clone());

    let sources = u32::try_from(MAX_SOURCES).unwrap() + 500;
    for n in 0..sources {
        log.record(Incident::AttemptLimited, Source::Address(address(n)));
    }
    assert_eq!(log.window.lock().unwrap().counts.len(), MAX_SOURCES, "memory is bounded");
    assert_eq!(captured.lines().len(), MAX_SOURCES + 1, "one line per tracked source and one for the rest");

    *clock.0.lock().unwrap() += WINDOW;
    log.record(Incident::AttemptLimited, Source::Address(address(0)));
    let text = captured.text();
    assert!(text.contains("500 of \"register or login refused by a limit\" from further sources"), "{text}");
    assert_eq!(log.window.lock().unwrap().counts.len(), 1, "a new window starts empty");
}
