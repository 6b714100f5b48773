// Official socket.io-client (v4) against the conformance server at $SOCKET_IO_URL: with the
// default transports (polling, then upgrade to WebSocket), WebSocket only, and polling only.

import { test } from "node:test";
import assert from "node:assert/strict";
import { io } from "socket.io-client";

const URL = process.env.SOCKET_IO_URL;
if (!URL) {
  throw new Error("SOCKET_IO_URL is not set (run through `cargo test -p socketio`)");
}

const TIMEOUT_MS = 5000;

/** Resolves with the arguments of the next `event` on `emitter`, or rejects after a timeout. */
function next(emitter, event) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "${event}" within ${TIMEOUT_MS} ms`)), TIMEOUT_MS);
    emitter.once(event, (...args) => {
      clearTimeout(timer);
      resolve(args);
    });
  });
}

/** Emits with an acknowledgement callback and resolves with every argument of the ack. */
function emitWithAckArgs(socket, event, ...args) {
  return new Promise((resolve, reject) => {
    socket.timeout(TIMEOUT_MS).emit(event, ...args, (err, ...ackArgs) => {
      if (err) reject(err);
      else resolve(ackArgs);
    });
  });
}

/** Connects and waits for the `auth` event the server emits on connection. */
async function connect(path, options) {
  const socket = io(`${URL}${path}`, { forceNew: true, reconnection: false, ...options });
  const auth = next(socket, "auth");
  await next(socket, "connect");
  return { socket, auth: (await auth)[0] };
}

const modes = [
  ["default transports (polling, then upgrade)", {}, "websocket"],
  ["websocket only", { transports: ["websocket"] }, "websocket"],
  ["polling only", { transports: ["polling"] }, "polling"],
];

for (const [mode, options, finalTransport] of modes) {
  test(`${mode}: connects with auth and gets it back`, async () => {
    const { socket, auth } = await connect("/", { ...options, auth: { token: "abc", n: 1 } });
    try {
      assert.deepEqual(auth, { token: "abc", n: 1 });
      assert.equal(typeof socket.id, "string");
      const engine = socket.io.engine;
      if (engine.transport.name !== finalTransport) {
        await next(engine, "upgrade");
      }
      assert.equal(engine.transport.name, finalTransport);
    } finally {
      socket.disconnect();
    }
  });

  test(`${mode}: stays connected across heartbeats`, async () => {
    const { socket } = await connect("/", options);
    try {
      let disconnected = null;
      socket.on("disconnect", (reason) => (disconnected = reason));
      // The conformance server pings every 300 ms with a 200 ms timeout: a second covers
      // several round trips (and the upgrade, with default transports).
      await new Promise((resolve) => setTimeout(resolve, 1000));
      assert.equal(disconnected, null);
      const reply = next(socket, "message-back");
      socket.emit("message", "still here");
      assert.deepEqual(await reply, ["still here"]);
    } finally {
      socket.disconnect();
    }
  });

  test(`${mode}: message is echoed as message-back`, async () => {
    const { socket } = await connect("/", options);
    try {
      const reply = next(socket, "message-back");
      socket.emit("message", "hello", 42, { nested: [true, null] });
      assert.deepEqual(await reply, ["hello", 42, { nested: [true, null] }]);
    } finally {
      socket.disconnect();
    }
  });

  test(`${mode}: message-with-ack is acknowledged with the same arguments`, async () => {
    const { socket } = await connect("/", options);
    try {
      assert.deepEqual(await emitWithAckArgs(socket, "message-with-ack", 1, "2", { three: 3 }), [
        1,
        "2",
        { three: 3 },
      ]);
    } finally {
      socket.disconnect();
    }
  });

  test(`${mode}: binary payloads round-trip`, async () => {
    const { socket } = await connect("/", options);
    try {
      const reply = next(socket, "message-back");
      socket.emit("message", Buffer.from([1, 2, 3]), { inner: Buffer.from([4, 5]) });
      const [first, second] = await reply;
      assert.deepEqual(Buffer.from(first), Buffer.from([1, 2, 3]));
      assert.deepEqual(Buffer.from(second.inner), Buffer.from([4, 5]));

      const [acked] = await emitWithAckArgs(socket, "message-with-ack", Buffer.from([9, 8, 7]));
      assert.deepEqual(Buffer.from(acked), Buffer.from([9, 8, 7]));
    } finally {
      socket.disconnect();
    }
  });

  test(`${mode}: connects to the /custom namespace`, async () => {
    const { socket, auth } = await connect("/custom", { ...options, auth: { custom: true } });
    try {
      assert.deepEqual(auth, { custom: true });
    } finally {
      socket.disconnect();
    }
  });

  test(`${mode}: an unknown namespace is refused`, async () => {
    const socket = io(`${URL}/nope`, { forceNew: true, reconnection: false, ...options });
    try {
      const [err] = await next(socket, "connect_error");
      assert.equal(err.message, "Invalid namespace");
    } finally {
      socket.disconnect();
    }
  });
}
