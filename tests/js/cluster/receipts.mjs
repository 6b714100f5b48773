// Receipts on two nodes of a cluster over Redis ($CHAT_URL_A and $CHAT_URL_B): Alice and Bob's
// laptop are on node A, Bob's phone on node B. The message Alice sends through A reaches Bob's
// phone on B, so node B's server marks it delivered; Bob reads on his phone; Alice sees the
// ticks move sent → delivered → read, and the badge of Bob's laptop on the other node clears.
// Not a `*.test.mjs` file, so the single-node suite does not pick it up;
// tests/tests/it/cluster_js.rs runs it.

import { test } from "node:test";
import assert from "node:assert/strict";

import { MODES, Sockets, chatOf, env, http, registerAll } from "../helpers.mjs";

const A = env("CHAT_URL_A");
const B = env("CHAT_URL_B");

for (const [mode, options] of MODES) {
  test(`two nodes, ${mode}: ticks move sent, delivered by the server, read, and the badge clears`, async () => {
    const sockets = new Sockets();
    try {
      const [alice, bob] = await registerAll(A, "alice", "bob");
      const chatId = await chatOf(A, alice, [bob]);
      const aliceInbox = await sockets.user(A, options, alice);
      const bobLaptop = await sockets.user(A, options, bob);
      const bobPhone = await sockets.user(B, options, bob);
      await aliceInbox.join(chatId);
      // Only the phone joins the chat's room: no socket of Bob's on node A gets message:new.
      await bobPhone.join(chatId);
      const chatOn = async (base, user) =>
        (await http(base, "GET", `/api/chats/${chatId}`, { token: user.token })).body;

      const reply = await aliceInbox.emit("message:send", { chatId, text: "across the cluster" });
      assert.equal(reply.success, true, JSON.stringify(reply));
      const seq = reply.message.seq;
      assert.equal(reply.message.status, "sent");
      await bobPhone.waitFor("message:new", (m) => m.seq === seq);

      const isBob = (r) => r.userId === bob.id;
      const delivered = await aliceInbox.waitFor("receipt:updated", (r) => isBob(r) && r.deliveredSeq === seq);
      assert.deepEqual(delivered, { chatId, userId: bob.id, deliveredSeq: seq, readSeq: 0 });
      assert.equal((await chatOn(A, alice)).lastMessage.status, "delivered");
      assert.equal((await chatOn(A, bob)).unreadCount, 1);

      assert.deepEqual(await bobPhone.emit("message:read", { chatId, seq }), { success: true });
      const read = await aliceInbox.waitFor("receipt:updated", (r) => isBob(r) && r.readSeq === seq);
      assert.deepEqual(read, { chatId, userId: bob.id, deliveredSeq: seq, readSeq: seq });
      assert.deepEqual(await bobLaptop.waitFor("chat:unread"), { chatId, unreadCount: 0 });
      assert.equal((await chatOn(A, alice)).lastMessage.status, "read");
      assert.equal((await chatOn(B, bob)).unreadCount, 0);
      // The laptop is not in the chat's room: it heard the badge, never the room's receipts.
      await bobLaptop.assertNone("receipt:updated");
    } finally {
      sockets.closeAll();
    }
  });
}
