//! A dry run's view of the messages, from one scan of the collection: a dry run creates no
//! index, and without the `{chat, seq}` index every per-chat query would scan it again.

use std::collections::HashMap;

use chat_domain::error::StoreError;
use futures_util::TryStreamExt;
use mongodb::bson::doc;
use mongodb::bson::oid::ObjectId;

use super::{int, Raw};
use crate::error::DriverResultExt;

/// What numbering a chat's messages would do.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct ChatStats {
    /// Messages without `seq`.
    pub unnumbered: u64,
    /// Soft-deleted messages without `deletedSeq`.
    pub undeleted: u64,
    /// The highest `seq` or `deletedSeq` already given.
    pub top: i64,
    /// The message with the highest `seq` already given.
    pub newest: Option<(i64, ObjectId)>,
}

/// The stats of every chat that has messages, by chat id.
pub(super) async fn survey(raw: &Raw, batch_size: u32) -> Result<HashMap<ObjectId, ChatStats>, StoreError> {
    let mut stats: HashMap<ObjectId, ChatStats> = HashMap::new();
    let projection = doc! { "chat": 1, "seq": 1, "deletedSeq": 1, "isDeleted": 1 };
    let mut cursor =
        raw.messages.find(doc! {}).projection(projection).batch_size(batch_size.max(1000)).await.store()?;
    while let Some(message) = cursor.try_next().await.store()? {
        let (Ok(chat), Ok(id)) = (message.get_object_id("chat"), message.get_object_id("_id")) else {
            continue;
        };
        let entry = stats.entry(chat).or_default();
        match int(&message, "seq") {
            Some(seq) => {
                entry.top = entry.top.max(seq);
                if entry.newest.is_none_or(|(top, _)| seq > top) {
                    entry.newest = Some((seq, id));
                }
            }
            None => entry.unnumbered += 1,
        }
        match int(&message, "deletedSeq") {
            Some(seq) => entry.top = entry.top.max(seq),
            None if message.get_bool("isDeleted").unwrap_or(false) => entry.undeleted += 1,
            None => {}
        }
    }
    Ok(stats)
}
