// The browser client (crates/web-client, served by the server at `/`) in a real browser:
// Debian's Chromium driven by playwright-core, two people (two browser contexts) against one
// real chat-server. Run by tests/tests/it/web.rs, which starts the server and sets
//   CHAT_URL          the server's base URL,
//   CHAT_CHROMIUM     the Chromium binary,
//   CHAT_SCREENSHOT   where to save a picture of the conversation.
//
// Nothing here sleeps: every wait is playwright's auto-waiting (`locator.waitFor`, actions)
// or `waitForFunction`, bounded by the default timeout.

import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { after, before, test } from "node:test";
import { chromium } from "playwright-core";

const TIMEOUT_MS = 15_000;

function env(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run this suite through \`cargo test -p e2e --test it -- web\``);
  return value;
}

const BASE = env("CHAT_URL").replace(/\/$/, "");
const CHROMIUM = env("CHAT_CHROMIUM");
const SCREENSHOT = env("CHAT_SCREENSHOT");

// As the machine notes say: without the background-networking flags Chromium keeps trying to
// reach Google's hosts, which this closed network refuses. Playwright gives every launch a
// fresh temporary profile (user-data-dir) itself.
const ARGS = [
  "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync",
];

let browser;
const problems = []; // uncaught page errors, checked at the end

before(async () => {
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS, timeout: 60_000 });
});

after(async () => {
  await browser?.close();
});

/** A person with their own browser context (own storage, own socket). */
async function person(name) {
  const context = await browser.newContext({ viewport: { width: 1100, height: 720 }, colorScheme: "light" });
  return { name, context, page: await newPage(name, context) };
}

/** A page (tab) of that person's context, its script errors collected into `problems`. */
async function newPage(name, context) {
  const page = await context.newPage();
  page.setDefaultTimeout(TIMEOUT_MS);
  page.on("pageerror", (error) => problems.push(`${name}: ${error.message}`));
  page.on("console", (message) => {
    // A fetch answered 404/405 is logged by Chromium; the page probes routes that way on purpose.
    if (message.type() === "error" && !message.text().startsWith("Failed to load resource")) {
      problems.push(`${name} console: ${message.text()}`);
    }
  });
  return page;
}

async function register({ page, name }) {
  await page.goto(`${BASE}/`);
  await page.getByRole("tab", { name: "Register" }).click();
  await page.getByLabel("Email").fill(`${name}@example.com`);
  await page.getByLabel("Username").fill(name);
  await page.getByLabel("Password").fill("secret123");
  await page.getByRole("button", { name: "Create account" }).click();
  await page.locator("#me-name", { hasText: name }).waitFor();
  await page.locator("#connection.online").waitFor();
}

/** The message bubbles of the open conversation whose text is exactly `text`. */
function bubble(page, text) {
  return page.locator("#message-list li.message", { has: page.locator(".text", { hasText: new RegExp(`^${escape(text)}$`) }) });
}

function escape(text) {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** The ticks of one's own message once its status is `status` (sent, delivered or read). */
function ticks(page, text, status) {
  return bubble(page, text).locator(`.ticks[data-status="${status}"]`);
}

/** Sends `text` and waits for the server's ack (any status: the reader may be quick). */
async function send(page, text) {
  await page.getByLabel("Message", { exact: true }).fill(text);
  await page.getByLabel("Message", { exact: true }).press("Enter");
  await bubble(page, text).locator(".ticks[data-status]").waitFor();
}

async function api(method, path, token, body) {
  const response = await fetch(`${BASE}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  assert.ok(response.ok, `${method} ${path}: ${response.status} ${text}`);
  return JSON.parse(text);
}

test("two people chat in the browser client", async (t) => {
  const alice = await person("alice");
  const bob = await person("bob");
  await Promise.all([register(alice), register(bob)]);

  // The text as typed: the server stores it HTML-escaped and the page shows it decoded.
  const hello = "Hi Bob! Is 2 < 3 & 3 > 2?";
  const reply = "Hey Alice, yes it is";

  await t.test("alice finds bob and opens a chat; bob sees it appear", async () => {
    await alice.page.getByRole("searchbox", { name: "Find people" }).fill("bo");
    await alice.page.getByRole("button", { name: "bob" }).click();
    await alice.page.locator("#chat-title", { hasText: /^bob$/ }).waitFor();
    await bob.page.locator("#chat-list .chat-item").first().click();
    await bob.page.locator("#chat-view:not([hidden])").waitFor();
  });

  await t.test("bob sees alice typing, then her message live", async () => {
    await alice.page.getByLabel("Message", { exact: true }).pressSequentially("Hi", { delay: 20 });
    await bob.page.locator("#chat-subtitle.typing", { hasText: "is typing…" }).waitFor();
    await alice.page.getByLabel("Message", { exact: true }).fill(hello);
    await alice.page.getByLabel("Message", { exact: true }).press("Enter");
    await bubble(bob.page, hello).waitFor();
    assert.equal(await bubble(bob.page, hello).getAttribute("class"), "message theirs");
    // Sending ends the typing notice.
    await bob.page.locator("#chat-subtitle:not(.typing)").waitFor();
  });

  await t.test("bob has the chat open, so alice's ticks move to read", async () => {
    // Bob's page reads it on arrival (message:read); alice's page hears receipt:updated.
    await ticks(alice.page, hello, "read").waitFor();
    assert.equal(await ticks(alice.page, hello, "read").textContent(), "✓✓");
    assert.equal(await bob.page.locator("#chat-list .badge").count(), 0, "no badge for the open chat");
  });

  await t.test("alice sees bob's reply live", async () => {
    await send(bob.page, reply);
    await bubble(alice.page, reply).waitFor();
    await alice.page.locator("#chat-list .chat-preview", { hasText: reply }).waitFor();
  });

  await t.test("a picture of the conversation", async () => {
    await send(alice.page, "The new web client works!");
    await bubble(bob.page, "The new web client works!").waitFor();
    await ticks(alice.page, "The new web client works!", "read").waitFor();
    await bob.page.getByLabel("Message", { exact: true }).pressSequentially("Nice", { delay: 20 });
    await alice.page.locator("#chat-subtitle.typing").waitFor();
    mkdirSync(dirname(SCREENSHOT), { recursive: true });
    await alice.page.screenshot({ path: SCREENSHOT });
    await bob.page.getByLabel("Message", { exact: true }).fill("");
  });

  const edited = "The new web client works, with ticks!";

  await t.test("alice edits her message and bob sees the new text, marked edited", async () => {
    assert.equal(await bubble(alice.page, reply).getByRole("button", { name: "Edit" }).count(), 0);
    const mine = bubble(alice.page, "The new web client works!");
    await mine.hover();
    await mine.getByRole("button", { name: "Edit" }).click();
    await alice.page.getByLabel("Edit message").fill(edited);
    await alice.page.getByRole("button", { name: "Save" }).click();
    await bubble(alice.page, edited).locator(".edited", { hasText: "(edited)" }).waitFor();
    await bubble(bob.page, edited).locator(".edited", { hasText: "(edited)" }).waitFor();
    assert.equal(await bubble(bob.page, "The new web client works!").count(), 0);
    await ticks(alice.page, edited, "read").waitFor(); // an edit keeps the receipts
  });

  await t.test("alice deletes her own message and it disappears for both", async () => {
    assert.equal(await bubble(alice.page, reply).locator(".actions").count(), 0, "no actions on others' messages");
    const mine = bubble(alice.page, hello);
    await mine.hover();
    await mine.getByRole("button", { name: "Delete" }).click();
    await mine.getByRole("button", { name: "Delete?" }).click();
    await mine.waitFor({ state: "detached" });
    await bubble(bob.page, hello).waitFor({ state: "detached" });
    await bubble(bob.page, reply).waitFor();
  });

  const away = "Still there, Bob?";

  await t.test("sent while bob's chat is closed: delivered, a badge, then read when he opens it", async () => {
    await bob.page.locator("#composer-text").press("Escape");
    await bob.page.locator("#no-chat:not([hidden])").waitFor();
    await send(alice.page, away);
    // Bob's page got it with the conversation closed: message:delivered, not read.
    await ticks(alice.page, away, "delivered").waitFor();
    const badge = bob.page.locator("#chat-list .chat-item .badge");
    await badge.filter({ hasText: /^1$/ }).waitFor();
    await bob.page.locator("#chat-list .chat-preview", { hasText: away }).waitFor();
    assert.equal(await ticks(alice.page, away, "read").count(), 0);
    await bob.page.locator("#chat-list .chat-item").first().click();
    await bubble(bob.page, away).waitFor();
    await badge.waitFor({ state: "detached" });
    await ticks(alice.page, away, "read").waitFor();
  });

  const offline = "Sent while you were away";

  await t.test("sent while bob has no page open: sent, then delivered when his page loads", async () => {
    await bob.page.close();
    await send(alice.page, offline);
    // Nobody of bob's is connected, so nothing can have marked it delivered.
    await ticks(alice.page, offline, "sent").waitFor();
    bob.page = await newPage(bob.name, bob.context);
    await bob.page.goto(`${BASE}/`); // signed in still (localStorage), no chat open
    await bob.page.locator("#no-chat:not([hidden])").waitFor();
    await ticks(alice.page, offline, "delivered").waitFor(); // the chat list marks it delivered
    await bob.page.locator("#chat-list .chat-item .badge").filter({ hasText: /^1$/ }).waitFor();
    await bob.page.locator("#chat-list .chat-item").first().click();
    await bubble(bob.page, offline).waitFor();
    await ticks(alice.page, offline, "read").waitFor();
    await bob.page.locator("#chat-list .chat-item .badge").waitFor({ state: "detached" });
  });

  await t.test("history pages back past the newest 50", async () => {
    const session = await alice.page.evaluate(() => JSON.parse(localStorage.getItem("chat.session")));
    const chatId = new URL(alice.page.url()).hash.slice(1);
    assert.match(chatId, /^[0-9a-f]{24}$/);
    for (let i = 1; i <= 60; i += 1) {
      await api("POST", "/api/messages", session.token, { chat: chatId, text: `Message ${i}` });
    }
    await bubble(bob.page, "Message 60").waitFor(); // live, too
    // A fresh load of the page (the chat is in the address): the newest page only.
    assert.equal(new URL(bob.page.url()).hash, `#${chatId}`);
    await bob.page.reload();
    await bubble(bob.page, "Message 60").waitFor();
    await bubble(bob.page, "Message 11").waitFor();
    assert.equal(await bubble(bob.page, "Message 10").count(), 0, "only the newest 50 at first");
    assert.equal(await bob.page.locator("#message-list li.message").count(), 50);
    // The button's own click event, without Playwright's scrolling it into view first: at the
    // top of the list the client loads the older page by itself (scrolling up does), and when
    // that page came back before the click landed the button was gone (hidden: nothing older)
    // and the click waited for it until the timeout.
    await bob.page.getByRole("button", { name: "Load older messages" }).dispatchEvent("click");
    await bubble(bob.page, "Message 1").waitFor();
    await bubble(bob.page, reply).waitFor();
    assert.equal(await bob.page.locator("#message-list li.message").count(), 64);
    await bob.page.getByRole("button", { name: "Load older messages" }).waitFor({ state: "hidden" });
    const order = await bob.page.locator("#message-list li.message .text").allTextContents();
    assert.deepEqual(order.slice(0, 4), [reply, edited, away, offline]);
    assert.equal(order.at(-1), "Message 60");
  });

  await t.test("no script errors on either page", () => {
    assert.deepEqual(problems, []);
  });

  await Promise.all([alice.context.close(), bob.context.close()]);
});
