//! Presence through the services: announcements to contacts only, the grace, a reload that
//! says nothing (on one node and through another), who may ask for whose presence, and what
//! a failing directory or a dead node leads to.

use super::*;
use crate::presence::{LocalPresenceDirectory, MAX_PRESENCE_QUERY, PRESENCE_GRACE};

/// Nodes sharing one store, one notifier and one presence directory, each with its own book,
/// on a clock the test moves.
struct Cluster {
    nodes: Vec<Services>,
    clock: Arc<ManualClock>,
    events: Arc<Recorder>,
}

fn cluster(nodes: usize) -> Cluster {
    let start = chrono::DateTime::from_timestamp_millis(1_795_633_980_000).unwrap();
    let clock = Arc::new(ManualClock(Mutex::new(start)));
    let events = Arc::new(Recorder::default());
    let store = Arc::new(InMemoryStore::new());
    let directory: Arc<dyn PresenceDirectory> = Arc::new(LocalPresenceDirectory::default());
    let nodes = (0..nodes)
        .map(|_| {
            let mut ports = ports_with(store.clone(), events.clone(), Arc::new(Unlimited));
            ports.clock = clock.clone();
            Services::new(ports, ServicesConfig::default()).with_presence_directory(directory.clone())
        })
        .collect();
    Cluster { nodes, clock, events }
}

impl Cluster {
    fn node(&self, n: usize) -> &PresenceService {
        &self.nodes[n].presence
    }

    async fn user(&self, name: &str) -> UserId {
        let s = self.nodes[0].auth.register(&format!("{name}@example.com"), name, "password").await.unwrap();
        s.user.id
    }

    async fn direct(&self, a: UserId, b: UserId) {
        self.nodes[0].chats.create(a, &[b], None).await.unwrap();
    }

    fn advance(&self, by: Duration) {
        self.clock.advance(chrono::TimeDelta::from_std(by).unwrap());
    }

    /// The presence events published since the last call, as (user, online, lastSeenAt, to).
    fn presence_events(&self) -> Vec<(UserId, bool, Option<Timestamp>, Vec<UserId>)> {
        self.events
            .take()
            .into_iter()
            .filter_map(|e| match e {
                DomainEvent::PresenceChanged { user, online, last_seen_at, mut to } => {
                    to.sort_unstable();
                    Some((user, online, last_seen_at, to))
                }
                _ => None,
            })
            .collect()
    }
}

#[tokio::test]
async fn online_then_offline_after_the_grace_to_contacts_only() {
    let c = cluster(1);
    let (ann, bo, cy, stranger) = (c.user("ann").await, c.user("bo").await, c.user("cy").await, c.user("st").await);
    c.direct(ann, bo).await;
    c.direct(cy, ann).await;
    let mut contacts = vec![bo, cy];
    contacts.sort_unstable();
    c.events.take();

    c.node(0).connected(ann).await;
    assert_eq!(c.presence_events(), [(ann, true, None, contacts.clone())], "only those sharing a chat hear it");
    c.node(0).connected(ann).await;
    assert_eq!(c.node(0).disconnected(ann), None, "a second tab is still open");
    assert!(c.presence_events().is_empty(), "a second socket announces nothing");

    let closed_at = c.clock.now();
    assert_eq!(c.node(0).disconnected(ann), Some(PRESENCE_GRACE));
    c.advance(PRESENCE_GRACE - Duration::from_millis(1));
    c.node(0).expire().await;
    assert!(c.presence_events().is_empty(), "inside the grace nothing is announced");
    let online = c.node(0).query(bo, &[ann]).await.unwrap();
    assert_eq!(online, [Presence { user: ann, online: true, last_seen_at: None }], "in the grace still online");

    c.advance(Duration::from_millis(1));
    c.node(0).expire().await;
    assert_eq!(c.presence_events(), [(ann, false, Some(closed_at), contacts)]);
    let offline = c.node(0).query(bo, &[ann]).await.unwrap();
    assert_eq!(offline, [Presence { user: ann, online: false, last_seen_at: Some(closed_at) }], "lastSeenAt stored");
    c.node(0).expire().await;
    assert!(c.presence_events().is_empty(), "announced once");
    assert!(c.node(0).query(stranger, &[ann]).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_reload_inside_the_grace_announces_nothing() {
    let c = cluster(1);
    let (ann, bo) = (c.user("ann").await, c.user("bo").await);
    c.direct(ann, bo).await;
    c.node(0).connected(ann).await;
    c.events.take();

    c.node(0).disconnected(ann);
    c.advance(Duration::from_secs(2));
    c.node(0).connected(ann).await;
    c.advance(Duration::from_secs(10));
    c.node(0).expire().await;
    assert!(c.presence_events().is_empty());
    assert_eq!(c.node(0).local_users(), 1);
}

#[tokio::test]
async fn a_reload_through_another_node_announces_nothing_and_the_last_node_announces_offline() {
    let c = cluster(2);
    let (ann, bo) = (c.user("ann").await, c.user("bo").await);
    c.direct(ann, bo).await;
    c.events.take();

    c.node(0).connected(ann).await;
    assert_eq!(c.presence_events().len(), 1);
    // The page reloads onto node 1 a second after its socket on node 0 closed.
    c.node(0).disconnected(ann);
    c.advance(Duration::from_secs(1));
    c.node(1).connected(ann).await;
    c.advance(PRESENCE_GRACE);
    c.node(0).expire().await;
    assert!(c.presence_events().is_empty(), "node 1 holds the user: no offline, and no second online");
    assert!(c.node(0).query(bo, &[ann]).await.unwrap()[0].online);

    let closed_at = c.clock.now();
    c.node(1).disconnected(ann);
    c.advance(PRESENCE_GRACE);
    c.node(1).expire().await;
    assert_eq!(c.presence_events(), [(ann, false, Some(closed_at), vec![bo])]);
}

#[tokio::test]
async fn the_query_answers_only_for_contacts_once_each_and_checks_its_size() {
    let c = cluster(1);
    let (ann, bo, cy, stranger) = (c.user("ann").await, c.user("bo").await, c.user("cy").await, c.user("st").await);
    c.direct(ann, bo).await;
    c.direct(ann, cy).await;
    c.node(0).connected(cy).await;

    let answer = c.node(0).query(ann, &[stranger, cy, ann, bo, cy]).await.unwrap();
    let expected = [
        Presence { user: cy, online: true, last_seen_at: None },
        Presence { user: bo, online: false, last_seen_at: None },
    ];
    assert_eq!(answer, expected, "strangers and the caller left out, repeats once, in the order asked");
    assert!(c.node(0).query(bo, &[cy]).await.unwrap().is_empty(), "bo and cy share no chat");

    assert!(matches!(c.node(0).query(ann, &[]).await, Err(Error::Invalid(_))));
    let too_many = vec![bo; MAX_PRESENCE_QUERY + 1];
    assert!(matches!(c.node(0).query(ann, &too_many).await, Err(Error::Invalid(_))));
    assert_eq!(c.node(0).query(ann, &too_many[..MAX_PRESENCE_QUERY]).await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_user_in_no_chat_is_announced_to_nobody() {
    let c = cluster(1);
    let loner = c.user("loner").await;
    c.events.take();
    c.node(0).connected(loner).await;
    c.node(0).disconnected(loner);
    c.advance(PRESENCE_GRACE);
    c.node(0).expire().await;
    assert!(c.events.take().is_empty());
}

/// Two users sharing a chat, on services whose presence directory is `directory`.
async fn with_directory(directory: MockPresenceDirectory) -> (Services, Arc<Recorder>, UserId, UserId) {
    let events = Arc::new(Recorder::default());
    let ports = ports_with(Arc::new(InMemoryStore::new()), events.clone(), Arc::new(Unlimited));
    let services = Services::new(ports, ServicesConfig::default()).with_presence_directory(Arc::new(directory));
    let ann = services.auth.register("ann@example.com", "ann", "password").await.unwrap().user.id;
    let bo = services.auth.register("bo@example.com", "bo", "password").await.unwrap().user.id;
    services.chats.create(ann, &[bo], None).await.unwrap();
    events.take();
    (services, events, ann, bo)
}

#[tokio::test]
async fn users_of_a_dead_node_are_announced_offline_with_its_last_heartbeat() {
    let heard_at = chrono::DateTime::from_timestamp_millis(1_795_633_980_123).unwrap();
    let users = Arc::new(Mutex::new(Vec::new()));
    let mut directory = MockPresenceDirectory::new();
    let swept = users.clone();
    directory.expect_sweep().times(1).returning(move || Ok(swept.lock().unwrap().clone()));
    directory.expect_held().returning(|u| Ok(vec![false; u.len()]));
    let (services, events, ann, bo) = with_directory(directory).await;
    users.lock().unwrap().push((ann, heard_at));

    services.presence.sweep().await;
    let published = events.take();
    assert_eq!(
        published,
        [DomainEvent::PresenceChanged { user: ann, online: false, last_seen_at: Some(heard_at), to: vec![bo] }]
    );
    let answer = services.presence.query(bo, &[ann]).await.unwrap();
    assert_eq!(answer[0].last_seen_at, Some(heard_at), "stored like any other lastSeenAt");
}

#[tokio::test]
async fn without_the_directory_the_node_announces_what_it_sees() {
    let mut directory = MockPresenceDirectory::new();
    directory.expect_hold().returning(|_| Err(StoreError::unavailable("redis down")));
    directory.expect_release().returning(|_| Err(StoreError::unavailable("redis down")));
    directory.expect_held().returning(|_| Err(StoreError::unavailable("redis down")));
    let (services, events, ann, bo) = with_directory(directory).await;

    services.presence.connected(ann).await;
    assert!(matches!(events.take()[..], [DomainEvent::PresenceChanged { online: true, .. }]));
    assert_eq!(services.presence.query(bo, &[ann]).await.unwrap_err(), Error::Unavailable);
}
