// Malformed input against the real chat-server at $CHAT_URL: what an official client can send
// wrongly (payloads of the wrong JSON types, unknown events, binary where JSON belongs) gets an
// `invalid_payload` ack and the session stays; what only a hand-made client sends (garbage
// Engine.IO / Socket.IO packets, bad ack ids, oversize messages, unannounced or too many binary
// attachments, garbage polling bodies) closes that one session. Throughout, a bystander pair of
// official clients (with the mode's transports) keeps sending and receiving.

import { test } from "node:test";
import assert from "node:assert/strict";

import {
  MODES,
  NO_SUCH_ID,
  Sockets,
  TIMEOUT_MS,
  assertClosed,
  assertFailure,
  chatOf,
  env,
  rawSocket,
  registerAll,
  waitFrame,
} from "./helpers.mjs";

const BASE = env("CHAT_URL");
/** EngineConfig::max_payload of the server (the reference server's default). */
// The chat engine's payload limit (adapter_ws::gateway::engine_config): 128 KiB.
const MAX_PAYLOAD = 128 * 1024;

/** Two official clients in a chat, and a check that they still talk to each other. */
async function bystanders(sockets, options) {
  const [alice, bob] = await registerAll(BASE, "alice", "bob");
  const chat = await chatOf(BASE, alice, [bob]);
  const [a, b] = await Promise.all([alice, bob].map((u) => sockets.user(BASE, options, u)));
  await a.join(chat);
  await b.join(chat);
  let round = 0;
  return {
    alice,
    chat,
    a,
    b,
    /** Asserts that both are connected and a message from each reaches the other. */
    async stillWork(after) {
      round += 1;
      for (const [from, to] of [
        [a, b],
        [b, a],
      ]) {
        assert.equal(from.disconnectReason, null, `a bystander was disconnected after ${after}`);
        const text = `still here ${round}`;
        const sent = await from.emit("message:send", { chatId: chat, text });
        assert.equal(sent.success, true, `${after}: ${JSON.stringify(sent)}`);
        assert.deepEqual(await to.waitFor("message:new", (m) => m._id === sent.message._id), sent.message);
      }
    },
  };
}

async function withSockets(body) {
  const sockets = new Sockets();
  try {
    await body(sockets);
  } finally {
    sockets.closeAll();
  }
}

/** Asserts that a raw socket is still served: an acknowledged round trip answers. */
async function assertServed(raw, what) {
  raw.ws.send(`4277["chat:leave",{"chatId":"${NO_SUCH_ID}"}]`);
  const ack = await waitFrame(raw, (f) => typeof f === "string" && f.startsWith("4377"));
  assert.equal(ack, '4377[{"success":true}]', what);
  assert.equal(raw.isClosed, false, what);
}

/**
 * Sends `frames` (strings as text frames, Buffers as binary ones) on a fresh raw connection of `user`
 * and asserts the server closes it.
 */
async function assertClosesSession(user, frames, what) {
  const raw = await rawSocket(BASE, user.token);
  try {
    for (const frame of frames) {
      if (raw.isClosed) break;
      // `{text: bytes}` goes out as a text frame whatever the bytes are.
      if (frame.text) raw.ws.send(frame.text, { binary: false });
      else raw.ws.send(frame);
    }
    await assertClosed(raw, what);
  } finally {
    raw.ws.terminate();
  }
}

for (const [mode, options] of MODES) {
  test(`${mode}: payloads of the wrong JSON types ack invalid_payload and the session stays`, () =>
    withSockets(async (sockets) => {
      const world = await bystanders(sockets, options);
      const { a, chat } = world;
      const wrong = [
        ["chat:join"],
        ["chat:join", null],
        ["chat:join", "just a string"],
        ["chat:join", [chat]],
        ["chat:join", {}],
        ["chat:join", { chatId: 42 }],
        ["chat:join", { chatId: { $ne: null } }],
        ["chat:join", { chatId: chat, sinceSeq: "3" }],
        ["chat:join", { chatId: chat, sinceSeq: -1 }],
        ["chat:join", { chatId: chat, sinceSeq: 1.5 }],
        ["chat:leave", {}],
        ["chat:leave", { chatId: true }],
        ["message:send", 7],
        ["message:send", { chatId: chat }],
        ["message:send", { chatId: chat, text: 123 }],
        ["message:send", { chatId: chat, text: null }],
        ["message:send", { chatId: chat, text: ["hi"] }],
        ["message:send", { chatId: [chat], text: "hi" }],
        ["message:send", { chatId: chat, text: "hi", type: 5 }],
        ["message:send", { chatId: chat, text: "hi", clientId: {} }],
        ["message:typing", { chatId: chat }],
        ["message:typing", { chatId: chat, isTyping: "yes" }],
        ["message:typing", { isTyping: true }],
        ["message:typing", false],
      ];
      for (const [event, ...args] of wrong) {
        const reply = await a.emit(event, ...args);
        assertFailure(reply, "invalid_payload");
        assert.equal(a.disconnectReason, null, `${event} ${JSON.stringify(args)} closed the session`);
      }
      await a.settle();
      assert.deepEqual(world.b.received("message:new"), [], "nothing wrong was sent");
      await world.stillWork("wrong payload types");
    }));

  test(`${mode}: unknown events ack invalid_payload (or are ignored without an ack) and the session stays`, () =>
    withSockets(async (sockets) => {
      const world = await bystanders(sockets, options);
      const { a } = world;
      assertFailure(await a.emit("chat:explode", { chatId: world.chat }), "invalid_payload");
      assertFailure(await a.emit("message:edit"), "invalid_payload");
      assertFailure(await a.emit("message:new", { text: "forged" }), "invalid_payload");
      a.socket.emit("no:such:event", 1, 2, 3);
      a.socket.emit("message:deleted", { messageId: NO_SUCH_ID });
      await a.settle();
      assert.deepEqual(world.b.received("message:new"), [], "a client cannot emit server events to a room");
      assert.deepEqual(world.b.received("message:deleted"), []);
      await world.stillWork("unknown events");
    }));

  test(`${mode}: bad acknowledgement ids close only the offending session`, () =>
    withSockets(async (sockets) => {
      const world = await bystanders(sockets, options);
      const leave = `["chat:leave",{"chatId":"${NO_SUCH_ID}"}]`;
      // Not a number where the ack id goes: the packet is malformed.
      await assertClosesSession(world.alice, [`42abc${leave}`], "letters as an ack id");
      await assertClosesSession(world.alice, [`42-5${leave}`], "a negative ack id");
      await assertClosesSession(world.alice, ["43"], "an ACK without an id");
      await assertClosesSession(world.alice, ["431"], "an ACK without arguments");
      // Well-formed acknowledgements of ids the server never used are dropped (the server
      // never asks for acknowledgements); an id too large to represent is no ack request.
      const raw = await rawSocket(BASE, world.alice.token);
      try {
        raw.ws.send('43999[{"x":1}]');
        raw.ws.send("4312[]");
        raw.ws.send(`4299999999999999999999999${leave}`);
        await assertServed(raw, "after acks of unknown ids");
        assert.ok(
          raw.frames.every((f) => typeof f !== "string" || !f.startsWith("43") || f.startsWith("4377")),
          `no ack for an id that cannot be represented: ${JSON.stringify(raw.frames)}`,
        );
      } finally {
        raw.ws.terminate();
      }
      await world.stillWork("bad ack ids");
    }));

  test(`${mode}: garbage Engine.IO and Socket.IO packets close only the offending session`, () =>
    withSockets(async (sockets) => {
      const world = await bystanders(sockets, options);
      const garbage = [
        ["not a packet at all", ["garbage"]],
        ["an unknown Engine.IO packet type", ["8"]],
        ["an empty Socket.IO packet", ["4"]],
        ["an unknown Socket.IO packet type", ["49"]],
        ["a client ping (v4 servers ping)", ["2"]],
        ["a stray upgrade packet", ["5"]],
        ["truncated JSON", ['42["chat:join"']],
        ["an event that is not an array", ['42{"chatId":"x"}']],
        ["an event without a name", ["42[]"]],
        ["an event whose name is null", ["42[null]"]],
        ["a reserved event name", ['42["disconnect"]']],
        ["an event for a namespace never connected", ['42/admin,["chat:join",{}]']],
        ["a text frame of invalid UTF-8", [{ text: Buffer.from([0x34, 0x32, 0xff, 0xfe]) }]],
        ["a second CONNECT with garbage auth", ["40garbage"]],
      ];
      for (const [what, frames] of garbage) {
        await assertClosesSession(world.alice, frames, what);
      }
      // A session that never connected a namespace is closed for garbage too.
      const anonymous = await rawSocket(BASE, null);
      anonymous.ws.send("garbage");
      await assertClosed(anonymous, "garbage before CONNECT");
      await world.stillWork("garbage packets");
    }));

  test(`${mode}: messages larger than maxPayload close only the offending session`, () =>
    withSockets(async (sockets) => {
      const world = await bystanders(sockets, options);
      const huge = "x".repeat(MAX_PAYLOAD + 1);
      await assertClosesSession(
        world.alice,
        [`42["message:send",{"chatId":"${world.chat}","text":"${huge}"}]`],
        "an oversize text message",
      );
      await assertClosesSession(
        world.alice,
        [`451-["message:send",{"_placeholder":true,"num":0}]`, Buffer.alloc(MAX_PAYLOAD + 1)],
        "an oversize binary attachment",
      );
      // Just under the limit is a message like any other (refused as too long a text).
      const raw = await rawSocket(BASE, world.alice.token);
      try {
        const prefix = `425["message:send",{"chatId":"${world.chat}","text":"`;
        const suffix = '"}]';
        raw.ws.send(prefix + "y".repeat(MAX_PAYLOAD - prefix.length - suffix.length - 1) + suffix);
        const ack = await waitFrame(raw, (f) => typeof f === "string" && f.startsWith("435"), TIMEOUT_MS);
        assert.match(ack, /"error":"invalid_payload"/);
        await assertServed(raw, "after a message just under maxPayload");
      } finally {
        raw.ws.terminate();
      }
      await world.stillWork("oversize messages");
    }));

  test(`${mode}: binary floods and too many attachments close only the offending session`, () =>
    withSockets(async (sockets) => {
      const world = await bystanders(sockets, options);
      const placeholders = (n) => Array.from({ length: n }, (_, num) => ({ _placeholder: true, num }));
      // The chat takes no binary attachments at all: one closes the session.
      await assertClosesSession(
        world.alice,
        [`451-${JSON.stringify(["message:send", { chatId: world.chat, text: placeholders(1)[0] }])}`, Buffer.from("binary text")],
        "one binary attachment",
      );
      await assertClosesSession(
        world.alice,
        [`4511-${JSON.stringify(["message:send", ...placeholders(11)])}`],
        "eleven attachments announced",
      );
      await assertClosesSession(
        world.alice,
        [`451000000-${JSON.stringify(["message:send", ...placeholders(1)])}`],
        "a million attachments announced",
      );
      await assertClosesSession(
        world.alice,
        Array.from({ length: 2000 }, () => Buffer.alloc(1024, 7)),
        "a flood of unannounced binary frames",
      );
      await assertClosesSession(
        world.alice,
        [`452-${JSON.stringify(["message:send", ...placeholders(2)])}`, Buffer.from("one"), "42[\"x\"]"],
        "text while attachments are expected",
      );
      await assertClosesSession(
        world.alice,
        [`451-${JSON.stringify(["message:send", { _placeholder: true, num: 3 }])}`, Buffer.from("one")],
        "a placeholder naming no attachment",
      );
      // The chat takes no attachments, so ten (the reference server's cap) close it too.
      await assertClosesSession(
        world.alice,
        [`4510-9${JSON.stringify(["message:send", ...placeholders(10)])}`, ...Array.from({ length: 10 }, (_, i) => Buffer.from([i]))],
        "ten attachments",
      );
      await world.stillWork("binary floods");
    }));

  test(`${mode}: a garbage polling body closes only the offending session`, () =>
    withSockets(async (sockets) => {
      const world = await bystanders(sockets, options);
      const url = `${BASE}/socket.io/?EIO=4&transport=polling`;
      const get = async (sid) => {
        const response = await fetch(`${url}&sid=${sid}`, { signal: AbortSignal.timeout(TIMEOUT_MS) });
        return { status: response.status, body: await response.text() };
      };
      const post = async (sid, body) => {
        const response = await fetch(`${url}&sid=${sid}`, {
          method: "POST",
          body,
          headers: { "content-type": "text/plain;charset=UTF-8" },
          signal: AbortSignal.timeout(TIMEOUT_MS),
        });
        return response.status;
      };
      for (const [what, body] of [
        ["garbage", "garbage"],
        ["a truncated event", `42["chat:join"`],
        ["a bad base64 binary packet", "b!!!not-base64"],
        ["garbage after a valid packet", `42["chat:leave",{"chatId":"${NO_SUCH_ID}"}]\x1egarbage`],
      ]) {
        const open = await fetch(url, { signal: AbortSignal.timeout(TIMEOUT_MS) });
        assert.equal(open.status, 200);
        const { sid } = JSON.parse((await open.text()).slice(1));
        assert.equal(await post(sid, `40${JSON.stringify({ token: world.alice.token })}`), 200);
        const connected = await get(sid);
        assert.match(connected.body, /^40\{"sid":/, what);
        await post(sid, body);
        // The session is gone: the pending or next poll gets the close packet or 400.
        const after = await get(sid);
        assert.ok(
          after.status === 400 || (after.status === 200 && after.body.split("\x1e").includes("1")),
          `${what}: the session survived (${after.status} ${JSON.stringify(after.body)})`,
        );
        const again = await get(sid);
        assert.equal(again.status, 400, `${what}: the sid is still known`);
        assert.deepEqual(JSON.parse(again.body), { code: 1, message: "Session ID unknown" });
      }
      await world.stillWork("garbage polling bodies");
    }));
}
