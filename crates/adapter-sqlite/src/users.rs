//! `UserRepository` on SQLite: the email's UNIQUE constraint decides who gets an address.

use async_trait::async_trait;
use chat_domain::error::StoreError;
use chat_domain::model::PasswordHash;
use chat_domain::ports::{InsertUserError, UserRepository};
use chat_domain::{Email, Timestamp, User, UserId};
use rusqlite::{params, OptionalExtension};

use crate::rows::{self, millis, user_columns, Key};
use crate::versions::Scope;
use crate::SqliteStore;

const USER_BY_ID: &str = concat!("SELECT ", user_columns!(), " FROM users u WHERE u.id = ?1");

/// Clamps a count to SQLite's LIMIT range (a negative LIMIT would mean no limit at all).
pub(crate) fn sql_limit(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

#[async_trait]
impl UserRepository for SqliteStore {
    async fn insert_user(&self, user: &User) -> Result<(), InsertUserError> {
        let user = user.clone();
        let scope = Scope::User(user.id);
        let inserted = self
            .write_in(scope, move |conn| {
                // A taken email is a normal outcome, not an error: the conflict clause turns it
                // into "no row inserted", and races are settled by the UNIQUE index.
                let sql = "INSERT INTO users (id, email, username, password_hash, created_at, updated_at)
                           VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (email) DO NOTHING";
                let changed = conn.prepare_cached(sql)?.execute(params![
                    user.id.key(),
                    user.email.as_str(),
                    user.username.as_str(),
                    user.password_hash.0,
                    millis(user.created_at),
                    millis(user.updated_at),
                ])?;
                Ok(changed == 1)
            })
            .await?;
        if inserted {
            Ok(())
        } else {
            Err(InsertUserError::EmailTaken)
        }
    }

    async fn user_by_id(&self, id: UserId) -> Result<Option<User>, StoreError> {
        self.read(move |conn| Ok(conn.prepare_cached(USER_BY_ID)?.query_row([id.key()], rows::user).optional()?)).await
    }

    async fn user_by_email(&self, email: &Email) -> Result<Option<User>, StoreError> {
        let email = email.as_str().to_owned();
        self.read(move |conn| {
            const BY_EMAIL: &str = concat!("SELECT ", user_columns!(), " FROM users u WHERE u.email = ?1");
            Ok(conn.prepare_cached(BY_EMAIL)?.query_row([email], rows::user).optional()?)
        })
        .await
    }

    async fn users_by_ids(&self, ids: &[UserId]) -> Result<Vec<User>, StoreError> {
        let mut ids = ids.to_vec();
        ids.sort_unstable();
        ids.dedup();
        self.read(move |conn| {
            // At most a chat's worth of ids: point lookups on the primary key, one snapshot.
            let tx = conn.transaction()?;
            let mut found = Vec::with_capacity(ids.len());
            {
                let mut stmt = tx.prepare_cached(USER_BY_ID)?;
                for id in ids {
                    if let Some(user) = stmt.query_row([id.key()], rows::user).optional()? {
                        found.push(user);
                    }
                }
            }
            tx.finish()?;
            Ok(found)
        })
        .await
    }

    async fn search_users<'a>(
        &self,
        needle: &str,
        exact_email: Option<&'a Email>,
        exclude: UserId,
        limit: usize,
    ) -> Result<Vec<User>, StoreError> {
        // SQLite's lower() folds ASCII only, which is what the port asks for; instr() takes the
        // needle literally (LIKE would give `%` and `_` a meaning), and instr(x, '') is 1.
        // Emails are stored normalized, so the exact match is plain equality, and a NULL
        // (no email asked for) equals nothing.
        let needle = needle.to_ascii_lowercase();
        let email = exact_email.map(|e| e.as_str().to_owned());
        self.read_long(move |conn| {
            const SEARCH: &str = concat!(
                "SELECT ",
                user_columns!(),
                " FROM users u
                 WHERE u.id <> ?1 AND (instr(lower(u.username), ?2) > 0 OR u.email = ?3)
                 ORDER BY u.username, u.id
                 LIMIT ?4"
            );
            let mut stmt = conn.prepare_cached(SEARCH)?;
            let found = stmt.query_map(params![exclude.key(), needle, email, sql_limit(limit)], rows::user)?;
            Ok(found.collect::<rusqlite::Result<Vec<User>>>()?)
        })
        .await
    }

    async fn token_version(&self, id: UserId) -> Result<Option<u64>, StoreError> {
        // On every authenticated request: a point lookup on the key, kept in memory until the
        // user's row is written to.
        self.cached(
            |c| &c.tokens,
            id,
            |v| v.user(id),
            move |conn| {
                const VERSION: &str = "SELECT token_version FROM users WHERE id = ?1";
                let version: Option<i64> =
                    conn.prepare_cached(VERSION)?.query_row([id.key()], |row| row.get(0)).optional()?;
                Ok(version.map(stored_version))
            },
        )
        .await
    }

    async fn revoke_tokens(&self, id: UserId) -> Result<Option<u64>, StoreError> {
        self.write_in(Scope::User(id), move |conn| {
            const REVOKE: &str =
                "UPDATE users SET token_version = token_version + 1 WHERE id = ?1 RETURNING token_version";
            let version: Option<i64> =
                conn.prepare_cached(REVOKE)?.query_row([id.key()], |row| row.get(0)).optional()?;
            Ok(version.map(stored_version))
        })
        .await
    }

    async fn record_last_seen(&self, user: UserId, at: Timestamp) -> Result<(), StoreError> {
        self.write_in(Scope::User(user), move |conn| {
            // max() in the statement: a report older than the stored time changes nothing.
            let sql = "UPDATE users SET last_seen_at = max(coalesce(last_seen_at, ?2), ?2) WHERE id = ?1";
            conn.prepare_cached(sql)?.execute(params![user.key(), millis(at)])?;
            Ok(())
        })
        .await
    }

    async fn last_seen(&self, users: &[UserId]) -> Result<Vec<(UserId, Timestamp)>, StoreError> {
        let mut users = users.to_vec();
        users.sort_unstable();
        users.dedup();
        self.read_long(move |conn| {
            let sql = "SELECT last_seen_at FROM users WHERE id = ?1 AND last_seen_at IS NOT NULL";
            let mut stmt = conn.prepare_cached(sql)?;
            let mut found = Vec::new();
            for user in users {
                if let Some(at) = stmt.query_row([user.key()], |row| rows::time(row, 0)).optional()? {
                    found.push((user, at));
                }
            }
            Ok(found)
        })
        .await
    }

    async fn replace_password_hash(
        &self,
        id: UserId,
        current: &PasswordHash,
        new: &PasswordHash,
    ) -> Result<bool, StoreError> {
        let (current, new) = (current.0.clone(), new.0.clone());
        self.write_in(Scope::User(id), move |conn| {
            // Compare and set in one statement: a hash changed since it was read stays.
            let sql = "UPDATE users SET password_hash = ?3 WHERE id = ?1 AND password_hash = ?2";
            Ok(conn.prepare_cached(sql)?.execute(params![id.key(), current, new])? == 1)
        })
        .await
    }
}

/// A stored token version; the column's CHECK keeps it non-negative.
fn stored_version(version: i64) -> u64 {
    u64::try_from(version).unwrap_or(0)
}
