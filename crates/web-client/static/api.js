// The server, seen from the page: HTTP calls to /api on this origin, the Socket.IO connection,
// the session kept in localStorage, and the probes for what the server does not serve yet
// (message edit, presence, logout), which the page must not pretend to have.

const SESSION_KEY = "chat.session";
const NAMES_KEY = "chat.names";

/** An HTTP error with the server's NestJS-shaped body. */
export class ApiError extends Error {
  constructor(status, body) {
    super(body?.message ? String(body.message) : `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }

  /**
   * Whether the route itself is missing (not built on this server yet): 405, or the router's
   * own 404 ("Cannot PATCH /api/..."), as opposed to a 404 about a record.
   */
  get routeMissing() {
    return this.status === 405 || (this.status === 404 && /^Cannot [A-Z]+ \//.test(this.message));
  }
}

/** The signed-in user and token, or null. */
export function loadSession() {
  try {
    const session = JSON.parse(localStorage.getItem(SESSION_KEY) ?? "null");
    return session?.token && session?.user?._id ? session : null;
  } catch {
    return null;
  }
}

export function saveSession(session) {
  if (session) localStorage.setItem(SESSION_KEY, JSON.stringify(session));
  else localStorage.removeItem(SESSION_KEY);
}

/** Called with the error and the token when the server refuses the token (401), to sign out. */
let onUnauthorized = () => {};
export function whenUnauthorized(handler) {
  onUnauthorized = handler;
}

/** One call to the API; resolves with the JSON body, rejects with an ApiError. */
export async function call(method, path, { token, body } = {}) {
  const headers = { accept: "application/json" };
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers["content-type"] = "application/json";
  let response;
  try {
    response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (error) {
    throw new ApiError(0, { message: "The server cannot be reached. Check your connection." });
  }
  const text = await response.text();
  let parsed = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = { message: text };
  }
  if (!response.ok) {
    const error = new ApiError(response.status, parsed);
    if (response.status === 401 && token) onUnauthorized(error, token);
    throw error;
  }
  return parsed;
}

/**
 * What we know of people: id → username. The API gives chat participants and message senders
 * as ids only, and has no way to look a user up by id, so names come from the signed-in user
 * and from search results, remembered across reloads.
 */
const names = new Map(Object.entries(safeParse(localStorage.getItem(NAMES_KEY)) ?? {}));

function safeParse(text) {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

export function rememberUser(user) {
  if (!user?._id || !user.username || names.get(user._id) === user.username) return;
  names.set(user._id, user.username);
  localStorage.setItem(NAMES_KEY, JSON.stringify(Object.fromEntries(names)));
}

/** A user's name, or a short stand-in built from the id when we never saw their name. */
export function nameOf(userId) {
  return names.get(userId) ?? `user ${String(userId).slice(-6)}`;
}

export function knowsName(userId) {
  return names.has(userId);
}

/** The API calls the page makes, bound to a token. */
export function client(token) {
  const get = (path) => call("GET", path, { token });
  return {
    me: () => get("/api/users/me"),
    searchUsers: (text) => get(`/api/users?search=${encodeURIComponent(text)}`),
    chats: () => get("/api/chats"),
    createChat: (participants) => call("POST", "/api/chats", { token, body: { participants } }),
    history: (chatId, before) =>
      get(`/api/chats/${chatId}/messages?limit=50${before ? `&before=${encodeURIComponent(before)}` : ""}`),
    send: (chat, text, clientId) => call("POST", "/api/messages", { token, body: { chat, text, clientId } }),
    remove: (id) => call("DELETE", `/api/messages/${id}`, { token }),
    edit: (id, text) => call("PATCH", `/api/messages/${id}`, { token, body: { text } }),
    presence: (userIds) => get(`/api/presence?userIds=${userIds.map(encodeURIComponent).join(",")}`),
    logout: () => call("POST", "/api/auth/logout", { token }),
  };
}

/** Logs in or registers; resolves with `{token, user}`. */
export async function authenticate(mode, { email, username, password }) {
  const body = mode === "register" ? { email, username, password } : { email, password };
  const reply = await call("POST", `/api/auth/${mode}`, { body });
  return { token: reply.accessToken, user: reply.user };
}

/**
 * Whether the server edits messages: a PATCH of a message that cannot exist answers 404 about
 * the message (or 400/403) when the route exists, and 405 or the router's 404 when it does not.
 */
export async function probeEdit(api) {
  try {
    await api.edit("000000000000000000000000", "probe");
    return true;
  } catch (error) {
    return !(error instanceof ApiError) ? false : error.status !== 0 && !error.routeMissing;
  }
}

/** The Socket.IO connection on this origin (`io` is the official bundle's global). */
export function connect(token) {
  // eslint-disable-next-line no-undef
  return io({ auth: { token } });
}

/** An emit that resolves with the ack, or with `{success: false, error: "timeout"}`. */
export function request(socket, event, payload, timeoutMs = 10_000) {
  return new Promise((resolve) => {
    socket.timeout(timeoutMs).emit(event, payload, (error, ack) => {
      resolve(error ? { success: false, error: "timeout" } : ack ?? { success: false, error: "no_ack" });
    });
  });
}

/** A client id for idempotent sends (a retry returns the stored message). */
export function newClientId() {
  return crypto.randomUUID?.() ?? `c-${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
}
