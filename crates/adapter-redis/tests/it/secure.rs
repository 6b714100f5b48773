//! `REDIS_URL` with a password (`redis://:pw@host`) and over TLS (`rediss://`), against real
//! `redis-server`s started with `--requirepass` and with TLS only (a throwaway CA from rcgen).

use std::sync::Arc;

use adapter_redis::{RedisNode, RedisSettings};
use chat_domain::ports::Notifier;
use chat_domain::ChatId;
use test_services::redis::Redis;

use crate::helpers::{eventually, settings, subscribed, typing, Recorder};

const PASSWORD: &str = "s3cret-pw_of-the-tests";

/// Two nodes on `url` with `settings` exchange one event each way.
async fn two_nodes_exchange_events(url: &str, settings: RedisSettings) {
    let (seen_a, seen_b) = (Arc::new(Recorder::default()), Arc::new(Recorder::default()));
    let a = RedisNode::new(url, settings.clone()).unwrap().notifier(seen_a.clone());
    let b = RedisNode::new(url, settings).unwrap().notifier(seen_b.clone());
    subscribed(&a).await;
    subscribed(&b).await;
    let chat = ChatId::generate(1);
    a.publish(typing(chat, 1)).await;
    b.publish(typing(chat, 2)).await;
    eventually("each node delivered both events", || seen_a.count() == 2 && seen_b.count() == 2).await;
    assert_eq!((a.node().stats().received, b.node().stats().received), (1, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_in_the_url_authenticates() {
    let redis = Redis::start_with_password(PASSWORD);
    assert!(redis.url().contains(&format!(":{PASSWORD}@")), "{}", redis.url());
    // The server does refuse clients without the password.
    let bare = format!("redis://127.0.0.1:{}/", redis.port);
    let mut anonymous = redis::Client::open(bare).unwrap().get_multiplexed_async_connection().await;
    let refused = match &mut anonymous {
        Ok(conn) => redis::cmd("PING").query_async::<String>(conn).await.unwrap_err().to_string(),
        Err(e) => e.to_string(),
    };
    assert!(refused.contains("NOAUTH"), "{refused}");

    two_nodes_exchange_events(&redis.url(), settings()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rediss_with_a_password_connects_over_tls_trusting_the_given_ca() {
    let redis = Redis::start_tls(PASSWORD);
    let url = redis.url();
    assert!(url.starts_with("rediss://"), "{url}");
    let ca = redis.tls().unwrap().ca_pem.as_bytes().to_vec();

    // Certificates are checked: without the CA, the system's roots do not trust this server.
    let untrusted = redis::Client::open(url.as_str()).unwrap().get_multiplexed_async_connection().await;
    let error = untrusted.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(!error.is_empty(), "a server signed by an unknown CA must be refused");

    two_nodes_exchange_events(&url, RedisSettings { tls_root_ca: Some(ca), ..settings() }).await;
}
