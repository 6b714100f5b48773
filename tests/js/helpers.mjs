// Shared helpers of the client suites: the servers under test, HTTP calls, socket.io-client
// connections, waiting for events, and shape checks of the contract's objects.
//
// Negative assertions ("X is NOT delivered") never sleep: they use `barrier(socket)`, a
// round trip on that socket. The server queues every frame for a socket in one ordered queue,
// so once an acknowledgement emitted after the event in question has arrived, anything that
// event would have delivered to the socket has arrived too.

import assert from "node:assert/strict";
import { io } from "socket.io-client";
import WebSocket from "ws";

export const TIMEOUT_MS = 5000;

/** A required environment variable (set by `cargo test -p e2e --test it -- socketio_js`). */
export function env(name) {
  const value = process.env[name];
  if (!value) {
    throw new Error(`${name} is not set: run this suite through \`cargo test -p e2e --test it -- socketio_js\` (see docs/realtime.md)`);
  }
  return value.replace(/\/$/, "");
}

/** Every scenario runs once per mode. */
export const MODES = [
  ["default transports (polling, then upgrade)", {}],
  ["websocket only", { transports: ["websocket"] }],
];

export const HEX_ID = /^[0-9a-f]{24}$/;
export const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
/** A well-formed id that names nothing. */
export const NO_SUCH_ID = "0123456789abcdef01234567";

let counter = 0;

/** A user name unique across runs and across the parallel test files. */
export function uniqueName(prefix) {
  counter += 1;
  return `${prefix}-${process.pid}-${Date.now().toString(36)}-${counter}`;
}

/** An HTTP call; `body` goes out as JSON. Resolves with `{status, headers, body}`. */
export async function http(base, method, path, { token, body } = {}) {
  const headers = {};
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers["content-type"] = "application/json";
  const response = await fetch(`${base}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(TIMEOUT_MS),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text ? JSON.parse(text) : null };
}

/** Registers a fresh user; resolves with `{id, token, username}`. */
export async function register(base, prefix = "user") {
  const username = uniqueName(prefix);
  const reply = await http(base, "POST", "/api/auth/register", {
    body: { email: `${username}@example.com`, username, password: "secret123" },
  });
  assert.equal(reply.status, 201, JSON.stringify(reply.body));
  return { id: reply.body.user._id, token: reply.body.accessToken, username };
}

/** Registers one fresh user per prefix, concurrently; resolves with them in order. */
export function registerAll(base, ...prefixes) {
  return Promise.all(prefixes.map((prefix) => register(base, prefix)));
}

/** Creates (or finds) a chat of `owner` with `others` over HTTP; resolves with the reply. */
export async function createChat(base, owner, others, name) {
  const body = { participants: others.map((o) => o.id) };
  if (name !== undefined) body.name = name;
  return http(base, "POST", "/api/chats", { token: owner.token, body });
}

/** Creates a chat and returns its id. */
export async function chatOf(base, owner, others) {
  const reply = await createChat(base, owner, others);
  assert.ok(reply.status === 201 || reply.status === 200, JSON.stringify(reply.body));
  return reply.body._id;
}

/** Posts a message over HTTP; resolves with the reply. */
export async function postMessage(base, sender, chat, text, extra = {}) {
  return http(base, "POST", "/api/messages", { token: sender.token, body: { chat, text, ...extra } });
}

/** The sockets a test opened, closed when it ends whatever happened. */
export class Sockets {
  constructor() {
    this.all = [];
  }

  /** Connects with the mode's options plus `options`; resolves once connected. */
  async connect(base, modeOptions, options) {
    const socket = this.open(base, modeOptions, options);
    await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no connect within ${TIMEOUT_MS} ms`)), TIMEOUT_MS);
      socket.once("connect", () => {
        clearTimeout(timer);
        resolve();
      });
      socket.once("connect_error", (err) => {
        clearTimeout(timer);
        reject(new Error(`connect_error: ${err.message}`));
      });
    });
    return socket;
  }

  /** Connects `user` with `auth: {token}` and records what it receives. */
  async user(base, modeOptions, user) {
    const socket = await this.connect(base, modeOptions, { auth: { token: user.token } });
    return new Inbox(socket);
  }

  /** Opens without waiting. */
  open(base, modeOptions, options) {
    const socket = io(base, { forceNew: true, reconnection: false, ...modeOptions, ...options });
    this.all.push(socket);
    return socket;
  }

  closeAll() {
    for (const socket of this.all) socket.disconnect();
    this.all = [];
  }
}

/** Resolves with the `connect_error` of a connection attempt that must be refused. */
export function connectError(socket) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no connect_error within ${TIMEOUT_MS} ms`)), TIMEOUT_MS);
    socket.once("connect", () => {
      clearTimeout(timer);
      reject(new Error("connected, but the connection should have been refused"));
    });
    socket.once("connect_error", (err) => {
      clearTimeout(timer);
      resolve(err);
    });
  });
}

/** Resolves with the first argument of the next `event`, or rejects after `timeout` ms. */
export function next(emitter, event, timeout = TIMEOUT_MS) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "${event}" within ${timeout} ms`)), timeout);
    emitter.once(event, (arg) => {
      clearTimeout(timer);
      resolve(arg);
    });
  });
}

/** Emits with an acknowledgement; resolves with the ack's first argument. */
export function ack(socket, event, ...args) {
  return socket.timeout(TIMEOUT_MS).emitWithAck(event, ...args);
}

/** The leave of a chat nobody is in: always `{success: true}`; see the file comment. */
export async function barrier(socket) {
  const reply = await ack(socket, "chat:leave", { chatId: NO_SUCH_ID });
  assert.deepEqual(reply, { success: true });
}

const SERVER_EVENTS = [
  "message:new",
  "message:deleted",
  "message:typing",
  "chat:created",
  "message:updated",
  "chat:updated",
  "receipt:updated",
  "chat:unread",
];

/**
 * A connected socket plus everything it received of the contract's server events, so a test
 * can wait for one (`waitFor`) and later check that nothing else came (`received`).
 */
export class Inbox {
  constructor(socket) {
    this.socket = socket;
    this.events = [];
    this.waiters = [];
    this.disconnectReason = null;
    for (const event of SERVER_EVENTS) {
      socket.on(event, (data) => this.push(event, data));
    }
    socket.on("disconnect", (reason) => {
      this.disconnectReason = reason;
      this.push("disconnect", reason);
    });
  }

  push(event, data) {
    this.events.push({ event, data });
    this.waiters = this.waiters.filter((w) => {
      if (w.event === event && w.match(data)) {
        w.resolve(data);
        return false;
      }
      return true;
    });
  }

  /** Every `event` received so far whose payload matches. */
  received(event, match = () => true) {
    return this.events.filter((e) => e.event === event && match(e.data)).map((e) => e.data);
  }

  /** Resolves with the first `event` (already received or not) whose payload matches. */
  waitFor(event, match = () => true, timeout = TIMEOUT_MS) {
    const seen = this.received(event, match);
    if (seen.length > 0) return Promise.resolve(seen[0]);
    return new Promise((resolve, reject) => {
      const waiter = { event, match, resolve };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new Error(`no matching "${event}" within ${timeout} ms; received: ${JSON.stringify(this.events)}`));
      }, timeout);
      waiter.resolve = (data) => {
        clearTimeout(timer);
        resolve(data);
      };
      this.waiters.push(waiter);
    });
  }

  /** Resolves once everything emitted to this socket before now has arrived (a barrier). */
  settle() {
    return barrier(this.socket);
  }

  /** Asserts, after a barrier, that no `event` matching arrived. */
  async assertNone(event, match = () => true, what = event) {
    await barrier(this.socket);
    assert.deepEqual(this.received(event, match), [], `${what} was delivered but should not have been`);
  }

  emit(event, ...args) {
    return ack(this.socket, event, ...args);
  }

  async join(chatId) {
    const ack = await this.emit("chat:join", { chatId });
    assert.equal(ack.success, true, JSON.stringify(ack));
    assert.equal(typeof ack.lastSeq, "number", JSON.stringify(ack));
  }
}

/** Asserts the contract's Message shape, then the given field values. */
export function assertMessage(message, expected) {
  const keys = ["_id", "sender", "chat", "text", "type", "status", "isDeleted", "createdAt", "updatedAt", "seq", "editedAt"];
  if ("clientId" in expected) keys.push("clientId");
  assert.deepEqual(Object.keys(message).sort(), keys.sort(), JSON.stringify(message));
  assert.match(message._id, HEX_ID);
  assert.match(message.createdAt, ISO_TIME);
  assert.match(message.updatedAt, ISO_TIME);
  assert.equal(message.isDeleted, false);
  assert.equal(message.status, "sent");
  assert.ok(Number.isInteger(message.seq) && message.seq > 0, JSON.stringify(message));
  for (const [key, value] of Object.entries({ type: "text", ...expected })) {
    assert.deepEqual(message[key], value, `${key} of ${JSON.stringify(message)}`);
  }
}

/** Asserts the contract's Chat shape, then the given field values. */
export function assertChat(chat, expected) {
  const keys = [
    "_id", "name", "isGroup", "participants", "createdBy", "lastMessage", "createdAt", "updatedAt",
    "lastSeq", "unreadCount", "receipts",
  ];
  assert.deepEqual(Object.keys(chat).sort(), keys.sort(), JSON.stringify(chat));
  assert.match(chat._id, HEX_ID);
  assert.match(chat.createdAt, ISO_TIME);
  for (const [key, value] of Object.entries(expected)) {
    assert.deepEqual(chat[key], value, `${key} of ${JSON.stringify(chat)}`);
  }
}

/** Asserts a failure ack: `{success: false, error: code, ...}` with an optional message. */
export function assertFailure(reply, code) {
  assert.equal(reply.success, false, JSON.stringify(reply));
  assert.equal(reply.error, code, JSON.stringify(reply));
  const allowed = new Set(["success", "error", "message", "retryAfterMs"]);
  for (const key of Object.keys(reply)) assert.ok(allowed.has(key), `unexpected key ${key} in ${JSON.stringify(reply)}`);
}

/**
 * A raw WebSocket speaking Engine.IO / Socket.IO by hand, for sending what no official client
 * would. Connects to the main namespace with `token` (unless `token` is null) and answers pings.
 */
export async function rawSocket(base, token) {
  const ws = new WebSocket(`${base.replace(/^http/, "ws")}/socket.io/?EIO=4&transport=websocket`, {
    maxPayload: 10 * 1024 * 1024,
  });
  const raw = { ws, frames: [], isClosed: false, wake: () => {} };
  raw.closed = new Promise((resolve) =>
    ws.on("close", (code) => {
      raw.isClosed = true;
      raw.wake();
      resolve(code);
    }),
  );
  ws.on("error", () => {});
  ws.on("message", (data, isBinary) => {
    const frame = isBinary ? data : data.toString();
    if (frame === "2") ws.send("3");
    raw.frames.push(frame);
    raw.wake();
  });
  await next(ws, "open");
  await waitFrame(raw, (f) => typeof f === "string" && f.startsWith("0{"));
  if (token !== null) {
    ws.send(`40${JSON.stringify({ token })}`);
    await waitFrame(raw, (f) => typeof f === "string" && f.startsWith("40{"));
  }
  return raw;
}

/** Resolves with the first frame matching `match` that arrived on a raw socket. */
export function waitFrame(raw, match, timeout = TIMEOUT_MS) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      raw.wake = () => {};
      reject(new Error(`no matching frame within ${timeout} ms; got ${JSON.stringify(raw.frames)}`));
    }, timeout);
    raw.wake = () => {
      const found = raw.frames.find(match);
      if (found !== undefined || raw.isClosed) {
        clearTimeout(timer);
        raw.wake = () => {};
        if (found !== undefined) resolve(found);
        else reject(new Error(`closed before a matching frame; got ${JSON.stringify(raw.frames)}`));
      }
    };
    raw.wake();
  });
}

/** Asserts that the server closes a raw socket within the timeout. */
export async function assertClosed(raw, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${what}: the server did not close the connection within ${TIMEOUT_MS} ms`)),
      TIMEOUT_MS,
    );
  });
  try {
    await Promise.race([raw.closed, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Sleeps; only for waits the scenario is about (a typist going quiet), never for readiness. */
export function delay(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
