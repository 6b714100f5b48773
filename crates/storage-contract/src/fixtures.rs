//! Builders and assertions shared by the contract cases: valid users, chats and drafts with
//! chosen timestamps, and shortcuts for the outcomes a case expects on its way to the point.

use chat_domain::model::{Appended, Chat, ChatInserted, Message, MessageDraft, MessageKind, PasswordHash, User};
use chat_domain::{ChatId, ChatName, ClientId, Email, MessageId, MessageText, Timestamp, UserId, Username};
use chrono::{DateTime, TimeDelta};

use crate::Stores;

/// A fixed instant with a non-zero millisecond part: 2026-11-25T19:13:00.123Z.
const BASE_MILLIS: i64 = 1_795_633_980_123;

/// `offset_ms` milliseconds after [`BASE_MILLIS`].
pub(crate) fn at(offset_ms: i64) -> Timestamp {
    DateTime::from_timestamp_millis(BASE_MILLIS + offset_ms).expect("timestamp in range")
}

pub(crate) fn later(t: Timestamp, ms: i64) -> Timestamp {
    t + TimeDelta::milliseconds(ms)
}

/// Seconds since the epoch as ids carry them.
pub(crate) fn id_seconds(t: Timestamp) -> u32 {
    u32::try_from(t.timestamp().max(0)).unwrap_or(u32::MAX)
}

/// Two fresh chat ids, the lower one first.
pub(crate) fn ordered_chat_ids() -> (ChatId, ChatId) {
    let a = ChatId::generate(id_seconds(at(0)));
    let b = ChatId::generate(id_seconds(at(0)));
    assert_ne!(a, b);
    (a.min(b), a.max(b))
}

/// A valid user named `username` with the email `<email_local>@example.com`, created at `t`.
pub(crate) fn user_at(username: &str, email: &str, t: Timestamp) -> User {
    User {
        id: UserId::generate(id_seconds(t)),
        email: Email::parse(email).expect("valid email"),
        username: Username::parse(username).expect("valid username"),
        password_hash: PasswordHash(format!("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA${username}")),
        created_at: t,
        updated_at: t,
    }
}

/// Inserts a user named `username` (email `<username>@example.com`) and returns it.
pub(crate) async fn new_user(stores: &Stores, username: &str) -> User {
    let email = format!("{}@example.com", username.to_ascii_lowercase());
    let user = user_at(username, &email, at(0));
    insert_user(stores, &user).await;
    user
}

pub(crate) async fn insert_user(stores: &Stores, user: &User) {
    stores.users.insert_user(user).await.expect("insert_user");
}

/// A chat of `participants` (creator first) created at `t`, not yet stored.
pub(crate) fn chat_at(participants: &[&User], name: Option<&str>, t: Timestamp) -> Chat {
    chat_with_id(ChatId::generate(id_seconds(t)), participants, name, t)
}

pub(crate) fn chat_with_id(id: ChatId, participants: &[&User], name: Option<&str>, t: Timestamp) -> Chat {
    Chat {
        id,
        name: name.map(|n| ChatName::parse(n).expect("valid chat name").expect("non-blank chat name")),
        is_group: participants.len() > 2,
        participants: participants.iter().map(|u| u.id).collect(),
        created_by: participants[0].id,
        last_message_id: None,
        last_seq: 0,
        created_at: t,
        updated_at: t,
    }
}

/// Inserts `chat`, expecting it to be created as given.
pub(crate) async fn insert_new_chat(stores: &Stores, chat: &Chat) {
    match stores.chats.insert_chat(chat).await.expect("insert_chat") {
        ChatInserted::Created(created) => assert_eq!(&created, chat, "insert_chat must return the chat as inserted"),
        ChatInserted::ExistingDirect(existing) => {
            panic!("expected a new chat, got existing {existing:?}")
        }
    }
}

/// Stores a new chat of `participants` created at `at(0)` and returns it.
pub(crate) async fn new_chat(stores: &Stores, participants: &[&User]) -> Chat {
    let chat = chat_at(participants, None, at(0));
    insert_new_chat(stores, &chat).await;
    chat
}

/// The stored chat, which must exist.
pub(crate) async fn stored_chat(stores: &Stores, id: ChatId) -> Chat {
    stores.chats.chat_by_id(id).await.expect("chat_by_id").expect("chat exists").chat
}

/// The stored message, which must exist.
pub(crate) async fn stored_message(stores: &Stores, id: MessageId) -> Message {
    stores.messages.message_by_id(id).await.expect("message_by_id").expect("message exists")
}

/// A text draft for `chat` by `sender` at `t`.
pub(crate) fn draft_at(chat: &Chat, sender: &User, text: &str, t: Timestamp) -> MessageDraft {
    MessageDraft {
        id: MessageId::generate(id_seconds(t)),
        chat: chat.id,
        sender: sender.id,
        text: MessageText::parse(text).expect("valid text"),
        kind: MessageKind::Text,
        client_id: None,
        created_at: t,
    }
}

pub(crate) fn with_client_id(mut draft: MessageDraft, client_id: &str) -> MessageDraft {
    draft.client_id = Some(ClientId::parse(client_id).expect("valid client id"));
    draft
}

/// Appends `draft`, expecting a new message, and checks it is the draft with a `seq`.
pub(crate) async fn append_new(stores: &Stores, draft: MessageDraft) -> Message {
    match stores.messages.append_message(draft.clone()).await.expect("append_message") {
        Appended::Created { message, .. } => {
            assert_eq!(message, draft.clone().into_message(message.seq), "a new message is the draft with its seq");
            message
        }
        other => panic!("expected a new message, got {other:?}"),
    }
}

/// Appends `count` text messages to `chat` by `sender`, one second apart from `at(1000)`.
pub(crate) async fn append_many(stores: &Stores, chat: &Chat, sender: &User, count: usize) -> Vec<Message> {
    let mut out = Vec::with_capacity(count);
    for i in 0..count {
        let offset = 1000 * (i as i64 + 1);
        out.push(append_new(stores, draft_at(chat, sender, &format!("message {}", i + 1), at(offset))).await);
    }
    out
}

pub(crate) fn seqs(messages: &[Message]) -> Vec<u64> {
    messages.iter().map(|m| m.seq).collect()
}

/// `users` sorted by id, for comparing results returned in any order.
pub(crate) fn sorted_by_id(mut users: Vec<User>) -> Vec<User> {
    users.sort_by_key(|u| u.id);
    users
}
