// The open conversation: history (newest 50, older pages on demand), live messages, the
// composer with typing notices, receipts ticks, and delete (and edit, where the server has it)
// of one's own messages.

import { $, el, decodeEntities, longTime, paintAvatar, shortTime, show } from "./dom.js";
import { ApiError, nameOf, newClientId, request } from "./api.js";

/** Ticks for `status` (sent ✓, delivered ✓✓, read ✓✓ in colour). */
const TICKS = {
  sent: { text: "✓", label: "Sent" },
  delivered: { text: "✓✓", label: "Delivered" },
  read: { text: "✓✓", label: "Read" },
};

/** How often a start of typing is repeated while one keeps typing, and when it stops. */
const TYPING_REPEAT_MS = 2000;
const TYPING_IDLE_MS = 3000;

/** Statuses in the order they move (never back). */
const RANK = { sent: 0, delivered: 1, read: 2 };

/**
 * The status of one's own message from the markers of the chat's other participants: read
 * once every one of them read up to its seq, delivered once every one received it, else sent.
 * Never below what the server said (`message.status`): markers only move forward.
 */
export function statusOf(message, receipts, me) {
  const others = [...(receipts?.values() ?? [])].filter((r) => r.userId !== me);
  let status = "sent";
  if (others.length && others.every((r) => r.readSeq >= message.seq)) status = "read";
  else if (others.length && others.every((r) => r.deliveredSeq >= message.seq)) status = "delivered";
  const told = message.status in RANK ? message.status : "sent";
  return RANK[told] > RANK[status] ? told : status;
}

export function createConversation(ctx) {
  const list = $("message-list");
  const scroller = $("messages");
  const olderButton = $("load-older");
  const input = $("composer-text");
  let chatId = null;
  let messages = new Map(); // _id (or clientId while pending) → message
  let hasMore = false;
  let loadingOlder = false;
  let typingSentAt = 0;
  let idleTimer = null;

  const keyOf = (message) => message._id ?? `pending:${message.clientId}`;
  const elementOf = (key) => list.querySelector(`li[data-key="${CSS.escape(key)}"]`);
  const nearBottom = () => scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 80;
  const scrollToBottom = () => {
    scroller.scrollTop = scroller.scrollHeight;
  };

  function ticks(message) {
    if (message.pending) return el("span", { className: "ticks pending", title: "Sending" }, "…");
    if (message.failed) return null;
    const tick = TICKS[message.status];
    return tick
      ? el("span", { className: `ticks ${message.status}`, title: tick.label, "aria-label": tick.label, data: { status: message.status } }, tick.text)
      : null;
  }

  function actions(message) {
    if (message.sender !== ctx.me._id || message.pending || message.failed || !message._id) return null;
    const remove = el("button", { type: "button", className: "link action delete" }, "Delete");
    remove.addEventListener("click", () => {
      if (!remove.classList.contains("confirm")) {
        remove.classList.add("confirm");
        remove.textContent = "Delete?";
        return;
      }
      deleteMessage(message._id, remove);
    });
    remove.addEventListener("blur", () => {
      remove.classList.remove("confirm");
      remove.textContent = "Delete";
    });
    const edit = ctx.editSupported
      ? el("button", { type: "button", className: "link action edit" }, "Edit")
      : null;
    edit?.addEventListener("click", () => startEdit(message));
    return el("span", { className: "actions" }, edit, remove);
  }

  function bubble(message) {
    const mine = message.sender === ctx.me._id;
    const group = ctx.chatList.chats.get(message.chat)?.isGroup;
    const text = message.plain ?? decodeEntities(message.text);
    const item = el(
      "li",
      { className: `message ${mine ? "mine" : "theirs"}${message.failed ? " failed" : ""}`,
        data: { key: keyOf(message), seq: String(message.seq ?? Number.MAX_SAFE_INTEGER) } },
      el("div", { className: "bubble" },
        group && !mine ? el("span", { className: "sender" }, nameOf(message.sender)) : null,
        el("p", { className: "text" }, text),
        el("span", { className: "meta" },
          message.editedAt ? el("span", { className: "edited", title: `Edited ${longTime(message.editedAt)}` }, "(edited)") : null,
          el("time", { dateTime: message.createdAt ?? "", title: longTime(message.createdAt) }, shortTime(message.createdAt)),
          mine ? ticks(message) : null)),
      actions(message),
    );
    if (message.failed) {
      const retry = el("button", { type: "button", className: "link" }, "Retry");
      retry.addEventListener("click", () => send(message.plain, message.clientId));
      item.append(el("p", { className: "error" }, `Not sent: ${message.failed}. `, retry));
    }
    return item;
  }

  /** Puts a message's element in seq order (pending ones last), replacing an older rendering. */
  function place(message, replacing) {
    const item = bubble(message);
    const old = elementOf(keyOf(message)) ?? (replacing ? elementOf(replacing) : null);
    old?.remove();
    const seq = Number(item.dataset.seq);
    const after = [...list.children].find((li) => Number(li.dataset.seq) > seq);
    list.insertBefore(item, after ?? null);
  }

  /** Adds or updates a message of this chat (from history, the socket, or an ack). */
  function upsert(message) {
    if (message.chat !== chatId || message.isDeleted) return;
    if (message.sender === ctx.me._id && typeof message.seq === "number") {
      message = { ...message, status: statusOf(message, ctx.receipts.get(chatId), ctx.me._id) };
    }
    const pendingKey = message.clientId ? `pending:${message.clientId}` : null;
    const replacing = pendingKey && messages.has(pendingKey) ? pendingKey : null;
    if (replacing) messages.delete(replacing);
    messages.set(keyOf(message), message);
    place(message, replacing);
  }

  async function open(id) {
    chatId = id;
    messages = new Map();
    hasMore = false;
    list.replaceChildren();
    show(olderButton, false);
    show($("no-chat"), false);
    show($("chat-view"), true);
    hideError();
    renderHeader();
    try {
      const page = await ctx.api.history(id);
      if (chatId !== id) return;
      page.messages.forEach(upsert);
      applyReceipts(ctx.receipts.get(id));
      setHasMore(page.hasMore);
      scrollToBottom();
      markRead();
    } catch (error) {
      if (chatId === id) showError(`Cannot load the messages: ${error.message}`);
    }
    input.focus();
  }

  /**
   * Recomputes the ticks of one's own messages from the other participants' markers
   * (`chat.receipts`, then `receipt:updated`), redrawing only the ones that moved.
   */
  function applyReceipts(receipts) {
    for (const message of [...messages.values()]) {
      if (message.sender !== ctx.me._id || typeof message.seq !== "number") continue;
      if (statusOf(message, receipts, ctx.me._id) !== message.status) upsert(message);
    }
  }

  function setHasMore(more) {
    hasMore = more;
    show(olderButton, more);
  }

  /** The next older page, keeping what is on screen where it was. */
  async function loadOlder() {
    if (!hasMore || loadingOlder || !chatId) return;
    const oldest = [...messages.values()].filter((m) => m.seq !== undefined).sort((a, b) => a.seq - b.seq)[0];
    if (!oldest) return;
    loadingOlder = true;
    olderButton.disabled = true;
    const id = chatId;
    const fromBottom = scroller.scrollHeight - scroller.scrollTop;
    try {
      const page = await ctx.api.history(id, oldest._id);
      if (chatId !== id) return;
      page.messages.forEach(upsert);
      applyReceipts(ctx.receipts.get(id));
      setHasMore(page.hasMore);
      scroller.scrollTop = scroller.scrollHeight - fromBottom;
    } catch (error) {
      showError(`Cannot load older messages: ${error.message}`);
    } finally {
      loadingOlder = false;
      olderButton.disabled = false;
    }
  }

  /**
   * Tells the server we read the open chat up to its newest message (`message:read`, which
   * also marks it delivered), unless our read marker is there already; clears the badge.
   */
  function markRead() {
    const chat = ctx.chatList.chats.get(chatId);
    if (!chat || typeof chat.unreadCount !== "number") return;
    const newest = Math.max(0, chat.lastSeq ?? 0, ctx.lastSeq.get(chatId) ?? 0, ...[...messages.values()].map((m) => m.seq ?? 0));
    const mine = ctx.receipts.get(chatId)?.get(ctx.me._id);
    if (newest > 0 && !(mine?.readSeq >= newest) && ctx.socket) {
      ctx.socket.emit("message:read", { chatId, seq: newest }); // buffered while reconnecting
    }
    ctx.chatList.setUnread(chatId, 0);
  }

  function renderHeader() {
    const chat = ctx.chatList.chats.get(chatId);
    if (!chat) return;
    $("chat-title").textContent = ctx.chatList.title(chat);
    paintAvatar($("chat-avatar"), ctx.chatList.partner(chat) ?? chat._id, ctx.chatList.title(chat));
    const typists = [...(ctx.typing.get(chatId) ?? [])];
    const subtitle = $("chat-subtitle");
    subtitle.classList.toggle("typing", typists.length > 0);
    if (typists.length) {
      subtitle.textContent = `${typists.map(nameOf).join(", ")} ${typists.length > 1 ? "are" : "is"} typing…`;
      return;
    }
    const partner = ctx.chatList.partner(chat);
    const state = partner && ctx.chatList.presence.get(partner);
    if (state) subtitle.textContent = state.online ? "online" : `last seen ${shortTime(state.lastSeenAt)}`;
    else subtitle.textContent = chat.isGroup ? `${chat.participants.length} members` : "";
  }

  async function send(text, clientId = newClientId()) {
    const id = chatId;
    const pending = { clientId, chat: id, sender: ctx.me._id, plain: text, pending: true, createdAt: new Date().toISOString() };
    messages.delete(`pending:${clientId}`);
    messages.set(keyOf(pending), pending);
    place(pending);
    scrollToBottom();
    stopTyping();
    let message = null;
    let failure = null;
    if (ctx.socket?.connected) {
      const ack = await request(ctx.socket, "message:send", { chatId: id, text, clientId });
      if (ack.success) message = ack.message;
      else failure = ack.error === "rate_limited" ? `too many messages, wait ${Math.ceil((ack.retryAfterMs ?? 0) / 1000)} s` : ack.error;
    } else {
      try {
        message = await ctx.api.send(id, text, clientId);
      } catch (error) {
        failure = error.message;
      }
    }
    if (chatId !== id) return;
    if (message) {
      upsert(message);
      ctx.chatList.onMessage(message);
    } else if (messages.has(`pending:${clientId}`)) {
      const failed = { ...pending, pending: false, failed: failure ?? "unknown error" };
      messages.set(keyOf(failed), failed);
      place(failed);
    }
  }

  async function deleteMessage(id, button) {
    button.disabled = true;
    try {
      await ctx.api.remove(id);
      removeMessage(id);
    } catch (error) {
      button.disabled = false;
      showError(`Cannot delete: ${error.message}`);
    }
  }

  function removeMessage(id) {
    messages.delete(id);
    elementOf(id)?.remove();
  }

  function startEdit(message) {
    const item = elementOf(message._id);
    const text = item?.querySelector(".text");
    if (!text) return;
    const field = el("textarea", { className: "edit-field", value: decodeEntities(message.text), rows: 2, "aria-label": "Edit message" });
    const save = el("button", { type: "submit", className: "primary small" }, "Save");
    const cancel = el("button", { type: "button", className: "link" }, "Cancel");
    const form = el("form", { className: "edit-form" }, field, el("span", {}, cancel, save));
    const restore = () => place(messages.get(message._id) ?? message); // ticks may have moved meanwhile
    cancel.addEventListener("click", restore);
    field.addEventListener("keydown", (event) => {
      if (event.key === "Escape") {
        event.stopPropagation(); // cancels the edit, not the conversation
        restore();
      }
    });
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const text = field.value.trim();
      if (!text) return showError("A message cannot be empty: delete it instead.");
      try {
        if (ctx.socket?.connected) {
          const ack = await request(ctx.socket, "message:edit", { messageId: message._id, text });
          if (!ack.success) throw new Error(ack.message ?? ack.error ?? "refused");
          upsert(ack.message);
        } else {
          upsert(await ctx.api.edit(message._id, text));
        }
        hideError();
      } catch (error) {
        if (error instanceof ApiError && error.routeMissing) {
          ctx.editSupported = false; // the server has no edit yet: stop offering it
          showError("This server does not support editing messages yet.");
          [...messages.values()].forEach((m) => place(m));
        } else {
          showError(`Cannot edit: ${error.message}`);
        }
      }
    });
    text.replaceWith(form);
    field.focus();
  }

  function stopTyping() {
    clearTimeout(idleTimer);
    if (typingSentAt && ctx.socket?.connected) ctx.socket.emit("message:typing", { chatId, isTyping: false });
    typingSentAt = 0;
  }

  function onInput() {
    input.style.height = "auto";
    input.style.height = `${Math.min(input.scrollHeight, 160)}px`;
    if (!chatId || !ctx.socket?.connected) return;
    if (!input.value.trim()) return stopTyping();
    const now = Date.now();
    if (now - typingSentAt > TYPING_REPEAT_MS) {
      ctx.socket.emit("message:typing", { chatId, isTyping: true });
      typingSentAt = now;
    }
    clearTimeout(idleTimer);
    idleTimer = setTimeout(stopTyping, TYPING_IDLE_MS);
  }

  function showError(text) {
    const error = $("composer-error");
    error.textContent = text;
    show(error, true);
  }

  function hideError() {
    show($("composer-error"), false);
  }

  function wire() {
    olderButton.addEventListener("click", loadOlder);
    scroller.addEventListener("scroll", () => {
      if (scroller.scrollTop < 40) loadOlder();
    });
    input.addEventListener("input", onInput);
    input.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        $("composer").requestSubmit();
      }
    });
    $("composer").addEventListener("submit", (event) => {
      event.preventDefault();
      const text = input.value.trim();
      if (!text || !chatId) return;
      hideError();
      input.value = "";
      input.style.height = "auto";
      send(text);
    });
  }

  return {
    get chatId() {
      return chatId;
    },
    wire,
    open,
    renderHeader,
    markRead,
    onMessage(message) {
      if (message.chat !== chatId) return;
      const follow = nearBottom() || message.sender === ctx.me._id;
      upsert(message);
      if (follow) scrollToBottom();
      if (message.sender !== ctx.me._id && document.visibilityState === "visible") markRead();
    },
    onDeleted({ messageId }) {
      removeMessage(messageId);
    },
    onUpdated({ message }) {
      if (message && messages.has(message._id)) upsert(message);
    },
    onReceipt: applyReceipts,
    close() {
      chatId = null;
      messages = new Map();
      list.replaceChildren();
      show($("chat-view"), false);
      show($("no-chat"), true);
    },
  };
}
