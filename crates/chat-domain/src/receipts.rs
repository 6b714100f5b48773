//! Receipts: each participant's two markers in a chat, the rules that move them, and the
//! message `status` derived from them.
//!
//! Per participant and chat the server keeps `delivered_seq` (the highest `seq` that reached one
//! of their devices) and `read_seq` (the highest `seq` they have read). Both only ever move
//! forward, and reading implies delivery, so `read_seq <= delivered_seq` always holds. They are
//! kept apart from the messages: a receipt never rewrites a message and never moves a chat's
//! `last_message`. A message's `status` is not stored at all; it is derived, whenever a message
//! is served, from the markers of the chat's other participants ([`status_of`]).

use crate::error::Error;
use crate::id::{ChatId, UserId};
use crate::model::{Chat, Message, MessageStatus, Seq};

/// Which of a participant's two markers a receipt moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MarkerKind {
    Delivered,
    Read,
}

impl MarkerKind {
    /// The marker the original backend's `updateStatus` moves for a requested status:
    /// `delivered` and `read` name a marker; `sent` names none (a status cannot go back).
    pub fn for_status(status: MessageStatus) -> Result<Self, Error> {
        match status {
            MessageStatus::Delivered => Ok(Self::Delivered),
            MessageStatus::Read => Ok(Self::Read),
            MessageStatus::Sent => Err(Error::invalid("status must be one of delivered, read")),
        }
    }
}

/// One participant's markers in one chat.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Markers {
    pub delivered_seq: Seq,
    pub read_seq: Seq,
}

impl Markers {
    /// The markers after a receipt for `seq` of `kind`, in a chat whose highest seq is
    /// `last_seq`, or `None` when nothing moves (the marker is already there or beyond).
    ///
    /// A `seq` past the chat's end is taken as the end: a client cannot mark ahead of what
    /// exists, so later messages still count as unread. Reading moves the delivered marker too.
    pub fn advanced(self, kind: MarkerKind, seq: Seq, last_seq: Seq) -> Option<Self> {
        let seq = seq.min(last_seq);
        let next = match kind {
            MarkerKind::Delivered => Self { delivered_seq: self.delivered_seq.max(seq), ..self },
            MarkerKind::Read => Self { delivered_seq: self.delivered_seq.max(seq), read_seq: self.read_seq.max(seq) },
        };
        (next != self).then_some(next)
    }

    /// Both markers at `seq`: where a sender's own message leaves theirs (one's own message is
    /// read), merged with what is stored.
    pub fn both(seq: Seq) -> Self {
        Self { delivered_seq: seq, read_seq: seq }
    }

    /// The pointwise maximum: what two concurrent forward moves of the same markers leave.
    /// Stores apply receipts this way (a `max`, never an overwrite), so the order in which
    /// two updates land cannot move a marker back.
    pub fn merged(self, other: Self) -> Self {
        Self { delivered_seq: self.delivered_seq.max(other.delivered_seq), read_seq: self.read_seq.max(other.read_seq) }
    }
}

/// A participant's markers, as a chat lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Receipt {
    pub user: UserId,
    pub markers: Markers,
}

/// The status of the message `seq` sent by `sender`, from the receipts of the chat's
/// participants (the sender's own receipt, if listed, is ignored).
///
/// `read` once every other participant's `read_seq` reached `seq`, `delivered` once every other
/// participant's `delivered_seq` did, else `sent`. A chat with nobody else in it (a group its
/// other members all left) leaves its messages `sent`: nobody received them.
pub fn status_of(seq: Seq, sender: UserId, receipts: &[Receipt]) -> MessageStatus {
    let mut others = receipts.iter().filter(|r| r.user != sender).peekable();
    if others.peek().is_none() {
        return MessageStatus::Sent;
    }
    let (mut all_read, mut all_delivered) = (true, true);
    for r in others {
        all_read &= r.markers.read_seq >= seq;
        all_delivered &= r.markers.delivered_seq >= seq;
    }
    if all_read {
        MessageStatus::Read
    } else if all_delivered {
        MessageStatus::Delivered
    } else {
        MessageStatus::Sent
    }
}

/// The receipts of `chat`'s current participants, in the chat's order, from the stored ones
/// of any chats (`0, 0` for a participant with nothing stored).
pub fn receipts_for(chat: &Chat, stored: &[(ChatId, Receipt)]) -> Vec<Receipt> {
    // Sorted once and searched per participant: a group of 100 compared 10,000 pairs before.
    let mut mine: Vec<&Receipt> = stored.iter().filter(|(c, _)| *c == chat.id).map(|(_, r)| r).collect();
    mine.sort_unstable_by_key(|r| r.user);
    chat.participants
        .iter()
        .map(|&user| {
            let markers = mine
                .binary_search_by_key(&user, |r| r.user)
                .ok()
                .and_then(|i| mine.get(i))
                .map(|r| r.markers)
                .unwrap_or_default();
            Receipt { user, markers }
        })
        .collect()
}

/// [`status_of`] for many messages of one chat, each answered in constant time: the two
/// lowest markers of each kind are found once (the lowest of everyone but a message's sender
/// is the lowest, or the second lowest when the sender holds the lowest). A page of 50 in a
/// group of 100 made 5,000 comparisons with one [`status_of`] per message.
///
/// `receipts` must name each user at most once, as a chat's participants do.
#[derive(Debug, Clone, Copy)]
pub struct Statuses {
    read: Lowest,
    delivered: Lowest,
    /// The only user listed when there is exactly one; `None` for zero and for several.
    alone: Option<Option<UserId>>,
}

#[derive(Debug, Clone, Copy)]
struct Lowest {
    holder: Option<UserId>,
    first: Seq,
    second: Seq,
}

impl Lowest {
    const NONE: Self = Self { holder: None, first: Seq::MAX, second: Seq::MAX };

    fn add(&mut self, user: UserId, seq: Seq) {
        if self.holder.is_none() || seq < self.first {
            self.second = self.first;
            self.first = seq;
            self.holder = Some(user);
        } else if seq < self.second {
            self.second = seq;
        }
    }

    /// The lowest marker of everyone listed but `sender`.
    fn without(&self, sender: UserId) -> Seq {
        if self.holder == Some(sender) {
            self.second
        } else {
            self.first
        }
    }
}

impl Statuses {
    pub fn new(receipts: &[Receipt]) -> Self {
        let (mut read, mut delivered) = (Lowest::NONE, Lowest::NONE);
        for r in receipts {
            read.add(r.user, r.markers.read_seq);
            delivered.add(r.user, r.markers.delivered_seq);
        }
        let alone = match receipts {
            [] => Some(None),
            [only] => Some(Some(only.user)),
            _ => None,
        };
        Self { read, delivered, alone }
    }

    /// The same as [`status_of`] with the receipts given to [`Self::new`].
    pub fn of(&self, seq: Seq, sender: UserId) -> MessageStatus {
        match self.alone {
            // Nobody but (at most) the sender: nobody received it.
            Some(None) => return MessageStatus::Sent,
            Some(Some(only)) if only == sender => return MessageStatus::Sent,
            _ => {}
        }
        if self.read.without(sender) >= seq {
            MessageStatus::Read
        } else if self.delivered.without(sender) >= seq {
            MessageStatus::Delivered
        } else {
            MessageStatus::Sent
        }
    }
}

/// Sets `message.status` from the receipts of its chat: see [`status_of`].
pub fn derive_status(message: &mut Message, receipts: &[Receipt]) {
    message.status = status_of(message.seq, message.sender, receipts);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id::Id;

    fn user(n: u8) -> UserId {
        let mut hex = String::from("65f0000000000000000000");
        hex.push_str(&format!("{n:02x}"));
        UserId(Id::parse(&hex).unwrap())
    }

    fn receipt(n: u8, delivered_seq: Seq, read_seq: Seq) -> Receipt {
        Receipt { user: user(n), markers: Markers { delivered_seq, read_seq } }
    }

    #[test]
    fn markers_only_move_forward() {
        let m = Markers { delivered_seq: 5, read_seq: 3 };
        assert_eq!(m.advanced(MarkerKind::Delivered, 4, 10), None);
        assert_eq!(m.advanced(MarkerKind::Read, 2, 10), None);
        assert_eq!(m.advanced(MarkerKind::Delivered, 5, 10), None);
        assert_eq!(m.advanced(MarkerKind::Delivered, 7, 10), Some(Markers { delivered_seq: 7, read_seq: 3 }));
    }

    #[test]
    fn reading_implies_delivery() {
        let m = Markers { delivered_seq: 2, read_seq: 1 };
        assert_eq!(m.advanced(MarkerKind::Read, 6, 10), Some(Markers { delivered_seq: 6, read_seq: 6 }));
        // Reading below the delivered marker moves only the read marker.
        let m = Markers { delivered_seq: 9, read_seq: 1 };
        assert_eq!(m.advanced(MarkerKind::Read, 4, 10), Some(Markers { delivered_seq: 9, read_seq: 4 }));
    }

    #[test]
    fn a_seq_past_the_end_marks_up_to_the_end_only() {
        let m = Markers::default();
        assert_eq!(m.advanced(MarkerKind::Read, u64::MAX, 12), Some(Markers { delivered_seq: 12, read_seq: 12 }));
        assert_eq!(Markers { delivered_seq: 12, read_seq: 12 }.advanced(MarkerKind::Read, 99, 12), None);
    }

    #[test]
    fn concurrent_moves_merge_to_the_maximum_in_either_order() {
        let a = Markers { delivered_seq: 8, read_seq: 2 };
        let b = Markers { delivered_seq: 4, read_seq: 4 };
        assert_eq!(a.merged(b), Markers { delivered_seq: 8, read_seq: 4 });
        assert_eq!(b.merged(a), a.merged(b));
    }

    #[test]
    fn requested_statuses_map_to_markers() {
        assert_eq!(MarkerKind::for_status(MessageStatus::Read).unwrap(), MarkerKind::Read);
        assert_eq!(MarkerKind::for_status(MessageStatus::Delivered).unwrap(), MarkerKind::Delivered);
        assert!(MarkerKind::for_status(MessageStatus::Sent).is_err());
    }

    #[test]
    fn direct_chat_status_follows_the_other_participant() {
        let (alice, bob) = (1, 2);
        let sent_by_alice = |bob_delivered, bob_read| {
            status_of(5, user(alice), &[receipt(alice, 5, 5), receipt(bob, bob_delivered, bob_read)])
        };
        assert_eq!(sent_by_alice(4, 0), MessageStatus::Sent);
        assert_eq!(sent_by_alice(5, 0), MessageStatus::Delivered);
        assert_eq!(sent_by_alice(9, 5), MessageStatus::Read);
    }

    #[test]
    fn the_senders_own_markers_never_count() {
        // Alice has read nothing, which says nothing about her own message.
        let receipts = [receipt(1, 0, 0), receipt(2, 5, 5)];
        assert_eq!(status_of(5, user(1), &receipts), MessageStatus::Read);
    }

    #[test]
    fn group_status_waits_for_every_other_participant() {
        let receipts = [receipt(1, 0, 0), receipt(2, 7, 7), receipt(3, 7, 3), receipt(4, 2, 2)];
        // Sent by 1 at seq 3: it has not reached 4 yet.
        assert_eq!(status_of(3, user(1), &receipts), MessageStatus::Sent);
        let receipts = [receipt(1, 0, 0), receipt(2, 7, 7), receipt(3, 7, 3), receipt(4, 3, 2)];
        assert_eq!(status_of(3, user(1), &receipts), MessageStatus::Delivered);
        let receipts = [receipt(1, 0, 0), receipt(2, 7, 7), receipt(3, 7, 3), receipt(4, 3, 3)];
        assert_eq!(status_of(3, user(1), &receipts), MessageStatus::Read);
        // A later message is not read by 3 and 4 yet, and not delivered to 4.
        assert_eq!(status_of(6, user(1), &receipts), MessageStatus::Sent);
    }

    #[test]
    fn a_chat_with_nobody_else_leaves_messages_sent() {
        assert_eq!(status_of(1, user(1), &[receipt(1, 1, 1)]), MessageStatus::Sent);
        assert_eq!(status_of(1, user(1), &[]), MessageStatus::Sent);
    }

    #[test]
    fn statuses_answer_as_status_of_does_for_every_sender_and_seq() {
        // A small deterministic generator: thousands of groups of 0 to 6 users with markers
        // 0 to 5, ties included, asked for every sender (one outside the group too).
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = |bound: u64| {
            state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            (state >> 33) % bound
        };
        for _ in 0..3000 {
            let size = next(7) as u8;
            let receipts: Vec<Receipt> = (1..=size)
                .map(|n| {
                    let read = next(6);
                    receipt(n, read + next(3), read)
                })
                .collect();
            let statuses = Statuses::new(&receipts);
            for sender in 1..=size + 1 {
                for seq in 0..8 {
                    assert_eq!(
                        statuses.of(seq, user(sender)),
                        status_of(seq, user(sender), &receipts),
                        "seq {seq} sent by {sender} with {receipts:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn receipts_for_lists_the_participants_in_order_with_zero_for_the_unknown() {
        let chat_id = ChatId(user(90).0);
        let other = ChatId(user(91).0);
        let chat = Chat {
            id: chat_id,
            name: None,
            is_group: true,
            participants: vec![user(3), user(1), user(2)],
            created_by: user(3),
            last_message_id: None,
            last_seq: 9,
            created_at: chrono::DateTime::UNIX_EPOCH,
            updated_at: chrono::DateTime::UNIX_EPOCH,
        };
        let stored = [
            (other, receipt(3, 9, 9)),
            (chat_id, receipt(1, 4, 2)),
            (chat_id, receipt(3, 6, 5)),
            (other, receipt(2, 7, 7)),
        ];
        assert_eq!(receipts_for(&chat, &stored), vec![receipt(3, 6, 5), receipt(1, 4, 2), receipt(2, 0, 0)]);
    }
}
