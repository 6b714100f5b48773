//! The windows' bookkeeping on its own: which pages memory can answer, and that those answers
//! are the pages SQLite gives (checked end to end in `tests.rs`).

use chat_domain::model::{MessageKind, MessageStatus};
use chat_domain::{Id, MessageText, Timestamp, UserId};

use super::*;
use crate::versions::{Scope, Versions};

fn chat() -> ChatId {
    ChatId(Id::from_bytes([1; 12]))
}

fn id(seq: Seq) -> MessageId {
    let mut bytes = [9u8; 12];
    bytes[4..].copy_from_slice(&seq.to_be_bytes());
    MessageId(Id::from_bytes(bytes))
}

fn message(seq: Seq) -> Message {
    let at: Timestamp = chrono::DateTime::from_timestamp_millis(1_700_000_000_000).expect("in range");
    Message {
        id: id(seq),
        chat: chat(),
        sender: UserId(Id::from_bytes([2; 12])),
        text: MessageText::parse(&format!("m{seq}")).expect("a valid text"),
        kind: MessageKind::Text,
        status: MessageStatus::Sent,
        seq,
        deleted_seq: None,
        client_id: None,
        created_at: at,
        updated_at: at,
        edited_at: None,
    }
}

/// What SQLite would load for `want`: the listed messages of `all` below `upper`, newest
/// first, `rows_to_load` at most.
fn load(all: &[Seq], want: Want, anchor: Option<MessageId>) -> Loaded {
    let asked = want.rows_to_load();
    let rows: Vec<Message> =
        all.iter().rev().filter(|&&s| s < want.upper).take(asked as usize).map(|&s| message(s)).collect();
    Loaded { want, rows, asked, anchor: anchor.map(|a| (a, want.upper)), keep: true }
}

fn seqs(page: &MessagePage) -> Vec<Seq> {
    page.messages.iter().map(|m| m.seq).collect()
}

#[test]
fn a_loaded_stretch_answers_the_pages_inside_it_and_no_others() {
    let versions = Versions::new();
    let tag = versions.chat(chat());
    let all: Vec<Seq> = (1..=100).collect();
    let mut windows = Windows::default();
    // The newest page of 5 loads 12 rows: seq 89..=100.
    let want = Want { upper: TOP, skip: 0, limit: 5 };
    assert!(matches!(windows.page(chat(), tag, None, 0, 5), Known::Missing { upper: None }));
    let loaded = load(&all, want, None);
    assert_eq!(seqs(&loaded.page()), vec![96, 97, 98, 99, 100]);
    windows.keep(chat(), tag, loaded, versions.chat(chat()));

    let Known::Page(page) = windows.page(chat(), tag, None, 0, 5) else { panic!("the top page is in memory") };
    assert_eq!((seqs(&page), page.has_more), (vec![96, 97, 98, 99, 100], true));
    let Known::Page(page) = windows.page(chat(), tag, Some(id(96)), 0, 5) else { panic!("the next page back too") };
    assert_eq!(seqs(&page), vec![91, 92, 93, 94, 95]);
    // Below 91 only 2 messages are loaded (89, 90): not enough for a page of 5.
    assert!(matches!(windows.page(chat(), tag, Some(id(91)), 0, 5), Known::Missing { upper: Some(91) }));
    // An anchor never seen: its seq is not known.
    assert!(matches!(windows.page(chat(), tag, Some(id(40)), 0, 5), Known::Missing { upper: None }));
}

#[test]
fn a_stretch_reaching_the_start_answers_short_pages() {
    let versions = Versions::new();
    let tag = versions.chat(chat());
    let all: Vec<Seq> = vec![1, 2, 4, 7];
    let mut windows = Windows::default();
    let want = Want { upper: 7, skip: 0, limit: 5 };
    windows.keep(chat(), tag, load(&all, want, Some(id(7))), tag);
    let Known::Page(page) = windows.page(chat(), tag, Some(id(7)), 0, 5) else { panic!("covered to the start") };
    assert_eq!((seqs(&page), page.has_more), (vec![1, 2, 4], false));
    let Known::Page(page) = windows.page(chat(), tag, Some(id(2)), 0, 5) else { panic!("below a listed message") };
    assert_eq!((seqs(&page), page.has_more), (vec![1], false));
}

#[test]
fn stretches_merge_and_a_write_drops_the_window() {
    let versions = Versions::new();
    let tag = versions.chat(chat());
    let all: Vec<Seq> = (1..=40).collect();
    let mut windows = Windows::default();
    // Two loads: 29..=40 (top), then below 29: 17..=28; together one range.
    windows.keep(chat(), tag, load(&all, Want { upper: TOP, skip: 0, limit: 5 }, None), tag);
    windows.keep(chat(), tag, load(&all, Want { upper: 29, skip: 0, limit: 5 }, None), tag);
    let Known::Page(page) = windows.page(chat(), tag, None, 10, 10) else { panic!("skip 10 of the merged range") };
    assert_eq!(seqs(&page), (21..=30).collect::<Vec<_>>());

    versions.bump(Scope::Chat(chat()));
    let now = versions.chat(chat());
    assert!(matches!(windows.page(chat(), now, None, 0, 5), Known::Missing { upper: None }));
    assert_eq!(windows.bytes(), 0, "the stale window is gone");
    // A load read before the write is not kept.
    windows.keep(chat(), tag, load(&all, Want { upper: TOP, skip: 0, limit: 5 }, None), now);
    assert!(matches!(windows.page(chat(), now, None, 0, 5), Known::Missing { .. }));
}

#[test]
fn the_windows_stay_within_their_budget() {
    let versions = Versions::new();
    let mut windows = Windows::default();
    // Distinct chats, each with a full load of MAX_LOAD messages of a few hundred bytes each.
    let per_chat = MAX_LOAD;
    let all: Vec<Seq> = (1..=per_chat).collect();
    let chats = 2000u32;
    for n in 0..chats {
        let mut bytes = [5u8; 12];
        bytes[8..].copy_from_slice(&n.to_be_bytes());
        let chat = ChatId(Id::from_bytes(bytes));
        let tag = versions.chat(chat);
        let want = Want { upper: TOP, skip: per_chat - 2, limit: 0 };
        assert_eq!(want.rows_to_load(), MAX_LOAD);
        windows.keep(chat, tag, load(&all, want, None), tag);
        assert!(windows.bytes() <= BUDGET, "{} bytes after {n} chats", windows.bytes());
    }
    assert!(windows.chats.len() < chats as usize, "the oldest windows went");
}
