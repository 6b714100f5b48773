//! Accounts: registration, login, authentication of access tokens and user lookup.

use std::sync::Arc;
use std::time::Duration;

use super::{Ports, ServicesConfig};
use crate::credentials;
use crate::error::{Error, Result};
use crate::id::UserId;
use crate::model::User;
use crate::ports::{InsertUserError, TokenClaims};
use crate::text::{Email, Password, Username, MAX_SEARCH_CHARS};
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
        let access_token = self.ports.tokens.issue(user.id, now)?;
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
        let access_token = self.ports.tokens.issue(user.id, self.ports.clock.now())?;
        Ok(Session { access_token, user })
    }

    /// The one authentication of every adapter: the token port checks the signature, then the
    /// token's times are judged on the domain's clock. `Unauthorized` for a token that is
    /// malformed, forged, expired or not yet valid. Does not touch the store.
    pub fn authenticate(&self, token: &str) -> Result<TokenClaims> {
        let claims = self.ports.tokens.decode(token).ok_or(Error::Unauthorized)?;
        self.lifetime_left(&claims).ok_or(Error::Unauthorized)?;
        Ok(claims)
    }

    /// How long an authenticated token has left now, on the domain's clock; `None` once it is
    /// dead. A connection that outlives its token is cut when this says so.
    pub fn lifetime_left(&self, claims: &TokenClaims) -> Option<Duration> {
        credentials::lifetime_left(claims, self.ports.clock.now())
    }

    /// The caller's own account; `Unauthorized` if it no longer exists.
    pub async fn me(&self, caller: UserId) -> Result<User> {
        self.ports.users.user_by_id(caller).await?.ok_or(Error::Unauthorized)
    }

    /// Users other than the caller whose username or email contains `needle`.
    pub async fn search(&self, caller: UserId, needle: &str) -> Result<Vec<User>> {
        let needle = needle.trim();
        if needle.chars().count() > MAX_SEARCH_CHARS {
            return Err(Error::invalid(format!("search must be at most {MAX_SEARCH_CHARS} characters")));
        }
        Ok(self.ports.users.search_users(needle, caller, self.config.user_search_limit).await?)
    }
}
