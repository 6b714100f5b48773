//! Durability end to end: what the server acknowledged is there after a restart on the same
//! store, whether it stopped gracefully (SIGTERM) or was killed (SIGKILL). Each scenario runs
//! on the embedded store (the same data directory) and on MongoDB (the same database, which
//! stays up while the app restarts).

use e2e::{Account, Backend, Server};
use serde_json::{json, Value};
use tempfile::TempDir;

/// One test per store for each `scenario` (an `async fn(&Backend)` of this file), in modules
/// `embedded` and `mongo`.
macro_rules! on_every_backend {
    ($($scenario:ident),+ $(,)?) => {
        mod embedded {
            $(
                #[tokio::test]
                async fn $scenario() {
                    super::$scenario(&e2e::Backend::Embedded).await;
                }
            )+
        }
        mod mongo {
            $(
                #[tokio::test]
                async fn $scenario() {
                    super::$scenario(&e2e::Backend::fresh_mongo().await).await;
                }
            )+
        }
    };
}

on_every_backend! {
    everything_survives_a_graceful_restart,
    acknowledged_writes_survive_a_kill,
}

/// What a first server run wrote, to be read back by the second.
struct Written {
    alice: Account,
    bob: Account,
    chat: String,
    group: String,
    messages: Value,
    deleted: String,
}

async fn write_everything(server: &Server) -> Written {
    let alice = server.register("alice").await;
    let bob = server.register("bob").await;
    let carol = server.register("carol").await;
    let chat = server.chat(&alice, &[&bob]).await;
    let group = server.chat(&alice, &[&bob, &carol]).await;
    server.send_message(&alice, &chat, "one").await;
    let doomed = server.send_message(&bob, &chat, "two").await;
    server.send_message(&alice, &chat, "three").await;
    server.send_message(&carol, &group, "group hello").await;
    let deleted = doomed["_id"].as_str().unwrap().to_owned();
    server.delete(&format!("/api/messages/{deleted}"), Some(&bob.token)).await.ok(200);
    let messages = server.get(&format!("/api/chats/{chat}/messages"), Some(&alice.token)).await.ok(200).clone();
    Written { alice, bob, chat, group, messages, deleted }
}

async fn read_everything_back(server: &Server, written: &Written) {
    let Written { alice, bob, chat, group, messages, deleted } = written;

    // The old token still works: same secret, and the account is there.
    let me = server.get("/api/users/me", Some(&alice.token)).await;
    assert_eq!(me.ok(200)["_id"], alice.id.as_str());
    let login =
        server.post("/api/auth/login", None, &json!({"email": "bob@example.com", "password": "secret123"})).await;
    assert_eq!(login.ok(200)["user"]["_id"], bob.id.as_str());
    let found = server.get("/api/users?search=carol", Some(&alice.token)).await;
    assert_eq!(found.ok(200).as_array().unwrap().len(), 1);

    // Chats, in activity order, with their last messages; history as it was, deletion kept.
    let listed = server.get("/api/chats", Some(&alice.token)).await;
    let listed = listed.ok(200).as_array().unwrap().clone();
    let ids: Vec<&str> = listed.iter().map(|c| c["_id"].as_str().unwrap()).collect();
    assert_eq!(ids, [group.as_str(), chat.as_str()]);
    assert_eq!(listed[0]["lastMessage"]["text"], "group hello");
    assert_eq!(listed[1]["lastMessage"]["text"], "three");
    let history = server.get(&format!("/api/chats/{chat}/messages"), Some(&bob.token)).await;
    assert_eq!(history.ok(200), messages);
    assert!(!history.body.to_string().contains(deleted.as_str()));
    let again = server.delete(&format!("/api/messages/{deleted}"), Some(&bob.token)).await;
    assert_eq!(again.ok(200), &json!({"success": true}));

    // The 1:1 chat still exists once, and sequence numbers continue where they stopped: three
    // messages and one delete took 1 to 4.
    let same = server.post("/api/chats", Some(&bob.token), &json!({"participants": [alice.id]})).await;
    assert_eq!(same.ok(200)["_id"], chat.as_str());
    let next = server.send_message(alice, chat, "after the restart").await;
    assert_eq!(next["seq"], 5);
}

/// Where the second run keeps its embedded store: the first run's directory on the embedded
/// store; a new, empty one on MongoDB, after checking that the first run wrote nothing in its
/// directory (everything went to MongoDB).
fn data_dir_after_restart(first: &TempDir, backend: &Backend) -> std::path::PathBuf {
    match backend {
        Backend::Embedded => first.path().to_owned(),
        Backend::Mongo { .. } => {
            let written: Vec<_> = std::fs::read_dir(first.path()).unwrap().flatten().map(|e| e.path()).collect();
            assert!(written.is_empty(), "a MongoDB-backed server wrote to its data directory: {written:?}");
            first.path().join("after-restart")
        }
    }
}

async fn everything_survives_a_graceful_restart(backend: &Backend) {
    let dir = TempDir::new().unwrap();
    let mut server = Server::start_on(dir.path(), backend).await;
    let written = write_everything(&server).await;
    let status = server.terminate();
    let logs = server.logs();
    assert!(status.success(), "SIGTERM is a clean exit: {status:?}\n{logs}");
    assert!(logs.contains("SIGTERM received"), "{logs}");
    assert!(logs.contains("storage flushed"), "{logs}");
    drop(server);

    let server = Server::start_on(&data_dir_after_restart(&dir, backend), backend).await;
    read_everything_back(&server, &written).await;
}

async fn acknowledged_writes_survive_a_kill(backend: &Backend) {
    let dir = TempDir::new().unwrap();
    let mut server = Server::start_on(dir.path(), backend).await;
    let written = write_everything(&server).await;
    server.kill();
    drop(server);

    let server = Server::start_on(&data_dir_after_restart(&dir, backend), backend).await;
    read_everything_back(&server, &written).await;
}
