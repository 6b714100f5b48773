//! Accounts: registration, login, token verification and user lookup.

use std::sync::Arc;

use super::{Ports, ServicesConfig};
use crate::error::{Error, Result};
use crate::id::UserId;
use crate::model::User;
use crate::ports::{InsertUserError, TokenClaims};
use crate::text::{Email, Password, Username};
use crate::time::id_seconds;

/// A signed-in user and the access token that proves it.
#[derive(Debug, Clone)]
pub struct Session {
    pub access_token: String,
    pub user: User,
}

#[derive(Clone)]
pub struct AuthService {
    ports: Ports,
    config: Arc<ServicesConfig>,
}

impl AuthService {
    pub(super) fn new(ports: Ports, config: Arc<ServicesConfig>) -> Self {
        Self { ports, config }
    }

    /// Creates an account and signs it in. `Conflict` when the email is taken.
    pub async fn register(&self, email: &str, username: &str, password: &str) -> Result<Session> {
        let email = Email::parse(email)?;
        let username = Username::parse(username)?;
        let password = Password::parse(password)?;
        let hash = self.ports.hasher.hash(&password).await?;
        let now = self.ports.clock.now();
        let user = User {
            id: UserId::generate(id_seconds(now)),
            email,
            username,
            password_hash: hash,
            created_at: now,
            updated_at: now,
        };
        match self.ports.users.insert_user(&user).await {
            Ok(()) => {}
            Err(InsertUserError::EmailTaken) => return Err(Error::Conflict("email already registered".into())),
            Err(InsertUserError::Store(e)) => return Err(e.into()),
        }
        let access_token = self.ports.tokens.issue(user.id)?;
        Ok(Session { access_token, user })
    }

    /// Signs in with email and password. `InvalidCredentials` for an unknown email or a wrong
    /// password alike, so the answer does not tell which emails exist.
    pub async fn login(&self, email: &str, password: &str) -> Result<Session> {
        let (Ok(email), Ok(password)) = (Email::parse(email), Password::parse(password)) else {
            return Err(Error::InvalidCredentials);
        };
        let Some(user) = self.ports.users.user_by_email(&email).await? else {
            return Err(Error::InvalidCredentials);
        };
        if !self.ports.hasher.verify(&password, &user.password_hash).await {
            return Err(Error::InvalidCredentials);
        }
        let access_token = self.ports.tokens.issue(user.id)?;
        Ok(Session { access_token, user })
    }

    /// Checks an access token's signature and expiry. Does not touch the store.
    pub fn verify_token(&self, token: &str) -> Result<TokenClaims> {
        self.ports.tokens.verify(token).ok_or(Error::Unauthorized)
    }

    /// The caller's own account; `Unauthorized` if it no longer exists.
    pub async fn me(&self, caller: UserId) -> Result<User> {
        self.ports.users.user_by_id(caller).await?.ok_or(Error::Unauthorized)
    }

    /// Users other than the caller whose username or email contains `needle`.
    pub async fn search(&self, caller: UserId, needle: &str) -> Result<Vec<User>> {
        let needle = needle.trim();
        if needle.chars().count() > 100 {
            return Err(Error::invalid("search must be at most 100 characters"));
        }
        Ok(self.ports.users.search_users(needle, caller, self.config.user_search_limit).await?)
    }
}
