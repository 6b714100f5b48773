//! MongoDB storage adapter: `UserRepository`, `ChatRepository` and `MessageRepository` on one
//! [`MongoStore`], with the official driver.
//!
//! Documents, indexes and error translation are private to this crate: no driver or BSON type
//! appears in its public API beyond the store itself. See `docs/mongodb.md` for the collections,
//! the indexes, what the adapter needs from a deployment and which guarantees hold.

mod chats;
mod documents;
mod error;
mod events;
mod messages;
mod migrate;
mod receipts;
mod store;
mod transaction;
mod users;

pub use migrate::{DuplicateDirect, MigrateOptions, MigrateProgress, MigrationReport, NoProgress};
pub use store::{MongoStore, DEFAULT_SERVER_SELECTION_TIMEOUT};
