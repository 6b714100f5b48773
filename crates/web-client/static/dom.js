// Small DOM helpers shared by the modules: element creation (text is always set as text,
// never parsed as HTML), the decoding of the server's HTML-escaped message text, names and
// colours for users, and time formats.

/** `document.getElementById`, failing loudly when the page and the script disagree. */
export function $(id) {
  const element = document.getElementById(id);
  if (!element) throw new Error(`#${id} is missing from index.html`);
  return element;
}

/**
 * Creates an element. `props` sets properties (`className`, `title`, `dataset` entries via
 * `data`), `children` are nodes or strings; strings become text nodes, never markup.
 */
export function el(tag, props = {}, ...children) {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null) continue;
    if (key === "data") Object.assign(element.dataset, value);
    else if (key.startsWith("aria-") || key === "role") element.setAttribute(key, value);
    else element[key] = value;
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    element.append(typeof child === "string" ? document.createTextNode(child) : child);
  }
  return element;
}

// The server stores message text HTML-escaped ("a < b" arrives as "a &lt; b"; tags were
// already stripped), so that old clients may insert it as HTML. We never insert anything as
// HTML: we decode the entities and set the result as text. Decoding goes through a detached
// <textarea>, whose content the HTML parser reads as RCDATA: character references are
// decoded, but no element is ever created, so nothing can load or run. Showing the raw text
// would display "&lt;" to people, and inserting it as HTML would trust the server's escaping.
const decoder = document.createElement("textarea");

/** The text a person typed, from the server's HTML-escaped form. */
export function decodeEntities(text) {
  if (!text || !text.includes("&")) return text ?? "";
  decoder.innerHTML = text;
  return decoder.value;
}

/** A stable hue for an id, so each person keeps one avatar colour. */
export function hueOf(id) {
  let hash = 0;
  for (const char of String(id)) hash = (hash * 31 + char.charCodeAt(0)) >>> 0;
  return hash % 360;
}

/** Fills an avatar element with the first letter of `name`, coloured by `id`. */
export function paintAvatar(element, id, name) {
  element.textContent = (name || "?").trim().charAt(0).toUpperCase() || "?";
  element.style.setProperty("--hue", hueOf(id));
}

const clock = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
const day = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric" });

/** "14:05" today, "Nov 25" before. */
export function shortTime(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return "";
  const now = new Date();
  return date.toDateString() === now.toDateString() ? clock.format(date) : day.format(date);
}

/** The full local date and time, for tooltips. */
export function longTime(iso) {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? "" : date.toLocaleString();
}

/** Shows or hides an element. */
export function show(element, visible) {
  element.hidden = !visible;
}
