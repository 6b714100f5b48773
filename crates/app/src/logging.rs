//! The server's log: `tracing` lines on standard output, filtered by `RUST_LOG`.

use std::io::{self, IsTerminal};
use std::time::Duration;

use tracing_subscriber::EnvFilter;

use crate::LogFormat;

/// Installs the global tracing subscriber: `RUST_LOG` filters (default `info`), `format` picks
/// human-readable lines or one JSON object per line, on standard output, written as they come
/// (for `chat-server migrate`, whose report shares standard output). The server uses
/// [`init_buffered_tracing`].
pub fn init_tracing(format: LogFormat) {
    install_tracing(format, std::io::stdout);
}

/// [`init_tracing`] for the server: a request thread formats its line and queues it; one
/// thread writes what is queued to standard output, many lines per write. Writing each line
/// itself cost every request a `write` and a turn at the lock on standard output (about 7% of
/// the CPU of a history request, docs/performance.md). No line is dropped: past
/// [`QUEUED_LOG_LINES`] waiting, a request thread waits, as it did for every line before. Keep
/// the guard until exit: dropping it writes what is still queued.
pub fn init_buffered_tracing(format: LogFormat) -> LogGuard {
    let (writer, guard) = buffered_log(std::io::stdout());
    install_tracing(format, writer);
    LogGuard { _writer: guard }
}

/// The most log lines waiting for the writer thread (about 200 bytes each).
pub const QUEUED_LOG_LINES: usize = 16_384;

/// Keeps the log's writer thread; dropping it writes the lines still queued.
#[must_use = "dropping the guard stops the log's writer"]
pub struct LogGuard {
    _writer: tracing_appender::non_blocking::WorkerGuard,
}

impl std::fmt::Debug for LogGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LogGuard")
    }
}

/// A writer that queues lines for a thread writing them to `out` through a 64 KiB buffer,
/// flushed whenever the queue is empty, so a quiet server's lines still go out at once.
fn buffered_log<W: io::Write + Send + 'static>(
    out: W,
) -> (tracing_appender::non_blocking::NonBlocking, tracing_appender::non_blocking::WorkerGuard) {
    tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(false)
        .buffered_lines_limit(QUEUED_LOG_LINES)
        .thread_name("log-writer")
        .finish(Paced(io::BufWriter::with_capacity(64 * 1024, out)))
}

/// How long the writer thread rests after it wrote out everything queued.
const LOG_PACE: Duration = Duration::from_millis(5);

/// The writer thread's output: each flush (the thread flushes whenever it emptied the queue)
/// is followed by a rest of [`LOG_PACE`]. Without it, a busy server's writer thread emptied
/// the queue after almost every line and went to sleep, and the next line woke it again: one
/// wake-up, two context switches and a `futex` call on the request thread per line, 14% of
/// the server's CPU samples in the history benchmark. Resting, it wakes at most 200 times a
/// second; the first line after a quiet spell still goes out at once.
struct Paced<W>(W);

impl<W: io::Write> io::Write for Paced<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.0.write_all(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        let flushed = self.0.flush();
        std::thread::sleep(LOG_PACE);
        flushed
    }
}

fn install_tracing<W>(format: LogFormat, writer: W)
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // Colours only for a terminal: piped and collected logs stay plain text.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stdout().is_terminal())
        .with_writer(writer);
    // A subscriber set earlier (by a test harness) wins; that is not an error.
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

#[cfg(test)]
mod tests {
    #![allow(clippy::expect_used, reason = "test code fails by panicking")]

    use std::io::Write;
    use std::sync::{Arc, Mutex, PoisonError};
    use std::time::Instant;

    use super::*;

    /// An output the test can read while the writer thread writes to it.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Shared {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap_or_else(PoisonError::into_inner).clone()).expect("utf-8")
        }
    }

    impl io::Write for Shared {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap_or_else(PoisonError::into_inner).extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_quiet_servers_line_goes_out_at_once_and_the_guard_writes_the_rest() {
        let out = Shared::default();
        let (mut writer, guard) = buffered_log(out.clone());
        writer.write_all(b"listening\n").expect("queued");
        // Not held in the 64 KiB buffer until more comes: the queue drained, so it was flushed.
        let started = Instant::now();
        while out.text() != "listening\n" {
            assert!(started.elapsed() < Duration::from_secs(30), "the line never reached the output");
            std::thread::yield_now();
        }
        let lines: Vec<String> = (0..5_000).map(|i| format!("line {i}\n")).collect();
        for line in &lines {
            writer.write_all(line.as_bytes()).expect("queued");
        }
        drop(guard);
        assert_eq!(out.text(), format!("listening\n{}", lines.concat()), "every line, once, in order");
    }
}
