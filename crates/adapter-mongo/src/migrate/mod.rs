//! `MongoStore::migrate`: adopts a database written by the previous backend (NestJS +
//! Mongoose) by adding, alongside the fields it wrote, the fields and indexes this adapter
//! needs. It never deletes a document or a field that holds data (`docs/migration.md`).
//!
//! Idempotent and resumable: every step selects only the documents that still lack what it
//! adds (or whose stored value differs from the one it computes), and chats are migrated one
//! at a time, messages in order, so an interrupted run is continued by the next one, and a run
//! after a complete one changes nothing.

mod chats;
mod report;
mod survey;
mod users;

use chat_domain::error::StoreError;
use mongodb::bson::{doc, Bson, Document};
use mongodb::{Collection, Database};

pub use report::{DuplicateDirect, MigrationReport};

use crate::documents::{CHATS, MESSAGES, USERS};
use crate::error::DriverResultExt;
use crate::store::MongoStore;

/// How [`MongoStore::migrate`] runs.
#[derive(Debug, Clone, Copy)]
pub struct MigrateOptions {
    /// Count and report what would change, write nothing (no index either).
    pub dry_run: bool,
    /// Documents read per batch; at least 1.
    pub batch_size: u32,
}

impl Default for MigrateOptions {
    fn default() -> Self {
        Self { dry_run: false, batch_size: 500 }
    }
}

/// Where [`MongoStore::migrate`] reports progress: a terminal's progress bar, log lines, or
/// nothing ([`NoProgress`]).
pub trait MigrateProgress: Send + Sync {
    /// A stage begins, with `total` units of work (users, messages plus chats).
    fn stage(&self, name: &'static str, total: u64);
    /// `n` more units of the current stage are done.
    fn advance(&self, n: u64);
    /// The current stage is over.
    fn finish(&self);
}

/// Reports no progress.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl MigrateProgress for NoProgress {
    fn stage(&self, _: &'static str, _: u64) {}
    fn advance(&self, _: u64) {}
    fn finish(&self) {}
}

/// The message `type`s and `status`es this adapter can read.
pub(crate) const KINDS: [&str; 4] = ["text", "image", "file", "voice"];
pub(crate) const STATUSES: [&str; 3] = ["sent", "delivered", "read"];

/// The collections as raw documents: the previous backend's fields are not in this adapter's
/// document types.
pub(crate) struct Raw {
    pub db: Database,
    pub users: Collection<Document>,
    pub chats: Collection<Document>,
    pub messages: Collection<Document>,
}

impl MongoStore {
    /// Migrates a database written by the previous backend so this adapter can serve it; see
    /// `docs/migration.md`. Run it before starting the server on that database. `Unavailable`
    /// when the server cannot be reached (run it again: it continues where it stopped),
    /// `Other` when an index cannot be built (the report's findings say why).
    pub async fn migrate(
        &self,
        options: MigrateOptions,
        progress: &dyn MigrateProgress,
    ) -> Result<MigrationReport, StoreError> {
        let options = MigrateOptions { batch_size: options.batch_size.max(1), ..options };
        let raw = Raw {
            db: self.db.clone(),
            users: self.db.collection(USERS),
            chats: self.db.collection(CHATS),
            messages: self.db.collection(MESSAGES),
        };
        let mut report = MigrationReport { dry_run: options.dry_run, ..MigrationReport::default() };
        users::migrate(&raw, options, progress, &mut report).await?;
        self.messages_without_client_id(&raw, options, &mut report).await?;
        if !options.dry_run {
            // Numbering looks messages up by chat and seq: build that index before (it is not
            // unique, so no data can make it fail).
            self.messages.create_index(crate::store::chat_seq_index()).await.store()?;
        }
        chats::migrate(&raw, options, progress, &mut report).await?;
        if !options.dry_run {
            report.orphan_messages =
                raw.messages.count_documents(doc! { "seq": { "$exists": false } }).await.store()?;
            self.ensure_indexes().await.map_err(|e| {
                StoreError::other(format!("the indexes could not be created (see docs/migration.md): {e}"))
            })?;
        }
        report.unreadable_messages = raw
            .messages
            .count_documents(doc! { "$or": [
                { "type": { "$nin": KINDS.to_vec() } },
                { "status": { "$nin": STATUSES.to_vec() } },
            ] })
            .await
            .store()?;
        Ok(report)
    }

    /// Mongoose stores an unset optional field as `null` when the code assigned it so; here an
    /// absent `clientId` means "none", and a `null` one would be indexed by the unique partial
    /// index on `{sender, clientId}` (it selects by `$exists`). A null holds no data: unset it.
    async fn messages_without_client_id(
        &self,
        raw: &Raw,
        options: MigrateOptions,
        report: &mut MigrationReport,
    ) -> Result<(), StoreError> {
        let null = doc! { "clientId": { "$type": "null" } };
        report.null_client_ids = if options.dry_run {
            raw.messages.count_documents(null).await.store()?
        } else {
            raw.messages.update_many(null, doc! { "$unset": { "clientId": "" } }).await.store()?.modified_count
        };
        Ok(())
    }
}

/// An integer field as `i64`, whichever BSON integer type holds it.
pub(crate) fn int(doc: &Document, key: &str) -> Option<i64> {
    match doc.get(key)? {
        Bson::Int64(n) => Some(*n),
        Bson::Int32(n) => Some(i64::from(*n)),
        Bson::Double(n) if n.fract() == 0.0 && n.abs() < 9.0e15 => Some(*n as i64),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use chat_domain::model::{MessageKind, MessageStatus};

    use super::{KINDS, STATUSES};

    #[test]
    fn the_readable_kinds_and_statuses_are_the_domains() {
        for kind in KINDS {
            assert_eq!(MessageKind::parse(kind).map(|k| k.as_str()).ok(), Some(kind));
        }
        for status in STATUSES {
            assert_eq!(MessageStatus::parse(status).map(|s| s.as_str()).ok(), Some(status));
        }
    }
}
