//! How often a chat's room hears `receipt:updated`: at most once per participant and chat per
//! window, the latest values winning, and a window that grows with the number of participants
//! whose markers move, so that a big room's receipts cost a bounded number of broadcasts.
//!
//! A participant's first move in a while is announced at once (a 1:1 chat sees its ticks move
//! without delay). Moves inside the window after an announcement are held and merged (markers
//! only move forward, so the latest values are the pointwise maximum); the merged values are
//! announced when the window ends. The window of a chat is [`RECEIPT_WINDOW`] or, when more
//! participants than [`CHAT_RECEIPT_BUDGET`] moved recently, long enough for the chat to
//! announce at most that many receipts per second: a room of 100 members whose markers all move
//! every second hears each member at most every 10 s, 10 receipts a second in all, instead of
//! 100.
//!
//! [`ReceiptPacer`] is the rule as a plain structure driven with explicit times, like
//! [`crate::presence::PresenceBook`]; an adapter owns the timer.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::id::{ChatId, UserId};
use crate::receipts::Markers;

/// The shortest time between two `receipt:updated` of one participant in one chat.
pub const RECEIPT_WINDOW: Duration = Duration::from_secs(1);

/// The most `receipt:updated` one chat announces per second, once more participants than this
/// move their markers: their windows stretch to share it.
pub const CHAT_RECEIPT_BUDGET: u32 = 10;

/// A participant's markers, to announce now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PacedReceipt {
    pub chat: ChatId,
    pub user: UserId,
    pub markers: Markers,
}

#[derive(Debug, Clone, Copy)]
struct Slot {
    /// When the participant's markers were last announced.
    announced_at: Instant,
    /// The markers announced then (or held since, merged).
    announced: Markers,
    /// Values that moved since, to announce when the window ends.
    held: Option<Markers>,
}

/// The announcements of each (chat, participant) in the last window, and the moves held back.
#[derive(Debug)]
pub struct ReceiptPacer {
    window: Duration,
    budget: u32,
    chats: HashMap<ChatId, HashMap<UserId, Slot>>,
}

impl Default for ReceiptPacer {
    fn default() -> Self {
        Self::new(RECEIPT_WINDOW, CHAT_RECEIPT_BUDGET)
    }
}

impl ReceiptPacer {
    /// At most one announcement per participant and chat per `window`, and, past `budget`
    /// recently moving participants, at most `budget` per chat per second (0: no chat budget).
    pub fn new(window: Duration, budget: u32) -> Self {
        Self { window, budget, chats: HashMap::new() }
    }

    /// A participant's markers moved to `markers` at `now`. Returns what to announce now, or
    /// `None` when it is held for the end of the window (or says nothing new).
    pub fn moved(&mut self, chat: ChatId, user: UserId, markers: Markers, now: Instant) -> Option<PacedReceipt> {
        let users = self.chats.entry(chat).or_default();
        let moving = users.len();
        let window = window_for(self.window, self.budget, moving);
        let Some(slot) = users.get_mut(&user) else {
            users.insert(user, Slot { announced_at: now, announced: markers, held: None });
            return Some(PacedReceipt { chat, user, markers });
        };
        let latest = slot.held.unwrap_or(slot.announced).merged(markers);
        if latest == slot.held.unwrap_or(slot.announced) {
            // Older values than already known (two nodes reporting one move): nothing new.
            return None;
        }
        if slot.held.is_none() && now >= slot.announced_at + window {
            *slot = Slot { announced_at: now, announced: latest, held: None };
            return Some(PacedReceipt { chat, user, markers: latest });
        }
        slot.held = Some(latest);
        None
    }

    /// The held moves whose window has ended at `now`, to announce now; forgets participants
    /// that were announced a whole window ago and have nothing held (their next move is
    /// announced at once).
    pub fn due(&mut self, now: Instant) -> Vec<PacedReceipt> {
        let mut out = Vec::new();
        let (window, budget) = (self.window, self.budget);
        self.chats.retain(|&chat, users| {
            let window = window_for(window, budget, users.len());
            users.retain(|&user, slot| {
                if now < slot.announced_at + window {
                    return true;
                }
                match slot.held.take() {
                    Some(markers) => {
                        *slot = Slot { announced_at: now, announced: markers, held: None };
                        out.push(PacedReceipt { chat, user, markers });
                        true
                    }
                    None => false,
                }
            });
            !users.is_empty()
        });
        out
    }

    /// Whether any participant of `chat` is tracked (announced within a window, or holding a
    /// move).
    pub fn tracks_chat(&self, chat: ChatId) -> bool {
        self.chats.contains_key(&chat)
    }

    /// Participants tracked (announced within a window, or holding a move), for tests and
    /// metrics.
    pub fn tracked(&self) -> usize {
        self.chats.values().map(HashMap::len).sum()
    }
}

/// The window of a chat in which `moving` participants were announced recently: `window`, or
/// longer when `moving` participants at one announcement per window would exceed `budget` a
/// second.
fn window_for(window: Duration, budget: u32, moving: usize) -> Duration {
    if budget == 0 {
        return window;
    }
    window.max(Duration::from_secs(1).mul_f64(moving as f64 / f64::from(budget)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id::Id;

    fn user(n: u16) -> UserId {
        UserId(Id::parse(&format!("65f00000000000000000{n:04x}")).unwrap())
    }

    fn chat(n: u16) -> ChatId {
        ChatId(Id::parse(&format!("65f10000000000000000{n:04x}")).unwrap())
    }

    fn m(delivered_seq: u64, read_seq: u64) -> Markers {
        Markers { delivered_seq, read_seq }
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn the_first_move_is_announced_at_once_and_later_ones_at_the_end_of_the_window() {
        let t0 = Instant::now();
        let mut pacer = ReceiptPacer::default();
        let (c, u) = (chat(1), user(1));
        assert_eq!(pacer.moved(c, u, m(1, 0), t0), Some(PacedReceipt { chat: c, user: u, markers: m(1, 0) }));
        assert_eq!(pacer.moved(c, u, m(2, 1), t0 + ms(100)), None);
        assert_eq!(pacer.moved(c, u, m(2, 2), t0 + ms(200)), None);
        assert!(pacer.due(t0 + ms(999)).is_empty(), "not before the window ends");
        assert_eq!(pacer.due(t0 + ms(1000)), [PacedReceipt { chat: c, user: u, markers: m(2, 2) }], "latest wins");
        assert!(pacer.due(t0 + ms(1500)).is_empty(), "announced once");
        // The next move falls in the window of that announcement.
        assert_eq!(pacer.moved(c, u, m(3, 2), t0 + ms(1500)), None);
        assert_eq!(pacer.due(t0 + ms(2000)), [PacedReceipt { chat: c, user: u, markers: m(3, 2) }]);
    }

    #[test]
    fn held_values_merge_to_the_maximum_whatever_order_they_come_in() {
        let t0 = Instant::now();
        let mut pacer = ReceiptPacer::default();
        let (c, u) = (chat(1), user(1));
        pacer.moved(c, u, m(1, 0), t0);
        assert_eq!(pacer.moved(c, u, m(5, 0), t0 + ms(10)), None);
        assert_eq!(pacer.moved(c, u, m(3, 3), t0 + ms(20)), None, "a late report of an older delivery");
        assert_eq!(pacer.due(t0 + ms(1000))[0].markers, m(5, 3));
        // Values already announced say nothing new, even after the window.
        assert_eq!(pacer.moved(c, u, m(4, 2), t0 + ms(5000)), None);
    }

    #[test]
    fn participants_and_chats_have_windows_of_their_own() {
        let t0 = Instant::now();
        let mut pacer = ReceiptPacer::default();
        assert!(pacer.moved(chat(1), user(1), m(1, 0), t0).is_some());
        assert!(pacer.moved(chat(1), user(2), m(1, 0), t0).is_some(), "another participant");
        assert!(pacer.moved(chat(2), user(1), m(1, 0), t0).is_some(), "another chat");
        assert!(pacer.moved(chat(1), user(1), m(2, 0), t0 + ms(1)).is_none());
    }

    #[test]
    fn a_quiet_participant_is_forgotten_and_announced_at_once_next_time() {
        let t0 = Instant::now();
        let mut pacer = ReceiptPacer::default();
        pacer.moved(chat(1), user(1), m(1, 0), t0);
        assert_eq!(pacer.tracked(), 1);
        assert!(pacer.due(t0 + ms(1000)).is_empty());
        assert_eq!(pacer.tracked(), 0, "nothing held, the window is over");
        assert!(pacer.moved(chat(1), user(1), m(2, 0), t0 + ms(1001)).is_some());
    }

    #[test]
    fn a_big_room_shares_its_budget_so_windows_grow_with_the_movers() {
        let t0 = Instant::now();
        let mut pacer = ReceiptPacer::default();
        let c = chat(1);
        // 100 members each move once: every first move is announced.
        for n in 0..100 {
            assert!(pacer.moved(c, user(n), m(1, 0), t0).is_some());
        }
        // They all move again and again, every 100 ms, for 30 s.
        let mut announced = 0;
        let mut last_of_one: Option<Instant> = None;
        let mut gaps = Vec::new();
        for step in 1..300u64 {
            let now = t0 + ms(step * 100);
            for n in 0..100 {
                assert!(pacer.moved(c, user(n), m(step + 1, 0), now).is_none(), "held, never at once");
            }
            for r in pacer.due(now) {
                announced += 1;
                if r.user == user(0) {
                    gaps.extend(last_of_one.map(|t| now - t));
                    last_of_one = Some(now);
                }
            }
        }
        // 100 movers at 10 a second: each is announced every 10 s (at 10 s and 20 s after the
        // first ones), 200 in those 30 s, not 3,000.
        assert_eq!(announced, 200);
        assert!(gaps.iter().all(|g| *g >= Duration::from_secs(10)), "{gaps:?}");
    }

    #[test]
    fn a_small_chat_keeps_the_one_second_window() {
        let t0 = Instant::now();
        let mut pacer = ReceiptPacer::default();
        let c = chat(1);
        for n in 0..10 {
            pacer.moved(c, user(n), m(1, 0), t0);
            pacer.moved(c, user(n), m(2, 0), t0 + ms(1));
        }
        assert_eq!(pacer.due(t0 + ms(1000)).len(), 10);
    }
}
