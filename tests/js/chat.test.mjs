// The contract's Socket.IO events with the official socket.io-client against the real
// chat-server at $CHAT_URL: connecting and being refused, joining, sending, HTTP-created and
// deleted messages, chat:created, typing, leaving and catching up. Every scenario runs with
// the default transports (polling, then upgrade to WebSocket) and with WebSocket only.

import { test } from "node:test";
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";

import {
  ISO_TIME,
  MODES,
  NO_SUCH_ID,
  Sockets,
  assertChat,
  assertFailure,
  assertMessage,
  chatOf,
  connectError,
  createChat,
  delay,
  env,
  http,
  next,
  postMessage,
  register,
  registerAll,
  uniqueName,
} from "./helpers.mjs";

const BASE = env("CHAT_URL");

/** Runs `body(sockets)` and closes every socket it opened, whatever happened. */
async function withSockets(body) {
  const sockets = new Sockets();
  try {
    await body(sockets);
  } finally {
    sockets.closeAll();
  }
}

/** A token with a valid shape whose signature does not match (the payload names `sub`). */
function forgedToken(sub) {
  const enc = (o) => Buffer.from(JSON.stringify(o)).toString("base64url");
  const head = `${enc({ alg: "HS256", typ: "JWT" })}.${enc({ sub, exp: Math.floor(Date.now() / 1000) + 3600 })}`;
  const sig = createHmac("sha256", "not-the-server-secret-0123456789abcdef").update(head).digest("base64url");
  return `${head}.${sig}`;
}

/** A valid token whose payload was altered after signing. */
function tamperedToken(token, sub) {
  const [head, , sig] = token.split(".");
  const payload = JSON.parse(Buffer.from(token.split(".")[1], "base64url").toString());
  payload.sub = sub;
  return `${head}.${Buffer.from(JSON.stringify(payload)).toString("base64url")}.${sig}`;
}

for (const [mode, options] of MODES) {
  // ---------------------------------------------------------------- connecting

  test(`${mode}: connects with auth {token} and joins the personal room`, () =>
    withSockets(async (sockets) => {
      const [alice, bob] = await registerAll(BASE, "alice", "bob");
      const inbox = await sockets.user(BASE, options, alice);
      assert.equal(typeof inbox.socket.id, "string");
      const engine = inbox.socket.io.engine;
      if (engine.transport.name !== "websocket") {
        await next(engine, "upgrade");
      }
      assert.equal(engine.transport.name, "websocket", "the default options end up on WebSocket");
      // The personal room proves who the server thinks the socket is.
      const created = await createChat(BASE, bob, [alice]);
      assert.equal(created.status, 201);
      assert.deepEqual(await inbox.waitFor("chat:created"), created.body);
    }));

  test(`${mode}: connects with an Authorization: Bearer header (extraHeaders; Node can, browsers cannot)`, () =>
    withSockets(async (sockets) => {
      const [alice, bob] = await registerAll(BASE, "alice", "bob");
      const socket = await sockets.connect(BASE, options, { extraHeaders: { Authorization: `Bearer ${alice.token}` } });
      const created = next(socket, "chat:created");
      const reply = await createChat(BASE, bob, [alice]);
      assert.equal(reply.status, 201);
      assert.deepEqual(await created, reply.body);
    }));

  test(`${mode}: connects with the ?token= query parameter`, () =>
    withSockets(async (sockets) => {
      const [alice, bob] = await registerAll(BASE, "alice", "bob");
      const socket = await sockets.connect(BASE, options, { query: { token: alice.token } });
      const created = next(socket, "chat:created");
      const reply = await createChat(BASE, bob, [alice]);
      assert.equal(reply.status, 201);
      assert.deepEqual(await created, reply.body);
    }));

  test(`${mode}: a missing or bad token is refused with connect_error "Unauthorized"`, () =>
    withSockets(async (sockets) => {
      const [alice, bob] = await registerAll(BASE, "alice", "bob");
      const refused = [
        ["no token at all", {}],
        ["an empty auth object", { auth: {} }],
        ["a non-string auth token", { auth: { token: 42 } }],
        ["garbage in auth", { auth: { token: "not-a-jwt" } }],
        ["an empty auth token", { auth: { token: "" } }],
        ["a token signed with another secret", { auth: { token: forgedToken(alice.id) } }],
        ["a token whose payload was altered", { auth: { token: tamperedToken(alice.token, bob.id) } }],
        ["garbage in the header", { extraHeaders: { Authorization: "Bearer not-a-jwt" } }],
        ["a non-Bearer header", { extraHeaders: { Authorization: `Basic ${alice.token}` } }],
        ["garbage in the query", { query: { token: "not-a-jwt" } }],
      ];
      for (const [what, extra] of refused) {
        const socket = sockets.open(BASE, options, extra);
        const err = await connectError(socket);
        assert.equal(err.message, "Unauthorized", what);
        assert.equal(socket.connected, false, what);
        socket.disconnect();
      }
      // The same client and server still accept a good token afterwards.
      const inbox = await sockets.user(BASE, options, alice);
      assert.ok(inbox.socket.connected);
    }));

  // ---------------------------------------------------------------- joining

  test(`${mode}: chat:join acks {success: true, lastSeq} for a participant`, () =>
    withSockets(async (sockets) => {
      const [alice, bob] = await registerAll(BASE, "alice", "bob");
      const chat = await chatOf(BASE, alice, [bob]);
      const a = await sockets.user(BASE, options, alice);
      assert.deepEqual(await a.emit("chat:join", { chatId: chat }), { success: true, lastSeq: 0 });
      // Joining twice is harmless and delivers once.
      assert.deepEqual(await a.emit("chat:join", { chatId: chat }), { success: true, lastSeq: 0 });
      const sent = await postMessage(BASE, bob, chat, "once");
      assert.equal(sent.status, 201);
      await a.waitFor("message:new");
      await a.settle();
      assert.deepEqual(a.received("message:new"), [sent.body]);
    }));

  test(`${mode}: chat:join by a non-participant acks forbidden and delivers nothing of that chat`, () =>
    withSockets(async (sockets) => {
      const [alice, bob, carol] = await registerAll(BASE, "alice", "bob", "carol");
      const chat = await chatOf(BASE, alice, [bob]);
      const [a, b, c] = await Promise.all([alice, bob, carol].map((u) => sockets.user(BASE, options, u)));
      await a.join(chat);
      await b.join(chat);
      assertFailure(await c.emit("chat:join", { chatId: chat }), "forbidden");
      // Neither a socket message nor an HTTP one, nor a delete, nor typing reaches carol.
      const viaSocket = await a.emit("message:send", { chatId: chat, text: "secret 1" });
      assert.equal(viaSocket.success, true);
      const viaHttp = await postMessage(BASE, bob, chat, "secret 2");
      assert.equal(viaHttp.status, 201);
      assert.equal((await http(BASE, "DELETE", `/api/messages/${viaHttp.body._id}`, { token: bob.token })).status, 200);
      assert.deepEqual(await a.emit("message:typing", { chatId: chat, isTyping: true }), { success: true });
      await b.waitFor("message:deleted");
      await b.waitFor("message:typing");
      await c.assertNone("message:new");
      await c.assertNone("message:deleted");
      await c.assertNone("message:typing");
    }));

  test(`${mode}: chat:join of an unknown chat acks not_found; a malformed chatId acks invalid_payload`, () =>
    withSockets(async (sockets) => {
      const alice = await register(BASE, "alice");
      const a = await sockets.user(BASE, options, alice);
      assertFailure(await a.emit("chat:join", { chatId: NO_SUCH_ID }), "not_found");
      for (const chatId of ["nope", "0123456789abcdef0123456", "0123456789abcdef012345678", "g".repeat(24), ""]) {
        assertFailure(await a.emit("chat:join", { chatId }), "invalid_payload");
      }
      assert.ok(a.socket.connected);
    }));

  // ---------------------------------------------------------------- sending

  test(`${mode}: message:send acks the sanitized message and message:new reaches the room, sender included`, () =>
    withSockets(async (sockets) => {
      const [alice, bob] = await registerAll(BASE, "alice", "bob");
      const chat = await chatOf(BASE, alice, [bob]);
      const [a, b] = await Promise.all([alice, bob].map((u) => sockets.user(BASE, options, u)));
      await a.join(chat);
      await b.join(chat);

      const clientId = uniqueName("client");
      const text = "1 < 2 & <b>bold</b><script>alert(1)</script>";
      const reply = await a.emit("message:send", { chatId: chat, text, clientId });
      assert.deepEqual(Object.keys(reply).sort(), ["message", "success"]);
      assert.equal(reply.success, true);
      assertMessage(reply.message, { sender: alice.id, chat, text: "1 &lt; 2 &amp; bold", seq: 1, clientId });
      assert.deepEqual(await a.waitFor("message:new"), reply.message, "the sender's socket gets it too");
      assert.deepEqual(await b.waitFor("message:new"), reply.message);

      // Without a clientId there is none in the message; `type` is kept; seq goes on.
      const voice = await b.emit("message:send", { chatId: chat, text: "listen", type: "voice" });
      assertMessage(voice.message, { sender: bob.id, chat, text: "listen", type: "voice", seq: 2 });
      assert.deepEqual(await a.waitFor("message:new", (m) => m.seq === 2), voice.message);

      // Every rule of POST /api/messages applies.
      assertFailure(await a.emit("message:send", { chatId: chat, text: "   " }), "invalid_payload");
      assertFailure(await a.emit("message:send", { chatId: chat, text: "<b></b>" }), "invalid_payload");
      assertFailure(await a.emit("message:send", { chatId: chat, text: "x".repeat(10_001) }), "invalid_payload");
      assertFailure(await a.emit("message:send", { chatId: chat, text: "hi", type: "video" }), "invalid_payload");
      assertFailure(await a.emit("message:send", { chatId: NO_SUCH_ID, text: "hi" }), "not_found");
      const exactly = await a.emit("message:send", { chatId: chat, text: "y".repeat(10_000) });
      assert.equal(exactly.success, true, "10,000 characters are allowed");
      assert.equal(exactly.message.seq, 3, "refused sends take no seq");
    }));

  test(`${mode}: message:send by a non-participant acks forbidden and nothing is delivered`, () =>
    withSockets(async (sockets) => {
      const [alice, bob, carol] = await registerAll(BASE, "alice", "bob", "carol");
      const chat = await chatOf(BASE, alice, [bob]);
      const [a, c] = await Promise.all([alice, carol].map((u) => sockets.user(BASE, options, u)));
      await a.join(chat);
      assertFailure(await c.emit("message:send", { chatId: chat, text: "let me in" }), "forbidden");
      await a.assertNone("message:new");
    }));

  test(`${mode}: a retry with the same clientId returns the same message and emits no second message:new`, () =>
    withSockets(async (sockets) => {
      const [alice, bob] = await registerAll(BASE, "alice", "bob");
      const chat = await chatOf(BASE, alice, [bob]);
      const [a, b] = await Promise.all([alice, bob].map((u) => sockets.user(BASE, options, u)));
      await a.join(chat);
      await b.join(chat);
      const clientId = uniqueName("retry");
      const first = await a.emit("message:send", { chatId: chat, text: "only once", clientId });
      assert.equal(first.success, true);
      // A retry answers the stored message as it is now: bob's socket got it, so the server's
      // delivery receipt (flushed once a second, docs/realtime.md "Receipts") may have made it
      // "delivered" meanwhile. Either status is right; everything else must match.
      assert.equal(first.message.status, "sent");
      const asSent = (m) => (m.status === "delivered" ? { ...m, status: "sent" } : m);
      const again = await a.emit("message:send", { chatId: chat, text: "only once", clientId });
      assert.deepEqual({ ...again, message: asSent(again.message) }, first);
      // The same clientId over HTTP is the same retry.
      const overHttp = await postMessage(BASE, alice, chat, "only once", { clientId });
      assert.equal(overHttp.status, 201);
      assert.deepEqual(asSent(overHttp.body), first.message);
      await b.waitFor("message:new");
      await Promise.all([a.settle(), b.settle()]);
      assert.deepEqual(a.received("message:new"), [first.message], "one message:new only");
      assert.deepEqual(b.received("message:new"), [first.message], "one message:new only");
    }));

  test(`${mode}: a message created over HTTP reaches the sockets in the room`, () =>
    withSockets(async (sockets) => {
      const [alice, bob] = await registerAll(BASE, "alice", "bob");
      const chat = await chatOf(BASE, alice, [bob]);
      const [a, b] = await Promise.all([alice, bob].map((u) => sockets.user(BASE, options, u)));
      await a.join(chat);
      await b.join(chat);
      const clientId = uniqueName("http");
      const posted = await postMessage(BASE, alice, chat, "<i>over</i> http", { clientId });
      assert.equal(posted.status, 201);
      assertMessage(posted.body, { sender: alice.id, chat, text: "over http", seq: 1, clientId });
      assert.deepEqual(await a.waitFor("message:new"), posted.body);
      assert.deepEqual(await b.waitFor("message:new"), posted.body);
    }));

  test(`${mode}: DELETE over HTTP emits message:deleted {messageId, chatId, seq} to the room`, () =>
    withSockets(async (sockets) => {
      const [alice, bob] = await registerAll(BASE, "alice", "bob");
      const chat = await chatOf(BASE, alice, [bob]);
      const [a, b] = await Promise.all([alice, bob].map((u) => sockets.user(BASE, options, u)));
      await a.join(chat);
      await b.join(chat);
      const sent = await b.emit("message:send", { chatId: chat, text: "soon gone" });
      assert.equal(sent.message.seq, 1);
      const refused = await http(BASE, "DELETE", `/api/messages/${sent.message._id}`, { token: alice.token });
      assert.equal(refused.status, 403);
      const deleted = await http(BASE, "DELETE", `/api/messages/${sent.message._id}`, { token: bob.token });
      assert.equal(deleted.status, 200);
      const expected = { messageId: sent.message._id, chatId: chat, seq: 2 };
      assert.deepEqual(await a.waitFor("message:deleted"), expected);
      assert.deepEqual(await b.waitFor("message:deleted"), expected);
      // Deleting again changes nothing and announces nothing.
      const again = await http(BASE, "DELETE", `/api/messages/${sent.message._id}`, { token: bob.token });
      assert.equal(again.status, 200);
      await a.settle();
      assert.deepEqual(a.received("message:deleted"), [expected], "one message:deleted only");
    }));

  // ---------------------------------------------------------------- chat:created

  test(`${mode}: chat:created reaches every participant's sockets, once`, () =>
    withSockets(async (sockets) => {
      const [alice, bob, carol] = await registerAll(BASE, "alice", "bob", "carol");
      // Alice has two sockets (two tabs); both get it.
      const [a1, a2, b, c] = await Promise.all(
        [alice, alice, bob, carol].map((u) => sockets.user(BASE, options, u)),
      );
      const created = await createChat(BASE, alice, [bob]);
      assert.equal(created.status, 201);
      assertChat(created.body, {
        name: null,
        isGroup: false,
        participants: [alice.id, bob.id],
        createdBy: alice.id,
        lastMessage: null,
      });
      for (const inbox of [a1, a2, b]) {
        assert.deepEqual(await inbox.waitFor("chat:created"), created.body);
      }
      // The existing 1:1 chat is returned (200), and not announced again.
      const existing = await createChat(BASE, bob, [alice]);
      assert.equal(existing.status, 200);
      assert.equal(existing.body._id, created.body._id);
      for (const inbox of [a1, a2, b]) {
        await inbox.settle();
        assert.deepEqual(inbox.received("chat:created"), [created.body], "one chat:created only");
      }
      await c.assertNone("chat:created", () => true, "chat:created to a non-participant");

      // A group: all three.
      const group = await createChat(BASE, carol, [alice, bob], "team");
      assert.equal(group.status, 201);
      assertChat(group.body, { name: "team", isGroup: true, createdBy: carol.id });
      for (const inbox of [a1, a2, b, c]) {
        assert.deepEqual(await inbox.waitFor("chat:created", (ch) => ch._id === group.body._id), group.body);
      }
    }));

  // ---------------------------------------------------------------- typing

  test(`${mode}: message:typing reaches the others, not the sender's own sockets`, () =>
    withSockets(async (sockets) => {
      const [alice, bob] = await registerAll(BASE, "alice", "bob");
      const chat = await chatOf(BASE, alice, [bob]);
      const [a1, a2, b] = await Promise.all([alice, alice, bob].map((u) => sockets.user(BASE, options, u)));
      for (const inbox of [a1, a2, b]) await inbox.join(chat);

      // As the frontends do it: no acknowledgement.
      a1.socket.emit("message:typing", { chatId: chat, isTyping: true });
      assert.deepEqual(await b.waitFor("message:typing"), { chatId: chat, userId: alice.id, isTyping: true });
      assert.deepEqual(await a1.emit("message:typing", { chatId: chat, isTyping: false }), { success: true });
      assert.deepEqual(await b.waitFor("message:typing", (t) => !t.isTyping), {
        chatId: chat,
        userId: alice.id,
        isTyping: false,
      });
      await a1.assertNone("message:typing", () => true, "typing echoed to the typist");
      await a2.assertNone("message:typing", () => true, "typing sent to the typist's other socket");

      // And the other way round.
      assert.deepEqual(await b.emit("message:typing", { chatId: chat, isTyping: true }), { success: true });
      const expected = { chatId: chat, userId: bob.id, isTyping: true };
      assert.deepEqual(await a1.waitFor("message:typing"), expected);
      assert.deepEqual(await a2.waitFor("message:typing"), expected);
    }));

  test(`${mode}: message:typing from a non-participant is not delivered`, () =>
    withSockets(async (sockets) => {
      const [alice, bob, carol] = await registerAll(BASE, "alice", "bob", "carol");
      const chat = await chatOf(BASE, alice, [bob]);
      const [a, b, c] = await Promise.all([alice, bob, carol].map((u) => sockets.user(BASE, options, u)));
      await a.join(chat);
      await b.join(chat);
      assertFailure(await c.emit("message:typing", { chatId: chat, isTyping: true }), "forbidden");
      c.socket.emit("message:typing", { chatId: chat, isTyping: true });
      // Carol's events are handled in order: after this round trip her typing was handled.
      await c.settle();
      await a.assertNone("message:typing");
      await b.assertNone("message:typing");
      assert.ok(c.socket.connected);
    }));

  test(`${mode}: a typist that disconnects is announced as stopped within 5 s`, () =>
    withSockets(async (sockets) => {
      const [alice, bob] = await registerAll(BASE, "alice", "bob");
      const chat = await chatOf(BASE, alice, [bob]);
      const [a, b] = await Promise.all([alice, bob].map((u) => sockets.user(BASE, options, u)));
      await a.join(chat);
      await b.join(chat);
      await a.emit("message:typing", { chatId: chat, isTyping: true });
      await b.waitFor("message:typing", (t) => t.isTyping);
      const started = Date.now();
      a.socket.disconnect();
      const stopped = await b.waitFor("message:typing", (t) => !t.isTyping, 5000);
      assert.deepEqual(stopped, { chatId: chat, userId: alice.id, isTyping: false });
      assert.ok(Date.now() - started < 5000);
    }));

  test(`${mode}: a typist that goes quiet is announced as stopped`, () =>
    withSockets(async (sockets) => {
      const [alice, bob] = await registerAll(BASE, "alice", "bob");
      const chat = await chatOf(BASE, alice, [bob]);
      const [a, b] = await Promise.all([alice, bob].map((u) => sockets.user(BASE, options, u)));
      await a.join(chat);
      await b.join(chat);
      await a.emit("message:typing", { chatId: chat, isTyping: true });
      const quietSince = Date.now();
      await b.waitFor("message:typing", (t) => t.isTyping);
      // The server expires a typist after 4 s of silence (GatewayConfig::typing_expiry).
      const stopped = await b.waitFor("message:typing", (t) => !t.isTyping, 8000);
      const after = Date.now() - quietSince;
      assert.deepEqual(stopped, { chatId: chat, userId: alice.id, isTyping: false });
      assert.ok(after >= 3500, `announced after ${after} ms of silence, before the expiry`);
      assert.ok(a.socket.connected, "going quiet does not disconnect");
    }));

  test(`${mode}: repeated isTyping: true is forwarded at most once a second`, () =>
    withSockets(async (sockets) => {
      const [alice, bob] = await registerAll(BASE, "alice", "bob");
      const chat = await chatOf(BASE, alice, [bob]);
      const [a, b] = await Promise.all([alice, bob].map((u) => sockets.user(BASE, options, u)));
      await a.join(chat);
      await b.join(chat);
      for (let i = 0; i < 20; i += 1) {
        assert.deepEqual(await a.emit("message:typing", { chatId: chat, isTyping: true }), { success: true });
      }
      await b.waitFor("message:typing");
      await b.settle();
      assert.equal(b.received("message:typing").length, 1, "starts within the throttle interval are dropped");
      // After the interval (GatewayConfig::typing_throttle, 1 s) a start is forwarded again.
      await delay(1100);
      assert.deepEqual(await a.emit("message:typing", { chatId: chat, isTyping: true }), { success: true });
      await b.waitFor("message:typing", () => b.received("message:typing").length >= 2);
      assert.ok(b.received("message:typing").every((t) => t.isTyping));
    }));

  // ---------------------------------------------------------------- leaving

  test(`${mode}: chat:leave acks {success: true} and stops message:new from that chat`, () =>
    withSockets(async (sockets) => {
      const [alice, bob] = await registerAll(BASE, "alice", "bob");
      const chat = await chatOf(BASE, alice, [bob]);
      const [a, b] = await Promise.all([alice, bob].map((u) => sockets.user(BASE, options, u)));
      await a.join(chat);
      await b.join(chat);
      const before = await a.emit("message:send", { chatId: chat, text: "before" });
      await b.waitFor("message:new", (m) => m._id === before.message._id);
      assert.deepEqual(await b.emit("chat:leave", { chatId: chat }), { success: true });
      const after = await a.emit("message:send", { chatId: chat, text: "after" });
      const overHttp = await postMessage(BASE, alice, chat, "after, over http");
      assert.equal(overHttp.status, 201);
      await a.waitFor("message:new", (m) => m._id === overHttp.body._id);
      await b.assertNone("message:new", (m) => m._id !== before.message._id, "message:new after chat:leave");
      assert.ok(after.success);
      // Leaving is not leaving the chat: bob can rejoin and gets live messages again.
      await b.join(chat);
      const again = await a.emit("message:send", { chatId: chat, text: "again" });
      assert.deepEqual(await b.waitFor("message:new", (m) => m._id === again.message._id), again.message);
    }));

  // ---------------------------------------------------------------- catching up

  test(`${mode}: chat:join with sinceSeq replays what was missed, in seq order, then goes on live`, () =>
    withSockets(async (sockets) => {
      const [alice, bob] = await registerAll(BASE, "alice", "bob");
      const chat = await chatOf(BASE, alice, [bob]);
      const a = await sockets.user(BASE, options, alice);
      let b = await sockets.user(BASE, options, bob);
      await a.join(chat);
      await b.join(chat);
      const seen = await a.emit("message:send", { chatId: chat, text: "seen" });
      const lastSeen = (await b.waitFor("message:new")).seq;
      assert.equal(lastSeen, seen.message.seq);

      // Bob drops; meanwhile messages come (both ways) and one is deleted. The server must have
      // seen him go before alice sends: a message:new written to his old socket would move his
      // deliveredSeq (the server's own delivery receipt), and the replay would then show
      // "delivered". A typist's disconnect is announced once his socket has left its rooms, so
      // alice waiting for that stop is waiting for exactly that.
      assert.deepEqual(await b.emit("message:typing", { chatId: chat, isTyping: true }), { success: true });
      await a.waitFor("message:typing", (t) => t.userId === bob.id && t.isTyping);
      b.socket.disconnect();
      await a.waitFor("message:typing", (t) => t.userId === bob.id && !t.isTyping);
      const m2 = await a.emit("message:send", { chatId: chat, text: "missed 1" });
      const m3 = await postMessage(BASE, alice, chat, "missed 2");
      const m4 = await a.emit("message:send", { chatId: chat, text: "missed 3" });
      assert.equal((await http(BASE, "DELETE", `/api/messages/${m3.body._id}`, { token: alice.token })).status, 200);

      b = await sockets.user(BASE, options, bob);
      const reply = await b.emit("chat:join", { chatId: chat, sinceSeq: lastSeen });
      assert.deepEqual(Object.keys(reply).sort(), ["events", "recovered", "success"]);
      assert.equal(reply.success, true);
      assert.equal(reply.recovered, true);
      // A replayed message is the message as it is now (chat_domain::ChatEvent): the one deleted
      // meanwhile comes with isDeleted: true, its text erased (contract) and its later
      // updatedAt, then its delete.
      const m3Now = reply.events[1]?.data ?? {};
      assert.equal(m3Now.isDeleted, true, JSON.stringify(m3Now));
      assert.match(m3Now.updatedAt, ISO_TIME);
      // The replay's `status` may read "delivered": the socket joins the room before the missed
      // events are read (so nothing is missed), and the server's delivery-receipt flush (once a
      // second, for the users in the room at flush time; docs/realtime.md, "Receipts") can land
      // in between, because alice's own sockets got those message:new. Either value is right;
      // everything else must match exactly.
      for (const e of reply.events.filter((e) => e.event === "message:new")) {
        assert.ok(["sent", "delivered"].includes(e.data.status), JSON.stringify(e.data));
        e.data.status = "sent";
      }
      assert.deepEqual(reply.events, [
        { event: "message:new", data: m2.message },
        { event: "message:new", data: { ...m3.body, text: "", isDeleted: true, updatedAt: m3Now.updatedAt } },
        { event: "message:new", data: m4.message },
        { event: "message:deleted", data: { messageId: m3.body._id, chatId: chat, seq: lastSeen + 4 } },
      ]);
      const seqs = reply.events.map((e) => e.data.seq);
      assert.deepEqual(seqs, [...seqs].sort((x, y) => x - y), "in seq order");

      // Live events continue, nothing missed and nothing twice.
      const live = await a.emit("message:send", { chatId: chat, text: "live" });
      assert.equal(live.message.seq, lastSeen + 5);
      assert.deepEqual(await b.waitFor("message:new"), live.message);
      await b.assertNone("message:new", (m) => m._id !== live.message._id, "a replayed event delivered live");
      assert.deepEqual(b.received("message:deleted"), []);

      // Nothing missed: an empty replay.
      const upToDate = await b.emit("chat:join", { chatId: chat, sinceSeq: live.message.seq });
      assert.deepEqual(upToDate, { success: true, recovered: true, events: [] });
    }));

  test(`${mode}: chat:join with a sinceSeq the chat never had acks recovered: false`, () =>
    withSockets(async (sockets) => {
      const [alice, bob] = await registerAll(BASE, "alice", "bob");
      const chat = await chatOf(BASE, alice, [bob]);
      const b = await sockets.user(BASE, options, bob);
      const reply = await b.emit("chat:join", { chatId: chat, sinceSeq: 99 });
      assert.equal(reply.success, true, JSON.stringify(reply));
      assert.equal(reply.recovered, false, JSON.stringify(reply));
      assert.equal(typeof reply.reason, "string");
      // Still joined: live events arrive.
      const sent = await postMessage(BASE, alice, chat, "hello");
      assert.deepEqual(await b.waitFor("message:new"), sent.body);
    }));
}
