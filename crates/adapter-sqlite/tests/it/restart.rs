//! Restarts: what a store wrote reads back identical after reopening its directory, sequence
//! numbers and uniqueness rules carry on, and acknowledged writes survive a process that dies
//! without closing the database.

use std::path::Path;
use std::process::Command;

use adapter_sqlite::SqliteStore;
use chat_domain::model::{
    Appended, ChatInserted, ChatView, MessageDraft, MessageKind, MessagePage, PageCursor, PasswordHash, SoftDeleted,
};
use chat_domain::ports::{ChatRepository, MessageRepository, UserRepository};
use chat_domain::{
    Chat, ChatEvent, ChatId, ChatName, ClientId, Email, Id, Message, MessageId, MessageText, Timestamp, User, UserId,
    Username,
};
use chrono::DateTime;

fn at(ms: i64) -> Timestamp {
    DateTime::from_timestamp_millis(1_795_633_980_123 + ms).unwrap()
}

fn user(n: u8, name: &str) -> User {
    User {
        id: UserId(Id::from_bytes([0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, n])),
        email: Email::parse(&format!("{name}@example.com")).unwrap(),
        username: Username::parse(name).unwrap(),
        password_hash: PasswordHash(format!("$argon2id$v=19$m=19456,t=2,p=1$salt${name}")),
        created_at: at(i64::from(n)),
        updated_at: at(i64::from(n) + 500),
    }
}

fn chat(n: u8, members: &[&User], name: Option<&str>) -> Chat {
    Chat {
        id: ChatId(Id::from_bytes([0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, n])),
        name: name.map(|n| ChatName::parse(n).unwrap().unwrap()),
        is_group: members.len() > 2,
        participants: members.iter().map(|u| u.id).collect(),
        created_by: members[0].id,
        last_message_id: None,
        last_seq: 0,
        created_at: at(1000 + i64::from(n)),
        updated_at: at(1000 + i64::from(n)),
    }
}

fn draft(n: u32, chat: &Chat, sender: &User, client_id: Option<&str>) -> MessageDraft {
    let [_, b1, b2, b3] = n.to_be_bytes();
    MessageDraft {
        id: MessageId(Id::from_bytes([0x30, 0, 0, 0, 0, 0, 0, 0, 0, b1, b2, b3])),
        chat: chat.id,
        sender: sender.id,
        text: MessageText::parse(&format!("message {n} <i>with</i> & markup")).unwrap(),
        kind: if n.is_multiple_of(4) { MessageKind::Image } else { MessageKind::Text },
        client_id: client_id.map(|c| ClientId::parse(c).unwrap()),
        created_at: at(10_000 + i64::from(n) * 1000),
    }
}

async fn append(store: &SqliteStore, draft: MessageDraft) -> Message {
    match store.append_message(draft).await.unwrap() {
        Appended::Created { message: m, .. } => m,
        other => panic!("expected a new message, got {other:?}"),
    }
}

async fn create_chat(store: &SqliteStore, chat: &Chat) {
    assert!(matches!(store.insert_chat(chat).await.unwrap(), ChatInserted::Created(_)));
}

/// Everything the store can say about some users and chats.
#[derive(Debug, PartialEq)]
struct Snapshot {
    users: Vec<Option<User>>,
    by_email: Vec<Option<User>>,
    search: Vec<User>,
    chats_of: Vec<Vec<ChatView>>,
    chats: Vec<Option<ChatView>>,
    pages: Vec<Option<MessagePage>>,
    events: Vec<Vec<ChatEvent>>,
    messages: Vec<Option<Message>>,
}

async fn snapshot(store: &SqliteStore, users: &[&User], chats: &[&Chat], messages: &[MessageId]) -> Snapshot {
    let mut s = Snapshot {
        users: vec![],
        by_email: vec![],
        search: vec![],
        chats_of: vec![],
        chats: vec![],
        pages: vec![],
        events: vec![],
        messages: vec![],
    };
    for u in users {
        s.users.push(store.user_by_id(u.id).await.unwrap());
        s.by_email.push(store.user_by_email(&u.email).await.unwrap());
        s.chats_of.push(store.chats_of_user(u.id, 100, None).await.unwrap().unwrap());
    }
    let nobody = UserId(Id::from_bytes([0xff; 12]));
    s.search = store.search_users("", None, nobody, 100).await.unwrap();
    for c in chats {
        s.chats.push(store.chat_by_id(c.id).await.unwrap());
        s.pages.push(store.page_messages(c.id, PageCursor::Skip(0), 100).await.unwrap());
        s.events.push(store.chat_events_since(c.id, 0, usize::MAX).await.unwrap());
    }
    for id in messages {
        s.messages.push(store.message_by_id(*id).await.unwrap());
    }
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reopening_reads_everything_back_and_carries_on() {
    let dir = tempfile::tempdir().unwrap();
    let (ann, bo, cy) = (user(1, "ann"), user(2, "bo"), user(3, "cy"));
    let direct = chat(1, &[&ann, &bo], None);
    let group = chat(2, &[&cy, &ann, &bo], Some("Team"));
    let mut ids = Vec::new();

    let before = {
        let store = SqliteStore::open(dir.path()).unwrap();
        for u in [&ann, &bo, &cy] {
            store.insert_user(u).await.unwrap();
        }
        create_chat(&store, &direct).await;
        create_chat(&store, &group).await;
        for n in 1..=6 {
            let (c, s) = if n % 2 == 0 { (&group, &cy) } else { (&direct, &ann) };
            let client_id = format!("c-{n}");
            ids.push(append(&store, draft(n, c, s, (n % 3 != 0).then_some(client_id.as_str()))).await.id);
        }
        let deleted = store.soft_delete_message(ids[2], at(90_000)).await.unwrap();
        assert!(matches!(deleted, SoftDeleted::Deleted { seq: 4, .. }));
        let snap = snapshot(&store, &[&ann, &bo, &cy], &[&direct, &group], &ids).await;
        assert_eq!(snap.chats[0].as_ref().unwrap().chat.last_seq, 4);
        assert_eq!(snap.chats[1].as_ref().unwrap().chat.last_seq, 3);
        snap
        // The store is dropped here without a flush: closing must be enough.
    };

    let store = SqliteStore::open(dir.path()).unwrap();
    let after = snapshot(&store, &[&ann, &bo, &cy], &[&direct, &group], &ids).await;
    assert_eq!(after, before, "everything reads back identical");

    // Sequence numbers continue where they were, in each chat.
    assert_eq!(append(&store, draft(7, &direct, &bo, None)).await.seq, 5);
    assert_eq!(append(&store, draft(8, &group, &ann, Some("after-restart"))).await.seq, 4);
    let deleted = store.soft_delete_message(ids[0], at(93_000)).await.unwrap();
    assert!(matches!(deleted, SoftDeleted::Deleted { seq: 6, .. }));

    // Uniqueness rules hold across the restart.
    let retry = store.append_message(draft(9, &group, &cy, Some("c-2"))).await.unwrap();
    assert_eq!(retry, Appended::Duplicate(before.messages[1].clone().unwrap()));
    let again = chat(3, &[&bo, &ann], None);
    let existing = store.insert_chat(&again).await.unwrap();
    assert!(matches!(existing, ChatInserted::ExistingDirect(c) if c.id == direct.id));
    let mut twin = user(4, "ann-again");
    twin.email = ann.email.clone();
    assert!(store.insert_user(&twin).await.is_err());

    // A flush, then another reopen, changes nothing either.
    store.flush().await.unwrap();
    let flushed = snapshot(&store, &[&ann, &bo, &cy], &[&direct, &group], &ids).await;
    drop(store);
    let store = SqliteStore::open(dir.path()).unwrap();
    assert_eq!(snapshot(&store, &[&ann, &bo, &cy], &[&direct, &group], &ids).await, flushed);
}

/// Set in the child process of the crash test: the directory it writes to.
const CRASH_DIR: &str = "ADAPTER_SQLITE_CRASH_DIR";
const CRASH_MESSAGES: u32 = 40;
const ACKNOWLEDGED: &str = "every write acknowledged";

/// Part of the crash test, not a test on its own: run again with `CRASH_DIR` set, this is the
/// process that writes, prints that every write was acknowledged, and dies on the spot (no
/// destructor runs, no connection is closed, no checkpoint happens). Without it, it does nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_child() {
    let Some(dir) = std::env::var_os(CRASH_DIR) else {
        return;
    };
    let store = SqliteStore::open(Path::new(&dir)).unwrap();
    let (ann, bo) = (user(1, "ann"), user(2, "bo"));
    store.insert_user(&ann).await.unwrap();
    store.insert_user(&bo).await.unwrap();
    let direct = chat(1, &[&ann, &bo], None);
    create_chat(&store, &direct).await;
    for n in 1..=CRASH_MESSAGES {
        append(&store, draft(n, &direct, if n % 2 == 0 { &bo } else { &ann }, Some(&format!("k{n}")))).await;
    }
    let first = draft(1, &direct, &ann, None).id;
    store.soft_delete_message(first, at(99_000)).await.unwrap();
    println!("{ACKNOWLEDGED}");
    std::process::abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    // The child's test name is its path in this test binary (`restart::crash_child`).
    let child_test =
        module_path!().split_once("::").map_or("crash_child".to_owned(), |(_, m)| format!("{m}::crash_child"));
    let output = Command::new(std::env::current_exe().unwrap())
        .args([child_test.as_str(), "--exact", "--nocapture", "--test-threads=1"])
        .env(CRASH_DIR, dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains(ACKNOWLEDGED),
        "the child did not finish its writes: {stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(!output.status.success(), "the child must die, not exit");
    let wal = dir.path().join("chat.db-wal");
    assert!(wal.metadata().unwrap().len() > 0, "the writes are still only in the log, as after a real crash");

    let store = SqliteStore::open(dir.path()).unwrap();
    let (ann, bo) = (user(1, "ann"), user(2, "bo"));
    assert_eq!(store.user_by_id(ann.id).await.unwrap(), Some(ann.clone()));
    assert_eq!(store.user_by_id(bo.id).await.unwrap(), Some(bo.clone()));
    let direct = chat(1, &[&ann, &bo], None);
    let view = store.chat_by_id(direct.id).await.unwrap().expect("the chat survived");
    assert_eq!(view.chat.participants, direct.participants);
    assert_eq!(view.chat.last_seq, u64::from(CRASH_MESSAGES) + 1, "every message and the delete");
    let events = store.chat_events_since(direct.id, 0, usize::MAX).await.unwrap();
    let seqs: Vec<u64> = events.iter().map(ChatEvent::seq).collect();
    assert_eq!(seqs, (1..=u64::from(CRASH_MESSAGES) + 1).collect::<Vec<_>>());
    let page = store.page_messages(direct.id, PageCursor::Skip(0), 100).await.unwrap().unwrap();
    assert_eq!(page.messages.len(), CRASH_MESSAGES as usize - 1, "all but the deleted one");

    // And the store carries on from there: retries are still recognized, seqs continue.
    let retry = store.append_message(draft(CRASH_MESSAGES + 1, &direct, &ann, Some("k1"))).await.unwrap();
    let Appended::Duplicate(original) = retry else {
        panic!("expected the message stored before the crash, got {retry:?}");
    };
    assert_eq!((original.seq, original.deleted_seq), (1, Some(u64::from(CRASH_MESSAGES) + 1)));
    let next = append(&store, draft(CRASH_MESSAGES + 2, &direct, &ann, Some("k-new"))).await;
    assert_eq!(next.seq, u64::from(CRASH_MESSAGES) + 2);
}
