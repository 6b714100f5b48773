//! `UserRepository` on the `users` collection.

use async_trait::async_trait;
use chat_domain::error::StoreError;
use chat_domain::model::{PasswordHash, User};
use chat_domain::ports::{InsertUserError, UserRepository};
use chat_domain::{Email, Timestamp, UserId};
use futures_util::TryStreamExt;
use mongodb::bson::{doc, Bson, Document};
use mongodb::options::ReturnDocument;

use crate::documents::{bson_time, domain_time, id, user_oid, UserDoc};
use crate::error::{is_duplicate_key, store_error, DriverResultExt};
use crate::store::MongoStore;

#[async_trait]
impl UserRepository for MongoStore {
    async fn insert_user(&self, user: &User) -> Result<(), InsertUserError> {
        match self.users.insert_one(UserDoc::from(user)).await {
            Ok(_) => Ok(()),
            // The unique index on `email` decides, so two concurrent inserts cannot both pass.
            Err(err) if is_duplicate_key(&err) => Err(InsertUserError::EmailTaken),
            Err(err) => Err(InsertUserError::Store(store_error(err))),
        }
    }

    async fn user_by_id(&self, id: UserId) -> Result<Option<User>, StoreError> {
        let found = self.users.find_one(doc! { "_id": user_oid(id) }).await.store()?;
        found.map(User::try_from).transpose()
    }

    async fn user_by_email(&self, email: &Email) -> Result<Option<User>, StoreError> {
        let found = self.users.find_one(doc! { "email": email.as_str() }).await.store()?;
        found.map(User::try_from).transpose()
    }

    async fn users_by_ids(&self, ids: &[UserId]) -> Result<Vec<User>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<_> = ids.iter().map(|id| user_oid(*id)).collect();
        let docs: Vec<UserDoc> =
            self.users.find(doc! { "_id": { "$in": ids } }).await.store()?.try_collect().await.store()?;
        docs.into_iter().map(User::try_from).collect()
    }

    async fn search_users<'a>(
        &self,
        needle: &str,
        exact_email: Option<&'a Email>,
        exclude: UserId,
        limit: usize,
    ) -> Result<Vec<User>, StoreError> {
        // A limit of 0 means "no limit" to MongoDB; to the port it means nothing.
        if limit == 0 {
            return Ok(Vec::new());
        }
        let filter = search_filter(needle, exact_email, exclude);
        let docs: Vec<UserDoc> = self
            .users
            .find(filter)
            .sort(doc! { "username": 1, "_id": 1 })
            .limit(i64::try_from(limit).unwrap_or(i64::MAX))
            .await
            .store()?
            .try_collect()
            .await
            .store()?;
        docs.into_iter().map(User::try_from).collect()
    }

    async fn token_version(&self, id: UserId) -> Result<Option<u64>, StoreError> {
        // On every authenticated request: a point lookup on `_id`, one field back.
        let found = self
            .users
            .clone_with_type::<Document>()
            .find_one(doc! { "_id": user_oid(id) })
            .projection(doc! { TOKEN_VERSION: 1 })
            .await
            .store()?;
        Ok(found.as_ref().map(stored_version))
    }

    async fn revoke_tokens(&self, id: UserId) -> Result<Option<u64>, StoreError> {
        let updated = self
            .users
            .clone_with_type::<Document>()
            .find_one_and_update(doc! { "_id": user_oid(id) }, doc! { "$inc": { TOKEN_VERSION: 1_i64 } })
            .projection(doc! { TOKEN_VERSION: 1 })
            .return_document(ReturnDocument::After)
            .await
            .store()?;
        Ok(updated.as_ref().map(stored_version))
    }

    async fn record_last_seen(&self, user: UserId, at: Timestamp) -> Result<(), StoreError> {
        // Set only over an older time (or none): a report that arrives late changes nothing.
        // A filter rather than `$max`, which every server of the wire protocol we run on knows.
        let at = bson_time(at);
        let filter = doc! {
            "_id": user_oid(user),
            "$or": [{ LAST_SEEN_AT: { "$exists": false } }, { LAST_SEEN_AT: null }, { LAST_SEEN_AT: { "$lt": at } }],
        };
        self.users.update_one(filter, doc! { "$set": { LAST_SEEN_AT: at } }).await.store()?;
        Ok(())
    }

    async fn last_seen(&self, users: &[UserId]) -> Result<Vec<(UserId, Timestamp)>, StoreError> {
        if users.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<_> = users.iter().map(|id| user_oid(*id)).collect();
        let docs: Vec<Document> = self
            .users
            .clone_with_type::<Document>()
            .find(doc! { "_id": { "$in": ids } })
            .projection(doc! { LAST_SEEN_AT: 1 })
            .await
            .store()?
            .try_collect()
            .await
            .store()?;
        let mut found = Vec::new();
        for doc in docs {
            if let (Ok(oid), Ok(at)) = (doc.get_object_id("_id"), doc.get_datetime(LAST_SEEN_AT)) {
                found.push((UserId(id(oid)), domain_time(*at)?));
            }
        }
        Ok(found)
    }

    async fn replace_password_hash(
        &self,
        id: UserId,
        current: &PasswordHash,
        new: &PasswordHash,
    ) -> Result<bool, StoreError> {
        // Compare and set in one update: a hash changed since it was read stays. The previous
        // backend's `password` field (if any) is left alone: see docs/migration.md.
        let filter = doc! { "_id": user_oid(id), "passwordHash": current.0.as_str() };
        let result =
            self.users.update_one(filter, doc! { "$set": { "passwordHash": new.0.as_str() } }).await.store()?;
        Ok(result.matched_count == 1)
    }
}

/// The field of a user document holding its token version; absent (users stored before it
/// existed, and new users) means 0.
const TOKEN_VERSION: &str = "tokenVersion";

/// The token version of a user document: absent or not a non-negative integer reads as 0.
/// The user document's field holding when their last socket closed (absent until recorded).
const LAST_SEEN_AT: &str = "lastSeenAt";

fn stored_version(user: &Document) -> u64 {
    match user.get(TOKEN_VERSION) {
        Some(Bson::Int64(v)) => u64::try_from(*v).unwrap_or(0),
        Some(Bson::Int32(v)) => u64::try_from(*v).unwrap_or(0),
        _ => 0,
    }
}

/// Users other than `exclude` whose username contains `needle` or whose (normalized, so
/// compared by equality) email is `exact_email`. The email is never matched by a regex: a search
/// must not reveal addresses by their parts.
fn search_filter(needle: &str, exact_email: Option<&Email>, exclude: UserId) -> Document {
    let mut filter = doc! { "_id": { "$ne": user_oid(exclude) } };
    // An empty needle matches every username, so the email condition adds nothing then.
    if !needle.is_empty() {
        let mut either = vec![doc! { "username": { "$regex": literal_pattern(needle) } }];
        if let Some(email) = exact_email {
            either.push(doc! { "email": email.as_str() });
        }
        filter.insert("$or", either);
    }
    filter
}

/// A regular expression matching `needle` literally anywhere, ignoring ASCII case only.
///
/// Every ASCII letter becomes a class of its two cases (`a` → `[aA]`) instead of using the `i`
/// flag, whose Unicode case folding would match more than the port allows. Every other ASCII
/// character that is not a digit is escaped with a backslash (literal in PCRE, which MongoDB
/// uses, and in every other common dialect), and control characters are written as `\xHH`
/// (a regex may not hold a NUL byte). Nothing the user types can act as a metacharacter.
pub(crate) fn literal_pattern(needle: &str) -> String {
    let mut pattern = String::with_capacity(needle.len() * 4);
    for c in needle.chars() {
        if c.is_ascii_alphabetic() {
            pattern.push('[');
            pattern.push(c.to_ascii_lowercase());
            pattern.push(c.to_ascii_uppercase());
            pattern.push(']');
        } else if c.is_control() {
            // Unicode's control characters all lie below U+0100.
            pattern.push_str(&format!("\\x{:02x}", u32::from(c)));
        } else if c.is_ascii_digit() || !c.is_ascii() {
            pattern.push(c);
        } else {
            pattern.push('\\');
            pattern.push(c);
        }
    }
    pattern
}

#[cfg(test)]
mod tests {
    use super::literal_pattern;

    #[test]
    fn letters_match_either_ascii_case() {
        assert_eq!(literal_pattern("Al9"), "[aA][lL]9");
    }

    #[test]
    fn metacharacters_are_escaped() {
        assert_eq!(literal_pattern(".*+?^$()[]{}|\\/-#"), "\\.\\*\\+\\?\\^\\$\\(\\)\\[\\]\\{\\}\\|\\\\\\/\\-\\#");
        assert_eq!(literal_pattern("a b"), "[aA]\\ [bB]");
    }

    #[test]
    fn non_ascii_stays_literal_and_controls_are_hex() {
        assert_eq!(literal_pattern("é\u{0}\u{7f}"), "é\\x00\\x7f");
    }
}
