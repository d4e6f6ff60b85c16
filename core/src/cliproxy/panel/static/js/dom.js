// Small DOM helpers: build elements from data (text is always text, never HTML).

const SVG_NS = "http://www.w3.org/2000/svg";

function put(el, props) {
  for (const [name, value] of Object.entries(props || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") el.addEventListener(name.slice(2), value);
    else if (name === "class") el.setAttribute("class", value);
    else if (name === "value" || name === "checked" || name === "selected") el[name] = value;
    else el.setAttribute(name, value === true ? "" : String(value));
  }
}

function add(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
}

/** Replace an element's children (null, false and nested lists allowed, as for h). */
export function fill(el, ...children) {
  el.replaceChildren();
  add(el, children);
  return el;
}

/** h("button", {onclick, class}, "text", child...) */
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  put(el, props);
  add(el, children);
  return el;
}

/** The same for SVG elements. */
export function s(tag, props, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  put(el, props);
  add(el, children);
  return el;
}

/** A table: columns [{label, num?, cell(row) -> node|text}], rows; stacks on narrow screens. */
export function table(columns, rows, { caption, empty = "Nothing yet.", rowProps } = {}) {
  if (!rows.length) return h("p", { class: "muted" }, empty);
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      { class: "stack" },
      caption ? h("caption", { class: "muted" }, caption) : null,
      h("thead", {}, h("tr", {}, columns.map((c) => h("th", { scope: "col", class: c.num ? "num" : null }, c.label)))),
      h(
        "tbody",
        {},
        rows.map((row) =>
          h(
            "tr",
            rowProps ? rowProps(row) : {},
            columns.map((c) => h("td", { "data-label": c.label, class: c.num ? "num" : null }, c.cell(row))),
          ),
        ),
      ),
    ),
  );
}

export function field(label, input, help) {
  const id = input.id || `f-${Math.random().toString(36).slice(2, 9)}`;
  input.id = id;
  return h("div", { class: "field" }, h("label", { for: id }, label), input, help ? h("small", {}, help) : null);
}

export const fmt = {
  int: (n) => (n === null || n === undefined ? "-" : Number(n).toLocaleString("en-US")),
  usd: (n) => (n === null || n === undefined ? "?" : `$${Number(n).toFixed(n && n < 0.01 ? 5 : 2)}`),
  pct: (n) => `${(n * 100).toFixed(1)}%`,
  time: (iso) => (iso ? iso.replace("T", " ").replace("Z", "") : "-"),
  ms: (n) => (n >= 1000 ? `${(n / 1000).toFixed(2)} s` : `${Math.round(n)} ms`),
  seconds(secs) {
    secs = Math.max(0, Math.ceil(secs));
    const h = Math.floor(secs / 3600);
    const m = Math.floor((secs % 3600) / 60);
    const s = secs % 60;
    const two = (n) => String(n).padStart(2, "0");
    return h ? `${h}:${two(m)}:${two(s)}` : `${m}:${two(s)}`;
  },
};

let toastTimer = null;
/** A short message in the page's live region (screen readers announce it). */
export function toast(message, bad = false) {
  const el = document.getElementById("toast");
  el.className = bad ? "toast bad" : "toast";
  el.textContent = message;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => (el.textContent = ""), 6000);
}

/** Run an async action from a button: disabled while it runs, errors as a toast. */
export async function act(button, work) {
  if (button) button.disabled = true;
  try {
    return await work();
  } catch (error) {
    toast(error.message, true);
    return undefined;
  } finally {
    if (button) button.disabled = false;
  }
}
