// Presence on two nodes of a cluster over Redis ($CHAT_URL_A and $CHAT_URL_B), with the
// official socket.io-client: the watcher listens on node B while the user comes and goes on
// node A; a reload that lands on the other node inside the grace announces nothing; offline
// comes from the node that held the user last. Not a `*.test.mjs` file, so the single-node
// suite does not pick it up; tests/tests/it/cluster_presence.rs runs it.
//
// "Nothing for the reload" is shown without sleeping, as in ../presence.test.mjs: a third
// user's only socket closes after the reload's, and its offline reaching the watcher proves
// the grace of the reload's close has ended too. The one sleep: 300 ms between the reload's
// close and its new socket, as a browser takes, so that node A has seen the close first.

import { test } from "node:test";
import assert from "node:assert/strict";

import { ISO_TIME, MODES, Sockets, chatOf, delay, env, http, registerAll } from "../helpers.mjs";

const A = env("CHAT_URL_A");
const B = env("CHAT_URL_B");
const GRACE_WAIT_MS = 15_000;

for (const [mode, options] of MODES) {
  test(`two nodes, ${mode}: online, a reload onto the other node, offline`, async () => {
    const sockets = new Sockets();
    try {
      const [alice, bob, carol] = await registerAll(A, "alice", "bob", "carol");
      await chatOf(A, alice, [bob]);
      await chatOf(A, carol, [bob]);
      const bobs = await sockets.user(B, options, bob);
      bobs.socket.on("presence:update", (data) => bobs.push("presence:update", data));

      const onA = await sockets.user(A, options, alice);
      const online = await bobs.waitFor("presence:update", (p) => p.userId === alice.id);
      assert.deepEqual(online, { userId: alice.id, online: true, lastSeenAt: null });
      const carols = await sockets.user(A, options, carol);
      await bobs.waitFor("presence:update", (p) => p.userId === carol.id && p.online);

      onA.socket.disconnect();
      await delay(300);
      const onB = await sockets.user(B, options, alice);
      carols.socket.disconnect();
      await bobs.waitFor("presence:update", (p) => p.userId === carol.id && !p.online, GRACE_WAIT_MS);
      assert.deepEqual(
        bobs.received("presence:update", (p) => p.userId === alice.id),
        [online],
        "the reload through node B announced nothing",
      );
      const asked = await http(A, "GET", `/api/presence?userIds=${alice.id}`, { token: bob.token });
      assert.deepEqual(asked.body, [{ userId: alice.id, online: true, lastSeenAt: null }], "node A sees her online");

      onB.socket.disconnect();
      const offline = await bobs.waitFor("presence:update", (p) => p.userId === alice.id && !p.online, GRACE_WAIT_MS);
      assert.match(offline.lastSeenAt, ISO_TIME);
      const again = await http(A, "GET", `/api/presence?userIds=${alice.id}`, { token: bob.token });
      assert.deepEqual(again.body, [offline], "either node answers the same, lastSeenAt stored");
    } finally {
      sockets.closeAll();
    }
  });
}
