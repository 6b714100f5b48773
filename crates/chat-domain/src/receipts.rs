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
    chat.participants
        .iter()
        .map(|&user| {
            let markers = stored
                .iter()
                .find(|(c, r)| *c == chat.id && r.user == user)
                .map(|(_, r)| r.markers)
                .unwrap_or_default();
            Receipt { user, markers }
        })
        .collect()
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
}
