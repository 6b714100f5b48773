//! Receipts through the services: who may move which marker, what moving it announces, and the
//! status and unread counts served from the markers.

use super::*;
use crate::receipts::{MarkerKind, Markers};

fn markers(delivered_seq: u64, read_seq: u64) -> Markers {
    Markers { delivered_seq, read_seq }
}

impl World {
    async fn group(&self, creator: UserId, others: &[UserId]) -> ChatId {
        self.services.chats.create(creator, others, Some("team")).await.unwrap().0.chat.id
    }

    async fn status_in_history(&self, caller: UserId, chat: ChatId) -> Vec<MessageStatus> {
        let page = self.services.messages.history(caller, chat, PageCursor::Skip(0), PageLimit::default()).await;
        page.unwrap().messages.iter().map(|m| m.status).collect()
    }
}

#[tokio::test]
async fn ticks_move_sent_delivered_read_in_a_direct_chat() {
    let w = world();
    let (ann, bo) = (w.user("ann").await, w.user("bo").await);
    let chat = w.direct(ann, bo).await;
    w.send(ann, chat, "one").await.unwrap();
    w.send(ann, chat, "two").await.unwrap();
    assert_eq!(w.status_in_history(ann, chat).await, [MessageStatus::Sent, MessageStatus::Sent]);

    w.services.receipts.mark(bo, chat, MarkerKind::Delivered, 2).await.unwrap();
    assert_eq!(w.status_in_history(ann, chat).await, [MessageStatus::Delivered, MessageStatus::Delivered]);

    w.services.receipts.mark(bo, chat, MarkerKind::Read, 1).await.unwrap();
    assert_eq!(w.status_in_history(bo, chat).await, [MessageStatus::Read, MessageStatus::Delivered]);

    // The chat list shows the newest message with its status, and the unread counts.
    let ann_view = w.services.chats.get(ann, chat).await.unwrap();
    assert_eq!(ann_view.last_message.as_ref().unwrap().status, MessageStatus::Delivered);
    assert_eq!(ann_view.unread_count, 0, "her own messages never count");
    let bo_view = &w.services.chats.list(bo, None, None).await.unwrap()[0];
    assert_eq!(bo_view.unread_count, 1);
    let by_user: Vec<_> = bo_view.receipts.iter().map(|r| (r.user, r.markers)).collect();
    assert_eq!(by_user, [(ann, markers(2, 2)), (bo, markers(2, 1))], "sending reads up to one's own message");
}

#[tokio::test]
async fn group_status_waits_for_every_other_participant() {
    let w = world();
    let (ann, bo, cy) = (w.user("ann").await, w.user("bo").await, w.user("cy").await);
    let chat = w.group(ann, &[bo, cy]).await;
    w.send(ann, chat, "hello team").await.unwrap();
    w.services.receipts.mark(bo, chat, MarkerKind::Read, 1).await.unwrap();
    assert_eq!(w.status_in_history(ann, chat).await, [MessageStatus::Sent], "cy has not got it yet");
    w.services.receipts.mark(cy, chat, MarkerKind::Delivered, 1).await.unwrap();
    assert_eq!(w.status_in_history(ann, chat).await, [MessageStatus::Delivered]);
    w.services.receipts.mark(cy, chat, MarkerKind::Read, 1).await.unwrap();
    assert_eq!(w.status_in_history(ann, chat).await, [MessageStatus::Read]);
}

#[tokio::test]
async fn markers_never_move_back_and_stop_at_the_chats_end() {
    let w = world();
    let (ann, bo) = (w.user("ann").await, w.user("bo").await);
    let chat = w.direct(ann, bo).await;
    for text in ["a", "b", "c"] {
        w.send(ann, chat, text).await.unwrap();
    }
    let state = w.services.receipts.mark(bo, chat, MarkerKind::Read, 99).await.unwrap();
    assert_eq!((state.markers, state.unread_count), (markers(3, 3), 0), "past the end is the end");
    let state = w.services.receipts.mark(bo, chat, MarkerKind::Read, 1).await.unwrap();
    assert_eq!(state.markers, markers(3, 3), "a late, lower receipt moves nothing");

    // A message sent after the clamp is unread: marking ahead never pre-reads the future.
    w.send(ann, chat, "d").await.unwrap();
    assert_eq!(w.services.chats.get(bo, chat).await.unwrap().unread_count, 1);
}

#[tokio::test]
async fn unread_counts_leave_out_own_and_deleted_messages() {
    let w = world();
    let (ann, bo) = (w.user("ann").await, w.user("bo").await);
    let chat = w.direct(ann, bo).await;
    let first = w.send(ann, chat, "one").await.unwrap();
    w.send(ann, chat, "two").await.unwrap();
    w.send(bo, chat, "mine").await.unwrap();
    assert_eq!(w.services.chats.get(bo, chat).await.unwrap().unread_count, 0, "bo's send read what came before");
    w.send(ann, chat, "three").await.unwrap();
    w.send(ann, chat, "four").await.unwrap();
    assert_eq!(w.services.chats.get(bo, chat).await.unwrap().unread_count, 2);
    let third = w.services.messages.history(bo, chat, PageCursor::Skip(0), PageLimit::default()).await.unwrap();
    let three = third.messages.iter().find(|m| m.text.as_str() == "three").unwrap().id;
    w.services.messages.soft_delete(ann, three).await.unwrap();
    assert_eq!(w.services.chats.get(bo, chat).await.unwrap().unread_count, 1, "a deleted message is not unread");
    w.services.messages.soft_delete(ann, first.id).await.unwrap();
    assert_eq!(w.services.chats.get(bo, chat).await.unwrap().unread_count, 1, "already read, deleted or not");
}

#[tokio::test]
async fn moving_a_marker_announces_the_receipt_and_the_readers_unread_count() {
    let w = world();
    let (ann, bo) = (w.user("ann").await, w.user("bo").await);
    let chat = w.direct(ann, bo).await;
    w.send(ann, chat, "one").await.unwrap();
    w.send(ann, chat, "two").await.unwrap();
    w.events.take();

    w.services.receipts.mark(bo, chat, MarkerKind::Delivered, 2).await.unwrap();
    assert_eq!(
        w.events.take(),
        [DomainEvent::ReceiptUpdated { chat, user: bo, markers: markers(2, 0), members: None }]
    );

    w.services.receipts.mark(bo, chat, MarkerKind::Read, 1).await.unwrap();
    assert_eq!(
        w.events.take(),
        [
            DomainEvent::ReceiptUpdated { chat, user: bo, markers: markers(2, 1), members: None },
            DomainEvent::UnreadChanged { user: bo, chat, unread_count: 1 },
        ]
    );

    w.services.receipts.mark(bo, chat, MarkerKind::Read, 1).await.unwrap();
    assert!(w.events.take().is_empty(), "nothing moved, nothing announced");
}

#[tokio::test]
async fn only_participants_move_markers() {
    let w = world();
    let (ann, bo, eve) = (w.user("ann").await, w.user("bo").await, w.user("eve").await);
    let chat = w.direct(ann, bo).await;
    let sent = w.send(ann, chat, "private").await.unwrap();
    w.events.take();

    let refused = w.services.receipts.mark(eve, chat, MarkerKind::Read, 1).await.unwrap_err();
    assert!(matches!(refused, Error::Forbidden(_)), "got {refused:?}");
    let refused = w.services.receipts.mark_message(eve, sent.id, "read").await.unwrap_err();
    assert!(matches!(refused, Error::Forbidden(_)), "got {refused:?}");
    let missing = w.services.receipts.mark(bo, ChatId::generate(1), MarkerKind::Read, 1).await.unwrap_err();
    assert!(matches!(missing, Error::NotFound(_)), "got {missing:?}");
    assert!(w.events.take().is_empty());
    assert_eq!(w.status_in_history(ann, chat).await, [MessageStatus::Sent]);
}

#[tokio::test]
async fn update_status_marks_someone_elses_message_only() {
    let w = world();
    let (ann, bo) = (w.user("ann").await, w.user("bo").await);
    let chat = w.direct(ann, bo).await;
    let first = w.send(ann, chat, "one").await.unwrap();
    let second = w.send(ann, chat, "two").await.unwrap();

    let state = w.services.receipts.mark_message(bo, first.id, "delivered").await.unwrap();
    assert_eq!(state.markers, markers(1, 0));
    let state = w.services.receipts.mark_message(bo, second.id, "read").await.unwrap();
    assert_eq!((state.markers, state.unread_count), (markers(2, 2), 0));

    let own = w.services.receipts.mark_message(ann, first.id, "read").await.unwrap_err();
    assert!(matches!(own, Error::Invalid(_)), "got {own:?}");
    for bad in ["sent", "seen", ""] {
        let error = w.services.receipts.mark_message(bo, first.id, bad).await.unwrap_err();
        assert!(matches!(error, Error::Invalid(_)), "{bad}: got {error:?}");
    }
    let missing = w.services.receipts.mark_message(bo, MessageId::generate(1), "read").await.unwrap_err();
    assert!(matches!(missing, Error::NotFound(_)), "got {missing:?}");
}

#[tokio::test]
async fn the_servers_delivery_receipt_moves_only_delivery() {
    let w = world();
    let (ann, bo) = (w.user("ann").await, w.user("bo").await);
    let chat = w.direct(ann, bo).await;
    w.send(ann, chat, "one").await.unwrap();
    w.events.take();
    w.services.receipts.delivered_by_server(chat, &[bo], 1).await.unwrap();
    assert_eq!(
        w.events.take(),
        [DomainEvent::ReceiptUpdated { chat, user: bo, markers: markers(1, 0), members: None }]
    );
    w.services.receipts.delivered_by_server(chat, &[bo], 1).await.unwrap();
    assert!(w.events.take().is_empty());
    assert_eq!(w.status_in_history(ann, chat).await, [MessageStatus::Delivered]);
}

#[tokio::test]
async fn catch_up_replays_carry_the_derived_status() {
    let w = world();
    let (ann, bo) = (w.user("ann").await, w.user("bo").await);
    let chat = w.direct(ann, bo).await;
    w.send(ann, chat, "one").await.unwrap();
    w.send(ann, chat, "two").await.unwrap();
    w.services.receipts.mark(bo, chat, MarkerKind::Read, 1).await.unwrap();
    let JoinOutcome::Recovered { events, .. } = w.services.messages.join(ann, chat, Some(0)).await.unwrap() else {
        panic!("expected a recovery");
    };
    let statuses: Vec<_> = events
        .iter()
        .map(|e| match e {
            ChatEvent::MessageCreated(m) => m.status,
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(statuses, [MessageStatus::Read, MessageStatus::Sent]);
}

#[tokio::test]
async fn the_servers_delivery_receipts_move_a_whole_room_and_announce_only_moves() {
    let w = world();
    let (ann, bo, cy) = (w.user("ann").await, w.user("bo").await, w.user("cy").await);
    let outsider = w.user("dan").await;
    let chat = w.group(ann, &[bo, cy]).await;
    w.send(ann, chat, "one").await.unwrap();
    w.send(ann, chat, "two").await.unwrap();
    w.services.receipts.mark(cy, chat, MarkerKind::Read, 2).await.unwrap();
    w.events.take();
    // Ann's own sockets got the message too: her markers are there already, as are cy's. A
    // socket of someone no longer a participant (a removal still on its way to that node)
    // moves nothing.
    w.services.receipts.delivered_by_server(chat, &[ann, bo, cy, bo, outsider], 2).await.unwrap();
    let members = Some(vec![ann, bo, cy]);
    assert_eq!(w.events.take(), [DomainEvent::ReceiptUpdated { chat, user: bo, markers: markers(2, 0), members }]);
    assert_eq!(w.status_in_history(ann, chat).await, [MessageStatus::Delivered, MessageStatus::Delivered]);
    // A flush behind the markers (a slower node) moves nothing back and says nothing.
    w.services.receipts.delivered_by_server(chat, &[bo, cy], 1).await.unwrap();
    w.services.receipts.delivered_by_server(chat, &[], 2).await.unwrap();
    assert!(w.events.take().is_empty());
}
