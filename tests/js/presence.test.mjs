// Presence with the official socket.io-client against the real chat-server at $CHAT_URL: a
// contact hears `presence:update` online on the first socket, nothing for a page reload inside
// the 5 s grace, and offline with `lastSeenAt` once the grace after the last socket ran out;
// `GET /api/presence` agrees. Default transports and WebSocket only.
//
// "Nothing for the reload" is shown without sleeping: a third user's socket closes right after
// the reload's close, so the grace of that user ends after the reload's would have; the server
// ends graces in deadline order and queues a socket's frames in order, so once the third
// user's offline has reached the watcher, an offline for the reload would have arrived before.
// The one sleep: 300 ms between the reload's closes and its new socket, as a browser takes,
// so that the server has seen the closes (on another session) before the new connect.

import { test } from "node:test";
import assert from "node:assert/strict";

import { ISO_TIME, MODES, Sockets, chatOf, delay, env, http, registerAll } from "./helpers.mjs";

const BASE = env("CHAT_URL");
/** The grace (5 s) plus the server's expiry period and slack for a loaded machine. */
const GRACE_WAIT_MS = 15_000;

/** An inbox that also records `presence:update`, which the shared inbox does not. */
async function watcher(sockets, options, user) {
  const inbox = await sockets.user(BASE, options, user);
  inbox.socket.on("presence:update", (data) => inbox.push("presence:update", data));
  return inbox;
}

const presenceOf = async (asker, users) => {
  const ids = users.map((u) => u.id).join(",");
  const reply = await http(BASE, "GET", `/api/presence?userIds=${ids}`, { token: asker.token });
  assert.equal(reply.status, 200, JSON.stringify(reply.body));
  return reply.body;
};

for (const [mode, options] of MODES) {
  test(`${mode}: online on the first socket, a reload says nothing, offline after the grace`, async () => {
    const sockets = new Sockets();
    try {
      const [alice, bob, carol, stranger] = await registerAll(BASE, "alice", "bob", "carol", "stranger");
      await chatOf(BASE, alice, [bob]);
      await chatOf(BASE, carol, [bob]);
      const bobs = await watcher(sockets, options, bob);
      const strangers = await watcher(sockets, options, stranger);

      const tab = await sockets.user(BASE, options, alice);
      const online = await bobs.waitFor("presence:update", (p) => p.userId === alice.id);
      assert.deepEqual(online, { userId: alice.id, online: true, lastSeenAt: null });
      const secondTab = await sockets.user(BASE, options, alice);
      assert.deepEqual(await presenceOf(bob, [alice, stranger]), [{ userId: alice.id, online: true, lastSeenAt: null }]);
      assert.deepEqual(await presenceOf(stranger, [alice]), [], "no chat shared: nothing told");

      // The marker: carol is online now, and her only socket closes right after the reload.
      const carols = await sockets.user(BASE, options, carol);
      await bobs.waitFor("presence:update", (p) => p.userId === carol.id && p.online);

      // A reload: both tabs close and one comes back at once.
      tab.socket.disconnect();
      secondTab.socket.disconnect();
      await delay(300);
      const reloaded = await sockets.user(BASE, options, alice);
      carols.socket.disconnect();
      const carolGone = await bobs.waitFor(
        "presence:update",
        (p) => p.userId === carol.id && !p.online,
        GRACE_WAIT_MS,
      );
      assert.match(carolGone.lastSeenAt, ISO_TIME);
      assert.deepEqual(
        bobs.received("presence:update", (p) => p.userId === alice.id),
        [online],
        "the reload inside the grace announced nothing",
      );
      assert.equal((await presenceOf(bob, [alice]))[0].online, true);

      // The last socket closes: offline once the grace ran out, with when it closed.
      const closedAfter = Date.now();
      reloaded.socket.disconnect();
      const offline = await bobs.waitFor(
        "presence:update",
        (p) => p.userId === alice.id && !p.online,
        GRACE_WAIT_MS,
      );
      assert.match(offline.lastSeenAt, ISO_TIME);
      const lastSeen = Date.parse(offline.lastSeenAt);
      assert.ok(Math.abs(lastSeen - closedAfter) < 2_000, `lastSeenAt ${offline.lastSeenAt} is when the socket closed`);
      assert.deepEqual(await presenceOf(bob, [alice]), [offline], "the query agrees and lastSeenAt is stored");

      await strangers.settle();
      assert.deepEqual(strangers.received("presence:update"), [], "a stranger hears nothing");
    } finally {
      sockets.closeAll();
    }
  });
}
