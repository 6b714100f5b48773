//! Each chat's event log on SQLite (`chat_events`): edits and changes of groups, written on
//! the writer thread in the same savepoint as what they record and the seq they take; and
//! catch-up, which merges them with messages' creations and deletes in `seq` order.

use chat_domain::model::Edited;
use chat_domain::{
    ChangeKind, Chat, ChatChange, ChatChanged, ChatEvent, ChatId, ChatUpdate, MessageId, MessageText, Seq, Timestamp,
    UserId,
};
use rusqlite::{params, Connection, Row};

use crate::error::{DbError, DbResult};
use crate::messages::{message_by_id, seq_taker};
use crate::rows::{self, message_columns, millis, Key, MESSAGE_COLUMN_COUNT};
use crate::users::sql_limit;

/// On the writer thread, inside a batch transaction and its own savepoint, like appends.
pub(crate) fn edit_message(tx: &Connection, id: MessageId, text: MessageText, at: Timestamp) -> DbResult<Edited> {
    let Some(mut message) = message_by_id(tx, id)? else {
        return Ok(Edited::NotFound);
    };
    if message.is_deleted() {
        return Ok(Edited::Deleted(message));
    }
    let Some(chat) = seq_taker(tx, message.chat, message.sender)? else {
        return Err(DbError::refused(format!("message {id} belongs to no chat")));
    };
    // Only the sender edits, and only while in the chat: a removal that committed after the
    // service's check is seen here, under the batch's write lock.
    if !chat.participant {
        return Ok(Edited::NotParticipant);
    }
    let seq = chat.last_seq + 1;
    let members = chat.members(tx, message.chat)?;
    message.mark_edited(text, at);
    let sql = "UPDATE messages SET text = ?1, edited_at = ?2, updated_at = ?2 WHERE id = ?3";
    tx.prepare_cached(sql)?.execute(params![message.text.as_str(), millis(at), id.key()])?;
    // An edit is an event of the chat (it takes a seq) but not activity.
    tx.prepare_cached("UPDATE chats SET last_seq = ?1 WHERE id = ?2")?.execute(params![seq, message.chat.key()])?;
    let sql = "INSERT INTO chat_events (chat_id, seq, kind, message_id, at) VALUES (?1, ?2, 'edited', ?3, ?4)";
    tx.prepare_cached(sql)?.execute(params![message.chat.key(), seq, id.key(), millis(at)])?;
    Ok(Edited::Edited { message, seq, members })
}

/// On the writer thread, inside a batch transaction and its own savepoint: the batch's write
/// lock makes the participant check and the writes one step.
pub(crate) fn change_chat(tx: &Connection, update: ChatUpdate) -> DbResult<ChatChanged> {
    let Some(chat) = crate::chats::chat_alone(tx, update.chat)? else {
        return Ok(ChatChanged::NotFound);
    };
    if chat.participants != update.expected {
        return Ok(ChatChanged::Conflict);
    }
    let seq = chat.last_seq + 1;
    let at = update.change.at;
    let sql = "UPDATE chats SET name = ?1, last_seq = ?2, updated_at = ?3 WHERE id = ?4";
    tx.prepare_cached(sql)?.execute(params![
        update.name.as_ref().map(|n| n.as_str()),
        seq,
        millis(at),
        chat.id.key()
    ])?;
    tx.prepare_cached("DELETE FROM chat_participants WHERE chat_id = ?1")?.execute([chat.id.key()])?;
    {
        let mut stmt =
            tx.prepare_cached("INSERT INTO chat_participants (user_id, chat_id, position) VALUES (?1, ?2, ?3)")?;
        for (position, user) in update.participants.iter().enumerate() {
            stmt.execute(params![user.key(), chat.id.key(), position])?;
        }
    }
    let users = update.change.users.iter().map(ToString::to_string).collect::<Vec<_>>().join(" ");
    let sql = "INSERT INTO chat_events (chat_id, seq, kind, user_ids, by_id, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
    tx.prepare_cached(sql)?.execute(params![
        chat.id.key(),
        seq,
        update.change.kind.as_str(),
        users,
        update.change.by.key(),
        millis(at)
    ])?;
    let chat = Chat { name: update.name, participants: update.participants, last_seq: seq, updated_at: at, ..chat };
    Ok(ChatChanged::Changed { chat, seq })
}

/// Creations by seq, deletes by deleted_seq and edits by their log entry, each from its own
/// index, merged in order.
const MESSAGE_EVENTS: &str = concat!(
    "SELECT ",
    message_columns!(),
    ", 0 AS event_kind, m.seq AS event_seq
       FROM messages m WHERE m.chat_id = ?1 AND m.seq > ?2
     UNION ALL
     SELECT ",
    message_columns!(),
    ", 1 AS event_kind, m.deleted_seq AS event_seq
       FROM messages m WHERE m.chat_id = ?1 AND m.deleted_seq > ?2
     UNION ALL
     SELECT ",
    message_columns!(),
    ", 2 AS event_kind, e.seq AS event_seq
       FROM chat_events e JOIN messages m ON m.id = e.message_id
       WHERE e.chat_id = ?1 AND e.seq > ?2 AND e.kind = 'edited'
     ORDER BY event_seq
     LIMIT ?3"
);

const CHANGE_EVENTS: &str = "SELECT seq, kind, user_ids, by_id, at FROM chat_events
     WHERE chat_id = ?1 AND seq > ?2 AND kind <> 'edited' ORDER BY seq LIMIT ?3";

fn change_event(row: &Row<'_>) -> rusqlite::Result<ChatEvent> {
    let seq: Seq = row.get(0)?;
    let bad =
        |index, err: String| rusqlite::Error::FromSqlConversionFailure(index, rusqlite::types::Type::Text, err.into());
    let kind_text = row.get_ref(1)?.as_str()?;
    let kind = ChangeKind::parse(kind_text).ok_or_else(|| bad(1, format!("unknown change kind {kind_text}")))?;
    let mut users = Vec::new();
    for raw in row.get_ref(2)?.as_str()?.split_whitespace() {
        users.push(UserId::parse(raw).map_err(|e| bad(2, e.to_string()))?);
    }
    let by = UserId(rows::id(row, 3)?);
    let at = rows::time(row, 4)?;
    Ok(ChatEvent::ChatUpdated { chat: None, change: ChatChange { kind, users, by, at }, seq })
}

/// Two statements in one read transaction, so that both see the same snapshot.
pub(crate) fn chat_events_since(
    conn: &mut Connection,
    chat: ChatId,
    since: Seq,
    max: usize,
) -> DbResult<Vec<ChatEvent>> {
    let tx = conn.transaction()?;
    let mut events = {
        let mut stmt = tx.prepare_cached(MESSAGE_EVENTS)?;
        let rows = stmt.query_map(params![chat.key(), since, sql_limit(max)], |row| {
            let message = rows::message(row)?;
            let kind: i64 = row.get(MESSAGE_COLUMN_COUNT)?;
            let seq: Seq = row.get(MESSAGE_COLUMN_COUNT + 1)?;
            Ok(match kind {
                0 => ChatEvent::MessageCreated(message),
                1 => ChatEvent::MessageDeleted { chat: message.chat, message: message.id, seq },
                _ => ChatEvent::MessageUpdated { message, seq },
            })
        })?;
        rows.collect::<rusqlite::Result<Vec<ChatEvent>>>()?
    };
    {
        let mut stmt = tx.prepare_cached(CHANGE_EVENTS)?;
        let rows = stmt.query_map(params![chat.key(), since, sql_limit(max)], change_event)?;
        for event in rows {
            events.push(event?);
        }
    }
    tx.finish()?;
    events.sort_by_key(ChatEvent::seq);
    events.truncate(max);
    Ok(events)
}
