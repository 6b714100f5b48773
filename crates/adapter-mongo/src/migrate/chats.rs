//! Chats, one at a time in creation order: their messages' `seq` (in creation order, then
//! `deletedSeq` for soft deletes), then the chat's `lastSeq`, `lastMessageId`, `createdBy`,
//! `isGroup` and, for a 1:1 chat, `directKey` (the oldest chat of a pair gets it).

use std::collections::HashMap;

use chat_domain::error::StoreError;
use chat_domain::model::direct_key;
use chat_domain::{Id, UserId};
use futures_util::TryStreamExt;
use mongodb::bson::oid::ObjectId;
use mongodb::bson::{doc, Bson, Document};

use super::survey::{survey, ChatStats};
use super::{int, DuplicateDirect, MigrateOptions, MigrateProgress, MigrationReport, Raw};
use crate::error::{is_duplicate_key, DriverResultExt};

/// The 1:1 keys handed out so far in this run (a dry run writes none, but must see them).
type Keys = HashMap<String, ObjectId>;

pub(super) async fn migrate(
    raw: &Raw,
    options: MigrateOptions,
    progress: &dyn MigrateProgress,
    report: &mut MigrationReport,
) -> Result<(), StoreError> {
    // The ids first, so no cursor stays open (and may time out) while a big chat is numbered.
    let ids: Vec<ObjectId> = raw
        .chats
        .find(doc! {})
        .projection(doc! { "_id": 1 })
        .sort(doc! { "createdAt": 1, "_id": 1 })
        .batch_size(options.batch_size.max(1000))
        .await
        .store()?
        .try_collect::<Vec<Document>>()
        .await
        .store()?
        .iter()
        .filter_map(|chat| chat.get_object_id("_id").ok())
        .collect();
    let survey = if options.dry_run { Some(survey(raw, options.batch_size).await?) } else { None };
    let to_number = match &survey {
        Some(survey) => survey.values().map(|s| s.unnumbered + s.undeleted).sum(),
        None => {
            raw.messages.count_documents(doc! { "seq": { "$exists": false } }).await.store()?
                + raw
                    .messages
                    .count_documents(doc! { "isDeleted": true, "deletedSeq": { "$exists": false } })
                    .await
                    .store()?
        }
    };
    progress.stage("chats and messages", ids.len() as u64 + to_number);
    let mut keys = Keys::new();
    for id in ids {
        let stats = survey.as_ref().map(|s| s.get(&id).copied().unwrap_or_default());
        // Gone since the listing: nothing to do.
        if let Some(chat) = raw.chats.find_one(doc! { "_id": id }).await.store()? {
            migrate_chat(raw, options, progress, report, &mut keys, chat, stats).await?;
        }
        progress.advance(1);
    }
    progress.finish();
    Ok(())
}

async fn migrate_chat(
    raw: &Raw,
    options: MigrateOptions,
    progress: &dyn MigrateProgress,
    report: &mut MigrationReport,
    keys: &mut Keys,
    chat: Document,
    stats: Option<ChatStats>,
) -> Result<(), StoreError> {
    let id = chat.get_object_id("_id").map_err(|e| StoreError::other(format!("a chat's _id: {e}")))?;
    let (last_seq, last_message) = match stats {
        Some(stats) => count_messages(progress, report, stats),
        None => number_messages(raw, options, progress, report, id).await?,
    };

    let mut set = Document::new();
    if int(&chat, "lastSeq") != Some(last_seq) {
        set.insert("lastSeq", last_seq);
    }
    // A dry run that would number messages cannot know the last one; the count is what matters.
    let last_message = last_message.map_or(Bson::Null, Bson::ObjectId);
    if chat.get("lastMessageId") != Some(&last_message) && !(options.dry_run && set.contains_key("lastSeq")) {
        set.insert("lastMessageId", last_message);
    }
    let participants: Vec<ObjectId> = match chat.get_array("participants") {
        Ok(list) => list.iter().filter_map(Bson::as_object_id).collect(),
        Err(_) => Vec::new(),
    };
    if !chat.contains_key("createdBy") {
        if let Some(first) = participants.first() {
            set.insert("createdBy", *first);
        }
    }
    let is_group = chat.get_bool("isGroup").ok();
    if is_group.is_none() {
        // Mongoose's default for the field; an older document may lack it.
        set.insert("isGroup", false);
    }
    let changed = !set.is_empty();
    if changed && !options.dry_run {
        raw.chats.update_one(doc! { "_id": id }, doc! { "$set": set }).await.store()?;
    }
    let keyed = is_group != Some(true) && key_direct_chat(raw, options, report, keys, &chat, id, &participants).await?;
    if changed || keyed {
        report.chats += 1;
    }
    Ok(())
}

/// What [`number_messages`] would do, for a dry run, from the survey.
fn count_messages(
    progress: &dyn MigrateProgress,
    report: &mut MigrationReport,
    stats: ChatStats,
) -> (i64, Option<ObjectId>) {
    report.message_seqs += stats.unnumbered;
    report.deleted_seqs += stats.undeleted;
    progress.advance(stats.unnumbered + stats.undeleted);
    let added = i64::try_from(stats.unnumbered + stats.undeleted).unwrap_or(i64::MAX);
    (stats.top.saturating_add(added), stats.newest.map(|(_, id)| id))
}

/// Numbers the chat's messages that lack a `seq`, in (createdAt, _id) order, after any the
/// chat already has; then gives each soft-deleted message lacking one a `deletedSeq`, in
/// (updatedAt, _id) order. One message at a time, in order, so an interrupted run leaves a
/// prefix numbered and the next run continues after it. Returns the chat's last seq and the
/// message holding the highest `seq`.
async fn number_messages(
    raw: &Raw,
    options: MigrateOptions,
    progress: &dyn MigrateProgress,
    report: &mut MigrationReport,
    chat: ObjectId,
) -> Result<(i64, Option<ObjectId>), StoreError> {
    let mut next = highest(raw, chat, "seq").await?.max(highest(raw, chat, "deletedSeq").await?) + 1;
    let steps = [
        ("seq", doc! { "chat": chat, "seq": { "$exists": false } }, doc! { "createdAt": 1, "_id": 1 }),
        (
            "deletedSeq",
            doc! { "chat": chat, "isDeleted": true, "deletedSeq": { "$exists": false } },
            doc! { "updatedAt": 1, "_id": 1 },
        ),
    ];
    for (field, filter, order) in steps {
        let mut numbered = 0;
        loop {
            let batch: Vec<Document> = raw
                .messages
                .find(filter.clone())
                .projection(doc! { "_id": 1 })
                .sort(order.clone())
                .limit(i64::from(options.batch_size))
                .await
                .store()?
                .try_collect()
                .await
                .store()?;
            if batch.is_empty() {
                break;
            }
            let mut updates = Vec::with_capacity(batch.len());
            for message in &batch {
                let id =
                    message.get_object_id("_id").map_err(|e| StoreError::other(format!("a message's _id: {e}")))?;
                updates.push(doc! {
                    "q": { "_id": id, field: { "$exists": false } },
                    "u": { "$set": { field: next } },
                });
                next += 1;
            }
            ordered_updates(raw, updates).await?;
            numbered += batch.len() as u64;
            progress.advance(batch.len() as u64);
        }
        match field {
            "seq" => report.message_seqs += numbered,
            _ => report.deleted_seqs += numbered,
        }
    }
    let newest = raw
        .messages
        .find_one(doc! { "chat": chat, "seq": { "$exists": true } })
        .projection(doc! { "_id": 1 })
        .sort(doc! { "seq": -1 })
        .await
        .store()?
        .and_then(|m| m.get_object_id("_id").ok());
    Ok((next - 1, newest))
}

/// Applies `updates` (one `update` command, one round trip) in order, stopping at the first
/// that fails: whatever happens, the messages numbered are a prefix of the batch, so the order
/// an interrupted run leaves is the order the next one continues.
async fn ordered_updates(raw: &Raw, updates: Vec<Document>) -> Result<(), StoreError> {
    let command = doc! {
        "update": raw.messages.name(),
        "updates": updates,
        "ordered": true,
        "writeConcern": { "w": "majority", "j": true, "wtimeout": 10_000 },
    };
    let reply = raw.db.run_command(command).await.store()?;
    for failure in ["writeErrors", "writeConcernError"] {
        if let Some(error) = reply.get(failure) {
            return Err(StoreError::other(format!("numbering messages failed: {error}")));
        }
    }
    Ok(())
}

/// The highest value of `field` among the chat's messages, 0 when none has it.
async fn highest(raw: &Raw, chat: ObjectId, field: &str) -> Result<i64, StoreError> {
    let top = raw
        .messages
        .find_one(doc! { "chat": chat, field: { "$exists": true } })
        .projection(doc! { field: 1 })
        .sort(doc! { field: -1 })
        .await
        .store()?;
    Ok(top.and_then(|m| int(&m, field)).unwrap_or(0))
}

/// Gives a non-group chat of two distinct users its `directKey`, unless the pair's key is
/// already held by another (older, since chats come in creation order) chat: then it is
/// reported as a duplicate and left unkeyed. True when it keyed the chat (or would).
async fn key_direct_chat(
    raw: &Raw,
    options: MigrateOptions,
    report: &mut MigrationReport,
    keys: &mut Keys,
    chat: &Document,
    id: ObjectId,
    participants: &[ObjectId],
) -> Result<bool, StoreError> {
    let users: Vec<UserId> = participants.iter().map(|p| UserId(Id::from_bytes(p.bytes()))).collect();
    let key = match (users.as_slice(), direct_key(&users)) {
        ([a, b], Some(key)) if a != b => key,
        _ => {
            report.not_direct.push(id.to_hex());
            return Ok(false);
        }
    };
    if chat.get_str("directKey").is_ok() {
        keys.insert(key, id);
        return Ok(false);
    }
    let holder = match keys.get(&key) {
        Some(holder) => Some(*holder),
        None => raw
            .chats
            .find_one(doc! { "directKey": &key })
            .projection(doc! { "_id": 1 })
            .await
            .store()?
            .and_then(|c| c.get_object_id("_id").ok()),
    };
    if let Some(kept) = holder {
        report.duplicate_directs.push(DuplicateDirect { kept: kept.to_hex(), duplicate: id.to_hex() });
        return Ok(false);
    }
    if !options.dry_run {
        let update = raw.chats.update_one(doc! { "_id": id }, doc! { "$set": { "directKey": &key } }).await;
        match update {
            Ok(_) => {}
            // Keyed meanwhile by another writer: a duplicate after all.
            Err(err) if is_duplicate_key(&err) => {
                let kept = raw.chats.find_one(doc! { "directKey": &key }).await.store()?;
                let kept = kept.and_then(|c| c.get_object_id("_id").ok()).map(|o| o.to_hex()).unwrap_or_default();
                report.duplicate_directs.push(DuplicateDirect { kept, duplicate: id.to_hex() });
                return Ok(false);
            }
            Err(err) => return Err(crate::error::store_error(err)),
        }
    }
    keys.insert(key, id);
    report.direct_keys += 1;
    Ok(true)
}
