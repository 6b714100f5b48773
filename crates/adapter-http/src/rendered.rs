//! History pages rendered from messages already rendered: the JSON of each message a page
//! carried is kept with the message it was made from, and reused while the message is equal
//! in every field (its status included). A page that many clients read, or one client pages
//! through again, is then mostly copied, not serialized: serialization was the largest part
//! of a history request's CPU once its reads came from memory.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use chat_domain::{Message, MessageId, MessagePage};
use serde::Serialize;
use serde_json::value::RawValue;

/// Messages kept at most (a few hundred bytes each, plus the message); when full, the map
/// starts over.
const ENTRIES: usize = 16 * 1024;

/// The JSON of `wire::MessagePage` with its messages already rendered; a test checks that
/// both give the same bytes.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RenderedPage<'a> {
    messages: Vec<&'a RawValue>,
    has_more: bool,
}

/// Each message's JSON with the message it was made from, by id.
type Kept = HashMap<MessageId, (Message, Box<RawValue>), foldhash::fast::RandomState>;

/// Shared by every worker; cloning shares it.
#[derive(Clone, Default)]
pub(crate) struct RenderedMessages {
    kept: Arc<Mutex<Kept>>,
}

impl RenderedMessages {
    /// The JSON body of `page`, as `wire::MessagePage` would serialize it.
    pub(crate) fn page(&self, page: &MessagePage) -> serde_json::Result<Vec<u8>> {
        let mut kept = self.kept.lock().unwrap_or_else(PoisonError::into_inner);
        let mut missing = Vec::new();
        for message in &page.messages {
            if kept.get(&message.id).is_none_or(|(was, _)| was != message) {
                missing.push(message);
            }
        }
        if kept.len() + missing.len() > ENTRIES {
            kept.clear();
            missing = page.messages.iter().collect();
        }
        for message in missing {
            let json = serde_json::value::to_raw_value(&wire::Message::from(message))?;
            kept.insert(message.id, (message.clone(), json));
        }
        let mut messages = Vec::with_capacity(page.messages.len());
        for message in &page.messages {
            match kept.get(&message.id) {
                Some((_, json)) => messages.push(&**json),
                // Inserted just above; a page of more than ENTRIES messages is not served.
                None => return serde_json::to_vec(&wire::MessagePage::from(page)),
            }
        }
        serde_json::to_vec(&RenderedPage { messages, has_more: page.has_more })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::expect_used, reason = "test code fails by panicking")]
    use super::*;
    use chat_domain::model::{MessageKind, MessageStatus};
    use chat_domain::{ChatId, ClientId, MessageText, Timestamp, UserId};

    fn message(n: u64, text: &str) -> Message {
        let at: Timestamp = chrono::DateTime::from_timestamp_millis(1_700_000_000_000).expect("time");
        Message {
            id: MessageId::generate(n as u32),
            chat: ChatId::generate(1),
            sender: UserId::generate(2),
            text: MessageText::parse(text).expect("text"),
            kind: MessageKind::Text,
            status: MessageStatus::Sent,
            seq: n,
            deleted_seq: None,
            client_id: Some(ClientId::parse("c-1").expect("client id")),
            created_at: at,
            updated_at: at,
            edited_at: n.is_multiple_of(2).then_some(at),
        }
    }

    fn serialized(page: &MessagePage) -> Vec<u8> {
        serde_json::to_vec(&wire::MessagePage::from(page)).expect("serializes")
    }

    #[test]
    fn a_page_renders_as_the_wire_page_serializes_whatever_changed() {
        let rendered = RenderedMessages::default();
        let mut page = MessagePage {
            messages: vec![message(1, "plain"), message(2, "quote \" and \\ and é\n"), message(3, "three")],
            has_more: true,
        };
        assert_eq!(rendered.page(&page).expect("renders"), serialized(&page));
        // Again, from what was kept.
        assert_eq!(rendered.page(&page).expect("renders"), serialized(&page));
        // A status that moved, an edit, a delete: each message is rendered again.
        page.messages[0].status = MessageStatus::Read;
        page.messages[1].text = MessageText::parse("edited").expect("text");
        page.messages[2].deleted_seq = Some(9);
        page.has_more = false;
        assert_eq!(rendered.page(&page).expect("renders"), serialized(&page));
        let empty = MessagePage::default();
        assert_eq!(rendered.page(&empty).expect("renders"), serialized(&empty));
    }

    #[test]
    fn the_kept_messages_stay_bounded() {
        let rendered = RenderedMessages::default();
        for start in 0..(ENTRIES as u64 / 50 + 2) {
            let messages = (0..50).map(|i| message(start * 50 + i, "x")).collect();
            let page = MessagePage { messages, has_more: false };
            assert_eq!(rendered.page(&page).expect("renders"), serialized(&page));
        }
        assert!(rendered.kept.lock().expect("not poisoned").len() <= ENTRIES);
    }
}
