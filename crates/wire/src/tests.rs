//! Exact-JSON tests of every shape against the contract's examples.

use chat_domain::{
    ChatId, ChatName, ClientId, Email, Id, MessageId, MessageKind, MessageText, PasswordHash, UserId, Username,
};
use chrono::{TimeZone, Utc};
use serde_json::{json, Value};

use super::*;

fn at(millis: i64) -> Timestamp {
    Utc.timestamp_millis_opt(millis).single().unwrap()
}

fn id(last: u8) -> Id {
    let mut bytes = [0xab; 12];
    bytes[11] = last;
    Id::from_bytes(bytes)
}

fn user() -> chat_domain::User {
    chat_domain::User {
        id: UserId(id(1)),
        email: Email::parse("a@example.com").unwrap(),
        username: Username::parse("alice").unwrap(),
        password_hash: PasswordHash("$argon2id$secret".into()),
        created_at: at(1_795_633_980_123),
        updated_at: at(1_795_633_981_000),
    }
}

fn message(client_id: Option<&str>) -> chat_domain::Message {
    chat_domain::Message {
        id: MessageId(id(3)),
        chat: ChatId(id(2)),
        sender: UserId(id(1)),
        text: MessageText::parse("hello").unwrap(),
        kind: MessageKind::Image,
        status: chat_domain::MessageStatus::Delivered,
        seq: 42,
        deleted_seq: None,
        client_id: client_id.map(|c| ClientId::parse(c).unwrap()),
        created_at: at(1_795_633_980_123),
        updated_at: at(1_795_633_980_123),
        edited_at: None,
    }
}

fn chat(name: Option<&str>) -> chat_domain::Chat {
    chat_domain::Chat {
        id: ChatId(id(2)),
        name: name.map(|n| ChatName::parse(n).unwrap().unwrap()),
        is_group: false,
        participants: vec![UserId(id(1)), UserId(id(4))],
        created_by: UserId(id(1)),
        last_message_id: None,
        last_seq: 0,
        created_at: at(1_795_633_980_000),
        updated_at: at(1_795_633_980_000),
    }
}

fn to_json<T: Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap()
}

fn hex(last: u8) -> String {
    id(last).to_string()
}

#[test]
fn times_have_exactly_three_fractional_digits_and_z() {
    assert_eq!(format_timestamp(&at(1_795_633_980_123)), "2026-11-25T19:13:00.123Z");
    assert_eq!(format_timestamp(&at(1_795_633_980_000)), "2026-11-25T19:13:00.000Z");
    assert_eq!(format_timestamp(&at(0)), "1970-01-01T00:00:00.000Z");
}

#[test]
fn user_never_carries_the_password_hash() {
    let json = serde_json::to_string(&User::from(&user())).unwrap();
    assert_eq!(
        json,
        format!(
            r#"{{"_id":"{}","email":"a@example.com","username":"alice","createdAt":"2026-11-25T19:13:00.123Z","updatedAt":"2026-11-25T19:13:01.000Z"}}"#,
            hex(1)
        )
    );
    assert!(!json.contains("argon2"));
}

#[test]
fn public_user_has_exactly_id_username_and_created_at() {
    let json = serde_json::to_string(&PublicUser::from(&user())).unwrap();
    assert_eq!(json, format!(r#"{{"_id":"{}","username":"alice","createdAt":"2026-11-25T19:13:00.123Z"}}"#, hex(1)));
    assert!(!json.contains("example.com") && !json.contains("argon2"), "no email, no hash");
    let back: PublicUser = serde_json::from_str(&json).unwrap();
    assert_eq!(back, PublicUser::from(&user()));
}

#[test]
fn message_has_every_field_in_contract_order() {
    let json = serde_json::to_string(&Message::from(&message(Some("c-1")))).unwrap();
    assert_eq!(
        json,
        format!(
            concat!(
                r#"{{"_id":"{m}","sender":"{u}","chat":"{c}","text":"hello","type":"image","status":"delivered","#,
                r#""isDeleted":false,"createdAt":"2026-11-25T19:13:00.123Z","updatedAt":"2026-11-25T19:13:00.123Z","#,
                r#""seq":42,"clientId":"c-1","editedAt":null}}"#
            ),
            m = hex(3),
            u = hex(1),
            c = hex(2)
        )
    );
}

#[test]
fn message_omits_client_id_when_absent_and_shows_deletion() {
    let mut m = message(None);
    m.deleted_seq = Some(43);
    let json = to_json(&Message::from(&m));
    assert!(json.get("clientId").is_none());
    assert_eq!(json["isDeleted"], json!(true));
    assert_eq!(json["seq"], json!(42));
}

#[test]
fn deleted_message_is_served_with_blank_text_everywhere() {
    // The text is still set, as in a row deleted before the stores erased it.
    let mut m = message(None);
    m.deleted_seq = Some(43);
    assert_eq!(to_json(&Message::from(&m))["text"], json!(""));
    let view = ChatView { chat: chat(None), last_message: Some(m.clone()) };
    assert_eq!(to_json(&Chat::from(&view))["lastMessage"]["text"], json!(""));
    let replay = ChatEvent::from(&chat_domain::ChatEvent::MessageCreated(m));
    assert_eq!(to_json(&replay)["data"]["text"], json!(""));
    assert_eq!(to_json(&Message::from(&message(None)))["text"], json!("hello"));
}

#[test]
fn chat_has_null_name_and_null_last_message_when_absent() {
    let json = serde_json::to_string(&Chat::from(&chat(None))).unwrap();
    assert_eq!(
        json,
        format!(
            concat!(
                r#"{{"_id":"{c}","name":null,"isGroup":false,"participants":["{u1}","{u4}"],"createdBy":"{u1}","#,
                r#""lastMessage":null,"createdAt":"2026-11-25T19:13:00.000Z","updatedAt":"2026-11-25T19:13:00.000Z","#,
                r#""lastSeq":0,"unreadCount":0,"receipts":[{{"userId":"{u1}","deliveredSeq":0,"readSeq":0}},"#,
                r#"{{"userId":"{u4}","deliveredSeq":0,"readSeq":0}}]}}"#
            ),
            c = hex(2),
            u1 = hex(1),
            u4 = hex(4)
        )
    );
}

#[test]
fn chat_view_carries_its_last_message() {
    let view = ChatView { chat: chat(Some("Team")), last_message: Some(message(None)) };
    let json = to_json(&Chat::from(&view));
    assert_eq!(json["name"], json!("Team"));
    assert_eq!(json["lastMessage"], to_json(&Message::from(&message(None))));
}

#[test]
fn deleted_and_typing_payloads() {
    let deleted = MessageDeleted::new(ChatId(id(2)), MessageId(id(3)), 7);
    assert_eq!(
        serde_json::to_string(&deleted).unwrap(),
        format!(r#"{{"messageId":"{}","chatId":"{}","seq":7}}"#, hex(3), hex(2))
    );
    let typing = Typing::new(ChatId(id(2)), UserId(id(1)), true);
    assert_eq!(
        serde_json::to_string(&typing).unwrap(),
        format!(r#"{{"chatId":"{}","userId":"{}","isTyping":true}}"#, hex(2), hex(1))
    );
}

#[test]
fn chat_events_are_tagged_with_the_event_name() {
    let created = ChatEvent::from(&chat_domain::ChatEvent::MessageCreated(message(None)));
    assert_eq!(created.name(), "message:new");
    assert_eq!(to_json(&created), json!({"event": "message:new", "data": to_json(&Message::from(&message(None)))}));

    let deleted = ChatEvent::from(&chat_domain::ChatEvent::MessageDeleted {
        chat: ChatId(id(2)),
        message: MessageId(id(3)),
        seq: 9,
    });
    assert_eq!(deleted.name(), "message:deleted");
    assert_eq!(
        to_json(&deleted),
        json!({"event": "message:deleted", "data": {"messageId": hex(3), "chatId": hex(2), "seq": 9}})
    );
}

#[test]
fn session_page_success_and_error_shapes() {
    let session = chat_domain::Session { access_token: "jwt".into(), user: user() };
    let json = to_json(&AuthSession::from(&session));
    assert_eq!(json["accessToken"], json!("jwt"));
    assert_eq!(json["user"], to_json(&User::from(&user())));

    let page = chat_domain::MessagePage { messages: vec![message(None)], has_more: true };
    let json = to_json(&MessagePage::from(&page));
    assert_eq!(json["hasMore"], json!(true));
    assert_eq!(json["messages"].as_array().unwrap().len(), 1);

    assert_eq!(serde_json::to_string(&Success::YES).unwrap(), r#"{"success":true}"#);

    let error = ErrorBody { status_code: 400, error: "Bad Request".into(), message: "text must not be empty".into() };
    assert_eq!(
        serde_json::to_string(&error).unwrap(),
        r#"{"statusCode":400,"error":"Bad Request","message":"text must not be empty"}"#
    );
}

#[test]
fn shapes_read_back_what_they_wrote() {
    let view = ChatView { chat: chat(Some("Team")), last_message: Some(message(Some("c-9"))) };
    let chat = Chat::from(&view);
    let text = serde_json::to_string(&chat).unwrap();
    assert_eq!(serde_json::from_str::<Chat>(&text).unwrap(), chat);

    let event = ChatEvent::from(&chat_domain::ChatEvent::MessageCreated(message(None)));
    let text = serde_json::to_string(&event).unwrap();
    assert_eq!(serde_json::from_str::<ChatEvent>(&text).unwrap(), event);
}

#[test]
fn acks_have_the_contract_shapes_in_order() {
    let text = |ack: acks::Ack| serde_json::to_string(&ack).unwrap();
    assert_eq!(text(acks::Ack::DONE), r#"{"success":true}"#);

    let limited = chat_domain::Error::RateLimited { retry_after: std::time::Duration::from_millis(1500) };
    assert_eq!(
        text(acks::Failure::from(&limited).into()),
        r#"{"success":false,"error":"rate_limited","retryAfterMs":1500}"#
    );
    let instant = chat_domain::Error::RateLimited { retry_after: std::time::Duration::ZERO };
    assert_eq!(acks::Failure::from(&instant).retry_after_ms, Some(1), "never zero");
    assert_eq!(
        text(acks::Failure::from(&chat_domain::Error::not_found("chat not found")).into()),
        r#"{"success":false,"error":"not_found","message":"chat not found"}"#
    );
    assert_eq!(
        text(acks::Failure::from(&chat_domain::Error::Conflict("taken".into())).into()),
        r#"{"success":false,"error":"invalid_payload","message":"taken"}"#
    );
    assert_eq!(
        text(acks::Failure::from(&chat_domain::Error::Internal).into()),
        r#"{"success":false,"error":"internal"}"#
    );
    assert_eq!(
        text(acks::Failure::from(&chat_domain::Error::Unavailable).into()),
        r#"{"success":false,"error":"unavailable"}"#
    );
    assert_eq!(text(acks::Failure::unauthorized().into()), r#"{"success":false,"error":"unauthorized"}"#);
    assert_eq!(
        text(acks::Failure::invalid_payload("payload missing").into()),
        r#"{"success":false,"error":"invalid_payload","message":"payload missing"}"#
    );
    assert_eq!(to_json(&acks::Failure::from(&chat_domain::Error::forbidden("no")))["error"], json!("forbidden"));

    let sent = text(acks::Sent::new(&message(None)).into());
    assert_eq!(
        sent,
        format!(r#"{{"success":true,"message":{}}}"#, serde_json::to_string(&Message::from(&message(None))).unwrap())
    );

    let replay = [chat_domain::ChatEvent::MessageDeleted { chat: ChatId(id(2)), message: MessageId(id(3)), seq: 9 }];
    assert_eq!(
        text(acks::CatchUp::recovered(&replay).into()),
        format!(
            r#"{{"success":true,"recovered":true,"events":[{{"event":"message:deleted","data":{{"messageId":"{}","chatId":"{}","seq":9}}}}]}}"#,
            hex(3),
            hex(2)
        )
    );
    assert_eq!(
        text(acks::CatchUp::not_recovered(chat_domain::CatchUpRefusal::TooFarBehind).into()),
        r#"{"success":true,"recovered":false,"reason":"too_far_behind"}"#
    );
    assert_eq!(
        text(acks::CatchUp::not_recovered(chat_domain::CatchUpRefusal::UnknownSeq).into()),
        r#"{"success":true,"recovered":false,"reason":"unknown_seq"}"#
    );
    assert_eq!(serde_json::to_string(&acks::ConnectError::UNAUTHORIZED).unwrap(), r#"{"message":"Unauthorized"}"#);
}

#[test]
fn an_edited_message_carries_its_edit_time_and_replays_as_message_updated() {
    let mut m = message(None);
    m.mark_edited(MessageText::parse("hi").unwrap(), at(1_795_633_990_456));
    let json = to_json(&Message::from(&m));
    assert_eq!(json["editedAt"], "2026-11-25T19:13:10.456Z");
    assert_eq!(json["text"], "hi");
    let back: Message = serde_json::from_value(json).unwrap();
    assert_eq!(back.edited_at, Some(at(1_795_633_990_456)));
    let replay = to_json(&ChatEvent::from(&chat_domain::ChatEvent::MessageUpdated { message: m, seq: 50 }));
    assert_eq!(replay["event"], "message:updated");
    assert_eq!(replay["data"]["seq"], 50);
    assert_eq!(replay["data"]["message"]["seq"], 42);
}
