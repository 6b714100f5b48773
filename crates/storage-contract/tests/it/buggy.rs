//! The suite can fail: against copies of the in-memory fake with one deliberate bug each, the
//! case that covers the bug fails (a suite that cannot fail proves nothing).

use std::future::Future;
use std::sync::Arc;

use async_trait::async_trait;
use chat_domain::error::StoreError;
use chat_domain::fakes::InMemoryStore;
use chat_domain::model::Edited;
use chat_domain::model::{
    Appended, ChatInserted, ChatView, MessageDraft, MessagePage, PageCursor, PasswordHash, SoftDeleted,
};
use chat_domain::ports::{
    ChatRepository, InsertUserError, MarkersMoved, MessageRepository, ReceiptRepository, UserRepository,
};
use chat_domain::receipts::{Markers, Receipt};
use chat_domain::{
    Chat, ChatChanged, ChatEvent, ChatId, ChatUpdate, Email, Message, MessageId, MessageText, Seq, Timestamp, User,
    UserId,
};
use chrono::SubsecRound;
use storage_contract::{cases, Stores};

/// One deliberate bug the suite must notice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Bug {
    /// Timestamps come back with whole seconds only.
    DropsMilliseconds,
    /// `search_users` ignores its limit.
    SearchIgnoresLimit,
    /// `chats_of_user` lists the least recently active chat first.
    ChatsOldestFirst,
    /// `append_message` forgets the clientId, so retries are stored twice.
    NoClientIdDedup,
    /// Pages come newest first.
    PageNewestFirst,
    /// `chat_events_since` ignores `max`.
    EventsIgnoreMax,
    /// `soft_delete_message` reports every message as unknown.
    DeleteFindsNothing,
    /// `change_chat` applies a change whatever the participants are now.
    ChangeIgnoresExpected,
    /// `chat_events_since` leaves out edits and changes (no event log).
    EventsWithoutLog,
    /// `advance_markers` overwrites the markers instead of keeping the maximum.
    MarkersOverwrite,
    /// `advance_delivered_many` writes the seq over the delivered markers, also backwards.
    DeliveredOverwrite,
    /// `unread_counts` counts deleted messages too.
    UnreadCountsDeleted,
    /// `revoke_tokens` answers the next version but stores nothing.
    RevokeForgets,
    /// `append_message` answers a non-participant's message as created.
    AppendIgnoresMembership,
    /// `append_message` names no members, even for a group.
    NoMembers,
    /// `record_last_seen` overwrites a later `lastSeenAt` with an earlier one.
    LastSeenMovesBack,
    /// `contacts_of` lists the user among their own contacts.
    ContactsIncludeSelf,
    /// The reads a store may keep in memory (pages, `chat_alone`, one chat's receipts, token
    /// versions) give their first answer forever.
    KeepsReadsForever,
}

/// The in-memory fake with one bug.
struct Buggy {
    inner: InMemoryStore,
    bug: Option<Bug>,
    /// `lastSeenAt` values written over the fake's (which keeps the maximum), for
    /// [`Bug::LastSeenMovesBack`].
    forced_last_seen: std::sync::Mutex<Vec<(UserId, Timestamp)>>,
    /// The first answer to each read, for [`Bug::KeepsReadsForever`].
    first_answers: std::sync::Mutex<std::collections::HashMap<String, Box<dyn std::any::Any + Send>>>,
}

impl Buggy {
    fn stores(bug: Option<Bug>) -> Stores {
        Stores::from_one(Arc::new(Self {
            inner: InMemoryStore::new(),
            bug,
            forced_last_seen: Default::default(),
            first_answers: Default::default(),
        }))
    }

    fn has(&self, bug: Bug) -> bool {
        self.bug == Some(bug)
    }

    async fn overwrite_last_seen(&self, user: UserId, at: Timestamp) -> Result<(), StoreError> {
        let mut forced = self.forced_last_seen.lock().unwrap_or_else(|e| e.into_inner());
        forced.retain(|(u, _)| *u != user);
        forced.push((user, at));
        Ok(())
    }

    /// `answer`, or with [`Bug::KeepsReadsForever`] the first answer given for `key`.
    fn first_answer<T: Clone + Send + 'static>(&self, key: String, answer: T) -> T {
        if !self.has(Bug::KeepsReadsForever) {
            return answer;
        }
        let mut kept = self.first_answers.lock().unwrap_or_else(|e| e.into_inner());
        let first = kept.entry(key).or_insert_with(|| Box::new(answer.clone()));
        first.downcast_ref::<T>().cloned().unwrap_or(answer)
    }

    fn user_out(&self, mut user: User) -> User {
        if self.has(Bug::DropsMilliseconds) {
            user.created_at = user.created_at.trunc_subsecs(0);
            user.updated_at = user.updated_at.trunc_subsecs(0);
        }
        user
    }
}

#[async_trait]
impl UserRepository for Buggy {
    async fn insert_user(&self, user: &User) -> Result<(), InsertUserError> {
        self.inner.insert_user(user).await
    }
    async fn user_by_id(&self, id: UserId) -> Result<Option<User>, StoreError> {
        Ok(self.inner.user_by_id(id).await?.map(|u| self.user_out(u)))
    }
    async fn user_by_email(&self, email: &Email) -> Result<Option<User>, StoreError> {
        Ok(self.inner.user_by_email(email).await?.map(|u| self.user_out(u)))
    }
    async fn users_by_ids(&self, ids: &[UserId]) -> Result<Vec<User>, StoreError> {
        self.inner.users_by_ids(ids).await
    }
    async fn search_users<'a>(
        &self,
        needle: &str,
        exact_email: Option<&'a Email>,
        exclude: UserId,
        limit: usize,
    ) -> Result<Vec<User>, StoreError> {
        let limit = if self.has(Bug::SearchIgnoresLimit) { usize::MAX } else { limit };
        self.inner.search_users(needle, exact_email, exclude, limit).await
    }
    async fn token_version(&self, id: UserId) -> Result<Option<u64>, StoreError> {
        Ok(self.first_answer(format!("token {id}"), self.inner.token_version(id).await?))
    }
    async fn revoke_tokens(&self, id: UserId) -> Result<Option<u64>, StoreError> {
        if self.has(Bug::RevokeForgets) {
            return Ok(self.inner.token_version(id).await?.map(|v| v + 1));
        }
        self.inner.revoke_tokens(id).await
    }
    async fn replace_password_hash(
        &self,
        id: UserId,
        current: &PasswordHash,
        new: &PasswordHash,
    ) -> Result<bool, StoreError> {
        self.inner.replace_password_hash(id, current, new).await
    }
    async fn record_last_seen(&self, user: UserId, at: Timestamp) -> Result<(), StoreError> {
        if self.has(Bug::LastSeenMovesBack) {
            // A fresh store per call forgets the earlier time, as an overwrite would.
            let before = self.inner.last_seen(&[user]).await?;
            if before.iter().any(|(_, stored)| *stored > at) {
                return self.overwrite_last_seen(user, at).await;
            }
        }
        self.inner.record_last_seen(user, at).await
    }
    async fn last_seen(&self, users: &[UserId]) -> Result<Vec<(UserId, Timestamp)>, StoreError> {
        let found = self.inner.last_seen(users).await?;
        let forced = self.forced_last_seen.lock().unwrap_or_else(|e| e.into_inner());
        Ok(found.into_iter().map(|(u, at)| (u, forced.iter().find(|(f, _)| *f == u).map_or(at, |(_, t)| *t))).collect())
    }
}

#[async_trait]
impl ChatRepository for Buggy {
    async fn insert_chat(&self, chat: &Chat) -> Result<ChatInserted, StoreError> {
        self.inner.insert_chat(chat).await
    }
    async fn chat_by_id(&self, id: ChatId) -> Result<Option<ChatView>, StoreError> {
        self.inner.chat_by_id(id).await
    }
    async fn chat_alone(&self, id: ChatId) -> Result<Option<Chat>, StoreError> {
        Ok(self.first_answer(format!("chat {id}"), self.inner.chat_alone(id).await?))
    }
    async fn direct_chat(&self, key: &str) -> Result<Option<ChatView>, StoreError> {
        self.inner.direct_chat(key).await
    }
    async fn chats_of_user(
        &self,
        user: UserId,
        limit: u32,
        before: Option<ChatId>,
    ) -> Result<Option<Vec<ChatView>>, StoreError> {
        let mut chats = self.inner.chats_of_user(user, limit, before).await?;
        if self.has(Bug::ChatsOldestFirst) {
            if let Some(chats) = chats.as_mut() {
                chats.reverse();
            }
        }
        Ok(chats)
    }
    async fn change_chat(&self, mut update: ChatUpdate) -> Result<ChatChanged, StoreError> {
        if self.has(Bug::ChangeIgnoresExpected) {
            if let Some(current) = self.inner.chat_alone(update.chat).await? {
                update.expected = current.participants;
            }
        }
        self.inner.change_chat(update).await
    }
    async fn contacts_of(&self, user: UserId) -> Result<Vec<UserId>, StoreError> {
        let mut contacts = self.inner.contacts_of(user).await?;
        if self.has(Bug::ContactsIncludeSelf) && !contacts.is_empty() {
            contacts.push(user);
        }
        Ok(contacts)
    }
}

#[async_trait]
impl MessageRepository for Buggy {
    async fn append_message(&self, mut draft: MessageDraft) -> Result<Appended, StoreError> {
        let client_id = draft.client_id.clone();
        if self.has(Bug::NoClientIdDedup) {
            draft.client_id = None;
        }
        let sender_chat = (draft.sender, draft.chat);
        let unsent = draft.clone().into_message(0);
        Ok(match self.inner.append_message(draft).await? {
            Appended::Created { mut message, members } if self.has(Bug::NoClientIdDedup) => {
                message.client_id = client_id;
                Appended::Created { message, members }
            }
            Appended::Created { message, .. } if self.has(Bug::NoMembers) => {
                Appended::Created { message, members: None }
            }
            Appended::NotParticipant if self.has(Bug::AppendIgnoresMembership) => {
                let chat = self.inner.chat_alone(sender_chat.1).await?;
                Appended::Created { message: unsent, members: chat.and_then(|c| c.members()) }
            }
            other => other,
        })
    }
    async fn message_by_id(&self, id: MessageId) -> Result<Option<Message>, StoreError> {
        self.inner.message_by_id(id).await
    }
    async fn message_by_client_id(
        &self,
        sender: UserId,
        client_id: &chat_domain::ClientId,
    ) -> Result<Option<Message>, StoreError> {
        self.inner.message_by_client_id(sender, client_id).await
    }
    async fn page_messages(
        &self,
        chat: ChatId,
        cursor: PageCursor,
        limit: u32,
    ) -> Result<Option<MessagePage>, StoreError> {
        let page = self.inner.page_messages(chat, cursor, limit).await?;
        let mut page = self.first_answer(format!("page {chat} {cursor:?} {limit}"), page);
        if let Some(page) = page.as_mut().filter(|_| self.has(Bug::PageNewestFirst)) {
            page.messages.reverse();
        }
        Ok(page)
    }
    async fn soft_delete_message(&self, id: MessageId, at: Timestamp) -> Result<SoftDeleted, StoreError> {
        if self.has(Bug::DeleteFindsNothing) {
            return Ok(SoftDeleted::NotFound);
        }
        self.inner.soft_delete_message(id, at).await
    }
    async fn chat_events_since(&self, chat: ChatId, since: Seq, max: usize) -> Result<Vec<ChatEvent>, StoreError> {
        let max = if self.has(Bug::EventsIgnoreMax) { usize::MAX } else { max };
        let mut events = self.inner.chat_events_since(chat, since, max).await?;
        if self.has(Bug::EventsWithoutLog) {
            events.retain(|e| matches!(e, ChatEvent::MessageCreated(_) | ChatEvent::MessageDeleted { .. }));
        }
        Ok(events)
    }
    async fn edit_message(&self, id: MessageId, text: MessageText, at: Timestamp) -> Result<Edited, StoreError> {
        self.inner.edit_message(id, text, at).await
    }
}

#[async_trait]
impl ReceiptRepository for Buggy {
    async fn advance_markers(&self, chat: ChatId, user: UserId, to: Markers) -> Result<MarkersMoved, StoreError> {
        if self.has(Bug::MarkersOverwrite) {
            let before = self.inner.stored_receipts(&[chat]).await?;
            let before = before.iter().find(|(_, r)| r.user == user).map(|(_, r)| r.markers).unwrap_or_default();
            // Emulates a store that writes what it is given: the fake keeps a maximum, so
            // the overwrite shows in what is reported and in a fresh read below.
            let _ = self.inner.advance_markers(chat, user, to).await?;
            return Ok(MarkersMoved { before, after: to });
        }
        self.inner.advance_markers(chat, user, to).await
    }
    async fn advance_delivered_many(
        &self,
        chat: ChatId,
        users: &[UserId],
        seq: Seq,
    ) -> Result<Vec<Receipt>, StoreError> {
        if self.has(Bug::DeliveredOverwrite) {
            let stored = self.inner.stored_receipts(&[chat]).await?;
            let mut moved = Vec::new();
            for &user in users {
                let read_seq = stored.iter().find(|(_, r)| r.user == user).map_or(0, |(_, r)| r.markers.read_seq);
                moved.push(Receipt { user, markers: Markers { delivered_seq: seq, read_seq } });
            }
            return Ok(moved);
        }
        self.inner.advance_delivered_many(chat, users, seq).await
    }
    async fn stored_receipts(&self, chats: &[ChatId]) -> Result<Vec<(ChatId, Receipt)>, StoreError> {
        Ok(self.first_answer(format!("receipts {chats:?}"), self.inner.stored_receipts(chats).await?))
    }
    async fn unread_counts(&self, user: UserId, chats: &[ChatId]) -> Result<Vec<u64>, StoreError> {
        let mut counts = self.inner.unread_counts(user, chats).await?;
        if self.has(Bug::UnreadCountsDeleted) {
            for (count, chat) in counts.iter_mut().zip(chats) {
                let events = self.inner.chat_events_since(*chat, 0, usize::MAX).await?;
                *count += events.iter().filter(|e| matches!(e, ChatEvent::MessageDeleted { .. })).count() as u64;
            }
        }
        Ok(counts)
    }
}

/// Runs `case` against a store with `bug` and expects the case to fail.
async fn assert_caught<F, Fut>(bug: Bug, case: F)
where
    F: FnOnce(Stores) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let outcome = tokio::spawn(case(Buggy::stores(Some(bug)))).await;
    let failed = outcome.as_ref().is_err_and(|e| e.is_panic());
    assert!(failed, "the suite did not notice {bug:?}");
}

/// The wrapper without a bug passes the whole suite, so a failure below is the bug's doing.
/// (This also expands the macro inside a module, as adapters may.)
mod faithful_wrapper {
    async fn make() -> storage_contract::Stores {
        super::Buggy::stores(None)
    }

    storage_contract::storage_contract_tests!(make);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catches_dropped_milliseconds() {
    assert_caught(Bug::DropsMilliseconds, cases::user_insert_round_trips).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catches_an_ignored_search_limit() {
    assert_caught(Bug::SearchIgnoresLimit, cases::search_users_orders_by_username_excludes_and_limits).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catches_chats_in_the_wrong_order() {
    assert_caught(Bug::ChatsOldestFirst, cases::chats_of_user_orders_by_activity_then_id).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catches_missing_client_id_dedup() {
    assert_caught(Bug::NoClientIdDedup, cases::append_with_repeated_client_id_returns_original).await;
    assert_caught(Bug::NoClientIdDedup, cases::concurrent_appends_with_one_client_id_create_one).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catches_pages_newest_first() {
    assert_caught(Bug::PageNewestFirst, cases::page_with_skip_and_limit).await;
    assert_caught(Bug::PageNewestFirst, cases::page_before_a_message).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catches_an_ignored_event_max() {
    assert_caught(Bug::EventsIgnoreMax, cases::chat_events_since_honors_max_and_chat).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catches_a_delete_that_finds_nothing() {
    assert_caught(Bug::DeleteFindsNothing, cases::soft_delete_takes_the_next_seq).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catches_a_change_that_ignores_the_participants_it_was_judged_on() {
    assert_caught(Bug::ChangeIgnoresExpected, cases::change_chat_on_stale_participants_conflicts_and_writes_nothing)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catches_a_catch_up_without_edits_and_changes() {
    assert_caught(Bug::EventsWithoutLog, cases::chat_events_since_interleaves_edits_and_changes).await;
    assert_caught(Bug::EventsWithoutLog, cases::concurrent_messages_edits_deletes_and_changes_share_gapless_seqs).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catches_markers_that_move_back() {
    assert_caught(Bug::MarkersOverwrite, cases::markers_only_move_forward).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catches_unread_counts_that_count_deleted_messages() {
    assert_caught(Bug::UnreadCountsDeleted, cases::unread_counts_skip_own_and_deleted_messages).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catches_a_revocation_that_is_not_stored() {
    assert_caught(Bug::RevokeForgets, cases::token_version_starts_at_zero_and_each_revoke_adds_one).await;
    assert_caught(Bug::RevokeForgets, cases::concurrent_revokes_each_add_one).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catches_a_last_seen_that_moves_back() {
    assert_caught(Bug::LastSeenMovesBack, cases::last_seen_round_trips_and_only_moves_forward).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catches_contacts_that_include_the_user() {
    assert_caught(Bug::ContactsIncludeSelf, cases::contacts_are_everyone_sharing_a_chat_each_once).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catches_a_room_flush_that_overwrites_delivered_markers() {
    assert_caught(Bug::DeliveredOverwrite, cases::delivered_many_moves_each_user_behind_and_reports_only_moves).await;
}

#[tokio::test]
async fn catches_appends_that_ignore_membership_or_members() {
    assert_caught(
        Bug::AppendIgnoresMembership,
        cases::append_and_edit_by_a_removed_sender_are_refused_and_write_nothing,
    )
    .await;
    assert_caught(Bug::NoMembers, cases::writes_name_a_groups_members_as_of_their_seq_and_none_for_a_direct_chat).await;
}

#[tokio::test]
async fn catches_reads_kept_past_a_write() {
    assert_caught(Bug::KeepsReadsForever, cases::history_pages_follow_every_write).await;
    assert_caught(Bug::KeepsReadsForever, cases::chats_markers_and_token_versions_follow_every_write).await;
}
