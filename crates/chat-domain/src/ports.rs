//! Ports: what the domain needs from the outside world, written as contracts.
//!
//! Storage adapters implement the three repositories (usually on one type) and must pass the
//! shared storage contract suite. Every method that can fail returns [`StoreError`]:
//! `Unavailable` when the database cannot be reached, `Other` for anything else.

use std::net::IpAddr;
use std::time::Duration;

use async_trait::async_trait;

use crate::error::StoreError;
use crate::event::{ChatEvent, DomainEvent};
use crate::group::{ChatChanged, ChatUpdate};
use crate::id::{ChatId, MessageId, UserId};
use crate::model::{
    Appended, Chat, ChatInserted, ChatView, Edited, Message, MessageDraft, MessagePage, PageCursor, PasswordHash, Seq,
    SoftDeleted, User,
};
use crate::receipts::{Markers, Receipt};
use crate::text::{ClientId, Email, MessageText, Password};
use crate::time::Timestamp;

/// Why a user could not be inserted.
#[derive(Debug, thiserror::Error)]
pub enum InsertUserError {
    #[error("email taken")]
    EmailTaken,
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait UserRepository: Send + Sync {
    /// Inserts `user`. MUST fail with `EmailTaken` when another user has the same email
    /// (emails are stored normalized, so equality is exact), even under concurrent inserts.
    async fn insert_user(&self, user: &User) -> Result<(), InsertUserError>;

    async fn user_by_id(&self, id: UserId) -> Result<Option<User>, StoreError>;

    async fn user_by_email(&self, email: &Email) -> Result<Option<User>, StoreError>;

    /// The users among `ids` that exist, in any order.
    async fn users_by_ids(&self, ids: &[UserId]) -> Result<Vec<User>, StoreError>;

    /// Up to `limit` users other than `exclude` whose username contains `needle` (ignoring ASCII
    /// case, every character literal: no `%`, `_` or regex metacharacter has a meaning), or
    /// whose email equals `exact_email` (emails are stored normalized, so equality is exact),
    /// ordered by username, ties by id. An empty needle matches every username. The email is
    /// never searched by substring: a search must not tell which addresses contain a text.
    /// (The lifetime is named because mockall cannot mock one elided inside an `Option`.)
    async fn search_users<'a>(
        &self,
        needle: &str,
        exact_email: Option<&'a Email>,
        exclude: UserId,
        limit: usize,
    ) -> Result<Vec<User>, StoreError>;

    /// The user's token version: 0 for a new user, one more after each
    /// [`revoke_tokens`](Self::revoke_tokens); `None` when no user has this id. The services
    /// call it on every authenticated request and socket connect, so it MUST be a cheap point
    /// lookup.
    async fn token_version(&self, id: UserId) -> Result<Option<u64>, StoreError>;

    /// Adds one to the user's token version and returns the new version, atomically: of two
    /// concurrent calls each adds one. `None` (and nothing written) when no user has this id.
    /// Returning `Ok` means the write is durable.
    async fn revoke_tokens(&self, id: UserId) -> Result<Option<u64>, StoreError>;
    /// Replaces the password hash of user `id` with `new`, only while the stored hash is still
    /// `current` (so a hash changed meanwhile is never overwritten with an older password's).
    /// `Ok(true)` when replaced, `Ok(false)` when the user is gone or its hash differs. Used to
    /// upgrade hashes of an older scheme on a successful login; nothing else changes.
    async fn replace_password_hash(
        &self,
        id: UserId,
        current: &PasswordHash,
        new: &PasswordHash,
    ) -> Result<bool, StoreError>;

    /// Moves `user`'s `lastSeenAt` (when their last socket closed, see [`crate::presence`]) to
    /// `at`, unless the stored one is later already: two nodes may report out of order. Does
    /// nothing when no user has this id. Returning `Ok` means the write is durable.
    async fn record_last_seen(&self, user: UserId, at: Timestamp) -> Result<(), StoreError>;

    /// The stored `lastSeenAt` of those of `users` that have one, each once, in any order.
    async fn last_seen(&self, users: &[UserId]) -> Result<Vec<(UserId, Timestamp)>, StoreError>;
}

#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait ChatRepository: Send + Sync {
    /// Inserts `chat` (with `last_seq` 0 and no last message). For a 1:1 chat
    /// (`chat.direct_key()` is `Some`) whose key already exists, MUST insert nothing and return
    /// `ExistingDirect` with the stored chat, even when two inserts race.
    async fn insert_chat(&self, chat: &Chat) -> Result<ChatInserted, StoreError>;

    /// The chat with its newest message.
    async fn chat_by_id(&self, id: ChatId) -> Result<Option<ChatView>, StoreError>;

    /// The chat alone, without its newest message: what a participant check needs, on every
    /// send, for less than [`chat_by_id`](Self::chat_by_id) costs.
    async fn chat_alone(&self, id: ChatId) -> Result<Option<Chat>, StoreError>;

    /// The 1:1 chat whose [`Chat::direct_key`] is `key`, with its newest message, if it exists.
    async fn direct_chat(&self, key: &str) -> Result<Option<ChatView>, StoreError>;

    /// One page of the chats `user` participates in, each with its newest message: ordered by
    /// the key (`updated_at`, `id`), most recently active first and, among chats equally
    /// recent, the higher id first; at most `limit` of them; with `before`, only the chats
    /// strictly after that chat in this order. A `before` naming a chat that does not exist or
    /// that `user` does not participate in gives `Ok(None)`. Paging with the last chat of each
    /// page as the next `before` lists every chat exactly once while none of them changes.
    async fn chats_of_user(
        &self,
        user: UserId,
        limit: u32,
        before: Option<ChatId>,
    ) -> Result<Option<Vec<ChatView>>, StoreError>;

    /// Applies `update` atomically, or nothing of it: only if the chat's participants are still
    /// exactly `update.expected` (else `Conflict`, nothing written), the chat takes its next
    /// `seq` (`last_seq + 1`, shared with messages, edits and deletes), its name and
    /// participants (in the given order) become the update's, `updated_at` becomes
    /// `update.change.at` (`last_message_id` stays), and the change is recorded in the chat's
    /// event log at that `seq`, for [`MessageRepository::chat_events_since`]. `NotFound` when
    /// the chat does not exist. `Ok` means durable.
    async fn change_chat(&self, update: ChatUpdate) -> Result<ChatChanged, StoreError>;

    /// Every user other than `user` who is a participant of at least one chat `user` is a
    /// participant of, each once, in any order: who hears of `user`'s presence, and whose
    /// presence `user` may ask for. Empty for a user in no chat (or no such user).
    async fn contacts_of(&self, user: UserId) -> Result<Vec<UserId>, StoreError>;
}

#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait MessageRepository: Send + Sync {
    /// Stores `draft` as a new message of its chat, atomically: if the sender already has a
    /// message with the draft's `client_id` (in any chat), MUST write nothing and return
    /// `Duplicate` with it; if the sender is not a participant of the chat when the `seq` is
    /// taken (a removal that committed after the service's own check), MUST write nothing and
    /// return `NotParticipant`; otherwise the message takes the chat's next `seq`
    /// (`last_seq + 1`), the chat's `last_seq`, `last_message_id` and `updated_at` (to
    /// `draft.created_at`) move with it, the sender's receipt markers in the chat move to the
    /// pointwise maximum of the stored ones and (`seq`, `seq`) (one's own message is read), and
    /// either all of that is written or none of it, in one transaction (no second write per
    /// message). `Created` carries the chat's [`Members`](crate::model::Members) as read in
    /// that transaction: its participants for a group, `None` for a 1:1 chat. Fails with
    /// `Other` when the chat does not exist. Returning `Ok` means the write is durable.
    async fn append_message(&self, draft: MessageDraft) -> Result<Appended, StoreError>;

    async fn message_by_id(&self, id: MessageId) -> Result<Option<Message>, StoreError>;

    /// The message `sender` stored with `client_id` (in any chat), as it is now.
    async fn message_by_client_id(&self, sender: UserId, client_id: &ClientId) -> Result<Option<Message>, StoreError>;

    /// The newest `limit` messages of `chat` that are not deleted, older (lower `seq`) than
    /// the cursor message or after skipping the `n` newest listed ones, returned oldest first;
    /// `has_more` is true when older listed messages exist beyond the page. A `Before` cursor
    /// naming a message not in `chat` gives `Ok(None)`.
    async fn page_messages(
        &self,
        chat: ChatId,
        cursor: PageCursor,
        limit: u32,
    ) -> Result<Option<MessagePage>, StoreError>;

    /// Marks the message deleted, atomically taking its chat's next `seq` (the chat's
    /// `last_seq` moves with it; `last_message_id` does not change) and setting `updated_at` to
    /// `at` on the message. It MUST erase the stored text (and anything derived from it) in
    /// the same atomic write, and return the message with its text `""`, as
    /// [`Message::mark_deleted`] leaves it, and the chat's members as read in that write (as
    /// [`append_message`](Self::append_message) does). A message already deleted is returned
    /// unchanged, with nothing written.
    async fn soft_delete_message(&self, id: MessageId, at: Timestamp) -> Result<SoftDeleted, StoreError>;

    /// Replaces the text of a message that is not deleted, atomically taking its chat's next
    /// `seq` (the chat's `last_seq` moves with it; `last_message_id` and the chat's
    /// `updated_at` do not), setting `edited_at` and `updated_at` to `at` on the message, as
    /// [`Message::mark_edited`] leaves it, and recording the edit in the chat's event log at
    /// that `seq`; `Edited` carries the chat's members as read in that write (as
    /// [`append_message`](Self::append_message) does). A deleted message is returned as
    /// `Deleted`, and a message whose sender is no longer a participant of its chat when the
    /// `seq` would be taken as `NotParticipant`, each with nothing written; `NotFound` when
    /// there is no such message.
    async fn edit_message(&self, id: MessageId, text: MessageText, at: Timestamp) -> Result<Edited, StoreError>;

    /// Up to `max` persisted events of `chat` with `seq > since`, in `seq` order: each
    /// message's creation (at its `seq`, the message as it is now), each soft delete (at its
    /// `deleted_seq`), each edit (`MessageUpdated` at the edit's `seq`, the message as it is
    /// now) and each change of the chat (`ChatUpdated` at its `seq`; `chat` may be `None`).
    async fn chat_events_since(&self, chat: ChatId, since: Seq, max: usize) -> Result<Vec<ChatEvent>, StoreError>;
}

/// How a receipt left one participant's markers in one chat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MarkersMoved {
    /// The markers as stored before this update.
    pub before: Markers,
    /// The markers as stored after it: the pointwise maximum of `before` and the update.
    pub after: Markers,
}

impl MarkersMoved {
    pub fn moved(&self) -> bool {
        self.before != self.after
    }
}

/// Keeps each participant's receipt markers ([`crate::receipts`]), apart from the messages.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait ReceiptRepository: Send + Sync {
    /// Moves `user`'s markers in `chat` to the pointwise maximum of the stored ones (`0, 0`
    /// when none are stored) and `to`, atomically: two concurrent updates can land in either
    /// order and neither moves a marker back. Writes nothing when nothing moves.
    async fn advance_markers(&self, chat: ChatId, user: UserId, to: Markers) -> Result<MarkersMoved, StoreError>;

    /// Moves the delivered marker of each of `users` in `chat` forward to `seq` (a `max`, as
    /// [`advance_markers`](Self::advance_markers) does, read markers untouched), for all of them
    /// in one store round trip: the server's own delivery receipts flush a whole room at once.
    /// Returns the receipt (the markers after this update) of each user whose delivered marker
    /// moved, in any order; users already at or beyond `seq` are left out and nothing is
    /// written for them. Repeated users count once.
    async fn advance_delivered_many(
        &self,
        chat: ChatId,
        users: &[UserId],
        seq: Seq,
    ) -> Result<Vec<Receipt>, StoreError>;

    /// Every stored receipt of the chats `chats`, each with its chat, in any order. Users with
    /// nothing stored have no entry (their markers are `0, 0`); entries of users who are no
    /// longer participants may be returned ([`crate::receipts::receipts_for`] keeps only the
    /// current participants).
    async fn stored_receipts(&self, chats: &[ChatId]) -> Result<Vec<(ChatId, Receipt)>, StoreError>;

    /// For each chat of `chats` (in that order): how many of its messages are unread by
    /// `user`, that is sent by someone else, not deleted, and with a `seq` above `user`'s
    /// `read_seq` there. Computed from the stored data each time (never a kept counter), by
    /// an index range per chat, not a scan of the chat.
    async fn unread_counts(&self, user: UserId, chats: &[ChatId]) -> Result<Vec<u64>, StoreError>;
}

/// Receives domain events and delivers them to connected clients (locally and, in a cluster,
/// to the other nodes). Delivery is best effort, at most once: failures are logged by the
/// implementation, never returned, and never undo what the use case stored.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait Notifier: Send + Sync {
    async fn publish(&self, event: DomainEvent);
}

/// Which nodes hold which users, across the cluster ([`crate::presence`]): a node holds a user
/// from the first socket the user opens on it until the grace after its last one there ran
/// out. The services hold and release; the directory only counts, so that a user comes online
/// with the cluster's first hold and goes offline with its last release.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait PresenceDirectory: Send + Sync {
    /// This node holds `user` once more. `true` when no node held the user before, that is
    /// the user comes online. Holds are counted per node, so that a hold and a release racing
    /// on one node commute; of two nodes holding at once, exactly one gets `true`.
    async fn hold(&self, user: UserId) -> Result<bool, StoreError>;

    /// This node holds `user` once less. `true` when no node holds the user any more, that is
    /// the user goes offline; of two last releases at once, exactly one gets `true`. A release
    /// without a hold changes nothing and returns `false`.
    async fn release(&self, user: UserId) -> Result<bool, StoreError>;

    /// For each of `users` (in that order), whether some live node holds it.
    async fn held(&self, users: &[UserId]) -> Result<Vec<bool>, StoreError>;

    /// Forgets the holds of nodes found dead (a cluster's nodes prove they live with a
    /// heartbeat), and returns the users no node holds any more, each with when its dead node
    /// was last heard from. Each such user is returned once, by one call on one node. A single
    /// node's directory has nobody else to sweep and returns nothing.
    async fn sweep(&self) -> Result<Vec<(UserId, Timestamp)>, StoreError>;
}

/// A notifier that drops every event, for setups with no real-time delivery.
#[derive(Debug, Default, Clone, Copy)]
pub struct NullNotifier;

#[async_trait]
impl Notifier for NullNotifier {
    async fn publish(&self, _event: DomainEvent) {}
}

/// The sender exceeded its budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("rate limited")]
pub struct RateLimited {
    pub retry_after: Duration,
}

/// Budgets message sends per user, shared by every way of sending (HTTP and WebSocket) and, in
/// a cluster implementation, by every node.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait RateLimiter: Send + Sync {
    /// Takes one unit of `user`'s budget, or says how long until one is free. An
    /// implementation that cannot reach its backing store SHOULD let the send through.
    async fn acquire(&self, user: UserId) -> Result<(), RateLimited>;
}

/// A limiter that never limits (configured with a budget of 0).
#[derive(Debug, Default, Clone, Copy)]
pub struct Unlimited;

#[async_trait]
impl RateLimiter for Unlimited {
    async fn acquire(&self, _user: UserId) -> Result<(), RateLimited> {
        Ok(())
    }
}

/// What one attempt to register or sign in, or one user search, is counted against. The
/// services decide which keys an attempt names ([`crate::services::AuthService`]); the limiter
/// holds one budget per key, sized per kind by its configuration.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AttemptKey {
    /// The (normalized) email the attempt names, whoever sends it.
    Email(Email),
    /// The client address the attempt comes from: an IPv4 address, or the /64 network of an
    /// IPv6 one (a single IPv6 client usually holds a whole /64).
    Address(IpAddr),
    /// The signed-in user running a user search: searches are budgeted per user so that no
    /// account can walk the whole user list by brute force.
    Search(UserId),
    /// The user creating a new chat ([`crate::services::ChatService::create`]): creations are
    /// budgeted per user so that nobody can put people into chats without end. A 1:1 chat that
    /// exists already is returned without naming this key.
    ChatCreate(UserId),
}

/// Budgets registration and login attempts and user searches per [`AttemptKey`], and, in a cluster
/// implementation, across every node.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait AttemptLimiter: Send + Sync {
    /// Takes one unit of `key`'s budget, or says how long until one is free. An implementation
    /// that cannot reach its backing store SHOULD decide with a local budget instead.
    async fn acquire(&self, key: &AttemptKey) -> Result<(), RateLimited>;
}

/// An attempt limiter that never limits: every budget configured off.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoAttemptLimit;

#[async_trait]
impl AttemptLimiter for NoAttemptLimit {
    async fn acquire(&self, _key: &AttemptKey) -> Result<(), RateLimited> {
        Ok(())
    }
}

/// A hasher had no free slot within its wait: as many hashes as it runs at once are in flight
/// and its queue is full. Hashers return it as [`StoreError::Unavailable`]; the services answer
/// [`crate::Error::Unavailable`] and the caller may try again shortly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("password hashing is saturated")]
pub struct HashingBusy;

impl From<HashingBusy> for StoreError {
    fn from(busy: HashingBusy) -> Self {
        StoreError::unavailable(busy)
    }
}

/// Hashes and checks passwords. Implementations do the slow work off the async executor, and
/// SHOULD bound how much of it runs at once (memory: argon2id takes 19 MiB per hash).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait PasswordHasher: Send + Sync {
    /// A new salted hash of `password`; `Unavailable` (with [`HashingBusy`]) when saturated.
    async fn hash(&self, password: &Password) -> Result<PasswordHash, StoreError>;
    /// True when `password` matches `hash`; false for a mismatch or a malformed hash.
    async fn verify(&self, password: &Password, hash: &PasswordHash) -> bool;
    /// Like [`verify`](Self::verify), but says so when the check could not run at all
    /// (`Unavailable` with [`HashingBusy`]) rather than answering false. The services call
    /// this one; the default suits hashers that never refuse work.
    async fn try_verify(&self, password: &Password, hash: &PasswordHash) -> Result<bool, StoreError> {
        Ok(self.verify(password, hash).await)
    }
    /// True when `hash` is of an older scheme (or weaker parameters) than [`hash`](Self::hash)
    /// makes today: after a successful login with it, the service stores a new hash of the
    /// password. The default suits hashers that know a single scheme.
    fn needs_rehash(&self, _hash: &PasswordHash) -> bool {
        false
    }
}

/// What an access token with a valid signature says. Whether it is alive at a given moment is
/// the domain's rule ([`crate::credentials::lifetime_left`]), judged on the domain's clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenClaims {
    pub user: UserId,
    /// `iat`, when the token carries it.
    pub issued_at: Option<Timestamp>,
    /// `exp`: the token is dead from this instant on.
    pub expires_at: Timestamp,
    /// `nbf`, when the token carries it.
    pub not_before: Option<Timestamp>,
    /// `ver`: the user's token version when the token was issued (0 when the token has none);
    /// the token is revoked once the stored version has moved past it.
    pub version: u64,
}

/// Issues access tokens and checks their signatures. Time is the domain's business: the
/// implementation reads no clock of its own.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait TokenService: Send + Sync {
    /// A signed token for `user` at token version `version`, issued at `issued_at` (the domain
    /// clock's now), with the implementation's configured lifetime. `decode` gives `version`
    /// back.
    fn issue(&self, user: UserId, version: u64, issued_at: Timestamp) -> Result<String, StoreError>;
    /// The claims of a token whose signature and shape check out; `None` for a token that is
    /// malformed or forged. MUST NOT judge `exp`, `nbf` or `iat` against any clock.
    fn decode(&self, token: &str) -> Option<TokenClaims>;
}
