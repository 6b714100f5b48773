//! Users: `passwordHash` from the bcrypt `password`, and the email normalized as the domain
//! does (the original kept in `originalEmail`), unless another user has the normalized form.

use chat_domain::error::StoreError;
use chat_domain::Email;
use futures_util::TryStreamExt;
use mongodb::bson::{doc, Bson, Document};

use super::{MigrateOptions, MigrateProgress, MigrationReport, Raw};
use crate::error::DriverResultExt;

pub(super) async fn migrate(
    raw: &Raw,
    options: MigrateOptions,
    progress: &dyn MigrateProgress,
    report: &mut MigrationReport,
) -> Result<(), StoreError> {
    progress.stage("users", raw.users.count_documents(doc! {}).await.store()?);
    let projection = doc! { "email": 1, "password": 1, "passwordHash": 1 };
    let mut cursor = raw
        .users
        .find(doc! {})
        .projection(projection)
        .sort(doc! { "_id": 1 })
        .batch_size(options.batch_size)
        .await
        .store()?;
    while let Some(user) = cursor.try_next().await.store()? {
        let id = user.get_object_id("_id").map_err(|e| StoreError::other(format!("a user's _id: {e}")))?;
        let mut set = Document::new();
        password_hash(&user, &mut set, report, id.to_hex());
        normalized_email(raw, &user, &mut set, report, id.to_hex()).await?;
        if !set.is_empty() && !options.dry_run {
            raw.users.update_one(doc! { "_id": id }, doc! { "$set": set }).await.store()?;
        }
        progress.advance(1);
    }
    progress.finish();
    Ok(())
}

fn password_hash(user: &Document, set: &mut Document, report: &mut MigrationReport, id: String) {
    if user.contains_key("passwordHash") {
        return;
    }
    match user.get("password") {
        Some(Bson::String(bcrypt)) => {
            set.insert("passwordHash", bcrypt.clone());
            report.password_hashes += 1;
        }
        _ => report.users_left.push(format!("{id}: no password hash (cannot sign in)")),
    }
}

async fn normalized_email(
    raw: &Raw,
    user: &Document,
    set: &mut Document,
    report: &mut MigrationReport,
    id: String,
) -> Result<(), StoreError> {
    let Ok(stored) = user.get_str("email") else {
        report.users_left.push(format!("{id}: no email (cannot sign in)"));
        return Ok(());
    };
    let Ok(normalized) = Email::parse(stored) else {
        report.users_left.push(format!("{id}: email {stored:?} is not valid here (cannot sign in)"));
        return Ok(());
    };
    if normalized.as_str() == stored {
        return Ok(());
    }
    let taken = doc! { "email": normalized.as_str(), "_id": { "$ne": user.get("_id").cloned().unwrap_or(Bson::Null) } };
    if let Some(other) = raw.users.find_one(taken).projection(doc! { "_id": 1 }).await.store()? {
        let other = other.get_object_id("_id").map(|o| o.to_hex()).unwrap_or_default();
        report.users_left.push(format!(
            "{id}: email {stored:?} is {:?} once normalized, which user {other} has (cannot sign in)",
            normalized.as_str()
        ));
        return Ok(());
    }
    set.insert("email", normalized.as_str());
    set.insert("originalEmail", stored);
    report.emails_normalized += 1;
    Ok(())
}
