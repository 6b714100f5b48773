//! History pages from memory: per chat, the listed (not deleted) messages of the pages read
//! lately, with the ranges of `seq` they cover completely, kept while no write touched the
//! chat (see `versions.rs`).
//!
//! A page is "the newest `limit` listed messages below `upper`, after skipping `skip`", where
//! `upper` is the anchor's seq (a `before` cursor) or the top of the chat (a `skip` cursor).
//! It is served from memory when a covered range holds `upper - 1` and, inside that range,
//! enough listed messages below `upper` (or the range reaches the chat's start). Otherwise one
//! read loads the skipped rows and twice the page, and the rows join the window: a chat paged through
//! while no one writes to it ends up wholly in memory, within [`BUDGET`] for all chats.

use std::collections::{BTreeMap, HashMap};

use chat_domain::model::MessagePage;
use chat_domain::{ChatId, Message, MessageId, Seq};

use crate::versions::Tag;

/// Estimated bytes of all windows together; the least recently used go first past it.
const BUDGET: usize = 32 << 20;
/// Windows kept at most (a window with no rows still has its maps).
const WINDOWS: usize = 1024;
/// A load that would need more rows than this (a deep `skip`) is read with an offset and not
/// kept: a load holds its rows in memory at once, and a text may be 40 KB.
pub(crate) const MAX_LOAD: u64 = 256;
/// The upper bound of a page counted from the newest message.
pub(crate) const TOP: Seq = Seq::MAX;

/// Which page: listed messages below `upper`, skipping the newest `skip`, `limit` of them.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Want {
    pub(crate) upper: Seq,
    pub(crate) skip: u64,
    pub(crate) limit: u32,
}

impl Want {
    /// The rows a load reads: the skipped ones and twice the page, so the next page back is
    /// likely served from memory.
    pub(crate) fn rows_to_load(&self) -> u64 {
        self.skip.saturating_add(2 * (u64::from(self.limit) + 1))
    }
}

/// What a read loaded: listed messages below `want.upper`, newest first, `asked` at most.
pub(crate) struct Loaded {
    pub(crate) want: Want,
    pub(crate) rows: Vec<Message>,
    pub(crate) asked: u64,
    /// The anchor of a `before` cursor and its seq, when it had to be looked up.
    pub(crate) anchor: Option<(MessageId, Seq)>,
    /// False for rows read past an offset (a deep `skip`): they cover no range.
    pub(crate) keep: bool,
}

impl Loaded {
    /// The page asked for, from the loaded rows alone.
    pub(crate) fn page(&self) -> MessagePage {
        page_of(self.rows.iter(), self.want)
    }
}

/// The page `want` from listed messages below its `upper`, newest first: complete when the
/// messages are all there are in that stretch (or at least `skip + limit + 1` of them).
fn page_of<'a>(newest_first: impl Iterator<Item = &'a Message>, want: Want) -> MessagePage {
    let limit = want.limit as usize;
    let skip = usize::try_from(want.skip).unwrap_or(usize::MAX);
    let mut messages: Vec<Message> = newest_first.skip(skip).take(limit + 1).cloned().collect();
    let has_more = messages.len() > limit;
    messages.truncate(limit);
    messages.reverse();
    MessagePage { messages, has_more }
}

#[derive(Default)]
pub(crate) struct Windows {
    chats: HashMap<ChatId, Window, foldhash::fast::RandomState>,
    bytes: usize,
    clock: u64,
}

struct Window {
    tag: Tag,
    /// Listed messages by seq.
    messages: BTreeMap<Seq, Message>,
    /// The seq of each message seen here, listed or as an anchor (a seq never changes).
    seqs: HashMap<MessageId, Seq, foldhash::fast::RandomState>,
    /// Disjoint inclusive ranges of seq, in order, inside which every listed message is in
    /// `messages`; a range that ends at `TOP - 1` reaches the newest message.
    covered: Vec<(Seq, Seq)>,
    bytes: usize,
    used: u64,
}

/// What the windows know of a page.
pub(crate) enum Known {
    Page(MessagePage),
    /// Not in memory; `upper` is the anchor's seq when the window knew it.
    Missing {
        upper: Option<Seq>,
    },
}

impl Windows {
    /// The page of `chat` at `cursor` if memory holds it under `current` (the chat's tag now).
    /// `anchor` is the `before` cursor's message, `None` for a `skip` cursor.
    pub(crate) fn page(
        &mut self,
        chat: ChatId,
        current: Tag,
        anchor: Option<MessageId>,
        skip: u64,
        limit: u32,
    ) -> Known {
        let Some(window) = self.chats.get_mut(&chat) else {
            return Known::Missing { upper: None };
        };
        if window.tag != current {
            self.remove(chat);
            return Known::Missing { upper: None };
        }
        let upper = match anchor {
            None => TOP,
            Some(id) => match window.seqs.get(&id) {
                Some(&seq) => seq,
                None => return Known::Missing { upper: None },
            },
        };
        self.clock += 1;
        window.used = self.clock;
        match window.page(Want { upper, skip, limit }) {
            Some(page) => Known::Page(page),
            None => Known::Missing { upper: anchor.map(|_| upper) },
        }
    }

    /// Keeps what `loaded` read under `read_under`, if nothing touched the chat since
    /// (`current`).
    pub(crate) fn keep(&mut self, chat: ChatId, read_under: Tag, loaded: Loaded, current: Tag) {
        if read_under != current || !loaded.keep {
            return;
        }
        if self.chats.get(&chat).is_some_and(|w| w.tag != read_under) {
            self.remove(chat);
        }
        if !self.chats.contains_key(&chat) && self.chats.len() >= WINDOWS {
            self.evict_one(chat);
        }
        self.clock += 1;
        let window = self.chats.entry(chat).or_insert_with(|| Window::new(read_under));
        window.used = self.clock;
        let before = window.bytes;
        window.add(loaded);
        self.bytes = self.bytes - before + window.bytes;
        while self.bytes > BUDGET {
            if !self.evict_one(chat) {
                // This chat's window alone is past the budget: it goes too.
                self.remove(chat);
                break;
            }
        }
    }

    fn remove(&mut self, chat: ChatId) {
        if let Some(window) = self.chats.remove(&chat) {
            self.bytes -= window.bytes;
        }
    }

    /// Drops the least recently used window other than `keep`'s; false if there is none.
    fn evict_one(&mut self, keep: ChatId) -> bool {
        let oldest = self.chats.iter().filter(|(id, _)| **id != keep).min_by_key(|(_, w)| w.used).map(|(id, _)| *id);
        match oldest {
            Some(chat) => {
                self.remove(chat);
                true
            }
            None => false,
        }
    }

    #[cfg(test)]
    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }
}

impl Window {
    fn new(tag: Tag) -> Self {
        Self { tag, messages: BTreeMap::new(), seqs: HashMap::default(), covered: Vec::new(), bytes: 0, used: 0 }
    }

    /// The page, if a covered range holds `upper - 1` and enough listed messages below it.
    fn page(&self, want: Want) -> Option<MessagePage> {
        let below = want.upper.checked_sub(1)?;
        let &(lo, _) = self.covered.iter().find(|(lo, hi)| *lo <= below && below <= *hi)?;
        let needed = usize::try_from(want.skip.saturating_add(u64::from(want.limit) + 1)).unwrap_or(usize::MAX);
        let newest_first = || self.messages.range(lo..want.upper).rev().map(|(_, m)| m);
        // From the chat's start (lo 0) the stretch is complete however short it is.
        if lo > 0 && newest_first().take(needed).count() < needed {
            return None;
        }
        Some(page_of(newest_first(), want))
    }

    fn add(&mut self, loaded: Loaded) {
        let Loaded { want, rows, asked, anchor, .. } = loaded;
        if let Some((id, seq)) = anchor {
            self.bytes += SEQ_BYTES;
            self.seqs.insert(id, seq);
        }
        let Some(top) = want.upper.checked_sub(1) else {
            return;
        };
        // Fewer rows than asked: there is nothing older, the range reaches the chat's start.
        let lo = match rows.last() {
            Some(oldest) if rows.len() as u64 >= asked => oldest.seq,
            _ => 0,
        };
        for message in rows {
            if self.seqs.insert(message.id, message.seq).is_none() {
                self.bytes += SEQ_BYTES;
            }
            let size = estimated_size(&message);
            if self.messages.insert(message.seq, message).is_none() {
                self.bytes += size;
            }
        }
        self.cover(lo, top);
    }

    /// Adds `[lo, hi]` to the covered ranges, merging the ones it overlaps or touches.
    fn cover(&mut self, mut lo: Seq, mut hi: Seq) {
        self.covered.retain(|&(l, h)| {
            let apart = h.saturating_add(1) < lo || hi.saturating_add(1) < l;
            if !apart {
                lo = lo.min(l);
                hi = hi.max(h);
            }
            apart
        });
        let at = self.covered.partition_point(|&(l, _)| l < lo);
        self.covered.insert(at, (lo, hi));
    }
}

/// An id-to-seq entry with its share of the map.
const SEQ_BYTES: usize = 48;

/// A message in a window: the struct, its text and client id, and the map's share.
fn estimated_size(message: &Message) -> usize {
    std::mem::size_of::<Message>()
        + message.text.as_str().len()
        + message.client_id.as_ref().map_or(0, |c| c.as_str().len())
        + 64
}

#[cfg(test)]
#[path = "window_tests.rs"]
mod tests;
