// Client keys: add, rename (a new value in its place), remove; each limited key's usage of its
// limits now; usage per key and day.
import { api, enc } from "./api.js";
import { lineChart } from "./chart.js";
import { act, field, fill, fmt, h, table, toast } from "./dom.js";

export const title = "Client keys";

function randomKey() {
  const bytes = new Uint8Array(24);
  crypto.getRandomValues(bytes);
  return `sk-${Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")}`;
}

async function forced(method, path, body) {
  try {
    return await api(method, path, body);
  } catch (error) {
    if (error.code !== "config_refused" || !window.confirm(`${error.message}\n\nDo it anyway?`)) throw error;
    return api(method, path, { ...body, force: true });
  }
}

function days(from, to) {
  const out = [];
  for (let d = new Date(`${from}T00:00:00Z`); d <= new Date(`${to}T00:00:00Z`); d.setUTCDate(d.getUTCDate() + 1)) {
    out.push(d.toISOString().slice(0, 10));
  }
  return out;
}

const LIMITS = ["rpm", "tpm", "max-parallel", "daily-tokens", "monthly-budget-usd"];

function amount(name, value) {
  return name === "monthly-budget-usd" ? fmt.usd(value) : fmt.int(value);
}

export function mount(root) {
  const list = h("div", { id: "key-list" }, h("p", { class: "muted" }, "Loading..."));
  const limits = h("div", { id: "key-limits" });
  const usage = h("div", {});
  const newKey = h("input", { type: "text", minlength: 8, autocomplete: "off", spellcheck: "false", size: 40 });
  const generate = h("button", { type: "button" }, "Generate");
  const add = h("button", { type: "submit", class: "primary" }, "Add key");
  const form = h("form", { class: "toolbar" }, field("New client key", newKey, "at least 8 characters, no spaces; shown here only"), generate, add);
  generate.addEventListener("click", () => {
    newKey.value = randomKey();
    newKey.select();
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    act(add, async () => {
      const answer = await forced("POST", "/keys", { key: newKey.value.trim() });
      const made = answer.edit && answer.edit.key;
      toast(`added ${made ? made.name || "the key" : "the key"}: give it to the client now, it is not shown again`);
      await load();
      newKey.value = "";
    });
  });

  async function load() {
    const { keys, open } = await api("GET", "/keys");
    fill(list, 
      open ? h("p", { class: "located", role: "alert" }, "No client keys: anyone who can reach the gateway may use it.") : null,
      table(
        [
          { label: "Name", cell: (k) => h("strong", {}, k.name) },
          { label: "Key", cell: (k) => [h("code", {}, k.masked), k.from_env ? h("div", { class: "muted" }, "from an environment variable") : null] },
          {
            label: "Actions",
            cell: (k) => {
              const value = h("input", { type: "text", minlength: 8, autocomplete: "off", spellcheck: "false", "aria-label": `New value for ${k.name}` });
              const rename = h("button", { type: "button" }, "Rename");
              const remove = h("button", { type: "button", class: "danger" }, "Remove");
              rename.addEventListener("click", () =>
                act(rename, async () => {
                  if (!value.value.trim()) value.value = randomKey();
                  await forced("PATCH", `/keys/${enc(k.id)}`, { key: value.value.trim() });
                  toast(`${k.name} has a new value; its usage carries on`);
                  await load();
                }),
              );
              let armed = false;
              remove.addEventListener("click", () => {
                if (!armed) {
                  armed = true;
                  remove.textContent = `Confirm remove ${k.name}`;
                  return;
                }
                act(remove, async () => {
                  await forced("DELETE", `/keys/${enc(k.id)}`, {});
                  toast(`removed ${k.name}`);
                  await load();
                });
              });
              return h("div", { class: "actions" }, value, rename, remove);
            },
          },
        ],
        keys,
        { empty: "No client keys." },
      ),
    );
  }

  async function loadLimits() {
    const { keys } = await api("GET", "/keys");
    const limited = keys.filter((k) => LIMITS.some((name) => name in (k.policy || {})));
    const answers = await Promise.all(limited.map((k) => api("GET", `/keys/${enc(k.id)}/limits`)));
    const rows = answers.flatMap((a) => Object.entries(a.limits).map(([name, v]) => ({ key: a.key.name, name, ...v })));
    fill(limits,
      table(
        [
          { label: "Key", cell: (r) => r.key },
          { label: "Limit", cell: (r) => h("code", {}, r.name) },
          { label: "Used", num: true, cell: (r) => amount(r.name, r.used) },
          { label: "Of", num: true, cell: (r) => amount(r.name, r.limit) },
          { label: "Remaining", num: true, cell: (r) => amount(r.name, r.remaining) },
          { label: "Resets", cell: (r) => r.resets_at || (r.window_seconds ? "sliding 60 s" : "") },
        ],
        rows,
        { empty: "No key has rates or budgets (rpm, tpm, max-parallel, daily-tokens, monthly-budget-usd)." },
      ),
    );
  }

  async function loadUsage() {
    const report = await api("GET", "/usage?by=client,day");
    const labels = days(report.from, report.to);
    const clients = [...new Set(report.rows.map((r) => r.client))].sort();
    const series = clients.slice(0, 6).map((client) => {
      const per = Object.fromEntries(report.rows.filter((r) => r.client === client).map((r) => [r.day, r.requests]));
      return { name: client, values: labels.map((d) => per[d] || 0) };
    });
    const rows = [...report.rows].sort((a, b) => (a.day === b.day ? a.client.localeCompare(b.client) : b.day.localeCompare(a.day)));
    fill(usage, 
      series.length ? lineChart({ title: `Requests per day, ${report.from} to ${report.to}`, labels: labels.map((d) => d.slice(5)), series, format: (v) => String(Math.round(v)) }) : null,
      table(
        [
          { label: "Day", cell: (r) => r.day },
          { label: "Key", cell: (r) => r.client },
          { label: "Requests", num: true, cell: (r) => fmt.int(r.requests) },
          { label: "Failures", num: true, cell: (r) => fmt.int(r.failures) },
          { label: "Tokens in", num: true, cell: (r) => fmt.int(r.input_tokens) },
          { label: "Tokens out", num: true, cell: (r) => fmt.int(r.output_tokens) },
          { label: "Est. cost", num: true, cell: (r) => fmt.usd(r.cost_usd) },
        ],
        rows,
        { empty: "No usage counted in the last 30 days." },
      ),
    );
  }

  root.append(
    h("h1", {}, "Client keys"),
    h("section", { class: "panel", "aria-labelledby": "add-key-title" }, h("h2", { id: "add-key-title" }, "Add a key"), form),
    h("section", { "aria-labelledby": "keys-title" }, h("h2", { id: "keys-title" }, "Keys"), list),
    h("section", { class: "panel", "aria-labelledby": "limits-title" }, h("h2", { id: "limits-title" }, "Limits now"), limits),
    h("section", { class: "panel", "aria-labelledby": "usage-title" }, h("h2", { id: "usage-title" }, "Usage per key per day"), usage),
  );
  load().catch((e) => toast(e.message, true));
  return {
    interval: 5000,
    refresh: () => Promise.all([loadLimits(), loadUsage()]),
    error(e) {
      fill(usage, h("p", { class: "error" }, e.message));
    },
  };
}
