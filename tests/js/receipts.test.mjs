// Receipts with the official socket.io-client against the real chat-server at $CHAT_URL:
// ticks move sent → delivered → read as the recipient reports over the socket, the sender's
// room hears receipt:updated, the reader's other device hears chat:unread, and the chat's
// unreadCount and lastMessage.status over HTTP agree. Default transports and WebSocket only.

import { test } from "node:test";
import assert from "node:assert/strict";

import { MODES, Sockets, chatOf, env, http, registerAll } from "./helpers.mjs";

const BASE = env("CHAT_URL");

for (const [mode, options] of MODES) {
  test(`${mode}: ticks move sent, delivered, read and the badge clears on the other device`, async () => {
    const sockets = new Sockets();
    try {
      const [alice, bob] = await registerAll(BASE, "alice", "bob");
      const chatId = await chatOf(BASE, alice, [bob]);
      const aliceInbox = await sockets.user(BASE, options, alice);
      const bobPhone = await sockets.user(BASE, options, bob);
      const bobLaptop = await sockets.user(BASE, options, bob);
      await aliceInbox.join(chatId);
      await bobPhone.join(chatId);

      const sent = [];
      for (const text of ["one", "two"]) {
        const reply = await aliceInbox.emit("message:send", { chatId, text });
        assert.equal(reply.success, true, JSON.stringify(reply));
        assert.equal(reply.message.status, "sent");
        sent.push(reply.message);
      }
      const lastOf = async (user) => (await http(BASE, "GET", `/api/chats/${chatId}`, { token: user.token })).body;
      assert.equal((await lastOf(bob)).unreadCount, 2);

      assert.deepEqual(await bobPhone.emit("message:delivered", { chatId, seq: sent[1].seq }), { success: true });
      const delivered = await aliceInbox.waitFor("receipt:updated", (r) => r.deliveredSeq === sent[1].seq);
      assert.deepEqual(delivered, { chatId, userId: bob.id, deliveredSeq: sent[1].seq, readSeq: 0 });
      assert.equal((await lastOf(alice)).lastMessage.status, "delivered");

      assert.deepEqual(await bobPhone.emit("message:read", { chatId, seq: sent[1].seq }), { success: true });
      await aliceInbox.waitFor("receipt:updated", (r) => r.readSeq === sent[1].seq);
      assert.deepEqual(await bobLaptop.waitFor("chat:unread"), { chatId, unreadCount: 0 });
      const seenByAlice = await lastOf(alice);
      assert.equal(seenByAlice.lastMessage.status, "read");
      assert.deepEqual(
        seenByAlice.receipts.find((r) => r.userId === bob.id),
        { userId: bob.id, deliveredSeq: sent[1].seq, readSeq: sent[1].seq },
      );
      assert.equal((await lastOf(bob)).unreadCount, 0);

      // The original backend's updateStatus on an older message changes nothing: never back.
      const reply = await http(BASE, "PATCH", `/api/messages/${sent[0]._id}/status`, {
        token: bob.token,
        body: { status: "delivered" },
      });
      assert.equal(reply.status, 200, JSON.stringify(reply.body));
      assert.equal((await lastOf(alice)).lastMessage.status, "read");
    } finally {
      sockets.closeAll();
    }
  });
}

// The server's own delivery receipt: Bob's phone is in the chat's room and gets the
// message:new, so within the flush period (1 s) the room hears his deliveredSeq move, without
// Bob's client saying anything. Alice's own sockets got the message too; nothing of hers moves.
test("the server marks a message delivered once it reached a socket of the recipient", async () => {
  const sockets = new Sockets();
  try {
    const [alice, bob] = await registerAll(BASE, "alice", "bob");
    const chatId = await chatOf(BASE, alice, [bob]);
    const aliceInbox = await sockets.user(BASE, {}, alice);
    const bobPhone = await sockets.user(BASE, {}, bob);
    await aliceInbox.join(chatId);
    await bobPhone.join(chatId);

    const reply = await aliceInbox.emit("message:send", { chatId, text: "are you there?" });
    assert.equal(reply.success, true, JSON.stringify(reply));
    assert.equal(reply.message.status, "sent");
    await bobPhone.waitFor("message:new");
    const receipt = await aliceInbox.waitFor("receipt:updated", (r) => r.userId === bob.id);
    assert.deepEqual(receipt, { chatId, userId: bob.id, deliveredSeq: reply.message.seq, readSeq: 0 });
    const chat = (await http(BASE, "GET", `/api/chats/${chatId}`, { token: alice.token })).body;
    assert.equal(chat.lastMessage.status, "delivered");
    assert.equal(chat.unreadCount, 0);
    await aliceInbox.assertNone("receipt:updated", (r) => r.userId === alice.id, "a receipt of the sender");
  } finally {
    sockets.closeAll();
  }
});

// receipt:updated is paced: at most one per participant and chat per second, the latest
// values winning. The server's delivery receipt opens Bob's window; two quick reads inside it
// reach the room once, as the latest values, when the window ends. Bob's own badge (chat:unread)
// is not paced.
test("two quick reads reach the room once, with the latest values", async () => {
  const sockets = new Sockets();
  try {
    const [alice, bob] = await registerAll(BASE, "alice", "bob");
    const chatId = await chatOf(BASE, alice, [bob]);
    const aliceInbox = await sockets.user(BASE, {}, alice);
    const bobPhone = await sockets.user(BASE, {}, bob);
    await aliceInbox.join(chatId);
    await bobPhone.join(chatId);
    let last = 0;
    for (const text of ["one", "two", "three"]) {
      const reply = await aliceInbox.emit("message:send", { chatId, text });
      assert.equal(reply.success, true, JSON.stringify(reply));
      last = reply.message.seq;
    }
    const isBob = (r) => r.userId === bob.id;
    await aliceInbox.waitFor("receipt:updated", (r) => isBob(r) && r.deliveredSeq === last);

    assert.deepEqual(await bobPhone.emit("message:read", { chatId, seq: last - 2 }), { success: true });
    assert.deepEqual(await bobPhone.emit("message:read", { chatId, seq: last }), { success: true });
    assert.deepEqual(await bobPhone.waitFor("chat:unread", (u) => u.unreadCount === 0), { chatId, unreadCount: 0 });
    const read = await aliceInbox.waitFor("receipt:updated", (r) => isBob(r) && r.readSeq === last);
    assert.deepEqual(read, { chatId, userId: bob.id, deliveredSeq: last, readSeq: last });
    // Nothing of the first read reached the room: it was merged into the latest values.
    await aliceInbox.settle();
    const bobs = aliceInbox.received("receipt:updated", isBob);
    assert.deepEqual(bobs.map((r) => r.readSeq).filter((seq) => seq > 0), [last], JSON.stringify(bobs));
  } finally {
    sockets.closeAll();
  }
});
