// Logs: the last requests (filtered), and the kept request logs with their upstream attempts.
import { api, enc } from "./api.js";
import { act, field, fill, fmt, h, table, toast } from "./dom.js";

export const title = "Logs";

function bodyText(part) {
  if (!part) return "";
  const text = typeof part.body === "string" ? part.body : (part.chunks || []).map((c) => String(c[1])).join("");
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

function headersText(headers) {
  if (!headers) return "";
  const pairs = Array.isArray(headers) ? headers : Object.entries(headers);
  return pairs.map(([k, v]) => `${k}: ${v}`).join("\n");
}

function detail(record) {
  const served = record.served_by;
  const attempts = record.attempts || [];
  return [
    h("h2", { id: "log-title", tabindex: "-1" }, `Request ${record.id}`),
    h(
      "dl",
      { class: "kv" },
      h("dt", {}, "Time"), h("dd", {}, `${fmt.time(record.time)} (${fmt.ms(record.duration_ms || 0)})`),
      h("dt", {}, "Status"), h("dd", {}, h("span", { class: `badge ${record.status >= 400 ? "bad" : "ok"}` }, String(record.status))),
      h("dt", {}, "Door / client"), h("dd", {}, `${record.door} / ${record.client}`),
      h("dt", {}, "Model"), h("dd", {}, record.model),
      h("dt", {}, "Served by"), h("dd", {}, served ? `${served.provider} [${served.credential}] ${served.model} (upstream ${served.status})` : "no upstream answered"),
      h("dt", {}, "Error"), h("dd", { class: record.error ? "error" : null }, record.error || "-"),
    ),
    h("h3", {}, "Failed upstream attempts"),
    table(
      [
        { label: "Provider", cell: (a) => a.provider },
        { label: "Credential", cell: (a) => a.credential },
        { label: "Model", cell: (a) => a.model },
        { label: "Status", num: true, cell: (a) => String(a.status) },
        { label: "Error", cell: (a) => a.error },
      ],
      record.failed_attempts || [],
      { empty: "None." },
    ),
    attempts.length ? h("h3", {}, `Upstream attempts (${attempts.length})`) : null,
    attempts.map((a, i) =>
      h(
        "details",
        { class: "panel" },
        h("summary", {}, `Attempt ${i + 1}: ${a.status || "-"} ${a.url}${a.error ? ` - ${a.error}` : ""}`),
        h("h4", {}, "Sent"), h("pre", {}, headersText(a.request && a.request.headers), "\n\n", bodyText(a.request)),
        h("h4", {}, "Answer"), h("pre", {}, headersText(a.response && a.response.headers), "\n\n", bodyText(a.response)),
      ),
    ),
    h(
      "details",
      { class: "panel" },
      h("summary", {}, "Client request"),
      h("pre", {}, `${record.request.method} ${record.request.path}${record.request.query ? `?${record.request.query}` : ""}\n${headersText(record.request.headers)}\n\n${bodyText(record.request)}`),
    ),
    h(
      "details",
      { class: "panel" },
      h("summary", {}, "Answer to the client"),
      h("pre", {}, `${record.response.status}\n${headersText(record.response.headers)}\n\n${record.response.error === undefined ? bodyText(record.response) : record.response.error || ""}`),
    ),
  ];
}

export function mount(root) {
  const status = h("select", {}, ["", "ok", "error", "4xx", "5xx"].map((v) => h("option", { value: v }, v || "any")));
  const model = h("input", { type: "search", placeholder: "part of a model name" });
  const client = h("input", { type: "search", placeholder: "key-1" });
  const live = h("input", { type: "checkbox", checked: true });
  const form = h("form", { class: "toolbar", role: "search" }, field("Status", status), field("Model", model), field("Client key", client), h("label", {}, live, " live"));
  const recent = h("div", {}, h("p", { class: "muted" }, "Loading..."));
  const kept = h("div", {});
  const shown = h("section", { class: "panel", "aria-live": "polite", hidden: true });
  let rounds = 0;

  async function open(id, button) {
    await act(button, async () => {
      const record = await api("GET", `/logs/${enc(id)}`);
      const close = h("button", { type: "button" }, "Close");
      close.addEventListener("click", () => {
        shown.hidden = true;
        fill(shown);
        button.focus();
      });
      fill(shown, ...detail(record).flat(), close);
      shown.hidden = false;
      shown.querySelector("#log-title").focus();
    });
  }

  function openButton(id, label) {
    const button = h("button", { type: "button", "data-log": id }, label);
    button.addEventListener("click", () => open(id, button));
    return button;
  }

  async function loadRecent() {
    const query = new URLSearchParams({ limit: "100" });
    if (status.value) query.set("status", status.value);
    if (model.value.trim()) query.set("model", model.value.trim());
    if (client.value.trim()) query.set("client", client.value.trim());
    const { requests } = await api("GET", `/requests?${query}`);
    if (recent.contains(document.activeElement)) return; // keep the keyboard's place
    fill(recent, 
      table(
        [
          { label: "Time", cell: (r) => fmt.time(r.time).slice(11) },
          { label: "Status", cell: (r) => h("span", { class: `badge ${r.status >= 400 ? "bad" : "ok"}` }, String(r.status)) },
          { label: "Client", cell: (r) => r.client },
          { label: "Model", cell: (r) => [h("code", {}, r.model), r.provider !== "-" ? h("div", { class: "muted" }, `${r.provider} [${r.credential}] ${r.upstream_model}`) : null] },
          { label: "Duration", num: true, cell: (r) => fmt.ms(r.duration_ms) },
          { label: "Tokens in/out", num: true, cell: (r) => `${fmt.int(r.input_tokens)} / ${fmt.int(r.output_tokens)}` },
          { label: "Attempts", num: true, cell: (r) => String(r.attempts) },
          { label: "Error", cell: (r) => r.error || "" },
          { label: "Log", cell: (r) => (r.kept ? openButton(r.id, "Open log") : h("span", { class: "muted" }, "not kept")) },
        ],
        requests,
        { empty: "No requests match (this list is this process's last 500)." },
      ),
    );
  }

  async function loadKept() {
    try {
      const listing = await api("GET", "/logs?limit=50");
      if (kept.contains(document.activeElement)) return;
      fill(kept, 
        h("p", { class: "muted" }, `${listing.count} kept in ${listing.dir} (${fmt.int(listing.total_bytes)} bytes); every request is kept when request-log is on (${listing.request_log ? "on" : "off"}), failed ones always.`),
        table(
          [
            { label: "Time", cell: (r) => fmt.time(r.time) },
            { label: "Kind", cell: (r) => r.kind },
            { label: "Request id", cell: (r) => h("code", {}, r.id) },
            { label: "Open", cell: (r) => openButton(r.id, "Open") },
          ],
          listing.logs,
          { empty: "No request logs kept." },
        ),
      );
    } catch (error) {
      fill(kept, h("p", { class: "muted" }, error.message));
    }
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    loadRecent().catch((e) => toast(e.message, true));
  });
  for (const input of [status, model, client]) input.addEventListener("input", () => loadRecent().catch((e) => toast(e.message, true)));

  root.append(
    h("h1", {}, "Logs"),
    form,
    h("section", { "aria-labelledby": "recent-title" }, h("h2", { id: "recent-title" }, "Recent requests"), recent),
    shown,
    h("section", { "aria-labelledby": "kept-title" }, h("h2", { id: "kept-title" }, "Kept request logs"), kept),
  );
  return {
    interval: 2000,
    async refresh() {
      if (!live.checked) return;
      rounds += 1;
      await Promise.all([loadRecent(), rounds % 5 === 1 ? loadKept() : null]); // the files: every 10 s
    },
    error(e) {
      fill(recent, h("p", { class: "error" }, e.message));
    },
  };
}
