// Limits with the official socket.io-client, each against a server started for it:
// - $CHAT_URL_RATE_LIMITED runs with RATE_LIMIT_PER_MINUTE=$CHAT_RATE_LIMIT_PER_MINUTE (3): the
//   budget of message:send is the one of POST /api/messages;
// - $CHAT_URL_SHORT_TOKENS runs with JWT_TTL_SECS=2: a socket is disconnected when its token
//   expires, and the expired token cannot connect again.

import { test } from "node:test";
import assert from "node:assert/strict";

import { MODES, Sockets, assertFailure, chatOf, connectError, env, postMessage, register, registerAll } from "./helpers.mjs";

const RATE_LIMITED = env("CHAT_URL_RATE_LIMITED");
const PER_MINUTE = Number(env("CHAT_RATE_LIMIT_PER_MINUTE"));
const SHORT_TOKENS = env("CHAT_URL_SHORT_TOKENS");
const TOKEN_TTL_MS = Number(env("CHAT_JWT_TTL_SECS")) * 1000;

async function withSockets(body) {
  const sockets = new Sockets();
  try {
    await body(sockets);
  } finally {
    sockets.closeAll();
  }
}

for (const [mode, options] of MODES) {
  test(`${mode}: message:send and POST /api/messages share one rate-limit budget`, () =>
    withSockets(async (sockets) => {
      assert.ok(PER_MINUTE >= 2, "the scenario needs a budget of at least 2");
      const [alice, bob] = await registerAll(RATE_LIMITED, "alice", "bob");
      const chat = await chatOf(RATE_LIMITED, alice, [bob]);
      const [a, b] = await Promise.all([alice, bob].map((u) => sockets.user(RATE_LIMITED, options, u)));
      await a.join(chat);
      await b.join(chat);

      // Refused input costs nothing.
      for (let i = 0; i < PER_MINUTE + 1; i += 1) {
        assertFailure(await a.emit("message:send", { chatId: chat, text: " " }), "invalid_payload");
      }
      // The budget: all but one over the socket, the last over HTTP.
      for (let i = 1; i < PER_MINUTE; i += 1) {
        const sent = await a.emit("message:send", { chatId: chat, text: `socket ${i}` });
        assert.equal(sent.success, true, JSON.stringify(sent));
      }
      const viaHttp = await postMessage(RATE_LIMITED, alice, chat, "http");
      assert.equal(viaHttp.status, 201, JSON.stringify(viaHttp.body));

      // Spent: the socket is refused with a wait, and so is HTTP.
      const limited = await a.emit("message:send", { chatId: chat, text: "one too many" });
      assertFailure(limited, "rate_limited");
      assert.ok(
        Number.isInteger(limited.retryAfterMs) && limited.retryAfterMs > 0 && limited.retryAfterMs <= 60_000,
        JSON.stringify(limited),
      );
      const refused = await postMessage(RATE_LIMITED, alice, chat, "one too many, over http");
      assert.equal(refused.status, 429);
      assert.ok(Number(refused.headers.get("retry-after")) >= 1, "Retry-After seconds");

      // Nothing refused was delivered; the budget is per user, so bob still sends; the
      // session survives being limited.
      const fine = await b.emit("message:send", { chatId: chat, text: "bob is fine" });
      assert.equal(fine.success, true);
      await a.waitFor("message:new", (m) => m._id === fine.message._id);
      await b.settle();
      assert.deepEqual(
        b.received("message:new").map((m) => m.text),
        [...Array.from({ length: PER_MINUTE - 1 }, (_, i) => `socket ${i + 1}`), "http", "bob is fine"],
      );
      assert.ok(a.socket.connected);
    }));

  test(`${mode}: a socket whose token expires is disconnected, and the token cannot reconnect`, () =>
    withSockets(async (sockets) => {
      // Connect at once: the token lives only a couple of seconds.
      const alice = await register(SHORT_TOKENS, "alice");
      const issued = Date.now();
      const a = await sockets.user(SHORT_TOKENS, options, alice);
      // Disconnected by the server (not a transport failure) once the token expires.
      const reason = await a.waitFor("disconnect", () => true, TOKEN_TTL_MS + 5000);
      const after = Date.now() - issued;
      assert.equal(reason, "io server disconnect");
      // JWT `exp` has a resolution of a second; the server never cuts a valid token short.
      assert.ok(after >= TOKEN_TTL_MS - 1000, `disconnected ${after} ms after the token was issued`);

      // The same client, connecting again with the expired token, is refused.
      const retry = sockets.open(SHORT_TOKENS, options, { auth: { token: alice.token } });
      assert.equal((await connectError(retry)).message, "Unauthorized");
    }));
}
