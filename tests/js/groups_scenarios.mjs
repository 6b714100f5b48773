// Groups that change and message edits with the official socket.io-client, written once for a
// pair of nodes: `A` and `B` are two base URLs, the same server for the single-node suite
// (`groups.test.mjs`) and two nodes of a cluster over Redis (`cluster/groups.mjs`). Users act
// through A and listen through both, so every event below crosses nodes in a cluster.

import { test } from "node:test";
import assert from "node:assert/strict";

import { MODES, Sockets, assertFailure, http, postMessage, registerAll } from "./helpers.mjs";

/** Runs `body(sockets)` and closes every socket it opened, whatever happened. */
async function withSockets(body) {
  const sockets = new Sockets();
  try {
    await body(sockets);
  } finally {
    sockets.closeAll();
  }
}

async function group(base, owner, others, name = "crew") {
  const reply = await http(base, "POST", "/api/chats", {
    token: owner.token,
    body: { participants: others.map((o) => o.id), name },
  });
  assert.equal(reply.status, 201, JSON.stringify(reply.body));
  return reply.body._id;
}

/** A socket's view of a chat, built only from the events it received, in arrival order. */
class ChatModel {
  constructor() {
    this.seqs = [];
    this.messages = new Map();
    this.name = undefined;
    this.participants = undefined;
  }

  apply(event, data) {
    switch (event) {
      case "message:new":
        this.seqs.push(data.seq);
        this.messages.set(data._id, { seq: data.seq, text: data.text, isDeleted: data.isDeleted, editedAt: data.editedAt });
        break;
      case "message:updated": {
        this.seqs.push(data.seq);
        const m = this.messages.get(data.message._id);
        assert.ok(m, `an edit of a message never seen: ${JSON.stringify(data)}`);
        Object.assign(m, { text: data.message.text, isDeleted: data.message.isDeleted, editedAt: data.message.editedAt });
        break;
      }
      case "message:deleted": {
        this.seqs.push(data.seq);
        const m = this.messages.get(data.messageId);
        assert.ok(m, `a delete of a message never seen: ${JSON.stringify(data)}`);
        Object.assign(m, { text: "", isDeleted: true });
        break;
      }
      case "chat:updated":
        this.seqs.push(data.seq);
        this.name = data.chat.name;
        this.participants = data.chat.participants;
        break;
      default:
    }
  }

  /** Applies every persisted event an inbox received (live), in order. */
  applyInbox(inbox) {
    for (const { event, data } of inbox.events) {
      if (["message:new", "message:updated", "message:deleted", "chat:updated"].includes(event)) this.apply(event, data);
    }
  }

  lastSeq() {
    return this.seqs.length === 0 ? 0 : Math.max(...this.seqs);
  }
}

export function groupScenarios(A, B, label) {
  for (const [mode, options] of MODES) {
    test(`${label} ${mode}: edits reach the room as message:updated and show in lastMessage`, () =>
      withSockets(async (sockets) => {
        const [alice, bob, carol] = await registerAll(A, "alice", "bob", "carol");
        const chat = await group(A, alice, [bob, carol]);
        const a = await sockets.user(A, options, alice);
        const b = await sockets.user(B, options, bob);
        await a.join(chat);
        await b.join(chat);
        const sent = await a.emit("message:send", { chatId: chat, text: "helo" });
        assert.equal(sent.message.editedAt, null);
        await b.waitFor("message:new");

        const edited = await a.emit("message:edit", { messageId: sent.message._id, text: "<b>hello</b>" });
        assert.equal(edited.success, true, JSON.stringify(edited));
        assert.equal(edited.message.text, "hello");
        const updated = await b.waitFor("message:updated");
        assert.deepEqual(updated, { message: edited.message, seq: 2 });

        const over = await http(A, "PATCH", `/api/messages/${sent.message._id}`, {
          token: alice.token,
          body: { text: "hello again" },
        });
        assert.equal(over.status, 200, JSON.stringify(over.body));
        assert.deepEqual(await b.waitFor("message:updated", (u) => u.seq === 3), { message: over.body, seq: 3 });
        const view = await http(B, "GET", `/api/chats/${chat}`, { token: bob.token });
        assert.equal(view.body.lastMessage.text, "hello again");

        assertFailure(await b.emit("message:edit", { messageId: sent.message._id, text: "mine" }), "forbidden");
        assertFailure(await a.emit("message:edit", { messageId: sent.message._id, text: " " }), "invalid_payload");
        await a.emit("message:send", { chatId: chat, text: "last" });
        await b.waitFor("message:new", (m) => m.text === "last");
        await b.assertNone("message:updated", (u) => u.seq > 3, "a refused edit");
      }));

    test(`${label} ${mode}: adds, renames and leaves reach the room and the personal rooms concerned`, () =>
      withSockets(async (sockets) => {
        const [alice, bob, carol, dave] = await registerAll(A, "alice", "bob", "carol", "dave");
        const chat = await group(A, alice, [bob, carol]);
        const a = await sockets.user(A, options, alice);
        const b = await sockets.user(B, options, bob);
        const c = await sockets.user(B, options, carol);
        const d = await sockets.user(B, options, dave);
        await a.join(chat);
        await b.join(chat);
        await c.join(chat);

        const added = await http(A, "POST", `/api/chats/${chat}/participants`, {
          token: bob.token,
          body: { userIds: [dave.id] },
        });
        assert.equal(added.status, 200, JSON.stringify(added.body));
        const change = { type: "added", userIds: [dave.id], by: bob.id };
        for (const inbox of [a, b, d]) assert.deepEqual((await inbox.waitFor("chat:updated")).change, change);
        const created = await d.waitFor("chat:created");
        assert.equal(created._id, chat);
        assert.deepEqual(created.participants, [alice.id, bob.id, carol.id, dave.id]);
        await d.join(chat);

        const renamed = await http(A, "PATCH", `/api/chats/${chat}`, { token: dave.token, body: { name: "Crew 2" } });
        assert.equal(renamed.status, 200, JSON.stringify(renamed.body));
        for (const inbox of [a, b, c, d]) {
          const update = await inbox.waitFor("chat:updated", (u) => u.change.type === "renamed");
          assert.equal(update.chat.name, "Crew 2");
          assert.equal(update.seq, 2);
        }

        const left = await http(A, "DELETE", `/api/chats/${chat}/participants/me`, { token: carol.token });
        assert.deepEqual(left.body, { success: true });
        for (const inbox of [a, b, c, d]) {
          const update = await inbox.waitFor("chat:updated", (u) => u.change.type === "left");
          assert.deepEqual(update.change, { type: "left", userIds: [carol.id], by: carol.id });
        }
        await a.emit("message:send", { chatId: chat, text: "without carol" });
        await b.waitFor("message:new");
        await c.assertNone("message:new", () => true, "a message after leaving");
        assert.equal(c.received("chat:updated", (u) => u.change.type === "left").length, 1, "once, not twice");
        assertFailure(await c.emit("chat:join", { chatId: chat }), "forbidden");
        const page = await http(B, "GET", `/api/chats/${chat}/messages`, { token: carol.token });
        assert.equal(page.status, 403);
      }));

    test(`${label} ${mode}: a message sent right after a removal never reaches the removed user's sockets`, () =>
      withSockets(async (sockets) => {
        const [alice, bob, carol] = await registerAll(A, "alice", "bob", "carol");
        const chat = await group(A, alice, [bob, carol]);
        const a = await sockets.user(A, options, alice);
        const b = await sockets.user(B, options, bob);
        const cA = await sockets.user(A, options, carol);
        const cB = await sockets.user(B, options, carol);
        for (const inbox of [a, b, cA, cB]) await inbox.join(chat);

        const removed = await http(A, "DELETE", `/api/chats/${chat}/participants/${carol.id}`, { token: alice.token });
        assert.deepEqual(removed.body, { success: true });
        // Right after the answer, through the node that removed her.
        const first = await a.emit("message:send", { chatId: chat, text: "right after" });
        const second = await postMessage(A, alice, chat, "and again");
        assert.equal(second.status, 201);
        // Once Bob, on the other node, has heard the removal, his node has evicted her too.
        await b.waitFor("chat:updated");
        const third = await b.emit("message:send", { chatId: chat, text: "from the other node" });
        for (const text of ["right after", "and again", "from the other node"]) await b.waitFor("message:new", (m) => m.text === text);
        assert.equal(first.message.seq, 2);
        assert.equal(third.message.seq, 4);
        for (const inbox of [cA, cB]) {
          const update = await inbox.waitFor("chat:updated");
          assert.deepEqual(update.change, { type: "removed", userIds: [carol.id], by: alice.id });
          await inbox.assertNone("message:new", (m) => m.seq > 1, "a message after the removal");
          assert.equal(inbox.received("chat:updated").length, 1);
          assertFailure(await inbox.emit("message:send", { chatId: chat, text: "hello?" }), "forbidden");
          assertFailure(await inbox.emit("chat:join", { chatId: chat, sinceSeq: 0 }), "forbidden");
        }
      }));

    test(`${label} ${mode}: messages sent through node B right after a removal through node A never reach the removed user on B`, () =>
      withSockets(async (sockets) => {
        const [alice, bob, carol] = await registerAll(A, "alice", "bob", "carol");
        const chat = await group(A, alice, [bob, carol]);
        const a = await sockets.user(A, options, alice);
        const b = await sockets.user(B, options, bob);
        const cB = await sockets.user(B, options, carol);
        for (const inbox of [a, b, cB]) await inbox.join(chat);

        const removed = await http(A, "DELETE", `/api/chats/${chat}/participants/${carol.id}`, { token: alice.token });
        assert.deepEqual(removed.body, { success: true });
        // At once, without waiting for node B to hear of the removal: B may deliver these
        // before the removal's own delivery (and its eviction) arrives over Redis. Each names
        // the chat's members as of its seq, which no longer include carol.
        const sends = [
          b.emit("message:send", { chatId: chat, text: "b1" }),
          postMessage(B, bob, chat, "b2"),
          b.emit("message:send", { chatId: chat, text: "b3" }),
        ];
        const replies = await Promise.all(sends);
        assert.equal(replies[1].status, 201, JSON.stringify(replies[1].body));
        for (const text of ["b1", "b2", "b3"]) await a.waitFor("message:new", (m) => m.text === text);
        const update = await cB.waitFor("chat:updated");
        assert.deepEqual(update.change, { type: "removed", userIds: [carol.id], by: alice.id });
        await cB.assertNone("message:new", () => true, "a message sent after the removal");
        // And her own send through B, right after, is refused and stores nothing.
        assertFailure(await cB.emit("message:send", { chatId: chat, text: "still here?" }), "forbidden");
        const page = await http(A, "GET", `/api/chats/${chat}/messages`, { token: alice.token });
        assert.deepEqual(page.body.messages.map((m) => m.text).sort(), ["b1", "b2", "b3"]);
      }));

    test(`${label} ${mode}: a client that drops during a burst of changes and rejoins with sinceSeq holds what the database holds`, () =>
      withSockets(async (sockets) => {
        const [alice, bob, carol, dave] = await registerAll(A, "alice", "bob", "carol", "dave");
        const chat = await group(A, alice, [bob, carol]);
        const a = await sockets.user(A, options, alice);
        let b = await sockets.user(B, options, bob);
        await a.join(chat);
        await b.join(chat);
        const model = new ChatModel();

        // One step at a time through node A, so that live events are published in seq order.
        const ids = [];
        const steps = [];
        for (let i = 0; i < 6; i += 1) {
          steps.push(async () => ids.push((await a.emit("message:send", { chatId: chat, text: `m${i}` })).message._id));
          if (i % 2 === 1) {
            steps.push(async () => a.emit("message:edit", { messageId: ids[ids.length - 1], text: `m${i} edited` }));
          }
          if (i === 2) {
            steps.push(async () => http(A, "POST", `/api/chats/${chat}/participants`, { token: alice.token, body: { userIds: [dave.id] } }));
            steps.push(async () => http(A, "DELETE", `/api/messages/${ids[0]}`, { token: alice.token }));
          }
          if (i === 4) {
            steps.push(async () => http(A, "PATCH", `/api/chats/${chat}`, { token: carol.token, body: { name: "renamed" } }));
            steps.push(async () => http(A, "DELETE", `/api/chats/${chat}/participants/${dave.id}`, { token: alice.token }));
          }
        }
        // Bob drops after the fourth step, while the rest goes on.
        for (const [n, step] of steps.entries()) {
          const result = await step();
          if (result && result.status !== undefined) assert.ok(result.status === 200, JSON.stringify(result.body));
          if (result && result.success !== undefined) assert.equal(result.success, true, JSON.stringify(result));
          if (n === 3) {
            await b.settle();
            b.socket.disconnect();
            model.applyInbox(b);
          }
        }
        b = await sockets.user(B, options, bob);
        const reply = await b.emit("chat:join", { chatId: chat, sinceSeq: model.lastSeq() });
        assert.equal(reply.recovered, true, JSON.stringify(reply));
        for (const { event, data } of reply.events) model.apply(event, data);
        // Live again, nothing missed, nothing twice.
        const live = await a.emit("message:send", { chatId: chat, text: "live" });
        await b.waitFor("message:new", (m) => m.text === "live");
        await b.settle();
        model.applyInbox(b);

        assert.deepEqual(model.seqs, Array.from({ length: live.message.seq }, (_, k) => k + 1), "every seq once, in order");
        const page = await http(A, "GET", `/api/chats/${chat}/messages?limit=100`, { token: alice.token });
        const stored = page.body.messages.map((m) => ({ id: m._id, text: m.text, editedAt: m.editedAt }));
        const held = [...model.messages.entries()]
          .filter(([, m]) => !m.isDeleted)
          .sort(([, x], [, y]) => x.seq - y.seq)
          .map(([id, m]) => ({ id, text: m.text, editedAt: m.editedAt }));
        assert.deepEqual(held, stored, "the client's messages are the database's");
        assert.equal(model.messages.get(ids[0]).isDeleted, true);
        const view = await http(A, "GET", `/api/chats/${chat}`, { token: alice.token });
        assert.equal(model.name, view.body.name);
        assert.deepEqual(model.participants, view.body.participants);
      }));
  }
}
