//! Credentials: argon2id password hashing and HS256 JWT access tokens, implementing the
//! domain's `PasswordHasher` and `TokenService` ports.

use std::time::Duration;

use argon2::password_hash::{
    rand_core::OsRng, PasswordHash as PhcHash, PasswordHasher as _, PasswordVerifier as _, SaltString,
};
use argon2::Argon2;
use async_trait::async_trait;
use chat_domain::error::StoreError;
use chat_domain::model::PasswordHash;
use chat_domain::ports::{PasswordHasher, TokenClaims, TokenService};
use chat_domain::{Password, UserId};
use chrono::{TimeZone, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

/// Least number of bytes a configured signing secret must have.
pub const MIN_SECRET_BYTES: usize = 32;

/// Hashes with argon2id (the crate's default parameters) on the blocking thread pool, so a
/// burst of logins never stalls the async workers.
#[derive(Debug, Default, Clone)]
pub struct Argon2Hasher;

#[async_trait]
impl PasswordHasher for Argon2Hasher {
    async fn hash(&self, password: &Password) -> Result<PasswordHash, StoreError> {
        let password = password.clone();
        let phc = tokio::task::spawn_blocking(move || {
            let salt = SaltString::generate(&mut OsRng);
            Argon2::default()
                .hash_password(password.expose().as_bytes(), &salt)
                .map(|h| h.to_string())
                .map_err(|e| StoreError::other(e.to_string()))
        })
        .await
        .map_err(StoreError::other)??;
        Ok(PasswordHash(phc))
    }

    async fn verify(&self, password: &Password, hash: &PasswordHash) -> bool {
        let password = password.clone();
        let hash = hash.0.clone();
        tokio::task::spawn_blocking(move || {
            let Ok(parsed) = PhcHash::new(&hash) else {
                return false;
            };
            Argon2::default().verify_password(password.expose().as_bytes(), &parsed).is_ok()
        })
        .await
        .unwrap_or(false)
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    iat: i64,
    exp: i64,
}

/// Issues and verifies HS256 JWTs with `sub` = user id and an `exp`.
#[derive(Clone)]
pub struct JwtTokens {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    ttl: Duration,
}

impl std::fmt::Debug for JwtTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtTokens").field("ttl", &self.ttl).finish_non_exhaustive()
    }
}

impl JwtTokens {
    pub fn new(secret: &[u8], ttl: Duration) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "sub"]);
        Self { encoding: EncodingKey::from_secret(secret), decoding: DecodingKey::from_secret(secret), validation, ttl }
    }

    /// A fresh random secret, for a process started without one.
    pub fn random_secret() -> Vec<u8> {
        (0..64).map(|_| rand::random::<u8>()).collect()
    }
}

impl TokenService for JwtTokens {
    fn issue(&self, user: UserId) -> Result<String, StoreError> {
        let now = Utc::now().timestamp();
        let ttl = i64::try_from(self.ttl.as_secs()).unwrap_or(i64::MAX / 2);
        let claims = Claims { sub: user.to_string(), iat: now, exp: now.saturating_add(ttl) };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding).map_err(StoreError::other)
    }

    fn verify(&self, token: &str) -> Option<TokenClaims> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation).ok()?;
        // The library compares whole seconds and accepts `exp == now`; a token is dead from
        // its `exp` second on, for HTTP and the gateway alike.
        if data.claims.exp <= Utc::now().timestamp() {
            return None;
        }
        let user = UserId::parse(&data.claims.sub).ok()?;
        let expires_at = Utc.timestamp_opt(data.claims.exp, 0).single()?;
        Some(TokenClaims { user, expires_at })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(ttl: u64) -> JwtTokens {
        JwtTokens::new(b"0123456789abcdef0123456789abcdef", Duration::from_secs(ttl))
    }

    #[test]
    fn a_token_round_trips_to_its_user() {
        let user = UserId::generate(1);
        let t = tokens(60);
        let token = t.issue(user).unwrap();
        let claims = t.verify(&token).unwrap();
        assert_eq!(claims.user, user);
        assert!(claims.expires_at > Utc::now());
    }

    #[test]
    fn rejects_expired_forged_and_garbage_tokens() {
        let user = UserId::generate(1);
        let expired = JwtTokens::new(b"0123456789abcdef0123456789abcdef", Duration::ZERO).issue(user).unwrap();
        std::thread::sleep(Duration::from_millis(1100));
        assert!(tokens(60).verify(&expired).is_none(), "expired");
        let other = JwtTokens::new(b"another-secret-another-secret-xx", Duration::from_secs(60)).issue(user).unwrap();
        assert!(tokens(60).verify(&other).is_none(), "forged");
        assert!(tokens(60).verify("not.a.jwt").is_none());
        assert!(tokens(60).verify("").is_none());
    }

    #[test]
    fn rejects_the_none_algorithm() {
        // header {"alg":"none","typ":"JWT"}, payload {"sub":"000000000000000000000001","exp":9999999999}
        let token =
            "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiIwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDEiLCJleHAiOjk5OTk5OTk5OTl9.";
        assert!(tokens(60).verify(token).is_none());
    }

    #[tokio::test]
    async fn hashes_verify_only_the_right_password() {
        let h = Argon2Hasher;
        let hash = h.hash(&Password::parse("secret-1").unwrap()).await.unwrap();
        assert!(hash.0.starts_with("$argon2id$"));
        assert!(h.verify(&Password::parse("secret-1").unwrap(), &hash).await);
        assert!(!h.verify(&Password::parse("secret-2").unwrap(), &hash).await);
        assert!(!h.verify(&Password::parse("secret-1").unwrap(), &PasswordHash("garbage".into())).await);
    }
}
