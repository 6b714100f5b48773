//! Credentials: how an access token is read from what a client sends, and when a token whose
//! signature checked out is alive. The HTTP adapter and the gateway both use these, so each
//! rule is written once.

use std::time::Duration;

use chrono::TimeDelta;

use crate::ports::TokenClaims;
use crate::time::Timestamp;

/// How far ahead of this node's clock a token's `iat` or `nbf` may lie and still be accepted:
/// the node that issued it may have a clock running slightly ahead of this one.
pub const CLOCK_SKEW_LEEWAY: Duration = Duration::from_secs(60);

/// The token of an `Authorization` value of the form `Bearer <token>`. The scheme is matched
/// ignoring ASCII case, and the token must not be empty; anything else is no bearer token.
pub fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// The token of a value a client may send bare or as `Bearer <token>` (the Socket.IO `auth`
/// payload and the `token` query parameter): the bearer form if it is one, else the trimmed
/// value, unless that is empty.
pub fn bare_or_bearer_token(value: &str) -> Option<&str> {
    bearer_token(value).or_else(|| Some(value.trim()).filter(|token| !token.is_empty()))
}

/// How long a token has left at `now`, or `None` when it is not alive: it is dead from its
/// `exp` second on, and not yet alive while its `nbf` or `iat` lies more than
/// [`CLOCK_SKEW_LEEWAY`] after `now`.
pub fn lifetime_left(claims: &TokenClaims, now: Timestamp) -> Option<Duration> {
    let leeway = TimeDelta::from_std(CLOCK_SKEW_LEEWAY).unwrap_or(TimeDelta::zero());
    let latest_start = now.checked_add_signed(leeway)?;
    if [claims.not_before, claims.issued_at].into_iter().flatten().any(|start| start > latest_start) {
        return None;
    }
    (claims.expires_at - now).to_std().ok().filter(|left| !left.is_zero())
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;
    use crate::id::UserId;

    fn at(secs: i64, millis: i64) -> Timestamp {
        Utc.timestamp_opt(secs, 0).unwrap() + TimeDelta::milliseconds(millis)
    }

    fn claims(issued_at: i64, expires_at: i64) -> TokenClaims {
        TokenClaims {
            user: UserId::generate(1),
            issued_at: Some(at(issued_at, 0)),
            expires_at: at(expires_at, 0),
            not_before: None,
            version: 0,
        }
    }

    #[test]
    fn bearer_tokens_need_the_scheme_in_any_case_and_a_token() {
        assert_eq!(bearer_token("Bearer abc"), Some("abc"));
        assert_eq!(bearer_token("bearer abc"), Some("abc"));
        assert_eq!(bearer_token("  BEARER   abc  "), Some("abc"));
        for bad in ["", "Bearer", "Bearer ", "Bearer    ", "Basic abc", "abc", "Bearerabc"] {
            assert_eq!(bearer_token(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn a_bare_token_is_taken_as_it_is_and_a_bearer_one_is_unwrapped() {
        assert_eq!(bare_or_bearer_token("abc"), Some("abc"));
        assert_eq!(bare_or_bearer_token(" abc "), Some("abc"));
        assert_eq!(bare_or_bearer_token("Bearer abc"), Some("abc"));
        assert_eq!(bare_or_bearer_token("bearer abc"), Some("abc"));
        assert_eq!(bare_or_bearer_token("   "), None);
        assert_eq!(bare_or_bearer_token(""), None);
    }

    #[test]
    fn a_token_is_dead_from_its_exp_second_on() {
        let c = claims(1_000, 1_060);
        assert_eq!(lifetime_left(&c, at(1_000, 0)), Some(Duration::from_secs(60)));
        assert_eq!(lifetime_left(&c, at(1_059, 999)), Some(Duration::from_millis(1)));
        assert_eq!(lifetime_left(&c, at(1_060, 0)), None);
        assert_eq!(lifetime_left(&c, at(1_060, 500)), None);
        assert_eq!(lifetime_left(&c, at(5_000, 0)), None);
    }

    #[test]
    fn a_token_from_the_future_is_refused_beyond_the_leeway() {
        let leeway = i64::try_from(CLOCK_SKEW_LEEWAY.as_secs()).unwrap();
        let c = claims(1_000, 2_000);
        assert!(lifetime_left(&c, at(1_000 - leeway, 0)).is_some(), "within the leeway");
        assert_eq!(lifetime_left(&c, at(1_000 - leeway - 1, 0)), None, "issued too far ahead");

        let c = TokenClaims { issued_at: None, not_before: Some(at(1_500, 0)), ..claims(1_000, 2_000) };
        assert!(lifetime_left(&c, at(1_500 - leeway, 0)).is_some());
        assert_eq!(lifetime_left(&c, at(1_400, 0)), None, "not before 1500");
    }
}
