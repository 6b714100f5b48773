//! Where each domain event goes and what it says on the wire: [`route`] turns a domain event into
//! a [`Delivery`] (target rooms, Socket.IO event name, serialized argument). It is plain data, so
//! the gateway can queue it for this node's sockets and a cluster can ship it, as JSON, to the
//! other nodes, which deliver it to theirs.

use chat_domain::DomainEvent;
use serde::{Deserialize, Serialize};
use serde_json::value::{to_raw_value, RawValue};

use crate::rooms::{chat_room, user_room};

/// Where one domain event goes and what it says, independent of any node's sockets.
///
/// Serializable (as JSON) so that a cluster can publish it once and let every node deliver it
/// to its own sockets. Fields added later must have serde defaults, so that nodes of two
/// versions can run side by side during a rolling deploy.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Delivery {
    /// The rooms of the main namespace to deliver to. Their members must be disjoint (a chat
    /// room, or the personal rooms of distinct users): a socket in two of them gets the event
    /// twice. Repeated names are delivered once.
    pub rooms: Vec<String>,
    /// The Socket.IO event name, such as `message:new`.
    pub event: String,
    /// The event's single argument, already serialized.
    pub data: Box<RawValue>,
    /// Sockets that are also in this room are skipped (a typist's own connections).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub except_room: Option<String>,
    /// Whether a slow client may lose this event instead of being disconnected (typing).
    #[serde(default)]
    pub droppable: bool,
    /// The chat's sequence number of a persisted event (`message:new`, `message:deleted`).
    /// The frame carries it, so a socket catching up with `sinceSeq` drops a live copy of an
    /// event its replay already holds, whichever node the event came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
    /// Sockets to take out of a room before this delivery (users removed from a chat, or who
    /// left it). Every node applies it before queuing the event, and deliveries reach each
    /// node in order, so nothing delivered after it reaches those sockets through that room.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evict: Option<Eviction>,
    /// Rooms whose sockets are disconnected (a DISCONNECT packet from the server, after which
    /// the official client does not reconnect by itself): a logged-out user's personal room.
    /// Such a delivery has no `rooms`, so a node too old to know this field delivers nothing.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub disconnect_rooms: Vec<String>,
    /// The user ids whose sockets may receive this delivery, in any of its rooms: a group's
    /// participants as of the event (`chat_domain::Members`). Each node delivers only to
    /// sockets of these users, so an event committed after a removal never reaches the
    /// removed user's sockets on a node that the removal's own delivery has not reached yet.
    /// A socket left out is not evicted (a late delivery must not undo a later add). `None`
    /// (1:1 chats, personal rooms, older nodes): every socket in the rooms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub members: Option<Vec<String>>,
}

/// The members of an event as the wire names them (user ids).
fn member_ids(members: &chat_domain::Members) -> Option<Vec<String>> {
    members.as_ref().map(|users| users.iter().map(ToString::to_string).collect())
}

/// Every socket in one of `user_rooms` leaves `room`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Eviction {
    pub room: String,
    /// The personal rooms (`user-<id>`) of the users whose sockets leave.
    pub user_rooms: Vec<String>,
}

/// Decides where a domain event goes and serializes its payload in the contract's shape.
/// Fails only if the payload cannot be serialized, which the wire types never do.
pub fn route(event: &DomainEvent) -> Result<Delivery, serde_json::Error> {
    Ok(match event {
        DomainEvent::MessageCreated { message: m, members } => Delivery {
            rooms: vec![chat_room(m.chat)],
            event: crate::events::MESSAGE_NEW.to_owned(),
            data: to_raw_value(&crate::Message::from(m))?,
            except_room: None,
            droppable: false,
            seq: Some(m.seq),
            evict: None,
            disconnect_rooms: Vec::new(),
            members: member_ids(members),
        },
        DomainEvent::MessageDeleted { chat, message, seq, members } => Delivery {
            rooms: vec![chat_room(*chat)],
            event: crate::events::MESSAGE_DELETED.to_owned(),
            data: to_raw_value(&crate::MessageDeleted::new(*chat, *message, *seq))?,
            except_room: None,
            droppable: false,
            seq: Some(*seq),
            evict: None,
            disconnect_rooms: Vec::new(),
            members: member_ids(members),
        },
        DomainEvent::ChatCreated(chat) => Delivery {
            rooms: chat.participants.iter().map(|p| user_room(*p)).collect(),
            event: crate::events::CHAT_CREATED.to_owned(),
            data: to_raw_value(&crate::Chat::from(chat))?,
            except_room: None,
            droppable: false,
            seq: None,
            evict: None,
            disconnect_rooms: Vec::new(),
            members: None,
        },
        DomainEvent::Typing { chat, user, is_typing, members } => Delivery {
            rooms: vec![chat_room(*chat)],
            event: crate::events::MESSAGE_TYPING.to_owned(),
            data: to_raw_value(&crate::Typing::new(*chat, *user, *is_typing))?,
            except_room: Some(user_room(*user)),
            droppable: true,
            seq: None,
            evict: None,
            disconnect_rooms: Vec::new(),
            members: member_ids(members),
        },
        DomainEvent::MessageUpdated { message, seq, members } => Delivery {
            rooms: vec![chat_room(message.chat)],
            event: crate::events::MESSAGE_UPDATED.to_owned(),
            data: to_raw_value(&crate::MessageUpdated::new(message, *seq))?,
            except_room: None,
            droppable: false,
            seq: Some(*seq),
            evict: None,
            disconnect_rooms: Vec::new(),
            members: member_ids(members),
        },
        DomainEvent::ChatUpdated { chat, change, seq } => {
            let room = chat_room(chat.chat.id);
            let departed: Vec<String> = change.departed().iter().map(|u| user_room(*u)).collect();
            // The chat's room (from which the departed were just taken out), then the personal
            // rooms of those added or removed: disjoint sets of sockets.
            let mut rooms = vec![room.clone()];
            rooms.extend(change.joined().iter().map(|u| user_room(*u)));
            rooms.extend(departed.iter().cloned());
            Delivery {
                rooms,
                event: crate::events::CHAT_UPDATED.to_owned(),
                data: to_raw_value(&crate::ChatUpdated::new(Some(chat), change, *seq))?,
                except_room: None,
                droppable: false,
                seq: Some(*seq),
                evict: (!departed.is_empty()).then_some(Eviction { room, user_rooms: departed }),
                disconnect_rooms: Vec::new(),
                // Those in the chat after the change, and those it took out (their personal
                // rooms get it): nobody else, such as a user removed by a change at an
                // earlier seq whose delivery has not reached this node yet.
                members: chat
                    .chat
                    .is_group
                    .then(|| chat.chat.participants.iter().chain(change.departed()).map(ToString::to_string).collect()),
            }
        }
        DomainEvent::AddedToChat { chat, users } => Delivery {
            rooms: users.iter().map(|u| user_room(*u)).collect(),
            event: crate::events::CHAT_CREATED.to_owned(),
            data: to_raw_value(&crate::Chat::from(chat))?,
            except_room: None,
            droppable: false,
            seq: None,
            evict: None,
            disconnect_rooms: Vec::new(),
            members: None,
        },
        // Receipts are state, not history: a slow client that loses one sees the latest values
        // in its next update or on reload, so they may be dropped rather than cost the socket.
        DomainEvent::ReceiptUpdated { chat, user, markers, members } => Delivery {
            rooms: vec![chat_room(*chat)],
            event: crate::events::RECEIPT_UPDATED.to_owned(),
            data: to_raw_value(&crate::ReceiptUpdated::new(*chat, *user, *markers))?,
            except_room: None,
            droppable: true,
            seq: None,
            evict: None,
            disconnect_rooms: Vec::new(),
            members: member_ids(members),
        },
        DomainEvent::UnreadChanged { user, chat, unread_count } => Delivery {
            rooms: vec![user_room(*user)],
            event: crate::events::CHAT_UNREAD.to_owned(),
            data: to_raw_value(&crate::ChatUnread::new(*chat, *unread_count))?,
            except_room: None,
            droppable: true,
            seq: None,
            evict: None,
            disconnect_rooms: Vec::new(),
            members: None,
        },
        // Presence is state too: the next update, or the page's next query, says it again.
        DomainEvent::PresenceChanged { user, online, last_seen_at, to } => Delivery {
            rooms: to.iter().map(|u| user_room(*u)).collect(),
            event: crate::events::PRESENCE_UPDATE.to_owned(),
            data: to_raw_value(&crate::PresenceState::new(*user, *online, *last_seen_at))?,
            except_room: None,
            droppable: true,
            seq: None,
            evict: None,
            disconnect_rooms: Vec::new(),
            members: None,
        },
        DomainEvent::TokensRevoked { user } => Delivery {
            rooms: Vec::new(),
            event: crate::events::TOKENS_REVOKED.to_owned(),
            data: to_raw_value(&serde_json::Value::Null)?,
            except_room: None,
            droppable: false,
            seq: None,
            evict: None,
            disconnect_rooms: vec![user_room(*user)],
            members: None,
        },
    })
}

#[cfg(test)]
mod tests {
    use chat_domain::{ChatId, UserId};

    use super::*;

    #[test]
    fn a_delivery_round_trips_through_json_unchanged() {
        let (chat, user) = (ChatId::generate(1), UserId::generate(1));
        let delivery = route(&DomainEvent::Typing { chat, user, is_typing: true, members: None }).unwrap();
        assert_eq!(delivery.rooms, vec![chat_room(chat)]);
        assert_eq!(delivery.except_room, Some(user_room(user)));
        assert!(delivery.droppable);
        let json = serde_json::to_string(&delivery).unwrap();
        let back: Delivery = serde_json::from_str(&json).unwrap();
        assert_eq!(back.rooms, delivery.rooms);
        assert_eq!(back.event, "message:typing");
        assert_eq!(back.data.get(), delivery.data.get());
        assert_eq!(back.except_room, delivery.except_room);
        assert!(back.droppable);
        assert_eq!(back.seq, None);
        let data: serde_json::Value = serde_json::from_str(back.data.get()).unwrap();
        assert_eq!(data["isTyping"], true);
    }

    #[test]
    fn persisted_events_carry_their_seq_across_the_wire() {
        let (chat, message) = (ChatId::generate(1), chat_domain::MessageId::generate(1));
        let delivery = route(&DomainEvent::MessageDeleted { chat, message, seq: 7, members: None }).unwrap();
        assert_eq!((delivery.seq, delivery.droppable), (Some(7), false));
        let json = serde_json::to_string(&delivery).unwrap();
        assert!(json.contains(r#""seq":7"#), "{json}");
        let back: Delivery = serde_json::from_str(&json).unwrap();
        assert_eq!(back.seq, Some(7));
    }

    #[test]
    fn fields_missing_from_an_older_node_take_their_defaults() {
        let back: Delivery = serde_json::from_str(r#"{"rooms":["r"],"event":"e","data":{"a":1}}"#).unwrap();
        assert_eq!(back.except_room, None);
        assert!(!back.droppable);
        assert_eq!(back.seq, None);
        assert_eq!(back.evict, None);
        assert!(back.disconnect_rooms.is_empty());
        assert_eq!(back.members, None);
    }

    #[test]
    fn a_groups_events_carry_their_members_and_a_direct_chats_none() {
        let (chat, message) = (ChatId::generate(1), chat_domain::MessageId::generate(1));
        let (a, b) = (UserId::generate(1), UserId::generate(1));
        let delivery =
            route(&DomainEvent::MessageDeleted { chat, message, seq: 3, members: Some(vec![a, b]) }).unwrap();
        let json = serde_json::to_string(&delivery).unwrap();
        let back: Delivery = serde_json::from_str(&json).unwrap();
        assert_eq!(back.members, Some(vec![a.to_string(), b.to_string()]));
        let direct = route(&DomainEvent::MessageDeleted { chat, message, seq: 3, members: None }).unwrap();
        assert!(!serde_json::to_string(&direct).unwrap().contains("members"), "1:1 deliveries stay as small");
    }

    #[test]
    fn a_removal_evicts_the_removed_first_and_tells_them_personally() {
        use chat_domain::{ChangeKind, ChatChange, ChatView};
        let (creator, gone, stays) = (UserId::generate(1), UserId::generate(1), UserId::generate(1));
        let at = chrono::DateTime::from_timestamp_millis(1_795_633_980_123).unwrap();
        let chat = chat_domain::Chat {
            id: ChatId::generate(1),
            name: None,
            is_group: true,
            participants: vec![creator, stays],
            created_by: creator,
            last_message_id: None,
            last_seq: 4,
            created_at: at,
            updated_at: at,
        };
        let change = ChatChange { kind: ChangeKind::Removed, users: vec![gone], by: creator, at };
        let view = ChatView { chat: chat.clone(), last_message: None };
        let delivery = route(&DomainEvent::ChatUpdated { chat: view, change, seq: 4 }).unwrap();
        assert_eq!(delivery.event, "chat:updated");
        assert_eq!(delivery.rooms, vec![chat_room(chat.id), user_room(gone)]);
        assert_eq!(delivery.seq, Some(4));
        let evict = delivery.evict.clone().unwrap();
        assert_eq!((evict.room, evict.user_rooms), (chat_room(chat.id), vec![user_room(gone)]));
        let json = serde_json::to_string(&delivery).unwrap();
        let back: Delivery = serde_json::from_str(&json).unwrap();
        assert_eq!(back.evict, delivery.evict);
        let data: serde_json::Value = serde_json::from_str(back.data.get()).unwrap();
        assert_eq!(data["change"]["type"], "removed");
        assert_eq!(data["change"]["userIds"][0], gone.to_string());
        assert_eq!(data["change"]["by"], creator.to_string());
        assert_eq!(data["seq"], 4);
        assert_eq!(data["chat"]["participants"].as_array().unwrap().len(), 2);
        let members = [creator, stays, gone].map(|u| u.to_string()).to_vec();
        assert_eq!(back.members, Some(members), "the chat after the change, and whom it took out");
    }

    #[test]
    fn presence_goes_to_the_contacts_personal_rooms_in_the_contracts_shape() {
        let (user, a, b) = (UserId::generate(1), UserId::generate(1), UserId::generate(1));
        let at = chrono::DateTime::from_timestamp_millis(1_795_633_980_123).unwrap();
        let event = DomainEvent::PresenceChanged { user, online: false, last_seen_at: Some(at), to: vec![a, b] };
        let delivery = route(&event).unwrap();
        assert_eq!(delivery.rooms, vec![user_room(a), user_room(b)]);
        assert_eq!(delivery.event, "presence:update");
        let data: serde_json::Value = serde_json::from_str(delivery.data.get()).unwrap();
        let expected =
            serde_json::json!({"userId": user.to_string(), "online": false, "lastSeenAt": "2026-11-25T19:13:00.123Z"});
        assert_eq!(data, expected);
        let online =
            route(&DomainEvent::PresenceChanged { user, online: true, last_seen_at: None, to: vec![a] }).unwrap();
        let data: serde_json::Value = serde_json::from_str(online.data.get()).unwrap();
        assert_eq!(data["lastSeenAt"], serde_json::Value::Null, "null while online, never missing");
    }

    #[test]
    fn a_logout_disconnects_the_users_room_and_sends_nothing() {
        let user = UserId::generate(1);
        let delivery = route(&DomainEvent::TokensRevoked { user }).unwrap();
        assert_eq!(delivery.disconnect_rooms, vec![user_room(user)]);
        assert!(delivery.rooms.is_empty(), "an older node delivers it to nobody");
        let json = serde_json::to_string(&delivery).unwrap();
        let back: Delivery = serde_json::from_str(&json).unwrap();
        assert_eq!(back.disconnect_rooms, vec![user_room(user)]);
        assert!(back.rooms.is_empty());
    }
}
