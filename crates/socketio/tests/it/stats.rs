//! `SocketIo::stats`: sessions by transport and the counters behind the server's metrics.

use socketio::{EngineConfig, EngineStats};

use crate::support::{echo_server, relaxed, wait_for, Poller, WsClient};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_count_sessions_by_transport_and_shed_frames() {
    let server = echo_server(EngineConfig { outbound_queue_frames: 3, ..relaxed() });
    assert_eq!(server.io.stats(), EngineStats::default());
    // A polling client that does not poll: its queue fills, deterministically.
    let poller = Poller::connected(&server).await;
    let stats = server.io.stats();
    assert_eq!((stats.polling_sessions, stats.websocket_sessions), (1, 0));

    let ns = server.io.of("/").unwrap();
    let typing = ns.event_frame("typing", &true).unwrap().droppable();
    for _ in 0..5 {
        ns.broadcast_frame(&typing, None);
    }
    // Three fit in the queue, two were refused.
    assert_eq!(server.io.stats().dropped_frames, 2);
    // A frame that matters sheds the oldest droppable one.
    ns.broadcast_frame(&ns.event_frame("message", &1).unwrap(), None);
    assert_eq!(server.io.stats().dropped_frames, 3);
    assert_eq!(server.io.stats().slow_consumers, 0);

    let _ws = WsClient::connected(&server).await;
    let stats = server.io.stats();
    assert_eq!((stats.polling_sessions, stats.websocket_sessions), (1, 1));

    poller.post_ok("1").await;
    let io = server.io.clone();
    wait_for("the polling session to be counted out", move || io.stats().polling_sessions == 0).await;
    assert_eq!(server.io.stats().websocket_sessions, 1);
}
