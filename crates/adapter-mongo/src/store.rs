//! `MongoStore`: the client, its concerns and timeouts, the collections, and the indexes the
//! repositories rely on for speed and, more importantly, for uniqueness under races.

use std::time::Duration;

use chat_domain::error::StoreError;
use mongodb::bson::{doc, Document};
use mongodb::error::ErrorKind;
use mongodb::options::{Acknowledgment, ClientOptions, IndexOptions, ReadConcern, TransactionOptions, WriteConcern};
use mongodb::{Client, ClientSession, Collection, Database, IndexModel};

use crate::documents::{ChatDoc, ChatEventDoc, MessageDoc, UserDoc, CHATS, CHAT_EVENTS, MESSAGES, USERS};
use crate::error::{store_error, DriverResultExt};

/// How long an operation waits for a usable server before failing with `Unavailable`, unless
/// the URI sets `serverSelectionTimeoutMS`. The driver's default (30 s) would hold a request
/// far longer than any client waits for it.
pub const DEFAULT_SERVER_SELECTION_TIMEOUT: Duration = Duration::from_secs(5);
/// How long opening one connection may take, unless the URI sets `connectTimeoutMS`.
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a majority write waits for the majority to acknowledge before it is reported as
/// unavailable (its outcome then unknown).
const WRITE_CONCERN_TIMEOUT: Duration = Duration::from_secs(10);

/// The user, chat and message repositories on one MongoDB database.
///
/// Cloning is cheap and shares the connection pool. Every write is acknowledged by a majority
/// of the replica set and journaled before it returns; reads see only majority-committed data.
#[derive(Clone)]
pub struct MongoStore {
    pub(crate) client: Client,
    pub(crate) db: Database,
    pub(crate) users: Collection<UserDoc>,
    pub(crate) chats: Collection<ChatDoc>,
    pub(crate) messages: Collection<MessageDoc>,
    pub(crate) events: Collection<ChatEventDoc>,
}

impl std::fmt::Debug for MongoStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The client's options hold the URI, credentials included; show only the database.
        f.debug_struct("MongoStore").field("database", &self.db.name()).finish_non_exhaustive()
    }
}

/// The durability every write (and every transaction commit) asks for.
fn majority_journaled() -> WriteConcern {
    WriteConcern::builder().w(Acknowledgment::Majority).journal(true).w_timeout(WRITE_CONCERN_TIMEOUT).build()
}

impl MongoStore {
    /// Parses `uri` (a `mongodb://` or `mongodb+srv://` connection string) and prepares a client
    /// for `database`. This does not wait for the server: the first operation (usually
    /// [`MongoStore::ensure_indexes`] at startup) does, for at most the server selection timeout.
    ///
    /// Whatever the URI says, writes are retryable, use write concern majority with journaling,
    /// and reads use read concern majority. The URI's `serverSelectionTimeoutMS` and
    /// `connectTimeoutMS` are honoured; absent, both are 5 seconds.
    pub async fn connect(uri: &str, database: &str) -> Result<MongoStore, StoreError> {
        if database.is_empty() || database.contains(['/', '\\', '.', ' ', '"', '$', '\0']) {
            return Err(StoreError::other(format!("invalid database name {database:?}")));
        }
        let mut options = ClientOptions::parse(uri).await.store()?;
        options.server_selection_timeout.get_or_insert(DEFAULT_SERVER_SELECTION_TIMEOUT);
        options.connect_timeout.get_or_insert(DEFAULT_CONNECT_TIMEOUT);
        options.app_name.get_or_insert_with(|| "chat-backend".to_owned());
        options.retry_writes = Some(true);
        options.retry_reads = Some(true);
        options.write_concern = Some(majority_journaled());
        options.read_concern = Some(ReadConcern::majority());
        let client = Client::with_options(options).store()?;
        Ok(Self::with_client(client, database))
    }

    fn with_client(client: Client, database: &str) -> Self {
        let db = client.database(database);
        Self {
            users: db.collection(USERS),
            chats: db.collection(CHATS),
            messages: db.collection(MESSAGES),
            events: db.collection(CHAT_EVENTS),
            db,
            client,
        }
    }

    /// The name of the database this store uses.
    pub fn database_name(&self) -> &str {
        self.db.name()
    }

    /// Round trip to the server: `Ok` when it answers, `Unavailable` when it cannot be reached
    /// within the server selection timeout.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.db.run_command(doc! { "ping": 1 }).await.store()?;
        Ok(())
    }

    /// Creates the collections' indexes if they do not exist; creating an index that exists
    /// with the same definition is a no-op, so this runs at every startup. An existing index of
    /// the same name with a different definition is an error (`Other`), never silently kept.
    pub async fn ensure_indexes(&self) -> Result<(), StoreError> {
        self.users.create_indexes(user_indexes()).await.store()?;
        self.chats.create_indexes(chat_indexes()).await.store()?;
        self.messages.create_indexes(message_indexes()).await.store()?;
        self.events.create_indexes(event_indexes()).await.store()?;
        let receipts: Collection<crate::receipts::ReceiptDoc> = self.db.collection(crate::receipts::RECEIPTS);
        receipts.create_indexes(crate::receipts::receipt_indexes()).await.store()?;
        Ok(())
    }

    /// A new session with a transaction started in it: snapshot reads, majority journaled
    /// commit. Each attempt of a transaction gets its own session (sessions are pooled, so this
    /// is cheap), which lets a failed attempt be dropped rather than aborted by hand.
    pub(crate) async fn begin(&self) -> Result<ClientSession, StoreError> {
        let mut session = self.client.start_session().await.store()?;
        match session.start_transaction().with_options(transaction_options()).await {
            Ok(()) => return Ok(session),
            // The driver decides whether the deployment supports transactions from its last
            // word with the server, and a failed heartbeat counts as "no": while the server is
            // down, this error means unreachable. A ping tells the two apart (waiting for the
            // server at most the selection timeout), and refreshes the driver's view.
            Err(err) if matches!(err.kind.as_ref(), ErrorKind::Transaction { .. }) => self.ping().await?,
            Err(err) => return Err(store_error(err)),
        }
        session.start_transaction().with_options(transaction_options()).await.store()?;
        Ok(session)
    }
}

/// Transactions read from one snapshot and commit with the same durability as single writes.
fn transaction_options() -> TransactionOptions {
    TransactionOptions::builder().read_concern(ReadConcern::snapshot()).write_concern(majority_journaled()).build()
}

fn index(keys: Document, unique: bool, partial: Option<Document>) -> IndexModel {
    // No names: the server's default names (`email_1`, `chat_1_seq_-1`, ...) are what Mongoose
    // and the mongo shell produce too, so an index created by the previous backend with the
    // same keys is recognised as the same index instead of clashing with a new name.
    let options = IndexOptions::builder().unique(unique.then_some(true)).partial_filter_expression(partial).build();
    IndexModel::builder().keys(keys).options(options).build()
}

fn user_indexes() -> Vec<IndexModel> {
    vec![
        // Emails are stored normalized, so a plain unique index makes them unique exactly.
        index(doc! { "email": 1 }, true, None),
        // The search sorts by username, ties by id.
        index(doc! { "username": 1, "_id": 1 }, false, None),
    ]
}

fn chat_indexes() -> Vec<IndexModel> {
    vec![
        // A user's chats, most recently active first (ties: higher id first).
        index(doc! { "participants": 1, "updatedAt": -1, "_id": -1 }, false, None),
        // One 1:1 chat per pair of users, even when both create it at once. Group chats have no
        // key and are left out of the index.
        index(doc! { "directKey": 1 }, true, Some(doc! { "directKey": { "$exists": true } })),
    ]
}

/// History pages and catch-up: a chat's messages by seq.
pub(crate) fn chat_seq_index() -> IndexModel {
    index(doc! { "chat": 1, "seq": -1 }, false, None)
}

fn message_indexes() -> Vec<IndexModel> {
    vec![
        chat_seq_index(),
        // Idempotent sends: one message per (sender, clientId); messages without a clientId
        // are left out of the index.
        index(doc! { "sender": 1, "clientId": 1 }, true, Some(doc! { "clientId": { "$exists": true } })),
        // Catch-up: a chat's soft deletes by the seq they took.
        index(doc! { "chat": 1, "deletedSeq": 1 }, false, Some(doc! { "deletedSeq": { "$exists": true } })),
    ]
}

fn event_indexes() -> Vec<IndexModel> {
    vec![
        // Catch-up by seq; unique, so two events of a chat can never share a seq.
        index(doc! { "chat": 1, "seq": 1 }, true, None),
    ]
}
