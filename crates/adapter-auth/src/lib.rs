//! Credentials: argon2id password hashing and HS256 JWT access tokens, implementing the
//! domain's `PasswordHasher` and `TokenService` ports.
//!
//! Hashing runs on a small pool of its own threads ([`pool`]), never on Tokio's blocking pool,
//! so a flood of registrations and logins cannot starve storage reads, and its memory stays
//! bounded (one argon2 buffer of 19 MiB per hashing thread).

mod hasher;
pub mod pool;

pub use hasher::Argon2Hasher;
pub use pool::{PoolConfig, PoolStats};

use std::time::Duration;

use chat_domain::error::StoreError;
use chat_domain::ports::{TokenClaims, TokenService};
use chat_domain::{Timestamp, UserId};
use chrono::{TimeZone, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

/// Least number of bytes a configured signing secret must have.
pub const MIN_SECRET_BYTES: usize = 32;

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    iat: Option<i64>,
    exp: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    nbf: Option<i64>,
    /// The user's token version at issue (a logout moves the stored one past it); tokens
    /// issued before versions existed have none, which reads as 0.
    #[serde(default)]
    ver: u64,
}

/// Issues HS256 JWTs with `sub` = user id, `iat` and `exp`, and checks their signatures. It
/// reads no clock: the domain gives the issue time and judges `exp`, `nbf` and `iat`.
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
        // Time rules are the domain's, on its clock; the library would use the wall clock.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "sub"]);
        Self { encoding: EncodingKey::from_secret(secret), decoding: DecodingKey::from_secret(secret), validation, ttl }
    }

    /// A fresh random secret, for a process started without one.
    pub fn random_secret() -> Vec<u8> {
        (0..64).map(|_| rand::random::<u8>()).collect()
    }
}

/// A JWT time (whole seconds since the epoch) as a timestamp; `None` when out of range.
fn seconds(secs: i64) -> Option<Timestamp> {
    Utc.timestamp_opt(secs, 0).single()
}

impl TokenService for JwtTokens {
    fn issue(&self, user: UserId, version: u64, issued_at: Timestamp) -> Result<String, StoreError> {
        let iat = issued_at.timestamp();
        let ttl = i64::try_from(self.ttl.as_secs()).unwrap_or(i64::MAX / 2);
        let claims =
            Claims { sub: user.to_string(), iat: Some(iat), exp: iat.saturating_add(ttl), nbf: None, ver: version };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding).map_err(StoreError::other)
    }

    fn decode(&self, token: &str) -> Option<TokenClaims> {
        let claims = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation).ok()?.claims;
        // A time claim that is present but out of range makes the token malformed.
        let optional = |secs: Option<i64>| match secs {
            None => Some(None),
            Some(secs) => seconds(secs).map(Some),
        };
        Some(TokenClaims {
            user: UserId::parse(&claims.sub).ok()?,
            issued_at: optional(claims.iat)?,
            expires_at: seconds(claims.exp)?,
            not_before: optional(claims.nbf)?,
            version: claims.ver,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn tokens(ttl: u64) -> JwtTokens {
        JwtTokens::new(SECRET, Duration::from_secs(ttl))
    }

    fn at(secs: i64) -> Timestamp {
        seconds(secs).unwrap()
    }

    /// Claims as any issuer might write them, each one optional.
    #[derive(Serialize)]
    struct Raw<'a> {
        #[serde(skip_serializing_if = "Option::is_none")]
        sub: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        exp: Option<i64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        nbf: Option<i64>,
    }

    fn sign(claims: &Raw<'_>) -> String {
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &EncodingKey::from_secret(SECRET)).unwrap()
    }

    #[test]
    fn a_token_carries_its_user_and_times() {
        let user = UserId::generate(1);
        let t = tokens(60);
        let token = t.issue(user, 3, at(1_795_633_980) + chrono::TimeDelta::milliseconds(123)).unwrap();
        let claims = t.decode(&token).unwrap();
        assert_eq!(
            claims,
            TokenClaims {
                user,
                issued_at: Some(at(1_795_633_980)),
                expires_at: at(1_795_634_040),
                not_before: None,
                version: 3
            }
        );
    }

    #[test]
    fn decoding_judges_the_signature_not_the_time() {
        // Expired long ago, by the wall clock: judging that is the domain's job, on its clock.
        let user = UserId::generate(1);
        let old = tokens(0).issue(user, 0, at(1_000_000_000)).unwrap();
        assert_eq!(tokens(60).decode(&old).map(|c| c.expires_at), Some(at(1_000_000_000)));
    }

    #[test]
    fn rejects_forged_and_garbage_tokens() {
        let user = UserId::generate(1);
        let other = JwtTokens::new(b"another-secret-another-secret-xx", Duration::from_secs(60))
            .issue(user, 0, at(1_795_633_980))
            .unwrap();
        assert!(tokens(60).decode(&other).is_none(), "forged");
        assert!(tokens(60).decode("not.a.jwt").is_none());
        assert!(tokens(60).decode("").is_none());
    }

    #[test]
    fn reads_nbf_and_requires_exp_and_sub() {
        let sub = UserId::generate(1).to_string();
        let sub = Some(sub.as_str());
        let with_nbf = sign(&Raw { sub, exp: Some(2_000_000_000), nbf: Some(1_900_000_000) });
        let claims = tokens(60).decode(&with_nbf).unwrap();
        assert_eq!((claims.issued_at, claims.not_before), (None, Some(at(1_900_000_000))));
        assert_eq!(claims.version, 0, "a token without `ver` (issued before versions) is at version 0");
        assert!(tokens(60).decode(&sign(&Raw { sub, exp: None, nbf: None })).is_none(), "no exp");
        assert!(tokens(60).decode(&sign(&Raw { sub: None, exp: Some(2_000_000_000), nbf: None })).is_none(), "no sub");
        let bad_sub = sign(&Raw { sub: Some("nope"), exp: Some(2_000_000_000), nbf: None });
        assert!(tokens(60).decode(&bad_sub).is_none(), "sub is not a user id");
    }

    #[test]
    fn rejects_the_none_algorithm() {
        // header {"alg":"none","typ":"JWT"}, payload {"sub":"000000000000000000000001","exp":9999999999}
        let token =
            "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiIwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDEiLCJleHAiOjk5OTk5OTk5OTl9.";
        assert!(tokens(60).decode(token).is_none());
    }
}
