// The page's entry point: signing in and out, the shared context the sidebar and the
// conversation work on, and the Socket.IO events, routed to them.
//
// The page is written against the whole wire contract (docs/contract.md) but shows only what
// the server actually sends: badges, presence dots, read ticks and edits appear once the
// server serves them, and nothing is made up in the meantime.
//
// Receipts: the server does not mark delivery by itself, so the page does what a real client
// does: a message from someone else is acknowledged with `message:read` when its conversation
// is open and the page visible, else with `message:delivered`; opening a conversation reads it
// up to its newest message, and the chats loaded at sign-in are marked delivered.

import { $, paintAvatar, show } from "./dom.js";
import {
  authenticate, client, connect, loadSession, probeEdit, rememberUser, request, saveSession, whenUnauthorized,
} from "./api.js";
import { createChatList } from "./chats.js";
import { createConversation } from "./conversation.js";

/** A typist not heard from for this long is taken as stopped (the server says so in 4.5 s). */
const TYPING_EXPIRY_MS = 6000;

/** What the modules share: who we are, the API, the socket, and what the server supports. */
const ctx = {
  me: null,
  token: null,
  api: null,
  socket: null,
  openChatId: null,
  editSupported: false,
  presenceSupported: undefined,
  typing: new Map(), // chatId → Set of typing userIds
  receipts: new Map(), // chatId → Map userId → {userId, deliveredSeq, readSeq}
  lastSeq: new Map(), // chatId → the highest seq seen, for catching up after a reconnect
};
const typingTimers = new Map(); // `${chatId}/${userId}` → timeout
const chatList = createChatList(ctx);
const conversation = createConversation(ctx);
ctx.chatList = chatList;

ctx.openChat = (chatId) => {
  ctx.openChatId = chatId;
  history.replaceState(null, "", `#${chatId}`);
  chatList.render();
  document.body.classList.add("chat-open");
  conversation.open(chatId);
};

ctx.closeChat = () => {
  if (!ctx.openChatId) return;
  ctx.openChatId = null;
  history.replaceState(null, "", location.pathname);
  document.body.classList.remove("chat-open");
  conversation.close();
  chatList.render();
};

ctx.joinChat = async (chatId) => {
  if (!ctx.socket?.connected) return; // joined on (re)connect
  const sinceSeq = ctx.lastSeq.get(chatId);
  const ack = await request(ctx.socket, "chat:join", sinceSeq === undefined ? { chatId } : { chatId, sinceSeq });
  if (!ack.success) return;
  if (ack.recovered === true) ack.events.forEach(({ event, data }) => dispatch(event, data));
  else if (ack.recovered === false && chatId === ctx.openChatId) conversation.open(chatId); // too far behind
};

ctx.onPresenceChanged = () => conversation.renderHeader();

function seen(chatId, seq) {
  if (typeof seq === "number" && seq > (ctx.lastSeq.get(chatId) ?? 0)) ctx.lastSeq.set(chatId, seq);
}

function receiptsChanged(chatId) {
  const receipts = ctx.receipts.get(chatId);
  if (receipts && chatId === conversation.chatId) conversation.onReceipt(receipts);
}

/** Takes in one participant's markers; they only move forward, whatever order news comes in. */
function mergeReceipt(chatId, { userId, deliveredSeq, readSeq }) {
  if (typeof userId !== "string") return;
  const receipts = ctx.receipts.get(chatId) ?? new Map();
  const known = receipts.get(userId);
  receipts.set(userId, {
    userId,
    deliveredSeq: Math.max(known?.deliveredSeq ?? 0, deliveredSeq ?? 0),
    readSeq: Math.max(known?.readSeq ?? 0, readSeq ?? 0),
  });
  ctx.receipts.set(chatId, receipts);
}

function rememberReceipts(chat) {
  if (!chat?._id || !Array.isArray(chat.receipts)) return;
  chat.receipts.forEach((r) => mergeReceipt(chat._id, r));
}
ctx.rememberReceipts = rememberReceipts;

/** Tells the server a message from someone else reached us, or that we read it. */
function acknowledge(message) {
  if (message.sender === ctx.me._id || typeof message.seq !== "number" || !ctx.socket) return;
  const open = message.chat === conversation.chatId && document.visibilityState === "visible";
  if (open) return; // the conversation reads it (conversation.onMessage → markRead)
  const mine = ctx.receipts.get(message.chat)?.get(ctx.me._id);
  if (mine?.deliveredSeq >= message.seq) return;
  ctx.socket.emit("message:delivered", { chatId: message.chat, seq: message.seq });
}

/** At sign-in: whatever arrived in our chats while we were away is now delivered. */
function acknowledgeLoaded(chats) {
  for (const chat of chats) {
    const mine = ctx.receipts.get(chat._id)?.get(ctx.me._id);
    if (mine && typeof chat.lastSeq === "number" && chat.lastSeq > mine.deliveredSeq) {
      ctx.socket?.emit("message:delivered", { chatId: chat._id, seq: chat.lastSeq });
    }
  }
}

function setTyping({ chatId, userId, isTyping }) {
  const key = `${chatId}/${userId}`;
  clearTimeout(typingTimers.get(key));
  typingTimers.delete(key);
  const typists = ctx.typing.get(chatId) ?? new Set();
  if (isTyping) {
    typists.add(userId);
    typingTimers.set(key, setTimeout(() => setTyping({ chatId, userId, isTyping: false }), TYPING_EXPIRY_MS));
  } else {
    typists.delete(userId);
  }
  ctx.typing.set(chatId, typists);
  chatList.onTyping({ chatId, userId, isTyping });
  if (chatId === conversation.chatId) conversation.renderHeader();
}

/** Every server event, live or replayed after a reconnect. */
function dispatch(event, data) {
  switch (event) {
    case "message:new":
      seen(data.chat, data.seq);
      if (data.sender !== ctx.me._id) setTyping({ chatId: data.chat, userId: data.sender, isTyping: false });
      chatList.onMessage(data);
      conversation.onMessage(data);
      acknowledge(data);
      break;
    case "message:deleted":
      seen(data.chatId, data.seq);
      chatList.onDeleted(data);
      conversation.onDeleted(data);
      break;
    case "message:updated":
      seen(data.message?.chat, data.seq);
      ctx.editSupported = true;
      chatList.onUpdated(data);
      conversation.onUpdated(data);
      break;
    case "message:typing":
      if (data.userId !== ctx.me._id) setTyping(data);
      break;
    case "chat:created":
      rememberReceipts(data);
      chatList.upsert(data);
      ctx.joinChat(data._id);
      break;
    case "chat:updated":
      seen(data.chat?._id, data.seq);
      rememberReceipts(data.chat);
      if (data.chat) chatList.upsert(data.chat);
      if (data.chat?._id === conversation.chatId) conversation.renderHeader();
      break;
    case "receipt:updated":
      mergeReceipt(data.chatId, data);
      receiptsChanged(data.chatId);
      break;
    case "chat:unread":
      chatList.setUnread(data.chatId, data.unreadCount);
      break;
    case "presence:update":
      chatList.onPresence(data);
      break;
    default:
      break;
  }
}

const LIVE_EVENTS = [
  "message:new", "message:deleted", "message:updated", "message:typing", "chat:created", "chat:updated",
  "receipt:updated", "chat:unread", "presence:update",
];

function setConnection(state, title) {
  const dot = $("connection");
  dot.className = `connection ${state}`;
  dot.title = title;
  dot.setAttribute("aria-label", title);
}

async function joinAll() {
  await Promise.all([...chatList.chats.keys()].map(ctx.joinChat));
}

/** Signed in: the chat screen, the socket, and the chat list. */
async function start(session) {
  Object.assign(ctx, { me: session.user, token: session.token, api: client(session.token) });
  rememberUser(session.user);
  $("me-name").textContent = session.user.username;
  paintAvatar($("me-avatar"), session.user._id, session.user.username);
  show($("auth"), false);
  show($("app"), true);

  const socket = connect(session.token);
  ctx.socket = socket;
  setConnection("connecting", "Connecting");
  socket.on("connect", () => {
    setConnection("online", "Connected");
    joinAll();
  });
  socket.on("disconnect", () => setConnection("offline", "Offline: reconnecting"));
  socket.on("connect_error", (error) => {
    if (error?.message === "Unauthorized") signOut("Your session has ended. Please log in again.");
    else setConnection("offline", "Cannot reach the server: retrying");
  });
  for (const event of LIVE_EVENTS) socket.on(event, (data) => data && dispatch(event, data));

  probeEdit(ctx.api).then((supported) => {
    ctx.editSupported = ctx.editSupported || supported;
  });
  try {
    const me = await ctx.api.me();
    ctx.me = me;
    saveSession({ token: session.token, user: me });
    const chats = await chatList.load();
    chats.forEach((chat) => {
      rememberReceipts(chat);
      seen(chat._id, chat.lastSeq ?? chat.lastMessage?.seq);
    });
    acknowledgeLoaded(chats);
    await joinAll();
    const wanted = location.hash.slice(1);
    if (chatList.chats.has(wanted)) ctx.openChat(wanted);
  } catch (error) {
    if (error.status !== 401) setConnection("offline", error.message);
  }
}

function signOut(message) {
  const { socket, api } = ctx;
  ctx.socket = null;
  socket?.removeAllListeners();
  socket?.disconnect();
  api?.logout().catch(() => {}); // ends the session server-side where the server supports it
  saveSession(null);
  Object.assign(ctx, { me: null, token: null, api: null, openChatId: null });
  for (const timer of typingTimers.values()) clearTimeout(timer);
  typingTimers.clear();
  ctx.typing.clear();
  ctx.receipts.clear();
  ctx.lastSeq.clear();
  chatList.clear();
  conversation.close();
  history.replaceState(null, "", location.pathname);
  showAuth(message);
}

let mode = "login";

function setMode(next) {
  mode = next;
  $("tab-login").setAttribute("aria-selected", String(mode === "login"));
  $("tab-register").setAttribute("aria-selected", String(mode === "register"));
  show($("auth-username-row"), mode === "register");
  $("auth-username").required = mode === "register";
  $("auth-password").autocomplete = mode === "register" ? "new-password" : "current-password";
  $("auth-submit").textContent = mode === "register" ? "Create account" : "Log in";
  show($("auth-error"), false);
}

function showAuth(message) {
  show($("app"), false);
  show($("auth"), true);
  const error = $("auth-error");
  error.textContent = message ?? "";
  show(error, Boolean(message));
  $("auth-email").focus();
}

function wireAuth() {
  $("tab-login").addEventListener("click", () => setMode("login"));
  $("tab-register").addEventListener("click", () => setMode("register"));
  $("auth-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const submit = $("auth-submit");
    submit.disabled = true;
    try {
      const session = await authenticate(mode, {
        email: $("auth-email").value.trim(),
        username: $("auth-username").value.trim(),
        password: $("auth-password").value,
      });
      saveSession(session);
      $("auth-password").value = "";
      start(session);
    } catch (error) {
      const error_ = $("auth-error");
      error_.textContent = error.message;
      show(error_, true);
    } finally {
      submit.disabled = false;
    }
  });
  $("logout").addEventListener("click", () => signOut());
  $("back").addEventListener("click", () => ctx.closeChat());
  // Escape closes the open conversation (the search box and an edit use it for themselves).
  document.addEventListener("keydown", (event) => {
    if (event.key !== "Escape" || event.defaultPrevented || event.target?.id === "search") return;
    ctx.closeChat();
  });
}

whenUnauthorized((_error, token) => {
  if (token === ctx.token) signOut("Your session has ended. Please log in again.");
});
wireAuth();
conversation.wire();
chatList.wireSearch();
document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "visible" && conversation.chatId) conversation.markRead();
});

const session = loadSession();
if (session) start(session);
else showAuth();
