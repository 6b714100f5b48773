//! The one token check at connect (the domain's, as for HTTP): a logout disconnects every
//! socket of the user and refuses its earlier tokens; a signed token of no existing user, or
//! issued in the future, is refused.

use chat_domain::ports::TokenClaims;
use chat_domain::{Clock, UserId};
use chrono::TimeDelta;
use serde_json::{json, Value};

use crate::client::Client;
use crate::harness::Harness;

fn unauthorized() -> Value {
    json!({ "message": "Unauthorized" })
}

async fn refused(harness: &Harness, token: &str) -> Result<Value, Value> {
    let mut client = Client::open(&harness.ws_url("")).await;
    client.connect(Some(&json!({ "token": token }))).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_disconnects_every_socket_of_the_user_and_refuses_its_tokens() {
    let harness = Harness::start();
    let (alice, bob) = (harness.user("alice").await, harness.user("bob").await);
    let mut alice_1 = harness.connect(&alice).await;
    let mut alice_2 = harness.connect(&alice).await;
    let mut bob_1 = harness.connect(&bob).await;

    harness.services.auth.logout(alice.id).await.unwrap();
    alice_1.expect_server_disconnect().await;
    alice_2.expect_server_disconnect().await;
    bob_1.assert_quiet().await;
    assert_eq!(refused(&harness, &alice.token).await, Err(unauthorized()), "the old token is revoked");

    // A login right after gets a token that connects.
    let session = harness.services.auth.login("alice@example.com", "password-1").await.unwrap();
    let mut fresh = harness.connect_with_token(&session.access_token).await;
    fresh.assert_quiet().await;
    assert_eq!(harness.gateway.tracked_sockets(), 2, "bob's and the fresh one");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_token_of_no_existing_user_is_refused() {
    let harness = Harness::start();
    let ghost = harness.tokens.mint(UserId::generate(1), TimeDelta::hours(1));
    assert_eq!(refused(&harness, &ghost).await, Err(unauthorized()));
    assert_eq!(harness.gateway.tracked_sockets(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_issued_or_valid_only_in_the_future_is_refused() {
    let harness = Harness::start();
    let alice = harness.user("alice").await;
    let now = harness.clock.now();
    let base = TokenClaims {
        user: alice.id,
        issued_at: Some(now),
        expires_at: now + TimeDelta::hours(2),
        not_before: None,
        version: 0,
    };
    let iat_ahead = harness.tokens.mint_claims(TokenClaims { issued_at: Some(now + TimeDelta::minutes(5)), ..base });
    let nbf_ahead = harness.tokens.mint_claims(TokenClaims { not_before: Some(now + TimeDelta::minutes(5)), ..base });
    assert_eq!(refused(&harness, &iat_ahead).await, Err(unauthorized()), "iat in the future");
    assert_eq!(refused(&harness, &nbf_ahead).await, Err(unauthorized()), "nbf in the future");
    let fine = harness.tokens.mint_claims(base);
    harness.connect_with_token(&fine).await;
}
