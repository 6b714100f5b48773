//! `chat-server migrate`: adopts the previous (NestJS + Mongoose) backend's MongoDB database
//! (`adapter_mongo::MongoStore::migrate`, described in docs/migration.md), with a progress bar
//! on a terminal and plain progress lines otherwise.

use std::io::{self, IsTerminal};
use std::sync::Mutex;

use adapter_mongo::{MigrateOptions, MigrateProgress, MigrationReport, MongoStore};
use indicatif::{ProgressBar, ProgressStyle};

use crate::config::MongoConfig;

/// Runs the migration on `mongo`'s database and returns its report. Progress goes to standard
/// output: a bar when it is a terminal, a line per tenth of each stage otherwise.
pub async fn migrate(mongo: &MongoConfig, dry_run: bool) -> io::Result<MigrationReport> {
    let store = MongoStore::connect(&mongo.uri, &mongo.database)
        .await
        .map_err(|e| io::Error::other(format!("cannot use MONGODB_URI: {e}")))?;
    let options = MigrateOptions { dry_run, ..MigrateOptions::default() };
    let progress: Box<dyn MigrateProgress> =
        if io::stdout().is_terminal() { Box::new(Bar::default()) } else { Box::new(Lines::default()) };
    store.migrate(options, progress.as_ref()).await.map_err(|e| {
        io::Error::other(format!(
            "migration of database {} stopped (run it again to continue): {e}",
            store.database_name()
        ))
    })
}

/// An `indicatif` bar per stage.
#[derive(Default)]
struct Bar(Mutex<Option<ProgressBar>>);

impl MigrateProgress for Bar {
    fn stage(&self, name: &'static str, total: u64) {
        let bar = ProgressBar::new(total).with_message(name);
        if let Ok(style) = ProgressStyle::with_template("{msg:>18} [{bar:40}] {pos}/{len} ({eta})") {
            bar.set_style(style.progress_chars("=> "));
        }
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(bar);
    }
    fn advance(&self, n: u64) {
        if let Some(bar) = &*self.0.lock().unwrap_or_else(|e| e.into_inner()) {
            bar.inc(n);
        }
    }
    fn finish(&self) {
        if let Some(bar) = self.0.lock().unwrap_or_else(|e| e.into_inner()).take() {
            bar.finish();
        }
    }
}

/// Plain lines: `<stage>: <done>/<total>` at the start, at each tenth, and at the end.
#[derive(Default)]
struct Lines(Mutex<LineState>);

#[derive(Default)]
struct LineState {
    name: &'static str,
    total: u64,
    done: u64,
    printed_tenth: u64,
}

impl MigrateProgress for Lines {
    fn stage(&self, name: &'static str, total: u64) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = LineState { name, total, done: 0, printed_tenth: 0 };
        println!("{name}: 0/{total}");
    }
    fn advance(&self, n: u64) {
        let mut state = self.0.lock().unwrap_or_else(|e| e.into_inner());
        state.done += n;
        let tenth = (state.done * 10).checked_div(state.total).unwrap_or(10).min(10);
        if tenth > state.printed_tenth && tenth < 10 {
            state.printed_tenth = tenth;
            println!("{}: {}/{}", state.name, state.done, state.total);
        }
    }
    fn finish(&self) {
        let state = self.0.lock().unwrap_or_else(|e| e.into_inner());
        println!("{}: {}/{} done", state.name, state.done, state.total);
    }
}
