//! Accounts: registration, login, authentication of access tokens and user lookup.
//!
//! Registration and login are the two use cases a stranger can make expensive (each costs one
//! argon2 hash), so they are guarded, in this order: the input is validated (free); the attempt
//! is counted against its client address and the email it names, and refused with
//! `RateLimited` past either budget ([`AttemptLimiter`]); registration looks the email up and
//! answers `Conflict` without hashing; login does exactly one argon2 verification whether or not
//! the email exists (against a dummy hash for an unknown one), so timing does not tell which
//! emails have accounts.

use std::net::{IpAddr, Ipv6Addr};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use super::{Ports, Services, ServicesConfig};
use crate::credentials;
use crate::error::{Error, Result, StoreError};
use crate::event::DomainEvent;
use crate::id::UserId;
use crate::model::{PasswordHash, User};
use crate::ports::{AttemptKey, AttemptLimiter, HashingBusy, InsertUserError, NoAttemptLimit, TokenClaims};
use crate::security_log::{Incident, SecurityLog, Source};
use crate::text::{Email, Password, Username, MAX_SEARCH_CHARS};
use crate::time::id_seconds;

/// Most users one search returns, whatever the configuration asks for: enough to pick a chat
/// partner from, too few to page through the user list.
pub const MAX_SEARCH_RESULTS: usize = 20;

/// What registration answers for an email that has an account already.
pub const EMAIL_TAKEN: &str = "email already registered";

/// The password behind the dummy hash. No account can have it as its hash (hashes are salted),
/// and a match against the dummy is still refused, so it need not be secret.
const DUMMY_PASSWORD: &str = "no account has this password";

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
    attempts: Arc<dyn AttemptLimiter>,
    /// The hash an unknown email's login is verified against, computed once.
    dummy: Arc<OnceLock<PasswordHash>>,
    security: SecurityLog,
}

impl Services {
    /// Counts registration and login attempts with `limiter` (without one, nothing is counted).
    /// Lives here rather than in [`Ports`] because only accounts use it.
    pub fn with_attempt_limiter(mut self, limiter: Arc<dyn AttemptLimiter>) -> Self {
        self.auth.attempts = limiter;
        self
    }
}

impl AuthService {
    pub(super) fn new(ports: Ports, config: Arc<ServicesConfig>, security: SecurityLog) -> Self {
        Self { ports, config, attempts: Arc::new(NoAttemptLimit), dummy: Arc::default(), security }
    }

    /// Computes the dummy hash now (one argon2 hash), so that no login pays for it later. Call
    /// once at startup; without it the first login naming an unknown email computes it instead.
    pub async fn prepare(&self) -> Result<()> {
        self.dummy_hash().await.map(drop)
    }

    /// Creates an account and signs it in. `Conflict` when the email is taken. For callers that
    /// know no client address; see [`register_from`](Self::register_from).
    pub async fn register(&self, email: &str, username: &str, password: &str) -> Result<Session> {
        self.register_from(None, email, username, password).await
    }

    /// Creates an account and signs it in, for a client at `client` (when known). `Invalid` for
    /// bad input, `RateLimited` past the attempt budgets, `Conflict` when the email is taken
    /// (found before any hashing), `Unavailable` when hashing is saturated.
    pub async fn register_from(
        &self,
        client: Option<IpAddr>,
        email: &str,
        username: &str,
        password: &str,
    ) -> Result<Session> {
        let email = Email::parse(email)?;
        let username = Username::parse(username)?;
        let password = Password::parse(password)?;
        self.admit(client, &email).await?;
        if self.ports.users.user_by_email(&email).await?.is_some() {
            return Err(Error::Conflict(EMAIL_TAKEN.into()));
        }
        let hash = self.ports.hasher.hash(&password).await.map_err(hashing_failed)?;
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
            // Another registration of the same email won the race since the lookup.
            Err(InsertUserError::EmailTaken) => return Err(Error::Conflict(EMAIL_TAKEN.into())),
            Err(InsertUserError::Store(e)) => return Err(e.into()),
        }
        // A new account's token version is 0: nothing of it was ever revoked.
        let access_token = self.ports.tokens.issue(user.id, 0, now)?;
        Ok(Session { access_token, user })
    }

    /// Signs in with email and password, for a caller that knows no client address; see
    /// [`login_from`](Self::login_from).
    pub async fn login(&self, email: &str, password: &str) -> Result<Session> {
        self.login_from(None, email, password).await
    }

    /// Signs in with email and password, for a client at `client` (when known).
    /// `InvalidCredentials` for an unknown email or a wrong password alike, after the same work
    /// (one argon2 verification), so neither the answer nor its timing tells which emails
    /// exist. `RateLimited` past the attempt budgets, `Unavailable` when hashing is saturated.
    /// Passwords shorter than today's minimum still sign in (older accounts have them).
    pub async fn login_from(&self, client: Option<IpAddr>, email: &str, password: &str) -> Result<Session> {
        let (Ok(email), Ok(password)) = (Email::parse(email), Password::presented(password)) else {
            return Err(Error::InvalidCredentials);
        };
        self.admit(client, &email).await?;
        let Some(user) = self.ports.users.user_by_email(&email).await? else {
            self.verify_dummy(&password).await?;
            self.security.record(Incident::FailedLogin, Source::of(client, None));
            return Err(Error::InvalidCredentials);
        };
        if !self.ports.hasher.try_verify(&password, &user.password_hash).await.map_err(hashing_failed)? {
            self.security.record(Incident::FailedLogin, Source::of(client, None));
            return Err(Error::InvalidCredentials);
        }
        let user = self.upgrade_hash(user, &password).await;
        // The version read after the password checked out: a logout that completed before
        // this point has moved it, so the new token survives it.
        let Some(version) = self.ports.users.token_version(user.id).await? else {
            return Err(Error::InvalidCredentials);
        };
        let access_token = self.ports.tokens.issue(user.id, version, self.ports.clock.now())?;
        Ok(Session { access_token, user })
    }

    /// After a successful login with a hash of an older scheme (say bcrypt, from the previous
    /// backend's data), stores a hash of today's scheme. The login succeeds whatever happens
    /// here: a failure to hash or to store is logged, and the old hash keeps working.
    async fn upgrade_hash(&self, mut user: User, password: &Password) -> User {
        if !self.ports.hasher.needs_rehash(&user.password_hash) {
            return user;
        }
        let new = match self.ports.hasher.hash(password).await {
            Ok(new) => new,
            Err(err) => {
                tracing::warn!(user = %user.id, error = %err, "could not rehash an old password hash");
                return user;
            }
        };
        match self.ports.users.replace_password_hash(user.id, &user.password_hash, &new).await {
            Ok(true) => user.password_hash = new,
            Ok(false) => tracing::info!(user = %user.id, "password hash changed meanwhile; not rehashed"),
            Err(err) => tracing::warn!(user = %user.id, error = %err, "could not store a rehashed password"),
        }
        user
    }

    /// Counts one attempt against each key it names: the client address first, then the email.
    /// The first refusal ends it (later keys are not charged).
    async fn admit(&self, client: Option<IpAddr>, email: &Email) -> Result<()> {
        let keys =
            client.map(|ip| AttemptKey::Address(address_key(ip))).into_iter().chain([AttemptKey::Email(email.clone())]);
        for key in keys {
            if let Err(refused) = self.attempts.acquire(&key).await {
                self.security.record(Incident::AttemptLimited, Source::of(client, None));
                return Err(Error::RateLimited { retry_after: refused.retry_after });
            }
        }
        Ok(())
    }

    /// The work a login for an unknown email does instead of checking a real hash: one argon2
    /// verification against the dummy hash or, before the dummy exists, the one hash that
    /// makes it.
    async fn verify_dummy(&self, password: &Password) -> Result<()> {
        match self.dummy.get() {
            Some(dummy) => self.ports.hasher.try_verify(password, dummy).await.map(drop).map_err(hashing_failed),
            None => self.dummy_hash().await.map(drop),
        }
    }

    async fn dummy_hash(&self) -> Result<&PasswordHash> {
        if let Some(dummy) = self.dummy.get() {
            return Ok(dummy);
        }
        let password = Password::presented(DUMMY_PASSWORD)?;
        let hash = self.ports.hasher.hash(&password).await.map_err(hashing_failed)?;
        // Two first calls racing both hash; either result serves, the first one set stays.
        Ok(self.dummy.get_or_init(|| hash))
    }

    /// The one authentication of every adapter (HTTP requests and socket connects), for a
    /// caller that knows no client address; see [`authenticate_from`](Self::authenticate_from).
    pub async fn authenticate(&self, token: &str) -> Result<TokenClaims> {
        self.authenticate_from(None, token).await
    }

    /// The one authentication of every adapter: the token port checks the signature, the
    /// token's times are judged on the domain's clock, then its user must exist and its
    /// version must be the user's current token version (a logout moves it past every token
    /// issued before). `Unauthorized` for a token that is malformed, forged, expired, not yet
    /// valid, revoked, or whose user does not exist; `Unavailable` when the store does not
    /// answer. One point lookup in the store (the token version).
    pub async fn authenticate_from(&self, client: Option<IpAddr>, token: &str) -> Result<TokenClaims> {
        let claims = self.ports.tokens.decode(token).ok_or(Error::Unauthorized)?;
        self.lifetime_left(&claims).ok_or(Error::Unauthorized)?;
        match self.ports.users.token_version(claims.user).await? {
            Some(current) if current == claims.version => Ok(claims),
            Some(_) => {
                self.security.revoked_token(client, claims.user);
                Err(Error::Unauthorized)
            }
            None => Err(Error::Unauthorized),
        }
    }

    /// Logs the caller out everywhere: every token issued to it until now stops working, on
    /// every node, and its open sockets are disconnected ([`DomainEvent::TokensRevoked`]). A
    /// login after it, even within the same second, gets a working token (tokens carry the
    /// user's token version, not only their issue time). `Unauthorized` if the account no
    /// longer exists.
    pub async fn logout(&self, caller: UserId) -> Result<()> {
        self.ports.users.revoke_tokens(caller).await?.ok_or(Error::Unauthorized)?;
        self.ports.notifier.publish(DomainEvent::TokensRevoked { user: caller }).await;
        Ok(())
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

    /// At most [`MAX_SEARCH_RESULTS`] users other than the caller whose username contains
    /// `needle` (ignoring case), or whose email equals it (ignoring case). Emails are matched
    /// whole only, so a search finds someone whose address the caller already knows but never
    /// reveals addresses by their parts. `Invalid` for a needle too long, `RateLimited` past
    /// the caller's search budget ([`AttemptKey::Search`]), checked before the store is asked.
    pub async fn search(&self, caller: UserId, needle: &str) -> Result<Vec<User>> {
        let needle = needle.trim();
        if needle.chars().count() > MAX_SEARCH_CHARS {
            return Err(Error::invalid(format!("search must be at most {MAX_SEARCH_CHARS} characters")));
        }
        if let Err(refused) = self.attempts.acquire(&AttemptKey::Search(caller)).await {
            self.security.record(Incident::UserLimited, Source::User(caller));
            return Err(Error::RateLimited { retry_after: refused.retry_after });
        }
        // A needle that is no email simply matches no email.
        let exact_email = Email::parse(needle).ok();
        let limit = self.config.user_search_limit.min(MAX_SEARCH_RESULTS);
        Ok(self.ports.users.search_users(needle, exact_email.as_ref(), caller, limit).await?)
    }
}

/// The address an attempt is counted against: IPv4 as it is (also when written IPv4-mapped),
/// IPv6 by its /64 network, since one IPv6 client commonly has a whole /64 to pick from.
pub fn address_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & !u128::from(u64::MAX))),
        },
    }
}

/// A hasher's failure as the services answer it. Saturation is expected under a flood and
/// answered `Unavailable` quietly (the hasher counts and logs it); anything else is logged.
fn hashing_failed(err: StoreError) -> Error {
    match &err {
        StoreError::Unavailable(inner) if inner.is::<HashingBusy>() => Error::Unavailable,
        _ => err.into(),
    }
}

#[cfg(test)]
#[path = "auth_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "rehash_tests.rs"]
mod rehash_tests;
