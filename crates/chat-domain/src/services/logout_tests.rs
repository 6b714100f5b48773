//! Logout and revocation, the one token check, and the security log of the account use cases.

use std::net::{IpAddr, Ipv4Addr};

use super::*;
use crate::security_log::tests::Captured;

const CLIENT: IpAddr = IpAddr::V4(Ipv4Addr::new(198, 51, 100, 23));

/// Services on a clock that stands still, so that everything happens within one second.
fn frozen() -> (Services, Arc<Recorder>) {
    let events = Arc::new(Recorder::default());
    let mut ports = ports_with(Arc::new(InMemoryStore::new()), events.clone(), Arc::new(Unlimited));
    ports.clock = Arc::new(ManualClock(Mutex::new(SystemClock.now())));
    (Services::new(ports, ServicesConfig::default()), events)
}

#[tokio::test]
async fn logout_revokes_every_earlier_token_and_a_login_in_the_same_second_works() {
    let (services, events) = frozen();
    let first = services.auth.register("a@example.com", "a", "password").await.unwrap();
    let second = services.auth.login("a@example.com", "password").await.unwrap();
    let user = first.user.id;
    assert!(services.auth.authenticate(&first.access_token).await.is_ok());

    services.auth.logout(user).await.unwrap();
    assert_eq!(events.take(), vec![DomainEvent::TokensRevoked { user }], "every node hears of it");
    for token in [&first.access_token, &second.access_token] {
        assert_eq!(services.auth.authenticate(token).await.unwrap_err(), Error::Unauthorized);
    }

    // Same second, same clock reading: a fresh login still gets a working token.
    let third = services.auth.login("a@example.com", "password").await.unwrap();
    assert_eq!(services.auth.authenticate(&third.access_token).await.unwrap().user, user);
    assert_eq!(services.auth.authenticate(&second.access_token).await.unwrap_err(), Error::Unauthorized);

    // A second logout revokes the third token too, and only what existed.
    services.auth.logout(user).await.unwrap();
    assert_eq!(services.auth.authenticate(&third.access_token).await.unwrap_err(), Error::Unauthorized);
}

#[tokio::test]
async fn a_correctly_signed_token_of_no_existing_user_is_unauthorized() {
    let (services, events) = frozen();
    let ghost = UserId::generate(1);
    let token = IdTokens.issue(ghost, 0, SystemClock.now()).unwrap();
    assert!(IdTokens.decode(&token).is_some(), "the signature checks out");
    assert_eq!(services.auth.authenticate(&token).await.unwrap_err(), Error::Unauthorized);
    assert_eq!(services.auth.logout(ghost).await.unwrap_err(), Error::Unauthorized);
    assert_eq!(events.take(), vec![], "nothing to announce");
}

#[tokio::test]
async fn a_token_from_an_older_version_is_refused_and_one_from_a_later_one_too() {
    let (services, _) = frozen();
    let session = services.auth.register("a@example.com", "a", "password").await.unwrap();
    let user = session.user.id;
    services.auth.logout(user).await.unwrap();
    let forged_ahead = IdTokens.issue(user, 7, SystemClock.now()).unwrap();
    assert_eq!(services.auth.authenticate(&forged_ahead).await.unwrap_err(), Error::Unauthorized);
    let current = IdTokens.issue(user, 1, SystemClock.now()).unwrap();
    assert!(services.auth.authenticate(&current).await.is_ok());
}

#[tokio::test]
async fn failed_logins_and_revoked_tokens_are_logged_once_per_burst_without_secrets() {
    let captured = Captured::default();
    let _guard = tracing::subscriber::set_default(captured.subscriber());
    let (services, _) = frozen();
    let session = services.auth.register("victim@example.com", "victim", "correct-password").await.unwrap();

    for _ in 0..20 {
        let refused = services.auth.login_from(Some(CLIENT), "victim@example.com", "guessed-Secret-42").await;
        assert_eq!(refused.unwrap_err(), Error::InvalidCredentials);
    }
    services.auth.logout(session.user.id).await.unwrap();
    for _ in 0..5 {
        let refused = services.auth.authenticate_from(Some(CLIENT), &session.access_token).await;
        assert_eq!(refused.unwrap_err(), Error::Unauthorized);
    }

    let lines = captured.lines();
    assert_eq!(lines.len(), 2, "one line per burst: {lines:#?}");
    assert!(lines[0].contains("failed login") && lines[0].contains("198.51.100.23"), "{}", lines[0]);
    assert!(lines[1].contains("revoked token") && lines[1].contains("198.51.100.23"), "{}", lines[1]);
    let text = captured.text();
    for secret in ["guessed-Secret-42", "correct-password", session.access_token.as_str(), "victim@example.com"] {
        assert!(!text.contains(secret), "{secret:?} leaked into the log: {text}");
    }
}
