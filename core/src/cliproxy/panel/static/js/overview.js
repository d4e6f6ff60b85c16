// Overview: traffic over the last hour, errors, tokens, cost, health.
import { api } from "./api.js";
import { lineChart } from "./chart.js";
import { fill, fmt, h, table } from "./dom.js";

export const title = "Overview";

function sum(minutes, key) {
  return minutes.reduce((total, m) => total + m[key], 0);
}

function byName(minutes, key) {
  const totals = {};
  for (const m of minutes) for (const [name, n] of Object.entries(m[key])) totals[name] = (totals[name] || 0) + n;
  return Object.entries(totals)
    .sort((a, b) => b[1] - a[1])
    .map(([name, requests]) => ({ name, requests }));
}

function card(label, value, note) {
  return h("div", { class: "card" }, h("div", { class: "label" }, label), h("div", { class: "value" }, value), note ? h("div", { class: "muted" }, note) : null);
}

export function mount(root) {
  const body = h("div", { "aria-live": "off" }, h("p", { class: "muted" }, "Loading..."));
  root.append(h("h1", {}, "Overview"), body);
  return {
    interval: 2000,
    async refresh() {
      const [activity, listed] = await Promise.all([api("GET", "/activity?minutes=60"), api("GET", "/credentials")]);
      const minutes = activity.minutes;
      const requests = sum(minutes, "requests");
      const errors = sum(minutes, "errors");
      const last = minutes[minutes.length - 1];
      const states = {};
      for (const c of listed.credentials) states[c.state] = (states[c.state] || 0) + 1;
      const store = activity.state_store;
      const config = activity.config;
      const labels = minutes.map((m) => m.time.slice(11, 16));
      const failed = config.last_reload_error;
      fill(body, 
        h(
          "div",
          { class: "cards" },
          card("Requests, last hour", fmt.int(requests), `${fmt.int(last.requests)} this minute`),
          card("Error rate", requests ? fmt.pct(errors / requests) : "-", `${fmt.int(errors)} failed`),
          card("Tokens in / out", `${fmt.int(sum(minutes, "input_tokens"))} / ${fmt.int(sum(minutes, "output_tokens"))}`),
          card("Estimated cost", fmt.usd(sum(minutes, "cost_usd")), "last hour"),
          card("In flight", fmt.int(activity.in_flight), "requests and streams"),
          card(
            "Credentials",
            fmt.int(listed.credentials.length),
            Object.entries(states).map(([state, n]) => `${n} ${state}`).join(", ") || "none",
          ),
        ),
        h(
          "div",
          { class: "charts" },
          lineChart({
            title: "Requests per minute",
            labels,
            series: [
              { name: "requests", values: minutes.map((m) => m.requests) },
              { name: "errors", values: minutes.map((m) => m.errors) },
            ],
            format: (v) => (v >= 10 ? Math.round(v) : +v.toFixed(1)).toString(),
          }),
          lineChart({
            title: "Tokens per minute",
            labels,
            series: [
              { name: "input", values: minutes.map((m) => m.input_tokens) },
              { name: "output", values: minutes.map((m) => m.output_tokens) },
            ],
            format: (v) => fmt.int(Math.round(v)),
          }),
          lineChart({
            title: "Estimated cost per minute",
            labels,
            series: [{ name: "USD", values: minutes.map((m) => m.cost_usd) }],
            format: (v) => `$${v.toFixed(v < 0.1 ? 4 : 2)}`,
          }),
        ),
        h(
          "div",
          { class: "grid2" },
          h("section", { class: "panel" }, h("h2", {}, "Per door (last hour)"), table([{ label: "Door", cell: (r) => r.name }, { label: "Requests", num: true, cell: (r) => fmt.int(r.requests) }], byName(minutes, "doors"))),
          h("section", { class: "panel" }, h("h2", {}, "Per provider (last hour)"), table([{ label: "Provider", cell: (r) => (r.name === "-" ? "none (refused)" : r.name) }, { label: "Requests", num: true, cell: (r) => fmt.int(r.requests) }], byName(minutes, "providers"))),
          h(
            "section",
            { class: "panel" },
            h("h2", {}, "Health"),
            h(
              "dl",
              { class: "kv" },
              h("dt", {}, "State store"),
              h("dd", {}, `${store.backend || "?"} ${store.url || "(this process)"} `, h("span", { class: `badge ${store.healthy === false ? "bad" : "ok"}` }, store.healthy === false ? "unavailable" : "healthy")),
              h("dt", {}, "Config"),
              h("dd", {}, `${config.file || "(built in code)"}`),
              h("dt", {}, "Loaded at"),
              h("dd", {}, fmt.time(config.loaded_at)),
              h("dt", {}, "Last reload error"),
              h("dd", { class: failed ? "error" : null }, failed ? `${fmt.time(failed.at)}: ${failed.message}` : "none"),
            ),
          ),
        ),
      );
    },
    error(e) {
      fill(body, h("p", { class: "error", role: "alert" }, e.message));
    },
  };
}
