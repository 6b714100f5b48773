//! The cluster's presence directory on a real Redis: the first hold and the last release are
//! each seen once across nodes, holds commute, a dead node's users are swept once (and only
//! those held nowhere else), a retired node's after its grace, and a node forgotten while
//! alive holds its users again.

use std::sync::Arc;
use std::time::Duration;

use adapter_redis::{PresenceSettings, RedisPresence};
use chat_domain::ports::PresenceDirectory;
use chat_domain::{Timestamp, UserId};
use test_services::redis::Redis;

use crate::helpers::{eventually_some, node, settings};

/// Short periods, so that a node dies (and is swept) within a test.
fn quick() -> PresenceSettings {
    PresenceSettings {
        heartbeat: Duration::from_millis(100),
        node_ttl: Duration::from_millis(600),
        sweep: Duration::from_millis(100),
        ..PresenceSettings::default()
    }
}

fn directory(redis: &Redis) -> Arc<RedisPresence> {
    node(redis).presence_directory(quick())
}

/// Sweeps through `by` until something is swept, failing the test after the helpers' patience.
async fn swept(by: &RedisPresence) -> Vec<(UserId, Timestamp)> {
    eventually_some("something is swept", || async { Some(by.sweep().await.unwrap()).filter(|gone| !gone.is_empty()) })
        .await
}

/// After a node that held `ann` and `bo` went away while `survivor` also held `bo`: the
/// survivor's sweep takes `ann` alone, `other` then finds nothing (swept once, by one node), and
/// `bo` is held by the survivor only. Returns `ann`'s `lastSeenAt`.
async fn only_ann_is_swept_once(survivor: &RedisPresence, other: &RedisPresence, ann: UserId, bo: UserId) -> Timestamp {
    let gone = swept(survivor).await;
    assert_eq!(gone.iter().map(|(u, _)| *u).collect::<Vec<_>>(), [ann], "bo is still held by the survivor");
    assert_eq!(survivor.held(&[ann, bo]).await.unwrap(), [false, true]);
    assert!(other.sweep().await.unwrap().is_empty(), "swept once, by one node");
    assert!(survivor.release(bo).await.unwrap(), "the gone node's hold of bo is gone, the survivor's intact");
    gone[0].1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_hold_and_the_last_release_are_each_seen_once() {
    let redis = Redis::start();
    let (a, b) = (directory(&redis), directory(&redis));
    let (ann, bo) = (UserId::generate(1), UserId::generate(1));
    assert!(a.hold(ann).await.unwrap(), "ann comes online");
    assert!(!b.hold(ann).await.unwrap(), "already online through node a");
    assert!(!a.hold(ann).await.unwrap());
    assert_eq!(a.held(&[ann, bo]).await.unwrap(), [true, false]);
    assert!(!a.release(ann).await.unwrap());
    assert!(!a.release(ann).await.unwrap(), "node b still holds ann");
    assert!(!a.release(ann).await.unwrap(), "a release without a hold changes nothing");
    assert_eq!(b.held(&[ann]).await.unwrap(), [true]);
    assert!(b.release(ann).await.unwrap(), "the last release takes ann offline");
    assert_eq!(a.held(&[ann]).await.unwrap(), [false]);
    assert!(a.sweep().await.unwrap().is_empty(), "every node is alive");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_first_holds_on_many_nodes_bring_the_user_online_once() {
    let redis = Redis::start();
    let nodes: Vec<_> = (0..4).map(|_| directory(&redis)).collect();
    let ann = UserId::generate(1);
    let holds = nodes.iter().map(|n| {
        let n = n.clone();
        tokio::spawn(async move { n.hold(ann).await.unwrap() })
    });
    let mut firsts = 0;
    for hold in holds {
        firsts += usize::from(hold.await.unwrap());
    }
    assert_eq!(firsts, 1);
    let releases = nodes.iter().map(|n| {
        let n = n.clone();
        tokio::spawn(async move { n.release(ann).await.unwrap() })
    });
    let mut lasts = 0;
    for release in releases {
        lasts += usize::from(release.await.unwrap());
    }
    assert_eq!(lasts, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_nodes_users_are_swept_once_unless_held_elsewhere() {
    let redis = Redis::start();
    let (dying, survivor, other) = (directory(&redis), directory(&redis), directory(&redis));
    let (ann, bo) = (UserId::generate(1), UserId::generate(1));
    dying.hold(ann).await.unwrap();
    dying.hold(bo).await.unwrap();
    survivor.hold(bo).await.unwrap();
    let before_death = chrono::Utc::now();
    drop(dying); // Its heartbeat stops: the node is gone as far as Redis can tell.

    let last_heard = only_ann_is_swept_once(&survivor, &other, ann, bo).await;
    assert!(
        (last_heard - before_death).num_milliseconds().abs() < 2_000,
        "lastSeenAt is the dead node's last heartbeat: {last_heard} vs {before_death}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_forgotten_while_alive_holds_its_users_again() {
    let redis = Redis::start();
    let handle = node(&redis);
    let alive = handle.presence_directory(quick());
    let ann = UserId::generate(1);
    alive.hold(ann).await.unwrap();
    let client = redis::Client::open(redis.url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    eventually_some("the node beats", || {
        let mut conn = conn.clone();
        let node = handle.node_id().to_owned();
        async move {
            let score: Option<f64> =
                redis::cmd("ZSCORE").arg("chat:presence:nodes").arg(node).query_async(&mut conn).await.unwrap();
            score
        }
    })
    .await;
    // Redis loses everything (a restart without persistence): the next heartbeat restores.
    redis::cmd("FLUSHALL").query_async::<()>(&mut conn).await.unwrap();
    eventually_some("ann is held again", || async { (alive.held(&[ann]).await.unwrap() == [true]).then_some(()) })
        .await;
    assert!(alive.release(ann).await.unwrap(), "the restored count is the node's own");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_hold_redis_did_not_answer_the_next_heartbeat_puts_the_counts_right() {
    let redis = Redis::start();
    // The production command timeout, so that a paused Redis makes a hold fail.
    let settings = adapter_redis::RedisSettings { command_timeout: Duration::from_millis(250), ..settings() };
    let handle = adapter_redis::RedisNode::new(&redis.url(), settings).unwrap();
    let alive = handle.presence_directory(quick());
    let (ann, bo) = (UserId::generate(1), UserId::generate(1));
    alive.hold(ann).await.unwrap();
    let client = redis::Client::open(redis.url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    // Redis loses ann's hold behind the node's back, then does not answer the node for a while.
    redis::cmd("DEL")
        .arg(format!("chat:presence:user:{ann}"))
        .arg(format!("chat:presence:node:{}", handle.node_id()))
        .query_async::<()>(&mut conn)
        .await
        .unwrap();
    redis::cmd("CLIENT").arg("PAUSE").arg(1_000).arg("ALL").query_async::<()>(&mut conn).await.unwrap();
    assert!(alive.hold(bo).await.is_err(), "no answer in time");
    eventually_some("the counts are put right", || async {
        (alive.held(&[ann, bo]).await.ok() == Some(vec![true, true])).then_some(())
    })
    .await;
    assert!(alive.release(ann).await.unwrap(), "one hold of ann, as the node holds her");
    assert!(alive.release(bo).await.unwrap(), "one hold of bo, though Redis ran his script late");
    assert_eq!(alive.held(&[ann, bo]).await.unwrap(), [false, false]);
}

/// A TTL no test outlives: only a retirement makes these nodes dead.
fn retiring(grace: Duration) -> PresenceSettings {
    PresenceSettings { node_ttl: Duration::from_secs(600), retire_grace: grace, ..quick() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retired_nodes_users_are_swept_after_its_grace_with_its_leaving_time() {
    let redis = Redis::start();
    let settings = retiring(Duration::from_millis(300));
    let (leaving, survivor, other) = (
        node(&redis).presence_directory(settings.clone()),
        node(&redis).presence_directory(settings.clone()),
        node(&redis).presence_directory(settings),
    );
    let (ann, bo) = (UserId::generate(1), UserId::generate(1));
    leaving.hold(ann).await.unwrap();
    leaving.hold(bo).await.unwrap();
    survivor.hold(bo).await.unwrap(); // bo reconnected to the survivor in time
    let left_at = chrono::Utc::now();
    leaving.retire().await.unwrap();

    let last_seen = only_ann_is_swept_once(&survivor, &other, ann, bo).await;
    assert!(
        (last_seen - left_at).num_milliseconds().abs() < 2_000,
        "lastSeenAt is when the node left, not its TTL earlier: {last_seen} vs {left_at}"
    );
    // (A heartbeat after the retirement would have scored the node alive again, for the
    // whole TTL, and nothing would have been swept above.)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retired_node_still_counts_as_alive_during_its_grace() {
    let redis = Redis::start();
    let settings = retiring(Duration::from_secs(600));
    let (leaving, survivor) =
        (node(&redis).presence_directory(settings.clone()), node(&redis).presence_directory(settings));
    let ann = UserId::generate(1);
    leaving.hold(ann).await.unwrap();
    leaving.retire().await.unwrap();
    assert!(survivor.sweep().await.unwrap().is_empty(), "within the grace, nobody is swept");
    assert_eq!(survivor.held(&[ann]).await.unwrap(), [true]);
}
