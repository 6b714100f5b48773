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

/// Messages kept at most; past it (or past [`BUDGET`]) the map starts over.
const ENTRIES: usize = 16 * 1024;
/// Estimated bytes of everything kept: a message's text may be 10,000 characters, and its JSON
/// up to six times its text, so the count alone would not bound memory.
const BUDGET: usize = 16 << 20;

/// The JSON of `wire::MessagePage` with its messages already rendered; a test checks that
/// both give the same bytes.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RenderedPage<'a> {
    messages: Vec<&'a RawValue>,
    has_more: bool,
}

/// Each message's JSON with the message it was made from, by id, and their estimated size.
#[derive(Default)]
struct Kept {
    by_id: HashMap<MessageId, (Message, Box<RawValue>), foldhash::fast::RandomState>,
    bytes: usize,
}

/// What one kept message costs: the message, its text and client id, its JSON, the map's share.
fn size(message: &Message, json: &RawValue) -> usize {
    std::mem::size_of::<Message>()
        + message.text.as_str().len()
        + message.client_id.as_ref().map_or(0, |c| c.as_str().len())
        + json.get().len()
        + 64
}

/// Shared by every worker; cloning shares it.
#[derive(Clone, Default)]
pub(crate) struct RenderedMessages {
    kept: Arc<Mutex<Kept>>,
}

impl RenderedMessages {
    /// The JSON body of `page`, as `wire::MessagePage` would serialize it.
    pub(crate) fn page(&self, page: &MessagePage) -> serde_json::Result<Vec<u8>> {
        let mut kept = self.kept.lock().unwrap_or_else(PoisonError::into_inner);
        let changed = |kept: &Kept| -> Vec<&Message> {
            let stale = |m: &&Message| kept.by_id.get(&m.id).is_none_or(|(was, _)| was != *m);
            page.messages.iter().filter(stale).collect()
        };
        let mut rendered = render(changed(&kept))?;
        let incoming: usize = rendered.iter().map(|(m, json)| size(m, json)).sum();
        if kept.by_id.len() + rendered.len() > ENTRIES || kept.bytes + incoming > BUDGET {
            kept.by_id.clear();
            kept.bytes = 0;
            rendered = render(page.messages.iter().collect())?;
            if rendered.iter().map(|(m, json)| size(m, json)).sum::<usize>() > BUDGET {
                // One page past the budget on its own: served, not kept.
                return serde_json::to_vec(&wire::MessagePage::from(page));
            }
        }
        for (message, json) in rendered {
            kept.bytes += size(message, &json);
            if let Some((old, old_json)) = kept.by_id.insert(message.id, (message.clone(), json)) {
                kept.bytes -= size(&old, &old_json);
            }
        }
        let mut messages = Vec::with_capacity(page.messages.len());
        let mut length = 64;
        for message in &page.messages {
            match kept.by_id.get(&message.id) {
                Some((_, json)) => {
                    length += json.get().len() + 1;
                    messages.push(&**json);
                }
                // Inserted just above; never reached.
                None => return serde_json::to_vec(&wire::MessagePage::from(page)),
            }
        }
        // Sized once: grown step by step, a page of fifty was copied over several times.
        let mut body = Vec::with_capacity(length);
        serde_json::to_writer(&mut body, &RenderedPage { messages, has_more: page.has_more })?;
        Ok(body)
    }
}

/// Each of `messages` with its JSON.
fn render(messages: Vec<&Message>) -> serde_json::Result<Vec<(&Message, Box<RawValue>)>> {
    messages.into_iter().map(|m| Ok((m, serde_json::value::to_raw_value(&wire::Message::from(m))?))).collect()
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
        assert!(rendered.kept.lock().expect("not poisoned").by_id.len() <= ENTRIES);
    }

    #[test]
    fn long_messages_stay_within_the_budget() {
        let rendered = RenderedMessages::default();
        // A quote takes two bytes in JSON: about 20 KB per message, 1 MB per page.
        let long: String = "\"".repeat(chat_domain::text::MAX_MESSAGE_CHARS);
        for start in 0..20u64 {
            let messages = (0..50).map(|i| message(start * 50 + i, &long)).collect();
            let mut page = MessagePage { messages, has_more: false };
            assert_eq!(rendered.page(&page).expect("renders"), serialized(&page));
            // Every status moved: each kept message is replaced.
            page.messages.iter_mut().for_each(|m| m.status = MessageStatus::Read);
            assert_eq!(rendered.page(&page).expect("renders"), serialized(&page));
            let kept = rendered.kept.lock().expect("not poisoned");
            assert!(kept.bytes <= BUDGET, "{} bytes kept", kept.bytes);
            let counted: usize = kept.by_id.values().map(|(m, json)| size(m, json)).sum();
            assert_eq!(kept.bytes, counted, "the count follows every insert and replacement");
        }
    }
}
