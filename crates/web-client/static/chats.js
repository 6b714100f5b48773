// The sidebar: the caller's chats (most recently active first, with the last message, an
// unread badge and a presence dot where the server provides them), and the people search
// that starts a chat.
//
// The unread badge comes from the chat's `unreadCount`: bumped by a live message from someone
// else to a chat that is not open, set by `chat:unread` (the server's count after a read),
// cleared by opening the chat. A badge is drawn only for a number above zero (a server without
// unread counts shows none), and a presence dot only for a person the server told us about
// (`GET /api/presence` or `presence:update`).

import { $, el, decodeEntities, paintAvatar, shortTime, show } from "./dom.js";
import { ApiError, nameOf, rememberUser } from "./api.js";

/** A participant as an id, whether the server sends ids or (populated) user objects. */
export function participantId(participant) {
  if (participant && typeof participant === "object") {
    rememberUser(participant);
    return participant._id;
  }
  return participant;
}

/** The sidebar, bound to the page's shared context (`ctx`, see app.js). */
export function createChatList(ctx) {
  const chats = new Map(); // chatId → Chat, as the server last described it
  const presence = new Map(); // userId → {online, lastSeenAt}, only what the server said
  const typing = new Map(); // chatId → Set of userIds typing there
  const list = $("chat-list");

  function others(chat) {
    return chat.participants.map(participantId).filter((id) => id !== ctx.me._id);
  }

  function title(chat) {
    if (chat.name) return chat.name;
    const names = others(chat).map(nameOf);
    return names.length ? names.join(", ") : "Just you";
  }

  /** The one other person of a 1:1 chat, else null. */
  function partner(chat) {
    const rest = others(chat);
    return !chat.isGroup && rest.length === 1 ? rest[0] : null;
  }

  function activity(chat) {
    return chat.lastMessage?.createdAt ?? chat.updatedAt ?? chat.createdAt ?? "";
  }

  function preview(chat) {
    const typists = typing.get(chat._id);
    if (typists?.size) return { text: "typing…", className: "typing" };
    const last = chat.lastMessage;
    if (!last) return { text: "No messages yet", className: "muted" };
    if (last.isDeleted) return { text: "Message deleted", className: "muted" };
    const who = last.sender === ctx.me._id ? "You: " : chat.isGroup ? `${nameOf(last.sender)}: ` : "";
    return { text: who + decodeEntities(last.text), className: "" };
  }

  function presenceDot(chat) {
    const userId = partner(chat);
    const known = userId && presence.get(userId);
    if (!known) return null;
    return el("span", {
      className: `presence ${known.online ? "online" : "offline"}`,
      title: known.online ? "Online" : "Offline",
      "aria-label": known.online ? "online" : "offline",
    });
  }

  function item(chat) {
    const avatar = el("span", { className: "avatar", "aria-hidden": "true" });
    paintAvatar(avatar, partner(chat) ?? chat._id, title(chat));
    const dot = presenceDot(chat);
    if (dot) avatar.append(dot);
    const { text, className } = preview(chat);
    const unread = typeof chat.unreadCount === "number" && chat.unreadCount > 0;
    const button = el(
      "button",
      { type: "button", className: "chat-item", data: { chatId: chat._id } },
      avatar,
      el("span", { className: "chat-main" },
        el("span", { className: "chat-name" }, title(chat)),
        el("span", { className: `chat-preview ${className}` }, text)),
      el("span", { className: "chat-meta" },
        el("time", { dateTime: activity(chat) }, shortTime(activity(chat))),
        unread ? el("span", { className: "badge", "aria-label": `${chat.unreadCount} unread` },
          chat.unreadCount > 99 ? "99+" : String(chat.unreadCount)) : null),
    );
    if (chat._id === ctx.openChatId) button.setAttribute("aria-current", "true");
    button.addEventListener("click", () => ctx.openChat(chat._id));
    return el("li", {}, button);
  }

  function render() {
    const sorted = [...chats.values()].sort((a, b) => activity(b).localeCompare(activity(a)));
    list.replaceChildren(...sorted.map(item));
    show($("chat-list-empty"), chats.size === 0);
  }

  /** Adds or replaces a chat; returns it. */
  function upsert(chat) {
    const previous = chats.get(chat._id);
    // A chat event may describe the chat without the caller's own view (unread count).
    if (previous && chat.unreadCount === undefined && previous.unreadCount !== undefined) {
      chat = { ...chat, unreadCount: previous.unreadCount };
    }
    chats.set(chat._id, chat);
    render();
    return chat;
  }

  async function load() {
    const loaded = await ctx.api.chats();
    chats.clear();
    for (const chat of loaded) chats.set(chat._id, chat);
    render();
    loadPresence();
    return loaded;
  }

  /** Asks for the presence of 1:1 partners; a server without presence leaves no dots. */
  async function loadPresence() {
    const ids = [...new Set([...chats.values()].map(partner).filter(Boolean))].slice(0, 100);
    if (!ids.length || ctx.presenceSupported === false) return;
    try {
      const states = await ctx.api.presence(ids);
      ctx.presenceSupported = true;
      for (const state of states) presence.set(state.userId, state);
      render();
    } catch (error) {
      if (error instanceof ApiError && error.routeMissing) ctx.presenceSupported = false;
    }
  }

  /** A message arrived live (or was sent): moves the chat up and counts it as unread. */
  function onMessage(message) {
    const chat = chats.get(message.chat);
    if (!chat) return;
    const updated = { ...chat, lastMessage: message, updatedAt: message.createdAt };
    const fromOther = message.sender !== ctx.me._id;
    const seen = message.chat === ctx.openChatId && document.visibilityState === "visible";
    if (fromOther && !seen && typeof chat.unreadCount === "number") updated.unreadCount = chat.unreadCount + 1;
    typing.get(message.chat)?.delete(message.sender);
    upsert(updated);
  }

  function onDeleted({ messageId, chatId }) {
    const chat = chats.get(chatId);
    if (chat?.lastMessage?._id === messageId) upsert({ ...chat, lastMessage: { ...chat.lastMessage, isDeleted: true } });
  }

  function onUpdated({ message }) {
    const chat = chats.get(message?.chat);
    if (chat?.lastMessage?._id === message._id) upsert({ ...chat, lastMessage: message });
  }

  function onTyping({ chatId, userId, isTyping }) {
    const typists = typing.get(chatId) ?? new Set();
    if (isTyping) typists.add(userId);
    else typists.delete(userId);
    typing.set(chatId, typists);
    render();
  }

  function setUnread(chatId, unreadCount) {
    const chat = chats.get(chatId);
    if (chat && typeof unreadCount === "number") upsert({ ...chat, unreadCount });
  }

  function onPresence(state) {
    ctx.presenceSupported = true;
    presence.set(state.userId, state);
    render();
    ctx.onPresenceChanged?.(state.userId);
  }

  /** The people search: results as you type; picking one opens (or creates) the 1:1 chat. */
  function wireSearch() {
    const input = $("search");
    const results = $("search-results");
    let generation = 0;
    let timer = null;

    async function search() {
      const text = input.value.trim();
      const mine = ++generation;
      if (!text) return show(results, false);
      let users;
      try {
        users = await ctx.api.searchUsers(text);
      } catch (error) {
        users = null;
        if (mine === generation) {
          results.replaceChildren(el("li", { className: "hint" }, error.message));
          show(results, true);
        }
        return;
      }
      if (mine !== generation) return; // an older answer arriving late
      users.forEach(rememberUser);
      const rows = users.filter((u) => u._id !== ctx.me._id).map((user) => {
        const avatar = el("span", { className: "avatar small", "aria-hidden": "true" });
        paintAvatar(avatar, user._id, user.username);
        const button = el("button", { type: "button", className: "person", data: { userId: user._id } },
          avatar, el("span", {}, user.username));
        button.addEventListener("click", () => startChat(user));
        return el("li", {}, button);
      });
      results.replaceChildren(...(rows.length ? rows : [el("li", { className: "hint" }, "Nobody found")]));
      show(results, true);
    }

    async function startChat(user) {
      try {
        const created = await ctx.api.createChat([user._id]);
        ctx.rememberReceipts?.(created);
        const chat = upsert(created);
        input.value = "";
        show(results, false);
        ctx.joinChat(chat._id);
        ctx.openChat(chat._id);
      } catch (error) {
        results.replaceChildren(el("li", { className: "error" }, `Cannot start the chat: ${error.message}`));
      }
    }

    input.addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(search, 250);
    });
    $("search-form").addEventListener("submit", (event) => {
      event.preventDefault();
      clearTimeout(timer);
      search();
    });
    input.addEventListener("keydown", (event) => {
      if (event.key === "Escape") {
        input.value = "";
        show(results, false);
      }
    });
  }

  function clear() {
    chats.clear();
    presence.clear();
    typing.clear();
    list.replaceChildren();
    $("search").value = "";
    show($("search-results"), false);
  }

  return {
    chats, presence, title, partner, others, load, upsert, render, onMessage, onDeleted, onUpdated, onTyping,
    setUnread, onPresence, wireSearch, clear,
  };
}
