// Credentials: state with a live cooldown countdown, actions, token upload, new sign-ins.
import { api, enc } from "./api.js";
import { act, field, fill, fmt, h, toast } from "./dom.js";
import { signInPanel } from "./accounts.js";

export const title = "Credentials";

const COLUMNS = ["Credential", "State", "Last error", "Requests / failures", "Quota", "Actions"];

function stateCell(c) {
  const parts = [h("span", { class: `badge ${c.state}` }, c.state === "ok" ? "healthy" : c.state === "cooling" ? "resting" : c.state)];
  const rests = [];
  if (c.unhealthy) rests.push(["whole credential", c.unhealthy]);
  for (const [model, rest] of Object.entries(c.cooldowns || {})) rests.push([model, rest]);
  for (const [what, rest] of rests) {
    parts.push(
      h(
        "div",
        { class: "rest" },
        h("span", { class: "countdown", "aria-label": `${what} resting for ${fmt.seconds(rest.seconds_left)}` }, `resting ${fmt.seconds(rest.seconds_left)}`),
        ` ${what}`,
        h("div", { class: "muted" }, `${rest.status || ""} ${rest.reason || ""}`.trim(), ` - until ${fmt.time(rest.until)}`),
      ),
    );
  }
  if (c.token_expires) parts.push(h("div", { class: "muted" }, `token expires ${fmt.time(c.token_expires)}`));
  return parts;
}

function quotaCell(c) {
  const quota = c.quota;
  if (!quota) return h("span", { class: "muted" }, c.quota_supported ? "not read yet" : "-");
  const rows = (quota.windows || []).map((w) => {
    let used = w.used_percent;
    if (used === undefined || used === null) {
      if (w.limit && w.remaining !== undefined && w.remaining !== null) used = (100 * (w.limit - w.remaining)) / w.limit;
      else if (w.limit && w.used !== undefined && w.used !== null) used = (100 * w.used) / w.limit;
    }
    const label = `${w.name}: ${used === undefined || used === null ? "?" : `${Math.round(used)}% used`}`;
    return h(
      "div",
      {},
      h("div", {}, label, w.resets_at ? h("span", { class: "muted" }, ` (resets ${fmt.time(w.resets_at)})`) : null),
      used === undefined || used === null ? null : h("meter", { min: 0, max: 100, low: 70, high: 90, optimum: 0, value: used, "aria-label": label }),
    );
  });
  return [quota.plan ? h("div", { class: "muted" }, quota.plan) : null, rows, quota.note ? h("div", { class: "muted" }, quota.note) : null];
}

function nameCell(c) {
  const where = c.source ? (c.source.kind === "token-file" ? `token file ${c.source.file}` : `config ${c.source.at}`) : "";
  return [
    h("strong", {}, c.label),
    h("div", { class: "muted" }, `${c.group || c.provider}${c.prefix ? ` - prefix ${c.prefix}/` : ""} - priority ${c.priority}`),
    h("div", { class: "muted" }, where),
  ];
}

function row(c, reload) {
  const ref = enc(c.id);
  const cells = {};
  const tr = h("tr", { "data-credential": c.id });
  const toggle = h("button", { type: "button" });
  const test = h("button", { type: "button" }, "Test");
  const reset = h("button", { type: "button" }, "Reset cooldown");
  const remove = h("button", { type: "button", class: "danger" }, "Delete");
  const quota = h("button", { type: "button" }, "Refresh quota");
  let armed = null;
  quota.addEventListener("click", () =>
    act(quota, async () => {
      const answer = await api("POST", `/credentials/${ref}/quota/refresh`, {});
      toast(answer.quota ? `${c.label}: quota read` : `${c.label}: the provider told no quota`);
      await reload();
    }),
  );
  toggle.addEventListener("click", () =>
    act(toggle, async () => {
      const enabling = toggle.dataset.enabled !== "true";
      const path = `/credentials/${ref}/${enabling ? "enable" : "disable"}`;
      try {
        await api("POST", path, {});
      } catch (error) {
        if (error.code !== "config_refused" || !window.confirm(`${error.message}\n\nDisable it anyway?`)) throw error;
        await api("POST", path, { force: true });
      }
      toast(`${c.label} ${enabling ? "enabled" : "disabled"}`);
      await reload();
    }),
  );
  test.addEventListener("click", () =>
    act(test, async () => {
      const result = await api("POST", `/credentials/${ref}/test`, {});
      if (result.ok) toast(`${c.label} works: ${result.method === "models" ? `${result.models} models` : `${result.model} answered ${result.status}`}`);
      else toast(`${c.label} failed the test: ${result.status || ""} ${result.message || ""}`, true);
    }),
  );
  reset.addEventListener("click", () =>
    act(reset, async () => {
      const result = await api("POST", `/credentials/${ref}/reset`, {});
      toast(`${c.label}: ${result.cleared} cooldown${result.cleared === 1 ? "" : "s"} ended`);
      await reload();
    }),
  );
  remove.addEventListener("click", () => {
    if (!armed) {
      remove.textContent = "Confirm delete";
      armed = setTimeout(() => {
        remove.textContent = "Delete";
        armed = null;
      }, 5000);
      return;
    }
    clearTimeout(armed);
    armed = null;
    act(remove, async () => {
      const result = await api("DELETE", `/credentials/${ref}`, {});
      toast(`deleted ${result.file}`);
      await reload();
    });
  });
  for (const name of COLUMNS) {
    const td = h("td", { "data-label": name });
    cells[name] = td;
    tr.append(td);
  }
  cells.Actions.append(
    h("div", { class: "actions" }, toggle, test, reset, c.quota_supported ? quota : null, c.source && c.source.kind === "token-file" ? remove : null),
  );
  function update(fresh) {
    fill(cells.Credential, ...nameCell(fresh));
    fill(cells.State, ...stateCell(fresh));
    cells["Last error"].replaceChildren(fresh.last_error ? h("span", {}, fresh.last_error.message, h("div", { class: "muted" }, fmt.time(fresh.last_error.at))) : h("span", { class: "muted" }, "-"));
    cells["Requests / failures"].replaceChildren(`${fmt.int(fresh.requests)} / ${fmt.int(fresh.failures)}`);
    fill(cells.Quota, ...[quotaCell(fresh)].flat(2).filter(Boolean));
    toggle.dataset.enabled = String(fresh.enabled);
    toggle.textContent = fresh.enabled ? "Disable" : "Enable";
    reset.disabled = fresh.state !== "cooling" && fresh.state !== "unhealthy";
  }
  return { tr, update, kind: `${c.source ? c.source.kind : ""} ${c.quota_supported}` };
}

function uploadPanel(reload) {
  const input = h("input", { type: "file", accept: ".json,application/json" });
  const replace = h("input", { type: "checkbox" });
  const send = h("button", { type: "submit" }, "Upload");
  const form = h(
    "form",
    { class: "toolbar" },
    field("Token file", input, "a cliproxy login token file (.json)"),
    h("label", {}, replace, " replace a file of the same name"),
    send,
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const file = input.files && input.files[0];
    if (!file) return toast("choose a token file first", true);
    act(send, async () => {
      let content;
      try {
        content = JSON.parse(await file.text());
      } catch {
        throw new Error(`${file.name} is not JSON`);
      }
      const body = { content, replace: replace.checked };
      if (/^[A-Za-z0-9@._+-]+\.json$/.test(file.name) && !file.name.startsWith(".")) body.name = file.name;
      const result = await api("POST", "/credentials", body);
      toast(`uploaded ${result.file}: ${result.credentials.map((c) => c.label).join(", ")}`);
      input.value = "";
      await reload();
    });
  });
  return h("section", { class: "panel", "aria-labelledby": "upload-title" }, h("h2", { id: "upload-title" }, "Upload a token file"), form);
}

export function mount(root) {
  const tbody = h("tbody");
  const listing = h(
    "div",
    { class: "table-wrap" },
    h("table", { class: "stack" }, h("thead", {}, h("tr", {}, COLUMNS.map((c) => h("th", { scope: "col" }, c)))), tbody),
  );
  const status = h("p", { class: "muted" }, "Loading...");
  const rows = new Map();
  async function reload() {
    const { credentials } = await api("GET", "/credentials");
    status.textContent = credentials.length ? "" : "No credentials yet: upload a token file or sign in an account below.";
    const seen = new Set();
    credentials.forEach((c, index) => {
      seen.add(c.id);
      let found = rows.get(c.id);
      if (!found || found.kind !== `${c.source ? c.source.kind : ""} ${c.quota_supported}`) {
        if (found) found.tr.remove();
        found = row(c, reload);
        rows.set(c.id, found);
      }
      found.update(c);
      if (tbody.children[index] !== found.tr) tbody.insertBefore(found.tr, tbody.children[index] || null);
    });
    for (const [id, found] of rows) {
      if (!seen.has(id)) {
        found.tr.remove();
        rows.delete(id);
      }
    }
  }
  const signIn = signInPanel(reload);
  root.append(h("h1", {}, "Credentials"), status, listing, signIn.element, uploadPanel(reload));
  return {
    interval: 1000,
    async refresh() {
      await Promise.all([reload(), signIn.refresh()]);
    },
    error(e) {
      status.textContent = e.message;
    },
  };
}
