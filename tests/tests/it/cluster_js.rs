//! The official `socket.io-client` against two nodes of a cluster (one MongoDB database, one
//! Redis): the group and edit scenarios of `tests/js/groups_scenarios.mjs`, with users acting
//! through node A and listening through both, so every event crosses Redis, and a removed
//! user's sockets on either node hear nothing of the chat after the removal; and receipts
//! (`tests/js/cluster/receipts.mjs`): the server's delivery receipt written by the node of the
//! recipient's socket, reads across nodes, and a badge cleared on a device on the other node.

use crate::cluster::Cluster;
use crate::socketio_js::{run_js_files, ONE_SUITE_AT_A_TIME};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn groups_edits_and_receipts_work_across_two_nodes_with_the_official_client() {
    let _one = ONE_SUITE_AT_A_TIME.lock().await;
    let cluster = Cluster::start().await;
    cluster.wait_health("ok").await;
    let vars = [("CHAT_URL_A", cluster.a.url("")), ("CHAT_URL_B", cluster.b.url(""))];
    let servers = [("node A", &cluster.a), ("node B", &cluster.b)];
    let passed =
        tokio::task::block_in_place(|| run_js_files(&["cluster/groups.mjs", "cluster/receipts.mjs"], &vars, &servers));
    println!("two-node group and receipt scenarios: {passed} tests passed");
}
