//! The embedded default store: the user, chat and message repositories on one SQLite file.
//!
//! One connection writes, owned by a dedicated thread that commits writes in groups (see
//! `writer.rs`); a few others read (WAL lets them run beside the writer). Bounded reads (a
//! lookup by key, one page of an index) run on the calling thread when a reader connection is
//! free: they take a few microseconds, less than handing them to another thread and back.
//! Reads whose cost grows with the data (a search, counts, lists) run on tokio's blocking
//! pool. No write runs on an async worker. Every write (appending a message, a soft
//! delete, a new chat) is atomic on its own, inside its batch's `BEGIN IMMEDIATE`
//! transaction, and is acknowledged only once that transaction is on disk.

mod cache;
mod chats;
mod error;
mod events;
mod messages;
mod receipts;
mod rows;
mod schema;
mod users;
mod versions;
mod window;
mod writer;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, TryLockError};

use chat_domain::error::StoreError;
use rusqlite::{Connection, OpenFlags};

use crate::cache::Cache;
use crate::error::{DbError, DbResult};
use crate::versions::{Scope, Tag, Versions};
use crate::writer::Writer;

/// The database file inside the directory given to [`SqliteStore::open`].
pub const DATABASE_FILE: &str = "chat.db";

/// How many read-only connections a file-backed store keeps beside its writer.
const READERS: usize = 4;

/// The SQLite store. Cloning is cheap and shares the connections.
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

struct Inner {
    /// The thread that owns the only connection that writes; it serializes writes, as SQLite
    /// does anyway, and commits them in groups.
    writer: Writer,
    /// Read-only connections; empty for an in-memory database, which reads on the writer.
    readers: Vec<Mutex<Connection>>,
    next_reader: AtomicUsize,
    location: Option<PathBuf>,
    /// Reads kept while nothing they depend on was written.
    cache: Cache,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.inner.location {
            Some(path) => f.debug_struct("SqliteStore").field("path", path).finish(),
            None => f.debug_struct("SqliteStore").field("path", &":memory:").finish(),
        }
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the database `chat.db` in `dir`, creating the directory too,
    /// and brings its schema up to date. Blocks; call it before serving, or off the executor.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(dir)
            .map_err(|e| StoreError::other(format!("cannot create the data directory {}: {e}", dir.display())))?;
        let path = dir.join(DATABASE_FILE);
        Ok(Self::open_file(&path)?)
    }

    fn open_file(path: &Path) -> DbResult<Self> {
        let mut writer = Connection::open(path)?;
        schema::configure_writer(&writer)?;
        schema::migrate(&mut writer)?;
        let mut readers = Vec::with_capacity(READERS);
        for _ in 0..READERS {
            let flags =
                OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI;
            let reader = Connection::open_with_flags(path, flags)?;
            schema::configure_reader(&reader)?;
            readers.push(Mutex::new(reader));
        }
        Self::from_parts(writer, readers, Some(path.to_owned()))
    }

    /// A private database in memory, gone when the store is dropped; for tests and tools.
    pub fn open_in_memory() -> Result<Self, StoreError> {
        let open = || -> DbResult<Self> {
            let mut conn = Connection::open_in_memory()?;
            schema::configure_in_memory(&conn)?;
            schema::migrate(&mut conn)?;
            Self::from_parts(conn, Vec::new(), None)
        };
        Ok(open()?)
    }

    fn from_parts(writer: Connection, readers: Vec<Mutex<Connection>>, location: Option<PathBuf>) -> DbResult<Self> {
        let inner = Inner {
            writer: Writer::start(writer)?,
            readers,
            next_reader: AtomicUsize::new(0),
            location,
            cache: Cache::new(),
        };
        Ok(Self { inner: Arc::new(inner) })
    }

    /// The database file, or `None` in memory.
    pub fn path(&self) -> Option<&Path> {
        self.inner.location.as_deref()
    }

    /// How many write transactions (batches of writes, one fsync each) have committed since
    /// the store was opened; for tests and measurements.
    #[doc(hidden)]
    pub fn write_commits(&self) -> u64 {
        self.inner.writer.commits()
    }

    /// Copies the write-ahead log into the database file and truncates it, for a graceful
    /// shutdown. Not needed for durability (every commit already is); it leaves one
    /// self-contained file behind for backups and tools.
    pub async fn flush(&self) -> Result<(), StoreError> {
        if self.inner.location.is_none() {
            return Ok(());
        }
        // A checkpoint cannot run inside a transaction: it runs between two batches.
        self.inner
            .writer
            .alone(|conn| {
                let (busy, log, moved): (i64, i64, i64) =
                    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |row| {
                        Ok((row.get(0)?, row.get(1)?, row.get(2)?))
                    })?;
                if busy != 0 {
                    tracing::warn!(log, moved, "the sqlite checkpoint could not finish while readers were active");
                }
                Ok(())
            })
            .await
    }

    /// Runs `op` on the writer thread, inside the next batch transaction and its own
    /// savepoint: `op` must not open a transaction. Its writes are kept if it returns `Ok`
    /// and undone if it fails (or panics); the result comes back once the batch has
    /// committed, so `Ok` means durable. Every cached read goes stale: [`Self::write_in`]
    /// is for writes known to touch one chat or one user.
    pub(crate) async fn write<T, F>(&self, op: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> DbResult<T> + Send + 'static,
    {
        self.inner.writer.write(Scope::All, op).await
    }

    /// [`Self::write`] for a write that changes nothing a cached read of another chat or user
    /// than `scope`'s depends on.
    pub(crate) async fn write_in<T, F>(&self, scope: Scope, op: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> DbResult<T> + Send + 'static,
    {
        self.inner.writer.write(scope, op).await
    }

    pub(crate) fn versions(&self) -> &Versions {
        self.inner.writer.versions()
    }

    pub(crate) fn cache(&self) -> &Cache {
        &self.inner.cache
    }

    /// `load`'s value for `key`: from `map` while the tag `tag` gives has not moved since it
    /// was read, else read (as [`Self::read`] does) and kept.
    pub(crate) async fn cached<K, V, F>(
        &self,
        map: impl Fn(&Cache) -> &Mutex<cache::Tagged<K, V>>,
        key: K,
        tag: impl Fn(&Versions) -> Tag,
        load: F,
    ) -> Result<V, StoreError>
    where
        K: std::hash::Hash + Eq,
        V: Clone + Send + 'static,
        F: FnOnce(&mut Connection) -> DbResult<V> + Send + 'static,
    {
        let read_under = tag(self.versions());
        if let Some(value) = cache::lock(map(self.cache())).get(&key, read_under) {
            return Ok(value);
        }
        let value = self.read(load).await?;
        cache::lock(map(self.cache())).put(key, read_under, value.clone(), tag(self.versions()));
        Ok(value)
    }

    /// Runs a bounded read (a lookup by key, one page of an index: microseconds) on a reader
    /// connection, on the calling thread when one is free, else as [`Self::read_long`] does. A
    /// hand-off to another thread and back costs more than such a read: two wake-ups and two
    /// context switches. It sees every write that returned before it started.
    pub(crate) async fn read<T, F>(&self, op: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> DbResult<T> + Send + 'static,
    {
        if let Some(mut conn) = self.inner.free_reader() {
            let result =
                catch_unwind(AssertUnwindSafe(|| op(&mut conn))).unwrap_or_else(|panic| Err(writer::panicked(&*panic)));
            return result.map_err(StoreError::from);
        }
        self.read_long(op).await
    }

    /// Runs a read whose cost grows with the data (a search, a count, a list) on a reader
    /// connection, off the async executor (in memory: on the writer thread, between batches).
    /// It sees every write that returned before it started.
    pub(crate) async fn read_long<T, F>(&self, op: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> DbResult<T> + Send + 'static,
    {
        if self.inner.readers.is_empty() {
            return self.inner.writer.alone(op).await;
        }
        let inner = Arc::clone(&self.inner);
        blocking(move || match inner.idle_reader() {
            Some(mut conn) => op(&mut conn),
            None => Err(DbError::refused("no sqlite reader connection")),
        })
        .await
    }
}

impl Inner {
    /// A reader no one holds, without waiting; `None` when all are busy (or there are none).
    fn free_reader(&self) -> Option<MutexGuard<'_, Connection>> {
        self.readers.iter().find_map(|reader| match reader.try_lock() {
            Ok(conn) => Some(conn),
            Err(TryLockError::Poisoned(poisoned)) => Some(poisoned.into_inner()),
            Err(TryLockError::WouldBlock) => None,
        })
    }

    /// A free reader if there is one, else the next in turn (waiting for it); `None` when
    /// there are no readers at all.
    fn idle_reader(&self) -> Option<MutexGuard<'_, Connection>> {
        for reader in &self.readers {
            match reader.try_lock() {
                Ok(conn) => return Some(conn),
                Err(TryLockError::Poisoned(poisoned)) => return Some(poisoned.into_inner()),
                Err(TryLockError::WouldBlock) => {}
            }
        }
        let turn = self.next_reader.fetch_add(1, Ordering::Relaxed);
        let reader = self.readers.get(turn % self.readers.len().max(1))?;
        Some(lock(reader))
    }
}

/// Locks a reader connection. A panic while it was held cannot have left a transaction open
/// (the transaction rolls back as it is dropped), so the connection is still fine to use.
fn lock(conn: &Mutex<Connection>) -> MutexGuard<'_, Connection> {
    conn.lock().unwrap_or_else(PoisonError::into_inner)
}

async fn blocking<T, F>(op: F) -> Result<T, StoreError>
where
    T: Send + 'static,
    F: FnOnce() -> DbResult<T> + Send + 'static,
{
    match tokio::task::spawn_blocking(op).await {
        Ok(result) => result.map_err(StoreError::from),
        Err(join) => Err(StoreError::other(DbError::refused(format!("sqlite task failed: {join}")))),
    }
}

#[cfg(test)]
mod tests;
